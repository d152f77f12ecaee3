//! Jamf Protect data forwarding (shared/docs/telemetry-formats.md §7): BSM-audit "telemetry"
//! (`header.event_name` `AUE_*`) and `GPProcessEvent` alerts. Vendor samples are pretty-printed
//! objects; forwarded streams are one object per line: both are read by
//! [`JsonStreamFramer`](crate::framing::JsonStreamFramer), each record located at its `{` line.
//!
//! Telemetry mapping, from the vendor samples (`tests/data/corpus/jamf_protect`):
//! - `AUE_EXECVE` → Exec. `subject` is the process after exec (its `process_name` is the new image)
//!   and `exec_chain_child.parent_pid` its parent. `identity` describes the image *before* exec:
//!   the sample exec'ing `/usr/libexec/od_user_homes` carries signer `com.apple.automountd`, the
//!   parent's binary. So the signing goes to the instigator, not to the new image.
//! - `AUE_POSIX_SPAWN` → Exec of `arguments.child_PID`, whose parent is `subject` (launchd in the
//!   sample). Its `path` token is a file action (`/dev/console`), not the image, so the path is left
//!   unknown; `identity` is the spawner's, so it is not given to the child.
//! - `AUE_FORK` → Fork (child `arguments.child_PID`), `AUE_EXIT` → Exit (`exit.status`).
//! - `AUE_CONNECT` → Connect to `socket_inet` (no socket type: protocol unknown).
//! - `AUE_lw_login` → Login, `AUE_logout` → Logout (loginwindow / sessionlogoutd, the console user).
//!   `AUE_SESSION_START`/`UPDATE` of a session with an audit user → UserPresent; the other
//!   `AUE_SESSION_*` are audit-session bookkeeping (launchd jobs with no audit user, or one session
//!   of many ending), not a console logout: skipped.
//! - Other `AUE_*` (BIND, auth_user, ...) are skipped by name.
//!
//! Alerts: `GPProcessEvent` → ProcessSeen for each of `related.processes` (the matched process and
//! its ancestry, oldest first), at `match.event.timestamp`. Not Exec: the list is a snapshot of
//! processes alive at alert time (Terminal started minutes earlier), and the event's numeric type
//! codes are undocumented. Other alert types are skipped.
//!
//! Host: `host_info.host_name` (telemetry) / `host.hostname` (alerts) unless `--host` forces one.
//! Signer-type codes are not mapped to "platform binary": the telemetry and alert samples number
//! them differently (Apple is 1 in one, 0 in the other) and neither is documented.

use crate::wire::json::{self, cut, host_port, HostNames, Obj};
use crate::{Parsed, RecordParser, Reject, RejectReason, SourceCtx};
use floodwatch_core::event::{
    Connect, Event, EventKind, ProcInfo, Proto, Session, SessionKind, Signing, Tty,
};
use floodwatch_core::time::NANOS_PER_SEC;
use floodwatch_core::Ts;
use serde_json::Value;
use std::sync::Arc;

/// BSM's "unset" audit user id.
const AUID_UNSET: u64 = 4_294_967_295;
/// BSM errno for EINPROGRESS: a non-blocking connect that has not finished, neither success nor
/// failure yet.
const BSM_EINPROGRESS: i64 = 150;
/// Darwin dev_t of /dev/null (major 3, minor 2): the "terminal" of processes without one.
const DEV_NULL: u64 = 0x0300_0002;

pub struct JamfParser {
    ctx: SourceCtx,
    hosts: HostNames,
}

fn obj<'a>(o: &'a Obj, k: &str) -> Option<&'a Obj> {
    o.get(k).and_then(Value::as_object)
}

fn int(o: &Obj, k: &str) -> Option<i64> {
    match o.get(k)? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn text(o: &Obj, k: &str) -> Option<String> {
    str_of(o, k).map(str::to_string)
}

/// [`text`] as the event model's shared text, in one allocation.
fn shared(o: &Obj, k: &str) -> Option<Arc<str>> {
    str_of(o, k).map(Arc::from)
}

fn str_of<'a>(o: &'a Obj, k: &str) -> Option<&'a str> {
    o.get(k).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn pid(o: &Obj, k: &str) -> Option<i32> {
    int(o, k).and_then(|v| i32::try_from(v).ok())
}

