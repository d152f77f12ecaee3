//! Jamf Protect's current telemetry stream (the "unified" telemetry, `metadata.product` "Device
//! Telemetry Stream", `metadata.schemaVersion` "1.0"; Protect 5.x/6.x on macOS 14 and later). The
//! older BSM layout (`header.event_name` `AUE_*`) is [`crate::jamf`].
//!
//! Each record is an Endpoint Security message (the same `process` / `event` / `time` objects as
//! eslogger's, ES message version 7 in the samples) with Jamf's envelope around it: `host` (hostname,
//! ips, os, protectVersion), `metadata`, `event_type` as ES numbers it, `glob_seq_num`. So the ES
//! part is read through eslogger's serde model and normalization (`crate::eslogger`), and this module
//! adds only what differs (samples: `tests/data/corpus/jamf_protect_telemetry`):
//! - Host: `host.hostname` unless `--host` forces one.
//! - A process without a `tty` key has no terminal: Jamf drops null keys (`team_id` of Apple binaries
//!   is absent the same way; one 6.0 record writes `"tty":null` explicitly), where eslogger always
//!   writes `tty` and an absent key means "not known".
//! - `exec` → Exec (argv, cwd, ppid, original ppid, responsible pid, session, audit user, tty,
//!   signing id, team id, platform binary, code-signing flags), `fork` → Fork, `exit` → Exit.
//! - `lw_session_*`, `login_*`, `openssh_*`, `screensharing_*` → Session events (failed attempts
//!   skipped), exactly as eslogger's.
//! - `sudo` / `su` → ProcessSeen of the sudo/su process (its parent, tty, session and users are the
//!   context of what it runs next); a failed one is skipped.
//! - Jamf's own records without a `process` (`file_collection`, `bios_uefi`, `system_performance`)
//!   and every other ES event are skipped by name.

use crate::eslogger::model::{EsEvent, EsProcess};
use crate::eslogger::{event_kind, proc_info, timestamp};
use crate::wire::intern::Interner;
use crate::wire::json::{cut, json_reject, HostNames, JsonStr};
use crate::{Parsed, RecordParser, Reject, RejectReason, SourceCtx};
use floodwatch_core::event::{Event, EventKind, ProcInfo, Tty};
use serde::Deserialize;

/// How skip reasons name this source.
const SOURCE: &str = "Jamf telemetry";

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow)]
    time: JsonStr<'a>,
    #[serde(borrow)]
    process: Option<EsProcess<'a>>,
    #[serde(borrow)]
    event: EsEvent<'a>,
    #[serde(borrow)]
    host: Option<Host<'a>>,
}

#[derive(Deserialize)]
struct Host<'a> {
    #[serde(borrow)]
    hostname: Option<JsonStr<'a>>,
}

pub struct JamfTelemetryParser {
    ctx: SourceCtx,
    hosts: HostNames,
    texts: Interner,
}

impl JamfTelemetryParser {
    pub fn new(ctx: SourceCtx) -> Self {
        JamfTelemetryParser {
            ctx,
            hosts: HostNames::default(),
            texts: Interner::default(),
        }
    }
}

/// Jamf omits null keys: a process object without `tty` had none (see the module doc).
fn absent_tty_is_none(p: &mut ProcInfo) {
    if p.tty == Tty::Unknown {
        p.tty = Tty::None;
    }
}

fn no_tty_unless_given(kind: &mut EventKind) {
    match kind {
        EventKind::Exec { instigator, target } => {
            if let Some(i) = instigator {
                absent_tty_is_none(i);
            }
            absent_tty_is_none(target);
        }
        EventKind::Fork { parent, child } => {
            absent_tty_is_none(parent);
            absent_tty_is_none(child);
        }
        EventKind::Exit { process, .. } | EventKind::ProcessSeen(process) => {
            absent_tty_is_none(process)
        }
        EventKind::Traffic(_) | EventKind::Connect(_) | EventKind::Session(_) => {}
    }
}

impl RecordParser for JamfTelemetryParser {
    fn parse(&mut self, record: &str, line: u64, out: &mut Vec<Event>) -> Result<Parsed, Reject> {
        let msg: Message = serde_json::from_str(record).map_err(json_reject)?;
        let mut kind = match (msg.event, msg.process) {
            (EsEvent::Empty, _) => {
                return Err(Reject::new(
                    RejectReason::BadValue,
                    "event object has no event key",
                ))
            }
            (EsEvent::Other(name), _) => {
                return Ok(Parsed::Skipped(
                    format!("{SOURCE} {} (not used)", cut(name.as_str())).into(),
                ))
            }
            (_, None) => return Err(Reject::new(RejectReason::MissingField, "process")),
            (EsEvent::Privilege(name, p), Some(mut process)) => {
                if p.success == Some(false) {
                    return Ok(Parsed::Skipped(
                        format!("{SOURCE} {name} failed (no process context)").into(),
                    ));
                }
                EventKind::ProcessSeen(Box::new(proc_info(
                    &mut process,
                    "process",
                    &mut self.texts,
                )?))
            }
            (mut event, Some(mut process)) => {
                match event_kind(&mut event, &mut process, SOURCE, &mut self.texts)? {
                    Ok(kind) => kind,
                    Err(skip) => return Ok(Parsed::Skipped(skip)),
                }
            }
        };
        no_tty_unless_given(&mut kind);
        let ts = timestamp("time", msg.time.as_str())?;
        let own = msg.host.as_ref().and_then(|h| h.hostname.as_ref());
        let host = self.hosts.get(&self.ctx, own.map(JsonStr::as_str));
        out.push(self.ctx.event_on(host, ts, line, kind));
        Ok(Parsed::Events)
    }
}

#[cfg(test)]
mod tests;
