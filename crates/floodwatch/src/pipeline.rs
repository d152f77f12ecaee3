//! A hunt is a replay of streams: discover files → sniff each from its head → anchor dateless sources →
//! per host, merge the host's files in time order into an [`Engine`] → collect alerts and per-file stats.
//! Hosts are independent, so they run on a small worker pool; output is sorted, so it is deterministic.

use floodwatch_core::config::Config;
use floodwatch_core::event::Event;
use floodwatch_core::finding::NetworkFinding;
use floodwatch_core::{Error, Result, Ts};
use floodwatch_engine::baseline::Learner;
use floodwatch_engine::suppress::Suppressions;
use floodwatch_engine::{AlertEvent, BaselineMode, Engine, EngineStats, Shared};
use floodwatch_sinks::summary::{RunSummary, SkippedFile};
use floodwatch_sources::sniff::HEAD_BYTES;
use floodwatch_sources::{
    discover, sniff, ClockHints, FileSource, FileStats, Format, InputFile, Sniffed, SourceCtx,
};
use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Clone, Debug, Default)]
pub struct HuntOptions {
    pub paths: Vec<PathBuf>,
    pub host: Option<String>,
    /// `--date YYYY-MM-DD` for dateless sources (nettop).
    pub date: Option<Ts>,
    pub threads: usize,
    /// Bytes read so far across all files (for a progress bar); updated every few thousand events.
    pub progress: Option<Arc<std::sync::atomic::AtomicU64>>,
}

/// One file ready to read.
#[derive(Clone, Debug)]
struct Planned {
    id: u32,
    file: InputFile,
    format: Format,
    mtime: Option<Ts>,
}

pub struct HuntResult {
    pub alerts: Vec<AlertEvent>,
    /// Network-level findings (floods and scans from pid-less traffic), sorted by time, host, id.
    pub findings: Vec<NetworkFinding>,
    pub summary: RunSummary,
    pub engine: EngineStats,
    /// Baselines learned (learn mode only).
    pub learned: Learner,
    /// Per file id (what `EngineStats::observed` file ids refer to): path, host, detected format.
    pub inputs: Vec<InputInfo>,
}

/// A telemetry file of the run, by file id.
#[derive(Clone, Debug)]
pub struct InputInfo {
    pub path: String,
    pub host: String,
    pub format: Format,
}

impl HuntResult {
    /// Events produced across all files: zero means nothing usable was read (every record was
    /// rejected, or skipped as carrying nothing the engine uses).
    pub fn usable_events(&self) -> u64 {
        self.summary.files.iter().map(|f| f.events).sum()
    }
}

fn read_head(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut f = File::open(path)?;
    let mut head = Vec::with_capacity(HEAD_BYTES.min(64 * 1024));
    f.by_ref().take(HEAD_BYTES as u64).read_to_end(&mut head)?;
    Ok(head)
}

fn mtime(path: &Path) -> Option<Ts> {
    let m = std::fs::metadata(path).ok()?.modified().ok()?;
    let d = m.duration_since(std::time::UNIX_EPOCH).ok()?;
    Some(Ts(d.as_nanos() as i64))
}

fn ctx_for(p: &Planned, cfg: &Config, clock: ClockHints, host_forced: bool) -> SourceCtx {
    SourceCtx {
        file_id: p.id,
        path: Arc::from(p.file.path.display().to_string()),
        host: Arc::from(p.file.host.as_str()),
        host_forced,
        clock,
        input: cfg.input.clone(),
    }
}

/// Reads the first events of a dated file's head: its earliest time and (unified log) its UTC offset.
fn probe(p: &Planned, cfg: &Config) -> (Option<Ts>, Option<i32>) {
    let Ok(head) = read_head(&p.file.path) else {
        return (None, None);
    };
    let mut src = FileSource::new(
        &head[..],
        p.format,
        ctx_for(p, cfg, ClockHints::default(), false),
    );
    let mut out: Vec<Event> = Vec::new();
    for _ in 0..64 {
        match src.next_events(&mut out) {
            Ok(true) if out.len() < 16 => continue,
            _ => break,
        }
    }
    (out.iter().map(|e| e.ts).min(), src.utc_offset())
}

