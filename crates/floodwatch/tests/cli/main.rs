//! The floodwatch crate's integration tests, one module per behaviour, built as one test binary.
//!
//! One binary rather than one per file: each links the whole tool (the web UI, the fleet's NATS
//! client, the store), so thirty-one of them took 1.4 GB of disk and thirty-one links in every
//! clean `cargo test`. Run one module with `cargo test -p floodwatch --test cli golden::`.

mod common;

mod agent;
mod agent_crash;
mod allocator;
mod bad_input;
mod campaign;
mod coverage;
mod ecs_schema;
mod elastic_scope;
mod example_collection;
mod fleet;
mod golden;
mod hostile_input;
mod hostile_parse;
mod jamf_telemetry;
mod launchd_plist;
mod multiday;
mod network;
mod network_real;
mod ocsf_schema;
mod pktap;
mod playbook;
mod readme;
mod scenarios;
mod selftest;
mod serve;
mod serve_browser;
mod siem;
mod simulate_eval_demo;
mod store;
mod unsorted_input;
mod watch_live;
mod watch_parity;
