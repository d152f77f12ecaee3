//! Time: nanoseconds since the Unix epoch, UTC, as a plain `i64` newtype.
//!
//! Ingest parses fixed formats by hand (RFC 3339 with `Z`, unified log's `YYYY-MM-DD HH:MM:SS.ffffff+hhmm`)
//! because a general parser costs 3-4x more per line on the hot path (see shared/docs/rust-stack.md §3).

use crate::swar;
use serde::{Deserialize, Serialize};
use std::fmt;

pub const NANOS_PER_SEC: i64 = 1_000_000_000;
pub const NANOS_PER_DAY: i64 = 86_400 * NANOS_PER_SEC;

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
#[derive(bitcode::Encode, bitcode::Decode)]
pub struct Ts(pub i64);

impl Ts {
    pub const MIN: Ts = Ts(i64::MIN);
    pub const MAX: Ts = Ts(i64::MAX);

    /// This machine's wall clock: when a run started, expiry checks, "ahead of the clock" bounds.
    /// Never used as an event's time.
    pub fn now() -> Ts {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Ts(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
    }
    pub fn from_secs_f64(s: f64) -> Ts {
        Ts((s * NANOS_PER_SEC as f64).round() as i64)
    }
    pub fn from_secs(s: i64) -> Ts {
        Ts(s.saturating_mul(NANOS_PER_SEC))
    }
    pub fn from_millis(ms: i64) -> Ts {
        Ts(ms.saturating_mul(1_000_000))
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }
    pub fn as_millis(self) -> i64 {
        self.0.div_euclid(1_000_000)
    }
    pub fn secs(self) -> i64 {
        self.0.div_euclid(NANOS_PER_SEC)
    }
    pub fn add_secs(self, s: i64) -> Ts {
        Ts(self.0.saturating_add(s.saturating_mul(NANOS_PER_SEC)))
    }
    pub fn add_nanos(self, n: i64) -> Ts {
        Ts(self.0.saturating_add(n))
    }
    /// Start of the UTC day holding this instant.
    pub fn day_start(self) -> Ts {
        Ts(self.0 - self.0.rem_euclid(NANOS_PER_DAY))
    }
    /// RFC 3339 in UTC with millisecond precision, e.g. `2025-08-07T13:21:35.880Z`.
    pub fn to_rfc3339_millis(self) -> String {
        let (y, mo, d, h, mi, s, ns) = civil_parts(self);
        format!(
            "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:03}Z",
            ns / 1_000_000
        )
    }
    /// `HH:MM:SS` in UTC, for compact tables.
    pub fn hms(self) -> String {
        let (_, _, _, h, mi, s, _) = civil_parts(self);
        format!("{h:02}:{mi:02}:{s:02}")
    }
}

impl fmt::Display for Ts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339_millis())
    }
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) for days since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month, day, hour, minute, second, nanosecond) of an instant, in UTC.
pub fn civil_parts(ts: Ts) -> (i64, u32, u32, u32, u32, u32, i64) {
    let days = ts.0.div_euclid(NANOS_PER_DAY);
    let rem = ts.0.rem_euclid(NANOS_PER_DAY);
    let (y, mo, d) = civil_from_days(days);
    let secs = rem / NANOS_PER_SEC;
    (
        y,
        mo,
        d,
        (secs / 3600) as u32,
        ((secs / 60) % 60) as u32,
        (secs % 60) as u32,
        rem % NANOS_PER_SEC,
    )
}

fn digits(b: &[u8]) -> Option<u32> {
    // Up to nine digits cannot overflow: one pass without a branch per digit (the time fields of
    // every nettop row and eslogger event come here).
    if b.len() <= 9 {
        let mut v = 0u32;
        let mut all = true;
        for &c in b {
            let d = c.wrapping_sub(b'0');
            all &= d < 10;
            v = v.wrapping_mul(10).wrapping_add(u32::from(d));
        }
        return all.then_some(v);
    }
    let mut v: u32 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u32)?;
    }
    Some(v)
}

/// What a fraction of `n + 1` digits is multiplied by to give nanoseconds.
const FRACTION_SCALE: [i64; 9] = [
    100_000_000,
    10_000_000,
    1_000_000,
    100_000,
    10_000,
    1_000,
    100,
    10,
    1,
];

