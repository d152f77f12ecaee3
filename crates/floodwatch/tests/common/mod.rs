//! Helpers shared by the integration tests.

// Every test binary compiles this module and uses only part of it.
#![allow(dead_code)]

use floodwatch_core::config::Config;
use floodwatch_engine::suppress::Suppressions;
use floodwatch_runtime::{hunt_observed, HuntOptions, HuntResult};
use std::path::{Path, PathBuf};
use std::process::Output;

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

/// The command exited 0; its stderr is the failure message otherwise.
pub fn assert_success(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
