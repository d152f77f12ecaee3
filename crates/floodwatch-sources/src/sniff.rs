//! Format detection from content (shared/docs/telemetry-formats.md §8), never from the file name.
//!
//! Captures are told by their magic number. A text file is the format most lines of its head fit
//! (at least half of them): one bad first line, a NUL byte or a few garbage lines do not hide a
//! capture, the reader rejects those lines with their reasons. A file where telemetry lines are a
//! minority is not read, and its reason starts with [`LOOKS_LIKE_TELEMETRY`] so the summary warns.

use crate::wire::scan::{Miss, Scan, Scanned};
use crate::Format;
use floodwatch_core::stats::LOOKS_LIKE_TELEMETRY;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// How many bytes of a file's head are looked at.
pub const HEAD_BYTES: usize = 256 * 1024;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sniffed {
    Telemetry(Format),
    /// Recognized but not read by this version, or not telemetry at all: listed as skipped, not fatal.
    NotTelemetry(String),
}

pub fn sniff(head: &[u8]) -> Sniffed {
    sniff_with(head, true)
}

/// [`sniff`]; without `stop_early`, every JSON line of the head is read (the reference its early
/// stop is tested against).
fn sniff_with(head: &[u8], stop_early: bool) -> Sniffed {
    use Sniffed::*;
    if head.is_empty() {
        return NotTelemetry("empty file".into());
    }
    // Captures by magic number (§8 step 1): pcapng's section header, then pcap in either byte
    // order with microsecond or nanosecond timestamps.
    if head.starts_with(&[0x0A, 0x0D, 0x0D, 0x0A]) {
        return Telemetry(Format::Pcapng);
    }
    match head.get(..4) {
        Some([0xD4, 0xC3, 0xB2, 0xA1] | [0xA1, 0xB2, 0xC3, 0xD4])
        | Some([0x4D, 0x3C, 0xB2, 0xA1] | [0xA1, 0xB2, 0x3C, 0x4D]) => {
            return Telemetry(Format::Pcap)
        }
        Some([0x34, 0xCD, 0xB2, 0xA1] | [0xA1, 0xB2, 0xCD, 0x34]) => {
            return NotTelemetry("modified (Kuznetzov) pcap capture (not read)".into())
        }
        _ => {}
    }
    // A bad line inside good telemetry (a NUL byte, bytes that are not UTF-8) must not make the
    // whole file unrecognizable: the file is binary only when much of its head is not text, and
    // otherwise the format is the one most of its lines are (the reader rejects the others).
    // `from_utf8` first: its ASCII fast path checks a word at a time, where the lossy decoder
    // goes a byte at a time (1.3% of a fleet hunt's instructions).
    let lossy = match std::str::from_utf8(head) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(head),
    };
    let (chars, binary) = match &lossy {
        std::borrow::Cow::Borrowed(text) => text_counts(text),
        std::borrow::Cow::Owned(text) => char_counts(text),
    };
    if binary * 10 > chars {
        return NotTelemetry(if head.contains(&0) {
            "binary (NUL bytes)".into()
        } else {
            "binary or not UTF-8 text".into()
        });
    }
    let text: &str = &lossy;
    let lines = Lines::of(text);
    if lines.all.is_empty() {
        return NotTelemetry("blank file".into());
    }
    let Some(first) = lines.records().next() else {
        return NotTelemetry("unified log preamble without records".into());
    };
    // A first JSON record larger than the head: decide on key names.
    if first.text.trim_start().starts_with('{') {
        let mut values =
            serde_json::Deserializer::from_str(&text[first.start..]).into_iter::<IgnoredAny>();
        if matches!(values.next(), Some(Err(e)) if e.is_eof()) {
            return json_by_key_names(first.text, text);
        }
    }
    let [zeek, array, nettop] = [zeek_tsv(&lines), json_array(&lines, text), nettop(&lines)];
    let others = if stop_early {
        most_of(&[&zeek, &array, &nettop])
    } else {
        usize::MAX
    };
    let candidates = [zeek, array, nettop, json_values(&lines, text, others)];
    let best = most_lines(candidates.iter().flatten());
    if let Some(best) = best {
        // Half is enough: a file of one bad line and one good line is read (and the bad line
        // rejected with its reason), which is what a stream sniffed line by line sees first.
        if best.lines * 2 >= lines.counted {
            return best.verdict.clone();
        }
    }
    let telemetry = most_lines(
        candidates
            .iter()
            .flatten()
            .filter(|c| matches!(c.verdict, Telemetry(_))),
    );
    if let Some(Candidate {
        verdict: Telemetry(f),
        lines: n,
    }) = telemetry
    {
        return NotTelemetry(format!(
            "{LOOKS_LIKE_TELEMETRY} ({}: {n} of {} lines of the head), but most lines are not: not read",
            f.name(),
            lines.counted
        ));
    }
    if let Some(best) = best {
        return best.verdict.clone();
    }
    NotTelemetry(format!(
        "unrecognized text (first line starts {:?})",
        first.text.chars().take(40).collect::<String>()
    ))
}

/// How many characters `text` has, and how many of them are not text: control characters other
/// than tab, newline, carriage return and form feed, and U+FFFD (what a byte that is not UTF-8
/// became).
fn char_counts(text: &str) -> (usize, usize) {
    let (mut chars, mut binary) = (0usize, 0usize);
    for c in text.chars() {
        chars += 1;
        let plain = !c.is_control() || matches!(c, '\t' | '\n' | '\r' | '\x0c');
        if !plain || c == char::REPLACEMENT_CHARACTER {
            binary += 1;
        }
    }
    (chars, binary)
}

