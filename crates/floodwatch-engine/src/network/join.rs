//! The join: which process sent a network finding's traffic. Process events note, per destination
//! host, who sent there and when, and which running command lines name it ([`JoinIndex`]); a closed
//! flood is joined to the busiest sender in its time, else a command line naming its target, else the
//! finding says what is missing.

use super::endpoint::{hosts_in_argv, split_endpoint};
use super::NetworkAgg;
use crate::alert::view_of;
use crate::process::{ProcId, ProcessTable};
use floodwatch_core::alert::ProcessView;
use floodwatch_core::event::{Event, EventKind};
use floodwatch_core::finding::{JoinKind, ProcessJoin};
use floodwatch_core::Ts;

/// Processes remembered per destination host for the join.
const MAX_SEEN_PER_TARGET: usize = 8;

/// What process sources saw per destination host: who sent there, when, how much; and which running
/// command lines name it.
#[derive(Clone, Debug, bitcode::Encode, bitcode::Decode)]
pub struct Seen {
    pub id: ProcId,
    pub pid: i32,
    pub first: Ts,
    pub last: Ts,
    pub bytes: u64,
    pub events: u64,
    /// Named by the command line (not seen sending).
    pub by_argv: bool,
    /// The process as first described (kept for when the table has evicted it).
    pub view: Option<ProcessView>,
    /// Which file first showed it (for the join's wording).
    pub file: u32,
}

#[derive(Default, bitcode::Encode, bitcode::Decode)]
pub struct JoinIndex {
    /// Hash order never reaches output: candidates are sorted where they are used.
    by_target: foldhash::HashMap<Box<str>, Vec<Seen>>,
    /// Earliest and latest event with a pid on the host: what time process sources cover.
    pub covered: Option<(Ts, Ts)>,
}

impl JoinIndex {
    pub fn cover(&mut self, ts: Ts) {
        self.covered = Some(match self.covered {
            Some((a, b)) => (a.min(ts), b.max(ts)),
            None => (ts, ts),
        });
    }

    /// Notes that process `id` sent `bytes` to `remote` over `[from, to]` (or that its command line
    /// names it, `by_argv`). `describe` is asked only for a new entry.
    #[allow(clippy::too_many_arguments)]
    pub fn note(
        &mut self,
        remote: &str,
        id: ProcId,
        pid: i32,
        from: Ts,
        to: Ts,
        bytes: u64,
        by_argv: bool,
        file: u32,
        describe: impl FnOnce() -> Option<ProcessView>,
    ) {
        let (host, _) = split_endpoint(remote);
        if host.is_empty() {
            return;
        }
        let list = match self.by_target.get_mut(host) {
            Some(l) => l,
            None => self.by_target.entry(host.into()).or_default(),
        };
        if let Some(s) = list.iter_mut().find(|s| s.id == id && s.by_argv == by_argv) {
            s.first = s.first.min(from);
            s.last = s.last.max(to);
            s.bytes = s.bytes.saturating_add(bytes);
            s.events += 1;
            return;
        }
        let seen = Seen {
            id,
            pid,
            first: from,
            last: to,
            bytes,
            events: 1,
            by_argv,
            view: describe(),
            file,
        };
        if list.len() >= MAX_SEEN_PER_TARGET {
            // Replace the entry seen last longest ago.
            if let Some((i, _)) = list.iter().enumerate().min_by_key(|(_, s)| s.last) {
                list[i] = seen;
            }
        } else {
            list.push(seen);
        }
    }

    /// Records what a process event shows for the join: the time process sources cover; who sent to
    /// which destination (traffic, connections of process `id`); which command lines name one (execs).
    pub fn note_event(&mut self, procs: &ProcessTable, ev: &Event, id: Option<ProcId>) {
        self.cover(ev.ts);
        let Some(id) = id else { return };
        let Some(p) = procs.get(id) else { return };
        let pid = p.info.pid;
        let file = ev.origin.file;
        match &ev.kind {
            EventKind::Traffic(t) => {
                if let Some(r) = t.remote.as_deref() {
                    let (from, to) = (t.start.min(ev.ts), ev.ts);
                    self.note(r, id, pid, from, to, t.bytes_out, false, file, || {
                        view_of(procs, id)
                    });
                }
            }
            EventKind::Connect(c) => {
                if let Some(r) = c.remote.as_deref() {
                    self.note(r, id, pid, ev.ts, ev.ts, 0, false, file, || {
                        view_of(procs, id)
                    });
                }
            }
            EventKind::Exec { .. } => {
                let hosts = p
                    .info
                    .args
                    .as_deref()
                    .map(hosts_in_argv)
                    .unwrap_or_default();
                for h in hosts {
                    self.note(&h, id, pid, ev.ts, ev.ts, 0, true, file, || {
                        view_of(procs, id)
                    });
                }
            }
            _ => {}
        }
    }

