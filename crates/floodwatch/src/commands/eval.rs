//! `floodwatch eval`: hunt, then score against the labels; Markdown on stdout, JSON on request.

use crate::cli::EvalArgs;
use floodwatch_analysis::eval::{evaluate, read_labels};
use floodwatch_core::Ts;
use floodwatch_core::{Error, Result};
use floodwatch_runtime::output::write_json;
use floodwatch_runtime::{hunt, load_setup, HuntOptions};
use std::process::ExitCode;

pub fn run(a: EvalArgs) -> Result<ExitCode> {
    let labels_path = a
        .labels
        .or_else(|| a.paths.first().map(|p| p.join("labels.jsonl")))
        .ok_or_else(|| Error::Usage("say --labels FILE".into()))?;
    if let Some(p) = a.paths.iter().find(|p| !p.exists()) {
        return Err(Error::Usage(format!("{} does not exist", p.display())));
    }
    let labels = read_labels(&labels_path)?;
    if labels.is_empty() {
        eprintln!(
            "floodwatch: warning: {} holds no label: every alert will count as false",
            labels_path.display()
        );
    }
    let common = a.common;
    let (cfg, sup) = load_setup(
        common.config.config.as_deref(),
        common.suppressions.as_deref(),
        Ts::now(),
    )?;
    let window = cfg.window_secs();
    let opts = HuntOptions {
        paths: a.paths,
        host: common.input.host,
        date: common.input.date,
        threads: a.threads.threads,
        progress: None,
    };
    let res = hunt(&opts, cfg, sup)?;
    let alerts: Vec<_> = res.alerts.iter().map(|a| a.alert.clone()).collect();
    let e = evaluate(&labels, &alerts, &res.summary.hosts, window);
    match a.json {
        Some(p) => write_json(&p, &e)?,
        None => print!("{}", e.to_markdown()),
    }
    Ok(ExitCode::SUCCESS)
}
