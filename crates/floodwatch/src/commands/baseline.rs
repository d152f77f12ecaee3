//! `floodwatch baseline learn | show`: learn what normal outbound activity looks like per identity ×
//! parent class × host role, and show it.

use crate::cli::{BaselineCmd, StoreArgs};
use crate::commands::print_json;
use floodwatch_analysis::tune::fmt_signal;
use floodwatch_core::Ts;
use floodwatch_core::{Error, Result};
use floodwatch_engine::baseline::{BaselineKey, SIGNALS};
use floodwatch_engine::suppress::Suppressions;
use floodwatch_engine::BaselineMode;
use floodwatch_runtime::output::finish_summary;
use floodwatch_runtime::{hunt_with, store, HuntOptions};
use floodwatch_sinks::escape::{clip, terminal};
use floodwatch_store::baselines::{BaselineRow, HeldRow};
use serde::Serialize;
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
            date,
            json,
            threads,
        } => learn(paths, &store, roles, host, date, json, threads.threads),
        BaselineCmd::Held { store, all, json } => held(&store, all, json),
        BaselineCmd::Accept {
            ids,
            store,
            owner,
            reason,
            by,
        } => accept(&store, &ids, &owner, &reason, &by),
        BaselineCmd::Show {
            store,
            identity,
            json,
        } => show(&store, identity.as_deref(), json),
    }
}

/// One key's windows held for review on one host.
#[derive(Serialize)]
struct HeldGroup {
    /// The held window id that accepts the group (`baseline accept ID`).
    id: i64,
    identity: String,
    parent_class: String,
    role: String,
    host: String,
    windows: u64,
    first: String,
    last: String,
    /// The largest of each signal, in SIGNALS order.
    max: [f64; 4],
    /// The strongest reason it was held.
    why: String,
    accepted: bool,
}

fn groups(rows: &[HeldRow]) -> Vec<HeldGroup> {
    let mut out: BTreeMap<(BaselineKey, String, bool), HeldGroup> = BTreeMap::new();
    for r in rows {
        let g = out
            .entry((r.key.clone(), r.host.clone(), r.accepted_by.is_some()))
            .or_insert_with(|| HeldGroup {
                id: r.id,
                identity: r.key.identity.clone(),
                parent_class: r.key.parent_class.clone(),
                role: r.key.role.clone(),
                host: r.host.clone(),
                windows: 0,
                first: r.start.clone(),
                last: r.start.clone(),
                max: [0.0; 4],
                why: r.why.clone(),
                accepted: r.accepted_by.is_some(),
            });
        g.windows += 1;
        g.id = g.id.min(r.id);
        g.last = r.start.clone();
        for i in 0..4 {
            if r.values[i] > g.max[i] {
                g.max[i] = r.values[i];
            }
        }
        if r.values[2] >= g.max[2] {
            g.why = r.why.clone();
        }
    }
    let mut v: Vec<HeldGroup> = out.into_values().collect();
    v.sort_by(|a, b| a.first.cmp(&b.first).then(a.host.cmp(&b.host)));
    v
}

fn write_groups(e: &mut dyn Write, gs: &[HeldGroup]) -> std::io::Result<()> {
    for g in gs {
        let peak: Vec<String> = SIGNALS
            .iter()
            .enumerate()
            .filter(|(i, _)| g.max[*i] > 0.0)
            .map(|(i, n)| {
                format!(
                    "{} {}",
                    n.trim_end_matches("_per_s"),
                    fmt_signal(n, g.max[i])
                )
            })
            .collect();
        writeln!(
            e,
            "  [{}] {}: {} under {} on role {}: {} window(s) {} .. {}; peak {}; {}{}",
            g.id,
            terminal(&g.host),
            terminal(&g.identity),
            terminal(&g.parent_class),
            terminal(&g.role),
            g.windows,
            g.first,
            g.last,
            peak.join(", "),
            terminal(&g.why),
            if g.accepted { " (accepted)" } else { "" }
        )?;
    }
    Ok(())
}

