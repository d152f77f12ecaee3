//! The hot path for exec, fork and exit messages: the same [`model`](super::model) values serde
//! builds, read with the strict scanner instead of serde_json's general deserializer (which spent
//! most of a hunt skipping `stat` blocks, tokens and `env` through its visitor machinery).
//!
//! Any other event, and anything the scanner is not sure of, is a [`Miss`]: the caller reads the
//! line with serde, which gives the reject or the session event. The rules serde's derive applies
//! are kept: a known key twice is a miss (serde refuses "duplicate field"), a missing required key
//! is a miss, unknown keys are skipped (still checked), an audit token's later keys overwrite.

use super::model::{
    AuditToken, EsEvent, EsFile, EsProcess, ExecEvent, ExitEvent, ForkEvent, Message, TtyField,
};
use crate::wire::intern::{Text, TextList};
use crate::wire::json::JsonStr;
use crate::wire::keys::KeySet;
use crate::wire::scan::{once, Miss, RawStr, Scan, Scanned};
use crate::wire::{lanes, swar};

/// A string left in its JSON form, for the interner to decode only when it is new.
fn raw_text<'a>(s: &mut Scan<'a>) -> Scanned<Text<'a>> {
    s.raw_string().map(Text::Raw)
}

pub(crate) fn message(record: &str) -> Scanned<Message<'_>> {
    let mut m = empty_message();
    message_into(record, &mut m)?;
    Ok(m)
}

/// A message with no key read yet, for [`message_into`] to fill.
pub(crate) fn empty_message<'a>() -> Message<'a> {
    Message {
        version: None,
        time: JsonStr(std::borrow::Cow::Borrowed("")),
        process: empty_process(),
        event: EsEvent::Empty,
    }
}

/// Reads `record` into `m` (an [`empty_message`]; on a miss, partly filled). The caller's message
/// is filled in place: a message is 700 bytes, and building each part and moving it into the next
/// (process into message, target into exec into event into message) was 4% of a hunt in memcpy;
/// returning the whole message moved it twice more (through the result, into the parser's own).
pub(crate) fn message_into<'a>(record: &'a str, m: &mut Message<'a>) -> Scanned<()> {
    let mut s = Scan::new(record);
    let mut seen = 0;
    s.object(|s, key| {
        match key {
            b"version" => {
                once(&mut seen, 1)?;
                m.version = s.opt(Scan::u32)?;
            }
            b"time" => {
                once(&mut seen, 2)?;
                m.time = s.json_str()?;
            }
            b"process" => {
                once(&mut seen, 4)?;
                es_process(s, &mut m.process)?;
            }
            b"event" => {
                once(&mut seen, 8)?;
                es_event(s, &mut m.event)?;
            }
            _ => s.skip()?,
        }
        Ok(())
    })?;
    s.end()?;
    // time, process and event are required.
    if seen & 14 != 14 {
        return Err(Miss);
    }
    Ok(())
}

/// A process with no key read yet, for [`es_process`] to fill.
fn empty_process<'a>() -> EsProcess<'a> {
    EsProcess {
        audit_token: None,
        parent_audit_token: None,
        responsible_audit_token: None,
        ppid: None,
        original_ppid: None,
        session_id: None,
        executable: None,
        signing_id: None,
        team_id: None,
        codesigning_flags: None,
        is_platform_binary: None,
        start_time: None,
        tty: TtyField::Absent,
    }
}

/// A process object's keys: the thirteen [`es_process`] reads, by their place in its `values`,
/// then three it skips that every process has. (The message's and the exec event's few keys were
/// measured as a set too: no faster than their `match`, so they keep it.)
pub(super) const PROCESS_KEYS: KeySet<16> = KeySet::new(
    [
        b"audit_token",
        b"parent_audit_token",
        b"responsible_audit_token",
        b"ppid",
        b"original_ppid",
        b"session_id",
        b"executable",
        b"signing_id",
        b"team_id",
        b"codesigning_flags",
        b"is_platform_binary",
        b"start_time",
        b"tty",
        b"cdhash",
        b"group_id",
        b"is_es_client",
    ],
    0xd37c_9961_1d77_5b7d,
);

/// A process object value as its first byte says, kept by key until the object is read.
#[derive(Clone, Copy)]
pub(super) enum Value<'a> {
    Absent,
    Null,
    Int(bool, u64),
    Str(RawStr<'a>),
    Bool(bool),
    /// An object or array read (or skipped) by its key's reader.
    Read,
}

/// Reads a process object into `p` (an [`empty_process`]). The values are read by what their
/// first byte says (a string, a number, a literal or a container), not by their key: eslogger
/// writes the keys in a fresh order on every line, and a dispatch on the key mispredicted on
/// nearly every one. Each key's value is then checked to be of its field's type.
fn es_process<'a>(s: &mut Scan<'a>, p: &mut EsProcess<'a>) -> Scanned<()> {
    let mut values = [Value::Absent; 13];
    let start = s.mark();
    if !super::wide_process::pairs(s, p, &mut values) {
        // Read again from the start by the loop below, which decides.
        s.reset(start);
        *p = empty_process();
        values = [Value::Absent; 13];
        process_pairs(s, p, &mut values)?;
    }
    process_fields(p, values)
}