/// The latest event time in a dated line-format file's last 64 KiB (None for JSON arrays).
fn probe_tail(p: &Planned, cfg: &Config) -> Option<Ts> {
    if p.format == Format::UnifiedLogJson {
        return None;
    }
    const TAIL: u64 = 64 * 1024;
    let mut f = File::open(&p.file.path).ok()?;
    let len = f.metadata().ok()?.len();
    let start = len.saturating_sub(TAIL);
    f.seek(SeekFrom::Start(start)).ok()?;
    let mut tail = Vec::new();
    f.take(TAIL).read_to_end(&mut tail).ok()?;
    // Start at a line boundary unless the tail is the whole file.
    let from = if start == 0 {
        0
    } else {
        tail.iter().position(|b| *b == b'\n')? + 1
    };
    let mut src = FileSource::new(
        &tail[from..],
        p.format,
        ctx_for(p, cfg, ClockHints::default(), false),
    );
    let mut out: Vec<Event> = Vec::new();
    let mut latest: Option<Ts> = None;
    while let Ok(more) = src.next_events(&mut out) {
        latest = out.iter().map(|e| e.ts).chain(latest).max();
        out.clear();
        if !more {
            break;
        }
    }
    latest
}

/// Discovers and sniffs inputs; returns the plan, the files that are not telemetry, and the file-name table.
fn plan(opts: &HuntOptions) -> Result<(Vec<Planned>, Vec<SkippedFile>)> {
    let files = discover(&opts.paths, opts.host.as_deref())?;
    let mut planned = Vec::new();
    let mut skipped = Vec::new();
    for f in files {
        match read_head(&f.path) {
            Err(e) => skipped.push(SkippedFile {
                path: f.path.display().to_string(),
                reason: format!("cannot read: {e}"),
            }),
            Ok(head) => match sniff(&head) {
                Sniffed::Telemetry(format) => planned.push(Planned {
                    id: planned.len() as u32,
                    mtime: mtime(&f.path),
                    file: f,
                    format,
                }),
                Sniffed::NotTelemetry(reason) => skipped.push(SkippedFile {
                    path: f.path.display().to_string(),
                    reason,
                }),
            },
        }
    }
    Ok((planned, skipped))
}

/// A file with more places than this where its time runs backwards is not split further: the rest of
/// its backward steps are rejected as out of order, as in a stream.
const MAX_SEGMENTS: usize = 64;

struct Cursor {
    file: u32,
    src: FileSource<BufReader<File>>,
    buf: VecDeque<Event>,
    scratch: Vec<Event>,
    done: bool,
    /// Watching the file's own timeline for backward steps (first pass over a segmentable file).
    watch: Option<Timeline>,
}

/// Where a file's time steps back by more than the reorder slack: (line, byte offset) of each record
/// that starts a new ordered run.
struct Timeline {
    slack_ns: i64,
    max: Option<Ts>,
    breaks: Vec<(u64, u64)>,
}

impl Cursor {
    fn head_ts(&mut self) -> std::io::Result<Option<Ts>> {
        while self.buf.is_empty() && !self.done {
            self.scratch.clear();
            if !self.src.next_events(&mut self.scratch)? {
                self.done = true;
            }
            if let (Some(tl), Some(first)) = (&mut self.watch, self.scratch.first()) {
                // A line format's batch is one record's events: its time is the record's.
                let ts = first.ts;
                match tl.max {
                    Some(m) if ts.0 < m.0.saturating_sub(tl.slack_ns) => {
                        if let Some((_, offset)) = self.src.last_record() {
                            if tl.breaks.len() + 1 < MAX_SEGMENTS {
                                tl.breaks.push((first.origin.line, offset));
                                tl.max = Some(ts);
                            }
                        }
                    }
                    _ => tl.max = Some(tl.max.map_or(ts, |m| m.max(ts))),
                }
            }
            self.buf.extend(self.scratch.drain(..));
        }
        Ok(self.buf.front().map(|e| e.ts))
    }
}

struct HostOutput {
    alerts: Vec<AlertEvent>,
    findings: Vec<NetworkFinding>,
    stats: Vec<(u32, FileStats)>,
    engine: EngineStats,
    rejects: Vec<floodwatch_engine::EngineReject>,
    learned: Learner,
}

/// Replays one host's files, merged by event time, through a fresh engine. A file whose own time runs
/// backwards (captures concatenated out of order, a clock step, one stray future line) is found in a
/// first pass; the host is then replayed with that file read as separately ordered segments, so
/// nothing is rejected as late that the merge can put in order.
fn run_host(
    files: &[Planned],
    cfg: &Config,
    shared: &Arc<Shared>,
    opts: &HuntOptions,
) -> Result<HostOutput> {
    let clock = anchor(files, cfg, opts);
    let (out, breaks) = replay(files, &clock, cfg, shared, opts, None)?;
    if breaks.values().all(Vec::is_empty) {
        return Ok(out);
    }
    Ok(replay(files, &clock, cfg, shared, opts, Some(&breaks))?.0)
}

