//! `floodwatch agent`: every source of a Mac into one engine, findings out to the sinks.
//!
//! Each source runs on its own threads ([`source`]) and hands its events to the engine thread in
//! batches. The engine thread merges the sources in event time behind a watermark: it takes the
//! earliest head among the sources' buffered events, and only while every source that is still live
//! has something buffered. With `--once` a source with nothing buffered is waited for until it sends
//! or ends, which makes the merge exactly `hunt`'s (the same events in the same order into the same
//! engine, so the same alerts). Live, a source silent for longer than `agent.tick` stops holding the
//! others back, and when every source is quiet the event clock moves with wall time, as in `watch`.
//!
//! With a state file (`agent.state`), the agent checkpoints (see [`state`]): a restart after a crash
//! restores the engine, reads each followed file from just after the checkpointed line, and each
//! sink skips what it already delivered, so no finding is lost or delivered twice. A command source
//! cannot be read again: a crash loses what it wrote after the last checkpoint and while the agent
//! was down. [`launchd`] writes the LaunchDaemon plist that runs the agent on a Mac.

pub mod config;
mod health;
pub mod launchd;
pub mod sink;
pub(crate) mod source;
pub mod state;

pub use health::status_text;

use crate::output::{hunt_deliveries, live_delivery, network_delivery};
use crate::watch::with_playbook;
use crate::HuntResult;
use floodwatch_core::config::Config;
use floodwatch_core::event::Event;
use floodwatch_core::finding::NetworkFinding;
use floodwatch_core::{Error, Result, Ts};
use floodwatch_engine::suppress::Suppressions;
use floodwatch_engine::{AlertEvent, Engine, Shared};
use floodwatch_sinks::summary::RunSummary;
use floodwatch_sources::FileStats;
use sink::Sinks;
use state::{AgentState, Checkpoint, SourceMark};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use config::agent_sources;
pub use config::{default_host, PRINT_CONFIG};

/// How the agent runs.
#[derive(Clone, Debug, Default)]
pub struct AgentOptions {
    /// Run until every source has ended (commands are not restarted, followed files are read to their
    /// current end), then write the findings as `hunt` does and return.
    pub once: bool,
    /// Set (by a signal handler) to stop: the engine ends with what it has, open alerts get their
    /// last state, the summary is returned.
    pub stop: Option<Arc<AtomicBool>>,
}

/// What the engine thread keeps of a source.
struct Feed {
    rx: Receiver<Vec<Event>>,
    buf: VecDeque<Event>,
    ended: bool,
    last_heard: Instant,
    /// The time of the latest event taken from this source.
    last_ts: Option<Ts>,
    /// The highest line number received from this source (its place, for a checkpoint).
    max_line: u64,
    /// Events received from this source.
    events: u64,
    shared: Arc<source::Shared>,
}

impl Feed {
    /// Takes the next batch when nothing is buffered. True when it got one.
    fn refill(&mut self) -> bool {
        if !self.buf.is_empty() || self.ended {
            return false;
        }
        match self.rx.try_recv() {
            Ok(b) => {
                if let Some(l) = b.iter().map(|e| e.origin.line).max() {
                    self.max_line = self.max_line.max(l);
                }
                self.events += b.len() as u64;
                // The buffer is empty here: the batch becomes it, without copying its events.
                self.buf = VecDeque::from(b);
                self.last_heard = Instant::now();
                true
            }
            Err(TryRecvError::Empty) => false,
            Err(TryRecvError::Disconnected) => {
                self.ended = true;
                true
            }
        }
    }

    /// Holds back an event at `ts`: this source is live and has nothing buffered. With `--once`
    /// it is waited for whatever `ts` is (a hunt's merge compares every file's head). Live, only while
    /// it was heard from within `tick`, and only events later than its own latest one (its next event
    /// comes after that).
    fn holds_back(&self, ts: Ts, once: bool, tick: Duration) -> bool {
        if !self.buf.is_empty() || self.ended {
            return false;
        }
        once || (self.last_heard.elapsed() < tick && self.last_ts.is_none_or(|l| ts > l))
    }
}

