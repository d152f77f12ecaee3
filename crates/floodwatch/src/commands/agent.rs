//! `floodwatch agent --config FILE [--once]`: the sources of a Mac into one engine, findings to the
//! sinks (the work is `floodwatch_runtime::agent`); `--print-config` prints a config for a Mac,
//! `--print-launchd-plist` the LaunchDaemon plist that runs the agent.

use crate::cli::{AgentAction, AgentArgs, AgentStatusArgs};
use crate::commands::stop_on_signal;
use floodwatch_core::{Result, Ts};
use floodwatch_runtime::agent::launchd::{launchd_plist, DEFAULT_BINARY, DEFAULT_CONFIG};
use floodwatch_runtime::agent::sink::Sinks;
use floodwatch_runtime::agent::{run_agent, AgentOptions, PRINT_CONFIG};
use floodwatch_runtime::load_setup;
use floodwatch_runtime::output::{finish_summary, write_json};
use std::path::Path;
use std::process::ExitCode;

pub fn run(a: AgentArgs) -> Result<ExitCode> {
    if let Some(AgentAction::Status(st)) = &a.action {
        return status(st);
    }
    if a.print_config {
        print!("{PRINT_CONFIG}");
        return Ok(ExitCode::SUCCESS);
    }
    if a.print_launchd_plist {
        let absolute = |p: &Path| {
            std::path::absolute(p)
                .map_err(|e| floodwatch_core::Error::io(format!("resolving {}", p.display()), e))
        };
        let binary = absolute(a.binary.as_deref().unwrap_or(Path::new(DEFAULT_BINARY)))?;
        let config = absolute(a.config.as_deref().unwrap_or(Path::new(DEFAULT_CONFIG)))?;
        print!("{}", launchd_plist(&binary, &config)?);
        return Ok(ExitCode::SUCCESS);
    }
    let (cfg, sup) = load_setup(a.config.as_deref(), a.suppressions.as_deref(), Ts::now())?;
    for w in &sup.warnings {
        eprintln!("floodwatch: warning: {w}");
    }
    let mut sink_cfg = cfg.agent.sinks.clone();
    if let Some(db) = &a.db {
        // --db adds the store; without configured sinks, stdout stays the default.
        if sink_cfg.is_empty() {
            sink_cfg.push(floodwatch_core::config::AgentSink::Stdout {});
        }
        sink_cfg.push(floodwatch_core::config::AgentSink::Store {
            path: Some(db.clone()),
        });
    }
    let mut sinks = Sinks::from_config_with(&sink_cfg, &cfg.store, &floodwatch_fleet::agent_sink)?;
    let opts = AgentOptions {
        once: a.once,
        stop: Some(stop_on_signal()?),
    };
    let s = run_agent(cfg, sup, &opts, &mut sinks)?;
    finish_summary(&s, None)?;
    if let Some(p) = &a.summary_json {
        write_json(p, &s.to_json())?;
    }
    if a.once && s.files.iter().map(|f| f.events).sum::<u64>() == 0 {
        eprintln!(
            "floodwatch: error: nothing usable was read (no telemetry event from any source; see the summary for what was skipped or rejected)"
        );
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}

/// `agent status`: the health the agent last wrote to its state file.
fn status(a: &AgentStatusArgs) -> Result<ExitCode> {
    let path = match (&a.state, &a.config) {
        (Some(p), _) => p.clone(),
        (None, c) => {
            let (cfg, _) = load_setup(c.as_deref(), None, Ts::now())?;
            cfg.agent.state.ok_or_else(|| {
                floodwatch_core::Error::Usage(
                    "the config sets no agent.state: the agent keeps no status without one".into(),
                )
            })?
        }
    };
    let Some((updated, _pid, json)) = floodwatch_runtime::agent::state::read_health(&path)? else {
        eprintln!(
            "floodwatch: agent status: {} holds no health yet (the agent writes it every second once running)",
            path.display()
        );
        return Ok(ExitCode::from(1));
    };
    let v: serde_json::Value = serde_json::from_str(&json)
        .map_err(|e| floodwatch_core::Error::Input(format!("agent status: {e}")))?;
    if a.json {
        println!("{v}");
    } else {
        let age = (Ts::now().0 - updated) as f64 / 1e9;
        print!("{}", floodwatch_runtime::agent::status_text(&v, age));
    }
    Ok(ExitCode::SUCCESS)
}