/// The process object's pairs, a key at a time: the containers read into `p`, the other values
/// kept by key in `values`.
fn process_pairs<'a>(
    s: &mut Scan<'a>,
    p: &mut EsProcess<'a>,
    values: &mut [Value<'a>; 13],
) -> Scanned<()> {
    let mut seen = 0u32;
    s.object(|s, key| {
        let i = PROCESS_KEYS.index(key);
        // Known keys but the three skipped: once each, as serde's derive wants.
        if i < values.len() {
            once(&mut seen, 1 << i)?;
        }
        let v = match s.peek()? {
            b'"' => Value::Str(s.raw_string()?),
            // A number of a key not read is skipped as any JSON number (a fraction, an exponent).
            b'-' | b'0'..=b'9' if i < values.len() => {
                let (neg, n) = s.integer()?;
                Value::Int(neg, n)
            }
            b'n' => {
                s.null()?;
                Value::Null
            }
            b't' | b'f' => Value::Bool(s.bool()?),
            _ => {
                match i {
                    0 => p.audit_token = Some(audit_token(s)?),
                    1 => p.parent_audit_token = Some(audit_token(s)?),
                    2 => p.responsible_audit_token = Some(audit_token(s)?),
                    6 => p.executable = Some(es_file(s)?),
                    12 => p.tty = TtyField::File(es_file(s)?),
                    _ if i >= values.len() => s.skip()?,
                    _ => return Err(Miss),
                }
                Value::Read
            }
        };
        if let Some(slot) = values.get_mut(i) {
            *slot = v;
        }
        Ok(())
    })
}

/// Each field from its value, as the field's own reader would have read it.
fn process_fields<'a>(p: &mut EsProcess<'a>, values: [Value<'a>; 13]) -> Scanned<()> {
    let int = |v: Value| match v {
        Value::Int(neg, n) => {
            let n = i64::try_from(n).map_err(|_| Miss)?;
            match neg {
                false => Ok(n),
                // serde_json reads "-0" as a float, which an integer field refuses.
                true if n == 0 => Err(Miss),
                true => Ok(-n),
            }
        }
        _ => Err(Miss),
    };
    let i32_of = |v: Value| -> Scanned<Option<i32>> {
        match v {
            Value::Absent | Value::Null => Ok(None),
            v => i32::try_from(int(v)?).map(Some).map_err(|_| Miss),
        }
    };
    let text = |v: Value<'a>| -> Scanned<Option<Text<'a>>> {
        match v {
            Value::Absent | Value::Null => Ok(None),
            Value::Str(r) => Ok(Some(Text::Raw(r))),
            _ => Err(Miss),
        }
    };
    // Containers were read in place; any other value of theirs is null, absent or a miss.
    let container = |v: Value| match v {
        Value::Absent | Value::Null | Value::Read => Ok(()),
        _ => Err(Miss),
    };
    container(values[0])?;
    container(values[1])?;
    container(values[2])?;
    container(values[6])?;
    p.ppid = i32_of(values[3])?;
    p.original_ppid = i32_of(values[4])?;
    p.session_id = i32_of(values[5])?;
    p.signing_id = text(values[7])?;
    p.team_id = text(values[8])?;
    p.codesigning_flags = match values[9] {
        Value::Absent | Value::Null => None,
        Value::Int(false, n) => Some(u32::try_from(n).map_err(|_| Miss)?),
        _ => return Err(Miss),
    };
    p.is_platform_binary = match values[10] {
        Value::Absent | Value::Null => None,
        Value::Bool(b) => Some(b),
        _ => return Err(Miss),
    };
    p.start_time = match values[11] {
        Value::Absent | Value::Null => None,
        Value::Str(r) => Some(JsonStr(r.decode()?)),
        _ => return Err(Miss),
    };
    match values[12] {
        Value::Absent | Value::Read => {}
        Value::Null => p.tty = TtyField::Null,
        _ => return Err(Miss),
    }
    Ok(())
}

pub(super) fn es_file<'a>(s: &mut Scan<'a>) -> Scanned<EsFile<'a>> {
    let mut path = None;
    let mut seen = 0;
    s.object(|s, key| {
        if key == b"path" {
            once(&mut seen, 1)?;
            path = s.opt(raw_text)?;
            Ok(())
        } else {
            s.skip()
        }
    })?;
    Ok(EsFile { path })
}

/// An audit token object (later keys overwrite, as the serde visitor does) or the 8-int array:
/// eslogger's own forms with vector instructions where the CPU has them (`wide_token`), the rest
/// by the loops below.
pub(super) fn audit_token(s: &mut Scan<'_>) -> Scanned<AuditToken> {
    let first = s.peek()?;
    if s.may_enter() {
        // `compact_token` takes only objects.
        let rest = s.rest();
        if let Some((t, used)) = super::wide_token::read(rest).or_else(|| compact_token(rest)) {
            s.advance(used);
            return Ok(t);
        }
    }
    match first {
        b'[' => token_array(s),
        _ => token_object(s),
    }
}

/// The token as an array (macOS 26 and later) in any form JSON allows: what
/// [`wide_token::read`](super::wide_token::read) hands back.
fn token_array(s: &mut Scan<'_>) -> Scanned<AuditToken> {
    let mut t = AuditToken::default();
    let mut i = 0;
    s.array(|s| {
        match i {
            0 => t.auid = Some(s.u32()?),
            1 => t.euid = Some(s.u32()?),
            3 => t.ruid = Some(s.u32()?),
            5 => t.pid = Some(s.i32()?),
            7 => t.pidversion = Some(s.u32()?),
            _ => s.skip()?,
        }
        i += 1;
        Ok(())
    })?;
    if i >= 8 {
        Ok(t)
    } else {
        Err(Miss)
    }
}

