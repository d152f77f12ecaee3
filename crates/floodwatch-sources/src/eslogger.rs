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

use crate::wire::json::{cut, json_reject, JsonStr};
use crate::{Parsed, RecordParser, Reject, RejectReason, SourceCtx};
use floodwatch_core::event::{
    Event, EventKind, Origin, ProcInfo, Session, SessionKind, Signing, Tty,
};
use floodwatch_core::time::parse_rfc3339;
use floodwatch_core::Ts;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt;

/// ES message versions seen in real captures: 9 (macOS 15), 10 (macOS 26), 11 (macOS 27 beta).
const FIRST_KNOWN_VERSION: u32 = 9;
const LAST_KNOWN_VERSION: u32 = 11;

/// `auid` of processes that never went through a login (launchd, xpcproxy): "unset".
const AUID_UNSET: u32 = u32::MAX;

pub struct EsloggerParser {
    ctx: SourceCtx,
    /// The highest message version above the known ones, for `notes()`.
    newest_unknown_version: Option<u32>,
}

impl EsloggerParser {
    pub fn new(ctx: SourceCtx) -> Self {
        EsloggerParser {
            ctx,
            newest_unknown_version: None,
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
        let msg: Message = serde_json::from_str(record).map_err(json_reject)?;
        self.note_version(msg.version);
        let kind = match event_kind(msg.event, msg.process)? {
            Ok(kind) => kind,
            Err(skip) => return Ok(Parsed::Skipped(skip)),
        };
        out.push(Event {
            ts: timestamp("time", msg.time.as_str())?,
            host: self.ctx.host.clone(),
            origin: Origin {
                file: self.ctx.file_id,
                line,
            },
            kind,
        });
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

/// The outer result is a reject (bad record), the inner one a skip (valid but not used).
type KindResult = Result<Result<EventKind, Cow<'static, str>>, Reject>;

/// Takes the message apart: strings that had to be unescaped (every eslogger path: `\/`) are moved
/// into the event, not copied again.
fn event_kind(event: EsEvent<'_>, process: EsProcess<'_>) -> KindResult {
    let kind = match event {
        EsEvent::Exec(exec) => {
            let mut target = proc_info(exec.target, "event.exec.target")?;
            target.args = exec
                .args
                .map(|args| args.into_iter().map(JsonStr::into_string).collect());
            target.cwd = exec.cwd.and_then(|c| c.path).map(JsonStr::into_string);
            EventKind::Exec {
                instigator: Some(Box::new(proc_info(process, "process")?)),
                target: Box::new(target),
            }
        }
        EsEvent::Fork(fork) => EventKind::Fork {
            parent: Box::new(proc_info(process, "process")?),
            child: Box::new(proc_info(fork.child, "event.fork.child")?),
        },
        EsEvent::Exit(exit) => EventKind::Exit {
            process: Box::new(proc_info(process, "process")?),
            status: exit.stat,
        },
        EsEvent::Session(kind, payload) => match session(kind, &payload, &process) {
            Ok(s) => EventKind::Session(Box::new(s)),
            Err(skip) => return Ok(Err(skip)),
        },
        EsEvent::Other(name) => {
            return Ok(Err(format!(
                "eslogger event {} (not used)",
                cut(name.as_str())
            )
            .into()));
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

fn timestamp(field: &str, text: &str) -> Result<Ts, Reject> {
    parse_rfc3339(text)
        .ok_or_else(|| Reject::new(RejectReason::BadTimestamp, format!("{field} {text:?}")))
}

// ---------------------------------------------------------------------------------------------
// Normalization

fn proc_info(p: EsProcess<'_>, what: &str) -> Result<ProcInfo, Reject> {
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
        path: p.executable.and_then(|e| e.path).map(JsonStr::into_string),
        args: None,
        cwd: None,
        uid: token.ruid,
        euid: token.euid,
        auid: token.auid.filter(|&a| a != AUID_UNSET),
        username: None,
        tty: match p.tty {
            TtyField::Absent => Tty::Unknown,
            TtyField::Null => Tty::None,
            // A tty object without a path still says "has a terminal"; keep it visible as empty.
            TtyField::File(f) => Tty::Some(f.path.map(JsonStr::into_string).unwrap_or_default()),
        },
        signing: Signing {
            signing_id: p.signing_id.map(JsonStr::into_string),
            team_id: p
                .team_id
                .filter(|t| !t.as_str().is_empty())
                .map(JsonStr::into_string),
            platform_binary: p.is_platform_binary,
            cs_flags: p.codesigning_flags,
        },
    })
}

fn session(
    kind: SessionEvent,
    s: &SessionPayload<'_>,
    process: &EsProcess<'_>,
) -> Result<Session, Cow<'static, str>> {
    use SessionEvent::*;
    // Failed attempts are not sessions: a rejected ssh password must not count as a user being present.
    if s.success == Some(false) {
        return Err(match kind {
            OpensshLogin => "eslogger openssh_login failed (not a login)".into(),
            ScreensharingAttach => "eslogger screensharing_attach failed (not a session)".into(),
            _ => "eslogger login_login failed (not a login)".into(),
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
        TtyField::File(f) => f.path.as_ref().map(JsonStr::to_owned_string),
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

// ---------------------------------------------------------------------------------------------
// Wire types (only the keys we read; serde skips the rest)

#[derive(Deserialize)]
struct Message<'a> {
    version: Option<u32>,
    #[serde(borrow)]
    time: JsonStr<'a>,
    #[serde(borrow)]
    process: EsProcess<'a>,
    #[serde(borrow)]
    event: EsEvent<'a>,
}

/// es_process_t.
#[derive(Deserialize)]
struct EsProcess<'a> {
    audit_token: Option<AuditToken>,
    parent_audit_token: Option<AuditToken>,
    responsible_audit_token: Option<AuditToken>,
    ppid: Option<i32>,
    original_ppid: Option<i32>,
    session_id: Option<i32>,
    #[serde(borrow)]
    executable: Option<EsFile<'a>>,
    #[serde(borrow)]
    signing_id: Option<JsonStr<'a>>,
    #[serde(borrow)]
    team_id: Option<JsonStr<'a>>,
    codesigning_flags: Option<u32>,
    is_platform_binary: Option<bool>,
    #[serde(borrow)]
    start_time: Option<JsonStr<'a>>,
    #[serde(borrow, default)]
    tty: TtyField<'a>,
}

/// es_file_t: only the path (its `stat` block is skipped).
#[derive(Deserialize)]
struct EsFile<'a> {
    #[serde(borrow)]
    path: Option<JsonStr<'a>>,
}

/// `tty` absent (older/other producers: unknown), `null` (no terminal: launchd/XPC children) or a file.
#[derive(Default)]
enum TtyField<'a> {
    #[default]
    Absent,
    Null,
    File(EsFile<'a>),
}

impl<'de: 'a, 'a> Deserialize<'de> for TtyField<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<EsFile<'a>>::deserialize(d)? {
            None => TtyField::Null,
            Some(f) => TtyField::File(f),
        })
    }
}

