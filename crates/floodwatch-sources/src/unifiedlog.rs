//! Unified log: `log show|stream --style ndjson` (one object per line) and `--style json` (one pretty-printed
//! array, split into objects by the framer). Same keys in both (shared/docs/telemetry-formats.md §3).
//!
//! Two kinds of records are used, everything else is skipped:
//! - `com.apple.network`/`connection` "cancelled" summaries, which carry bytes and packets in/out of one
//!   connection at its end: [`EventKind::Traffic`] over `[ts − Duration, ts]`.
//! - Session and UI context (login/logout, lock/unlock, sleep/wake, ssh and screen-sharing logins):
//!   [`EventKind::Session`].
//!
//! The records are read into a typed struct that borrows its strings where the JSON has no escapes
//! (the `\/` escapes of paths force a copy there): by the strict scanner first, by serde when the
//! scanner is not sure (which gives the reject); both read a record the same (tested). Messages are
//! matched with plain substring scans: the regex crate is not needed for these fixed phrases.

use crate::wire::json::{json_reject, JsonStr};
use crate::wire::scan::{once, Miss, Scan, Scanned};
use crate::{Parsed, RecordParser, Reject, RejectReason, SourceCtx};
use floodwatch_core::event::basename;
use floodwatch_core::event::{Event, EventKind, Proto, Session, SessionKind, Traffic};
use floodwatch_core::time::{parse_unified_log_ts, NANOS_PER_SEC};
use floodwatch_core::Ts;
use serde::Deserialize;
use std::sync::Arc;

/// The keys this parser reads; the others (`machTimestamp`, `backtrace`, UUIDs...) are ignored.
#[derive(Deserialize, Default, Debug)]
struct LogRecord<'a> {
    #[serde(borrow, default)]
    timestamp: Option<JsonStr<'a>>,
    #[serde(rename = "eventType", borrow, default)]
    event_type: Option<JsonStr<'a>>,
    #[serde(rename = "eventMessage", borrow, default)]
    event_message: Option<JsonStr<'a>>,
    #[serde(borrow, default)]
    subsystem: Option<JsonStr<'a>>,
    #[serde(borrow, default)]
    category: Option<JsonStr<'a>>,
    #[serde(rename = "processImagePath", borrow, default)]
    process_image_path: Option<JsonStr<'a>>,
    #[serde(rename = "processID", default)]
    process_id: Option<i64>,
    #[serde(rename = "userID", default)]
    user_id: Option<i64>,
}

/// The record read with the strict scanner, to the [`LogRecord`] serde reads: the same keys, a
/// known key twice a miss, unknown keys skipped (still checked). Anything it is not sure of is a
/// [`Miss`], and the caller reads the record with serde (which gives the reject). serde's general
/// deserializer spent most of a record skipping `formatString`, `backtrace` and the UUIDs through
/// its visitors.
fn scanned_record(record: &str) -> Scanned<LogRecord<'_>> {
    let mut r = LogRecord::default();
    let mut seen = 0;
    let mut s = Scan::new(record);
    s.object(|s, key| {
        // Each known key has its bit in `seen` (a second time is a miss) and its field.
        let text = match key {
            b"timestamp" => Some((1, &mut r.timestamp)),
            b"eventType" => Some((2, &mut r.event_type)),
            b"eventMessage" => Some((4, &mut r.event_message)),
            b"subsystem" => Some((8, &mut r.subsystem)),
            b"category" => Some((16, &mut r.category)),
            b"processImagePath" => Some((32, &mut r.process_image_path)),
            _ => None,
        };
        if let Some((bit, field)) = text {
            once(&mut seen, bit)?;
            *field = s.opt(Scan::json_str)?;
            return Ok(());
        }
        let number = match key {
            b"processID" => Some((64, &mut r.process_id)),
            b"userID" => Some((128, &mut r.user_id)),
            _ => None,
        };
        match number {
            Some((bit, field)) => {
                once(&mut seen, bit)?;
                *field = s.opt(Scan::i64)?;
            }
            None => s.skip()?,
        }
        Ok(())
    })?;
    s.end()?;
    Ok(r)
}

/// Checks the scanner against serde on one record: whatever the scanner reads, serde must read
/// too, to the same fields. For the differential tests.
#[doc(hidden)]
pub fn fast_path_check(record: &str) -> Result<(), String> {
    let Ok(fast) = scanned_record(record) else {
        return Ok(());
    };
    let slow: LogRecord = serde_json::from_str(record)
        .map_err(|e| format!("the scanner read a record serde refuses ({e}): {record:?}"))?;
    let (fast, slow) = (format!("{fast:?}"), format!("{slow:?}"));
    if fast == slow {
        Ok(())
    } else {
        Err(format!(
            "scanner and serde differ on {record:?}:\n fast {fast}\n serde {slow}"
        ))
    }
}

fn text<'r>(t: &'r Option<JsonStr<'_>>) -> Option<&'r str> {
    t.as_ref().map(JsonStr::as_str)
}

