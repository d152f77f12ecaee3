//! What each source file showed the engine, for `floodwatch coverage` (off in plain hunts: see
//! [`crate::Shared::observe`]). Per file: event kinds, time span, the median interval between events
//! and the longest silences. Per host: which context fields exec events carry; how outbound bytes split
//! between processes with exec context, pids without it, and records without a pid; and per pid the
//! times each file saw it, to measure clock skew between a host's sources.

use floodwatch_core::event::{Event, EventKind, Proto, Tty};
use floodwatch_core::Ts;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// Candidate gaps kept per file (the longest ones).
const MAX_GAPS: usize = 64;
/// (file, pid) pairs remembered per host for skew.
const MAX_PIDS: usize = 50_000;
/// Names (and local addresses) whose bytes are tallied per host.
const MAX_NAMES: usize = 512;
/// Interval histogram: bucket i holds intervals of about 2^(i/4) ns (quarter octaves, up to ~2 days).
const BUCKETS: usize = 192;

#[derive(Clone, Debug, Serialize)]
pub struct FileSeen {
    pub events: u64,
    /// Events by what they can show: `exec`, `exec_argv`, `exec_tty_known`, `fork`, `exit`, `process`,
    /// `session`, `connect_pid`, `traffic_pid`, `traffic_pid_icmp`, `traffic_no_pid`, `traffic_no_pid_icmp`.
    pub kinds: BTreeMap<&'static str, u64>,
    pub first: Option<Ts>,
    pub last: Option<Ts>,
    /// Silences of at least `coverage.min_gap`, longest first (at most 64), and how many there were.
    pub gaps: Vec<(Ts, Ts)>,
    pub gaps_total: u64,
    #[serde(skip)]
    hist: Vec<u64>,
    #[serde(skip)]
    max: Option<Ts>,
}

impl FileSeen {
    fn new() -> FileSeen {
        FileSeen {
            events: 0,
            kinds: BTreeMap::new(),
            first: None,
            last: None,
            gaps: Vec::new(),
            gaps_total: 0,
            hist: vec![0; BUCKETS],
            max: None,
        }
    }

    /// The median interval between consecutive events (by the file's own running maximum time, so
    /// out-of-order records count as no interval), in seconds.
    pub fn median_interval_s(&self) -> Option<f64> {
        let n: u64 = self.hist.iter().sum();
        if n == 0 {
            return None;
        }
        let mut acc = 0;
        for (i, c) in self.hist.iter().enumerate() {
            acc += c;
            if acc * 2 >= n {
                return Some(if i == 0 {
                    0.0
                } else {
                    2f64.powf((i as f64 + 0.5) / 4.0) / 1e9
                });
            }
        }
        None
    }

