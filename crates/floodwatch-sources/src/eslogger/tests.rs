//! eslogger tests: the real v9/v10/v11 lines, session events, rejects, escapes and key order.

use super::*;
use crate::testutil::{ctx, read_all};
use crate::{FileStats, Format};
use floodwatch_core::event::SessionKind;

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
        Err(r) | Ok((Parsed::Rejected(r), _)) => panic!("rejected: {} {}", r.reason, r.detail),
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
        target.args.as_deref().map(<[String]>::to_vec),
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
    assert_eq!(target.args.as_deref().map(<[String]>::len), Some(1));
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

// ---------------------------------------------------------------------------------------------
// The fast path against serde

/// Every real exec/fork/exit line (v9 object tokens, v10 array tokens, v11) takes the fast path,
/// and reads to exactly what serde reads.
#[test]
fn fast_path_reads_every_real_line_as_serde_does() {
    let mut lines = mullvad_lines();
    lines.extend(
        corpus("macmonitor_fixture_eslogger-exit_v10_sanitized.jsonl")
            .lines()
            .map(str::to_string),
    );
    let mut fast = 0;
    for line in &lines {
        if fast::message(line).is_ok() {
            fast += 1;
        }
        fast_path_check(line).unwrap();
    }
    assert_eq!(
        fast,
        lines.len(),
        "every real line is an exec, fork or exit"
    );
}

/// The bundled collection's lines (written by the simulator, like the benchmarks' bulk) take the
/// fast path too, except session events.
#[test]
fn fast_path_reads_the_bundled_collection_as_serde_does() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/collection/admin-mbp-02/eslogger.jsonl"
    ))
    .unwrap();
    let (mut fast, mut session) = (0, 0);
    for line in text.lines() {
        fast_path_check(line).unwrap();
        if fast::message(line).is_ok() {
            fast += 1;
        } else {
            assert!(
                line.contains("\"lw_session_") || line.contains("ssh"),
                "{line:.200}"
            );
            session += 1;
        }
    }
    assert!(fast > 40 && session > 0, "{fast} fast, {session} session");
}

/// Broken copies of the real lines (a byte dropped, doubled or replaced by JSON punctuation at
/// every few positions): whatever the fast path still reads, serde reads the same; the rest falls
/// back to serde and is rejected (or read) exactly as before.
#[test]
fn fast_path_never_reads_a_broken_line_differently() {
    let lines = mullvad_lines();
    let mut tried = 0;
    let mut still_fast = 0;
    for line in &lines {
        for v in crate::testutil::broken_copies(line, 5) {
            tried += 1;
            if fast::message(&v).is_ok() {
                still_fast += 1;
            }
            if let Err(e) = fast_path_check(&v) {
                panic!("{e}");
            }
        }
    }
    // Some edits keep the line valid (a changed digit, a letter inside a string): both paths read them.
    assert!(
        still_fast > 0 && still_fast < tried,
        "{still_fast} of {tried}"
    );
}

