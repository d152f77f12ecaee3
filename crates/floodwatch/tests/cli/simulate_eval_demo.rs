//! The evaluation loop end to end through the binary: `simulate` writes a labelled fleet in the real
//! formats, `eval` hunts it and scores every family, `demo` runs the tour and writes the report.

use assert_cmd::Command;
use serde_json::Value;

fn fw() -> Command {
    Command::cargo_bin("floodwatch").unwrap()
}

#[test]
fn every_attack_family_above_threshold_is_found_and_benign_ones_stay_quiet() {
    let d = tempfile::tempdir().unwrap();
    let fleet = d.path().join("fleet");
    fw().args([
        "simulate",
        "--hosts",
        "24",
        "--attack-hosts",
        "16",
        "--seed",
        "3",
    ])
    .arg(&fleet)
    .assert()
    .success();
    let json = d.path().join("eval.json");
    let out = fw()
        .arg("eval")
        .arg(&fleet)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stdout.is_empty(),
        "with --json the evaluation goes to the file only"
    );
    let e: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let fams = e["families"].as_array().unwrap();
    let attack_families = fams
        .iter()
        .filter(|f| f["attack"] == true && f["expected"].as_u64().unwrap() > 0)
        .count();
    assert!(
        attack_families >= 12,
        "most attack families present: {attack_families}"
    );
    for f in fams {
        if f["expected"].as_u64().unwrap() > 0 {
            assert_eq!(f["recall"], 1.0, "{f}");
        }
        assert_eq!(f["false_alerts"], 0, "{f}");
    }
    assert_eq!(
        e["false_alerts"].as_array().unwrap().len(),
        0,
        "{}",
        e["false_alerts"]
    );
    assert_eq!(e["precision"], 1.0);
    // The decoy just under the thresholds is labelled an attack that should not alert.
    let decoy = fams.iter().find(|f| f["family"] == "low-rate-decoy");
    if let Some(decoy) = decoy {
        assert_eq!(decoy["expected"], 0);
    }
}

#[test]
fn eval_counts_a_miss_when_thresholds_are_raised() {
    // The same bundled collection, with the spawn threshold raised above the loop's rate: the
    // LaunchDaemon curl loop becomes a miss with a reason, not a silent pass.
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("c.toml");
    let text = floodwatch_core::config::DEFAULT_TOML
        .replace("tool_spawns_per_s = 5.0", "tool_spawns_per_s = 50.0");
    std::fs::write(&cfg, text).unwrap();
    let coll = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/collection");
    let json = d.path().join("e.json");
    fw().args(["eval", coll, "--config"])
        .arg(&cfg)
        .arg("--json")
        .arg(&json)
        .assert()
        .success();
    let e: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(e["recall"], 0.0);
    let miss = &e["misses"][0];
    assert_eq!(miss["family"], "launchdaemon-curl-loop");
    assert!(
        miss["reason"].as_str().unwrap().contains("closest"),
        "{miss}"
    );
}

#[test]
fn demo_shows_alerts_and_the_evaluation_and_writes_a_self_contained_report() {
    let d = tempfile::tempdir().unwrap();
    let prefix = d.path().join("report");
    let out = fw()
        .args(["demo", "--hosts", "6", "--report"])
        .arg(&prefix)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("alert(s), highest score first"), "{text}");
    assert!(
        text.contains("| family | kind |") && text.contains("recall"),
        "{text}"
    );
    // The bundled collection's curl loop is among the alerts.
    assert!(text.contains("bash (pid 12004) on build-mac-07"), "{text}");
    let html = std::fs::read_to_string(prefix.with_extension("html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<svg"));
    assert!(!html.contains("<script") && !html.contains("src=\"http"));
    let md = std::fs::read_to_string(prefix.with_extension("md")).unwrap();
    assert!(md.contains("## Evaluation against the labels"));
}

/// A span hunt would reject (past tomorrow, or before 2000) is refused before anything is written.
#[test]
fn simulate_refuses_a_span_hunt_would_reject() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["--duration", "100000h"][..],
        &["--date", "1990-01-01", "--duration", "1h"],
    ] {
        let out = fw()
            .arg("simulate")
            .arg(dir.path().join("f"))
            .args(["--hosts", "1"])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("hunt would reject"), "{err}");
        assert!(!dir.path().join("f").exists(), "nothing written");
    }
}

/// The demo without its bundled collection (an installed binary far from the repository) says so
/// instead of silently showing fewer hosts.
#[test]
fn demo_says_when_the_bundled_collection_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let out = fw()
        .current_dir(dir.path())
        .env("FLOODWATCH_EXAMPLES", dir.path().join("nowhere"))
        .args(["demo", "--hosts", "2", "--keep", "fleet", "--report", "r"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("without the bundled example collection"),
        "{err}"
    );
    assert!(!dir.path().join("fleet/bundled").exists());
}