/// A token object in any form JSON allows: what [`compact_token`] (and
/// [`wide_token::read`](super::wide_token::read)) hand back.
fn token_object(s: &mut Scan<'_>) -> Scanned<AuditToken> {
    let mut t = AuditToken::default();
    // Every value goes to a slot (0 for the keys not read), with no branch on which key it is:
    // a token's eight keys come in any order, and a `match` on them mispredicted most of the time.
    let mut vals = [(false, 0u64); 6];
    let mut seen = 0u32;
    s.object(|s, key| {
        let slot = token_slot(key);
        // An unread key's value that is not a plain integer (never seen in eslogger) is a miss, so
        // serde reads the record: slower, the same events.
        let (neg, n) = s.integer()?;
        let fits_u32 = !neg & (n <= u64::from(u32::MAX));
        // serde_json reads "-0" as a float, which an integer field refuses.
        let fits_i32 = (!neg & (n <= i32::MAX as u64)) | (neg & (n != 0) & (n <= 1 << 31));
        let fits = (slot == 0) | ((slot == 4) & fits_i32) | ((slot != 0) & (slot != 4) & fits_u32);
        if !fits {
            return Err(Miss);
        }
        // Later keys overwrite, as the serde visitor does.
        vals[slot] = (neg, n);
        seen |= 1 << slot;
        Ok(())
    })?;
    let u = |slot: usize| (seen & (1 << slot) != 0).then(|| vals[slot].1 as u32);
    t.auid = u(1);
    t.euid = u(2);
    t.ruid = u(3);
    t.pid = (seen & (1 << 4) != 0).then(|| match vals[4] {
        (true, n) => (-(n as i64)) as i32,
        (false, n) => n as i32,
    });
    t.pidversion = u(5);
    Ok(t)
}

/// Each token slot's range (0: the keys not read, any integer; 1-5: auid, euid, ruid, pid,
/// pidversion): i32 for the pid, u32 for the rest.
pub(super) const TOKEN_LIMIT: [u64; 6] = [
    u64::MAX,
    u32::MAX as u64,
    u32::MAX as u64,
    u32::MAX as u64,
    i32::MAX as u64,
    u32::MAX as u64,
];

/// Up to eight bytes as one little-endian word (the first byte lowest), for comparing keys whole.
const fn word(k: &[u8]) -> u64 {
    let mut w = 0u64;
    let mut i = k.len();
    while i > 0 {
        i -= 1;
        w = w << 8 | k[i] as u64;
    }
    w
}

