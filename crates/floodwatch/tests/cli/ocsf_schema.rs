//! Every finding floodwatch writes is valid OCSF 1.3.0: each line of `hunt --format jsonl` on the
//! network samples (real captures and Zeek logs) is validated against the official Detection Finding
//! schema (`tests/data/ocsf-schema-1.3.0`, see its PROVENANCE.md). The demo fleet's and the bundled
//! collection's findings are validated by the golden test, which already produces them; the joined
//! network finding and an interactive process alert by `network.rs`.

use crate::common;

use common::{repo_root, run_cli};

/// Hunts `path` (relative to the repository) as a user would and validates each finding; returns how
/// many there were.
fn validated(path: &str) -> usize {
    let (jsonl, _) = run_cli(&repo_root(), &["hunt", path, "--format", "jsonl"]);
    common::ocsf::assert_valid_jsonl(path, &jsonl)
}

#[test]
fn network_samples_findings_are_valid_ocsf() {
    let mut counts = Vec::new();
    let mut pcaps: Vec<String> = std::fs::read_dir(repo_root().join("tests/data/corpus/pcap"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
        .map(|p| {
            format!(
                "tests/data/corpus/pcap/{}",
                p.file_name().unwrap().to_string_lossy()
            )
        })
        .collect();
    pcaps.sort();
    assert!(pcaps.len() >= 2, "{pcaps:?}");
    for path in pcaps.iter().map(String::as_str).chain([
        "tests/data/corpus/zeek",
        "tests/data/corpus/datasets/stratosphere-zeek-conn",
    ]) {
        counts.push((path.to_string(), validated(path)));
    }
    eprintln!("findings validated per sample: {counts:?}");
    // Not vacuous: the real SYN flood capture is a finding.
    assert!(
        counts
            .iter()
            .any(|(p, n)| p.ends_with("CIC-DDoS-2019-SynFlood.pcap") && *n >= 1),
        "{counts:?}"
    );
}

#[test]
fn a_finding_outside_the_schema_is_reported_with_its_path() {
    // The validator itself: the violations the issue found, each named by where it is.
    let (jsonl, _) = run_cli(
        &repo_root(),
        &["hunt", "examples/collection", "--format", "jsonl"],
    );
    let mut v: serde_json::Value = serde_json::from_str(jsonl.lines().next().unwrap()).unwrap();
    assert!(common::ocsf::violations(&v).is_empty());
    v["evidences"][0]["process"]["file"] = serde_json::json!({"path": "/usr/bin/curl"});
    v["src_endpoint"] = serde_json::json!({"ip": "10.0.0.1"});
    v["evidences"][0]["dst_endpoint"] = serde_json::json!({"hostname": "198.51.100.61:443"});
    v["actor"]["process"]["user"]["name"] = serde_json::Value::Null;
    let found = common::ocsf::violations(&v).join("\n");
    for expected in [
        "/evidences/0/process/file: \"name\" is a required property",
        "/evidences/0/process/file: \"type_id\" is a required property",
        "/evidences/0/dst_endpoint/hostname: \"198.51.100.61:443\" does not match",
        "/actor/process/user/name: null is not of type \"string\"",
        "'src_endpoint' was unexpected",
    ] {
        assert!(found.contains(expected), "{expected}\nnot in:\n{found}");
    }
    // Without the host profile, `actor` and `device` are not Detection Finding attributes.
    v["metadata"]["profiles"] = serde_json::json!([]);
    let found = common::ocsf::violations(&v).join("\n");
    assert!(found.contains("'actor', 'device'"), "{found}");
}