/// Clock hints for a host's files: dateless sources (nettop) are anchored on the host's dated ones.
fn anchor<'a>(
    files: &[Planned],
    cfg: &Config,
    opts: &'a HuntOptions,
) -> impl Fn(&Planned) -> ClockHints + 'a {
    let mut reference: Option<Ts> = None;
    let mut reference_end: Option<Ts> = None;
    let mut offset: Option<i32> = None;
    for p in files.iter().filter(|p| p.format.is_dated()) {
        let (t, o) = probe(p, cfg);
        if let Some(t) = t {
            reference = Some(reference.map_or(t, |r: Ts| r.min(t)));
        }
        reference_end = reference_end.max(probe_tail(p, cfg));
        offset = offset.or(o);
    }
    move |p: &Planned| ClockHints {
        reference,
        reference_end,
        utc_offset: offset,
        file_mtime: p.mtime,
        forced_date: opts.date,
    }
}

type Breaks = BTreeMap<u32, Vec<(u64, u64)>>;

/// Adds the bytes the cursors consumed since the last report to the shared progress counter. A
/// segmented second pass reports again: progress is for the eye, not an exact count.
fn report_progress(opts: &HuntOptions, cursors: &[Cursor], reported: &mut u64) {
    let Some(p) = &opts.progress else { return };
    let now: u64 = cursors
        .iter()
        .filter_map(|c| c.src.last_record().map(|(_, off)| off))
        .sum();
    if now > *reported {
        p.fetch_add(now - *reported, Ordering::Relaxed);
        *reported = now;
    }
}

fn open_file(p: &Planned) -> Result<BufReader<File>> {
    let f = File::open(&p.file.path)
        .map_err(|e| Error::io(format!("opening {}", p.file.path.display()), e))?;
    Ok(BufReader::with_capacity(256 * 1024, f))
}

fn replay(
    files: &[Planned],
    clock: &dyn Fn(&Planned) -> ClockHints,
    cfg: &Config,
    shared: &Arc<Shared>,
    opts: &HuntOptions,
    segments: Option<&Breaks>,
) -> Result<(HostOutput, Breaks)> {
    let slack_ns = cfg.windows.reorder_slack.as_nanos() as i64;
    let mut cursors = Vec::new();
    for p in files {
        let ctx = || ctx_for(p, cfg, clock(p), opts.host.is_some());
        let cursor = |src| Cursor {
            file: p.id,
            src,
            buf: VecDeque::new(),
            scratch: Vec::new(),
            done: false,
            watch: None,
        };
        match segments
            .and_then(|s| s.get(&p.id))
            .filter(|b| !b.is_empty())
        {
            Some(breaks) => {
                // Segment k runs from its start to the next one's first line.
                let mut starts = vec![(1u64, 0u64)];
                starts.extend(breaks.iter().copied());
                for (k, &(line, offset)) in starts.iter().enumerate() {
                    let mut r = open_file(p)?;
                    r.seek(SeekFrom::Start(offset)).map_err(|e| {
                        Error::io(format!("seeking in {}", p.file.path.display()), e)
                    })?;
                    let end = starts.get(k + 1).map(|s| s.0);
                    let src = FileSource::segment(r, p.format, ctx(), line, offset, end);
                    cursors.push(cursor(src));
                }
            }
            None => {
                let src = FileSource::new(open_file(p)?, p.format, ctx());
                let mut c = cursor(src);
                if segments.is_none() && p.format.segmentable() {
                    c.watch = Some(Timeline {
                        slack_ns,
                        max: None,
                        breaks: Vec::new(),
                    });
                }
                cursors.push(c);
            }
        }
    }
    let mut engine = Engine::new(shared.clone(), false);
    let mut alerts = Vec::new();
    let (mut pushed, mut reported) = (0u64, 0u64);
    loop {
        let mut best: Option<(usize, Ts)> = None;
        for (i, c) in cursors.iter_mut().enumerate() {
            let ts = c
                .head_ts()
                .map_err(|e| Error::io(format!("reading {}", c.src.stats.path), e))?;
            if let Some(ts) = ts {
                if best.is_none_or(|(_, b)| ts < b) {
                    best = Some((i, ts));
                }
            }
        }
        let Some((i, _)) = best else { break };
        if let Some(ev) = cursors[i].buf.pop_front() {
            engine.push(ev, &mut alerts);
        }
        pushed += 1;
        if pushed % 4096 == 0 {
            report_progress(opts, &cursors, &mut reported);
        }
    }
    report_progress(opts, &cursors, &mut reported);
    engine.finish(&mut alerts);
    let mut breaks = Breaks::new();
    let mut stats: BTreeMap<u32, FileStats> = BTreeMap::new();
    for (id, b) in segments
        .into_iter()
        .flatten()
        .filter(|(_, b)| !b.is_empty())
    {
        let lines: Vec<String> = b.iter().map(|(l, _)| l.to_string()).collect();
        let mut note = FileStats::new(String::new(), "");
        note.notes.push(format!(
            "time runs backwards by more than windows.reorder_slack at line(s) {}: read as {} separately ordered segments",
            lines.join(", "),
            b.len() + 1
        ));
        stats.insert(*id, note);
    }
    for c in cursors {
        if let Some(tl) = c.watch {
            breaks.insert(c.file, tl.breaks);
        }
        match stats.get_mut(&c.file) {
            // The segment-note placeholder has no path or format: take the real file's.
            Some(st) if st.path.is_empty() => {
                let notes = std::mem::take(&mut st.notes);
                *st = c.src.stats;
                st.notes.extend(notes);
            }
            Some(st) => st.absorb(c.src.stats),
            None => {
                stats.insert(c.file, c.src.stats);
            }
        }
    }
    let out = HostOutput {
        alerts,
        findings: std::mem::take(&mut engine.findings),
        stats: stats.into_iter().collect(),
        engine: std::mem::take(&mut engine.stats),
        rejects: std::mem::take(&mut engine.rejects),
        learned: std::mem::take(&mut engine.learned),
    };
    Ok((out, breaks))
}

