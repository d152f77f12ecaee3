//! Skipping a flat JSON object 64 bytes at a time: keys, string values and plain integers, with
//! no nesting, whitespace or escapes. That is the shape of eslogger's `stat` blocks (a third of an
//! eslogger line's bytes, never read), where the token-by-token scanner spent about 60 cycles per
//! key and value on branches it could not predict (string or number next, key length).
//!
//! Each 64-byte block is classified into bitmasks (one bit per byte: quote, colon, comma, `}`,
//! digit, and the bytes this path does not take). Strings are found with a prefix XOR of the
//! quotes, and JSON's grammar for a flat object is checked as relations between neighbouring bytes:
//! a key's closing quote is followed by a colon, a colon by a value, a value by a comma or the
//! closing brace, a comma by a key's opening quote. [`object_end`] only ever accepts: anything it
//! does not take (a nested value, whitespace, an escape, a negative or fractional number, a
//! literal, broken JSON) is handed back to the token scanner, which decides. So whatever it accepts
//! is valid JSON that the scanner's [`skip`](super::scan::Scan::skip) accepts too, ending at the
//! same byte; a differential test over mutated objects holds it to that.

/// One block's byte classes, one bit per byte (bit k: byte k of the block).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Classes {
    quote: u64,
    colon: u64,
    comma: u64,
    close: u64,
    digit: u64,
    zero: u64,
    /// Never taken here, in a string or not: a backslash (an escape) and control characters.
    refused: u64,
    /// Not taken outside a string: whitespace and the other brackets (`{`, `[`, `]`).
    refused_outside: u64,
}

/// Classifies one byte at a time: the reference the vector version is tested against, and the
/// version on targets other than x86_64.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn classify_bytes(block: &[u8; 64]) -> Classes {
    let mut c = Classes::default();
    for (k, &x) in block.iter().enumerate() {
        let bit = 1u64 << k;
        let set = |m: &mut u64, yes: bool| {
            if yes {
                *m |= bit
            }
        };
        set(&mut c.quote, x == b'"');
        set(&mut c.colon, x == b':');
        set(&mut c.comma, x == b',');
        set(&mut c.close, x == b'}');
        set(&mut c.digit, x.is_ascii_digit());
        set(&mut c.zero, x == b'0');
        set(&mut c.refused, x == b'\\' || x < 0x20);
        set(
            &mut c.refused_outside,
            matches!(x, b' ' | b'{' | b'[' | b']'),
        );
    }
    c
}

/// How one 64-byte block is classified: the same [`Classes`] whatever the instructions.
trait Classify {
    /// # Safety
    /// Only called where the CPU has the instructions the implementation uses (checked once, at
    /// [`object_end`]'s dispatch).
    unsafe fn classify(block: &[u8; 64]) -> Classes;
}

/// SSE2 (x86_64's base): four 16-byte lanes, their masks shifted into place.
#[cfg(target_arch = "x86_64")]
struct Sse2;

#[cfg(target_arch = "x86_64")]
impl Classify for Sse2 {
    #[inline(always)]
    unsafe fn classify(block: &[u8; 64]) -> Classes {
        use std::arch::x86_64::*;
        let mut c = Classes::default();
        for (k, lane) in block.chunks_exact(16).enumerate() {
            // SAFETY: SSE2 is in x86_64's base instruction set; the load reads the 16 bytes of
            // `lane` (unaligned loads allowed); the rest works on registers only.
            let m = unsafe {
                let v = _mm_loadu_si128(lane.as_ptr().cast());
                let eq = |b: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(b as i8));
                let bits = |x: __m128i| _mm_movemask_epi8(x) as u16 as u64;
                // max(c, 0x1f) == 0x1f exactly when c <= 0x1f (unsigned).
                let low = _mm_set1_epi8(0x1f);
                let ctl = _mm_cmpeq_epi8(_mm_max_epu8(v, low), low);
                let outside = _mm_or_si128(
                    _mm_or_si128(eq(b' '), eq(b'{')),
                    _mm_or_si128(eq(b'['), eq(b']')),
                );
                [
                    bits(eq(b'"')),
                    bits(eq(b':')),
                    bits(eq(b',')),
                    bits(eq(b'}')),
                    bits(eq(b'0')),
                    bits(_mm_or_si128(eq(b'\\'), ctl)),
                    bits(outside),
                ]
            };
            let at = 16 * k;
            // The scanner's own digit test (`lanes::not_digits`), on the same sixteen bytes.
            let digits =
                super::lanes::block(block, at).map_or(0, |x| !super::lanes::not_digits(x) & 0xffff);
            c.quote |= m[0] << at;
            c.colon |= m[1] << at;
            c.comma |= m[2] << at;
            c.close |= m[3] << at;
            c.digit |= u64::from(digits) << at;
            c.zero |= m[4] << at;
            c.refused |= m[5] << at;
            c.refused_outside |= m[6] << at;
        }
        c
    }
}

