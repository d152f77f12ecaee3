//! The fleet on a real NATS JetStream server (Debian's nats-server, see `common::nats`), through
//! the CLI: `fleet publish` of the demo's simulated 50-host fleet, workers, `fleet collect` into a
//! store, compared with `hunt --db` of the same collection: the same alert, network finding and
//! campaign ids, each alert's content (score, reasons, metrics, playbook, timeline) the same, each
//! opened once. Also with workers killed (SIGKILL) mid-run and replaced, and with a campaign across
//! hosts found by the collector.

use crate::common;

use common::nats::{fw, fw_ok, Nats, Proc};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The fleet tests take turns: each runs a server, workers and hunts, and the kill test's timing
/// means something only on a machine that is not also running the others.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

/// The demo's simulated fleet (`demo --hosts 50`: 50 hosts, 25 with an attack, seed 1), written
/// once per test run.
fn demo_fleet() -> &'static Path {
    static FLEET: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, p) = FLEET.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("fleet");
        fw_ok(&[
            "simulate",
            p.to_str().unwrap(),
            "--hosts",
            "50",
            "--attack-hosts",
            "25",
            "--seed",
            "1",
        ]);
        (d, p)
    });
    p
}

/// What `hunt` made of a collection: its finding ids by kind (alerts, network floods, campaigns),
/// and each alert's OCSF line's own part (`unmapped.floodwatch`) by id.
struct Hunt {
    alerts: BTreeSet<String>,
    network: BTreeSet<String>,
    campaigns: BTreeSet<String>,
    content: BTreeMap<String, Value>,
    /// Each alert's history in `hunt --db`'s store (opened, then closed if its episode ended).
    history: BTreeMap<String, Vec<String>>,
}

fn histories(db: &Path) -> BTreeMap<String, Vec<String>> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut st = c
        .prepare("SELECT alert_id, event FROM alert_history ORDER BY rowid")
        .unwrap();
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in st
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .unwrap()
    {
        let (id, ev) = r.unwrap();
        out.entry(id).or_default().push(ev);
    }
    out
}

