//! Dates for nettop's dateless, zoneless times: the anchoring rules of [`Clock`].

use crate::{ClockHints, SourceCtx};
use floodwatch_core::time::{civil_from_days, NANOS_PER_DAY, NANOS_PER_SEC};
use floodwatch_core::Ts;

const HALF_DAY: i64 = NANOS_PER_DAY / 2;

/// Turns nettop's dateless local times into UTC instants.
///
/// The UTC offset is the host's (learned from its unified log) or `input.nettop_utc_offset`. The date is
/// chosen once, at the first row, from the evidence nearest the file: the day (the reference's local date
/// −1, 0 or +1) that puts the first row inside the span of the dated sources in the same folder; else a
/// date written in the file's name or a folder above it; else the latest day that puts the row at or before
/// the file's modification time (the capture's end); else `--date`; else the day closest to now (live
/// stdin). The note says which, and why.
///
/// Captures without a time column place frame 0 at the reference instant, else on the path's date (at
/// the file's time of day), else at the file's modification time (times then trail the real ones by the
/// capture's length), else at local midnight of `--date`, else now; frame k is `nettop_interval` later per
/// frame.
pub(super) struct Clock {
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
    pub(super) fn new(ctx: &SourceCtx) -> Self {
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

    pub(super) fn at_time_of_day(&mut self, tod: i64) -> Ts {
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
        // The nearest evidence first: dated sources beside the file, a date in its path, its
        // modification time, then the user's --date.
        let (day, why) = if let Some(r) = self.hints.reference {
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
                format!(
                    "anchored to {}",
                    self.hints
                        .reference_from
                        .as_deref()
                        .unwrap_or("the host's other sources")
                ),
            )
        } else if let Some((d, from)) = &self.hints.path_date {
            (
                d.0.div_euclid(NANOS_PER_DAY),
                format!("taken from the date in its path ({from}; no dated source in its folder)"),
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
                "anchored to the file's modification time (capture end; no dated source in its folder, no date in its path)".to_string(),
            )
        } else if let Some(f) = self.hints.forced_date {
            (
                f.0.div_euclid(NANOS_PER_DAY),
                "given by --date (no dated source in its folder, no date in its path, no file time)".to_string(),
            )
        } else {
            (
                closest(self, Ts::now()),
                "anchored to the current date (no dated source, no file time)".to_string(),
            )
        };
        self.note = Some(format!(
            "nettop dates {why}: {}, {}",
            fmt_day(day),
            self.offset_text()
        ));
        day
    }

    pub(super) fn frame_time(&mut self, frame: u64) -> Ts {
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
        let midnight = |this: &Self, day: Ts| this.instant(day.0.div_euclid(NANOS_PER_DAY), 0);
        let (anchor, why) = if let Some(r) = self.hints.reference {
            (
                r,
                format!(
                    "the earliest event of {}",
                    self.hints
                        .reference_from
                        .as_deref()
                        .unwrap_or("the host's other sources")
                ),
            )
        } else if let Some((d, from)) = self.hints.path_date.clone() {
            // The path says the day; the file's time (if any) says the time of day.
            match self.hints.file_mtime {
                Some(m) => {
                    let tod = (m.0 + self.offset_nanos()).rem_euclid(NANOS_PER_DAY);
                    (
                        self.instant(d.0.div_euclid(NANOS_PER_DAY), tod),
                        format!("the date in its path ({from}), time of day from the file's modification time"),
                    )
                }
                None => (
                    midnight(self, d),
                    format!("the date in its path ({from}), at midnight"),
                ),
            }
        } else if let Some(m) = self.hints.file_mtime {
            (m, "the file's modification time".to_string())
        } else if let Some(f) = self.hints.forced_date {
            (midnight(self, f), "--date, at midnight".to_string())
        } else {
            (Ts::now(), "the current time".to_string())
        };
        self.note = Some(format!(
            "nettop capture has no time column: frame 0 placed at {anchor} ({why}), frames {} s apart, {}",
            self.interval as f64 / NANOS_PER_SEC as f64,
            self.offset_text()
        ));
        anchor
    }

    pub(super) fn notes(&self) -> Vec<String> {
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

fn fmt_day(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

fn fmt_offset(secs: i32) -> String {
    let sign = if secs < 0 { '-' } else { '+' };
    let a = secs.unsigned_abs();
    format!("{sign}{:02}:{:02}", a / 3600, (a % 3600) / 60)
}
