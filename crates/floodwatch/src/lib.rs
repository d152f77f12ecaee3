//! The floodwatch application layer: wires sources, engine and sinks into runs (`hunt`, `watch`).
//! The binary (`main.rs`) only parses arguments and calls [`pipeline`], [`watch`] or [`coverage`].

pub mod coverage;
pub mod demo;
pub mod eval;
pub mod pipeline;
pub mod watch;
