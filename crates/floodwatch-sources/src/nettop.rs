//! nettop: `nettop -L` CSV and `nettop -l` fixed-width text (shared/docs/telemetry-formats.md §2).
//!
//! What nettop gives and how it becomes [`Traffic`]:
//! - Frames: the header line repeats before each sample. A header (or, failing that, a process pid seen
//!   twice) ends the current frame. Columns are mapped by name from the latest header, so `-J` subsets work.
//! - Rows: `Name.pid` process rows, each followed (without `-P`) by its `proto local<->remote` socket rows.
//! - Counters are cumulative by default: per key (process `(pid, name)`, socket `(pid, endpoints, n-th
//!   duplicate)` or its `uuid`) the previous values are kept and the difference is emitted. The first frame
//!   is only the baseline. A counter that falls (a closed socket leaves its process total) is clamped to 0
//!   and counted in the notes. With `-d` the first frame is cumulative-since-start and is discarded; later
//!   frames are emitted as they are. In `auto` mode frame 2 is held until it ends and the mode is decided by
//!   whether its counters mostly fell (delta) or not (cumulative) against frame 1.
//! - A process's socket rows are emitted (protocol and remote known) instead of its own row, never both;
//!   a process row without socket rows (`-P`, fixed width) is emitted with [`Proto::Unknown`]. That is why a
//!   process row is held until the next process row or the end of the frame.
//! - Times: the `time` column is a local wall clock without date or zone. The offset is the host's (from its
//!   unified log) or `input.nettop_utc_offset`; the date is anchored once (see [`Clock`]) and advanced when
//!   the clock runs back by more than 12 hours (midnight). Without a time column (fixed width, or `-J`
//!   without `time`), frame k is placed at `anchor + k * input.nettop_interval`.

use crate::{ClockHints, Parsed, RecordParser, Reject, RejectReason, SourceCtx};
use floodwatch_core::config::NettopMode;
use floodwatch_core::event::{Event, EventKind, Origin, Proto, Traffic};
use floodwatch_core::time::{civil_from_days, parse_time_of_day, NANOS_PER_DAY, NANOS_PER_SEC};
use floodwatch_core::Ts;
use std::sync::{Arc, LazyLock};

type FastMap<K, V> = foldhash::HashMap<K, V>;
type FastSet<T> = foldhash::HashSet<T>;

/// Keys unseen for this many frames are forgotten (bounded memory on long captures). A socket that comes
/// back after that is counted as new, which only matters for rows nettop stopped listing for a while.
const RETAIN_FRAMES: u64 = 10;
const HALF_DAY: i64 = NANOS_PER_DAY / 2;

const SKIP_HEADER: &str = "nettop header";
const SKIP_BASELINE: &str = "first cumulative frame (delta baseline)";
const SKIP_FIRST_DELTA: &str = "first delta frame (cumulative since start, discarded)";
const SKIP_NO_TRAFFIC: &str = "no traffic in interval";
const SKIP_ORPHAN: &str = "socket row without a process row above";

/// Name cells remembered with their parse (a capture repeats the same names every frame); the memory
/// is dropped and rebuilt when there are more distinct ones than this.
const MAX_CACHED_CELLS: usize = 16_384;

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

/// What the name cell holds. Shared strings: the same names come back in every frame, as keys.
#[derive(Clone, Debug)]
enum What {
    Process {
        name: Arc<str>,
        pid: i32,
    },
    Socket {
        proto: Proto,
        /// The whole cell (`tcp4 a:1<->b:2`), part of the socket's key.
        desc: Arc<str>,
        remote: Option<Arc<str>>,
    },
}

/// A validated row before frame and key bookkeeping.
struct RawRow {
    what: What,
    /// Nanoseconds since local midnight, when the capture has a time column.
    tod: Option<i64>,
    uuid: Option<Arc<str>>,
    bytes_in: u64,
    bytes_out: u64,
}

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
enum Key {
    Proc(i32, Arc<str>),
    /// pid, endpoints (or uuid), n-th row with the same endpoints under that process (`udp4 *:*<->*:*` repeats).
    Sock(i32, Arc<str>, u32),
}

/// A row ready for the counter logic.
struct Row {
    line: u64,
    ts: Ts,
    key: Key,
    pid: i32,
    name: Arc<str>,
    /// Protocol and remote for socket rows; None for process rows.
    socket: Option<(Proto, Option<Arc<str>>)>,
    bytes_in: u64,
    bytes_out: u64,
}

struct Prev {
    bytes_in: u64,
    bytes_out: u64,
    ts: Ts,
    frame: u64,
}

/// A process row's interval volume, emitted only if no socket rows follow it.
struct Pending {
    line: u64,
    ts: Ts,
    start: Ts,
    pid: i32,
    name: Arc<str>,
    bytes_in: u64,
    bytes_out: u64,
    had_sockets: bool,
    /// What its socket rows accounted for in this interval.
    sock_in: u64,
    sock_out: u64,
}

/// A process's own total that exceeds the sum of its listed socket rows by more than this (per
/// interval) is emitted as unattributed-protocol traffic: sockets that opened and closed between
/// samples, or traffic nettop lists under an idle socket. Smaller differences are sampling skew
/// between the rows (real captures differ by about a kilobyte).
const RESIDUAL_MIN_BYTES: u64 = 64 * 1024;

/// Auto-mode evidence: keys whose total rose or fell between frames 1 and 2.
#[derive(Default, Clone, Copy)]
struct Votes {
    rose: u64,
    fell: u64,
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
    /// Process pids of the current frame: a repeat means a frame began without a header.
    frame_pids: FastSet<i32>,
    current_proc: Option<(i32, Arc<str>)>,
    /// Socket rows with the same endpoints so far under the current process.
    block_socks: FastMap<Arc<str>, u32>,
    prev: FastMap<Key, Prev>,
    /// Name cells already parsed, by their text.
    cells: FastMap<Box<str>, What>,
    /// Where the commas of the current CSV row are (reused from row to row).
    commas: Vec<usize>,
    pending: Option<Pending>,
    /// Frame 2's rows in auto mode, until the mode is decided.
    held: Vec<Row>,
    socket_votes: Votes,
    process_votes: Votes,
    clamps: u64,
    /// Process rows whose traffic their socket rows carry (emitted instead, never both).
    folded: u64,
    /// Auto-mode frame-2 rows that, once the mode was known, had no traffic.
    held_quiet: u64,
}

