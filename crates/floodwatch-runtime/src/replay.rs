//! Per-host replay: a host's files are merged by event time into one fresh [`Engine`], which is
//! where a batch hunt becomes a replay of a stream. A file whose own time runs backwards is found in
//! a first pass and read again as separately ordered segments.

use crate::hunt::HuntOptions;
use crate::plan::{anchor, ctx_for, open_at, Planned};
use floodwatch_core::config::Config;
use floodwatch_core::event::{Event, EventKind};
use floodwatch_core::finding::NetworkFinding;
use floodwatch_core::{Error, Result, Ts};
use floodwatch_engine::baseline::Learner;
use floodwatch_engine::{AlertEvent, Engine, EngineStats, Shared};
use floodwatch_sources::input::{self, Damage};
use floodwatch_sources::{ClockHints, FileSource, FileStats, SourceCtx};
use std::collections::{BTreeMap, VecDeque};
use std::io::BufRead;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// A file with more places than this where its time runs backwards is not split further: the rest of
/// its backward steps are rejected as out of order, as in a stream.
const MAX_SEGMENTS: usize = 64;

struct Cursor {
    file: u32,
    reader: Reader,
    buf: VecDeque<Event>,
    scratch: Vec<Event>,
    /// Watching the file's own timeline for backward steps (first pass over a segmentable file).
    watch: Option<Timeline>,
    /// Added to every event time of this cursor: a segment that follows a wall-clock step.
    shift_ns: i64,
}

/// Where a file's time steps back by more than the reorder slack.
struct Timeline {
    slack_ns: i64,
    max: Option<Ts>,
    breaks: Vec<Break>,
    /// Records after the latest break still examined for signs of a clock step.
    check_left: usize,
    /// The latest break's backward step.
    step: i64,
}

/// A record that starts a new ordered run of a file.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Break {
    line: u64,
    offset: u64,
    /// The file's own order says this is a wall-clock step, not a separate capture: processes seen
    /// before the step act after it at times before their own start. The run after the step is then
    /// judged in continuation of the one before, its times moved forward by this much.
    clock_step_ns: Option<i64>,
}

/// How many records after a backward step are looked at for processes acting before their start.
const STEP_EVIDENCE_RECORDS: usize = 64;

/// When the process acting in an event started, if the source says.
fn acting_start(ev: &Event) -> Option<Ts> {
    match &ev.kind {
        EventKind::Fork { parent, .. } => parent.start_time,
        EventKind::Exec { target, .. } => target.start_time,
        EventKind::Exit { process, .. } => process.start_time,
        EventKind::ProcessSeen(p) => p.start_time,
        _ => None,
    }
}

impl Timeline {
    /// Looks at one record's events (the file's first pass).
    fn note(&mut self, batch: &[Event], last_record: Option<(u64, u64)>) {
        let Some(first) = batch.first() else { return };
        let ts = first.ts;
        match self.max {
            Some(m) if ts.0 < m.0.saturating_sub(self.slack_ns) => {
                if let Some((_, offset)) = last_record {
                    if self.breaks.len() + 1 < MAX_SEGMENTS {
                        self.breaks.push(Break {
                            line: first.origin.line,
                            offset,
                            clock_step_ns: None,
                        });
                        self.check_left = STEP_EVIDENCE_RECORDS;
                        // The step's size: how far the new clock must move to continue the old one.
                        self.step = m.0.saturating_sub(ts.0);
                        self.max = Some(ts);
                    }
                }
            }
            _ => self.max = Some(self.max.map_or(ts, |m| m.max(ts))),
        }
        if self.check_left > 0 {
            self.check_left -= 1;
            let acts_before_start = batch.iter().any(|e| {
                acting_start(e).is_some_and(|st| st.0 > e.ts.0.saturating_add(self.slack_ns))
            });
            if acts_before_start {
                if let Some(b) = self.breaks.last_mut() {
                    b.clock_step_ns = Some(self.step);
                }
                self.check_left = 0;
            }
        }
    }
}

