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
    map_on_threads_in(items, &(0..items.len()).collect::<Vec<_>>(), threads, f)
}

/// [`map_on_threads`], the biggest items first by `cost`: a big item taken last would leave the other
/// threads idle while it runs. The results are still in the items' order.
pub(crate) fn map_on_threads_biggest_first<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    cost: impl Fn(&T) -> u64,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    map_on_threads_in(items, &biggest_first(items, cost), threads, f)
}

/// The items' indices, the biggest by `cost` first; equal costs keep their order.
fn biggest_first<T>(items: &[T], cost: impl Fn(&T) -> u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(cost(&items[i])));
    order
}

/// [`map_on_threads`], the items taken in `order` (indices into `items`).
fn map_on_threads_in<T: Sync, R: Send>(
    items: &[T],
    order: &[usize],
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let threads = threads.clamp(1, items.len().max(1));
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done = std::sync::Mutex::new(Vec::with_capacity(items.len()));
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(&i) = order.get(n) else { break };
                let Some(item) = items.get(i) else { break };
                let r = f(item);
                if let Ok(mut d) = done.lock() {
                    d.push((i, r));
                }
            });
        }
    });
    let mut done = done.into_inner().unwrap_or_else(|e| e.into_inner());
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The biggest items are taken first (equal ones in their order), and the results come back in
    /// the items' order, on any number of threads.
    #[test]
    fn biggest_first_takes_the_big_items_first_and_keeps_the_order() {
        let items: Vec<u64> = vec![3, 90, 7, 50, 1, 70, 20, 50];
        assert_eq!(biggest_first(&items, |&c| c), [1, 5, 3, 7, 6, 2, 0, 4]);
        for threads in [1, 2, 3, 16] {
            let out = map_on_threads_biggest_first(&items, threads, |&c| c, |&c| c * 2);
            assert_eq!(out, [6, 180, 14, 100, 2, 140, 40, 100], "{threads}");
        }
    }
}
