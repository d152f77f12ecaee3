//! Golden-file tests (Chainsaw's model): whole outputs compared byte for byte with files checked in
//! under `tests/data/golden/`, so a refactor that changes any alert, reason, summary line or report
//! byte fails here.
//!
//! Three inputs: the bundled example collection, the bundled campaign (five hosts, one script, one
//! address), and the demo's simulated fleet (12 hosts, seed 1, plus the bundled hosts). Outputs: the alert table, the OCSF lines, the summary (text and JSON), the
//! Markdown and HTML reports, and the demo's own stdout. Every OCSF line of both is also validated
//! against the official OCSF 1.3.0 schema (`common::ocsf`).
//!
//! To re-record after an intended change, run
//! `FLOODWATCH_BLESS=1 cargo test -p floodwatch --test cli golden::` and review the diff in git.

use crate::common;

use common::{repo_root, run_cli as run};
use std::path::{Path, PathBuf};

fn golden_dir(case: &str) -> PathBuf {
    repo_root().join("tests/data/golden").join(case)
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Compares `actual` with the golden file `case/name`, or writes it when blessing. Every mismatch
/// is collected so one run shows all of them.
fn check(case: &str, name: &str, actual: &str, failures: &mut Vec<String>) {
    let path = golden_dir(case).join(name);
    if std::env::var_os("FLOODWATCH_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = match std::fs::read_to_string(&path) {
        Ok(s) => s,
        Err(e) => {
            failures.push(format!(
                "{}: {e} (record it with FLOODWATCH_BLESS=1)",
                path.display()
            ));
            return;
        }
    };
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
        failures.push(format!(
            "{} differs from the output, first at line {}:\n  golden: {:?}\n  actual: {:?}",
            path.display(),
            first + 1,
            expected.lines().nth(first).unwrap_or("<end>"),
            actual.lines().nth(first).unwrap_or("<end>"),
        ));
    }
}

fn assert_no_failures(failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{} golden file(s) differ (if the change is intended: FLOODWATCH_BLESS=1 cargo test -p floodwatch --test cli golden::):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn bundled_collection_outputs_match_the_golden_files() {
    let root = repo_root();
    let tmp = tempfile::tempdir().unwrap();
    let summary = tmp.path().join("summary.json");
    let report = tmp.path().join("report");
    let mut failures = Vec::new();

    let (table, summary_text) = run(
        &root,
        &[
            "hunt",
            "examples/collection",
            "--format",
            "table",
            "--threads",
            "1",
            "--summary-json",
            summary.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ],
    );
    check("collection", "table.txt", &table, &mut failures);
    check("collection", "summary.txt", &summary_text, &mut failures);
    check("collection", "summary.json", &read(&summary), &mut failures);
    check(
        "collection",
        "report.md",
        &read(&report.with_extension("md")),
        &mut failures,
    );
    check(
        "collection",
        "report.html",
        &read(&report.with_extension("html")),
        &mut failures,
    );

    let (jsonl, _) = run(&root, &["hunt", "examples/collection", "--format", "jsonl"]);
    check("collection", "findings.jsonl", &jsonl, &mut failures);
    assert!(!jsonl.is_empty(), "the collection has an alert");
    // Every finding is valid OCSF 1.3.0 (the official Detection Finding schema, host profile).
    common::ocsf::assert_valid_jsonl("bundled collection", &jsonl);
    assert_every_finding_has_a_playbook(&jsonl);
    assert_no_failures(failures);
}

#[test]
fn bundled_campaign_outputs_match_the_golden_files() {
    let root = repo_root();
    let tmp = tempfile::tempdir().unwrap();
    let summary = tmp.path().join("summary.json");
    let report = tmp.path().join("report");
    let mut failures = Vec::new();
    let (table, _) = run(
        &root,
        &[
            "hunt",
            "examples/campaign",
            "--format",
            "table",
            "--threads",
            "3",
            "--summary-json",
            summary.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ],
    );
    check("campaign", "table.txt", &table, &mut failures);
    check("campaign", "summary.json", &read(&summary), &mut failures);
    check(
        "campaign",
        "report.md",
        &read(&report.with_extension("md")),
        &mut failures,
    );
    let html = read(&report.with_extension("html"));
    check("campaign", "report.html", &html, &mut failures);
    // The campaign comes first in the page, before the alerts.
    let (campaigns, alerts) = (
        html.find("<h2>Campaigns</h2>"),
        html.find("<h2>Alerts</h2>"),
    );
    assert!(
        campaigns.is_some() && campaigns < alerts,
        "{campaigns:?} {alerts:?}"
    );
    let (jsonl, _) = run(&root, &["hunt", "examples/campaign", "--format", "jsonl"]);
    check("campaign", "findings.jsonl", &jsonl, &mut failures);
    common::ocsf::assert_valid_jsonl("bundled campaign", &jsonl);
    assert_every_finding_has_a_playbook(&jsonl);
    assert_no_failures(failures);
}

/// Every alert and network finding carries a playbook whose decision points are all answered with a
/// fact, and whose recommended step is one of its options.
fn assert_every_finding_has_a_playbook(jsonl: &str) {
    let mut n = 0;
    for line in jsonl.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let p = &v["unmapped"]["floodwatch"]["playbook"];
        let decisions = p["decisions"].as_array().expect("decision points");
        assert!(decisions.len() >= 4, "{line}");
        for d in decisions {
            assert!(
                ["yes", "no", "unknown"].contains(&d["answer"].as_str().unwrap()),
                "{d}"
            );
            assert!(!d["fact"].as_str().unwrap().is_empty(), "{d}");
        }
        let rec = p["recommended"].as_str().unwrap();
        assert!(
            p["containment"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["id"] == rec),
            "{rec}"
        );
        assert!(v["remediation"]["desc"]
            .as_str()
            .unwrap()
            .starts_with("Recommended first: "));
        n += 1;
    }
    assert!(n > 0);
}

