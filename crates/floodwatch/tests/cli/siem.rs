//! `floodwatch export`: the content follows the config (a changed BurstTimeWindow and tool list show
//! up in every target), and, with the SIEM venv (sigma-cli, pySigma's Splunk, Elasticsearch, Kusto
//! and DuckDB backends, duckdb; built by `tests/siem/setup-venv.sh`, which `.ci/run` runs):
//!
//! - every Sigma rule passes `sigma check` with every validator, failing on any issue;
//! - every rule converts with the Splunk, ES|QL, Kusto and DuckDB backends, except the features a
//!   backend does not implement (recorded, and only those expected here);
//! - on the demo fleet, the DuckDB backend's SQL for the declared-flood rules and the exec-burst
//!   correlation flags the same (host, parent, window) triples as floodwatch's declared-flood and
//!   spawn-rate channels on the hosts whose process source is eslogger.
//!
//! Without the venv these tests fail in CI (`CI` set, or `FLOODWATCH_SIEM_REQUIRED=1`, which
//! `.ci/run` sets) and are skipped with a message elsewhere.

use crate::common;

use common::{repo_root, run_cli};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn required() -> bool {
    let set = |k: &str| std::env::var(k).is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
    set("CI") || set("FLOODWATCH_SIEM_REQUIRED")
}

/// The SIEM venv's python, or None (after failing in CI, or saying why the test is skipped).
fn venv_python(test: &str) -> Option<PathBuf> {
    let venv = std::env::var_os("FLOODWATCH_SIEM_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/siem-venv"));
    let py = venv.join("bin/python");
    if py.is_file() {
        return Some(py);
    }
    let msg = format!(
        "{test}: the SIEM venv is missing ({} not found): run `bash tests/siem/setup-venv.sh` (as .ci/run does), or set FLOODWATCH_SIEM_VENV",
        py.display()
    );
    if required() {
        panic!("{msg}");
    }
    eprintln!("skipped: {msg}");
    None
}

