//! `nettop -L 0` CSV (shared/docs/telemetry-formats.md §2), modelled on the real capture in
//! `tests/data/corpus/nettop/`: the header repeated before every frame, a trailing comma on every line,
//! `Name.pid` process rows (name truncated to 15 characters, process totals = the sum of its listed
//! sockets) each followed by its `proto local<->remote` socket rows, cumulative counters, and a `time`
//! column in local wall-clock time `HH:MM:SS.ffffff` without a date. Socket rows are sampled a few
//! milliseconds before their process row, as in the real capture.

use crate::util::{mix, nettop_time, Counting};
use floodwatch_core::Ts;
use std::collections::BTreeMap;
use std::io::{self, Write};

/// `nettop -n -L 0 -J bytes_in,bytes_out,interface,state,time` (the real capture's columns).
pub const HEADER_J: &str = "time,,interface,state,bytes_in,bytes_out,";
/// nettop's default `-L` columns.
pub const HEADER_DEFAULT: &str = "time,,interface,state,bytes_in,bytes_out,rx_dupe,rx_ooo,re-tx,rtt_avg,rcvsize,tx_win,tc_class,tc_mgt,cc_algo,P,C,R,W,arch,";

/// Which column set to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Columns {
    /// `-J bytes_in,bytes_out,interface,state,time` (6 fields + trailing comma).
    Selected,
    /// The default column set (20 fields + trailing comma).
    Default,
}

#[derive(Debug)]
struct Sock {
    desc: String,
    iface: String,
    state: String,
    bytes_in: u64,
    bytes_out: u64,
    counted: bool,
}

#[derive(Debug)]
struct NProc {
    name: String,
    sockets: Vec<Sock>,
}

/// Accumulates per-socket cumulative counters and writes one frame per [`NettopCsv::frame`] call.
pub struct NettopCsv<W: Write> {
    out: Counting<W>,
    offset: i32,
    columns: Columns,
    procs: BTreeMap<i32, NProc>,
    frames: u64,
    line: String,
    /// `nettop -P`: process rows only (their totals), no socket rows, so no protocol.
    process_only: bool,
}

/// nettop's 15-character process name.
pub fn truncate_name(name: &str) -> &str {
    match name.char_indices().nth(15) {
        Some((i, _)) => &name[..i],
        None => name,
    }
}

impl<W: Write> NettopCsv<W> {
    /// Writes the real capture's `-J` column set; `utc_offset_secs` places the `time` column in local time.
    pub fn new(w: W, utc_offset_secs: i32) -> Self {
        Self::with_columns(w, utc_offset_secs, Columns::Selected)
    }

    pub fn with_columns(w: W, utc_offset_secs: i32, columns: Columns) -> Self {
        NettopCsv {
            out: Counting::new(w),
            offset: utc_offset_secs,
            columns,
            procs: BTreeMap::new(),
            frames: 0,
            line: String::with_capacity(256),
            process_only: false,
        }
    }

    /// Writes as `nettop -P` does: one row per process (the sum of its sockets), no socket rows.
    pub fn set_process_only(&mut self, on: bool) {
        self.process_only = on;
    }

    /// Adds `bytes_in`/`bytes_out` to the cumulative counters of `socket` (e.g.
    /// `"udp4 10.0.0.5:5353<->203.0.113.9:53"`) of process `pid` named `name` (untruncated). A process
    /// seen under a new name at the same pid is a new process (pid reuse): its old sockets are dropped.
    #[allow(clippy::too_many_arguments)]
    pub fn add(
        &mut self,
        pid: i32,
        name: &str,
        socket: &str,
        iface: &str,
        state: &str,
        bytes_in: u64,
        bytes_out: u64,
    ) {
        let short = truncate_name(name);
        let p = self.procs.entry(pid).or_insert_with(|| NProc {
            name: short.to_string(),
            sockets: Vec::new(),
        });
        if p.name != short {
            p.name = short.to_string();
            p.sockets.clear();
        }
        if socket.is_empty() {
            return;
        }
        match p.sockets.iter_mut().find(|s| s.desc == socket) {
            Some(s) => {
                s.bytes_in += bytes_in;
                s.bytes_out += bytes_out;
                s.counted |= bytes_in > 0 || bytes_out > 0;
                s.iface = iface.to_string();
                s.state = state.to_string();
            }
            None => p.sockets.push(Sock {
                desc: socket.to_string(),
                iface: iface.to_string(),
                state: state.to_string(),
                bytes_in,
                bytes_out,
                counted: bytes_in > 0 || bytes_out > 0 || !is_idle(socket, state),
            }),
        }
    }

