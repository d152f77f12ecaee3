//! Framing: turns a byte stream into records with their 1-based starting line number, without ever holding
//! more than one record in memory. Lines longer than the limit are skipped to the next newline and reported.
//! `log show --style json` is one pretty-printed array, so it gets an object splitter instead of lines;
//! Jamf Protect and Elastic documents come as concatenated JSON objects, pretty-printed or one per
//! line, split by [`JsonStreamFramer`].

use crate::wire::lanes;
use crate::RejectReason;
use std::borrow::Cow;
use std::io::{self, BufRead};

/// One framed record, or why a record could not be framed.
pub enum Frame<'a> {
    Record {
        /// Borrowed from the input, or owned when bytes that are not UTF-8 were replaced by U+FFFD.
        text: Cow<'a, str>,
        line: u64,
        /// The record ended at end of file without a newline (or closing bracket): a truncation suspect.
        unterminated: bool,
        /// Some bytes were not UTF-8 (attacker-controlled argv can hold any): decoded lossily so the
        /// record is not lost, and flagged so its events can say so.
        invalid_utf8: bool,
    },
    Bad {
        line: u64,
        reason: RejectReason,
        detail: String,
    },
    /// A known non-record (a preamble): counted as skipped.
    Skipped { line: u64, reason: &'static str },
}

impl Frame<'_> {
    pub fn line(&self) -> u64 {
        match self {
            Frame::Record { line, .. } | Frame::Bad { line, .. } | Frame::Skipped { line, .. } => {
                *line
            }
        }
    }
}

/// The reader's buffered bytes (read in when there are none), a read that was interrupted retried;
/// empty at the end of input.
fn fill<R: BufRead>(reader: &mut R) -> io::Result<&[u8]> {
    loop {
        match reader.fill_buf() {
            // A fresh `&[]`: the borrow checker refuses the loop's own borrow returned from it.
            Ok([]) => return Ok(&[]),
            Ok(_) => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    // The buffer holds bytes: this returns them without reading.
    reader.fill_buf()
}

/// Where the first newline of `b` is. The first 64 bytes are looked at 16 at a time, inline: a
/// nettop or CSV row is about 60 bytes, where setting up memchr's wide search cost more than the
/// search itself (74 instructions a row); longer lines go on with memchr.
fn newline(b: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < 64 {
        let Some(x) = lanes::block(b, i) else {
            // Fewer than 16 bytes left.
            return memchr::memchr(b'\n', b.get(i..)?).map(|n| i + n);
        };
        let hits = lanes::equal(x, b'\n');
        if hits != 0 {
            return Some(i + hits.trailing_zeros() as usize);
        }
        i += 16;
    }
    memchr::memchr(b'\n', b.get(i..)?).map(|n| i + n)
}

/// A reader whose buffer lost bytes no one consumed: a broken `BufRead`, an error rather than a
/// skip (lines taken from the buffer are consumed later, so they must still be there).
fn shrunk_buffer() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        "the reader's buffer shrank without a consume (lines taken from it were lost)",
    )
}

/// A line without its final `\r` (a CRLF file's).
fn without_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

pub struct LineFramer<R> {
    reader: R,
    /// A line that did not lie whole in the reader's buffer (or was too long) is assembled here.
    buf: Vec<u8>,
    /// Bytes at the front of the reader's buffer that frames have taken: consumed together once the
    /// buffer holds no whole line more, not line by line (a consume and a refill check per line
    /// were two calls through the boxed reader on every row of a short-line format).
    taken: usize,
    line: u64,
    max: usize,
    /// Bytes consumed so far, and where the last frame's line began (to resume a file there).
    offset: u64,
    record_start: u64,
    /// [`LineFramer::next_whole_line`] found no whole line: the next [`LineFramer::next_frame`]
    /// consumes what was taken and assembles at once, without asking the reader again (at the end
    /// of a terminal's input, that would be one more read to end).
    assemble: bool,
}

impl<R: BufRead> LineFramer<R> {
    pub fn new(reader: R, max_record_bytes: usize) -> Self {
        Self::resume(reader, max_record_bytes, 0, 0)
    }

    /// A framer over a reader already positioned at byte `offset`, where line `lines_before + 1` begins.
    pub fn resume(reader: R, max_record_bytes: usize, lines_before: u64, offset: u64) -> Self {
        LineFramer {
            reader,
            buf: Vec::with_capacity(4096),
            taken: 0,
            line: lines_before,
            max: max_record_bytes,
            offset,
            record_start: offset,
            assemble: false,
        }
    }

