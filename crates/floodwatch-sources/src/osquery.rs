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

use crate::wire::json::{cut, json_reject, HostNames, JsonStr};
use crate::{Parsed, RecordParser, Reject, RejectReason, SkipReason, SourceCtx};
use floodwatch_core::event::{
    Connect, Event, EventKind, Origin, ProcInfo, Proto, Session, SessionKind, Signing, Tty,
    CS_ADHOC, CS_SIGNED, CS_VALID,
};
use floodwatch_core::time::{days_from_civil, parse_time_of_day, NANOS_PER_DAY};
use floodwatch_core::Ts;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// `auid` of processes that never went through a login.
const AUID_UNSET: u32 = u32::MAX;

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
        let origin = Origin {
            file: self.ctx.file_id,
            line,
        };
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
    Some(Ts(
        days_from_civil(year, month, day) * NANOS_PER_DAY + time_of_day
    ))
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
        path: row.string("path"),
        // osquery quotes arguments that hold a space or a quote (std::quoted).
        args: row.text("cmdline").map(|c| split_cmdline(&c, true)),
        cwd: row.string("cwd"),
        uid: row.id("uid")?,
        // Note: some osquery releases fill `euid` from the egid (es_utils.cpp); read as given.
        euid: row.id("euid")?,
        username: row.string("username"),
        // es_process_events has no tty column.
        tty: Tty::Unknown,
        signing: Signing {
            signing_id: row.string("signing_id"),
            team_id: row.string("team_id"),
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
        path: row.string("path"),
        args: row.text("cmdline").map(|c| split_cmdline(&c, false)),
        cwd: row.string("cwd"),
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
    Ok(Some(match row.int("remote_port")? {
        Some(port) if port > 0 && addr.contains(':') => format!("[{addr}]:{port}"),
        Some(port) if port > 0 => format!("{addr}:{port}"),
        _ => addr.into_owned(),
    }))
}

/// `processes`: a process alive when the query ran.
fn process_seen(row: &Row<'_>) -> Result<RowOut, Reject> {
    let path = row.string("path");
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
        args,
        cwd: row.string("cwd"),
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

// ---------------------------------------------------------------------------------------------
// Wire types

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    name: Option<JsonStr<'a>>,
    #[serde(borrow, rename = "hostIdentifier")]
    host_identifier: Option<JsonStr<'a>>,
    /// Legacy (and the docs' example) spelling of `hostIdentifier`.
    #[serde(borrow)]
    hostname: Option<JsonStr<'a>>,
    #[serde(borrow, rename = "calendarTime")]
    calendar_time: Option<JsonStr<'a>>,
    #[serde(borrow, rename = "unixTime")]
    unix_time: Option<Val<'a>>,
    #[serde(borrow)]
    action: Option<JsonStr<'a>>,
    #[serde(borrow)]
    columns: Option<Row<'a>>,
    #[serde(borrow)]
    snapshot: Option<Vec<Row<'a>>>,
    #[serde(borrow, rename = "diffResults")]
    diff_results: Option<Diff<'a>>,
    severity: Option<IgnoredAny>,
    message: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct Diff<'a> {
    #[serde(borrow)]
    added: Option<Vec<Row<'a>>>,
    #[serde(borrow)]
    removed: Option<Vec<Row<'a>>>,
}

/// One JSON value as osquery writes it: a string, or a number/bool with `--logger_numerics`.
enum Val<'a> {
    Str(JsonStr<'a>),
    Int(i64),
    UInt(u64),
    Float(f64),
    Bool(bool),
    Null,
    /// An object or array (not a column type osquery writes): never read.
    Nested,
}

/// A value that should be a number and is not.
struct NotANumber;