/// [`char_counts`] over bytes, for the usual head that is valid UTF-8 (a loop over `chars()` was
/// most of sniffing's time): a character starts at every byte that is not a continuation byte;
/// the controls are the C0 bytes, DEL and the C1 pairs `C2 80`-`C2 9F`; U+FFFD is `EF BF BD`.
fn text_counts(text: &str) -> (usize, usize) {
    let b = text.as_bytes();
    let chars = count_bytes(b, |c| c & 0xC0 != 0x80);
    // `&` and `|`, not `&&` and `||`: without branches the loop is vectorized.
    let mut binary = count_bytes(b, |c| {
        let c0 = (c < 0x20) & (c != b'\t') & (c != b'\n') & (c != b'\r') & (c != 0x0c);
        c0 | (c == 0x7f)
    });
    if memchr::memchr2(0xC2, 0xEF, b).is_some() {
        binary += b
            .windows(2)
            .filter(|w| w[0] == 0xC2 && (0x80..=0x9F).contains(&w[1]))
            .count();
        binary += b.windows(3).filter(|w| *w == [0xEF, 0xBF, 0xBD]).count();
    }
    (chars, binary)
}

/// How many bytes of `b` satisfy `f`, counted in byte-wide lanes: blocks of at most 255 bytes keep
/// a `u8` sum from wrapping, and a `u8` sum is vectorized 32 bytes at a time where a `usize` one
/// is widened first (eight instructions per byte, measured).
fn count_bytes(b: &[u8], f: impl Fn(u8) -> bool) -> usize {
    b.chunks(255)
        .map(|block| usize::from(block.iter().fold(0u8, |n, &c| n + u8::from(f(c)))))
        .sum()
}

/// The non-blank lines of the head, without its last line when the head ends inside it (it may be
/// cut), and how many of them count (a `log stream` preamble does not).
struct Lines<'a> {
    all: Vec<Line<'a>>,
    counted: usize,
    /// The preamble is line 0 of `all`.
    preamble: bool,
}

#[derive(Clone, Copy)]
struct Line<'a> {
    text: &'a str,
    /// Byte offset in the head.
    start: usize,
}

impl<'a> Lines<'a> {
    fn of(text: &'a str) -> Self {
        let mut all: Vec<Line<'a>> = Vec::new();
        let mut start = 0;
        for l in text.split_inclusive('\n') {
            if !l.trim().is_empty() {
                all.push(Line {
                    text: l.trim_end_matches(['\n', '\r']),
                    start,
                });
            }
            start += l.len();
        }
        if all.len() > 1 && !text.ends_with('\n') {
            all.pop();
        }
        // `log stream` prints a preamble before its output.
        let preamble = all
            .first()
            .is_some_and(|l| l.text.starts_with("Filtering the log data"));
        Lines {
            counted: all.len() - usize::from(preamble),
            all,
            preamble,
        }
    }

    /// The lines that count, with their index in `all`.
    fn records(&self) -> impl Iterator<Item = &Line<'a>> {
        self.all.iter().skip(usize::from(self.preamble))
    }

    /// Index of the line holding byte `offset`.
    fn line_at(&self, offset: usize) -> usize {
        self.all
            .partition_point(|l| l.start <= offset)
            .saturating_sub(1)
    }
}

/// The candidate with the most lines (the first of equals).
fn most_lines<'c>(candidates: impl Iterator<Item = &'c Candidate>) -> Option<&'c Candidate> {
    candidates.fold(None, |best, c| match best {
        Some(b) if b.lines >= c.lines => Some(b),
        _ => Some(c),
    })
}

/// What a format (or a known kind that is not read) makes of the head, and how many lines fit it.
/// From [`json_values`] when it stopped early, fewer than fit: only the verdict is used then.
#[derive(Clone)]
struct Candidate {
    verdict: Sniffed,
    lines: usize,
}

/// Zeek TSV: a `#separator` line (btest baselines put a `###` comment before it), then `#` header
/// lines and tab-separated rows; conn logs only.
fn zeek_tsv(lines: &Lines<'_>) -> Option<Candidate> {
    let recs: Vec<&Line<'_>> = lines.records().collect();
    let at = recs.iter().position(|l| l.text.starts_with("#separator"))?;
    let conn = recs[at..].iter().any(|l| l.text.starts_with("#path\tconn"));
    let fits = recs[..at]
        .iter()
        .filter(|l| l.text.starts_with('#'))
        .count()
        + recs[at..]
            .iter()
            .filter(|l| l.text.starts_with('#') || l.text.contains('\t'))
            .count();
    Some(Candidate {
        verdict: if conn {
            Sniffed::Telemetry(Format::ZeekTsv)
        } else {
            Sniffed::NotTelemetry(
                "Zeek TSV log other than conn.log (not read by this version)".into(),
            )
        },
        lines: fits,
    })
}

/// `log show --style json`: a `[` line, the array of unified log objects after it.
fn json_array(lines: &Lines<'_>, text: &str) -> Option<Candidate> {
    let recs: Vec<&Line<'_>> = lines.records().collect();
    // `[` alone or before the first object; not a TOML `[table]`.
    let opens = |l: &&Line<'_>| {
        l.text
            .trim_start()
            .strip_prefix('[')
            .is_some_and(|rest| rest.trim().is_empty() || rest.trim_start().starts_with('{'))
    };
    let at = recs.iter().position(opens)?;
    let after = &text[recs[at].start..];
    let verdict = if after.contains("\"eventMessage\"") || after.contains("\"eventType\"") {
        Sniffed::Telemetry(Format::UnifiedLogJson)
    } else {
        Sniffed::NotTelemetry("JSON array without unified log keys".into())
    };
    Some(Candidate {
        verdict,
        lines: recs.len() - at,
    })
}

