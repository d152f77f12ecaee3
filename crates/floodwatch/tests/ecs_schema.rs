//! `--format ecs`: every field of every document is an ECS field of the release floodwatch targets,
//! with a value of its type (`tests/data/ecs-8.12/ecs_flat.subset.yml`, the entries of the fields
//! used, copied from ECS's `generated/ecs/ecs_flat.yml`; see its PROVENANCE.md). Checked on the
//! bundled collection (process alerts), the bundled campaign (a campaign document) and a real SYN
//! flood capture (a pid-less network flood).

mod common;

use common::{repo_root, run_cli};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::IpAddr;

struct FieldDef {
    ty: String,
    array: bool,
}

/// The flat field definitions: `name:` at column 0, then `  type: X` and `  normalize:` with an
/// optional `  - array` line (the layout ECS generates for ecs_flat.yml).
fn definitions() -> BTreeMap<String, FieldDef> {
    let p = repo_root().join("tests/data/ecs-8.12/ecs_flat.subset.yml");
    let text = std::fs::read_to_string(&p).unwrap();
    let mut out = BTreeMap::new();
    let mut name: Option<String> = None;
    let mut ty = String::new();
    let mut array = false;
    let mut flush = |name: &mut Option<String>, ty: &mut String, array: &mut bool| {
        if let Some(n) = name.take() {
            out.insert(
                n,
                FieldDef {
                    ty: std::mem::take(ty),
                    array: std::mem::take(array),
                },
            );
        }
    };
    for line in text.lines() {
        if !line.starts_with(' ') && line.ends_with(':') {
            flush(&mut name, &mut ty, &mut array);
            name = Some(line.trim_end_matches(':').trim_matches('\'').to_string());
        } else if let Some(t) = line.strip_prefix("  type: ") {
            ty = t.to_string();
        } else if line == "  - array" {
            array = true;
        }
    }
    flush(&mut name, &mut ty, &mut array);
    out
}

fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let name = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&name, x, out);
            }
        }
        _ => out.push((prefix.to_string(), v.clone())),
    }
}

fn type_ok(ty: &str, v: &Value) -> bool {
    match ty {
        "keyword" | "wildcard" | "match_only_text" | "text" | "constant_keyword" => v.is_string(),
        "long" | "integer" | "short" | "byte" => v.is_i64() || v.is_u64(),
        "float" | "double" | "scaled_float" | "half_float" => v.is_number(),
        "boolean" => v.is_boolean(),
        "ip" => v.as_str().is_some_and(|s| s.parse::<IpAddr>().is_ok()),
        // ECS dates as Elasticsearch's default format reads them: RFC 3339 with a zone.
        "date" => v.as_str().is_some_and(|s| {
            s.len() >= 20 && s.as_bytes()[10] == b'T' && (s.ends_with('Z') || s.contains('+'))
        }),
        _ => false,
    }
}

/// Every problem of one document, with its field.
fn check(doc: &Value, defs: &BTreeMap<String, FieldDef>) -> Vec<String> {
    let mut fields = Vec::new();
    flatten("", doc, &mut fields);
    let mut problems = Vec::new();
    for (name, value) in &fields {
        let Some(def) = defs.get(name) else {
            problems.push(format!("{name}: not an ECS field"));
            continue;
        };
        let values: Vec<&Value> = match value {
            Value::Array(a) => {
                if !def.array {
                    problems.push(format!("{name}: an array where ECS expects one value"));
                }
                a.iter().collect()
            }
            v => vec![v],
        };
        for v in values {
            if !type_ok(&def.ty, v) {
                problems.push(format!("{name}: {v} is not of ECS type {}", def.ty));
            }
        }
    }
    for required in ["@timestamp", "ecs.version", "event.kind"] {
        if !fields.iter().any(|(n, _)| n == required) {
            problems.push(format!("{required}: missing"));
        }
    }
    problems
}

