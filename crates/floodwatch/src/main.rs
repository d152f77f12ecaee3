//! floodwatch: finds outbound network floods launched from macOS endpoints (MITRE ATT&CK AN0971).
//! This file only parses arguments and dispatches: every flag is in `cli`, every command in
//! `commands`, and the work in the library crates (runtime, analysis, store, ...).

mod cli;
mod commands;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(cli.cmd) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("floodwatch: error: {e}");
            ExitCode::from(2)
        }
    }
}
