//! Shared helpers: time formatting in the tools' exact shapes, a small JSON tree whose objects can be
//! written in a shuffled key order (eslogger's NSDictionary order differs line to line), `\/` escaping,
//! and stable hashes (so per-path facts such as inode numbers do not depend on call order).

use floodwatch_core::time::{NANOS_PER_DAY, NANOS_PER_SEC};
use floodwatch_core::Ts;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use std::io::{self, Write};

/// (year, month, day, hour, minute, second, nanosecond) of `ns` since the epoch (UTC unless pre-shifted).
pub(crate) fn civil(ns: i64) -> (i64, u32, u32, u32, u32, u32, i64) {
    floodwatch_core::time::civil_parts(Ts(ns))
}

/// eslogger `time`: `2025-08-07T13:21:35.880814738Z` (nanoseconds, UTC).
pub fn rfc3339_nanos(ts: Ts) -> String {
    let (y, mo, d, h, mi, s, ns) = civil(ts.0);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ns:09}Z")
}

/// eslogger `start_time`: `2025-08-07T13:21:35.877422Z` (microseconds, UTC, truncated).
pub fn rfc3339_micros(ts: Ts) -> String {
    let (y, mo, d, h, mi, s, ns) = civil(ts.0);
    format!(
        "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:06}Z",
        ns / 1000
    )
}

/// nettop `time` column: local wall clock `HH:MM:SS.ffffff`, no date, no zone.
pub fn nettop_time(ts: Ts, utc_offset_secs: i32) -> String {
    let (_, _, _, h, mi, s, ns) = civil(ts.0 + utc_offset_secs as i64 * NANOS_PER_SEC);
    format!("{h:02}:{mi:02}:{s:02}.{:06}", ns / 1000)
}

/// `+hhmm` / `-hhmm` for an offset in seconds east of UTC.
pub fn offset_hhmm(utc_offset_secs: i32) -> String {
    let sign = if utc_offset_secs < 0 { '-' } else { '+' };
    let a = utc_offset_secs.unsigned_abs();
    format!("{sign}{:02}{:02}", a / 3600, (a / 60) % 60)
}

/// Unified log `timestamp`: `2025-10-15 16:21:27.886344+0530` (local time, microseconds, numeric offset).
pub fn unified_log_time(ts: Ts, utc_offset_secs: i32) -> String {
    let (y, mo, d, h, mi, s, ns) = civil(ts.0 + utc_offset_secs as i64 * NANOS_PER_SEC);
    format!(
        "{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{:06}{}",
        ns / 1000,
        offset_hhmm(utc_offset_secs)
    )
}

/// osquery `calendarTime`: `Mon May  2 22:27:32 2016 UTC` (day padded with a space).
pub fn osquery_calendar_time(ts: Ts) -> String {
    const WD: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MO: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, mo, d, h, mi, s, _) = civil(ts.0);
    let wd = WD[ts.0.div_euclid(NANOS_PER_DAY).rem_euclid(7) as usize];
    format!(
        "{wd} {} {d:>2} {h:02}:{mi:02}:{s:02} {y} UTC",
        MO[(mo - 1) as usize]
    )
}

/// A timestamp `YYYY-MM-DDTHH:MM:SS.000000000Z` for a whole-second instant (stat times of OS files).
pub(crate) fn stat_time(ts: Ts) -> String {
    rfc3339_nanos(ts)
}

// ---------------------------------------------------------------------------------------------------------
// Hashing

/// SplitMix64 finalizer.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a over the bytes, then mixed with the salt.
pub(crate) fn hash_str(salt: u64, s: &str) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for &b in s.as_bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    mix(h ^ mix(salt))
}

/// Upper-case UUID text from 128 hashed bits.
pub(crate) fn uuid_from(a: u64, b: u64) -> String {
    let a = mix(a);
    let b = mix(b ^ 0x5151);
    format!(
        "{:08X}-{:04X}-{:04X}-{:04X}-{:012X}",
        a >> 32,
        (a >> 16) & 0xFFFF,
        (a & 0x0FFF) | 0x4000,
        ((b >> 48) & 0x3FFF) | 0x8000,
        b & 0xFFFF_FFFF_FFFF
    )
}

/// 40 upper-case hex digits (a cdhash).
pub(crate) fn hex40(h: u64) -> String {
    let a = mix(h);
    let b = mix(h ^ 1);
    let c = mix(h ^ 2);
    format!("{a:016X}{b:016X}{:08X}", c >> 32)
}

// ---------------------------------------------------------------------------------------------------------
// JSON

