//! The README's main job, end to end through the binary: `floodwatch hunt examples/collection`.
//! build-mac-07's LaunchDaemon curl loop is alerted with its reasons; admin-mbp-02's slow
//! interactive ping, build-mac-07's backup and monitoring pings are not. Re-runs are byte-identical.

use crate::common;

use assert_cmd::Command;
use common::collection;
use serde_json::Value;

fn hunt(args: &[&str]) -> (Vec<u8>, String) {
    let out = Command::cargo_bin("floodwatch")
        .unwrap()
        .arg("hunt")
        .args(args)
        .arg(collection())
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    common::assert_success(&out);
    (
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn jsonl_names_the_curl_loop_and_nothing_else_and_reruns_are_identical() {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.json");
    let (first, _) = hunt(&[
        "--format",
        "jsonl",
        "--summary-json",
        summary.to_str().unwrap(),
    ]);
    let (second, _) = hunt(&["--format", "jsonl", "--threads", "2"]);
    assert_eq!(first, second, "same input, same output (ids included)");

    let lines: Vec<Value> = String::from_utf8(first)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let f = &lines[0];
    assert_eq!(f["class_uid"], 2004);
    assert_eq!(f["finding_info"]["analytic"]["uid"], "AN0971");
    let attack = &f["finding_info"]["attacks"][0];
    assert_eq!(attack["technique"]["uid"], "T1498");
    assert_eq!(attack["technique"]["name"], "Network Denial of Service");
    assert_eq!(attack["sub_technique"]["uid"], "T1498.001");
    assert_eq!(attack["sub_technique"]["name"], "Direct Network Flood");
    // Risk levels are one below severity ids: High severity (4) is High risk (3), not Critical.
    assert_eq!(
        f["risk_level_id"].as_u64().unwrap() + 1,
        f["severity_id"].as_u64().unwrap()
    );
    assert_eq!(f["device"]["hostname"], "build-mac-07");
    let p = &f["actor"]["process"];
    assert_eq!(p["pid"], 12004);
    assert_eq!(p["cmd_line"], "/bin/bash /Library/Scripts/.sync.sh");
    assert_eq!(p["file"]["path"], "/bin/bash");
    assert_eq!(p["user"]["name"], "root");
    assert_eq!(p["parent_process"]["pid"], 1);
    assert_eq!(p["parent_process"]["file"]["path"], "/sbin/launchd");

    let fw = &f["unmapped"]["floodwatch"];
    let codes: Vec<&str> = fw["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes[0], "spawn_rate", "{codes:?}");
    assert!(codes.contains(&"unattended"), "{codes:?}");
    let spawn = &fw["reasons"][0];
    assert_eq!(spawn["threshold"], 5.0);
    assert!(spawn["value"].as_f64().unwrap() > 5.0);
    assert!(spawn["text"].as_str().unwrap().contains("curl execs/s"));
    assert_eq!(fw["context"]["launched_by"], "launchd_daemon");
    assert_eq!(fw["context"]["unattended"], true);
    let score = f["risk_score"].as_u64().unwrap();
    assert!((50..=100).contains(&score), "{score}");

    // Evidence points back at eslogger lines that really are the curl execs.
    let es = std::fs::read_to_string(collection().join("build-mac-07/eslogger.jsonl")).unwrap();
    let es: Vec<&str> = es.lines().collect();
    for ev in f["evidences"].as_array().unwrap() {
        let file = ev["data"]["source_file"].as_str().unwrap();
        assert!(file.ends_with("build-mac-07/eslogger.jsonl"), "{file}");
        let line = ev["data"]["source_line"].as_u64().unwrap() as usize;
        assert!(
            es[line - 1].contains("curl"),
            "line {line}: {}",
            es[line - 1]
        );
    }

    // The summary JSON lists every file with its format and no rejected line.
    let s: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    let files = s["files"].as_array().unwrap();
    assert_eq!(files.len(), 6);
    for f in files {
        for k in [
            "path", "format", "records", "events", "skipped", "rejected", "reasons",
        ] {
            assert!(f.get(k).is_some(), "{k} missing in {f}");
        }
        assert_eq!(f["rejected"], 0, "{f}");
        let sum = ["events", "skipped", "rejected", "carried"]
            .iter()
            .map(|k| f[*k].as_u64().unwrap())
            .sum::<u64>();
        assert_eq!(f["records"].as_u64().unwrap(), sum, "{f}");
    }
    let formats: Vec<&str> = files
        .iter()
        .map(|f| f["format"].as_str().unwrap())
        .collect();
    assert_eq!(
        formats.iter().filter(|f| **f == "eslogger").count(),
        2,
        "{formats:?}"
    );
    assert_eq!(
        s["not_telemetry"].as_array().unwrap().len(),
        2,
        "README.md and labels.jsonl"
    );
    // Quiet hosts are reported as looked at, with how close they came.
    let hosts = s["hosts"].as_array().unwrap();
    let admin = hosts.iter().find(|h| h["host"] == "admin-mbp-02").unwrap();
    assert_eq!(admin["alerts"], 0);
    assert!(admin["events"].as_u64().unwrap() > 1000, "{admin}");
    assert!(admin["closest_ratio"].as_f64().unwrap() < 1.0, "{admin}");
    let build = hosts.iter().find(|h| h["host"] == "build-mac-07").unwrap();
    assert_eq!(build["alerts"], 1);
    assert_eq!(build["hot_windows"], 1);
}

#[test]
fn table_explains_the_alert_without_colour_when_not_a_terminal() {
    let (out, err) = hunt(&["--format", "table"]);
    let out = String::from_utf8(out).unwrap();
    assert!(!out.contains('\u{1b}'), "no ANSI escapes into a pipe");
    assert!(out.contains("bash (pid 12004) on build-mac-07"), "{out}");
    assert!(out.contains("curl execs/s from one parent"), "{out}");
    assert!(out.contains("threshold 5/s"), "{out}");
    assert!(
        out.contains("launchd → /bin/bash /Library/Scripts/.sync.sh"),
        "{out}"
    );
    assert!(
        !out.contains("admin-mbp-02"),
        "the admin's slow ping is not alerted: {out}"
    );
    assert!(err.contains("files read"), "{err}");
    assert!(err.contains("admin-mbp-02/eslogger.jsonl"), "{err}");
}

#[test]
fn watch_on_stdin_opens_updates_and_closes_the_same_alert_id_as_hunt() {
    let es = collection().join("build-mac-07/eslogger.jsonl");
    let ids = |args: &[&str], stdin: bool| -> Vec<(String, String)> {
        let mut c = Command::cargo_bin("floodwatch").unwrap();
        c.args(args);
        if stdin {
            c.pipe_stdin(&es).unwrap();
        } else {
            c.arg(&es);
        }
        let out = c.output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                (
                    v["activity_name"].as_str().unwrap().to_string(),
                    v["finding_info"]["uid"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let live = ids(
        &["watch", "--format", "jsonl", "--host", "build-mac-07"],
        true,
    );
    let batch = ids(
        &["hunt", "--format", "jsonl", "--host", "build-mac-07"],
        false,
    );
    assert_eq!(batch.len(), 1);
    let kinds: Vec<&str> = live.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds.first(), Some(&"Create"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"Close"), "{kinds:?}");
    assert!(
        live.iter().all(|(_, id)| *id == batch[0].1),
        "{live:?} vs {batch:?}"
    );
}