/// Runs the agent over `specs` (see [`agent_sources`]) until its sources end or it is stopped, writing
/// every finding line to `sinks`. Returns the run summary.
pub fn run_agent(
    cfg: Config,
    sup: Suppressions,
    opts: &AgentOptions,
    sinks: &mut Sinks,
) -> Result<RunSummary> {
    let mut specs = agent_sources(&cfg, opts.once)?;
    let fingerprint = fingerprint(&cfg, &sup);
    // A replay (`--once`) keeps no state: it is a hunt of its sources.
    let mut ledger = match (&cfg.agent.state, opts.once) {
        (Some(p), false) => Some(AgentState::open(p)?),
        _ => None,
    };
    let checkpoint = match ledger.as_mut() {
        Some(l) => usable_checkpoint(l, fingerprint)?,
        None => None,
    };
    if let Some(ck) = &checkpoint {
        for spec in specs.iter_mut() {
            let mark = ck.sources.iter().find(|m| m.label == spec.label);
            if let (Some(m), source::Origin::File { follow: true, .. }) = (mark, &spec.origin) {
                spec.resume = m.file.map(|file| source::Resume {
                    file,
                    lines: m.lines,
                });
            }
        }
    }
    if let Some(l) = ledger.as_mut() {
        let found = sinks.recover(l)?;
        if found > 0 {
            source::log(
                "state",
                &format!("{found} finding state(s) the sinks delivered just before the last stop are not delivered again"),
            );
        }
    }
    let stop = opts
        .stop
        .clone()
        .unwrap_or_else(|| Arc::new(AtomicBool::new(false)));
    // The sources' own stop: set when the agent stops, or when the engine is done with them.
    let sources_stop = Arc::new(AtomicBool::new(false));
    let (bell_tx, bell) = sync_channel::<()>(1);
    let mut feeds = Vec::new();
    let labels: Vec<Arc<str>> = specs.iter().map(|s| Arc::from(s.label.as_str())).collect();
    for spec in specs {
        let spec_label = spec.label.clone();
        let (tx, rx) = sync_channel::<Vec<Event>>(source::QUEUE);
        let shared = Arc::new(source::Shared::new(&spec.label));
        source::spawn(
            spec,
            shared.clone(),
            tx,
            bell_tx.clone(),
            sources_stop.clone(),
        )?;
        let mark = checkpoint
            .as_ref()
            .and_then(|ck| ck.sources.iter().find(|m| m.label == spec_label));
        feeds.push(Feed {
            rx,
            buf: mark
                .map(|m| m.pending.iter().cloned().collect())
                .unwrap_or_default(),
            ended: false,
            last_heard: Instant::now(),
            last_ts: mark.and_then(|m| m.last_ts).map(Ts),
            max_line: 0,
            events: 0,
            shared,
        });
    }
    drop(bell_tx);
    let stopping = Stopping {
        asked: stop,
        sources: sources_stop.clone(),
    };
    let health = health::Health::new(&cfg, feeds.len());
    if let (Some(addr), false) = (&cfg.agent.metrics, opts.once) {
        health::serve_metrics(addr, health.metrics.clone())?;
    }
    let mut run = Run {
        health,
        cfg: &cfg,
        opts,
        stop: &stopping,
        labels: &labels,
        bell: &bell,
        sinks: &mut *sinks,
        ledger,
        checkpoint,
        fingerprint,
    };
    let result = run.drive(sup, &mut feeds);
    stopping.sources_now(&feeds);
    let summary = result?;
    sinks.flush()?;
    Ok(summary)
}

/// The engine's sources as events name them (label and format), for sinks that ship events.
fn source_names(shared: &Shared) -> Vec<sink::SourceName> {
    shared
        .files
        .iter()
        .enumerate()
        .map(|(i, label)| sink::SourceName {
            label: label.clone(),
            format: shared
                .formats
                .get(i)
                .cloned()
                .unwrap_or_else(|| Arc::from("unknown")),
        })
        .collect()
}

