//! The floodwatch application layer: wires sources, engine and sinks into runs (`hunt`, `watch`).
//! The binary (`main.rs`) only parses arguments and calls [`pipeline`], [`watch`] or [`coverage`].

pub mod alerts_cmd;
pub mod baseline_cmd;
pub mod coverage;
pub mod demo;
pub mod eval;
pub mod pipeline;
pub mod storage;
pub mod suppress_cmd;
pub mod tune;
pub mod watch;

/// Worker threads by default: one per core.
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// The run summary on stderr (files read, rejects with their locations, hosts).
pub fn finish_summary_stderr(
    s: &floodwatch_sinks::summary::RunSummary,
) -> floodwatch_core::Result<()> {
    let mut e = std::io::stderr().lock();
    floodwatch_sinks::summary::write_summary(&mut e, s)
        .map_err(|x| floodwatch_core::Error::io("writing summary", x))
}