fn uid(o: &Obj, k: &str) -> Option<u32> {
    int(o, k).and_then(|v| u32::try_from(v).ok())
}

/// `1698841238.851668` (epoch seconds) exactly: through its decimal text, since an f64 product
/// would lose the last microseconds.
fn epoch_decimal(v: &Value) -> Option<Ts> {
    let text = match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => return None,
    };
    let (secs, frac) = text.split_once('.').unwrap_or((&text, ""));
    let secs: i64 = secs.parse().ok().filter(|s| *s > 0)?;
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let nanos: i64 = format!("{frac:0<9}").parse().ok()?;
    Some(Ts(secs.checked_mul(NANOS_PER_SEC)?.checked_add(nanos)?))
}

fn missing(what: &str) -> Reject {
    Reject::new(RejectReason::MissingField, what.to_string())
}

/// `identity{signer_id, team_id}`; an empty team id is no team.
fn identity(rec: &Obj) -> Signing {
    let Some(id) = obj(rec, "identity") else {
        return Signing::default();
    };
    Signing {
        signing_id: shared(id, "signer_id"),
        team_id: shared(id, "team_id"),
        platform_binary: None,
        cs_flags: None,
    }
}

/// `terminal_id.port` is the controlling terminal's dev_t: 0 and /dev/null mean none. A real tty's
/// device number cannot be named without the host's /dev, so it stays unknown.
fn tty_of(subject: &Obj) -> Tty {
    match obj(subject, "terminal_id").and_then(|t| int(t, "port")) {
        Some(0) => Tty::None,
        Some(p) if p as u64 == DEV_NULL => Tty::None,
        _ => Tty::Unknown,
    }
}

/// The `subject` token as a process: credentials, audit session and terminal.
fn subject_proc(subject: &Obj) -> Result<ProcInfo, Reject> {
    let pid = pid(subject, "process_id").ok_or_else(|| missing("subject.process_id"))?;
    let auid = int(subject, "audit_id")
        .filter(|a| *a as u64 != AUID_UNSET)
        .and_then(|a| u32::try_from(a).ok());
    Ok(ProcInfo {
        pid,
        session_id: pid_field(subject, "session_id"),
        path: shared(subject, "process_name"),
        uid: uid(subject, "user_id"),
        euid: uid(subject, "effective_user_id"),
        auid,
        username: text(subject, "user_name"),
        tty: tty_of(subject),
        ..ProcInfo::default()
    })
}

fn pid_field(o: &Obj, k: &str) -> Option<i32> {
    pid(o, k)
}

/// `exec_args.args` is an object keyed "1", "2", ...: in numeric key order.
fn exec_args(rec: &Obj) -> Option<Vec<String>> {
    let args = obj(rec, "exec_args").and_then(|e| obj(e, "args"))?;
    let mut v: Vec<(u64, String)> = args
        .iter()
        .filter_map(|(k, v)| Some((k.parse().ok()?, v.as_str()?.to_string())))
        .collect();
    v.sort_by_key(|(k, _)| *k);
    Some(v.into_iter().map(|(_, a)| a).collect())
}

fn parent_pid(rec: &Obj) -> Option<i32> {
    obj(rec, "exec_chain_child").and_then(|c| pid(c, "parent_pid"))
}

fn child_pid(rec: &Obj) -> Option<i32> {
    obj(rec, "arguments").and_then(|a| pid(a, "child_PID"))
}

fn remote_of(sock: &Obj) -> Option<String> {
    let ip = text(sock, "ip_address")?;
    Some(host_port(&ip, int(sock, "port")))
}

impl JamfParser {
    pub fn new(ctx: SourceCtx) -> Self {
        JamfParser {
            ctx,
            hosts: HostNames::default(),
        }
    }

    fn host(&mut self, own: Option<&str>) -> Arc<str> {
        self.hosts.get(&self.ctx, own)
    }