    /// The next line's bytes and number when the line lies whole in the reader's buffer (nearly
    /// all of them, with a large buffer); `None` when [`LineFramer::next_frame`] must assemble it,
    /// or the input has ended. Either way, what this took is the frame `next_frame` would give.
    ///
    /// The caller's fast path: a [`Frame`] returned through memory had its tag and flags written
    /// a byte at a time and read back four at a time, a store-forwarding stall on every record
    /// (perf: a third of `next_events`' own cycles).
    pub fn next_whole_line(&mut self) -> io::Result<Option<(&[u8], u64)>> {
        self.assemble = true;
        self.buf.clear();
        self.record_start = self.offset;
        let start = self.taken;
        // The bytes borrow only the reader: the counts beside it are updated while they are held,
        // and the line is handed out from them without asking the reader for its buffer again.
        // With lines taken, the buffer still holds them (nothing was consumed), so asking for it
        // reads nothing; only an empty buffer is filled.
        let avail = if start == 0 {
            fill(&mut self.reader)?
        } else {
            self.reader.fill_buf()?
        };
        let rest = avail.get(start..).ok_or_else(shrunk_buffer)?;
        let Some(len) = newline(rest).filter(|&len| len <= self.max) else {
            // No whole line left: `next_frame` consumes what was taken and assembles the next.
            return Ok(None);
        };
        self.assemble = false;
        self.taken = start + len + 1;
        self.offset += (len + 1) as u64;
        self.line += 1;
        Ok(Some((without_cr(&rest[..len]), self.line)))
    }

    /// Byte offset where the last frame's line began.
    pub fn record_start(&self) -> u64 {
        self.record_start
    }

    /// The next line (blank lines included, the caller decides), or None at end of input.
    ///
    /// A line that lies whole in the reader's buffer (nearly all of them, with a large buffer) is
    /// handed out from there, without copying; the reader consumes it once the buffer has no whole
    /// line left.
    pub fn next_frame(&mut self) -> io::Result<Option<Frame<'_>>> {
        if !std::mem::take(&mut self.assemble) {
            if self.next_whole_line()?.is_some() {
                // Asked again for the line just taken: returning the first answer's borrow would
                // keep the framer borrowed on the path below too.
                // It ends `taken` bytes into the buffer, its newline included, and began as many
                // bytes back as the offset moved for it.
                let len = (self.offset - self.record_start) as usize;
                let avail = self.reader.fill_buf()?;
                let line = avail
                    .get(self.taken - len..self.taken - 1)
                    .ok_or_else(shrunk_buffer)?;
                let text = without_cr(line);
                return Ok(Some(record(text, self.line, false)));
            }
            self.assemble = false;
        }
        if self.taken > 0 {
            self.reader.consume(std::mem::take(&mut self.taken));
        }
        let mut too_long = false;
        let mut total: usize = 0;
        let mut terminated = false;
        loop {
            let avail = fill(&mut self.reader)?;
            if avail.is_empty() {
                break;
            }
            let (len, newline) = match memchr::memchr(b'\n', avail) {
                Some(i) => (i, true),
                None => (avail.len(), false),
            };
            total += len;
            if !too_long {
                if total > self.max {
                    too_long = true;
                    self.buf.clear();
                } else {
                    self.buf.extend_from_slice(&avail[..len]);
                }
            }
            self.reader.consume(len + usize::from(newline));
            self.offset += (len + usize::from(newline)) as u64;
            if newline {
                terminated = true;
                break;
            }
        }
        if total == 0 && !terminated && self.buf.is_empty() && !too_long {
            return Ok(None);
        }
        self.line += 1;
        if too_long {
            return Ok(Some(Frame::Bad {
                line: self.line,
                reason: RejectReason::LineTooLong,
                detail: format!("{total} bytes, limit {} (input.max_line_bytes)", self.max),
            }));
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        Ok(Some(record(&self.buf, self.line, !terminated)))
    }

    pub fn line(&self) -> u64 {
        self.line
    }
}

