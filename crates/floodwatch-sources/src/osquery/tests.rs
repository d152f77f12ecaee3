//! osquery tests: the real sample, every table floodwatch reads, envelope shapes and bad values.

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
        Err(r) | Ok((Parsed::Rejected(r), _)) => panic!("rejected: {} {}", r.reason, r.detail),
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
        Err(r) | Ok((Parsed::Rejected(r), _)) => panic!("rejected: {} {}", r.reason, r.detail),
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
    let data = std::fs::read(format!("{CORPUS}/elastic_test-osquery_first3lines.ndjson")).unwrap();
    let (events, stats) = read_all(&data, Format::Osquery, ctx("o.ndjson"));
    assert_eq!(stats.rejected, 0, "{:?}", stats.samples);
    assert_eq!((stats.records, stats.skipped), (3, 3));
    assert!(events.is_empty());
    assert_eq!(
        stats.reasons().get(
            "skipped: osquery query pack_it-compliance_mounts is not a table floodwatch reads"
        ),
        Some(&1)
    );
    assert_eq!(
            stats.reasons().get(
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
        target.args.as_deref().map(<[String]>::to_vec),
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
    assert_eq!(p.args.as_deref(), Some(&["kernel_task".to_string()][..]));
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

#[test]
fn calendar_years_past_2262_saturate_instead_of_overflowing() {
    // Found by the osquery fuzz target (debug-assertion multiply overflow at year 2418).
    let far = parse_calendar_time("Mon Jan  8 14:51:55 2418 UTC").expect("parsed");
    assert!(far > Ts::from_secs(1515423115));
    assert!(parse_calendar_time("Fri Dec 31 23:59:59 9999 UTC").is_some());
    // The fuzzer's whole input, read through the source: no panic, every line accounted for.
    let data = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/fuzz-regressions/osquery-calendar-year-2418.bin"
    ))
    .expect("regression input");
    let (_, stats) = read_all(&data, Format::Osquery, ctx("crash.ndjson"));
    assert!(stats.records >= 3, "{stats:?}");
}