    fn push(&self, out: &mut Vec<Event>, ts: Ts, host: &Arc<str>, line: u64, kind: EventKind) {
        out.push(self.ctx.event_on(host.clone(), ts, line, kind));
    }

    fn telemetry(
        &mut self,
        rec: &Obj,
        header: &Obj,
        line: u64,
        out: &mut Vec<Event>,
    ) -> Result<Parsed, Reject> {
        let name = header
            .get("event_name")
            .and_then(Value::as_str)
            .ok_or_else(|| missing("header.event_name"))?;
        let secs = int(header, "time_seconds_epoch")
            .ok_or_else(|| missing("header.time_seconds_epoch"))?;
        let millis = int(header, "time_milliseconds_offset").unwrap_or(0);
        let ts = secs
            .checked_mul(NANOS_PER_SEC)
            .and_then(|n| n.checked_add(millis.clamp(0, 999) * 1_000_000))
            .map(Ts)
            .ok_or_else(|| {
                Reject::new(
                    RejectReason::BadTimestamp,
                    format!("time_seconds_epoch {secs}"),
                )
            })?;
        let host_name = obj(rec, "host_info").and_then(|h| h.get("host_name")?.as_str());
        let host = self.host(host_name);
        let subject = obj(rec, "subject").ok_or_else(|| missing("subject"))?;
        let kind = match name {
            "AUE_EXECVE" => {
                let mut target = subject_proc(subject)?;
                target.ppid = parent_pid(rec);
                target.args = exec_args(rec).map(Arc::from);
                // The image path is the first `path` token when there is one.
                if let Some(p) = rec
                    .get("path")
                    .and_then(Value::as_array)
                    .and_then(|a| a.first()?.as_str())
                {
                    target.path = Some(Arc::from(p));
                }
                let instigator = ProcInfo {
                    pid: target.pid,
                    ppid: target.ppid,
                    signing: identity(rec),
                    ..ProcInfo::default()
                };
                EventKind::Exec {
                    instigator: Some(Box::new(instigator)),
                    target: Box::new(target),
                }
            }
            "AUE_POSIX_SPAWN" => {
                let parent = subject_proc(subject)?;
                let child = child_pid(rec).ok_or_else(|| missing("arguments.child_PID"))?;
                let target = ProcInfo {
                    pid: child,
                    ppid: Some(parent.pid),
                    path: None,
                    args: exec_args(rec).map(Arc::from),
                    signing: Signing::default(),
                    ..parent
                };
                EventKind::Exec {
                    instigator: None,
                    target: Box::new(target),
                }
            }
            "AUE_FORK" => {
                let mut parent = subject_proc(subject)?;
                parent.signing = identity(rec);
                let child = child_pid(rec).ok_or_else(|| missing("arguments.child_PID"))?;
                let child = ProcInfo {
                    pid: child,
                    ppid: Some(parent.pid),
                    ..parent.clone()
                };
                EventKind::Fork {
                    parent: Box::new(parent),
                    child: Box::new(child),
                }
            }
            "AUE_EXIT" => {
                let mut process = subject_proc(subject)?;
                process.ppid = parent_pid(rec);
                process.signing = identity(rec);
                let status = obj(rec, "exit")
                    .and_then(|e| int(e, "status"))
                    .and_then(|s| i32::try_from(s).ok());
                EventKind::Exit {
                    process: Box::new(process),
                    status,
                }
            }
            "AUE_CONNECT" => {
                let p = subject_proc(subject)?;
                let sock = obj(rec, "socket_inet").ok_or_else(|| missing("socket_inet"))?;
                let error = obj(rec, "return").and_then(|r| int(r, "error"));
                EventKind::Connect(Box::new(Connect {
                    pid: Some(p.pid),
                    process_path: p.path.map(|p| p.to_string()),
                    uid: p.uid,
                    proto: Proto::Unknown,
                    remote: remote_of(sock),
                    success: match error {
                        Some(0) => Some(true),
                        Some(BSM_EINPROGRESS) | None => None,
                        Some(_) => Some(false),
                    },
                    invalid_utf8: false,
                }))
            }
            "AUE_lw_login" | "AUE_logout" | "AUE_SESSION_START" | "AUE_SESSION_UPDATE" => {
                let p = subject_proc(subject)?;
                let kind = match name {
                    "AUE_lw_login" => SessionKind::Login,
                    "AUE_logout" => SessionKind::Logout,
                    _ if p.auid.is_some() => SessionKind::UserPresent,
                    _ => return Ok(Parsed::Skipped("Jamf audit session without a user".into())),
                };
                let user = text(subject, "audit_user_name")
                    .filter(|u| u != "-1")
                    .or(p.username);
                EventKind::Session(Box::new(Session {
                    kind,
                    user,
                    uid: p.auid,
                    tty: None,
                    remote: None,
                }))
            }
            "AUE_SESSION_END" | "AUE_SESSION_CLOSE" => {
                return Ok(Parsed::Skipped(
                    "Jamf audit session end (not a console logout)".into(),
                ))
            }
            other => {
                return Ok(Parsed::Skipped(
                    format!("Jamf telemetry {}", cut(other)).into(),
                ))
            }
        };
        self.push(out, ts, &host, line, kind);
        Ok(Parsed::Events)
    }

