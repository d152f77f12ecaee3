//! eslogger's audit tokens read with AVX-512 VBMI, no loop over their values. There are three per
//! process object, about a tenth of an eslogger hunt, in two forms: an object of eight keys
//! (`{"euid":501,"egid":20,...}`, macOS 15) or an array of eight integers (`[501,501,20,...]`,
//! macOS 26 and later).
//!
//! The token's first 128 bytes are classified into bitmasks and its grammar checked as relations
//! between them (as `wire/flat.rs` checks a `stat` block); then every value is gathered into a
//! 16-byte lane of its own and all are converted at once, and every key is compared whole at once.
//! Where [`read`] takes a token, the loops in fast.rs (`compact_token` and `token_object` for an
//! object, `token_array` for an array) read it to the same fields and end. Anything else (no
//! VBMI2, a token past 128 bytes, whitespace, another key, a key read twice, a sign, over ten
//! digits, a value out of its field's range, an empty token, an array of other than eight) goes to
//! those loops, which decide as before.

use super::fast::TOKEN_LIMIT;
use super::model::AuditToken;

/// The token at `b[0]` (its `{` or `[`) and the bytes it takes, if this path takes it.
#[inline(always)]
pub(super) fn read(b: &[u8]) -> Option<(AuditToken, usize)> {
    #[cfg(target_arch = "x86_64")]
    {
        if available() {
            // SAFETY: the CPU has `wide`'s features, checked just above.
            return unsafe { wide::read(b) };
        }
    }
    let _ = b;
    None
}

/// Whether the CPU has what [`read`] needs (AVX-512 with VBMI and VBMI2: Intel since Ice Lake,
/// AMD since Zen 4). Checked once, then a load.
#[inline(always)]
pub(super) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        has!("avx512vbmi2")
            && has!("avx512vbmi")
            && has!("avx512bw")
            && has!("avx512f")
            && has!("popcnt")
            && has!("bmi1")
            && has!("bmi2")
            && has!("lzcnt")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// The object form's keys: the five read (slots 1-5: auid, euid, ruid, pid, pidversion), then the
/// three not.
const KEYS: [&[u8]; 8] = [
    b"auid",
    b"euid",
    b"ruid",
    b"pid",
    b"pidversion",
    b"egid",
    b"rgid",
    b"asid",
];

/// Each key as the 16 bytes of a key's lane (zero after the key), two little-endian words: made
/// when compiled, so the compares take them as constants.
const KEY_LANES: [[i64; 2]; 8] = {
    let mut t = [[0i64; 2]; 8];
    let mut k = 0;
    while k < KEYS.len() {
        let name = KEYS[k];
        let mut w = [0u64; 2];
        let mut i = 0;
        while i < name.len() {
            w[i / 8] |= (name[i] as u64) << (8 * (i % 8));
            i += 1;
        }
        t[k] = [w[0] as i64, w[1] as i64];
        k += 1;
    }
    t
};

/// The array form's places of auid, euid, ruid, pid and pidversion (of auid, euid, egid, ruid,
/// rgid, pid, asid, pidversion).
const ARRAY_PLACES: [Option<usize>; 5] = [Some(0), Some(1), Some(3), Some(5), Some(7)];

/// The token from the values (value `j` in `values[2 * j]`) at the places of auid, euid, ruid,
/// pid and pidversion (`None`: absent); `None` when one is out of its field's range.
fn token(values: &[u64; 16], places: [Option<usize>; 5]) -> Option<AuditToken> {
    let mut fields = [None; 5];
    for (k, place) in places.into_iter().enumerate() {
        if let Some(j) = place {
            let v = values[2 * j];
            // Slot k + 1 of the range table (slot 0: the keys not read).
            if v > TOKEN_LIMIT[k + 1] {
                return None;
            }
            fields[k] = Some(v);
        }
    }
    let u = |k: usize| fields[k].map(|v| v as u32);
    Some(AuditToken {
        auid: u(0),
        euid: u(1),
        ruid: u(2),
        pid: fields[3].map(|v| v as i32),
        pidversion: u(4),
    })
}

#[cfg(target_arch = "x86_64")]
mod wide {
    use super::{token, AuditToken, ARRAY_PLACES, KEY_LANES};
    use std::arch::x86_64::*;

    /// Byte `16 * j + k` of a lane register: `j + first` (the value or key of pair `j + first`).
    const fn lane_of_pair(first: u8) -> [u8; 64] {
        let mut t = [0u8; 64];
        let mut i = 0;
        while i < 64 {
            t[i] = first + (i / 16) as u8;
            i += 1;
        }
        t
    }