/// Fractional seconds `ffffff…` (1 to 9 digits) to nanoseconds. Up to eight digits (nettop
/// prints six) are one word: fewer sit in the last lanes, after lanes of zeros.
#[inline]
fn fraction_nanos(b: &[u8]) -> Option<i64> {
    if (1..=8).contains(&b.len()) {
        let lanes = swar::padded(b);
        return (swar::not_digit(lanes) == 0)
            .then(|| swar::eight_digits(lanes) as i64 * FRACTION_SCALE[b.len() - 1]);
    }
    match fraction_run(b) {
        (n, v) if n == b.len() => v,
        _ => None,
    }
}

/// The run of digits `b` starts with: its length, and its value in nanoseconds when it is a
/// fraction (1 to 9 digits). Eight bytes are tested at once ([`swar`]): the time of every eslogger
/// event and process start and of every nettop row has one, and a loop over its digits was about a
/// third of the time parse.
fn fraction_run(b: &[u8]) -> (usize, Option<i64>) {
    // Fewer than eight bytes sit in the last lanes, after lanes of zeros (digits, never flagged).
    let (lanes, before) = match (swar::word(b, 0), b.len()) {
        (Some(w), _) => (w, 0),
        (None, 0) => return (0, None),
        (None, len) => (swar::padded(b), 8 - len),
    };
    // `first` of no flag is 8: all eight lanes are digits.
    let n = swar::first(swar::not_digit(lanes)) - before;
    if n == 0 {
        return (0, None);
    }
    // All lanes digits (a whole word of them, or all of a shorter `b`): the lanes are the value's.
    let digits = if n + before == 8 {
        lanes
    } else {
        swar::padded(&b[..n])
    };
    let v = swar::eight_digits(digits) as i64;
    if n < 8 {
        return (n, Some(v * FRACTION_SCALE[n - 1]));
    }
    // Eight digits: a ninth, and a tenth (too many) are looked at one by one.
    let digit = |i: usize| b.get(i).map(|c| c.wrapping_sub(b'0')).filter(|&d| d < 10);
    match digit(8) {
        None => (8, Some(v * 10)),
        Some(d) => {
            let run = 9 + b[9..].iter().take_while(|c| c.is_ascii_digit()).count();
            let value = (run == 9).then_some(v * 10 + i64::from(d));
            (run, value)
        }
    }
}

/// Eight bytes that read as `pattern` with a digit wherever it has `0`: the word with each digit's
/// value in its lane and the separators' lanes zero, or None. XOR with the pattern leaves a digit
/// at its value (0-9, and no other byte does) and a matching separator at zero.
#[inline(always)]
fn digit_word(bytes: &[u8; 8], pattern: &[u8; 8]) -> Option<u64> {
    let x = u64::from_le_bytes(*bytes) ^ u64::from_le_bytes(*pattern);
    let separators = u64::from_le_bytes(pattern.map(|c| if c == b'0' { 0 } else { 0xff }));
    (swar::below(x, 10) == swar::HIGH && x & separators == 0).then_some(x)
}

/// The value in lane `k` of a [`digit_word`].
#[inline(always)]
fn lane(x: u64, k: u32) -> u32 {
    (x >> (8 * k)) as u32 & 0xff
}

/// Hours, minutes and seconds of a [`digit_word`] read as `HH:MM:SS`.
#[inline(always)]
fn hms(x: u64) -> (u32, u32, u32) {
    (
        lane(x, 0) * 10 + lane(x, 1),
        lane(x, 3) * 10 + lane(x, 4),
        lane(x, 6) * 10 + lane(x, 7),
    )
}

