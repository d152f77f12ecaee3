//! Files whose own time runs backwards are replayed in order, not rejected: the real corpus samples
//! (concatenations of captures from different days) and a single stray future line in a collection.

use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

fn hunt(path: &Path, extra: &[&str]) -> (i32, Vec<Value>, Value) {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("s.json");
    let out = Command::cargo_bin("floodwatch")
        .unwrap()
        .args(["hunt", "--format", "jsonl", "--summary-json"])
        .arg(&summary)
        .args(extra)
        .arg(path)
        .output()
        .unwrap();
    let alerts = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let s = std::fs::read_to_string(&summary)
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), alerts, s)
}

#[test]
fn every_real_sample_hunted_alone_has_no_rejected_line() {
    let mut checked = 0;
    for dir in ["eslogger", "nettop", "unifiedlog", "osquery"] {
        for e in std::fs::read_dir(format!("{ROOT}/tests/data/corpus/{dir}")).unwrap() {
            let path = e.unwrap().path();
            if path.file_name().unwrap() == "PROVENANCE.md" {
                continue;
            }
            let (_, _, s) = hunt(&path, &["--date", "2026-08-07"]);
            let f = &s["files"][0];
            assert_eq!(f["rejected"], 0, "{}: {f}", path.display());
            checked += 1;
        }
    }
    assert_eq!(checked, 9);
    // The mullvad sample jumps back weeks twice: read as three ordered segments, all four events used.
    let (_, _, s) = hunt(
        &PathBuf::from(format!(
            "{ROOT}/tests/data/corpus/eslogger/mullvad_eslogger_v9_v10_v11.ndjson"
        )),
        &[],
    );
    assert_eq!(s["files"][0]["events"], 4);
    assert!(s["files"][0]["notes"].as_array().unwrap().iter().any(|n| n
        .as_str()
        .unwrap()
        .contains("3 separately ordered segments")));
}