    /// Byte `i` holds `i % period + add` (wrapping).
    const fn places_from(period: usize, add: i8) -> [u8; 64] {
        let mut t = [0u8; 64];
        let mut i = 0;
        while i < 64 {
            t[i] = ((i % period) as i8).wrapping_add(add) as u8;
            i += 1;
        }
        t
    }

    static PAIRS_0_3: [u8; 64] = lane_of_pair(0);
    static PAIRS_4_7: [u8; 64] = lane_of_pair(4);
    /// In a lane, the place of each byte from its value's end: `k - 16`.
    static BEFORE_END: [u8; 64] = places_from(16, -16);
    /// In a lane, the place of each byte from its key's start: `k`.
    static FROM_START: [u8; 64] = places_from(16, 0);
    static IOTA: [u8; 64] = places_from(64, 0);

    /// # Safety
    /// AVX-512F/BW (the tables are 64 bytes).
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    unsafe fn table(t: &[u8; 64]) -> __m512i {
        // SAFETY: 64 readable bytes.
        unsafe { _mm512_loadu_si512(t.as_ptr().cast()) }
    }

    /// The token's first 128 bytes, in two registers, and byte classes over them.
    struct Block {
        lo: __m512i,
        hi: __m512i,
    }

    impl Block {
        /// Fewer than 128 at the record's end: masked loads read no byte past it, and the rest are
        /// NUL, which no class takes.
        #[inline]
        #[target_feature(enable = "avx512f,avx512bw")]
        fn load(b: &[u8]) -> Block {
            let n = b.len().min(128);
            let (lo_n, hi_n) = (n.min(64), n.saturating_sub(64));
            let upto = |k: usize| if k == 64 { u64::MAX } else { (1u64 << k) - 1 };
            // SAFETY: masked loads touch only the bytes their mask selects: the first `lo_n`
            // bytes of `b` and the `hi_n` after them, all within `b` (`wrapping_add`: the address
            // is not used when `hi_n` is 0).
            unsafe {
                Block {
                    lo: _mm512_maskz_loadu_epi8(upto(lo_n), b.as_ptr().cast()),
                    hi: _mm512_maskz_loadu_epi8(upto(hi_n), b.as_ptr().wrapping_add(64).cast()),
                }
            }
        }

        #[inline]
        #[target_feature(enable = "avx512f,avx512bw")]
        fn eq(&self, c: u8) -> u128 {
            let c = _mm512_set1_epi8(c as i8);
            u128::from(_mm512_cmpeq_epi8_mask(self.lo, c))
                | u128::from(_mm512_cmpeq_epi8_mask(self.hi, c)) << 64
        }

        /// Bytes from `a` to `z`.
        #[inline]
        #[target_feature(enable = "avx512f,avx512bw")]
        fn within(&self, a: u8, z: u8) -> u128 {
            let (a, z) = (_mm512_set1_epi8(a as i8), _mm512_set1_epi8(z as i8));
            let m = |x| _mm512_cmpge_epu8_mask(x, a) & _mm512_cmple_epu8_mask(x, z);
            u128::from(m(self.lo)) | u128::from(m(self.hi)) << 64
        }

        /// The 16 bytes at each lane's places (`at`, 0 to 127), zero where `keep` is not set.
        #[inline]
        #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
        fn gather(&self, keep: __mmask64, at: __m512i) -> __m512i {
            _mm512_maskz_permutex2var_epi8(keep, self.lo, at, self.hi)
        }
    }

    /// A token's bytes up to its first closing byte (its end), and the classes both forms read.
    struct Span {
        block: Block,
        /// The closing byte's place.
        close: u32,
        /// Bits 0 to `close`.
        live: u128,
        comma: u128,
        digit: u128,
        zero: u128,
    }

    impl Span {
        #[inline]
        #[target_feature(enable = "avx512f,avx512bw")]
        fn of(b: &[u8], closing: u8) -> Option<Span> {
            let block = Block::load(b);
            let closes = block.eq(closing);
            if closes == 0 {
                return None;
            }
            let close = closes.trailing_zeros();
            let live = u128::MAX >> (127 - close);
            Some(Span {
                comma: block.eq(b',') & live,
                digit: block.within(b'0', b'9') & live,
                zero: block.eq(b'0') & live,
                block,
                close,
                live,
            })
        }
    }

    /// What both forms check of their values: every value byte is a digit, a value has one, and a
    /// leading zero is the whole value. `seps` are the bytes before the values, `ends` the bytes
    /// after them (alternating with `seps` when the grammar holds: anything else leaves bytes of
    /// the wrong class in between).
    #[inline]
    fn values_hold(seps: u128, ends: u128, digit: u128, zero: u128) -> bool {
        let value = ends.wrapping_sub(seps << 1);
        (value == digit) & ((seps << 1) & !digit == 0) & (((seps << 1) & zero) << 1 & digit == 0)
    }

