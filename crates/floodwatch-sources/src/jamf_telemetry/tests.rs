//! On the real lines of Elastic's Jamf Protect telemetry test log
//! (`tests/data/corpus/jamf_protect_telemetry`, provenance there).

use crate::testutil::{self, ctx, read_all};
use crate::{sniff, Format, Sniffed};
use floodwatch_core::event::{Event, EventKind, ProcInfo, SessionKind, Tty};
use floodwatch_core::time::parse_rfc3339;

const SAMPLE: &str = "jamf_protect_telemetry/elastic_jamf_protect_telemetry_sample_lines.ndjson";

fn sample() -> Vec<u8> {
    testutil::corpus(SAMPLE)
}

fn lines() -> Vec<String> {
    String::from_utf8(sample())
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn exec_target(e: &Event) -> (&ProcInfo, Option<&ProcInfo>) {
    match &e.kind {
        EventKind::Exec { instigator, target } => (target, instigator.as_deref()),
        other => panic!("not an exec: {other:?}"),
    }
}

#[test]
fn sniffed_from_content_not_as_eslogger_nor_unknown_json() {
    assert_eq!(sniff(&sample()), Sniffed::Telemetry(Format::JamfTelemetry));
    // One record alone, and the same record pretty-printed (a vendor sample or `jq .` output).
    let exec = &lines()[4];
    assert_eq!(
        sniff(exec.as_bytes()),
        Sniffed::Telemetry(Format::JamfTelemetry)
    );
    let v: serde_json::Value = serde_json::from_str(exec).unwrap();
    let pretty = serde_json::to_string_pretty(&v).unwrap();
    assert_eq!(
        sniff(pretty.as_bytes()),
        Sniffed::Telemetry(Format::JamfTelemetry)
    );
    // Pretty-printed records (two back to back) are read like lines, each at its `{` line.
    let two = format!("{pretty}\n{pretty}\n");
    let (ev, st) = read_all(two.as_bytes(), Format::JamfTelemetry, ctx("p.json"));
    assert_eq!((st.records, st.events, st.rejected), (2, 2, 0), "{st:?}");
    assert_eq!(ev[1].origin.line, pretty.lines().count() as u64 + 1);
    // A first record larger than the sniffer's head is decided on its key names.
    let mut big = v.clone();
    big["event"]["exec"]["env"] = serde_json::json!(["X=".repeat(40_000)]);
    let big = big.to_string();
    assert_eq!(
        sniff(big.as_bytes()),
        Sniffed::Telemetry(Format::JamfTelemetry)
    );
}

#[test]
fn every_real_line_is_an_event_or_a_named_skip() {
    let (ev, st) = read_all(&sample(), Format::JamfTelemetry, ctx("t.ndjson"));
    assert_eq!(st.format, "jamf-protect-telemetry");
    assert_eq!(
        (st.records, st.events, st.skipped, st.rejected),
        (14, 10, 4, 0),
        "{st:?}"
    );
    let reasons = st.reasons();
    let skips: Vec<&str> = reasons.keys().map(String::as_str).collect();
    assert_eq!(
        skips,
        [
            "skipped: Jamf telemetry bios_uefi (not used)",
            "skipped: Jamf telemetry file_collection (not used)",
            "skipped: Jamf telemetry kextload (not used)",
            "skipped: Jamf telemetry su failed (no process context)",
        ]
    );
    let lines: Vec<u64> = ev.iter().map(|e| e.origin.line).collect();
    assert_eq!(lines, [1, 2, 3, 4, 5, 6, 7, 8, 9, 11]);
    // Each record's own host, interned.
    let hosts: Vec<&str> = ev.iter().map(|e| &*e.host).collect();
    assert_eq!(hosts[0], "MacBookPro");
    assert_eq!(hosts[2], "sevro");
}

#[test]
fn exec_carries_argv_lineage_tty_session_user_and_signing() {
    let (ev, _) = read_all(&sample(), Format::JamfTelemetry, ctx("t.ndjson"));
    // `ping -c1 themittenmac.com` typed in Terminal: zsh (pid 62842) execs /sbin/ping.
    let ping = &ev[4];
    assert_eq!(ping.ts, parse_rfc3339("2024-05-15T21:28:03.096Z").unwrap());
    let (t, instigator) = exec_target(ping);
    assert_eq!(t.pid, 62842);
    assert_eq!(t.pidversion, Some(3408690));
    assert_eq!(t.path.as_deref(), Some("/sbin/ping"));
    assert_eq!(
        t.args.as_deref(),
        Some(&["ping".to_string(), "-c1".into(), "themittenmac.com".into()][..])
    );
    assert_eq!(t.cwd.as_deref(), Some("/Users/allen.golbig"));
    assert_eq!(t.ppid, Some(62752));
    assert_eq!(t.original_ppid, Some(62752));
    assert_eq!(t.responsible_pid, Some(62748));
    assert_eq!(t.session_id, Some(62751));
    assert_eq!((t.uid, t.euid, t.auid), (Some(502), Some(502), Some(502)));
    assert_eq!(t.tty, Tty::Some("/dev/ttys006".into()));
    assert_eq!(t.signing.signing_id.as_deref(), Some("com.apple.ping"));
    assert_eq!(t.signing.platform_binary, Some(true));
    assert_eq!(t.signing.cs_flags, Some(570522385));
    assert_eq!(
        t.start_time,
        Some(parse_rfc3339("2024-05-15T21:28:03.000Z").unwrap())
    );
    let i = instigator.unwrap();
    assert_eq!(i.path.as_deref(), Some("/bin/zsh"));
    assert_eq!(i.pidversion, Some(3408689));

    // launchd starts sshd: no tty key in the record, so no terminal (not "unknown").
    let (sshd, _) = exec_target(&ev[3]);
    assert_eq!(sshd.path.as_deref(), Some("/usr/sbin/sshd"));
    assert_eq!(sshd.ppid, Some(1));
    assert_eq!(sshd.auid, None, "auid 4294967295 is unset");
    assert_eq!(sshd.tty, Tty::None);

    // A third-party app's signing: team id from the instigator.
    let (zsh, app) = exec_target(&ev[5]);
    assert_eq!(zsh.args.as_deref().map(<[String]>::len), Some(3));
    let app = app.unwrap();
    assert_eq!(app.signing.team_id.as_deref(), Some("CLQKFNPCCP"));
    assert_eq!(app.signing.platform_binary, Some(false));
}

#[test]
fn sudo_is_process_context_and_sessions_feed_the_session_context() {
    let (ev, _) = read_all(&sample(), Format::JamfTelemetry, ctx("t.ndjson"));
    let EventKind::ProcessSeen(sudo) = &ev[2].kind else {
        panic!("{:?}", ev[2].kind)
    };
    assert_eq!(sudo.path.as_deref(), Some("/usr/bin/sudo"));
    assert_eq!((sudo.pid, sudo.ppid), (707, Some(637)));
    assert_eq!(sudo.tty, Tty::Some("/dev/ttys001".into()));
    assert_eq!((sudo.uid, sudo.euid), (Some(501), Some(0)));

    let sessions: Vec<(SessionKind, Option<&str>, Option<&str>)> = ev
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Session(s) => Some((s.kind, s.user.as_deref(), s.remote.as_deref())),
            _ => None,
        })
        .collect();
    assert_eq!(
        sessions,
        [
            (SessionKind::Lock, Some("allen.golbig"), None),
            (SessionKind::Unlock, Some("allen.golbig"), None),
            (
                SessionKind::SshLogin,
                Some("jappleseed"),
                Some("192.168.4.252")
            ),
            (SessionKind::Logout, Some("jappleseed"), None),
            (SessionKind::Login, Some("jappleseed"), None),
            (
                SessionKind::ScreenShareStart,
                Some("jappleseed"),
                Some("192.168.4.252")
            ),
        ]
    );
    // login(1) on a terminal: the session keeps its tty.
    let EventKind::Session(login) = &ev[8].kind else {
        panic!()
    };
    assert_eq!(login.tty.as_deref(), Some("/dev/ttys003"));
    assert_eq!(login.uid, Some(502));
}

