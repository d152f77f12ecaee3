//! `floodwatch hunt`: replay collected telemetry through the engine, print the alerts and network
//! findings, the report and the summary, and (with `--db`) record them in the store.

use crate::cli::HuntArgs;
use crate::commands::{alert_format, Detection};
use floodwatch_core::Ts;
use floodwatch_core::{Error, Result};
use floodwatch_runtime::output::{finish_summary, write_hunt, write_report};
use floodwatch_runtime::{hunt_with, store, HuntOptions};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

pub fn run(a: HuntArgs) -> Result<ExitCode> {
    let common = &a.common;
    let Detection {
        started,
        cfg,
        store: mut st,
        mode,
        sup,
    } = Detection::set_up(common, &a.db)?;
    let opts = HuntOptions {
        paths: a.paths.clone(),
        host: common.input.host.clone(),
        date: common.input.date,
        threads: a.threads.threads,
        progress: None,
    };
    let res = hunt_with(&opts, cfg, sup, mode)?;
    let (mut w, tty): (Box<dyn Write>, bool) = match &a.output {
        Some(p) => (
            Box::new(std::io::BufWriter::new(std::fs::File::create(p).map_err(
                |e| Error::io(format!("creating {}", p.display()), e),
            )?)),
            false,
        ),
        None => (
            Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
            std::io::stdout().is_terminal(),
        ),
    };
    let io = |e| Error::io("writing alerts", e);
    write_hunt(&mut w, &res, alert_format(common.format, tty)).map_err(io)?;
    w.flush().map_err(io)?;
    drop(w);
    if let Some(prefix) = &a.report {
        write_report(prefix, &res)?;
    }
    finish_summary(&res.summary, a.summary_json.as_deref())?;
    // After the alerts are out: a store that fails now loses nothing already written.
    if let Some(s) = st.as_mut() {
        let run = store::run_record("hunt", &a.paths, started, &res);
        store::record_hunt(s, &run, &res, Ts::now(), &mut std::io::stderr().lock())?;
    }
    if res.usable_events() == 0 {
        eprintln!(
            "floodwatch: error: nothing usable was read (no telemetry event in any file; see the summary for what was skipped or rejected)"
        );
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}
