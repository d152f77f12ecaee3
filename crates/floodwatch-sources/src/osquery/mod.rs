//! osquery result logs (JSON lines) → Exec / Fork / Exit / ProcessSeen / Connect / Session events.
//!
//! Format facts: shared/docs/telemetry-formats.md §4. One line is one envelope in one of three shapes:
//! event (`columns` + `action` added/removed), snapshot (`snapshot: [rows]`) or batch
//! (`diffResults: {added, removed}`). The envelope does not name the table (`name` is the user's query
//! name), so the table is inferred from the row's columns, with the query name as a fallback.
//!
//! Numbers come as JSON strings (default, and every old log) or as numbers (`--logger_numerics`), in
//! the envelope and in the rows alike; both are accepted everywhere. A column that should be a number
//! but is not is a "bad value" reject naming the column, never a panic.
//!
//! The envelope and its rows as serde reads them (and the typed column accessors) are in `model`.

mod model;
#[cfg(test)]
mod tests;

use crate::wire::json::{cut, host_port, json_reject, HostNames, JsonStr};
use crate::{Parsed, RecordParser, Reject, RejectReason, SkipReason, SourceCtx};
use floodwatch_core::event::{
    Connect, Event, EventKind, Origin, ProcInfo, Proto, Session, SessionKind, Signing, Tty,
    CS_ADHOC, CS_SIGNED, CS_VALID,
};
use floodwatch_core::time::{days_from_civil, parse_time_of_day, NANOS_PER_DAY};
use floodwatch_core::Ts;
use model::{Envelope, Row, Val};
use std::sync::Arc;

pub struct OsqueryParser {
    ctx: SourceCtx,
    hosts: HostNames,
}

impl OsqueryParser {
    pub fn new(ctx: SourceCtx) -> Self {
        OsqueryParser {
            ctx,
            hosts: HostNames::default(),
        }
    }

    /// The record's own host (`hostIdentifier`, legacy `hostname`) unless `--host` forces one.
    fn host(&mut self, env: &Envelope<'_>) -> Arc<str> {
        let own = env
            .host_identifier
            .as_ref()
            .or(env.hostname.as_ref())
            .map(JsonStr::as_str);
        self.hosts.get(&self.ctx, own)
    }
}

impl RecordParser for OsqueryParser {
    fn parse(&mut self, record: &str, line: u64, out: &mut Vec<Event>) -> Result<Parsed, Reject> {
        let env: Envelope = serde_json::from_str(record).map_err(json_reject)?;
        let rows = match RowSet::of(&env) {
            Ok(rows) => rows,
            Err(outcome) => return outcome,
        };
        let Some(sample) = rows.added.first().or(rows.removed.first()) else {
            return Ok(Parsed::Skipped("osquery result without rows".into()));
        };
        let query = env.name.as_ref().map_or("(unnamed)", JsonStr::as_str);
        let Some(table) = Table::from_columns(sample).or_else(|| Table::from_name(query)) else {
            return Ok(Parsed::Skipped(
                format!(
                    "osquery query {} is not a table floodwatch reads",
                    cut(query)
                )
                .into(),
            ));
        };
        if rows.added.is_empty() {
            // Differential "removed" rows: an event that left the result set, or a process/socket that
            // is gone. Neither is something that happened at this time.
            return Ok(Parsed::Skipped(
                "osquery removed rows (differential, not used)".into(),
            ));
        }
        let env_ts = envelope_time(&env);
        let host = self.host(&env);
        let origin = self.ctx.origin(line);
        let start = out.len();
        match push_rows(table, &rows.added, &env_ts, &host, origin, out) {
            Ok(_) if out.len() > start => Ok(Parsed::Events),
            Ok(skip) => Ok(Parsed::Skipped(
                skip.unwrap_or_else(|| "osquery rows not used".into()),
            )),
            Err(rej) => {
                // One bad row rejects the whole record: no half-read snapshots.
                out.truncate(start);
                Err(rej)
            }
        }
    }
}

