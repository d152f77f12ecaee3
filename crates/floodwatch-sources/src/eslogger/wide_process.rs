//! A process object's pairs read with AVX-512BW, with no branch on which key comes next. eslogger
//! writes a process object's sixteen keys in a fresh order on every line, so a reader that goes
//! by each value's type (a string, a number, a literal, a container) mispredicted on most pairs:
//! the same corpus with those keys sorted ran a fifth faster.
//!
//! Each pair is one 64-byte load from its key's opening quote, classified into bitmasks (quotes,
//! the bytes a string refuses, commas and closing braces): the key ends at the next quote; a
//! scalar value ends at its closing quote if it is a string and otherwise at the next comma or
//! brace, chosen without a branch. Only where the value is kept is decided then (by the key's
//! index); what it is (its type, its digits) is read after the object, a key at a time in one
//! fixed order, so those branches go the same way on every line. Containers (the three tokens,
//! the executable, the tty) are read in place by their own readers, as the loop in fast.rs reads
//! them.
//!
//! Where [`pairs`] takes an object, fast.rs's loop reads it to the same fields, values and end;
//! anything else (no AVX-512BW, whitespace, an escape in a key or a string value, a key twice, a
//! scalar that does not end within its 64 bytes, a number other than a plain integer, a wrong
//! literal, an empty object) goes to that loop, which decides as before.

use super::fast::Value;
use super::model::EsProcess;
use crate::wire::scan::Scan;

/// Reads the process object at the scan's position into `p` and `values` as fast.rs's loop would;
/// false when this path does not take it (the scan and `p` are then the caller's to reset).
#[inline(always)]
pub(super) fn pairs<'a>(
    s: &mut Scan<'a>,
    p: &mut EsProcess<'a>,
    values: &mut [Value<'a>; 13],
) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        if available() {
            // SAFETY: the CPU has `wide`'s features, checked just above.
            return unsafe { wide::pairs(s, p, values) };
        }
    }
    let _ = (s, p, values);
    false
}

/// Whether the CPU has what [`pairs`] needs (AVX-512F and BW, BMI1 and BMI2). Checked once, then
/// a load.
#[inline(always)]
fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        has!("avx512bw") && has!("avx512f") && has!("bmi1") && has!("bmi2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Reads a scalar value's text (`text[start..end]`, its quotes included) into `out` as fast.rs's
/// loop reads it: a string (checked to hold no escape or control character when it was found), a
/// plain integer, or a literal; false for anything else. Written in place: returned through an
/// `Option`, the value was stored in pieces and read back whole (a store-forwarding stall).
#[inline(always)]
fn scalar<'a>(text: &'a str, start: usize, end: usize, out: &mut Value<'a>) -> bool {
    let Some(v) = text.get(start..end) else {
        return false;
    };
    *out = match v.as_bytes().first() {
        Some(b'"') => match v.get(1..v.len() - 1) {
            Some(raw) => Value::Str(crate::wire::scan::RawStr {
                raw,
                escaped: false,
            }),
            None => return false,
        },
        Some(b'n') if v == "null" => Value::Null,
        Some(b't') if v == "true" => Value::Bool(true),
        Some(b'f') if v == "false" => Value::Bool(false),
        Some(b'-' | b'0'..=b'9') => {
            // The scanner's own integer rules (no leading zero, no fraction or exponent, at most
            // a u64), then nothing left of the value.
            let mut s = Scan::new(&text[start..]);
            match s.integer() {
                Ok((neg, n)) if s.pos() == v.len() => Value::Int(neg, n),
                _ => return false,
            }
        }
        _ => return false,
    };
    true
}

#[cfg(target_arch = "x86_64")]
mod wide {
    use super::super::fast::{audit_token, es_file, Value, PROCESS_KEYS};
    use super::super::model::{EsProcess, TtyField};
    use super::scalar;
    use crate::wire::scan::Scan;
    use std::arch::x86_64::*;

    /// Keys in `PROCESS_KEYS`, the one for any other key after them.
    const SLOTS: usize = 17;
    const OTHER: usize = 16;

    /// Each key as the window holds it (after its opening quote, zeros after it), and zeros for
    /// any other key: one compare of the masked window tells a key, where comparing its bytes
    /// went by its length (branches that mispredicted with the keys' order).
    static KEY_WINDOWS: [[u8; 64]; SLOTS] = {
        let keys = PROCESS_KEYS.keys();
        let mut t = [[0u8; 64]; SLOTS];
        let mut k = 0;
        while k < keys.len() {
            let mut j = 0;
            while j < keys[k].len() {
                t[k][j + 1] = keys[k][j];
                j += 1;
            }
            k += 1;
        }
        t
    };

    /// Bits `from` and above.
    #[inline(always)]
    fn from(bit: usize) -> u64 {
        (!0u64).checked_shl(bit as u32).unwrap_or(0)
    }