impl NettopParser {
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
            frame_pids: FastSet::default(),
            current_proc: None,
            block_socks: FastMap::default(),
            prev: FastMap::default(),
            cells: FastMap::default(),
            commas: Vec::new(),
            pending: None,
            held: Vec::new(),
            socket_votes: Votes::default(),
            process_votes: Votes::default(),
            clamps: 0,
            folded: 0,
            held_quiet: 0,
        }
    }

    fn on_header(&mut self, columns: Columns, out: &mut Vec<Event>) -> Parsed {
        // Ending a frame may flush a held process row or auto-mode rows: the reader counts those
        // events even though the header itself is a skip.
        self.end_frame(out);
        self.columns = Some(columns);
        self.current_proc = None;
        self.block_socks.clear();
        Parsed::Skipped(SKIP_HEADER.into())
    }

    /// Splits and validates a data row. On a bad process row the following socket rows must not be
    /// attributed to the process above it, so the current process is forgotten.
    fn raw_row(&mut self, record: &str) -> Result<RawRow, Reject> {
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
                self.block_socks.clear();
            }
            reject
        })
    }

    fn accept(&mut self, raw: RawRow, line: u64, out: &mut Vec<Event>) -> Parsed {
        let before = out.len();
        if let What::Process { pid, .. } = &raw.what {
            if !self.frame_pids.insert(*pid) {
                // Same pid twice: a new sample started without a header line.
                self.end_frame(out);
                self.frame_pids.insert(*pid);
            }
        }
        let ts = match raw.tod {
            Some(tod) => self.clock.at_time_of_day(tod),
            None => self.clock.frame_time(self.frame),
        };
        if self.rows_in_frame == 0 {
            self.frame_first_ts = Some(ts);
        }
        self.rows_in_frame += 1;
        let result = match self.resolve(raw, line, ts) {
            Some(row) => self.ingest(row, out),
            None => Parsed::Skipped(SKIP_ORPHAN.into()),
        };
        if out.len() > before {
            Parsed::Events
        } else {
            result
        }
    }

    /// Gives the row its key; socket rows take the pid and name of the process row above them.
    fn resolve(&mut self, raw: RawRow, line: u64, ts: Ts) -> Option<Row> {
        let (key, pid, name, socket) = match raw.what {
            What::Process { name, pid } => {
                self.current_proc = Some((pid, name.clone()));
                self.block_socks.clear();
                (Key::Proc(pid, name.clone()), pid, name, None)
            }
            What::Socket {
                proto,
                desc,
                remote,
            } => {
                let (pid, name) = self.current_proc.clone()?;
                let key = match raw.uuid {
                    Some(uuid) => Key::Sock(pid, uuid, 0),
                    None => {
                        let n = self.block_socks.entry(desc.clone()).or_insert(0);
                        *n += 1;
                        Key::Sock(pid, desc, *n - 1)
                    }
                };
                (key, pid, name, Some((proto, remote)))
            }
        };
        Some(Row {
            line,
            ts,
            key,
            pid,
            name,
            socket,
            bytes_in: raw.bytes_in,
            bytes_out: raw.bytes_out,
        })
    }

    fn ingest(&mut self, row: Row, out: &mut Vec<Event>) -> Parsed {
        if self.frame == 0 {
            self.remember(&row);
            return Parsed::Skipped(
                if self.mode == Mode::Delta {
                    SKIP_FIRST_DELTA
                } else {
                    SKIP_BASELINE
                }
                .into(),
            );
        }
        if self.mode == Mode::Auto {
            self.vote(&row);
            self.held.push(row);
            // Counted as (zero) events for now: the row is emitted when frame 2 ends.
            return Parsed::Events;
        }
        self.process(row, out)
    }

    fn remember(&mut self, row: &Row) {
        self.prev.insert(
            row.key.clone(),
            Prev {
                bytes_in: row.bytes_in,
                bytes_out: row.bytes_out,
                ts: row.ts,
                frame: self.frame,
            },
        );
    }

    fn vote(&mut self, row: &Row) {
        let Some(p) = self.prev.get(&row.key) else {
            return;
        };
        let (was, now) = (
            p.bytes_in.saturating_add(p.bytes_out),
            row.bytes_in.saturating_add(row.bytes_out),
        );
        let votes = if row.socket.is_some() {
            &mut self.socket_votes
        } else {
            &mut self.process_votes
        };
        if now < was {
            votes.fell += 1;
        } else if now > was {
            votes.rose += 1;
        }
    }

    /// Socket counters never fall in cumulative mode, so they decide when there are any; process totals
    /// can fall when sockets close and only decide for `-P` captures.
    fn decide_mode(&mut self) {
        let v = if self.socket_votes.rose + self.socket_votes.fell > 0 {
            self.socket_votes
        } else {
            self.process_votes
        };
        let (mode, name) = if v.fell > v.rose {
            (Mode::Delta, "delta (-d): the first frame was discarded")
        } else {
            (Mode::Cumulative, "cumulative")
        };
        self.mode = mode;
        self.mode_note = Some(format!(
            "nettop counters auto-detected as {name} ({} of {} changed counters fell between frames 1 and 2)",
            v.fell,
            v.fell + v.rose
        ));
    }

    /// The interval volume of a row (after the first frame, mode decided).
    fn process(&mut self, row: Row, out: &mut Vec<Event>) -> Parsed {
        let prev = self.prev.get(&row.key);
        let first_seen = prev.is_none();
        let start = prev
            .map(|p| p.ts)
            .or(self.prev_frame_ts)
            .unwrap_or(row.ts)
            .min(row.ts);
        let (bytes_in, bytes_out) = match prev {
            Some(p) if self.mode == Mode::Cumulative => {
                let (i, fell_in) = clamp_sub(row.bytes_in, p.bytes_in);
                let (o, fell_out) = clamp_sub(row.bytes_out, p.bytes_out);
                if fell_in || fell_out {
                    self.clamps += 1;
                }
                (i, o)
            }
            // Delta mode rows are already per interval; a key new since the baseline started within it.
            _ => (row.bytes_in, row.bytes_out),
        };
        self.remember(&row);
        match &row.socket {
            None => {
                self.flush_pending(out);
                if bytes_in > 0 || bytes_out > 0 {
                    self.pending = Some(Pending {
                        line: row.line,
                        ts: row.ts,
                        start,
                        pid: row.pid,
                        name: row.name,
                        bytes_in,
                        bytes_out,
                        had_sockets: false,
                        sock_in: 0,
                        sock_out: 0,
                    });
                    Parsed::Events
                } else {
                    // Any event just flushed belongs to the row before; the reader counts it.
                    Parsed::Skipped(SKIP_NO_TRAFFIC.into())
                }
            }
            Some((proto, remote)) => {
                if let Some(p) = &mut self.pending {
                    p.had_sockets = true;
                    p.sock_in = p.sock_in.saturating_add(bytes_in);
                    p.sock_out = p.sock_out.saturating_add(bytes_out);
                }
                // A listening or unconnected socket (wildcard remote) is not an outbound connection.
                let new_connections = u32::from(first_seen && remote.is_some());
                if bytes_in == 0 && bytes_out == 0 && new_connections == 0 {
                    return Parsed::Skipped(SKIP_NO_TRAFFIC.into());
                }
                let traffic = Traffic {
                    pid: Some(row.pid),
                    process_name: Some(row.name.to_string()),
                    process_path: None,
                    uid: None,
                    start,
                    proto: *proto,
                    remote: remote.as_deref().map(str::to_string),
                    bytes_out,
                    bytes_in,
                    packets_out: None,
                    packets_in: None,
                    new_connections,
                    ..Default::default()
                };
                out.push(self.event(row.ts, row.line, traffic));
                Parsed::Events
            }
        }
    }

    /// Emits the held process row if no socket rows followed it. True when an event was pushed.
    fn flush_pending(&mut self, out: &mut Vec<Event>) -> bool {
        let Some(p) = self.pending.take() else {
            return false;
        };
        let (bytes_in, bytes_out) = if p.had_sockets {
            // Only what the socket rows did not account for.
            let rest_in = p.bytes_in.saturating_sub(p.sock_in);
            let rest_out = p.bytes_out.saturating_sub(p.sock_out);
            if rest_out < RESIDUAL_MIN_BYTES && rest_in < RESIDUAL_MIN_BYTES {
                self.folded += 1;
                return false;
            }
            (rest_in, rest_out)
        } else {
            (p.bytes_in, p.bytes_out)
        };
        let traffic = Traffic {
            pid: Some(p.pid),
            process_name: Some(p.name.to_string()),
            process_path: None,
            uid: None,
            start: p.start,
            proto: Proto::Unknown,
            remote: None,
            bytes_out,
            bytes_in,
            packets_out: None,
            packets_in: None,
            new_connections: 0,
            ..Default::default()
        };
        out.push(self.event(p.ts, p.line, traffic));
        true
    }

    fn end_frame(&mut self, out: &mut Vec<Event>) {
        if self.rows_in_frame == 0 {
            return;
        }
        if self.mode == Mode::Auto && self.frame == 1 {
            self.decide_mode();
            for row in std::mem::take(&mut self.held) {
                if matches!(self.process(row, out), Parsed::Skipped(_)) {
                    self.held_quiet += 1;
                }
            }
        }
        self.flush_pending(out);
        self.prev_frame_ts = self.frame_first_ts.take();
        self.frame += 1;
        self.rows_in_frame = 0;
        self.frame_pids.clear();
        self.current_proc = None;
        self.block_socks.clear();
        let frame = self.frame;
        self.prev
            .retain(|_, p| frame.saturating_sub(p.frame) <= RETAIN_FRAMES);
    }

    fn event(&self, ts: Ts, line: u64, traffic: Traffic) -> Event {
        Event {
            ts,
            host: self.ctx.host.clone(),
            origin: Origin {
                file: self.ctx.file_id,
                line,
            },
            kind: EventKind::Traffic(Box::new(traffic)),
        }
    }
}