/// Pushes one event per usable row; returns the first skip reason, for records without events.
fn push_rows(
    table: Table,
    rows: &[&Row<'_>],
    env_ts: &Result<Ts, Reject>,
    host: &Arc<str>,
    origin: Origin,
    out: &mut Vec<Event>,
) -> Result<Option<SkipReason>, Reject> {
    let mut first_skip = None;
    for row in rows {
        match row_event(table, row)? {
            RowOut::Event(kind) => {
                let ts = match table.event_time(row) {
                    Some(ts) => ts,
                    None => env_ts.clone()?,
                };
                out.push(Event {
                    ts,
                    host: host.clone(),
                    origin,
                    kind,
                });
            }
            RowOut::Skip(why) => {
                first_skip.get_or_insert(why);
            }
        }
    }
    Ok(first_skip)
}

/// The rows of one envelope, whatever its shape.
struct RowSet<'e, 'a> {
    added: Vec<&'e Row<'a>>,
    removed: Vec<&'e Row<'a>>,
}

impl<'e, 'a> RowSet<'e, 'a> {
    /// `Err` carries the whole record's outcome when it holds no result rows at all.
    fn of(env: &'e Envelope<'a>) -> Result<Self, Result<Parsed, Reject>> {
        let mut rows = RowSet {
            added: Vec::new(),
            removed: Vec::new(),
        };
        let mut shaped = false;
        if let Some(cols) = &env.columns {
            shaped = true;
            match env.action.as_ref().map(JsonStr::as_str) {
                Some("removed") => rows.removed.push(cols),
                _ => rows.added.push(cols),
            }
        }
        if let Some(snapshot) = &env.snapshot {
            shaped = true;
            rows.added.extend(snapshot);
        }
        if let Some(diff) = &env.diff_results {
            shaped = true;
            rows.added.extend(diff.added.iter().flatten());
            rows.removed.extend(diff.removed.iter().flatten());
        }
        if shaped {
            return Ok(rows);
        }
        // osquery's status log (severity/filename/message) may be shipped to the same place.
        if env.severity.is_some() && env.message.is_some() {
            return Err(Ok(Parsed::Skipped(
                "osquery status log line (not a result)".into(),
            )));
        }
        Err(Err(Reject::new(
            RejectReason::MissingField,
            "none of columns, snapshot or diffResults",
        )))
    }
}

/// The record's time: `unixTime` (number or string), else `calendarTime`.
fn envelope_time(env: &Envelope<'_>) -> Result<Ts, Reject> {
    if let Some(Ok(Some(secs))) = env.unix_time.as_ref().map(Val::int) {
        if secs > 0 {
            return Ok(Ts::from_secs(secs));
        }
    }
    match &env.calendar_time {
        Some(c) => parse_calendar_time(c.as_str())
            .ok_or_else(|| Reject::new(RejectReason::BadTimestamp, format!("calendarTime {c:?}"))),
        None => match &env.unix_time {
            Some(u) => Err(Reject::new(
                RejectReason::BadTimestamp,
                format!("unixTime {u:?}"),
            )),
            None => Err(Reject::new(
                RejectReason::MissingField,
                "unixTime or calendarTime",
            )),
        },
    }
}

/// `Mon Jan  8 14:51:55 2018 UTC` (day padded with a space, not a zero).
fn parse_calendar_time(s: &str) -> Option<Ts> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mut it = s.split_ascii_whitespace();
    let _weekday = it.next()?;
    let month = it.next()?;
    let month = MONTHS.iter().position(|m| *m == month)? as u32 + 1;
    let day: u32 = it.next()?.parse().ok()?;
    let time_of_day = parse_time_of_day(it.next()?)?;
    let year: i64 = it.next()?.parse().ok()?;
    if !matches!(it.next(), None | Some("UTC") | Some("GMT")) || it.next().is_some() {
        return None;
    }
    if !(1..=31).contains(&day) || !(1..=9999).contains(&year) {
        return None;
    }
    // Past year 2262 the nanosecond count no longer fits: saturate (the engine then rejects the
    // event as out of range) instead of overflowing.
    Some(Ts(days_from_civil(year, month, day)
        .saturating_mul(NANOS_PER_DAY)
        .saturating_add(time_of_day)))
}

// ---------------------------------------------------------------------------------------------
// Tables

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Table {
    EsProcessEvents,
    ProcessEvents,
    SocketEvents,
    ProcessOpenSockets,
    LoggedInUsers,
    Processes,
}

