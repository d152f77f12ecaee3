//! Multi-day collections (issue 11): nettop files anchored per file from the evidence nearest to them,
//! a fortnight learned in one `baseline learn` call giving the same baselines as a call per day (in
//! both folder layouts), and baselines that do not learn the attack.
//!
//! Data: the simulator's two-host fortnight (`floodwatch_sim::fortnight`): eslogger JSON lines, nettop
//! CSV and unified-log NDJSON per host and day, in the formats of the real samples in tests/data/corpus.

use crate::common;

use assert_cmd::Command;
use floodwatch_core::time::{days_from_civil, NANOS_PER_DAY};
use floodwatch_core::Ts;
use floodwatch_sim::fortnight::{write_uploads, SIBLING, UPLOADER};
use floodwatch_sim::Layout;
use serde_json::Value;
use std::path::{Path, PathBuf};

const DAYS: u32 = 14;

fn first_day() -> Ts {
    Ts(days_from_civil(2026, 10, 1) * NANOS_PER_DAY)
}

fn date(day: u32) -> String {
    first_day()
        .add_secs(i64::from(day) * 86_400)
        .to_rfc3339_millis()[..10]
        .to_string()
}

fn fw(args: &[&str], paths: &[PathBuf]) -> std::process::Output {
    Command::cargo_bin("floodwatch")
        .unwrap()
        .env_remove("FLOODWATCH_CONFIG")
        .env("NO_COLOR", "1")
        .args(args)
        .args(paths)
        .output()
        .unwrap()
}

