//! floodwatch-engine: normalized events in, alerts out. [`Engine`] routes events to one [`HostEngine`]
//! per host ([`host`]), which meets each event with the stages below, in this order:
//!
//! [`order`] (per-host reorder buffer) → [`process`] (lifetimes, lineage, pid reuse) → [`context`]
//! (TTY, launchd/cron/osascript, session) → [`attribute`] (which subject an event counts for; [`scope`]
//! says who can be one) → [`window`] (BurstTimeWindow accumulation, overlapping half-windows, signals)
//! → [`baseline`] → [`score`] and [`severity`] → [`suppress`] → [`lifecycle`] (episodes and
//! deterministic ids) → alert building. [`declared`] reads flood intent from command lines. Traffic
//! without a pid (network sensors) goes to [`network`] instead: floods and scans per local address and
//! target, joined to the process a process source saw sending there. [`observe`] keeps what each
//! source showed, for `floodwatch coverage`.

// The stages, in the order an event meets them.
// 1. Per-host event-time order.
pub mod order;
// 2. Process lifetimes, lineage, pid reuse.
pub mod process;
// 3. How a subject was launched; the host's session.
pub mod context;
// 4. Attribution: which subject an event counts for, and who can be one.
pub mod attribute;
pub mod scope;
// 5. Windows: accumulation (declared floods included), overlapping half-windows, signals.
pub mod declared;
pub mod window;
// 6. Per-identity baselines.
pub mod baseline;
// 7. Score and severity.
pub mod score;
pub mod severity;
// 8. Suppression.
pub mod suppress;
// 9. Episodes and their ids.
pub mod lifecycle;
// 10. Alert building.
mod alert;

// The loop that runs them per host; pid-less traffic's own stage; what sources showed.
pub mod host;
pub mod network;
pub mod observe;
pub mod snapshot;

pub use host::HostEngine;

use baseline::{Baselines, Learner, Roles};
use floodwatch_core::alert::{Alert, HostVerdict};
use floodwatch_core::config::Config;
use floodwatch_core::event::{Event, EventKind, Origin};
use floodwatch_core::finding::NetworkFinding;
use floodwatch_core::Ts;
use foldhash::HashMap;
use scope::Scope;
use std::collections::BTreeMap;
use std::sync::Arc;
use suppress::Suppressions;

/// Read-only state every host engine shares.
pub struct Shared {
    pub cfg: Config,
    pub scope: Scope,
    pub suppressions: Suppressions,
    /// File paths by file id, for evidence locations.
    pub files: Vec<Arc<str>>,
    /// Each file's source format name by file id (`eslogger`, `pcap`...), when the runtime sets it:
    /// findings say which log providers their evidence came from.
    pub formats: Vec<Arc<str>>,
    /// Events outside [not_before, not_after] are rejected: one corrupt far-future timestamp would
    /// otherwise move a host's clock ahead and make every later event "late".
    pub not_before: Ts,
    pub not_after: Ts,
    /// Keep per-file and per-host observations ([`observe`]) for `floodwatch coverage`.
    pub observe: bool,
    /// Some input can carry pid-less traffic (Zeek, captures): only then do process events feed the
    /// network join index (off, it is work on every event that no finding would ever read).
    pub network_join: bool,
    pub baseline: BaselineMode,
    /// Names the config and suppressions this engine judges by (the caller's hash of them): a
    /// snapshot taken under one fingerprint is restored only under the same one.
    pub fingerprint: u64,
}

/// What the engine does with per-identity baselines.
pub enum BaselineMode {
    Off,
    /// `baseline learn`: every window a subject is active in is recorded under its key; a host's windows
    /// that start before its watermark were learned by an earlier run and are skipped.
    Learn {
        roles: Roles,
        watermarks: HashMap<String, Ts>,
        /// Keys a reviewer accepted per host: their hot windows are learned, not held for review.
        accepted: baseline::Accepted,
    },
    /// `hunt --db`: hot windows are judged against learned baselines.
    Judge {
        roles: Roles,
        baselines: Baselines,
    },
}