fn ids(db: &Path, table: &str) -> BTreeSet<String> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut st = c.prepare(&format!("SELECT id FROM {table}")).unwrap();
    st.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn hunt(paths: &[&Path]) -> Hunt {
    // The alerts' histories from a second run with a store (a store changes what the playbook can
    // say about baselines, so the content comes from the run without one, as the fleet's).
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hunt.db");
    let mut with_db = vec!["hunt", "--db", db.to_str().unwrap()];
    with_db.extend(paths.iter().map(|p| p.to_str().unwrap()));
    assert!(fw(&with_db).status.success());
    let mut args = vec!["hunt", "--format", "jsonl"];
    args.extend(paths.iter().map(|p| p.to_str().unwrap()));
    let out = fw(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut h = Hunt {
        alerts: BTreeSet::new(),
        network: BTreeSet::new(),
        campaigns: BTreeSet::new(),
        content: BTreeMap::new(),
        history: histories(&db),
    };
    for l in String::from_utf8(out.stdout).unwrap().lines() {
        let v: Value = serde_json::from_str(l).unwrap();
        let id = v["finding_info"]["uid"].as_str().unwrap().to_string();
        let fw = &v["unmapped"]["floodwatch"];
        match fw["kind"].as_str() {
            None => {
                h.alerts.insert(id.clone());
                h.content.insert(id, fw.clone());
            }
            Some("campaign") => {
                h.campaigns.insert(id);
            }
            Some("network") => {
                h.network.insert(id);
            }
            Some(k) => panic!("a finding of kind {k}: {l}"),
        }
    }
    h
}

/// The collected store holds exactly the hunt's findings: the same ids, each alert's content the
/// hunt's, each alert's history the one `hunt --db` records (opened once, closed if its episode
/// ended; nothing reopened or updated twice).
fn assert_same_as_hunt(db: &Path, h: &Hunt) {
    assert_same_as_hunt_in(
        db,
        h,
        &[
            "score", "reasons", "metrics", "playbook", "timeline", "context",
        ],
    );
}

/// [`assert_same_as_hunt`] comparing these parts of each alert (an agent names its evidence by its
/// source's name, not the file's path, so its playbook and timeline cite other names).
fn assert_same_as_hunt_in(db: &Path, h: &Hunt, parts: &[&str]) {
    assert_eq!(ids(db, "alerts"), h.alerts, "alert ids");
    assert_eq!(
        ids(db, "network_findings"),
        h.network,
        "network finding ids"
    );
    assert_eq!(ids(db, "campaigns"), h.campaigns, "campaign ids");
    let c = rusqlite::Connection::open(db).unwrap();
    let mut st = c.prepare("SELECT id, alert_json FROM alerts").unwrap();
    let rows: Vec<(String, String)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len(), h.content.len());
    for (id, json) in rows {
        let a: Value = serde_json::from_str(&json).unwrap();
        let want = &h.content[&id];
        for k in parts {
            assert_eq!(a[*k], want[*k], "alert {id}: {k}");
        }
        let steps: Vec<String> = c
            .prepare("SELECT event FROM alert_history WHERE alert_id = ?1 ORDER BY rowid")
            .unwrap()
            .query_map([&id], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(Some(&steps), h.history.get(&id), "alert {id}: its history");
        assert_eq!(
            steps.iter().filter(|s| *s == "opened").count(),
            1,
            "alert {id}: opened once"
        );
    }
}

fn collect(n: &Nats, db: &Path) -> String {
    fw_ok(&[
        "fleet",
        "collect",
        "--nats",
        &n.url,
        "--db",
        db.to_str().unwrap(),
        "--exit-idle",
        "1s",
    ])
}

fn worker(n: &Nats, name: &str, log: &Path, extra: &[&str]) -> Proc {
    let mut args = vec![
        "fleet",
        "worker",
        "--nats",
        &n.url,
        "--name",
        name,
        "--checkpoint-interval",
        "300ms",
    ];
    args.extend_from_slice(extra);
    Proc::spawn(&args, log)
}

/// Done when, first line: `fleet publish` of the 50-host demo fleet, two workers, `fleet collect`
/// give exactly hunt's findings. Both workers work (the second's arrival rebalances the
/// partitions), every event is judged once, SIGTERM gives every partition back checkpointed, and
/// collecting again changes nothing.
#[test]
fn publish_two_workers_and_collect_give_hunts_findings() {
    let _turn = one_at_a_time();
    let Some(n) = Nats::start(8, "publish_two_workers_and_collect_give_hunts_findings") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let fleet = demo_fleet();
    let h = hunt(&[fleet]);
    assert!(
        h.alerts.len() >= 20,
        "the attacks alert: {}",
        h.alerts.len()
    );
    n.setup(8, "2s");
    let err = fw_ok(&[
        "fleet",
        "publish",
        "--nats",
        &n.url,
        fleet.to_str().unwrap(),
    ]);
    let published: u64 = err
        .lines()
        .find_map(|l| l.strip_prefix("published "))
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{err}"));
    let log = dir.path().join("workers.log");
    let reports = [dir.path().join("a.json"), dir.path().join("b.json")];
    let mut a = worker(
        &n,
        "a",
        &log,
        &["--report-json", reports[0].to_str().unwrap()],
    );
    std::thread::sleep(Duration::from_millis(300));
    let mut b = worker(
        &n,
        "b",
        &log,
        &["--report-json", reports[1].to_str().unwrap()],
    );
    n.wait_caught_up(Duration::from_secs(180));
    // The partitions end up shared.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = n.status();
        let owners: BTreeSet<String> = s["parts"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["owner"].as_str().map(str::to_string))
            .collect();
        if owners.len() == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "not shared: {s:#}");
        std::thread::sleep(Duration::from_millis(200));
    }
    for w in [&a, &b] {
        w.signal(libc::SIGTERM);
    }
    assert_eq!(a.wait(Duration::from_secs(60)), Some(0));
    assert_eq!(b.wait(Duration::from_secs(60)), Some(0));
    let log = std::fs::read_to_string(&log).unwrap();
    let mut events = 0;
    for r in &reports {
        let r: Value = serde_json::from_str(&std::fs::read_to_string(r).unwrap()).unwrap();
        assert!(r["taken"].as_u64().unwrap() >= 1, "{r}\n{log}");
        assert_eq!(r["lost"], 0, "{r}\n{log}");
        assert_eq!(r["undecodable"], 0, "{r}\n{log}");
        events += r["events"].as_u64().unwrap();
    }
    assert_eq!(events, published, "every event judged once: {log}");
    // Given back on SIGTERM: no partition has an owner, each is checkpointed.
    let s = n.status();
    assert!(
        s["parts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["owner"].is_null()),
        "{s:#}"
    );
    assert_eq!(s["workers"].as_array().unwrap().len(), 0, "{s:#}");
    let db = dir.path().join("fleet.db");
    collect(&n, &db);
    assert_same_as_hunt(&db, &h);
    let findings: u64 = reports
        .iter()
        .map(|r| {
            let r: Value = serde_json::from_str(&std::fs::read_to_string(r).unwrap()).unwrap();
            r["findings"].as_u64().unwrap()
        })
        .sum();
    assert_eq!(
        s["findings"]["messages"].as_u64(),
        Some(findings),
        "each finding published once: {s:#}"
    );
    assert!(findings as usize >= h.alerts.len() + h.network.len());
    // Collecting again (a restarted collector reads the stream from its start) changes nothing.
    let again = collect(&n, &db);
    assert!(
        again.contains("store: 0 alert(s) opened, 0 updated, 0 closed, 0 refreshed"),
        "{again}"
    );
    assert_same_as_hunt(&db, &h);
}

