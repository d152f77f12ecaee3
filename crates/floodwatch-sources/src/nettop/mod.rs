//! nettop: `nettop -L` CSV and `nettop -l` fixed-width text (shared/docs/telemetry-formats.md §2).
//!
//! What nettop gives and how it becomes [`Traffic`]:
//! - Frames: the header line repeats before each sample. A header (or, failing that, a process pid seen
//!   twice) ends the current frame. Columns are mapped by name from the latest header, so `-J` subsets work.
//! - Rows: `Name.pid` process rows, each followed (without `-P`) by its `proto local<->remote` socket rows.
//! - Counters are cumulative by default: per key (process `(pid, name)`, socket `(pid, endpoints, n-th
//!   duplicate)` or its `uuid`) the previous values are kept and the difference is emitted. The first frame
//!   is only the baseline. A counter that falls (a closed socket leaves its process total) is clamped to 0
//!   and counted in the notes; one that falls from near 2^32 to near 0 wrapped (2^32 - old + new). A rise
//!   no interface could carry (`input.nettop_max_bytes_per_s` over the interval, e.g. a counter reading
//!   2^64-1 for a frame) is a counter glitch: the row is rejected and not remembered, so the next frame
//!   measures from the last good value. A key first listed after the first frame with a total beyond one
//!   interval's plausible traffic is a lifetime total, taken as its baseline, not as a burst. With `-d` the first frame is cumulative-since-start and is discarded; later
//!   frames are emitted as they are. In `auto` mode frame 2 is held until it ends and the mode is decided by
//!   whether its counters mostly fell (delta) or not (cumulative) against frame 1.
//! - A process's socket rows are emitted (protocol and remote known) instead of its own row, never both;
//!   a process row without socket rows (`-P`, fixed width) is emitted with [`Proto::Unknown`]. That is why a
//!   process row is held until the next process row or the end of the frame.
//! - Times: the `time` column is a local wall clock without date or zone. The offset is the host's (from its
//!   unified log) or `input.nettop_utc_offset`; the date is anchored once (see `Clock`) and advanced when
//!   the clock runs back by more than 12 hours (midnight). Without a time column (fixed width, or `-J`
//!   without `time`), frame k is placed at `anchor + k * input.nettop_interval`.
//!
//! The module follows the pipeline: `csv` and `fixed` read a header and its rows (both layouts),
//! `cells` parses their name and byte cells, `counters` turns rows into per-interval traffic
//! (frames, keys, modes, held process rows) and `clock` dates them.

mod cells;
mod clock;
mod counters;
mod csv;
mod fixed;
#[cfg(test)]
mod tests;

use crate::{FileStats, Parsed, RecordParser, Reject, RejectReason, SourceCtx};
use cells::{Cells, NameId, Renumber};
use clock::Clock;
use counters::Votes;
use csv::{csv_header, csv_row};
use fixed::{fixed_header, fixed_row};
use floodwatch_core::config::NettopMode;
use floodwatch_core::event::{Event, EventKind, Proto, Traffic};
use floodwatch_core::Ts;
use std::sync::Arc;

type FastMap<K, V> = foldhash::HashMap<K, V>;
type FastSet<T> = foldhash::HashSet<T>;

const SKIP_HEADER: &str = "nettop header";
const SKIP_BASELINE: &str = "first cumulative frame (delta baseline)";
const SKIP_FIRST_DELTA: &str = "first delta frame (cumulative since start, discarded)";
const SKIP_NO_TRAFFIC: &str = "no traffic in interval";
const SKIP_ORPHAN: &str = "socket row without a process row above";
const SKIP_LATE_BASELINE: &str =
    "first listed mid-capture with a lifetime total beyond one interval's traffic (baseline)";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Layout {
    Csv,
    Fixed,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Cumulative,
    Delta,
    /// Not decided yet: frame 2 is held until it ends.
    Auto,
}

/// Column positions from the latest header.
#[derive(Clone)]
enum Columns {
    /// Field indexes; the name column is the one with an empty header.
    Csv {
        count: usize,
        name: usize,
        time: Option<usize>,
        bytes_in: Option<usize>,
        bytes_out: Option<usize>,
        uuid: Option<usize>,
    },
    /// Header words and the byte offset where each ends (the columns are right-aligned).
    Fixed {
        names: Vec<Box<str>>,
        ends: Vec<usize>,
    },
}

