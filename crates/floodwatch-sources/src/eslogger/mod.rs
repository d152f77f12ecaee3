//! Endpoint Security via `eslogger` (JSON lines) → Exec / Fork / Exit / Session events.
//!
//! Format facts: shared/docs/telemetry-formats.md §1. This is the hot path, so each line is
//! deserialized straight into typed structs that borrow from the line (never a `serde_json::Value`),
//! and every key we do not read (`stat` blocks, `env`, `fds`, `entitlements`, …) is skipped unparsed.
//! Strings are `JsonStr` (borrowed or owned) because eslogger escapes every `/` (`"\/bin\/ls"`): a
//! plain `&str` cannot borrow an escaped string and would fail on nearly every line.
//!
//! eslogger "is NOT API" and changes between releases, so: key order is never relied on, unknown
//! keys are ignored, `audit_token` is accepted as an object or as an 8-int array (macOS 26), and
//! versions newer than the known ones are parsed with the latest rules and reported in `notes()`.
//!
//! The wire types (the serde model of a message: only the keys read) are in `model`.

pub(crate) mod fast;
pub(crate) mod model;
#[cfg(test)]
mod tests;
mod wide_process;
mod wide_token;

use crate::wire::intern::Interner;
use crate::wire::json::{cut, json_reject, JsonStr};
use crate::{Parsed, RecordParser, Reject, RejectReason, SourceCtx};
use floodwatch_core::event::{Event, EventKind, ProcInfo, Session, Signing, Tty};
use floodwatch_core::time::parse_rfc3339;
use floodwatch_core::Ts;
use model::{EsEvent, EsProcess, Message, SessionEvent, SessionPayload, TtyField};
use std::borrow::Cow;

/// ES message versions seen in real captures: 9 (macOS 15), 10 (macOS 26), 11 (macOS 27 beta).
const FIRST_KNOWN_VERSION: u32 = 9;
const LAST_KNOWN_VERSION: u32 = 11;

/// `auid` of processes that never went through a login (launchd, xpcproxy): "unset".
const AUID_UNSET: u32 = u32::MAX;

pub struct EsloggerParser {
    ctx: SourceCtx,
    /// The highest message version above the known ones, for `notes()`.
    newest_unknown_version: Option<u32>,
    texts: Interner,
}

impl EsloggerParser {
    pub fn new(ctx: SourceCtx) -> Self {
        EsloggerParser {
            ctx,
            newest_unknown_version: None,
            texts: Interner::default(),
        }
    }

    fn note_version(&mut self, version: Option<u32>) {
        if let Some(v) = version.filter(|&v| v > LAST_KNOWN_VERSION) {
            self.newest_unknown_version = Some(self.newest_unknown_version.map_or(v, |n| n.max(v)));
        }
    }
}

impl RecordParser for EsloggerParser {
    fn parse(&mut self, record: &str, line: u64, out: &mut Vec<Event>) -> Result<Parsed, Reject> {
        // Filled in place (see `fast::message_into`).
        let mut msg = fast::empty_message();
        if fast::message_into(record, &mut msg).is_err() {
            msg = serde_json::from_str(record).map_err(json_reject)?;
        }
        self.note_version(msg.version);
        let kind = match event_kind(&mut msg.event, &mut msg.process, SOURCE, &mut self.texts)? {
            Ok(kind) => kind,
            Err(skip) => return Ok(Parsed::Skipped(skip)),
        };
        let ts = timestamp("time", msg.time.as_str())?;
        out.push(self.ctx.event(ts, line, kind));
        Ok(Parsed::Events)
    }

    fn notes(&self) -> Vec<String> {
        self.newest_unknown_version
            .map(|v| {
                format!(
                    "eslogger version {v} is newer than the known {FIRST_KNOWN_VERSION}-{LAST_KNOWN_VERSION}; \
                     parsed with version {LAST_KNOWN_VERSION} rules"
                )
            })
            .into_iter()
            .collect()
    }
}

/// Checks the fast path against serde on one record: whatever the fast path reads, serde must read
/// too, to the same events. For the differential tests and the `eslogger_fast` fuzz target.
#[doc(hidden)]
pub fn fast_path_check(record: &str) -> Result<(), String> {
    let Ok(fast) = fast::message(record) else {
        return Ok(());
    };
    let slow: Message = serde_json::from_str(record)
        .map_err(|e| format!("the fast path read a record serde refuses ({e}): {record:?}"))?;
    let render = |mut m: Message| {
        let version = m.version;
        let time = m.time.to_owned_string();
        let kind = event_kind(
            &mut m.event,
            &mut m.process,
            SOURCE,
            &mut Interner::default(),
        )
        .map(|k| format!("{k:?}"));
        format!("{version:?} {time} {kind:?}")
    };
    let (fast, slow) = (render(fast), render(slow));
    if fast == slow {
        Ok(())
    } else {
        Err(format!(
            "fast path and serde differ on {record:?}:\n fast {fast}\n serde {slow}"
        ))
    }
}

/// The outer result is a reject (bad record), the inner one a skip (valid but not used).
pub(crate) type KindResult = Result<Result<EventKind, Cow<'static, str>>, Reject>;

/// How skip reasons name this source.
const SOURCE: &str = "eslogger";

