//! Eight bytes at a time (SWAR: SIMD within a register), for the hot loops over short runs: the
//! JSON scanner's strings and digits, nettop's commas, the fractions of timestamps. A byte is "flagged" by the high bit of its
//! lane; every test here is exact for every lane (no borrow or carry crosses a byte).

const ONES: u64 = 0x0101_0101_0101_0101;
const LOW: u64 = 0x7f7f_7f7f_7f7f_7f7f;
/// The high bit of every lane: what a test gives when it flags all eight bytes.
pub const HIGH: u64 = 0x8080_8080_8080_8080;

/// The eight bytes of `b` at `i`, little-endian (the first byte in the lowest lane); None when
/// fewer than eight are left.
#[inline(always)]
pub fn word(b: &[u8], i: usize) -> Option<u64> {
    let chunk = b.get(i..i + 8)?;
    let mut w = [0u8; 8];
    w.copy_from_slice(chunk);
    Some(u64::from_le_bytes(w))
}

/// Flags the bytes of `x` below `n` (`n` at most 0x80). Below 0x80, adding `0x80 - n` reaches the
/// high bit exactly when the byte is `n` or more (at most 0x7f + 0x7f: no carry out); a byte of
/// 0x80 or more already has it.
#[inline(always)]
pub fn below(x: u64, n: u8) -> u64 {
    !(((x & LOW) + ONES * u64::from(0x80 - n)) | x) & HIGH
}

/// Flags the bytes of `x` equal to `c`.
#[inline(always)]
pub fn equal(x: u64, c: u8) -> u64 {
    below(x ^ (ONES * u64::from(c)), 1)
}

/// Flags the bytes of `x` that are not ASCII digits.
#[inline(always)]
pub fn not_digit(x: u64) -> u64 {
    // Digits become 0..=9, every other byte 10 or more.
    !below(x ^ (ONES * 0x30), 10) & HIGH
}

/// The lane (0-7) of the lowest flag.
#[inline(always)]
pub fn first(flags: u64) -> usize {
    (flags.trailing_zeros() / 8) as usize
}

/// The value of the eight digit values (0-9, one per lane) in `x`, the first (lowest lane) the
/// most significant: pairs, then fours, then the eight, each step one multiply.
#[inline(always)]
pub fn digit_lanes_value(x: u64) -> u64 {
    let x = (x.wrapping_mul(10) + (x >> 8)) & 0x00ff_00ff_00ff_00ff;
    let x = (x.wrapping_mul(100) + (x >> 16)) & 0x0000_ffff_0000_ffff;
    (x.wrapping_mul(10_000) + (x >> 32)) & 0xffff_ffff
}

/// The value of eight ASCII digits in `x` (see [`digit_lanes_value`]). Every lane must be a digit.
#[inline(always)]
pub fn eight_digits(x: u64) -> u64 {
    digit_lanes_value(x.wrapping_sub(ONES * u64::from(b'0')))
}

/// The value of 1 to 16 ASCII digits; None when `b` is empty, longer, or holds anything else.
/// Zeros in front pad it to one word (up to 8 digits) or two, built in registers from loads of `b`
/// itself: copied into a padded buffer first, the words were read back across the copy's smaller
/// stores, and every nettop count stalled on store forwarding (perf: a third of `count_cell`).
#[inline(always)]
pub fn digits_16(b: &[u8]) -> Option<u64> {
    let n = b.len();
    if n == 0 || n > 16 {
        return None;
    }
    if n <= 8 {
        // Most counts: one word, without the high word's multiply (a path of its own, where a
        // word of zeros merged into the long path's was still multiplied and tested).
        let lo = padded(b);
        return (not_digit(lo) == 0).then(|| eight_digits(lo));
    }
    let (head, tail) = b.split_at(n - 8);
    let (hi, lo) = (padded(head), word(tail, 0)?);
    if not_digit(hi) | not_digit(lo) != 0 {
        return None;
    }
    Some(eight_digits(hi) * 100_000_000 + eight_digits(lo))
}

/// The `N` bytes of `b` at `at`, as one load. A closure that built them byte by byte was left
/// out of line, with a bounds check per byte (24 instructions a load, two loads a count).
#[inline(always)]
fn bytes_at<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    let mut w = [0u8; N];
    w.copy_from_slice(&b[at..at + N]);
    w
}

/// Eight ASCII zeros.
const ZEROS: u64 = ONES * b'0' as u64;

