//! Engine snapshots: an engine snapshotted at any point and restored carries on exactly as one that
//! never stopped (the same alert states, ids and contents, the same network findings, the same counts),
//! in batch and live mode; a snapshot from another config, or damaged bytes, is refused, never a panic.

use floodwatch_core::config::Config;
use floodwatch_core::event::Event;
use floodwatch_engine::snapshot::RestoreError;
use floodwatch_engine::suppress::Suppressions;
use floodwatch_engine::{AlertEvent, Engine, Shared};
use floodwatch_sim::host::{ESLOGGER_FILE, NETTOP_FILE, UNIFIEDLOG_FILE};
use floodwatch_sources::{ClockHints, FileSource, Format, SourceCtx};
use std::path::Path;
use std::sync::Arc;

fn read(path: &Path, id: u32, host: &str, format: Format, clock: ClockHints) -> Vec<Event> {
    let data = std::fs::read(path).expect("generated file");
    let ctx = SourceCtx {
        file_id: id,
        path: Arc::from(path.display().to_string()),
        host: Arc::from(host),
        host_forced: false,
        clock,
        input: Config::default().input,
    };
    let mut src = FileSource::new(&data[..], format, ctx);
    let mut out = Vec::new();
    while src.next_events(&mut out).expect("in-memory read") {}
    out
}

/// The bundled example collection's hosts (a curl loop, pings, a backup, an interactive ping) and
/// four generated busy hosts: their eslogger, nettop and unified log events, merged in time order.
fn fleet_events() -> (Vec<Event>, Vec<Arc<str>>) {
    let dir = tempfile::tempdir().expect("tempdir");
    floodwatch_sim::write_example_collection(dir.path()).expect("example collection");
    floodwatch_sim::write_bulk(dir.path(), 4, 4_000_000, 11).expect("write_bulk");
    let mut all = Vec::new();
    let mut names = Vec::new();
    let hosts = [
        "build-mac-07",
        "admin-mbp-02",
        "mac-0000",
        "mac-0001",
        "mac-0002",
        "mac-0003",
    ];
    for h in hosts {
        let host = dir.path().join(h);
        let base = names.len() as u32;
        let es = read(
            &host.join(ESLOGGER_FILE),
            base,
            h,
            Format::Eslogger,
            ClockHints::default(),
        );
        let ul = read(
            &host.join(UNIFIEDLOG_FILE),
            base + 2,
            h,
            Format::UnifiedLogNdjson,
            ClockHints::default(),
        );
        let clock = ClockHints {
            reference: es.iter().chain(&ul).map(|e| e.ts).min(),
            reference_end: es.iter().chain(&ul).map(|e| e.ts).max(),
            ..ClockHints::default()
        };
        let nt = read(
            &host.join(NETTOP_FILE),
            base + 1,
            h,
            Format::NettopCsv,
            clock,
        );
        all.extend(es.into_iter().chain(nt).chain(ul));
        for n in [ESLOGGER_FILE, NETTOP_FILE, UNIFIEDLOG_FILE] {
            names.push(Arc::from(host.join(n).display().to_string()));
        }
    }
    all.sort_by_key(|e| e.ts);
    (all, names)
}

fn shared(names: &[Arc<str>], fingerprint: u64) -> Arc<Shared> {
    let mut sh = Shared::new(Config::default(), Suppressions::default(), names.to_vec())
        .expect("default config");
    sh.formats = ["eslogger", "nettop-csv", "unifiedlog-ndjson"]
        .iter()
        .cycle()
        .take(names.len())
        .map(|f| Arc::from(*f))
        .collect();
    sh.fingerprint = fingerprint;
    Arc::new(sh)
}

/// Everything a run gives, as text: every alert state in order (kind and the whole alert as JSON),
/// every network finding, the counts.
fn outcome(mut engine: Engine, mut alerts: Vec<AlertEvent>) -> Vec<String> {
    engine.finish(&mut alerts);
    engine.settle(&mut alerts);
    let mut out: Vec<String> = alerts
        .iter()
        .map(|a| {
            format!(
                "{:?} {} {:?}",
                a.kind,
                serde_json::to_string(&a.alert).expect("alert json"),
                a.alert.facts
            )
        })
        .collect();
    out.extend(
        engine
            .findings
            .iter()
            .map(|f| serde_json::to_string(f).expect("finding json")),
    );
    out.push(serde_json::to_string(&engine.stats).expect("stats json"));
    out.push(format!("{:?}", engine.stats.hosts));
    out
}

fn run_through(sh: &Arc<Shared>, live: bool, events: &[Event], cuts: &[usize]) -> Vec<String> {
    let mut engine = Engine::new(sh.clone(), live);
    let mut alerts = Vec::new();
    for (i, ev) in events.iter().enumerate() {
        if cuts.contains(&i) {
            let bytes = engine.snapshot();
            drop(engine);
            engine = Engine::restore(sh.clone(), &bytes).expect("restores");
        }
        engine.push(ev.clone(), &mut alerts);
    }
    outcome(engine, alerts)
}

#[test]
fn a_restored_engine_carries_on_as_if_it_never_stopped() {
    let (events, names) = fleet_events();
    let sh = shared(&names, 42);
    for live in [false, true] {
        let straight = run_through(&sh, live, &events, &[]);
        let alerts = straight
            .iter()
            .filter(|l| l.starts_with("Final") || l.starts_with("Closed"))
            .count();
        assert!(
            alerts > 0,
            "the generated fleet has alerts (live {live}): {:?}",
            &straight[straight.len().saturating_sub(3)..]
        );
        let n = events.len();
        // Cuts everywhere: the start, inside bursts, just before the end.
        let cuts: Vec<usize> = (1..12).map(|k| k * n / 12).chain([0, n - 1]).collect();
        let cut = run_through(&sh, live, &events, &cuts);
        assert_eq!(straight.len(), cut.len(), "live {live}");
        for (a, b) in straight.iter().zip(&cut) {
            assert_eq!(a, b, "live {live}");
        }
    }
}

#[test]
fn a_snapshot_from_another_config_or_damaged_is_refused() {
    let (events, names) = fleet_events();
    let sh = shared(&names, 42);
    let mut engine = Engine::new(sh.clone(), true);
    let mut alerts = Vec::new();
    for ev in events.iter().take(events.len() / 2) {
        engine.push(ev.clone(), &mut alerts);
    }
    let bytes = engine.snapshot();
    assert!(matches!(
        Engine::restore(shared(&names, 43), &bytes),
        Err(RestoreError::Config)
    ));
    let mut other = bytes.clone();
    other[0] ^= 0xff;
    assert!(matches!(
        Engine::restore(sh.clone(), &other),
        Err(RestoreError::Version { .. })
    ));
    // Cut anywhere, or with a byte flipped inside: an error, never a panic.
    for cut in [0, 5, 12, 20, bytes.len() / 3, bytes.len() - 1] {
        assert!(
            Engine::restore(sh.clone(), &bytes[..cut]).is_err(),
            "cut at {cut}"
        );
    }
    for at in (12..bytes.len()).step_by(bytes.len() / 97 + 1) {
        let mut b = bytes.clone();
        b[at] = b[at].wrapping_add(0x5b);
        let _ = Engine::restore(sh.clone(), &b);
    }
}