/// A cursor's file is opened only when the merge reaches its first event and closed at its end, so
/// a host folder of thousands of rotated files keeps open only the files whose spans overlap.
enum Reader {
    /// Not opened yet: what to open, and the first event time its head showed (None: unknown, so
    /// it is opened at once).
    Waiting {
        plan: Box<Planned>,
        ctx: Box<SourceCtx>,
        span: Span,
        first: Option<Ts>,
    },
    Open(Box<FileSource<Input>>, Damage),
    /// Read to its end: only its counts are kept.
    Closed {
        stats: FileStats,
        consumed: u64,
    },
}

/// Where a cursor reads: a whole file, or one ordered segment of it.
#[derive(Clone, Copy)]
struct Span {
    line: u64,
    offset: u64,
    /// The first line of the next segment.
    end: Option<u64>,
}

const WHOLE_FILE: Span = Span {
    line: 1,
    offset: 0,
    end: None,
};

/// How much of a waiting file's head is read to learn its first event time.
const PROBE_BYTES: usize = 64 * 1024;

/// What a cursor reads: decoded text from the input layer (a file, compressed or not, or a stream).
type Input = Box<dyn BufRead + Send>;

fn open_span(p: &Planned, ctx: SourceCtx, span: Span) -> Result<(FileSource<Input>, Damage)> {
    let d = open_at(p, span.offset)?;
    Ok((source_for(d.reader, p, ctx, span), d.damage))
}

/// The file's counts, with a note when its compressed data broke off early.
fn closed_stats(stats: FileStats, damage: &Damage) -> FileStats {
    let mut stats = stats;
    stats.notes.extend(damage.note());
    stats
}

/// A whole file, or one segment of a line-framed one.
fn source_for<R: std::io::BufRead>(r: R, p: &Planned, ctx: SourceCtx, span: Span) -> FileSource<R> {
    match span.end {
        None if span.offset == 0 => FileSource::new(r, p.format, ctx),
        end => FileSource::segment(r, p.format, ctx, span.line, span.offset, end),
    }
}

/// The first event time in the head of a file (or segment), parsed exactly as the full read will.
fn first_event(p: &Planned, ctx: &SourceCtx, span: Span) -> Option<Ts> {
    let (head, _) = input::read_at(&p.file.path, span.offset, PROBE_BYTES).ok()?;
    let mut src = FileSource::segment(
        &head[..],
        p.format,
        ctx.clone(),
        span.line,
        span.offset,
        span.end,
    );
    let mut out = Vec::new();
    while out.is_empty() {
        if !src.next_events(&mut out).ok()? {
            break;
        }
    }
    out.first().map(|e| e.ts)
}

impl Cursor {
    fn waiting(p: &Planned, ctx: SourceCtx, span: Span) -> Cursor {
        // A stream is read once, when its turn comes: it is opened at once.
        let first = if p.format.is_capture() || p.stream.is_some() {
            None
        } else {
            first_event(p, &ctx, span)
        };
        Cursor {
            file: p.id,
            reader: Reader::Waiting {
                plan: Box::new(p.clone()),
                ctx: Box::new(ctx),
                span,
                first,
            },
            buf: VecDeque::new(),
            scratch: Vec::new(),
            watch: None,
            shift_ns: 0,
        }
    }

    fn is_waiting(&self) -> bool {
        matches!(self.reader, Reader::Waiting { .. })
    }

    fn open(&mut self) -> Result<()> {
        if let Reader::Waiting {
            plan, ctx, span, ..
        } = &self.reader
        {
            let (src, damage) = open_span(plan, (**ctx).clone(), *span)?;
            self.reader = Reader::Open(Box::new(src), damage);
        }
        Ok(())
    }

    /// The time of the next event: a waiting file's probed first time, else its real head.
    fn head_ts(&mut self) -> Result<Option<Ts>> {
        match &self.reader {
            Reader::Waiting { first: Some(t), .. } => return Ok(Some(*t)),
            Reader::Waiting { first: None, .. } => self.open()?,
            _ => {}
        }
        while self.buf.is_empty() {
            let Reader::Open(src, damage) = &mut self.reader else {
                break;
            };
            self.scratch.clear();
            let more = src
                .next_events(&mut self.scratch)
                .map_err(|e| Error::io(format!("reading {}", src.stats.path), e))?;
            if let Some(tl) = &mut self.watch {
                // A line format's batch is one record's events: its time is the record's.
                tl.note(&self.scratch, src.last_record());
            }
            if self.shift_ns != 0 {
                for ev in &mut self.scratch {
                    shift(ev, self.shift_ns);
                }
            }
            self.buf.extend(self.scratch.drain(..));
            if !more {
                // Closing at the end keeps the number of open files at what overlaps in time.
                let consumed = src.last_record().map_or(0, |(_, off)| off);
                let stats = std::mem::replace(&mut src.stats, FileStats::new(String::new(), ""));
                let stats = closed_stats(stats, damage);
                self.reader = Reader::Closed { stats, consumed };
            }
        }
        Ok(self.buf.front().map(|e| e.ts))
    }