/// 1 to 8 bytes as the last lanes of a word whose first lanes are ASCII zeros (`"12"` is
/// `"00000012"`).
#[inline(always)]
pub fn padded(b: &[u8]) -> u64 {
    let n = b.len();
    debug_assert!((1..=8).contains(&n));
    if n == 8 {
        return word(b, 0).unwrap_or(ZEROS);
    }
    // The bytes in the lowest lanes, from two loads that overlap when n is not a power of two
    // (an overlapping byte is the same byte in both, so OR keeps it).
    let x = match n {
        4..=7 => {
            u64::from(u32::from_le_bytes(bytes_at(b, 0)))
                | u64::from(u32::from_le_bytes(bytes_at(b, n - 4))) << (8 * (n - 4))
        }
        2 | 3 => {
            u64::from(u16::from_le_bytes(bytes_at(b, 0)))
                | u64::from(u16::from_le_bytes(bytes_at(b, n - 2))) << (8 * (n - 2))
        }
        _ => u64::from(b[0]),
    };
    (x << (8 * (8 - n))) | (ZEROS >> (8 * n))
}

/// Whether `a` and `b` hold the same bytes, for short texts (keys, nettop cells): up to 32 bytes
/// by two loads from each that overlap when the length is not a power of two (a byte both loads
/// cover is compared twice, which changes nothing). Slice `==` of a length that is not a constant
/// calls libc's `bcmp`; inline, eslogger's 27 key compares per event take 0.4% fewer instructions
/// (the time they wait on their loads is the same).
#[inline(always)]
pub fn short_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    // Every range below is within both slices.
    match n {
        0 => true,
        1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..=7 => {
            bytes_at::<4>(a, 0) == bytes_at::<4>(b, 0)
                && bytes_at::<4>(a, n - 4) == bytes_at::<4>(b, n - 4)
        }
        8..=15 => {
            bytes_at::<8>(a, 0) == bytes_at::<8>(b, 0)
                && bytes_at::<8>(a, n - 8) == bytes_at::<8>(b, n - 8)
        }
        16..=32 => {
            bytes_at::<16>(a, 0) == bytes_at::<16>(b, 0)
                && bytes_at::<16>(a, n - 16) == bytes_at::<16>(b, n - 16)
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_eq_is_slice_eq_on_every_length_and_position() {
        // Every length up to 40 (past the 32-byte path), equal and with one byte changed at every
        // position, and lengths that differ by one.
        for n in 0..=40usize {
            let a: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
            assert!(short_eq(&a, &a.clone()), "{n}");
            for i in 0..n {
                let mut b = a.clone();
                b[i] ^= 0x20;
                assert_eq!(short_eq(&a, &b), a == b, "{n} at {i}");
                assert!(!short_eq(&a, &b), "{n} at {i}");
            }
            let mut longer = a.clone();
            longer.push(b'a');
            assert!(!short_eq(&a, &longer) && !short_eq(&longer, &a), "{n}");
        }
    }

    #[test]
    fn digits_16_is_parse_on_every_length_and_byte() {
        let parse = |b: &[u8]| -> Option<u64> {
            (!b.is_empty() && b.len() <= 16 && b.iter().all(u8::is_ascii_digit))
                .then(|| std::str::from_utf8(b).ok()?.parse().ok())?
        };
        for n in 0..=17 {
            let nines = vec![b'9'; n];
            assert_eq!(digits_16(&nines), parse(&nines), "{n} nines");
            let counting: Vec<u8> = (0..n).map(|i| b'0' + (i % 10) as u8).collect();
            assert_eq!(digits_16(&counting), parse(&counting), "{counting:?}");
            for at in 0..n {
                for c in 0..=255u8 {
                    let mut b = counting.clone();
                    b[at] = c;
                    assert_eq!(digits_16(&b), parse(&b), "{b:?}");
                }
            }
        }
    }

    #[test]
    fn every_byte_value_in_every_lane() {
        for lane in 0..8 {
            for c in 0..=255u8 {
                let mut b = [b'a'; 8];
                b[lane] = c;
                let x = word(&b, 0).unwrap();
                let flagged = |f: u64| f & (0x80 << (8 * lane)) != 0;
                assert_eq!(flagged(below(x, 0x20)), c < 0x20, "below {c} lane {lane}");
                assert_eq!(flagged(equal(x, b',')), c == b',', "equal {c} lane {lane}");
                assert_eq!(flagged(not_digit(x)), !c.is_ascii_digit(), "digit {c}");
                // The other lanes hold 'a': flagged only by not_digit.
                assert_eq!(below(x, 0x20) & !(0x80 << (8 * lane)), 0);
            }
        }
        assert_eq!(first(equal(word(b"abc,de,f", 0).unwrap(), b',')), 3);
        assert_eq!(word(b"1234567", 0), None);
    }
}
