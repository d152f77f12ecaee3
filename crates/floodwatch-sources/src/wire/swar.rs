//! Eight bytes at a time (SWAR: SIMD within a register), for the hot loops over short runs: the
//! JSON scanner's strings and digits, nettop's commas. A byte is "flagged" by the high bit of its
//! lane; every test here is exact for every lane (no borrow or carry crosses a byte).

const ONES: u64 = 0x0101_0101_0101_0101;
const LOW: u64 = 0x7f7f_7f7f_7f7f_7f7f;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The eight bytes of `b` at `i`, little-endian (the first byte in the lowest lane); None when
/// fewer than eight are left.
#[inline(always)]
pub(crate) fn word(b: &[u8], i: usize) -> Option<u64> {
    let chunk = b.get(i..i + 8)?;
    let mut w = [0u8; 8];
    w.copy_from_slice(chunk);
    Some(u64::from_le_bytes(w))
}

/// Flags the bytes of `x` below `n` (`n` at most 0x80). Below 0x80, adding `0x80 - n` reaches the
/// high bit exactly when the byte is `n` or more (at most 0x7f + 0x7f: no carry out); a byte of
/// 0x80 or more already has it.
#[inline(always)]
pub(crate) fn below(x: u64, n: u8) -> u64 {
    !(((x & LOW) + ONES * u64::from(0x80 - n)) | x) & HIGH
}

/// Flags the bytes of `x` equal to `c`.
#[inline(always)]
pub(crate) fn equal(x: u64, c: u8) -> u64 {
    below(x ^ (ONES * u64::from(c)), 1)
}

/// Flags the bytes of `x` that are not ASCII digits.
#[inline(always)]
pub(crate) fn not_digit(x: u64) -> u64 {
    // Digits become 0..=9, every other byte 10 or more.
    !below(x ^ (ONES * 0x30), 10) & HIGH
}

/// The lane (0-7) of the lowest flag.
#[inline(always)]
pub(crate) fn first(flags: u64) -> usize {
    (flags.trailing_zeros() / 8) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

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