/// The public sample has no fork or exit record: these are real eslogger fork and exit messages
/// (`tests/data/corpus/eslogger`) given the Jamf envelope of a real line here (a derived record).
#[test]
fn fork_and_exit_in_the_jamf_envelope() {
    let es = String::from_utf8(testutil::corpus(
        "eslogger/mullvad_eslogger_v9_v10_v11.ndjson",
    ))
    .unwrap();
    let envelope: serde_json::Value = serde_json::from_str(&lines()[0]).unwrap();
    let mut text = String::new();
    for want in ["fork", "exit"] {
        let es: serde_json::Value = es
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|v| v["event"].get(want).is_some())
            .unwrap();
        let mut rec = envelope.clone();
        for k in ["process", "event", "time"] {
            rec[k] = es[k].clone();
        }
        text.push_str(&rec.to_string());
        text.push('\n');
    }
    assert_eq!(
        sniff(text.as_bytes()),
        Sniffed::Telemetry(Format::JamfTelemetry)
    );
    let (ev, st) = read_all(text.as_bytes(), Format::JamfTelemetry, ctx("t"));
    assert_eq!((st.events, st.rejected), (2, 0), "{st:?}");
    let EventKind::Fork { parent, child } = &ev[0].kind else {
        panic!("{:?}", ev[0].kind)
    };
    assert_eq!(child.ppid, Some(parent.pid));
    assert!(matches!(ev[1].kind, EventKind::Exit { .. }));
    assert_eq!(&*ev[0].host, "MacBookPro");
}

