//! Crash safety (issue 15): an agent following a file that `floodwatch replay` is writing is killed
//! with SIGKILL at moments drawn from a seeded random source, five times, and started again each time.
//! When the replay is done and the agent has caught up, a SIGTERM ends it. The findings delivered to
//! the file sink over all those runs are exactly `hunt`'s (the same ids), and no finding state (its
//! `metadata.uid`) was delivered twice; the store sink holds exactly `hunt`'s alerts, each opened once.

#![cfg(unix)]

mod common;

use common::repo_root;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("floodwatch")
}

fn floodwatch(args: &[&str]) -> String {
    let out = Command::new(bin())
        .current_dir(repo_root())
        .args(args)
        .env_remove("FLOODWATCH_CONFIG")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn start_agent(cfg: &Path, db: &Path, log: &Path) -> Child {
    let err = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new(bin())
        .args(["agent", "--config", cfg.to_str().unwrap()])
        .args(["--db", db.to_str().unwrap()])
        .env_remove("FLOODWATCH_CONFIG")
        .stdout(Stdio::null())
        .stderr(err)
        .spawn()
        .unwrap()
}

fn signal(child: &Child, sig: libc::c_int) {
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, sig) }, 0);
}

/// xorshift: the kill moments, the same on every run of the test.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn sigkill_five_times_loses_and_repeats_no_finding() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = dir.path().join("fleet");
    floodwatch(&[
        "simulate",
        fleet.to_str().unwrap(),
        "--hosts",
        "1",
        "--attack-hosts",
        "1",
        "--duration",
        "2h",
        "--seed",
        "5",
    ]);
    let host = std::fs::read_dir(&fleet)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .unwrap();
    let source = host.join("eslogger.jsonl");
    let hunt = floodwatch(&["hunt", "--format", "jsonl", source.to_str().unwrap()]);
    let want: BTreeSet<String> = hunt
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["finding_info"]["uid"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(!want.is_empty(), "the simulated attack alerts in a hunt");

    let followed = dir.path().join("telemetry/eslogger.jsonl");
    std::fs::create_dir_all(followed.parent().unwrap()).unwrap();
    let sink = dir.path().join("out/findings.jsonl");
    let state = dir.path().join("state/agent.sqlite");
    let db = dir.path().join("store.sqlite");
    let log = dir.path().join("agent.log");
    let cfg = dir.path().join("agent.toml");
    // A long tick: the event clock never moves with wall time while the agent is down or waiting, so
    // the windows are the hunt's. Checkpoints often, so kills land between them.
    std::fs::write(
        &cfg,
        format!(
            "[agent]\nhost = {host:?}\ntick = \"10m\"\ncheckpoint_interval = \"300ms\"\nstate = {state:?}\n\
             [[agent.source]]\nname = \"eslogger\"\npath = {followed:?}\nfollow = true\nformat = \"eslogger\"\n\
             [[agent.sink]]\ntype = \"file\"\npath = {sink:?}\nmax_bytes = 65536\nkeep = 100\n",
            host = host.file_name().unwrap().to_str().unwrap(),
        ),
    )
    .unwrap();
    // The writer: the eslogger file, replayed at 500 lines/s into the followed file.
    let out = std::fs::File::create(&followed).unwrap();
    let mut writer = Command::new(bin())
        .args(["replay", source.to_str().unwrap(), "--rate", "500"])
        .stdout(out)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut rng = Rng(0x5eed_cafe_f00d);
    let mut agent = start_agent(&cfg, &db, &log);
    for _ in 0..5 {
        std::thread::sleep(Duration::from_millis(250 + rng.below(900)));
        signal(&agent, libc::SIGKILL);
        agent.wait().unwrap();
        agent = start_agent(&cfg, &db, &log);
    }
    assert!(writer.wait().unwrap().success());
    // Caught up: the agent has read the whole file (its checkpoint says how far it is, but waiting a
    // little longer than the replay is simpler and enough at this size).
    std::thread::sleep(Duration::from_secs(3));
    signal(&agent, libc::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(30);
    while agent.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "the agent did not end on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let log_text = std::fs::read_to_string(&log).unwrap();

    // The file sink, every file of it.
    let mut lines = Vec::new();
    for e in std::fs::read_dir(sink.parent().unwrap()).unwrap() {
        let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
        lines.extend(text.lines().map(str::to_string));
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut got = BTreeSet::new();
    for l in &lines {
        let v: serde_json::Value = serde_json::from_str(l)
            .unwrap_or_else(|e| panic!("a whole JSON line ({e}): {l}\n{log_text}"));
        got.insert(v["finding_info"]["uid"].as_str().unwrap().to_string());
        *seen
            .entry(v["metadata"]["uid"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "delivered twice: {twice:?}\n{log_text}");
    assert_eq!(
        got, want,
        "the union of delivered findings is hunt's\n{log_text}"
    );
    // The restarts resumed from checkpoints (a kill before the first checkpoint starts over).
    let resumed = log_text.matches("resumed from the checkpoint").count();
    assert!(resumed >= 3, "{resumed} resumes\n{log_text}");

    // The store: hunt's alerts, each opened once.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let ids: BTreeSet<String> = conn
        .prepare("SELECT id FROM alerts")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(ids, want, "{log_text}");
    let opened: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM alert_history WHERE event IN ('opened', 'reopened')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(opened as usize, want.len(), "each alert opened once");
}
