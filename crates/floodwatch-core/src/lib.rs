//! floodwatch-core: the types every stage shares.
//!
//! - [`event`]: the one normalized event model that every source produces and the engine consumes.
//! - [`alert`]: what the engine hands to sinks.
//! - [`finding`]: network-level findings (floods and scans from pid-less traffic).
//! - [`net`]: destinations as addresses: host of `ip:port`, ranges, campaign prefixes.
//! - [`respond`]: playbooks and fleet-wide campaigns (what to do next).
//! - [`config`]: every tunable, with the documented default file `config/floodwatch.toml`.
//! - [`stats`]: per-file accounting of records (events, skips, located rejects).
//! - [`time`]: nanosecond UTC timestamps and fast fixed-format parsing for ingest.
//! - [`swar`]: eight bytes at a time in a register, for the parsers' short runs (time's, the sources').
//! - [`error`]: the one error type, carrying context strings.

pub mod alert;
pub mod config;
pub mod error;
pub mod event;
pub mod finding;
pub mod net;
pub mod respond;
pub mod stats;
pub mod swar;
pub mod time;

pub use error::{Error, Result};
pub use time::Ts;
