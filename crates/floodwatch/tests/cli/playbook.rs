//! "Is it still running at the end of the data?" is answered at the end of the data: an alert that
//! closed (quiet for the quiet period) while its loop script still ran learns when the script
//! exited, even though that exit came after the alert was written. Simulated eslogger in the real
//! format.

use floodwatch_core::config::Config;
use floodwatch_core::respond::Answer;
use floodwatch_core::Ts;
use floodwatch_engine::suppress::Suppressions;
use floodwatch_runtime::{hunt, HuntOptions};
use floodwatch_sim::eslogger::Signer;
use floodwatch_sim::host::{Files, HostFiles, HostOpts};
use std::path::Path;

/// A LaunchAgent script runs curl 8 times a second for 30 s, then idles; it exits `exit_after`
/// seconds after it started (never, if None). Another process keeps the host's events going to
/// `start + 900 s`.
fn host(dir: &Path, name: &str, exit_after: Option<i64>) {
    let start = Ts::from_secs(1_758_016_800);
    let opts = HostOpts {
        es_version: 10,
        ..HostOpts::default()
    };
    let files = Files {
        eslogger: true,
        nettop: false,
        unifiedlog: false,
    };
    let mut hf = HostFiles::create(&dir.join(name), files, opts).unwrap();
    let script = "/Users/bob/Library/Scripts/poll.sh";
    let zsh = hf.user_job(
        start.add_secs(-2),
        "/bin/zsh",
        &["/bin/zsh", script],
        Signer::platform("com.apple.zsh"),
    );
    for i in 0..240 {
        let t = start.add_nanos(i * 125_000_000);
        let (_, curl) = hf.fork_exec(
            t,
            &zsh,
            "/usr/bin/curl",
            &["/usr/bin/curl", "-s", "https://203.0.113.60/"],
            Signer::platform("com.apple.curl"),
        );
        hf.exit(t.add_nanos(30_000_000), &curl, 0);
    }
    // Background until the end of the data (the host's last event).
    hf.background(start.add_secs(60), start.add_secs(900));
    if let Some(s) = exit_after {
        hf.exit(start.add_secs(s), &zsh, 0);
    }
    hf.finish().unwrap();
}

#[test]
fn an_exit_after_the_alert_closed_is_known_at_the_end_of_the_data() {
    let dir = tempfile::tempdir().unwrap();
    host(dir.path(), "mac-exits", Some(600));
    host(dir.path(), "mac-runs", None);
    let opts = HuntOptions {
        paths: vec![dir.path().to_path_buf()],
        threads: 2,
        ..Default::default()
    };
    let res = hunt(&opts, Config::default(), Suppressions::default()).unwrap();
    let by_host = |h: &str| {
        res.alerts
            .iter()
            .map(|e| &e.alert)
            .find(|a| a.host == h)
            .unwrap_or_else(|| panic!("no alert on {h}"))
    };
    let exits = by_host("mac-exits");
    let runs = by_host("mac-runs");
    for a in [exits, runs] {
        // Closed long before the script's exit (or the end of the data).
        assert_eq!(a.status.label(), "closed", "{}", a.host);
    }
    let still = |a: &floodwatch_core::alert::Alert| {
        a.playbook
            .as_ref()
            .unwrap()
            .decision("still_running")
            .unwrap()
            .clone()
    };
    let d = still(exits);
    assert_eq!(d.answer, Answer::No, "{}", d.fact);
    assert!(
        d.fact.contains("exited at 2025-09-16T10:10:00"),
        "{}",
        d.fact
    );
    let d = still(runs);
    assert_eq!(d.answer, Answer::Yes, "{}", d.fact);
    // Running, it can be stopped; exited, it cannot.
    let stop = |a: &floodwatch_core::alert::Alert| {
        a.playbook
            .as_ref()
            .unwrap()
            .containment
            .iter()
            .find(|c| c.id == "stop_process")
            .unwrap()
            .applicable
    };
    assert!(stop(runs));
    assert!(!stop(exits));
}