/// The agent's stop (a signal), and the sources' own.
struct Stopping {
    asked: Arc<AtomicBool>,
    sources: Arc<AtomicBool>,
}

impl Stopping {
    /// Tells the sources to end: followed files stop at their end, children are ended (their pipes
    /// then end too).
    fn sources_now(&self, feeds: &[Feed]) {
        self.sources.store(true, Ordering::Relaxed);
        for f in feeds {
            f.shared.kill_child();
        }
    }
}

/// Events pushed before the loop looks at its stop flag and the clock again.
const MAX_PUSH_PER_TURN: u64 = 65_536;

/// After a stop, how long what the sources still hold is waited for (and fed to the engine).
const STOP_DRAIN: Duration = Duration::from_secs(2);

/// What the engine thread works with.
struct Run<'a> {
    health: health::Health,
    cfg: &'a Config,
    opts: &'a AgentOptions,
    stop: &'a Stopping,
    labels: &'a [Arc<str>],
    bell: &'a Receiver<()>,
    sinks: &'a mut Sinks,
    /// The state file (checkpoints, delivery ledger), when `agent.state` is set (never with `--once`).
    ledger: Option<AgentState>,
    /// The checkpoint to start from (its engine is restored when the merge first moves).
    checkpoint: Option<Checkpoint>,
    fingerprint: u64,
}