    /// [`super::pairs`].
    ///
    /// # Safety
    /// The CPU must have AVX-512F, AVX-512BW, BMI1 and BMI2.
    #[target_feature(enable = "avx512f,avx512bw,bmi1,bmi2")]
    pub(super) unsafe fn pairs<'a>(
        s: &mut Scan<'a>,
        p: &mut EsProcess<'a>,
        values: &mut [Value<'a>; 13],
    ) -> bool {
        if s.open_object().is_err() {
            return false;
        }
        let text = s.rest_str();
        let b = text.as_bytes();
        // The next key's opening quote, and how far the scan has been moved (to read a container).
        let mut at = 0usize;
        let mut done = 0usize;
        // Each scalar's text by key, read after the object.
        let mut spans = [(0usize, 0usize); SLOTS];
        let mut scalars = 0u32;
        let mut seen = 0u32;
        loop {
            let left = b.len() - at;
            // A whole window nearly always: its load waits for `at` only, where a mask made from
            // `at` first put four more steps on each pair's critical path.
            let w = if left >= 64 {
                // SAFETY: the 64 bytes from `at` are in `b`.
                unsafe { _mm512_loadu_si512(b.as_ptr().add(at).cast()) }
            } else {
                // SAFETY: the mask covers only bytes of `b` from `at` (`left` of them), and
                // masked bytes are not read.
                unsafe {
                    _mm512_maskz_loadu_epi8(_bzhi_u64(!0, left as u32), b.as_ptr().add(at).cast())
                }
            };
            let quote = _mm512_cmpeq_epi8_mask(w, _mm512_set1_epi8(b'"' as i8));
            // Bytes past the record load as zeros, which count as control characters.
            let refused = _mm512_cmpeq_epi8_mask(w, _mm512_set1_epi8(b'\\' as i8))
                | _mm512_cmplt_epu8_mask(w, _mm512_set1_epi8(0x20));
            let ends = _mm512_cmpeq_epi8_mask(w, _mm512_set1_epi8(b',' as i8))
                | _mm512_cmpeq_epi8_mask(w, _mm512_set1_epi8(b'}' as i8));
            let opens = _mm512_cmpeq_epi8_mask(w, _mm512_set1_epi8(b'{' as i8))
                | _mm512_cmpeq_epi8_mask(w, _mm512_set1_epi8(b'[' as i8));
            // The key: its quotes at 0 and `close`, nothing a plain key refuses between, a colon.
            let close = (quote & !1).trailing_zeros() as usize;
            if quote & 1 == 0 || close > 61 || refused & !from(close) != 0 {
                return false;
            }
            let colon = at + close + 1;
            if b.get(colon) != Some(&b':') {
                return false;
            }
            let Some(key) = b.get(at + 1..at + close) else {
                return false;
            };
            let candidate = PROCESS_KEYS.candidate(key).min(OTHER);
            let key_bytes = _mm512_maskz_mov_epi8(!from(close) & !1, w);
            // SAFETY: a static of 64 bytes, unaligned loads allowed.
            let known = unsafe { _mm512_loadu_si512(KEY_WINDOWS[candidate].as_ptr().cast()) };
            let same = _mm512_cmpeq_epi8_mask(key_bytes, known) == !0;
            let i = if same { candidate } else { OTHER };
            let bit = 1u32 << i;
            // A key of the object twice: the loop decides (a miss, or skipped twice).
            if i < OTHER && seen & bit != 0 {
                return false;
            }
            seen |= bit;
            let first = close + 2;
            // What the value is, from the window's masks rather than a load of its first byte.
            let string = quote & (1 << first) != 0;
            if opens & (1 << first) != 0 {
                s.advance(at + first - done);
                let before = s.pos();
                // The reader is chosen by the key's length, known from the masks, and the key
                // checked after: chosen by the key's index (loads of the key, its place and its
                // row later), a mispredicted choice waited for all of that. The token keys, the
                // executable's and the tty's have lengths of their own.
                let read = match close - 1 {
                    11 | 18 | 23 => audit_token(s).ok().and_then(|t| {
                        let tokens = [
                            &mut p.audit_token,
                            &mut p.parent_audit_token,
                            &mut p.responsible_audit_token,
                        ];
                        *tokens.into_iter().nth(i)? = Some(t);
                        Some(())
                    }),
                    10 | 3 => es_file(s).ok().and_then(|f| {
                        match i {
                            6 => p.executable = Some(f),
                            12 => p.tty = TtyField::File(f),
                            _ => return None,
                        }
                        Some(())
                    }),
                    _ if i >= values.len() => s.skip().ok(),
                    _ => None,
                };
                if read.is_none() {
                    return false;
                }
                if let Some(v) = values.get_mut(i) {
                    *v = Value::Read;
                }
                done = at + first + (s.pos() - before);
                at = done;
            } else {
                // A string ends after its closing quote, anything else at the next comma or
                // brace; then a comma or brace must follow.
                let string_end = (quote & from(first + 1)).trailing_zeros() as usize + 1;
                let other_end = (ends & from(first)).trailing_zeros() as usize;
                let end = if string { string_end } else { other_end };
                if end >= 64 || ends & (1 << end) == 0 || refused & from(first) & !from(end) != 0 {
                    return false;
                }
                if i == OTHER {
                    // Checked now: another key's value has no slot to wait in.
                    if !scalar(text, at + first, at + end, &mut Value::Absent) {
                        return false;
                    }
                } else {
                    spans[i] = (at + first, at + end);
                    scalars |= bit;
                }
                at += end;
            }
            // The separator after the value.
            match b.get(at) {
                Some(b',') => at += 1,
                Some(b'}') => {
                    at += 1;
                    break;
                }
                _ => return false,
            }
        }
        // The values, in one order whatever the line's: each key's reading goes the same way on
        // every line.
        let mut k = scalars;
        while k != 0 {
            let i = k.trailing_zeros() as usize;
            k &= k - 1;
            let (start, end) = spans[i];
            // The keys not read are only checked.
            let mut checked = Value::Absent;
            let slot = values.get_mut(i).unwrap_or(&mut checked);
            if !scalar(text, start, end, slot) {
                return false;
            }
        }
        s.advance(at - done);
        s.leave();
        true
    }
}
