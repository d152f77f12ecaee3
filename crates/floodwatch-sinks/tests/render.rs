//! Rendering tests: required OCSF fields, and attacker-controlled strings that must stay data.

use floodwatch_core::alert::*;
use floodwatch_core::event::{Proto, SignatureClass, Tty};
use floodwatch_core::Ts;
use floodwatch_sinks::ocsf::{detection_finding, Activity};
use floodwatch_sinks::report::{html_report, markdown_report, Section};
use floodwatch_sinks::summary::RunSummary;
use floodwatch_sinks::table::{write_table, Style};

const EVIL: &str = "/tmp/.x/a\x1b[2J\x1b]0;pwned\x07\r\nHIGH 100 fake-host\u{202e}\"},{\"x\":1";

fn view(pid: i32, path: &str, cmd: &str) -> ProcessView {
    ProcessView {
        pid,
        start_time: Some(Ts::from_secs(1_790_000_000)),
        path: Some(path.into()),
        cmd_line: Some(cmd.into()),
        uid: Some(0),
        euid: Some(0),
        user: Some("root".into()),
        tty: Tty::None,
        signing_id: Some("com.example".into()),
        team_id: None,
        signature: SignatureClass::AdHoc,
    }
}

fn alert() -> Alert {
    Alert {
        id: "0b8e7d44-0000-5000-8000-000000000001".into(),
        host: "mac-01".into(),
        status: AlertStatus::Closed,
        first_seen: Ts::from_secs(1_790_000_000),
        last_seen: Ts::from_secs(1_790_000_090),
        score: 82,
        severity: Severity::High,
        reasons: vec![Reason {
            code: "spawn_rate".into(),
            points: 55,
            text: format!("40.0 curl execs/s from one parent ({EVIL})"),
            value: Some(40.0),
            threshold: Some(5.0),
        }],
        metrics: Metrics {
            window_secs: 30,
            hot_windows: 3,
            protocols: vec![Proto::Tcp],
            ..Metrics::default()
        },
        subject: SubjectView {
            kind: "lineage_group".into(),
            process: view(4000, EVIL, &format!("/bin/bash {EVIL}")),
            parents: vec![
                view(300, "/usr/sbin/cron", "/usr/sbin/cron"),
                view(1, "/sbin/launchd", "/sbin/launchd"),
            ],
            children: vec![("/usr/bin/curl".into(), 2400)],
        },
        context: ContextView {
            unattended: true,
            launched_by: "cron".into(),
            launch_chain: format!("launchd → cron → {EVIL}"),
            ..ContextView::default()
        },
        evidences: vec![Evidence {
            kind: "exec".into(),
            time: Ts::from_secs(1_790_000_001),
            pid: Some(4001),
            process_start: Some(Ts::from_secs(1_790_000_001)),
            process: Some("/usr/bin/curl".into()),
            cmd_line: Some(EVIL.into()),
            proto: None,
            remote: None,
            bytes_out: None,
            packets_out: None,
            file: "hosts/mac-01/eslogger.jsonl".into(),
            line: 17,
            format: Some("eslogger".into()),
        }],
        timeline: vec![],
        baseline: "absolute thresholds".into(),
        suppressed_by: None,
        suppression_notes: vec![],
        campaign: None,
        playbook: None,
        facts: Default::default(),
    }
}

