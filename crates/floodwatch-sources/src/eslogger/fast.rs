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
use crate::wire::json::JsonStr;
use crate::wire::scan::{Miss, Scan, Scanned};

/// Marks key `bit` as seen; a second time is a miss.
#[inline]
fn once(seen: &mut u32, bit: u32) -> Scanned<()> {
    if *seen & bit != 0 {
        return Err(Miss);
    }
    *seen |= bit;
    Ok(())
}

fn string<'a>(s: &mut Scan<'a>) -> Scanned<JsonStr<'a>> {
    s.string().map(JsonStr)
}

pub(crate) fn message(record: &str) -> Scanned<Message<'_>> {
    let mut s = Scan::new(record);
    let (mut version, mut time, mut process, mut event) = (None, None, None, None);
    let mut seen = 0;
    s.object(|s, key| {
        match key {
            b"version" => {
                once(&mut seen, 1)?;
                version = s.opt(Scan::u32)?;
            }
            b"time" => {
                once(&mut seen, 2)?;
                time = Some(string(s)?);
            }
            b"process" => {
                once(&mut seen, 4)?;
                process = Some(es_process(s)?);
            }
            b"event" => {
                once(&mut seen, 8)?;
                event = Some(es_event(s)?);
            }
            _ => s.skip()?,
        }
        Ok(())
    })?;
    s.end()?;
    Ok(Message {
        version,
        time: time.ok_or(Miss)?,
        process: process.ok_or(Miss)?,
        event: event.ok_or(Miss)?,
    })
}

fn es_process<'a>(s: &mut Scan<'a>) -> Scanned<EsProcess<'a>> {
    let mut p = EsProcess {
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
    };
    let mut seen = 0;
    s.object(|s, key| {
        match key {
            b"audit_token" => {
                once(&mut seen, 1)?;
                p.audit_token = s.opt(audit_token)?;
            }
            b"parent_audit_token" => {
                once(&mut seen, 1 << 1)?;
                p.parent_audit_token = s.opt(audit_token)?;
            }
            b"responsible_audit_token" => {
                once(&mut seen, 1 << 2)?;
                p.responsible_audit_token = s.opt(audit_token)?;
            }
            b"ppid" => {
                once(&mut seen, 1 << 3)?;
                p.ppid = s.opt(Scan::i32)?;
            }
            b"original_ppid" => {
                once(&mut seen, 1 << 4)?;
                p.original_ppid = s.opt(Scan::i32)?;
            }
            b"session_id" => {
                once(&mut seen, 1 << 5)?;
                p.session_id = s.opt(Scan::i32)?;
            }
            b"executable" => {
                once(&mut seen, 1 << 6)?;
                p.executable = s.opt(es_file)?;
            }
            b"signing_id" => {
                once(&mut seen, 1 << 7)?;
                p.signing_id = s.opt(string)?;
            }
            b"team_id" => {
                once(&mut seen, 1 << 8)?;
                p.team_id = s.opt(string)?;
            }
            b"codesigning_flags" => {
                once(&mut seen, 1 << 9)?;
                p.codesigning_flags = s.opt(Scan::u32)?;
            }
            b"is_platform_binary" => {
                once(&mut seen, 1 << 10)?;
                p.is_platform_binary = s.opt(Scan::bool)?;
            }
            b"start_time" => {
                once(&mut seen, 1 << 11)?;
                p.start_time = s.opt(string)?;
            }
            b"tty" => {
                once(&mut seen, 1 << 12)?;
                p.tty = match s.opt(es_file)? {
                    None => TtyField::Null,
                    Some(f) => TtyField::File(f),
                };
            }
            _ => s.skip()?,
        }
        Ok(())
    })?;
    Ok(p)
}

fn es_file<'a>(s: &mut Scan<'a>) -> Scanned<EsFile<'a>> {
    let mut path = None;
    let mut seen = 0;
    s.object(|s, key| {
        if key == b"path" {
            once(&mut seen, 1)?;
            path = s.opt(string)?;
            Ok(())
        } else {
            s.skip()
        }
    })?;
    Ok(EsFile { path })
}

/// An audit token object (later keys overwrite, as the serde visitor does) or the 8-int array.
fn audit_token(s: &mut Scan<'_>) -> Scanned<AuditToken> {
    let mut t = AuditToken::default();
    if s.peek()? == b'[' {
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
        return if i >= 8 { Ok(t) } else { Err(Miss) };
    }
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

/// An audit token key's slot: 1-5 for auid, euid, ruid, pid and pidversion, 0 for any other. From
/// the key's length and first four bytes, compared whole, with flags added rather than branched on.
#[inline(always)]
fn token_slot(key: &[u8]) -> usize {
    let word = |k: &[u8]| {
        k.iter()
            .take(4)
            .rev()
            .fold(0u32, |w, &b| w << 8 | u32::from(b))
    };
    let (len, w) = (key.len(), word(key));
    let is = |name: &[u8]| usize::from(len == name.len() && w == word(name));
    is(b"auid")
        + 2 * is(b"euid")
        + 3 * is(b"ruid")
        + 4 * is(b"pid")
        + 5 * usize::from(len == 10 && key == b"pidversion")
}

/// The event object: its first key decides (later keys are skipped, as serde's visitor does).
fn es_event<'a>(s: &mut Scan<'a>) -> Scanned<EsEvent<'a>> {
    let mut event = None;
    s.object(|s, key| {
        if event.is_some() {
            return s.skip();
        }
        event = Some(match key {
            b"exec" => EsEvent::Exec(exec(s)?),
            b"fork" => EsEvent::Fork(fork(s)?),
            b"exit" => EsEvent::Exit(exit(s)?),
            _ => return Err(Miss),
        });
        Ok(())
    })?;
    event.ok_or(Miss)
}

fn exec<'a>(s: &mut Scan<'a>) -> Scanned<ExecEvent<'a>> {
    let (mut target, mut args, mut cwd) = (None, None, None);
    let mut seen = 0;
    s.object(|s, key| {
        match key {
            b"target" => {
                once(&mut seen, 1)?;
                target = Some(es_process(s)?);
            }
            b"args" => {
                once(&mut seen, 2)?;
                args = s.opt(|s| {
                    let mut v = Vec::new();
                    s.array(|s| {
                        v.push(string(s)?);
                        Ok(())
                    })?;
                    Ok(v)
                })?;
            }
            b"cwd" => {
                once(&mut seen, 4)?;
                cwd = s.opt(es_file)?;
            }
            _ => s.skip()?,
        }
        Ok(())
    })?;
    Ok(ExecEvent {
        target: target.ok_or(Miss)?,
        args,
        cwd,
    })
}

fn fork<'a>(s: &mut Scan<'a>) -> Scanned<ForkEvent<'a>> {
    let mut child = None;
    let mut seen = 0;
    s.object(|s, key| {
        if key == b"child" {
            once(&mut seen, 1)?;
            child = Some(es_process(s)?);
            Ok(())
        } else {
            s.skip()
        }
    })?;
    Ok(ForkEvent {
        child: child.ok_or(Miss)?,
    })
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
