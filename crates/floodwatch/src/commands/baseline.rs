//! `floodwatch baseline learn | show`: learn what normal outbound activity looks like per identity ×
//! parent class × host role, and show it.

use crate::cli::{BaselineCmd, StoreArgs};
use crate::commands::print_json;
use floodwatch_analysis::tune::fmt_signal;
use floodwatch_core::Ts;
use floodwatch_core::{Error, Result};
use floodwatch_engine::baseline::SIGNALS;
use floodwatch_engine::suppress::Suppressions;
use floodwatch_engine::BaselineMode;
use floodwatch_runtime::output::finish_summary;
use floodwatch_runtime::{hunt_with, store, HuntOptions};
use floodwatch_sinks::escape::{clip, terminal};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

pub fn run(cmd: BaselineCmd) -> Result<ExitCode> {
    match cmd {
        BaselineCmd::Learn {
            paths,
            store,
            roles,
            host,
            threads,
        } => learn(paths, &store, roles, host, threads.threads),
        BaselineCmd::Show {
            store,
            identity,
            json,
        } => show(&store, identity.as_deref(), json),
    }
}

fn learn(
    paths: Vec<PathBuf>,
    args: &StoreArgs,
    roles: Option<PathBuf>,
    host: Option<String>,
    threads: usize,
) -> Result<ExitCode> {
    let started = Ts::now();
    let clock = std::time::Instant::now();
    // The store first: a locked or damaged store fails before minutes of reading.
    let (cfg, mut store) = args.open()?;
    let roles = store::roles(&cfg, roles.as_deref())?;
    let watermarks = store.learned_until()?;
    let opts = HuntOptions {
        paths: paths.clone(),
        host: host.clone(),
        threads,
        ..HuntOptions::default()
    };
    let half_life = cfg.baseline.half_life.as_nanos() as i64;
    let res = hunt_with(
        &opts,
        cfg,
        Suppressions::default(),
        BaselineMode::Learn { roles, watermarks },
    )?;
    if res.usable_events() == 0 {
        return Err(Error::Input(
            "nothing usable was read (no telemetry event in any file); nothing was learned".into(),
        ));
    }
    let hosts_until: BTreeMap<String, floodwatch_core::Ts> = res
        .summary
        .hosts
        .iter()
        .filter_map(|h| h.last_event.map(|t| (h.host.clone(), t)))
        .collect();
    let run = store::run_record("learn", &paths, started, &res);
    let bytes: u64 = run.inputs.iter().map(|i| i.bytes).sum();
    let events: u64 = run.inputs.iter().map(|i| i.events).sum();
    let hot = res.engine.hot_windows;
    let learned = res.learned;
    let identities = learned.profiles.len();
    let o = store.record_learn(&run, learned, &hosts_until, half_life)?;
    let secs = clock.elapsed().as_secs_f64().max(1e-9);
    let mut e = std::io::stderr().lock();
    let io = |x| Error::io("writing the learn summary", x);
    writeln!(
        e,
        "learned {} window(s) of {} baseline key(s) on {} host(s) into {} (run {}): {} new, {} updated; {} window(s) skipped as already learned",
        o.windows,
        identities,
        hosts_until.len(),
        store.path().display(),
        o.run_id,
        o.new_baselines,
        o.updated_baselines,
        o.skipped_windows
    )
    .map_err(io)?;
    writeln!(
        e,
        "read {} events, {:.1} MB in {:.2} s ({:.1} MB/s, {:.0} events/s)",
        events,
        bytes as f64 / 1e6,
        secs,
        bytes as f64 / 1e6 / secs,
        events as f64 / secs
    )
    .map_err(io)?;
    if hot > 0 {
        writeln!(
            e,
            "note: {hot} window(s) were hot by the absolute thresholds and were learned as normal; learn only from a period you believe benign (`floodwatch hunt` the same files to review them)"
        )
        .map_err(io)?;
    }
    finish_summary(&res.summary, None)?;
    Ok(ExitCode::SUCCESS)
}

fn show(args: &StoreArgs, identity: Option<&str>, json: bool) -> Result<ExitCode> {
    let (cfg, store) = args.existing()?;
    let rows = store.list_baselines(identity)?;
    let mut out = std::io::stdout().lock();
    let io = |x| Error::io("writing baselines", x);
    if json {
        print_json(&rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "{:<48} {:<15} {:<14} {:>8} {:>5} {:>5} {:<8}  median / p99 per signal",
        "identity", "parent", "role", "windows", "days", "hosts", "state"
    )
    .map_err(io)?;
    for r in &rows {
        let mature =
            r.windows >= cfg.baseline.min_windows && r.days >= cfg.baseline.min_days as f64;
        let sig: Vec<String> = r
            .signals
            .iter()
            .filter(|(_, s)| s.max > 0.0)
            .map(|(n, s)| {
                format!(
                    "{} {}/{}",
                    n.trim_end_matches("_per_s"),
                    fmt_signal(n, s.median),
                    fmt_signal(n, s.p99)
                )
            })
            .collect();
        writeln!(
            out,
            "{:<48} {:<15} {:<14} {:>8} {:>5.1} {:>5} {:<8}  {}",
            terminal(&clip(&r.key.identity, 48)),
            terminal(&r.key.parent_class),
            terminal(&clip(&r.key.role, 14)),
            r.windows,
            r.days,
            r.hosts.len(),
            if mature { "mature" } else { "immature" },
            sig.join(", ")
        )
        .map_err(io)?;
    }
    writeln!(
        out,
        "{} baseline(s); mature at {} windows over {} days; signals: {}",
        rows.len(),
        cfg.baseline.min_windows,
        cfg.baseline.min_days,
        SIGNALS.join(", ")
    )
    .map_err(io)?;
    Ok(ExitCode::SUCCESS)
}