fn merge_stats(into: &mut EngineStats, s: EngineStats) {
    into.events += s.events;
    for (k, v) in s.by_kind {
        *into.by_kind.entry(k).or_default() += v;
    }
    into.traffic_unattributed += s.traffic_unattributed;
    into.traffic_out_of_scope += s.traffic_out_of_scope;
    into.late_events += s.late_events;
    into.hot_windows += s.hot_windows;
    into.alerts += s.alerts;
    into.suppressed_alerts += s.suppressed_alerts;
    into.baseline_absorbed += s.baseline_absorbed;
    for (k, v) in s.suppression_hits {
        *into.suppression_hits.entry(k).or_default() += v;
    }
    into.peak_processes = into.peak_processes.max(s.peak_processes);
    into.network_floods += s.network_floods;
    into.network_scans += s.network_scans;
    into.network_late += s.network_late;
    for (host, seen) in s.observed {
        match into.observed.get_mut(&host) {
            Some(o) => o.absorb(seen),
            None => {
                into.observed.insert(host, seen);
            }
        }
    }
    into.hosts.extend(s.hosts);
}

/// Runs a whole hunt. Errors only for unusable setups (missing paths, bad config); bad lines are counted.
pub fn hunt(opts: &HuntOptions, cfg: Config, suppressions: Suppressions) -> Result<HuntResult> {
    run(opts, cfg, suppressions, BaselineMode::Off, false)
}

/// A hunt that learns baselines (`baseline learn`) or judges against them (`hunt --db`).
pub fn hunt_with(
    opts: &HuntOptions,
    cfg: Config,
    suppressions: Suppressions,
    baseline: BaselineMode,
) -> Result<HuntResult> {
    run(opts, cfg, suppressions, baseline, false)
}

/// A hunt that also keeps what each source showed (`EngineStats::observed`), for `coverage`.
pub fn hunt_observed(
    opts: &HuntOptions,
    cfg: Config,
    suppressions: Suppressions,
) -> Result<HuntResult> {
    run(opts, cfg, suppressions, BaselineMode::Off, true)
}

