//! Analyses over runs and the store, each a library the CLI (and later the web UI) calls:
//! - [`coverage`]: what the collected telemetry lets AN0971 see, per host and attack path, and the
//!   bounded lab self-test that proves it;
//! - [`eval`]: alerts scored against ground-truth labels (precision, recall, time to detect);
//! - [`tune`]: suppressions proposed for recurring, signed, scheduled automation, with the evidence.

pub mod coverage;
pub mod eval;
pub mod tune;