/// A JSON value whose objects keep (and can shuffle) their key order.
#[derive(Clone, Debug)]
pub(crate) enum J {
    Null,
    B(bool),
    I(i64),
    U(u64),
    S(String),
    A(Vec<J>),
    O(Vec<(&'static str, J)>),
}

impl J {
    pub(crate) fn s(v: impl Into<String>) -> J {
        J::S(v.into())
    }
    pub(crate) fn opt_s(v: Option<&str>) -> J {
        match v {
            Some(s) => J::S(s.to_string()),
            None => J::Null,
        }
    }
}

/// Writes `j` as compact JSON. With `rng`, every object's keys come out in a fresh random order.
pub(crate) fn write_json(j: &J, out: &mut Vec<u8>, mut rng: Option<&mut ChaCha8Rng>) {
    match j {
        J::Null => out.extend_from_slice(b"null"),
        J::B(true) => out.extend_from_slice(b"true"),
        J::B(false) => out.extend_from_slice(b"false"),
        J::I(v) => {
            let _ = write!(out, "{v}");
        }
        J::U(v) => {
            let _ = write!(out, "{v}");
        }
        J::S(s) => {
            // serde_json's string escaping (quotes, backslashes, control characters); `/` is escaped
            // afterwards over the whole line (see `escape_slashes`).
            let _ = serde_json::to_writer(&mut *out, s.as_str());
        }
        J::A(items) => {
            out.push(b'[');
            for (i, it) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json(it, out, rng.as_deref_mut());
            }
            out.push(b']');
        }
        J::O(fields) => {
            let n = fields.len();
            let mut order = [0usize; 32];
            let mut heap;
            let order: &mut [usize] = if n <= 32 {
                &mut order[..n]
            } else {
                heap = vec![0usize; n];
                &mut heap[..]
            };
            for (i, o) in order.iter_mut().enumerate() {
                *o = i;
            }
            if let Some(r) = rng.as_deref_mut() {
                order.shuffle(r);
            }
            out.push(b'{');
            for (k, &i) in order.iter().enumerate() {
                if k > 0 {
                    out.push(b',');
                }
                let (key, val) = &fields[i];
                let _ = serde_json::to_writer(&mut *out, *key);
                out.push(b':');
                write_json(val, out, rng.as_deref_mut());
            }
            out.push(b'}');
        }
    }
}

/// Copies `src` to `dst`, writing every `/` as `\/` (as NSJSONSerialization and `log` do). In compact
/// JSON a `/` can only occur inside a string, where `\/` is a valid escape.
pub(crate) fn escape_slashes(src: &[u8], dst: &mut Vec<u8>) {
    dst.reserve(src.len() + src.len() / 16);
    let mut start = 0;
    for (i, &b) in src.iter().enumerate() {
        if b == b'/' {
            dst.extend_from_slice(&src[start..i]);
            dst.extend_from_slice(b"\\/");
            start = i + 1;
        }
    }
    dst.extend_from_slice(&src[start..]);
}

/// A writer that counts the bytes it passes on.
pub(crate) struct Counting<W: Write> {
    pub(crate) inner: W,
    pub(crate) bytes: u64,
}

impl<W: Write> Counting<W> {
    pub(crate) fn new(inner: W) -> Self {
        Counting { inner, bytes: 0 }
    }
    pub(crate) fn put(&mut self, b: &[u8]) -> io::Result<()> {
        self.inner.write_all(b)?;
        self.bytes += b.len() as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use floodwatch_core::time::days_from_civil;

    fn ts(y: i64, mo: u32, d: u32, h: i64, mi: i64, s: i64, ns: i64) -> Ts {
        Ts((days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s) * NANOS_PER_SEC + ns)
    }

    #[test]
    fn formats() {
        let t = ts(2025, 8, 7, 13, 21, 35, 880_814_738);
        assert_eq!(rfc3339_nanos(t), "2025-08-07T13:21:35.880814738Z");
        assert_eq!(rfc3339_micros(t), "2025-08-07T13:21:35.880814Z");
        assert_eq!(nettop_time(t, 0), "13:21:35.880814");
        assert_eq!(nettop_time(t, 19_800), "18:51:35.880814");
        assert_eq!(
            unified_log_time(t, 19_800),
            "2025-08-07 18:51:35.880814+0530"
        );
        assert_eq!(
            unified_log_time(t, -25_200),
            "2025-08-07 06:21:35.880814-0700"
        );
        assert_eq!(
            osquery_calendar_time(ts(2016, 5, 2, 22, 27, 32, 0)),
            "Mon May  2 22:27:32 2016 UTC"
        );
        assert_eq!(
            osquery_calendar_time(ts(2018, 1, 8, 14, 51, 55, 0)),
            "Mon Jan  8 14:51:55 2018 UTC"
        );
    }

    #[test]
    fn slashes() {
        let mut out = Vec::new();
        escape_slashes(br#"{"p":"/usr/bin/curl","n":1}"#, &mut out);
        assert_eq!(out, br#"{"p":"\/usr\/bin\/curl","n":1}"#);
    }
}
