//! `--format ecs`: every field of every document is an ECS field of the release floodwatch targets,
//! with a value of its type. The definitions are the whole flat field set of ECS 9.4.0
//! (`tests/data/ecs-9.4.0/ecs_flat.json`: every entry of the release's `ecs_flat.yml`, as npm's
//! `@elastic/ecs` 9.4.0 ships it; see its PROVENANCE.md). Checked on the bundled collection
//! (process alerts), the bundled campaign (a campaign document), a real SYN flood capture (a
//! pid-less network flood), the demo fleet and `watch`'s alert states; a broken document must fail.

use crate::common;

use common::{repo_root, run_cli};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// The release the definitions are from, and the one the writer must name.
const RELEASE: &str = "9.4.0";

/// The whole `ecs_flat` definition set, by flat name.
fn definitions() -> BTreeMap<String, Map<String, Value>> {
    let p = repo_root().join(format!("tests/data/ecs-{RELEASE}/ecs_flat.json"));
    let text = std::fs::read_to_string(&p).unwrap();
    let v: BTreeMap<String, Map<String, Value>> = serde_json::from_str(&text).unwrap();
    v
}

struct Checker {
    defs: BTreeMap<String, Map<String, Value>>,
}

impl Checker {
    fn new() -> Self {
        Checker {
            defs: definitions(),
        }
    }

    fn ty(&self, name: &str) -> Option<&str> {
        self.defs.get(name)?.get("type")?.as_str()
    }

    /// `normalize: ["array"]`: ECS expects an array of values here.
    fn is_array(&self, name: &str) -> bool {
        self.defs[name]["normalize"]
            .as_array()
            .is_some_and(|n| n.iter().any(|x| x == "array"))
    }

    /// An `object` or `nested` field with sub-fields of its own in the release (`dns.answers`,
    /// `threat.enrichments`): its content is checked field by field; without (`labels`,
    /// `*.entity.raw`) it is free-form.
    fn has_subfields(&self, name: &str) -> bool {
        let prefix = format!("{name}.");
        self.defs.keys().any(|k| k.starts_with(&prefix))
    }

    /// Every problem of one document, with its field.
    fn check(&self, doc: &Value) -> Vec<String> {
        let mut problems = Vec::new();
        match doc {
            Value::Object(m) => self.check_members("", m, &mut problems),
            _ => problems.push("the document is not a JSON object".into()),
        }
        // The fields the release marks required, and what makes it an alert.
        let mut required: Vec<&str> = self
            .defs
            .iter()
            .filter(|(_, d)| d.get("required") == Some(&Value::Bool(true)))
            .map(|(k, _)| k.as_str())
            .collect();
        required.push("event.kind");
        for name in required {
            if lookup(doc, name).is_none() {
                problems.push(format!("{name}: missing"));
            }
        }
        // ECS: each event.type should be one of the expected_event_types of every event.category.
        if let (Some(Value::Array(cats)), Some(Value::Array(types))) =
            (lookup(doc, "event.category"), lookup(doc, "event.type"))
        {
            for c in cats {
                let expected = self.defs["event.category"]["allowed_values"]
                    .as_array()
                    .and_then(|a| a.iter().find(|v| &v["name"] == c))
                    .and_then(|v| v["expected_event_types"].as_array());
                for t in types {
                    if expected.is_some_and(|e| !e.contains(t)) {
                        problems.push(format!(
                            "event.type: {t} is not an expected type of event.category {c}"
                        ));
                    }
                }
            }
        }
        problems
    }

    fn check_members(&self, prefix: &str, m: &Map<String, Value>, problems: &mut Vec<String>) {
        for (k, v) in m {
            let name = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            self.check_field(&name, v, problems);
        }
    }

