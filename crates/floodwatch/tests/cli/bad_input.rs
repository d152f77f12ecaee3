//! Bad input end to end: every bad line is rejected with its reason and location, the run completes,
//! and the exit code is non-zero only when nothing usable was read.

use crate::common;

use assert_cmd::Command;
use serde_json::Value;
use std::path::Path;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/corpus");

fn real_lines() -> Vec<String> {
    std::fs::read_to_string(format!(
        "{CORPUS}/eslogger/mullvad_eslogger_v9_v10_v11.ndjson"
    ))
    .unwrap()
    .lines()
    .map(str::to_string)
    .collect()
}

fn hunt(dir: &Path) -> (i32, Value, String) {
    let summary = dir.join("summary.json");
    let out = Command::cargo_bin("floodwatch")
        .unwrap()
        .args(["hunt", "--format", "jsonl", "--summary-json"])
        .arg(&summary)
        .arg(dir.join("hosts"))
        .output()
        .unwrap();
    let code = out.status.code().unwrap_or(-1);
    let s = std::fs::read_to_string(&summary)
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or(Value::Null);
    (code, s, String::from_utf8_lossy(&out.stderr).into_owned())
}

fn file<'a>(s: &'a Value, name: &str) -> &'a Value {
    s["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with(name))
        .unwrap()
}