/// What the name cell holds. Names are ids in the parser's [`Names`]: the same names come back
/// in every frame, as keys.
#[derive(Clone, Copy, Debug)]
enum What {
    Process {
        name: NameId,
        pid: i32,
    },
    Socket {
        proto: Proto,
        /// The whole cell (`tcp4 a:1<->b:2`), part of the socket's key.
        desc: NameId,
        remote: Option<NameId>,
    },
}

/// A validated row before frame and key bookkeeping.
struct RawRow {
    what: What,
    /// Nanoseconds since local midnight, when the capture has a time column.
    tod: Option<i64>,
    uuid: Option<NameId>,
    bytes_in: u64,
    bytes_out: u64,
}

/// A counter's key: a process row's pid and name, or a socket row's pid, endpoints (or uuid) and
/// place among the rows with the same endpoints under that process (`udp4 *:*<->*:*` repeats).
/// Two words, each built in a register and stored and read whole. As an enum, the variant and the
/// pid were stored as two four-byte pieces and hashed as one eight-byte load, which the CPU cannot
/// take from the stores still in flight: a store-forwarding stall on every row (perf: a fifth of
/// `accept`'s samples, on the hash's first instruction).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
struct Key {
    /// The pid in the low 32 bits; bit 32 set for a socket row.
    pid_socket: u64,
    /// The name's id in the high 32 bits, the socket row's place in the low (0 for a process).
    name_place: u64,
}

impl Key {
    const SOCKET: u64 = 1 << 32;

    fn process(pid: i32, name: NameId) -> Key {
        Key {
            pid_socket: u64::from(pid as u32),
            name_place: u64::from(name.get()) << 32,
        }
    }

    fn socket(pid: i32, name: NameId, place: u32) -> Key {
        Key {
            pid_socket: Key::SOCKET | u64::from(pid as u32),
            name_place: u64::from(name.get()) << 32 | u64::from(place),
        }
    }

    fn name(&self) -> NameId {
        NameId::from_get((self.name_place >> 32) as u32)
    }

    fn renumbered(self, r: &Renumber) -> Key {
        Key {
            name_place: u64::from(r.id(self.name()).get()) << 32 | (self.name_place & 0xffff_ffff),
            ..self
        }
    }
}

/// A row ready for the counter logic.
struct Row {
    line: u64,
    ts: Ts,
    key: Key,
    pid: i32,
    name: NameId,
    /// Protocol and remote for socket rows; None for process rows.
    socket: Option<(Proto, Option<NameId>)>,
    bytes_in: u64,
    bytes_out: u64,
    /// The row, or the process row above a socket row, was not valid UTF-8 (a name cut mid-character
    /// or an attacker's bytes).
    invalid_utf8: bool,
}

#[derive(Clone, Copy)]
struct Prev {
    bytes_in: u64,
    bytes_out: u64,
    ts: Ts,
    frame: u64,
}

/// A record read before the file's first header, held until the header says what its columns are.
enum Held {
    Row {
        line: u64,
        text: Box<str>,
        invalid_utf8: bool,
    },
    /// A record rejected by the framer (too long, binary) between held rows: the socket rows after
    /// it are not the process's above it.
    Gap,
}

/// At most this many bytes of held rows, whatever `input.nettop_rows_before_header` says: the hold
/// is a lookahead, never a way to load a whole file.
const MAX_HELD_BYTES: usize = 16 << 20;

/// A process row's interval volume, emitted only if no socket rows follow it.
struct Pending {
    line: u64,
    ts: Ts,
    start: Ts,
    pid: i32,
    name: NameId,
    bytes_in: u64,
    bytes_out: u64,
    had_sockets: bool,
    /// What its socket rows accounted for in this interval.
    sock_in: u64,
    sock_out: u64,
    invalid_utf8: bool,
}

