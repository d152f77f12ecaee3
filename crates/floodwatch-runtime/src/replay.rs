//! Per-host replay: a host's files are merged by event time into one fresh [`Engine`], which is
//! where a batch hunt becomes a replay of a stream. A file whose own time runs backwards is read
//! again as separately ordered segments: the pass that finds the first backward step stops there,
//! and the host is replayed with the file split (see [`run_host`]).

use crate::ahead::{Ahead, Taken};
use crate::helpers::Helpers;
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
    /// Watching the file's own timeline for backward steps (a segmentable file, or the last segment
    /// of one split at the breaks known so far).
    watch: Option<Timeline>,
    /// Added to every event time of this cursor: a segment that follows a wall-clock step.
    shift_ns: i64,
    /// Where in the file the cursor starts reading (a segment's first byte).
    from: u64,
    /// The file's size on disk, taken when a hunt has helpers (else 0, as for a stream): what is
    /// left of it decides which file a helper parses.
    size: u64,
}

/// Where a file's time steps back by more than the reorder slack.
struct Timeline {
    slack_ns: i64,
    max: Option<Ts>,
    /// Breaks of this file known before this pass (this timeline watches the segment after the last).
    known: usize,
    /// Breaks found in this pass.
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
    fn new(slack_ns: i64, known: usize) -> Self {
        Timeline {
            slack_ns,
            max: None,
            known,
            breaks: Vec::new(),
            check_left: 0,
            step: 0,
        }
    }