impl Val<'_> {
    /// `Ok(None)` for null and empty strings (osquery's "no value").
    fn int(&self) -> Result<Option<i64>, NotANumber> {
        match self {
            Val::Str(s) => {
                let t = s.as_str().trim();
                if t.is_empty() {
                    Ok(None)
                } else {
                    t.parse().map(Some).map_err(|_| NotANumber)
                }
            }
            Val::Int(i) => Ok(Some(*i)),
            Val::UInt(u) => i64::try_from(*u).map(Some).map_err(|_| NotANumber),
            Val::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e18 => Ok(Some(*f as i64)),
            Val::Bool(b) => Ok(Some(*b as i64)),
            Val::Null => Ok(None),
            Val::Float(_) | Val::Nested => Err(NotANumber),
        }
    }

    /// Text as written, numbers formatted; `None` for null and nested values.
    fn text(&self) -> Option<Cow<'_, str>> {
        match self {
            Val::Str(s) => Some(Cow::Borrowed(s.as_str())),
            Val::Int(i) => Some(i.to_string().into()),
            Val::UInt(u) => Some(u.to_string().into()),
            Val::Float(f) => Some(f.to_string().into()),
            Val::Bool(b) => Some(if *b { "1" } else { "0" }.into()),
            Val::Null | Val::Nested => None,
        }
    }
}

impl fmt::Debug for Val<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.text() {
            Some(t) => fmt::Debug::fmt(t.as_ref(), f),
            None if matches!(self, Val::Null) => f.write_str("null"),
            None => f.write_str("{…}"),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Val<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Val<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a column value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Val<'de>, E> {
                Ok(Val::Str(JsonStr(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Val<'de>, E> {
                Ok(Val::Str(JsonStr(Cow::Owned(v.to_owned()))))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Val<'de>, E> {
                Ok(Val::Str(JsonStr(Cow::Owned(v))))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Val<'de>, E> {
                Ok(Val::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Val<'de>, E> {
                Ok(Val::UInt(v))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Val<'de>, E> {
                Ok(Val::Float(v))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Val<'de>, E> {
                Ok(Val::Bool(v))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Val<'de>, E> {
                Ok(Val::Null)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Val<'de>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Val::Nested)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Val<'de>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Val::Nested)
            }
        }
        d.deserialize_any(V)
    }
}

/// One result row: columns in file order. Rows are small (a few dozen columns), so a linear
/// lookup beats hashing.
struct Row<'a>(Vec<(JsonStr<'a>, Val<'a>)>);

impl<'de: 'a, 'a> Deserialize<'de> for Row<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Row<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a row object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Row<'de>, A::Error> {
                let mut cols = Vec::with_capacity(map.size_hint().unwrap_or(24));
                while let Some(entry) = map.next_entry::<JsonStr<'de>, Val<'de>>()? {
                    cols.push(entry);
                }
                Ok(Row(cols))
            }
        }
        d.deserialize_map(V)
    }
}