pub struct NettopParser {
    ctx: SourceCtx,
    layout: Layout,
    columns: Option<Columns>,
    clock: Clock,
    mode: Mode,
    mode_note: Option<String>,
    /// 0-based index of the current frame.
    frame: u64,
    rows_in_frame: u64,
    frame_first_ts: Option<Ts>,
    prev_frame_ts: Option<Ts>,
    /// The largest volume within one second's ceiling (`input.nettop_max_bytes_per_s`), as an
    /// integer: see [`second_ceiling`].
    second_ceiling: Option<u64>,
    /// Process pids of the current frame: a repeat means a frame began without a header.
    frame_pids: FastSet<i32>,
    /// The process row above the socket rows: pid, name, and whether it was valid UTF-8.
    current_proc: Option<(i32, NameId, bool)>,
    /// Socket rows with the same endpoints so far under the current process.
    block_socks: FastMap<NameId, u32>,
    prev: FastMap<Key, Prev>,
    /// Name cells already parsed, by their text, and the names they hold.
    cells: Cells,
    /// The last CSV header line and its columns: `nettop -L` repeats the header before every
    /// sample, and splitting it each time was a visible share of a capture's time.
    last_csv_header: Option<(Box<str>, Columns)>,
    /// Where the commas of the current CSV row are (reused from row to row).
    commas: Vec<usize>,
    pending: Option<Pending>,
    /// Frame 2's rows in auto mode, until the mode is decided.
    held: Vec<Row>,
    socket_votes: Votes,
    process_votes: Votes,
    clamps: u64,
    /// Rows whose counter wrapped at 2^32.
    wraps: u64,
    /// Rows first listed mid-capture with a lifetime total: baselines, not bursts.
    late_baselines: u64,
    /// Held (auto-mode frame 2) rows found to be counter glitches once the mode was known.
    held_glitches: u64,
    /// Process rows whose traffic their socket rows carry (emitted instead, never both).
    folded: u64,
    /// Auto-mode frame-2 rows that, once the mode was known, had no traffic.
    held_quiet: u64,
    /// Rows read before the file's first header (see [`Held`]), and their bytes.
    before_header: Vec<Held>,
    before_header_bytes: usize,
    /// A header was seen: rows are no longer held.
    seen_header: bool,
    /// Outcomes of held rows, decided when the header came (or the file ended without one), for
    /// [`RecordParser::settle_held`].
    settled: Vec<(u64, Result<std::borrow::Cow<'static, str>, Reject>)>,
}

impl NettopParser {
    /// Empties the per-process socket counts. Only when there is something to empty: clearing a
    /// hash map writes all its control bytes whatever it holds, and this runs at every process row.
    fn forget_block_socks(&mut self) {
        if !self.block_socks.is_empty() {
            self.block_socks.clear();
        }
    }

    pub fn new_csv(ctx: SourceCtx) -> Self {
        Self::new(ctx, Layout::Csv)
    }

    pub fn new_fixed(ctx: SourceCtx) -> Self {
        Self::new(ctx, Layout::Fixed)
    }

    fn new(ctx: SourceCtx, layout: Layout) -> Self {
        let mode = match ctx.input.nettop_mode {
            NettopMode::Cumulative => Mode::Cumulative,
            NettopMode::Delta => Mode::Delta,
            NettopMode::Auto => Mode::Auto,
        };
        let clock = Clock::new(&ctx);
        let second_ceiling = counters::second_ceiling(ctx.input.nettop_max_bytes_per_s);
        NettopParser {
            ctx,
            layout,
            columns: None,
            clock,
            mode,
            mode_note: None,
            frame: 0,
            rows_in_frame: 0,
            frame_first_ts: None,
            prev_frame_ts: None,
            second_ceiling,
            frame_pids: FastSet::default(),
            current_proc: None,
            block_socks: FastMap::default(),
            prev: FastMap::default(),
            cells: Cells::default(),
            last_csv_header: None,
            commas: Vec::new(),
            pending: None,
            held: Vec::new(),
            socket_votes: Votes::default(),
            process_votes: Votes::default(),
            clamps: 0,
            wraps: 0,
            late_baselines: 0,
            held_glitches: 0,
            folded: 0,
            held_quiet: 0,
            before_header: Vec::new(),
            before_header_bytes: 0,
            seen_header: false,
            settled: Vec::new(),
        }
    }

    fn on_header(&mut self, columns: Columns, out: &mut Vec<Event>) -> Parsed {
        // Ending a frame may flush a held process row or auto-mode rows: the reader counts those
        // events even though the header itself is a skip.
        self.end_frame(out);
        self.columns = Some(columns);
        self.current_proc = None;
        self.forget_block_socks();
        if !self.seen_header {
            self.seen_header = true;
            // The rows above the first header are its frame(s): read them now, in their order,
            // with its columns, and end their frame where the header stands.
            for held in std::mem::take(&mut self.before_header) {
                match held {
                    Held::Gap => self.unseen_record(),
                    Held::Row {
                        line,
                        text,
                        invalid_utf8,
                    } => {
                        let outcome = match self.raw_row(&text) {
                            Ok(raw) => match self.accept(&raw, line, invalid_utf8, out) {
                                Parsed::Events => None,
                                Parsed::Skipped(why) => Some(Ok(why)),
                                Parsed::Rejected(r) => Some(Err(r)),
                            },
                            Err(r) => Some(Err(r)),
                        };
                        self.settled.extend(outcome.map(|o| (line, o)));
                    }
                }
            }
            self.before_header_bytes = 0;
            self.end_frame(out);
            self.current_proc = None;
            self.forget_block_socks();
        }
        Parsed::Skipped(SKIP_HEADER.into())
    }

