//! `watch`: the hunt engine fed from a live stream. A reader thread sniffs and parses; the engine
//! thread pushes events as they come and, when the stream goes quiet, moves each host's event clock
//! forward by the wall time elapsed, so windows are judged and quiet episodes close without waiting
//! for the next line.

use floodwatch_core::config::Config;
use floodwatch_core::event::Event;
use floodwatch_core::{Error, Result};
use floodwatch_engine::suppress::Suppressions;
use floodwatch_engine::{AlertEvent, BaselineMode, Engine, Shared};
use floodwatch_sinks::summary::RunSummary;
use floodwatch_sources::input::{Damage, OpenError};
use floodwatch_sources::sniff::HEAD_BYTES;
use floodwatch_sources::{sniff, ClockHints, FileSource, FileStats, Sniffed, SourceCtx};
use std::io::{BufRead, Read};
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{sync_channel, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct WatchOptions {
    pub host: Option<String>,
    pub date: Option<floodwatch_core::Ts>,
    /// How often to check for silence.
    pub tick: Duration,
    /// Silence (wall time) after which the event clock starts moving on its own.
    pub idle_after: Duration,
    /// Set (by a signal handler) to end the watch as if the stream had ended: open alerts get their
    /// last update and the summary is returned. Checked every `tick`.
    pub stop: Option<Arc<AtomicBool>>,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            host: None,
            date: None,
            tick: Duration::from_secs(1),
            idle_after: Duration::from_secs(2),
            stop: None,
        }
    }
}

/// Lines of a stream's head read at most before deciding it is not telemetry (the head's byte cap,
/// [`HEAD_BYTES`], applies too).
const MAX_HEAD_LINES: usize = 256;

/// Reads whole lines until the format is certain (a JSON array needs a few), then hands back the
/// lines read so far together with the rest of the stream. The stream goes through the input layer
/// first: a gzip or zstd stream is decompressed and a byte order mark dropped. The head is capped,
/// so a stream without newlines cannot fill memory.
fn sniff_stream<R: Read + Send + 'static>(
    input: R,
) -> Result<(floodwatch_sources::Format, impl BufRead + Send, Damage)> {
    sniff_named(input, "stdin")
}

/// [`sniff_stream`] for any stream, named `what` in its errors (the agent's sources).
pub(crate) fn sniff_named<R: Read + Send + 'static>(
    input: R,
    what: &str,
) -> Result<(floodwatch_sources::Format, impl BufRead + Send, Damage)> {
    sniff_decoded(floodwatch_sources::input::decode(input), what)
}

/// [`sniff_named`] of an input decoded already (or the reason it could not be).
pub(crate) fn sniff_decoded(
    decoded: std::result::Result<floodwatch_sources::input::Decoded, OpenError>,
    what: &str,
) -> Result<(floodwatch_sources::Format, impl BufRead + Send, Damage)> {
    let decoded = decoded.map_err(|e| match e {
        OpenError::Io(e) => Error::io(format!("reading {what}"), e),
        OpenError::Refused(why) => Error::Input(format!("{what} is not read: {why}")),
    })?;
    let mut reader = decoded.reader;
    let mut head: Vec<u8> = Vec::new();
    let mut lines = LineSniffs::default();
    let format = loop {
        let room = HEAD_BYTES.saturating_sub(head.len()) as u64;
        let n = (&mut reader)
            .take(room)
            .read_until(b'\n', &mut head)
            .map_err(|e| Error::io(format!("reading {what}"), e))?;
        let ended = n == 0 || head.len() >= HEAD_BYTES;
        let why = match sniff(&head) {
            Sniffed::Telemetry(f) => break f,
            Sniffed::NotTelemetry(why) => why,
        };
        if let Some(f) = lines.after_leading_noise(&head) {
            break f;
        }
        if ended || lines.count() >= MAX_HEAD_LINES {
            if head.is_empty() {
                return Err(Error::Input(format!("{what} is empty: nothing to watch")));
            }
            return Err(Error::Input(format!(
                "{what} is not telemetry floodwatch reads: {why}"
            )));
        }
    };
    Ok((
        format,
        std::io::Cursor::new(head).chain(reader),
        decoded.damage,
    ))
}

/// The head's lines as they come, each sniffed alone once, to find telemetry behind leading lines
/// that are not (a banner, a line with a NUL): a file's head is judged on most of its lines, and a
/// stream's must not be refused for its first one.
#[derive(Default)]
struct LineSniffs {
    /// Start offset of each complete line, and the format the line alone sniffs as.
    seen: Vec<(usize, Option<floodwatch_sources::Format>)>,
    /// Where the next line starts.
    next: usize,
}

impl LineSniffs {
    fn count(&self) -> usize {
        self.seen.len()
    }

    /// The format of the head from its first telemetry line on, once the lines from there are more
    /// than the lines before it (the rest of the head, sniffed as a whole, must agree).
    fn after_leading_noise(&mut self, head: &[u8]) -> Option<floodwatch_sources::Format> {
        while let Some(len) = memchr_newline(&head[self.next..]) {
            let line = &head[self.next..self.next + len + 1];
            let alone = match sniff(line) {
                Sniffed::Telemetry(f) => Some(f),
                Sniffed::NotTelemetry(_) => None,
            };
            let blank = line.iter().all(u8::is_ascii_whitespace);
            if !blank {
                self.seen.push((self.next, alone));
            }
            self.next += len + 1;
        }
        let first = self.seen.iter().position(|(_, f)| f.is_some())?;
        if first == 0 || self.seen.len() - first <= first {
            return None;
        }
        let (start, f) = self.seen[first];
        match sniff(&head[start..]) {
            Sniffed::Telemetry(g) if Some(g) == f => Some(g),
            _ => None,
        }
    }
}