fn holds_null(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Null => true,
        serde_json::Value::Array(a) => a.iter().any(holds_null),
        serde_json::Value::Object(o) => o.values().any(holds_null),
        _ => false,
    }
}

/// Drops the lines that carry wall-clock durations (the demo says how long it took).
fn without_timings(text: &str) -> String {
    text.lines()
        .filter(|l| !l.starts_with("Report: "))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn demo_fleet_outputs_match_the_golden_files() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let mut failures = Vec::new();

    let (demo, _) = run(cwd, &["demo", "--keep", "fleet", "--report", "demo-report"]);
    check(
        "demo-fleet",
        "demo.txt",
        &without_timings(&demo),
        &mut failures,
    );
    check(
        "demo-fleet",
        "demo-report.md",
        &read(&cwd.join("demo-report.md")),
        &mut failures,
    );
    check(
        "demo-fleet",
        "demo-report.html",
        &read(&cwd.join("demo-report.html")),
        &mut failures,
    );

    let (jsonl, summary_text) = run(
        cwd,
        &[
            "hunt",
            "fleet",
            "--format",
            "jsonl",
            "--summary-json",
            "summary.json",
            "--report",
            "report",
        ],
    );
    assert!(jsonl.lines().count() >= 5, "the demo fleet alerts");
    // OCSF omits an unknown attribute: no null in the schema's objects (ours, `unmapped`, may say
    // "unknown" with a null).
    for line in jsonl.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        for key in ["actor", "device", "finding_info", "metadata"] {
            assert!(!holds_null(&v[key]), "{key} holds a null: {}", v[key]);
        }
    }
    common::ocsf::assert_valid_jsonl("demo fleet", &jsonl);
    assert_every_finding_has_a_playbook(&jsonl);
    check("demo-fleet", "findings.jsonl", &jsonl, &mut failures);
    check("demo-fleet", "summary.txt", &summary_text, &mut failures);
    check(
        "demo-fleet",
        "summary.json",
        &read(&cwd.join("summary.json")),
        &mut failures,
    );
    check(
        "demo-fleet",
        "report.md",
        &read(&cwd.join("report.md")),
        &mut failures,
    );

    let (table, _) = run(
        cwd,
        &["hunt", "fleet", "--format", "table", "--threads", "1"],
    );
    check("demo-fleet", "table.txt", &table, &mut failures);
    assert_no_failures(failures);
}