fn ok(out: std::process::Output) -> (String, String) {
    common::assert_success(&out);
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `baseline learn --json` of `paths` into `db`: the report. The text report (stderr) says what was
/// learned and held, never a hunt's verdicts.
fn learn(db: &Path, paths: &[PathBuf]) -> Value {
    let (out, err) = ok(fw(
        &[
            "baseline",
            "learn",
            "--json",
            "--db",
            &db.display().to_string(),
        ],
        paths,
    ));
    assert!(err.contains("floodwatch: baselines\n  learned "), "{err}");
    assert!(
        err.contains("key(s) mature (at 200 windows over 7 days)"),
        "{err}"
    );
    assert!(
        !err.contains("alert(s)") && !err.contains("floodwatch: hosts"),
        "{err}"
    );
    serde_json::from_str(&out).unwrap()
}

/// The folders of one day, in a layout.
fn day_paths(root: &Path, layout: Layout, day: u32) -> Vec<PathBuf> {
    match layout {
        Layout::DateHost => vec![root.join(date(day))],
        _ => [UPLOADER, SIBLING]
            .iter()
            .map(|h| root.join(h).join(date(day)))
            .collect(),
    }
}

/// Everything stored about baselines and held windows, in a comparable form: the baseline rows (profile
/// JSON parsed), and the held windows without their ids and runs.
fn stored(db: &Path) -> (Vec<Value>, Vec<Value>) {
    let s = floodwatch_store::Store::open_existing(db, std::time::Duration::from_secs(5)).unwrap();
    let c = s.connection();
    let mut st = c
        .prepare(
            "SELECT identity, parent_class, role, windows, first_seen, last_seen, days, hosts, profile,
                 (SELECT group_concat(host) FROM (SELECT host FROM baseline_hosts h
                      WHERE h.baseline_id = b.id ORDER BY host))
             FROM baselines b ORDER BY identity, parent_class, role",
        )
        .unwrap();
    let rows: Vec<Value> = st
        .query_map([], |r| {
            Ok(serde_json::json!({
                "key": [r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?],
                "windows": r.get::<_, i64>(3)?,
                "first_seen": r.get::<_, String>(4)?,
                "last_seen": r.get::<_, String>(5)?,
                "days": r.get::<_, f64>(6)?,
                "hosts": r.get::<_, String>(9)?,
                "profile": serde_json::from_str::<Value>(&r.get::<_, String>(8)?).unwrap(),
            }))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let held: Vec<Value> = s
        .held_windows(false)
        .unwrap()
        .into_iter()
        .map(|h| {
            serde_json::json!({
                "key": h.key, "host": h.host, "start": h.start, "values": h.values, "why": h.why,
                "accepted": h.accepted_by.is_some(),
            })
        })
        .collect();
    (rows, held)
}

/// Equal JSON, numbers equal to 1e-9 relative (a histogram weight summed in another order differs
/// in its last bits; every count, time, bucket and host is compared exactly).
fn same(a: &Value, b: &Value, at: &str) {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!(
                (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
                "{at}: {x} vs {y}"
            );
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{at}: {a} vs {b}");
            for (i, (x, y)) in x.iter().zip(y).enumerate() {
                same(x, y, &format!("{at}[{i}]"));
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            let kx: Vec<_> = x.keys().collect();
            let ky: Vec<_> = y.keys().collect();
            assert_eq!(kx, ky, "{at}");
            for k in x.keys() {
                same(&x[k], &y[k], &format!("{at}.{k}"));
            }
        }
        _ => assert_eq!(a, b, "{at}"),
    }
}

/// Accepts the held group of `identity` on `host` (it must be listed), with an owner and a reason.
fn accept(db: &Path, identity: &str, host: &str) {
    let (out, _) = ok(fw(
        &[
            "baseline",
            "held",
            "--json",
            "--db",
            &db.display().to_string(),
        ],
        &[],
    ));
    let groups: Vec<Value> = serde_json::from_str(&out).unwrap();
    let g = groups
        .iter()
        .find(|g| g["identity"] == identity && g["host"] == host)
        .unwrap_or_else(|| panic!("{identity} on {host} not held: {groups:#?}"));
    ok(fw(
        &[
            "baseline",
            "accept",
            &g["id"].to_string(),
            "--db",
            &db.display().to_string(),
            "--owner",
            "media-team",
            "--reason",
            "CHG-311: the afternoon Aspera export is routine",
        ],
        &[],
    ));
}

const ASCP: &str = "com.ibm.aspera.ascp (team ASPERA0001)";

/// The done-when of issue 11, in one layout: 14 days of two hosts learned in one call equal 14 calls
/// (before and after the reviewer accepts the upload), the upload's baseline is mature, the usual upload
/// on the last day is quiet against it while a UDP flood of the same volume on the sibling alerts, and
/// every nettop file is dated by its own folder.
fn fortnight(layout: Layout) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("collection");
    write_uploads(&root, layout, first_day(), DAYS, true).unwrap();
    let (one, daily) = (tmp.path().join("one.db"), tmp.path().join("daily.db"));

    let report = learn(&one, std::slice::from_ref(&root));
    for day in 0..DAYS {
        learn(&daily, &day_paths(&root, layout, day));
    }
    let (rows_one, held_one) = stored(&one);
    let (rows_daily, held_daily) = stored(&daily);
    assert!(!rows_one.is_empty());
    same(
        &Value::from(rows_one),
        &Value::from(rows_daily),
        "baselines",
    );
    same(
        &Value::from(held_one.clone()),
        &Value::from(held_daily),
        "held",
    );

    // What learn reports: what it learned, and what it held for review (the daily upload on every day,
    // the flood on the last), not alerts.
    assert_eq!(report["hosts"], 2, "{report:#}");
    assert!(report["windows"].as_u64().unwrap() > 0);
    let held = report["held"].as_array().unwrap();
    let group = |identity: &str, host: &str| {
        held.iter()
            .find(|g| g["identity"].as_str().unwrap().starts_with(identity) && g["host"] == host)
            .unwrap_or_else(|| panic!("{identity} on {host} not held: {held:#?}"))
    };
    let up = group(ASCP, UPLOADER);
    assert!(up["windows"].as_u64().unwrap() >= 200, "{up}");
    assert!(up["first"].as_str().unwrap().starts_with(&date(0)), "{up}");
    assert!(
        up["last"].as_str().unwrap().starts_with(&date(DAYS - 1)),
        "{up}"
    );
    assert!(up["why"].as_str().unwrap().contains("bytes_per_s"), "{up}");
    let flood = group("name:python3", SIBLING);
    assert!(
        flood["first"]
            .as_str()
            .unwrap()
            .starts_with(&date(DAYS - 1)),
        "{flood}"
    );

    // The reviewer accepts the upload in both stores: learned, mature, and still the same.
    accept(&one, ASCP, UPLOADER);
    accept(&daily, ASCP, UPLOADER);
    let (rows_one, _) = stored(&one);
    let (rows_daily, _) = stored(&daily);
    same(
        &Value::from(rows_one.clone()),
        &Value::from(rows_daily),
        "accepted baselines",
    );
    let b = rows_one
        .iter()
        .find(|r| r["key"][0] == ASCP)
        .expect("the upload's baseline");
    assert!(b["windows"].as_u64().unwrap() >= 200, "{b}");
    assert!(b["days"].as_f64().unwrap() >= 12.9, "{b}");
    let (show, _) = ok(fw(
        &["baseline", "show", "--db", &one.display().to_string()],
        &[],
    ));
    let line = show
        .lines()
        .find(|l| l.contains("com.ibm.aspera.ascp"))
        .unwrap();
    assert!(line.contains(" mature "), "{show}");

    // The last day: without baselines the upload alerts (it is hot by the absolute byte threshold)...
    let last = day_paths(&root, layout, DAYS - 1);
    let (plain, _) = ok(fw(&["hunt", "--format", "jsonl"], &last));
    let hosts = |jsonl: &str| -> Vec<String> {
        let mut v: Vec<String> = jsonl
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|a| a["unmapped"]["floodwatch"]["suppressed_by"].is_null())
            .map(|a| a["device"]["hostname"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v.dedup();
        v
    };
    assert_eq!(
        hosts(&plain),
        vec![SIBLING.to_string(), UPLOADER.to_string()]
    );
    // ...against the learned fortnight it is quiet, and the flood of the same volume still alerts.
    let (judged, err) = ok(fw(
        &[
            "hunt",
            "--format",
            "jsonl",
            "--db",
            &one.display().to_string(),
        ],
        &last,
    ));
    assert_eq!(hosts(&judged), vec![SIBLING.to_string()], "{err}");
    assert!(err.contains("found normal by a mature baseline"), "{err}");
    let a: Value = serde_json::from_str(judged.lines().next().unwrap()).unwrap();
    let text = a.to_string();
    assert!(
        text.contains("udp"),
        "the flood is UDP by its nettop socket rows: {text}"
    );

    // Every nettop file was dated by the sources in its own folder: 14 days per host, none shared.
    let summary = tmp.path().join("summary.json");
    ok(fw(
        &[
            "hunt",
            "--format",
            "jsonl",
            "--summary-json",
            &summary.display().to_string(),
        ],
        std::slice::from_ref(&root),
    ));
    let s: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    let mut seen = 0;
    for f in s["files"].as_array().unwrap() {
        if f["format"] != "nettop-csv" {
            continue;
        }
        let path = f["path"].as_str().unwrap();
        let day = (0..DAYS).find(|d| path.contains(&date(*d))).unwrap();
        let note = f["notes"][0].as_str().unwrap();
        assert!(
            note.contains(&format!(
                "anchored to dated sources in the same folder (eslogger.jsonl, unifiedlog.ndjson): {}",
                date(day)
            )),
            "{path}: {note}"
        );
        seen += 1;
    }
    assert_eq!(seen, 2 * DAYS);
}

#[test]
fn a_fortnight_in_host_date_folders_learns_in_one_call_as_day_by_day() {
    fortnight(Layout::HostDate);
}

#[test]
fn a_fortnight_in_date_host_folders_learns_in_one_call_as_day_by_day() {
    fortnight(Layout::DateHost);
}

/// Baselines must not learn the attack: a fleet day with every attack family is learned with baselines
/// that are mature at once (the worst case: one window is enough), and hunting the same files against
/// them alerts on exactly what a hunt without baselines alerts on; the learn report names the floods.
/// Accepting everything (a reviewer waving all through) would have trained the detector: then some
/// floods are absorbed (the guard is what keeps them alerting).
#[test]
fn a_fleet_with_floods_does_not_train_its_baselines() {
    let tmp = tempfile::tempdir().unwrap();
    let fleet = tmp.path().join("fleet");
    ok(fw(
        &[
            "simulate",
            "--hosts",
            "15",
            "--attack-hosts",
            "15",
            "--duration",
            "6h",
            "--date",
            "2026-10-01",
        ],
        std::slice::from_ref(&fleet),
    ));
    let cfg = tmp.path().join("floodwatch.toml");
    std::fs::write(&cfg, "[baseline]\nmin_windows = 1\nmin_days = 0\n").unwrap();
    let db = tmp.path().join("fw.db");
    let run = |args: &[&str]| {
        Command::cargo_bin("floodwatch")
            .unwrap()
            .env("FLOODWATCH_CONFIG", &cfg)
            .args(args)
            .arg(&fleet)
            .output()
            .unwrap()
    };
    let (out, err) = ok(run(&[
        "baseline",
        "learn",
        "--json",
        "--db",
        &db.display().to_string(),
    ]));
    let report: Value = serde_json::from_str(&out).unwrap();
    let held: Vec<String> = report["held"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["identity"].as_str().unwrap().to_string())
        .collect();
    // The three: a cron poll.sh curl loop, a ping -i 0.002 agent, a LaunchDaemon .sync.sh.
    for want in [
        "/var/root/.local/bin/poll.sh",
        "ping",
        "/Library/Scripts/.sync.sh",
    ] {
        assert!(
            held.iter().any(|h| h.contains(want)),
            "{want} not held: {held:#?}"
        );
    }
    assert!(err.contains("held for review, not learned"), "{err}");
    assert!(err.contains("poll.sh"), "{err}");

    let alerted = |args: &[&str]| -> Vec<(String, String)> {
        let (out, _) = ok(run(args));
        let mut v: Vec<(String, String)> = out
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|a| a["unmapped"]["floodwatch"]["suppressed_by"].is_null())
            .map(|a| {
                (
                    a["device"]["hostname"].as_str().unwrap().to_string(),
                    format!(
                        "{} {}",
                        a["actor"]["process"]["pid"], a["actor"]["process"]["file"]["path"]
                    ),
                )
            })
            .collect();
        v.sort();
        v
    };
    let plain = alerted(&["hunt", "--format", "jsonl"]);
    assert!(plain.len() >= 12, "{plain:#?}");
    let judged = alerted(&[
        "hunt",
        "--format",
        "jsonl",
        "--db",
        &db.display().to_string(),
    ]);
    assert_eq!(
        judged, plain,
        "every flood still alerts against the learned baselines"
    );

    // Had every held window been accepted, the baselines would have learned floods and absorbed them.
    for g in report["held"].as_array().unwrap() {
        ok(run_store(
            &cfg,
            &db,
            &[
                "baseline",
                "accept",
                &g["id"].to_string(),
                "--owner",
                "x",
                "--reason",
                "y",
            ],
        ));
    }
    let trained = alerted(&[
        "hunt",
        "--format",
        "jsonl",
        "--db",
        &db.display().to_string(),
    ]);
    assert!(trained.len() < plain.len(), "{trained:#?}");
}

fn run_store(cfg: &Path, db: &Path, args: &[&str]) -> std::process::Output {
    Command::cargo_bin("floodwatch")
        .unwrap()
        .env("FLOODWATCH_CONFIG", cfg)
        .args(args)
        .arg("--db")
        .arg(db)
        .output()
        .unwrap()
}

/// The first note of each nettop file in a hunt's summary JSON, by path suffix.
fn anchor_notes(summary: &Path) -> Vec<(String, String)> {
    let s: Value = serde_json::from_str(&std::fs::read_to_string(summary).unwrap()).unwrap();
    s["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["format"] == "nettop-csv")
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["notes"][0].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Each anchor rule, nearest evidence first, on copies of one real-format nettop capture of the
/// fortnight: a date in its folder's name (although the host has dated sources in another folder), a
/// date in its file name, its modification time, and --date for a stream. Three files of one host from
/// three days stay on three days.
#[test]
fn each_nettop_file_is_dated_by_the_evidence_nearest_to_it() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    write_uploads(&src, Layout::HostDate, first_day(), 2, false).unwrap();
    let capture = std::fs::read(src.join(UPLOADER).join(date(1)).join("nettop.csv")).unwrap();
    let x = tmp.path().join("x").join(UPLOADER);
    let put = |rel: &str, data: &[u8]| {
        let p = x.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, data).unwrap();
        p
    };
    put("2026-10-03/nettop.csv", &capture);
    // The host's dated source of another day, in another folder: not the nearest evidence.
    put(
        "2026-10-09/eslogger.jsonl",
        &std::fs::read(src.join(UPLOADER).join(date(0)).join("eslogger.jsonl")).unwrap(),
    );
    put("nettop/nettop-20261004.csv", &capture);
    let by_mtime = put("logs/nettop.csv", &capture);
    let mtime = std::time::UNIX_EPOCH
        + std::time::Duration::from_secs(
            (days_from_civil(2026, 10, 5) * 86_400 + 23 * 3_600) as u64,
        );
    std::fs::File::options()
        .write(true)
        .open(&by_mtime)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let summary = tmp.path().join("s.json");
    ok(fw(
        &[
            "hunt",
            "--date",
            "2026-10-20",
            "--summary-json",
            &summary.display().to_string(),
        ],
        &[tmp.path().join("x")],
    ));
    let notes = anchor_notes(&summary);
    assert_eq!(notes.len(), 3, "{notes:#?}");
    let note = |suffix: &str| {
        notes
            .iter()
            .find(|(p, _)| p.ends_with(suffix))
            .map(|(_, n)| n.clone())
            .unwrap()
    };
    let n = note("2026-10-03/nettop.csv");
    assert!(
        n.contains("taken from the date in its path (folder 2026-10-03; no dated source in its folder): 2026-10-03"),
        "{n}"
    );
    let n = note("nettop-20261004.csv");
    assert!(
        n.contains("(file name nettop-20261004.csv; no dated source in its folder): 2026-10-04"),
        "{n}"
    );
    let n = note("logs/nettop.csv");
    assert!(n.contains("the file's modification time"), "{n}");
    assert!(n.contains(": 2026-10-05,"), "{n}");

    // A stream has no folder, no name with a date, no file time: --date dates it.
    let out = Command::cargo_bin("floodwatch")
        .unwrap()
        .env_remove("FLOODWATCH_CONFIG")
        .args([
            "hunt",
            "--host",
            UPLOADER,
            "--date",
            "2026-10-06",
            "--summary-json",
            &summary.display().to_string(),
            "/dev/stdin",
        ])
        .write_stdin(capture.clone())
        .output()
        .unwrap();
    common::assert_success(&out);
    let notes = anchor_notes(&summary);
    assert!(
        notes[0].1.contains("given by --date") && notes[0].1.contains(": 2026-10-06,"),
        "{notes:?}"
    );
}