/// Runs the harness `tests/siem/siem.py` with the venv's python; HOME is a fresh folder so
/// pySigma's caches never outlive the test.
fn harness(py: &Path, args: &[&str]) -> (bool, String) {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(py)
        .arg(repo_root().join("tests/siem/siem.py"))
        .args(args)
        .env("HOME", home.path())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn export(dir: &Path, target: &str, config: Option<&Path>) -> Vec<(String, String)> {
    std::fs::create_dir_all(dir).unwrap();
    let out = dir.join(target);
    let mut args = vec!["export", "--to", target, "-o", out.to_str().unwrap()];
    if let Some(c) = config {
        args.extend(["--config", c.to_str().unwrap()]);
    }
    run_cli(dir, &args);
    let mut files: Vec<(String, String)> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

const TARGETS: [&str; 5] = ["sigma", "esql", "spl", "kql", "osquery"];

#[test]
fn every_target_follows_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("changed.toml");
    std::fs::write(
        &cfg,
        "[windows]\nburst_time_window = \"20s\"\n[thresholds]\ntool_spawns_per_s = 4.0\n[scope]\nnetwork_tools = [\"curl\", \"ping\", \"fwtesttool\"]\n",
    )
    .unwrap();
    for target in TARGETS {
        let default = export(dir.path(), target, None);
        let changed = export(&dir.path().join("c"), target, Some(&cfg));
        assert!(!default.is_empty(), "{target}: no file");
        assert_eq!(
            default.iter().map(|f| &f.0).collect::<Vec<_>>(),
            changed.iter().map(|f| &f.0).collect::<Vec<_>>(),
            "{target}: the same files"
        );
        let all = |files: &[(String, String)]| {
            files
                .iter()
                .map(|f| f.1.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        };
        let (d, c) = (all(&default), all(&changed));
        // The header of every file quotes the window it was generated from.
        for (name, text) in &default {
            if name.ends_with(".yaml") {
                continue; // sigma-validation.yaml: a validator config, not content
            }
            assert!(
                text.contains("windows.burst_time_window = 30s"),
                "{target}/{name}: no header"
            );
            assert!(text.contains("Loses"), "{target}/{name}: no losses listed");
        }
        for (name, text) in &changed {
            if !name.ends_with(".yaml") {
                assert!(
                    text.contains("windows.burst_time_window = 20s"),
                    "{target}/{name}"
                );
            }
        }
        // The window and the count (4/s x 20 s = 80) reach the rules themselves, and the tool list.
        let (window_default, window_changed, count_changed) = match target {
            "sigma" => ("timespan: 30s", "timespan: 20s", "gte: 80"),
            "esql" => (
                "BUCKET(@timestamp, 30 seconds)",
                "BUCKET(@timestamp, 20 seconds)",
                "execs >= 80",
            ),
            "spl" => ("span=30s", "span=20s", "execs >= 80"),
            "kql" => ("bin(Timestamp, 30s)", "bin(Timestamp, 20s)", "execs >= 80"),
            _ => (
                "unix_time FROM time) - 30",
                "unix_time FROM time) - 20",
                "execs >= 80",
            ),
        };
        assert!(d.contains(window_default), "{target}: {window_default}");
        assert!(c.contains(window_changed), "{target}: {window_changed}");
        assert!(
            !c.contains(window_default),
            "{target}: the old window is gone"
        );
        assert!(c.contains(count_changed), "{target}: {count_changed}");
        assert!(
            d.contains("execs >= 150") || d.contains("gte: 150"),
            "{target}"
        );
        assert!(
            c.contains("fwtesttool") && !d.contains("fwtesttool"),
            "{target}: tool list"
        );
        assert!(
            d.contains("nping") && d.contains("hping3"),
            "{target}: declared floods"
        );
    }
}

#[test]
fn the_toml_wrapper_and_the_osquery_pack_parse() {
    let dir = tempfile::tempdir().unwrap();
    let esql = export(dir.path(), "esql", None);
    let tomls: Vec<&(String, String)> = esql.iter().filter(|f| f.0.ends_with(".toml")).collect();
    assert_eq!(tomls.len(), 8, "7 declared floods and the exec burst");
    for (name, text) in tomls {
        let v: toml::Table = toml::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let rule = v["rule"].as_table().unwrap();
        assert_eq!(rule["type"].as_str(), Some("esql"), "{name}");
        assert!(rule["query"]
            .as_str()
            .unwrap()
            .starts_with("FROM logs-endpoint"));
        let threat = &rule["threat"].as_array().unwrap()[0];
        assert_eq!(threat["tactic"]["id"].as_str(), Some("TA0040"));
        let technique = &threat["technique"].as_array().unwrap()[0];
        assert_eq!(technique["id"].as_str(), Some("T1498"));
        assert_eq!(
            technique["subtechnique"].as_array().unwrap()[0]["id"].as_str(),
            Some("T1498.001")
        );
    }
    let osq = export(dir.path(), "osquery", None);
    let conf = &osq.iter().find(|f| f.0.ends_with(".conf")).unwrap().1;
    // osquery drops whole-line `//` comments from its config files before parsing the JSON.
    let json: String = conf
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let pack: Value = serde_json::from_str(&json).unwrap();
    let queries = pack["queries"].as_object().unwrap();
    assert_eq!(queries.len(), 8);
    assert!(queries.values().all(|q| q["interval"] == 30));
    assert!(queries["floodwatch_exec_burst"]["query"]
        .as_str()
        .unwrap()
        .contains("HAVING execs >= 150"));
}

#[test]
fn suppressions_become_filters_unless_they_have_a_ceiling() {
    let dir = tempfile::tempdir().unwrap();
    let sup = dir.path().join("sup.toml");
    std::fs::write(
        &sup,
        "[[suppression]]\nid = \"SUP-0002\"\nowner = \"it@example.com\"\nreason = \"Acme uptime probe\"\nexpires = \"2027-06-30\"\nmatch = { parent = \"/Library/Application Support/Acme/*\", user = \"root\" }\n\n[[suppression]]\nid = \"SUP-0001\"\nowner = \"netops@example.com\"\nreason = \"monitor-agent pings\"\nexpires = \"2027-06-30\"\nmatch = { path = \"/Library/Application Support/Acme/*\", user = \"root\" }\nceiling = { spawns_per_s = 1.0 }\n",
    )
    .unwrap();
    let out = dir.path().join("sigma");
    run_cli(
        dir.path(),
        &[
            "export",
            "--to",
            "sigma",
            "--suppressions",
            sup.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
    );
    let ping =
        std::fs::read_to_string(out.join("proc_creation_macos_floodwatch_ping_flood.yml")).unwrap();
    assert!(ping.contains("    filter_main_sup_0002:\n        ParentImage|startswith: '/Library/Application Support/Acme/'\n        User: 'root'\n"), "{ping}");
    assert!(ping.contains("and not filter_main_sup_0002"));
    assert!(ping.contains("# Suppressions as filters: SUP-0002"));
    assert!(ping.contains("# Suppression kept out: SUP-0001: a ceiling (spawns_per_s = 1.0)"));
    assert!(!ping.contains("filter_main_sup_0001"));
    // The exec burst's subject is the parent: `parent` (its parent) is not in the exec event.
    let exec =
        std::fs::read_to_string(out.join("proc_creation_macos_floodwatch_network_tool_exec.yml"))
            .unwrap();
    assert!(exec.contains("# Suppression kept out: SUP-0002: not a filter of the exec-burst rule"));
    for target in ["esql", "spl", "kql", "osquery"] {
        let o = dir.path().join(target);
        run_cli(
            dir.path(),
            &[
                "export",
                "--to",
                target,
                "--suppressions",
                sup.to_str().unwrap(),
                "-o",
                o.to_str().unwrap(),
            ],
        );
        let all: String = std::fs::read_dir(&o)
            .unwrap()
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .collect();
        assert!(
            all.contains("Acme"),
            "{target}: the filter is in the queries"
        );
        assert!(all.contains("kept out: SUP-0001"), "{target}");
    }
    // The filtered rules pass sigma check too.
    if let Some(py) = venv_python("sigma check with filters") {
        let (ok, text) = harness(&py, &["check", out.to_str().unwrap()]);
        assert!(ok && text.contains("No validation issues found."), "{text}");
        let report = dir.path().join("convert.json");
        let (ok, text) = harness(
            &py,
            &["convert", out.to_str().unwrap(), report.to_str().unwrap()],
        );
        assert!(ok, "the filtered rules convert:\n{text}");
    }
}

#[test]
fn export_to_stdout_names_each_file() {
    let (out, _) = run_cli(&repo_root(), &["export", "--to", "osquery"]);
    assert!(out.starts_with("==> floodwatch-an0971.sql <==\n"), "{out}");
    assert!(out.contains("\n==> floodwatch-an0971.conf <==\n"));
}

#[test]
fn sigma_rules_pass_sigma_check_and_convert_with_each_backend() {
    let Some(py) = venv_python("sigma check") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("sigma");
    run_cli(
        dir.path(),
        &["export", "--to", "sigma", "-o", rules.to_str().unwrap()],
    );
    let n_rules = std::fs::read_dir(&rules)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "yml")
        })
        .count();
    assert_eq!(
        n_rules, 11,
        "7 declared-flood rules, 2 base rules, 2 correlations"
    );
    let (ok, text) = harness(&py, &["check", rules.to_str().unwrap()]);
    assert!(ok, "sigma check failed:\n{text}");
    assert!(text.contains("No validation issues found."), "{text}");
    eprintln!("{text}");

    let report = dir.path().join("convert.json");
    let (ok, text) = harness(
        &py,
        &["convert", rules.to_str().unwrap(), report.to_str().unwrap()],
    );
    assert!(ok, "a conversion failed:\n{text}");
    let records: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    // Rule groups (9: 7 declared rules, 2 correlations each with its base rule) x 4 backends.
    assert_eq!(records.len(), 36, "{text}");
    let mut unsupported = BTreeSet::new();
    for r in &records {
        let (rule, backend, status) = (
            r["rule"].as_str().unwrap(),
            r["backend"].as_str().unwrap(),
            r["status"].as_str().unwrap(),
        );
        match status {
            "ok" => assert!(!r["queries"].as_array().unwrap().is_empty()),
            "unsupported" => {
                unsupported.insert(format!("{backend} {rule}"));
            }
            other => panic!("{backend} {rule}: {other} {}", r["message"]),
        }
    }
    // pySigma's own limits, nothing of the rules': Kusto converts no correlation, Splunk and ES|QL
    // no value_sum. Every process-creation rule converts with every backend; DuckDB converts all.
    let expected: BTreeSet<String> = [
        "kusto correlation_macos_floodwatch_exec_burst.yml",
        "kusto correlation_macos_floodwatch_outbound_bytes.yml",
        "splunk correlation_macos_floodwatch_outbound_bytes.yml",
        "esql correlation_macos_floodwatch_outbound_bytes.yml",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(unsupported, expected, "{text}");
}

/// (host, parent pid, window start in seconds).
type Triples = BTreeSet<(String, i64, i64)>;

/// floodwatch's (host, parent, window) triples of one channel from its OCSF lines: the declared
/// floods (reason `declared_flood`: the parent of the declaring process, or the script of a lineage
/// group, and the first hot window) and the exec bursts (reason `spawn_rate`: the spawn group's
/// process and every hot window), on the given hosts.
fn floodwatch_triples(jsonl: &str, hosts: &BTreeSet<String>) -> (Triples, Triples, usize) {
    let (mut declared, mut burst) = (BTreeSet::new(), BTreeSet::new());
    let mut elsewhere = 0;
    for line in jsonl.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let fw = &v["unmapped"]["floodwatch"];
        if fw.get("kind").is_some() {
            continue; // campaigns and network floods
        }
        let host = v["device"]["hostname"]
            .as_str()
            .or(v["device"]["name"].as_str())
            .unwrap()
            .to_string();
        if !hosts.contains(&host) {
            elsewhere += 1;
            continue;
        }
        let codes: Vec<&str> = fw["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["code"].as_str().unwrap())
            .collect();
        let hot: Vec<i64> = fw["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|w| w["hot"] == true)
            .map(|w| w["start"].as_i64().unwrap() / 1_000_000_000)
            .collect();
        let p = &v["actor"]["process"];
        let pid = p["pid"].as_i64().unwrap();
        let group = fw["subject_kind"] == "lineage_group";
        if codes.contains(&"declared_flood") {
            let parent = if group {
                pid
            } else {
                p["parent_process"]["pid"].as_i64().unwrap()
            };
            declared.insert((host.clone(), parent, *hot.iter().min().unwrap()));
        }
        if codes.contains(&"spawn_rate") {
            for w in hot {
                burst.insert((host.clone(), pid, w));
            }
        }
    }
    (declared, burst, elsewhere)
}

/// Hunts `fleet` (in `d`), runs the DuckDB harness over it, and asserts that both sides flag the
/// same triples on the hosts whose process source is eslogger. Returns the numbers for the log.
fn compare_with_duckdb(py: &Path, d: &Path, fleet: &str) -> String {
    let (jsonl, _) = run_cli(d, &["hunt", fleet, "--format", "jsonl", "--threads", "1"]);
    run_cli(d, &["export", "--to", "sigma", "-o", "sigma"]);
    let out = d.join(format!("{fleet}.duck.json"));
    let (ok, text) = harness(
        py,
        &[
            "duckdb",
            d.join("sigma").to_str().unwrap(),
            d.join(fleet).to_str().unwrap(),
            "30",
            out.to_str().unwrap(),
        ],
    );
    assert!(ok, "{text}");
    let duck: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let hosts: BTreeSet<String> = duck["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap().to_string())
        .collect();
    let (fw_declared, fw_burst, elsewhere) = floodwatch_triples(&jsonl, &hosts);
    const WINDOW: i64 = 30;
    const HOP: i64 = 15;
    let siem_declared: Triples = duck["declared"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            // The first engine window holding the exec: windows start every HOP and last WINDOW.
            let t = x["time"].as_f64().unwrap() as i64;
            (
                x["host"].as_str().unwrap().to_string(),
                x["parent"].as_i64().unwrap(),
                t / HOP * HOP - (WINDOW - HOP),
            )
        })
        .collect();
    let burst = |key: &str| -> Triples {
        duck[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                (
                    x["host"].as_str().unwrap().to_string(),
                    x["parent"].as_i64().unwrap(),
                    x["window"].as_i64().unwrap(),
                )
            })
            .collect()
    };
    let siem_burst = burst("exec_burst");
    let aligned = burst("exec_burst_aligned");
    let episodes = |s: &Triples| -> BTreeSet<(String, i64)> {
        s.iter().map(|(h, p, _)| (h.clone(), *p)).collect()
    };
    let summary = format!(
        "{fleet}: {} hosts with eslogger ({elsewhere} floodwatch alerts on hosts without it)\n  declared floods: floodwatch {} triples, DuckDB {}, both {}\n  exec bursts: floodwatch {} (host, parent, window) triples in {} episodes, DuckDB {} (half-window hops), both {}; aligned {WINDOW}s buckets: {} triples covering {} episodes",
        hosts.len(),
        fw_declared.len(),
        siem_declared.len(),
        fw_declared.intersection(&siem_declared).count(),
        fw_burst.len(),
        episodes(&fw_burst).len(),
        siem_burst.len(),
        fw_burst.intersection(&siem_burst).count(),
        aligned.len(),
        episodes(&aligned).len(),
    );
    assert!(!fw_declared.is_empty() && !fw_burst.is_empty(), "{summary}");
    assert_eq!(
        fw_declared, siem_declared,
        "declared floods differ\n{summary}"
    );
    assert_eq!(fw_burst, siem_burst, "exec bursts differ\n{summary}");
    // Aligned buckets (a SIEM's `bin`/`BUCKET`) see fewer windows but every burst episode.
    assert!(aligned.len() < fw_burst.len(), "{summary}");
    assert!(aligned.is_subset(&fw_burst), "{summary}");
    assert_eq!(episodes(&aligned), episodes(&fw_burst), "{summary}");
    summary
}

#[test]
fn duckdb_flags_the_same_triples_as_floodwatch_on_simulated_fleets() {
    let Some(py) = venv_python("DuckDB comparison") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The demo fleet of the golden test (12 hosts, seed 1, plus the bundled hosts), and the default
    // simulated fleet (50 hosts, seed 1: hping3, curl glob and nping floods too; its osquery hosts
    // are outside the comparison, which reads eslogger).
    run_cli(d, &["demo", "--keep", "fleet", "--report", "report"]);
    run_cli(d, &["simulate", "fleet50", "--hosts", "50", "--seed", "1"]);
    for fleet in ["fleet", "fleet50"] {
        eprintln!("{}", compare_with_duckdb(&py, d, fleet));
    }
}