fn date_time_nanos(b: &[u8]) -> Option<(i64, usize)> {
    // YYYY-MM-DD?HH:MM:SS[.f+]: `YYYY-MM-` and `HH:MM:SS` each checked as one word, the day as
    // two bytes (field by field, this was about 180 instructions of every eslogger time).
    let f: &[u8; 19] = b.first_chunk()?;
    let date = digit_word(f.first_chunk()?, b"0000-00-")?;
    let time = digit_word(f.last_chunk()?, b"00:00:00")?;
    let (d1, d2) = (f[8].wrapping_sub(b'0'), f[9].wrapping_sub(b'0'));
    if d1 > 9 || d2 > 9 {
        return None;
    }
    let (yh, yl) = (
        lane(date, 0) * 10 + lane(date, 1),
        lane(date, 2) * 10 + lane(date, 3),
    );
    let mo = lane(date, 5) * 10 + lane(date, 6);
    let d = u32::from(d1) * 10 + u32::from(d2);
    let (h, mi, s) = hms(time);
    let ranges =
        (1..=12).contains(&mo) & (1..=31).contains(&d) & (h <= 23) & (mi <= 59) & (s <= 60);
    if !ranges {
        return None;
    }
    let y = i64::from(yh * 100 + yl);
    // Past year 2262 the nanosecond count no longer fits: saturate (the engine then rejects the
    // event as out of range) instead of wrapping into a plausible-looking time.
    let mut n = (days_from_civil(y, mo, d) * 86_400 + (h * 3600 + mi * 60 + s) as i64)
        .saturating_mul(NANOS_PER_SEC);
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        let (run, nanos) = fraction_run(&b[20..]);
        n = n.saturating_add(nanos?);
        i = 20 + run;
    }
    Some((n, i))
}

/// RFC 3339 as eslogger writes it: `2025-08-07T13:21:35.880814738Z` (also accepts `+hh:mm` offsets).
pub fn parse_rfc3339(s: &str) -> Option<Ts> {
    let b = s.as_bytes();
    if b.len() < 20 || (b[10] != b'T' && b[10] != b't' && b[10] != b' ') {
        return None;
    }
    let (n, i) = date_time_nanos(b)?;
    let rest = &b[i..];
    match rest {
        [b'Z'] | [b'z'] => Some(Ts(n)),
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let off = (digits(&[*h1, *h2])? * 3600 + digits(&[*m1, *m2])? * 60) as i64;
            let off = if *sign == b'+' { off } else { -off };
            Some(Ts(n.saturating_sub(off * NANOS_PER_SEC)))
        }
        _ => None,
    }
}

/// Unified log timestamp: `2025-10-15 16:21:27.886344+0530` (local time, numeric offset without colon).
/// Returns the instant and the UTC offset in seconds (which anchors dateless sources of the same host).
pub fn parse_unified_log_ts(s: &str) -> Option<(Ts, i32)> {
    let b = s.as_bytes();
    if b.len() < 24 || b[10] != b' ' {
        return None;
    }
    let (n, i) = date_time_nanos(b)?;
    let rest = &b[i..];
    if rest.len() != 5 || (rest[0] != b'+' && rest[0] != b'-') {
        return None;
    }
    let off = (digits(&rest[1..3])? * 3600 + digits(&rest[3..5])? * 60) as i32;
    let off = if rest[0] == b'+' { off } else { -off };
    Some((Ts(n.saturating_sub(off as i64 * NANOS_PER_SEC)), off))
}

/// `HH:MM:SS[.ffffff]` to nanoseconds since midnight (nettop's dateless `time` column, on every
/// row). The eight bytes of `HH:MM:SS` are checked as one word, and a fraction of up to eight
/// digits is read as one word too ([`fraction_nanos`]): field by field, with the general fraction
/// parse, this was about 150 instructions of a nettop row's 2,700.
pub fn parse_time_of_day(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let x = digit_word(b.first_chunk()?, b"00:00:00")?;
    let (h, m, sec) = hms(x);
    if h > 23 || m > 59 || sec > 60 {
        return None;
    }
    let n = (h * 3600 + m * 60 + sec) as i64 * NANOS_PER_SEC;
    let Some((&dot, fraction)) = b[8..].split_first() else {
        return Some(n);
    };
    if dot != b'.' {
        return None;
    }
    Some(n + fraction_nanos(fraction)?)
}

