//! floodwatch-sinks: render alerts and run summaries. Attacker-controlled strings (command lines, paths,
//! names) are data: JSON output escapes them by construction, terminal output through [`escape`].

pub mod ecs;
pub mod escape;
pub mod ocsf;
pub mod report;
pub mod respond;
pub mod summary;
pub mod table;