#[test]
fn ocsf_detection_finding_has_the_required_fields() {
    let v = detection_finding(&alert(), Activity::Close, "0.1.0");
    assert_eq!(v["class_uid"], 2004);
    assert_eq!(v["finding_info"]["analytic"]["uid"], "AN0971");
    let attack = &v["finding_info"]["attacks"][0];
    assert_eq!(attack["technique"]["uid"], "T1498");
    assert_eq!(attack["technique"]["name"], "Network Denial of Service");
    assert_eq!(attack["sub_technique"]["uid"], "T1498.001");
    assert_eq!(attack["sub_technique"]["name"], "Direct Network Flood");
    // Risk levels are one below severity ids: High severity (4) is High risk (3), not Critical.
    assert_eq!(
        v["risk_level_id"].as_u64().unwrap() + 1,
        v["severity_id"].as_u64().unwrap()
    );
    assert_eq!(v["device"]["hostname"], "mac-01");
    assert_eq!(v["actor"]["process"]["pid"], 4000);
    assert_eq!(v["actor"]["process"]["parent_process"]["pid"], 300);
    assert_eq!(
        v["actor"]["process"]["parent_process"]["cmd_line"],
        "/usr/sbin/cron"
    );
    assert_eq!(
        v["actor"]["process"]["parent_process"]["parent_process"]["pid"],
        1
    );
    assert_eq!(v["actor"]["process"]["user"]["name"], "root");
    assert_eq!(
        v["evidences"][0]["data"]["source_file"],
        "hosts/mac-01/eslogger.jsonl"
    );
    assert_eq!(v["evidences"][0]["data"]["source_line"], 17);
    // The evidence process: its image as a file (name and type required by OCSF), its start, and a
    // uid naming the lifetime; unknown counters are omitted, not null.
    let ep = &v["evidences"][0]["process"];
    assert_eq!(ep["name"], "curl");
    assert_eq!(ep["file"]["name"], "curl");
    assert_eq!(ep["file"]["type_id"], 1);
    assert_eq!(ep["created_time"], 1_790_000_001_000i64);
    assert!(ep["uid"].is_string());
    assert!(v["evidences"][0]["data"].get("bytes_out").is_none());
    assert_eq!(v["metadata"]["profiles"], serde_json::json!(["host"]));
    assert_eq!(v["metadata"]["log_provider"], "eslogger");
    assert_eq!(v["metadata"]["original_time"], "2026-09-21T14:13:21.000Z");
    assert_eq!(v["confidence_id"], 3);
    assert!(v["device"]["uid"].is_string());
    assert_eq!(v["severity_id"], 4);
    assert_eq!(v["risk_score"], 82);
    assert_eq!(v["start_time"], 1_790_000_000_000i64);
    assert_eq!(v["end_time"], 1_790_000_090_000i64);
    assert_eq!(
        v["unmapped"]["floodwatch"]["reasons"][0]["code"],
        "spawn_rate"
    );
    assert_eq!(v["unmapped"]["floodwatch"]["metrics"]["hot_windows"], 3);
}

#[test]
fn hostile_strings_stay_data_in_json_and_table() {
    let a = alert();
    // JSON: one line, and the command line round-trips byte for byte.
    let line = serde_json::to_string(&detection_finding(&a, Activity::Create, "0.1.0")).unwrap();
    assert!(!line.contains('\n') && !line.contains('\x1b'));
    let back: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(back["evidences"][0]["process"]["cmd_line"], EVIL);
    // Table: no raw control characters reach the terminal; each is shown escaped.
    let mut buf = Vec::new();
    write_table(&mut buf, &[a], &Style { color: false }).unwrap();
    let text = String::from_utf8(buf).unwrap();
    assert!(
        !text.contains('\x1b')
            && !text.contains('\r')
            && !text.contains('\x07')
            && !text.contains('\u{202e}')
    );
    assert!(text.contains("\\x1b[2J"), "{text}");
    // The injected fake alert header stays inside its line instead of starting a new one.
    assert!(!text.lines().any(|l| l.starts_with("HIGH 100 fake-host")));
    // With colour on, the only escape sequences are ours (SGR), never the attacker's.
    let mut buf = Vec::new();
    write_table(&mut buf, &[alert()], &Style { color: true }).unwrap();
    let text = String::from_utf8(buf).unwrap();
    assert!(!text.contains("\x1b]0;") && !text.contains("\x1b[2J"));
}

