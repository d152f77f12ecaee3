//! What every run starts from: the config, the suppressions file, the clock and the worker count.

use floodwatch_core::config::Config;
use floodwatch_core::{Result, Ts};
use floodwatch_engine::suppress::Suppressions;
use std::path::Path;

/// Loads config (built-in default when `path` is None) and suppressions (flag, else config's path).
pub fn load_setup(
    config: Option<&Path>,
    suppressions: Option<&Path>,
    now: Ts,
) -> Result<(Config, Suppressions)> {
    let cfg = match config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    let sup_path = suppressions
        .map(Path::to_path_buf)
        .or_else(|| cfg.suppressions.clone());
    let sup = match sup_path {
        Some(p) => Suppressions::load(&p, now)?,
        None => Suppressions::default(),
    };
    Ok((cfg, sup))
}

/// Wall-clock now: when a run started, for expiry checks and the store's records (never event time).
pub fn now() -> Ts {
    Ts::now()
}

/// Worker threads by default: one per core.
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}