/// nettop: a header (CSV or fixed width) and rows of its shape, in any order (a capture copied
/// from a terminal may have its header below the rows). A fixed-width head with no header at all
/// (the header further down than the head) is told by its rows' shape alone.
fn nettop(lines: &Lines<'_>) -> Option<Candidate> {
    let Some((format, header)) = lines
        .records()
        .find_map(|l| sniff_nettop_header(l.text).map(|f| (f, l.text)))
    else {
        let fits = lines.records().filter(|l| fixed_row_shape(l.text)).count();
        return (fits > 0).then_some(Candidate {
            verdict: Sniffed::Telemetry(Format::NettopFixed),
            lines: fits,
        });
    };
    let fields = header.split(',').count();
    let fits = lines
        .records()
        .filter(|l| match format {
            // nettop does not quote: a name with commas only adds fields.
            // Fields are commas plus one; memchr counts them a block at a time.
            Format::NettopCsv => memchr::memchr_iter(b',', l.text.as_bytes()).count() + 1 >= fields,
            _ => {
                l.text.contains("  ")
                    && (sniff_nettop_header(l.text).is_some()
                        || l.text.trim_end().ends_with(|c: char| c.is_ascii_digit()))
            }
        })
        .count();
    Some(Candidate {
        verdict: Sniffed::Telemetry(format),
        lines: fits,
    })
}

/// JSON objects, one per line or pretty-printed over many (Jamf, Elastic), concatenated: read as a
/// stream from each line that starts with `{` and is not inside an object already read. The kind
/// most lines belong to wins.
///
/// Reading stops once the verdict cannot change: the leading kind has more lines than `others` (the
/// most any other candidate has), at least half the head's lines, and more than any other kind
/// could reach with every line left. Its count is then short of the full one, which changes nothing:
/// [`sniff`] returns that verdict, as it would with the full count. (Parsing every line of a head
/// was most of sniffing's time: an eslogger head is a hundred lines of nested JSON.)
fn json_values(lines: &Lines<'_>, text: &str, others: usize) -> Option<Candidate> {
    let mut by_kind: Vec<Candidate> = Vec::new();
    let count = |by_kind: &mut Vec<Candidate>, verdict: Sniffed, n: usize| match by_kind
        .iter_mut()
        .find(|c| c.verdict == verdict)
    {
        Some(c) => c.lines += n,
        None => by_kind.push(Candidate { verdict, lines: n }),
    };
    let mut i = 0;
    while i < lines.all.len() {
        let l = lines.all[i];
        if !l.text.trim_start().starts_with('{') {
            i += 1;
            continue;
        }
        let mut first = i;
        let mut read_any = false;
        // The values from this line on, one after another (a line may hold several, or a value
        // span lines), up to the first that does not parse.
        let mut at = l.start;
        while let Some((v, end)) = next_shallow(text, at) {
            at = end;
            let last = lines.line_at(end.saturating_sub(1));
            let verdict = match &v {
                // A unified log object over several lines is `log show --style json` output
                // without its array (cut to one record): read as that style, not as lines.
                Value::Object(m) => match classify(m) {
                    Some(Format::UnifiedLogNdjson) if last > first => {
                        Sniffed::Telemetry(Format::UnifiedLogJson)
                    }
                    Some(f) => Sniffed::Telemetry(f),
                    None => classify_other(m),
                },
                _ => Sniffed::NotTelemetry("JSON values that are not objects".into()),
            };
            count(&mut by_kind, verdict, (last + 1).saturating_sub(first));
            first = last + 1;
            read_any = true;
            if decided(
                &by_kind,
                others,
                lines.counted,
                lines.all.len().saturating_sub(first),
            ) {
                return most_lines(by_kind.iter()).cloned();
            }
        }
        // Past what was read, or past the line that did not parse.
        i = if read_any { first.max(i + 1) } else { i + 1 };
    }
    most_lines(by_kind.iter()).cloned()
}

/// The [`ShallowValue`] after `at` (past whitespace) and where it ends, as a serde stream of
/// them started before `at` reads it; None at the end or where one does not parse. An object is
/// read with the strict scanner first (several times faster than serde's visitors on an eslogger
/// line, which was most of sniffing's time); what it is not sure of (an escaped key, a float, deep
/// nesting, anything it refuses) serde reads, to the same value (see the tests).
fn next_shallow(text: &str, at: usize) -> Option<(Value, usize)> {
    let rest = text.get(at..)?;
    let mut s = Scan::new(rest);
    if s.peek() == Ok(b'{') {
        if let Ok(v) = scanned_shallow(&mut s, 0) {
            return Some((v, at + s.pos()));
        }
    }
    let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<ShallowValue>();
    match stream.next() {
        Some(Ok(ShallowValue(v))) => Some((v, at + stream.byte_offset())),
        _ => None,
    }
}

/// A [`ShallowValue`] at nesting depth `depth`, read with the scanner: objects two levels deep,
/// strings, and everything else checked and kept as `null`; a later key replaces an earlier one,
/// as serde's `Map` does.
fn scanned_shallow(s: &mut Scan<'_>, depth: u8) -> Scanned<Value> {
    match s.peek()? {
        b'{' if depth < 2 => {
            let mut m = Map::new();
            s.object(|s, key| {
                let key = std::str::from_utf8(key).map_err(|_| Miss)?;
                let v = scanned_shallow(s, depth + 1)?;
                m.insert(key.to_owned(), v);
                Ok(())
            })?;
            Ok(Value::Object(m))
        }
        b'"' => Ok(Value::String(s.string()?.into_owned())),
        // serde reads a number here as a value (a float whose exponent overflows is an error),
        // where [`Scan::skip`] only checks its grammar, as serde's `IgnoredAny` does: plain
        // integers only, the rest is serde's.
        b'-' | b'0'..=b'9' => s.integer().map(|_| Value::Null),
        // Arrays, and objects from the third level: serde ignores what they hold.
        _ => s.skip().map(|()| Value::Null),
    }
}

/// The most lines any of `candidates` has.
fn most_of(candidates: &[&Option<Candidate>]) -> usize {
    candidates
        .iter()
        .filter_map(|c| c.as_ref())
        .map(|c| c.lines)
        .max()
        .unwrap_or(0)
}