impl Run<'_> {
    /// The engine thread's loop.
    fn drive(&mut self, sup: Suppressions, feeds: &mut [Feed]) -> Result<RunSummary> {
        let cfg = self.cfg;
        let once = self.opts.once;
        let tick = cfg.agent.tick;
        let wait = (tick / 4).clamp(Duration::from_millis(10), Duration::from_millis(250));
        let mut sup = Some(sup);
        let mut engine: Option<Engine> = None;
        let mut alerts: Vec<AlertEvent> = Vec::new();
        let mut findings: Vec<NetworkFinding> = Vec::new();
        let mut last_push = Instant::now();
        let mut last_checkpoint = Instant::now();
        let mut draining: Option<Instant> = None;
        // Sinks that ship the events themselves get each turn's, in the engine's order.
        let tap = self.sinks.wants_events();
        let mut tapped: Vec<Event> = Vec::new();
        loop {
            for f in feeds.iter_mut() {
                f.refill();
            }
            let mut pushed = 0u64;
            loop {
                // The earliest head; on a tie the source listed first, as a hunt's merge does.
                let mut best: Option<(usize, Ts)> = None;
                for (i, f) in feeds.iter().enumerate() {
                    if let Some(ev) = f.buf.front() {
                        if best.is_none_or(|(_, t)| ev.ts < t) {
                            best = Some((i, ev.ts));
                        }
                    }
                }
                let Some((i, ts)) = best else { break };
                if feeds.iter().any(|f| f.holds_back(ts, once, tick)) {
                    break;
                }
                let Some(ev) = feeds[i].buf.pop_front() else {
                    break;
                };
                feeds[i].last_ts = Some(ts);
                let e = match engine.as_mut() {
                    Some(e) => e,
                    None => engine.insert(self.new_engine(sup.take().unwrap_or_default(), feeds)?),
                };
                if tap {
                    tapped.push(ev.clone());
                }
                e.push(ev, &mut alerts);
                pushed += 1;
                if feeds[i].buf.is_empty() {
                    feeds[i].refill();
                }
                if pushed % 4096 == 0 && !once {
                    self.emit_live(e, &mut alerts, &mut findings)?;
                }
                if pushed >= MAX_PUSH_PER_TURN {
                    // A flood never starves the stop check.
                    break;
                }
            }
            if pushed > 0 {
                last_push = Instant::now();
            }
            if let (false, Some(e)) = (tapped.is_empty(), engine.as_ref()) {
                self.sinks
                    .write_events(&source_names(e.shared()), &tapped)?;
                tapped.clear();
            }
            let all_ended = feeds.iter().all(|f| f.ended && f.buf.is_empty());
            if let Some(e) = engine.as_mut() {
                if !once {
                    let quiet = last_push.elapsed();
                    if pushed == 0 && quiet >= tick {
                        e.idle(quiet, &mut alerts);
                    }
                    self.emit_live(e, &mut alerts, &mut findings)?;
                    if last_checkpoint.elapsed() >= cfg.agent.checkpoint_interval {
                        self.save_checkpoint(e, feeds)?;
                        last_checkpoint = Instant::now();
                    }
                }
            }
            self.sinks.tick()?;
            if !once {
                self.check_health(engine.as_ref(), feeds, false)?;
            }
            self.commit()?;
            if all_ended {
                break;
            }
            match draining {
                Some(until) if Instant::now() >= until => break,
                Some(_) => {}
                None if self.stop.asked.load(Ordering::Relaxed) => {
                    // Stopped: the sources end what they were reading (a child is ended, a followed
                    // file read to its end), and what they held still reaches the engine.
                    self.stop.sources_now(feeds);
                    draining = Some(Instant::now() + STOP_DRAIN);
                }
                None => {}
            }
            if pushed == 0 {
                match self.bell.recv_timeout(wait) {
                    Ok(()) | Err(RecvTimeoutError::Timeout) => {}
                    // Every source thread is gone: their channels say so at the next refill.
                    Err(RecvTimeoutError::Disconnected) => std::thread::sleep(wait),
                }
            }
        }
        let mut engine = match engine {
            Some(e) => e,
            None => self.new_engine(sup.take().unwrap_or_default(), feeds)?,
        };
        if !once {
            // The restart continues from here: open alerts stay open in the checkpoint, though this
            // run reports their last state below.
            self.save_checkpoint(&engine, feeds)?;
        }
        engine.finish(&mut alerts);
        engine.settle(&mut alerts);
        let mut summary = summarize(&mut engine, feeds);
        if once {
            // Exactly what a hunt of the same events writes: campaigns, alerts, network findings.
            findings.append(&mut engine.findings);
            let mut res = hunt_like(&mut engine, alerts, findings, summary, cfg);
            for d in hunt_deliveries(&res) {
                self.sinks.deliver(&d, None)?;
            }
            summary = std::mem::take(&mut res.summary);
            // A replay makes no health findings (its output is a hunt's), but a spool that
            // overflowed is still said.
            let overflowed = self.sinks.overflowed();
            if overflowed > 0 {
                source::log(
                    "sinks",
                    &format!(
                        "{overflowed} message(s) did not fit in a sink's spool and were dropped"
                    ),
                );
            }
        } else {
            self.emit_live(&mut engine, &mut alerts, &mut findings)?;
            summary.network = findings;
            self.check_health(Some(&engine), feeds, true)?;
        }
        self.commit()?;
        Ok(summary)
    }

    /// The engine, made when the merge first moves: by then (with `--once`, always) every source's
    /// format is known, so evidence names its provider as a hunt's does. With a checkpoint, the
    /// engine is the checkpoint's.
    fn new_engine(&mut self, sup: Suppressions, feeds: &[Feed]) -> Result<Engine> {
        let formats: Vec<Option<floodwatch_sources::Format>> = feeds
            .iter()
            .map(|f| f.shared.format.lock().ok().and_then(|g| *g))
            .collect();
        let mut shared =
            Shared::new(self.cfg.clone(), sup, self.labels.to_vec()).map_err(Error::Usage)?;
        // A source whose format is not known yet (silent so far) may carry pid-less traffic.
        shared.network_join = formats
            .iter()
            .any(|f| f.is_none_or(|f| f.network_only_capable()));
        shared.formats = formats
            .iter()
            .map(|f| Arc::from(f.map_or("unknown", |f| f.name())))
            .collect();
        shared.fingerprint = self.fingerprint;
        let shared = Arc::new(shared);
        if let Some(ck) = self.checkpoint.take() {
            match Engine::restore(shared.clone(), &ck.engine) {
                Ok(e) => {
                    let at = Ts(ck.taken_at);
                    let places: Vec<String> = ck
                        .sources
                        .iter()
                        .map(|m| format!("{} after line {}", m.label, m.lines))
                        .collect();
                    source::log(
                        "state",
                        &format!(
                            "resumed from the checkpoint of {at} (generation {}): {}",
                            ck.generation,
                            places.join(", ")
                        ),
                    );
                    return Ok(e);
                }
                Err(e) => source::log(
                    "state",
                    &format!(
                        "the checkpoint's engine is not restored ({e}): starting with an empty one"
                    ),
                ),
            }
        }
        // `--once` is a replay: a hunt's reorder slack and final states only. Live: watch's.
        Ok(Engine::new(shared, !self.opts.once))
    }

    /// Live: every alert state and network finding so far, out to the sinks.
    fn emit_live(
        &mut self,
        engine: &mut Engine,
        alerts: &mut Vec<AlertEvent>,
        findings: &mut Vec<NetworkFinding>,
    ) -> Result<()> {
        for mut a in alerts.drain(..) {
            with_playbook(&mut a, &engine.shared().cfg);
            self.sinks
                .deliver(&live_delivery(&a), self.ledger.as_mut())?;
        }
        if !engine.findings.is_empty() {
            let mut new = std::mem::take(&mut engine.findings);
            floodwatch_respond::respond(Vec::new(), &mut new, &engine.shared().cfg);
            for f in &new {
                if let Some(d) = network_delivery(f) {
                    self.sinks.deliver(&d, self.ledger.as_mut())?;
                }
            }
            findings.extend(new);
        }
        Ok(())
    }

    /// The agent's health: new health findings to the sinks, the picture to the state file.
    fn check_health(&mut self, engine: Option<&Engine>, feeds: &[Feed], force: bool) -> Result<()> {
        let evicted = engine.map_or(0, |e| e.stats.network_flows_evicted);
        let overflowed = self.sinks.overflowed();
        let Some((new, picture)) =
            self.health
                .check(self.cfg, feeds, self.labels, overflowed, evicted, force)
        else {
            return Ok(());
        };
        for d in &new {
            source::log("health", &String::from_utf8_lossy(&d.line));
            self.sinks.deliver(d, self.ledger.as_mut())?;
        }
        if let Some(l) = self.ledger.as_mut() {
            l.write_health(&picture.to_string(), Ts::now().0)?;
        }
        Ok(())
    }

    /// The ledger's deliveries and the sinks' marks, committed.
    fn commit(&mut self) -> Result<()> {
        if let Some(l) = self.ledger.as_mut() {
            l.commit(&self.sinks.marks())?;
        }
        Ok(())
    }

    /// A checkpoint: the engine (every state it produced is already with the sinks), and where each
    /// source is.
    fn save_checkpoint(&mut self, engine: &Engine, feeds: &[Feed]) -> Result<()> {
        let Some(l) = self.ledger.as_mut() else {
            return Ok(());
        };
        let sources: Vec<SourceMark> = feeds
            .iter()
            .zip(self.labels)
            .map(|(f, label)| {
                let place = f.shared.place(f.max_line);
                SourceMark {
                    label: label.to_string(),
                    file: place.map(|(id, _)| id),
                    lines: place.map_or(0, |(_, n)| n),
                    last_ts: f.last_ts.map(|t| t.0),
                    pending: f.buf.iter().cloned().collect(),
                }
            })
            .collect();
        l.save_checkpoint(
            &engine.snapshot(),
            &sources,
            &self.sinks.marks(),
            Ts::now().0,
        )
    }
}