impl Shared {
    pub fn new(
        cfg: Config,
        suppressions: Suppressions,
        files: Vec<Arc<str>>,
    ) -> Result<Shared, String> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        Ok(Shared {
            scope: Scope::new(&cfg.scope)?,
            cfg,
            suppressions,
            files,
            formats: Vec::new(),
            // 2000-01-01: before any macOS that has these tools' telemetry; one day of clock slack ahead.
            not_before: Ts::from_secs(946_684_800),
            not_after: Ts::from_secs(now + 86_400),
            baseline: BaselineMode::Off,
            observe: false,
            network_join: true,
            fingerprint: 0,
        })
    }

    pub fn with_baseline(mut self, mode: BaselineMode) -> Shared {
        self.baseline = mode;
        self
    }

    /// The source format of input file `id`, when the runtime named it.
    pub(crate) fn format(&self, id: u32) -> Option<Arc<str>> {
        self.formats.get(id as usize).cloned()
    }

    /// The path of input file `id`, for evidence locations, shared.
    pub(crate) fn shared_file(&self, id: u32) -> Arc<str> {
        match self.files.get(id as usize) {
            Some(f) => f.clone(),
            None => format!("file#{id}").into(),
        }
    }

    /// The path of input file `id`, for evidence locations.
    pub(crate) fn file(&self, id: u32) -> String {
        self.shared_file(id).to_string()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, bitcode::Encode, bitcode::Decode)]
pub enum AlertEventKind {
    Opened,
    Updated,
    Closed,
    /// Still open when the input ended.
    Final,
}

#[derive(Clone, Debug, bitcode::Encode, bitcode::Decode)]
pub struct AlertEvent {
    pub kind: AlertEventKind,
    pub alert: Alert,
}

/// An event the engine could not use, located for the file summary.
#[derive(Clone, Debug)]
pub struct EngineReject {
    pub origin: Origin,
    pub reason: &'static str,
    pub detail: String,
}

/// Events counted per kind, listed (and serialized) as a map from the kind's name to its count,
/// kinds never seen left out. An array indexed by [`EventKind::index`]: a map keyed by the name
/// compared names on every event (up to five string compares for a traffic event).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KindCounts([u64; EventKind::NAMES.len()]);

impl KindCounts {
    pub fn count(&mut self, kind: &EventKind) {
        self.0[kind.index()] += 1;
    }

    /// Adds `n` events of the kind named `name`; false (nothing added) for a name no kind has.
    pub fn add(&mut self, name: &str, n: u64) -> bool {
        match EventKind::NAMES.iter().position(|k| *k == name) {
            Some(i) => {
                self.0[i] += n;
                true
            }
            None => false,
        }
    }

    /// The count of the kind named `name`, if any was seen.
    pub fn get(&self, name: &str) -> Option<u64> {
        self.iter().find(|(k, _)| *k == name).map(|(_, n)| n)
    }

    /// The kinds seen and their counts, by name in alphabetical order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        EventKind::NAMES
            .iter()
            .zip(self.0)
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| (*k, n))
    }

    fn absorb(&mut self, other: &KindCounts) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a += b;
        }
    }
}

