//! What every run starts from: the config, the suppressions file, the clock and the worker count.

use floodwatch_core::config::Config;
use floodwatch_core::{Result, Ts};
use floodwatch_engine::suppress::Suppressions;
use std::path::Path;

/// The config file named, laid over the built-in defaults; the defaults alone without one.
pub fn load_config(config: Option<&Path>) -> Result<Config> {
    match config {
        Some(p) => Config::load(p),
        None => Ok(Config::default()),
    }
}

/// Loads config (built-in default when `path` is None) and suppressions (flag, else config's path).
pub fn load_setup(
    config: Option<&Path>,
    suppressions: Option<&Path>,
    now: Ts,
) -> Result<(Config, Suppressions)> {
    let cfg = load_config(config)?;
    let sup_path = suppressions
        .map(Path::to_path_buf)
        .or_else(|| cfg.suppressions.clone());
    let sup = match sup_path {
        Some(p) => Suppressions::load(&p, now)?,
        None => Suppressions::default(),
    };
    Ok((cfg, sup))
}

/// Worker threads by default: one per core.
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}