/// A key learned by a run, with the baseline it now has.
#[derive(Serialize)]
struct LearnedKey {
    identity: String,
    parent_class: String,
    role: String,
    /// Windows this run learned.
    windows_now: u64,
    /// The stored baseline after the run.
    windows: u64,
    days: f64,
    hosts: Vec<String>,
    mature: bool,
}

#[derive(Serialize)]
struct LearnReport {
    run_id: i64,
    store: String,
    hosts: usize,
    windows: u64,
    skipped_windows: u64,
    new_baselines: u64,
    updated_baselines: u64,
    learned: Vec<LearnedKey>,
    /// Windows this run held for review (new ones).
    held_windows: u64,
    /// Every group pending review in the store.
    held: Vec<HeldGroup>,
    events: u64,
    bytes: u64,
    seconds: f64,
}

#[allow(clippy::too_many_arguments)]
fn learn(
    paths: Vec<PathBuf>,
    args: &StoreArgs,
    roles: Option<PathBuf>,
    host: Option<String>,
    date: Option<Ts>,
    json: bool,
    threads: usize,
) -> Result<ExitCode> {
    let started = Ts::now();
    let clock = std::time::Instant::now();
    // The store first: a locked or damaged store fails before minutes of reading.
    let (cfg, mut store) = args.open()?;
    let roles = store::roles(&cfg, roles.as_deref())?;
    let watermarks = store.learned_until()?;
    let accepted = store.accepted_keys()?;
    let opts = HuntOptions {
        paths: paths.clone(),
        host: host.clone(),
        date,
        threads,
        ..HuntOptions::default()
    };
    let half_life = cfg.baseline.half_life.as_nanos() as i64;
    let settings = cfg.baseline.clone();
    let res = hunt_with(
        &opts,
        cfg,
        Suppressions::default(),
        BaselineMode::Learn {
            roles,
            watermarks,
            accepted,
        },
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
    let o = store.record_learn(&run, res.learned, &hosts_until, half_life)?;
    let rows: BTreeMap<BaselineKey, BaselineRow> = store
        .list_baselines(None)?
        .into_iter()
        .map(|r| (r.key.clone(), r))
        .collect();
    let learned: Vec<LearnedKey> = o
        .learned
        .iter()
        .filter_map(|(k, n)| {
            let r = rows.get(k)?;
            Some(LearnedKey {
                identity: k.identity.clone(),
                parent_class: k.parent_class.clone(),
                role: k.role.clone(),
                windows_now: *n,
                windows: r.windows,
                days: r.days,
                hosts: r.hosts.clone(),
                mature: r.windows >= settings.min_windows && r.days >= settings.min_days as f64,
            })
        })
        .collect();
    let report = LearnReport {
        run_id: o.run_id,
        store: store.path().display().to_string(),
        hosts: hosts_until.len(),
        windows: o.windows,
        skipped_windows: o.skipped_windows,
        new_baselines: o.new_baselines,
        updated_baselines: o.updated_baselines,
        learned,
        held_windows: o.held,
        held: groups(&store.held_windows(true)?),
        events,
        bytes,
        seconds: clock.elapsed().as_secs_f64().max(1e-9),
    };
    // The files read and their notes (how each nettop file was dated); not the hunt's verdicts: a
    // learn run learns, it does not alert.
    let mut files_only = res.summary.clone();
    files_only.hosts.clear();
    files_only.network.clear();
    finish_summary(&files_only, None)?;
    let mut e = std::io::stderr().lock();
    write_learn_report(&mut e, &report, &settings)
        .map_err(|x| Error::io("writing the learn report", x))?;
    if json {
        print_json(&report)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn write_learn_report(
    e: &mut dyn Write,
    r: &LearnReport,
    s: &floodwatch_core::config::BaselineSettings,
) -> std::io::Result<()> {
    writeln!(e, "floodwatch: baselines")?;
    writeln!(
        e,
        "  learned {} window(s) of {} baseline key(s) on {} host(s) into {} (run {}): {} new, {} updated; {} window(s) skipped as already learned",
        r.windows,
        r.learned.len(),
        r.hosts,
        terminal(&r.store),
        r.run_id,
        r.new_baselines,
        r.updated_baselines,
        r.skipped_windows
    )?;
    writeln!(
        e,
        "  {:<48} {:<15} {:<12} {:>7} {:>8} {:>6} {:>5}  state",
        "identity", "parent", "role", "+windows", "windows", "days", "hosts"
    )?;
    for k in &r.learned {
        writeln!(
            e,
            "  {:<48} {:<15} {:<12} {:>7} {:>8} {:>6.1} {:>5}  {}",
            terminal(&clip(&k.identity, 48)),
            terminal(&k.parent_class),
            terminal(&clip(&k.role, 12)),
            k.windows_now,
            k.windows,
            k.days,
            k.hosts.len(),
            if k.mature { "mature" } else { "immature" }
        )?;
    }
    let mature = r.learned.iter().filter(|k| k.mature).count();
    writeln!(
        e,
        "  {} of {} key(s) mature (at {} windows over {} days)",
        mature,
        r.learned.len(),
        s.min_windows,
        s.min_days
    )?;
    writeln!(
        e,
        "  read {} events, {:.1} MB in {:.2} s ({:.1} MB/s)",
        r.events,
        r.bytes as f64 / 1e6,
        r.seconds,
        r.bytes as f64 / 1e6 / r.seconds
    )?;
    if r.held.is_empty() {
        writeln!(e, "floodwatch: nothing held for review")?;
        return Ok(());
    }
    let total: u64 = r.held.iter().map(|g| g.windows).sum();
    writeln!(
        e,
        "floodwatch: held for review, not learned: {} window(s) of {} key(s) that would alert against the absolute thresholds or declare a flood ({} new in this run)",
        total,
        r.held.len(),
        r.held_windows
    )?;
    // The most recent groups; all of them are in `baseline held` (and in --json).
    const SHOWN: usize = 40;
    let skip = r.held.len().saturating_sub(SHOWN);
    if skip > 0 {
        writeln!(
            e,
            "  ... {skip} older group(s) not shown: `floodwatch baseline held` lists them all"
        )?;
    }
    write_groups(e, &r.held[skip..])?;
    writeln!(
        e,
        "  what is routine: `floodwatch baseline accept ID --owner NAME --reason TEXT` learns it; the rest is what `floodwatch hunt` of the same files alerts on"
    )
}

fn held(args: &StoreArgs, all: bool, json: bool) -> Result<ExitCode> {
    let (_, store) = args.existing()?;
    let gs = groups(&store.held_windows(!all)?);
    if json {
        print_json(&gs)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = std::io::stdout().lock();
    let io = |x| Error::io("writing held windows", x);
    if gs.is_empty() {
        writeln!(out, "nothing held for review").map_err(io)?;
    }
    write_groups(&mut out, &gs).map_err(io)?;
    Ok(ExitCode::SUCCESS)
}

fn accept(args: &StoreArgs, ids: &[i64], owner: &str, reason: &str, by: &str) -> Result<ExitCode> {
    if owner.trim().is_empty() || reason.trim().is_empty() {
        return Err(Error::Usage(
            "an acceptance needs an --owner and a --reason".into(),
        ));
    }
    let (cfg, mut store) = args.existing()?;
    let half_life = cfg.baseline.half_life.as_nanos() as i64;
    let mut e = std::io::stderr().lock();
    let io = |x| Error::io("writing the acceptance", x);
    for id in ids {
        match store.accept_held(*id, owner, reason, by, Ts::now(), half_life)? {
            Some(o) => writeln!(
                e,
                "accepted {} under {} on role {} on host {} (acceptance {}, owner {}): {} held window(s) learned",
                terminal(&o.key.identity),
                terminal(&o.key.parent_class),
                terminal(&o.key.role),
                terminal(&o.host),
                o.acceptance_id,
                terminal(owner),
                o.windows
            )
            .map_err(io)?,
            None => {
                return Err(Error::Usage(format!(
                    "no held window {id} in {} (`floodwatch baseline held` lists them)",
                    store.path().display()
                )))
            }
        }
    }
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
