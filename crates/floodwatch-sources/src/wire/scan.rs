//! A strict JSON pull scanner for hot paths (eslogger), reading only the values its caller asks for
//! and skipping the rest without building anything.
//!
//! It has no error messages: whatever it is not sure of (malformed JSON, an escape inside a key,
//! a number that is not a plain integer in range, nesting deeper than [`MAX_DEPTH`], a lone UTF-16
//! surrogate) is a [`Miss`], and the caller reads the record again with serde_json, which gives the
//! exact reject. So everything it accepts, serde_json accepts too, with the same values: it is at
//! least as strict as serde_json on every rule (whitespace, string escapes, control characters,
//! number grammar, trailing bytes). Differential tests and a fuzz target hold it to that.

use super::json::JsonStr;
use super::{flat, lanes, swar};
use std::borrow::Cow;

/// Not read by the fast path: read the record with serde instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Miss;

pub(crate) type Scanned<T> = Result<T, Miss>;

/// Marks known key `bit` as seen; a second time is a miss: serde's derive refuses a duplicate
/// field, so a record with one is left to serde to reject.
#[inline]
pub(crate) fn once(seen: &mut u32, bit: u32) -> Scanned<()> {
    if *seen & bit != 0 {
        return Err(Miss);
    }
    *seen |= bit;
    Ok(())
}

/// A JSON string's text between its quotes, already checked by [`Scan::raw_string`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawStr<'a> {
    pub(crate) raw: &'a str,
    /// Whether `raw` has a backslash escape, so that it differs from its decoded text.
    pub(crate) escaped: bool,
}

impl<'a> RawStr<'a> {
    /// The decoded text: `raw` itself when it has no escape.
    pub(crate) fn decode(self) -> Scanned<Cow<'a, str>> {
        if !self.escaped {
            return Ok(Cow::Borrowed(self.raw));
        }
        let mut s = Scan::new(self.raw);
        let mut out = String::with_capacity(self.raw.len());
        s.plain_run();
        s.unescape_into(0, &mut out)?;
        // raw_string stopped at the closing quote and refused control characters.
        if s.pos == self.raw.len() {
            Ok(Cow::Owned(out))
        } else {
            Err(Miss)
        }
    }
}

/// Deeper nesting is a miss; serde_json's own limit (128) is above it, so a miss is never a
/// record serde_json would read.
const MAX_DEPTH: u32 = 64;

/// Bytes that end the plain run of a string: `"`, `\` and the control characters JSON forbids.
static STRING_STOP: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

pub(crate) struct Scan<'a> {
    text: &'a str,
    b: &'a [u8],
    pos: usize,
    depth: u32,
}

