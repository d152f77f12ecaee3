//! `floodwatch config`: print the documented defaults, or check a config file as a hunt would load it.

use crate::cli::ConfigArgs;
use floodwatch_core::config::{Config, DEFAULT_TOML};
use floodwatch_core::{Error, Result};
use std::process::ExitCode;

pub fn run(a: ConfigArgs) -> Result<ExitCode> {
    if let Some(p) = a.check {
        let cfg = Config::load(&p)?;
        // Patterns are compiled where they are used: check them the same way a hunt would.
        floodwatch_engine::scope::Scope::new(&cfg.scope).map_err(|message| Error::Config {
            path: p.clone(),
            message,
        })?;
        println!("{}: ok", p.display());
    } else if a.default {
        print!("{DEFAULT_TOML}");
    } else {
        return Err(Error::Usage(
            "say --default to print the defaults, or --check FILE".into(),
        ));
    }
    Ok(ExitCode::SUCCESS)
}