#[test]
fn every_bad_line_is_located_and_the_run_completes() {
    let d = tempfile::tempdir().unwrap();
    let host = d.path().join("hosts/mac-01");
    std::fs::create_dir_all(&host).unwrap();
    let lines = real_lines();
    let mut data: Vec<u8> = Vec::new();
    data.extend(lines[1].as_bytes()); // line 1: real v9 exec
    data.push(b'\n');
    data.extend(
        lines[1]
            .replace("\"pid\":97391", "\"pid\":\"97391\"")
            .as_bytes(),
    ); // 2: wrong type
    data.push(b'\n');
    data.extend(
        b"{\"schema_version\":1,\"event_type\":9,\"time\":\"2025-08-07T13:21:36Z\xff\xfe\"}\n",
    ); // 3: invalid UTF-8 (read lossily) in a record without an event
    data.extend(
        lines[3]
            .replace("\"version\":11", "\"version\":12")
            .as_bytes(),
    ); // 4: newer version: parsed
    data.push(b'\n');
    let mut big = String::from("{\"schema_version\":1,\"event\":{\"exec\":{\"args\":[\"");
    big.push_str(&"A".repeat(10 * 1024 * 1024));
    big.push_str("\"]}}}");
    data.extend(big.as_bytes()); // 5: a 10 MB line
    data.push(b'\n');
    data.extend(lines[0].as_bytes()); // 6: real v9 exit
    data.push(b'\n');
    data.extend(&lines[1].as_bytes()[..900]); // 7: truncated last line (collector killed)
    std::fs::write(host.join("es.jsonl"), &data).unwrap();
    std::fs::write(host.join("notes.txt"), "operator notes, not telemetry\n").unwrap();

    let (code, s, stderr) = hunt(d.path());
    assert_eq!(code, 0, "usable lines were read: {stderr}");
    let f = file(&s, "es.jsonl");
    assert_eq!(f["format"], "eslogger");
    assert_eq!(f["records"], 7);
    assert_eq!(f["rejected"], 4, "{f:#}");
    let samples = f["samples"].as_array().unwrap();
    let at = |line: u64| {
        samples
            .iter()
            .find(|x| x["line"] == line)
            .map(|x| x["reason"].as_str().unwrap().to_string())
    };
    assert_eq!(at(2).as_deref(), Some("wrong type"));
    // Bytes that are not UTF-8 no longer lose a record by themselves: this one has no event.
    assert_eq!(at(3).as_deref(), Some("missing field"));
    assert_eq!(at(5).as_deref(), Some("line too long"));
    assert_eq!(at(7).as_deref(), Some("truncated last line"));
    assert!(f["notes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n.as_str().unwrap().contains("version 12")));
    // The file that is not telemetry is listed, not fatal.
    assert!(s["not_telemetry"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["path"].as_str().unwrap().ends_with("notes.txt")));
    // The human summary locates rejects as file:line.
    assert!(stderr.contains("es.jsonl:2: wrong type"), "{stderr}");
}

#[test]
fn out_of_order_events_are_reordered_in_a_hunt_and_rejected_with_their_lateness_in_a_stream() {
    let d = tempfile::tempdir().unwrap();
    let host = d.path().join("hosts/mac-02");
    std::fs::create_dir_all(&host).unwrap();
    let lines = real_lines();
    // File a: events on 2025-08-07 13:21 and 15:13. File b: 15:13, 15:14, then one two hours earlier.
    let a = format!("{}\n{}\n", lines[1], lines[0]);
    // The whole record moves three hours back, its processes' start times too: a record out of
    // place, not a clock step (after a step, processes seen before it act before their own start).
    let early = lines[1].replace("2025-08-07T13:", "2025-08-07T10:");
    let later = lines[0].replace(
        "2025-08-07T15:13:09.811587464Z",
        "2025-08-07T15:14:00.000000000Z",
    );
    let late_within_file = format!("{}\n{}\n{}\n", lines[0], later, early);
    std::fs::write(host.join("a.jsonl"), a).unwrap();
    std::fs::write(host.join("b.jsonl"), &late_within_file).unwrap();

    // A hunt has the whole file: b is read as two ordered segments and merged with a, nothing lost.
    let (code, s, _) = hunt(d.path());
    assert_eq!(code, 0);
    let b = file(&s, "b.jsonl");
    assert_eq!(b["rejected"], 0, "{b:#}");
    assert_eq!(b["events"], 3, "{b:#}");
    assert!(
        b["notes"][0].as_str().unwrap().contains("line(s) 3"),
        "{b:#}"
    );
    assert_eq!(file(&s, "a.jsonl")["rejected"], 0);

    // A stream cannot wait two hours: the late line is rejected with where it is and how late.
    let out = Command::cargo_bin("floodwatch")
        .unwrap()
        .args(["watch", "--format", "jsonl"])
        .write_stdin(late_within_file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("<stdin>:3: out of order")
            && stderr.contains("older than events already processed"),
        "{stderr}"
    );
}

#[test]
fn nothing_usable_is_a_clear_error_with_non_zero_exit() {
    let d = tempfile::tempdir().unwrap();
    let host = d.path().join("hosts/mac-03");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("readme.txt"), "hello\n").unwrap();
    let (code, _, stderr) = hunt(d.path());
    assert_eq!(code, 2);
    assert!(stderr.contains("nothing usable was read"), "{stderr}");

    let out = Command::cargo_bin("floodwatch")
        .unwrap()
        .args(["hunt", "/nonexistent/telemetry"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/telemetry"));
}

#[test]
fn config_default_round_trips_and_bad_config_is_named() {
    let out = Command::cargo_bin("floodwatch")
        .unwrap()
        .args(["config", "--default"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("c.toml");
    std::fs::write(&p, &out.stdout).unwrap();
    Command::cargo_bin("floodwatch")
        .unwrap()
        .args(["config", "--check"])
        .arg(&p)
        .assert()
        .success();
    let text = String::from_utf8(out.stdout).unwrap().replace(
        "burst_time_window = \"30s\"",
        "burst_time_window = \"soon\"",
    );
    std::fs::write(&p, text).unwrap();
    let out = Command::cargo_bin("floodwatch")
        .unwrap()
        .args(["config", "--check"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("c.toml") && err.contains("invalid duration"),
        "{err}"
    );
}

/// `floodwatch hunt ... 2>&1 | head -c 1`: the pipe closes after one byte; floodwatch must end quietly
/// (by SIGPIPE, or done already), never panic with exit 101 "failed printing to stderr".
#[cfg(unix)]
#[test]
fn a_closed_pipe_ends_the_program_quietly() {
    let bin = assert_cmd::cargo::cargo_bin("floodwatch");
    for args in [
        "hunt --format table --threads 1",
        "coverage",
        "hunt --format jsonl --threads 1",
    ] {
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(r#"set -o pipefail; "$0" $1 "$2" 2>&1 | head -c 1 >/dev/null; echo "status=${PIPESTATUS[0]}""#)
            .arg(&bin)
            .arg(args)
            .arg(common::collection())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(!text.contains("status=101"), "{args}: {text}");
        assert!(
            text.contains("status=141") || text.contains("status=0"),
            "{args}: {text}"
        );
    }
}

/// Every event of a file has a time the engine refuses (decades ahead): the counts add up (records =
/// events + skipped + rejected + carried, events 0) and the run says nothing usable was read, exit 2.
#[test]
fn a_file_whose_every_event_is_refused_is_nothing_usable() {
    let d = tempfile::tempdir().unwrap();
    let host = d.path().join("hosts/mac-01");
    std::fs::create_dir_all(&host).unwrap();
    let text = std::fs::read_to_string(common::collection().join("build-mac-07/eslogger.jsonl"))
        .unwrap()
        .replace("\"2025-09-", "\"2091-09-");
    std::fs::write(host.join("eslogger.jsonl"), text).unwrap();
    let (code, s, err) = hunt(d.path());
    let f = file(&s, "eslogger.jsonl");
    let n = |k: &str| f[k].as_u64().unwrap();
    assert!(n("records") > 100, "{f}");
    assert_eq!(n("events"), 0, "{f}");
    assert_eq!(
        n("records"),
        n("events") + n("skipped") + n("rejected") + n("carried"),
        "{f}"
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("nothing usable"), "{err}");
}

/// Year 2610 does not fit a nanosecond time: the line is rejected as out of range, never wrapped
/// into a plausible 2025 time (it used to land at 2025-09-16T03:11:45).
#[test]
fn timestamps_past_2262_are_rejected_as_out_of_range() {
    let d = tempfile::tempdir().unwrap();
    let host = d.path().join("hosts/mac-01");
    std::fs::create_dir_all(&host).unwrap();
    let text =
        std::fs::read_to_string(common::collection().join("build-mac-07/eslogger.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::new();
    for (i, l) in lines.iter().enumerate() {
        if i == 10 {
            out.push_str(&l.replace("\"2025-09-", "\"2610-09-"));
        } else {
            out.push_str(l);
        }
        out.push('\n');
    }
    std::fs::write(host.join("eslogger.jsonl"), out).unwrap();
    let (code, s, err) = hunt(d.path());
    assert_eq!(code, 0, "{err}");
    let f = file(&s, "eslogger.jsonl");
    assert_eq!(f["rejected"], 1, "{f}");
    assert_eq!(f["samples"][0]["line"], 11, "{f}");
    assert_eq!(f["samples"][0]["reason"], "timestamp out of range", "{f}");
    let detail = f["samples"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("beyond year 2262"), "{detail}");
}