impl serde::Serialize for KindCounts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct EngineStats {
    pub events: u64,
    pub by_kind: KindCounts,
    /// Traffic with no pid (network-only): not attributable to a process.
    pub traffic_unattributed: u64,
    /// Traffic of processes outside scope (Apple platform daemons and the like).
    pub traffic_out_of_scope: u64,
    pub late_events: u64,
    pub hot_windows: u64,
    pub alerts: u64,
    pub suppressed_alerts: u64,
    /// Suppressed alerts per suppression id.
    pub suppression_hits: BTreeMap<String, u64>,
    /// Windows hot by the absolute thresholds that a mature baseline found normal for their identity.
    pub baseline_absorbed: u64,
    pub peak_processes: usize,
    /// Network-level findings (pid-less traffic): floods, scans, records too late to place.
    pub network_floods: u64,
    pub network_scans: u64,
    pub network_late: u64,
    /// Flows evicted past `network.max_flows` and the packets they held (a spoofed-source flood).
    #[serde(skip_serializing_if = "is_zero")]
    pub network_flows_evicted: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub network_packets_evicted: u64,
    /// Per host: what each source showed (only when [`Shared::observe`]).
    #[serde(skip)]
    pub observed: BTreeMap<String, observe::HostSeen>,
    /// Per host: alerts, hot windows, and the nearest miss of a host that stayed quiet (reported as
    /// the run summary's `hosts`, not inside `engine`).
    #[serde(skip)]
    pub hosts: BTreeMap<String, HostVerdict>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl EngineStats {
    /// Adds another host group's counts (hosts run on separate engines). Every field is named, so a
    /// new one cannot be left out of the merge without the compiler saying so.
    pub fn absorb(&mut self, other: EngineStats) {
        let EngineStats {
            events,
            by_kind,
            traffic_unattributed,
            traffic_out_of_scope,
            late_events,
            hot_windows,
            alerts,
            suppressed_alerts,
            suppression_hits,
            baseline_absorbed,
            peak_processes,
            network_floods,
            network_scans,
            network_late,
            network_flows_evicted,
            network_packets_evicted,
            observed,
            hosts,
        } = other;
        self.events += events;
        self.by_kind.absorb(&by_kind);
        self.traffic_unattributed += traffic_unattributed;
        self.traffic_out_of_scope += traffic_out_of_scope;
        self.late_events += late_events;
        self.hot_windows += hot_windows;
        self.alerts += alerts;
        self.suppressed_alerts += suppressed_alerts;
        self.baseline_absorbed += baseline_absorbed;
        for (k, v) in suppression_hits {
            *self.suppression_hits.entry(k).or_default() += v;
        }
        self.peak_processes = self.peak_processes.max(peak_processes);
        self.network_floods += network_floods;
        self.network_scans += network_scans;
        self.network_late += network_late;
        self.network_flows_evicted += network_flows_evicted;
        self.network_packets_evicted += network_packets_evicted;
        for (host, seen) in observed {
            match self.observed.get_mut(&host) {
                Some(o) => o.absorb(seen),
                None => {
                    self.observed.insert(host, seen);
                }
            }
        }
        self.hosts.extend(hosts);
    }
}

/// Routes events to per-host engines. Used as-is by `hunt` (one per worker) and `watch`.
pub struct Engine {
    shared: Arc<Shared>,
    hosts: BTreeMap<Arc<str>, HostEngine>,
    /// Emit Opened/Updated as they happen (watch); batch hunts only need final states.
    updates: bool,
    pub stats: EngineStats,
    pub rejects: Vec<EngineReject>,
    /// Baselines learned by this engine's hosts (learn mode), complete after [`Engine::finish`].
    pub learned: Learner,
    /// Network-level findings (floods and scans from pid-less traffic), as hosts emit them.
    pub findings: Vec<NetworkFinding>,
    /// Per finished host: what its end of data says about alerts written earlier.
    ends: BTreeMap<String, HostEnd>,
}

/// A finished host's end of data: whether exits were visible, its last event, and the exits of
/// subjects whose alerts closed while they still ran.
#[derive(Default, bitcode::Encode, bitcode::Decode)]
struct HostEnd {
    exits_visible: bool,
    last_event: Option<Ts>,
    exits: HashMap<String, Ts>,
}

impl Engine {
    pub fn new(shared: Arc<Shared>, updates: bool) -> Engine {
        Engine {
            shared,
            hosts: BTreeMap::new(),
            updates,
            stats: EngineStats::default(),
            rejects: Vec::new(),
            learned: Learner::default(),
            findings: Vec::new(),
            ends: BTreeMap::new(),
        }
    }

    pub fn push(&mut self, ev: Event, out: &mut Vec<AlertEvent>) {
        let sh = &self.shared;
        let host = match self.hosts.get_mut(&ev.host) {
            Some(h) => h,
            None => self
                .hosts
                .entry(ev.host.clone())
                .or_insert_with(|| HostEngine::new(ev.host.clone(), &sh.cfg, self.updates)),
        };
        host.push(
            ev,
            sh,
            out,
            &mut self.stats,
            &mut self.rejects,
            self.updates,
        );
        self.findings.append(&mut host.findings);
    }

    /// See [`HostEngine::idle`]: every host's clock moves `idle` past its last event.
    pub fn idle(&mut self, idle: std::time::Duration, out: &mut Vec<AlertEvent>) {
        let sh = &self.shared;
        let ns = i64::try_from(idle.as_nanos()).unwrap_or(i64::MAX);
        for h in self.hosts.values_mut() {
            h.idle(ns, sh, out, &mut self.stats, self.updates);
            self.findings.append(&mut h.findings);
        }
    }

