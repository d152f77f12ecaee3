//! Validation of floodwatch's OCSF lines against the official OCSF 1.3.0 Detection Finding schema
//! (`tests/data/ocsf-schema-1.3.0`, JSON Schema draft 2020-12 generated from the export that PyPI's
//! `ocsf-json-schema` bundles; see its PROVENANCE.md).

use jsonschema::{Draft, Retrieve, Uri, Validator};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::OnceLock;

/// Every `$ref` of the bundled schema is local (`#/$defs/...`): a reference that would need fetching
/// is an error, never a network request.
struct NoRemote;

impl Retrieve for NoRemote {
    fn retrieve(
        &self,
        uri: &Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        Err(format!("the OCSF schema must resolve locally; it refers to {uri}").into())
    }
}

/// The schema for each profile set a finding may declare in `metadata.profiles` (sorted), compiled once.
fn validators() -> &'static Vec<(Vec<String>, Validator)> {
    static V: OnceLock<Vec<(Vec<String>, Validator)>> = OnceLock::new();
    V.get_or_init(|| {
        let dir = PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/data/ocsf-schema-1.3.0"
        ));
        [
            (vec![], "detection_finding.json"),
            (vec!["host".to_string()], "detection_finding.host.json"),
        ]
        .into_iter()
        .map(|(profiles, file)| {
            let p = dir.join(file);
            let text =
                std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let schema: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(
                schema["$schema"], "https://json-schema.org/draft/2020-12/schema",
                "{file}"
            );
            let v = jsonschema::options()
                .with_draft(Draft::Draft202012)
                .with_retriever(NoRemote)
                .build(&schema)
                .unwrap_or_else(|e| panic!("{file} does not compile: {e}"));
            (profiles, v)
        })
        .collect()
    })
}

/// Each violation of one finding as `instance path: message` (the message cut to stay readable: an
/// `additionalProperties` message quotes the whole object).
pub fn violations(finding: &Value) -> Vec<String> {
    let mut profiles: Vec<String> = finding["metadata"]["profiles"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| p.as_str().unwrap_or("?").to_string())
                .collect()
        })
        .unwrap_or_default();
    profiles.sort();
    let Some((_, v)) = validators().iter().find(|(p, _)| *p == profiles) else {
        return vec![format!(
            "/metadata/profiles: {profiles:?} has no bundled schema (tests/data/ocsf-schema-1.3.0/generate.py)"
        )];
    };
    v.iter_errors(finding)
        .map(|e| {
            let msg = e.to_string();
            let msg: String = msg.chars().take(160).collect();
            format!("{}: {msg}", e.instance_path())
        })
        .collect()
}

/// Validates every finding of a JSON-lines output; prints each violation with the finding's line and
/// uid, and how many findings were checked. Returns (findings, violations).
pub fn check_jsonl(label: &str, jsonl: &str) -> (usize, Vec<String>) {
    let mut all = Vec::new();
    let mut n = 0;
    for (i, line) in jsonl.lines().enumerate() {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("{label} line {}: not JSON: {e}", i + 1));
        n += 1;
        let uid = v["finding_info"]["uid"].as_str().unwrap_or("?").to_string();
        for x in violations(&v) {
            all.push(format!("{label} line {} ({uid}) {x}", i + 1));
        }
    }
    for x in &all {
        eprintln!("OCSF violation: {x}");
    }
    eprintln!(
        "OCSF 1.3.0: {label}: {n} finding(s) validated, {} violation(s)",
        all.len()
    );
    (n, all)
}

/// [`check_jsonl`], failing on any violation. Returns the number of findings validated.
pub fn assert_valid_jsonl(label: &str, jsonl: &str) -> usize {
    let (n, all) = check_jsonl(label, jsonl);
    assert!(
        all.is_empty(),
        "{label}: {} OCSF 1.3.0 violation(s) in {n} finding(s):\n{}",
        all.len(),
        all.join("\n")
    );
    n
}
