//! `floodwatch tune suggest`: prints the proposed suppressions (TOML with the evidence, or JSON).

use crate::cli::TuneCmd;
use crate::commands::print_json;
use floodwatch_analysis::tune::suggest;
use floodwatch_core::time::NANOS_PER_DAY;
use floodwatch_core::{Error, Result, Ts};
use std::io::Write;
use std::process::ExitCode;

pub fn run(cmd: TuneCmd) -> Result<ExitCode> {
    let TuneCmd::Suggest {
        store,
        min_hosts,
        max_spread,
        expires_in_days,
        json,
    } = cmd;
    let (cfg, st) = store.existing()?;
    let rows = st.list_baselines(None)?;
    let now = Ts::now();
    let expires = Ts(now.0 + i64::from(expires_in_days) * NANOS_PER_DAY).to_rfc3339_millis();
    let expires = expires.get(..10).unwrap_or(&expires).to_string();
    let today = now.to_rfc3339_millis();
    let today = today.get(..10).unwrap_or(&today);
    let list = suggest(&rows, &cfg, min_hosts, max_spread, &expires, today);
    let mut out = std::io::stdout().lock();
    let io = |x| Error::io("writing suggestions", x);
    if json {
        print_json(&list)?;
    } else {
        writeln!(
            out,
            "# floodwatch tune suggest: {} proposal(s) from {} baseline(s) in {}.\n# Review each, set owner and reason, then: floodwatch suppress add --from THIS_FILE\n",
            list.len(),
            rows.len(),
            st.path().display()
        )
        .map_err(io)?;
        for s in &list {
            writeln!(out, "{}", s.entry).map_err(io)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