fn run(
    opts: &HuntOptions,
    cfg: Config,
    suppressions: Suppressions,
    baseline: BaselineMode,
    observe: bool,
) -> Result<HuntResult> {
    let (planned, not_telemetry) = plan(opts)?;
    let names: Vec<Arc<str>> = planned
        .iter()
        .map(|p| Arc::from(p.file.path.display().to_string()))
        .collect();
    let inputs: Vec<InputInfo> = planned
        .iter()
        .map(|p| InputInfo {
            path: p.file.path.display().to_string(),
            host: p.file.host.clone(),
            format: p.format,
        })
        .collect();
    let warnings = suppressions.warnings.clone();
    let half_life = cfg.baseline.half_life.as_nanos() as i64;
    let mut shared = Shared::new(cfg.clone(), suppressions, names)
        .map_err(Error::Usage)?
        .with_baseline(baseline);
    shared.observe = observe;
    shared.network_join = planned.iter().any(|p| p.format.network_only_capable());
    let shared = Arc::new(shared);
    let mut groups: BTreeMap<String, Vec<Planned>> = BTreeMap::new();
    for p in planned {
        groups.entry(p.file.host.clone()).or_default().push(p);
    }
    let groups: Vec<Vec<Planned>> = groups.into_values().collect();
    let threads = opts.threads.max(1).min(groups.len().max(1));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Result<HostOutput>>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(g) = groups.get(i) else { break };
                let r = run_host(g, &cfg, &shared, opts);
                if let Ok(mut v) = results.lock() {
                    v.push(r);
                }
            });
        }
    });
    let results = results
        .into_inner()
        .map_err(|_| Error::Input("a worker thread panicked".into()))?;
    let mut alerts = Vec::new();
    let mut findings = Vec::new();
    let mut files: BTreeMap<u32, FileStats> = BTreeMap::new();
    let mut engine = EngineStats::default();
    let mut learned = Learner::default();
    for r in results {
        let r = r?;
        learned.merge(r.learned, half_life);
        alerts.extend(r.alerts);
        findings.extend(r.findings);
        for (id, st) in r.stats {
            files.insert(id, st);
        }
        merge_stats(&mut engine, r.engine);
        for rej in r.rejects {
            if let Some(st) = files.get_mut(&rej.origin.file) {
                st.reject(rej.origin.line, rej.reason.into(), rej.detail);
            }
        }
    }
    alerts.sort_by(|a, b| {
        a.alert
            .first_seen
            .cmp(&b.alert.first_seen)
            .then(a.alert.host.cmp(&b.alert.host))
            .then(a.alert.id.cmp(&b.alert.id))
    });
    findings.sort_by(|a: &NetworkFinding, b: &NetworkFinding| {
        a.first_seen
            .cmp(&b.first_seen)
            .then(a.host.cmp(&b.host))
            .then(a.id.cmp(&b.id))
    });
    let summary = RunSummary {
        files: files.into_values().collect(),
        not_telemetry,
        warnings,
        engine: serde_json::to_value(&engine).unwrap_or_default(),
        hosts: engine.hosts.values().cloned().collect(),
        network: findings.clone(),
    };
    Ok(HuntResult {
        alerts,
        findings,
        summary,
        engine,
        learned,
        inputs,
    })
}

/// Loads config (built-in default when `path` is None) and suppressions (flag, else config's path).
pub fn load_setup(
    config: Option<&Path>,
    suppressions: Option<&Path>,
    now: Ts,
) -> Result<(Config, Suppressions)> {
    let cfg = match config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    let sup_path = suppressions
        .map(Path::to_path_buf)
        .or_else(|| cfg.suppressions.clone());
    let sup = match sup_path {
        Some(p) => Suppressions::load(&p, now)?,
        None => Suppressions::default(),
    };
    Ok((cfg, sup))
}

/// Reads every event of every telemetry file, anchored as a hunt anchors them, and hands each to
/// `visit` with the file's id, in file order and without the engine: for checks that look for
/// specific raw events (the coverage self-test). Returns the files by id.
pub fn visit_events(
    opts: &HuntOptions,
    cfg: &Config,
    visit: &mut dyn FnMut(u32, &Event),
) -> Result<Vec<InputInfo>> {
    let (planned, _) = plan(opts)?;
    let mut groups: BTreeMap<String, Vec<Planned>> = BTreeMap::new();
    for p in &planned {
        groups
            .entry(p.file.host.clone())
            .or_default()
            .push(p.clone());
    }
    for files in groups.values() {
        let clock = anchor(files, cfg, opts);
        for p in files {
            let ctx = ctx_for(p, cfg, clock(p), opts.host.is_some());
            let mut src = FileSource::new(open_file(p)?, p.format, ctx);
            let mut out = Vec::new();
            loop {
                out.clear();
                let more = src
                    .next_events(&mut out)
                    .map_err(|e| Error::io(format!("reading {}", p.file.path.display()), e))?;
                for ev in &out {
                    visit(p.id, ev);
                }
                if !more {
                    break;
                }
            }
        }
    }
    Ok(planned
        .iter()
        .map(|p| InputInfo {
            path: p.file.path.display().to_string(),
            host: p.file.host.clone(),
            format: p.format,
        })
        .collect())
}