#[test]
fn bad_records_are_rejected_with_line_and_precise_reason() {
    let l = lines();
    let exec: serde_json::Value = serde_json::from_str(&l[4]).unwrap();
    let mut no_pid = exec.clone();
    no_pid["event"]["exec"]["target"]["audit_token"]
        .as_object_mut()
        .unwrap()
        .remove("pid");
    let mut bad_time = exec.clone();
    bad_time["time"] = "yesterday".into();
    let mut no_process = exec.clone();
    no_process.as_object_mut().unwrap().remove("process");
    let mut empty_event = exec.clone();
    empty_event["event"] = serde_json::json!({});
    let mut wrong_args = exec.clone();
    wrong_args["event"]["exec"]["args"] = serde_json::json!("ping -c1");
    let text = format!(
        "{}\n{no_pid}\n{bad_time}\n{no_process}\n{empty_event}\n{wrong_args}\n{{\"event\": {{\"exec\"",
        l[4]
    );
    let (ev, st) = read_all(text.as_bytes(), Format::JamfTelemetry, ctx("t"));
    assert_eq!(ev.len(), 1);
    let got: Vec<(u64, &str, &str)> = st
        .samples
        .iter()
        .map(|s| (s.line, s.reason.as_str(), s.detail.as_str()))
        .collect();
    assert_eq!(
        got[0],
        (2, "missing field", "event.exec.target.audit_token.pid")
    );
    assert_eq!(got[1], (3, "bad timestamp", "time \"yesterday\""));
    assert_eq!(got[2], (4, "missing field", "process"));
    assert_eq!(got[3], (5, "bad value", "event object has no event key"));
    assert_eq!((got[4].0, got[4].1), (6, "wrong type"));
    assert_eq!((got[5].0, got[5].1), (7, "truncated last line"));
}

#[test]
fn host_forced_wins_over_the_record() {
    let mut c = ctx("t");
    c.host_forced = true;
    let (ev, _) = read_all(&sample(), Format::JamfTelemetry, c);
    assert!(ev.iter().all(|e| &*e.host == "testhost"));
}

/// The old BSM layout is still its own format.
#[test]
fn aue_layout_still_reads_as_jamf_protect() {
    let aue = testutil::corpus("jamf_protect/telemetry/AUE_EXECVE.json");
    assert_eq!(sniff(&aue), Sniffed::Telemetry(Format::JamfProtect));
}