/// Whether [`json_values`]'s leading kind wins [`sniff`] whatever the `left` lines hold: more lines
/// than any other candidate (a later candidate wins only with more, not as many), at least half of
/// the `counted`, and more than any other kind even with all of `left`.
fn decided(by_kind: &[Candidate], others: usize, counted: usize, left: usize) -> bool {
    let Some(lead) = most_lines(by_kind.iter()) else {
        return false;
    };
    let runner_up = by_kind
        .iter()
        .filter(|c| !std::ptr::eq(*c, lead))
        .map(|c| c.lines)
        .max()
        .unwrap_or(0);
    lead.lines > others && lead.lines * 2 >= counted && lead.lines > runner_up + left
}

/// A JSON value as far as [`classify`] and [`classify_other`] look into it: objects two levels
/// deep, and strings up to the third level. Everything else (numbers, booleans, arrays, deeper
/// objects) is parsed and checked, and kept as `null` under its key. A full `Value` of every line
/// of a head was most of sniffing's time: an eslogger line holds hundreds of strings three to six
/// levels down.
struct ShallowValue(Value);

impl<'de> serde::Deserialize<'de> for ShallowValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Shallow(0).deserialize(d).map(ShallowValue)
    }
}

/// A [`ShallowValue`] at nesting depth `.0` (0: the record itself).
struct Shallow(u8);

impl<'de> DeserializeSeed<'de> for Shallow {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Shallow {
    type Value = Value;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Value::Null)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        if self.0 >= 2 {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            return Ok(Value::Null);
        }
        let mut m = Map::new();
        while let Some(k) = map.next_key::<String>()? {
            let v = map.next_value_seed(Shallow(self.0 + 1))?;
            m.insert(k, v);
        }
        Ok(Value::Object(m))
    }
}

/// A fixed-width nettop process row: `Name.pid`, a run of blanks, then counters, the last two
/// numbers (`launchd.1      0      0`).
fn fixed_row_shape(line: &str) -> bool {
    let line = line.trim_end();
    // memmem, not `str::find`: this runs on every line of every head without a nettop header.
    let Some(gap) = memchr::memmem::find(line.as_bytes(), b"  ") else {
        return false;
    };
    let (name, rest) = line.split_at(gap);
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let named = name
        .rsplit_once('.')
        .is_some_and(|(n, pid)| !n.trim().is_empty() && digits(pid));
    // The other cells are counters (`-x`: digits; else `1.5 KiB`) or an interface (`en0`).
    let cell = |c: &str| {
        digits(&c.replace('.', ""))
            || matches!(c, "B" | "KiB" | "MiB" | "GiB" | "TiB")
            || c.trim_end_matches(|ch: char| ch.is_ascii_digit()).len() < c.len()
                && c.bytes().all(|b| b.is_ascii_alphanumeric())
    };
    let mut values = rest.split_whitespace().rev();
    named
        && values.next().is_some_and(digits)
        && values.next().is_some_and(digits)
        && values.all(cell)
}

/// nettop headers: CSV `time,,interface,...` / `,bytes_in,bytes_out,`; fixed width `... bytes_in   bytes_out`.
pub fn sniff_nettop_header(line: &str) -> Option<Format> {
    let has = |word: &[u8]| memchr::memmem::find(line.as_bytes(), word).is_some();
    if has(b"bytes_in") && has(b"bytes_out") {
        if line.contains(',') {
            let mut fields = line.split(',');
            let f0 = fields.next().unwrap_or("");
            let f1 = fields.next().unwrap_or("x");
            if f0 == "time" && f1.is_empty() || f0.is_empty() {
                return Some(Format::NettopCsv);
            }
        } else if line.contains("  ") {
            return Some(Format::NettopFixed);
        }
    }
    None
}

fn has(m: &Map<String, Value>, k: &str) -> bool {
    m.contains_key(k)
}

fn classify(m: &Map<String, Value>) -> Option<Format> {
    if is_jamf_telemetry(m) {
        return Some(Format::JamfTelemetry);
    }
    if has(m, "schema_version")
        && has(m, "event_type")
        && has(m, "event")
        && (has(m, "global_seq_num") || has(m, "mach_time"))
    {
        return Some(Format::Eslogger);
    }
    if (has(m, "eventMessage") || has(m, "eventType"))
        && (has(m, "processImagePath") || has(m, "subsystem"))
        && has(m, "timestamp")
    {
        return Some(Format::UnifiedLogNdjson);
    }
    if has(m, "name")
        && (has(m, "hostIdentifier") || has(m, "hostname"))
        && has(m, "calendarTime")
        && (has(m, "columns") || has(m, "snapshot") || has(m, "diffResults"))
    {
        return Some(Format::Osquery);
    }
    None
}

/// Jamf Protect's current telemetry stream: Jamf's `metadata` envelope (product "Device Telemetry
/// Stream", vendor "Jamf") around an Endpoint Security `event`. Checked before eslogger, whose
/// messages it resembles.
fn is_jamf_telemetry(m: &Map<String, Value>) -> bool {
    let meta = |k: &str| {
        m.get("metadata")
            .and_then(|md| md.get(k))
            .and_then(Value::as_str)
    };
    has(m, "event")
        && (meta("product") == Some("Device Telemetry Stream") || meta("vendor") == Some("Jamf"))
}

/// Jamf Protect: telemetry `header.event_name` `AUE_*`; alerts `eventType` `GP*` with `match`,
/// bare or wrapped in `input` (§8 comes to these after Zeek).
fn is_jamf(m: &Map<String, Value>) -> bool {
    let aue = m
        .get("header")
        .and_then(|h| h.get("event_name"))
        .and_then(Value::as_str)
        .is_some_and(|n| n.starts_with("AUE_"));
    let alert = |m: &Map<String, Value>| {
        m.get("eventType")
            .and_then(Value::as_str)
            .is_some_and(|t| t.starts_with("GP"))
            && has(m, "match")
    };
    aue || alert(m) || m.get("input").and_then(Value::as_object).is_some_and(alert)
}

