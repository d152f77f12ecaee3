//! Helpers shared by the integration tests.

pub mod nats;
pub mod serve;

use floodwatch_core::config::Config;
use floodwatch_engine::suppress::Suppressions;
use floodwatch_runtime::{hunt_observed, HuntOptions, HuntResult};
use std::path::{Path, PathBuf};
use std::process::Output;

/// What a child says after `marker` on the first line of `out` (its stdout or stderr) that holds
/// it, if it does within 20 s: how a server started on port 0 tells its port. The lines after it
/// are read on, so that the child never blocks on a full pipe.
pub fn said_after(out: impl std::io::Read + Send + 'static, marker: &str) -> Option<String> {
    use std::io::{BufRead, BufReader};
    let (tx, rx) = std::sync::mpsc::channel();
    let wanted = marker.to_string();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(out).lines().map_while(Result::ok);
        for line in lines.by_ref() {
            if let Some((_, rest)) = line.split_once(&wanted) {
                let _ = tx.send(rest.to_string());
                break;
            }
        }
        lines.for_each(drop);
    });
    rx.recv_timeout(std::time::Duration::from_secs(20)).ok()
}

/// `floodwatch watch --format jsonl` on a piped stdin, with no config from the environment: a live
/// watch for a test to spawn (its stdout and stderr set by the caller).
pub fn live_watch() -> std::process::Command {
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("floodwatch"));
    c.args(["watch", "--format", "jsonl"])
        .env_remove("FLOODWATCH_CONFIG")
        .stdin(std::process::Stdio::piped());
    c
}

/// `examples/collection`, one folder per host.
pub fn collection() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/collection"
    ))
}

/// An observed hunt of `path` (default config, one thread): its options, config and result, as
/// `coverage` and the self-test check take them.
pub fn observed(path: &Path) -> (HuntOptions, Config, HuntResult) {
    let cfg = Config::default();
    let opts = HuntOptions {
        paths: vec![path.to_path_buf()],
        threads: 1,
        ..Default::default()
    };
    let res = hunt_observed(&opts, cfg.clone(), Suppressions::default()).unwrap();
    (opts, cfg, res)
}

/// The repository's root (test data and the example collection are relative to it).
pub fn repo_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// Runs the floodwatch CLI in `cwd` (so paths in the output are the relative ones given), without a
/// config from the environment and without colour, and returns stdout and stderr; fails on a
/// non-zero exit.
pub fn run_cli(cwd: &Path, args: &[&str]) -> (String, String) {
    let out = assert_cmd::Command::cargo_bin("floodwatch")
        .unwrap()
        .current_dir(cwd)
        .args(args)
        .env_remove("FLOODWATCH_CONFIG")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_success(&out);
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// The command exited 0; its stderr is the failure message otherwise.
pub fn assert_success(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub mod ocsf;
