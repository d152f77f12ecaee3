//! `watch` on a live stream that goes quiet: the alert opens while lines arrive and closes after the
//! quiet period *while the stream is still open* (the event clock follows wall time when input stops),
//! instead of waiting for the next line or the end of input.

use floodwatch_core::config::{Config, DEFAULT_TOML};
use floodwatch_core::time::days_from_civil;
use floodwatch_core::Ts;
use floodwatch_engine::suppress::Suppressions;
use floodwatch_engine::AlertEventKind;
use floodwatch_runtime::watch::{watch, WatchOptions};
use floodwatch_sim::{write_scenario, Scenario};
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[test]
fn a_quiet_live_stream_closes_the_alert_before_input_ends() {
    let tmp = tempfile::tempdir().unwrap();
    let start = Ts::from_secs(days_from_civil(2025, 9, 16) * 86_400 + 3 * 3_600);
    write_scenario(Scenario::LaunchdCurlLoop, &tmp.path().join("h"), start, 3).unwrap();
    let es = std::fs::read(tmp.path().join("h/eslogger.jsonl")).unwrap();

    // Short windows and quiet period so the test needs seconds, not minutes, of silence.
    let toml = DEFAULT_TOML
        .replace("burst_time_window = \"30s\"", "burst_time_window = \"5s\"")
        .replace("quiet_period = \"2m\"", "quiet_period = \"3s\"");
    let cfg = Config::from_toml_str(&toml, Path::new("test.toml")).unwrap();

    let (reader, mut writer) = std::io::pipe().unwrap();
    let seen: Arc<Mutex<Vec<AlertEventKind>>> = Arc::default();
    let seen2 = seen.clone();
    let opts = WatchOptions {
        tick: Duration::from_millis(200),
        idle_after: Duration::from_millis(500),
        ..WatchOptions::default()
    };
    let run = std::thread::spawn(move || {
        watch(reader, cfg, Suppressions::default(), &opts, |a| {
            seen2.lock().unwrap().push(a.kind);
            Ok(())
        })
    });
    writer.write_all(&es).unwrap();
    writer.flush().unwrap();

    // The writer stays open: only the idle clock can close the episode.
    let deadline = Instant::now() + Duration::from_secs(120);
    while !seen.lock().unwrap().contains(&AlertEventKind::Closed) {
        assert!(
            Instant::now() < deadline,
            "no Closed alert while the stream stayed open: {:?}",
            seen.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(writer);
    let summary = run.join().unwrap().unwrap();
    let kinds = seen.lock().unwrap().clone();
    assert_eq!(kinds.first(), Some(&AlertEventKind::Opened), "{kinds:?}");
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == AlertEventKind::Closed)
            .count(),
        1,
        "{kinds:?}"
    );
    assert!(!kinds.contains(&AlertEventKind::Final), "{kinds:?}");
    assert_eq!(
        summary.files[0].rejected, 0,
        "{:?}",
        summary.files[0].samples
    );
}