/// Audit token objects read key by key into slots: duplicates, signs, ranges and unknown keys as
/// serde reads them (or left to serde), and the plain ones on the fast path.
#[test]
fn audit_token_objects_read_as_serde_does() {
    let lines = mullvad_lines();
    let token = r#""audit_token":{"euid":0,"rgid":0,"egid":0,"pid":11221,"asid":100017,"ruid":0,"auid":4294967295,"pidversion":170692}"#;
    let line = lines.iter().find(|l| l.contains(token)).unwrap();
    // (object, read on the fast path)
    let cases = [
        (r#"{"pid":1,"pid":2,"auid":7,"auid":8}"#, true),
        (r#"{"pid":-5,"euid":4294967295,"ruid":0}"#, true),
        (r#"{"pid":-2147483648,"pidversion":4294967295}"#, true),
        (r#"{"pid":2147483647}"#, true),
        (
            r#"{"pidversio":2,"pidversionx":3,"pi":4,"pidv":5,"auidx":6,"":1,"pidversion":9}"#,
            true,
        ),
        (r#"{}"#, true),
        (r#"{"asid":-0,"egid":-7}"#, true),
        (r#"{"pid":-0}"#, false),
        (r#"{"pid":2147483648}"#, false),
        (r#"{"pid":-2147483649}"#, false),
        (r#"{"auid":-1}"#, false),
        (r#"{"auid":4294967296}"#, false),
        (r#"{"pidversion":1.0}"#, false),
        (r#"{"egid":01}"#, false),
        (r#"{"pid":1,"pid":-0}"#, false),
        (r#"{"auid":-1,"auid":2}"#, false),
        // Valid JSON serde reads, left to it.
        (r#"{"asid":1.5,"pid":3}"#, false),
        (r#"{"asid":"x","pid":3}"#, false),
        (r#"{"asid":null,"pid":3}"#, false),
    ];
    for (obj, fast_path) in cases {
        let l = line.replacen(token, &format!("\"audit_token\":{obj}"), 1);
        fast_path_check(&l).unwrap();
        assert_eq!(fast::message(&l).is_ok(), fast_path, "{obj}");
    }
    // The values themselves, not only their agreement with serde.
    let l = line.replacen(
        token,
        r#""audit_token":{"pid":1,"pid":-2,"auid":7,"euid":8,"ruid":9,"pidversion":10}"#,
        1,
    );
    let m = fast::message(&l).unwrap();
    let t = m.process.audit_token.unwrap();
    assert_eq!(
        (t.pid, t.auid, t.euid, t.ruid, t.pidversion),
        (Some(-2), Some(7), Some(8), Some(9), Some(10))
    );
}

/// Integers at the edges of i32 and u32, the process and token fields' ranges.
pub(super) const RANGE_EDGES: [&str; 6] = [
    "2147483647",
    "2147483648",
    "-2147483648",
    "-2147483649",
    "4294967295",
    "4294967296",
];

/// Every process key given a value of every JSON type (and the integer edge cases): the fast
/// path, which reads a process object's values by their first byte and checks their types after,
/// reads exactly what serde reads or leaves the line to it; the values of the right type stay on
/// the fast path.
#[test]
fn process_values_of_every_type_read_as_serde_does() {
    let lines = mullvad_lines();
    let line = lines
        .iter()
        .find(|l| l.contains("\"event\":{\"exec\""))
        .expect("an exec line");
    let record: serde_json::Value = serde_json::from_str(line).unwrap();
    let keys: Vec<String> = record["process"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .chain(["no_such_key".to_string()])
        .collect();
    assert!(keys.len() >= 16, "{keys:?}");
    let values = ["null", "true", "false", "0", "7", "-0", "-7"]
        .into_iter()
        .chain(RANGE_EDGES)
        .chain([
            "1.5",
            "1e3",
            "\"x\"",
            "\"\\/a\\u00e9\"",
            "{}",
            "{\"path\":\"\\/bin\\/sh\"}",
            "{\"pid\":3,\"euid\":0}",
            "[1,2,3,4,5,6,7,8]",
            "[]",
        ])
        .collect::<Vec<_>>();
    let (mut tried, mut fast) = (0, 0);
    let mut taken = std::collections::BTreeSet::new();
    for key in &keys {
        for &value in &values {
            // The value written as it is (serde_json's own writer would turn `-0` into `-0.0`).
            let mut r = record.clone();
            r["process"][key.as_str()] = "@value@".into();
            let text = serde_json::to_string(&r)
                .unwrap()
                .replacen("\"@value@\"", value, 1);
            assert!(text.contains(value), "{value}");
            fast_path_check(&text).unwrap();
            tried += 1;
            if fast::message(&text).is_ok() {
                fast += 1;
                taken.insert((key.as_str(), value));
            }
        }
    }
    assert!(fast < tried, "{fast} of {tried}");
    // What stays on the fast path, key by key: null for every key; any value for the keys it skips;
    // each field's own type within its range, and nothing past it.
    for key in &keys {
        assert!(taken.contains(&(key.as_str(), "null")), "{key}: null");
    }
    for key in ["no_such_key", "cdhash", "group_id", "is_es_client"] {
        for &value in &values {
            assert!(taken.contains(&(key, value)), "{key}: {value}");
        }
    }
    for (key, value, fast) in [
        ("ppid", "-7", true),
        ("ppid", "-2147483648", true),
        ("ppid", "-0", false),
        ("ppid", "2147483648", false),
        ("ppid", "1.5", false),
        ("session_id", "2147483647", true),
        ("codesigning_flags", "4294967295", true),
        ("codesigning_flags", "4294967296", false),
        ("codesigning_flags", "-7", false),
        ("is_platform_binary", "true", true),
        ("is_platform_binary", "0", false),
        ("start_time", "\"\\/a\\u00e9\"", true),
        ("signing_id", "7", false),
        ("audit_token", "{\"pid\":3,\"euid\":0}", true),
        ("audit_token", "[1,2,3,4,5,6,7,8]", true),
        ("audit_token", "\"x\"", false),
        ("executable", "{\"path\":\"\\/bin\\/sh\"}", true),
        ("executable", "[]", false),
        ("tty", "{}", true),
        ("tty", "7", false),
    ] {
        assert_eq!(taken.contains(&(key, value)), fast, "{key}: {value}");
    }
}