    fn alert(
        &mut self,
        rec: &Obj,
        event_type: &str,
        line: u64,
        out: &mut Vec<Event>,
    ) -> Result<Parsed, Reject> {
        if event_type != "GPProcessEvent" {
            return Ok(Parsed::Skipped(
                format!("Jamf alert {}", cut(event_type)).into(),
            ));
        }
        let stamp = obj(rec, "match")
            .and_then(|m| obj(m, "event"))
            .and_then(|e| e.get("timestamp"))
            .ok_or_else(|| missing("match.event.timestamp"))?;
        let ts = epoch_decimal(stamp)
            .ok_or_else(|| Reject::new(RejectReason::BadTimestamp, format!("timestamp {stamp}")))?;
        let host_name = obj(rec, "host").and_then(|h| h.get("hostname")?.as_str());
        let host = self.host(host_name);
        let procs = obj(rec, "related")
            .and_then(|r| r.get("processes"))
            .and_then(Value::as_array)
            .ok_or_else(|| missing("related.processes"))?;
        let before = out.len();
        // Listed from the matched process up its ancestry: emitted oldest first.
        for p in procs.iter().rev() {
            let p = p
                .as_object()
                .ok_or_else(|| Reject::new(RejectReason::WrongType, "related.processes entry"))?;
            let pid = pid(p, "pid").ok_or_else(|| missing("related.processes[].pid"))?;
            let signing = obj(p, "signingInfo").map_or_else(Signing::default, |s| Signing {
                signing_id: shared(s, "appid"),
                team_id: shared(s, "teamid"),
                platform_binary: None,
                cs_flags: None,
            });
            let info = ProcInfo {
                pid,
                ppid: pid_field(p, "ppid"),
                original_ppid: pid_field(p, "originalParentPID"),
                responsible_pid: pid_field(p, "responsiblePID"),
                start_time: int(p, "startTimestamp")
                    .filter(|s| *s > 0)
                    .and_then(|s| s.checked_mul(NANOS_PER_SEC))
                    .map(Ts),
                path: shared(p, "path"),
                args: p.get("args").and_then(Value::as_array).map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_string))
                        .collect()
                }),
                // `uid` is the effective user (sudo's is 0 with `ruid` 501), `ruid` the real one.
                uid: uid(p, "ruid").or_else(|| uid(p, "uid")),
                euid: uid(p, "uid"),
                tty: match p.get("tty") {
                    Some(Value::String(t)) if !t.is_empty() => Tty::Some(t.clone()),
                    Some(Value::Null) => Tty::None,
                    _ => Tty::Unknown,
                },
                signing,
                ..ProcInfo::default()
            };
            self.push(out, ts, &host, line, EventKind::ProcessSeen(Box::new(info)));
        }
        if out.len() == before {
            return Ok(Parsed::Skipped("Jamf alert without processes".into()));
        }
        Ok(Parsed::Events)
    }
}