/// Text as UTF-8 when it is (the common case, through the vectorised check), else lossily. Going
/// straight to `from_utf8_lossy` cost about 8% of a hunt: it walks the bytes chunk by chunk.
fn decode(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// The bytes as text when every one is ASCII and none is NUL (nearly every record), checked in one
/// pass; `None` for anything else, which [`record`] decodes or rejects.
#[inline]
pub(crate) fn ascii_text(bytes: &[u8]) -> Option<&str> {
    if crate::wire::lanes::plain_ascii(bytes) {
        // SAFETY: every byte is below 0x80 (`plain_ascii`), and ASCII bytes are valid UTF-8.
        Some(unsafe { std::str::from_utf8_unchecked(bytes) })
    } else {
        None
    }
}

/// A framed line (or JSON object) as a record, decoded lossily when it is not UTF-8. A NUL byte is
/// never text (the sniffer let the file in on its other lines): such a record is rejected here,
/// before any parser can take it for a name.
pub(crate) fn record(bytes: &[u8], line: u64, unterminated: bool) -> Frame<'_> {
    if let Some(text) = ascii_text(bytes) {
        return Frame::Record {
            invalid_utf8: false,
            text: Cow::Borrowed(text),
            line,
            unterminated,
        };
    }
    if let Some(at) = memchr::memchr(0, bytes) {
        return Frame::Bad {
            line,
            reason: RejectReason::BinaryData,
            detail: format!("NUL byte at byte {} of the record", at + 1),
        };
    }
    let text = decode(bytes);
    Frame::Record {
        invalid_utf8: matches!(text, Cow::Owned(_)),
        text,
        line,
        unterminated,
    }
}

/// One byte inside a JSON string: false when it is the closing quote (not escaped by a backslash).
fn still_in_string(c: u8, esc: &mut bool) -> bool {
    if *esc {
        *esc = false;
    } else if c == b'\\' {
        *esc = true;
    } else if c == b'"' {
        return false;
    }
    true
}

/// The frame of one JSON object gathered in `buf` from `line`: too long for `max`, or the record
/// (`complete`: its closing brace was read), decoded lossily when it is not UTF-8.
fn object_frame(buf: &[u8], line: u64, too_long: bool, complete: bool, max: usize) -> Frame<'_> {
    if too_long {
        return Frame::Bad {
            line,
            reason: RejectReason::LineTooLong,
            detail: format!("object over {max} bytes (input.max_line_bytes)"),
        };
    }
    record(buf, line, !complete)
}

/// Splits a top-level JSON array (`[ {..}, {..} ]`) into its object texts, tracking line numbers.
/// The array's brackets may be missing (`log show --style json` output cut to one record, or a few
/// `{..},{..}`): objects at the top level are read the same way, and the end of input ends them.
/// Anything else at the top level (a preamble line, a stray token) is reported as a bad frame.
pub struct JsonArrayFramer<R> {
    reader: R,
    buf: Vec<u8>,
    line: u64,
    max: usize,
    started: bool,
    ended: bool,
    /// The objects are not inside `[ ]`.
    bare: bool,
}

impl<R: BufRead> JsonArrayFramer<R> {
    pub fn new(reader: R, max_record_bytes: usize) -> Self {
        JsonArrayFramer {
            reader,
            buf: Vec::new(),
            line: 1,
            max: max_record_bytes,
            started: false,
            ended: false,
            bare: false,
        }
    }