/// eslogger's own form of a token object, `{"euid":501,"egid":20,...}`, read in two passes: its
/// pairs' ends found with vector compares, then each key told by one eight-byte compare and each
/// value by one sixteen-byte digit scan. `None` for anything else (whitespace, another key, a
/// sign, over ten digits, a value out of its field's range, an empty object); the general loop
/// then reads the token from its start and decides.
/// What this takes, the general loop takes too, to the same values. Returns the bytes used.
#[inline(always)]
fn compact_token(b: &[u8]) -> Option<(AuditToken, usize)> {
    const FIVE: u64 = (1 << 40) - 1;
    const SIX: u64 = (1 << 48) - 1;
    const PID: u64 = word(b"pid\":");
    const AUID: u64 = word(b"auid\":");
    const EUID: u64 = word(b"euid\":");
    const RUID: u64 = word(b"ruid\":");
    const EGID: u64 = word(b"egid\":");
    const RGID: u64 = word(b"rgid\":");
    const ASID: u64 = word(b"asid\":");
    const PIDVERSI: u64 = word(b"pidversi");
    const ON: u64 = word(b"on\":");
    if b.first() != Some(&b'{') {
        return None;
    }
    // Each key but pidversion by its first two bytes: what its first word must be (through the
    // colon after its quote), under which mask, how long that is and the key's slot. One table
    // read and one compare, where comparing the word with every key was a third of a token's
    // instructions. `(first two bytes * 591) >> 13` (of 16 bits) tells the seven apart; the
    // eighth place is no key.
    const KEYS: [(u64, u64, usize, usize); 8] = {
        let mut t = [(0, 0, 0, 0); 8];
        let six = [
            (AUID, 1),
            (EUID, 2),
            (RUID, 3),
            (EGID, 0),
            (RGID, 0),
            (ASID, 0),
        ];
        let mut k = 0;
        while k < six.len() {
            let (w, slot) = six[k];
            // Two keys in one place would not build.
            assert!(t[key_place(w)].2 == 0, "two token keys share a place");
            t[key_place(w)] = (w, SIX, 6, slot);
            k += 1;
        }
        assert!(t[key_place(PID)].2 == 0, "two token keys share a place");
        t[key_place(PID)] = (PID, FIVE, 5, 4);
        t
    };
    // Where each pair ends: every comma up to the token's first `}`, found sixteen bytes at a time
    // before any pair is read. Each pair is then read from its own two ends, so one pair's reading
    // does not wait for the one before it (where finding a pair's start from the end of the
    // previous value made a chain of dependent loads through the whole token). Only a token
    // whose brace is in its first 128 bytes is read here (a usual one is 101 bytes; eight keys
    // with ten-digit values make 150): a longer one goes to the general loop. Searching all 128
    // bytes without stopping at the brace was 1.6% slower on the eslogger-only corpus.
    let mut ends: u128 = 0;
    let mut close = None;
    for k in 0..8 {
        let from = 1 + 16 * k;
        let x = match lanes::block(b, from) {
            Some(x) => *x,
            // The record's last bytes (a token that ends its record), NUL padded: NUL is neither
            // a comma nor a brace.
            None => {
                let rest = b.get(from..)?;
                let mut pad = [0u8; 16];
                pad[..rest.len()].copy_from_slice(rest);
                pad
            }
        };
        ends |= u128::from(lanes::equal(&x, b',')) << (16 * k);
        let brace = lanes::equal(&x, b'}');
        if brace != 0 {
            close = Some(16 * k + brace.trailing_zeros() as usize);
            break;
        }
    }
    // Places from byte 1; the commas after the brace are not the token's.
    let close = close?;
    ends = (ends & ((1u128 << close) - 1)) | 1u128 << close;
    let mut vals = [0u64; 6];
    let mut seen = 0u32;
    // The pair's first byte (its key's opening quote).
    let mut i = 1;
    while ends != 0 {
        // The pair's end: a comma, or the brace after the last pair.
        let end = 1 + ends.trailing_zeros() as usize;
        ends &= ends - 1;
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let w = swar::word(b, i + 1)?;
        let (expect, mask, len, slot) = KEYS[key_place(w)];
        // The eighth place's length is 0: no key.
        let hit = usize::from(w & mask == expect);
        // pidversion's word is `pidversi` whole, and its tail is compared too, without a branch:
        // keys come in any order, so a branch on the first half would mispredict.
        let tail = b.get(i + 9..i + 13).map_or(0, word);
        let pidversion = usize::from(w == PIDVERSI) & usize::from(tail == ON);
        let key_len = hit * len + 12 * pidversion;
        if key_len == 0 {
            return None;
        }
        let slot = hit * slot + 5 * pidversion;
        let at = i + 1 + key_len;
        // The value is every byte from the key's colon to the pair's end, and all digits.
        let n = end.checked_sub(at)?;
        let digits = lanes::block(b, at)?;
        if n == 0
            || n > 10
            || lanes::not_digits(digits).trailing_zeros() as usize != n
            || (n > 1 && digits[0] == b'0')
        {
            return None;
        }
        let v = lanes::digits_value(digits, n);
        if v > TOKEN_LIMIT[slot] {
            return None;
        }
        // Later keys overwrite, as the serde visitor does.
        vals[slot] = v;
        seen |= 1 << slot;
        i = end + 1;
    }
    let u = |slot: usize| (seen & (1 << slot) != 0).then_some(vals[slot] as u32);
    let t = AuditToken {
        auid: u(1),
        euid: u(2),
        ruid: u(3),
        pid: (seen & (1 << 4) != 0).then_some(vals[4] as i32),
        pidversion: u(5),
    };
    // `i` is one past the brace.
    Some((t, i))
}

/// A token key's place in `compact_token`'s table, from the key's first two bytes.
#[inline(always)]
const fn key_place(w: u64) -> usize {
    (((w & 0xffff) * 591) & 0xffff) as usize >> 13
}

/// An audit token key's slot: 1-5 for auid, euid, ruid, pid and pidversion, 0 for any other. From
/// the key's length and first four bytes, compared whole, with flags added rather than branched on.
#[inline(always)]
fn token_slot(key: &[u8]) -> usize {
    let (len, w) = (key.len(), word(&key[..key.len().min(4)]));
    let is = |name: &[u8]| usize::from(len == name.len() && w == word(name));
    is(b"auid")
        + 2 * is(b"euid")
        + 3 * is(b"ruid")
        + 4 * is(b"pid")
        + 5 * usize::from(len == 10 && key == b"pidversion")
}

/// The event object into `event` (left `Empty` by the caller): its first key decides (later keys
/// are skipped, as serde's visitor does).
fn es_event<'a>(s: &mut Scan<'a>, event: &mut EsEvent<'a>) -> Scanned<()> {
    let mut read = false;
    s.object(|s, key| {
        if read {
            return s.skip();
        }
        read = true;
        match key {
            b"exec" => {
                *event = EsEvent::Exec(ExecEvent {
                    target: empty_process(),
                    args: None,
                    cwd: None,
                });
                match event {
                    EsEvent::Exec(e) => exec(s, e),
                    _ => Err(Miss),
                }
            }
            b"fork" => {
                *event = EsEvent::Fork(ForkEvent {
                    child: empty_process(),
                });
                match event {
                    EsEvent::Fork(f) => fork(s, f),
                    _ => Err(Miss),
                }
            }
            b"exit" => {
                *event = EsEvent::Exit(exit(s)?);
                Ok(())
            }
            _ => Err(Miss),
        }
    })?;
    if read {
        Ok(())
    } else {
        Err(Miss)
    }
}

/// Reads an exec event into `e` (an empty target, no args or cwd).
fn exec<'a>(s: &mut Scan<'a>, e: &mut ExecEvent<'a>) -> Scanned<()> {
    let mut seen = 0;
    s.object(|s, key| {
        match key {
            b"target" => {
                once(&mut seen, 1)?;
                es_process(s, &mut e.target)?;
            }
            b"args" => {
                once(&mut seen, 2)?;
                e.args = s.opt(|s| s.string_array_text().map(TextList::Raw))?;
            }
            b"cwd" => {
                once(&mut seen, 4)?;
                e.cwd = s.opt(es_file)?;
            }
            _ => s.skip()?,
        }
        Ok(())
    })?;
    // The target is required.
    if seen & 1 == 0 {
        return Err(Miss);
    }
    Ok(())
}