/// AVX2: two 32-byte lanes.
#[cfg(target_arch = "x86_64")]
struct Avx2;

#[cfg(target_arch = "x86_64")]
impl Classify for Avx2 {
    #[inline(always)]
    unsafe fn classify(block: &[u8; 64]) -> Classes {
        // SAFETY: two unaligned 32-byte loads within the 64 bytes `block` borrows; AVX2 per the
        // trait's contract.
        let (lo, hi) = unsafe { (avx2_lane(block.as_ptr()), avx2_lane(block.as_ptr().add(32))) };
        let join = |i: usize| lo[i] | hi[i] << 32;
        Classes {
            quote: join(0),
            colon: join(1),
            comma: join(2),
            close: join(3),
            digit: join(4),
            zero: join(5),
            refused: join(6),
            refused_outside: join(7),
        }
    }
}

/// One 32-byte lane's masks, in [`Classes`] order. No closures here: a closure does not take on
/// the AVX2 of the function it is inlined into, and its intrinsics would be calls.
///
/// # Safety
/// AVX2, and 32 readable bytes at `p`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn avx2_lane(p: *const u8) -> [u64; 8] {
    use std::arch::x86_64::*;
    // SAFETY: the caller's contract.
    unsafe {
        let v = _mm256_loadu_si256(p.cast());
        let low = _mm256_set1_epi8(0x1f);
        let ctl = _mm256_cmpeq_epi8(_mm256_max_epu8(v, low), low);
        // c - '0' wraps every non-digit to 10..=255; min(d, 9) == d exactly for digits.
        let d = _mm256_sub_epi8(v, _mm256_set1_epi8(b'0' as i8));
        let digit = _mm256_cmpeq_epi8(_mm256_min_epu8(d, _mm256_set1_epi8(9)), d);
        let outside = _mm256_or_si256(
            _mm256_or_si256(avx2_eq(v, b' '), avx2_eq(v, b'{')),
            _mm256_or_si256(avx2_eq(v, b'['), avx2_eq(v, b']')),
        );
        [
            avx2_bits(avx2_eq(v, b'"')),
            avx2_bits(avx2_eq(v, b':')),
            avx2_bits(avx2_eq(v, b',')),
            avx2_bits(avx2_eq(v, b'}')),
            avx2_bits(digit),
            avx2_bits(avx2_eq(v, b'0')),
            avx2_bits(_mm256_or_si256(avx2_eq(v, b'\\'), ctl)),
            avx2_bits(outside),
        ]
    }
}

/// # Safety
/// AVX2.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn avx2_eq(v: std::arch::x86_64::__m256i, b: u8) -> std::arch::x86_64::__m256i {
    use std::arch::x86_64::*;
    // SAFETY: the caller's contract.
    unsafe { _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b as i8)) }
}

/// # Safety
/// AVX2.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn avx2_bits(x: std::arch::x86_64::__m256i) -> u64 {
    // SAFETY: the caller's contract.
    unsafe { std::arch::x86_64::_mm256_movemask_epi8(x) as u32 as u64 }
}

/// AVX-512BW: one 64-byte register, each comparison a 64-bit mask directly.
#[cfg(target_arch = "x86_64")]
struct Avx512;