impl RecordParser for NettopParser {
    fn parse(&mut self, record: &str, line: u64, out: &mut Vec<Event>) -> Result<Parsed, Reject> {
        let header = match self.layout {
            Layout::Csv => csv_header(record),
            Layout::Fixed => fixed_header(record),
        };
        if let Some(columns) = header {
            return Ok(self.on_header(columns, out));
        }
        let raw = self.raw_row(record)?;
        Ok(self.accept(raw, line, out))
    }

    fn finish(&mut self, out: &mut Vec<Event>) {
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
        self.folded + self.held_quiet
    }
}

fn clamp_sub(now: u64, was: u64) -> (u64, bool) {
    match now.checked_sub(was) {
        Some(d) => (d, false),
        None => (0, true),
    }
}

// ---------------------------------------------------------------------------------------------------------
// Cells

/// [`name_cell`], remembered by the cell's text.
fn cached_name_cell(cache: &mut FastMap<Box<str>, What>, cell: &str) -> Option<What> {
    if let Some(what) = cache.get(cell) {
        return Some(what.clone());
    }
    let what = name_cell(cell)?;
    if cache.len() >= MAX_CACHED_CELLS {
        cache.clear();
    }
    cache.insert(cell.into(), what.clone());
    Some(what)
}

/// `Name.pid` (split on the last dot: names contain dots) or `proto local<->remote`.
fn name_cell(cell: &str) -> Option<What> {
    let cell = cell.trim();
    if let Some((proto, endpoints)) = cell.split_once(' ') {
        if let Some((_, remote)) = endpoints.split_once("<->") {
            if proto.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Some(What::Socket {
                    proto: socket_proto(proto),
                    desc: cell.into(),
                    remote: remote_endpoint(remote.trim()).map(Arc::from),
                });
            }
        }
    }
    let (name, pid) = cell.rsplit_once('.')?;
    if name.is_empty() || pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(What::Process {
        name: name.into(),
        pid: pid.parse().ok()?,
    })
}

fn socket_proto(p: &str) -> Proto {
    if p.starts_with("tcp") {
        Proto::Tcp
    } else if p.starts_with("udp") {
        Proto::Udp
    } else if p.starts_with("quic") {
        Proto::Quic
    } else {
        Proto::Other
    }
}

/// None for wildcards (`*:*`, `*.*`, `*.5353`); IPv6 `addr.port` becomes `[addr]:port` so every remote
/// reads host:port like IPv4 (`17.57.146.138:5223`) and hostnames (`one.one.one.one:443`).
fn remote_endpoint(r: &str) -> Option<String> {
    if r.is_empty() || r.starts_with('*') {
        return None;
    }
    if r.matches(':').count() >= 2 {
        if let Some((host, port)) = r.rsplit_once('.') {
            if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) {
                return Some(format!("[{host}]:{port}"));
            }
        }
    }
    Some(r.to_string())
}

/// A byte count: digits, or a number with a unit as nettop prints without `-x` (`1.5 MiB`).
/// Empty and `-` mean "no value" (0), anything else is an error.
fn count_cell(what: &str, cell: &str) -> Result<u64, Reject> {
    let c = cell.trim();
    if c.is_empty() || c == "-" {
        return Ok(0);
    }
    if let Ok(v) = c.parse::<u64>() {
        return Ok(v);
    }
    let bad = || {
        Reject::new(
            RejectReason::BadValue,
            format!("{what} {c:?} is not a byte count"),
        )
    };
    let split = c
        .find(|ch: char| !(ch.is_ascii_digit() || ch == '.'))
        .ok_or_else(bad)?;
    let v: f64 = c[..split].parse().map_err(|_| bad())?;
    let scale = match c[split..].trim() {
        "B" => 1.0,
        "KiB" | "KB" | "K" => 1024.0,
        "MiB" | "MB" | "M" => 1024.0 * 1024.0,
        "GiB" | "GB" | "G" => 1024.0 * 1024.0 * 1024.0,
        "TiB" | "TB" | "T" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(bad()),
    };
    let n = (v * scale).round();
    if n.is_finite() && n >= 0.0 && n < u64::MAX as f64 {
        Ok(n as u64)
    } else {
        Err(bad())
    }
}

// ---------------------------------------------------------------------------------------------------------
// CSV (-L)

/// `time,,interface,state,bytes_in,bytes_out,…,` or a `-J` subset (possibly without `time`).
fn csv_header(line: &str) -> Option<Columns> {
    // Most records are rows: a substring search rules them out before splitting.
    static BYTES_IN: LazyLock<memchr::memmem::Finder<'static>> =
        LazyLock::new(|| memchr::memmem::Finder::new("bytes_in"));
    BYTES_IN.find(line.as_bytes())?;
    let fields: Vec<&str> = line.split(',').map(str::trim).collect();
    let find = |n: &str| fields.iter().position(|f| *f == n);
    let (bytes_in, bytes_out) = (find("bytes_in"), find("bytes_out"));
    if bytes_in.is_none() || bytes_out.is_none() {
        return None;
    }
    Some(Columns::Csv {
        count: fields.len(),
        name: fields.iter().position(|f| f.is_empty())?,
        time: find("time"),
        bytes_in,
        bytes_out,
        uuid: find("uuid"),
    })
}

/// A CSV row's fields, by the positions of its commas (nettop does not quote).
struct Fields<'a> {
    line: &'a str,
    commas: &'a [usize],
}

impl<'a> Fields<'a> {
    fn len(&self) -> usize {
        self.commas.len() + 1
    }

    /// Fields `first..=last` with the commas between them.
    fn span(&self, first: usize, last: usize) -> &'a str {
        let start = match first {
            0 => 0,
            i => self.commas[i - 1] + 1,
        };
        let end = self.commas.get(last).copied().unwrap_or(self.line.len());
        &self.line[start..end]
    }

    /// Field `i` of the header, in a row whose name spilled over `extra` more fields.
    fn at(&self, name: usize, extra: usize, i: Option<usize>) -> &'a str {
        match i {
            Some(i) if i > name => self.span(i + extra, i + extra),
            Some(i) => self.span(i, i),
            None => "",
        }
    }
}