    /// A segment after a clock step: its times (probed and read) move forward by `ns`.
    fn shifted(mut self, ns: i64) -> Cursor {
        self.shift_ns = ns;
        if let Reader::Waiting { first: Some(t), .. } = &mut self.reader {
            *t = t.add_nanos(ns);
        }
        self
    }

    /// Bytes read so far, for the progress bar.
    fn consumed(&self) -> u64 {
        match &self.reader {
            Reader::Waiting { .. } => 0,
            Reader::Open(src, _) => src.last_record().map_or(0, |(_, off)| off),
            Reader::Closed { consumed, .. } => *consumed,
        }
    }

    fn into_stats(self) -> FileStats {
        match self.reader {
            Reader::Waiting { plan, .. } => {
                FileStats::new(plan.file.path.display().to_string(), plan.format.name())
            }
            Reader::Open(src, damage) => closed_stats(src.stats, &damage),
            Reader::Closed { stats, .. } => stats,
        }
    }
}

pub(crate) struct HostOutput {
    pub(crate) alerts: Vec<AlertEvent>,
    pub(crate) findings: Vec<NetworkFinding>,
    pub(crate) stats: Vec<(u32, FileStats)>,
    pub(crate) engine: EngineStats,
    pub(crate) rejects: Vec<floodwatch_engine::EngineReject>,
    pub(crate) learned: Learner,
}

