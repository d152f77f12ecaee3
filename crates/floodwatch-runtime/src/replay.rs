//! Per-host replay: a host's files are merged by event time into one fresh [`Engine`], which is
//! where a batch hunt becomes a replay of a stream. A file whose own time runs backwards is found in
//! a first pass and read again as separately ordered segments.

use crate::hunt::HuntOptions;
use crate::plan::{anchor, ctx_for, open_file, Planned};
use floodwatch_core::config::Config;
use floodwatch_core::event::Event;
use floodwatch_core::finding::NetworkFinding;
use floodwatch_core::{Error, Result, Ts};
use floodwatch_engine::baseline::Learner;
use floodwatch_engine::{AlertEvent, Engine, EngineStats, Shared};
use floodwatch_sources::{ClockHints, FileSource, FileStats};
use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::io::{BufReader, Seek, SeekFrom};
use std::sync::atomic::Ordering;
use std::sync::Arc;

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

pub(crate) fn merge_stats(into: &mut EngineStats, s: EngineStats) {
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