    fn check_field(&self, name: &str, v: &Value, problems: &mut Vec<String>) {
        let Some(ty) = self.ty(name) else {
            // Not a field: an object on the way to one (`process` in `process.pid`).
            match v {
                Value::Object(m) if !m.is_empty() => self.check_members(name, m, problems),
                Value::Object(_) => problems.push(format!("{name}: an empty object")),
                _ => problems.push(format!("{name}: not an ECS field")),
            }
            return;
        };
        let values: Vec<&Value> = match v {
            Value::Array(a) => {
                if !self.is_array(name) {
                    problems.push(format!("{name}: an array where ECS expects one value"));
                }
                a.iter().collect()
            }
            v => vec![v],
        };
        let def = &self.defs[name];
        for v in values {
            match ty {
                "object" | "nested" => match v {
                    Value::Object(m) if self.has_subfields(name) => {
                        self.check_members(name, m, problems)
                    }
                    Value::Object(m) => {
                        // Free-form; `object_type` (labels: keyword) types its values.
                        if let Some(ot) = def.get("object_type").and_then(Value::as_str) {
                            for (k, x) in m {
                                if !leaf_ok(ot, x) {
                                    problems
                                        .push(format!("{name}.{k}: {x} is not of ECS type {ot}"));
                                }
                            }
                        }
                    }
                    _ => problems.push(format!("{name}: {v} is not an object (ECS type {ty})")),
                },
                "flattened" => {
                    if !v.is_object() {
                        problems.push(format!("{name}: {v} is not an object (ECS type flattened)"));
                    }
                }
                _ => {
                    if !leaf_ok(ty, v) {
                        problems.push(format!("{name}: {v} is not of ECS type {ty}"));
                    } else if let Some(allowed) =
                        def.get("allowed_values").and_then(Value::as_array)
                    {
                        if !allowed.iter().any(|a| &a["name"] == v) {
                            problems.push(format!("{name}: {v} is not an allowed value"));
                        }
                    } else if let Some(expected) =
                        def.get("expected_values").and_then(Value::as_array)
                    {
                        // ECS lets other values through; floodwatch writes only expected ones.
                        if !expected.contains(v) {
                            problems.push(format!("{name}: {v} is not an expected value"));
                        }
                    }
                }
            }
        }
    }
}

/// A dotted name in a document of nested objects.
fn lookup<'a>(doc: &'a Value, name: &str) -> Option<&'a Value> {
    if let Some(v) = doc.get(name) {
        return Some(v);
    }
    let mut v = doc;
    for part in name.split('.') {
        v = v.get(part)?;
    }
    Some(v)
}

/// One value (not an array) of an ECS field type.
fn leaf_ok(ty: &str, v: &Value) -> bool {
    match ty {
        "keyword" | "constant_keyword" | "wildcard" | "text" | "match_only_text" => v.is_string(),
        "long" => v.is_i64(),
        "unsigned_long" => v.is_u64(),
        "integer" => v.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
        "short" => v.as_i64().is_some_and(|n| i16::try_from(n).is_ok()),
        "byte" => v.as_i64().is_some_and(|n| i8::try_from(n).is_ok()),
        "float" | "double" | "half_float" | "scaled_float" => v.is_number(),
        "boolean" => v.is_boolean(),
        "ip" => v.as_str().is_some_and(|s| s.parse::<IpAddr>().is_ok()),
        "date" => v.as_str().is_some_and(is_rfc3339),
        "geo_point" => {
            v.get("lat").is_some_and(Value::is_number) && v.get("lon").is_some_and(Value::is_number)
        }
        // A type this validator does not know fails rather than passes.
        _ => false,
    }
}

