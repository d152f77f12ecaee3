//! `floodwatch serve`: the triage web UI over the store (`floodwatch-serve`).

use crate::cli::ServeArgs;
use floodwatch_core::{Error, Result};
use floodwatch_serve::ServeConfig;
use std::process::ExitCode;

pub fn run(a: ServeArgs) -> Result<ExitCode> {
    let cfg = a.store.load_config()?;
    let token = match &a.token_file {
        Some(p) => {
            let t = std::fs::read_to_string(p)
                .map_err(|e| Error::io(format!("reading the token file {}", p.display()), e))?;
            let t = t.trim().to_string();
            if t.is_empty() {
                return Err(Error::Usage(format!(
                    "the token file {} is empty",
                    p.display()
                )));
            }
            Some(t)
        }
        None => None,
    };
    floodwatch_serve::serve(ServeConfig {
        db: a.store.db_path(&cfg),
        listen: a.listen,
        token,
        busy_timeout: cfg.store.busy_timeout,
        baseline_min_windows: cfg.baseline.min_windows,
        baseline_min_days: cfg.baseline.min_days as f64,
        agent_state: a.agent_state.clone().or(cfg.agent.state.clone()),
    })
    .map_err(Error::Usage)?;
    Ok(ExitCode::SUCCESS)
}