pub struct UnifiedLogParser {
    ctx: SourceCtx,
    /// The UTC offset of the most recent record: it anchors the same host's dateless nettop captures.
    offset: Option<i32>,
}

impl UnifiedLogParser {
    pub fn new(ctx: SourceCtx) -> Self {
        UnifiedLogParser { ctx, offset: None }
    }

    fn event(&self, ts: Ts, line: u64, kind: EventKind) -> Event {
        self.ctx.event(ts, line, kind)
    }
}

const NOT_USED: &str = "unified log message not used";

impl RecordParser for UnifiedLogParser {
    fn parse(&mut self, record: &str, line: u64, out: &mut Vec<Event>) -> Result<Parsed, Reject> {
        let trimmed = record.trim_start();
        if trimmed.starts_with("Filtering the log data") {
            return Ok(Parsed::Skipped("log stream preamble".into()));
        }
        if !trimmed.starts_with('{') {
            return Err(Reject::new(
                RejectReason::InvalidJson,
                format!("not a JSON object: {}", head(trimmed)),
            ));
        }
        let rec: LogRecord = match scanned_record(record) {
            Ok(rec) => rec,
            Err(Miss) => serde_json::from_str(record).map_err(json_reject)?,
        };
        if rec.event_message.is_none() && rec.event_type.is_none() {
            // `log show`'s closing `{"count":N,"finished":1}` and similar status objects.
            return Ok(Parsed::Skipped("not a log event (status record)".into()));
        }
        let raw_ts = text(&rec.timestamp)
            .ok_or_else(|| Reject::new(RejectReason::MissingField, "timestamp"))?;
        let (ts, offset) = parse_unified_log_ts(raw_ts).ok_or_else(|| {
            Reject::new(RejectReason::BadTimestamp, format!("timestamp {raw_ts:?}"))
        })?;
        self.offset = Some(offset);
        if text(&rec.event_type).is_some_and(|t| t != "logEvent") {
            return Ok(Parsed::Skipped("unified log event type not used".into()));
        }
        let Some(msg) = text(&rec.event_message) else {
            return Ok(Parsed::Skipped(NOT_USED.into()));
        };
        let kind = if is_connection_log(&rec) {
            connection_summary(&rec, msg, ts)?
        } else {
            session_event(&rec, msg)
        };
        match kind {
            Some(kind) => {
                out.push(self.event(ts, line, kind));
                Ok(Parsed::Events)
            }
            None => Ok(Parsed::Skipped(NOT_USED.into())),
        }
    }

    fn utc_offset(&self) -> Option<i32> {
        self.offset
    }
}

/// The first characters of a rejected record, for the reject detail.
fn head(s: &str) -> String {
    let h: String = s.chars().take(40).collect();
    format!("{h:?}")
}

// ---------------------------------------------------------------------------------------------------------
// Network.framework connection summaries

fn is_connection_log(rec: &LogRecord) -> bool {
    text(&rec.subsystem) == Some("com.apple.network") && text(&rec.category) == Some("connection")
}

/// `[C137 <uuid> Hostname#3fba6d68:443 tcp, …] cancelled\n\t[C137.1.1 <uuid> 172.20.1.254:64673<->IPv4#14ad2c93:443]
/// …\n\tDuration: 60.046s, …\n\tbytes in/out: 515210/1012, packets in/out: 111/62, …`.
/// Other `connection` messages (no byte counts) are not summaries: `Ok(None)`.
fn connection_summary(rec: &LogRecord, msg: &str, ts: Ts) -> Result<Option<EventKind>, Reject> {
    let Some(bytes) = after(msg, "bytes in/out: ") else {
        return Ok(None);
    };
    let (bytes_in, bytes_out) = pair(bytes).ok_or_else(|| {
        Reject::new(
            RejectReason::BadValue,
            format!("bytes in/out: {}", head(bytes)),
        )
    })?;
    let packets = match after(msg, "packets in/out: ") {
        Some(p) => Some(pair(p).ok_or_else(|| {
            Reject::new(
                RejectReason::BadValue,
                format!("packets in/out: {}", head(p)),
            )
        })?),
        None => None,
    };
    let pid = match rec.process_id {
        Some(p) => Some(i32::try_from(p).map_err(|_| {
            Reject::new(
                RejectReason::BadValue,
                format!("processID {p} out of range"),
            )
        })?),
        None => None,
    };
    // A summary covers the whole connection: spread it over its duration, not at its end.
    let start = after(msg, "Duration: ")
        .and_then(duration_nanos)
        .map_or(ts, |d| Ts(ts.0.saturating_sub(d)).min(ts));
    Ok(Some(EventKind::Traffic(Box::new(Traffic {
        pid,
        process_name: None,
        process_path: text(&rec.process_image_path).map(str::to_string),
        uid: rec.user_id.and_then(|u| u32::try_from(u).ok()),
        start,
        proto: summary_proto(msg),
        remote: summary_remote(msg).map(Arc::from),
        bytes_out,
        bytes_in,
        packets_out: packets.map(|p| p.1),
        packets_in: packets.map(|p| p.0),
        new_connections: 1,
        ..Default::default()
    }))))
}