/// audit_token_t as eslogger prints it: an object (v9, v11) or an array of 8 ints (v10 on macOS 26)
/// in the order `[auid, euid, egid, ruid, rgid, pid, asid, pidversion]`.
#[derive(Clone, Copy, Default, Debug)]
struct AuditToken {
    auid: Option<u32>,
    euid: Option<u32>,
    ruid: Option<u32>,
    pid: Option<i32>,
    pidversion: Option<u32>,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum TokenField {
    Auid,
    Euid,
    Ruid,
    Pid,
    Pidversion,
    #[serde(other)]
    Other,
}

impl<'de> Deserialize<'de> for AuditToken {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AuditToken;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an audit token object or an array of 8 integers")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AuditToken, A::Error> {
                let mut t = AuditToken::default();
                while let Some(key) = map.next_key::<TokenField>()? {
                    match key {
                        TokenField::Auid => t.auid = Some(map.next_value()?),
                        TokenField::Euid => t.euid = Some(map.next_value()?),
                        TokenField::Ruid => t.ruid = Some(map.next_value()?),
                        TokenField::Pid => t.pid = Some(map.next_value()?),
                        TokenField::Pidversion => t.pidversion = Some(map.next_value()?),
                        TokenField::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(t)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AuditToken, A::Error> {
                fn need<'de, T: Deserialize<'de>, A: SeqAccess<'de>>(
                    seq: &mut A,
                    i: usize,
                ) -> Result<T, A::Error> {
                    seq.next_element()?
                        .ok_or_else(|| de::Error::invalid_length(i, &"8 audit token integers"))
                }
                let auid = need(&mut seq, 0)?;
                let euid = need(&mut seq, 1)?;
                need::<IgnoredAny, _>(&mut seq, 2)?; // egid
                let ruid = need(&mut seq, 3)?;
                need::<IgnoredAny, _>(&mut seq, 4)?; // rgid
                let pid = need(&mut seq, 5)?;
                need::<IgnoredAny, _>(&mut seq, 6)?; // asid
                let pidversion = need(&mut seq, 7)?;
                // A longer token in a future version: keep the known prefix.
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(AuditToken {
                    auid: Some(auid),
                    euid: Some(euid),
                    ruid: Some(ruid),
                    pid: Some(pid),
                    pidversion: Some(pidversion),
                })
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize)]
struct ExecEvent<'a> {
    #[serde(borrow)]
    target: EsProcess<'a>,
    #[serde(borrow)]
    args: Option<Vec<JsonStr<'a>>>,
    #[serde(borrow)]
    cwd: Option<EsFile<'a>>,
}

#[derive(Deserialize)]
struct ForkEvent<'a> {
    #[serde(borrow)]
    child: EsProcess<'a>,
}

