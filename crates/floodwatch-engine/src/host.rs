//! The per-host loop. [`HostEngine`] takes one host's events, puts them in event-time order and walks
//! each through the stages: [`crate::process`] table → [`crate::context`] session → attribution
//! ([`crate::attribute`]) → [`crate::window`] accumulation; at each hop's end, signals → baseline →
//! [`crate::lifecycle`] episodes → `alert` building (score, severity, suppression). Pid-less traffic
//! goes to [`crate::network`] instead. The stages hold the logic; this file holds the order and the
//! bookkeeping (statistics, the host verdict, eviction).

use crate::alert::{self, build_alert, EvidenceKind, HostFacts, NearMisses};
use crate::attribute;
use crate::baseline::{self, HostBaselines, Judgement};
use crate::context::SessionState;
use crate::declared;
use crate::lifecycle::Episode;
use crate::network::{self, NetworkAgg};
use crate::observe::HostSeen;
use crate::order::{Push, ReorderBuffer};
use crate::process::{basename, ProcId, ProcessTable};
use crate::scope::{NameClass, NameClasses, Scope};
use crate::window::{SubjectWindow, Trigger, WindowEnd, WindowSignals, Windows};
use crate::{AlertEvent, AlertEventKind, BaselineMode, EngineReject, EngineStats, Shared};
use floodwatch_core::alert::{Alert, AlertStatus, HostVerdict};
use floodwatch_core::config::Config;
use floodwatch_core::event::{Connect, Event, EventKind, Proto, Traffic};
use floodwatch_core::finding::NetworkFinding;
use floodwatch_core::time::NANOS_PER_DAY;
use floodwatch_core::Ts;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The reorder slack in use, and the setting it comes from (for reject messages). `live`: a stream
/// read as it happens, which uses the smaller watch slack.
fn slack_for(cfg: &Config, live: bool) -> (std::time::Duration, &'static str) {
    if live {
        (
            cfg.windows.watch_reorder_slack,
            "windows.watch_reorder_slack",
        )
    } else {
        (cfg.windows.reorder_slack, "windows.reorder_slack")
    }
}

/// Where alert states and counts go, and whether `watch`'s Opened/Updated states are wanted.
struct Emit<'a> {
    out: &'a mut Vec<AlertEvent>,
    stats: &'a mut EngineStats,
    updates: bool,
}

/// One host's engine: its reorder buffer, process table, session, windows, open episodes, baselines
/// and network stage.
#[derive(bitcode::Encode, bitcode::Decode)]
pub struct HostEngine {
    host: Arc<str>,
    reorder: ReorderBuffer,
    /// A live stream's engine (watch's reorder slack, see [`slack_for`]), or a batch hunt's.
    live: bool,
    procs: ProcessTable,
    session: SessionState,
    windows: Windows,
    episodes: BTreeMap<ProcId, Episode>,
    windows_done: u64,
    /// The newest event time actually received (idle ticks move the engine's clock, not this).
    last_event: Option<Ts>,
    verdict: HostVerdict,
    /// A quiet host's verdict names its closest subject that never alerted.
    near_misses: NearMisses,
    pub(crate) baselines: HostBaselines,
    /// Pid-less traffic: floods and scans per local address and target.
    network: NetworkAgg,
    /// Network findings ready for the caller ([`crate::Engine`] drains them).
    pub(crate) findings: Vec<NetworkFinding>,
    /// The newest event time released from the reorder buffer (what process sources have shown).
    processed: Option<Ts>,
    /// Coverage runs only (never in an agent's snapshot).
    #[bitcode(skip)]
    seen: Option<HostSeen>,
    /// Subjects that counted an event whose strings were not valid UTF-8 (attacker-controlled argv
    /// that was decoded lossily): itself a reason, kept until the process table forgets them.
    garbled: BTreeSet<ProcId>,
    /// Some source on this host reported a process exit: "no exit seen" then means still running.
    saw_exit: bool,
    /// Subjects of alerts closed while the subject still ran: their exit, when it comes, is a fact
    /// the playbook needs ("still running at the end of the data?").
    awaiting_exit: BTreeMap<ProcId, Vec<String>>,
    /// (alert id, exit time) of those subjects, for [`crate::Engine::settle`].
    pub(crate) late_exits: Vec<(String, Ts)>,
    /// Remembered from the scope's glob sets (never in a snapshot: rebuilt as names come).
    #[bitcode(skip)]
    name_classes: NameClasses,
}