fn memchr_newline(b: &[u8]) -> Option<usize> {
    b.iter().position(|c| *c == b'\n')
}

/// Runs the engine over `input` until it ends, calling `emit` for every alert state as it happens.
pub fn watch<R: Read + Send + 'static>(
    input: R,
    cfg: Config,
    sup: Suppressions,
    opts: &WatchOptions,
    emit: impl FnMut(&AlertEvent) -> Result<()>,
) -> Result<RunSummary> {
    watch_with(input, cfg, sup, BaselineMode::Off, opts, emit)
}

/// [`watch`], judging against learned baselines (`watch --db`).
pub fn watch_with<R: Read + Send + 'static>(
    input: R,
    cfg: Config,
    sup: Suppressions,
    baseline: BaselineMode,
    opts: &WatchOptions,
    mut emit: impl FnMut(&AlertEvent) -> Result<()>,
) -> Result<RunSummary> {
    let (format, reader, damage) = sniff_stream(input)?;
    let host = opts.host.clone().unwrap_or_else(|| "stdin".to_string());
    let ctx = SourceCtx {
        file_id: 0,
        path: Arc::from("<stdin>"),
        host: Arc::from(host.as_str()),
        host_forced: opts.host.is_some(),
        clock: ClockHints {
            forced_date: opts.date,
            ..ClockHints::default()
        },
        input: cfg.input.clone(),
    };
    let mut shared = Shared::new(cfg, sup, vec![Arc::from("<stdin>")])
        .map_err(Error::Usage)?
        .with_baseline(baseline);
    shared.network_join = format.network_only_capable();
    shared.formats = vec![Arc::from(format.name())];
    let shared = Arc::new(shared);
    let mut engine = Engine::new(shared, true);

    // Bounded: a fast producer waits for the engine instead of filling memory.
    let (tx, rx) = sync_channel::<Vec<Event>>(64);
    // The reader's counts come back on their own channel: after a stop signal the reader may sit in
    // a blocking read of a silent stdin, and the watch must not wait for it forever.
    let (done_tx, done_rx) = sync_channel::<std::io::Result<FileStats>>(1);
    let stream_name = ctx.path.to_string();
    std::thread::spawn(move || {
        let mut src = FileSource::new(reader, format, ctx);
        let r = loop {
            let mut evs = Vec::new();
            match src.next_events(&mut evs) {
                Err(e) => break Err(e),
                Ok(more) => {
                    if (!evs.is_empty() && tx.send(evs).is_err()) || !more {
                        break Ok(());
                    }
                }
            }
        };
        let _ = done_tx.send(r.map(|()| {
            let mut stats = src.stats;
            stats.notes.extend(damage.note());
            stats
        }));
    });
    let stopped = || {
        opts.stop
            .as_ref()
            .is_some_and(|s| s.load(std::sync::atomic::Ordering::Relaxed))
    };

    let mut alerts = Vec::new();
    let mut last_input = Instant::now();
    loop {
        match rx.recv_timeout(opts.tick) {
            Ok(evs) => {
                for ev in evs {
                    engine.push(ev, &mut alerts);
                }
                last_input = Instant::now();
            }
            Err(RecvTimeoutError::Timeout) => {
                let quiet = last_input.elapsed();
                if quiet >= opts.idle_after {
                    engine.idle(quiet, &mut alerts);
                }
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
        for mut a in alerts.drain(..) {
            with_playbook(&mut a, &engine.shared().cfg);
            emit(&a)?;
        }
        if stopped() {
            break;
        }
    }
    engine.finish(&mut alerts);
    engine.settle(&mut alerts);
    for mut a in alerts.drain(..) {
        with_playbook(&mut a, &engine.shared().cfg);
        emit(&a)?;
    }
    let stats = if stopped() {
        drop(rx);
        match done_rx.recv_timeout(Duration::from_secs(1)) {
            Ok(r) => r.map_err(|e| Error::io("reading stdin", e))?,
            Err(_) => {
                let mut st = FileStats::new(stream_name, format.name());
                st.notes.push(
                    "stopped by a signal while the stream was silent: the counts of what it held are not final".into(),
                );
                st
            }
        }
    } else {
        done_rx
            .recv()
            .map_err(|_| Error::Input("the stdin reader panicked".into()))?
            .map_err(|e| Error::io("reading stdin", e))?
    };
    let mut s = RunSummary {
        files: vec![stats],
        ..RunSummary::default()
    };
    for r in engine.rejects.drain(..) {
        s.files[0].reject_event(r.origin.line, r.reason.into(), r.detail);
    }
    s.engine = serde_json::to_value(&engine.stats).unwrap_or_default();
    s.hosts = engine.stats.hosts.values().cloned().collect();
    s.network = std::mem::take(&mut engine.findings);
    // Alerts went out one at a time (no fleet view, so no campaigns); the findings get playbooks here.
    floodwatch_respond::respond(Vec::new(), &mut s.network, &engine.shared().cfg);
    Ok(s)
}

/// A live alert's playbook, from what is known when it is emitted (no fleet view in `watch`).
pub(crate) fn with_playbook(a: &mut AlertEvent, cfg: &Config) {
    a.alert.playbook = Some(floodwatch_respond::playbook_alone(&a.alert, cfg));
}
