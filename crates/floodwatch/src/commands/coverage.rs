//! `floodwatch coverage`: the report, the lab self-test plan, or the check of its telemetry.

use crate::cli::{CoverageArgs, CoverageFormat};
use floodwatch_analysis::coverage::{analyze, render, selftest};
use floodwatch_core::{Error, Result};
use floodwatch_engine::suppress::Suppressions;
use floodwatch_runtime::{hunt_observed, HuntOptions};
use std::path::PathBuf;
use std::process::ExitCode;

/// Runs `floodwatch coverage` (report, self-test plan or self-test check) and writes the result.
pub fn run(a: CoverageArgs) -> Result<ExitCode> {
    let cfg = floodwatch_runtime::load_config(a.config.config.as_deref())?;
    if a.selftest_plan {
        let plan = selftest::plan(a.target.as_deref(), &cfg);
        write_out(&a.output, &plan.text)?;
        return Ok(if plan.refused {
            ExitCode::from(2)
        } else {
            ExitCode::SUCCESS
        });
    }
    if a.paths.is_empty() {
        return Err(Error::Usage(
            "say which telemetry to read: floodwatch coverage PATH...".into(),
        ));
    }
    if let Some(p) = a.paths.iter().find(|p| !p.exists()) {
        return Err(Error::Usage(format!("{} does not exist", p.display())));
    }
    let opts = HuntOptions {
        paths: a.paths.clone(),
        host: a.input.host.clone(),
        date: a.input.date,
        threads: a.threads.threads,
        progress: None,
    };
    let res = hunt_observed(&opts, cfg.clone(), Suppressions::default())?;
    if a.selftest_check {
        let check = selftest::check(&opts, &cfg, &res, a.target.as_deref())?;
        let text = match a.format {
            CoverageFormat::Json => {
                serde_json::to_string_pretty(&check).map_err(|e| Error::Input(e.to_string()))?
                    + "\n"
            }
            CoverageFormat::Md => render::selftest_markdown(&check),
            CoverageFormat::Html => render::selftest_html(&check),
        };
        write_out(&a.output, &text)?;
        return Ok(if check.passed {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    let report = analyze(&res, &cfg);
    if let Some(db) = &a.db {
        let json = serde_json::to_string(&report).map_err(|e| Error::Input(e.to_string()))?;
        let paths: Vec<String> = a.paths.iter().map(|p| p.display().to_string()).collect();
        let mut store = floodwatch_store::Store::open(db, cfg.store.busy_timeout)?;
        store.record_coverage(&paths.join(" "), &json, floodwatch_core::Ts::now())?;
    }
    let text = match a.format {
        CoverageFormat::Json => {
            serde_json::to_string_pretty(&report).map_err(|e| Error::Input(e.to_string()))? + "\n"
        }
        CoverageFormat::Md => render::markdown(&report),
        CoverageFormat::Html => render::html(&report),
    };
    write_out(&a.output, &text)?;
    if res.usable_events() == 0 {
        eprintln!("floodwatch: error: nothing usable was read (no telemetry event in any file)");
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}

fn write_out(path: &Option<PathBuf>, text: &str) -> Result<()> {
    match path {
        Some(p) => {
            std::fs::write(p, text).map_err(|e| Error::io(format!("writing {}", p.display()), e))
        }
        None => {
            use std::io::Write;
            let mut o = std::io::stdout().lock();
            o.write_all(text.as_bytes())
                .and_then(|_| o.flush())
                .map_err(|e| Error::io("writing the report", e))
        }
    }
}