/// The text after the first occurrence of `needle`. memmem, not `str::find`: this runs on every
/// message of the capture, most of which do not hold the needle (`str::find` was 0.8% of a fleet).
fn after<'s>(hay: &'s str, needle: &str) -> Option<&'s str> {
    memchr::memmem::find(hay.as_bytes(), needle.as_bytes())
        .and_then(|i| hay.get(i + needle.len()..))
}

/// Leading decimal digits as a number, and the rest.
fn leading_u64(s: &str) -> Option<(u64, &str)> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    if end == 0 {
        return None;
    }
    Some((s[..end].parse().ok()?, &s[end..]))
}

/// `N/M` at the start of `s`.
fn pair(s: &str) -> Option<(u64, u64)> {
    let (a, rest) = leading_u64(s)?;
    let (b, _) = leading_u64(rest.strip_prefix('/')?)?;
    Some((a, b))
}

/// `60.046s` (or `12ms`) at the start of `s`, in nanoseconds.
fn duration_nanos(s: &str) -> Option<i64> {
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let v: f64 = s[..end].parse().ok()?;
    let unit = &s[end..];
    let scale = if unit.starts_with("ms") {
        1e6
    } else if unit.starts_with("us") {
        1e3
    } else if unit.starts_with('s') {
        NANOS_PER_SEC as f64
    } else {
        return None;
    };
    let n = v * scale;
    (n.is_finite() && n >= 0.0 && n < i64::MAX as f64).then_some(n.round() as i64)
}

/// The protocol is the last word before the first comma of the first bracket:
/// `[C348 <uuid> Hostname#ea5d1e75:443 quic-connection, bundle id: …]`.
fn summary_proto(msg: &str) -> Proto {
    let first = msg.lines().next().unwrap_or("");
    let first = first.split(',').next().unwrap_or("");
    let first = first.split(']').next().unwrap_or("");
    match first.split_whitespace().last().unwrap_or("") {
        "tcp" => Proto::Tcp,
        "udp" => Proto::Udp,
        p if p.starts_with("quic") => Proto::Quic,
        _ => Proto::Unknown,
    }
}

/// The remote endpoint after `<->` on the second line, kept as logged (often redacted: `IPv4#3ec082bd:443`).
fn summary_remote(msg: &str) -> Option<&str> {
    let r = after(msg, "<->")?;
    let end = r
        .find(|c: char| c == ']' || c.is_whitespace())
        .unwrap_or(r.len());
    let r = &r[..end];
    (!r.is_empty()).then_some(r)
}

// ---------------------------------------------------------------------------------------------------------
// Session and UI context

fn session(
    kind: SessionKind,
    user: Option<&str>,
    uid: Option<u32>,
    remote: Option<&str>,
) -> EventKind {
    EventKind::Session(Box::new(Session {
        kind,
        user: user.map(str::to_string),
        uid,
        tty: None,
        remote: remote.map(str::to_string),
    }))
}

/// Which process logged the message, by the basename of its image path.
fn session_event(rec: &LogRecord, msg: &str) -> Option<EventKind> {
    // Kernel power management messages are distinctive enough on their own.
    if msg.starts_with("PMRD: System Wake") {
        return Some(session(SessionKind::Wake, None, None, None));
    }
    if msg.starts_with("PMRD: System Sleep") || msg.starts_with("Entering Sleep") {
        return Some(session(SessionKind::Sleep, None, None, None));
    }
    let process = text(&rec.process_image_path).map(basename).unwrap_or("");
    match process {
        "loginwindow" => loginwindow(msg),
        "logind" => logind(msg),
        p if p.starts_with("sshd") => sshd(msg),
        p if p.eq_ignore_ascii_case("screensharingd")
            || p.eq_ignore_ascii_case("ScreensharingAgent") =>
        {
            screensharing(msg)
        }
        _ if text(&rec.subsystem) == Some("com.apple.login") => logind(msg),
        _ => None,
    }
}

/// The word after `key` up to `,` `;` or whitespace, without quotes: `shortUsername = X,` / `UserName = "X";`.
fn field<'s>(msg: &'s str, key: &str) -> Option<&'s str> {
    let v = after(msg, key)?.trim_start();
    let v = v.strip_prefix('"').unwrap_or(v);
    let end = v
        .find(|c: char| c == ',' || c == ';' || c == '"' || c.is_whitespace())
        .unwrap_or(v.len());
    let v = &v[..end];
    (!v.is_empty()).then_some(v)
}

fn field_u32(msg: &str, key: &str) -> Option<u32> {
    field(msg, key)?.parse().ok()
}