impl<'a> Scan<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Scan {
            text,
            b: text.as_bytes(),
            pos: 0,
            depth: 0,
        }
    }

    #[cfg(test)]
    pub(super) fn set_pos(&mut self, pos: usize) {
        self.pos = pos;
    }

    /// Bytes read so far (the end of the last value read).
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// The bytes from the current position, for a format's own reader of a value whose usual
    /// shape it knows; it then moves past what it took with [`Scan::advance`].
    #[inline(always)]
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.b.get(self.pos..).unwrap_or_default()
    }

    /// Moves past `n` bytes a caller read from [`Scan::rest`], ending after an ASCII byte.
    #[inline(always)]
    pub(crate) fn advance(&mut self, n: usize) {
        self.pos += n;
    }

    /// The text from the current position (see [`Scan::rest`]).
    #[inline(always)]
    pub(crate) fn rest_str(&self) -> &'a str {
        self.text.get(self.pos..).unwrap_or_default()
    }

    /// Where the scan is, to go back to with [`Scan::reset`].
    pub(crate) fn mark(&self) -> (usize, u32) {
        (self.pos, self.depth)
    }

    pub(crate) fn reset(&mut self, (pos, depth): (usize, u32)) {
        self.pos = pos;
        self.depth = depth;
    }

    /// For a reader that walks an object's pairs itself: past its `{` and one level in, as
    /// [`Scan::object`] goes; [`Scan::leave`] once past its `}`.
    #[inline(always)]
    pub(crate) fn open_object(&mut self) -> Scanned<()> {
        self.eat(b'{')?;
        self.enter()
    }

    #[inline(always)]
    pub(crate) fn leave(&mut self) {
        self.depth -= 1;
    }

    /// Whether a container may open here without passing [`MAX_DEPTH`].
    #[inline(always)]
    pub(crate) fn may_enter(&self) -> bool {
        self.depth < MAX_DEPTH
    }

    /// JSON whitespace, as serde_json reads it (space, tab, newline, carriage return).
    #[inline]
    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.pos) {
            if !matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                break;
            }
            self.pos += 1;
        }
    }

    /// The next byte after whitespace, not consumed. eslogger writes no whitespace between
    /// tokens, so the first byte nearly always answers.
    #[inline(always)]
    pub(crate) fn peek(&mut self) -> Scanned<u8> {
        match self.b.get(self.pos) {
            Some(&c) if c > b' ' => Ok(c),
            _ => self.peek_after_ws(),
        }
    }

    #[cold]
    fn peek_after_ws(&mut self) -> Scanned<u8> {
        self.ws();
        self.b.get(self.pos).copied().ok_or(Miss)
    }

    #[inline(always)]
    fn eat(&mut self, c: u8) -> Scanned<()> {
        if self.peek()? == c {
            self.pos += 1;
            Ok(())
        } else {
            Err(Miss)
        }
    }

    /// Only whitespace is left (serde_json's `from_str` refuses trailing characters).
    pub(crate) fn end(&mut self) -> Scanned<()> {
        self.ws();
        if self.pos == self.b.len() {
            Ok(())
        } else {
            Err(Miss)
        }
    }

    fn enter(&mut self) -> Scanned<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Miss);
        }
        Ok(())
    }

    /// Consumes `null` if it is next (after whitespace).
    #[inline]
    pub(crate) fn null(&mut self) -> Scanned<bool> {
        if self.peek()? == b'n' {
            self.literal(b"null")?;
            return Ok(true);
        }
        Ok(false)
    }

    fn literal(&mut self, word: &[u8]) -> Scanned<()> {
        if self.b.get(self.pos..self.pos + word.len()) == Some(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(Miss)
        }
    }

    /// An object: `each(scan, key)` is called once per key and must consume its value (with
    /// [`Scan::skip`] when the key is not wanted). Keys with escapes are a miss.
    #[inline]
    pub(crate) fn object(
        &mut self,
        mut each: impl FnMut(&mut Self, &'a [u8]) -> Scanned<()>,
    ) -> Scanned<()> {
        self.eat(b'{')?;
        self.enter()?;
        if self.peek()? == b'}' {
            self.pos += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            self.eat(b'"')?;
            let key = self.plain_key()?;
            self.eat(b':')?;
            each(self, key)?;
            match self.peek()? {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                _ => return Err(Miss),
            }
        }
    }

    /// An array: `each(scan)` is called once per element and must consume it.
    #[inline]
    pub(crate) fn array(&mut self, mut each: impl FnMut(&mut Self) -> Scanned<()>) -> Scanned<()> {
        self.eat(b'[')?;
        self.enter()?;
        if self.peek()? == b']' {
            self.pos += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            each(self)?;
            match self.peek()? {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                _ => return Err(Miss),
            }
        }
    }

    /// After an opening quote: the run of bytes up to the first stop byte. Sixteen bytes at a time
    /// ([`lanes`]), then eight (SWAR) near the end of the record: most strings here are keys and
    /// values under 16 bytes.
    #[inline]
    fn plain_run(&mut self) -> usize {
        let start = self.pos;
        let mut i = start;
        while let Some(x) = lanes::block(self.b, i) {
            let stops = lanes::string_stops(x);
            if stops != 0 {
                i += stops.trailing_zeros() as usize;
                self.pos = i;
                return i - start;
            }
            i += 16;
        }
        while let Some(v) = swar::word(self.b, i) {
            let stops = swar::equal(v, b'"') | swar::equal(v, b'\\') | swar::below(v, 0x20);
            if stops != 0 {
                i += swar::first(stops);
                self.pos = i;
                return i - start;
            }
            i += 8;
        }
        while let Some(&c) = self.b.get(i) {
            if STRING_STOP[c as usize] {
                break;
            }
            i += 1;
        }
        self.pos = i;
        i - start
    }

    /// A key without escapes, after its opening quote; consumes the closing quote.
    #[inline(always)]
    fn plain_key(&mut self) -> Scanned<&'a [u8]> {
        let start = self.pos;
        self.plain_run();
        if self.b.get(self.pos) != Some(&b'"') {
            return Err(Miss);
        }
        let key = &self.b[start..self.pos];
        self.pos += 1;
        Ok(key)
    }

    /// A string as the typed records hold one ([`JsonStr`]: borrowed unless it has escapes).
    pub(crate) fn json_str(&mut self) -> Scanned<JsonStr<'a>> {
        self.string().map(JsonStr)
    }

    /// A string value, borrowed when it has no escapes.
    pub(crate) fn string(&mut self) -> Scanned<Cow<'a, str>> {
        self.eat(b'"')?;
        let start = self.pos;
        self.plain_run();
        match self.b.get(self.pos) {
            Some(b'"') => {
                // Quotes are ASCII, so both ends are character boundaries.
                let s = self.text.get(start..self.pos).ok_or(Miss)?;
                self.pos += 1;
                Ok(Cow::Borrowed(s))
            }
            Some(b'\\') => self.escaped_string(start).map(Cow::Owned),
            _ => Err(Miss),
        }
    }

    /// A string value checked as [`Scan::string`] checks it, but not decoded: its JSON text between
    /// the quotes. A caller that looks strings up (the [interner](super::intern)) decodes only
    /// the ones it has not seen.
    pub(crate) fn raw_string(&mut self) -> Scanned<RawStr<'a>> {
        self.eat(b'"')?;
        let start = self.pos;
        let escaped = self.string_body()?;
        // The body ends before its closing quote; quotes are ASCII, so both ends are character
        // boundaries.
        let raw = self.text.get(start..self.pos - 1).ok_or(Miss)?;
        Ok(RawStr { raw, escaped })
    }

    /// After an opening quote: moves past the closing quote, checking every escape on the way;
    /// whether there was one. eslogger writes every `/` of a path as `\/`, so a path is a run of
    /// escapes: they are taken inside the sixteen-byte block that found them (an escape's stop
    /// bits dropped from the block's mask), where going back to the plain run after each one
    /// loaded the block again and called out to [`Scan::escape`].
    #[inline(always)]
    fn string_body(&mut self) -> Scanned<bool> {
        let b = self.b;
        let mut i = self.pos;
        let mut escaped = false;
        'blocks: while let Some(x) = lanes::block(b, i) {
            let mut stops = lanes::string_stops(x);
            while stops != 0 {
                let at = i + stops.trailing_zeros() as usize;
                match b[at] {
                    b'"' => {
                        self.pos = at + 1;
                        return Ok(escaped);
                    }
                    b'\\' => {
                        escaped = true;
                        let next = match b.get(at + 1) {
                            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => at + 2,
                            _ => {
                                self.pos = at + 1;
                                self.escape()?;
                                self.pos
                            }
                        };
                        let used = next - i;
                        if used >= 16 {
                            i = next;
                            continue 'blocks;
                        }
                        // The escape's own bytes (an escaped quote or backslash) are not stops.
                        stops &= !0u32 << used;
                    }
                    _ => return Err(Miss),
                }
            }
            i += 16;
        }
        // The record's last bytes: a run at a time.
        self.pos = i;
        loop {
            self.plain_run();
            match self.b.get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(escaped);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    self.escape()?;
                    escaped = true;
                }
                _ => return Err(Miss),
            }
        }
    }

    /// An array of strings, each checked as [`Scan::raw_string`] checks it, as its JSON text
    /// (brackets included). A caller that looks such arrays up (an exec's arguments, in the
    /// [interner](super::intern)) decodes only the ones it has not seen.
    pub(crate) fn string_array_text(&mut self) -> Scanned<&'a str> {
        self.peek()?;
        let start = self.pos;
        self.array(|s| s.raw_string().map(drop))?;
        // Brackets are ASCII, so both ends are character boundaries.
        self.text.get(start..self.pos).ok_or(Miss)
    }

    /// The rest of a string that has escapes, from its first byte at `start`.
    fn escaped_string(&mut self, start: usize) -> Scanned<String> {
        let mut out = String::with_capacity(self.pos - start + 64);
        self.unescape_into(start, &mut out)?;
        if self.b.get(self.pos) != Some(&b'"') {
            return Err(Miss);
        }
        self.pos += 1;
        Ok(out)
    }

    /// Decodes from `run` (the plain run up to the current position first) through every escape
    /// and the plain run after it, onto `out`; stops at the first byte that is neither (a quote,
    /// a control character, the end), which the caller judges.
    fn unescape_into(&mut self, mut run: usize, out: &mut String) -> Scanned<()> {
        loop {
            out.push_str(self.text.get(run..self.pos).ok_or(Miss)?);
            if self.b.get(self.pos) != Some(&b'\\') {
                return Ok(());
            }
            self.pos += 1;
            out.push(self.escape()?);
            run = self.pos;
            self.plain_run();
        }
    }

    /// One escape, after its backslash.
    fn escape(&mut self) -> Scanned<char> {
        let c = *self.b.get(self.pos).ok_or(Miss)?;
        self.pos += 1;
        Ok(match c {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let n = self.hex4()?;
                match n {
                    0xD800..=0xDBFF => {
                        // A high surrogate must be followed by a low one; a lone one is a miss
                        // (serde_json refuses it, and the caller's lossy re-read handles it).
                        if self.b.get(self.pos..self.pos + 2) != Some(b"\\u") {
                            return Err(Miss);
                        }
                        self.pos += 2;
                        let low = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return Err(Miss);
                        }
                        let code = 0x10000 + ((n - 0xD800) << 10) + (low - 0xDC00);
                        char::from_u32(code).ok_or(Miss)?
                    }
                    0xDC00..=0xDFFF => return Err(Miss),
                    _ => char::from_u32(n).ok_or(Miss)?,
                }
            }
            _ => return Err(Miss),
        })
    }

    fn hex4(&mut self) -> Scanned<u32> {
        let digits = self.b.get(self.pos..self.pos + 4).ok_or(Miss)?;
        let mut n = 0u32;
        for &d in digits {
            n = n * 16 + (d as char).to_digit(16).ok_or(Miss)?;
        }
        self.pos += 4;
        Ok(n)
    }

    /// The digits of a plain integer (`-?(0|[1-9][0-9]*)`, no fraction or exponent), as
    /// (negative, magnitude). Anything else, including a magnitude beyond u64, is a miss.
    #[inline(always)]
    pub(crate) fn integer(&mut self) -> Scanned<(bool, u64)> {
        let negative = self.peek()? == b'-';
        let b = self.b;
        let start = self.pos + usize::from(negative);
        // Up to ten digits (every pid, uid, flag word and count here) from one sixteen-byte block,
        // their value in one register: a loop over the digits had an exit that mispredicted
        // whenever a value's length differed from the last one's (a ppid of 1, flags of 9 digits).
        if let Some(block) = lanes::block(b, start) {
            let n = lanes::not_digits(block).trailing_zeros() as usize;
            if (1..=10).contains(&n) {
                // The digits end inside the block, so the byte after them is in it.
                if (n > 1 && block[0] == b'0') || matches!(block[n], b'.' | b'e' | b'E') {
                    return Err(Miss);
                }
                self.pos = start + n;
                return Ok((negative, lanes::digits_value(block, n)));
            }
        }
        let end = digits_from(b, start);
        let digits = b.get(start..end).ok_or(Miss)?;
        // 19 digits always fit a u64; longer runs are beyond every field read here anyway.
        if digits.is_empty() || digits.len() > 19 || (digits.len() > 1 && digits[0] == b'0') {
            return Err(Miss);
        }
        if matches!(b.get(end), Some(b'.' | b'e' | b'E')) {
            return Err(Miss);
        }
        let n = digits
            .iter()
            .fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
        self.pos = end;
        Ok((negative, n))
    }

    #[inline]
    pub(crate) fn u32(&mut self) -> Scanned<u32> {
        match self.integer()? {
            (false, n) => u32::try_from(n).map_err(|_| Miss),
            (true, _) => Err(Miss),
        }
    }

    /// A signed integer as serde reads an `i64` field; `i64::MIN`'s magnitude is left to serde.
    #[inline]
    pub(crate) fn i64(&mut self) -> Scanned<i64> {
        let (negative, n) = self.integer()?;
        let n = i64::try_from(n).map_err(|_| Miss)?;
        match negative {
            false => Ok(n),
            // serde_json reads "-0" as a float, which an integer field refuses.
            true if n == 0 => Err(Miss),
            true => Ok(-n),
        }
    }

    #[inline]
    pub(crate) fn i32(&mut self) -> Scanned<i32> {
        i32::try_from(self.i64()?).map_err(|_| Miss)
    }

    pub(crate) fn bool(&mut self) -> Scanned<bool> {
        match self.peek()? {
            b't' => self.literal(b"true").map(|_| true),
            b'f' => self.literal(b"false").map(|_| false),
            _ => Err(Miss),
        }
    }

    /// `null` or a value read by `read`.
    #[inline]
    pub(crate) fn opt<T>(
        &mut self,
        read: impl FnOnce(&mut Self) -> Scanned<T>,
    ) -> Scanned<Option<T>> {
        if self.null()? {
            Ok(None)
        } else {
            read(self).map(Some)
        }
    }

    /// Skips one value, checking it as strictly as serde_json does. Strings and numbers (most of
    /// what is skipped: a process's `cdhash`, an audit token's `asid`) are taken inline in the
    /// caller; containers and literals out of line, so the common case carries no large frame.
    #[inline(always)]
    pub(crate) fn skip(&mut self) -> Scanned<()> {
        match self.peek()? {
            b'"' => {
                self.pos += 1;
                self.skip_string_body()
            }
            b'-' | b'0'..=b'9' => self.skip_number(),
            _ => self.skip_other(),
        }
    }

    /// [`Scan::skip`] of a container or a literal.
    #[inline(never)]
    fn skip_other(&mut self) -> Scanned<()> {
        match self.peek()? {
            b'{' => self.skip_object(),
            b'[' => self.array(Self::skip),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => Err(Miss),
        }
    }

    /// An object whose keys and values are only checked, not read. A flat one (a `stat` block) is
    /// taken 64 bytes at a time when [`flat`] can; anything else token by token.
    fn skip_object(&mut self) -> Scanned<()> {
        if let Some(end) = flat::object_end(self.b, self.pos) {
            // As deep as the token path would go: one level.
            if self.depth >= MAX_DEPTH {
                return Err(Miss);
            }
            self.pos = end;
            return Ok(());
        }
        self.skip_object_tokens()
    }

    /// [`Scan::skip_object`] token by token.
    pub(super) fn skip_object_tokens(&mut self) -> Scanned<()> {
        self.pos += 1;
        self.enter()?;
        if self.peek()? == b'}' {
            self.pos += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            self.eat(b'"')?;
            self.skip_string_body()?;
            self.eat(b':')?;
            // The common flat values inline; containers recurse.
            match self.peek()? {
                b'"' => {
                    self.pos += 1;
                    self.skip_string_body()?;
                }
                b'-' | b'0'..=b'9' => self.skip_number()?,
                _ => self.skip()?,
            }
            match self.peek()? {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                _ => return Err(Miss),
            }
        }
    }

    /// [`Scan::string_body`], for the skip paths. Kept as its own function: calling `string_body`
    /// from them directly ran 2.6% slower on the fleet (11 alternating rounds), with the same
    /// instruction count.
    #[inline(always)]
    fn skip_string_body(&mut self) -> Scanned<()> {
        self.string_body().map(drop)
    }

    /// JSON's number grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`. The index is a
    /// local (not `self.pos`) so the digit loops stay in registers.
    #[inline(always)]
    fn skip_number(&mut self) -> Scanned<()> {
        let b = self.b;
        let mut i = self.pos;
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        let start = i;
        i = digits_from(b, i);
        let n = i - start;
        if n == 0 || (n > 1 && b[start] == b'0') {
            return Err(Miss);
        }
        if b.get(i) == Some(&b'.') {
            let from = i + 1;
            i = digits_from(b, from);
            if i == from {
                return Err(Miss);
            }
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            let from = i;
            i = digits_from(b, from);
            if i == from {
                return Err(Miss);
            }
        }
        self.pos = i;
        Ok(())
    }
}

