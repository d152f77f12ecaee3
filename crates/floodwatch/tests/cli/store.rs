//! The store end to end, through the CLI: baselines learned from a week of telemetry (eslogger JSON lines
//! written by the simulator), hunts judged against them, suppressions with ceilings and expiry, the alert
//! lifecycle, and damaged or locked store files.
//!
//! The week: a LaunchDaemon script (`/bin/bash /Library/Scripts/.sync.sh`) runs a burst of curl every night
//! at 8 execs/s for two minutes: above the absolute 5 execs/s threshold, so without a baseline it alerts.
//! That is the "CI runner's curl storm" a baseline must learn as normal for its identity and role.

use crate::common;

use assert_cmd::Command;
use floodwatch_core::config::DEFAULT_TOML;
use floodwatch_core::time::days_from_civil;
use floodwatch_core::Ts;
use floodwatch_sim::scenario::{launchd_curl_bursts, launchd_curl_loop};
use floodwatch_sim::{Files, HostFiles, HostOpts};
use serde_json::Value;
use std::path::{Path, PathBuf};

const HOST: &str = "ci-runner-01";

fn night(day: i64) -> Ts {
    // 2026-03-02 + day, 02:00 UTC.
    Ts::from_secs((days_from_civil(2026, 3, 2) + day) * 86_400 + 2 * 3_600)
}

/// A host folder `root/host` that will hold an eslogger file only.
fn eslogger_host(root: &Path, host: &str, seed: u64) -> HostFiles {
    let files = Files {
        eslogger: true,
        ..Files::default()
    };
    let opts = HostOpts {
        seed,
        ..HostOpts::default()
    };
    HostFiles::create(&root.join(host), files, opts).unwrap()
}

/// `root/HOST/eslogger.jsonl` with one curl burst per listed day: (day, seconds, execs per second).
fn write_days(root: &Path, bursts: &[(i64, f64, f64)], seed: u64) -> PathBuf {
    write_days_on(root, HOST, bursts, seed)
}

fn write_days_on(root: &Path, host: &str, bursts: &[(i64, f64, f64)], seed: u64) -> PathBuf {
    let mut hf = eslogger_host(root, host, seed);
    for &(day, secs, per_s) in bursts {
        launchd_curl_loop(&mut hf, night(day), secs, per_s);
    }
    hf.finish().unwrap();
    root.to_path_buf()
}

