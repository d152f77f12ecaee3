//! From rows to per-interval traffic: frames (ended by a header or a repeated pid), keys, the
//! counter mode (cumulative, delta, or decided by frame 2 in auto mode), and process rows held until
//! their socket rows say whether the process's own total is still needed.

use super::{
    Key, Mode, NettopParser, Pending, Prev, RawRow, Row, What, SKIP_BASELINE, SKIP_FIRST_DELTA,
    SKIP_LATE_BASELINE, SKIP_NO_TRAFFIC, SKIP_ORPHAN,
};
use crate::{Parsed, Reject, RejectReason};
use floodwatch_core::event::{Event, Proto, Traffic};
use floodwatch_core::time::NANOS_PER_SEC;
use floodwatch_core::Ts;
use std::collections::hash_map::Entry;

/// Keys unseen for this many frames are forgotten (bounded memory on long captures). A socket that comes
/// back after that is counted as new, which only matters for rows nettop stopped listing for a while.
const RETAIN_FRAMES: u64 = 10;

/// A process's own total that exceeds the sum of its listed socket rows by more than this (per
/// interval) is emitted as unattributed-protocol traffic: sockets that opened and closed between
/// samples, or traffic nettop lists under an idle socket. Smaller differences are sampling skew
/// between the rows (real captures differ by about a kilobyte).
const RESIDUAL_MIN_BYTES: u64 = 64 * 1024;

/// A counter that falls from this close below 2^32 to below this is a 32-bit counter that wrapped
/// (1/16 of its range: a process total that falls because a socket closed rarely lands there).
const WRAP_WINDOW: u64 = 1 << 28;

/// A row first listed after the first frame accrued its total since it started, which may be long
/// before: when that total is more than a new flow could send in the interval at this rate (1 Gbit/s,
/// a Mac's usual link), it is a lifetime total (a process nettop starts listing, a key forgotten
/// after `RETAIN_FRAMES`) and only a baseline. Below it, a new row's total is the interval's traffic
/// (a new socket, a short-lived curl).
const NEW_ROW_MAX_BYTES_PER_S: f64 = 125_000_000.0;

/// How a cumulative counter moved between two samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Change {
    Rose(u64),
    /// Passed 2^32 and started again: the bytes of the interval.
    Wrapped(u64),
    /// Fell (sockets of the process closed): clamped to 0.
    Fell,
}

impl Change {
    fn of(now: u64, was: u64) -> Change {
        match now.checked_sub(was) {
            Some(d) => Change::Rose(d),
            None if was <= u64::from(u32::MAX)
                && was >= (1 << 32) - WRAP_WINDOW
                && now < WRAP_WINDOW =>
            {
                // was < 2^32: no overflow.
                Change::Wrapped((1u64 << 32) - was + now)
            }
            None => Change::Fell,
        }
    }

    fn bytes(self) -> u64 {
        match self {
            Change::Rose(d) | Change::Wrapped(d) => d,
            Change::Fell => 0,
        }
    }
}

/// Seconds from `start` to `end`, at least one (rows of a frame are sampled microseconds apart; a
/// ceiling over a near-zero interval would judge noise).
fn interval_secs(start: Ts, end: Ts) -> f64 {
    (end.0.saturating_sub(start.0) as f64 / NANOS_PER_SEC as f64).max(1.0)
}

