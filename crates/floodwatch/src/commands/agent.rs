//! `floodwatch agent --config FILE [--once]`: the sources of a Mac into one engine, findings to the
//! sinks (the work is `floodwatch_runtime::agent`); `--print-config` prints a config for a Mac.

use crate::cli::AgentArgs;
use floodwatch_core::{Error, Result, Ts};
use floodwatch_runtime::agent::sink::Sinks;
use floodwatch_runtime::agent::{run_agent, AgentOptions, PRINT_CONFIG};
use floodwatch_runtime::load_setup;
use floodwatch_runtime::output::{finish_summary, write_json};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

pub fn run(a: AgentArgs) -> Result<ExitCode> {
    if a.print_config {
        print!("{PRINT_CONFIG}");
        return Ok(ExitCode::SUCCESS);
    }
    let (cfg, sup) = load_setup(a.config.as_deref(), a.suppressions.as_deref(), Ts::now())?;
    for w in &sup.warnings {
        eprintln!("floodwatch: warning: {w}");
    }
    let mut sinks = Sinks::from_config(&cfg.agent.sinks)?;
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

/// SIGINT or SIGTERM stops the agent as the end of its sources would: the engine ends, open alerts
/// get their last state in every sink, the summary is printed, exit 0. A second one ends it at once.
fn stop_on_signal() -> Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    #[cfg(unix)]
    {
        use signal_hook::consts::{SIGINT, SIGTERM};
        use signal_hook::flag;
        let io = |e| Error::io("installing signal handlers", e);
        for sig in [SIGINT, SIGTERM] {
            flag::register_conditional_shutdown(sig, 130, stop.clone()).map_err(io)?;
            flag::register(sig, stop.clone()).map_err(io)?;
        }
    }
    Ok(stop)
}