    /// A row before the file's first header: held (counted later, by `settle_held`) while the
    /// lookahead allows, rejected otherwise.
    fn hold(&mut self, record: &str, line: u64, invalid_utf8: bool) -> Result<Parsed, Reject> {
        let limit = self.ctx.input.nettop_rows_before_header;
        let rows = self.before_header.len();
        if rows >= limit || self.before_header_bytes + record.len() > MAX_HELD_BYTES {
            return Err(Reject::new(
                RejectReason::BadRow,
                format!(
                    "data row before any nettop header, past the {} rows held waiting for one \
                     (input.nettop_rows_before_header)",
                    rows
                ),
            ));
        }
        self.before_header_bytes += record.len();
        self.before_header.push(Held::Row {
            line,
            text: record.into(),
            invalid_utf8,
        });
        Ok(Parsed::Events)
    }

    /// Splits and validates a data row. On a bad process row the following socket rows must not be
    /// attributed to the process above it, so the current process is forgotten.
    fn raw_row(&mut self, record: &str) -> Result<RawRow, Reject> {
        // A row adds at most three names (name or endpoints, remote, uuid): checked before each,
        // the table stays within its limit and a few.
        if self.cells.names.is_full() {
            self.compact_names();
        }
        let Some(columns) = &self.columns else {
            return Err(Reject::new(
                RejectReason::BadRow,
                "data row before any nettop header",
            ));
        };
        let res = match columns {
            Columns::Csv { .. } => csv_row(columns, record, &mut self.cells, &mut self.commas),
            Columns::Fixed { .. } => fixed_row(columns, record, &mut self.cells),
        };
        res.map_err(|(reject, was_process)| {
            if was_process {
                self.current_proc = None;
                self.forget_block_socks();
            }
            reject
        })
    }

    fn record(
        &mut self,
        record: &str,
        line: u64,
        invalid_utf8: bool,
        out: &mut Vec<Event>,
    ) -> Result<Parsed, Reject> {
        let header = match self.layout {
            Layout::Csv => csv_header(record, &mut self.last_csv_header),
            Layout::Fixed => fixed_header(record),
        };
        if let Some(columns) = header {
            return Ok(self.on_header(columns, out));
        }
        if !self.seen_header {
            return self.hold(record, line, invalid_utf8);
        }
        // The row is read where `raw_row` wrote it, field by field: moving it out of the `Result`
        // copied it in sixteen-byte loads the CPU could not forward from the narrower stores that
        // had just written it (perf: 44% of this function's samples).
        let row = self.raw_row(record);
        let raw = match row {
            Ok(ref raw) => raw,
            Err(r) => return Err(r),
        };
        Ok(self.accept(raw, line, invalid_utf8, out))
    }

    /// Drops the names nothing holds (the counters' keys, the current process, its socket counts,
    /// the pending process row, auto-mode held rows) and renumbers the rest everywhere they are
    /// held. Rare: only when more distinct names than the limit were seen.
    fn compact_names(&mut self) {
        self.cells.forget_parses();
        let live = self
            .prev
            .keys()
            .map(Key::name)
            .chain(self.current_proc.map(|(_, n, _)| n))
            .chain(self.block_socks.keys().copied())
            .chain(self.pending.as_ref().map(|p| p.name))
            .chain(self.held.iter().flat_map(|r| {
                [Some(r.key.name()), Some(r.name), r.socket.and_then(|s| s.1)]
                    .into_iter()
                    .flatten()
            }))
            .collect::<Vec<_>>();
        let r = self.cells.names.compact(live);
        self.prev = std::mem::take(&mut self.prev)
            .into_iter()
            .map(|(k, p)| (k.renumbered(&r), p))
            .collect();
        self.block_socks = std::mem::take(&mut self.block_socks)
            .into_iter()
            .map(|(n, c)| (r.id(n), c))
            .collect();
        if let Some((_, n, _)) = &mut self.current_proc {
            *n = r.id(*n);
        }
        if let Some(p) = &mut self.pending {
            p.name = r.id(p.name);
        }
        for row in &mut self.held {
            row.key = row.key.renumbered(&r);
            row.name = r.id(row.name);
            if let Some((_, Some(remote))) = &mut row.socket {
                *remote = r.id(*remote);
            }
        }
    }