impl HostEngine {
    /// `live`: a stream read as it happens (`watch`), which uses the smaller watch reorder slack.
    pub fn new(host: Arc<str>, cfg: &Config, live: bool) -> HostEngine {
        let slack = slack_for(cfg, live);
        HostEngine {
            live,
            host: host.clone(),
            reorder: ReorderBuffer::new(slack.0.as_nanos() as i64),
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
            near_misses: NearMisses::default(),
            baselines: HostBaselines::default(),
            network: NetworkAgg::new(host.clone(), cfg),
            findings: Vec::new(),
            processed: None,
            seen: None,
            garbled: BTreeSet::new(),
            saw_exit: false,
            awaiting_exit: BTreeMap::new(),
            late_exits: Vec::new(),
            name_classes: NameClasses::default(),
        }
    }

    /// What the host's end of data says about alerts written earlier (see [`crate::Engine::settle`]).
    pub(crate) fn end_facts(&self) -> (bool, Option<Ts>) {
        (self.saw_exit, self.last_event)
    }

    /// One event in: rejected (out of range, too late), handed to the network stage (pid-less
    /// traffic), or buffered, and every event the buffer releases processed in time order.
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
                detail: if ev.ts.0 >= i64::MAX - NANOS_PER_DAY || ev.ts.0 <= i64::MIN + NANOS_PER_DAY {
                    // Saturated by the parser: the written time is beyond what a nanosecond time holds.
                    format!(
                        "{} event is dated beyond year 2262 or before 1678 (outside what a nanosecond time holds)",
                        ev.kind.name()
                    )
                } else {
                    format!(
                        "{} event at {} is before 2000 or more than a day ahead of this machine's clock",
                        ev.kind.name(),
                        ev.ts
                    )
                },
            });
            return;
        }
        if sh.observe {
            self.seen
                .get_or_insert_with(|| HostSeen::new(sh.cfg.coverage.min_gap.as_nanos() as i64))
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
                        slack_for(&sh.cfg, self.live).1,
                        slack_for(&sh.cfg, self.live).0
                    ),
                });
                return;
            }
        }
        let mut emit = Emit {
            out,
            stats,
            updates,
        };
        self.drain_reorder(false, sh, &mut emit);
    }

    /// Processes the events the reorder buffer releases (`all`: every buffered one).
    fn drain_reorder(&mut self, all: bool, sh: &Shared, emit: &mut Emit) {
        while let Some(ev) = self.reorder.pop_ready(all) {
            self.process(ev, sh, emit);
        }
    }

    /// End of input: every buffered event, the last window, network findings, and the episodes still
    /// open (as Final); the host's verdict and observations go to `stats`.
    pub fn finish(
        &mut self,
        sh: &Shared,
        out: &mut Vec<AlertEvent>,
        stats: &mut EngineStats,
        updates: bool,
    ) {
        let mut emit = Emit {
            out,
            stats,
            updates,
        };
        self.drain_reorder(true, sh, &mut emit);
        if let Some(w) = self.windows.current_hop() {
            self.close_hop(w, sh, &mut emit);
        }
        let stats = emit.stats;
        self.network.finish();
        self.drain_network(sh, true);
        stats.network_floods += self.network.floods;
        stats.network_scans += self.network.scans_found;
        stats.network_flows_evicted += self.network.flows_evicted;
        stats.network_packets_evicted += self.network.packets_evicted;
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
                let alert = build_alert(&self.facts(sh), sh, &ep, AlertStatus::Open);
                count_final(stats, &mut self.verdict, &alert);
                emit.out.push(AlertEvent {
                    kind: AlertEventKind::Final,
                    alert,
                });
            }
        }
        stats.peak_processes = stats.peak_processes.max(self.procs.len());
        if let Some((ratio, text)) = self.near_misses.closest() {
            self.verdict.closest_ratio = Some(ratio);
            self.verdict.closest = Some(text.to_string());
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
        let mut emit = Emit {
            out,
            stats,
            updates,
        };
        self.drain_reorder(true, sh, &mut emit);
        self.reorder.advance(to);
        self.advance_to(to, sh, &mut emit);
        self.processed = self.processed.max(Some(to));
        self.network.advance(Some(to));
        self.drain_network(sh, false);
    }

    /// Moves the host's clock to `ts`: every hop that ends by then is closed, idle stretches skipped.
    fn advance_to(&mut self, ts: Ts, sh: &Shared, emit: &mut Emit) {
        let w = self.windows.hop_of(ts);
        let Some(mut cur) = self.windows.current_hop() else {
            self.windows.set_current_hop(w);
            return;
        };
        while cur < w {
            self.close_hop(cur, sh, emit);
            cur += 1;
            // Skip idle stretches: nothing active, nothing declared alive, no open episode to close.
            if self.windows.is_idle() && self.episodes.is_empty() {
                cur = w;
            }
        }
        self.windows.set_current_hop(w);
    }

    /// The event path: one event, in time order.
    fn process(&mut self, ev: Event, sh: &Shared, emit: &mut Emit) {
        self.advance_to(ev.ts, sh, emit);
        let stats = &mut *emit.stats;
        stats.events += 1;
        self.verdict.events += 1;
        self.verdict.first_event.get_or_insert(ev.ts);
        self.verdict.last_event = Some(ev.ts);
        stats.by_kind.count(&ev.kind);
        let ts = ev.ts;
        self.processed = self.processed.max(Some(ts));
        if self.network.has_pending() {
            self.drain_network(sh, false);
        }
        let mut ev = ev;
        if let EventKind::Fork { parent, child } = &mut ev.kind {
            // The child's facts move into the table: nothing reads them from the event after.
            self.procs.fork(parent, std::mem::take(&mut **child), ts);
        }
        let changed = match &ev.kind {
            EventKind::Exec { instigator, target } => {
                let id = self.procs.exec(instigator.as_deref(), target, ts);
                if let Some(seen) = self.seen.as_mut() {
                    let parent = self.procs.get(id).is_some_and(|p| p.parent.is_some());
                    seen.exec_fields(target, parent);
                }
                self.note_for_join(sh, &ev, Some(id));
                self.on_exec(sh, id, &ev)
            }
            EventKind::Fork { .. } => {
                self.note_for_join(sh, &ev, None);
                None
            }
            EventKind::Exit { process, .. } => {
                let id = self.procs.exit(process, ts);
                self.saw_exit = true;
                if let Some(alerts) = self.awaiting_exit.remove(&id) {
                    self.late_exits.extend(alerts.into_iter().map(|a| (a, ts)));
                }
                self.note_for_join(sh, &ev, None);
                self.windows.exited(id, ts);
                None
            }
            EventKind::ProcessSeen(p) => {
                self.procs.observe(p, ts);
                self.note_for_join(sh, &ev, None);
                None
            }
            EventKind::Traffic(t) => self.on_traffic(sh, &ev, t, stats),
            EventKind::Connect(c) => self.on_connect(sh, &ev, c, stats),
            EventKind::Session(s) => {
                self.session.apply(s, ts);
                None
            }
        };
        if let Some(subject) = changed {
            if emit.updates {
                self.fire_early(subject, ts, sh, emit.out);
            }
        }
    }

    /// A network tool or script runner started: a declared flood starts counting for its subject, and
    /// a tool's exec counts for its spawn group. Returns the subject whose window changed, if any.
    fn on_exec(&mut self, sh: &Shared, id: ProcId, ev: &Event) -> Option<ProcId> {
        let p = self.procs.get(id)?;
        let name = Scope::name_of(&p.info)?;
        let NameClass {
            tool: is_tool,
            runner: is_runner,
        } = self.name_classes.of(&sh.scope, name);
        // exec replaces the image: a declared flood of the old image ends here.
        self.windows.image_replaced(id, ev.ts);
        if !(is_tool || is_runner) {
            return None;
        }
        // Copied only for the execs that count (most are neither tools nor runners).
        let name = name.to_string();
        let path = p
            .info
            .path
            .clone()
            .unwrap_or_else(|| Arc::from(name.as_str()));
        let args = p.info.args.clone().unwrap_or_default();
        let subject = attribute::subject_of(&self.procs, &sh.scope, id);
        let t = &sh.cfg.thresholds;
        if let Some(d) =
            declared::analyze(&name, &args, t.declared_packets_per_s, t.declared_curl_urls)
        {
            self.windows.declare(id, subject, ev.ts, d);
            self.add_evidence(sh, subject, EvidenceKind::Declared, ev, id);
        }
        if is_tool {
            let group = attribute::spawn_group(&self.procs, &sh.scope, id);
            self.windows.acc(group).add_spawn(&path, id);
            self.add_evidence(sh, group, EvidenceKind::Exec, ev, id);
            return Some(group);
        }
        // A script runner's own exec is counted for nothing, but its garbled name still marks it.
        if ev.kind.invalid_utf8() {
            self.garbled.insert(subject);
        }
        Some(subject)
    }

    /// Traffic of a process: counted for its subject when in scope. Returns the subject.
    fn on_traffic(
        &mut self,
        sh: &Shared,
        ev: &Event,
        t: &Traffic,
        stats: &mut EngineStats,
    ) -> Option<ProcId> {
        let Some(pid) = t.pid else {
            stats.traffic_unattributed += 1;
            return None;
        };
        let ts = ev.ts;
        let id = self.procs.traffic_process(
            pid,
            t.process_name.as_deref(),
            t.process_path.as_deref(),
            t.uid,
            ts,
        );
        self.note_for_join(sh, ev, Some(id));
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
            return None;
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
        let (proto, from_cmdline) = proto_of(&self.procs, id, t.proto);
        let acc = self.windows.acc(subject);
        acc.add_traffic(
            &sh.cfg,
            id,
            proto,
            t.remote.as_deref(),
            t.bytes_out as f64 * frac,
            t.packets_out.map(|p| p as f64 * frac),
            t.new_connections as u64,
        );
        acc.bytes_in += t.bytes_in as f64 * frac;
        if let Some(how) = from_cmdline {
            acc.note_proto_from_cmdline(how);
        }
        self.add_evidence(sh, subject, EvidenceKind::Traffic, ev, id);
        Some(subject)
    }

    /// A connection of a process: counted for its subject when in scope. Returns the subject.
    fn on_connect(
        &mut self,
        sh: &Shared,
        ev: &Event,
        c: &Connect,
        stats: &mut EngineStats,
    ) -> Option<ProcId> {
        let Some(pid) = c.pid else {
            stats.traffic_unattributed += 1;
            return None;
        };
        let id = self
            .procs
            .traffic_process(pid, None, c.process_path.as_deref(), c.uid, ev.ts);
        self.note_for_join(sh, ev, Some(id));
        if !attribute::in_scope(&self.procs, &sh.scope, id) {
            stats.traffic_out_of_scope += 1;
            return None;
        }
        let subject = attribute::subject_of(&self.procs, &sh.scope, id);
        let (proto, from_cmdline) = proto_of(&self.procs, id, c.proto);
        let acc = self.windows.acc(subject);
        acc.add_connection(id, proto, c.remote.as_deref());
        if let Some(how) = from_cmdline {
            acc.note_proto_from_cmdline(how);
        }
        self.add_evidence(sh, subject, EvidenceKind::Connect, ev, id);
        Some(subject)
    }

    fn add_evidence(
        &mut self,
        sh: &Shared,
        subject: ProcId,
        kind: EvidenceKind,
        ev: &Event,
        member: ProcId,
    ) {
        // Every event counted for a subject passes here: one place marks the subject when the
        // event's strings were not valid UTF-8 (exec, traffic and connect alike).
        if ev.kind.invalid_utf8() {
            self.garbled.insert(subject);
        }
        let procs = &self.procs;
        self.windows
            .add_evidence(subject, sh.cfg.output.max_evidences, || {
                alert::evidence(kind, ev, procs.get(member), sh)
            });
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
        if !sig.triggers.iter().any(|(t, _)| *t != Trigger::Declared) {
            return;
        }
        let judged = match &sh.baseline {
            BaselineMode::Judge { .. } => self.baseline_window(sh, subject, &sig),
            _ => None,
        };
        if judged.as_ref().is_some_and(|j| j.absorbed) {
            return;
        }
        let mut ep = self.open_episode(subject, ws, busiest.unwrap_or(subject));
        if let Some(j) = judged {
            ep.note_baseline(j);
        }
        ep.early(&sig, now);
        // The alert shows the window so far (counts, tools, evidence); the episode itself takes the
        // window when it closes, as a hunt's does, so nothing is counted twice.
        let mut shown = ep.clone();
        for half in self.windows.halves_so_far(subject) {
            shown.fold(half, sh.cfg.output.max_evidences);
        }
        let alert = build_alert(&self.facts(sh), sh, &shown, AlertStatus::Open);
        self.episodes.insert(subject, ep);
        out.push(AlertEvent {
            kind: AlertEventKind::Opened,
            alert,
        });
    }

    /// A new episode for `subject` from the window starting at `start` (not yet in `episodes`).
    fn open_episode(&mut self, subject: ProcId, start: Ts, member: ProcId) -> Episode {
        let identity = alert::identity(&self.procs, subject);
        let mut ep = Episode::new(&self.host, subject, &identity, start, member);
        ep.session = Some(self.session.clone());
        self.near_misses.alerted(subject);
        ep
    }

    /// Hop `w` ends: each subject's window is judged (baseline, then hot or cool), quiet episodes
    /// close, and every few hops the process table and join index are trimmed.
    fn close_hop(&mut self, w: i64, sh: &Shared, emit: &mut Emit) {
        let (end, windows) = self.windows.close_hop(w, &sh.cfg, &self.procs);
        let mut cool: BTreeMap<ProcId, WindowSignals> = BTreeMap::new();
        for sw in windows {
            self.verdict.subjects += 1;
            let judged = self.baseline_window(sh, sw.subject, &sw.sig);
            let absorbed = judged.as_ref().is_some_and(|j| j.absorbed);
            if absorbed {
                emit.stats.baseline_absorbed += 1;
                self.verdict.baseline_absorbed += 1;
            }
            if sw.sig.hot() && !absorbed {
                self.hot_window(sw, end, judged, sh, emit);
            } else {
                if !absorbed {
                    self.near_misses.note(&self.procs, sw.subject, &sw.sig);
                }
                let subject = sw.subject;
                let sig = self.cool_window(sw, sh);
                // Only an open episode reads its subject's cool window (`close_quiet_episodes`).
                // Episodes are keyed by their subject, and none opens for a subject after its
                // window in this loop: the other subjects' windows are not kept.
                if self.episodes.contains_key(&subject) {
                    cool.insert(subject, sig);
                }
            }
        }
        self.close_quiet_episodes(end, &cool, sh, emit);
        self.windows_done += 1;
        if self.windows_done.is_multiple_of(8) {
            self.evict(end.end, sh, emit.stats);
        }
    }

    /// A window that stayed below every threshold (or that a baseline found normal). An open episode's
    /// cooler stretches still count in its totals; otherwise the half keeps its evidence for an episode
    /// the next window may open. Returns the window's signals, for the episode's chart.
    fn cool_window(&mut self, sw: SubjectWindow, sh: &Shared) -> WindowSignals {
        let half = sw.second_half;
        if !half.is_empty() {
            let mut half = half;
            if let Some(ep) = self.episodes.get_mut(&sw.subject) {
                ep.fold(half.clone(), sh.cfg.output.max_evidences);
                half.evidence.clear();
                half.evidence_dropped = 0;
            }
            self.windows.keep_half(sw.subject, half);
        }
        sw.sig
    }

    /// A hot window: opens the subject's episode or extends it, and (in `watch`) says so.
    fn hot_window(
        &mut self,
        sw: SubjectWindow,
        end: WindowEnd,
        judged: Option<Judgement>,
        sh: &Shared,
        emit: &mut Emit,
    ) {
        emit.stats.hot_windows += 1;
        self.verdict.hot_windows += 1;
        let subject = sw.subject;
        let max_evidences = sh.cfg.output.max_evidences;
        let opened = !self.episodes.contains_key(&subject);
        if opened {
            let ep = self.open_episode(subject, end.start, sw.busiest.unwrap_or(subject));
            self.episodes.insert(subject, ep);
        }
        if let Some(ep) = self.episodes.get_mut(&subject) {
            // The first half of the episode's first hot window was judged cool before: its counts
            // and evidence belong to the episode too, whether the episode opens now or opened
            // early in `watch` (which used to lose them: curl x81 where the hunt said x200).
            if ep.hot_windows == 0 {
                if let Some(p) = sw.first_half {
                    ep.fold(p, max_evidences);
                }
            }
        }
        // Kept (without evidence, already taken) as the next window's first half.
        let cur = sw.second_half;
        let mut half = cur.clone();
        half.evidence.clear();
        half.evidence_dropped = 0;
        if let Some(ep) = self.episodes.get_mut(&subject) {
            ep.absorb(&sw.sig, cur, end.end, max_evidences);
            if let Some(j) = judged {
                ep.note_baseline(j);
            }
        }
        if !half.is_empty() {
            self.windows.keep_half(subject, half);
        }
        if emit.updates {
            if let Some(ep) = self.episodes.get(&subject) {
                let (status, kind) = if opened {
                    (AlertStatus::Open, AlertEventKind::Opened)
                } else {
                    (AlertStatus::Updated, AlertEventKind::Updated)
                };
                let alert = build_alert(&self.facts(sh), sh, ep, status);
                emit.out.push(AlertEvent { kind, alert });
            }
        }
    }

    /// Open episodes without a hot window in the window ending at `end`: closed after the quiet period,
    /// else the window is charted.
    fn close_quiet_episodes(
        &mut self,
        end: WindowEnd,
        cool: &BTreeMap<ProcId, WindowSignals>,
        sh: &Shared,
        emit: &mut Emit,
    ) {
        let quiet = (sh.cfg.windows.quiet_period.as_nanos() as i64).max(self.windows.window_ns());
        let idle: Vec<ProcId> = self
            .episodes
            .iter()
            .filter(|(_, e)| e.last_hot_end < end.end)
            .map(|(s, _)| *s)
            .collect();
        for s in idle {
            let close = self
                .episodes
                .get(&s)
                .is_some_and(|e| end.end.0 - e.last_hot_end.0 >= quiet);
            if close {
                if let Some(ep) = self.episodes.remove(&s) {
                    let alert = build_alert(&self.facts(sh), sh, &ep, AlertStatus::Closed);
                    count_final(emit.stats, &mut self.verdict, &alert);
                    if alert.facts.exited.is_none() {
                        self.awaiting_exit
                            .entry(ep.subject)
                            .or_default()
                            .push(alert.id.clone());
                    }
                    emit.out.push(AlertEvent {
                        kind: AlertEventKind::Closed,
                        alert,
                    });
                }
            } else if let Some(ep) = self.episodes.get_mut(&s) {
                ep.quiet_window(cool.get(&s), end.start, end.end);
            }
        }
    }

    /// Trims the process table (keeping what open episodes and declared floods refer to, and their
    /// lineage), the baseline keys of evicted subjects, and the network join index.
    fn evict(&mut self, now: Ts, sh: &Shared, stats: &mut EngineStats) {
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
        self.procs.evict(now, |id| keep_all.contains(&id));
        let procs = &self.procs;
        self.baselines.retain(|id| procs.get(id).is_some());
        self.garbled.retain(|id| procs.get(*id).is_some());
        // A subject forgotten by the table can no longer report its exit to a closed alert.
        self.awaiting_exit.retain(|id, _| procs.get(*id).is_some());
        // The join index keeps what pending network findings may need, and running processes
        // whose command line names a destination.
        let retention = sh.cfg.windows.exited_retention.as_nanos() as i64;
        let cutoff = match self.network.oldest_needed() {
            Some(n) => n.min(Ts(now.0 - retention)),
            None => Ts(now.0 - retention),
        };
        self.network.index.evict(cutoff, |s| {
            s.by_argv && procs.get(s.id).is_some_and(|p| p.exited.is_none())
        });
    }

    /// Learns the window (learn mode), or judges a hot one against its baseline (judge mode).
    fn baseline_window(
        &mut self,
        sh: &Shared,
        subject: ProcId,
        sig: &WindowSignals,
    ) -> Option<Judgement> {
        let (procs, session, host) = (&self.procs, &self.session, &*self.host);
        self.baselines.window(
            &sh.baseline,
            sh.cfg.baseline.half_life.as_nanos() as i64,
            host,
            subject,
            sig,
            |roles| baseline::key_of(procs, &sh.scope, session, host, subject, roles),
        )
    }

    fn facts<'a>(&'a self, sh: &'a Shared) -> HostFacts<'a> {
        HostFacts {
            host: &self.host,
            procs: &self.procs,
            session: &self.session,
            garbled: &self.garbled,
            exits_visible: self.saw_exit,
            last_event: self.last_event,
            role: match &sh.baseline {
                BaselineMode::Learn { roles, .. } | BaselineMode::Judge { roles, .. } => {
                    Some(roles.role_of(&self.host))
                }
                BaselineMode::Off => None,
            },
        }
    }

    /// Pid-less traffic: straight to [`crate::network`], which keeps its own clock and lateness bound
    /// (a network log timed at connection ends is far from ordered).
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
        stats.by_kind.count(&ev.kind);
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
        let facts = |id: ProcId| network::ProcFacts::of(procs, id);
        let files = |id: u32| sh.file(id);
        let formats = |id: u32| sh.format(id);
        let ready = self
            .network
            .take_ready(self.processed, all, &files, &formats, &facts);
        self.findings.extend(ready);
    }

    /// Records what process sources saw for the network join (only when some input can carry
    /// pid-less traffic).
    fn note_for_join(&mut self, sh: &Shared, ev: &Event, id: Option<ProcId>) {
        if sh.network_join {
            self.network.index.note_event(&self.procs, ev, id);
        }
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

/// The protocol of process `id`'s traffic: as reported, else (nettop `-P` process rows, unified-log
/// summaries without one) what its command line declares, with how it says so. Worked out once per
/// image ([`crate::process::Derived`]), not per sample.
fn proto_of(procs: &ProcessTable, id: ProcId, reported: Proto) -> (Proto, Option<&str>) {
    if reported != Proto::Unknown {
        return (reported, None);
    }
    let declared = procs.get(id).and_then(|p| {
        p.derived
            .declared_proto
            .get_or_init(|| {
                let name = Scope::name_of(&p.info)?;
                declared::protocol(name, p.info.args.as_deref()?)
            })
            .as_ref()
    });
    match declared {
        Some(d) => (d.proto, Some(d.how.as_str())),
        None => (Proto::Unknown, None),
    }
}