fn loginwindow(msg: &str) -> Option<EventKind> {
    if msg.starts_with("-[Login1 doLogin]") {
        let user = field(msg, "shortUsername =")?;
        return Some(session(
            SessionKind::Login,
            Some(user),
            field_u32(msg, "userID ="),
            None,
        ));
    }
    // loginwindow logs many `SessionLogoutManager` lines per logout (and for rejected logout requests);
    // the final session dictionary is logged once per logout and names the user.
    if msg.starts_with("-[SessionLogoutManager") && msg.contains("final sessionDictionary") {
        return Some(session(
            SessionKind::Logout,
            field(msg, "UserName ="),
            field_u32(msg, "UserID ="),
            None,
        ));
    }
    if msg.contains("going inactive, create activity semaphore") {
        return Some(session(SessionKind::Lock, None, None, None));
    }
    if msg.contains("releasing the activity semaphore") || msg.contains("Unlock succeeded") {
        return Some(session(SessionKind::Unlock, None, None, None));
    }
    None
}

/// `-[SessionAgent SA_SetSessionStateForUser:state:reply:]:536: state set to: N`. The values are not
/// documented; a time-tracking tool built on this message reads 2 as unlocked and 3 or 5 as locked.
fn logind(msg: &str) -> Option<EventKind> {
    if !msg.contains("SA_SetSessionStateForUser") {
        return None;
    }
    match leading_u64(after(msg, "state set to: ")?)?.0 {
        2 => Some(session(SessionKind::Unlock, None, None, None)),
        3 | 5 => Some(session(SessionKind::Lock, None, None, None)),
        _ => None,
    }
}

/// OpenSSH: `Accepted publickey for alice from 203.0.113.5 port 52311 ssh2` and
/// `Disconnected from user alice 203.0.113.5 port 52311`.
fn sshd(msg: &str) -> Option<EventKind> {
    if let Some(rest) = msg.strip_prefix("Accepted ") {
        let mut w = rest.split_whitespace();
        let _method = w.next()?;
        if w.next()? != "for" {
            return None;
        }
        let user = w.next()?;
        if w.next()? != "from" {
            return None;
        }
        let ip = w.next()?;
        return Some(session(SessionKind::SshLogin, Some(user), None, Some(ip)));
    }
    if let Some(rest) = msg.strip_prefix("Disconnected from user ") {
        let mut w = rest.split_whitespace();
        let user = w.next()?;
        let ip = w.next()?;
        return Some(session(SessionKind::SshLogout, Some(user), None, Some(ip)));
    }
    None
}

