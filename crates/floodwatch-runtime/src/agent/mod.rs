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
//! What is not built yet: checkpoints (a restart reads followed files from their start and loses
//! what command sources wrote while it was down), the syslog, webhook and store sinks, health
//! findings and `agent status`. [`launchd`] writes the LaunchDaemon plist that runs the agent.

pub mod config;
pub mod launchd;
pub mod sink;
pub(crate) mod source;

use crate::output::{write_hunt, write_live_alert, AlertFormat, VERSION};
use crate::watch::with_playbook;
use crate::HuntResult;
use floodwatch_core::config::Config;
use floodwatch_core::event::Event;
use floodwatch_core::finding::NetworkFinding;
use floodwatch_core::{Error, Result, Ts};
use floodwatch_engine::suppress::Suppressions;
use floodwatch_engine::{AlertEvent, Engine, Shared};
use floodwatch_sinks::ocsf::write_network_jsonl;
use floodwatch_sinks::summary::RunSummary;
use floodwatch_sources::FileStats;
use sink::Sinks;
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
                self.buf.extend(b);
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
    let specs = agent_sources(&cfg, opts.once)?;
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
        let (tx, rx) = sync_channel::<Vec<Event>>(source::QUEUE);
        let shared = Arc::new(source::Shared::new(&spec.label));
        source::spawn(
            spec,
            shared.clone(),
            tx,
            bell_tx.clone(),
            sources_stop.clone(),
        )?;
        feeds.push(Feed {
            rx,
            buf: VecDeque::new(),
            ended: false,
            last_heard: Instant::now(),
            last_ts: None,
            shared,
        });
    }
    drop(bell_tx);
    let stopping = Stopping {
        asked: stop,
        sources: sources_stop.clone(),
    };
    let result = drive(
        &cfg, sup, opts, &stopping, &mut feeds, &labels, &bell, sinks,
    );
    stopping.sources_now(&feeds);
    result
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

/// The engine thread's loop.
#[allow(clippy::too_many_arguments)]
fn drive(
    cfg: &Config,
    sup: Suppressions,
    opts: &AgentOptions,
    stop: &Stopping,
    feeds: &mut [Feed],
    labels: &[Arc<str>],
    bell: &Receiver<()>,
    sinks: &mut Sinks,
) -> Result<RunSummary> {
    let once = opts.once;
    let tick = cfg.agent.tick;
    let wait = (tick / 4).clamp(Duration::from_millis(10), Duration::from_millis(250));
    let mut sup = Some(sup);
    let mut engine: Option<Engine> = None;
    let mut alerts: Vec<AlertEvent> = Vec::new();
    let mut findings: Vec<NetworkFinding> = Vec::new();
    let mut last_push = Instant::now();
    let mut line = Vec::new();
    let mut draining: Option<Instant> = None;
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
                None => {
                    let sup = sup.take().unwrap_or_default();
                    engine.insert(new_engine(cfg, sup, feeds, labels, once)?)
                }
            };
            e.push(ev, &mut alerts);
            pushed += 1;
            if feeds[i].buf.is_empty() {
                feeds[i].refill();
            }
            if pushed % 4096 == 0 && !once {
                emit_live(e, &mut alerts, &mut findings, sinks, &mut line)?;
            }
            if pushed >= MAX_PUSH_PER_TURN {
                // A flood never starves the stop check.
                break;
            }
        }
        if pushed > 0 {
            last_push = Instant::now();
        }
        let all_ended = feeds.iter().all(|f| f.ended && f.buf.is_empty());
        if let Some(e) = engine.as_mut() {
            if !once {
                let quiet = last_push.elapsed();
                if pushed == 0 && quiet >= tick {
                    e.idle(quiet, &mut alerts);
                }
                emit_live(e, &mut alerts, &mut findings, sinks, &mut line)?;
            }
        }
        sinks.tick()?;
        if all_ended {
            break;
        }
        match draining {
            Some(until) if Instant::now() >= until => break,
            Some(_) => {}
            None if stop.asked.load(Ordering::Relaxed) => {
                // Stopped: the sources end what they were reading (a child is ended, a followed
                // file read to its end), and what they held still reaches the engine.
                stop.sources_now(feeds);
                draining = Some(Instant::now() + STOP_DRAIN);
            }
            None => {}
        }
        if pushed == 0 {
            match bell.recv_timeout(wait) {
                Ok(()) | Err(RecvTimeoutError::Timeout) => {}
                // Every source thread is gone: their channels say so at the next refill.
                Err(RecvTimeoutError::Disconnected) => std::thread::sleep(wait),
            }
        }
    }
    let mut engine = match engine {
        Some(e) => e,
        None => new_engine(cfg, sup.take().unwrap_or_default(), feeds, labels, once)?,
    };
    engine.finish(&mut alerts);
    engine.settle(&mut alerts);
    let mut summary = summarize(&mut engine, feeds);
    if once {
        // Exactly what a hunt of the same events writes: campaigns, alerts, network findings.
        findings.append(&mut engine.findings);
        let mut res = hunt_like(&mut engine, alerts, findings, summary, cfg);
        write_hunt(&mut line, &res, AlertFormat::Jsonl)
            .map_err(|e| Error::io("writing findings", e))?;
        sinks.write_lines(&line)?;
        summary = std::mem::take(&mut res.summary);
    } else {
        emit_live(&mut engine, &mut alerts, &mut findings, sinks, &mut line)?;
        summary.network = findings;
    }
    Ok(summary)
}

/// The engine, made when the merge first moves: by then (with `--once`, always) every source's
/// format is known, so evidence names its provider as a hunt's does.
fn new_engine(
    cfg: &Config,
    sup: Suppressions,
    feeds: &[Feed],
    labels: &[Arc<str>],
    once: bool,
) -> Result<Engine> {
    let formats: Vec<Option<floodwatch_sources::Format>> = feeds
        .iter()
        .map(|f| f.shared.format.lock().ok().and_then(|g| *g))
        .collect();
    let mut shared = Shared::new(cfg.clone(), sup, labels.to_vec()).map_err(Error::Usage)?;
    // A source whose format is not known yet (silent so far) may carry pid-less traffic.
    shared.network_join = formats
        .iter()
        .any(|f| f.is_none_or(|f| f.network_only_capable()));
    shared.formats = formats
        .iter()
        .map(|f| f.map_or("unknown", |f| f.name()))
        .collect();
    // `--once` is a replay: a hunt's reorder slack and final states only. Live: watch's.
    Ok(Engine::new(Arc::new(shared), !once))
}

/// Live: every alert state and network finding so far, out to the sinks.
fn emit_live(
    engine: &mut Engine,
    alerts: &mut Vec<AlertEvent>,
    findings: &mut Vec<NetworkFinding>,
    sinks: &mut Sinks,
    line: &mut Vec<u8>,
) -> Result<()> {
    let io = |e| Error::io("writing findings", e);
    for mut a in alerts.drain(..) {
        with_playbook(&mut a, &engine.shared().cfg);
        line.clear();
        write_live_alert(line, &a, AlertFormat::Jsonl).map_err(io)?;
        sinks.write_lines(line)?;
    }
    if !engine.findings.is_empty() {
        let mut new = std::mem::take(&mut engine.findings);
        floodwatch_respond::respond(Vec::new(), &mut new, &engine.shared().cfg);
        line.clear();
        write_network_jsonl(line, &new, VERSION).map_err(io)?;
        sinks.write_lines(line)?;
        findings.extend(new);
    }
    line.clear();
    Ok(())
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
