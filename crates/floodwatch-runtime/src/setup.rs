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

/// `f` of every item on up to `threads` threads, each taking the next item when it is free; the
/// results in the items' order. One thread runs them in place.
pub(crate) fn map_on_threads<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    // Equal costs keep the items' order; no item asks for help.
    crate::helpers::map_hosts(items, threads.min(items.len()), |_| 0, |item, _| f(item))
}

/// The items' indices, the biggest by `cost` first; equal costs keep their order.
pub(crate) fn biggest_first<T>(items: &[T], cost: impl Fn(&T) -> u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(cost(&items[i])));
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The biggest items come first, equal ones in their order.
    #[test]
    fn biggest_first_orders_by_cost_and_keeps_ties_in_order() {
        let items: Vec<u64> = vec![3, 90, 7, 50, 1, 70, 20, 50];
        assert_eq!(biggest_first(&items, |&c| c), [1, 5, 3, 7, 6, 2, 0, 4]);
    }
}