#[test]
fn one_stray_future_line_does_not_throw_away_the_rest_of_its_file() {
    let tmp = tempfile::tempdir().unwrap();
    let host = tmp.path().join("build-mac-07");
    std::fs::create_dir_all(&host).unwrap();
    let src = std::fs::read_to_string(format!(
        "{ROOT}/examples/collection/build-mac-07/eslogger.jsonl"
    ))
    .unwrap();
    let mut lines: Vec<String> = src.lines().map(str::to_string).collect();
    // Line 30 (before the curl loop) gets a timestamp months ahead.
    let re = regex::Regex::new(r#""time":"[^"]+""#).unwrap();
    lines[29] = re
        .replace(&lines[29], r#""time":"2026-01-01T00:00:00.000000000Z""#)
        .into_owned();
    std::fs::write(host.join("eslogger.jsonl"), lines.join("\n") + "\n").unwrap();
    let (code, alerts, s) = hunt(tmp.path(), &[]);
    assert_eq!(code, 0);
    assert_eq!(s["files"][0]["rejected"], 0, "{}", s["files"][0]);
    assert_eq!(alerts.len(), 1, "the curl loop is still found");
    assert_eq!(alerts[0]["actor"]["process"]["pid"], 12004);
}

/// A host folder of many rotated files (one eslogger line each here) under a descriptor limit far
/// below the file count: files are opened as the merge reaches them and closed at their end, so the
/// hunt completes and finds the same alert as the single file.
#[cfg(unix)]
#[test]
fn a_host_folder_of_many_small_files_hunts_under_a_low_descriptor_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let host = tmp.path().join("split/build-mac-07");
    std::fs::create_dir_all(&host).unwrap();
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/collection/build-mac-07/eslogger.jsonl");
    let text = std::fs::read_to_string(&src).unwrap();
    let mut n = 0;
    for (i, line) in text.lines().enumerate() {
        std::fs::write(host.join(format!("es-{i:05}.jsonl")), format!("{line}\n")).unwrap();
        n += 1;
    }
    assert!(n > 900);
    let bin = assert_cmd::cargo::cargo_bin("floodwatch");
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(r#"ulimit -n 128 && exec "$0" hunt --format jsonl --threads 1 "$1""#)
        .arg(&bin)
        .arg(tmp.path().join("split"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let split: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let one = tmp.path().join("one/build-mac-07");
    std::fs::create_dir_all(&one).unwrap();
    std::fs::copy(&src, one.join("eslogger.jsonl")).unwrap();
    let whole = std::process::Command::new(&bin)
        .args(["hunt", "--format", "jsonl", "--threads", "1"])
        .arg(tmp.path().join("one"))
        .output()
        .unwrap();
    let whole: Vec<serde_json::Value> = String::from_utf8_lossy(&whole.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(split.len(), 1, "{err}");
    let key = |v: &serde_json::Value| {
        (
            v["finding_info"]["uid"].clone(),
            v["risk_score"].clone(),
            v["unmapped"]["floodwatch"]["metrics"]["total_spawns"].clone(),
        )
    };
    assert_eq!(key(&split[0]), key(&whole[0]));
}

/// The wall clock steps back an hour in the middle of the curl loop (NTP, a manual change): the
/// loop's bash forks curls "before" its own start, which only a clock step explains. The hunt judges
/// across the step, finds the loop as it finds it without the step, and says what it did. (Read as
/// two separately ordered halves, each half stayed below the threshold: no alert.)
#[test]
fn a_clock_step_back_in_the_middle_of_a_flood_does_not_split_it() {
    let tmp = tempfile::tempdir().unwrap();
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/collection/build-mac-07/eslogger.jsonl");
    let text = std::fs::read_to_string(&src).unwrap();
    // From 03:12:15 on, the clock reads an hour less: event times, and the start times of processes
    // that start after the step (those started before keep theirs, as the kernel recorded them).
    let step = "2025-09-16T03:12:15";
    let re = regex::Regex::new(r#""(time|start_time)":"2025-09-16T(\d\d):(\d\d:\d\d[.0-9]*Z)""#)
        .unwrap();
    let mut stepped = String::new();
    let mut after = false;
    for line in text.lines() {
        let time = re
            .captures_iter(line)
            .find(|c| &c[1] == "time")
            .map(|c| format!("2025-09-16T{}:{}", &c[2], &c[3]));
        if time.as_deref().is_some_and(|t| t >= step) {
            after = true;
        }
        if !after {
            stepped.push_str(line);
        } else {
            let shifted = re.replace_all(line, |c: &regex::Captures| {
                let t = format!("2025-09-16T{}:{}", &c[2], &c[3]);
                if &c[1] == "start_time" && t.as_str() < step {
                    return c[0].to_string();
                }
                let h: u32 = c[2].parse().unwrap();
                format!("\"{}\":\"2025-09-16T{:02}:{}\"", &c[1], h - 1, &c[3])
            });
            stepped.push_str(&shifted);
        }
        stepped.push('\n');
    }
    assert!(after);
    let hunt = |name: &str, body: &str| {
        let host = tmp.path().join(name).join("build-mac-07");
        std::fs::create_dir_all(&host).unwrap();
        std::fs::write(host.join("eslogger.jsonl"), body).unwrap();
        let out = Command::cargo_bin("floodwatch")
            .unwrap()
            .args(["hunt", "--format", "jsonl", "--threads", "1"])
            .arg(tmp.path().join(name))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        let alerts: Vec<Value> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (alerts, String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (plain, _) = hunt("plain", &text);
    let (alerts, err) = hunt("stepped", &stepped);
    assert_eq!(plain.len(), 1);
    assert_eq!(alerts.len(), 1, "the flood is split by the step: {err}");
    let spawns = |a: &Value| a["unmapped"]["floodwatch"]["metrics"]["total_spawns"].clone();
    assert_eq!(spawns(&alerts[0]), spawns(&plain[0]));
    assert_eq!(
        alerts[0]["finding_info"]["uid"],
        plain[0]["finding_info"]["uid"]
    );
    assert!(
        err.contains("the wall clock stepped back by 3600.0 s"),
        "{err}"
    );
}
