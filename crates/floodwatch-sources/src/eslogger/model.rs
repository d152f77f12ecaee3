//! The eslogger message as serde reads it: only the keys the parser uses (serde skips the rest),
//! strings borrowed from the line where they have no escapes, and the shapes that differ between
//! macOS releases (audit tokens as objects or arrays, `tty` absent or null, `uid` as a union).

use crate::wire::intern::{Text, TextList};
use crate::wire::json::JsonStr;
use floodwatch_core::event::SessionKind;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;

#[derive(Deserialize)]
pub(crate) struct Message<'a> {
    pub(crate) version: Option<u32>,
    #[serde(borrow)]
    pub(crate) time: JsonStr<'a>,
    #[serde(borrow)]
    pub(crate) process: EsProcess<'a>,
    #[serde(borrow)]
    pub(crate) event: EsEvent<'a>,
}

/// es_process_t.
#[derive(Deserialize)]
pub(crate) struct EsProcess<'a> {
    pub(crate) audit_token: Option<AuditToken>,
    pub(crate) parent_audit_token: Option<AuditToken>,
    pub(crate) responsible_audit_token: Option<AuditToken>,
    pub(crate) ppid: Option<i32>,
    pub(crate) original_ppid: Option<i32>,
    pub(crate) session_id: Option<i32>,
    #[serde(borrow)]
    pub(crate) executable: Option<EsFile<'a>>,
    #[serde(borrow)]
    pub(crate) signing_id: Option<Text<'a>>,
    #[serde(borrow)]
    pub(crate) team_id: Option<Text<'a>>,
    pub(crate) codesigning_flags: Option<u32>,
    pub(crate) is_platform_binary: Option<bool>,
    #[serde(borrow)]
    pub(crate) start_time: Option<JsonStr<'a>>,
    #[serde(borrow, default)]
    pub(crate) tty: TtyField<'a>,
}

/// es_file_t: only the path (its `stat` block is skipped).
#[derive(Deserialize)]
pub(crate) struct EsFile<'a> {
    #[serde(borrow)]
    pub(crate) path: Option<Text<'a>>,
}

/// `tty` absent (older/other producers: unknown), `null` (no terminal: launchd/XPC children) or a file.
#[derive(Default)]
pub(crate) enum TtyField<'a> {
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
pub(crate) struct AuditToken {
    pub(crate) auid: Option<u32>,
    pub(crate) euid: Option<u32>,
    pub(crate) ruid: Option<u32>,
    pub(crate) pid: Option<i32>,
    pub(crate) pidversion: Option<u32>,
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
pub(crate) struct ExecEvent<'a> {
    #[serde(borrow)]
    pub(crate) target: EsProcess<'a>,
    #[serde(borrow)]
    pub(crate) args: Option<TextList<'a>>,
    #[serde(borrow)]
    pub(crate) cwd: Option<EsFile<'a>>,
}

#[derive(Deserialize)]
pub(crate) struct ForkEvent<'a> {
    #[serde(borrow)]
    pub(crate) child: EsProcess<'a>,
}

#[derive(Deserialize)]
pub(crate) struct ExitEvent {
    pub(crate) stat: Option<i32>,
}

/// The session-context events (ESMessage.h es_event_lw_session_*_t, es_event_openssh_*_t,
/// es_event_screensharing_*_t, es_event_login_*_t). No real eslogger line of these was seen, so every
/// field is optional and one payload type serves them all.
#[derive(Deserialize)]
pub(crate) struct SessionPayload<'a> {
    #[serde(borrow)]
    pub(crate) username: Option<JsonStr<'a>>,
    #[serde(borrow)]
    pub(crate) source_address: Option<JsonStr<'a>>,
    pub(crate) success: Option<bool>,
    pub(crate) has_uid: Option<bool>,
    pub(crate) uid: Option<UidField>,
    #[serde(borrow)]
    pub(crate) authentication_username: Option<JsonStr<'a>>,
    #[serde(borrow)]
    pub(crate) session_username: Option<JsonStr<'a>>,
}

/// openssh_login / login_login carry `uid` as a C union (`uid.uid`): accept `501` or `{"uid":501}`.
#[derive(Clone, Copy)]
pub(crate) struct UidField(pub(crate) Option<u32>);

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
pub(crate) enum SessionEvent {
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

    pub(crate) fn session_kind(self) -> SessionKind {
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

/// sudo / su (es_event_sudo_t, es_event_su_t): only whether it succeeded.
#[derive(Deserialize)]
pub(crate) struct PrivilegePayload {
    pub(crate) success: Option<bool>,
}

/// `event` is an object with one key, the short event name. We dispatch on that key rather than on
/// `event_type` (whose numbering shifts between SDKs) and skip the payload of events we do not use.
pub(crate) enum EsEvent<'a> {
    Exec(ExecEvent<'a>),
    Fork(ForkEvent<'a>),
    Exit(ExitEvent),
    Session(SessionEvent, SessionPayload<'a>),
    /// `sudo` or `su`, with its outcome.
    Privilege(&'static str, PrivilegePayload),
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
                        "sudo" => EsEvent::Privilege("sudo", map.next_value()?),
                        "su" => EsEvent::Privilege("su", map.next_value()?),
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