/// A tiny xorshift, seeded: the kill moments are random but the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Done when, second line: one of two workers killed with SIGKILL mid-run, again and again (a new
/// worker started each time, so two run): the partitions of the killed one are taken over from
/// their last checkpoints, and the findings collected are still exactly hunt's, none twice (each
/// finding state is once in the findings stream, each alert opened once in the store).
#[test]
fn workers_killed_mid_run_lose_and_repeat_no_finding() {
    let _turn = one_at_a_time();
    let Some(n) = Nats::start(8, "workers_killed_mid_run_lose_and_repeat_no_finding") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let fleet = demo_fleet();
    let h = hunt(&[fleet]);
    n.setup(8, "1s");
    // Small messages: many frames and checkpoints, so the kills land between them.
    fw_ok(&[
        "fleet",
        "publish",
        "--nats",
        &n.url,
        "--frame-events",
        "64",
        fleet.to_str().unwrap(),
    ]);
    let log = dir.path().join("workers.log");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut names = 0;
    let spawn = |names: &mut u32| {
        *names += 1;
        worker(
            &n,
            &format!("w{names}"),
            &log,
            &["--checkpoint-frames", "50"],
        )
    };
    let mut running = vec![spawn(&mut names), spawn(&mut names)];
    let mut mid_run = 0;
    for _ in 0..5 {
        // Soon enough that a release build's workers (caught up on this fleet in under a second)
        // are still at work; each kill then holds the victim's partitions for a lease.
        std::thread::sleep(Duration::from_millis(100 + rng.next() % 400));
        let victim = (rng.next() % 2) as usize;
        let mut w = running.remove(victim);
        w.signal(libc::SIGKILL);
        w.wait(Duration::from_secs(10));
        if n.status()["caught_up"] == false {
            mid_run += 1;
        }
        running.push(spawn(&mut names));
    }
    assert!(mid_run >= 2, "the kills landed mid-run: {mid_run}");
    if let Err(s) = n.caught_up_within(Duration::from_secs(240)) {
        // The workers' own account is what tells a stuck partition from a slow one.
        let log = std::fs::read_to_string(&log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(200).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        panic!(
            "not caught up: {s:#}\nworkers' log (last 200 lines):\n{}",
            tail.join("\n")
        );
    }
    for w in &running {
        w.signal(libc::SIGTERM);
    }
    for w in &mut running {
        assert_eq!(w.wait(Duration::from_secs(60)), Some(0));
    }
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("taken over from"), "{log}");
    let s = n.status();
    assert_eq!(
        s["findings"]["messages"].as_u64().unwrap() as usize,
        h.alerts.len() + h.network.len(),
        "each finding state once in the stream: {s:#}\n{log}"
    );
    let db = dir.path().join("fleet.db");
    collect(&n, &db);
    assert_same_as_hunt(&db, &h);
}

