//! floodwatch-engine: normalized events in, alerts out. One [`HostEngine`] per host, fed in event-time
//! order; [`Engine`] routes events to hosts. Stages, each in its own module:
//!
//! [`order`] (per-host reorder buffer) → [`process`] (lifetimes, lineage, pid reuse) → [`context`]
//! (TTY, launchd/cron/osascript, session) → attribution (here: traffic to the lifetime alive at that time,
//! grouped into a subject) → [`window`] (BurstTimeWindow signals) → [`score`] → [`suppress`] →
//! [`lifecycle`] (episodes and deterministic ids). [`declared`] reads flood intent from command lines.
//! Traffic without a pid (network sensors) goes to [`network`] instead: floods and scans per local
//! address and target, joined to the process a process source saw sending there. [`observe`] keeps
//! what each source showed, for `floodwatch coverage`.

pub mod attribute;
pub mod baseline;
pub mod context;
pub mod declared;
pub mod lifecycle;
pub mod network;
pub mod observe;
pub mod order;
pub mod process;
pub mod scope;
pub mod score;
pub mod severity;
pub mod suppress;
pub mod window;

use baseline::{BaselineKey, Baselines, Judgement, Learner, Roles};
use context::{classify, SessionState};
use floodwatch_core::alert::{
    Alert, AlertStatus, ContextView, Evidence, HostVerdict, Metrics, ProcessView, SubjectView,
};
use floodwatch_core::config::Config;
use floodwatch_core::event::{Event, EventKind, Origin};
use floodwatch_core::finding::NetworkFinding;
use floodwatch_core::Ts;
use foldhash::HashMap;
use lifecycle::Episode;
use order::{Push, ReorderBuffer};
use process::{basename, Proc, ProcId, ProcessTable};
use scope::Scope;
use std::collections::BTreeMap;
use std::sync::Arc;
use suppress::{Facts, Rates, Suppressions};
use window::{WindowSignals, Windows};

/// Read-only state every host engine shares.
pub struct Shared {
    pub cfg: Config,
    pub scope: Scope,
    pub suppressions: Suppressions,
    /// File paths by file id, for evidence locations.
    pub files: Vec<Arc<str>>,
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
}