#[cfg(target_arch = "x86_64")]
impl Classify for Avx512 {
    #[inline(always)]
    unsafe fn classify(block: &[u8; 64]) -> Classes {
        use std::arch::x86_64::*;
        // SAFETY: one unaligned load of the 64 bytes `block` borrows; AVX-512F/BW per the
        // trait's contract; the rest works on registers only.
        unsafe {
            let v = _mm512_loadu_si512(block.as_ptr().cast());
            // As in `avx2_lane`: a macro, not a closure, so the comparisons stay instructions.
            macro_rules! eq {
                ($b:expr) => {
                    _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8($b as i8))
                };
            }
            Classes {
                quote: eq!(b'"'),
                colon: eq!(b':'),
                comma: eq!(b','),
                close: eq!(b'}'),
                digit: _mm512_cmpge_epu8_mask(v, _mm512_set1_epi8(b'0' as i8))
                    & _mm512_cmple_epu8_mask(v, _mm512_set1_epi8(b'9' as i8)),
                zero: eq!(b'0'),
                refused: eq!(b'\\') | _mm512_cmple_epu8_mask(v, _mm512_set1_epi8(0x1f)),
                refused_outside: eq!(b' ') | eq!(b'{') | eq!(b'[') | eq!(b']'),
            }
        }
    }
}

/// Byte by byte, where no vector version is written.
#[cfg(not(target_arch = "x86_64"))]
struct Bytes;

#[cfg(not(target_arch = "x86_64"))]
impl Classify for Bytes {
    #[inline(always)]
    unsafe fn classify(block: &[u8; 64]) -> Classes {
        classify_bytes(block)
    }
}

/// Bit k set when an odd number of `x`'s bits 0..=k are set: from an opening quote up to (not
/// including) its closing one.
#[inline(always)]
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

/// The masks whose last bit the next block needs (as the byte before its first).
#[derive(Default)]
struct Carry {
    in_string: u64,
    add: u64,
    comma: u64,
    colon: u64,
    key_close: u64,
    value_close: u64,
    number: u64,
    zero_start: u64,
}

/// Shifted one byte on: bit k says something of byte k - 1, bit 0 of the previous block's last.
#[inline(always)]
fn after(x: u64, carry: u64) -> u64 {
    (x << 1) | carry
}