/// RFC 3339 date-time (what Elasticsearch's default date format, strict_date_optional_time, reads
/// with a zone): `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)`, with the fields in range.
fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let d = b.get(r)?;
        d.iter()
            .all(u8::is_ascii_digit)
            .then(|| d.iter().fold(0, |n, c| n * 10 + u32::from(c - b'0')))
    };
    let (Some(_y), Some(mo), Some(d), Some(h), Some(mi), Some(sec)) = (
        num(0..4),
        num(5..7),
        num(8..10),
        num(11..13),
        num(14..16),
        num(17..19),
    ) else {
        return false;
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
        || !(1..=12).contains(&mo)
        || !(1..=31).contains(&d)
        || h > 23
        || mi > 59
        || sec > 60
    {
        return false;
    }
    let mut i = 19;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    match &b[i..] {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', ..] => {
            b.len() == i + 6
                && b[i + 3] == b':'
                && num(i + 1..i + 3).is_some_and(|h| h <= 23)
                && num(i + 4..i + 6).is_some_and(|m| m <= 59)
        }
        _ => false,
    }
}

fn docs(args: &[&str], cwd: &std::path::Path) -> Vec<Value> {
    let (out, _) = run_cli(cwd, args);
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn the_definitions_are_the_whole_release() {
    let c = Checker::new();
    // ECS 9.4.0's ecs_flat.yml: 2,605 fields.
    assert_eq!(c.defs.len(), 2605);
    assert_eq!(c.ty("source.bytes"), Some("long"));
    assert_eq!(c.ty("@timestamp"), Some("date"));
    assert_eq!(c.ty("process.command_line"), Some("wildcard"));
    assert!(c.is_array("threat.technique.subtechnique.id"));
    assert!(!c.is_array("event.id"));
    for (name, d) in &c.defs {
        assert_eq!(d["flat_name"], *name);
        assert!(d["level"].is_string(), "{name}: level");
        assert!(d["normalize"].is_array(), "{name}: normalize");
        // Every type in the release is one the validator knows.
        let ty = d["type"].as_str().unwrap();
        assert!(
            matches!(ty, "object" | "nested" | "flattened") || leaf_ok(ty, &known_good(ty)),
            "{name}: type {ty} not handled"
        );
    }
}

/// A valid value of each leaf type (so an unknown type shows up in the test above).
fn known_good(ty: &str) -> Value {
    match ty {
        "long" | "unsigned_long" | "integer" | "short" | "byte" => serde_json::json!(1),
        "float" | "double" | "half_float" | "scaled_float" => serde_json::json!(1.5),
        "boolean" => serde_json::json!(true),
        "ip" => serde_json::json!("2001:db8::1"),
        "date" => serde_json::json!("2025-09-16T03:12:30.123+02:00"),
        "geo_point" => serde_json::json!({"lat": 48.1, "lon": 11.6}),
        _ => serde_json::json!("text"),
    }
}

#[test]
fn ecs_documents_use_ecs_fields_with_their_types() {
    let root = repo_root();
    let c = Checker::new();

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
    // The demo fleet of the golden test (`demo --keep fleet`).
    run_cli(tmp.path(), &["demo", "--keep", "fleet"]);
    let fleet = docs(&["hunt", "fleet", "--format", "ecs"], tmp.path());

    let mut problems = Vec::new();
    let mut n = 0;
    for (what, set) in [
        ("collection", &collection),
        ("campaign", &campaign),
        ("network", &network),
        ("demo fleet", &fleet),
    ] {
        assert!(!set.is_empty(), "{what}: no document");
        for d in set {
            n += 1;
            assert_eq!(d["ecs"]["version"], RELEASE, "{what}");
            for p in c.check(d) {
                problems.push(format!("{what} {}: {p}", d["event"]["id"]));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    eprintln!("{n} ECS documents valid against ECS {RELEASE}");

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
    assert!(fleet.len() >= 5, "the demo fleet's alerts");
}

#[test]
fn the_validator_rejects_a_broken_document() {
    let c = Checker::new();
    let good = serde_json::json!({
        "@timestamp": "2025-09-16T03:12:30.000Z",
        "ecs": {"version": RELEASE},
        "event": {"kind": "alert", "category": ["network", "process"], "type": ["info"],
                  "id": "a", "severity": 4, "start": "2025-09-16T03:12:00.5+02:00"},
        "process": {"pid": 1, "parent": {"pid": 2, "interactive": false}},
        "destination": {"ip": "2001:db8::1", "port": 443},
        "threat": {"technique": {"subtechnique": {"id": ["T1498.001"]}}},
        "labels": {"team": "blue"},
        "dns": {"answers": [{"name": "example.com", "ttl": 60}]},
    });
    assert_eq!(c.check(&good), Vec::<String>::new());

    // One fault at a time: each must be reported, naming its field.
    let faults: &[(&str, Value, &str)] = &[
        (
            "process.floodwatch_score",
            serde_json::json!(3),
            "not an ECS field",
        ),
        (
            "event.severity",
            serde_json::json!("high"),
            "not of ECS type long",
        ),
        (
            "event.id",
            serde_json::json!(["a", "b"]),
            "an array where ECS expects one value",
        ),
        (
            "destination.ip",
            serde_json::json!("not-an-ip"),
            "not of ECS type ip",
        ),
        (
            "destination.port",
            serde_json::json!(443.5),
            "not of ECS type long",
        ),
        (
            "@timestamp",
            serde_json::json!("2025-09-16 03:12:30"),
            "not of ECS type date",
        ),
        (
            "event.start",
            serde_json::json!("2025-13-16T03:12:30Z"),
            "not of ECS type date",
        ),
        (
            "event.end",
            serde_json::json!(1758000000),
            "not of ECS type date",
        ),
        (
            "process.parent.interactive",
            serde_json::json!("no"),
            "not of ECS type boolean",
        ),
        (
            "event.kind",
            serde_json::json!("finding"),
            "not an allowed value",
        ),
        (
            "event.category",
            serde_json::json!(["flood"]),
            "not an allowed value",
        ),
        (
            "host.os.type",
            serde_json::json!("darwin"),
            "not an expected value",
        ),
        (
            "labels.team",
            serde_json::json!(7),
            "not of ECS type keyword",
        ),
        (
            "dns.answers",
            serde_json::json!("example.com"),
            "is not an object",
        ),
        (
            "process.name",
            serde_json::json!({"x": "y"}),
            "not of ECS type keyword",
        ),
        ("process", serde_json::json!({}), "an empty object"),
        ("hosts", serde_json::json!("mac-01"), "not an ECS field"),
    ];
    for (field, value, want) in faults {
        let mut bad = good.clone();
        set(&mut bad, field, value.clone());
        let p = c.check(&bad);
        assert!(
            p.iter().any(|x| x.starts_with(field) && x.contains(want)),
            "{field} = {value}: {p:?}"
        );
    }
    // The release's required fields, and an event.type no category expects.
    let mut bad = good.clone();
    bad.as_object_mut().unwrap().remove("ecs");
    assert!(c.check(&bad).contains(&"ecs.version: missing".to_string()));
    let mut bad = good.clone();
    set(&mut bad, "event.type", serde_json::json!(["creation"]));
    assert!(c
        .check(&bad)
        .iter()
        .any(|x| x.contains(r#""creation" is not an expected type of event.category "network""#)));
}

/// Sets a dotted field in a document, making the objects on the way.
fn set(doc: &mut Value, name: &str, value: Value) {
    let mut v = doc;
    let parts: Vec<&str> = name.split('.').collect();
    for p in &parts[..parts.len() - 1] {
        if !v[*p].is_object() {
            v[*p] = serde_json::json!({});
        }
        v = &mut v[*p];
    }
    v[parts[parts.len() - 1]] = value;
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
    let c = Checker::new();
    let docs: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(docs.len() >= 2, "opened, then updated or closed");
    for d in &docs {
        assert_eq!(c.check(d), Vec::<String>::new());
        assert_eq!(d["event"]["kind"], "alert");
    }
    // Every state is the same finding.
    assert!(docs
        .iter()
        .all(|d| d["event"]["id"] == docs[0]["event"]["id"]));
}