impl Table {
    /// Name-fallback order matters: `es_process_events` contains `process_events`.
    const BY_NAME: [(&'static str, Table); 6] = [
        ("es_process_events", Table::EsProcessEvents),
        ("process_events", Table::ProcessEvents),
        ("socket_events", Table::SocketEvents),
        ("process_open_sockets", Table::ProcessOpenSockets),
        ("logged_in_users", Table::LoggedInUsers),
        ("processes", Table::Processes),
    ];

    /// Each table by columns only it has among the ones we read (specs: telemetry-formats.md §4).
    fn from_columns(row: &Row<'_>) -> Option<Table> {
        let any = |cols: &[&str]| cols.iter().any(|c| row.has(c));
        if row.has("event_type")
            && row.has("pid")
            && any(&[
                "pidversion",
                "responsible_pid",
                "original_parent",
                "signing_id",
                "cmdline",
                "child_pid",
                "exit_code",
            ])
        {
            return Some(Table::EsProcessEvents);
        }
        if row.has("action") && row.has("remote_address") && any(&["fd", "family", "remote_port"]) {
            return Some(Table::SocketEvents);
        }
        if row.has("pid")
            && row.has("cmdline")
            && any(&[
                "auid",
                "overflows",
                "cmdline_size",
                "env_count",
                "btime",
                "syscall",
            ])
        {
            return Some(Table::ProcessEvents);
        }
        if row.has("remote_address") && row.has("remote_port") && row.has("local_address") {
            return Some(Table::ProcessOpenSockets);
        }
        if row.has("type") && row.has("user") && row.has("tty") {
            return Some(Table::LoggedInUsers);
        }
        if row.has("pid")
            && any(&[
                "on_disk",
                "resident_size",
                "wired_size",
                "threads",
                "pgroup",
                "nice",
                "upid",
            ])
        {
            return Some(Table::Processes);
        }
        None
    }

    /// A query whose columns were cut down by its SELECT: its name usually still holds the table.
    fn from_name(query: &str) -> Option<Table> {
        Table::BY_NAME
            .iter()
            .find(|(name, _)| query.contains(name))
            .map(|&(_, t)| t)
    }

    /// Event tables carry the event's own time in `time` (unix seconds); it beats the log time,
    /// which is when the scheduled query ran. `logged_in_users.time` is the login time, not when the
    /// user was seen, so it is not used.
    fn event_time(self, row: &Row<'_>) -> Option<Ts> {
        match self {
            Table::EsProcessEvents | Table::ProcessEvents | Table::SocketEvents => {
                match row.get("time").map(Val::int) {
                    Some(Ok(Some(secs))) if secs > 0 => Some(Ts::from_secs(secs)),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

enum RowOut {
    Event(EventKind),
    Skip(SkipReason),
}

fn row_event(table: Table, row: &Row<'_>) -> Result<RowOut, Reject> {
    match table {
        Table::EsProcessEvents => es_process_event(row),
        Table::ProcessEvents => bsm_process_event(row),
        Table::SocketEvents => socket_event(row),
        Table::ProcessOpenSockets => open_socket(row),
        Table::Processes => process_seen(row),
        Table::LoggedInUsers => logged_in_user(row),
    }
}

/// `es_process_events`: osquery's own Endpoint Security client. The row describes the message's
/// process (for exec: the new image; for fork: the parent, with `child_pid`).
fn es_process_event(row: &Row<'_>) -> Result<RowOut, Reject> {
    let event_type = row.text("event_type");
    if !matches!(event_type.as_deref(), Some("exec" | "fork" | "exit")) {
        return Ok(RowOut::Skip(
            "osquery es_process_events row of another event type (not used)".into(),
        ));
    }
    let p = ProcInfo {
        pid: row.required_pid("pid")?,
        pidversion: row.id("pidversion")?,
        ppid: row.pid("parent")?,
        original_ppid: row.pid("original_parent")?,
        responsible_pid: row.pid("responsible_pid")?,
        session_id: row.pid("session_id")?,
        path: row.shared("path"),
        // osquery quotes arguments that hold a space or a quote (std::quoted).
        args: row
            .text("cmdline")
            .map(|c| Arc::from(split_cmdline(&c, true))),
        cwd: row.shared("cwd"),
        uid: row.id("uid")?,
        // Note: some osquery releases fill `euid` from the egid (es_utils.cpp); read as given.
        euid: row.id("euid")?,
        username: row.string("username"),
        // es_process_events has no tty column.
        tty: Tty::Unknown,
        signing: Signing {
            signing_id: row.shared("signing_id"),
            team_id: row.shared("team_id"),
            platform_binary: row.flag("platform_binary")?,
            cs_flags: row.raw_text("codesigning_flags").map(cs_flags_from_list),
        },
        ..ProcInfo::default()
    };
    let kind = match event_type.as_deref() {
        Some("exec") => EventKind::Exec {
            instigator: None,
            target: Box::new(p),
        },
        Some("fork") => {
            let child = fork_child(&p, row.required_pid("child_pid")?);
            EventKind::Fork {
                parent: Box::new(p),
                child: Box::new(child),
            }
        }
        _ => EventKind::Exit {
            status: row.int32("exit_code")?,
            process: Box::new(p),
        },
    };
    Ok(RowOut::Event(kind))
}

/// A forked child runs its parent's image as its parent's user until it execs.
fn fork_child(parent: &ProcInfo, pid: i32) -> ProcInfo {
    ProcInfo {
        pid,
        ppid: Some(parent.pid),
        original_ppid: Some(parent.pid),
        session_id: parent.session_id,
        responsible_pid: parent.responsible_pid,
        path: parent.path.clone(),
        cwd: parent.cwd.clone(),
        uid: parent.uid,
        euid: parent.euid,
        username: parent.username.clone(),
        signing: parent.signing.clone(),
        ..ProcInfo::default()
    }
}

/// osquery's `codesigning_flags` inverts the common bits: it lists NOT_VALID, ADHOC, NOT_RUNTIME,
/// INSTALLER (joined by ", "). An empty list is a valid, signed, hardened binary.
fn cs_flags_from_list(list: &str) -> u32 {
    let mut valid = true;
    let mut flags = 0;
    for flag in list.split(',').map(str::trim) {
        match flag {
            "NOT_VALID" => valid = false,
            "ADHOC" => flags |= CS_ADHOC,
            _ => {}
        }
    }
    if valid {
        flags |= CS_VALID | CS_SIGNED;
    }
    flags
}

/// `process_events` (OpenBSM on macOS, audit on Linux): exec events.
fn bsm_process_event(row: &Row<'_>) -> Result<RowOut, Reject> {
    // Linux audit rows name their syscall; only the exec family starts a new image.
    if let Some(syscall) = row.text("syscall") {
        if !syscall.starts_with("exec") {
            return Ok(RowOut::Skip(
                "osquery process_events row that is not an exec (not used)".into(),
            ));
        }
    }
    let target = ProcInfo {
        pid: row.required_pid("pid")?,
        ppid: row.pid("parent")?,
        path: row.shared("path"),
        args: row
            .text("cmdline")
            .map(|c| Arc::from(split_cmdline(&c, false))),
        cwd: row.shared("cwd"),
        uid: row.id("uid")?,
        euid: row.id("euid")?,
        auid: row.id("auid")?,
        ..ProcInfo::default()
    };
    Ok(RowOut::Event(EventKind::Exec {
        instigator: None,
        target: Box::new(target),
    }))
}

/// `socket_events` (OpenBSM): connect attempts; bind and accept are not outbound.
fn socket_event(row: &Row<'_>) -> Result<RowOut, Reject> {
    if row.text("action").as_deref() != Some("connect") {
        return Ok(RowOut::Skip(
            "osquery socket_events bind/accept (not used)".into(),
        ));
    }
    Ok(RowOut::Event(EventKind::Connect(Box::new(Connect {
        pid: row.pid("pid")?,
        process_path: row.string("path"),
        // The row has only `auid` (the login user), not the process's uid.
        uid: None,
        proto: proto(row)?,
        remote: remote(row)?,
        // BSM reports "0" whenever connect() returned an error, and a non-blocking connect always
        // returns EINPROGRESS (the real sample shows osqueryd's own working TLS connection as "0"):
        // only "1" is trustworthy.
        success: row.flag("success")?.filter(|&ok| ok),
        invalid_utf8: false,
    }))))
}

/// `process_open_sockets`: a point-in-time socket list; rows with a real remote end are connections.
fn open_socket(row: &Row<'_>) -> Result<RowOut, Reject> {
    let Some(remote) = remote(row)? else {
        return Ok(RowOut::Skip(
            "osquery process_open_sockets row without a remote address".into(),
        ));
    };
    Ok(RowOut::Event(EventKind::Connect(Box::new(Connect {
        pid: row.pid("pid")?,
        process_path: row.string("path"),
        uid: None,
        proto: proto(row)?,
        remote: Some(remote),
        success: None,
        invalid_utf8: false,
    }))))
}

/// IP protocol number → Proto (socket_events on macOS often has no `protocol` column: unknown).
fn proto(row: &Row<'_>) -> Result<Proto, Reject> {
    Ok(match row.int("protocol")? {
        None | Some(0) => Proto::Unknown,
        Some(6) => Proto::Tcp,
        Some(17) => Proto::Udp,
        Some(1) | Some(58) => Proto::Icmp,
        Some(_) => Proto::Other,
    })
}

/// `addr:port`, `[v6]:port`, or the bare address without a port; None for wildcard/unset addresses.
fn remote(row: &Row<'_>) -> Result<Option<String>, Reject> {
    let Some(addr) = row.text("remote_address") else {
        return Ok(None);
    };
    if matches!(addr.as_ref(), "0" | "0.0.0.0" | "::" | "*") {
        return Ok(None);
    }
    let port = row.int("remote_port")?.filter(|p| *p > 0);
    Ok(Some(host_port(&addr, port)))
}

/// `processes`: a process alive when the query ran.
fn process_seen(row: &Row<'_>) -> Result<RowOut, Reject> {
    let path: Option<Arc<str>> = row.shared("path");
    let mut args = row.text("cmdline").map(|c| split_cmdline(&c, false));
    if path.is_none() && args.as_ref().is_none_or(Vec::is_empty) {
        // ProcInfo has no name field: the short name is only kept as argv[0] when nothing else is.
        args = row.string("name").map(|n| vec![n]);
    }
    let p = ProcInfo {
        pid: row.required_pid("pid")?,
        ppid: row.pid("parent")?,
        // -1 when osquery could not read it.
        start_time: row.int("start_time")?.filter(|&s| s > 0).map(Ts::from_secs),
        path,
        args: args.map(Arc::from),
        cwd: row.shared("cwd"),
        uid: row.id("uid")?,
        euid: row.id("euid")?,
        ..ProcInfo::default()
    };
    Ok(RowOut::Event(EventKind::ProcessSeen(Box::new(p))))
}

/// `logged_in_users`: type "user" rows say someone is logged in (console, ttys, ssh).
fn logged_in_user(row: &Row<'_>) -> Result<RowOut, Reject> {
    if row.text("type").as_deref() != Some("user") {
        return Ok(RowOut::Skip(
            "osquery logged_in_users row that is not a user session".into(),
        ));
    }
    Ok(RowOut::Event(EventKind::Session(Box::new(Session {
        kind: SessionKind::UserPresent,
        user: row.string("user"),
        uid: None,
        tty: row.string("tty"),
        remote: row.string("host"),
    }))))
}

/// Splits a command line on spaces. `quoted`: arguments holding a space or `"` are written as
/// `"..."` with `\"`/`\\` escapes (std::quoted, es_process_events); other tables join plainly.
fn split_cmdline(s: &str, quoted: bool) -> Vec<String> {
    if !quoted {
        return s
            .split(' ')
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .collect();
    }
    let mut args = Vec::new();
    let mut cur = String::new();
    let mut in_arg = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' => {
                if in_arg {
                    args.push(std::mem::take(&mut cur));
                    in_arg = false;
                }
            }
            '"' if !in_arg => {
                in_arg = true;
                while let Some(q) = chars.next() {
                    match q {
                        '\\' => cur.extend(chars.next()),
                        '"' => break,
                        _ => cur.push(q),
                    }
                }
            }
            _ => {
                cur.push(c);
                in_arg = true;
            }
        }
    }
    if in_arg {
        args.push(cur);
    }
    args
}