/// The index of the first byte at or after `i` that is not an ASCII digit. Sixteen bytes at a time,
/// then eight near the record's end: `stat` blocks are full of 1- to 19-digit numbers.
#[inline(always)]
fn digits_from(b: &[u8], mut i: usize) -> usize {
    while let Some(x) = lanes::block(b, i) {
        let stop = lanes::not_digits(x);
        if stop != 0 {
            return i + stop.trailing_zeros() as usize;
        }
        i += 16;
    }
    while let Some(x) = swar::word(b, i) {
        let stop = swar::not_digit(x);
        if stop != 0 {
            return i + swar::first(stop);
        }
        i += 8;
    }
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Skips the whole text as one value; None on a miss.
    fn skip_all(text: &str) -> Option<()> {
        let mut s = Scan::new(text);
        s.skip().ok()?;
        s.end().ok()
    }

    #[test]
    fn accepts_only_what_serde_json_accepts() {
        let cases = [
            r#"{"a":[1,-2,3.5e-3,true,false,null,"x\"\\\/\b\f\n\r\tz\u00e9\ud83d\ude00"]}"#,
            r#" { "a" : { } , "b" : [ ] } "#,
            r#"{"a":1,}"#,
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":.5}"#,
            r#"{"a":1e}"#,
            r#"{"a":-}"#,
            r#"{"a":tru}"#,
            r#"{"a":"\x"}"#,
            r#"{"a":"\u12"}"#,
            "{\"a\":\"tab\there\"}",
            r#"{"a" 1}"#,
            r#"{"a":1 "b":2}"#,
            r#"[1,2"#,
            r#"{"a":1}x"#,
            r#"{"a":NaN}"#,
            r#"{'a':1}"#,
            "{\"a\":1}\u{c}",
        ];
        for text in cases {
            let serde_ok = serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok();
            let ours = skip_all(text).is_some();
            assert!(
                !ours || serde_ok,
                "accepted what serde_json refuses: {text}"
            );
            // On these plain cases the scanner is exactly as lenient as serde_json, too.
            assert_eq!(ours, serde_ok, "{text}");
        }
    }

    #[test]
    fn strings_borrow_when_plain_and_unescape_like_serde() {
        for text in [
            r#""\/bin\/ls""#,
            r#""plain""#,
            r#""\u00e9\ud83d\ude00 \"q\"""#,
        ] {
            let ours = Scan::new(text).string().unwrap();
            let theirs: String = serde_json::from_str(text).unwrap();
            assert_eq!(ours, theirs);
        }
        assert!(matches!(
            Scan::new(r#""plain""#).string(),
            Ok(Cow::Borrowed("plain"))
        ));
        // A lone surrogate is left to serde (which refuses it; the caller reads the record lossily).
        assert_eq!(Scan::new(r#""\udcff""#).string(), Err(Miss));
    }

    /// Strings built from pieces (plain bytes, every escape, a bad escape, a control character, a
    /// quote) placed at every offset around the sixteen-byte blocks `string_body` reads, and cut
    /// short: `raw_string` accepts exactly what serde_json accepts, decodes to the same text,
    /// reports escapes, and `skip` agrees, with the text after the string where it must be.
    #[test]
    fn string_bodies_at_every_block_offset_as_serde_reads_them() {
        use rand::{Rng, SeedableRng};
        let pieces: [&str; 16] = [
            "a",
            "bc",
            "\\/",
            "\\\"",
            "\\\\",
            "\\n",
            "\\t",
            "\\u00e9",
            "\\ud83d\\ude00",
            "\\udcff",
            "\\x",
            "\\u12",
            "\u{1}",
            "\"",
            "\u{e9}",
            "\\",
        ];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let (mut accepted, mut escaped) = (0, 0);
        for round in 0..20_000 {
            let lead = "x".repeat(round % 40);
            let mut body = lead.clone();
            for _ in 0..rng.random_range(0..8) {
                // Mostly plain and valid pieces, so most strings reach their closing quote.
                let k = if rng.random_bool(0.7) {
                    rng.random_range(0..9)
                } else {
                    rng.random_range(0..pieces.len())
                };
                body.push_str(pieces[k]);
            }
            let tail = ["\",1]", "\"", "", "\",\"k\":\"0123456789abcdef\"]"][round % 4];
            let text = format!("\"{body}{tail}");
            let theirs = serde_json::Deserializer::from_str(&text)
                .into_iter::<String>()
                .next()
                .and_then(Result::ok);
            let mut s = Scan::new(&text);
            let ours = s.raw_string().ok();
            match (&ours, &theirs) {
                (Some(raw), Some(want)) => {
                    accepted += 1;
                    escaped += usize::from(raw.escaped);
                    assert_eq!(raw.decode().ok().as_deref(), Some(want.as_str()), "{text}");
                    assert_eq!(raw.escaped, raw.raw.contains('\\'), "{text}");
                    // The scanner stops right after the closing quote, where serde's does.
                    let mut de = serde_json::Deserializer::from_str(&text).into_iter::<String>();
                    de.next();
                    assert_eq!(s.pos(), de.byte_offset(), "{text}");
                }
                (None, None) => {}
                // A string serde accepts that the scanner refuses is allowed only for a lone
                // surrogate (left to serde by design); the other way never.
                (None, Some(_)) => assert!(text.contains("\\udcff"), "refused {text}"),
                (Some(_), None) => panic!("accepted what serde_json refuses: {text}"),
            }
            let mut s = Scan::new(&text);
            assert_eq!(s.skip().is_ok(), ours.is_some(), "{text}");
        }
        // The mix reaches both outcomes, often.
        assert!(accepted > 5_000 && escaped > 3_000, "{accepted} {escaped}");
    }

    #[test]
    fn integers_in_range_only_as_serde_reads_them() {
        for text in [
            "0",
            "7",
            "4294967295",
            "4294967296",
            "-1",
            "-0",
            "-2147483648",
            "-2147483649",
            "2147483647",
            "2147483648",
            "1.0",
            "1e3",
            "01",
            "99999999999999999999999",
        ] {
            let ours = Scan::new(text).u32().ok();
            assert_eq!(ours, serde_json::from_str::<u32>(text).ok(), "u32 {text}");
            let ours = Scan::new(text).i32().ok();
            assert_eq!(ours, serde_json::from_str::<i32>(text).ok(), "i32 {text}");
        }
        // The same inside a record (the sixteen-byte block path): random digit runs of 1 to 22
        // (some with a leading zero or a sign) followed by each byte that can end a number, a
        // fraction or exponent, or a digit-free tail: the value and the place after it as serde
        // reads the number alone.
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        for _ in 0..20_000 {
            let n = rng.random_range(1..=22);
            let mut num: String = (0..n)
                .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
                .collect();
            if rng.random_bool(0.2) {
                num.insert(0, '-');
            }
            let after =
                [",", "}", "]", ".5", "e3", "E3", "x", " ", "\"", ""][rng.random_range(0..10)];
            let text = format!("{num}{after},\"pad\":\"0123456789abcdef\"}}");
            let alone = format!("{num}{after}");
            let mut want_end = num.len();
            if matches!(after, ".5" | "e3" | "E3") {
                want_end = alone.len();
            }
            let serde_u32 = serde_json::from_str::<u32>(&alone[..want_end]).ok();
            let serde_i32 = serde_json::from_str::<i32>(&alone[..want_end]).ok();
            for (ours, theirs) in [
                (
                    Scan::new(&text).u32().ok().map(i64::from),
                    serde_u32.map(i64::from),
                ),
                (
                    Scan::new(&text).i32().ok().map(i64::from),
                    serde_i32.map(i64::from),
                ),
            ] {
                // A fraction or exponent is a miss (serde reads it as a float, refused by both).
                assert_eq!(ours, theirs, "{text}");
            }
            let mut s = Scan::new(&text);
            if s.integer().is_ok() {
                assert_eq!(s.pos(), num.len(), "{text}");
                assert!(!matches!(after, ".5" | "e3" | "E3"), "{text}");
            }
        }
    }

    #[test]
    fn digit_runs_end_at_the_first_other_byte() {
        for text in [
            "",
            "7",
            "1234567",
            "12345678",
            "123456789",
            "1152921500312006598,",
            "12345678x",
            "1234\u{0}5678",
            "12/34",
            "12:34",
            "0123456789abc",
            "99999999999999999999\u{e9}",
        ] {
            let b = text.as_bytes();
            let want = b
                .iter()
                .position(|c| !c.is_ascii_digit())
                .unwrap_or(b.len());
            assert_eq!(digits_from(b, 0), want, "{text:?}");
        }
        // Every byte value right after seven digits.
        for c in 0..=255u8 {
            let mut b = b"1234567".to_vec();
            b.push(c);
            b.extend_from_slice(b"89");
            let want = if c.is_ascii_digit() { 10 } else { 7 };
            assert_eq!(digits_from(&b, 0), want, "byte {c}");
        }
    }

    #[test]
    fn deep_nesting_is_a_miss() {
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(skip_all(&deep).is_none());
        let ok = format!("{}{}", "[".repeat(20), "]".repeat(20));
        assert!(skip_all(&ok).is_some());
    }
}

#[cfg(test)]
mod speed {
    /// Throughput probe (not a test): FW_SPEED_FILE=path cargo test --release -p floodwatch-sources
    /// --lib scan::speed -- --ignored --nocapture
    #[test]
    #[ignore]
    fn probe() {
        let Ok(path) = std::env::var("FW_SPEED_FILE") else {
            return;
        };
        let text = std::fs::read_to_string(path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let mb = text.len() as f64 / 1e6;
        for round in 0..3 {
            let t = std::time::Instant::now();
            let mut ok = 0;
            for l in &lines {
                let mut s = super::Scan::new(l);
                if s.skip().is_ok() {
                    ok += 1;
                }
            }
            let skip = t.elapsed().as_secs_f64();
            let t = std::time::Instant::now();
            let mut fast = 0;
            for l in &lines {
                if crate::eslogger::fast::message(l).is_ok() {
                    fast += 1;
                }
            }
            let read = t.elapsed().as_secs_f64();
            let t = std::time::Instant::now();
            let mut out = Vec::new();
            let mut p = crate::eslogger::EsloggerParser::new(crate::testutil::ctx("x"));
            for (i, l) in lines.iter().enumerate() {
                let _ = crate::RecordParser::parse(&mut p, l, i as u64, &mut out);
                out.clear();
            }
            let parse = t.elapsed().as_secs_f64();
            let t = std::time::Instant::now();
            for l in &lines {
                let _ = serde_json::from_str::<serde::de::IgnoredAny>(l);
            }
            let serde_skip = t.elapsed().as_secs_f64();
            println!(
                "round {round}: skip {:.0} MB/s ({ok}), fast {:.0} MB/s ({fast}), parser {:.0} MB/s, serde IgnoredAny {:.0} MB/s",
                mb / skip, mb / read, mb / parse, mb / serde_skip
            );
        }
    }
}