impl RecordParser for JamfParser {
    fn parse(&mut self, record: &str, line: u64, out: &mut Vec<Event>) -> Result<Parsed, Reject> {
        let rec = &json::object(record)?;
        if let Some(header) = obj(rec, "header") {
            return self.telemetry(rec, header, line, out);
        }
        // Alerts come bare or wrapped in `input` (the GPUnifiedLogEvent sample).
        let alert = obj(rec, "input")
            .filter(|i| i.contains_key("eventType"))
            .unwrap_or(rec);
        match alert.get("eventType").and_then(Value::as_str) {
            Some(t) => {
                let t = t.to_string();
                self.alert(alert, &t, line, out)
            }
            None => Err(missing("header.event_name or eventType")),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::{self, ctx, read_all};
    use crate::{sniff, Format, Sniffed};
    use floodwatch_core::event::{EventKind, SessionKind, Tty};

    fn corpus(name: &str) -> Vec<u8> {
        testutil::corpus(&format!("jamf_protect/{name}"))
    }

    /// All fourteen telemetry samples concatenated as they are (pretty-printed, `}` then `{`).
    fn all_telemetry() -> (Vec<u8>, Vec<String>) {
        let mut names: Vec<String> =
            std::fs::read_dir(testutil::corpus_path("jamf_protect/telemetry"))
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
        names.sort();
        let mut data = Vec::new();
        for n in &names {
            data.extend(corpus(&format!("telemetry/{n}")));
        }
        (data, names)
    }

    #[test]
    fn real_telemetry_samples_by_kind() {
        let (data, names) = all_telemetry();
        assert_eq!(names.len(), 14);
        assert_eq!(sniff(&data), Sniffed::Telemetry(Format::JamfProtect));
        let (ev, st) = read_all(&data, Format::JamfProtect, ctx("jamf.json"));
        assert_eq!(
            (st.records, st.events, st.skipped, st.rejected),
            (14, 8, 6, 0)
        );
        let kinds: Vec<&str> = ev.iter().map(|e| e.kind.name()).collect();
        // Sorted file order: BIND CONNECT EXECVE EXIT FORK POSIX_SPAWN SESSION_CLOSE SESSION_END
        // SESSION_START SESSION_UPDATE auth_user logout lw_login ssauthint.
        assert_eq!(
            kinds,
            ["connect", "exec", "exit", "fork", "exec", "session", "session", "session"]
        );
        assert_eq!(
            st.reasons().get("skipped: Jamf telemetry AUE_BIND"),
            Some(&1)
        );
        assert_eq!(
            st.reasons()
                .get("skipped: Jamf audit session end (not a console logout)"),
            Some(&2)
        );
        assert_eq!(
            st.reasons()
                .get("skipped: Jamf audit session without a user"),
            Some(&1)
        );
        assert!(ev.iter().all(|e| &*e.host == "VMAC-2C23RW4DY"));
    }

    #[test]
    fn execve_fields_as_in_the_sample() {
        let data = corpus("telemetry/AUE_EXECVE.json");
        let (ev, st) = read_all(&data, Format::JamfProtect, ctx("x.json"));
        assert_eq!((st.events, st.rejected), (1, 0));
        assert_eq!(ev[0].ts.0, 1_571_164_212_223_000_000);
        assert_eq!(ev[0].origin.line, 1);
        let EventKind::Exec { instigator, target } = &ev[0].kind else {
            panic!("not exec")
        };
        assert_eq!(target.pid, 25601);
        assert_eq!(target.ppid, Some(25113));
        assert_eq!(target.path.as_deref(), Some("/usr/libexec/od_user_homes"));
        assert_eq!(
            target.args.as_deref(),
            Some(&["/usr/libexec/od_user_homes".to_string(), ".Trashes".into()][..])
        );
        assert_eq!(
            (target.uid, target.euid, target.auid),
            (Some(0), Some(0), None)
        );
        assert_eq!(target.session_id, Some(100000));
        assert_eq!(target.username.as_deref(), Some("root"));
        assert_eq!(target.tty, Tty::None);
        // The identity is the pre-exec image's (automountd's signer), not od_user_homes'.
        let inst = instigator.as_deref().unwrap();
        assert_eq!(
            inst.signing.signing_id.as_deref(),
            Some("com.apple.automountd")
        );
        assert_eq!(inst.signing.team_id, None);
        assert_eq!(target.signing.signing_id, None);
    }

    #[test]
    fn spawn_fork_exit_connect_session_fields() {
        let one = |f: &str| {
            let (ev, st) = read_all(&corpus(f), Format::JamfProtect, ctx("x.json"));
            assert_eq!((st.events, st.rejected), (1, 0), "{f}");
            ev.into_iter().next().unwrap()
        };
        let e = one("telemetry/AUE_POSIX_SPAWN.json");
        let EventKind::Exec { instigator, target } = &e.kind else {
            panic!()
        };
        assert!(instigator.is_none());
        assert_eq!((target.pid, target.ppid), (25971, Some(1)));
        assert_eq!(target.path, None);
        assert_eq!(target.args.as_ref().unwrap()[0], "xpcproxy");
        assert_eq!(e.ts.0, 1_571_164_480_882_000_000);

        let e = one("telemetry/AUE_FORK.json");
        let EventKind::Fork { parent, child } = &e.kind else {
            panic!()
        };
        assert_eq!(
            (parent.pid, child.pid, child.ppid),
            (60068, 72350, Some(60068))
        );
        assert_eq!(parent.signing.team_id.as_deref(), Some("VEKTX9H2N7"));
        assert_eq!((parent.uid, parent.auid), (Some(502), Some(502)));

        let e = one("telemetry/AUE_EXIT.json");
        let EventKind::Exit { process, status } = &e.kind else {
            panic!()
        };
        assert_eq!(
            (process.pid, process.ppid, *status),
            (33206, Some(30537), Some(0))
        );

        let e = one("telemetry/AUE_CONNECT.json");
        let EventKind::Connect(c) = &e.kind else {
            panic!()
        };
        assert_eq!(c.pid, Some(11800));
        assert_eq!(c.remote.as_deref(), Some("127.0.0.1:6468"));
        assert_eq!(c.process_path, None);
        // error 150 is BSM's EINPROGRESS: neither success nor failure yet.
        assert_eq!(c.success, None);
        assert_eq!(c.uid, Some(502));

        let e = one("telemetry/AUE_lw_login.json");
        let EventKind::Session(s) = &e.kind else {
            panic!()
        };
        assert_eq!(s.kind, SessionKind::Login);
        assert_eq!(
            (s.user.as_deref(), s.uid),
            (Some("john_appleseed"), Some(502))
        );
        let e = one("telemetry/AUE_logout.json");
        let EventKind::Session(s) = &e.kind else {
            panic!()
        };
        assert_eq!(s.kind, SessionKind::Logout);
        let e = one("telemetry/AUE_SESSION_UPDATE.json");
        let EventKind::Session(s) = &e.kind else {
            panic!()
        };
        assert_eq!(s.kind, SessionKind::UserPresent);
    }

    #[test]
    fn real_process_alert_is_the_ancestry_oldest_first() {
        let data = corpus("alerts/GPProcessEvent.json");
        assert_eq!(sniff(&data), Sniffed::Telemetry(Format::JamfProtect));
        let (ev, st) = read_all(&data, Format::JamfProtect, ctx("a.json"));
        assert_eq!((st.records, st.events, st.rejected), (1, 7, 0));
        let procs: Vec<_> = ev
            .iter()
            .map(|e| match &e.kind {
                EventKind::ProcessSeen(p) => p,
                k => panic!("{}", k.name()),
            })
            .collect();
        let pids: Vec<i32> = procs.iter().map(|p| p.pid).collect();
        assert_eq!(pids, [765, 3062, 3063, 3096, 3098, 3099, 3136]);
        assert!(ev.iter().all(|e| e.ts.0 == 1_698_841_238_851_668_000));
        assert!(ev.iter().all(|e| &*e.host == "VMAC-2C23RW4DY"));
        let sudo = procs[4];
        assert_eq!(sudo.path.as_deref(), Some("/usr/bin/sudo"));
        assert_eq!((sudo.uid, sudo.euid), (Some(501), Some(0)));
        assert_eq!(sudo.tty, Tty::Some("/dev/ttys016".into()));
        assert_eq!((sudo.ppid, sudo.responsible_pid), (Some(3096), Some(765)));
        assert_eq!(
            sudo.start_time.map(|t| t.0),
            Some(1_698_841_234_000_000_000)
        );
        assert_eq!(sudo.signing.signing_id.as_deref(), Some("com.apple.sudo"));
        // Terminal, login and -zsh have no `tty` key at all (-zsh surely had one): absent is
        // unknown, not "no terminal".
        assert_eq!(procs[0].tty, Tty::Unknown);
        assert_eq!(procs[2].tty, Tty::Unknown);
        let launcher = procs[5];
        assert_eq!(launcher.signing.team_id.as_deref(), Some("483DWKW443"));
        assert_eq!(
            launcher.args.as_deref().map(<[String]>::len),
            Some(2),
            "{:?}",
            launcher.args
        );
    }

    #[test]
    fn ndjson_forwarding_malformed_and_unknown_records_are_located() {
        // One object per line (as forwarded), then a broken object, an unknown event, a record of
        // no known kind and a truncated last object.
        let exec = String::from_utf8(corpus("telemetry/AUE_EXECVE.json")).unwrap();
        let exec: serde_json::Value = serde_json::from_str(&exec).unwrap();
        let line = exec.to_string();
        let text = format!(
            "{line}\n{{\"header\": {{\"event_name\": \"AUE_EXECVE\"}}, \"subject\": {{}}}}\n{{\"header\":{{\"event_name\":\"AUE_MAC_SYSCALL\",\"time_seconds_epoch\":1}},\"subject\":{{}}}}\n{{\"foo\": 1}}\n{line}\n{{\"header\": {{"
        );
        assert_eq!(
            sniff(text.as_bytes()),
            Sniffed::Telemetry(Format::JamfProtect)
        );
        let (ev, st) = read_all(text.as_bytes(), Format::JamfProtect, ctx("n.json"));
        assert_eq!(
            (st.records, st.events, st.skipped, st.rejected),
            (6, 2, 1, 3)
        );
        assert_eq!(ev[1].origin.line, 5);
        let got: Vec<(u64, &str)> = st
            .samples
            .iter()
            .map(|s| (s.line, s.reason.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (2, "missing field"),
                (4, "missing field"),
                (6, "truncated last line")
            ]
        );
        assert_eq!(st.samples[0].detail, "header.time_seconds_epoch");
        assert_eq!(
            st.reasons().get("skipped: Jamf telemetry AUE_MAC_SYSCALL"),
            Some(&1)
        );
    }

    /// Mutated and cut Jamf and Elastic streams never panic; every record is counted once.
    #[test]
    fn mutated_json_streams_do_not_panic() {
        let (jamf, _) = all_telemetry();
        let elastic = testutil::corpus("elastic_defend/endpointpkg_network_sample_event.json");
        let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for (data, fmt) in [
            (jamf, Format::JamfProtect),
            (elastic, Format::ElasticDefend),
        ] {
            for _ in 0..300 {
                let mut d = data.clone();
                for _ in 0..1 + next() % 6 {
                    let at = (next() % d.len() as u64) as usize;
                    d[at] = b"{}[]\"\\:,\n0a\xE9"[(next() % 12) as usize];
                }
                d.truncate(1 + (next() % d.len() as u64) as usize);
                let (ev, st) = read_all(&d, fmt, ctx("m"));
                assert_eq!(ev.len() as u64, st.events);
                assert!(st.records <= st.events + st.skipped + st.rejected, "{st:?}");
            }
        }
    }

    #[test]
    fn host_forced_wins_over_the_record() {
        let data = corpus("telemetry/AUE_FORK.json");
        let mut c = ctx("f.json");
        c.host_forced = true;
        let (ev, _) = read_all(&data, Format::JamfProtect, c);
        assert_eq!(&*ev[0].host, "testhost");
    }
}