    /// Forgets entries older than `cutoff` unless `keep` (a process still running).
    pub fn evict(&mut self, cutoff: Ts, keep: impl Fn(&Seen) -> bool) {
        self.by_target.retain(|_, list| {
            list.retain(|s| s.last >= cutoff || keep(s));
            !list.is_empty()
        });
    }

    pub fn candidates(&self, target: &str) -> &[Seen] {
        self.by_target.get(target).map_or(&[], Vec::as_slice)
    }
}

/// How the host engine describes a process for a join: its view, parent chain, exit time.
#[derive(bitcode::Encode, bitcode::Decode)]
pub struct ProcFacts {
    pub view: ProcessView,
    pub parents: Vec<ProcessView>,
    pub exited: Option<Ts>,
}

impl ProcFacts {
    /// The facts of process `id` while the process table still has it.
    pub fn of(procs: &ProcessTable, id: ProcId) -> Option<ProcFacts> {
        let p = procs.get(id)?;
        Some(ProcFacts {
            view: view_of(procs, id)?,
            parents: procs
                .ancestors(id)
                .into_iter()
                .filter_map(|a| view_of(procs, a))
                .collect(),
            exited: p.exited,
        })
    }
}

impl NetworkAgg {
    pub(super) fn join(
        &self,
        target: &str,
        first: Ts,
        last: Ts,
        files: &dyn Fn(u32) -> String,
        facts: &dyn Fn(ProcId) -> Option<ProcFacts>,
    ) -> ProcessJoin {
        let from = first.add_nanos(-self.join_slack_ns);
        let to = last.add_nanos(self.join_slack_ns);
        let cands = self.index.candidates(target);
        let overlaps = |s: &Seen| {
            let end = if s.by_argv {
                facts(s.id)
                    .and_then(|f| f.exited)
                    .unwrap_or(Ts::MAX)
                    .max(s.last)
            } else {
                s.last
            };
            s.first <= to && end >= from
        };
        let mut sent: Vec<&Seen> = cands.iter().filter(|s| !s.by_argv && overlaps(s)).collect();
        sent.sort_by(|a, b| {
            b.bytes
                .cmp(&a.bytes)
                .then(b.events.cmp(&a.events))
                .then(a.pid.cmp(&b.pid))
        });
        let mut named: Vec<&Seen> = cands.iter().filter(|s| s.by_argv && overlaps(s)).collect();
        named.sort_by(|a, b| b.first.cmp(&a.first).then(a.pid.cmp(&b.pid)));
        let describe = |s: &Seen| -> (Option<ProcessView>, Vec<ProcessView>, String) {
            match facts(s.id) {
                Some(f) => {
                    let who = who(&f.view);
                    (Some(f.view), f.parents, who)
                }
                None => {
                    let who = s.view.as_ref().map_or(format!("pid {}", s.pid), who);
                    (s.view.clone(), Vec::new(), who)
                }
            }
        };
        if let Some(best) = sent.first() {
            let (view, parents, who) = describe(best);
            return ProcessJoin {
                kind: JoinKind::Destination,
                process: view,
                parents,
                others: (sent.len() - 1) as u64,
                text: format!(
                    "joined by destination {target} and time: {who} sent {} byte(s) to {target} in {} sample(s) between {} and {} ({})",
                    best.bytes,
                    best.events,
                    best.first,
                    best.last,
                    files(best.file)
                ),
            };
        }
        if let Some(best) = named.first() {
            let (view, parents, who) = describe(best);
            return ProcessJoin {
                kind: JoinKind::CommandLine,
                process: view,
                parents,
                others: (named.len() - 1) as u64,
                text: format!(
                    "joined by command line and time: {who} names {target} and was running (started {}); no process source saw its packets (raw sockets and ICMP are invisible to nettop and the unified log; PKTAP capture would attribute them)",
                    best.first
                ),
            };
        }
        let covered = self
            .index
            .covered
            .is_some_and(|(a, b)| a <= to && b >= from);
        if covered {
            ProcessJoin {
                kind: JoinKind::NotSeen,
                process: None,
                parents: Vec::new(),
                others: 0,
                text: format!(
                    "network-only: process sources cover {} at this time, but none saw traffic to {target} or a command line naming it (nettop does not show ICMP or raw-socket traffic; the unified log only Network.framework connections); the process, user and session are unknown",
                    self.host
                ),
            }
        } else {
            ProcessJoin {
                kind: JoinKind::NetworkOnly,
                process: None,
                parents: Vec::new(),
                others: 0,
                text: format!(
                    "network-only: no process source covers this host/time ({} has no exec, connection or per-process traffic events between {} and {}): the process, command line, parent, user and session are unknown; add eslogger and nettop on the host",
                    self.host, from, to
                ),
            }
        }
    }
}

fn who(v: &ProcessView) -> String {
    let what = v
        .cmd_line
        .as_deref()
        .or(v.path.as_deref())
        .unwrap_or("(unknown image)");
    format!("pid {} ({what})", v.pid)
}
