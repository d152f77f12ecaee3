//! Attacker-controlled paths and names inside playbook commands are quoted for `sh`: every command
//! parses (`sh -n`), and a quoted value comes back out of a real `sh` byte for byte without running
//! anything it contains.

use floodwatch_core::alert::*;
use floodwatch_core::config::Config;
use floodwatch_core::event::{SignatureClass, Tty};
use floodwatch_core::Ts;
use floodwatch_respond::shell::quote;
use floodwatch_respond::{playbook_alone, respond};
use std::process::Command;

/// Script and binary names an attacker can give a file on a Mac.
const HOSTILE: &[&str] = &[
    "/tmp/x'; touch /tmp/fw-pwned-1; echo '",
    "/tmp/$(touch /tmp/fw-pwned-2)",
    "/tmp/`touch /tmp/fw-pwned-3`",
    "/tmp/a\"; touch /tmp/fw-pwned-4; \"",
    "/tmp/multi\nline; touch /tmp/fw-pwned-5",
    "/tmp/semi;touch /tmp/fw-pwned-6 &&",
    "/Users/ana/Library/Application Support/.cache/sync.sh",
    "/tmp/glob*?[x]{a,b}~ $HOME ${IFS}",
    "/tmp/\u{202e}hs.txt",
    "-rf",
    "",
];

fn sh(args: &[&str]) -> std::process::Output {
    Command::new("sh").args(args).output().expect("run sh")
}

#[test]
fn a_quoted_value_is_one_word_that_comes_back_unchanged_and_runs_nothing() {
    for v in HOSTILE {
        let q = quote(v);
        let out = sh(&["-c", &format!("printf '%s' {q}")]);
        assert!(
            out.status.success(),
            "{q}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), *v, "{q}");
        let count = sh(&["-c", &format!("set -- {q}; printf '%s' $#")]);
        assert_eq!(
            String::from_utf8_lossy(&count.stdout),
            "1",
            "{q} is not one word"
        );
    }
    for n in 1..=6 {
        assert!(
            !std::path::Path::new(&format!("/tmp/fw-pwned-{n}")).exists(),
            "a quoted value ran a command (fw-pwned-{n})"
        );
    }
}

fn hostile_alert(i: usize, path: &str) -> Alert {
    let view = ProcessView {
        pid: 4000 + i as i32,
        start_time: Some(Ts::from_secs(1_790_000_000)),
        path: Some(path.into()),
        cmd_line: Some(format!("/bin/bash {path}")),
        uid: Some(501),
        euid: Some(501),
        user: Some("ana".into()),
        tty: Tty::None,
        signing_id: None,
        team_id: None,
        signature: SignatureClass::AdHoc,
    };
    Alert {
        id: format!("hostile-{i}"),
        host: format!("mac-{i:02}"),
        first_seen: Ts::from_secs(1_790_000_000),
        last_seen: Ts::from_secs(1_790_000_060),
        score: 80,
        severity: Severity::High,
        metrics: Metrics {
            peak_spawns_per_s: 20.0,
            top_destination: Some("203.0.113.9:443".into()),
            destination_share: Some(1.0),
            ..Metrics::default()
        },
        subject: SubjectView {
            kind: "lineage_group".into(),
            process: view,
            parents: vec![],
            children: vec![("/usr/bin/curl".into(), 600)],
        },
        context: ContextView {
            unattended: true,
            launched_by: if i.is_multiple_of(2) {
                "launchd_agent"
            } else {
                "cron"
            }
            .into(),
            launch_chain: format!("launchd → {path}"),
            tty_known: true,
            suspicious_path: Some(path.into()),
            ..ContextView::default()
        },
        evidences: vec![Evidence {
            kind: "exec".into(),
            time: Ts::from_secs(1_790_000_001),
            pid: Some(4001),
            process_start: None,
            process: Some(path.into()),
            cmd_line: Some(path.into()),
            proto: None,
            remote: None,
            bytes_out: None,
            packets_out: None,
            file: format!("telemetry/{path}/eslogger.jsonl"),
            line: 7,
            format: Some("eslogger".into()),
        }],
        facts: AlertFacts {
            exits_visible: true,
            script: Some(path.into()),
            uid: Some(501),
            identity: path.into(),
            ..AlertFacts::default()
        },
        ..Alert::default()
    }
}

#[test]
fn every_playbook_command_with_hostile_paths_parses_as_shell() {
    let cfg = Config::default();
    let mut checked = 0;
    for (i, path) in HOSTILE.iter().enumerate() {
        let p = playbook_alone(&hostile_alert(i, path), &cfg);
        let commands = p
            .containment
            .iter()
            .flat_map(|c| c.commands.iter())
            .chain(p.collect.iter().filter_map(|c| c.command.as_ref()));
        for cmd in commands {
            let out = sh(&["-n", "-c", cmd]);
            assert!(
                out.status.success(),
                "does not parse: {cmd}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            checked += 1;
            // The hostile text appears only as the quoted word (which the test above runs through
            // sh): with those words taken out, nothing of it is left.
            let mut rest = cmd.clone();
            for v in [path.to_string(), format!("telemetry/{path}/eslogger.jsonl")] {
                rest = rest.replace(&quote(&v), "");
            }
            assert!(!rest.contains("fw-pwned"), "unquoted: {cmd}");
        }
    }
    assert!(checked > 60, "only {checked} commands checked");
}

#[test]
fn campaign_commands_with_hostile_paths_parse_too() {
    let cfg = Config::default();
    let mut alerts: Vec<Alert> = (0..4).map(|i| hostile_alert(i, HOSTILE[0])).collect();
    let campaigns = respond(alerts.iter_mut().collect(), &mut [], &cfg);
    assert_eq!(campaigns.len(), 1);
    let p = &campaigns[0].playbook;
    for cmd in p
        .containment
        .iter()
        .flat_map(|c| c.commands.iter())
        .chain(p.collect.iter().filter_map(|c| c.command.as_ref()))
    {
        assert!(sh(&["-n", "-c", cmd]).status.success(), "{cmd}");
    }
}