    // Called for every byte: one `fill_buf` call, where `fill` makes two.
    fn peek(&mut self) -> io::Result<Option<u8>> {
        loop {
            match self.reader.fill_buf() {
                Ok(b) => return Ok(b.first().copied()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn bump(&mut self) {
        self.reader.consume(1);
    }

    fn skip_ws_and_commas(&mut self, allow_comma: bool) -> io::Result<Option<u8>> {
        while let Some(c) = self.peek()? {
            match c {
                b'\n' => {
                    self.line += 1;
                    self.bump()
                }
                b' ' | b'\t' | b'\r' => self.bump(),
                b',' if allow_comma => self.bump(),
                _ => return Ok(Some(c)),
            }
        }
        Ok(None)
    }

    /// Takes the rest of a non-JSON line (at most 256 bytes are kept, the rest is skipped).
    fn take_line(&mut self) -> io::Result<String> {
        let mut kept = Vec::new();
        while let Some(c) = self.peek()? {
            self.bump();
            if c == b'\n' {
                self.line += 1;
                break;
            }
            if kept.len() < 256 {
                kept.push(c);
            }
        }
        Ok(String::from_utf8_lossy(&kept).into_owned())
    }

    /// Skips the rest of a line.
    fn skip_line(&mut self) -> io::Result<()> {
        while let Some(c) = self.peek()? {
            self.bump();
            if c == b'\n' {
                self.line += 1;
                break;
            }
        }
        Ok(())
    }

    pub fn next_frame(&mut self) -> io::Result<Option<Frame<'_>>> {
        if self.ended {
            return Ok(None);
        }
        if !self.started {
            match self.skip_ws_and_commas(false)? {
                None => return Ok(None),
                Some(b'[') => {
                    self.bump();
                    self.started = true;
                }
                // An object without the array around it: read as the array's objects are.
                Some(b'{') => {
                    self.started = true;
                    self.bare = true;
                }
                Some(_) => {
                    // `log stream` prints `Filtering the log data using ...` before its output.
                    let line = self.line;
                    let text = self.take_line()?;
                    if text.starts_with("Filtering the log data") {
                        return Ok(Some(Frame::Skipped {
                            line,
                            reason: "log stream preamble",
                        }));
                    }
                    return Ok(Some(Frame::Bad {
                        line,
                        reason: RejectReason::InvalidJson,
                        detail: "text before the JSON array".into(),
                    }));
                }
            }
        }
        let c = match self.skip_ws_and_commas(true)? {
            // Bare objects have no `]` to wait for.
            None if self.bare => {
                self.ended = true;
                return Ok(None);
            }
            None => {
                self.ended = true;
                return Ok(Some(Frame::Bad {
                    line: self.line,
                    reason: RejectReason::TruncatedLastLine,
                    detail: "JSON array not closed with ']'".into(),
                }));
            }
            Some(c) => c,
        };
        if c == b']' {
            self.bump();
            self.ended = true;
            return Ok(None);
        }
        let start_line = self.line;
        if c != b'{' {
            self.skip_line()?;
            return Ok(Some(Frame::Bad {
                line: start_line,
                reason: RejectReason::InvalidJson,
                detail: format!("expected an object in the array, found {:?}", c as char),
            }));
        }
        self.buf.clear();
        let mut depth = 0usize;
        let mut in_str = false;
        let mut esc = false;
        let mut too_long = false;
        let mut complete = false;
        while let Some(c) = self.peek()? {
            self.bump();
            if c == b'\n' {
                self.line += 1;
            }
            if !too_long {
                if self.buf.len() >= self.max {
                    too_long = true;
                    self.buf.clear();
                } else {
                    self.buf.push(c);
                }
            }
            if in_str {
                in_str = still_in_string(c, &mut esc);
                continue;
            }
            match c {
                b'"' => in_str = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        complete = true;
                        break;
                    }
                }
                _ => {}
            }
        }
        Ok(Some(object_frame(
            &self.buf, start_line, too_long, complete, self.max,
        )))
    }
}

/// Splits a stream of concatenated JSON objects (`{..}{..}`, `{..}\n{..}`, pretty-printed or one per
/// line) into object texts, each with the line its `{` is on. Braces inside strings (escapes
/// included) do not count. Anything else at the top level is a bad frame for the rest of its line.
pub struct JsonStreamFramer<R> {
    reader: R,
    buf: Vec<u8>,
    /// The line the reader is on (1-based).
    line: u64,
    max: usize,
}

impl<R: BufRead> JsonStreamFramer<R> {
    pub fn new(reader: R, max_record_bytes: usize) -> Self {
        JsonStreamFramer {
            reader,
            buf: Vec::new(),
            line: 1,
            max: max_record_bytes,
        }
    }

    /// Skips whitespace (counting lines); returns the next byte, not consumed, or None at the end.
    fn skip_ws(&mut self) -> io::Result<Option<u8>> {
        loop {
            let avail = fill(&mut self.reader)?;
            if avail.is_empty() {
                return Ok(None);
            }
            let mut lines = 0;
            let found = avail.iter().position(|&c| match c {
                b'\n' => {
                    lines += 1;
                    false
                }
                b' ' | b'\t' | b'\r' => false,
                _ => true,
            });
            let (n, next) = match found {
                Some(i) => (i, Some(avail[i])),
                None => (avail.len(), None),
            };
            self.reader.consume(n);
            self.line += lines;
            if next.is_some() {
                return Ok(next);
            }
        }
    }

    /// Consumes the rest of the current line, keeping at most 40 bytes of it for the message.
    fn take_line(&mut self) -> io::Result<String> {
        let mut kept = Vec::new();
        loop {
            let avail = fill(&mut self.reader)?;
            if avail.is_empty() {
                break;
            }
            let (n, newline) = match memchr::memchr(b'\n', avail) {
                Some(i) => (i + 1, true),
                None => (avail.len(), false),
            };
            let room = 40usize.saturating_sub(kept.len());
            kept.extend_from_slice(&avail[..n.min(room)]);
            self.reader.consume(n);
            if newline {
                self.line += 1;
                break;
            }
        }
        Ok(String::from_utf8_lossy(&kept).trim_end().to_string())
    }

