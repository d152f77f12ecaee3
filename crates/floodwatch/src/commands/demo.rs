//! `demo`: simulate a small fleet day in the real formats, hunt it with a progress bar, show the
//! alerts and how they score against the simulator's ground truth, and write the incident report.

use crate::cli::DemoArgs;
use crate::commands::color_ok;
use floodwatch_analysis::eval::{evaluate, read_labels};
use floodwatch_core::{Error, Result, Ts};
use floodwatch_runtime::{default_threads, hunt, load_setup, HuntOptions};
use floodwatch_sinks::report::{html_report, markdown_report};
use floodwatch_sinks::table::{write_table, Style};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn dir_bytes(dir: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

pub fn run(o: DemoArgs) -> Result<ExitCode> {
    let hosts = usize::from(o.hosts);
    let color = color_ok(std::io::stdout().is_terminal());
    let tmp;
    let dir = match &o.keep {
        Some(d) => {
            if std::fs::read_dir(d).is_ok_and(|mut rd| rd.next().is_some()) {
                return Err(Error::Usage(format!(
                    "--keep {}: the folder is not empty (an older fleet would mix with this one)",
                    d.display()
                )));
            }
            d.clone()
        }
        None => {
            tmp = tempfile::tempdir().map_err(|e| Error::io("creating a temporary folder", e))?;
            tmp.path().join("fleet")
        }
    };
    let spec = floodwatch_sim::FleetSpec {
        hosts: hosts.max(1),
        seed: o.seed,
        attack_hosts: hosts.max(1).div_ceil(2),
        ..floodwatch_sim::FleetSpec::default()
    };
    let t0 = Instant::now();
    eprintln!(
        "floodwatch demo: simulating {} Mac(s) for one day (seed {}) in {}",
        spec.hosts,
        spec.seed,
        dir.display()
    );
    floodwatch_sim::write_fleet(&dir, &spec)
        .map_err(|e| Error::io(format!("writing {}", dir.display()), e))?;
    let mut labels = read_labels(&dir.join("labels.jsonl"))?;
    // The bundled example collection (two hosts) joins the simulated ones, with its own labels.
    if let Some(coll) = bundled_collection() {
        for host in ["build-mac-07", "admin-mbp-02"] {
            copy_dir(&coll.join(host), &dir.join("bundled").join(host))?;
        }
        labels.extend(read_labels(&coll.join("labels.jsonl"))?);
        eprintln!(
            "  with the bundled example collection from {}",
            coll.display()
        );
    } else {
        eprintln!(
            "  without the bundled example collection: {} (run from the repository, or set FLOODWATCH_EXAMPLES to the collection's folder, to include it)",
            match std::env::var_os("FLOODWATCH_EXAMPLES") {
                Some(p) => format!("FLOODWATCH_EXAMPLES={} holds no labels.jsonl", PathBuf::from(p).display()),
                None => format!("neither ./examples/collection nor {BUILT_COLLECTION} holds it"),
            }
        );
    }
    let total = dir_bytes(&dir);
    eprintln!(
        "  {} files, {:.1} MB, {} labelled activities, in {:.1} s",
        walk_count(&dir),
        total as f64 / 1e6,
        labels.len(),
        t0.elapsed().as_secs_f64()
    );

    let (cfg, sup) = load_setup(None, None, Ts(0))?;
    let window = cfg.window_secs();
    let progress = Arc::new(AtomicU64::new(0));
    let opts = HuntOptions {
        paths: vec![dir.clone()],
        threads: default_threads(),
        progress: Some(progress.clone()),
        ..HuntOptions::default()
    };
    let bar = ProgressBar::new(total.max(1));
    bar.set_style(
        ProgressStyle::with_template("  hunting {bar:40} {bytes}/{total_bytes} {bytes_per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let t1 = Instant::now();
    let res = std::thread::scope(|s| {
        let h = s.spawn(|| hunt(&opts, cfg, sup));
        while !h.is_finished() {
            bar.set_position(progress.load(Ordering::Relaxed).min(total));
            std::thread::sleep(Duration::from_millis(100));
        }
        h.join()
            .map_err(|_| Error::Input("the hunt thread panicked".into()))?
    })?;
    bar.set_position(total);
    bar.finish_and_clear();
    eprintln!(
        "  hunted {:.1} MB in {:.2} s ({} events)",
        total as f64 / 1e6,
        t1.elapsed().as_secs_f64(),
        res.summary.events()
    );

    let alerts: Vec<_> = res.alerts.iter().map(|a| a.alert.clone()).collect();
    let mut out = std::io::stdout().lock();
    let io = |e| Error::io("writing to stdout", e);
    writeln!(out).map_err(io)?;
    write_table(&mut out, &alerts, &Style { color }).map_err(io)?;
    let e = evaluate(&labels, &alerts, &res.summary.hosts, window);
    writeln!(
        out,
        "\nHow these alerts score against the simulator's ground truth:\n"
    )
    .map_err(io)?;
    write!(out, "{}", e.to_markdown()).map_err(io)?;

    let heading = format!(
        "floodwatch demo: {} simulated Macs, one day (seed {})",
        spec.hosts, spec.seed
    );
    let sections = [e.to_section()];
    let md = o.report.with_extension("md");
    let html = o.report.with_extension("html");
    let write = |p: &Path, text: String| {
        std::fs::write(p, text).map_err(|x| Error::io(format!("writing {}", p.display()), x))
    };
    write(
        &md,
        markdown_report(&heading, &alerts, &res.summary, &sections),
    )?;
    write(
        &html,
        html_report(&heading, &alerts, &res.summary, &sections),
    )?;
    writeln!(
        out,
        "\nReport: {} and {} (self-contained; open the HTML in a browser). Total {:.1} s.",
        md.display(),
        html.display(),
        t0.elapsed().as_secs_f64()
    )
    .map_err(io)?;
    Ok(ExitCode::SUCCESS)
}

const BUILT_COLLECTION: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/collection");

/// `FLOODWATCH_EXAMPLES` when set (an installed binary), else `examples/collection` under the
/// current folder (a `cargo run` from the repo), else where this binary was built from.
fn bundled_collection() -> Option<PathBuf> {
    let candidates = match std::env::var_os("FLOODWATCH_EXAMPLES") {
        Some(p) => vec![PathBuf::from(p)],
        None => vec![
            PathBuf::from("examples/collection"),
            PathBuf::from(BUILT_COLLECTION),
        ],
    };
    candidates
        .into_iter()
        .find(|p| p.join("labels.jsonl").is_file())
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).map_err(|e| Error::io(format!("creating {}", to.display()), e))?;
    let rd =
        std::fs::read_dir(from).map_err(|e| Error::io(format!("reading {}", from.display()), e))?;
    for e in rd.flatten() {
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if src.is_file() {
            std::fs::copy(&src, &dst)
                .map_err(|x| Error::io(format!("copying {}", src.display()), x))?;
        }
    }
    Ok(())
}

fn walk_count(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| {
                    if e.path().is_dir() {
                        walk_count(&e.path())
                    } else {
                        1
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}
