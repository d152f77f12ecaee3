//! Elastic Defend documents from Windows and Linux hosts (the real samples in
//! tests/data/corpus/elastic_defend, provenance there) are out of scope for a macOS analytic: a hunt
//! names them in the files table and the summary JSON and judges nothing from them.

use crate::common;

use assert_cmd::Command;
use serde_json::Value;

#[test]
fn non_macos_elastic_documents_are_noted_as_out_of_scope_not_judged() {
    let dir = tempfile::tempdir().unwrap();
    let host = dir.path().join("mixed-host");
    std::fs::create_dir(&host).unwrap();
    let corpus = common::repo_root().join("tests/data/corpus/elastic_defend");
    for name in [
        "ecs_rfc0030_linux_exec_event.json",
        "endpointpkg_process_sample_event.json",
    ] {
        std::fs::copy(corpus.join(name), host.join(name)).unwrap();
    }
    let summary = dir.path().join("summary.json");
    let out = Command::cargo_bin("floodwatch")
        .unwrap()
        .arg("hunt")
        .arg("--summary-json")
        .arg(&summary)
        .arg(dir.path())
        .output()
        .unwrap();
    // Nothing in scope was read: the whole input is unusable for this analytic.
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("nothing usable"), "{stderr}");
    for os in ["linux 1", "windows 1"] {
        assert!(
            stderr.contains(&format!("non-macOS hosts ({os}): out of scope for AN0971")),
            "{os}: {stderr}"
        );
    }

    let summary: Value = serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    let files = summary["files"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    for f in files {
        assert_eq!(f["format"], "elastic-defend", "{f}");
        assert_eq!(
            (f["records"].as_u64(), f["events"].as_u64()),
            (Some(1), Some(0)),
            "{f}"
        );
        assert_eq!(f["skipped"], 1, "{f}");
        let reasons = f["reasons"].as_object().unwrap();
        assert!(
            reasons
                .keys()
                .any(|k| k.starts_with("skipped: non-macOS host (")),
            "{f}"
        );
        assert!(
            f["notes"][0].as_str().unwrap().contains("out of scope"),
            "{f}"
        );
    }
}