    /// Looks at one record's events.
    fn note(&mut self, batch: &[Event], last_record: Option<(u64, u64)>) {
        let Some(first) = batch.first() else { return };
        let ts = first.ts;
        match self.max {
            Some(m) if ts.0 < m.0.saturating_sub(self.slack_ns) => {
                if let Some((_, offset)) = last_record {
                    if self.known + self.breaks.len() + 1 < MAX_SEGMENTS {
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
    /// Being parsed on a helper thread: its records come back in order. The file's path and
    /// format, for an error and for the counts of a pass that stops before its end.
    Ahead {
        records: Ahead,
        damage: Damage,
        last_record: Option<(u64, u64)>,
        path: String,
        format: String,
    },
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
    fn waiting(p: &Planned, ctx: SourceCtx, span: Span, size: u64) -> Cursor {
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
            from: span.offset,
            size,
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
            self.scratch.clear();
            // One record's events, where it was, and the file's counts at its end.
            let (record, end) = match &mut self.reader {
                Reader::Open(src, damage) => {
                    let more = src
                        .next_events(&mut self.scratch)
                        .map_err(|e| Error::io(format!("reading {}", src.stats.path), e))?;
                    let end = (!more).then(|| {
                        let stats =
                            std::mem::replace(&mut src.stats, FileStats::new(String::new(), ""));
                        closed_stats(stats, damage)
                    });
                    (src.last_record(), end)
                }
                Reader::Ahead {
                    records,
                    damage,
                    last_record,
                    path,
                    ..
                } => match records
                    .next(&mut self.scratch)
                    .map_err(|e| Error::io(format!("reading {path}"), e))?
                {
                    Taken::Record(at) => {
                        *last_record = at;
                        (at, None)
                    }
                    Taken::End(stats) => (*last_record, Some(closed_stats(stats, damage))),
                },
                _ => break,
            };
            if let Some(tl) = &mut self.watch {
                // A line format's batch is one record's events: its time is the record's.
                tl.note(&self.scratch, record);
            }
            if self.shift_ns != 0 {
                for ev in &mut self.scratch {
                    shift(ev, self.shift_ns);
                }
            }
            self.buf.extend(self.scratch.drain(..));
            if let Some(stats) = end {
                // Closing at the end keeps the number of open files at what overlaps in time.
                let consumed = record.map_or(0, |(_, off)| off);
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

    /// Bytes read so far (to the start of the last record), for the progress bar and the cost of a
    /// pass.
    fn consumed(&self) -> u64 {
        let at = match &self.reader {
            Reader::Waiting { .. } => return 0,
            Reader::Open(src, _) => src.last_record().map_or(0, |(_, off)| off),
            Reader::Ahead { last_record, .. } => last_record.map_or(0, |(_, off)| off),
            Reader::Closed { consumed, .. } => *consumed,
        };
        at.saturating_sub(self.from)
    }

    /// This pass found a backward step in the cursor's file.
    fn found_break(&self) -> bool {
        self.watch.as_ref().is_some_and(|tl| !tl.breaks.is_empty())
    }

    /// Reads on, only for what the cursor's timeline sees (its events are dropped), while `more`
    /// says so of the timeline, or to the end of the file (or its last segment).
    fn read_on(&mut self, more: fn(&Timeline) -> bool) -> Result<()> {
        self.open()?;
        while self.watch.as_ref().is_some_and(more) {
            self.buf.clear();
            if self.head_ts()?.is_none() {
                break;
            }
        }
        Ok(())
    }

    fn into_stats(self) -> FileStats {
        match self.reader {
            Reader::Waiting { plan, .. } => {
                FileStats::new(plan.file.path.display().to_string(), plan.format.name())
            }
            Reader::Open(src, damage) => closed_stats(src.stats, &damage),
            // Only a pass that stopped leaves a file parsed ahead unfinished, and its counts are
            // not kept.
            Reader::Ahead { path, format, .. } => FileStats::new(path, &format),
            Reader::Closed { stats, .. } => stats,
        }
    }

    /// A guess at what is left to read, from the file's size: a segment counts the segments after
    /// it, a compressed file's decoded bytes count as read (so it looks done early), and a JSON
    /// array's records have no offsets (so it looks unread to its end).
    fn left(&self) -> u64 {
        match self.reader {
            Reader::Open(..) => self.size.saturating_sub(self.from + self.consumed()),
            _ => 0,
        }
    }

    /// Hands the rest of the file to a helper that parses it ahead; nothing changes when no worker
    /// is idle any more.
    fn parse_ahead(&mut self, helpers: &Helpers) {
        let placeholder = Reader::Closed {
            stats: FileStats::new(String::new(), ""),
            consumed: 0,
        };
        let reader = std::mem::replace(&mut self.reader, placeholder);
        let Reader::Open(src, damage) = reader else {
            self.reader = reader;
            return;
        };
        let Some(claim) = helpers.claim() else {
            self.reader = Reader::Open(src, damage);
            return;
        };
        let last_record = src.last_record();
        let (path, format) = (src.stats.path.clone(), src.stats.format.clone());
        let (records, job) = Ahead::start(src);
        claim.give(job);
        self.reader = Reader::Ahead {
            records,
            damage,
            last_record,
            path,
            format,
        };
    }
}

/// Files with less than this left are not worth a helper's while (tests hand over any file with
/// something left, to parse the small fixtures ahead).
const AHEAD_MIN_BYTES: u64 = if cfg!(test) { 1 } else { 256 * 1024 };

/// Events merged between progress reports.
const PROGRESS_EVERY: u64 = 4096;

/// Events merged between looks for an idle worker (tests look after every other event). A divisor
/// of [`PROGRESS_EVERY`], so that the merge's per-event path has one check for both.
const OFFER_EVERY: u64 = if cfg!(test) { 2 } else { PROGRESS_EVERY };
const _: () = assert!(PROGRESS_EVERY % OFFER_EVERY == 0);

/// When a worker has no host left: the host's open file with the most left to read is parsed on
/// it from now on.
fn offer_help(cursors: &mut [Cursor], helpers: Option<&Helpers>) {
    let Some(helpers) = helpers.filter(|h| h.has_idle()) else {
        return;
    };
    if let Some(c) = cursors
        .iter_mut()
        .filter(|c| c.left() >= AHEAD_MIN_BYTES)
        .max_by_key(|c| c.left())
    {
        c.parse_ahead(helpers);
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
/// backwards (captures concatenated out of order, a clock step, one stray future line) is read as
/// separately ordered segments, so nothing is rejected as late that the merge can put in order.
///
/// Where the breaks are is learned while replaying. A pass stops at the first new backward step
/// (once the records after it that tell a clock step were read) and the host is replayed with the
/// file split there, until a pass finds no new step: that pass is the hunt's. The breaks are the
/// ones one pass watching whole files would find, because a timeline starts over at each break:
/// watching the last segment from its break on sees what watching the whole file sees. The stopped
/// passes are bounded: once they have read half the host's bytes, or after
/// [`STOPPED_PASSES`] of them, the next stop reads the watched files on to their ends (without the
/// engine) for all their remaining breaks, and one more pass is the last. A single early step (the
/// usual concatenated captures) costs a little more than one pass; the worst case reads about two
/// and a half times the host's bytes, in at most `STOPPED_PASSES + 1` passes (the old way: two).
///
/// `host_bytes` is the files' size on disk ([`bytes_on_disk`]), which bounds the stopped passes.
pub(crate) fn run_host(
    files: &[Planned],
    host_bytes: u64,
    cfg: &Config,
    shared: &Arc<Shared>,
    opts: &HuntOptions,
    helpers: Option<&Helpers>,
) -> Result<HostOutput> {
    run_host_passes(files, host_bytes, cfg, shared, opts, helpers).map(|(out, _)| out)
}

/// The files' sizes on disk (0 for one that cannot be read): a compressed file's are fewer than it
/// reads, which only schedules its host later and makes a scan sooner.
pub(crate) fn bytes_on_disk(files: &[Planned]) -> u64 {
    files
        .iter()
        .filter_map(|p| std::fs::metadata(&p.file.path).ok())
        .map(|m| m.len())
        .sum()
}

/// How many passes may stop at a break before one reads on to the ends instead: each pass opens
/// and probes every file again (a folder of rotated files, each with a step, would otherwise take a
/// pass per file).
const STOPPED_PASSES: usize = 3;

/// How a pass of [`run_host`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PassEnd {
    /// It read everything: its output is the hunt's.
    Whole,
    /// It stopped at a new break.
    Stopped,
    /// It stopped, then read the watched files to their ends for their other breaks.
    StoppedAndScanned,
}

/// [`run_host`], with how each of its passes ended.
fn run_host_passes(
    files: &[Planned],
    host_bytes: u64,
    cfg: &Config,
    shared: &Arc<Shared>,
    opts: &HuntOptions,
    helpers: Option<&Helpers>,
) -> Result<(HostOutput, Vec<PassEnd>)> {
    let clock = anchor(files, cfg, opts);
    let mut wasted = 0u64;
    let mut known = Breaks::new();
    let mut ends = Vec::new();
    let mut watch = Watch::Stop {
        scan_after: host_bytes / 2,
    };
    loop {
        let plan = PassPlan {
            known: &known,
            watch,
            helpers,
        };
        let (out, pass) = replay(files, &clock, cfg, shared, opts, plan)?;
        if !pass.stopped && pass.breaks.values().all(Vec::is_empty) {
            ends.push(PassEnd::Whole);
            return Ok((out, ends));
        }
        for (file, b) in pass.breaks {
            known.entry(file).or_default().extend(b);
        }
        wasted = wasted.saturating_add(pass.consumed);
        ends.push(if pass.scanned {
            PassEnd::StoppedAndScanned
        } else {
            PassEnd::Stopped
        });
        watch = if pass.scanned || !pass.stopped {
            Watch::Off
        } else if ends.len() + 1 >= STOPPED_PASSES {
            // The next pass is the last allowed to stop: it reads on to the ends when it does.
            Watch::Stop { scan_after: 0 }
        } else {
            Watch::Stop {
                scan_after: (host_bytes / 2).saturating_sub(wasted),
            }
        };
    }
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
/// host replayed again after a stopped pass reports again: progress is for the eye, not an exact
/// count.
fn report_progress(opts: &HuntOptions, cursors: &[Cursor], reported: &mut u64) {
    let Some(p) = &opts.progress else { return };
    let now: u64 = cursors.iter().map(Cursor::consumed).sum();
    if now > *reported {
        p.fetch_add(now - *reported, Ordering::Relaxed);
        *reported = now;
    }
}

/// How a pass watches the host's segmentable files (and the last segment of a split one) for time
/// running backwards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Watch {
    /// Not at all: every break is known.
    Off,
    /// To the ends of the files, collecting every break.
    Collect,
    /// Until a new break: the merge stops there, its events unfinished, and the file is read on (its
    /// events unused) until the break's clock-step evidence is complete. If the merge had read more
    /// than `scan_after` bytes, the watched files are instead read on to their ends for the rest of
    /// their breaks.
    Stop { scan_after: u64 },
}

/// What one merge of a host's files found.
pub(crate) struct Pass {
    /// Each file's counts, with notes on its segments.
    pub(crate) stats: BTreeMap<u32, FileStats>,
    /// Per watched file, the breaks found in this pass (after the known ones).
    pub(crate) breaks: Breaks,
    /// The merge stopped at a new break: not every event was handed on.
    pub(crate) stopped: bool,
    /// After it stopped, the watched files were read to their ends: `breaks` has all of theirs.
    pub(crate) scanned: bool,
    /// Bytes read, to the start of each cursor's last record (the heads probed are not counted).
    pub(crate) consumed: u64,
}

/// How a pass reads a host's files: split at the `known` breaks, watched as `watch` says, and with
/// the help of a hunt's idle workers, if any.
#[derive(Clone, Copy)]
pub(crate) struct PassPlan<'a> {
    pub(crate) known: &'a Breaks,
    pub(crate) watch: Watch,
    pub(crate) helpers: Option<&'a Helpers>,
}

impl<'a> PassPlan<'a> {
    /// A pass without helpers (a stream's replay; tests' reference passes).
    pub(crate) fn alone(known: &'a Breaks, watch: Watch) -> Self {
        PassPlan {
            known,
            watch,
            helpers: None,
        }
    }
}

/// Merges a host's files by event time, as `plan` says, and hands every event to `feed`, in the
/// order a hunt's engine takes them (all of them unless the pass stopped at a new break).
pub(crate) fn merge(
    files: &[Planned],
    clock: &dyn Fn(&Planned) -> ClockHints,
    cfg: &Config,
    opts: &HuntOptions,
    plan: PassPlan,
    feed: &mut dyn FnMut(Event) -> Result<()>,
) -> Result<Pass> {
    let PassPlan {
        known,
        watch,
        helpers,
    } = plan;
    let slack_ns = cfg.windows.reorder_slack.as_nanos() as i64;
    // A second, segmented pass would read the host's streams again, which cannot be: with a stream
    // in the host, backward steps are rejected as late, as in `watch`.
    let host_has_stream = files.iter().any(|p| p.stream.is_some());
    let mut cursors = Vec::new();
    for p in files {
        let ctx = || ctx_for(p, cfg, clock(p), opts.host.is_some());
        let size = match (helpers, &p.stream) {
            (Some(_), None) => std::fs::metadata(&p.file.path).map_or(0, |m| m.len()),
            _ => 0,
        };
        let watched =
            watch != Watch::Off && p.format.segmentable() && p.seekable() && !host_has_stream;
        match known.get(&p.id).filter(|b| !b.is_empty()) {
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
                    let mut c = Cursor::waiting(p, ctx(), Span { line, offset, end }, size);
                    // The last segment runs from the last known break on: more may follow.
                    if watched && end.is_none() {
                        c.watch = Some(Timeline::new(slack_ns, breaks.len()));
                    }
                    cursors.push(c.shifted(shift_ns));
                }
            }
            None => {
                let mut c = Cursor::waiting(p, ctx(), WHOLE_FILE, size);
                if watched {
                    c.watch = Some(Timeline::new(slack_ns, 0));
                }
                cursors.push(c);
            }
        }
    }
    let stops = matches!(watch, Watch::Stop { .. });
    let mut stopped = false;
    let (mut pushed, mut reported) = (0u64, 0u64);
    loop {
        // The cursor whose head is first (the earliest time; on a tie, the first cursor), and the
        // one that would be first without it: the two smallest (time, cursor) pairs.
        let mut best: Option<(Ts, usize)> = None;
        let mut runner_up: Option<(Ts, usize)> = None;
        for (i, c) in cursors.iter_mut().enumerate() {
            if let Some(ts) = c.head_ts()? {
                if best.is_none_or(|b| (ts, i) < b) {
                    runner_up = best;
                    best = Some((ts, i));
                } else if runner_up.is_none_or(|r| (ts, i) < r) {
                    runner_up = Some((ts, i));
                }
            }
            stopped |= stops && c.found_break();
        }
        if stopped {
            break;
        }
        let Some((_, i)) = best else { break };
        if cursors[i].is_waiting() {
            // Its turn has come: open it and compare its real head.
            cursors[i].open()?;
            continue;
        }
        // Events are taken from this cursor while its head stays first, without asking the others
        // again: their heads do not change while it is read (a hunt's next event mostly comes from
        // the file the last one came from).
        loop {
            if let Some(ev) = cursors[i].buf.pop_front() {
                feed(ev)?;
            }
            pushed += 1;
            if pushed % OFFER_EVERY == 0 {
                if pushed % PROGRESS_EVERY == 0 {
                    report_progress(opts, &cursors, &mut reported);
                }
                offer_help(&mut cursors, helpers);
            }
            let c = &mut cursors[i];
            let Some(ts) = c.head_ts()? else { break };
            let still_first = runner_up.is_none_or(|r| (ts, i) < r);
            // A new break ends the merge: the scan above sees it.
            if !still_first || (stops && c.found_break()) {
                break;
            }
        }
    }
    let read: u64 = cursors.iter().map(Cursor::consumed).sum();
    let scanned = stopped && matches!(watch, Watch::Stop { scan_after } if read > scan_after);
    if stopped {
        // The merge's events are of no use now: only the watched files' timelines are read on.
        for c in cursors.iter_mut().filter(|c| c.watch.is_some()) {
            if scanned {
                c.read_on(|_| true)?;
            } else if c.found_break() {
                // Until the latest break's clock-step evidence is complete.
                c.read_on(|tl| tl.check_left > 0)?;
            }
        }
    }
    let consumed: u64 = cursors.iter().map(Cursor::consumed).sum();
    report_progress(opts, &cursors, &mut reported);
    let mut breaks = Breaks::new();
    let mut stats: BTreeMap<u32, FileStats> = BTreeMap::new();
    for (id, b) in known.iter().filter(|(_, b)| !b.is_empty()) {
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
    Ok(Pass {
        stats,
        breaks,
        stopped,
        scanned,
        consumed,
    })
}

/// One pass of [`run_host`]: the host's files split at the `known` breaks, merged through a fresh
/// engine. A pass that stopped is not finished: its output is only for the breaks it found.
fn replay(
    files: &[Planned],
    clock: &dyn Fn(&Planned) -> ClockHints,
    cfg: &Config,
    shared: &Arc<Shared>,
    opts: &HuntOptions,
    plan: PassPlan,
) -> Result<(HostOutput, Pass)> {
    let mut engine = Engine::new(shared.clone(), false);
    let mut alerts = Vec::new();
    let mut pass = merge(files, clock, cfg, opts, plan, &mut |ev| {
        engine.push(ev, &mut alerts);
        Ok(())
    })?;
    if !pass.stopped {
        engine.finish(&mut alerts);
        engine.settle(&mut alerts);
    }
    let out = HostOutput {
        alerts,
        findings: std::mem::take(&mut engine.findings),
        stats: std::mem::take(&mut pass.stats).into_iter().collect(),
        engine: std::mem::take(&mut engine.stats),
        rejects: std::mem::take(&mut engine.rejects),
        learned: std::mem::take(&mut engine.learned),
    };
    Ok((out, pass))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::helpers::map_hosts;
    use crate::hunt::by_host;
    use crate::plan::plan;
    use floodwatch_engine::suppress::Suppressions;
    use std::path::Path;

    const COLLECTION: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/collection/build-mac-07"
    );

    /// The reference: one pass watching every file to its end, then, if it found breaks, one pass
    /// with all of them (how hunts replayed a host before passes stopped early).
    fn two_passes(files: &[Planned], cfg: &Config, shared: &Arc<Shared>) -> HostOutput {
        let opts = HuntOptions::default();
        let clock = anchor(files, cfg, &opts);
        let none = Breaks::new();
        let (out, pass) = replay(
            files,
            &clock,
            cfg,
            shared,
            &opts,
            PassPlan::alone(&none, Watch::Collect),
        )
        .unwrap();
        assert!(!pass.stopped);
        if pass.breaks.values().all(Vec::is_empty) {
            return out;
        }
        replay(
            files,
            &clock,
            cfg,
            shared,
            &opts,
            PassPlan::alone(&pass.breaks, Watch::Off),
        )
        .unwrap()
        .0
    }

    fn shown(o: &HostOutput) -> String {
        format!(
            "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
            o.alerts, o.findings, o.stats, o.rejects, o.engine, o.learned
        )
    }

    /// Hunts the one host under `dir` both ways: the output must be the same, and the passes as
    /// expected. Returns the file notes.
    fn same_as_two_passes(dir: &Path) -> (Vec<PassEnd>, String) {
        same_as_two_passes_with(dir, Config::default())
    }

    fn same_as_two_passes_with(dir: &Path, cfg: Config) -> (Vec<PassEnd>, String) {
        let opts = HuntOptions {
            paths: vec![dir.to_path_buf()],
            threads: 1,
            ..HuntOptions::default()
        };
        let (planned, _) = plan(&opts).unwrap();
        let names = planned
            .iter()
            .map(|p| Arc::from(p.file.path.display().to_string()))
            .collect();
        let shared = Arc::new(Shared::new(cfg.clone(), Suppressions::default(), names).unwrap());
        let groups = by_host(planned);
        assert_eq!(groups.len(), 1);
        let reference = two_passes(&groups[0], &cfg, &shared);
        let bytes = bytes_on_disk(&groups[0]);
        let (out, ends) = run_host_passes(&groups[0], bytes, &cfg, &shared, &opts, None).unwrap();
        assert_eq!(shown(&out), shown(&reference), "{ends:?}");
        assert_eq!(ends.last(), Some(&PassEnd::Whole));
        // Again with a second worker, idle from the start: it parses files ahead, and nothing of
        // the output or of the passes changes.
        let helped = map_hosts(
            &[()],
            2,
            |_| 0,
            |_, helpers| {
                let helpers = helpers.expect("two threads have helpers");
                while !helpers.has_idle() {
                    std::thread::yield_now();
                }
                let run = run_host_passes(&groups[0], bytes, &cfg, &shared, &opts, Some(helpers));
                (run.unwrap(), helpers.given())
            },
        );
        let [((helped, helped_ends), given)] = &helped[..] else {
            panic!("one host")
        };
        assert!(
            *given >= ends.len(),
            "{given} files parsed ahead in {ends:?}"
        );
        assert_eq!(helped_ends, &ends);
        assert_eq!(shown(helped), shown(&reference), "{ends:?}");
        let notes = format!(
            "{:?}",
            out.stats.iter().map(|s| &s.1.notes).collect::<Vec<_>>()
        );
        (ends, notes)
    }

    /// The collection's build host with its eslogger capture cut into runs of lines, the runs
    /// written in the given order (each a range of line indices), and optionally its other files.
    fn host(runs: &[std::ops::Range<usize>], others: bool) -> tempfile::TempDir {
        let (tmp, dir) = empty_host();
        write_runs("eslogger.jsonl", runs, &dir.join("eslogger.jsonl"));
        if others {
            for f in ["nettop.csv", "unifiedlog.ndjson"] {
                std::fs::copy(format!("{COLLECTION}/{f}"), dir.join(f)).unwrap();
            }
        }
        tmp
    }

    /// A temporary folder holding the build host's empty folder.
    fn empty_host() -> (tempfile::TempDir, std::path::PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("build-mac-07");
        std::fs::create_dir_all(&dir).unwrap();
        (tmp, dir)
    }

    const LINES: usize = 919;

    /// Writes the runs of lines of the build host's file `name` to `to`, in the order given.
    fn write_runs(name: &str, runs: &[std::ops::Range<usize>], to: &Path) {
        let text = std::fs::read_to_string(format!("{COLLECTION}/{name}")).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        if name == "eslogger.jsonl" {
            assert_eq!(lines.len(), LINES);
        }
        let mut body = String::new();
        for r in runs {
            for l in &lines[r.clone()] {
                body.push_str(l);
                body.push('\n');
            }
        }
        std::fs::write(to, body).unwrap();
    }

    /// The merge hands out the earliest head, and of heads at the same time the one of the file
    /// planned first. Three files share most of their records, so most heads tie; the middle one
    /// alone has lines 100-149, so it is read on while the other two wait, tied with each other.
    #[test]
    fn the_merge_takes_the_earliest_head_and_on_a_tie_the_first_file() {
        let (tmp, dir) = empty_host();
        let gap = [0..100, 150..LINES];
        write_runs("eslogger.jsonl", &gap, &dir.join("eslogger.1.jsonl"));
        // The whole capture, in two runs.
        write_runs(
            "eslogger.jsonl",
            &[0..100, 100..LINES],
            &dir.join("eslogger.2.jsonl"),
        );
        write_runs("eslogger.jsonl", &gap, &dir.join("eslogger.3.jsonl"));
        std::fs::copy(format!("{COLLECTION}/nettop.csv"), dir.join("nettop.csv")).unwrap();
        let cfg = Config::default();
        let opts = HuntOptions {
            paths: vec![tmp.path().to_path_buf()],
            threads: 1,
            ..HuntOptions::default()
        };
        let (planned, _) = plan(&opts).unwrap();
        let groups = by_host(planned);
        let files = &groups[0];
        assert_eq!(files.len(), 4);
        let clock = anchor(files, &cfg, &opts);
        // The events a merge of `files` hands out: time, file, line.
        let merged = |files: &[Planned]| {
            let mut out = Vec::new();
            merge(
                files,
                &clock,
                &cfg,
                &opts,
                PassPlan::alone(&Breaks::new(), Watch::Off),
                &mut |ev| {
                    out.push((ev.ts, ev.origin.file, ev.origin.line));
                    Ok(())
                },
            )
            .unwrap();
            out
        };
        let got = merged(files);
        // The reference: each file's events in the order the merge kept them (a file's own order,
        // which nettop's rows within a second do not keep by time), merged one event at a time by
        // looking at every head.
        let mut queues: Vec<std::collections::VecDeque<_>> = files
            .iter()
            .map(|p| got.iter().filter(|e| e.1 == p.id).copied().collect())
            .collect();
        // Each file's sequence is all of that file's events in its own order: what merging the
        // file alone gives.
        for (p, q) in files.iter().zip(&queues) {
            let alone = merged(std::slice::from_ref(p));
            assert!(!alone.is_empty(), "every file is read");
            assert!(q.iter().eq(alone.iter()), "{}", p.file.path.display());
        }
        let mut want = Vec::new();
        while let Some(first) = (0..queues.len())
            .filter_map(|k| queues[k].front().map(|e| (e.0, k)))
            .min()
        {
            want.extend(queues[first.1].pop_front());
        }
        let apart = got.iter().zip(&want).position(|(g, w)| g != w);
        assert_eq!(apart, None, "the merge's order differs at event {apart:?}");
        assert_eq!(got.len(), want.len());
        let ties = got
            .windows(2)
            .filter(|w| w[0].0 == w[1].0 && w[0].1 != w[1].1)
            .count();
        assert!(ties > 100, "{ties} ties between files");
    }

    #[test]
    fn without_a_backward_step_one_pass_is_the_hunt() {
        // Two runs in order: the capture as it is.
        let tmp = host(&[0..400, 400..LINES], true);
        let (ends, notes) = same_as_two_passes(tmp.path());
        assert_eq!(ends, [PassEnd::Whole]);
        assert!(!notes.contains("segments"), "{notes}");
    }

    /// The build host's capture as `runs`: the passes the hunt takes, and a note it must give.
    fn case(runs: &[std::ops::Range<usize>], ends: &[PassEnd], note: &str) {
        let tmp = host(runs, false);
        let (got, notes) = same_as_two_passes(tmp.path());
        assert_eq!(got, ends, "{runs:?}");
        assert!(notes.contains(note), "{runs:?}: {notes}");
    }

    #[test]
    fn an_early_step_costs_a_stopped_pass_and_the_hunt() {
        // The last 119 lines first: time runs back at line 120.
        let ends = [PassEnd::Stopped, PassEnd::Whole];
        case(
            &[800..LINES, 0..800],
            &ends,
            "line(s) 120: read as 2 separately",
        );
    }

    #[test]
    fn a_late_step_is_found_by_reading_on_not_by_more_passes() {
        // Time runs back at line 820, past half the host's bytes: the stopped pass reads on. So it
        // does for a step at the very last record.
        let ends = [PassEnd::StoppedAndScanned, PassEnd::Whole];
        case(
            &[100..LINES, 0..100],
            &ends,
            "line(s) 820: read as 2 separately",
        );
        case(
            &[1..LINES, 0..1],
            &ends,
            "line(s) 919: read as 2 separately",
        );
    }

    #[test]
    fn two_early_steps_are_found_one_pass_each() {
        let ends = [PassEnd::Stopped, PassEnd::Stopped, PassEnd::Whole];
        case(
            &[850..LINES, 750..850, 0..750],
            &ends,
            "line(s) 70, 170: read as 3",
        );
    }

    #[test]
    fn steps_in_two_files_of_a_host_are_each_found() {
        // The unified log runs back at its line 24, eslogger at its line 120; nettop merged in.
        let tmp = host(&[800..LINES, 0..800], true);
        let dir = tmp.path().join("build-mac-07");
        write_runs(
            "unifiedlog.ndjson",
            &[30..53, 0..30],
            &dir.join("unifiedlog.ndjson"),
        );
        let (ends, notes) = same_as_two_passes(tmp.path());
        assert!(ends.len() >= 3, "{ends:?}");
        assert!(notes.contains("line(s) 120: read as 2"), "{notes}");
        assert!(notes.contains("line(s) 24: read as 2"), "{notes}");
    }

    #[test]
    fn rotated_files_each_with_a_step_take_a_bounded_number_of_passes() {
        // Eight files of the capture in turn, each with its last 20 lines first.
        let (tmp, dir) = empty_host();
        let per = LINES.div_ceil(8);
        for k in 0..8 {
            let (a, b) = (k * per, ((k + 1) * per).min(LINES));
            let to = dir.join(format!("eslogger.{k}.jsonl"));
            write_runs("eslogger.jsonl", &[b - 20..b, a..b - 20], &to);
        }
        // Each step counts, however short (some runs of 20 lines span less than the slack).
        let mut cfg = Config::default();
        cfg.windows.reorder_slack = std::time::Duration::from_millis(1);
        let (ends, notes) = same_as_two_passes_with(tmp.path(), cfg);
        assert_eq!(notes.matches("line(s) 21: read as 2").count(), 8, "{notes}");
        assert_eq!(ends.len(), STOPPED_PASSES + 1, "{ends:?}");
        assert_eq!(
            ends[STOPPED_PASSES - 1],
            PassEnd::StoppedAndScanned,
            "{ends:?}"
        );
    }

    #[test]
    fn steps_within_each_others_evidence_and_beside_other_files_give_the_same_hunt() {
        // Two steps 50 lines apart (the first's clock-step evidence is cut short by the second),
        // with nettop and the unified log merged in.
        let tmp = host(&[500..LINES, 450..500, 0..450], true);
        let (_, notes) = same_as_two_passes(tmp.path());
        assert!(notes.contains("line(s) 420, 470: read as 3"), "{notes}");
    }

    /// Runs of `len` lines of the build host's capture, the last run first, the whole `times` over;
    /// each step back counts (a slack of a millisecond).
    fn reversed_runs(len: usize, times: usize) -> (Vec<PassEnd>, String) {
        let runs: Vec<_> = (0..LINES.div_ceil(len))
            .rev()
            .map(|k| k * len..(k * len + len).min(LINES))
            .collect();
        let runs: Vec<_> = (0..times).flat_map(|_| runs.iter().cloned()).collect();
        let tmp = host(&runs, false);
        let mut cfg = Config::default();
        cfg.windows.reorder_slack = std::time::Duration::from_millis(1);
        same_as_two_passes_with(tmp.path(), cfg)
    }

    #[test]
    fn steps_closer_than_their_evidence_are_read_on_together_and_capped() {
        // 92 runs of 10 lines: each step comes before the last one's evidence is complete, so the
        // first pass reads on through all of them, up to MAX_SEGMENTS.
        let (ends, notes) = reversed_runs(10, 1);
        assert_eq!(ends, [PassEnd::Stopped, PassEnd::Whole]);
        assert!(
            notes.contains(&format!("read as {MAX_SEGMENTS} separately")),
            "{notes}"
        );
    }

    #[test]
    fn many_spaced_steps_take_fewer_passes_than_steps() {
        // 14 runs of 70 lines: 13 steps, each settled before the next. The stopped passes read half
        // the bytes at most, then one reads the rest of the file for the remaining steps.
        let (ends, notes) = reversed_runs(70, 1);
        assert!(notes.contains("read as 14 separately"), "{notes}");
        assert!(ends.len() < 14, "{ends:?}");
        assert_eq!(ends[ends.len() - 2], PassEnd::StoppedAndScanned, "{ends:?}");
    }

    #[test]
    fn the_cap_on_segments_counts_the_breaks_of_earlier_passes() {
        // 13 spaced steps per copy, five copies: the later passes and the read to the end watch the
        // last segment knowing how many breaks came before it.
        let (ends, notes) = reversed_runs(70, 5);
        assert!(
            notes.contains(&format!("read as {MAX_SEGMENTS} separately")),
            "{notes}"
        );
        assert!(ends.len() > 2, "{ends:?}");
    }

    #[test]
    fn a_clock_step_found_across_passes_is_judged_as_in_one_pass() {
        // From line 400 on, event times read an hour less (start times keep the kernel's).
        let text = std::fs::read_to_string(format!("{COLLECTION}/eslogger.jsonl")).unwrap();
        let (tmp, dir) = empty_host();
        let key = "\"time\":\"2025-09-16T";
        let mut body = String::new();
        for (i, line) in text.lines().enumerate() {
            let mut line = line.to_string();
            if i >= 400 {
                let at = line.find(key).unwrap() + key.len();
                let h: u32 = line[at..at + 2].parse().unwrap();
                line.replace_range(at..at + 2, &format!("{:02}", h - 1));
            }
            body.push_str(&line);
            body.push('\n');
        }
        std::fs::write(dir.join("eslogger.jsonl"), body).unwrap();
        let (ends, notes) = same_as_two_passes(tmp.path());
        assert_eq!(ends, [PassEnd::Stopped, PassEnd::Whole]);
        assert!(
            notes.contains("the wall clock stepped back by 3600.0 s at line 401"),
            "{notes}"
        );
    }
}
