//! floodwatch-export: AN0971 detection content for the SIEMs teams already run, generated from the
//! same config that drives the engine (BurstTimeWindow, thresholds, tool lists, declared-flood
//! rules, suppressions), never from alert data, so the thresholds stay one truth.
//!
//! [`spec`] turns a [`Config`] (and the suppressions file) into a target-neutral rule set ([`ir`]);
//! one module per target renders it: [`sigma`] (process-creation rules plus Sigma correlation
//! rules), [`esql`] (with an Elastic detection-rules TOML wrapper), [`spl`], [`kql`] and
//! [`osquery`]. Every output starts with a header ([`header`]) that says which of the engine's
//! signals the target keeps and which it loses.

pub mod esql;
pub mod header;
pub mod ir;
pub mod kql;
pub mod osquery;
pub mod regex;
pub mod sigma;
pub mod spec;
pub mod spl;
pub mod suppress;

use floodwatch_core::config::Config;
pub use suppress::SuppressionEntry;

/// The SIEMs and tools content is generated for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Sigma,
    Esql,
    Spl,
    Kql,
    Osquery,
}

impl Target {
    pub const ALL: [Target; 5] = [
        Target::Sigma,
        Target::Esql,
        Target::Spl,
        Target::Kql,
        Target::Osquery,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Target::Sigma => "sigma",
            Target::Esql => "esql",
            Target::Spl => "spl",
            Target::Kql => "kql",
            Target::Osquery => "osquery",
        }
    }
}

/// One generated file: its name (no folders) and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutFile {
    pub name: String,
    pub content: String,
}

/// Every file of `target`, generated from `cfg` and the suppressions in force.
pub fn export(cfg: &Config, suppressions: &[SuppressionEntry], target: Target) -> Vec<OutFile> {
    let rules = spec::RuleSet::from_config(cfg, suppressions);
    match target {
        Target::Sigma => sigma::render(&rules),
        Target::Esql => esql::render(&rules),
        Target::Spl => spl::render(&rules),
        Target::Kql => kql::render(&rules),
        Target::Osquery => osquery::render(&rules),
    }
}