    pub fn next_frame(&mut self) -> io::Result<Option<Frame<'_>>> {
        let Some(c) = self.skip_ws()? else {
            return Ok(None);
        };
        let start_line = self.line;
        if c != b'{' {
            let text = self.take_line()?;
            return Ok(Some(Frame::Bad {
                line: start_line,
                reason: RejectReason::InvalidJson,
                detail: format!("expected a JSON object, found {text:?}"),
            }));
        }
        self.buf.clear();
        let (mut depth, mut in_str, mut esc) = (0usize, false, false);
        let mut too_long = false;
        let mut complete = false;
        // A broken NDJSON line must not swallow the lines after it. JSON strings cannot hold a raw
        // newline, and pretty-printers indent nested objects, so a newline inside a string, or a
        // `{` at the start of a line inside an object, ends the broken record there.
        let mut broken = false;
        let mut line_start = false;
        while !complete && !broken {
            let max = self.max;
            let avail = fill(&mut self.reader)?;
            if avail.is_empty() {
                break;
            }
            let mut end = avail.len();
            let mut lines = 0;
            for (i, &c) in avail.iter().enumerate() {
                let at_line_start = std::mem::replace(&mut line_start, c == b'\n');
                if c == b'\n' {
                    lines += 1;
                    if in_str {
                        end = i + 1;
                        broken = true;
                        break;
                    }
                }
                if in_str {
                    in_str = still_in_string(c, &mut esc);
                    continue;
                }
                match c {
                    b'{' if at_line_start && depth > 0 => {
                        end = i;
                        broken = true;
                        break;
                    }
                    b'"' => in_str = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            end = i + 1;
                            complete = true;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            if !too_long {
                if self.buf.len() + end > max {
                    too_long = true;
                    self.buf = Vec::new();
                } else {
                    self.buf.extend_from_slice(&avail[..end]);
                }
            }
            self.reader.consume(end);
            self.line += lines;
        }
        // Too long is told first: its text was dropped, so whether it closed is not known.
        if broken && !too_long {
            return Ok(Some(Frame::Bad {
                line: start_line,
                reason: RejectReason::InvalidJson,
                detail: format!("object not closed before line {}", self.line),
            }));
        }
        Ok(Some(object_frame(
            &self.buf, start_line, too_long, complete, self.max,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A line frame as `line:text:unterminated`, `line!reason` (bad) or `line~reason` (skipped).
    fn show(fr: Frame<'_>) -> String {
        match fr {
            Frame::Record {
                text,
                line,
                unterminated,
                invalid_utf8: false,
            } => format!("{line}:{text}:{unterminated}"),
            Frame::Record { text, line, .. } => format!("{line}:{text}:lossy"),
            Frame::Bad { line, reason, .. } => format!("{line}!{reason}"),
            Frame::Skipped { line, reason } => format!("{line}~{reason}"),
        }
    }

    fn lines(input: &[u8], max: usize) -> Vec<String> {
        let mut f = LineFramer::new(input, max);
        let mut out = vec![];
        while let Some(fr) = f.next_frame().unwrap() {
            out.push(show(fr));
        }
        out
    }

    #[test]
    fn lines_with_crlf_long_and_unterminated() {
        let mut input = b"a\r\nbb\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 5000));
        input.extend(b"\nlast");
        assert_eq!(
            lines(&input, 1024),
            vec!["1:a:false", "2:bb:false", "3!line too long", "4:last:true"]
        );
        assert_eq!(lines(b"", 1024), Vec::<String>::new());
        assert_eq!(lines(b"\n\n", 1024), vec!["1::false", "2::false"]);
        assert_eq!(
            lines(b"ok\n\xff\xfe\n", 1024),
            vec!["1:ok:false", "2:\u{fffd}\u{fffd}:lossy"]
        );
    }

    #[test]
    fn lines_across_small_buffer_reads() {
        let data = b"first line\nsecond line that is longer\nthird\n";
        let r = std::io::BufReader::with_capacity(4, &data[..]);
        let mut f = LineFramer::new(r, 1024);
        let mut got = vec![];
        while let Some(Frame::Record { text, .. }) = f.next_frame().unwrap() {
            got.push(text.to_string());
        }
        assert_eq!(
            got,
            vec!["first line", "second line that is longer", "third"]
        );
    }

    /// Lines handed out from the reader's buffer (whole in it) and lines assembled across reads give
    /// the same frames and offsets, whatever the buffer size.
    #[test]
    fn same_frames_and_offsets_for_any_buffer_size() {
        let data = b"first\r\n\nsecond line\nxxxxxxxxxxxxxxxxxxxxxxxxx\n\xff\xfe\nthird\r\nlast";
        let frames = |r: &mut dyn FnMut() -> Option<(String, u64)>| {
            let mut v = vec![];
            while let Some(x) = r() {
                v.push(x);
            }
            v
        };
        let read = |f: &mut LineFramer<&mut dyn BufRead>| {
            frames(&mut || {
                let s = show(f.next_frame().unwrap()?);
                Some((s, f.record_start()))
            })
        };
        let mut whole: &[u8] = &data[..];
        let want = read(&mut LineFramer::new(&mut whole as &mut dyn BufRead, 16));
        assert_eq!(want.len(), 7);
        assert_eq!(want[3].0, "4!line too long");
        assert_eq!(want[6], ("7:last:true".to_string(), 56));
        for cap in 1..=data.len() + 1 {
            let mut r = std::io::BufReader::with_capacity(cap, &data[..]);
            let got = read(&mut LineFramer::new(&mut r as &mut dyn BufRead, 16));
            assert_eq!(got, want, "buffer of {cap} bytes");
        }
    }

    /// Every frame of `f` with the offset its line began at: through the reader's fast path
    /// (`next_whole_line`, then `next_frame` when it gives nothing) when `fast`, else through
    /// `next_frame` alone.
    fn frames_with_offsets(f: &mut LineFramer<&mut dyn BufRead>, fast: bool) -> Vec<(String, u64)> {
        let mut v = vec![];
        loop {
            if fast {
                if let Some((bytes, line)) = f.next_whole_line().unwrap() {
                    v.push((show(record(bytes, line, false)), f.record_start()));
                    continue;
                }
            }
            let Some(frame) = f.next_frame().unwrap() else {
                return v;
            };
            v.push((show(frame), f.record_start()));
        }
    }

    /// The reader's fast path (`next_whole_line`, then `next_frame` when it gives nothing) frames
    /// every line as `next_frame` alone does, at the same offsets, whatever the buffer size: CRLF,
    /// blank, too long, not UTF-8, a NUL and an unterminated last line included.
    #[test]
    fn whole_lines_then_frames_give_the_frames() {
        let data = b"first\r\n\nsecond line\nxxxxxxxxxxxxxxxxxxxxxxxxx\n\xff\xfe\nnul\0here\nthird\r\nlast";
        let mut whole: &[u8] = &data[..];
        let want = frames_with_offsets(
            &mut LineFramer::new(&mut whole as &mut dyn BufRead, 16),
            false,
        );
        assert_eq!(want.len(), 8);
        assert_eq!(want[6], ("7:third:false".to_string(), 58));
        for cap in 1..=data.len() + 1 {
            let mut r = std::io::BufReader::with_capacity(cap, &data[..]);
            let got =
                frames_with_offsets(&mut LineFramer::new(&mut r as &mut dyn BufRead, 16), true);
            assert_eq!(got, want, "buffer of {cap} bytes");
        }
    }

    /// The inline newline search finds what memchr finds: every length up to 200, a newline at
    /// every position or none, before and after the 64 bytes looked at inline, with other bytes
    /// of every value around it.
    #[test]
    fn newline_finds_what_memchr_finds() {
        for len in 0..200usize {
            let base: Vec<u8> = (0..len)
                .map(|i| (i * 37 % 256) as u8)
                .map(|b| if b == b'\n' { b'x' } else { b })
                .collect();
            assert_eq!(newline(&base), None, "no newline, {len} bytes");
            for at in 0..len {
                let mut b = base.clone();
                b[at] = b'\n';
                // A second newline later must not be the one found.
                if at + 3 < len {
                    b[at + 3] = b'\n';
                }
                assert_eq!(
                    newline(&b),
                    memchr::memchr(b'\n', &b),
                    "{len} bytes, newline at {at}"
                );
                assert_eq!(newline(&b), Some(at));
            }
        }
    }

    /// Lines of every length around the inline search's 64 bytes and the buffer's size, handed out
    /// by the fast path (several from one buffer before it is consumed) or assembled, give the
    /// frames and offsets `next_frame` alone gives, whatever the buffer size.
    #[test]
    fn lines_taken_from_one_buffer_give_the_frames() {
        // The input, and beside it the frames and offsets it must give, worked out from the
        // lengths alone: a line over the limit (150) is too long, `\r\n` counts in the offset.
        let mut data = Vec::new();
        let mut want = Vec::new();
        for (n, len) in [0usize, 1, 15, 16, 17, 63, 64, 65, 66, 127, 128, 200, 3, 90]
            .into_iter()
            .enumerate()
        {
            let text: String = (0..len)
                .map(|i| char::from(b'a' + (i % 26) as u8))
                .collect();
            let frame = match len {
                0..=150 => format!("{}:{text}:false", n + 1),
                _ => format!("{}!line too long", n + 1),
            };
            want.push((frame, data.len() as u64));
            data.extend_from_slice(text.as_bytes());
            data.extend_from_slice(if len % 2 == 0 { b"\n" } else { b"\r\n" });
        }
        want.push(("15:unterminated:true".to_string(), data.len() as u64));
        data.extend_from_slice(b"unterminated");

        /// Hands out 1, 2, 3, ... 7 bytes per read, over and over: a pipe's uneven pieces.
        struct Uneven<'a>(&'a [u8], usize);
        impl std::io::Read for Uneven<'_> {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                self.1 = self.1 % 7 + 1;
                let n = self.1.min(out.len()).min(self.0.len());
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut whole: &[u8] = &data[..];
        let alone = frames_with_offsets(
            &mut LineFramer::new(&mut whole as &mut dyn BufRead, 150),
            false,
        );
        assert_eq!(alone, want, "one buffer of everything, next_frame alone");
        for cap in (1..=data.len() + 1).step_by(7).chain([64, 65, 256, 4096]) {
            for fast in [true, false] {
                let how = format!("buffer of {cap} bytes, fast path {fast}");
                let mut r = std::io::BufReader::with_capacity(cap, &data[..]);
                let got = frames_with_offsets(
                    &mut LineFramer::new(&mut r as &mut dyn BufRead, 150),
                    fast,
                );
                assert_eq!(got, want, "{how}");
                // `decode_buf`'s shape: the first bytes in a cursor chained before the rest.
                let (first, rest) = data.split_at(3);
                let mut r = std::io::Read::chain(
                    std::io::Cursor::new(first.to_vec()),
                    std::io::BufReader::with_capacity(cap, rest),
                );
                let got = frames_with_offsets(
                    &mut LineFramer::new(&mut r as &mut dyn BufRead, 150),
                    fast,
                );
                assert_eq!(got, want, "{how}, chained");
                let mut r = std::io::BufReader::with_capacity(cap, Uneven(&data[..], 0));
                let got = frames_with_offsets(
                    &mut LineFramer::new(&mut r as &mut dyn BufRead, 150),
                    fast,
                );
                assert_eq!(got, want, "{how}, uneven reads");
                // Resumed at the start of line 7 (a segment, or a file read on from a checkpoint).
                let at = want[6].1;
                let mut r = std::io::BufReader::with_capacity(cap, &data[at as usize..]);
                let got = frames_with_offsets(
                    &mut LineFramer::resume(&mut r as &mut dyn BufRead, 150, 6, at),
                    fast,
                );
                assert_eq!(got, want[6..], "{how}, resumed at line 7");
            }
        }
    }

    /// At the end of the input the fast path asks the reader no more often than `next_frame`
    /// alone does: on a terminal each read that finds the end is one more Ctrl-D.
    #[test]
    fn the_fast_path_reads_the_end_no_more_often() {
        struct Ends<'a>(&'a [u8], usize);
        impl std::io::Read for Ends<'_> {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                let n = std::io::Read::read(&mut self.0, out)?;
                self.1 += usize::from(n == 0);
                Ok(n)
            }
        }
        let ends = |data: &[u8], fast: bool| {
            let mut r = std::io::BufReader::with_capacity(64, Ends(data, 0));
            {
                let mut f = LineFramer::new(&mut r, 16);
                loop {
                    if fast && f.next_whole_line().unwrap().is_some() {
                        continue;
                    }
                    if f.next_frame().unwrap().is_none() {
                        break;
                    }
                }
            }
            r.get_ref().1
        };
        // An unterminated last line, and one ending in a newline (whose end the fast path used to
        // read twice, when its last line was taken from the buffer: now once, as `next_frame` does).
        for data in [&b"first\nsecond\nlast"[..], b"first\nsecond\n"] {
            assert!(ends(data, false) >= 1);
            assert_eq!(ends(data, true), ends(data, false));
        }
        assert_eq!(ends(b"first\nsecond\n", true), 1);
    }

    #[test]
    fn json_array_objects_with_lines() {
        let input =
            b"[{\n  \"a\" : \"x}\\\"{\",\n  \"b\" : {\"c\":[1,2]}\n},{\n  \"d\" : 1\n}\n]\n";
        let mut f = JsonArrayFramer::new(&input[..], 1 << 20);
        let mut got = vec![];
        while let Some(fr) = f.next_frame().unwrap() {
            match fr {
                Frame::Record { text, line, .. } => {
                    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
                    got.push((line, v.as_object().unwrap().len()));
                }
                Frame::Bad { reason, .. } => panic!("{reason}"),
                Frame::Skipped { reason, .. } => panic!("{reason}"),
            }
        }
        assert_eq!(got, vec![(1, 2), (4, 1)]);
    }

    #[test]
    fn json_array_preamble_and_truncation() {
        let input = b"Filtering the log data using \"x\"\n[{\"a\":1},{\"b\":";
        let mut f = JsonArrayFramer::new(&input[..], 1 << 20);
        let mut got = vec![];
        while let Some(fr) = f.next_frame().unwrap() {
            got.push(match fr {
                Frame::Record {
                    line, unterminated, ..
                } => format!("{line}:rec:{unterminated}"),
                Frame::Bad { line, reason, .. } => format!("{line}!{reason}"),
                Frame::Skipped { line, reason } => format!("{line}~{reason}"),
            });
        }
        assert_eq!(got[0], "1~log stream preamble");
        assert_eq!(got[1], "2:rec:false");
        assert_eq!(got[2], "2:rec:true");
    }

    fn stream(input: &[u8], cap: usize) -> Vec<String> {
        let r = std::io::BufReader::with_capacity(cap, input);
        let mut f = JsonStreamFramer::new(r, 1 << 20);
        let mut got = vec![];
        while let Some(fr) = f.next_frame().unwrap() {
            got.push(match fr {
                Frame::Record {
                    text,
                    line,
                    unterminated,
                    ..
                } => format!("{line}:{}:{unterminated}", text.len()),
                Frame::Bad { line, reason, .. } => format!("{line}!{reason}"),
                Frame::Skipped { line, reason } => format!("{line}~{reason}"),
            });
        }
        got
    }

    #[test]
    fn json_stream_pretty_and_ndjson_with_start_lines() {
        // Pretty-printed objects back to back (`}{`, as the Jamf samples concatenate), braces and
        // escaped quotes inside strings, an NDJSON tail, a stray line and a truncated last object.
        let input = b"{\n  \"a\": \"}{\\\"\",\n  \"b\": [1, {\"c\": 2}]\n}{\n \"d\": 1\n}\n\n{\"e\":1}\n{\"f\":2}\ngarbage here\n{\"g\":";
        let want = vec![
            "1:39:false",
            "4:11:false",
            "8:7:false",
            "9:7:false",
            "10!invalid JSON",
            "11:5:true",
        ];
        for cap in [1, 2, 3, 7, 64, 4096] {
            assert_eq!(stream(input, cap), want, "buffer {cap}");
        }
    }

    #[test]
    fn json_stream_broken_ndjson_line_does_not_swallow_the_next() {
        let input = b"{\"a\":\"x\n{\"b\":1}\n{\"c\":{\n{\"d\":2}\n";
        let want = vec!["1!invalid JSON", "2:7:false", "3!invalid JSON", "4:7:false"];
        for cap in [1, 5, 4096] {
            assert_eq!(stream(input, cap), want, "buffer {cap}");
        }
    }

    #[test]
    fn json_stream_too_long_object_is_bad_and_reading_goes_on() {
        let mut input = b"{\"big\":\"".to_vec();
        input.extend(std::iter::repeat_n(b'x', 3000));
        input.extend(b"\"}\n{\"ok\":1}\n");
        let mut f = JsonStreamFramer::new(&input[..], 1024);
        let mut got = vec![];
        while let Some(fr) = f.next_frame().unwrap() {
            got.push(match fr {
                Frame::Record { line, text, .. } => format!("{line}:{text}"),
                Frame::Bad { line, reason, .. } => format!("{line}!{reason}"),
                Frame::Skipped { .. } => unreachable!(),
            });
        }
        assert_eq!(got, vec!["1!line too long", "2:{\"ok\":1}"]);
    }
}