    /// The places of a mask's bits (at most 64), a byte each from the first (zero after the last).
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vbmi2,popcnt")]
    unsafe fn places(m: u128) -> __m512i {
        // SAFETY: AVX-512F/BW per this function's features.
        let iota = unsafe { table(&IOTA) };
        let (l, h) = (m as u64, (m >> 64) as u64);
        let low = _mm512_maskz_compress_epi8(l, iota);
        let high = _mm512_maskz_compress_epi8(h, _mm512_add_epi8(iota, _mm512_set1_epi8(64)));
        // The second half's places after the first's.
        let k = l.count_ones();
        let high = _mm512_maskz_permutexvar_epi8(
            u64::MAX.checked_shl(k).unwrap_or(0),
            _mm512_sub_epi8(iota, _mm512_set1_epi8(k as i8)),
            high,
        );
        _mm512_or_si512(low, high)
    }

    /// Each value (at most eight) as a number: value `j` in `[2 * j]`; `None` when one is over
    /// ten digits (the loops read none longer). `seps` and `ends` hold the places before and
    /// after each value, value `j`'s in byte `j`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    unsafe fn numbers(
        block: &Block,
        count: u32,
        seps: __m512i,
        ends: __m512i,
    ) -> Option<[u64; 16]> {
        let mine = (1u64 << count) - 1;
        let long =
            _mm512_mask_cmpgt_epu8_mask(mine, _mm512_sub_epi8(ends, seps), _mm512_set1_epi8(11));
        if long != 0 {
            return None;
        }
        let lanes = |first: &[u8; 64]| {
            // SAFETY: AVX-512F/BW per this function's features.
            let lanes = unsafe { table(first) };
            // Lane j's bytes are the 16 before its value's end: the value right-aligned, the
            // bytes up to its separator masked to zero. Places before the token's start are
            // negative: below every separator.
            let sep = _mm512_permutexvar_epi8(lanes, seps);
            // SAFETY: as above.
            let at = _mm512_add_epi8(_mm512_permutexvar_epi8(lanes, ends), unsafe {
                table(&BEFORE_END)
            });
            let keep = _mm512_cmpgt_epi8_mask(at, sep);
            let d = block.gather(keep, at);
            let d = _mm512_maskz_sub_epi8(keep, d, _mm512_set1_epi8(b'0' as i8));
            // Sixteen digits to one number per lane, in its first eight bytes: pairs, fours,
            // eights, then the two eights.
            let d = _mm512_maddubs_epi16(d, _mm512_set1_epi16(0x010a));
            let d = _mm512_madd_epi16(d, _mm512_set1_epi32(0x0001_0064));
            let d = _mm512_packus_epi32(d, d);
            let d = _mm512_madd_epi16(d, _mm512_set1_epi32(0x0001_2710));
            _mm512_add_epi64(
                _mm512_mul_epu32(d, _mm512_set1_epi64(100_000_000)),
                _mm512_srli_epi64(d, 32),
            )
        };
        let mut out = [0u64; 16];
        // SAFETY: two 64-byte stores into the 128 bytes of `out`.
        unsafe {
            _mm512_storeu_si512(out.as_mut_ptr().cast(), lanes(&PAIRS_0_3));
            _mm512_storeu_si512(out.as_mut_ptr().add(8).cast(), lanes(&PAIRS_4_7));
        }
        Some(out)
    }

    /// [`super::read`] on a CPU with its features.
    ///
    /// # Safety
    /// AVX-512F, BW, VBMI and VBMI2, POPCNT, BMI1/2 and LZCNT.
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vbmi2,popcnt,bmi1,bmi2,lzcnt")]
    pub(super) unsafe fn read(b: &[u8]) -> Option<(AuditToken, usize)> {
        match b.first() {
            // SAFETY: this function's features are theirs.
            Some(b'{') => unsafe { object(b) },
            // SAFETY: as above.
            Some(b'[') => unsafe { array(b) },
            _ => None,
        }
    }

    /// `[auid,euid,egid,ruid,rgid,pid,asid,pidversion]`: eight plain integers.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vbmi2,popcnt,bmi1,bmi2,lzcnt")]
    unsafe fn array(b: &[u8]) -> Option<(AuditToken, usize)> {
        let Span {
            block,
            close,
            comma,
            digit,
            zero,
            ..
        } = Span::of(b, b']')?;
        let end = 1u128 << close;
        // Values after the `[` and each comma, up to the next comma or the `]`.
        let (seps, ends) = (comma | 1, comma | end);
        // Between its separators every byte is checked: nothing else is in the token.
        if !values_hold(seps, ends, digit, zero) | (ends.count_ones() != 8) {
            return None;
        }
        // SAFETY: this function's features are theirs.
        let values = unsafe { numbers(&block, 8, places(seps), places(ends)) }?;
        Some((token(&values, ARRAY_PLACES)?, close as usize + 1))
    }

    /// `{"key":digits,...}`: the eight keys of [`super::KEYS`] in any order, each read key once.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vbmi2,popcnt,bmi1,bmi2,lzcnt")]
    unsafe fn object(b: &[u8]) -> Option<(AuditToken, usize)> {
        // A key or value holding a `}` is refused below.
        let Span {
            block,
            close,
            live,
            comma,
            digit,
            zero,
        } = Span::of(b, b'}')?;
        let quote = block.eq(b'"') & live;
        let colon = block.eq(b':') & live;
        let letter = block.within(b'a', b'z') & live;
        let end = 1u128 << close;
        // A key opens after `{` or a comma, its closing quote is followed by a colon, its text
        // is letters (from each opening quote to its closing one, alternating as the values
        // do), a value of digits runs from the colon to a comma or the brace: every byte is
        // checked, so nothing else is in the token.
        let key_open = (comma | 1) << 1;
        let key_close = quote & !key_open;
        let key_text = key_close.wrapping_sub(key_open << 1);
        let pairs = colon.count_ones();
        if (key_open & !quote != 0)
            | (key_close << 1 != colon)
            | (key_text != letter)
            | !values_hold(colon, comma | end, digit, zero)
            // As many keys as colons (implied by the relations above; the lanes rely on it).
            | (key_open.count_ones() != pairs)
            | (pairs == 0)
            // A lane each in two registers.
            | (pairs > 8)
        {
            return None;
        }
        // Each pair's colon and end, its key's first byte (two after the previous pair's end,
        // or the `{`) and closing quote (the byte before its colon): pair j's in byte j (0 for
        // no pair, so that no place lies between).
        let mine = (1u64 << pairs) - 1;
        // SAFETY: this function's features are theirs.
        let (colons, ends, iota) = unsafe { (places(colon), places(comma | end), table(&IOTA)) };
        let quotes = _mm512_maskz_sub_epi8(mine, colons, _mm512_set1_epi8(1));
        let before =
            _mm512_maskz_permutexvar_epi8(!1, _mm512_sub_epi8(iota, _mm512_set1_epi8(1)), ends);
        let starts = _mm512_maskz_add_epi8(mine, before, _mm512_set1_epi8(2));
        // SAFETY: as above.
        let values = unsafe { numbers(&block, pairs, colons, ends) }?;
        // Lane j's bytes are its key's first 16, zero from its closing quote on (places up to
        // 142: compared unsigned).
        let key = |first: &[u8; 64]| {
            // SAFETY: AVX-512F/BW per this function's features.
            let (lanes, from) = unsafe { (table(first), table(&FROM_START)) };
            let at = _mm512_add_epi8(_mm512_permutexvar_epi8(lanes, starts), from);
            let keep = _mm512_cmplt_epu8_mask(at, _mm512_permutexvar_epi8(lanes, quotes));
            block.gather(keep, at)
        };
        let keys = [key(&PAIRS_0_3), key(&PAIRS_4_7)];
        // For each key, the pairs that hold it, as bit 2j for pair j.
        let hits = |k: usize| {
            let [w0, w1] = KEY_LANES[k];
            let k = _mm512_set_epi64(w1, w0, w1, w0, w1, w0, w1, w0);
            let lane_hits = |x| {
                let m = u32::from(_mm512_cmpeq_epi64_mask(x, k));
                // Both words of a lane: its bit 2j.
                m & (m >> 1) & 0x55
            };
            lane_hits(keys[0]) | lane_hits(keys[1]) << 8
        };
        // Slot 0: the keys not read.
        let slots = [
            hits(5) | hits(6) | hits(7),
            hits(0),
            hits(1),
            hits(2),
            hits(3),
            hits(4),
        ];
        // Every pair is a known key, and each read key comes once (a key read twice is left to
        // `compact_token`, which checks every value it overwrites).
        let all = 0x5555 & ((1u32 << (2 * pairs)) - 1);
        if slots.iter().fold(0, |a, s| a | s) != all
            || slots[1..].iter().any(|s| s.count_ones() > 1)
        {
            return None;
        }
        let pair = |k: usize| (slots[k] != 0).then(|| slots[k].trailing_zeros() as usize / 2);
        let token = token(&values, [pair(1), pair(2), pair(3), pair(4), pair(5)])?;
        Some((token, close as usize + 1))
    }
}