/// The error says whether the row was a process row (see [`NettopParser::raw_row`]).
fn csv_row(
    columns: &Columns,
    line: &str,
    cells: &mut FastMap<Box<str>, What>,
    commas: &mut Vec<usize>,
) -> Result<RawRow, (Reject, bool)> {
    let Columns::Csv {
        count,
        name,
        time,
        bytes_in,
        bytes_out,
        uuid,
    } = *columns
    else {
        return Err((Reject::new(RejectReason::BadRow, "not a CSV layout"), false));
    };
    commas.clear();
    commas.extend(memchr::memchr_iter(b',', line.as_bytes()));
    let fields = Fields { line, commas };
    if fields.len() < count {
        return Err((
            Reject::new(
                RejectReason::BadRow,
                format!("{} fields, the header has {count}", fields.len()),
            ),
            false,
        ));
    }
    // nettop does not quote: a name with commas spills into the next fields. The name column is the only
    // free text, so the extra fields belong to it.
    let extra = fields.len() - count;
    let name_text = fields.span(name, name + extra);
    let cell = |i: Option<usize>| fields.at(name, extra, i);
    let what = cached_name_cell(cells, name_text).ok_or_else(|| {
        (
            Reject::new(
                RejectReason::BadRow,
                format!("name cell {name_text:?} is neither Name.pid nor a socket"),
            ),
            false,
        )
    })?;
    let is_process = matches!(what, What::Process { .. });
    let tod = match time {
        Some(_) => {
            let t = cell(time).trim();
            Some(parse_time_of_day(t).ok_or_else(|| {
                (
                    Reject::new(RejectReason::BadTimestamp, format!("time {t:?}")),
                    is_process,
                )
            })?)
        }
        None => None,
    };
    let bi = count_cell("bytes_in", cell(bytes_in)).map_err(|r| (r, is_process))?;
    let bo = count_cell("bytes_out", cell(bytes_out)).map_err(|r| (r, is_process))?;
    let uuid = Some(cell(uuid).trim())
        .filter(|u| !u.is_empty())
        .map(Arc::from);
    Ok(RawRow {
        what,
        tod,
        uuid,
        bytes_in: bi,
        bytes_out: bo,
    })
}

// ---------------------------------------------------------------------------------------------------------
// Fixed width (-l)

/// `            interface        bytes_in       bytes_out`: words with the offset where each ends.
fn fixed_header(line: &str) -> Option<Columns> {
    let mut names = Vec::new();
    let mut ends = Vec::new();
    let mut start = None;
    for (i, c) in line
        .char_indices()
        .chain(std::iter::once((line.len(), ' ')))
    {
        match (c.is_whitespace(), start) {
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                names.push(Box::<str>::from(&line[s..i]));
                ends.push(i);
                start = None;
            }
            _ => {}
        }
    }
    let has = |n: &str| names.iter().any(|w| &**w == n);
    (has("bytes_in") && has("bytes_out")).then_some(Columns::Fixed { names, ends })
}

/// Cells separated by runs of two or more blanks (or a tab); a single space stays inside a cell
/// (`Signal Helper (.1069`). Returns byte ranges.
fn wide_cells(line: &str) -> Vec<(usize, usize)> {
    let b = line.as_bytes();
    let blank = |c: u8| c == b' ' || c == b'\t';
    let mut cells = Vec::new();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && blank(b[i]) {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let start = i;
        let mut end = i;
        while i < b.len() {
            if blank(b[i]) {
                let single = b[i] == b' ' && i + 1 < b.len() && !blank(b[i + 1]);
                if !single {
                    break;
                }
            } else {
                end = i + 1;
            }
            i += 1;
        }
        cells.push((start, end));
    }
    cells
}

/// Maps value cells to header columns by where they end (right-aligned: a value ends at its column's
/// right edge, or before it). Falls back to right-to-left order when positions are ambiguous.
fn map_fixed(ends: &[usize], cells: &[(usize, usize)]) -> Vec<Option<usize>> {
    let mut by_pos: Vec<Option<usize>> = Vec::with_capacity(cells.len());
    let mut used = vec![false; ends.len()];
    let mut ok = true;
    for &(_, end) in cells {
        match ends.iter().position(|&e| e >= end) {
            Some(j) if !used[j] => {
                used[j] = true;
                by_pos.push(Some(j));
            }
            _ => {
                ok = false;
                break;
            }
        }
    }
    if ok {
        return by_pos;
    }
    let n = ends.len();
    (0..cells.len())
        .map(|k| {
            let from_right = cells.len() - k;
            n.checked_sub(from_right)
        })
        .collect()
}

fn fixed_row(
    columns: &Columns,
    line: &str,
    cells_seen: &mut FastMap<Box<str>, What>,
) -> Result<RawRow, (Reject, bool)> {
    let Columns::Fixed { names, ends } = columns else {
        return Err((
            Reject::new(RejectReason::BadRow, "not a fixed-width layout"),
            false,
        ));
    };
    let cells = wide_cells(line);
    // The name is the leftmost run of cells that reads as Name.pid or a socket (a name may hold a double
    // space); the rest are values.
    let mut found = None;
    for i in 0..cells.len() {
        if let Some(what) = cached_name_cell(cells_seen, &line[cells[0].0..cells[i].1]) {
            found = Some((i, what));
            break;
        }
    }
    let Some((last_name_cell, what)) = found else {
        return Err((
            Reject::new(
                RejectReason::BadRow,
                format!("no Name.pid or socket cell in {:?}", line.trim()),
            ),
            false,
        ));
    };
    let is_process = matches!(what, What::Process { .. });
    let values = &cells[last_name_cell + 1..];
    let mut bytes_in = "";
    let mut bytes_out = "";
    let mut uuid = "";
    for (&(s, e), col) in values.iter().zip(map_fixed(ends, values)) {
        match col.map(|j| &*names[j]) {
            Some("bytes_in") => bytes_in = &line[s..e],
            Some("bytes_out") => bytes_out = &line[s..e],
            Some("uuid") => uuid = &line[s..e],
            _ => {}
        }
    }
    Ok(RawRow {
        what,
        tod: None,
        uuid: (!uuid.is_empty()).then(|| uuid.into()),
        bytes_in: count_cell("bytes_in", bytes_in).map_err(|r| (r, is_process))?,
        bytes_out: count_cell("bytes_out", bytes_out).map_err(|r| (r, is_process))?,
    })
}

// ---------------------------------------------------------------------------------------------------------
// Dates

/// Turns nettop's dateless local times into UTC instants.
///
/// The UTC offset is the host's (learned from its unified log) or `input.nettop_utc_offset`. The date is
/// chosen once, at the first row: `--date` if given; else the day (the reference's local date −1, 0 or +1)
/// that puts the first row closest to the earliest event of the host's dated sources; else the latest day
/// that puts it at or before the file's modification time (the capture's end); else the day closest to now
/// (live stdin).
///
/// Captures without a time column place frame 0 at the reference instant, else at the file's
/// modification time (times then trail the real ones by the capture's length), else now; `--date` replaces
/// the date of that instant (or means local midnight when there is nothing else), and frame k is
/// `nettop_interval` later per frame.
struct Clock {
    hints: ClockHints,
    offset: i32,
    offset_from_log: bool,
    interval: i64,
    /// Local day (days since the epoch) of the latest row, once anchored.
    day: Option<i64>,
    last_tod: i64,
    rollovers: u32,
    /// Frame 0's instant for captures without a time column.
    anchor: Option<Ts>,
    note: Option<String>,
}

impl Clock {
    fn new(ctx: &SourceCtx) -> Self {
        Clock {
            hints: ctx.clock.clone(),
            offset: ctx.clock.utc_offset.unwrap_or(ctx.input.nettop_utc_offset),
            offset_from_log: ctx.clock.utc_offset.is_some(),
            interval: i64::try_from(ctx.input.nettop_interval.as_nanos()).unwrap_or(NANOS_PER_SEC),
            day: None,
            last_tod: 0,
            rollovers: 0,
            anchor: None,
            note: None,
        }
    }