/// Replays one host's files, merged by event time, through a fresh engine. A file whose own time runs
/// backwards (captures concatenated out of order, a clock step, one stray future line) is found in a
/// first pass; the host is then replayed with that file read as separately ordered segments, so
/// nothing is rejected as late that the merge can put in order.
pub(crate) fn run_host(
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

pub(crate) type Breaks = BTreeMap<u32, Vec<Break>>;

/// Moves an event's times (its instant, and an interval's start) by `ns`.
fn shift(ev: &mut Event, ns: i64) {
    ev.ts = ev.ts.add_nanos(ns);
    if let EventKind::Traffic(t) = &mut ev.kind {
        t.start = t.start.add_nanos(ns);
    }
}

/// Adds the bytes the cursors consumed since the last report to the shared progress counter. A
/// segmented second pass reports again: progress is for the eye, not an exact count.
fn report_progress(opts: &HuntOptions, cursors: &[Cursor], reported: &mut u64) {
    let Some(p) = &opts.progress else { return };
    let now: u64 = cursors.iter().map(Cursor::consumed).sum();
    if now > *reported {
        p.fetch_add(now - *reported, Ordering::Relaxed);
        *reported = now;
    }
}

/// Merges a host's files (or their segments) by event time and hands every event to `feed`, in
/// the order a hunt's engine takes them. Returns each file's counts (with notes on its segments) and,
/// on a first pass (`segments` None), where each watched file's time runs backwards.
pub(crate) fn merge(
    files: &[Planned],
    clock: &dyn Fn(&Planned) -> ClockHints,
    cfg: &Config,
    opts: &HuntOptions,
    segments: Option<&Breaks>,
    feed: &mut dyn FnMut(Event) -> Result<()>,
) -> Result<(BTreeMap<u32, FileStats>, Breaks)> {
    let slack_ns = cfg.windows.reorder_slack.as_nanos() as i64;
    // A second, segmented pass would read the host's streams again, which cannot be: with a stream
    // in the host, backward steps are rejected as late, as in `watch`.
    let host_has_stream = files.iter().any(|p| p.stream.is_some());
    let mut cursors = Vec::new();
    for p in files {
        let ctx = || ctx_for(p, cfg, clock(p), opts.host.is_some());
        match segments
            .and_then(|s| s.get(&p.id))
            .filter(|b| !b.is_empty())
        {
            Some(breaks) => {
                // Segment k runs from its start to the next one's first line; after a clock step
                // its times continue the previous segment's.
                let mut starts = vec![(1u64, 0u64, 0i64)];
                let mut shift_ns = 0i64;
                for b in breaks {
                    shift_ns = shift_ns.saturating_add(b.clock_step_ns.unwrap_or(0));
                    starts.push((b.line, b.offset, shift_ns));
                }
                for (k, &(line, offset, shift_ns)) in starts.iter().enumerate() {
                    let end = starts.get(k + 1).map(|s| s.0);
                    let c = Cursor::waiting(p, ctx(), Span { line, offset, end });
                    cursors.push(c.shifted(shift_ns));
                }
            }
            None => {
                let mut c = Cursor::waiting(p, ctx(), WHOLE_FILE);
                if segments.is_none() && p.format.segmentable() && p.seekable() && !host_has_stream
                {
                    c.watch = Some(Timeline {
                        slack_ns,
                        max: None,
                        breaks: Vec::new(),
                        check_left: 0,
                        step: 0,
                    });
                }
                cursors.push(c);
            }
        }
    }
    let (mut pushed, mut reported) = (0u64, 0u64);
    loop {
        let mut best: Option<(usize, Ts)> = None;
        for (i, c) in cursors.iter_mut().enumerate() {
            if let Some(ts) = c.head_ts()? {
                if best.is_none_or(|(_, b)| ts < b) {
                    best = Some((i, ts));
                }
            }
        }
        let Some((i, _)) = best else { break };
        if cursors[i].is_waiting() {
            // Its turn has come: open it and compare its real head.
            cursors[i].open()?;
            continue;
        }
        if let Some(ev) = cursors[i].buf.pop_front() {
            feed(ev)?;
        }
        pushed += 1;
        if pushed % 4096 == 0 {
            report_progress(opts, &cursors, &mut reported);
        }
    }
    report_progress(opts, &cursors, &mut reported);
    let mut breaks = Breaks::new();
    let mut stats: BTreeMap<u32, FileStats> = BTreeMap::new();
    for (id, b) in segments
        .into_iter()
        .flatten()
        .filter(|(_, b)| !b.is_empty())
    {
        let mut note = FileStats::new(String::new(), "");
        let (steps, apart): (Vec<&Break>, Vec<&Break>) =
            b.iter().partition(|b| b.clock_step_ns.is_some());
        for s in &steps {
            note.notes.push(format!(
                "the wall clock stepped back by {:.1} s at line {} (processes seen before the step act after it at times before their own start): judged across the step, the times after it moved forward by as much",
                s.clock_step_ns.unwrap_or(0) as f64 / 1e9,
                s.line
            ));
        }
        if !apart.is_empty() {
            let lines: Vec<String> = apart.iter().map(|b| b.line.to_string()).collect();
            note.notes.push(format!(
                "time runs backwards by more than windows.reorder_slack at line(s) {}: read as {} separately ordered segments",
                lines.join(", "),
                apart.len() + 1
            ));
        }
        stats.insert(*id, note);
    }
    for mut c in cursors {
        if let Some(tl) = c.watch.take() {
            breaks.insert(c.file, tl.breaks);
        }
        let file = c.file;
        let cs = c.into_stats();
        match stats.get_mut(&file) {
            // The segment-note placeholder has no path or format: take the real file's.
            Some(st) if st.path.is_empty() => {
                let notes = std::mem::take(&mut st.notes);
                *st = cs;
                st.notes.extend(notes);
            }
            Some(st) => st.absorb(cs),
            None => {
                stats.insert(file, cs);
            }
        }
    }
    Ok((stats, breaks))
}

fn replay(
    files: &[Planned],
    clock: &dyn Fn(&Planned) -> ClockHints,
    cfg: &Config,
    shared: &Arc<Shared>,
    opts: &HuntOptions,
    segments: Option<&Breaks>,
) -> Result<(HostOutput, Breaks)> {
    let mut engine = Engine::new(shared.clone(), false);
    let mut alerts = Vec::new();
    let (stats, breaks) = merge(files, clock, cfg, opts, segments, &mut |ev| {
        engine.push(ev, &mut alerts);
        Ok(())
    })?;
    engine.finish(&mut alerts);
    engine.settle(&mut alerts);
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
