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

/// SIGTERM (or Ctrl-C) while the stream is still open: the watch ends as the end of input would,
/// so the open alert gets its last update and the summary is printed; exit 0.
#[cfg(unix)]
#[test]
fn sigterm_flushes_the_open_alert_and_prints_the_summary() {
    use std::io::BufRead;
    use std::process::Stdio;
    let tmp = tempfile::tempdir().unwrap();
    let start = Ts::from_secs(days_from_civil(2025, 9, 16) * 86_400 + 3 * 3_600);
    write_scenario(Scenario::LaunchdCurlLoop, &tmp.path().join("h"), start, 3).unwrap();
    let es = std::fs::read(tmp.path().join("h/eslogger.jsonl")).unwrap();
    let mut child = crate::common::live_watch()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read stdout before writing stdin: the alerts fill the stdout pipe while the input is written,
    // and a watch blocked on its output stops reading its input.
    let stdout = child.stdout.take().unwrap();
    let (line_tx, line_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in std::io::BufReader::new(stdout).lines() {
            if line_tx.send(l.unwrap()).is_err() {
                break;
            }
        }
    });
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&es).unwrap();
    stdin.flush().unwrap();
    // The alert opens while the stream stays open (stdin is kept).
    let first = line_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("an alert while the stream is open");
    let pid = child.id() as libc::pid_t;
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "watch did not end after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(stdin);
    let rest: Vec<String> = line_rx.try_iter().collect();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(err.contains("files read"), "the summary is printed: {err}");
    let uid = |l: &str| {
        serde_json::from_str::<serde_json::Value>(l).unwrap()["finding_info"]["uid"].clone()
    };
    let last = rest
        .last()
        .expect("the open alert's last update after SIGTERM");
    assert_eq!(uid(last), uid(&first));
}