/// The largest volume `v` with `v as f64 <= per_s`, the one-second ceiling compared as an integer
/// ([`NettopParser::glitch`]'s usual case). Float conversion is monotone, so the volumes within the
/// ceiling are exactly `0..=` this; `None` when none is (a negative or NaN ceiling).
pub(super) fn second_ceiling(per_s: f64) -> Option<u64> {
    // NaN is not at or above zero either.
    if per_s.is_nan() || per_s < 0.0 {
        return None;
    }
    // Binary search over all of u64: above 2^53 a float has gaps, so the floor of `per_s` is not
    // always the answer (a larger integer can round down onto it).
    let (mut lo, mut hi) = (0u64, u64::MAX);
    if hi as f64 <= per_s {
        return Some(hi);
    }
    // Invariant: lo is within, hi is not.
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if mid as f64 <= per_s {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(lo)
}

/// Auto-mode evidence: keys whose total rose or fell between frames 1 and 2.
#[derive(Default, Clone, Copy)]
pub(super) struct Votes {
    rose: u64,
    fell: u64,
}

impl NettopParser {
    pub(super) fn accept(
        &mut self,
        raw: &RawRow,
        line: u64,
        invalid_utf8: bool,
        out: &mut Vec<Event>,
    ) -> Parsed {
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
        let result = match self.resolve(raw, line, ts, invalid_utf8) {
            Some(row) => self.ingest(row, out),
            None => Parsed::Skipped(SKIP_ORPHAN.into()),
        };
        // The row's own outcome, even when it flushed an earlier row's event (the reader counts
        // that event apart): a quiet process row after a busy one is still a skip, so records =
        // events + skipped + rejected + carried holds for process-only (`-P`) captures too.
        result
    }

    /// Gives the row its key; socket rows take the pid and name of the process row above them.
    fn resolve(&mut self, raw: &RawRow, line: u64, ts: Ts, invalid_utf8: bool) -> Option<Row> {
        let (key, pid, name, socket, invalid_utf8) = match raw.what {
            What::Process { name, pid } => {
                self.current_proc = Some((pid, name, invalid_utf8));
                self.forget_block_socks();
                (Key::process(pid, name), pid, name, None, invalid_utf8)
            }
            What::Socket {
                proto,
                desc,
                remote,
            } => {
                // A socket row carries its process's name: its flag too.
                let (pid, name, proc_invalid) = self.current_proc?;
                let key = match raw.uuid {
                    Some(uuid) => Key::socket(pid, uuid, 0),
                    None => {
                        let n = self.block_socks.entry(desc).or_insert(0);
                        *n += 1;
                        Key::socket(pid, desc, *n - 1)
                    }
                };
                (
                    key,
                    pid,
                    name,
                    Some((proto, remote)),
                    invalid_utf8 || proc_invalid,
                )
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
            invalid_utf8,
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
            // Remembered when judged, once frame 2 has decided the mode.
            let prev = self.prev.get(&row.key).copied();
            if let Some(detail) = self.glitch(&row, self.mode, prev) {
                return Parsed::Rejected(Reject::new(RejectReason::CounterGlitch, detail));
            }
            self.vote(&row);
            self.held.push(row);
            // Counted as (zero) events for now: the row is emitted when frame 2 ends.
            return Parsed::Events;
        }
        // The one lookup of the row's key reads its last sample and writes this row's in its
        // place; a glitch puts the last one back.
        let now = self.sample(&row);
        let prev = match self.prev.entry(row.key) {
            Entry::Occupied(mut o) => Some(o.insert(now)),
            Entry::Vacant(v) => {
                v.insert(now);
                None
            }
        };
        if let Some(detail) = self.glitch(&row, self.mode, prev) {
            // Not remembered: the next good frame measures from the last good value.
            match prev {
                Some(was) => self.prev.insert(row.key, was),
                None => self.prev.remove(&row.key),
            };
            return Parsed::Rejected(Reject::new(RejectReason::CounterGlitch, detail));
        }
        self.process(row, prev, out)
    }

    /// The row as its key's last sample.
    fn sample(&self, row: &Row) -> Prev {
        Prev {
            bytes_in: row.bytes_in,
            bytes_out: row.bytes_out,
            ts: row.ts,
            frame: self.frame,
        }
    }

    fn remember(&mut self, row: &Row) {
        self.prev.insert(row.key, self.sample(row));
    }

    fn vote(&mut self, row: &Row) {
        let Some(p) = self.prev.get(&row.key) else {
            return;
        };
        let changes = [
            Change::of(row.bytes_in, p.bytes_in),
            Change::of(row.bytes_out, p.bytes_out),
        ];
        let votes = if row.socket.is_some() {
            &mut self.socket_votes
        } else {
            &mut self.process_votes
        };
        // A 32-bit wrap is a counter that rose.
        if changes.contains(&Change::Fell) {
            votes.fell += 1;
        } else if changes.iter().any(|c| c.bytes() > 0) {
            votes.rose += 1;
        }
    }

    /// Why the row is a counter glitch, if it is: its interval volume (in `mode`; in auto mode, the
    /// smaller of the cumulative and delta readings) is more than `input.nettop_max_bytes_per_s`
    /// could carry over the interval. A row first seen in cumulative mode has no interval volume yet.
    /// `prev` is the key's last good sample (`self.prev`), looked up once by the caller.
    /// Marked for inlining, with the rare glitch's reason built out of line: a call that returned
    /// an `Option<String>` through memory cost a third of this function's instructions on every
    /// row.
    #[inline]
    fn glitch(&self, row: &Row, mode: Mode, prev: Option<Prev>) -> Option<String> {
        let start = prev.map(|p| p.ts).or(self.prev_frame_ts)?;
        let volume = |now: u64, was: Option<u64>| match (mode, was) {
            (Mode::Delta, _) => Some(now),
            (Mode::Cumulative, Some(was)) => Some(Change::of(now, was).bytes()),
            (Mode::Auto, Some(was)) => Some(Change::of(now, was).bytes().min(now)),
            (_, None) => None,
        };
        let v_in = volume(row.bytes_in, prev.map(|p| p.bytes_in));
        let v_out = volume(row.bytes_out, prev.map(|p| p.bytes_out));
        // An interval is at least a second, so volumes within one second's ceiling are within
        // any interval's: most rows are decided without the division (its latency was most of
        // this function's time), and by an integer compare (converting each volume to compare it
        // as a float was about 30% of what was left).
        if let Some(max) = self.second_ceiling {
            if v_in.is_none_or(|v| v <= max) && v_out.is_none_or(|v| v <= max) {
                return None;
            }
        }
        let counters = [
            ("bytes_in", row.bytes_in, prev.map(|p| p.bytes_in), v_in),
            ("bytes_out", row.bytes_out, prev.map(|p| p.bytes_out), v_out),
        ];
        let per_s = self.ctx.input.nettop_max_bytes_per_s;
        Self::beyond_ceiling(start, row.ts, per_s, counters)
    }

    /// The reason of [`Self::glitch`], for a row that may be beyond one second's ceiling.
    #[inline(never)]
    #[cold]
    fn beyond_ceiling(
        start: Ts,
        end: Ts,
        per_s: f64,
        counters: [(&str, u64, Option<u64>, Option<u64>); 2],
    ) -> Option<String> {
        let secs = interval_secs(start, end);
        let ceiling = per_s * secs;
        counters.into_iter().find_map(|(name, now, was, v)| {
            let v = v?;
            (v as f64 > ceiling).then(|| {
                format!(
                    "{name} {now} (was {}): {v} bytes in {secs:.1} s is beyond input.nettop_max_bytes_per_s ({per_s})",
                    was.map_or("-".to_string(), |w| w.to_string()),
                )
            })
        })
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

    /// The interval volume of a row (after the first frame, mode decided), whose sample the
    /// caller has remembered. `prev` (the one before) as for [`Self::glitch`].
    pub(super) fn process(&mut self, row: Row, prev: Option<Prev>, out: &mut Vec<Event>) -> Parsed {
        let first_seen = prev.is_none();
        let start = prev
            .map(|p| p.ts)
            .or(self.prev_frame_ts)
            .unwrap_or(row.ts)
            .min(row.ts);
        let (bytes_in, bytes_out) = match prev {
            Some(p) if self.mode == Mode::Cumulative => {
                let changes = [
                    Change::of(row.bytes_in, p.bytes_in),
                    Change::of(row.bytes_out, p.bytes_out),
                ];
                if changes.contains(&Change::Fell) {
                    self.clamps += 1;
                }
                if changes.iter().any(|c| matches!(c, Change::Wrapped(_))) {
                    self.wraps += 1;
                }
                (changes[0].bytes(), changes[1].bytes())
            }
            // Delta mode rows are already per interval; a key new since the baseline started within it.
            _ => (row.bytes_in, row.bytes_out),
        };
        let total = row.bytes_in.saturating_add(row.bytes_out);
        if first_seen
            && self.mode == Mode::Cumulative
            && total as f64 > NEW_ROW_MAX_BYTES_PER_S * interval_secs(start, row.ts)
        {
            if row.socket.is_none() {
                // The process row before it is complete.
                self.flush_pending(out);
            }
            self.late_baselines += 1;
            return Parsed::Skipped(SKIP_LATE_BASELINE.into());
        }
        match row.socket {
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
                        invalid_utf8: row.invalid_utf8,
                    });
                    Parsed::Events
                } else {
                    // Any event just flushed belongs to the row before; the reader counts it.
                    Parsed::Skipped(SKIP_NO_TRAFFIC.into())
                }
            }
            Some((proto, remote)) => {
                // Only the pending row of this socket's own process: a process row rejected as
                // a glitch left the one before pending.
                if let Some(p) = self.pending.as_mut().filter(|p| p.pid == row.pid) {
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
                    process_name: Some(self.text(row.name)),
                    process_path: None,
                    uid: None,
                    start,
                    proto,
                    remote: remote.map(|r| self.text(r)),
                    bytes_out,
                    bytes_in,
                    packets_out: None,
                    packets_in: None,
                    new_connections,
                    invalid_utf8: row.invalid_utf8,
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
            process_name: Some(self.text(p.name)),
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
            invalid_utf8: p.invalid_utf8,
            ..Default::default()
        };
        out.push(self.event(p.ts, p.line, traffic));
        true
    }

    pub(super) fn end_frame(&mut self, out: &mut Vec<Event>) {
        if self.rows_in_frame == 0 {
            return;
        }
        if self.mode == Mode::Auto && self.frame == 1 {
            self.decide_mode();
            for row in std::mem::take(&mut self.held) {
                // Judged before the mode was known: judged again, now in the decided mode.
                let prev = self.prev.get(&row.key).copied();
                if self.glitch(&row, self.mode, prev).is_some() {
                    self.held_glitches += 1;
                    continue;
                }
                self.remember(&row);
                if matches!(self.process(row, prev, out), Parsed::Skipped(_)) {
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
        self.forget_block_socks();
        let frame = self.frame;
        self.prev
            .retain(|_, p| frame.saturating_sub(p.frame) <= RETAIN_FRAMES);
    }
}

#[cfg(test)]
mod tests {
    use super::{second_ceiling, Change, WRAP_WINDOW};

    #[test]
    fn counter_changes() {
        assert_eq!(Change::of(10, 4), Change::Rose(6));
        assert_eq!(Change::of(5000, 4_294_960_000), Change::Wrapped(12_296));
        assert_eq!(Change::of(0, u64::from(u32::MAX)), Change::Wrapped(1));
        // A fall that is not from near 2^32 to near 0 is a fall.
        assert_eq!(Change::of(100, 3_000_000_000), Change::Fell);
        assert_eq!(Change::of(WRAP_WINDOW, u64::from(u32::MAX)), Change::Fell);
        assert_eq!(Change::of(5, 1 << 40), Change::Fell);
        assert_eq!(Change::of(0, u64::MAX), Change::Fell);
    }

    /// The integer ceiling admits exactly the volumes the float compare admitted: around its
    /// edge, at both ends of u64 and where floats have gaps (above 2^53).
    #[test]
    fn second_ceiling_is_the_float_compare() {
        let ceilings = [
            0.0,
            0.5,
            1.0,
            1.5,
            125_000_000.0,
            1.25e9 + 0.25,
            9_007_199_254_740_992.0, // 2^53
            9_007_199_254_740_994.0,
            1.2345e17,
            (1u64 << 60) as f64,
            1.8e19,
            u64::MAX as f64,
            f64::INFINITY,
            f64::MAX,
        ];
        for per_s in ceilings {
            let max = second_ceiling(per_s).expect("a ceiling of zero or more admits zero");
            let mut probes = vec![0, 1, 2, u64::MAX, u64::MAX - 1, per_s as u64];
            for d in 0..3000u64 {
                probes.push(max.saturating_sub(d));
                probes.push(max.saturating_add(d));
            }
            for v in probes {
                assert_eq!(v <= max, v as f64 <= per_s, "{v} against {per_s}");
            }
        }
        for per_s in [-1.0, -0.0001, f64::NEG_INFINITY, f64::NAN] {
            assert_eq!(second_ceiling(per_s), None, "{per_s}");
        }
        // -0.0 is not below zero: it admits 0 as the float compare does.
        assert_eq!(second_ceiling(-0.0), Some(0));
    }
}