/// `Authentication: SUCCEEDED :: User Name: Jane Doe :: Viewer Address: 192.168.1.20 :: Type: DH`
/// (the user name may contain spaces, so it runs up to the next ` ::`).
fn screensharing(msg: &str) -> Option<EventKind> {
    let rest = after(msg, "Authentication: SUCCEEDED")?;
    let user = after(rest, "User Name:").map(|u| u.split(" ::").next().unwrap_or(u).trim());
    let addr = after(rest, "Viewer Address:").and_then(|a| a.split_whitespace().next());
    Some(session(
        SessionKind::ScreenShareStart,
        user.filter(|u| !u.is_empty()),
        None,
        addr,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{ctx, read_all};
    use crate::Format;

    fn corpus(name: &str) -> Vec<u8> {
        crate::testutil::corpus(&format!("unifiedlog/{name}"))
    }

    /// Every line of the real samples and of the bundled collection: read by the scanner (none
    /// needs serde), to the fields serde reads.
    #[test]
    fn scanner_reads_every_real_and_bundled_line_as_serde_does() {
        let mut texts: Vec<String> = [
            "elastic_macos_authentication_loginwindow.ndjson",
            "elastic_macos_network_activity.ndjson",
            "elastic_macos_process_execution_monitoring.ndjson",
        ]
        .iter()
        .map(|n| String::from_utf8(corpus(n)).unwrap())
        .collect();
        for host in ["admin-mbp-02", "build-mac-07"] {
            let path = format!(
                "{}/../../examples/collection/{host}/unifiedlog.ndjson",
                env!("CARGO_MANIFEST_DIR")
            );
            texts.push(std::fs::read_to_string(path).unwrap());
        }
        let mut lines = 0;
        for text in &texts {
            for line in text.lines().filter(|l| l.starts_with('{')) {
                assert!(scanned_record(line).is_ok(), "{line:.200}");
                fast_path_check(line).unwrap();
                lines += 1;
            }
        }
        assert!(lines > 75, "{lines}");
    }

    /// Broken copies of real lines (a byte dropped, doubled or replaced by JSON punctuation at
    /// every few positions): whatever the scanner still reads, serde reads the same; the rest goes
    /// to serde, which rejects (or reads) it as before.
    #[test]
    fn scanner_never_reads_a_broken_line_differently() {
        let text = String::from_utf8(corpus("elastic_macos_network_activity.ndjson")).unwrap();
        let (mut tried, mut still_read) = (0, 0);
        for line in text.lines().take(3) {
            for v in crate::testutil::broken_copies(line, 3) {
                tried += 1;
                if scanned_record(&v).is_ok() {
                    still_read += 1;
                }
                fast_path_check(&v).unwrap();
            }
        }
        assert!(
            still_read > 0 && still_read < tried,
            "{still_read} of {tried}"
        );
    }

    /// The edges of serde's derive: a known key twice, `null`, numbers an `i64` field takes or
    /// refuses, strings where numbers belong, escapes, pretty-printing, and what follows the object.
    #[test]
    fn scanner_reads_the_edges_as_serde_does() {
        let base = r#""eventType":"logEvent","timestamp":"2025-09-15 00:07:32.000000-0700""#;
        // (the record's other keys, read by the scanner)
        let cases = [
            (r#""processID":1,"userID":-5"#, true),
            (r#""processID":9223372036854775807"#, true),
            (r#""processID":-9223372036854775807"#, true),
            (r#""processID":null,"subsystem":null"#, true),
            (r#""eventMessage":"a\/b\n\u00e9""#, true),
            (r#""x":{"y":[1,2.5,"z"]},"backtrace":{"frames":[]}"#, true),
            (r#""processID":-0"#, false),
            (r#""processID":9223372036854775808"#, false),
            (r#""processID":1.0"#, false),
            (r#""processID":"1""#, false),
            (r#""subsystem":1"#, false),
            (r#""category":"a","category":"b""#, false),
            (r#""timestamp":"t""#, false),
            (r#""proc\u0065ssID":1"#, false),
        ];
        for (rest, scanned) in cases {
            let line = format!("{{{base},{rest}}}");
            assert_eq!(scanned_record(&line).is_ok(), scanned, "{line}");
            fast_path_check(&line).unwrap();
        }
        let pretty = format!(
            "{{\n  {},\n  \"processID\" : 7\n}}\n",
            base.replace(',', ",\n  ")
        );
        assert!(scanned_record(&pretty).is_ok(), "{pretty}");
        fast_path_check(&pretty).unwrap();
        for trailing in [format!("{{{base}}} x"), format!("{{{base}}}{{}}")] {
            assert!(scanned_record(&trailing).is_err(), "{trailing}");
            fast_path_check(&trailing).unwrap();
        }
    }

    fn ndjson(data: &[u8]) -> (Vec<Event>, crate::FileStats) {
        read_all(data, Format::UnifiedLogNdjson, ctx("t.ndjson"))
    }

    fn traffic(e: &Event) -> &Traffic {
        match &e.kind {
            EventKind::Traffic(t) => t,
            k => panic!("not traffic: {}", k.name()),
        }
    }

    fn sess(e: &Event) -> &Session {
        match &e.kind {
            EventKind::Session(s) => s,
            k => panic!("not a session: {}", k.name()),
        }
    }

    /// One NDJSON line with the given process, subsystem and message (other keys as in real lines).
    fn line(path: &str, subsystem: &str, category: &str, msg: &str) -> String {
        serde_json::json!({
            "timezoneName": "", "messageType": "Default", "eventType": "logEvent", "source": null,
            "subsystem": subsystem, "category": category, "processImagePath": path,
            "timestamp": "2025-10-15 16:21:27.886344+0530", "machTimestamp": 739118933716566u64,
            "eventMessage": msg, "processID": 77, "userID": 0, "traceID": 1,
        })
        .to_string()
    }

    #[test]
    fn real_network_summaries() {
        let (ev, st) = ndjson(&corpus("elastic_macos_network_activity.ndjson"));
        assert_eq!((st.records, st.rejected, ev.len()), (3, 0, 3));
        let t: Vec<&Traffic> = ev.iter().map(traffic).collect();
        assert_eq!(t[0].pid, Some(198));
        assert_eq!(
            t[0].process_path.as_deref(),
            Some("/usr/libexec/nsurlsessiond")
        );
        assert_eq!(t[0].uid, Some(242));
        assert_eq!((t[0].bytes_in, t[0].bytes_out), (248_482, 1060));
        assert_eq!((t[0].packets_in, t[0].packets_out), (Some(75), Some(18)));
        assert_eq!(t[0].proto, Proto::Quic);
        assert_eq!(t[0].remote.as_deref(), Some("IPv4#3ec082bd:443"));
        assert_eq!(t[0].new_connections, 1);
        assert_eq!(ev[0].ts.0 - t[0].start.0, 2_893_000_000);
        assert_eq!(ev[0].ts.to_rfc3339_millis(), "2025-10-15T10:51:27.886Z");
        assert_eq!(
            ev[0].origin,
            floodwatch_core::event::Origin { file: 0, line: 1 }
        );

        assert_eq!(t[1].pid, Some(200));
        assert_eq!(t[1].proto, Proto::Tcp);
        assert_eq!((t[1].bytes_out, t[1].packets_out), (1012, Some(62)));
        assert_eq!(ev[1].ts.0 - t[1].start.0, 60_046_000_000);
        assert!(t[1]
            .process_path
            .as_deref()
            .unwrap()
            .ends_with("Software Update.app/Contents/Resources/softwareupdated"));
        assert_eq!(t[2].pid, Some(1100));
        assert_eq!((t[2].bytes_in, t[2].bytes_out), (5629, 3030));
    }

    #[test]
    fn real_loginwindow_lines() {
        let mut p = UnifiedLogParser::new(ctx("auth.ndjson"));
        let data = corpus("elastic_macos_authentication_loginwindow.ndjson");
        let text = std::str::from_utf8(&data).unwrap();
        let mut out = vec![];
        for (i, l) in text.lines().enumerate() {
            p.parse(l, i as u64 + 1, &mut out).unwrap();
        }
        // Line 1 (no machTimestamp): the logout dictionary; line 2: the login; line 3: unrelated.
        assert_eq!(out.len(), 2);
        let logout = sess(&out[0]);
        assert_eq!(logout.kind, SessionKind::Logout);
        assert_eq!(
            (logout.user.as_deref(), logout.uid),
            (Some("_mbsetupuser"), Some(248))
        );
        let login = sess(&out[1]);
        assert_eq!(login.kind, SessionKind::Login);
        assert_eq!(
            (login.user.as_deref(), login.uid),
            (Some("_mbsetupuser"), Some(248))
        );
        assert_eq!(out[1].ts.to_rfc3339_millis(), "2025-09-26T06:32:36.119Z");
        // The last record read was at -0700.
        assert_eq!(p.utc_offset(), Some(-7 * 3600));

        let (ev, st) = ndjson(&data);
        assert_eq!((ev.len(), st.skipped, st.rejected), (2, 1, 0));
        assert_eq!(
            st.reasons().get("skipped: unified log message not used"),
            Some(&1)
        );
    }

    #[test]
    fn real_process_execution_lines_are_skipped() {
        let (ev, st) = ndjson(&corpus("elastic_macos_process_execution_monitoring.ndjson"));
        assert_eq!(
            (ev.len(), st.records, st.skipped, st.rejected),
            (0, 2, 2, 0)
        );
    }

    /// The network file's records as `log show --style json` prints them: one array, `"key" : value`,
    /// slashes escaped, followed by the closing count record.
    fn as_style_json(ndjson: &str) -> String {
        let mut s = String::from("[");
        for (i, l) in ndjson.lines().enumerate() {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let pretty = serde_json::to_string_pretty(&v).unwrap();
            let pretty = pretty.replace("\": ", "\" : ").replace('/', "\\/");
            s.push_str(if i == 0 { "" } else { "," });
            s.push_str(&pretty);
        }
        s.push_str(",{\n  \"count\" : 3,\n  \"finished\" : 1\n}]\n");
        s
    }

    #[test]
    fn style_json_array_same_events() {
        let nd = String::from_utf8(corpus("elastic_macos_network_activity.ndjson")).unwrap();
        let json = as_style_json(&nd);
        assert!(json.contains("\"processImagePath\" : \"\\/usr\\/libexec\\/nsurlsessiond\""));
        let (ev, st) = read_all(json.as_bytes(), Format::UnifiedLogJson, ctx("t.json"));
        assert_eq!(
            (st.records, st.rejected, st.skipped, ev.len()),
            (4, 0, 1, 3)
        );
        assert_eq!(
            st.reasons().get("skipped: not a log event (status record)"),
            Some(&1)
        );
        let t = traffic(&ev[0]);
        assert_eq!(
            (t.pid, t.bytes_out, t.packets_out),
            (Some(198), 1060, Some(18))
        );
        assert_eq!(
            t.process_path.as_deref(),
            Some("/usr/libexec/nsurlsessiond")
        );
        assert_eq!(traffic(&ev[1]).proto, Proto::Tcp);
        assert_eq!(traffic(&ev[2]).pid, Some(1100));
        // Records start on their own line of the array.
        assert!(ev[1].origin.line > ev[0].origin.line);
    }

    /// `log show --style json` output cut to one record, without `[ ]`: the real network record
    /// (`elastic_macos_network_activity.ndjson` line 1) as that style prints it, one object over
    /// 32 lines. Read as one record, with the same event as the ndjson line; and two cut records
    /// (`{..},{..}`) as two.
    #[test]
    fn one_pretty_object_without_the_array_is_one_record() {
        let nd = String::from_utf8(corpus("elastic_macos_network_activity.ndjson")).unwrap();
        let json = as_style_json(&nd);
        // The first record exactly as it stands in the array: from its `{` to its `}`.
        let one = &json[1..json.find("\n},").unwrap() + 2];
        let one = format!("{one}\n");
        assert_eq!(one.lines().count(), 32, "{one}");
        assert_eq!(
            crate::sniff(one.as_bytes()),
            crate::Sniffed::Telemetry(Format::UnifiedLogJson)
        );
        let (ev, st) = read_all(one.as_bytes(), Format::UnifiedLogJson, ctx("one.json"));
        assert_eq!((st.records, st.rejected, ev.len()), (1, 0, 1), "{st:?}");
        let (want, _) = ndjson(nd.lines().next().unwrap().as_bytes());
        let (t, w) = (traffic(&ev[0]), traffic(&want[0]));
        assert_eq!(
            (t.pid, t.bytes_out, t.packets_out),
            (w.pid, w.bytes_out, w.packets_out)
        );
        assert_eq!(ev[0].ts, want[0].ts);
        assert_eq!(ev[0].origin.line, 1);

        // Two records cut from the middle of the array, the comma between them kept.
        let two_end = json.match_indices("\n},").nth(1).unwrap().0 + 2;
        let two = format!("{}\n", &json[1..two_end]);
        assert_eq!(
            crate::sniff(two.as_bytes()),
            crate::Sniffed::Telemetry(Format::UnifiedLogJson)
        );
        let (ev, st) = read_all(two.as_bytes(), Format::UnifiedLogJson, ctx("two.json"));
        assert_eq!((st.records, st.rejected, ev.len()), (2, 0, 2), "{st:?}");
        // `},{`: the second record starts on the line the first ends on.
        assert_eq!(ev[1].origin.line, 32);
    }

    /// Such an object is bounded like any record: past `input.max_line_bytes` it is rejected (and
    /// not held); one cut short is a truncated record.
    #[test]
    fn one_pretty_object_is_bounded() {
        let nd = String::from_utf8(corpus("elastic_macos_network_activity.ndjson")).unwrap();
        let json = as_style_json(&nd);
        let one = format!("{}\n", &json[1..json.find("\n},").unwrap() + 2]);
        let mut c = ctx("one.json");
        c.input.max_line_bytes = 1024;
        assert!(one.len() > 1024);
        let (ev, st) = read_all(one.as_bytes(), Format::UnifiedLogJson, c);
        assert!(ev.is_empty());
        assert_eq!((st.records, st.rejected), (1, 1), "{st:?}");
        assert_eq!(st.samples[0].reason, "line too long");
        assert_eq!(st.samples[0].line, 1);

        let cut = &one[..one.len() / 2];
        let (ev, st) = read_all(cut.as_bytes(), Format::UnifiedLogJson, ctx("cut.json"));
        assert!(ev.is_empty());
        assert_eq!(st.samples[0].reason, "truncated last line", "{st:?}");
    }

    #[test]
    fn preamble_footer_truncation_and_bad_lines() {
        let nd = String::from_utf8(corpus("elastic_macos_network_activity.ndjson")).unwrap();
        let first = nd.lines().next().unwrap();
        let bad_ts = first.replace("2025-10-15 16:21:27.886344+0530", "2025-10-15T16:21:27Z");
        let no_ts = first.replace("\"timestamp\":\"2025-10-15 16:21:27.886344+0530\",", "");
        let wrong = first.replace("\"processID\":198", "\"processID\":\"198\"");
        let input = format!(
            "Filtering the log data using \"subsystem == \\\"com.apple.network\\\"\"\n\
             {first}\n{bad_ts}\n{no_ts}\n{wrong}\nnot json at all\n{{\"count\":1,\"finished\":1}}\n{}",
            &first[..first.len() / 2]
        );
        let (ev, st) = ndjson(input.as_bytes());
        assert_eq!(ev.len(), 1);
        assert_eq!(st.reasons().get("skipped: log stream preamble"), Some(&1));
        assert_eq!(
            st.reasons().get("skipped: not a log event (status record)"),
            Some(&1)
        );
        assert_eq!(st.reasons().get("bad timestamp"), Some(&1));
        assert_eq!(st.reasons().get("missing field"), Some(&1));
        assert_eq!(st.reasons().get("wrong type"), Some(&1));
        assert_eq!(st.reasons().get("invalid JSON"), Some(&1));
        assert_eq!(st.reasons().get("truncated last line"), Some(&1));
        assert_eq!(st.rejected, 5);
        let lines: Vec<u64> = st.samples.iter().map(|s| s.line).collect();
        assert_eq!(lines, vec![3, 4, 5, 6, 8]);
    }

    #[test]
    fn session_messages() {
        let cases: Vec<(String, SessionKind, Option<&str>, Option<&str>)> = vec![
            (
                line("/System/Library/CoreServices/loginwindow.app/Contents/MacOS/loginwindow",
                    "com.apple.loginwindow.logging", "Standard",
                    "-[LWScreenLock something] | going inactive, create activity semaphore"),
                SessionKind::Lock, None, None,
            ),
            (
                line("/System/Library/CoreServices/loginwindow.app/Contents/MacOS/loginwindow",
                    "com.apple.loginwindow.logging", "Standard",
                    "-[LWScreenLock something] | user is active, releasing the activity semaphore"),
                SessionKind::Unlock, None, None,
            ),
            (
                line("/System/Library/CoreServices/loginwindow.app/Contents/MacOS/loginwindow",
                    "com.apple.loginwindow.logging", "Standard",
                    "-[LoginWindow x] | Unlock succeeded, with password, attempting to unlock the login keychain"),
                SessionKind::Unlock, None, None,
            ),
            (
                line("/System/Library/CoreServices/logind", "com.apple.login", "Logind_General",
                    "-[SessionAgent SA_SetSessionStateForUser:state:reply:]:536: state set to: 3"),
                SessionKind::Lock, None, None,
            ),
            (
                line("/System/Library/CoreServices/logind", "com.apple.login", "Logind_General",
                    "-[SessionAgent SA_SetSessionStateForUser:state:reply:]:536: state set to: 2"),
                SessionKind::Unlock, None, None,
            ),
            (line("/kernel", "", "", "PMRD: System Wake"), SessionKind::Wake, None, None),
            (line("/kernel", "", "", "PMRD: System Sleep"), SessionKind::Sleep, None, None),
            (
                line("/usr/libexec/sshd-session", "", "",
                    "Accepted publickey for alice from 203.0.113.5 port 52311 ssh2"),
                SessionKind::SshLogin, Some("alice"), Some("203.0.113.5"),
            ),
            (
                line("/usr/sbin/sshd", "", "", "Disconnected from user alice 203.0.113.5 port 52311"),
                SessionKind::SshLogout, Some("alice"), Some("203.0.113.5"),
            ),
            (
                line("/System/Library/CoreServices/RemoteManagement/screensharingd.bundle/Contents/MacOS/screensharingd",
                    "", "",
                    "Authentication: SUCCEEDED :: User Name: Jane Doe :: Viewer Address: 192.168.1.20 :: Type: DH"),
                SessionKind::ScreenShareStart, Some("Jane Doe"), Some("192.168.1.20"),
            ),
        ];
        for (l, kind, user, remote) in cases {
            let mut p = UnifiedLogParser::new(ctx("s"));
            let mut out = vec![];
            assert!(
                matches!(p.parse(&l, 1, &mut out), Ok(Parsed::Events)),
                "{l}"
            );
            let s = sess(&out[0]);
            assert_eq!(
                (s.kind, s.user.as_deref(), s.remote.as_deref()),
                (kind, user, remote),
                "{l}"
            );
        }
        // Near misses stay skipped.
        for l in [
            line(
                "/usr/sbin/sshd",
                "",
                "",
                "Failed password for alice from 203.0.113.5 port 1 ssh2",
            ),
            line(
                "/x/screensharingd",
                "",
                "",
                "Authentication: FAILED :: User Name: x :: Viewer Address: 1.2.3.4",
            ),
            line(
                "/System/Library/CoreServices/logind",
                "com.apple.login",
                "Logind_General",
                "-[SessionAgent SA_SetSessionStateForUser:state:reply:]:536: state set to: 1",
            ),
            line(
                "/usr/libexec/nsurlsessiond",
                "com.apple.network",
                "connection",
                "[C1 x Hostname#1:443 tcp, attribution: developer] start",
            ),
        ] {
            let mut p = UnifiedLogParser::new(ctx("s"));
            assert!(
                matches!(p.parse(&l, 1, &mut vec![]), Ok(Parsed::Skipped(_))),
                "{l}"
            );
        }
    }

    #[test]
    fn summary_without_duration_or_packets() {
        let l = line(
            "/usr/bin/x",
            "com.apple.network",
            "connection",
            "[C9 U 10.0.0.1:53 udp, attribution: developer] cancelled\n\t[C9.1 U 10.0.0.2:5000<->10.0.0.1:53]\n\tbytes in/out: 10/20",
        );
        let mut p = UnifiedLogParser::new(ctx("s"));
        let mut out = vec![];
        p.parse(&l, 1, &mut out).unwrap();
        let t = traffic(&out[0]);
        assert_eq!(
            (t.proto, t.bytes_out, t.packets_out),
            (Proto::Udp, 20, None)
        );
        assert_eq!(t.start, out[0].ts);
        assert_eq!(t.remote.as_deref(), Some("10.0.0.1:53"));

        let bad = line(
            "/usr/bin/x",
            "com.apple.network",
            "connection",
            "[C9 U h:1 tcp] cancelled\n\tbytes in/out: x/20",
        );
        let r = p.parse(&bad, 2, &mut vec![]);
        assert!(matches!(
            r,
            Err(Reject {
                reason: RejectReason::BadValue,
                ..
            })
        ));
    }

    #[test]
    fn borrows_unescaped_strings() {
        let rec: LogRecord =
            serde_json::from_str(r#"{"subsystem":"com.apple.network","processImagePath":"\/a"}"#)
                .unwrap();
        assert!(matches!(
            rec.subsystem.unwrap().0,
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(rec.process_image_path.unwrap().0, "/a");
    }
}