/// Elastic Defend: `@timestamp` and an `endpoint.events.*` dataset (`event.dataset` or
/// `data_stream.dataset`, nested or flat-dotted).
fn is_elastic(m: &Map<String, Value>) -> bool {
    let endpoint = |k: &str| {
        crate::elastic::field(m, k)
            .and_then(Value::as_str)
            .is_some_and(|d| d.starts_with("endpoint.events."))
    };
    has(m, "@timestamp") && (endpoint("event.dataset") || endpoint("data_stream.dataset"))
}

/// A JSON object of a kind that is not classified from a single line's keys alone.
fn classify_other(m: &Map<String, Value>) -> Sniffed {
    if has(m, "uid") && has(m, "id.orig_h") && has(m, "proto") {
        Sniffed::Telemetry(Format::ZeekJson)
    } else if has(m, "uid") && has(m, "id.orig_h") {
        Sniffed::NotTelemetry("Zeek JSON log other than conn.log (not read by this version)".into())
    } else if is_jamf(m) {
        Sniffed::Telemetry(Format::JamfProtect)
    } else if is_elastic(m) {
        Sniffed::Telemetry(Format::ElasticDefend)
    } else {
        let keys: Vec<&str> = m.keys().take(6).map(String::as_str).collect();
        Sniffed::NotTelemetry(format!("JSON lines of an unknown kind (keys {keys:?})"))
    }
}