    /// Lists a process with no socket (a `Name.pid,,,0,0,` row).
    pub fn add_process(&mut self, pid: i32, name: &str) {
        self.add(pid, name, "", "", "", 0, 0);
    }

    /// The process exited: its rows stop appearing.
    pub fn remove(&mut self, pid: i32) {
        self.procs.remove(&pid);
    }

    /// A socket closed: its row stops appearing (and the process total drops by its counters).
    pub fn close_socket(&mut self, pid: i32, socket: &str) {
        if let Some(p) = self.procs.get_mut(&pid) {
            p.sockets.retain(|s| s.desc != socket);
        }
    }

    pub fn has_process(&self, pid: i32) -> bool {
        self.procs.contains_key(&pid)
    }

    /// Bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.out.bytes
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.inner.flush()
    }

    pub fn into_inner(self) -> W {
        self.out.inner
    }

    /// Writes the header and every known process row followed by its socket rows, at `ts`.
    pub fn frame(&mut self, ts: Ts) -> io::Result<()> {
        use std::fmt::Write as _;
        let header = match self.columns {
            Columns::Selected => HEADER_J,
            Columns::Default => HEADER_DEFAULT,
        };
        let mut buf = String::with_capacity(64 + self.procs.len() * 120);
        buf.push_str(header);
        buf.push('\n');
        self.frames += 1;
        let frame = self.frames;
        let mut k: i64 = 0;
        for (&pid, p) in &self.procs {
            k += 1;
            let row_ts = Ts(ts.0 + k * 13_000 + (mix(frame ^ (pid as u64) << 20) % 9_000) as i64);
            let (tin, tout) = p
                .sockets
                .iter()
                .fold((0u64, 0u64), |(a, b), s| (a + s.bytes_in, b + s.bytes_out));
            self.line.clear();
            let _ = write!(
                self.line,
                "{},{}.{pid},,,{tin},{tout},",
                nettop_time(row_ts, self.offset),
                p.name
            );
            if self.columns == Columns::Default {
                self.line.push_str("0,0,0,,,,,,,,,,,,");
            }
            buf.push_str(&self.line);
            buf.push('\n');
            if self.process_only {
                continue;
            }
            for (j, s) in p.sockets.iter().enumerate() {
                let h = mix(frame.wrapping_mul(31) ^ (pid as u64) << 16 ^ j as u64);
                let sock_ts = Ts(ts.0 - 4_600_000 - (h % 900_000) as i64);
                self.line.clear();
                let _ = write!(
                    self.line,
                    "{},{},",
                    nettop_time(sock_ts, self.offset),
                    s.desc
                );
                let tcp = s.desc.starts_with("tcp");
                if s.counted {
                    let _ = write!(
                        self.line,
                        "{},{},{},{},",
                        s.iface, s.state, s.bytes_in, s.bytes_out
                    );
                    if self.columns == Columns::Default {
                        if tcp {
                            let rtt = 0.4 + (h >> 20) as f64 % 4_000.0 / 100.0;
                            let _ = write!(
                                self.line,
                                "0,0,0,{rtt:.2} ms,131072,{},BE,-,cubic,-,-,-,-,so,",
                                131_072 + (h >> 40) % 4 * 65_536
                            );
                        } else {
                            self.line.push_str("0,0,0,,,,BE,-,,-,-,-,-,so,");
                        }
                    }
                } else {
                    let _ = write!(self.line, "{},{},,,", s.iface, s.state);
                    if self.columns == Columns::Default {
                        self.line.push_str(",,,,,,,,,,,,,,");
                    }
                }
                buf.push_str(&self.line);
                buf.push('\n');
            }
        }
        self.out.put(buf.as_bytes())
    }
}

/// A listening socket or an unconnected wildcard UDP socket: nettop leaves its counters empty.
fn is_idle(socket: &str, state: &str) -> bool {
    state == "Listen" || socket.ends_with("<->*:*") || socket.ends_with("<->*.*")
}
