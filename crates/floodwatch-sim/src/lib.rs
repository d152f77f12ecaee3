//! floodwatch-sim: synthetic macOS telemetry in the exact formats of the real tools, with ground truth.
//!
//! - [`eslogger`]: Endpoint Security JSON Lines (versions 9, 10 with array audit tokens, 11).
//! - [`nettop`]: `nettop -L` CSV frames with cumulative per-socket counters.
//! - [`unifiedlog`]: `log --style ndjson` records, including the com.apple.network connection summary.
//! - [`osquery`]: `es_process_events` result lines (string numerics).
//! - [`pcap`]: legacy pcap and pcapng writers, with Apple's PKTAP process blocks (no real sample).
//! - [`host`]: one host's files plus a time-ordered action queue, so scenarios can be combined.
//! - [`scenario`]: ten flood / benign scenarios with [`scenario::Truth`], and the bundled example
//!   collection.
//! - [`bulk`]: many hosts of mostly benign activity for benchmarks, streamed.
//! - [`families`]: more flood tools, launch contexts and routine activity, for the fleet.
//! - [`fleet`]: a labelled fleet (one folder per host, a day each, `labels.jsonl`); several days in
//!   `HOST/DATE/` or `DATE/HOST/` folders ([`Layout`]), attacks on the last day.
//! - [`fortnight`]: two hosts over many days for baselines: a daily upload hot by the absolute
//!   thresholds on one, a UDP flood of the same volume on the other on the last day.
//! - [`zeek`]: Zeek `conn.log` TSV (network-only flows), e.g. a SYN flood's `S0` rows.
//! - [`lab`]: an hping3 SYN flood from a Terminal, and the coverage self-test's bounded runs.
//!
//! Every line is modelled on the real samples in `tests/data/corpus/` and the notes in
//! shared/docs/telemetry-formats.md; output is deterministic for a seed.

pub mod bulk;
pub mod campaign;
pub mod eslogger;
pub mod families;
pub mod fleet;
pub mod fortnight;
pub mod host;
pub mod lab;
pub mod nettop;
pub mod osquery;
pub mod pcap;
pub mod scenario;
pub mod unifiedlog;
mod util;
pub mod zeek;

pub use bulk::write_bulk;
pub use campaign::write_campaign;
pub use fleet::{
    read_labels, write_fleet, write_labels, FleetSpec, Label, Layout, ATTACK_FAMILIES,
    BENIGN_FAMILIES, ROBUSTNESS_FAMILIES,
};
pub use host::{Files, HostFiles, HostOpts};
pub use scenario::{write_example_collection, write_scenario, Scenario, Truth};
pub use util::{
    nettop_time, osquery_calendar_time, rfc3339_micros, rfc3339_nanos, unified_log_time,
};
