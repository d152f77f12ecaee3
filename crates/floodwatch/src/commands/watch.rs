//! `floodwatch watch`: the same engine, fed from stdin, printing alerts as they open, update and close.

use crate::cli::WatchArgs;
use crate::commands::{alert_format, stop_on_signal, Detection};
use floodwatch_core::Ts;
use floodwatch_core::{Error, Result};
use floodwatch_runtime::output::{finish_summary, write_live_alert};
use floodwatch_runtime::{watch_with, WatchOptions};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

pub fn run(a: WatchArgs) -> Result<ExitCode> {
    let common = &a.common;
    let Detection {
        started,
        cfg,
        store: mut st,
        mode,
        sup,
    } = Detection::set_up(common, &a.db)?;
    let run_id = match st.as_mut() {
        Some(s) => Some(s.begin_run(&floodwatch_store::runs::RunRecord {
            kind: "watch",
            started,
            finished: started,
            args: "<stdin>".into(),
            inputs: Vec::new(),
        })?),
        None => None,
    };
    for w in &sup.warnings {
        eprintln!("floodwatch: warning: {w}");
    }
    let format = alert_format(common.format, std::io::stdout().is_terminal());
    let mut out = std::io::stdout().lock();
    let io = |e| Error::io("writing alerts", e);
    let opts = WatchOptions {
        host: common.input.host.clone(),
        date: common.input.date,
        stop: Some(stop_on_signal()?),
        ..WatchOptions::default()
    };
    let s = watch_with(std::io::stdin(), cfg, sup, mode, &opts, |a| {
        // A replayed stream: states the store already holds are neither printed nor recorded again.
        if let Some(s) = st.as_ref() {
            if s.alert_is_known(&a.alert)? {
                return Ok(());
            }
        }
        write_live_alert(&mut out, a, format).map_err(io)?;
        out.flush().map_err(io)?;
        // Printed first: a store error stops the watch but loses no alert.
        if let (Some(s), Some(run)) = (st.as_mut(), run_id) {
            s.record_alerts(run, std::slice::from_ref(&a.alert), Ts::now())?;
        }
        Ok(())
    })?;
    finish_summary(&s, None)?;
    Ok(ExitCode::SUCCESS)
}