    fn offset_nanos(&self) -> i64 {
        self.offset as i64 * NANOS_PER_SEC
    }

    fn instant(&self, day: i64, tod: i64) -> Ts {
        Ts(day * NANOS_PER_DAY + tod - self.offset_nanos())
    }

    fn local_day(&self, t: Ts) -> i64 {
        (t.0 + self.offset_nanos()).div_euclid(NANOS_PER_DAY)
    }

    fn offset_text(&self) -> String {
        let source = if self.offset_from_log {
            "from the host's unified log"
        } else {
            "input.nettop_utc_offset"
        };
        format!("UTC offset {} ({source})", fmt_offset(self.offset))
    }

    fn at_time_of_day(&mut self, tod: i64) -> Ts {
        let Some(day) = self.day else {
            let day = self.pick_day(tod);
            self.day = Some(day);
            self.last_tod = tod;
            return self.instant(day, tod);
        };
        // Rows within a frame are a few µs out of order; only a jump of over 12 h is midnight.
        if tod < self.last_tod - HALF_DAY {
            self.day = Some(day + 1);
            self.rollovers += 1;
            self.last_tod = tod;
            return self.instant(day + 1, tod);
        }
        if tod > self.last_tod + HALF_DAY {
            // A straggler from just before midnight, listed after the first row past it.
            return self.instant(day - 1, tod);
        }
        self.last_tod = tod;
        self.instant(day, tod)
    }

    fn pick_day(&mut self, tod: i64) -> i64 {
        let closest = |this: &Self, t: Ts| {
            let base = this.local_day(t);
            (base - 1..=base + 1)
                .min_by_key(|&d| (this.instant(d, tod).0 - t.0).unsigned_abs())
                .unwrap_or(base)
        };
        let (day, why) = if let Some(f) = self.hints.forced_date {
            (f.0.div_euclid(NANOS_PER_DAY), "given by --date")
        } else if let Some(r) = self.hints.reference {
            // The first day that puts the row inside the other sources' span, widened by 6 h before
            // (nettop is often started before the other collectors) and 1 h after; else the day
            // closest to their start.
            let end = self.hints.reference_end.unwrap_or(r).max(r);
            let (before, after) = (6 * 3_600 * NANOS_PER_SEC, 3_600 * NANOS_PER_SEC);
            let (first, last) = (self.local_day(r) - 1, self.local_day(end) + 1);
            let inside = (first..=last).find(|&d| {
                let t = self.instant(d, tod).0;
                t >= r.0.saturating_sub(before) && t <= end.0.saturating_add(after)
            });
            (
                inside.unwrap_or_else(|| closest(self, r)),
                "anchored to the host's other sources",
            )
        } else if let Some(m) = self.hints.file_mtime {
            let base = self.local_day(m);
            let day = if self.instant(base, tod) <= m {
                base
            } else {
                base - 1
            };
            (
                day,
                "anchored to the file's modification time (capture end)",
            )
        } else {
            (
                closest(self, now()),
                "anchored to the current date (no dated source, no file time)",
            )
        };
        self.note = Some(format!(
            "nettop dates {why}: {}, {}",
            fmt_day(day),
            self.offset_text()
        ));
        day
    }

    fn frame_time(&mut self, frame: u64) -> Ts {
        let anchor = match self.anchor {
            Some(a) => a,
            None => {
                let a = self.pick_anchor();
                self.anchor = Some(a);
                a
            }
        };
        Ts(anchor
            .0
            .saturating_add(self.interval.saturating_mul(frame as i64)))
    }

    fn pick_anchor(&mut self) -> Ts {
        let (base, why) = if let Some(r) = self.hints.reference {
            (Some(r), "the host's other sources' earliest event")
        } else if let Some(m) = self.hints.file_mtime {
            (Some(m), "the file's modification time")
        } else {
            (None, "the current time")
        };
        let anchor = match (self.hints.forced_date, base) {
            (Some(f), Some(b)) => {
                let tod = (b.0 + self.offset_nanos()).rem_euclid(NANOS_PER_DAY);
                self.instant(f.0.div_euclid(NANOS_PER_DAY), tod)
            }
            (Some(f), None) => self.instant(f.0.div_euclid(NANOS_PER_DAY), 0),
            (None, Some(b)) => b,
            (None, None) => now(),
        };
        let why = if self.hints.forced_date.is_some() {
            format!("--date, time of day from {why}")
        } else {
            why.to_string()
        };
        self.note = Some(format!(
            "nettop capture has no time column: frame 0 placed at {anchor} ({why}), frames {} s apart, {}",
            self.interval as f64 / NANOS_PER_SEC as f64,
            self.offset_text()
        ));
        anchor
    }

    fn notes(&self) -> Vec<String> {
        let mut n: Vec<String> = self.note.iter().cloned().collect();
        if self.rollovers > 0 {
            n.push(format!(
                "nettop capture crossed midnight {} time(s): later rows dated up to {}",
                self.rollovers,
                fmt_day(self.day.unwrap_or(0))
            ));
        }
        n
    }
}