    pub fn finish(&mut self, out: &mut Vec<AlertEvent>) {
        let sh = &self.shared;
        let half_life = sh.cfg.baseline.half_life.as_nanos() as i64;
        for (host, h) in self.hosts.iter_mut() {
            h.finish(sh, out, &mut self.stats, self.updates);
            self.learned
                .merge(std::mem::take(&mut h.baselines.learner), half_life);
            self.findings.append(&mut h.findings);
            let (exits_visible, last_event) = h.end_facts();
            let end = self.ends.entry(host.to_string()).or_default();
            end.exits_visible |= exits_visible;
            end.last_event = end.last_event.max(last_event);
            end.exits.extend(h.late_exits.drain(..));
        }
    }

    /// After [`Engine::finish`]: brings each alert's facts to the end of the data (an alert that
    /// closed while its subject ran learns when the subject exited, and whether exits were visible
    /// on its host at all), so "still running at the end of the data?" is answered at the end.
    pub fn settle(&self, alerts: &mut [AlertEvent]) {
        for ev in alerts {
            let a = &mut ev.alert;
            let Some(end) = self.ends.get(&a.host) else {
                continue;
            };
            a.facts.exits_visible |= end.exits_visible;
            a.facts.host_last_event = a.facts.host_last_event.max(end.last_event);
            if a.facts.exited.is_none() {
                a.facts.exited = end.exits.get(&a.id).copied();
            }
        }
    }

    pub fn shared(&self) -> &Shared {
        &self.shared
    }
}

#[cfg(test)]
mod tests {
    use super::KindCounts;
    use floodwatch_core::event::{Connect, EventKind, ProcInfo, Proto, Session, SessionKind};
    use std::collections::BTreeMap;

    /// One event of every kind, with the name each must have.
    fn every_kind() -> Vec<(EventKind, &'static str)> {
        let p = || Box::new(ProcInfo::default());
        vec![
            (
                EventKind::Exec {
                    instigator: None,
                    target: p(),
                },
                "exec",
            ),
            (
                EventKind::Fork {
                    parent: p(),
                    child: p(),
                },
                "fork",
            ),
            (
                EventKind::Exit {
                    process: p(),
                    status: None,
                },
                "exit",
            ),
            (EventKind::ProcessSeen(p()), "process"),
            (EventKind::Traffic(Box::default()), "traffic"),
            (
                EventKind::Connect(Box::new(Connect {
                    pid: None,
                    process_path: None,
                    uid: None,
                    proto: Proto::default(),
                    remote: None,
                    success: None,
                    invalid_utf8: false,
                })),
                "connect",
            ),
            (
                EventKind::Session(Box::new(Session {
                    kind: SessionKind::Lock,
                    user: None,
                    uid: None,
                    tty: None,
                    remote: None,
                })),
                "session",
            ),
        ]
    }

    /// The array counts what the map keyed by name counted, and serializes as it did: the kinds
    /// seen, by name in alphabetical order.
    #[test]
    fn kind_counts_count_and_list_as_the_map_by_name_did() {
        let kinds = every_kind();
        assert_eq!(kinds.len(), EventKind::NAMES.len());
        let mut sorted = EventKind::NAMES;
        sorted.sort_unstable();
        assert_eq!(
            sorted,
            EventKind::NAMES,
            "the summary lists kinds alphabetically"
        );
        for (k, name) in &kinds {
            assert_eq!(k.name(), *name);
        }
        // Each kind a different number of times (the n-th kind n times), some not at all.
        let (mut counts, mut map) = (KindCounts::default(), BTreeMap::<&str, u64>::new());
        for (n, (k, name)) in kinds.iter().enumerate().filter(|(n, _)| n % 3 != 1) {
            for _ in 0..n + 1 {
                counts.count(k);
                *map.entry(name).or_default() += 1;
            }
        }
        assert_eq!(
            counts.iter().collect::<Vec<_>>(),
            map.clone().into_iter().collect::<Vec<_>>()
        );
        assert_eq!(
            serde_json::to_string(&counts).unwrap(),
            serde_json::to_string(&map).unwrap()
        );
        assert_eq!(counts.get("traffic"), map.get("traffic").copied());
        assert_eq!(counts.get("fork"), None);
        // Merging and restoring by name.
        let mut twice = counts.clone();
        twice.absorb(&counts);
        let mut restored = KindCounts::default();
        for (name, n) in counts.iter() {
            assert!(restored.add(name, 2 * n));
        }
        assert_eq!(twice, restored);
        assert!(!restored.add("execve", 1));
        assert_eq!(twice, restored);
    }
}