/// Reads a fork event into `f` (an empty child).
fn fork<'a>(s: &mut Scan<'a>, f: &mut ForkEvent<'a>) -> Scanned<()> {
    let mut seen = 0;
    s.object(|s, key| {
        if key == b"child" {
            once(&mut seen, 1)?;
            es_process(s, &mut f.child)
        } else {
            s.skip()
        }
    })?;
    if seen == 0 {
        return Err(Miss);
    }
    Ok(())
}

fn exit(s: &mut Scan<'_>) -> Scanned<ExitEvent> {
    let mut stat = None;
    let mut seen = 0;
    s.object(|s, key| {
        if key == b"stat" {
            once(&mut seen, 1)?;
            stat = s.opt(Scan::i32)?;
            Ok(())
        } else {
            s.skip()
        }
    })?;
    Ok(ExitEvent { stat })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn fields(t: AuditToken) -> [Option<i64>; 5] {
        [
            t.auid.map(i64::from),
            t.euid.map(i64::from),
            t.ruid.map(i64::from),
            t.pid.map(i64::from),
            t.pidversion.map(i64::from),
        ]
    }

    /// The process keys are told apart, and nothing else is taken for one of them.
    #[test]
    fn key_sets_tell_their_keys_apart() {
        let others: [&[u8]; 8] = [
            b"", b"a", b"pid", b"uid", b"path", b"stat", b"child", b"exit",
        ];
        crate::wire::keys::tests::told_apart(&PROCESS_KEYS, &others);
    }

    /// Values near an integer that the token readers refuse (serde may read some).
    const NEAR_MISSES: [&str; 8] = ["01", "00", "-1", "-0", "1.5", "1e3", "\"x\"", "null"];

    /// What follows a token in a record, so that sixteen-byte reads find bytes to read.
    const AFTER_TOKEN: &str = ",\"ppid\":1,\"original_ppid\":1}}";

    /// A random token: eslogger's form most of the time, else a near miss of it.
    fn token(rng: &mut ChaCha8Rng) -> String {
        const KEYS: [&str; 15] = [
            "euid",
            "egid",
            "auid",
            "pid",
            "asid",
            "ruid",
            "rgid",
            "pidversion",
            "pidv",
            "pi",
            "auidx",
            "pidversionx",
            // Their first two bytes pick the table's empty place.
            "ajid",
            "hpid",
            "lcx",
        ];
        let values = [
            "0",
            "7",
            "501",
            "100003",
            "2147483647",
            "2147483648",
            "4294967295",
            "4294967296",
            "12345678901",
            // A lane's width.
            "1234567890123456",
        ];
        let n = rng.random_range(0..10);
        let pairs: Vec<String> = (0..n)
            .map(|_| {
                let key = match rng.random_bool(0.9) {
                    true => KEYS[rng.random_range(0..8)],
                    false => KEYS[rng.random_range(0..KEYS.len())],
                };
                let value = match rng.random_range(0..10) {
                    0..=7 => rng.random_range(0..5_000_000_000u64).to_string(),
                    8 => values[rng.random_range(0..values.len())].to_string(),
                    _ => NEAR_MISSES[rng.random_range(0..NEAR_MISSES.len())].to_string(),
                };
                match rng.random_range(0..20) {
                    0 => format!("\"{key}\" : {value}"),
                    // No colon: a digit where it should be.
                    1 => format!("\"{key}\"1{value}"),
                    _ => format!("\"{key}\":{value}"),
                }
            })
            .collect();
        let mut t = format!("{{{}}}", pairs.join(","));
        if rng.random_range(0..10) == 0 {
            let cut = rng.random_range(0..t.len());
            t.truncate(cut);
        }
        t + AFTER_TOKEN
    }

    /// A random array token: eslogger's form (eight plain integers) most of the time, else a
    /// near miss of it.
    fn token_array_text(rng: &mut ChaCha8Rng) -> String {
        // Besides the near misses: containers, blanks, and numbers past what a 16-byte lane holds.
        let odd: Vec<&str> = NEAR_MISSES
            .into_iter()
            .chain([
                "[]",
                "{}",
                " 7",
                "7 ",
                "1234567890123456",
                "10000000000000001",
                "18446744073709551616",
            ])
            .collect();
        let n = match rng.random_range(0..10) {
            0..=6 => 8,
            _ => rng.random_range(0..11),
        };
        let values: Vec<String> = (0..n)
            .map(|_| match rng.random_range(0..20) {
                0 => odd[rng.random_range(0..odd.len())].to_string(),
                // Beyond u32 and i32 some of the time, past ten digits seldom.
                1 => rng.random_range(0..100_000_000_000u64).to_string(),
                2 => rng.random_range(0..5_000_000_000u64).to_string(),
                _ => rng.random_range(0..2_000_000_000u64).to_string(),
            })
            .collect();
        let mut t = format!("[{}]", values.join(","));
        if rng.random_range(0..10) == 0 {
            let cut = rng.random_range(0..t.len());
            t.truncate(cut);
        }
        t + AFTER_TOKEN
    }

    /// The vector reader takes only what the loops take, to the same fields and end, and takes
    /// eslogger's own forms, also where the record ends with the token.
    #[test]
    fn wide_tokens_read_as_the_loops_do() {
        use crate::eslogger::wide_token;
        if !wide_token::available() {
            eprintln!("this CPU has no AVX-512 VBMI2: the vector token reader is not used here");
            return;
        }
        // What the vector reader takes, the loop takes to the same fields and end; whether it
        // took it.
        let agrees = |text: &str| -> bool {
            let Some((t, used)) = wide_token::read(text.as_bytes()) else {
                return false;
            };
            let mut s = Scan::new(text);
            let general = match text.starts_with('[') {
                true => token_array(&mut s),
                false => token_object(&mut s),
            };
            let general = general.unwrap_or_else(|_| panic!("the loop refused {text}"));
            assert_eq!(
                (fields(t), text.len() - used),
                (fields(general), s.rest().len()),
                "{text}"
            );
            true
        };
        let mut rng = ChaCha8Rng::seed_from_u64(12);
        let (mut objects, mut arrays) = (0, 0);
        for k in 0..100_000 {
            let text = if k % 2 == 0 {
                token(&mut rng)
            } else {
                token_array_text(&mut rng)
            };
            // A quarter end the record with the token (masked loads of what is left).
            let text = match k % 8 < 2 {
                true => text.strip_suffix(AFTER_TOKEN).unwrap_or(&text).to_string(),
                false => text,
            };
            if agrees(&text) {
                match k % 2 {
                    0 => objects += 1,
                    _ => arrays += 1,
                }
            }
        }
        // Those in eslogger's form throughout (for objects: no key twice, values in range).
        assert!(objects > 2_000, "only {objects} objects taken");
        assert!(arrays > 8_000, "only {arrays} arrays taken");
        // eslogger's own tokens (the real samples' forms), with bytes after them and without.
        for text in [
            r#"{"euid":0,"egid":0,"auid":4294967295,"pid":3333,"asid":100003,"ruid":0,"rgid":0,"pidversion":139810}"#,
            r#"{"ruid":501,"pidversion":2147483647,"rgid":20,"pid":1,"egid":20,"auid":501,"euid":501,"asid":100017}"#,
            "[501,501,20,501,20,21497,100013,38282]",
            "[4294967295,0,0,0,0,1,100012,1166]",
        ] {
            for after in ["", ",\"ppid\":1}"] {
                let record = format!("{text}{after}");
                assert!(agrees(&record), "{record}");
                let (_, used) = wide_token::read(record.as_bytes()).expect("taken");
                assert_eq!(used, text.len(), "{record}");
            }
        }
        // The 128 bytes read: a token that closes on the last is taken, one byte longer is
        // left to the loops (which take it), at the record's end or not.
        let at_most = r#"{"pidversion":4294967295,"auid":4294967295,"euid":4294967295,"ruid":4294967295,"egid":42,"rgid":4294967295,"asid":77777,"pid":1}"#;
        assert_eq!(at_most.len(), 128);
        let over = at_most.replace("77777", "777777");
        for after in ["", AFTER_TOKEN] {
            assert!(agrees(&format!("{at_most}{after}")));
            let over = format!("{over}{after}");
            assert!(wide_token::read(over.as_bytes()).is_none());
            assert!(token_object(&mut Scan::new(&over)).is_ok());
        }
        // Keys and values that are not eslogger's form are left to the loops.
        for text in [
            r#"{"":1}"#,
            r#"{"pidversionpidversion":1}"#,
            r#"{"PID":1}"#,
            r#"{"pid2":1}"#,
            r#"{"p\"id":1}"#,
            r#"{"pid":1,"x}":2}"#,
            r#"{"pid":00}"#,
            r#"{"pid": 1}"#,
            r#"{"pid":1,}"#,
            "[1,2,3,4,5,6,7,00]",
            "[1,2,3,4,5,6,7]",
            "[1,2,3,4,5,6,7,8,9]",
            "[1,2,3,4,5,6,7,-8]",
        ] {
            for after in ["", AFTER_TOKEN] {
                let record = format!("{text}{after}");
                assert!(!agrees(&record), "taken: {record}");
            }
        }
    }

    #[test]
    fn compact_tokens_read_as_the_general_loop_does() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut taken = 0;
        for _ in 0..50_000 {
            let text = token(&mut rng);
            let general = {
                let mut s = Scan::new(&text);
                token_object(&mut s).map(|t| (fields(t), s.rest().len()))
            };
            if let Some((t, used)) = compact_token(text.as_bytes()) {
                taken += 1;
                let general = general.unwrap_or_else(|_| panic!("general refused {text}"));
                assert_eq!((fields(t), text.len() - used), general, "{text}");
            }
        }
        // About a fifth are in eslogger's form throughout (every pair, no cut).
        assert!(taken > 5_000, "only {taken} taken");
        // eslogger's own tokens are taken.
        for text in [
            r#"{"euid":0,"egid":0,"auid":4294967295,"pid":3333,"asid":100003,"ruid":0,"rgid":0,"pidversion":139810},"ppid":1}"#,
            r#"{"ruid":501,"pidversion":2147483647,"rgid":20,"pid":1,"egid":20,"auid":501,"euid":501,"asid":100017},"session_id":1}}"#,
        ] {
            let (t, used) = compact_token(text.as_bytes()).expect("taken");
            let mut s = Scan::new(text);
            let general = token_object(&mut s).expect("valid");
            assert_eq!(
                (fields(t), text.len() - used),
                (fields(general), s.rest().len())
            );
        }
    }

    /// A process object's fields as text, to compare two readings.
    fn shown(p: &EsProcess<'_>) -> String {
        let file = |f: &EsFile<'_>| format!("{:?}", f.path);
        let tty = match &p.tty {
            TtyField::Absent => "absent".to_string(),
            TtyField::Null => "null".to_string(),
            TtyField::File(f) => file(f),
        };
        format!(
            "{:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {tty}",
            p.audit_token.map(fields),
            p.parent_audit_token.map(fields),
            p.responsible_audit_token.map(fields),
            p.ppid,
            p.original_ppid,
            p.session_id,
            p.executable.as_ref().map(file),
            p.signing_id,
            p.team_id,
            p.codesigning_flags,
            p.is_platform_binary,
            p.start_time.as_ref().map(|t| &t.0),
        )
    }

    /// The raw text of each process object (`process`, an exec's `target`, a fork's `child`) of
    /// the real samples and the bundled collection.
    fn real_process_objects() -> Vec<String> {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
        let mut files = vec![format!(
            "{root}/tests/data/corpus/eslogger/mullvad_eslogger_v9_v10_v11.ndjson"
        )];
        for host in std::fs::read_dir(format!("{root}/examples/collection")).unwrap() {
            let f = host.unwrap().path().join("eslogger.jsonl");
            if f.exists() {
                files.push(f.display().to_string());
            }
        }
        let mut out = Vec::new();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            for line in text.lines().take(400) {
                for key in ["\"process\":{", "\"target\":{", "\"child\":{"] {
                    if let Some(at) = line.find(key) {
                        let obj = &line[at + key.len() - 1..];
                        let mut s = Scan::new(obj);
                        s.skip().unwrap();
                        out.push(obj[..s.pos()].to_string());
                    }
                }
            }
        }
        out
    }

    /// An object's top-level pairs, as written.
    fn pairs_of(obj: &str) -> Vec<String> {
        let mut s = Scan::new(obj);
        let mut spans = Vec::new();
        let mut at = 1;
        s.object(|s, _| {
            s.skip()?;
            spans.push(obj[at..s.pos()].to_string());
            at = s.pos() + 1;
            Ok(())
        })
        .unwrap();
        spans
    }

    /// What the vector reader takes, the loop takes to the same fields and end; and the vector
    /// reader takes eslogger's own process objects, in any key order.
    #[test]
    fn wide_process_objects_read_as_the_loop_does() {
        if !cfg!(target_arch = "x86_64") || !std::arch::is_x86_feature_detected!("avx512bw") {
            eprintln!("this CPU has no AVX-512BW: the vector process reader is not used here");
            return;
        }
        let value_texts = |values: &[Value<'_>; 13]| {
            values.map(|v| match v {
                Value::Absent => "absent".to_string(),
                Value::Null => "null".to_string(),
                Value::Int(neg, n) => format!("int {neg} {n}"),
                Value::Str(r) => format!("str {:?} {}", r.raw, r.escaped),
                Value::Bool(b) => format!("bool {b}"),
                Value::Read => "read".to_string(),
            })
        };
        // The loop's reading: the kept values, then the fields, and where it ended.
        let looped = |text: &str| {
            let mut s = Scan::new(text);
            let mut p = empty_process();
            let mut values = [Value::Absent; 13];
            process_pairs(&mut s, &mut p, &mut values).ok()?;
            let kept = value_texts(&values);
            let fields = process_fields(&mut p, values).map(|_| shown(&p)).ok();
            Some((kept, fields, s.mark()))
        };
        let agrees = |text: &str| -> bool {
            // `es_process` (the vector reader, else the loop from the start) reads every text as
            // the loop does, whichever took it.
            let mut s = Scan::new(text);
            let mut p = empty_process();
            let either = es_process(&mut s, &mut p)
                .map(|_| (shown(&p), s.mark()))
                .ok();
            let reference = looped(text);
            let reference_read = reference
                .as_ref()
                .and_then(|(_, f, end)| f.clone().map(|f| (f, *end)));
            assert_eq!(either, reference_read, "{text}");
            let mut s = Scan::new(text);
            let mut p = empty_process();
            let mut values = [Value::Absent; 13];
            if !super::super::wide_process::pairs(&mut s, &mut p, &mut values) {
                return false;
            }
            let kept = value_texts(&values);
            let wide = process_fields(&mut p, values).map(|_| shown(&p)).ok();
            let reference = reference
                .unwrap_or_else(|| panic!("the loop refused what the vector reader took: {text}"));
            assert_eq!((kept, wide, s.mark()), reference, "{text}");
            true
        };
        let real = real_process_objects();
        assert!(real.len() > 300, "{} objects", real.len());
        const AFTER: &str = ",\"action_type\":1,\"event\":{}}";
        for obj in &real {
            for after in [AFTER, ""] {
                assert!(agrees(&format!("{obj}{after}")), "not taken: {obj}{after}");
            }
        }
        // Values of every kind under every key, keys in any order, twice, unknown; bytes
        // changed, dropped and added; records cut short.
        let values: Vec<&str> = ["0", "1", "-1", "-0", "01", "00", "1.5", "1e3", "-"]
            .into_iter()
            .chain(super::super::tests::RANGE_EDGES)
            .chain([
                "18446744073709551615",
                "18446744073709551616",
                "99999999999999999999",
                "\"\"",
                "\"a\"",
                "\"a,b}\"",
                "\"x\\\"y\"",
                "\"\\/bin\\/ls\"",
                "\"\u{e9}t\u{e9}\"",
                "\"\u{1}\"",
                "true",
                "false",
                "null",
                "nul",
                "tru",
                "nulll",
                "{}",
                "[]",
                "{\"path\":\"\\/a\"}",
                "[1,2]",
                " 1",
                "1 ",
                "\"0123456789012345678901234567890123456789012345678901234567\"",
                "\"0123456789012345678901234567890123456789\"",
                "x",
            ])
            .collect();
        const BYTES: [u8; 14] = [
            b'"', b',', b'}', b'{', b':', b'\\', b' ', b'0', b'-', b'x', 1, b'n', b'[', b']',
        ];
        // Keys not read: short ones, near misses of the process keys (one byte off, a case
        // changed, longer), the lengths the containers' readers are chosen by (3, 10, 11, 18, 23),
        // and keys that end near a window's end (56 to 63 bytes).
        let mut others: Vec<String> = [
            "x0",
            "x1",
            "parent_xudit_token",
            "pfrent_audit_token",
            "exocutable",
            "vty",
            "PPID",
            "ppid2",
            "abc",
            "abcdefghij",
            "abcdefghijk",
            "abcdefghijklmnopqr",
            "abcdefghijklmnopqrstuvw",
        ]
        .map(String::from)
        .to_vec();
        others.extend((56..64).map(|n| "k".repeat(n)));
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut taken = 0;
        for round in 0..60_000 {
            let obj = &real[rng.random_range(0..real.len())];
            let mut pairs = pairs_of(obj);
            // Shuffled, as eslogger writes them.
            for k in (1..pairs.len()).rev() {
                pairs.swap(k, rng.random_range(0..=k));
            }
            match round % 6 {
                0 => {}
                1 | 2 => {
                    // A value replaced.
                    let k = rng.random_range(0..pairs.len());
                    let key = pairs[k].split(':').next().unwrap().to_string();
                    pairs[k] = format!("{key}:{}", values[rng.random_range(0..values.len())]);
                }
                3 => {
                    // A pair twice, or another key.
                    let k = rng.random_range(0..pairs.len());
                    let extra = match rng.random_bool(0.5) {
                        true => pairs[k].clone(),
                        false => format!(
                            "\"{}\":{}",
                            others[rng.random_range(0..others.len())],
                            values[rng.random_range(0..values.len())]
                        ),
                    };
                    pairs.insert(rng.random_range(0..=pairs.len()), extra);
                }
                _ => {}
            }
            let mut text = format!("{{{}}}", pairs.join(",")).into_bytes();
            if round % 6 >= 4 {
                // A byte changed, dropped or added somewhere in the object.
                let at = rng.random_range(0..text.len());
                let b = BYTES[rng.random_range(0..BYTES.len())];
                match rng.random_range(0..3) {
                    0 => text[at] = b,
                    1 => {
                        text.remove(at);
                    }
                    _ => text.insert(at, b),
                }
            }
            let mut text = String::from_utf8(text).unwrap_or_default();
            match rng.random_range(0..4) {
                // Cut short, ending the record.
                0 => {
                    let mut cut = rng.random_range(0..=text.len());
                    while !text.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    text.truncate(cut);
                }
                1 => {}
                _ => text.push_str(AFTER),
            }
            if agrees(&text) {
                taken += 1;
            }
        }
        assert!(taken > 15_000, "only {taken} taken");
        // Strings and keys whose end falls on each of a window's last bytes and past it.
        let obj = &real[0];
        let mut edges = 0;
        for key in ["signing_id", "cdhash", "team_id", "x0", &"k".repeat(40)] {
            for len in 30..=66 {
                let pair = format!("\"{key}\":\"{}\"", "s".repeat(len));
                for at in 0..pairs_of(obj).len() {
                    let mut pairs = pairs_of(obj);
                    pairs.retain(|q| !q.starts_with(&format!("\"{key}\"")));
                    pairs.insert(at.min(pairs.len()), pair.clone());
                    let text = format!("{{{}}}", pairs.join(","));
                    for after in [AFTER, ""] {
                        if agrees(&format!("{text}{after}")) {
                            edges += 1;
                        }
                    }
                }
            }
        }
        assert!(edges > 1_000, "only {edges} taken");
        // A token read, then something the vector reader refuses: the loop reads it all again.
        let mut pairs = pairs_of(obj);
        pairs.sort_by_key(|q| !q.starts_with("\"audit_token\""));
        assert!(pairs[0].starts_with("\"audit_token\":"), "{}", pairs[0]);
        let refused_after_token =
            format!("{{{}}}", pairs.join(",")).replacen("\"ppid\":", "\"ppid\" :", 1);
        assert!(refused_after_token.contains("\"ppid\" :"));
        for after in [AFTER, ""] {
            let text = format!("{refused_after_token}{after}");
            assert!(!agrees(&text), "{text}");
            let mut s = Scan::new(&text);
            es_process(&mut s, &mut empty_process()).expect("the loop reads it");
        }
    }
}