/// `YYYY-MM-DD` to the UTC midnight of that date.
pub fn parse_date(s: &str) -> Option<Ts> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y = digits(&b[0..4])? as i64;
    let mo = digits(&b[5..7])?;
    let d = digits(&b[8..10])?;
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    Some(Ts(days_from_civil(y, mo, d).saturating_mul(NANOS_PER_DAY)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The branch-free short path reads digits as the checked loop does, on every byte at every
    /// position and every length up to ten.
    #[test]
    fn digits_agree_with_a_checked_parse() {
        let checked = |b: &[u8]| -> Option<u32> {
            b.iter().try_fold(0u32, |v, &c| {
                c.is_ascii_digit().then_some(())?;
                v.checked_mul(10)?.checked_add(u32::from(c - b'0'))
            })
        };
        let samples: [&[u8]; 8] = [
            b"",
            b"0",
            b"07",
            b"59",
            b"123456",
            b"999999999",
            b"4294967295",
            b"4294967296",
        ];
        for s in samples {
            assert_eq!(digits(s), checked(s), "{s:?}");
        }
        for len in 1..=10 {
            for at in 0..len {
                for c in 0..=255u8 {
                    let mut b = vec![b'9'; len];
                    b[at] = c;
                    assert_eq!(digits(&b), checked(&b), "{b:?}");
                }
            }
        }
        assert_eq!(fraction_nanos(b"5"), Some(500_000_000));
        assert_eq!(fraction_nanos(b"231454"), Some(231_454_000));
        assert_eq!(fraction_nanos(b"880814738"), Some(880_814_738));
        assert_eq!(fraction_nanos(b"8808147381"), None);
        assert_eq!(fraction_nanos(b""), None);
        assert_eq!(parse_time_of_day("00:07:28.231454"), Some(448_231_454_000));
        assert_eq!(parse_time_of_day("00:07:2x.231454"), None);
    }

    /// The time parse before the fraction was read eight bytes at once and the fields at their
    /// places: the oracle for the one above.
    fn reference_date_time_nanos(b: &[u8]) -> Option<(i64, usize)> {
        if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
            return None;
        }
        let y = digits(&b[0..4])? as i64;
        let mo = digits(&b[5..7])?;
        let d = digits(&b[8..10])?;
        let h = digits(&b[11..13])?;
        let mi = digits(&b[14..16])?;
        let s = digits(&b[17..19])?;
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
            return None;
        }
        let mut n = (days_from_civil(y, mo, d) * 86_400 + (h * 3600 + mi * 60 + s) as i64)
            .saturating_mul(NANOS_PER_SEC);
        let mut i = 19;
        if b.get(i) == Some(&b'.') {
            let start = i + 1;
            let mut end = start;
            while end < b.len() && b[end].is_ascii_digit() {
                end += 1;
            }
            n = n.saturating_add(reference_fraction_nanos(&b[start..end])?);
            i = end;
        }
        Some((n, i))
    }

    fn reference_fraction_nanos(b: &[u8]) -> Option<i64> {
        if b.is_empty() || b.len() > 9 {
            return None;
        }
        Some(digits(b)? as i64 * 10i64.pow(9 - b.len() as u32))
    }

    /// Up to two bytes of `b` changed (to one of `alphabet` or any byte), then one time in ten
    /// cut short: the mutations the time parses are held to their oracles under.
    fn mutate(rng: &mut rand_chacha::ChaCha8Rng, b: &mut Vec<u8>, alphabet: &[u8]) {
        use rand::Rng;
        for _ in 0..rng.random_range(0..3) {
            let at = rng.random_range(0..b.len());
            b[at] = if rng.random_bool(0.5) {
                alphabet[rng.random_range(0..alphabet.len())]
            } else {
                rng.random()
            };
        }
        if rng.random_bool(0.1) {
            b.truncate(rng.random_range(0..=b.len()));
        }
    }

    /// 200,000 times built from real ones with bytes changed, cut, or added (every byte value, at
    /// every place, fractions of 0 to 12 digits), and 1,000,000 fractions on their own: the parse
    /// reads what the oracle reads, to the same end.
    #[test]
    fn time_parse_agrees_with_the_field_by_field_oracle() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3339);
        let bases = [
            "2025-08-07T13:21:35.880814738Z",
            "2025-09-15T07:07:32.770355Z",
            "1999-12-31 23:59:60.5+05:30",
            "9999-12-31T23:59:59.123456789-00:00",
            "0000-01-01T00:00:00Z",
        ];
        let alphabet = b"0123456789:-.TZz+ \x00\x2f\x3a\xfa\xff";
        for _ in 0..200_000 {
            let mut b = bases[rng.random_range(0..bases.len())].as_bytes().to_vec();
            if rng.random_bool(0.3) {
                // A fraction of another length.
                if let Some(dot) = b.iter().position(|&c| c == b'.') {
                    let end = dot
                        + 1
                        + b[dot + 1..]
                            .iter()
                            .take_while(|c| c.is_ascii_digit())
                            .count();
                    let digits: Vec<u8> = (0..rng.random_range(0..=12))
                        .map(|_| b'0' + rng.random_range(0..10u8))
                        .collect();
                    b.splice(dot + 1..end, digits);
                }
            }
            mutate(&mut rng, &mut b, alphabet);
            assert_eq!(
                date_time_nanos(&b),
                reference_date_time_nanos(&b),
                "{:?}",
                String::from_utf8_lossy(&b)
            );
        }
        for _ in 0..1_000_000 {
            let len = rng.random_range(0..=14);
            let b: Vec<u8> = (0..len)
                .map(|_| match rng.random_range(0..8) {
                    0 => alphabet[rng.random_range(0..alphabet.len())],
                    1 => rng.random(),
                    _ => b'0' + rng.random_range(0..10u8),
                })
                .collect();
            assert_eq!(fraction_nanos(&b), reference_fraction_nanos(&b), "{b:?}");
            let tod = [b"12:34:56.".as_slice(), &b].concat();
            if let Ok(tod) = std::str::from_utf8(&tod) {
                let seconds = (12 * 3600 + 34 * 60 + 56) * NANOS_PER_SEC;
                let want = reference_fraction_nanos(&b).map(|f| seconds + f);
                assert_eq!(parse_time_of_day(tod), want, "{tod:?}");
            }
        }
    }

    /// The time of day as it was parsed field by field (before it was read as words): the oracle
    /// for [`parse_time_of_day`].
    fn reference_time_of_day(s: &str) -> Option<i64> {
        let b = s.as_bytes();
        if b.len() < 8 || b[2] != b':' || b[5] != b':' {
            return None;
        }
        let h = digits(&b[0..2])?;
        let m = digits(&b[3..5])?;
        let sec = digits(&b[6..8])?;
        if h > 23 || m > 59 || sec > 60 {
            return None;
        }
        let mut n = (h * 3600 + m * 60 + sec) as i64 * NANOS_PER_SEC;
        if b.len() > 8 {
            if b[8] != b'.' {
                return None;
            }
            n += reference_fraction_nanos(&b[9..])?;
        }
        Some(n)
    }

    /// Every ASCII byte and every character up to U+00FF (and U+3000 and U+0663, a wide space and
    /// an Arabic-Indic digit) at every place of real nettop times and one place past them, every
    /// fraction length from none to twelve, the ranges' edges, and 300,000 times with bytes
    /// changed, cut or added (those that are not UTF-8 are not a `&str` and are left out): the
    /// word-at-a-time parse reads what the field-by-field oracle reads.
    #[test]
    fn time_of_day_agrees_with_the_field_by_field_oracle() {
        use rand::{Rng, SeedableRng};
        let check = |b: &[u8]| {
            if let Ok(t) = std::str::from_utf8(b) {
                assert_eq!(parse_time_of_day(t), reference_time_of_day(t), "{t:?}");
            }
        };
        let bases = [
            "00:07:28.231454",
            "23:59:60",
            "12:34:56.5",
            "09:05:01.880814738",
            "19:59:59.99999999",
        ];
        for base in bases {
            let chars = (0..=255u32)
                .chain([0x3000, 0x0663])
                .filter_map(char::from_u32);
            for c in chars {
                for at in 0..=base.len() {
                    let mut t = base.to_string();
                    if at < base.len() {
                        t.remove(at);
                    }
                    t.insert(at, c);
                    check(t.as_bytes());
                }
            }
            for len in 0..=base.len() {
                check(&base.as_bytes()[..len]);
            }
        }
        for h in 0..=25 {
            for m in [0, 1, 58, 59, 60, 99] {
                for sec in [0, 59, 60, 61, 99] {
                    for frac in [
                        "",
                        ".",
                        ".0",
                        ".1234567",
                        ".12345678",
                        ".123456789",
                        ".1234567890",
                    ] {
                        check(format!("{h:02}:{m:02}:{sec:02}{frac}").as_bytes());
                    }
                }
            }
        }
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1903);
        let alphabet = b"0123456789:. \x00\x2f\x3a\xfa\xff";
        for _ in 0..300_000 {
            let mut b = bases[rng.random_range(0..bases.len())].as_bytes().to_vec();
            if rng.random_bool(0.3) {
                b.truncate(8);
                b.push(b'.');
                b.extend((0..rng.random_range(0..=12)).map(|_| b'0' + rng.random_range(0..10u8)));
            }
            mutate(&mut rng, &mut b, alphabet);
            check(&b);
        }
    }

    #[test]
    fn times_past_2262_saturate_instead_of_wrapping() {
        let y2025 = parse_rfc3339("2025-09-16T03:11:45Z").unwrap();
        for t in [
            "2610-01-01T00:00:00Z",
            "2999-12-31T23:59:59.999Z",
            "9999-01-01T00:00:00+05:00",
        ] {
            let ts = parse_rfc3339(t).unwrap();
            assert!(ts > y2025, "{t} wrapped to {}", ts.to_rfc3339_millis());
            assert!(ts.0 > i64::MAX - NANOS_PER_DAY, "{t}: {}", ts.0);
        }
        let (ts, _) = parse_unified_log_ts("2999-01-01 00:00:00.000000+0530").unwrap();
        assert!(ts > y2025);
        // `--date` and date-only fields saturate too (debug builds overflowed).
        assert!(parse_date("9999-12-31").unwrap().0 > i64::MAX - NANOS_PER_DAY);
        let early = parse_rfc3339("0001-01-01T00:00:00Z").unwrap();
        assert!(early < parse_rfc3339("2000-01-01T00:00:00Z").unwrap());
    }

    #[test]
    fn rfc3339_nanos_and_offsets() {
        let t = parse_rfc3339("2025-08-07T13:21:35.880814738Z").unwrap();
        assert_eq!(t.0 % NANOS_PER_SEC, 880_814_738);
        assert_eq!(t.to_rfc3339_millis(), "2025-08-07T13:21:35.880Z");
        let u = parse_rfc3339("2025-08-07T13:21:35.877422Z").unwrap();
        assert_eq!(u.0 % NANOS_PER_SEC, 877_422_000);
        let o = parse_rfc3339("2025-08-07T15:21:35.880814738+02:00").unwrap();
        assert_eq!(o, t);
        assert!(parse_rfc3339("2025-08-07T13:21:35.88x").is_none());
        assert!(parse_rfc3339("not a time").is_none());
    }

    #[test]
    fn unified_log_offset_without_colon() {
        let (t, off) = parse_unified_log_ts("2025-10-15 16:21:27.886344+0530").unwrap();
        assert_eq!(off, 5 * 3600 + 1800);
        assert_eq!(t.to_rfc3339_millis(), "2025-10-15T10:51:27.886Z");
        let (t2, off2) = parse_unified_log_ts("2025-09-25 23:32:36.119492-0700").unwrap();
        assert_eq!(off2, -7 * 3600);
        assert_eq!(t2.to_rfc3339_millis(), "2025-09-26T06:32:36.119Z");
    }

    #[test]
    fn civil_round_trip() {
        for days in [
            -800_000i64,
            -1,
            0,
            1,
            59,
            60,
            365,
            19_000,
            20_000,
            2_000_000,
        ] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(
            parse_date("2024-02-29").unwrap().to_rfc3339_millis(),
            "2024-02-29T00:00:00.000Z"
        );
    }

    #[test]
    fn time_of_day() {
        assert_eq!(
            parse_time_of_day("00:39:45.364011"),
            Some((39 * 60 + 45) * NANOS_PER_SEC + 364_011_000)
        );
        assert_eq!(parse_time_of_day("23:59:59"), Some(86_399 * NANOS_PER_SEC));
        assert!(parse_time_of_day("24:00:00").is_none());
        assert!(parse_time_of_day("time").is_none());
    }
}