fn docs(args: &[&str], cwd: &std::path::Path) -> Vec<Value> {
    let (out, _) = run_cli(cwd, args);
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn ecs_documents_use_ecs_fields_with_their_types() {
    let root = repo_root();
    let defs = definitions();
    assert!(defs.len() > 70, "{} definitions", defs.len());
    assert_eq!(defs["source.bytes"].ty, "long");
    assert!(defs["threat.technique.subtechnique.id"].array);

    let collection = docs(&["hunt", "examples/collection", "--format", "ecs"], &root);
    let campaign = docs(&["hunt", "examples/campaign", "--format", "ecs"], &root);
    let tmp = tempfile::tempdir().unwrap();
    let gw = tmp.path().join("gateway");
    std::fs::create_dir_all(&gw).unwrap();
    std::fs::copy(
        root.join("tests/data/corpus/pcap/CIC-DDoS-2019-SynFlood.pcap"),
        gw.join("CIC-DDoS-2019-SynFlood.pcap"),
    )
    .unwrap();
    let network = docs(&["hunt", "gateway", "--format", "ecs"], tmp.path());

    let mut problems = Vec::new();
    let mut n = 0;
    for (what, set) in [
        ("collection", &collection),
        ("campaign", &campaign),
        ("network", &network),
    ] {
        assert!(!set.is_empty(), "{what}: no document");
        for d in set {
            n += 1;
            for p in check(d, &defs) {
                problems.push(format!("{what} {}: {p}", d["event"]["id"]));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    eprintln!("{n} ECS documents valid");

    // What an Elastic user filters on is there.
    let a = &collection[0];
    assert_eq!(a["event"]["kind"], "alert");
    assert_eq!(
        a["threat"]["technique"]["subtechnique"]["id"][0],
        "T1498.001"
    );
    assert_eq!(a["threat"]["tactic"]["id"][0], "TA0040");
    assert_eq!(a["rule"]["id"], "AN0971");
    assert_eq!(a["host"]["os"]["type"], "macos");
    assert!(a["process"]["command_line"].is_string());
    assert!(a["process"]["parent"]["executable"].is_string());
    assert!(collection.iter().any(|d| d["source"]["bytes"].is_u64()));
    assert!(collection
        .iter()
        .any(|d| d["destination"]["ip"].is_string()));
    assert!(campaign.iter().any(|d| d["related"]["hosts"].is_array()));
    assert!(network.iter().all(|d| d["source"]["ip"].is_string()));
}

#[test]
fn the_validator_rejects_what_ecs_does_not_define() {
    let defs = definitions();
    let bad = serde_json::json!({
        "@timestamp": "2025-09-16T03:12:30.000Z",
        "ecs": {"version": "8.12.0"},
        "event": {"kind": "alert", "severity": "high", "id": ["a", "b"]},
        "process": {"pid": 1, "floodwatch_score": 3},
        "destination": {"ip": "not-an-ip"},
    });
    let p = check(&bad, &defs);
    assert!(p.iter().any(|x| x.starts_with("event.severity")), "{p:?}");
    assert!(
        p.iter().any(|x| x.starts_with("event.id: an array")),
        "{p:?}"
    );
    assert!(p
        .iter()
        .any(|x| x.starts_with("process.floodwatch_score: not an ECS field")));
    assert!(p.iter().any(|x| x.starts_with("destination.ip")));
}

#[test]
fn watch_writes_each_alert_state_as_a_valid_ecs_document() {
    let root = repo_root();
    let stream =
        std::fs::read(root.join("examples/collection/build-mac-07/eslogger.jsonl")).unwrap();
    let out = assert_cmd::Command::cargo_bin("floodwatch")
        .unwrap()
        .args(["watch", "--format", "ecs", "--host", "build-mac-07"])
        .env_remove("FLOODWATCH_CONFIG")
        .write_stdin(stream)
        .output()
        .unwrap();
    common::assert_success(&out);
    let defs = definitions();
    let docs: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(docs.len() >= 2, "opened, then updated or closed");
    for d in &docs {
        assert_eq!(check(d, &defs), Vec::<String>::new());
        assert_eq!(d["event"]["kind"], "alert");
    }
    // Every state is the same finding.
    assert!(docs
        .iter()
        .all(|d| d["event"]["id"] == docs[0]["event"]["id"]));
}