#[derive(Deserialize)]
struct ExitEvent {
    stat: Option<i32>,
}

/// The session-context events (ESMessage.h es_event_lw_session_*_t, es_event_openssh_*_t,
/// es_event_screensharing_*_t, es_event_login_*_t). No real eslogger line of these was seen, so every
/// field is optional and one payload type serves them all.
#[derive(Deserialize)]
struct SessionPayload<'a> {
    #[serde(borrow)]
    username: Option<JsonStr<'a>>,
    #[serde(borrow)]
    source_address: Option<JsonStr<'a>>,
    success: Option<bool>,
    has_uid: Option<bool>,
    uid: Option<UidField>,
    #[serde(borrow)]
    authentication_username: Option<JsonStr<'a>>,
    #[serde(borrow)]
    session_username: Option<JsonStr<'a>>,
}

/// openssh_login / login_login carry `uid` as a C union (`uid.uid`): accept `501` or `{"uid":501}`.
#[derive(Clone, Copy)]
struct UidField(Option<u32>);

impl<'de> Deserialize<'de> for UidField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = UidField;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a uid integer or {\"uid\": integer}")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<UidField, E> {
                Ok(UidField(u32::try_from(v).ok()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<UidField, E> {
                Ok(UidField(u32::try_from(v).ok()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<UidField, E> {
                Ok(UidField(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UidField, A::Error> {
                let mut uid = UidField(None);
                while let Some(key) = map.next_key::<JsonStr<'de>>()? {
                    if key.as_str() == "uid" {
                        uid = map
                            .next_value::<Option<UidField>>()?
                            .unwrap_or(UidField(None));
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(uid)
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SessionEvent {
    LwSessionLogin,
    LwSessionLogout,
    LwSessionLock,
    LwSessionUnlock,
    OpensshLogin,
    OpensshLogout,
    ScreensharingAttach,
    ScreensharingDetach,
    LoginLogin,
    LoginLogout,
}

impl SessionEvent {
    fn from_name(name: &str) -> Option<SessionEvent> {
        use SessionEvent::*;
        Some(match name {
            "lw_session_login" => LwSessionLogin,
            "lw_session_logout" => LwSessionLogout,
            "lw_session_lock" => LwSessionLock,
            "lw_session_unlock" => LwSessionUnlock,
            "openssh_login" => OpensshLogin,
            "openssh_logout" => OpensshLogout,
            "screensharing_attach" => ScreensharingAttach,
            "screensharing_detach" => ScreensharingDetach,
            "login_login" => LoginLogin,
            "login_logout" => LoginLogout,
            _ => return None,
        })
    }

    fn session_kind(self) -> SessionKind {
        use SessionEvent::*;
        match self {
            LwSessionLogin | LoginLogin => SessionKind::Login,
            LwSessionLogout | LoginLogout => SessionKind::Logout,
            LwSessionLock => SessionKind::Lock,
            LwSessionUnlock => SessionKind::Unlock,
            OpensshLogin => SessionKind::SshLogin,
            OpensshLogout => SessionKind::SshLogout,
            ScreensharingAttach => SessionKind::ScreenShareStart,
            ScreensharingDetach => SessionKind::ScreenShareEnd,
        }
    }
}

/// `event` is an object with one key, the short event name. We dispatch on that key rather than on
/// `event_type` (whose numbering shifts between SDKs) and skip the payload of events we do not use.
enum EsEvent<'a> {
    Exec(ExecEvent<'a>),
    Fork(ForkEvent<'a>),
    Exit(ExitEvent),
    Session(SessionEvent, SessionPayload<'a>),
    Other(JsonStr<'a>),
    Empty,
}

impl<'de: 'a, 'a> Deserialize<'de> for EsEvent<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = EsEvent<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an event object keyed by the event name")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<EsEvent<'de>, A::Error> {
                let mut event = EsEvent::Empty;
                while let Some(name) = map.next_key::<JsonStr<'de>>()? {
                    // The first key decides; anything after it (not seen in practice) is skipped.
                    if !matches!(event, EsEvent::Empty) {
                        map.next_value::<IgnoredAny>()?;
                        continue;
                    }
                    event = match name.as_str() {
                        "exec" => EsEvent::Exec(map.next_value()?),
                        "fork" => EsEvent::Fork(map.next_value()?),
                        "exit" => EsEvent::Exit(map.next_value()?),
                        other => match SessionEvent::from_name(other) {
                            Some(kind) => EsEvent::Session(kind, map.next_value()?),
                            None => {
                                map.next_value::<IgnoredAny>()?;
                                EsEvent::Other(name)
                            }
                        },
                    };
                }
                Ok(event)
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{ctx, read_all};
    use crate::{FileStats, Format};

    const CORPUS: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/corpus/eslogger"
    );

    fn corpus(file: &str) -> String {
        std::fs::read_to_string(format!("{CORPUS}/{file}")).unwrap()
    }

    fn mullvad_lines() -> Vec<String> {
        corpus("mullvad_eslogger_v9_v10_v11.ndjson")
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn parse_one(line: &str) -> Result<(Parsed, Vec<Event>), Reject> {
        let mut p = EsloggerParser::new(ctx("t.ndjson"));
        let mut out = Vec::new();
        p.parse(line, 7, &mut out).map(|r| (r, out))
    }

    fn one_event(line: &str) -> Event {
        match parse_one(line) {
            Ok((Parsed::Events, mut out)) if out.len() == 1 => out.pop().unwrap(),
            Ok((Parsed::Skipped(why), _)) => panic!("skipped: {why}"),
            Ok((Parsed::Events, out)) => panic!("{} events", out.len()),
            Err(r) => panic!("rejected: {} {}", r.reason, r.detail),
        }
    }

    fn reject_reason(line: &str) -> RejectReason {
        match parse_one(line) {
            Err(r) => r.reason,
            Ok(_) => panic!("not rejected: {line:.80}"),
        }
    }

    fn no_rejects(stats: &FileStats) {
        assert_eq!(stats.rejected, 0, "rejects: {:?}", stats.samples);
    }

    #[test]
    fn real_mullvad_lines_all_parse() {
        let data = corpus("mullvad_eslogger_v9_v10_v11.ndjson");
        let (events, stats) = read_all(data.as_bytes(), Format::Eslogger, ctx("m.ndjson"));
        no_rejects(&stats);
        assert_eq!(stats.records, 4);
        assert_eq!(events.len(), 4);
        let names: Vec<_> = events.iter().map(|e| e.kind.name()).collect();
        assert_eq!(names, ["exit", "exec", "fork", "exec"]);
        let lines: Vec<_> = events.iter().map(|e| e.origin.line).collect();
        assert_eq!(lines, [1, 2, 3, 4]);
        assert!(events.iter().all(|e| &*e.host == "testhost"));
        assert!(stats.notes.is_empty(), "{:?}", stats.notes);
    }

    #[test]
    fn v9_exit_of_ipconfig() {
        let ev = one_event(&mullvad_lines()[0]);
        assert_eq!(
            ev.ts,
            parse_rfc3339("2025-08-07T15:13:09.811587464Z").unwrap()
        );
        assert_eq!(ev.origin.line, 7);
        let EventKind::Exit { process, status } = ev.kind else {
            panic!("{:?}", ev.kind)
        };
        assert_eq!(status, Some(0));
        assert_eq!(process.pid, 11221);
        assert_eq!(process.pidversion, Some(170692));
        assert_eq!(process.path.as_deref(), Some("/usr/sbin/ipconfig"));
        assert_eq!(process.auid, None, "4294967295 is the unset auid");
        assert_eq!(process.uid, Some(0));
        assert_eq!(process.ppid, Some(532));
        assert_eq!(process.responsible_pid, Some(532));
        assert_eq!(process.tty, Tty::None);
        assert_eq!(
            process.signing.signing_id.as_deref(),
            Some("com.apple.ipconfig")
        );
        assert_eq!(process.signing.team_id, None);
        assert_eq!(process.signing.platform_binary, Some(true));
        assert_eq!(process.signing.cs_flags, Some(637623057));
        assert_eq!(
            process.start_time,
            parse_rfc3339("2025-08-07T15:13:09.798115Z")
        );
    }

    #[test]
    fn v9_exec_of_connection_checker_with_tty() {
        let ev = one_event(&mullvad_lines()[1]);
        let EventKind::Exec { instigator, target } = ev.kind else {
            panic!("{:?}", ev.kind)
        };
        let inst = instigator.expect("instigator");
        assert_eq!(inst.pid, 97391);
        assert_eq!(inst.pidversion, Some(149091));
        assert_eq!(inst.path.as_deref(), Some("/bin/nu"));
        assert_eq!(target.pid, 97391);
        assert_eq!(target.pidversion, Some(149092));
        assert_eq!(target.path.as_deref(), Some("/bin/connection-checker"));
        assert_eq!(
            target.args,
            Some(vec!["/bin/connection-checker".to_string()])
        );
        assert_eq!(target.cwd.as_deref(), Some("/bin/mullvadvpn-app"));
        assert_eq!(target.tty, Tty::Some("/dev/ttys003".into()));
        assert_eq!(inst.tty, Tty::Some("/dev/ttys003".into()));
        assert_eq!(target.responsible_pid, Some(938));
        assert_eq!(target.ppid, Some(58916));
        assert_eq!(target.original_ppid, Some(58916));
        assert_eq!(target.session_id, Some(58916));
        assert_eq!(
            (target.uid, target.euid, target.auid),
            (Some(501), Some(501), Some(501))
        );
        assert_eq!(
            target.signing.signing_id.as_deref(),
            Some("connection_checker-04fde7bdb8bceee3")
        );
        assert_eq!(target.signing.platform_binary, Some(false));
        // pid and start_time survive exec; pidversion does not.
        assert_eq!(target.start_time, inst.start_time);
    }

    #[test]
    fn v10_fork_with_array_audit_tokens() {
        let ev = one_event(&mullvad_lines()[2]);
        let EventKind::Fork { parent, child } = ev.kind else {
            panic!("{:?}", ev.kind)
        };
        assert_eq!(parent.pid, 19745);
        assert_eq!(parent.pidversion, Some(35165));
        assert_eq!(parent.ppid, Some(1));
        assert_eq!(child.pid, 21497);
        assert_eq!(child.pidversion, Some(38282));
        assert_eq!(child.ppid, Some(19745));
        assert_eq!(child.responsible_pid, Some(19745));
        assert_eq!(
            (child.auid, child.uid, child.euid),
            (Some(501), Some(501), Some(501))
        );
        assert_eq!(child.signing.team_id.as_deref(), Some("CKG9MXH72F"));
        assert_eq!(parent.signing.team_id.as_deref(), Some("CKG9MXH72F"));
        assert_eq!(
            child.path.as_deref(),
            Some("/Applications/Mullvad VPN.app/Contents/MacOS/Mullvad VPN")
        );
        assert_eq!(child.tty, Tty::None);
    }

    #[test]
    fn v11_exec_with_entitlements() {
        let ev = one_event(&mullvad_lines()[3]);
        let EventKind::Exec { instigator, target } = ev.kind else {
            panic!("{:?}", ev.kind)
        };
        let inst = instigator.unwrap();
        assert_eq!(inst.path.as_deref(), Some("/usr/libexec/xpcproxy"));
        assert_eq!((inst.pid, inst.pidversion), (11085, Some(25188)));
        assert_eq!(inst.auid, None);
        assert_eq!((target.pid, target.pidversion), (11085, Some(25189)));
        assert_eq!(target.auid, Some(501));
        assert_eq!(target.cwd.as_deref(), Some("/"));
        assert_eq!(
            target.signing.signing_id.as_deref(),
            Some("com.apple.localizationswitcherd")
        );
        assert_eq!(target.args.as_ref().map(Vec::len), Some(1));
    }

    #[test]
    fn mac_monitor_v10_exit() {
        let data = corpus("macmonitor_fixture_eslogger-exit_v10_sanitized.jsonl");
        let (events, stats) = read_all(data.as_bytes(), Format::Eslogger, ctx("mm.jsonl"));
        no_rejects(&stats);
        assert_eq!(events.len(), 1);
        let EventKind::Exit { process, status } = &events[0].kind else {
            panic!()
        };
        assert_eq!(*status, Some(9));
        assert_eq!(process.pid, 4242);
        assert_eq!(process.path.as_deref(), Some("/usr/libexec/exampled"));
        assert_eq!(
            events[0].ts,
            parse_rfc3339("2026-10-04T00:01:55.281215406Z").unwrap()
        );
    }

    /// Replaces exactly one occurrence, so a test cannot silently edit nothing.
    fn edit(line: &str, from: &str, to: &str) -> String {
        assert_eq!(line.matches(from).count(), 1, "{from} must occur once");
        line.replacen(from, to, 1)
    }

    fn exit_line() -> String {
        mullvad_lines()[0].clone()
    }

    fn session_line(event: &str) -> String {
        edit(
            &exit_line(),
            r#""event":{"exit":{"stat":0}}"#,
            &format!(r#""event":{event}"#),
        )
    }

    #[test]
    fn session_events() {
        let cases = [
            (
                r#"{"lw_session_unlock":{"username":"alice","graphical_session_id":257}}"#,
                SessionKind::Unlock,
                Some("alice"),
                None,
            ),
            (
                r#"{"lw_session_login":{"graphical_session_id":257,"username":"alice"}}"#,
                SessionKind::Login,
                Some("alice"),
                None,
            ),
            (
                r#"{"lw_session_lock":{"username":"alice","graphical_session_id":257}}"#,
                SessionKind::Lock,
                Some("alice"),
                None,
            ),
            (
                r#"{"lw_session_logout":{"username":"alice"}}"#,
                SessionKind::Logout,
                Some("alice"),
                None,
            ),
            (
                r#"{"openssh_login":{"success":true,"result_type":2,"source_address_type":1,"source_address":"192.168.1.20","username":"bob","has_uid":true,"uid":{"uid":502}}}"#,
                SessionKind::SshLogin,
                Some("bob"),
                Some("192.168.1.20"),
            ),
            (
                r#"{"openssh_logout":{"source_address_type":1,"source_address":"192.168.1.20","username":"bob","uid":502}}"#,
                SessionKind::SshLogout,
                Some("bob"),
                Some("192.168.1.20"),
            ),
            (
                r#"{"screensharing_attach":{"success":true,"source_address_type":1,"source_address":"10.0.0.9","viewer_appleid":null,"authentication_type":"VNC","authentication_username":"admin","session_username":"alice","existing_session":true,"graphical_session_id":257}}"#,
                SessionKind::ScreenShareStart,
                Some("alice"),
                Some("10.0.0.9"),
            ),
            (
                r#"{"screensharing_detach":{"source_address_type":1,"source_address":"10.0.0.9","viewer_appleid":null,"graphical_session_id":257}}"#,
                SessionKind::ScreenShareEnd,
                None,
                Some("10.0.0.9"),
            ),
            (
                r#"{"login_login":{"success":true,"failure_message":null,"username":"carol","has_uid":true,"uid":{"uid":503}}}"#,
                SessionKind::Login,
                Some("carol"),
                None,
            ),
            (
                r#"{"login_logout":{"username":"carol","uid":503}}"#,
                SessionKind::Logout,
                Some("carol"),
                None,
            ),
        ];
        for (event, kind, user, remote) in cases {
            let ev = one_event(&session_line(event));
            let EventKind::Session(s) = ev.kind else {
                panic!("{event}: {:?}", ev.kind)
            };
            assert_eq!(s.kind, kind, "{event}");
            assert_eq!(s.user.as_deref(), user, "{event}");
            assert_eq!(s.remote.as_deref(), remote, "{event}");
        }
        let ev = one_event(&session_line(
            r#"{"openssh_login":{"success":true,"source_address":"::1","username":"bob","has_uid":true,"uid":{"uid":502}}}"#,
        ));
        let EventKind::Session(s) = ev.kind else {
            panic!()
        };
        assert_eq!(s.uid, Some(502));
        let ev = one_event(&session_line(
            r#"{"login_logout":{"username":"carol","uid":503}}"#,
        ));
        let EventKind::Session(s) = ev.kind else {
            panic!()
        };
        assert_eq!(s.uid, Some(503));
    }

    #[test]
    fn failed_ssh_login_is_skipped() {
        let line = session_line(
            r#"{"openssh_login":{"success":false,"result_type":4,"source_address":"203.0.113.5","username":"root","has_uid":false,"uid":null}}"#,
        );
        assert!(matches!(parse_one(&line), Ok((Parsed::Skipped(_), _))));
    }

    #[test]
    fn unknown_event_types_are_skipped_with_their_name() {
        let line = session_line(r#"{"open":{"fflag":1,"file":{"path":"\/etc\/hosts"}}}"#);
        match parse_one(&line) {
            Ok((Parsed::Skipped(why), out)) => {
                assert_eq!(why, "eslogger event open (not used)");
                assert!(out.is_empty());
            }
            _ => panic!(),
        }
    }

    #[test]
    fn newer_version_is_parsed_and_noted() {
        let v12 = edit(&exit_line(), r#""version":9"#, r#""version":12"#);
        let v13 = edit(&exit_line(), r#""version":9"#, r#""version":13"#);
        let data = format!("{v12}\n{v13}\n{v12}\n");
        let (events, stats) = read_all(data.as_bytes(), Format::Eslogger, ctx("v.ndjson"));
        no_rejects(&stats);
        assert_eq!(events.len(), 3);
        assert_eq!(
            stats.notes,
            ["eslogger version 13 is newer than the known 9-11; parsed with version 11 rules"]
        );
    }

    #[test]
    fn truncated_line_is_rejected() {
        let exec = &mullvad_lines()[1];
        assert_eq!(
            reject_reason(&exec[..exec.len() / 2]),
            RejectReason::InvalidJson
        );
        // Through the file reader, a truncated last line without newline is named as such.
        let data = format!("{}\n{}", exit_line(), &exec[..exec.len() / 2]);
        let (events, stats) = read_all(data.as_bytes(), Format::Eslogger, ctx("t.ndjson"));
        assert_eq!(events.len(), 1);
        assert_eq!(stats.rejected, 1);
    }

    #[test]
    fn wrong_types_and_missing_fields_are_rejected() {
        let line = exit_line();
        let pid_as_string = edit(&line, r#""pid":11221"#, r#""pid":"11221""#);
        assert_eq!(reject_reason(&pid_as_string), RejectReason::WrongType);
        let ppid_as_string = edit(&line, r#""ppid":532"#, r#""ppid":"532""#);
        assert_eq!(reject_reason(&ppid_as_string), RejectReason::WrongType);
        let no_time = edit(&line, r#""time":"2025-08-07T15:13:09.811587464Z","#, "");
        assert_eq!(reject_reason(&no_time), RejectReason::MissingField);
        let no_event = edit(&line, r#""event":{"exit":{"stat":0}},"#, "");
        assert_eq!(reject_reason(&no_event), RejectReason::MissingField);
        let no_process =
            r#"{"time":"2025-08-07T15:13:09.811587464Z","event":{"exit":{"stat":0}},"version":9}"#;
        assert_eq!(reject_reason(no_process), RejectReason::MissingField);
        let bad_time = edit(&line, "2025-08-07T15:13:09.811587464Z", "yesterday");
        assert_eq!(reject_reason(&bad_time), RejectReason::BadTimestamp);
        let negative_pidversion = edit(&line, r#""pidversion":170692"#, r#""pidversion":-1"#);
        assert_eq!(reject_reason(&negative_pidversion), RejectReason::BadValue);
        let no_token = edit(
            &line,
            r#""audit_token":{"euid":0,"rgid":0,"egid":0,"pid":11221,"asid":100017,"ruid":0,"auid":4294967295,"pidversion":170692},"#,
            "",
        );
        assert_eq!(reject_reason(&no_token), RejectReason::MissingField);
        let empty_event = edit(&line, r#""event":{"exit":{"stat":0}}"#, r#""event":{}"#);
        assert_eq!(reject_reason(&empty_event), RejectReason::BadValue);
        assert_eq!(reject_reason("not json"), RejectReason::InvalidJson);
        assert_eq!(reject_reason("[1,2]"), RejectReason::WrongType);
        assert_eq!(reject_reason(""), RejectReason::InvalidJson);
        let short_token = edit(
            &mullvad_lines()[2],
            "[4294967295,0,0,0,0,1,100012,1029]",
            "[1,2]",
        );
        assert_eq!(reject_reason(&short_token), RejectReason::BadValue);
    }

    #[test]
    fn escapes_are_decoded() {
        let line = exit_line();
        assert!(line.contains(r#""path":"\/usr\/sbin\/ipconfig""#));
        let unicode = edit(
            &line,
            r#""\/usr\/sbin\/ipconfig""#,
            r#""\/tmp\/caf\u00e9 \"x\"""#,
        );
        let EventKind::Exit { process, .. } = one_event(&unicode).kind else {
            panic!()
        };
        assert_eq!(process.path.as_deref(), Some("/tmp/café \"x\""));
    }

    /// Re-serializes JSON with every object's keys in reverse order (and a second time sorted).
    fn reorder(v: &serde_json::Value, reverse: bool) -> String {
        use serde_json::Value;
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                if reverse {
                    keys.reverse();
                }
                let parts: Vec<String> = keys
                    .iter()
                    .map(|k| {
                        format!(
                            "{}:{}",
                            Value::String((*k).clone()),
                            reorder(&m[*k], reverse)
                        )
                    })
                    .collect();
                format!("{{{}}}", parts.join(","))
            }
            Value::Array(a) => {
                let parts: Vec<String> = a.iter().map(|x| reorder(x, reverse)).collect();
                format!("[{}]", parts.join(","))
            }
            other => other.to_string(),
        }
    }

    #[test]
    fn key_order_does_not_matter() {
        for line in mullvad_lines() {
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            let want = format!("{:?}", one_event(&line).kind);
            for reverse in [false, true] {
                let shuffled = reorder(&v, reverse);
                assert_ne!(shuffled, line);
                assert_eq!(format!("{:?}", one_event(&shuffled).kind), want);
            }
        }
    }

    #[test]
    fn absent_tty_is_unknown() {
        let no_tty = edit(&exit_line(), r#","tty":null"#, "");
        let EventKind::Exit { process, .. } = one_event(&no_tty).kind else {
            panic!()
        };
        assert_eq!(process.tty, Tty::Unknown);
    }

    /// Rough single-core throughput on the real v9 exec line (run with --release --ignored).
    #[test]
    #[ignore]
    fn bench_exec_line_throughput() {
        let line = mullvad_lines()[1].clone();
        let n = 100_000;
        let mut p = EsloggerParser::new(ctx("b.ndjson"));
        let mut out = Vec::with_capacity(1);
        let start = std::time::Instant::now();
        for i in 0..n {
            out.clear();
            p.parse(&line, i, &mut out).unwrap();
        }
        let secs = start.elapsed().as_secs_f64();
        let mb = (line.len() * n as usize) as f64 / 1e6;
        println!(
            "eslogger exec line ({} B) x {n}: {:.0} MB/s, {:.0} k lines/s",
            line.len(),
            mb / secs,
            n as f64 / secs / 1e3
        );
    }
}
