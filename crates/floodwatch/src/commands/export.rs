//! `floodwatch export`: detection content for a SIEM, generated from the config (and its
//! suppressions), never from alert data. The generator is `floodwatch-export`.

use crate::cli::{ExportArgs, ExportTarget};
use floodwatch_core::{Error, Result};
use floodwatch_export::{export, suppress, Target};
use std::io::Write;
use std::process::ExitCode;

pub fn run(a: ExportArgs) -> Result<ExitCode> {
    let cfg = floodwatch_runtime::load_config(a.config.config.as_deref())?;
    let sup_path = a.suppressions.clone().or_else(|| cfg.suppressions.clone());
    let entries = match &sup_path {
        Some(p) => suppress::load(p).map_err(|message| Error::Config {
            path: p.clone(),
            message,
        })?,
        None => Vec::new(),
    };
    let target = match a.to {
        ExportTarget::Sigma => Target::Sigma,
        ExportTarget::Esql => Target::Esql,
        ExportTarget::Spl => Target::Spl,
        ExportTarget::Kql => Target::Kql,
        ExportTarget::Osquery => Target::Osquery,
    };
    let files = export(&cfg, &entries, target);
    match &a.output {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
            for f in &files {
                let p = dir.join(&f.name);
                std::fs::write(&p, &f.content)
                    .map_err(|e| Error::io(format!("writing {}", p.display()), e))?;
            }
            eprintln!(
                "floodwatch export: {} {} file(s) in {}",
                files.len(),
                target.name(),
                dir.display()
            );
        }
        None => {
            let mut out = std::io::stdout().lock();
            let io = |e| Error::io("writing the export", e);
            for (i, f) in files.iter().enumerate() {
                if i > 0 {
                    writeln!(out).map_err(io)?;
                }
                writeln!(out, "==> {} <==", f.name).map_err(io)?;
                out.write_all(f.content.as_bytes()).map_err(io)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