/// The end (one past the closing brace) of the flat object whose `{` is at `b[open]`, if this path
/// takes it; None hands it to the token scanner. The widest vectors the CPU has classify the
/// bytes: a `stat` block is six 64-byte blocks, and assembling one block's masks from 16-byte
/// lanes took more instructions than the grammar checks on them.
pub(crate) fn object_end(b: &[u8], open: usize) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512bw") {
            // SAFETY: the CPU has AVX-512BW (and so AVX-512F), checked just above.
            return unsafe { object_end_avx512(b, open) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above.
            return unsafe { object_end_avx2(b, open) };
        }
        // SAFETY: SSE2 is in x86_64's base instruction set.
        unsafe { object_end_with::<Sse2>(b, open) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    // SAFETY: byte by byte, no special instructions.
    unsafe {
        object_end_with::<Bytes>(b, open)
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn object_end_avx512(b: &[u8], open: usize) -> Option<usize> {
    // SAFETY: this function's features are the classifier's.
    unsafe { object_end_with::<Avx512>(b, open) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn object_end_avx2(b: &[u8], open: usize) -> Option<usize> {
    // SAFETY: this function's features are the classifier's.
    unsafe { object_end_with::<Avx2>(b, open) }
}

/// [`object_end`] with one classifier, inlined into a function compiled for its instructions.
///
/// # Safety
/// The CPU has the instructions `C` uses.
#[inline(always)]
unsafe fn object_end_with<C: Classify>(b: &[u8], open: usize) -> Option<usize> {
    let first = open + 1;
    // The byte after `{` must open a key (an empty object is left to the scanner: it is cheap).
    if b.get(first) != Some(&b'"') {
        return None;
    }
    let mut c = Carry {
        // The `{` before the first byte counts as a comma: a key follows it.
        comma: 1,
        ..Carry::default()
    };
    let mut at = first;
    let mut pad;
    loop {
        let block: &[u8; 64] = match b.get(at..at + 64) {
            Some(s) => s.try_into().ok()?,
            None => {
                // The record's end: NUL padding is a control character, refused, so an object
                // that does not close within the record is left to the scanner.
                let rest = b.get(at..)?;
                pad = [0u8; 64];
                pad[..rest.len()].copy_from_slice(rest);
                &pad
            }
        };
        // SAFETY: the caller's contract.
        let m = unsafe { C::classify(block) };
        let in_string = prefix_xor(m.quote) ^ c.in_string;
        let outside = !in_string & !m.quote;
        let colon = m.colon & outside;
        let comma = m.comma & outside;
        let close = m.close & outside;
        // Only bytes up to the object's closing brace (the first outside a string) are its own.
        let live = match close {
            0 => !0,
            x => u64::MAX >> (63 - x.trailing_zeros()),
        };
        let open_quote = m.quote & in_string;
        let close_quote = m.quote & !in_string;
        let number = outside & !colon & !comma & !close;
        let key_open = open_quote & after(comma, c.comma);
        let value_open = open_quote & after(colon, c.colon);
        // Adding a key's opening quote to its run of in-string bits carries to its closing quote.
        let (sum, o1) = in_string.overflowing_add(key_open);
        let (sum, o2) = sum.overflowing_add(c.add);
        let key_close = sum & !in_string & m.quote;
        let value_close = close_quote & !key_close;
        let number_start = number & !after(number, c.number);
        let zero_start = number_start & m.zero;
        let broken = m.refused
            | (m.refused_outside & outside)
            // Numbers here are plain non-negative integers: `-`, `.`, `e`, literals go back.
            | (number & !m.digit)
            // A leading zero is followed by nothing but the number's end.
            | (after(zero_start, c.zero_start) & m.digit)
            // Every opening quote opens a key (after `{` or `,`) or a value (after `:`).
            | (open_quote & !(key_open | value_open))
            // A comma is followed by a key; a colon by a value; a key by a colon.
            | (after(comma, c.comma) & !open_quote)
            | (after(colon, c.colon) & !(open_quote | number_start))
            | (after(key_close, c.key_close) & !colon)
            | (colon & !after(key_close, c.key_close))
            // A value is followed by a comma or the closing brace, and nothing else is.
            | (after(value_close, c.value_close) & !(comma | close))
            | (after(number, c.number) & !(number | comma | close))
            | ((comma | close) & !after(value_close | number, c.value_close | c.number))
            // A number starts only after a colon.
            | (number_start & !after(colon, c.colon));
        if broken & live != 0 {
            return None;
        }
        if close != 0 {
            return Some(at + close.trailing_zeros() as usize + 1);
        }
        let top = |x: u64| x >> 63;
        c = Carry {
            in_string: 0u64.wrapping_sub(top(in_string)),
            add: u64::from(o1 | o2),
            comma: top(comma),
            colon: top(colon),
            key_close: top(key_close),
            value_close: top(value_close),
            number: top(number),
            zero_start: top(zero_start),
        };
        at += 64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::scan::Scan;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// A fixed seed: the same cases every run.
    fn rng(seed: u64) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(seed)
    }

    /// Real `stat` blocks (tests/data/corpus/eslogger: mullvad_eslogger_v9_v10_v11.ndjson and the
    /// macmonitor fixture, see its PROVENANCE.md).
    const REAL: [&str; 2] = [
        r#"{"st_size":38146864,"st_gid":80,"st_ino":13982224,"st_uid":501,"st_ctimespec":"2025-05-09T11:57:32.842789602Z","st_gen":0,"st_mtimespec":"2025-04-29T23:31:45.000000000Z","st_blocks":74512,"st_rdev":0,"st_dev":16777234,"st_atimespec":"2025-08-07T12:32:35.400606076Z","st_nlink":1,"st_mode":33133,"st_blksize":4096,"st_birthtimespec":"2025-04-29T23:31:45.000000000Z","st_flags":0}"#,
        r#"{"st_nlink":1,"st_gid":0,"st_mode":33261,"st_uid":0,"st_ino":1001,"st_ctimespec":"2026-01-01T00:00:00.000000000Z","st_birthtimespec":"2026-01-01T00:00:00.000000000Z","st_dev":16777231,"st_atimespec":"2026-01-01T00:00:00.000000000Z","st_gen":0,"st_rdev":0,"st_size":4096,"st_blocks":8,"st_flags":0,"st_blksize":4096,"st_mtimespec":"2026-01-01T00:00:00.000000000Z"}"#,
    ];

    /// What the token scanner says of the object at `at`: its end, or None on a miss.
    fn by_tokens(text: &str, at: usize) -> Option<usize> {
        let mut s = Scan::new(text);
        s.set_pos(at);
        s.skip_object_tokens().ok()?;
        Some(s.pos())
    }

    /// Each classifier this CPU can run, by name.
    #[allow(clippy::type_complexity)]
    fn classifiers() -> Vec<(&'static str, fn(&[u8; 64]) -> Classes)> {
        #[allow(unused_mut)]
        let mut all: Vec<(&'static str, fn(&[u8; 64]) -> Classes)> = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx2")]
            unsafe fn avx2(b: &[u8; 64]) -> Classes {
                unsafe { Avx2::classify(b) }
            }
            #[target_feature(enable = "avx512f,avx512bw")]
            unsafe fn avx512(b: &[u8; 64]) -> Classes {
                unsafe { Avx512::classify(b) }
            }
            // SAFETY (each): run only where the CPU has the instructions.
            all.push(("sse2", |b| unsafe { Sse2::classify(b) }));
            if std::arch::is_x86_feature_detected!("avx2") {
                all.push(("avx2", |b| unsafe { avx2(b) }));
            }
            if std::arch::is_x86_feature_detected!("avx512bw") {
                all.push(("avx512", |b| unsafe { avx512(b) }));
            }
        }
        all
    }

    /// [`object_end`] with each classifier this CPU can run: they must agree.
    fn object_end_everywhere(b: &[u8], at: usize) -> Option<usize> {
        let best = object_end(b, at);
        #[cfg(target_arch = "x86_64")]
        {
            // SAFETY (each): run only where the CPU has the instructions.
            assert_eq!(unsafe { object_end_with::<Sse2>(b, at) }, best, "sse2");
            if std::arch::is_x86_feature_detected!("avx2") {
                assert_eq!(unsafe { object_end_avx2(b, at) }, best, "avx2");
            }
        }
        best
    }

    /// Whatever the bulk path accepts, the token scanner and serde_json accept, ending at the
    /// same byte.
    fn check(text: &str, at: usize) -> Option<usize> {
        let ours = object_end_everywhere(text.as_bytes(), at);
        if let Some(end) = ours {
            assert_eq!(by_tokens(text, at), Some(end), "{text:?} at {at}");
            let value = &text[at..end];
            assert!(
                serde_json::from_str::<serde::de::IgnoredAny>(value).is_ok(),
                "{value:?}"
            );
        }
        ours
    }

    #[test]
    fn the_vector_classes_are_the_bytewise_ones() {
        let all = classifiers();
        #[cfg(target_arch = "x86_64")]
        assert!(!all.is_empty(), "SSE2 at least");
        for (name, classify) in all {
            for lane in 0..64 {
                for c in 0..=255u8 {
                    let mut b = [b'a'; 64];
                    b[lane] = c;
                    assert_eq!(
                        classify(&b),
                        classify_bytes(&b),
                        "{name}: byte {c} at {lane}"
                    );
                }
            }
            let mut rng = rng(0x9e37_79b9_7f4a_7c15);
            for _ in 0..2000 {
                let mut b = [0u8; 64];
                for x in &mut b {
                    *x = rng.random();
                }
                assert_eq!(classify(&b), classify_bytes(&b), "{name}");
            }
        }
    }

    #[test]
    fn real_stat_blocks_are_taken_at_every_offset() {
        for obj in REAL {
            for lead in 0..70 {
                let text = format!("{}{obj},\"next\":[1]}}", "x".repeat(lead));
                assert_eq!(check(&text, lead), Some(lead + obj.len()), "lead {lead}");
                // Cut anywhere, it is not taken (and the scanner misses it too).
                for cut in [1, 2, 17, 63, 64, 65, obj.len() - 1] {
                    let t = &text[..lead + cut];
                    assert_eq!(check(t, lead), None);
                    assert_eq!(by_tokens(t, lead), None);
                }
            }
        }
    }

    #[test]
    fn flat_objects_are_taken_exactly_and_the_rest_handed_back() {
        let take = [
            r#"{"a":1}"#,
            r#"{"a":"b"}"#,
            r#"{"":""}"#,
            r#"{"a":0,"b":10,"c":"","d":"x y","é":"ü"}"#,
            r#"{"a":"}","b":"{[]:,"}"#,
            r#"{"a":1,"a":2}"#,
        ];
        for t in take {
            assert_eq!(check(t, 0), Some(t.len()), "{t}");
        }
        let handed_back = [
            // Valid JSON, not this path's shape: the scanner takes it.
            r#"{}"#,
            r#"{"a":-1}"#,
            r#"{"a":1.5}"#,
            r#"{"a":true}"#,
            r#"{"a":null}"#,
            r#"{"a":{"b":1}}"#,
            r#"{"a":[1]}"#,
            r#"{"a":"\/"}"#,
            r#"{ "a":1}"#,
            r#"{"a" :1}"#,
            r#"{"a":1 }"#,
            "{\"a\":\n1}",
            // Not JSON: the scanner misses it.
            r#"{"a":01}"#,
            r#"{"a":00}"#,
            r#"{"a":1,}"#,
            r#"{"a"}"#,
            r#"{"a":}"#,
            r#"{"a"1}"#,
            r#"{"a":1"b":2}"#,
            r#"{"a":"b""c":1}"#,
            r#"{"a":"b":1}"#,
            r#"{"a":1:2}"#,
            r#"{"a",1}"#,
            r#"{"a":1,,"b":2}"#,
            r#"{"a":1x}"#,
            r#"{"a":x}"#,
            r#"{"a":1"#,
            r#"{"a":"1}"#,
            "{\"a\":\"\u{1}\"}",
            r#"{"a":1,"b"}"#,
            r#"{"a":1,2}"#,
            r#"{"a":"b",}"#,
        ];
        for t in handed_back {
            assert_eq!(check(t, 0), None, "{t}");
        }
        assert_eq!(by_tokens(r#"{"a":01}"#, 0), None);
        assert_eq!(by_tokens(r#"{"a":-1}"#, 0), Some(8));
    }

    /// Random flat objects with random bytes changed, at every alignment: whatever is taken is
    /// taken exactly as the scanner and serde_json read it, and most unchanged objects are taken.
    #[test]
    fn mutated_objects_are_never_taken_wrongly() {
        let keys = [
            "st_mode",
            "st_birthtimespec",
            "a",
            "",
            "key with space",
            "ünï",
        ];
        let values = [
            "0",
            "7",
            "1152921500312006598",
            "33261",
            "\"2025-06-26T00:06:05.000000000Z\"",
            "\"\"",
            "\"}{,:\"",
            "\"x\"",
        ];
        let swaps = [
            b'"', b':', b',', b'}', b'{', b'[', b']', b'0', b'1', b'-', b'\\', b' ', b'\n', b'a',
            b'.', b'e', 0x01,
        ];
        let mut rng = rng(0x2545_f491_4f6c_dd1d);
        let (mut taken, mut clean) = (0, 0);
        for case in 0..20_000 {
            let pairs = 1 + rng.random_range(0..20);
            let mut obj = String::from("{");
            for k in 0..pairs {
                if k > 0 {
                    obj.push(',');
                }
                obj.push('"');
                obj.push_str(keys[rng.random_range(0..keys.len())]);
                obj.push_str("\":");
                obj.push_str(values[rng.random_range(0..values.len())]);
            }
            obj.push('}');
            let lead = rng.random_range(0..80);
            let mut bytes = format!("{}{obj},\"z\":1}}", "x".repeat(lead)).into_bytes();
            let mutations = if case % 4 == 0 {
                0
            } else {
                1 + rng.random_range(0..3)
            };
            for _ in 0..mutations {
                // The opening brace stays: the scanner calls this path on one.
                let i = lead + 1 + rng.random_range(0..obj.len() - 1);
                // ASCII over ASCII only, so the text stays UTF-8.
                if bytes[i].is_ascii() {
                    bytes[i] = swaps[rng.random_range(0..swaps.len())];
                }
            }
            let Ok(text) = String::from_utf8(bytes) else {
                continue;
            };
            let got = check(&text, lead);
            if mutations == 0 {
                clean += 1;
                assert_eq!(got, Some(lead + obj.len()), "{obj}");
            }
            taken += usize::from(got.is_some());
        }
        assert!(clean > 4000 && taken > clean / 2, "{taken} of {clean}");
    }
}