impl Row<'_> {
    fn get(&self, col: &str) -> Option<&Val<'_>> {
        self.0
            .iter()
            .find(|(k, _)| k.as_str() == col)
            .map(|(_, v)| v)
    }

    fn has(&self, col: &str) -> bool {
        self.get(col).is_some()
    }

    /// The text of a column, empty included (for columns where empty means something).
    fn raw_text(&self, col: &str) -> Option<&str> {
        match self.get(col)? {
            Val::Str(s) => Some(s.as_str()),
            _ => None,
        }
    }

    /// Non-empty text of a column (osquery writes "" for "unknown").
    fn text(&self, col: &str) -> Option<Cow<'_, str>> {
        self.get(col)?.text().filter(|t| !t.is_empty())
    }

    fn string(&self, col: &str) -> Option<String> {
        self.text(col).map(Cow::into_owned)
    }

    fn int(&self, col: &str) -> Result<Option<i64>, Reject> {
        match self.get(col) {
            None => Ok(None),
            Some(v) => v.int().map_err(|NotANumber| {
                Reject::new(
                    RejectReason::BadValue,
                    format!("column {col}: {v:?} is not a number"),
                )
            }),
        }
    }

    fn out_of_range(col: &str, v: i64) -> Reject {
        Reject::new(
            RejectReason::BadValue,
            format!("column {col}: {v} is out of range"),
        )
    }

    /// A pid column; negative means "none" (osquery writes -1).
    fn pid(&self, col: &str) -> Result<Option<i32>, Reject> {
        match self.int(col)? {
            Some(v) if v < 0 => Ok(None),
            Some(v) => i32::try_from(v)
                .map(Some)
                .map_err(|_| Self::out_of_range(col, v)),
            None => Ok(None),
        }
    }

    fn required_pid(&self, col: &str) -> Result<i32, Reject> {
        self.pid(col)?
            .ok_or_else(|| Reject::new(RejectReason::MissingField, format!("column {col}")))
    }

    /// A uid/auid-like column; negative and 4294967295 mean "unset".
    fn id(&self, col: &str) -> Result<Option<u32>, Reject> {
        match self.int(col)? {
            Some(v) if v < 0 || v == AUID_UNSET as i64 => Ok(None),
            Some(v) => u32::try_from(v)
                .map(Some)
                .map_err(|_| Self::out_of_range(col, v)),
            None => Ok(None),
        }
    }

    fn int32(&self, col: &str) -> Result<Option<i32>, Reject> {
        match self.int(col)? {
            Some(v) => i32::try_from(v)
                .map(Some)
                .map_err(|_| Self::out_of_range(col, v)),
            None => Ok(None),
        }
    }

    /// "1"/"0" (or a JSON bool/number).
    fn flag(&self, col: &str) -> Result<Option<bool>, Reject> {
        match self.get(col) {
            None => Ok(None),
            Some(Val::Bool(b)) => Ok(Some(*b)),
            Some(Val::Str(s)) if s.as_str().eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Val::Str(s)) if s.as_str().eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(_) => Ok(self.int(col)?.map(|v| v != 0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{ctx, read_all};
    use crate::Format;

    const CORPUS: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/corpus/osquery"
    );

    fn parse_one_with(ctx: SourceCtx, line: &str) -> Result<(Parsed, Vec<Event>), Reject> {
        let mut p = OsqueryParser::new(ctx);
        let mut out = Vec::new();
        p.parse(line, 3, &mut out).map(|r| (r, out))
    }

    fn parse_one(line: &str) -> Result<(Parsed, Vec<Event>), Reject> {
        parse_one_with(ctx("o.ndjson"), line)
    }

    fn events(line: &str) -> Vec<Event> {
        match parse_one(line) {
            Ok((Parsed::Events, out)) => out,
            Ok((Parsed::Skipped(why), _)) => panic!("skipped: {why}"),
            Err(r) => panic!("rejected: {} {}", r.reason, r.detail),
        }
    }

    fn one_event(line: &str) -> Event {
        let mut out = events(line);
        assert_eq!(out.len(), 1);
        out.pop().unwrap()
    }

    fn skip_reason(line: &str) -> String {
        match parse_one(line) {
            Ok((Parsed::Skipped(why), out)) => {
                assert!(out.is_empty());
                why.into_owned()
            }
            Ok((Parsed::Events, _)) => panic!("not skipped"),
            Err(r) => panic!("rejected: {} {}", r.reason, r.detail),
        }
    }

    fn reject(line: &str) -> Reject {
        match parse_one(line) {
            Err(r) => r,
            Ok(_) => panic!("not rejected"),
        }
    }

    #[test]
    fn real_sample_is_all_skipped_tables() {
        let data =
            std::fs::read(format!("{CORPUS}/elastic_test-osquery_first3lines.ndjson")).unwrap();
        let (events, stats) = read_all(&data, Format::Osquery, ctx("o.ndjson"));
        assert_eq!(stats.rejected, 0, "{:?}", stats.samples);
        assert_eq!((stats.records, stats.skipped), (3, 3));
        assert!(events.is_empty());
        assert_eq!(
            stats.reasons.get(
                "skipped: osquery query pack_it-compliance_mounts is not a table floodwatch reads"
            ),
            Some(&1)
        );
        assert_eq!(
            stats.reasons.get(
                "skipped: osquery query pack_osquery-monitoring_schedule is not a table floodwatch reads"
            ),
            Some(&2)
        );
    }

    #[test]
    fn calendar_time_matches_unix_time() {
        // Pairs from the real sample's envelopes.
        assert_eq!(
            parse_calendar_time("Mon Jan  8 14:51:55 2018 UTC"),
            Some(Ts::from_secs(1515423115))
        );
        assert_eq!(
            parse_calendar_time("Thu Dec 28 14:40:08 2017 UTC"),
            Some(Ts::from_secs(1514472008))
        );
        assert_eq!(parse_calendar_time("Mon Foo  8 14:51:55 2018 UTC"), None);
        assert_eq!(parse_calendar_time("Mon Jan  8 14:51 2018 UTC"), None);
        assert_eq!(parse_calendar_time(""), None);
    }

    const ES_EXEC_STRINGS: &str = r#"{"name":"pack/es/es_process_events","hostIdentifier":"mac-01.local","calendarTime":"Thu Aug  7 13:21:36 2025 UTC","unixTime":"1754572896","epoch":"0","counter":"12","numerics":false,"decorations":{"host_uuid":"4AB2906D-5516-5794-AF54-86D1D7F533F3","username":"alice"},"columns":{"version":"7","seq_num":"27","global_seq_num":"75","pid":"97391","pidversion":"149092","path":"/usr/bin/curl","parent":"58916","original_parent":"58916","session_id":"58916","responsible_pid":"938","responsible_pidversion":"2424","parent_pidversion":"87724","cmdline":"curl -s -o /dev/null \"http://example.com/a b\" ","cmdline_count":"5","env":"","env_count":"0","cwd":"/Users/alice","uid":"501","euid":"501","gid":"20","egid":"20","username":"alice","signing_id":"com.apple.curl","team_id":"","cdhash":"8E6F1A6B0C6F4E3D2A1B0C9D8E7F6A5B4C3D2E1F","platform_binary":"1","exit_code":"","child_pid":"","time":"1754572895","event_type":"exec","codesigning_flags":""},"action":"added"}"#;

    const ES_EXEC_NUMBERS: &str = r#"{"name":"pack/es/es_process_events","hostIdentifier":"mac-01.local","calendarTime":"Thu Aug  7 13:21:36 2025 UTC","unixTime":1754572896,"epoch":0,"counter":12,"numerics":true,"decorations":{"host_uuid":"4AB2906D-5516-5794-AF54-86D1D7F533F3","username":"alice"},"columns":{"version":7,"seq_num":27,"global_seq_num":75,"pid":97391,"pidversion":149092,"path":"/usr/bin/curl","parent":58916,"original_parent":58916,"session_id":58916,"responsible_pid":938,"responsible_pidversion":2424,"parent_pidversion":87724,"cmdline":"curl -s -o /dev/null \"http://example.com/a b\" ","cmdline_count":5,"env":"","env_count":0,"cwd":"/Users/alice","uid":501,"euid":501,"gid":20,"egid":20,"username":"alice","signing_id":"com.apple.curl","team_id":"","cdhash":"8E6F1A6B0C6F4E3D2A1B0C9D8E7F6A5B4C3D2E1F","platform_binary":1,"exit_code":"","child_pid":"","time":1754572895,"event_type":"exec","codesigning_flags":""},"action":"added"}"#;

    #[test]
    fn es_process_events_exec_with_string_numerics() {
        let ev = one_event(ES_EXEC_STRINGS);
        assert_eq!(ev.ts, Ts::from_secs(1754572895), "row time beats unixTime");
        assert_eq!(&*ev.host, "mac-01.local");
        assert_eq!(ev.origin.line, 3);
        let EventKind::Exec { instigator, target } = ev.kind else {
            panic!("{:?}", ev.kind)
        };
        assert!(instigator.is_none());
        assert_eq!(target.pid, 97391);
        assert_eq!(target.pidversion, Some(149092));
        assert_eq!(target.ppid, Some(58916));
        assert_eq!(target.original_ppid, Some(58916));
        assert_eq!(target.session_id, Some(58916));
        assert_eq!(target.responsible_pid, Some(938));
        assert_eq!(target.path.as_deref(), Some("/usr/bin/curl"));
        assert_eq!(
            target.args,
            Some(
                ["curl", "-s", "-o", "/dev/null", "http://example.com/a b"]
                    .map(String::from)
                    .to_vec()
            )
        );
        assert_eq!(target.cwd.as_deref(), Some("/Users/alice"));
        assert_eq!((target.uid, target.euid), (Some(501), Some(501)));
        assert_eq!(target.username.as_deref(), Some("alice"));
        assert_eq!(target.tty, Tty::Unknown);
        assert_eq!(target.signing.signing_id.as_deref(), Some("com.apple.curl"));
        assert_eq!(target.signing.team_id, None);
        assert_eq!(target.signing.platform_binary, Some(true));
        assert_eq!(target.signing.cs_flags, Some(CS_VALID | CS_SIGNED));
    }

    #[test]
    fn es_process_events_exec_with_json_numbers_is_the_same() {
        let a = one_event(ES_EXEC_STRINGS);
        let b = one_event(ES_EXEC_NUMBERS);
        assert_eq!(a.ts, b.ts);
        assert_eq!(format!("{:?}", a.kind), format!("{:?}", b.kind));
    }

    #[test]
    fn es_process_events_adhoc_fork_and_exit() {
        let adhoc = ES_EXEC_STRINGS.replace(
            r#""codesigning_flags":"""#,
            r#""codesigning_flags":"NOT_VALID, ADHOC, NOT_RUNTIME""#,
        );
        let EventKind::Exec { target, .. } = one_event(&adhoc).kind else {
            panic!()
        };
        assert_eq!(target.signing.cs_flags, Some(CS_ADHOC));
        let adhoc_valid = ES_EXEC_STRINGS.replace(
            r#""codesigning_flags":"""#,
            r#""codesigning_flags":"ADHOC,NOT_RUNTIME""#,
        );
        let EventKind::Exec { target, .. } = one_event(&adhoc_valid).kind else {
            panic!()
        };
        assert_eq!(
            target.signing.cs_flags,
            Some(CS_ADHOC | CS_VALID | CS_SIGNED)
        );

        let fork = ES_EXEC_STRINGS
            .replace(r#""event_type":"exec""#, r#""event_type":"fork""#)
            .replace(r#""child_pid":"""#, r#""child_pid":"97400""#);
        let EventKind::Fork { parent, child } = one_event(&fork).kind else {
            panic!()
        };
        assert_eq!(
            (parent.pid, child.pid, child.ppid),
            (97391, 97400, Some(97391))
        );
        assert_eq!(child.path, parent.path);
        let fork_without_child =
            ES_EXEC_STRINGS.replace(r#""event_type":"exec""#, r#""event_type":"fork""#);
        assert_eq!(
            reject(&fork_without_child).reason,
            RejectReason::MissingField
        );

        let exit = ES_EXEC_STRINGS
            .replace(r#""event_type":"exec""#, r#""event_type":"exit""#)
            .replace(r#""exit_code":"""#, r#""exit_code":"256""#);
        let EventKind::Exit { process, status } = one_event(&exit).kind else {
            panic!()
        };
        assert_eq!((process.pid, status), (97391, Some(256)));

        let other = ES_EXEC_STRINGS.replace(r#""event_type":"exec""#, r#""event_type":"open""#);
        assert!(skip_reason(&other).contains("another event type"));
    }

    #[test]
    fn garbage_numbers_are_bad_values_naming_the_column() {
        let r = reject(&ES_EXEC_STRINGS.replace(r#""pid":"97391""#, r#""pid":"abc""#));
        assert_eq!(r.reason, RejectReason::BadValue);
        assert!(r.detail.contains("column pid"), "{}", r.detail);
        let r = reject(&ES_EXEC_STRINGS.replace(r#""uid":"501""#, r#""uid":"99999999999""#));
        assert_eq!(r.reason, RejectReason::BadValue);
        assert!(r.detail.contains("uid"), "{}", r.detail);
        let r = reject(&ES_EXEC_STRINGS.replace(r#""pid":"97391""#, r#""pid":1.5"#));
        assert_eq!(r.reason, RejectReason::BadValue);
        let r = reject(&ES_EXEC_STRINGS.replace(r#""pid":"97391","#, ""));
        assert_eq!(r.reason, RejectReason::MissingField);
        // A garbage row time falls back to the envelope time.
        let ev = one_event(&ES_EXEC_STRINGS.replace(r#""time":"1754572895""#, r#""time":"soon""#));
        assert_eq!(ev.ts, Ts::from_secs(1754572896));
    }

    #[test]
    fn snapshot_of_two_processes() {
        let line = r#"{"snapshot":[{"pid":"1","name":"launchd","path":"/sbin/launchd","cmdline":"/sbin/launchd","state":"R","cwd":"/","root":"","uid":"0","gid":"0","euid":"0","egid":"0","suid":"0","sgid":"0","on_disk":"1","wired_size":"0","resident_size":"12345","total_size":"23456","user_time":"100","system_time":"200","disk_bytes_read":"0","disk_bytes_written":"0","start_time":"1515400000","parent":"0","pgroup":"1","threads":"4","nice":"0","upid":"1","uppid":"0","cpu_type":"16777228","cpu_subtype":"2","translated":"0"},{"pid":"4242","name":"ping","path":"/sbin/ping","cmdline":"ping -f 10.0.0.1","state":"R","cwd":"/Users/alice","root":"","uid":"501","gid":"20","euid":"0","egid":"20","suid":"0","sgid":"20","on_disk":"1","wired_size":"0","resident_size":"1","total_size":"1","user_time":"1","system_time":"1","disk_bytes_read":"0","disk_bytes_written":"0","start_time":"-1","parent":"4200","pgroup":"4242","threads":"1","nice":"0","upid":"99","uppid":"98","cpu_type":"16777228","cpu_subtype":"2","translated":"0"}],"action":"snapshot","name":"pack/inv/processes","hostIdentifier":"mac-02","calendarTime":"Mon Jan  8 14:51:55 2018 UTC","unixTime":"1515423115","epoch":"0","counter":"0","numerics":false}"#;
        let evs = events(line);
        assert_eq!(evs.len(), 2);
        assert!(evs
            .iter()
            .all(|e| e.ts == Ts::from_secs(1515423115) && &*e.host == "mac-02"));
        let EventKind::ProcessSeen(p) = &evs[1].kind else {
            panic!()
        };
        assert_eq!(
            (p.pid, p.ppid, p.uid, p.euid),
            (4242, Some(4200), Some(501), Some(0))
        );
        assert_eq!(p.path.as_deref(), Some("/sbin/ping"));
        assert_eq!(p.cmdline().as_deref(), Some("ping -f 10.0.0.1"));
        assert_eq!(p.start_time, None, "-1 is unknown");
        let EventKind::ProcessSeen(p) = &evs[0].kind else {
            panic!()
        };
        assert_eq!(p.start_time, Some(Ts::from_secs(1515400000)));
        // Both interned host Arcs are the same allocation.
        assert!(Arc::ptr_eq(&evs[0].host, &evs[1].host));
        // Without unixTime the calendar time is used.
        let no_unix = line.replace(r#""unixTime":"1515423115","#, "");
        assert!(events(&no_unix)
            .iter()
            .all(|e| e.ts == Ts::from_secs(1515423115)));
        let no_time = no_unix.replace(r#""calendarTime":"Mon Jan  8 14:51:55 2018 UTC","#, "");
        assert_eq!(reject(&no_time).reason, RejectReason::MissingField);
        let bad_time = line
            .replace(r#""unixTime":"1515423115""#, r#""unixTime":"x""#)
            .replace("Mon Jan  8", "Mon Jxx  8");
        assert_eq!(reject(&bad_time).reason, RejectReason::BadTimestamp);
    }

    #[test]
    fn processes_found_by_query_name_when_columns_are_cut() {
        let line = r#"{"name":"procs/processes","hostIdentifier":"mac-02","calendarTime":"Mon Jan  8 14:51:55 2018 UTC","unixTime":1515423115,"epoch":0,"counter":0,"numerics":false,"columns":{"pid":"77","name":"kernel_task","path":"","cmdline":""},"action":"added"}"#;
        let EventKind::ProcessSeen(p) = one_event(line).kind else {
            panic!()
        };
        assert_eq!(p.pid, 77);
        assert_eq!(p.path, None);
        assert_eq!(p.args, Some(vec!["kernel_task".to_string()]));
    }

    #[test]
    fn batch_diff_results_of_open_sockets() {
        let line = r#"{"name":"pack/net/process_open_sockets","hostIdentifier":"mac-03","calendarTime":"Tue Jan  9 10:00:00 2018 UTC","unixTime":1515492000,"epoch":0,"counter":3,"numerics":false,"decorations":{"host_uuid":"X"},"diffResults":{"added":[{"pid":"4242","fd":"5","socket":"123","family":"2","protocol":"17","local_address":"10.0.0.5","remote_address":"10.0.0.1","local_port":"50000","remote_port":"53","path":"/usr/local/bin/flood","state":""},{"pid":"88","fd":"4","socket":"456","family":"2","protocol":"6","local_address":"0.0.0.0","remote_address":"0.0.0.0","local_port":"22","remote_port":"0","path":"/usr/sbin/sshd","state":"LISTEN"},{"pid":"4243","fd":"6","socket":"789","family":"30","protocol":"6","local_address":"fe80::1","remote_address":"2001:db8::7","local_port":"50001","remote_port":"443","path":"/usr/bin/curl","state":"ESTABLISHED"}],"removed":[{"pid":"9","fd":"4","socket":"1","family":"2","protocol":"6","local_address":"10.0.0.5","remote_address":"1.1.1.1","local_port":"50002","remote_port":"443","path":"/usr/bin/nc","state":"CLOSED"}]}}"#;
        let evs = events(line);
        assert_eq!(
            evs.len(),
            2,
            "the listener is skipped, removed rows are not events"
        );
        let EventKind::Connect(c) = &evs[0].kind else {
            panic!()
        };
        assert_eq!(c.pid, Some(4242));
        assert_eq!(c.proto, Proto::Udp);
        assert_eq!(c.remote.as_deref(), Some("10.0.0.1:53"));
        assert_eq!(c.process_path.as_deref(), Some("/usr/local/bin/flood"));
        let EventKind::Connect(c) = &evs[1].kind else {
            panic!()
        };
        assert_eq!(
            (c.proto, c.remote.as_deref()),
            (Proto::Tcp, Some("[2001:db8::7]:443"))
        );
        assert!(evs.iter().all(|e| e.ts == Ts::from_secs(1515492000)));
        let only_removed = line.replace(r#""added":[{"#, r#""ignored":[{"#);
        assert!(skip_reason(&only_removed).contains("removed"));
    }

    /// The real macOS line quoted in telemetry-formats.md §4 (its elided decorations filled in).
    const SOCKET_CONNECT: &str = r#"{"name":"pack/tls@eventing-pack/socket_events","hostIdentifier":"564D1C61-…","calendarTime":"Sun Jan 17 14:43:22 2021 UTC","unixTime":1610894602,"epoch":0,"counter":0,"numerics":false,"decorations":{"host_uuid":"564D1C61-…"},"columns":{"action":"connect","auid":"501","family":"2","fd":"1f","local_address":"0","local_port":"0","path":"/usr/local/bin/osqueryd","pid":"26075","remote_address":"54.194.163.85","remote_port":"443","success":"0","time":"1610821751","uptime":"103726"},"action":"added"}"#;

    #[test]
    fn socket_events_connect() {
        let ev = one_event(SOCKET_CONNECT);
        assert_eq!(ev.ts, Ts::from_secs(1610821751));
        assert_eq!(&*ev.host, "564D1C61-…");
        let EventKind::Connect(c) = ev.kind else {
            panic!()
        };
        assert_eq!(c.pid, Some(26075));
        assert_eq!(c.process_path.as_deref(), Some("/usr/local/bin/osqueryd"));
        assert_eq!(c.remote.as_deref(), Some("54.194.163.85:443"));
        assert_eq!(c.proto, Proto::Unknown);
        assert_eq!(c.success, None, "BSM's 0 is not a reliable failure");
        let bind = SOCKET_CONNECT.replace(r#""action":"connect""#, r#""action":"bind""#);
        assert!(skip_reason(&bind).contains("bind"));
        let removed = SOCKET_CONNECT.replace(r#""action":"added""#, r#""action":"removed""#);
        assert!(skip_reason(&removed).contains("removed"));
        let tcp = SOCKET_CONNECT.replace(r#""family":"2""#, r#""family":"2","protocol":"6""#);
        let EventKind::Connect(c) = one_event(&tcp).kind else {
            panic!()
        };
        assert_eq!(c.proto, Proto::Tcp);
    }

    #[test]
    fn forced_host_and_legacy_hostname() {
        let mut forced = ctx("o.ndjson");
        forced.host_forced = true;
        let Ok((Parsed::Events, out)) = parse_one_with(forced, SOCKET_CONNECT) else {
            panic!()
        };
        assert_eq!(&*out[0].host, "testhost");
        let legacy = SOCKET_CONNECT.replace("hostIdentifier", "hostname");
        assert_eq!(&*one_event(&legacy).host, "564D1C61-…");
        let none = SOCKET_CONNECT.replace(r#""hostIdentifier":"564D1C61-…","#, "");
        assert_eq!(&*one_event(&none).host, "testhost");
    }

    #[test]
    fn logged_in_users() {
        let line = r#"{"name":"pack/ctx/logged_in_users","hostIdentifier":"mac-01","calendarTime":"Thu Aug  7 13:21:36 2025 UTC","unixTime":1754572896,"epoch":0,"counter":1,"numerics":false,"snapshot":[{"type":"user","user":"alice","tty":"console","host":"","time":"1754500000","pid":"150"},{"type":"user","user":"bob","tty":"ttys002","host":"192.168.1.20","time":"1754570000","pid":"9001"},{"type":"dead","user":"","tty":"ttys001","host":"","time":"1754400000","pid":"0"}],"action":"snapshot"}"#;
        let evs = events(line);
        assert_eq!(evs.len(), 2);
        let EventKind::Session(s) = &evs[0].kind else {
            panic!()
        };
        assert_eq!(s.kind, SessionKind::UserPresent);
        assert_eq!(s.user.as_deref(), Some("alice"));
        assert_eq!(s.tty.as_deref(), Some("console"));
        assert_eq!(s.remote, None);
        assert_eq!(
            evs[0].ts,
            Ts::from_secs(1754572896),
            "seen at query time, not login time"
        );
        let EventKind::Session(s) = &evs[1].kind else {
            panic!()
        };
        assert_eq!(s.remote.as_deref(), Some("192.168.1.20"));
    }

    #[test]
    fn bsm_process_events_exec() {
        let line = r#"{"name":"pack/proc/process_events","hostIdentifier":"mac-01","calendarTime":"Thu Aug  7 13:21:36 2025 UTC","unixTime":"1754572896","epoch":"0","counter":"3","columns":{"pid":"5150","path":"/sbin/ping","mode":"0104555","cmdline":"ping -i 0.01 198.51.100.7 ","cwd":"/Users/alice","auid":"501","uid":"501","euid":"0","gid":"20","egid":"20","owner_uid":"0","owner_gid":"0","atime":"0","mtime":"0","ctime":"0","btime":"0","parent":"5100","time":"1754572890","uptime":"4000","status":"0"},"action":"added"}"#;
        let ev = one_event(line);
        assert_eq!(ev.ts, Ts::from_secs(1754572890));
        let EventKind::Exec { instigator, target } = ev.kind else {
            panic!()
        };
        assert!(instigator.is_none());
        assert_eq!((target.pid, target.ppid), (5150, Some(5100)));
        assert_eq!(
            (target.uid, target.euid, target.auid),
            (Some(501), Some(0), Some(501))
        );
        assert_eq!(
            target.cmdline().as_deref(),
            Some("ping -i 0.01 198.51.100.7")
        );
        let unset = line.replace(r#""auid":"501""#, r#""auid":"4294967295""#);
        let EventKind::Exec { target, .. } = one_event(&unset).kind else {
            panic!()
        };
        assert_eq!(target.auid, None);
    }

    #[test]
    fn malformed_envelopes() {
        assert_eq!(
            reject(&SOCKET_CONNECT[..100]).reason,
            RejectReason::InvalidJson
        );
        assert_eq!(
            reject("{\"name\":\"x\"}").reason,
            RejectReason::MissingField
        );
        let columns_not_object = SOCKET_CONNECT.replace(
            &SOCKET_CONNECT[SOCKET_CONNECT.find(r#""columns":"#).unwrap()
                ..SOCKET_CONNECT.find(r#","action":"added""#).unwrap()],
            r#""columns":"oops""#,
        );
        assert_eq!(reject(&columns_not_object).reason, RejectReason::WrongType);
        let status = r#"{"hostIdentifier":"mac-01","calendarTime":"Thu Aug  7 13:21:36 2025 UTC","unixTime":"1754572896","severity":"0","filename":"scheduler.cpp","line":"83","message":"Executing scheduled query","version":"5.10.2"}"#;
        assert!(skip_reason(status).contains("status log"));
    }

    #[test]
    fn cmdline_splitting() {
        assert_eq!(split_cmdline("a  b ", false), ["a", "b"]);
        assert_eq!(
            split_cmdline(r#"sh -c "echo \"hi\" \\o/" x "#, true),
            ["sh", "-c", r#"echo "hi" \o/"#, "x"]
        );
        assert_eq!(split_cmdline("", true), Vec::<String>::new());
    }
}