    fn absorb(&mut self, o: FileSeen) {
        self.events += o.events;
        for (k, v) in o.kinds {
            *self.kinds.entry(k).or_default() += v;
        }
        self.first = match (self.first, o.first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last = self.last.max(o.last);
        for (a, b) in self.hist.iter_mut().zip(o.hist) {
            *a += b;
        }
        self.gaps.extend(o.gaps);
        self.gaps.sort_by(|a, b| {
            (b.1 .0 - b.0 .0)
                .cmp(&(a.1 .0 - a.0 .0))
                .then(a.0.cmp(&b.0))
        });
        self.gaps.truncate(MAX_GAPS);
        self.gaps_total += o.gaps_total;
    }
}

/// One pid as one file saw it: first and last event, and (process sources) when it started and exited.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct PidSeen {
    pub first: Ts,
    pub last: Ts,
    pub started: Option<Ts>,
    pub exited: Option<Ts>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct ExecFields {
    pub execs: u64,
    pub argv: u64,
    pub parent: u64,
    pub user: u64,
    pub tty: u64,
    pub session: u64,
    pub signing: u64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Bytes {
    /// Outbound bytes of processes a process source (exec, fork, snapshot) knows.
    pub exec_context: u64,
    /// Outbound bytes with a pid no process source described (nettop name or log path only).
    pub pid_only: u64,
    /// Outbound bytes without a pid (network sensors).
    pub no_pid: u64,
    /// `pid_only` bytes by the name the traffic source gave (nettop's 15 characters, a log path).
    pub pid_only_by_name: BTreeMap<String, u64>,
    /// `no_pid` bytes by sending address.
    pub no_pid_by_local: BTreeMap<String, u64>,
}

impl Bytes {
    pub fn add_pid_only(&mut self, name: Option<&str>, bytes: u64) {
        self.pid_only += bytes;
        tally(
            &mut self.pid_only_by_name,
            name.unwrap_or("(no name)"),
            bytes,
        );
    }

    pub fn add_no_pid(&mut self, local: Option<&str>, bytes: u64) {
        self.no_pid += bytes;
        tally(
            &mut self.no_pid_by_local,
            local.unwrap_or("(no address)"),
            bytes,
        );
    }
}

fn tally(m: &mut BTreeMap<String, u64>, key: &str, v: u64) {
    if let Some(x) = m.get_mut(key) {
        *x += v;
    } else if m.len() < MAX_NAMES {
        m.insert(key.to_string(), v);
    } else {
        *m.entry("(other)".to_string()).or_default() += v;
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct HostSeen {
    pub files: BTreeMap<u32, FileSeen>,
    pub exec_fields: ExecFields,
    pub bytes: Bytes,
    /// (file, pid) → what that file saw of the pid.
    #[serde(skip)]
    pub pids: HashMap<(u32, i32), PidSeen>,
    #[serde(skip)]
    min_gap_ns: i64,
}

impl HostSeen {
    pub fn new(min_gap_ns: i64) -> HostSeen {
        HostSeen {
            min_gap_ns,
            ..HostSeen::default()
        }
    }

    /// Every event read for the host, in arrival order (before reordering).
    pub fn event(&mut self, ev: &Event) {
        let min_gap = self.min_gap_ns.max(1);
        let f = self
            .files
            .entry(ev.origin.file)
            .or_insert_with(FileSeen::new);
        f.events += 1;
        f.first = Some(f.first.map_or(ev.ts, |x| x.min(ev.ts)));
        f.last = Some(f.last.map_or(ev.ts, |x| x.max(ev.ts)));
        if let Some(m) = f.max {
            let d = (ev.ts.0 - m.0).max(0);
            let b = if d <= 1 {
                0
            } else {
                ((d as f64).log2() * 4.0) as usize
            };
            f.hist[b.min(BUCKETS - 1)] += 1;
            if d >= min_gap {
                f.gaps_total += 1;
                f.gaps.push((m, ev.ts));
                if f.gaps.len() > 2 * MAX_GAPS {
                    f.gaps.sort_by(|a, b| {
                        (b.1 .0 - b.0 .0)
                            .cmp(&(a.1 .0 - a.0 .0))
                            .then(a.0.cmp(&b.0))
                    });
                    f.gaps.truncate(MAX_GAPS);
                }
            }
        }
        f.max = Some(f.max.map_or(ev.ts, |m| m.max(ev.ts)));
        let mut kind = |k: &'static str| *f.kinds.entry(k).or_default() += 1;
        let (pid, started, exited, traffic) = match &ev.kind {
            EventKind::Exec { target, .. } => {
                kind("exec");
                if target.args.as_ref().is_some_and(|a| !a.is_empty()) {
                    kind("exec_argv");
                }
                if target.tty != Tty::Unknown {
                    kind("exec_tty_known");
                }
                (Some(target.pid), Some(ev.ts), None, false)
            }
            EventKind::Fork { child, .. } => {
                kind("fork");
                (Some(child.pid), Some(ev.ts), None, false)
            }
            EventKind::Exit { process, .. } => {
                kind("exit");
                (Some(process.pid), None, Some(ev.ts), false)
            }
            EventKind::ProcessSeen(p) => {
                kind("process");
                (Some(p.pid), None, None, false)
            }
            EventKind::Session(_) => {
                kind("session");
                (None, None, None, false)
            }
            EventKind::Connect(c) => {
                kind(if c.pid.is_some() {
                    "connect_pid"
                } else {
                    "connect_no_pid"
                });
                (c.pid, None, None, true)
            }
            EventKind::Traffic(t) => {
                let icmp = t.proto == Proto::Icmp;
                match (t.pid.is_some(), icmp) {
                    (true, false) => kind("traffic_pid"),
                    (true, true) => kind("traffic_pid_icmp"),
                    (false, false) => kind("traffic_no_pid"),
                    (false, true) => kind("traffic_no_pid_icmp"),
                }
                (t.pid, None, None, true)
            }
        };
        let Some(pid) = pid else { return };
        let key = (ev.origin.file, pid);
        if let Some(p) = self.pids.get_mut(&key) {
            p.first = p.first.min(ev.ts);
            p.last = p.last.max(ev.ts);
            if started.is_some() {
                p.started = Some(p.started.map_or(ev.ts, |s| s.min(ev.ts)));
            }
            if exited.is_some() {
                p.exited = exited.max(p.exited);
            }
        } else if self.pids.len() < MAX_PIDS && (traffic || started.is_some() || exited.is_some()) {
            self.pids.insert(
                key,
                PidSeen {
                    first: ev.ts,
                    last: ev.ts,
                    started,
                    exited,
                },
            );
        }
    }

    pub fn exec_fields(&mut self, target: &floodwatch_core::event::ProcInfo, has_parent: bool) {
        let e = &mut self.exec_fields;
        e.execs += 1;
        e.argv += u64::from(target.args.as_ref().is_some_and(|a| !a.is_empty()));
        e.parent += u64::from(has_parent || target.ppid.is_some());
        e.user +=
            u64::from(target.uid.is_some() || target.euid.is_some() || target.username.is_some());
        e.tty += u64::from(target.tty != Tty::Unknown);
        e.session += u64::from(target.session_id.is_some());
        let s = &target.signing;
        e.signing += u64::from(
            s.signing_id.is_some() || s.cs_flags.is_some() || s.platform_binary.is_some(),
        );
    }

    pub fn absorb(&mut self, o: HostSeen) {
        for (k, v) in o.files {
            match self.files.get_mut(&k) {
                Some(f) => f.absorb(v),
                None => {
                    self.files.insert(k, v);
                }
            }
        }
        let (a, b) = (&mut self.exec_fields, o.exec_fields);
        a.execs += b.execs;
        a.argv += b.argv;
        a.parent += b.parent;
        a.user += b.user;
        a.tty += b.tty;
        a.session += b.session;
        a.signing += b.signing;
        self.bytes.exec_context += o.bytes.exec_context;
        self.bytes.pid_only += o.bytes.pid_only;
        self.bytes.no_pid += o.bytes.no_pid;
        for (k, v) in o.bytes.pid_only_by_name {
            tally(&mut self.bytes.pid_only_by_name, &k, v);
        }
        for (k, v) in o.bytes.no_pid_by_local {
            tally(&mut self.bytes.no_pid_by_local, &k, v);
        }
        self.pids.extend(o.pids);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use floodwatch_core::event::{Origin, Session, SessionKind};
    use std::sync::Arc;

    fn ev(s: i64) -> Event {
        Event {
            ts: Ts::from_secs(s),
            host: Arc::from("h"),
            origin: Origin { file: 3, line: 1 },
            kind: EventKind::Session(Box::new(Session {
                kind: SessionKind::Lock,
                user: None,
                uid: None,
                tty: None,
                remote: None,
            })),
        }
    }

    #[test]
    fn median_interval_and_gaps() {
        let mut h = HostSeen::new(60 * 1_000_000_000);
        for s in (0..100).chain(400..450) {
            h.event(&ev(1_700_000_000 + s));
        }
        let f = &h.files[&3];
        assert_eq!(f.events, 150);
        let m = f.median_interval_s().unwrap();
        assert!((0.8..1.25).contains(&m), "{m}");
        assert_eq!(f.gaps_total, 1);
        assert_eq!(f.gaps[0].1 .0 - f.gaps[0].0 .0, 301 * 1_000_000_000);
    }
}
