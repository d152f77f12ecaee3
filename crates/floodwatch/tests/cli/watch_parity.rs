//! The same events give the same alert whether they come from a file (`hunt`) or a stream (`watch`):
//! the watch's last state of the episode equals the hunt's alert field for field, except what
//! names the input (the evidence's file) and the OCSF activity (Create in a hunt, Close live).

use crate::common;

use assert_cmd::Command;
use serde_json::Value;

fn lines(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The alert without what legitimately differs between a file and a stream.
fn comparable(v: &Value) -> Value {
    let mut v = v.clone();
    for k in [
        "activity_id",
        "activity_name",
        "type_name",
        "type_uid",
        "status",
        "status_id",
    ] {
        v.as_object_mut().unwrap().remove(k);
    }
    let fw = v["unmapped"]["floodwatch"].as_object_mut().unwrap();
    fw.remove("status");
    for e in v["evidences"].as_array_mut().unwrap() {
        e["data"].as_object_mut().unwrap().remove("source_file");
    }
    // The playbook cites the evidence's files too (a path in the hunt, <stdin> in watch).
    for c in v["unmapped"]["floodwatch"]["playbook"]["collect"]
        .as_array_mut()
        .unwrap()
    {
        if c["what"] == "the telemetry cited as evidence" {
            c.as_object_mut().unwrap().remove("detail");
            c.as_object_mut().unwrap().remove("command");
        }
    }
    v
}

#[test]
fn watch_and_hunt_give_the_same_alert_for_the_same_events() {
    let tmp = tempfile::tempdir().unwrap();
    let host = tmp.path().join("build-mac-07");
    std::fs::create_dir_all(&host).unwrap();
    let es = common::collection().join("build-mac-07/eslogger.jsonl");
    std::fs::copy(&es, host.join("eslogger.jsonl")).unwrap();

    let hunt = Command::cargo_bin("floodwatch")
        .unwrap()
        .args(["hunt", "--format", "jsonl", "--threads", "1"])
        .arg(tmp.path())
        .env_remove("FLOODWATCH_CONFIG")
        .output()
        .unwrap();
    common::assert_success(&hunt);
    let hunted = lines(&hunt.stdout);
    assert_eq!(hunted.len(), 1);

    let watch = Command::cargo_bin("floodwatch")
        .unwrap()
        .args(["watch", "--format", "jsonl", "--host", "build-mac-07"])
        .env_remove("FLOODWATCH_CONFIG")
        .write_stdin(std::fs::read(&es).unwrap())
        .output()
        .unwrap();
    common::assert_success(&watch);
    let states = lines(&watch.stdout);
    assert!(states.len() >= 2, "{states:#?}");
    // Every state (Create, Update…, Close) is valid OCSF 1.3.0, as the hunt's finding is.
    common::ocsf::assert_valid_jsonl("watch", &String::from_utf8_lossy(&watch.stdout));
    common::ocsf::assert_valid_jsonl("hunt", &String::from_utf8_lossy(&hunt.stdout));
    assert_eq!(
        states[0]["metadata"]["log_provider"], hunted[0]["metadata"]["log_provider"],
        "the stream's sniffed format names the provider as the hunt's file does"
    );
    let first = &states[0]["unmapped"]["floodwatch"];
    // Opened early, the alert already shows the window so far: spawns and evidence, not zeros.
    assert!(
        first["metrics"]["total_spawns"].as_u64().unwrap() > 0,
        "{first:#}"
    );
    assert!(!states[0]["evidences"].as_array().unwrap().is_empty());
    let last = states.last().unwrap();
    assert_eq!(last["activity_name"], "Close");
    let (h, w) = (comparable(&hunted[0]), comparable(last));
    assert_eq!(
        h["unmapped"]["floodwatch"]["metrics"],
        w["unmapped"]["floodwatch"]["metrics"]
    );
    assert_eq!(
        h["unmapped"]["floodwatch"]["children"],
        w["unmapped"]["floodwatch"]["children"]
    );
    assert_eq!(h, w);
}
