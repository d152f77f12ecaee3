//! Sixteen bytes at a time, for the scanner's two hottest loops: the plain run of a string and a
//! run of digits. Most keys and values in an eslogger line are under 16 bytes, so one step nearly
//! always finds the end, where eight-byte steps ([`super::swar`]) took two with a hard-to-predict
//! exit. x86_64 uses SSE2 (part of its base instruction set, so always there); other targets use
//! two SWAR words, with the same answers (tests compare them on every byte value in every lane).

/// The sixteen bytes of `b` at `i`; None when fewer are left.
#[inline(always)]
pub(crate) fn block(b: &[u8], i: usize) -> Option<&[u8; 16]> {
    b.get(i..i + 16)?.try_into().ok()
}

#[cfg(target_arch = "x86_64")]
mod imp {
    use std::arch::x86_64::*;

    #[inline(always)]
    fn load(x: &[u8; 16]) -> __m128i {
        // SAFETY: SSE2 is in x86_64's base instruction set; the load reads exactly the 16 bytes
        // `x` borrows, unaligned loads allowed.
        unsafe { _mm_loadu_si128(x.as_ptr().cast()) }
    }

    /// Bit k set: byte k is `"`, `\` or a control character (below 0x20).
    #[inline(always)]
    pub(crate) fn string_stops(x: &[u8; 16]) -> u32 {
        let v = load(x);
        // SAFETY: SSE2 only (see `load`); these read and write registers, nothing else.
        unsafe {
            let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
            let slash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
            // max(c, 0x1f) == 0x1f exactly when c <= 0x1f (unsigned).
            let low = _mm_set1_epi8(0x1f);
            let ctl = _mm_cmpeq_epi8(_mm_max_epu8(v, low), low);
            _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, slash), ctl)) as u32
        }
    }

    /// Bit k set: byte k is NUL or not ASCII (0x80 or more).
    #[inline(always)]
    pub(crate) fn nul_or_high(x: &[u8; 16]) -> u32 {
        let v = load(x);
        // SAFETY: SSE2 only (see `load`). A byte's high bit is set when it is 0x80 or more, and
        // the compare sets all of a NUL byte's bits.
        unsafe {
            let nul = _mm_cmpeq_epi8(v, _mm_setzero_si128());
            _mm_movemask_epi8(_mm_or_si128(nul, v)) as u32
        }
    }

    /// [`super::plain_ascii`]: 32 bytes per step folded into two registers (the bytes OR'ed, for
    /// a high bit; their minimum, for a NUL) and one verdict at the end, where a flag test per 16
    /// bytes was three times the instructions. The tail is one last block that may overlap the
    /// bytes before it (a property of every byte, so reading one twice does not matter).
    #[inline]
    pub(crate) fn plain_ascii(b: &[u8]) -> bool {
        if b.len() >= 32 && std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above; the record has 32 bytes.
            return unsafe { plain_ascii_avx2(b) };
        }
        plain_ascii_sse2(b)
    }

    /// [`plain_ascii`] with AVX2: 64 bytes per step in two 32-byte registers, the tail one last
    /// 32-byte block that may overlap (as in [`plain_ascii_sse2`]). Half the instructions of the
    /// SSE2 form on an eslogger line (2.7 KB).
    ///
    /// # Safety
    /// The CPU has AVX2, and `b` has at least 32 bytes.
    #[target_feature(enable = "avx2")]
    pub(crate) unsafe fn plain_ascii_avx2(b: &[u8]) -> bool {
        debug_assert!(b.len() >= 32);
        let p = b.as_ptr();
        let n = b.len();
        // SAFETY: every load below reads 32 bytes at an offset `at` with `at + 32 <= n` (the loop
        // conditions, and `n >= 32` for the last block); AVX2 per the contract.
        unsafe {
            let load = |at: usize| _mm256_loadu_si256(p.add(at).cast());
            let (mut high, mut low) = (_mm256_setzero_si256(), _mm256_set1_epi8(-1));
            let mut i = 0;
            while i + 64 <= n {
                let (x, y) = (load(i), load(i + 32));
                high = _mm256_or_si256(high, _mm256_or_si256(x, y));
                low = _mm256_min_epu8(low, _mm256_min_epu8(x, y));
                i += 64;
            }
            let (x, y) = (load(i.min(n - 32)), load(n - 32));
            high = _mm256_or_si256(high, _mm256_or_si256(x, y));
            low = _mm256_min_epu8(low, _mm256_min_epu8(x, y));
            let nul = _mm256_cmpeq_epi8(low, _mm256_setzero_si256());
            _mm256_movemask_epi8(_mm256_or_si256(high, nul)) == 0
        }
    }

    /// [`plain_ascii`] with SSE2, x86_64's base.
    #[inline]
    pub(crate) fn plain_ascii_sse2(b: &[u8]) -> bool {
        if b.len() < 16 {
            return b.iter().all(|&c| c != 0 && c < 0x80);
        }
        // SAFETY: SSE2 only (see `load`); registers only.
        let (mut high, mut low) = unsafe { (_mm_setzero_si128(), _mm_set1_epi8(-1)) };
        let mut fold = |x: &[u8; 16]| {
            let v = load(x);
            // SAFETY: as above.
            unsafe {
                high = _mm_or_si128(high, v);
                low = _mm_min_epu8(low, v);
            }
        };
        let mut i = 0;
        while let (Some(x), Some(y)) = (super::block(b, i), super::block(b, i + 16)) {
            fold(x);
            fold(y);
            i += 32;
        }
        if let Some(x) = super::block(b, i) {
            fold(x);
        }
        if let Some(x) = super::block(b, b.len() - 16) {
            fold(x);
        }
        // SAFETY: as above.
        unsafe {
            let nul = _mm_cmpeq_epi8(low, _mm_setzero_si128());
            _mm_movemask_epi8(_mm_or_si128(high, nul)) == 0
        }
    }

    /// Bit k set: byte k is `c`.
    #[inline(always)]
    pub(crate) fn equal(x: &[u8; 16], c: u8) -> u32 {
        let v = load(x);
        // SAFETY: SSE2 only (see `load`).
        unsafe { _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8))) as u32 }
    }

    /// Bit k set: byte k is not an ASCII digit.
    #[inline(always)]
    pub(crate) fn not_digits(x: &[u8; 16]) -> u32 {
        let v = load(x);
        // SAFETY: SSE2 only (see `load`).
        unsafe {
            // c - '0' wraps every non-digit to 10..=255; min(d, 9) == d exactly for digits.
            let d = _mm_sub_epi8(v, _mm_set1_epi8(b'0' as i8));
            let digit = _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d);
            (!_mm_movemask_epi8(digit) as u32) & 0xffff
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod imp {
    use super::super::swar;

    /// One bit per byte from SWAR's high-bit-per-lane flags.
    fn bits(flags: u64) -> u32 {
        (0..8).fold(0, |m, k| m | (((flags >> (8 * k + 7)) & 1) as u32) << k)
    }

    fn halves(x: &[u8; 16]) -> (u64, u64) {
        let (a, b) = x.split_at(8);
        (
            u64::from_le_bytes(a.try_into().unwrap_or_default()),
            u64::from_le_bytes(b.try_into().unwrap_or_default()),
        )
    }

    pub(crate) fn string_stops(x: &[u8; 16]) -> u32 {
        let f = |v| swar::equal(v, b'"') | swar::equal(v, b'\\') | swar::below(v, 0x20);
        let (a, b) = halves(x);
        bits(f(a)) | bits(f(b)) << 8
    }

    pub(crate) fn nul_or_high(x: &[u8; 16]) -> u32 {
        let f = |v: u64| swar::equal(v, 0) | (v & 0x8080_8080_8080_8080);
        let (a, b) = halves(x);
        bits(f(a)) | bits(f(b)) << 8
    }

    pub(crate) fn plain_ascii(b: &[u8]) -> bool {
        super::plain_ascii_blocks(b)
    }

    pub(crate) fn equal(x: &[u8; 16], c: u8) -> u32 {
        let (a, b) = halves(x);
        bits(swar::equal(a, c)) | bits(swar::equal(b, c)) << 8
    }

    pub(crate) fn not_digits(x: &[u8; 16]) -> u32 {
        let (a, b) = halves(x);
        bits(swar::not_digit(a)) | bits(swar::not_digit(b)) << 8
    }
}

pub(crate) use imp::{equal, not_digits, nul_or_high, string_stops};

/// The value of the `n` (1 to 10) ASCII digits that start `d`, eight at a time in one register.
#[inline(always)]
pub(crate) fn digits_value(d: &[u8; 16], n: usize) -> u64 {
    let head = n.min(8);
    let mut w = [0u8; 8];
    w.copy_from_slice(&d[..8]);
    // Digit values in the lanes, the first digit lowest; shifting left drops the lanes past the
    // digits (a borrow from the subtraction only moves up, into them) and puts zeros in front.
    let x = u64::from_le_bytes(w).wrapping_sub(0x3030_3030_3030_3030) << (8 * (8 - head));
    let eight = super::swar::digit_lanes_value(x);
    // A ninth and tenth digit (auid's 4294967295 is common) added by multiplying by 0 or 1, not
    // by a loop whose length varies from one value to the next.
    let (ninth, tenth) = (u64::from(n >= 9), u64::from(n >= 10));
    let nine = eight + ninth * (eight * 9 + u64::from(d[8].wrapping_sub(b'0')));
    nine + tenth * (nine * 9 + u64::from(d[9].wrapping_sub(b'0')))
}

/// Every byte is ASCII and none is NUL: such a record is valid UTF-8 as it is, and no NUL needs
/// looking for. One pass, where a NUL search and UTF-8 validation made two; every record of every
/// text file goes through it.
#[inline]
pub(crate) fn plain_ascii(b: &[u8]) -> bool {
    imp::plain_ascii(b)
}

/// [`plain_ascii`] sixteen bytes at a time, with a flag test per block (the portable form, and the
/// reference the x86_64 form is tested against).
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn plain_ascii_blocks(b: &[u8]) -> bool {
    let mut flags = 0;
    let mut i = 0;
    while let Some(x) = block(b, i) {
        flags |= nul_or_high(x);
        i += 16;
    }
    flags == 0 && b[i..].iter().all(|&c| c != 0 && c < 0x80)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// The folded forms (SSE2, and AVX2 where the CPU has it) answer as the per-block one and as
    /// a byte loop, for every length to 170 with a NUL, a high byte or neither at every position.
    #[test]
    fn plain_ascii_at_every_length_and_position() {
        let simple = |b: &[u8]| b.iter().all(|&c| c != 0 && c < 0x80);
        #[cfg(target_arch = "x86_64")]
        let avx2 = std::arch::is_x86_feature_detected!("avx2");
        for len in 0..170 {
            let clean: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            assert!(plain_ascii(&clean) && plain_ascii_blocks(&clean), "{len}");
            // Each x86_64 form, whichever the CPU would be given.
            #[cfg(target_arch = "x86_64")]
            let forms = |b: &[u8]| {
                let sse2 = imp::plain_ascii_sse2(b);
                if avx2 && b.len() >= 32 {
                    // SAFETY: the CPU has AVX2 and the record 32 bytes.
                    assert_eq!(unsafe { imp::plain_ascii_avx2(b) }, sse2, "{b:?}");
                }
                sse2
            };
            #[cfg(not(target_arch = "x86_64"))]
            let forms = plain_ascii_blocks;
            for at in 0..len {
                for bad in [0u8, 0x80, 0xC3, 0xFF, 0x7F, 0x01] {
                    let mut b = clean.clone();
                    b[at] = bad;
                    assert_eq!(
                        plain_ascii(&b),
                        simple(&b),
                        "len {len} at {at} byte {bad:#x}"
                    );
                    assert_eq!(plain_ascii_blocks(&b), simple(&b), "len {len} at {at}");
                    assert_eq!(forms(&b), simple(&b), "len {len} at {at}");
                }
            }
        }
    }

    #[test]
    fn digits_value_reads_one_to_ten_digits() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for n in 1..=10 {
            for _ in 0..2_000 {
                let digits: String = (0..n)
                    .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
                    .collect();
                let mut block = [b','; 16];
                block[..n].copy_from_slice(digits.as_bytes());
                // Whatever follows the digits must not matter.
                for b in &mut block[n..] {
                    *b = rng.random();
                }
                assert_eq!(
                    digits_value(&block, n),
                    digits.parse::<u64>().unwrap(),
                    "{digits}"
                );
            }
        }
    }

    #[test]
    fn every_byte_value_in_every_lane() {
        for lane in 0..16 {
            for c in 0..=255u8 {
                let mut b = [b'5'; 16];
                b[lane] = c;
                let stop = c == b'"' || c == b'\\' || c < 0x20;
                assert_eq!(
                    string_stops(&b),
                    u32::from(stop) << lane,
                    "string {c} lane {lane}"
                );
                let nd = !c.is_ascii_digit();
                assert_eq!(
                    not_digits(&b),
                    u32::from(nd) << lane,
                    "digit {c} lane {lane}"
                );
                let mut a = [b'a'; 16];
                a[lane] = c;
                let other = a.iter().enumerate().filter(|&(k, _)| k != lane).count() as u32;
                assert_eq!(not_digits(&a).count_ones(), other + u32::from(nd));
            }
        }
        for lane in 0..16 {
            for c in 0..=255u8 {
                let mut b = [b'x'; 16];
                b[lane] = c;
                let flagged = c == 0 || c >= 0x80;
                assert_eq!(
                    nul_or_high(&b),
                    u32::from(flagged) << lane,
                    "{c} lane {lane}"
                );
            }
        }
        for lane in 0..16 {
            for c in 0..=255u8 {
                let mut b = [b'x'; 16];
                b[lane] = c;
                // Every byte value against every other as the one looked for.
                let want = u32::from(c == b',') << lane;
                assert_eq!(equal(&b, b','), want, "{c} lane {lane}");
                assert_eq!(equal(&b, c) & (1 << lane), 1 << lane, "{c} lane {lane}");
                assert_eq!(equal(&b, c).count_ones(), if c == b'x' { 16 } else { 1 });
            }
        }
        assert_eq!(block(b"0123456789abcde", 0), None);
        assert!(block(b"0123456789abcdef", 0).is_some());
    }
}
