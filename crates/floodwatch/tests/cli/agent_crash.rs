//! Crash safety (issue 15): an agent following a file that `floodwatch replay` is writing is killed
//! with SIGKILL at moments drawn from a seeded random source, five times, and started again each time.
//! When the replay is done and the agent has caught up, a SIGTERM ends it. The findings delivered to
//! the file sink over all those runs are exactly `hunt`'s (the same ids), and no finding state (its
//! `metadata.uid`) was delivered twice; the store sink holds exactly `hunt`'s alerts, each opened once.

#![cfg(unix)]

use crate::common;

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

/// Health (issue 15): a followed file that never gets a line goes silent past its limit, and a command
/// that dies at once keeps being restarted: each is a health finding of its own kind in the sink,
/// `agent status` prints both sources and both findings, and the loopback metrics endpoint serves the
/// same numbers as Prometheus text.
#[test]
fn a_silent_source_and_a_crash_looping_command_are_health_findings() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("agent.sqlite");
    let quiet = dir.path().join("quiet.jsonl");
    std::fs::write(&quiet, "").unwrap();
    let cfg = dir.path().join("agent.toml");
    std::fs::write(
        &cfg,
        format!(
            "[agent]\nhost = \"mac-health\"\nstate = {state:?}\nrestart_delay = \"50ms\"\nrestart_delay_max = \"100ms\"\n\
             crash_loop_restarts = 3\ncrash_loop_window = \"1m\"\nmetrics = \"127.0.0.1:0\"\n\
             [[agent.source]]\nname = \"<b>dies</b>\"\ncommand = [\"sh\", \"-c\", \"exit 3\"]\n\
             [[agent.source]]\nname = \"quiet\"\npath = {quiet:?}\nfollow = true\nformat = \"eslogger\"\nsilence = \"1s\"\n"
        ),
    )
    .unwrap();
    let db = dir.path().join("store.sqlite");
    let mut agent = Command::new(bin())
        .args(["agent", "--config", cfg.to_str().unwrap()])
        .args(["--db", db.to_str().unwrap()])
        .env_remove("FLOODWATCH_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The metrics port is the system's pick (port 0): the agent says it on stderr. Picking a free
    // port here and handing it over could race with another test's bind.
    let metrics_at = common::said_after(
        agent.stderr.take().unwrap(),
        "floodwatch: agent: metrics: http://",
    )
    .expect("the agent did not say where its metrics listen");
    std::thread::sleep(Duration::from_secs(4));
    let metrics = {
        use std::io::{Read, Write};
        let addr = metrics_at.trim_end_matches("/metrics");
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        c.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
        let mut t = String::new();
        c.read_to_string(&mut t).unwrap();
        t
    };
    let status = Command::new(bin())
        .args(["agent", "status", "--state", state.to_str().unwrap()])
        .output()
        .unwrap();
    signal(&agent, libc::SIGTERM);
    let out = agent.wait_with_output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let kinds: Vec<(String, String)> = stdout
        .lines()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let f = &v["unmapped"]["floodwatch"];
            (f["kind"] == "health").then(|| {
                (
                    f["health"].as_str().unwrap().to_string(),
                    f["source"].as_str().unwrap().to_string(),
                )
            })
        })
        .collect();
    assert!(
        kinds.contains(&("source_silent".into(), "quiet".into())),
        "{kinds:?}\n{stdout}"
    );
    assert!(
        kinds.contains(&("source_crash_loop".into(), "<b>dies</b>".into())),
        "{kinds:?}"
    );
    // Once per episode: the quiet file stays silent, and is reported once.
    assert_eq!(
        kinds.iter().filter(|k| k.0 == "source_silent").count(),
        1,
        "{kinds:?}"
    );
    let status_text = String::from_utf8(status.stdout).unwrap();
    assert_eq!(status.status.code(), Some(0), "{status_text}");
    for want in ["dies", "quiet", "source_silent", "source_crash_loop"] {
        assert!(status_text.contains(want), "{want}: {status_text}");
    }
    assert!(metrics.starts_with("HTTP/1.1 200 OK"), "{metrics}");
    // The web UI's health page shows the same, its names escaped.
    let page = serve_health(&db, &state);
    assert!(
        page.contains("source_crash_loop") && page.contains("source_silent"),
        "{page}"
    );
    assert!(
        page.contains("&#60;b&#62;dies&#60;/b&#62;") && !page.contains("<b>dies"),
        "{page}"
    );
    let restarts = metrics
        .lines()
        .find(|l| l.starts_with("floodwatch_source_restarts_total{source=\"<b>dies</b>\"}"))
        .unwrap_or_else(|| panic!("{metrics}"));
    let n: f64 = restarts.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(n >= 3.0, "{restarts}");
}

/// `floodwatch serve` on the store with the agent's state file: its /health page. The server binds
/// a port the system picks and says which (see `common::serve::start`).
fn serve_health(db: &Path, state: &Path) -> String {
    let state = state.to_str().unwrap();
    let server = common::serve::start(db, &["--agent-state", state]);
    let (status, page, _) = common::serve::get(&format!("{}/health", server.base), &[]);
    assert_eq!(status, 200, "{page}");
    page
}