#[test]
fn reports_escape_hostile_strings_and_need_no_script() {
    let mut a = alert();
    let xss = "<script>alert(1)</script><img src=x onerror=alert(2)> | `x` \u{202e}";
    a.subject.process.cmd_line = Some(format!("/bin/bash {xss} {EVIL}"));
    a.host = format!("mac-01{xss}");
    a.timeline = vec![
        WindowPoint {
            start: Ts::from_secs(1_790_000_000),
            packets_per_s: 0.0,
            bytes_per_s: 0.0,
            connections_per_s: 0.0,
            spawns_per_s: 40.0,
            hot: true,
        },
        WindowPoint {
            start: Ts::from_secs(1_790_000_015),
            packets_per_s: 0.0,
            bytes_per_s: 0.0,
            connections_per_s: 0.0,
            spawns_per_s: 2.0,
            hot: false,
        },
    ];
    let extra = [Section {
        title: format!("eval {xss}"),
        headers: vec!["family".into()],
        rows: vec![vec![xss.to_string()]],
        lines: vec![xss.to_string()],
    }];
    let html = html_report(
        "r",
        std::slice::from_ref(&a),
        &RunSummary::default(),
        &extra,
    );
    assert!(
        !html.contains("<script") && !html.contains("<img"),
        "{html}"
    );
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!html.contains('\x1b') && !html.contains('\u{202e}'));
    // The chart: one bar per window, the hot one red, and the 5/s threshold line.
    assert_eq!(html.matches("<rect").count(), 2);
    assert!(html.contains("fill=\"#c0392b\"") && html.contains("threshold 5.0"));
    let md = markdown_report("r", &[a], &RunSummary::default(), &extra);
    assert!(!md.contains('\x1b') && !md.contains('\u{202e}'));
    // Outside code spans `<` is escaped; the command line and chain are code spans, where a
    // `<script>` is shown as those characters (an entity there would show `&lt;`).
    for l in md.lines() {
        let code = l.starts_with("- subject:") || l.starts_with("- chain:");
        assert!(code || !l.contains("<script"), "{l}");
    }
    assert!(md
        .lines()
        .any(|l| l.starts_with("- subject: pid 4000 ``/bin/bash <script>alert(1)</script>")));
    // A pipe inside a cell cannot open a new column.
    assert!(
        md.lines()
            .any(|l| l.starts_with("| &lt;script\\>") && l.contains("\\|")),
        "{md}"
    );
}

/// A TTY that came through sshd: the table's context says "remote session", the title says ssh, OCSF
/// marks the actor's session remote with its terminal; without one, neither appears (issue 11).
#[test]
fn a_remote_session_is_shown_in_the_table_and_ocsf() {
    let mut a = alert();
    a.context = ContextView {
        launched_by: "ssh".into(),
        launch_chain: "launchd → /usr/libexec/sshd-session → -zsh → hping3 --flood 10.0.0.1".into(),
        tty: Some("/dev/ttys003".into()),
        tty_known: true,
        remote_session: Some("remote session via sshd-session (tty ttys003)".into()),
        ..ContextView::default()
    };
    let mut buf = Vec::new();
    write_table(&mut buf, std::slice::from_ref(&a), &Style { color: false }).unwrap();
    let text = String::from_utf8(buf).unwrap();
    assert!(
        text.contains("context remote session via sshd-session (tty ttys003) · launched by ssh · tty /dev/ttys003"),
        "{text}"
    );
    assert!(text.contains("on mac-01, remote session (ssh)"), "{text}");
    let v = detection_finding(&a, Activity::Create, "0.1.0");
    assert_eq!(v["actor"]["session"]["is_remote"], true);
    assert_eq!(v["actor"]["session"]["terminal"], "/dev/ttys003");
    assert_eq!(
        v["unmapped"]["floodwatch"]["context"]["remote_session"],
        "remote session via sshd-session (tty ttys003)"
    );
    let local = detection_finding(&alert(), Activity::Create, "0.1.0");
    assert!(local["actor"].get("session").is_none());
    assert!(local["unmapped"]["floodwatch"]["context"]
        .get("remote_session")
        .is_none());
}