/// The checkpoint to start from: none when there is none, or when it was taken under another config
/// or suppressions (then it is dropped, and said so).
fn usable_checkpoint(l: &mut AgentState, fingerprint: u64) -> Result<Option<Checkpoint>> {
    let Some(ck) = l.checkpoint()? else {
        return Ok(None);
    };
    let theirs = ck
        .engine
        .get(4..12)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_le_bytes);
    if theirs != Some(fingerprint) {
        source::log(
            "state",
            "the checkpoint was taken under another config or other suppressions: starting over (followed files from their start)",
        );
        l.discard_checkpoint()?;
        return Ok(None);
    }
    Ok(Some(ck))
}

/// Names the config (less its `[agent]` section: sources and sinks may change across a restart)
/// and the suppressions, for checkpoints (the agent's, and the fleet worker's).
pub fn fingerprint(cfg: &Config, sup: &Suppressions) -> u64 {
    let mut c = cfg.clone();
    c.agent = Default::default();
    let text = format!("{c:?}\n{:?}", sup.list);
    let ns = uuid::Uuid::from_u128(0x6a1f_3c2e_9b84_4d07_a5e2_71c0_5f3d_e819);
    uuid::Uuid::new_v5(&ns, text.as_bytes()).as_u64_pair().0
}

/// The run summary: every source's counts (with its restarts, rotations and problems) and the engine's.
fn summarize(engine: &mut Engine, feeds: &[Feed]) -> RunSummary {
    let mut files: Vec<FileStats> = feeds
        .iter()
        .map(|f| {
            let sh = &f.shared;
            let mut st = sh
                .stats
                .lock()
                .map(|s| s.clone())
                .unwrap_or_else(|_| FileStats::new(String::new(), "unknown"));
            let n = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
            if n(&sh.restarts) > 0 {
                st.notes.push(format!(
                    "the command was restarted {} time(s)",
                    n(&sh.restarts)
                ));
            }
            if n(&sh.rotations) + n(&sh.truncations) > 0 {
                st.notes.push(format!(
                    "followed across {} rotation(s) and {} truncation(s)",
                    n(&sh.rotations),
                    n(&sh.truncations)
                ));
            }
            if let Ok(p) = sh.problems.lock() {
                st.notes.extend(p.iter().cloned());
            }
            st
        })
        .collect();
    for r in engine.rejects.drain(..) {
        if let Some(st) = files.get_mut(r.origin.file as usize) {
            st.reject_event(r.origin.line, r.reason.into(), r.detail);
        }
    }
    RunSummary {
        files,
        engine: serde_json::to_value(&engine.stats).unwrap_or_default(),
        hosts: engine.stats.hosts.values().cloned().collect(),
        ..RunSummary::default()
    }
}

/// A `--once` run as a hunt result: alerts and findings sorted as a hunt sorts them, campaigns and
/// playbooks from the response stage.
fn hunt_like(
    engine: &mut Engine,
    mut alerts: Vec<AlertEvent>,
    mut findings: Vec<NetworkFinding>,
    mut summary: RunSummary,
    cfg: &Config,
) -> HuntResult {
    alerts.sort_by(|a, b| {
        a.alert
            .first_seen
            .cmp(&b.alert.first_seen)
            .then(a.alert.host.cmp(&b.alert.host))
            .then(a.alert.id.cmp(&b.alert.id))
    });
    findings.sort_by(|a, b| {
        a.first_seen
            .cmp(&b.first_seen)
            .then(a.host.cmp(&b.host))
            .then(a.id.cmp(&b.id))
    });
    let campaigns = floodwatch_respond::respond(
        alerts.iter_mut().map(|e| &mut e.alert).collect(),
        &mut findings,
        cfg,
    );
    summary.network = findings.clone();
    summary.campaigns = campaigns.clone();
    HuntResult {
        alerts,
        findings,
        campaigns,
        summary,
        engine: std::mem::take(&mut engine.stats),
        learned: Default::default(),
        inputs: Vec::new(),
    }
}