/// No complete JSON value within the head (a first record larger than the head): decide on key names.
fn json_by_key_names(first: &str, head: &str) -> Sniffed {
    let k = |s: &str| first.contains(&format!("\"{s}\""));
    if k("metadata") && first.contains("\"Device Telemetry Stream\"") {
        return Sniffed::Telemetry(Format::JamfTelemetry);
    }
    if k("schema_version") && k("event_type") && k("event") {
        return Sniffed::Telemetry(Format::Eslogger);
    }
    if k("eventMessage") && k("timestamp") {
        return Sniffed::Telemetry(Format::UnifiedLogNdjson);
    }
    // A pretty-printed unified log object (`{` alone on its line) larger than the head.
    if first.trim() == "{" && head.contains("\"eventMessage\"") && head.contains("\"timestamp\"") {
        return Sniffed::Telemetry(Format::UnifiedLogJson);
    }
    if k("hostIdentifier") && k("calendarTime") {
        return Sniffed::Telemetry(Format::Osquery);
    }
    let h = |s: &str| head.contains(s);
    if h("\"event_name\"") && h("\"AUE_") {
        return Sniffed::Telemetry(Format::JamfProtect);
    }
    if h("\"@timestamp\"") && h("\"endpoint.events.") {
        return Sniffed::Telemetry(Format::ElasticDefend);
    }
    Sniffed::NotTelemetry("JSON without a recognizable first record".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts_equal_char_counts_on_valid_text() {
        use rand::{Rng, SeedableRng};
        let pieces = [
            "a", "é", "\t", "\n", "\r", "\x0c", "\x00", "\x1b", "\x7f", "\u{80}", "\u{9f}",
            "\u{a0}", "\u{fffd}", "\u{fffe}", "€", "😀", "\u{2028}", "\u{c2}",
        ];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        for _ in 0..3_000 {
            let n = rng.random_range(0..40);
            let text: String = (0..n)
                .map(|_| pieces[rng.random_range(0..pieces.len())])
                .collect();
            assert_eq!(text_counts(&text), char_counts(&text), "{text:?}");
        }
        let head = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/data/corpus/eslogger/mullvad_eslogger_v9_v10_v11.ndjson"
        ))
        .unwrap();
        assert_eq!(text_counts(&head), char_counts(&head));
    }

    /// Every file under the folders `roots`, depth first (the first root first).
    fn files_under(roots: &[&str]) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        let mut stack: Vec<std::path::PathBuf> = roots.iter().rev().map(Into::into).collect();
        while let Some(p) = stack.pop() {
            if p.is_dir() {
                stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            } else {
                out.push(p);
            }
        }
        out
    }

    /// [`next_shallow`] as serde alone read it (before the scanner went first).
    fn serde_next_shallow(text: &str, at: usize) -> Option<(Value, usize)> {
        let rest = text.get(at..)?;
        let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<ShallowValue>();
        match stream.next() {
            Some(Ok(ShallowValue(v))) => Some((v, at + stream.byte_offset())),
            _ => None,
        }
    }

    /// The scanner reads what serde reads, to the same value and end: at every line of every
    /// real sample, and of 30,000 eslogger and unified log lines with bytes changed, removed or
    /// added (JSON's own characters most often), and on the edges: escaped and repeated keys,
    /// floats, deep nesting, several values on a line, trailing bytes.
    #[test]
    fn scanner_reads_shallow_values_as_serde_does() {
        use rand::{Rng, SeedableRng};
        let check = |text: &str, at: usize| {
            assert_eq!(
                next_shallow(text, at),
                serde_next_shallow(text, at),
                "{:?} at {at}",
                text.get(at..).unwrap_or_default()
            );
        };
        let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/corpus");
        let samples: Vec<String> = files_under(&[corpus])
            .into_iter()
            .map(|p| String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned())
            .collect();
        let mut objects = 0;
        for text in &samples {
            let mut at = 0;
            for line in text.split_inclusive('\n') {
                check(text, at);
                objects += usize::from(line.trim_start().starts_with('{'));
                at += line.len();
            }
        }
        assert!(objects > 50, "{objects} JSON lines in the samples");
        let lines: Vec<&str> = samples
            .iter()
            .flat_map(|t| t.lines())
            .filter(|l| l.starts_with('{') && serde_next_shallow(l, 0).is_some())
            .collect();
        let alphabet = b"{}[]\":,\\ 0123456789.eE+-tfnul\tx";
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(8);
        let mut scanned = 0;
        for _ in 0..30_000 {
            let mut b = lines[rng.random_range(0..lines.len())].as_bytes().to_vec();
            for _ in 0..rng.random_range(1..4) {
                let at = rng.random_range(0..b.len());
                let c = alphabet[rng.random_range(0..alphabet.len())];
                match rng.random_range(0..3) {
                    0 => b[at] = c,
                    1 => {
                        b.remove(at);
                    }
                    _ => b.insert(at, c),
                }
            }
            // Two records, the second after this one's end.
            b.extend_from_slice(b"\n{\"k\":1}\n");
            let Ok(text) = std::str::from_utf8(&b) else {
                continue;
            };
            check(text, 0);
            if let Some((_, end)) = next_shallow(text, 0) {
                check(text, end);
                scanned += 1;
            }
        }
        assert!(scanned > 1_000, "{scanned} mutated lines still parsed");
        for edge in [
            r#"{"a\u0062":"x","b":"y"}"#,
            r#"{"a":"1","a":"2","b":{"c":"3","c":"4"}}"#,
            r#"{"f":2.5,"g":{"h":1e400,"i":-0.0}}"#,
            r#"{"f":1e400}"#,
            r#"{"g":{"h":0.5e873657226563}}"#,
            r#"{"g":{"h":{"i":1e400}},"j":[1e400]}"#,
            r#"{"big":123456789012345678901234567890,"neg":-12,"z":-0}"#,
            r#"{"s":"\ud83d\ude00 \/x","t":"\ud800"}"#,
            r#"{"n":{"o":{"p":"deep"},"q":"r"},"l":[1,{"m":"x"}]}"#,
            r#"{}{"a":1} {"b":2}"#,
            r#"{"a":1}x"#,
            r#"{"a":01}"#,
            r#"{"a":tru}"#,
            "{\"a\":\"tab\there\"}",
            " \t{ \"a\" : [ ] , \"b\" : { } }\r\n",
            r#"1 {"a":1}"#,
        ] {
            check(edge, 0);
            if let Some((_, end)) = serde_next_shallow(edge, 0) {
                check(edge, end);
            }
        }
        let deep = |n: usize| format!("{{\"a\":{}{}}}", "[".repeat(n), "]".repeat(n));
        for n in [10, 62, 63, 64, 65, 126, 127, 128, 200] {
            check(&deep(n), 0);
        }
    }

    /// The shallow value decides as a full `Value` does, on every JSON record of the real corpus
    /// (each kind the sniffer tells) and on hand-made objects at the edges of its depth.
    #[test]
    fn shallow_values_classify_as_full_values_do() {
        let same = |text: &str| -> bool {
            let Ok(full) = serde_json::from_str::<Value>(text) else {
                return false;
            };
            let ShallowValue(shallow) = serde_json::from_str(text).unwrap();
            match (&full, &shallow) {
                (Value::Object(f), Value::Object(s)) => {
                    assert_eq!(classify(f), classify(s), "{text}");
                    assert_eq!(classify_other(f), classify_other(s), "{text}");
                    assert!(f.keys().eq(s.keys()), "{text}");
                }
                _ => assert!(!shallow.is_object() && !full.is_object(), "{text}"),
            }
            true
        };
        let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/corpus");
        let mut kinds = std::collections::BTreeMap::<String, usize>::new();
        for dir in std::fs::read_dir(corpus).unwrap() {
            let dir = dir.unwrap().path();
            if !dir.is_dir() {
                continue;
            }
            let mut files = vec![dir.clone()];
            while let Some(file) = files.pop() {
                if file.is_dir() {
                    files.extend(std::fs::read_dir(&file).unwrap().map(|e| e.unwrap().path()));
                    continue;
                }
                let bytes = std::fs::read(file).unwrap();
                let text = String::from_utf8_lossy(&bytes);
                // One record per line, and the whole file (a pretty-printed record or an array).
                let whole = same(&text);
                let lines = text.lines().filter(|l| same(l)).count();
                if whole || lines > 0 {
                    let kind = dir.file_name().unwrap().to_string_lossy().into_owned();
                    *kinds.entry(kind).or_default() += lines + usize::from(whole);
                }
            }
        }
        for kind in [
            "elastic_defend",
            "eslogger",
            "jamf_protect",
            "jamf_protect_telemetry",
            "osquery",
            "unifiedlog",
            "zeek",
        ] {
            assert!(kinds.get(kind).is_some_and(|&n| n > 0), "{kind}: {kinds:?}");
        }
        for edge in [
            r#"{"metadata":{"product":"Device Telemetry Stream","n":[1]},"event":{"a":{"b":"c"}}}"#,
            r#"{"metadata":{"vendor":{"name":"Jamf"}},"event":1}"#,
            r#"{"input":{"eventType":"GPProcessEvent","match":null}}"#,
            r#"{"input":{"eventType":["GPProcessEvent"],"match":{}}}"#,
            r#"{"@timestamp":1,"event":{"dataset":"endpoint.events.file"}}"#,
            r#"{"@timestamp":"t","event.dataset":["endpoint.events.file"]}"#,
            r#"{"header":{"event_name":{"AUE_EXEC":1}}}"#,
            r#"{"uid":"C1","id.orig_h":"10.0.0.1","proto":"tcp"}"#,
            r#"{"k1":1,"k2":[{}],"k3":{"x":{"y":"z"}},"k4":true,"k5":null,"k6":"s","k7":2.5}"#,
            r#"[{"eventMessage":"m"}]"#,
            r#""a string""#,
        ] {
            assert!(same(edge), "{edge}");
        }
    }

    /// Stopping when the JSON verdict cannot change gives the verdict of reading every line: on the
    /// head of every real sample and bundled file, and on thousands of heads mixing their lines
    /// (JSON kinds, nettop and Zeek headers and rows, a `[` line, garbage, blank lines) in random
    /// proportions and orders.
    #[test]
    fn stopping_early_gives_the_verdict_of_reading_every_line() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
        let mut pool: Vec<String> = Vec::new();
        let mut heads = 0;
        for file in files_under(&[
            &format!("{root}/tests/data/corpus"),
            &format!("{root}/examples/collection"),
        ]) {
            let bytes = std::fs::read(&file).unwrap();
            let head = &bytes[..bytes.len().min(HEAD_BYTES)];
            assert_eq!(sniff_with(head, true), sniff_with(head, false), "{file:?}");
            heads += 1;
            let text = String::from_utf8_lossy(head);
            pool.extend(text.lines().take(200).map(str::to_string));
            // A pretty-printed record whole, as one piece.
            if text.starts_with("{\n") {
                pool.push(text.trim_end().to_string());
            }
        }
        assert!(heads > 20 && pool.len() > 1000, "{heads} {}", pool.len());
        pool.extend(
            [
                "garbage line",
                "{\"truncated\": ",
                "[",
                "{}",
                "#separator \\x09",
                "#path\tconn",
                "time,,interface,state,bytes_in,bytes_out,",
                "launchd.1      0      0",
                "",
            ]
            .map(str::to_string),
        );
        use rand::{Rng, SeedableRng};
        // A fixed seed: the same mixtures every run.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x9E37_79B9_7F4A_7C15);
        let mut next = |n: usize| rng.random_range(0..n);
        let mut stopped = 0;
        for _ in 0..3000 {
            // A few sources, each with its own weight, drawn into one head.
            let sources: Vec<usize> = (0..1 + next(4)).map(|_| next(pool.len())).collect();
            let weights: Vec<usize> = sources.iter().map(|_| 1 + next(8)).collect();
            let total: usize = weights.iter().sum();
            let mut head = String::new();
            for _ in 0..1 + next(120) {
                let mut w = next(total);
                let mut k = 0;
                while w >= weights[k] {
                    w -= weights[k];
                    k += 1;
                }
                // A source is a line of the pool, or one of its neighbours (same file, mostly).
                let line = &pool[(sources[k] + next(3)) % pool.len()];
                head.push_str(line);
                head.push('\n');
            }
            if next(4) == 0 {
                let mut cut = next(head.len() + 1);
                while !head.is_char_boundary(cut) {
                    cut -= 1;
                }
                head.truncate(cut);
            }
            // How often the JSON lines' reading stops early here, with this head's other candidates.
            let lines = Lines::of(&head);
            let others = most_of(&[
                &zeek_tsv(&lines),
                &json_array(&lines, &head),
                &nettop(&lines),
            ]);
            let early = json_values(&lines, &head, others).map(|c| c.lines);
            if early < json_values(&lines, &head, usize::MAX).map(|c| c.lines) {
                stopped += 1;
            }
            let head = head.as_bytes();
            assert_eq!(
                sniff_with(head, true),
                sniff_with(head, false),
                "{}",
                String::from_utf8_lossy(head)
            );
        }
        assert!(stopped > 150, "{stopped} of 3000 mixtures stopped early");
        // At the edges of the rule, built by hand. Nettop's candidate counts every line with as many
        // commas as its header: the JSON kind must pass it, not only reach it, and it does with the
        // minimal eslogger lines (three commas) after the full ones.
        let collection = format!("{root}/examples/collection/build-mac-07");
        let es = std::fs::read_to_string(format!("{collection}/eslogger.jsonl")).unwrap();
        let es: Vec<&str> = es.lines().take(11).collect();
        let ul = std::fs::read_to_string(format!("{collection}/unifiedlog.ndjson")).unwrap();
        let ul: Vec<&str> = ul.lines().take(11).collect();
        let minimal = r#"{"schema_version":1,"event_type":9,"event":{},"mach_time":1}"#;
        let mut passes = vec!["time,,interface,state,bytes_in,bytes_out,"];
        passes.extend(&es[..5]);
        passes.extend([minimal; 3]);
        // Equal counts go to the kind seen first: one unified log line first, then as many eslogger
        // lines as unified log lines in all.
        let mut tie = vec![ul[0]];
        tie.extend(&es[..11]);
        tie.extend(&ul[1..11]);
        for (lines, verdict) in [(passes, Format::Eslogger), (tie, Format::UnifiedLogNdjson)] {
            let head = lines.join("\n") + "\n";
            assert_eq!(
                sniff_with(head.as_bytes(), false),
                Sniffed::Telemetry(verdict)
            );
            assert_eq!(
                sniff_with(head.as_bytes(), true),
                Sniffed::Telemetry(verdict)
            );
        }
        // Short of half, reading goes on: the message counts every eslogger line (5 of 11).
        let mut short = vec!["garbage line"; 6];
        short.extend(&es[..5]);
        let head = short.join("\n") + "\n";
        for stop_early in [false, true] {
            let Sniffed::NotTelemetry(why) = sniff_with(head.as_bytes(), stop_early) else {
                panic!("{stop_early}");
            };
            assert!(why.contains(": 5 of 11 lines"), "{why}");
        }
        // And it does stop early: on an eslogger head, fewer lines are read than there are.
        let bytes = std::fs::read(format!(
            "{root}/examples/collection/build-mac-07/eslogger.jsonl"
        ))
        .unwrap();
        let text = std::str::from_utf8(&bytes[..HEAD_BYTES]).unwrap();
        let lines = Lines::of(text);
        let early = json_values(&lines, text, 0).unwrap();
        let full = json_values(&lines, text, usize::MAX).unwrap();
        assert_eq!(early.verdict, Sniffed::Telemetry(Format::Eslogger));
        assert_eq!(early.verdict, full.verdict);
        assert!(
            early.lines * 2 >= lines.counted && early.lines < full.lines,
            "{} {}",
            early.lines,
            full.lines
        );
    }

    #[test]
    fn sniffs_every_real_sample_from_content() {
        let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/corpus");
        let cases = [
            (
                "eslogger/mullvad_eslogger_v9_v10_v11.ndjson",
                Format::Eslogger,
            ),
            (
                "eslogger/macmonitor_fixture_eslogger-exit_v10_sanitized.jsonl",
                Format::Eslogger,
            ),
            (
                "nettop/netglass_nettop_L1_J_conn_rows_macos26.csv",
                Format::NettopCsv,
            ),
            (
                "nettop/whichway_nettop_P_x_l2_fixedwidth.txt",
                Format::NettopFixed,
            ),
            (
                "unifiedlog/elastic_macos_network_activity.ndjson",
                Format::UnifiedLogNdjson,
            ),
            (
                "unifiedlog/elastic_macos_authentication_loginwindow.ndjson",
                Format::UnifiedLogNdjson,
            ),
            (
                "unifiedlog/elastic_macos_process_execution_monitoring.ndjson",
                Format::UnifiedLogNdjson,
            ),
            (
                "osquery/elastic_test-osquery_first3lines.ndjson",
                Format::Osquery,
            ),
        ];
        for (file, want) in cases {
            let data = std::fs::read(format!("{corpus}/{file}")).unwrap();
            assert_eq!(sniff(&data), Sniffed::Telemetry(want), "{file}");
        }
    }

    #[test]
    fn captures_by_magic_number_not_name() {
        let pcapng = [
            0x0A, 0x0D, 0x0D, 0x0A, 0x1C, 0, 0, 0, 0x4D, 0x3C, 0x2B, 0x1A,
        ];
        assert_eq!(sniff(&pcapng), Sniffed::Telemetry(Format::Pcapng));
        for magic in [
            [0xD4, 0xC3, 0xB2, 0xA1],
            [0xA1, 0xB2, 0xC3, 0xD4],
            [0x4D, 0x3C, 0xB2, 0xA1],
            [0xA1, 0xB2, 0x3C, 0x4D],
        ] {
            let mut head = magic.to_vec();
            head.extend([2, 0, 4, 0, 0, 0, 0, 0]);
            assert_eq!(sniff(&head), Sniffed::Telemetry(Format::Pcap), "{magic:x?}");
        }
        assert!(matches!(
            sniff(&[0x34, 0xCD, 0xB2, 0xA1, 2, 0]),
            Sniffed::NotTelemetry(_)
        ));
        let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/corpus");
        let real = std::fs::read(format!("{corpus}/pcap/CIC-DDoS-2019-SynFlood.pcap")).unwrap();
        assert_eq!(sniff(&real[..HEAD_BYTES]), Sniffed::Telemetry(Format::Pcap));
    }

    #[test]
    fn jamf_and_elastic_from_content_pretty_or_one_per_line() {
        let jamf_line =
            r#"{"header":{"event_name":"AUE_EXECVE","time_seconds_epoch":1},"subject":{}}"#;
        assert_eq!(
            sniff(jamf_line.as_bytes()),
            Sniffed::Telemetry(Format::JamfProtect)
        );
        let pretty =
            "{\n  \"subject\": {},\n  \"header\": {\n    \"event_name\": \"AUE_FORK\"\n  }\n}";
        assert_eq!(
            sniff(pretty.as_bytes()),
            Sniffed::Telemetry(Format::JamfProtect)
        );
        let alert = r#"{"eventType":"GPProcessEvent","match":{},"related":{}}"#;
        assert_eq!(
            sniff(alert.as_bytes()),
            Sniffed::Telemetry(Format::JamfProtect)
        );
        let wrapped = r#"{"caid":"x","input":{"eventType":"GPUnifiedLogEvent","match":{}}}"#;
        assert_eq!(
            sniff(wrapped.as_bytes()),
            Sniffed::Telemetry(Format::JamfProtect)
        );
        let flat =
            r#"{"@timestamp":"2025-01-01T00:00:00Z","event.dataset":"endpoint.events.process"}"#;
        assert_eq!(
            sniff(flat.as_bytes()),
            Sniffed::Telemetry(Format::ElasticDefend)
        );
        let nested = r#"{"@timestamp":"2025-01-01T00:00:00Z","data_stream":{"dataset":"endpoint.events.network"}}"#;
        assert_eq!(
            sniff(nested.as_bytes()),
            Sniffed::Telemetry(Format::ElasticDefend)
        );
        // Other ECS data (not Elastic Defend) and a header-less AUE-ish object are not these.
        let other = r#"{"@timestamp":"2025-01-01T00:00:00Z","event":{"dataset":"system.auth"}}"#;
        assert!(matches!(sniff(other.as_bytes()), Sniffed::NotTelemetry(_)));
        let not_aue = r#"{"header":{"event_name":"EXECVE"}}"#;
        assert!(matches!(
            sniff(not_aue.as_bytes()),
            Sniffed::NotTelemetry(_)
        ));
    }

    #[test]
    fn non_telemetry_is_named_not_fatal() {
        assert!(matches!(sniff(b""), Sniffed::NotTelemetry(_)));
        assert!(matches!(sniff(b"hello world\n"), Sniffed::NotTelemetry(_)));
        assert!(matches!(sniff(b"{\"a\":1}\n"), Sniffed::NotTelemetry(_)));
        assert!(matches!(sniff(b"\x0A\x0D\x0D"), Sniffed::NotTelemetry(_)));
        assert!(matches!(
            sniff(b"#separator \\x09\n#fields\tts\n"),
            Sniffed::NotTelemetry(_)
        ));
        assert_eq!(
            sniff(b"Filtering the log data using \"x\"\n[{\n \"eventMessage\" : \"m\"\n}]\n"),
            Sniffed::Telemetry(Format::UnifiedLogJson)
        );
        assert_eq!(
            sniff(b",bytes_in,bytes_out,\n"),
            Sniffed::Telemetry(Format::NettopCsv)
        );
    }
}