struct Env {
    tmp: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        let tmp = tempfile::tempdir().unwrap();
        // Maturity within a test-sized week; a short lock wait for the locked-store test.
        let cfg = DEFAULT_TOML
            .replace("min_windows = 200", "min_windows = 40")
            .replace("busy_timeout = \"5s\"", "busy_timeout = \"200ms\"");
        std::fs::write(tmp.path().join("floodwatch.toml"), cfg).unwrap();
        std::fs::write(
            tmp.path().join("roles.toml"),
            "default = \"workstation\"\n[[role]]\nhosts = \"ci-*\"\nrole = \"build-agent\"\n",
        )
        .unwrap();
        Env { tmp }
    }

    fn p(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    fn db(&self) -> PathBuf {
        self.p("fw.db")
    }

    /// floodwatch with the test config and store.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::cargo_bin("floodwatch").unwrap();
        c.env("FLOODWATCH_CONFIG", self.p("floodwatch.toml"));
        c.args(args);
        c
    }

    /// A store command on the test store (`--db` appended).
    fn store_cmd(&self, args: &[&str]) -> std::process::Output {
        self.cmd(args).arg("--db").arg(self.db()).output().unwrap()
    }

    /// A store command's JSON output (it must succeed).
    fn store_json<T: serde::de::DeserializeOwned>(&self, args: &[&str]) -> T {
        let out = self.store_cmd(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn learn(&self, data: &Path) -> String {
        let out = self
            .cmd(&["baseline", "learn", "--db"])
            .arg(self.db())
            .arg("--roles")
            .arg(self.p("roles.toml"))
            .arg(data)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "learn failed: {err}");
        err
    }

    /// A reviewer accepts every group of windows `learn` held (each hot by the absolute thresholds):
    /// they are learned. Returns how many groups.
    fn accept_all_held(&self) -> usize {
        let groups: Vec<Value> = self.store_json(&["baseline", "held", "--json"]);
        for g in &groups {
            let id = g["id"].to_string();
            let out = self.store_cmd(&[
                "baseline",
                "accept",
                &id,
                "--owner",
                "build-team",
                "--reason",
                "CHG-12: the nightly sync storm is routine",
            ]);
            common::assert_success(&out);
        }
        groups.len()
    }

    /// hunt --db: (alerts as OCSF JSON, stderr, exit code).
    fn hunt_db(&self, data: &Path, db: &Path) -> (Vec<Value>, String, i32) {
        let out = self
            .cmd(&["hunt", "--format", "jsonl", "--db"])
            .arg(db)
            .arg("--roles")
            .arg(self.p("roles.toml"))
            .arg(data)
            .output()
            .unwrap();
        let alerts = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (
            alerts,
            String::from_utf8_lossy(&out.stderr).to_string(),
            out.status.code().unwrap_or(-1),
        )
    }

    fn hunt_plain(&self, data: &Path) -> Vec<Value> {
        let out = self
            .cmd(&["hunt", "--format", "jsonl"])
            .arg(data)
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn stored_alerts(&self) -> Vec<Value> {
        self.store_json(&["alerts", "list", "--json", "--suppressed"])
    }
}

fn fw(a: &Value) -> &Value {
    &a["unmapped"]["floodwatch"]
}

fn reason_codes(a: &Value) -> Vec<String> {
    fw(a)["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_string())
        .collect()
}

fn reason_text(a: &Value, code: &str) -> String {
    fw(a)["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == code)
        .map(|r| r["text"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

/// The lifecycle steps of `alerts show --json`, in order.
fn history_events(v: &Value) -> Vec<&str> {
    v["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["event"].as_str().unwrap())
        .collect()
}

fn unsuppressed(alerts: &[Value]) -> Vec<&Value> {
    alerts
        .iter()
        .filter(|a| fw(a)["suppressed_by"].is_null())
        .collect()
}

/// A learned week: 8 nights of the 8/s storm.
fn learned_week(env: &Env) {
    let week: Vec<(i64, f64, f64)> = (0..8).map(|d| (d, 120.0, 8.0)).collect();
    let data = write_days(&env.p("week"), &week, 1);
    let err = env.learn(&data);
    // The storm is hot by the absolute threshold: held for review, not learned, until accepted.
    assert!(err.contains("held for review, not learned"), "{err}");
    assert!(err.contains("/Library/Scripts/.sync.sh"), "{err}");
    assert_eq!(env.accept_all_held(), 1);
    // The same files again add nothing: every window is before the host's learned mark.
    let again = env.learn(&data);
    assert!(again.contains("learned 0 window(s)"), "{again}");
    assert!(again.contains("nothing held for review"), "{again}");
    let rows: Vec<Value> = env.store_json(&["baseline", "show", "--json"]);
    let row = rows
        .iter()
        .find(|r| r["key"]["identity"] == "com.apple.bash /Library/Scripts/.sync.sh")
        .expect("the script's baseline");
    assert_eq!(row["key"]["parent_class"], "launchd_daemon");
    assert_eq!(row["key"]["role"], "build-agent");
    assert!(row["days"].as_f64().unwrap() >= 7.0, "{row}");
    assert!(row["windows"].as_u64().unwrap() >= 40, "{row}");
}

#[test]
fn a_flood_far_above_the_learned_week_alerts_with_its_deviation() {
    let env = Env::new();
    learned_week(&env);
    // Night 10: the same script at 80 execs/s.
    let data = write_days(&env.p("flood"), &[(10, 60.0, 80.0)], 2);
    let (alerts, err, code) = env.hunt_db(&data, &env.db());
    assert_eq!(code, 0, "{err}");
    let live = unsuppressed(&alerts);
    assert_eq!(live.len(), 1, "{alerts:#?}");
    let a = live[0];
    assert!(reason_codes(a).contains(&"baseline_deviation".to_string()));
    let text = reason_text(a, "baseline_deviation");
    assert!(
        text.contains("the p99 of com.apple.bash /Library/Scripts/.sync.sh under launchd daemon on role build-agent"),
        "{text}"
    );
    // 80/s against a p99 near 8/s: about 10x (histogram buckets are 9% wide).
    let value = fw(a)["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == "baseline_deviation")
        .map(|r| r["value"].as_f64().unwrap() / r["threshold"].as_f64().unwrap())
        .unwrap();
    assert!(
        (6.0..=12.0).contains(&value),
        "deviation ratio {value}: {text}"
    );
    assert!(
        fw(a)["baseline"]
            .as_str()
            .unwrap()
            .starts_with("mature baseline"),
        "{}",
        fw(a)["baseline"]
    );
    assert!(err.contains("1 alert(s) opened"), "{err}");
    // Learned on this host: not first-seen. On another build agent the same flood is, and says so.
    assert!(!reason_codes(a).contains(&"first_seen".to_string()));
    let other = write_days_on(&env.p("other"), "ci-runner-09", &[(10, 60.0, 80.0)], 15);
    let (alerts, err, _) = env.hunt_db(&other, &env.db());
    let live = unsuppressed(&alerts);
    assert_eq!(live.len(), 1, "{err}");
    let first = reason_text(live[0], "first_seen");
    assert!(
        first.contains("was learned on 1 other host(s) of role build-agent, not this one"),
        "{first}"
    );
    assert!(reason_codes(live[0]).contains(&"baseline_deviation".to_string()));
}

#[test]
fn the_usual_rate_of_a_learned_identity_does_not_alert() {
    let env = Env::new();
    learned_week(&env);
    let data = write_days(&env.p("usual"), &[(10, 120.0, 8.0)], 3);
    // Without the store the absolute threshold (5 execs/s) fires...
    assert_eq!(unsuppressed(&env.hunt_plain(&data)).len(), 1);
    // ...with the mature baseline it is that identity's normal on this role.
    let (alerts, err, code) = env.hunt_db(&data, &env.db());
    assert_eq!(code, 0, "{err}");
    assert!(alerts.is_empty(), "{alerts:#?}");
    assert!(err.contains("found normal by a mature baseline"), "{err}");
    assert!(!err.contains(" 0 hot window(s) found normal"), "{err}");
}

#[test]
fn an_immature_baseline_falls_back_to_absolute_thresholds_and_says_so() {
    let env = Env::new();
    let data = write_days(&env.p("two-nights"), &[(0, 120.0, 8.0), (1, 120.0, 8.0)], 4);
    env.learn(&data);
    env.accept_all_held();
    let hunt = write_days(&env.p("night3"), &[(3, 120.0, 8.0)], 5);
    let (alerts, err, code) = env.hunt_db(&hunt, &env.db());
    assert_eq!(code, 0, "{err}");
    let live = unsuppressed(&alerts);
    assert_eq!(live.len(), 1, "{alerts:#?}");
    let a = live[0];
    assert!(
        reason_codes(a).contains(&"baseline_immature".to_string()),
        "{:?}",
        reason_codes(a)
    );
    assert!(reason_codes(a).contains(&"spawn_rate".to_string()));
    let b = fw(a)["baseline"].as_str().unwrap();
    assert!(
        b.contains("immature") && b.contains("absolute thresholds"),
        "{b}"
    );
}

#[test]
fn hunting_the_same_files_twice_leaves_the_same_alerts() {
    let env = Env::new();
    let data = write_days(&env.p("flood"), &[(0, 60.0, 40.0), (1, 60.0, 30.0)], 6);
    let (a1, e1, c1) = env.hunt_db(&data, &env.db());
    assert_eq!(c1, 0, "{e1}");
    assert_eq!(a1.len(), 2);
    let first = env.stored_alerts();
    let (a2, e2, c2) = env.hunt_db(&data, &env.db());
    assert_eq!(c2, 0, "{e2}");
    assert_eq!(a1, a2, "same input, same alerts");
    assert!(
        e2.contains("0 alert(s) opened, 0 updated, 0 reopened, 0 closed, 2 unchanged"),
        "{e2}"
    );
    assert_eq!(env.stored_alerts(), first);
    let store =
        floodwatch_store::Store::open_existing(&env.db(), std::time::Duration::from_secs(1))
            .unwrap();
    let history: i64 = store
        .connection()
        .query_row("SELECT count(*) FROM alert_history", [], |r| r.get(0))
        .unwrap();
    // The first night's alert: opened, closed (quiet); the second night's: opened (still hot when the
    // input ended). Nothing added by the second run.
    assert_eq!(history, 3);
    let runs: i64 = store
        .connection()
        .query_row("SELECT count(*) FROM runs WHERE kind = 'hunt'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(runs, 2);
}

fn add_suppression(env: &Env, id: &str, extra: &[&str]) {
    let out = env
        .cmd(&[
            "suppress",
            "add",
            "--id",
            id,
            "--owner",
            "build-team",
            "--reason",
            "CHG-1234 nightly artifact sync",
            "--expires",
            "2099-01-01",
            "--argv",
            r"/bin/bash /Library/Scripts/\.sync\.sh",
            "--parent",
            "/sbin/launchd",
            "--by",
            "alice",
            "--db",
        ])
        .arg(env.db())
        .args(extra)
        .output()
        .unwrap();
    common::assert_success(&out);
}

#[test]
fn a_suppression_ceiling_hides_traffic_below_it_and_not_above() {
    let env = Env::new();
    add_suppression(&env, "sync-ceiling", &["--max-spawns-per-s", "20"]);
    let below = write_days(&env.p("below"), &[(0, 120.0, 8.0)], 7);
    let (alerts, err, _) = env.hunt_db(&below, &env.db());
    assert_eq!(alerts.len(), 1, "{err}");
    assert_eq!(fw(&alerts[0])["suppressed_by"]["id"], "sync-ceiling");
    let above = write_days(&env.p("above"), &[(1, 60.0, 40.0)], 8);
    let (alerts, err, _) = env.hunt_db(&above, &env.db());
    assert_eq!(unsuppressed(&alerts).len(), 1, "{err}");
    let notes = fw(&alerts[0])["suppression_notes"].to_string();
    assert!(
        notes.contains("sync-ceiling") && notes.contains("above its ceiling"),
        "{notes}"
    );
    // The hit is counted once, however often the same alert is hunted.
    env.hunt_db(&below, &env.db());
    let rows: Vec<Value> = env.store_json(&["suppress", "list", "--json"]);
    let row = rows.iter().find(|r| r["id"] == "sync-ceiling").unwrap();
    assert_eq!(row["hits"], 1, "{row}");
    assert_eq!(row["owner"], "build-team");
    assert_eq!(row["created_by"], "alice");
}

#[test]
fn an_expired_suppression_is_reported_with_what_it_hid() {
    let env = Env::new();
    add_suppression(&env, "sync-nightly", &[]);
    let night0 = write_days(&env.p("n0"), &[(0, 120.0, 8.0)], 9);
    let (alerts, _, _) = env.hunt_db(&night0, &env.db());
    assert_eq!(fw(&alerts[0])["suppressed_by"]["id"], "sync-nightly");
    let out = env.store_cmd(&["suppress", "expire", "sync-nightly", "--by", "bob"]);
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        report.contains("suppression sync-nightly EXPIRED"),
        "{report}"
    );
    assert!(report.contains("it hid 1 alert(s)"), "{report}");
    assert!(report.contains(&format!("on {HOST}")), "{report}");
    // The next hunt reports it again, and the matching activity alerts.
    let night1 = write_days(&env.p("n1"), &[(1, 120.0, 8.0)], 10);
    let (alerts, err, _) = env.hunt_db(&night1, &env.db());
    assert_eq!(unsuppressed(&alerts).len(), 1, "{alerts:#?}");
    assert!(err.contains("suppression sync-nightly EXPIRED"), "{err}");
    let notes = fw(&alerts[0])["suppression_notes"].to_string();
    assert!(notes.contains("matched but expired"), "{notes}");
    // A suppression without owner, or already past, is refused.
    let out = env.store_cmd(&[
        "suppress",
        "add",
        "--id",
        "x",
        "--owner",
        "o",
        "--reason",
        "r",
        "--expires",
        "2001-01-01",
        "--path",
        "/x",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already past"));
}

#[test]
fn lifecycle_reopen_and_analyst_marks() {
    let env = Env::new();
    // One script process: a burst, five quiet minutes (more than the 2 min quiet period), a burst.
    let mut hf = eslogger_host(&env.p("twice"), HOST, 1);
    launchd_curl_bursts(&mut hf, night(0), &[(0, 60.0, 20.0), (360, 60.0, 20.0)]);
    hf.finish().unwrap();
    let (alerts, err, code) = env.hunt_db(&env.p("twice"), &env.db());
    assert_eq!(code, 0, "{err}");
    assert_eq!(alerts.len(), 2, "{err}");
    assert!(
        err.contains("1 alert(s) opened") && err.contains("1 reopened"),
        "{err}"
    );
    let rows = env.stored_alerts();
    let (first, second) = (&rows[0], &rows[1]);
    assert_eq!(first["state"], "closed");
    assert_eq!(second["reopens"], first["id"]);
    let id = second["id"].as_str().unwrap();
    let out = env.store_cmd(&[
        "alerts",
        "fp",
        &id[..8],
        "--by",
        "carol",
        "--reason",
        "release night",
    ]);
    common::assert_success(&out);
    let v: Value = env.store_json(&["alerts", "show", id, "--json"]);
    assert_eq!(v["row"]["mark"], "false_positive");
    assert_eq!(v["row"]["mark_by"], "carol");
    let events = history_events(&v);
    // Reopened, and still open when the input ended; then marked.
    assert_eq!(events, ["reopened", "false_positive"]);
    // The mark survives a re-run of the same hunt.
    env.hunt_db(&env.p("twice"), &env.db());
    let rows = env.stored_alerts();
    assert_eq!(rows[1]["mark"], "false_positive");
}

#[test]
fn damaged_or_foreign_store_files_are_refused_and_left_untouched() {
    let env = Env::new();
    let data = write_days(&env.p("d"), &[(0, 60.0, 40.0)], 11);
    // Not a database at all.
    let junk = env.p("junk.db");
    std::fs::write(&junk, b"these are somebody's notes, not a database\n").unwrap();
    let (_, err, code) = env.hunt_db(&data, &junk);
    assert_eq!(code, 2);
    assert!(err.contains("is not a SQLite database"), "{err}");
    assert_eq!(
        std::fs::read(&junk).unwrap(),
        b"these are somebody's notes, not a database\n"
    );
    // Another application's SQLite database.
    let other = env.p("other.db");
    {
        let c = rusqlite::Connection::open(&other).unwrap();
        c.execute_batch("CREATE TABLE contacts (name TEXT); INSERT INTO contacts VALUES ('x');")
            .unwrap();
    }
    let before = std::fs::read(&other).unwrap();
    let (_, err, code) = env.hunt_db(&data, &other);
    assert_eq!(code, 2);
    assert!(err.contains("not a floodwatch store"), "{err}");
    assert_eq!(std::fs::read(&other).unwrap(), before);
    // A floodwatch store cut in half (a bad copy, a full disk).
    let (_, err, code) = env.hunt_db(&data, &env.db());
    assert_eq!(code, 0, "{err}");
    let store =
        floodwatch_store::Store::open(&env.db(), std::time::Duration::from_secs(1)).unwrap();
    store
        .connection()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
    drop(store);
    let bytes = std::fs::read(env.db()).unwrap();
    let cut = env.p("cut.db");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let (_, err, code) = env.hunt_db(&data, &cut);
    assert_eq!(code, 2);
    assert!(
        err.contains("damaged") || err.contains("malformed"),
        "{err}"
    );
    assert_eq!(std::fs::read(&cut).unwrap(), &bytes[..bytes.len() / 2]);
}

#[test]
fn a_locked_store_is_a_clear_error_and_keeps_the_alerts_already_written() {
    let env = Env::new();
    let first = write_days(&env.p("first"), &[(0, 60.0, 40.0)], 12);
    let (_, err, code) = env.hunt_db(&first, &env.db());
    assert_eq!(code, 0, "{err}");
    let stored = env.stored_alerts();
    assert_eq!(stored.len(), 1);
    // Another writer holds the store.
    let holder = rusqlite::Connection::open(env.db()).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE; INSERT INTO runs (kind, started_at, version, args) VALUES ('other', 'now', 'x', '');").unwrap();
    let second = write_days(&env.p("second"), &[(1, 60.0, 40.0)], 13);
    let (alerts, err, code) = env.hunt_db(&second, &env.db());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is locked by another process"), "{err}");
    assert!(err.contains("nothing was written"), "{err}");
    // The run's alerts still reached the output: nothing is lost.
    assert_eq!(alerts.len(), 1);
    holder.execute_batch("ROLLBACK;").unwrap();
    drop(holder);
    assert_eq!(
        env.stored_alerts(),
        stored,
        "the first run's alerts are intact"
    );
    // And once the lock is gone the second run records normally.
    let (_, err, code) = env.hunt_db(&second, &env.db());
    assert_eq!(code, 0, "{err}");
    assert_eq!(env.stored_alerts().len(), 2);
}

#[test]
fn tune_suggests_a_suppression_for_recurring_signed_scheduled_automation() {
    let env = Env::new();
    // The same nightly script on three build agents for eight nights; a one-night job on a fourth.
    for (i, host) in ["ci-runner-01", "ci-runner-02", "ci-runner-03"]
        .iter()
        .enumerate()
    {
        let mut hf = eslogger_host(&env.p("fleet"), host, 20 + i as u64);
        for d in 0..8 {
            launchd_curl_loop(&mut hf, night(d), 120.0, 8.0);
        }
        hf.finish().unwrap();
    }
    env.learn(&env.p("fleet"));
    // Accepted per host: three groups, one per build agent.
    assert_eq!(env.accept_all_held(), 3);
    let list: Vec<Value> = env.store_json(&["tune", "suggest", "--json"]);
    assert_eq!(list.len(), 1, "{list:#?}");
    let s = &list[0];
    assert_eq!(s["identity"], "com.apple.bash /Library/Scripts/.sync.sh");
    assert_eq!(s["hosts"].as_array().unwrap().len(), 3);
    assert_eq!(s["signing_id"], "com.apple.bash");
    assert_eq!(s["parent"], "/sbin/launchd");
    // The evidence: spawns/s median and p99 near 8 (threshold 5), a ceiling just above what was seen.
    let spawns = s["signals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x[0] == "spawns_per_s")
        .unwrap();
    let (median, p99, ceiling) = (
        spawns[1].as_f64().unwrap(),
        spawns[2].as_f64().unwrap(),
        spawns[5].as_f64().unwrap(),
    );
    assert!((6.0..=9.5).contains(&median), "{spawns}");
    assert!(p99 >= median && ceiling > p99 && ceiling < 20.0, "{spawns}");
    let entry = s["entry"].as_str().unwrap();
    assert!(entry.contains("learned on 3 host(s)"), "{entry}");
    assert!(entry.contains("owner = \"CHANGE-ME\""), "{entry}");
    // Not until someone owns it...
    let proposal = env.p("proposal.toml").display().to_string();
    std::fs::write(&proposal, entry).unwrap();
    let out = env.store_cmd(&["suppress", "add", "--from", &proposal]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("CHANGE-ME"));
    // ...then it is a suppression like any other, and its argv pattern matches the script's command line.
    let owned = entry
        .replace("owner = \"CHANGE-ME\"", "owner = \"build-team\"")
        .replace("CHANGE-ME: recurring", "CHG-77: recurring");
    std::fs::write(&proposal, owned).unwrap();
    let out = env.store_cmd(&["suppress", "add", "--from", &proposal]);
    common::assert_success(&out);
    // A workstation (default role, no baseline) running the script at the usual rate is now suppressed,
    // with the hit counted; at 5x the learned ceiling it alerts.
    let mut hf = eslogger_host(&env.p("ws"), "mbp-07", 1);
    launchd_curl_loop(&mut hf, night(9), 120.0, 8.0);
    launchd_curl_loop(&mut hf, night(10), 60.0, 50.0);
    hf.finish().unwrap();
    let (alerts, err, code) = env.hunt_db(&env.p("ws"), &env.db());
    assert_eq!(code, 0, "{err}");
    assert_eq!(alerts.len(), 2, "{err}");
    assert!(fw(&alerts[0])["suppressed_by"]["id"]
        .as_str()
        .unwrap()
        .starts_with("tune-"));
    assert!(fw(&alerts[1])["suppressed_by"].is_null());
    // Nothing was ever learned for workstations: no "first seen" noise, and the alert says why the
    // absolute thresholds judged it.
    assert!(!reason_codes(&alerts[1]).contains(&"first_seen".to_string()));
    assert_eq!(
        fw(&alerts[1])["baseline"],
        "no baseline learned for role workstation yet: absolute thresholds from the config"
    );
}

#[test]
fn a_later_view_of_the_same_episode_updates_it() {
    let env = Env::new();
    // Night 0: a three-minute storm. First hunted from the first half of the capture (the storm still
    // going when it ends), then from the whole capture.
    let full = write_days(&env.p("full"), &[(0, 180.0, 20.0)], 14);
    let text = std::fs::read_to_string(full.join(HOST).join("eslogger.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let half_dir = env.p("half").join(HOST);
    std::fs::create_dir_all(&half_dir).unwrap();
    std::fs::write(
        half_dir.join("eslogger.jsonl"),
        lines[..lines.len() / 2].join("\n") + "\n",
    )
    .unwrap();
    let (a1, err, _) = env.hunt_db(&env.p("half"), &env.db());
    assert_eq!(a1.len(), 1, "{err}");
    assert!(err.contains("1 alert(s) opened, 0 updated"), "{err}");
    assert_eq!(env.stored_alerts()[0]["state"], "open");
    let (a2, err, _) = env.hunt_db(&full, &env.db());
    assert_eq!(a2.len(), 1, "{err}");
    assert_eq!(
        a1[0]["finding_info"]["uid"], a2[0]["finding_info"]["uid"],
        "the same episode, the same id"
    );
    // The capture ends seconds after the storm: the episode is longer now, and still open.
    assert!(
        err.contains("0 alert(s) opened, 1 updated, 0 reopened, 0 closed"),
        "{err}"
    );
    assert!(
        a2[0]["finding_info"]["last_seen_time"].as_i64()
            > a1[0]["finding_info"]["last_seen_time"].as_i64()
            || a2[0]["end_time"].as_i64() > a1[0]["end_time"].as_i64(),
        "the whole capture shows more of the storm"
    );
    let id = a2[0]["finding_info"]["uid"].as_str().unwrap().to_string();
    let v: Value = env.store_json(&["alerts", "show", &id, "--json"]);
    let events = history_events(&v);
    assert_eq!(events, ["opened", "updated"]);
    assert_eq!(v["row"]["state"], "open");
}

#[test]
fn watch_records_each_alert_state_as_it_happens() {
    let env = Env::new();
    // The example's build-mac-07 eslogger stream: a curl loop at 03:12, quiet for hours after.
    let stream = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/collection/build-mac-07/eslogger.jsonl"),
    )
    .unwrap();
    let out = env
        .cmd(&[
            "watch",
            "--host",
            "build-mac-07",
            "--format",
            "jsonl",
            "--db",
        ])
        .arg(env.db())
        .write_stdin(stream)
        .output()
        .unwrap();
    common::assert_success(&out);
    let states: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(states.len() >= 2, "{states:#?}");
    let id = states[0]["finding_info"]["uid"].as_str().unwrap();
    let rows = env.stored_alerts();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["id"], id);
    assert_eq!(rows[0]["state"], "closed");
    let v: Value = env.store_json(&["alerts", "show", id, "--json"]);
    let events = history_events(&v);
    assert_eq!(events.first(), Some(&"opened"), "{events:?}");
    assert_eq!(events.last(), Some(&"closed"), "{events:?}");
    // One history step per state watch printed: Create, Update..., Close.
    assert_eq!(events.len(), states.len(), "{events:?}");
    let run_kind: String =
        floodwatch_store::Store::open_existing(&env.db(), std::time::Duration::from_secs(1))
            .unwrap()
            .connection()
            .query_row("SELECT kind FROM runs", [], |r| r.get(0))
            .unwrap();
    assert_eq!(run_kind, "watch");
    // Replaying the same stream prints and records nothing again.
    let again = env
        .cmd(&[
            "watch",
            "--host",
            "build-mac-07",
            "--format",
            "jsonl",
            "--db",
        ])
        .arg(env.db())
        .write_stdin(
            std::fs::read(
                PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("../../examples/collection/build-mac-07/eslogger.jsonl"),
            )
            .unwrap(),
        )
        .output()
        .unwrap();
    common::assert_success(&again);
    assert_eq!(
        String::from_utf8_lossy(&again.stdout),
        "",
        "states already stored"
    );
    let v: Value = env.store_json(&["alerts", "show", id, "--json"]);
    assert_eq!(history_events(&v), events, "history unchanged");
}

#[test]
fn network_flood_findings_are_recorded_once() {
    let env = Env::new();
    let dir = env.p("pcap").join("gateway");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/data/corpus/pcap/CIC-DDoS-2019-SynFlood.pcap"),
        dir.join("syn.pcap"),
    )
    .unwrap();
    let (out, err, code) = env.hunt_db(&env.p("pcap"), &env.db());
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.len(), 1);
    assert!(err.contains("1 new network flood finding(s)"), "{err}");
    let (_, err, _) = env.hunt_db(&env.p("pcap"), &env.db());
    assert!(err.contains("0 new network flood finding(s)"), "{err}");
    let out = env.store_cmd(&["alerts", "list"]);
    common::assert_success(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("1 network flood finding(s)"), "{text}");
    assert!(text.contains("172.16.0.5 → 192.168.50.4"), "{text}");
}

/// An expired suppression can be renewed (it applies again and is no longer reported) or removed (it
/// stops applying and is no longer reported); every change is kept with who and why.
#[test]
fn expired_suppressions_are_renewed_or_removed_with_their_history() {
    let env = Env::new();
    add_suppression(&env, "sync-nightly", &[]);
    let out = env.store_cmd(&["suppress", "expire", "sync-nightly", "--by", "bob"]);
    common::assert_success(&out);
    let night0 = write_days(&env.p("n0"), &[(0, 120.0, 8.0)], 9);
    let (alerts, err, _) = env.hunt_db(&night0, &env.db());
    assert_eq!(unsuppressed(&alerts).len(), 1);
    assert!(err.contains("suppression sync-nightly EXPIRED"), "{err}");

    // Renewing: refused when past or malformed, then it applies again and the report stops.
    for bad in ["2001-01-01", "next week"] {
        let out = env.store_cmd(&[
            "suppress",
            "renew",
            "sync-nightly",
            "--expires",
            bad,
            "--by",
            "carol",
        ]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
    }
    let out = env.store_cmd(&[
        "suppress",
        "renew",
        "sync-nightly",
        "--expires",
        "2099-06-30",
        "--by",
        "carol",
    ]);
    common::assert_success(&out);
    let night1 = write_days(&env.p("n1"), &[(1, 120.0, 8.0)], 10);
    let (alerts, err, _) = env.hunt_db(&night1, &env.db());
    assert_eq!(fw(&alerts[0])["suppressed_by"]["id"], "sync-nightly");
    assert!(!err.contains("EXPIRED"), "{err}");

    // Removing: no longer applied, no longer reported, still listed with its history.
    let out = env.store_cmd(&[
        "suppress",
        "remove",
        "sync-nightly",
        "--by",
        "dave",
        "--reason",
        "job retired (CHG-9)",
    ]);
    common::assert_success(&out);
    let night2 = write_days(&env.p("n2"), &[(2, 120.0, 8.0)], 11);
    let (alerts, err, _) = env.hunt_db(&night2, &env.db());
    assert_eq!(unsuppressed(&alerts).len(), 1, "{alerts:#?}");
    assert!(!err.contains("EXPIRED"), "{err}");
    let out = env.store_cmd(&["suppress", "list"]);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(listed.contains("removed"), "{listed}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("EXPIRED"));
    let rows: Vec<Value> = env.store_json(&["suppress", "list", "--json"]);
    let row = rows.iter().find(|r| r["id"] == "sync-nightly").unwrap();
    assert_eq!(row["hits"], 1, "the hit before removal is kept");
    let events: Vec<(&str, &str)> = row["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["event"].as_str().unwrap(), h["actor"].as_str().unwrap()))
        .collect();
    assert_eq!(
        events,
        [
            ("added", "alice"),
            ("expired", "bob"),
            ("renewed", "carol"),
            ("removed", "dave")
        ]
    );
    assert_eq!(row["history"][3]["note"], "job retired (CHG-9)");
    // A removed one cannot be renewed or removed again; it can be added again under its id.
    let out = env.store_cmd(&[
        "suppress",
        "renew",
        "sync-nightly",
        "--expires",
        "2099-06-30",
        "--by",
        "x",
    ]);
    assert_eq!(out.status.code(), Some(2));
    add_suppression(&env, "sync-nightly", &[]);
}