/// What the engine does with per-identity baselines.
pub enum BaselineMode {
    Off,
    /// `baseline learn`: every window a subject is active in is recorded under its key; a host's windows
    /// that start before its watermark were learned by an earlier run and are skipped.
    Learn {
        roles: Roles,
        watermarks: HashMap<String, Ts>,
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
            // 2000-01-01: before any macOS that has these tools' telemetry; one day of clock slack ahead.
            not_before: Ts::from_secs(946_684_800),
            not_after: Ts::from_secs(now + 86_400),
            baseline: BaselineMode::Off,
            observe: false,
            network_join: true,
        })
    }

    pub fn with_baseline(mut self, mode: BaselineMode) -> Shared {
        self.baseline = mode;
        self
    }

    fn file(&self, id: u32) -> String {
        self.files
            .get(id as usize)
            .map(|s| s.to_string())
            .unwrap_or_else(|| format!("file#{id}"))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlertEventKind {
    Opened,
    Updated,
    Closed,
    /// Still open when the input ended.
    Final,
}

#[derive(Clone, Debug)]
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

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct EngineStats {
    pub events: u64,
    pub by_kind: BTreeMap<&'static str, u64>,
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
    /// Per host: what each source showed (only when [`Shared::observe`]).
    #[serde(skip)]
    pub observed: BTreeMap<String, observe::HostSeen>,
    /// Per host: alerts, hot windows, and the nearest miss of a host that stayed quiet (reported as
    /// the run summary's `hosts`, not inside `engine`).
    #[serde(skip)]
    pub hosts: BTreeMap<String, HostVerdict>,
}

pub struct HostEngine {
    host: Arc<str>,
    reorder: ReorderBuffer,
    /// The reorder slack in use, and the setting it comes from (for reject messages).
    slack: (std::time::Duration, &'static str),
    procs: ProcessTable,
    session: SessionState,
    windows: Windows,
    episodes: BTreeMap<ProcId, Episode>,
    windows_done: u64,
    /// The newest event time actually received (idle ticks move the engine's clock, not this).
    last_event: Option<Ts>,
    verdict: HostVerdict,
    /// The nearest misses by subject (a few), and the subjects that alerted: a quiet host's verdict
    /// names its closest subject that never alerted.
    near_misses: BTreeMap<ProcId, (f64, String)>,
    alerted: std::collections::BTreeSet<ProcId>,
    /// Baseline keys by subject (identity and parent class do not change within a lifetime); cleared
    /// when the process table evicts.
    keys: HashMap<ProcId, Arc<BaselineKey>>,
    learner: Learner,
    /// Pid-less traffic: floods and scans per local address and target.
    network: network::NetworkAgg,
    /// Network findings ready for the caller ([`Engine`] drains them).
    findings: Vec<NetworkFinding>,
    /// The newest event time released from the reorder buffer (what process sources have shown).
    processed: Option<Ts>,
    seen: Option<observe::HostSeen>,
}

impl HostEngine {
    /// `live`: a stream read as it happens (`watch`), which uses the smaller watch reorder slack.
    pub fn new(host: Arc<str>, cfg: &Config, live: bool) -> HostEngine {
        let slack = if live {
            cfg.windows.watch_reorder_slack
        } else {
            cfg.windows.reorder_slack
        };
        HostEngine {
            host: host.clone(),
            reorder: ReorderBuffer::new(slack.as_nanos() as i64),
            slack: (
                slack,
                if live {
                    "windows.watch_reorder_slack"
                } else {
                    "windows.reorder_slack"
                },
            ),
            procs: ProcessTable::new(cfg.windows.exited_retention.as_nanos() as i64)
                .with_exit_slack(cfg.windows.traffic_exit_slack.as_nanos() as i64),
            session: SessionState::default(),
            windows: Windows::new(cfg),
            episodes: BTreeMap::new(),
            windows_done: 0,
            last_event: None,
            verdict: HostVerdict {
                host: host.to_string(),
                ..HostVerdict::default()
            },
            near_misses: BTreeMap::new(),
            alerted: std::collections::BTreeSet::new(),
            keys: HashMap::default(),
            learner: Learner::default(),
            network: network::NetworkAgg::new(host.clone(), cfg),
            findings: Vec::new(),
            processed: None,
            seen: None,
        }
    }

    /// The baseline key of a subject: identity × parent class × this host's role.
    fn key_of(&mut self, sh: &Shared, subject: ProcId, roles: &Roles) -> Arc<BaselineKey> {
        if let Some(k) = self.keys.get(&subject) {
            return k.clone();
        }
        let ctx = classify(&self.procs, &sh.scope, subject, subject, &self.session);
        let identity = match self.procs.get(subject) {
            Some(p) => {
                let runner = Scope::name_of(&p.info).is_some_and(|n| sh.scope.is_runner(n));
                baseline::identity_of(&p.info, runner)
            }
            None => "unknown".to_string(),
        };
        let key = Arc::new(BaselineKey {
            identity,
            parent_class: ctx.launched_by.as_str().to_string(),
            role: roles.role_of(&self.host).to_string(),
        });
        self.keys.insert(subject, key.clone());
        key
    }

    /// Learns the window (learn mode), or judges a hot one against its baseline (judge mode). Returns
    /// the judgement of a hot window when baselines are in use.
    fn baseline_window(
        &mut self,
        sh: &Shared,
        subject: ProcId,
        sig: &WindowSignals,
    ) -> Option<Judgement> {
        match &sh.baseline {
            BaselineMode::Off => None,
            BaselineMode::Learn { roles, watermarks } => {
                if watermarks.get(&*self.host).is_some_and(|w| sig.start < *w) {
                    self.learner.skipped_windows += 1;
                    return None;
                }
                let key = self.key_of(sh, subject, roles);
                let half_life = sh.cfg.baseline.half_life.as_nanos() as i64;
                self.learner.add(
                    &key,
                    baseline::values_of(sig),
                    sig.start,
                    &self.host,
                    half_life,
                );
                None
            }
            BaselineMode::Judge { roles, baselines } => {
                if !sig.hot() {
                    return None;
                }
                let key = self.key_of(sh, subject, roles);
                Some(baselines.judge(&key, &self.host, sig))
            }
        }
    }

    /// Pid-less traffic: straight to [`network`], which keeps its own clock and lateness bound (a
    /// network log timed at connection ends is far from ordered).
    fn push_network(
        &mut self,
        ev: Event,
        sh: &Shared,
        stats: &mut EngineStats,
        rejects: &mut Vec<EngineReject>,
    ) {
        let EventKind::Traffic(t) = &ev.kind else {
            return;
        };
        if let Err(late_ns) = self.network.push(ev.ts, t, ev.origin) {
            stats.network_late += 1;
            rejects.push(EngineReject {
                origin: ev.origin,
                reason: "out of order",
                detail: format!(
                    "network-only traffic event at {} is {:.1} s older than network windows already judged for host {} (network.reorder_slack {:?})",
                    ev.ts,
                    late_ns as f64 / 1e9,
                    self.host,
                    sh.cfg.network.reorder_slack
                ),
            });
            return;
        }
        stats.events += 1;
        stats.traffic_unattributed += 1;
        *stats.by_kind.entry(ev.kind.name()).or_default() += 1;
        self.verdict.events += 1;
        self.verdict.first_event = Some(self.verdict.first_event.map_or(ev.ts, |f| f.min(ev.ts)));
        self.verdict.last_event = self.verdict.last_event.max(Some(ev.ts));
        self.last_event = self.last_event.max(Some(ev.ts));
        if let Some(seen) = self.seen.as_mut() {
            seen.bytes
                .add_no_pid(t.local.as_deref().or(Some(&self.host)), t.bytes_out);
        }
        self.network.advance(None);
        self.drain_network(sh, false);
    }

    /// Moves closed network episodes that process events have caught up with into `findings`.
    fn drain_network(&mut self, sh: &Shared, all: bool) {
        let procs = &self.procs;
        let facts = |id: ProcId| {
            let p = procs.get(id)?;
            Some(network::ProcFacts {
                view: view_of(procs, id)?,
                parents: procs
                    .ancestors(id)
                    .into_iter()
                    .filter_map(|a| view_of(procs, a))
                    .collect(),
                exited: p.exited,
            })
        };
        let files = |id: u32| sh.file(id);
        let ready = self.network.take_ready(self.processed, all, &files, &facts);
        self.findings.extend(ready);
    }

    /// Records what process sources saw for the network join: who sent to which destination, which
    /// command lines name a destination, and the time process sources cover.
    fn note_for_join(&mut self, sh: &Shared, ev: &Event, id: Option<ProcId>) {
        if !sh.network_join {
            return;
        }
        self.network.index.cover(ev.ts);
        let Some(id) = id else { return };
        let procs = &self.procs;
        let Some(p) = procs.get(id) else { return };
        let pid = p.info.pid;
        match &ev.kind {
            EventKind::Traffic(t) => {
                if let Some(r) = t.remote.as_deref() {
                    self.network.index.note(
                        r,
                        id,
                        pid,
                        t.start.min(ev.ts),
                        ev.ts,
                        t.bytes_out,
                        false,
                        ev.origin.file,
                        || view_of(procs, id),
                    );
                }
            }
            EventKind::Connect(c) => {
                if let Some(r) = c.remote.as_deref() {
                    self.network.index.note(
                        r,
                        id,
                        pid,
                        ev.ts,
                        ev.ts,
                        0,
                        false,
                        ev.origin.file,
                        || view_of(procs, id),
                    );
                }
            }
            EventKind::Exec { .. } => {
                let hosts = p
                    .info
                    .args
                    .as_deref()
                    .map(network::hosts_in_argv)
                    .unwrap_or_default();
                for h in hosts {
                    self.network.index.note(
                        &h,
                        id,
                        pid,
                        ev.ts,
                        ev.ts,
                        0,
                        true,
                        ev.origin.file,
                        || view_of(procs, id),
                    );
                }
            }
            _ => {}
        }
    }

    pub fn push(
        &mut self,
        ev: Event,
        sh: &Shared,
        out: &mut Vec<AlertEvent>,
        stats: &mut EngineStats,
        rejects: &mut Vec<EngineReject>,
        updates: bool,
    ) {
        if ev.ts < sh.not_before || ev.ts > sh.not_after {
            rejects.push(EngineReject {
                origin: ev.origin,
                reason: "timestamp out of range",
                detail: format!(
                    "{} event at {} is before 2000 or more than a day ahead of this machine's clock",
                    ev.kind.name(),
                    ev.ts
                ),
            });
            return;
        }
        if sh.observe {
            self.seen
                .get_or_insert_with(|| {
                    observe::HostSeen::new(sh.cfg.coverage.min_gap.as_nanos() as i64)
                })
                .event(&ev);
        }
        if matches!(&ev.kind, EventKind::Traffic(t) if t.pid.is_none()) {
            self.push_network(ev, sh, stats, rejects);
            return;
        }
        let ts = ev.ts;
        match self.reorder.push(ev) {
            Push::Accepted => self.last_event = Some(self.last_event.map_or(ts, |l| l.max(ts))),
            Push::Late(ev, ns) => {
                stats.late_events += 1;
                rejects.push(EngineReject {
                    origin: ev.origin,
                    reason: "out of order",
                    detail: format!(
                        "{} event at {} is {:.1} s older than events already processed for host {} ({} {:?})",
                        ev.kind.name(),
                        ev.ts,
                        ns as f64 / 1e9,
                        self.host,
                        self.slack.1,
                        self.slack.0
                    ),
                });
                return;
            }
        }
        while let Some(ev) = self.reorder.pop_ready(false) {
            self.process(ev, sh, out, stats, updates);
        }
    }

    pub fn finish(
        &mut self,
        sh: &Shared,
        out: &mut Vec<AlertEvent>,
        stats: &mut EngineStats,
        updates: bool,
    ) {
        while let Some(ev) = self.reorder.pop_ready(true) {
            self.process(ev, sh, out, stats, updates);
        }
        if let Some(w) = self.windows.current_hop() {
            self.finalize_window(w, sh, out, stats, updates);
        }
        self.network.finish();
        self.drain_network(sh, true);
        stats.network_floods += self.network.floods;
        stats.network_scans += self.network.scans_found;
        if let Some(seen) = self.seen.take() {
            match stats.observed.get_mut(&*self.host) {
                Some(s) => s.absorb(seen),
                None => {
                    stats.observed.insert(self.host.to_string(), seen);
                }
            }
        }
        let open: Vec<ProcId> = self.episodes.keys().copied().collect();
        for s in open {
            if let Some(ep) = self.episodes.remove(&s) {
                let alert = self.build_alert(sh, &ep, AlertStatus::Open);
                count_final(stats, &mut self.verdict, &alert);
                out.push(AlertEvent {
                    kind: AlertEventKind::Final,
                    alert,
                });
            }
        }
        stats.peak_processes = stats.peak_processes.max(self.procs.len());
        let closest = self
            .near_misses
            .iter()
            .filter(|(s, _)| !self.alerted.contains(s))
            .max_by(|a, b| a.1 .0.total_cmp(&b.1 .0).then(b.0.cmp(a.0)));
        if let Some((_, (ratio, text))) = closest {
            self.verdict.closest_ratio = Some(*ratio);
            self.verdict.closest = Some(text.clone());
        }
        stats
            .hosts
            .insert(self.host.to_string(), self.verdict.clone());
    }

    /// A live stream has been silent for `idle_ns` of wall time: the host's event clock moves that far
    /// past its last event, so finished windows are judged and quiet episodes close without waiting for
    /// the next event.
    pub fn idle(
        &mut self,
        idle_ns: i64,
        sh: &Shared,
        out: &mut Vec<AlertEvent>,
        stats: &mut EngineStats,
        updates: bool,
    ) {
        let Some(last) = self.last_event else {
            return;
        };
        let to = last.add_nanos(idle_ns.max(0));
        if to <= self.reorder.max_seen() && self.reorder.is_empty() {
            return;
        }
        while let Some(ev) = self.reorder.pop_ready(true) {
            self.process(ev, sh, out, stats, updates);
        }
        self.reorder.advance(to);
        self.advance_to(to, sh, out, stats, updates);
        self.processed = self.processed.max(Some(to));
        self.network.advance(Some(to));
        self.drain_network(sh, false);
    }

    fn advance_to(
        &mut self,
        ts: Ts,
        sh: &Shared,
        out: &mut Vec<AlertEvent>,
        stats: &mut EngineStats,
        updates: bool,
    ) {
        let w = self.windows.hop_of(ts);
        let Some(mut cur) = self.windows.current_hop() else {
            self.windows.set_current_hop(w);
            return;
        };
        while cur < w {
            self.finalize_window(cur, sh, out, stats, updates);
            cur += 1;
            // Skip idle stretches: nothing active, nothing declared alive, no open episode to close.
            if self.windows.is_idle() && self.episodes.is_empty() {
                cur = w;
            }
        }
        self.windows.set_current_hop(w);
    }

    fn evidence(sh: &Shared, kind: &str, ev: &Event, p: Option<&Proc>) -> Evidence {
        let (proto, remote, bytes, packets) = match &ev.kind {
            EventKind::Traffic(t) => (
                Some(t.proto),
                t.remote.clone(),
                Some(t.bytes_out),
                t.packets_out,
            ),
            EventKind::Connect(c) => (Some(c.proto), c.remote.clone(), None, None),
            _ => (None, None, None, None),
        };
        Evidence {
            kind: kind.to_string(),
            time: ev.ts,
            pid: p.map(|p| p.info.pid),
            process: p.and_then(|p| {
                p.info
                    .path
                    .clone()
                    .or_else(|| p.info.args.as_ref().and_then(|a| a.first().cloned()))
            }),
            cmd_line: p.and_then(|p| p.info.cmdline()),
            proto,
            remote,
            bytes_out: bytes,
            packets_out: packets,
            file: sh.file(ev.origin.file),
            line: ev.origin.line,
        }
    }

    fn add_evidence(
        &mut self,
        sh: &Shared,
        subject: ProcId,
        kind: &str,
        ev: &Event,
        member: ProcId,
    ) {
        let max = sh.cfg.output.max_evidences;
        let procs = &self.procs;
        self.windows.add_evidence(subject, max, || {
            Self::evidence(sh, kind, ev, procs.get(member))
        });
    }

    fn process(
        &mut self,
        ev: Event,
        sh: &Shared,
        out: &mut Vec<AlertEvent>,
        stats: &mut EngineStats,
        updates: bool,
    ) {
        self.advance_to(ev.ts, sh, out, stats, updates);
        stats.events += 1;
        self.verdict.events += 1;
        self.verdict.first_event.get_or_insert(ev.ts);
        self.verdict.last_event = Some(ev.ts);
        *stats.by_kind.entry(ev.kind.name()).or_default() += 1;
        let ts = ev.ts;
        self.processed = self.processed.max(Some(ts));
        if self.network.has_pending() {
            self.drain_network(sh, false);
        }
        match &ev.kind {
            EventKind::Exec { instigator, target } => {
                let id = self.procs.exec(instigator.as_deref(), target, ts);
                if let Some(seen) = self.seen.as_mut() {
                    let parent = self.procs.get(id).is_some_and(|p| p.parent.is_some());
                    seen.exec_fields(target, parent);
                }
                self.note_for_join(sh, &ev, Some(id));
                if let Some(subject) = self.on_exec(sh, id, &ev) {
                    if updates {
                        self.fire_early(subject, ts, sh, out);
                    }
                }
            }
            EventKind::Fork { parent, child } => {
                self.procs.fork(parent, child, ts);
                self.note_for_join(sh, &ev, None);
            }
            EventKind::Exit { process, .. } => {
                let id = self.procs.exit(process, ts);
                self.note_for_join(sh, &ev, None);
                self.windows.exited(id, ts);
            }
            EventKind::ProcessSeen(p) => {
                self.procs.observe(p, ts);
                self.note_for_join(sh, &ev, None);
            }
            EventKind::Traffic(t) => {
                let Some(pid) = t.pid else {
                    stats.traffic_unattributed += 1;
                    return;
                };
                let id = self.procs.traffic_process(
                    pid,
                    t.process_name.as_deref(),
                    t.process_path.as_deref(),
                    t.uid,
                    ts,
                );
                self.note_for_join(sh, &ev, Some(id));
                if let Some(seen) = self.seen.as_mut() {
                    if self.procs.get(id).is_some_and(|p| !p.traffic_only) {
                        seen.bytes.exec_context += t.bytes_out;
                    } else {
                        let name = t
                            .process_name
                            .as_deref()
                            .or(t.process_path.as_deref().map(basename));
                        seen.bytes.add_pid_only(name, t.bytes_out);
                    }
                }
                if !attribute::in_scope(&self.procs, &sh.scope, id) {
                    stats.traffic_out_of_scope += 1;
                    return;
                }
                let subject = attribute::subject_of(&self.procs, &sh.scope, id);
                // A sample covering more than a window (a 60 s connection summary) is an average
                // rate: it adds one window's worth at that rate, not its whole volume at its end.
                let span = (ts.0 - t.start.0).max(0);
                let window_ns = self.windows.window_ns();
                let frac = if span <= window_ns {
                    1.0
                } else {
                    window_ns as f64 / span as f64
                };
                let cfg = &sh.cfg;
                self.windows.acc(subject).add_traffic(
                    cfg,
                    id,
                    t.proto,
                    t.remote.as_deref(),
                    t.bytes_out as f64 * frac,
                    t.packets_out.map(|p| p as f64 * frac),
                    t.new_connections as u64,
                );
                self.add_evidence(sh, subject, "traffic", &ev, id);
                if updates {
                    self.fire_early(subject, ts, sh, out);
                }
            }
            EventKind::Connect(c) => {
                let Some(pid) = c.pid else {
                    stats.traffic_unattributed += 1;
                    return;
                };
                let id =
                    self.procs
                        .traffic_process(pid, None, c.process_path.as_deref(), c.uid, ts);
                self.note_for_join(sh, &ev, Some(id));
                if !attribute::in_scope(&self.procs, &sh.scope, id) {
                    stats.traffic_out_of_scope += 1;
                    return;
                }
                let subject = attribute::subject_of(&self.procs, &sh.scope, id);
                self.windows
                    .acc(subject)
                    .add_connection(id, c.proto, c.remote.as_deref());
                self.add_evidence(sh, subject, "connect", &ev, id);
                if updates {
                    self.fire_early(subject, ts, sh, out);
                }
            }
            EventKind::Session(s) => self.session.apply(s, ts),
        }
    }

    /// Returns the subject whose window changed, if any.
    fn on_exec(&mut self, sh: &Shared, id: ProcId, ev: &Event) -> Option<ProcId> {
        let p = self.procs.get(id)?;
        let name = Scope::name_of(&p.info).map(str::to_string)?;
        let path = p.info.path.clone().unwrap_or_else(|| name.clone());
        let args = p.info.args.clone().unwrap_or_default();
        let is_tool = sh.scope.is_tool(&name);
        let is_runner = sh.scope.is_runner(&name);
        // exec replaces the image: a declared flood of the old image ends here.
        self.windows.image_replaced(id, ev.ts);
        if !(is_tool || is_runner) {
            return None;
        }
        let subject = attribute::subject_of(&self.procs, &sh.scope, id);
        let t = &sh.cfg.thresholds;
        if let Some(d) =
            declared::analyze(&name, &args, t.declared_packets_per_s, t.declared_curl_urls)
        {
            self.windows.declare(id, subject, ev.ts, d);
            self.add_evidence(sh, subject, "declared", ev, id);
        }
        if is_tool {
            let group = attribute::spawn_group(&self.procs, &sh.scope, id);
            self.windows.acc(group).add_spawn(&path, id);
            self.add_evidence(sh, group, "exec", ev, id);
            return Some(group);
        }
        Some(subject)
    }

    /// In `watch`, open the alert the moment the current window's counts already exceed a whole window's
    /// budget (e.g. 150 curl execs in the first 4 s of a 30 s window), instead of waiting for the window end.
    fn fire_early(&mut self, subject: ProcId, now: Ts, sh: &Shared, out: &mut Vec<AlertEvent>) {
        if self.episodes.contains_key(&subject) {
            return;
        }
        let Some((ws, sig, busiest)) = self.windows.so_far(&sh.cfg, subject) else {
            return;
        };
        if !sig
            .triggers
            .iter()
            .any(|(t, _)| *t != window::Trigger::Declared)
        {
            return;
        }
        let judged = match &sh.baseline {
            BaselineMode::Judge { .. } => self.baseline_window(sh, subject, &sig),
            _ => None,
        };
        if judged.as_ref().is_some_and(|j| j.absorbed) {
            return;
        }
        let member = busiest.unwrap_or(subject);
        let identity = self.identity(subject);
        let mut ep = Episode::new(&self.host, subject, &identity, ws, member);
        ep.session = Some(self.session.clone());
        if let Some(j) = judged {
            ep.note_baseline(j);
        }
        self.alerted.insert(subject);
        ep.early(&sig, now);
        let alert = self.build_alert(sh, &ep, AlertStatus::Open);
        self.episodes.insert(subject, ep);
        out.push(AlertEvent {
            kind: AlertEventKind::Opened,
            alert,
        });
    }

    fn finalize_window(
        &mut self,
        w: i64,
        sh: &Shared,
        out: &mut Vec<AlertEvent>,
        stats: &mut EngineStats,
        updates: bool,
    ) {
        let cfg = &sh.cfg;
        let (bounds, windows) = self.windows.close_hop(w, cfg, &self.procs);
        let (ws, we) = (bounds.start, bounds.end);
        let mut cool: BTreeMap<ProcId, WindowSignals> = BTreeMap::new();
        for sw in windows {
            let subject = sw.subject;
            let sig = sw.sig;
            let prev = sw.first_half;
            let cur = sw.second_half;
            self.verdict.subjects += 1;
            let judged = self.baseline_window(sh, subject, &sig);
            let absorbed = judged.as_ref().is_some_and(|j| j.absorbed);
            if absorbed {
                stats.baseline_absorbed += 1;
                self.verdict.baseline_absorbed += 1;
            }
            if !sig.hot() || absorbed {
                if !absorbed {
                    self.note_near_miss(subject, &sig);
                }
                cool.insert(subject, sig);
                if !cur.is_empty() {
                    // An open episode's cooler stretches still count in its totals; otherwise the
                    // half keeps its evidence for an episode the next window may open.
                    let mut half = cur;
                    if let Some(ep) = self.episodes.get_mut(&subject) {
                        ep.fold(half.clone(), cfg.output.max_evidences);
                        half.evidence.clear();
                        half.evidence_dropped = 0;
                    }
                    self.windows.keep_half(subject, half);
                }
                continue;
            }
            stats.hot_windows += 1;
            self.verdict.hot_windows += 1;
            let member = sw.busiest.unwrap_or(subject);
            let opened = !self.episodes.contains_key(&subject);
            if opened {
                let identity = self.identity(subject);
                let mut ep = Episode::new(&self.host, subject, &identity, ws, member);
                ep.session = Some(self.session.clone());
                self.alerted.insert(subject);
                // The first half of the opening window was judged cool before: its counts and
                // evidence belong to the episode too.
                if let Some(p) = prev {
                    ep.fold(p, cfg.output.max_evidences);
                }
                self.episodes.insert(subject, ep);
            }
            // Kept (without evidence, already taken) as the next window's first half.
            let mut half = cur.clone();
            half.evidence.clear();
            half.evidence_dropped = 0;
            if let Some(ep) = self.episodes.get_mut(&subject) {
                ep.absorb(&sig, cur, we, cfg.output.max_evidences);
                if let Some(j) = judged {
                    ep.note_baseline(j);
                }
            }
            if !half.is_empty() {
                self.windows.keep_half(subject, half);
            }
            if updates {
                if let Some(ep) = self.episodes.get(&subject) {
                    let status = if opened {
                        AlertStatus::Open
                    } else {
                        AlertStatus::Updated
                    };
                    let alert = self.build_alert(sh, ep, status);
                    let kind = if opened {
                        AlertEventKind::Opened
                    } else {
                        AlertEventKind::Updated
                    };
                    out.push(AlertEvent { kind, alert });
                }
            }
        }
        // Open episodes without a hot window: chart the window, close after the quiet period.
        let quiet = cfg.windows.quiet_period.as_nanos() as i64;
        let idle: Vec<ProcId> = self
            .episodes
            .iter()
            .filter(|(_, e)| e.last_hot_end < we)
            .map(|(s, _)| *s)
            .collect();
        for s in idle {
            let close = self
                .episodes
                .get(&s)
                .is_some_and(|e| we.0 - e.last_hot_end.0 >= quiet.max(self.windows.window_ns()));
            if close {
                if let Some(ep) = self.episodes.remove(&s) {
                    let alert = self.build_alert(sh, &ep, AlertStatus::Closed);
                    count_final(stats, &mut self.verdict, &alert);
                    out.push(AlertEvent {
                        kind: AlertEventKind::Closed,
                        alert,
                    });
                }
            } else if let Some(ep) = self.episodes.get_mut(&s) {
                ep.quiet_window(cool.get(&s), ws, we);
            }
        }
        self.windows_done += 1;
        if self.windows_done.is_multiple_of(8) {
            stats.peak_processes = stats.peak_processes.max(self.procs.len());
            let keep: Vec<ProcId> = self
                .episodes
                .values()
                .flat_map(|e| [e.subject, e.member])
                .chain(self.windows.declared_processes())
                .collect();
            let mut keep_all: std::collections::HashSet<ProcId> = keep.iter().copied().collect();
            for k in &keep {
                keep_all.extend(self.procs.ancestors(*k));
            }
            self.procs.evict(we, |id| keep_all.contains(&id));
            let procs = &self.procs;
            self.keys.retain(|id, _| procs.get(*id).is_some());
            // The join index keeps what pending network findings may need, and running processes
            // whose command line names a destination.
            let retention = cfg.windows.exited_retention.as_nanos() as i64;
            let cutoff = match self.network.oldest_needed() {
                Some(n) => n.min(Ts(we.0 - retention)),
                None => Ts(we.0 - retention),
            };
            let procs = &self.procs;
            self.network.index.evict(cutoff, |s| {
                s.by_argv && procs.get(s.id).is_some_and(|p| p.exited.is_none())
            });
        }
    }

    /// Keeps the cool window that came nearest a threshold, described for the host verdict.
    fn note_near_miss(&mut self, subject: ProcId, sig: &WindowSignals) {
        let Some((trig, v, thr)) = sig.closest else {
            return;
        };
        let ratio = v / thr;
        // Keep the 16 nearest subjects (each at its nearest window).
        const KEEP: usize = 16;
        if self
            .near_misses
            .get(&subject)
            .is_some_and(|(r, _)| *r >= ratio)
        {
            return;
        }
        if self.near_misses.len() >= KEEP && !self.near_misses.contains_key(&subject) {
            let lowest = self
                .near_misses
                .iter()
                .min_by(|a, b| a.1 .0.total_cmp(&b.1 .0))
                .map(|(s, (r, _))| (*s, *r));
            match lowest {
                Some((s, r)) if r < ratio => {
                    self.near_misses.remove(&s);
                }
                _ => return,
            }
        }
        let who = match self.procs.get(subject) {
            Some(p) => format!("{} (pid {})", p.path_or_name(), p.info.pid),
            None => "a process no longer in the table".to_string(),
        };
        // Small rates keep two significant decimals: "0.03 execs/s", not "0.0".
        let r = |x: f64| {
            if x < 1.0 {
                format!("{x:.2}")
            } else {
                score::fmt_rate(x)
            }
        };
        let what = match trig {
            window::Trigger::Spawns => {
                format!("{} network-tool execs/s (threshold {}/s)", r(v), r(thr))
            }
            window::Trigger::Packets => {
                format!("{} weighted packets/s (threshold {}/s)", r(v), r(thr))
            }
            window::Trigger::Bytes => format!(
                "{} weighted (threshold {})",
                score::fmt_bytes_rate(v),
                score::fmt_bytes_rate(thr)
            ),
            window::Trigger::Connections | window::Trigger::Declared => {
                format!("{} new connections/s (threshold {}/s)", r(v), r(thr))
            }
        };
        let text = format!(
            "{who}: {what}, {:.0}% of it, in the window starting {}",
            ratio * 100.0,
            sig.start
        );
        self.near_misses.insert(subject, (ratio, text));
    }

    fn identity(&self, subject: ProcId) -> String {
        match self.procs.get(subject) {
            Some(p) => format!(
                "{}|{}|{}",
                p.info.pid,
                p.info.start_time.unwrap_or(p.first_seen).0,
                p.info
                    .path
                    .as_deref()
                    .or(p
                        .info
                        .args
                        .as_ref()
                        .and_then(|a| a.first())
                        .map(String::as_str))
                    .unwrap_or("?")
            ),
            None => format!("subject-{subject}"),
        }
    }

    fn view(&self, id: ProcId) -> Option<ProcessView> {
        view_of(&self.procs, id)
    }

    fn build_alert(&self, sh: &Shared, ep: &Episode, status: AlertStatus) -> Alert {
        let cfg = &sh.cfg;
        let session = ep.session.as_ref().unwrap_or(&self.session);
        let ctx = classify(&self.procs, &sh.scope, ep.subject, ep.member, session);
        let top_dest = ep.top_destination();
        let top_tool = ep.top_tool();
        let (score, reasons) = score::score(&score::ScoreInput {
            cfg,
            peaks: &ep.peaks,
            ctx: &ctx,
            declared: ep.declared.as_ref(),
            hot_windows: ep.hot_windows,
            top_destination: top_dest,
            protos: &ep.protos,
            top_tool,
            estimated_packets: ep.estimated_packets,
            baseline: ep.baseline.as_ref(),
        });
        let process = self
            .view(ep.subject)
            .unwrap_or_else(|| ProcessView::unknown(0));
        let parents: Vec<ProcessView> = self
            .procs
            .ancestors(ep.subject)
            .into_iter()
            .filter_map(|a| self.view(a))
            .collect();
        let mut children: Vec<(String, u64)> =
            ep.spawned.iter().map(|(k, v)| (k.clone(), *v)).collect();
        children.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let kind = if ep.member != ep.subject
            || !children.is_empty()
                && self
                    .procs
                    .get(ep.subject)
                    .is_some_and(|p| Scope::name_of(&p.info).is_some_and(|n| sh.scope.is_runner(n)))
        {
            "lineage_group"
        } else {
            "process"
        };

        // Suppression: identity facts are the subject's own (the script, the agent, the binary),
        // never a tool it ran: suppressing /usr/bin/curl must not hide a loop that runs curl.
        let mut facts = Facts {
            host: &self.host,
            ..Facts::default()
        };
        if let Some(p) = self.procs.get(ep.subject) {
            facts.paths.extend(p.info.path.as_deref());
            facts.cmdlines.extend(p.info.cmdline());
            facts
                .signing_ids
                .extend(p.info.signing.signing_id.as_deref());
            facts.team_ids.extend(p.info.signing.team_id.as_deref());
            if let Some(u) = &p.info.username {
                facts.users.push(u.clone());
            }
            if let Some(uid) = p.info.euid.or(p.info.uid) {
                facts.users.push(uid.to_string());
                if uid == 0 {
                    facts.users.push("root".into());
                }
            }
        }
        let ancestors = self.procs.ancestors(ep.subject);
        facts.parents.extend(
            ancestors
                .iter()
                .filter_map(|a| self.procs.get(*a))
                .filter_map(|p| p.info.path.as_deref()),
        );
        if self
            .procs
            .get(ep.subject)
            .is_some_and(|p| p.info.ppid == Some(1))
        {
            facts.parents.push("/sbin/launchd");
        }
        facts
            .destinations
            .extend(ep.destinations.keys().map(String::as_str));
        let rates = Rates {
            spawns_per_s: ep.peaks.spawns_per_s,
            packets_per_s: ep.peaks.packets_per_s,
            bytes_per_s: ep.peaks.bytes_per_s,
            connections_per_s: ep.peaks.connections_per_s,
        };
        let (hit, notes) = sh.suppressions.judge(&facts, &rates, ep.last_seen);
        let suppressed_by = hit.map(|s| s.hit());

        let mut protos = ep.protos.clone();
        protos.sort();
        let mut evidences = ep.evidences.clone();
        evidences.sort_by(|a, b| {
            a.time
                .cmp(&b.time)
                .then(a.file.cmp(&b.file))
                .then(a.line.cmp(&b.line))
        });
        Alert {
            id: ep.id.clone(),
            host: self.host.to_string(),
            status,
            first_seen: ep.first_seen,
            last_seen: ep.last_seen,
            score,
            severity: severity::severity(score),
            reasons,
            metrics: Metrics {
                window_secs: cfg.window_secs(),
                hot_windows: ep.hot_windows,
                peak_packets_per_s: ep.peaks.packets_per_s,
                peak_bytes_per_s: ep.peaks.bytes_per_s,
                peak_connections_per_s: ep.peaks.connections_per_s,
                peak_spawns_per_s: ep.peaks.spawns_per_s,
                total_bytes_out: ep.total_bytes_out.round() as u64,
                total_packets_out: ep.total_packets_out.round() as u64,
                total_spawns: ep.total_spawns,
                total_connections: ep.total_connections,
                top_destination: top_dest.map(|d| d.0.to_string()),
                destination_share: top_dest.map(|d| d.1),
                protocols: protos,
                estimated_packets: ep.estimated_packets,
                evidences_omitted: ep.evidence_dropped,
            },
            subject: SubjectView {
                kind: kind.into(),
                process,
                parents,
                children,
            },
            context: ContextView {
                unattended: ctx.unattended,
                launched_by: ctx.launched_by.as_str().into(),
                launch_chain: ctx.chain.clone(),
                tty: ctx.tty.clone(),
                tty_known: ctx.tty_known,
                interactive: ctx.interactive,
                responsible: ctx.responsible.clone(),
                session_state: ctx.session.clone(),
                root: ctx.root,
                signature: Some(ctx.signature),
                suspicious_path: ctx.suspicious_path.clone(),
            },
            evidences,
            timeline: ep.timeline.clone(),
            baseline: match &ep.baseline {
                Some(j) => score::baseline_text(j, cfg),
                None => "absolute thresholds from the config (no baseline store in use)".into(),
            },
            suppressed_by,
            suppression_notes: notes,
        }
    }
}

/// A process as alerts and findings show it.
fn view_of(procs: &ProcessTable, id: ProcId) -> Option<ProcessView> {
    let p = procs.get(id)?;
    Some(ProcessView {
        pid: p.info.pid,
        start_time: p.info.start_time,
        path: p.info.path.clone(),
        cmd_line: p.info.cmdline(),
        uid: p.info.uid,
        euid: p.info.euid,
        user: p.info.username.clone().or_else(|| {
            (p.info.euid == Some(0) || p.info.uid == Some(0)).then(|| "root".to_string())
        }),
        tty: p.info.tty.clone(),
        signing_id: p.info.signing.signing_id.clone(),
        team_id: p.info.signing.team_id.clone(),
        signature: p.info.signing.class(),
    })
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
        for h in self.hosts.values_mut() {
            h.finish(sh, out, &mut self.stats, self.updates);
            self.learned
                .merge(std::mem::take(&mut h.learner), half_life);
            self.findings.append(&mut h.findings);
        }
    }

    pub fn shared(&self) -> &Shared {
        &self.shared
    }
}

/// Counts an episode once, when it ends (closed, or still open at the end of input): watch emits
/// Opened/Updated states of the same episode before that.
fn count_final(stats: &mut EngineStats, verdict: &mut HostVerdict, alert: &Alert) {
    stats.alerts += 1;
    verdict.alerts += 1;
    if let Some(h) = &alert.suppressed_by {
        stats.suppressed_alerts += 1;
        verdict.suppressed_alerts += 1;
        *stats.suppression_hits.entry(h.id.clone()).or_default() += 1;
    }
}

/// Helper for sinks and tests: the basename of a path.
pub fn short_name(path: &str) -> &str {
    basename(path)
}