    #[cfg(test)]
    fn limit_names(&mut self, limit: usize) {
        self.cells.names = cells::Names::with_limit(limit);
    }

    /// The shared text of a name, for an event.
    fn text(&self, id: NameId) -> Arc<str> {
        self.cells.names.text(id).clone()
    }

    fn event(&self, ts: Ts, line: u64, traffic: Traffic) -> Event {
        self.ctx
            .event(ts, line, EventKind::Traffic(Box::new(traffic)))
    }
}

impl RecordParser for NettopParser {
    fn parse(&mut self, record: &str, line: u64, out: &mut Vec<Event>) -> Result<Parsed, Reject> {
        self.record(record, line, false, out)
    }

    /// The row's events (and those of socket rows under a process row) carry the flag; events of
    /// earlier rows flushed while reading this one do not.
    fn parse_lossy(
        &mut self,
        record: &str,
        line: u64,
        out: &mut Vec<Event>,
    ) -> Result<Parsed, Reject> {
        self.record(record, line, true, out)
    }

    /// The rejected row may have been a process row: the socket rows under it are not the
    /// process's above.
    fn unseen_record(&mut self) {
        // One gap stands for a run of them: the hold stays bounded by its rows.
        if !self.seen_header && matches!(self.before_header.last(), Some(Held::Row { .. })) {
            self.before_header.push(Held::Gap);
        }
        self.current_proc = None;
        self.forget_block_socks();
    }

    fn settle_held(&mut self, stats: &mut FileStats) {
        // Called after every record, and almost always with nothing to settle: a drain of an
        // empty list still built and dropped its iterator (0.7% of a nettop hunt).
        if self.settled.is_empty() {
            return;
        }
        for (line, outcome) in self.settled.drain(..) {
            match outcome {
                Ok(why) => stats.skip(why),
                Err(r) => stats.reject(line, r.reason.into(), r.detail),
            }
        }
    }

    fn finish(&mut self, out: &mut Vec<Event>) {
        // No header ever came: the held rows cannot be placed in columns.
        for held in std::mem::take(&mut self.before_header) {
            if let Held::Row { line, .. } = held {
                self.settled.push((
                    line,
                    Err(Reject::new(
                        RejectReason::BadRow,
                        "data row and no nettop header in the file",
                    )),
                ));
            }
        }
        if self.frame == 0 && self.rows_in_frame > 0 {
            self.mode_note = Some(
                "nettop capture has a single frame: it only serves as the counters' baseline, no traffic"
                    .into(),
            );
        }
        self.end_frame(out);
    }

    fn notes(&self) -> Vec<String> {
        let mut notes: Vec<String> = self.clock.notes();
        notes.extend(self.mode_note.clone());
        if self.clamps > 0 {
            notes.push(format!(
                "{} nettop counter decreases clamped to 0 (sockets closed or process totals fell)",
                self.clamps
            ));
        }
        if self.wraps > 0 {
            notes.push(format!(
                "{} nettop counters wrapped at 2^32 (counted as 2^32 - old + new)",
                self.wraps
            ));
        }
        if self.late_baselines > 0 {
            notes.push(format!(
                "{} nettop rows first listed mid-capture with a lifetime total beyond one interval's traffic: taken as baselines, not bursts",
                self.late_baselines
            ));
        }
        if self.held_glitches > 0 {
            notes.push(format!(
                "{} rows of the second frame (held while the counter mode was decided) were counter glitches beyond input.nettop_max_bytes_per_s: in no rate",
                self.held_glitches
            ));
        }
        if self.folded > 0 {
            notes.push(format!(
                "{} process rows carried no event of their own: their socket rows carry the traffic (never counted twice)",
                self.folded
            ));
        }
        if self.held_quiet > 0 {
            notes.push(format!(
                "{} rows of the second frame (held while the counter mode was decided) had no traffic",
                self.held_quiet
            ));
        }
        notes
    }

    fn carried(&self) -> u64 {
        self.folded + self.held_quiet + self.held_glitches
    }
}