fn now() -> Ts {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Ts(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

fn fmt_day(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

fn fmt_offset(secs: i32) -> String {
    let sign = if secs < 0 { '-' } else { '+' };
    let a = secs.unsigned_abs();
    format!("{sign}{:02}:{:02}", a / 3600, (a % 3600) / 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{ctx, read_all};
    use crate::{FileStats, Format};
    use floodwatch_core::time::{parse_date, parse_rfc3339};

    const CORPUS: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/corpus/nettop/"
    );

    fn corpus(name: &str) -> String {
        std::fs::read_to_string(format!("{CORPUS}{name}")).unwrap()
    }

    fn ts(s: &str) -> Ts {
        parse_rfc3339(s).unwrap()
    }

    /// A context anchored to 2025-08-07 by a reference, offset +00:00, in the given mode.
    fn anchored(mode: NettopMode) -> SourceCtx {
        let mut c = ctx("nettop.csv");
        c.clock.reference = Some(ts("2025-08-07T00:39:40Z"));
        c.input.nettop_mode = mode;
        c
    }

    fn csv(data: &str, c: SourceCtx) -> (Vec<Event>, FileStats) {
        read_all(data.as_bytes(), Format::NettopCsv, c)
    }

    fn traffic(e: &Event) -> &Traffic {
        match &e.kind {
            EventKind::Traffic(t) => t,
            k => panic!("not traffic: {}", k.name()),
        }
    }

    /// (name, proto, remote, bytes_in, bytes_out, new_connections) of each event.
    fn summary(ev: &[Event]) -> Vec<(String, Proto, Option<String>, u64, u64, u32)> {
        ev.iter()
            .map(traffic)
            .map(|t| {
                (
                    t.process_name.clone().unwrap(),
                    t.proto,
                    t.remote.clone(),
                    t.bytes_in,
                    t.bytes_out,
                    t.new_connections,
                )
            })
            .collect()
    }

    fn row(
        name: &str,
        p: Proto,
        remote: Option<&str>,
        i: u64,
        o: u64,
        n: u32,
    ) -> (String, Proto, Option<String>, u64, u64, u32) {
        (name.to_string(), p, remote.map(str::to_string), i, o, n)
    }

    #[test]
    fn real_csv_single_frame_is_baseline() {
        let (ev, st) = csv(
            &corpus("netglass_nettop_L1_J_conn_rows_macos26.csv"),
            ctx("netglass.csv"),
        );
        assert_eq!((st.records, st.rejected, ev.len()), (295, 0, 0));
        assert_eq!(st.reasons.get("skipped: nettop header"), Some(&1));
        assert_eq!(
            st.reasons.get(&format!("skipped: {SKIP_BASELINE}")),
            Some(&294)
        );
        assert!(
            st.notes.iter().any(|n| n.contains("single frame")),
            "{:?}",
            st.notes
        );
        assert!(
            st.notes.iter().any(|n| n.starts_with("nettop dates")),
            "{:?}",
            st.notes
        );
    }

    /// Three samples in the real capture's shape: apsd and mDNSResponder with their sockets.
    const CUMULATIVE: &str = "\
time,,interface,state,bytes_in,bytes_out,
00:39:45.364011,apsd.590,,,7046,34544,
00:39:45.359621,tcp4 198.18.0.1:65358<->17.57.146.138:5223,utun8,Established,7046,34544,
00:39:45.364121,mDNSResponder.690,,,49701149,34147770,
00:39:45.359327,tcp4 198.18.0.1:64818<->1.1.1.1:443,utun8,Established,966021,381461,
00:39:45.358693,udp6 *.5353<->*.*,en0,,23978476,17043766,
00:39:45.358678,udp4 *:5353<->*:*,en0,,24756652,16722543,
00:39:45.364139,rapportd.1178,,,0,0,
00:39:45.360429,tcp6 *.51560<->*.*,,Listen,,,
time,,interface,state,bytes_in,bytes_out,
00:39:46.364011,apsd.590,,,7046,35544,
00:39:46.359621,tcp4 198.18.0.1:65358<->17.57.146.138:5223,utun8,Established,7046,35544,
00:39:46.364121,mDNSResponder.690,,,49702749,34149470,
00:39:46.359327,tcp4 198.18.0.1:64818<->1.1.1.1:443,utun8,Established,966121,382461,
00:39:46.358693,udp6 *.5353<->*.*,en0,,23978476,17043766,
00:39:46.358678,udp4 *:5353<->*:*,en0,,24756652,16722543,
00:39:46.358625,quic4 198.18.0.1:54104<->17.248.214.67:443,utun8,,1500,700,
00:39:46.364139,rapportd.1178,,,0,0,
00:39:46.360429,tcp6 *.51560<->*.*,,Listen,,,
time,,interface,state,bytes_in,bytes_out,
00:39:47.364011,apsd.590,,,7046,35544,
00:39:47.359621,tcp4 198.18.0.1:65358<->17.57.146.138:5223,utun8,Established,7046,35544,
00:39:47.364121,mDNSResponder.690,,,48737128,33769009,
00:39:47.358693,udp6 *.5353<->*.*,en0,,23978476,17043766,
00:39:47.358678,udp4 *:5353<->*:*,en0,,24756652,16722543,
00:39:47.358625,quic4 198.18.0.1:54104<->17.248.214.67:443,utun8,,1900,1700,
00:39:47.364139,rapportd.1178,,,0,0,
00:39:47.360429,tcp6 *.51560<->*.*,,Listen,,,
";

    #[test]
    fn cumulative_socket_deltas_without_double_counting() {
        for mode in [NettopMode::Cumulative, NettopMode::Auto] {
            let (ev, st) = csv(CUMULATIVE, anchored(mode));
            assert_eq!(st.rejected, 0);
            assert_eq!(
                summary(&ev),
                vec![
                    row("apsd", Proto::Tcp, Some("17.57.146.138:5223"), 0, 1000, 0),
                    row(
                        "mDNSResponder",
                        Proto::Tcp,
                        Some("1.1.1.1:443"),
                        100,
                        1000,
                        0
                    ),
                    row(
                        "mDNSResponder",
                        Proto::Quic,
                        Some("17.248.214.67:443"),
                        1500,
                        700,
                        1
                    ),
                    // Frame 3: the 1.1.1.1 socket closed, the process total fell: clamped, not emitted.
                    row(
                        "mDNSResponder",
                        Proto::Quic,
                        Some("17.248.214.67:443"),
                        400,
                        1000,
                        0
                    ),
                ],
                "{mode:?}"
            );
            let t = traffic(&ev[0]);
            assert_eq!(t.pid, Some(590));
            assert_eq!(ev[0].ts, ts("2025-08-07T00:39:46.359621Z"));
            assert_eq!(t.start, ts("2025-08-07T00:39:45.359621Z"));
            assert_eq!(ev[0].origin.line, 12);
            // The new socket's interval starts at the previous frame.
            assert_eq!(traffic(&ev[2]).start, ts("2025-08-07T00:39:45.364011Z"));
            assert!(st
                .notes
                .iter()
                .any(|n| n.starts_with("1 nettop counter decreases clamped")));
            assert!(st
                .notes
                .iter()
                .any(|n| n == "nettop dates anchored to the host's other sources: 2025-08-07, UTC offset +00:00 (input.nettop_utc_offset)"),
                "{:?}", st.notes);
            assert_eq!(
                st.reasons.get(&format!("skipped: {SKIP_BASELINE}")),
                Some(&8)
            );
            // Every header is a skip, also the one whose arrival releases auto mode's held frame.
            assert_eq!(st.reasons.get("skipped: nettop header"), Some(&3));
            assert_eq!(
                st.records,
                st.events + st.skipped + st.rejected + st.carried,
                "{st:?}"
            );
        }
    }

    #[test]
    fn a_process_total_beyond_its_sockets_is_not_lost() {
        // python3 sends 20 MB in the interval while its only listed socket is idle: the process row's
        // excess over its sockets is emitted (protocol unknown), not folded away.
        let data = "\
time,,interface,state,bytes_in,bytes_out,
00:39:45.364011,python3.6101,,,1000,5000,
00:39:45.359621,udp4 *:5353<->*:*,en0,,1000,5000,
time,,interface,state,bytes_in,bytes_out,
00:39:46.364011,python3.6101,,,1000,20005000,
00:39:46.359621,udp4 *:5353<->*:*,en0,,1000,5000,
time,,interface,state,bytes_in,bytes_out,
00:39:47.364011,python3.6101,,,1000,20006000,
00:39:47.359621,udp4 *:5353<->*:*,en0,,1000,6000,
";
        let (ev, st) = csv(data, ctx("residual.csv"));
        assert_eq!(
            summary(&ev),
            vec![
                row("python3", Proto::Unknown, None, 0, 20_000_000, 0),
                // Frame 3: the socket accounts for the 1,000 bytes; nothing left over to emit.
                row("python3", Proto::Udp, None, 0, 1000, 0),
            ]
        );
        assert_eq!(
            st.records,
            st.events + st.skipped + st.rejected + st.carried,
            "{st:?}"
        );
    }

    const PROCESS_ONLY: &str = "\
time,,interface,state,bytes_in,bytes_out,
00:39:45.364011,apsd.590,,,7046,34544,
00:39:45.364121,mDNSResponder.690,,,49701149,34147770,
time,,interface,state,bytes_in,bytes_out,
00:39:46.364011,apsd.590,,,7046,36544,
00:39:46.364121,mDNSResponder.690,,,49701149,34147770,
00:39:46.364200,curl.4242,,,100,5000,
";

    #[test]
    fn process_only_frames() {
        let (ev, st) = csv(PROCESS_ONLY, anchored(NettopMode::Auto));
        assert_eq!(
            summary(&ev),
            vec![
                row("apsd", Proto::Unknown, None, 0, 2000, 0),
                row("curl", Proto::Unknown, None, 100, 5000, 0),
            ]
        );
        assert_eq!(traffic(&ev[1]).pid, Some(4242));
        assert_eq!(traffic(&ev[1]).start, ts("2025-08-07T00:39:45.364011Z"));
        assert_eq!(st.reasons.get(&format!("skipped: {SKIP_NO_TRAFFIC}")), None);
        assert!(st
            .notes
            .iter()
            .any(|n| n.contains("auto-detected as cumulative")));
    }

    /// `nettop -d -L 3`: the first frame is cumulative since start, then per-interval values.
    const DELTA: &str = "\
time,,interface,state,bytes_in,bytes_out,
00:39:45.364011,apsd.590,,,7046,34544,
00:39:45.359621,tcp4 198.18.0.1:65358<->17.57.146.138:5223,utun8,Established,7046,34544,
00:39:45.364121,mDNSResponder.690,,,49701149,34147770,
00:39:45.359327,tcp4 198.18.0.1:64818<->1.1.1.1:443,utun8,Established,966021,381461,
time,,interface,state,bytes_in,bytes_out,
00:39:46.364011,apsd.590,,,0,120,
00:39:46.359621,tcp4 198.18.0.1:65358<->17.57.146.138:5223,utun8,Established,0,120,
00:39:46.364121,mDNSResponder.690,,,50,60,
00:39:46.359327,tcp4 198.18.0.1:64818<->1.1.1.1:443,utun8,Established,50,60,
time,,interface,state,bytes_in,bytes_out,
00:39:47.364011,apsd.590,,,0,0,
00:39:47.359621,tcp4 198.18.0.1:65358<->17.57.146.138:5223,utun8,Established,0,0,
00:39:47.364121,mDNSResponder.690,,,70,80,
00:39:47.359327,tcp4 198.18.0.1:64818<->1.1.1.1:443,utun8,Established,70,80,
";

    #[test]
    fn delta_mode_explicit_and_auto_detected() {
        let want = vec![
            row("apsd", Proto::Tcp, Some("17.57.146.138:5223"), 0, 120, 0),
            row("mDNSResponder", Proto::Tcp, Some("1.1.1.1:443"), 50, 60, 0),
            row("mDNSResponder", Proto::Tcp, Some("1.1.1.1:443"), 70, 80, 0),
        ];
        let (ev, st) = csv(DELTA, anchored(NettopMode::Delta));
        assert_eq!(summary(&ev), want);
        assert_eq!(
            st.reasons.get(&format!("skipped: {SKIP_FIRST_DELTA}")),
            Some(&4)
        );
        assert_eq!(st.rejected, 0);

        let (ev, st) = csv(DELTA, anchored(NettopMode::Auto));
        assert_eq!(summary(&ev), want);
        assert!(
            st.notes
                .iter()
                .any(|n| n.contains("auto-detected as delta")),
            "{:?}",
            st.notes
        );
        // Read as cumulative, the same capture falls between frames: clamps.
        let (_, st) = csv(DELTA, anchored(NettopMode::Cumulative));
        assert!(
            st.notes
                .iter()
                .any(|n| n.starts_with("6 nettop counter decreases")),
            "{:?}",
            st.notes
        );
    }

    #[test]
    fn auto_mode_with_two_frames_flushes_at_end() {
        let two: String = DELTA.lines().take(10).map(|l| format!("{l}\n")).collect();
        let (ev, _) = csv(&two, anchored(NettopMode::Auto));
        assert_eq!(ev.len(), 2);
        assert_eq!(traffic(&ev[0]).bytes_out, 120);
    }

    #[test]
    fn midnight_rollover() {
        let data = "\
time,,interface,state,bytes_in,bytes_out,
23:59:59.364011,apsd.590,,,7046,34544,
23:59:59.359621,tcp4 198.18.0.1:65358<->17.57.146.138:5223,utun8,Established,7046,34544,
time,,interface,state,bytes_in,bytes_out,
00:00:01.364011,apsd.590,,,7046,35544,
00:00:01.359621,tcp4 198.18.0.1:65358<->17.57.146.138:5223,utun8,Established,7046,35544,
23:59:59.999999,tcp4 198.18.0.1:65359<->17.57.146.138:443,utun8,Established,0,10,
";
        let mut c = ctx("n.csv");
        c.clock.forced_date = parse_date("2025-08-07");
        let (ev, st) = csv(data, c);
        assert_eq!(ev.len(), 2);
        assert_eq!(ev[0].ts, ts("2025-08-08T00:00:01.359621Z"));
        assert_eq!(traffic(&ev[0]).start, ts("2025-08-07T23:59:59.359621Z"));
        // A row listed after the rollover but stamped just before midnight keeps the earlier date.
        assert_eq!(ev[1].ts, ts("2025-08-07T23:59:59.999999Z"));
        assert!(st
            .notes
            .iter()
            .any(|n| n.contains("given by --date: 2025-08-07")));
        assert!(st
            .notes
            .iter()
            .any(|n| n.contains("crossed midnight 1 time")));
    }

    /// The date of the first row for given hints, and the note.
    fn first_row_ts(hints: ClockHints, offset: i32) -> (Ts, Vec<String>) {
        let mut c = ctx("n.csv");
        c.clock = hints;
        c.input.nettop_utc_offset = offset;
        let mut p = NettopParser::new_csv(c);
        let mut out = vec![];
        for (i, l) in CUMULATIVE.lines().enumerate() {
            p.parse(l, i as u64 + 1, &mut out).unwrap();
        }
        p.finish(&mut out);
        (out[0].ts, p.notes())
    }

    #[test]
    fn date_anchoring() {
        let frame2 = "00:39:46.359621";
        // Reference shortly before midnight UTC: the closest date is the next day.
        let (t, notes) = first_row_ts(
            ClockHints {
                reference: Some(ts("2025-08-06T23:50:00Z")),
                ..Default::default()
            },
            0,
        );
        assert_eq!(t, ts(&format!("2025-08-07T{frame2}Z")));
        assert!(notes[0].contains("other sources: 2025-08-07"));
        // The host's offset from its unified log wins over the configured one.
        let (t, notes) = first_row_ts(
            ClockHints {
                reference: Some(ts("2025-08-06T19:00:00Z")),
                utc_offset: Some(5 * 3600 + 1800),
                ..Default::default()
            },
            -7 * 3600,
        );
        assert_eq!(t, ts("2025-08-06T19:09:46.359621Z"));
        assert!(notes[0].ends_with("UTC offset +05:30 (from the host's unified log)"));
        // Rows 14 h after the other sources' first event, inside their span: the same day, not the
        // day before (which is closer to the first event).
        let (t, _) = first_row_ts(
            ClockHints {
                reference: Some(ts("2025-08-06T10:00:00Z")),
                reference_end: Some(ts("2025-08-07T06:00:00Z")),
                ..Default::default()
            },
            0,
        );
        assert_eq!(t, ts(&format!("2025-08-07T{frame2}Z")));
        // Forced date wins over the reference.
        let (t, _) = first_row_ts(
            ClockHints {
                reference: Some(ts("2025-08-06T23:50:00Z")),
                forced_date: parse_date("2025-01-02"),
                ..Default::default()
            },
            0,
        );
        assert_eq!(t, ts(&format!("2025-01-02T{frame2}Z")));
        // Modification time: the latest date with the first row at or before it.
        let (t, notes) = first_row_ts(
            ClockHints {
                file_mtime: Some(ts("2025-08-07T00:40:10Z")),
                ..Default::default()
            },
            0,
        );
        assert_eq!(t, ts(&format!("2025-08-07T{frame2}Z")));
        assert!(notes[0].contains("modification time"));
        let (t, _) = first_row_ts(
            ClockHints {
                file_mtime: Some(ts("2025-08-07T00:39:00Z")),
                ..Default::default()
            },
            0,
        );
        assert_eq!(t, ts(&format!("2025-08-06T{frame2}Z")));
        // Nothing at all: today's (or an adjacent) date.
        let (t, notes) = first_row_ts(ClockHints::default(), 0);
        assert!((t.0 - now().0).abs() <= NANOS_PER_DAY);
        assert!(notes[0].contains("current date"));
    }

    #[test]
    fn bad_cells_are_rejected() {
        let data = "\
time,,interface,state,bytes_in,bytes_out,
00:39:45.364011,apsd.590,,,7046,34544,
00:39:45.359621,tcp4 198.18.0.1:65358<->17.57.146.138:5223,utun8,Established,7046,34544,
time,,interface,state,bytes_in,bytes_out,
00:39:46.364011,apsd.590,,,7046,lots,
00:39:46.359621,tcp4 198.18.0.1:65358<->17.57.146.138:5223,utun8,Established,7046,35544,
00:39:46.364121,mDNSResponder.690,,,-,,
00:39:46.364122,no pid here,,,1,2,
25:00:00.000000,syslogd.394,,,1,2,
00:39:46.364123,syslogd.394,,,1,2";
        let (ev, st) = csv(data, anchored(NettopMode::Cumulative));
        assert!(ev.is_empty(), "{:?}", summary(&ev));
        assert_eq!(st.reasons.get("bad value"), Some(&1));
        assert_eq!(st.reasons.get("bad row"), Some(&1));
        assert_eq!(st.reasons.get("bad timestamp"), Some(&1));
        assert_eq!(st.reasons.get("truncated last line"), Some(&1));
        assert_eq!(st.samples[0].line, 5);
        // The socket row under the rejected process row is not given to another process.
        assert_eq!(st.reasons.get(&format!("skipped: {SKIP_ORPHAN}")), Some(&1));
        // `-` and empty cells are "no value", not errors.
        assert_eq!(
            st.reasons.get(&format!("skipped: {SKIP_NO_TRAFFIC}")),
            Some(&1)
        );
    }

    #[test]
    fn csv_without_time_column() {
        let data = "\
,bytes_in,bytes_out,
apsd.590,7046,34544,
Codex (Service).451,10,20,
,bytes_in,bytes_out,
apsd.590,7046,35544,
Codex (Service).451,10,20,
,bytes_in,bytes_out,
apsd.590,7046,35544,
Codex (Service).451,10,2020,
";
        let mut c = anchored(NettopMode::Auto);
        c.input.nettop_interval = std::time::Duration::from_secs(5);
        let (ev, st) = csv(data, c);
        assert_eq!(st.rejected, 0);
        assert_eq!(
            summary(&ev),
            vec![
                row("apsd", Proto::Unknown, None, 0, 1000, 0),
                row("Codex (Service)", Proto::Unknown, None, 0, 2000, 0),
            ]
        );
        assert_eq!(ev[0].ts, ts("2025-08-07T00:39:45Z"));
        assert_eq!(traffic(&ev[0]).start, ts("2025-08-07T00:39:40Z"));
        assert_eq!(ev[1].ts, ts("2025-08-07T00:39:50Z"));
        assert!(st.notes.iter().any(|n| n.contains("no time column")));
    }

    #[test]
    fn cells() {
        assert!(matches!(
            name_cell("com.apple.WebKi.1790"),
            Some(What::Process { ref name, pid: 1790 }) if &**name == "com.apple.WebKi"
        ));
        assert!(matches!(
            name_cell("Signal Helper (.1069"),
            Some(What::Process { ref name, pid: 1069 }) if &**name == "Signal Helper ("
        ));
        assert!(name_cell("kernel_task").is_none());
        assert!(name_cell("x.12a").is_none());
        let Some(What::Socket { proto, remote, .. }) = name_cell(
            "quic6 fe80::7ca2:20ff:fe4d:277%awdl0.52214<->fe80::13:faff:fe55:a839%awdl0.50386",
        ) else {
            panic!()
        };
        assert_eq!(proto, Proto::Quic);
        assert_eq!(
            remote.as_deref(),
            Some("[fe80::13:faff:fe55:a839%awdl0]:50386")
        );
        for w in ["udp4 *:*<->*:*", "udp6 *.5353<->*.*", "tcp6 *.51560<->*.*"] {
            assert!(
                matches!(name_cell(w), Some(What::Socket { remote: None, .. })),
                "{w}"
            );
        }
        assert_eq!(count_cell("b", " 1.5 KiB").unwrap(), 1536);
        assert_eq!(count_cell("b", "-").unwrap(), 0);
        assert!(count_cell("b", "1.22 ms").is_err());
        assert_eq!(
            wide_cells("Signal Helper (.1069      231681     95930"),
            vec![(0, 20), (26, 32), (37, 42)]
        );
    }

    fn fixed(data: &str, c: SourceCtx) -> (Vec<Event>, FileStats) {
        read_all(data.as_bytes(), Format::NettopFixed, c)
    }

    #[test]
    fn real_fixed_width() {
        let real = corpus("whichway_nettop_P_x_l2_fixedwidth.txt");
        let (ev, st) = fixed(&real, ctx("w.txt"));
        assert_eq!((st.records, st.rejected, ev.len()), (40, 0, 0));
        assert_eq!(
            st.reasons.get(&format!("skipped: {SKIP_BASELINE}")),
            Some(&39)
        );

        // A second sample (blank line, header again), three processes sent 1000 more bytes.
        let second = real
            .replace("231681           95930", "231681           96930")
            .replace("17611507         1063785", "17611507         1064785")
            .replace("808991          695717", "808991          696717");
        let both = format!("\n{real}{second}");
        let mut c = anchored(NettopMode::Auto);
        c.input.nettop_interval = std::time::Duration::from_secs(2);
        let (ev, st) = fixed(&both, c.clone());
        assert_eq!(st.rejected, 0);
        let got: Vec<(String, i32, u64)> = ev
            .iter()
            .map(traffic)
            .map(|t| (t.process_name.clone().unwrap(), t.pid.unwrap(), t.bytes_out))
            .collect();
        assert_eq!(
            got,
            vec![
                ("Microsoft Outlo".to_string(), 793, 1000),
                ("Signal Helper (".to_string(), 1069, 1000),
                ("Google Chrome H".to_string(), 1132, 1000),
            ]
        );
        assert_eq!(ev[0].ts, ts("2025-08-07T00:39:42Z"));
        assert_eq!(traffic(&ev[0]).start, ts("2025-08-07T00:39:40Z"));
        assert!(st.notes.iter().any(|n| n.contains("no time column")));

        // Without the repeated header, the repeated pids start the second frame.
        let rows_only: String = second.lines().skip(1).map(|l| format!("{l}\n")).collect();
        let (ev2, st2) = fixed(&format!("{real}{rows_only}"), c);
        assert_eq!(st2.rejected, 0);
        assert_eq!(ev2.len(), 3);
    }

    #[test]
    fn fixed_width_columns_by_position() {
        // Default-like columns where a middle column is empty on some rows.
        let line = |n: &str, i: &str, s: &str, a: &str, b: &str| {
            format!("{n:<20}{i:>12}{s:>8}{a:>11}{b:>11}\n")
        };
        let data = [
            line("", "interface", "state", "bytes_in", "bytes_out"),
            line("launchd.1", "", "", "10", "20"),
            line("Some  App.77", "en0", "", "1.5 KiB", "40"),
            line("launchd.1", "", "", "10", "25"),
            line("Some  App.77", "en0", "", "2 KiB", "40"),
        ]
        .concat();
        let data = data.as_str();
        let (ev, st) = fixed(data, anchored(NettopMode::Cumulative));
        assert_eq!(st.rejected, 0);
        assert_eq!(
            summary(&ev),
            vec![
                row("launchd", Proto::Unknown, None, 0, 5, 0),
                row("Some  App", Proto::Unknown, None, 512, 0, 0),
            ]
        );
    }
}