/// Takes the message apart: paths and signing ids come from the parser's shared copies (`texts`),
/// arguments that had to be unescaped are moved into the event, not copied again. `source` names the producer in skip reasons (Jamf Protect's
/// telemetry stream carries the same Endpoint Security messages).
/// Takes what it keeps out of `event` and `process` (borrowed, not moved: a message is 700 bytes).
pub(crate) fn event_kind(
    event: &mut EsEvent<'_>,
    process: &mut EsProcess<'_>,
    source: &str,
    texts: &mut Interner,
) -> KindResult {
    let kind = match event {
        EsEvent::Exec(exec) => {
            let mut target = proc_info(&mut exec.target, "event.exec.target", texts)?;
            target.args = texts.args(exec.args.take())?;
            target.cwd = texts.opt(exec.cwd.take().and_then(|c| c.path))?;
            EventKind::Exec {
                instigator: Some(Box::new(proc_info(process, "process", texts)?)),
                target: Box::new(target),
            }
        }
        EsEvent::Fork(fork) => EventKind::Fork {
            parent: Box::new(proc_info(process, "process", texts)?),
            child: Box::new(proc_info(&mut fork.child, "event.fork.child", texts)?),
        },
        EsEvent::Exit(exit) => EventKind::Exit {
            process: Box::new(proc_info(process, "process", texts)?),
            status: exit.stat,
        },
        EsEvent::Session(kind, payload) => match session(*kind, payload, process, source) {
            Ok(s) => EventKind::Session(Box::new(s)),
            Err(skip) => return Ok(Err(skip)),
        },
        EsEvent::Other(name) => {
            return Ok(Err(format!(
                "{source} event {} (not used)",
                cut(name.as_str())
            )
            .into()));
        }
        EsEvent::Privilege(name, _) => {
            return Ok(Err(format!("{source} event {name} (not used)").into()));
        }
        EsEvent::Empty => {
            return Err(Reject::new(
                RejectReason::BadValue,
                "event object has no event key",
            ))
        }
    };
    Ok(Ok(kind))
}

pub(crate) fn timestamp(field: &str, text: &str) -> Result<Ts, Reject> {
    parse_rfc3339(text)
        .ok_or_else(|| Reject::new(RejectReason::BadTimestamp, format!("{field} {text:?}")))
}

// ---------------------------------------------------------------------------------------------
// Normalization

/// Takes the texts it keeps out of `p`.
pub(crate) fn proc_info(
    p: &mut EsProcess<'_>,
    what: &str,
    texts: &mut Interner,
) -> Result<ProcInfo, Reject> {
    let token = p
        .audit_token
        .ok_or_else(|| Reject::new(RejectReason::MissingField, format!("{what}.audit_token")))?;
    let pid = token.pid.ok_or_else(|| {
        Reject::new(
            RejectReason::MissingField,
            format!("{what}.audit_token.pid"),
        )
    })?;
    let start_time = match &p.start_time {
        // The field name is only formatted for a reject, not for every record.
        Some(s) => Some(parse_rfc3339(s.as_str()).ok_or_else(|| {
            Reject::new(
                RejectReason::BadTimestamp,
                format!("{what}.start_time {:?}", s.as_str()),
            )
        })?),
        None => None,
    };
    Ok(ProcInfo {
        pid,
        pidversion: token.pidversion,
        // `ppid` is the current parent; the parent token is the fallback if a version drops it.
        ppid: p.ppid.or(p.parent_audit_token.and_then(|t| t.pid)),
        original_ppid: p.original_ppid,
        responsible_pid: p.responsible_audit_token.and_then(|t| t.pid),
        session_id: p.session_id,
        start_time,
        path: texts.opt(p.executable.take().and_then(|e| e.path))?,
        args: None,
        cwd: None,
        uid: token.ruid,
        euid: token.euid,
        auid: token.auid.filter(|&a| a != AUID_UNSET),
        username: None,
        tty: match std::mem::take(&mut p.tty) {
            TtyField::Absent => Tty::Unknown,
            TtyField::Null => Tty::None,
            // A tty object without a path still says "has a terminal"; keep it visible as empty.
            TtyField::File(f) => Tty::Some(match f.path {
                Some(t) => t.to_owned_string()?,
                None => String::new(),
            }),
        },
        signing: Signing {
            signing_id: texts.opt(p.signing_id.take())?,
            team_id: texts.opt(p.team_id.take().filter(|t| !t.is_empty()))?,
            platform_binary: p.is_platform_binary,
            cs_flags: p.codesigning_flags,
        },
        invalid_utf8: false,
    })
}

fn session(
    kind: SessionEvent,
    s: &SessionPayload<'_>,
    process: &EsProcess<'_>,
    source: &str,
) -> Result<Session, Cow<'static, str>> {
    use SessionEvent::*;
    // Failed attempts are not sessions: a rejected ssh password must not count as a user being present.
    if s.success == Some(false) {
        return Err(match kind {
            OpensshLogin => format!("{source} openssh_login failed (not a login)").into(),
            ScreensharingAttach => {
                format!("{source} screensharing_attach failed (not a session)").into()
            }
            _ => format!("{source} login_login failed (not a login)").into(),
        });
    }
    let user = match kind {
        // The session's own user first: the screen being shared belongs to them.
        ScreensharingAttach | ScreensharingDetach => s
            .session_username
            .as_ref()
            .or(s.authentication_username.as_ref())
            .or(s.username.as_ref()),
        _ => s.username.as_ref(),
    };
    let uid = match s.has_uid {
        Some(false) => None,
        _ => s.uid.and_then(|u| u.0),
    };
    let tty = match &process.tty {
        TtyField::File(f) => match &f.path {
            Some(t) => Some(t.to_owned_string().map_err(|_| "bad escape in tty path")?),
            None => None,
        },
        _ => None,
    };
    Ok(Session {
        kind: kind.session_kind(),
        user: user
            .filter(|u| !u.as_str().is_empty())
            .map(JsonStr::to_owned_string),
        uid,
        tty,
        remote: s
            .source_address
            .as_ref()
            .filter(|a| !a.as_str().is_empty())
            .map(JsonStr::to_owned_string),
    })
}