/// A campaign (four Macs flooding one address within a minute) is found where the hosts' findings
/// meet, in the collector: the same campaign id as hunt's, every alert raised as hunt raises it.
#[test]
fn the_collector_finds_hunts_campaign_across_hosts() {
    let _turn = one_at_a_time();
    let Some(n) = Nats::start(4, "the_collector_finds_hunts_campaign_across_hosts") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let coll = dir.path().join("campaign");
    fw_ok(&["simulate", coll.to_str().unwrap(), "--campaign", "4"]);
    let h = hunt(&[&coll]);
    assert_eq!(h.campaigns.len(), 1, "hunt sees the campaign");
    n.setup(4, "2s");
    fw_ok(&["fleet", "publish", "--nats", &n.url, coll.to_str().unwrap()]);
    let log = dir.path().join("worker.log");
    // Static assignment: this worker is given every partition.
    let mut w = worker(&n, "solo", &log, &["--partitions", "0-3"]);
    n.wait_caught_up(Duration::from_secs(120));
    w.signal(libc::SIGTERM);
    assert_eq!(w.wait(Duration::from_secs(60)), Some(0));
    let db = dir.path().join("fleet.db");
    collect(&n, &db);
    assert_same_as_hunt(&db, &h);
}

/// Alert and network finding ids in an agent's file sink (finding lines, not health ones).
fn sink_ids(path: &Path) -> (BTreeSet<String>, Vec<String>) {
    let mut set = BTreeSet::new();
    let mut health = Vec::new();
    for l in std::fs::read_to_string(path).unwrap().lines() {
        let v: Value = serde_json::from_str(l).unwrap();
        match v["unmapped"]["floodwatch"]["kind"].as_str() {
            Some("health") => health.push(
                v["unmapped"]["floodwatch"]["health"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            ),
            _ => {
                set.insert(v["finding_info"]["uid"].as_str().unwrap().to_string());
            }
        }
    }
    (set, health)
}

/// The simulated attack host of the agent tests (one host, 2 h, seed 5): its eslogger file, its
/// name, hunt's findings on that file and the events hunt read from it.
fn attack_host(dir: &Path) -> (PathBuf, String, Hunt, u64) {
    let fleet = dir.join("one");
    fw_ok(&[
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
    let h = hunt(&[&source]);
    let err = fw_ok(&["hunt", source.to_str().unwrap()]);
    let events: u64 = err
        .lines()
        .find(|l| l.trim_start().starts_with("eslogger") && l.contains("eslogger.jsonl"))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no event count in hunt's summary: {err}"));
    let name = host.file_name().unwrap().to_str().unwrap().to_string();
    (source, name, h, events)
}

/// Done when, third line: the NATS server stopped for 10 s while an agent publishes its findings
/// and events: they wait in the agent's spool and go out when the server is back, so the collector
/// gets exactly hunt's findings, each opened once, and a worker judges every event exactly once.
/// And with a spool too small for an outage, what does not fit is counted and reported as a
/// `spool_overflow` health finding.
#[test]
fn agent_publishes_through_a_10s_server_outage_losing_nothing() {
    let _turn = one_at_a_time();
    let Some(mut n) = Nats::start(
        4,
        "agent_publishes_through_a_10s_server_outage_losing_nothing",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (source, host, h, events) = attack_host(dir.path());
    assert!(
        !h.alerts.is_empty(),
        "the simulated attack alerts in a hunt"
    );
    n.setup(4, "2s");
    let sink = dir.path().join("findings.jsonl");
    let spool = dir.path().join("spool");
    let cfg = dir.path().join("agent.toml");
    let bin = common::nats::bin();
    // A long tick: the event clock never moves with wall time, so the windows are the hunt's. The
    // replay takes about 13 s (2,570 lines at 200/s), so the outage falls in the middle of it.
    std::fs::write(
        &cfg,
        format!(
            "[agent]\nhost = {host:?}\ntick = \"10m\"\n\
             [[agent.source]]\nname = \"eslogger\"\nformat = \"eslogger\"\n\
             command = [{bin:?}, \"replay\", {source:?}, \"--rate\", \"200\"]\n\
             [[agent.sink]]\ntype = \"file\"\npath = {sink:?}\n\
             [[agent.sink]]\ntype = \"nats\"\nurl = {url:?}\nspool = {spool:?}\nevents = true\n",
            url = n.url,
        ),
    )
    .unwrap();
    let log = dir.path().join("agent.log");
    let mut agent = Proc::spawn(
        &["agent", "--config", cfg.to_str().unwrap(), "--once"],
        &log,
    );
    std::thread::sleep(Duration::from_millis(1500));
    n.stop();
    let down = Instant::now();
    std::thread::sleep(Duration::from_secs(10));
    n.run();
    let outage = down.elapsed();
    assert_eq!(
        agent.wait(Duration::from_secs(120)),
        Some(0),
        "{}",
        std::fs::read_to_string(&log).unwrap()
    );
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(outage >= Duration::from_secs(10));
    // Some of them waited in the spool through the outage.
    let waited: u64 = log
        .lines()
        .find_map(|l| {
            l.split(" waited in the spool")
                .next()?
                .rsplit(' ')
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no spool count: {log}"));
    assert!(
        waited > 0,
        "the outage sent messages through the spool: {log}"
    );
    eprintln!(
        "outage of {outage:?}: {}",
        log.lines()
            .filter(|l| l.contains("sink nats"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(log.contains("; 0 dropped"), "{log}");
    assert!(
        !log.contains("still wait in the spool"),
        "the spool emptied once the server was back: {log}"
    );
    // What the agent found, as its file sink has it, is hunt's (the --once agent test's claim).
    let (delivered, health) = sink_ids(&sink);
    let mut want: BTreeSet<String> = h.alerts.clone();
    want.extend(h.network.iter().cloned());
    assert_eq!(delivered, want, "the agent's findings are hunt's");
    assert!(health.is_empty(), "no health finding: {health:?}");
    // Findings sent before, during and after the outage all reach the store, each alert once.
    let db = dir.path().join("fleet.db");
    collect(&n, &db);
    assert_same_as_hunt_in(&db, &h, &["score", "reasons", "metrics", "context"]);
    // The events, through the spool too: a live worker judges each exactly once.
    let report = dir.path().join("worker.json");
    let wlog = dir.path().join("worker.log");
    let mut w = worker(
        &n,
        "live",
        &wlog,
        &["--live", "--report-json", report.to_str().unwrap()],
    );
    n.wait_caught_up(Duration::from_secs(120));
    w.signal(libc::SIGTERM);
    assert_eq!(w.wait(Duration::from_secs(60)), Some(0));
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(
        r["events"].as_u64(),
        Some(events),
        "every event the agent read reached a worker once: {r}\n{}",
        std::fs::read_to_string(&wlog).unwrap()
    );
    assert_eq!(r["undecodable"], 0, "{r}");

    // A live agent following the file, with a spool of 4 KiB and no server: what does not fit is
    // dropped, counted and reported in its other sinks as a health finding, and they are not held
    // up.
    n.stop();
    let small = dir.path().join("small.toml");
    let sink2 = dir.path().join("findings2.jsonl");
    std::fs::write(
        &small,
        format!(
            "[agent]\nhost = {host:?}\ntick = \"10m\"\nstate = {state:?}\n\
             [[agent.source]]\nname = \"eslogger\"\nformat = \"eslogger\"\npath = {source:?}\nfollow = true\n\
             [[agent.sink]]\ntype = \"file\"\npath = {sink2:?}\n\
             [[agent.sink]]\ntype = \"nats\"\nurl = {url:?}\nspool = {spool2:?}\nspool_max_bytes = 4096\nevents = true\n",
            url = n.url,
            state = dir.path().join("small.state"),
            spool2 = dir.path().join("spool2"),
        ),
    )
    .unwrap();
    let log2 = dir.path().join("agent2.log");
    let mut agent = Proc::spawn(&["agent", "--config", small.to_str().unwrap()], &log2);
    let deadline = Instant::now() + Duration::from_secs(60);
    let overflow = loop {
        let health = if sink2.exists() {
            sink_ids(&sink2).1
        } else {
            Vec::new()
        };
        if health.iter().any(|f| f == "spool_overflow") {
            break health;
        }
        assert!(
            Instant::now() < deadline,
            "no spool_overflow finding: {health:?}\n{}",
            std::fs::read_to_string(&log2).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(overflow, ["spool_overflow"], "reported once");
    agent.signal(libc::SIGTERM);
    assert_eq!(agent.wait(Duration::from_secs(60)), Some(0));
    let text = std::fs::read_to_string(&sink2).unwrap();
    let line = text.lines().find(|l| l.contains("spool_overflow")).unwrap();
    let v: Value = serde_json::from_str(line).unwrap();
    assert!(
        v["message"].as_str().unwrap().contains("did not fit"),
        "{line}"
    );
    let (delivered, _) = sink_ids(&sink2);
    assert!(
        want.iter()
            .all(|id| h.network.contains(id) || delivered.contains(id)),
        "the file sink still has every alert: {delivered:?}"
    );
}
