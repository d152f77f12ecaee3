//! Glue between runs and the store: opening it from the config or `--db`, host roles, the baselines and
//! suppressions a `hunt --db` uses, and recording what a run read and found.

use crate::hunt::HuntResult;
use floodwatch_core::config::Config;
use floodwatch_core::{Error, Result, Ts};
use floodwatch_engine::baseline::{Baselines, Roles};
use floodwatch_engine::suppress::Suppressions;
use floodwatch_engine::BaselineMode;
use floodwatch_sinks::escape::terminal;
use floodwatch_store::runs::{InputRecord, RunRecord};
use floodwatch_store::Store;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The store named by `--db` (empty: the config's `store.db`), opened and checked; None without `--db`.
pub fn open_flag(cfg: &Config, flag: Option<&Path>) -> Result<Option<Store>> {
    let Some(p) = flag else { return Ok(None) };
    let path = if p.as_os_str().is_empty() {
        cfg.store.db.clone()
    } else {
        p.to_path_buf()
    };
    Ok(Some(Store::open(&path, cfg.store.busy_timeout)?))
}

/// Host roles from `--roles`, else the config's `baseline.roles`, else everyone gets the default role.
pub fn roles(cfg: &Config, flag: Option<&Path>) -> Result<Roles> {
    let default = &cfg.baseline.default_role;
    match flag.or(cfg.baseline.roles.as_deref()) {
        Some(p) => Roles::load(p, default),
        None => Ok(Roles::new(default)),
    }
}

/// What `hunt --db` judges with: the stored baselines, and the stored suppressions added to the file's.
pub fn judge_setup(
    store: &Store,
    cfg: &Config,
    roles: Roles,
    mut sup: Suppressions,
    now: Ts,
) -> Result<(BaselineMode, Suppressions)> {
    let text = store.suppressions_toml()?;
    if !text.trim().is_empty() {
        sup.extend(Suppressions::parse(&text, store.path(), now)?);
    }
    let baselines = Baselines::new(store.load_profiles()?, cfg.baseline.clone());
    Ok((BaselineMode::Judge { roles, baselines }, sup))
}

/// What a detection run (`hunt`, `watch`) judges with: without `--db`, the absolute thresholds and
/// the file's suppressions; with it, the store (opened and checked before any input is read, so a
/// locked or damaged store fails fast), its baselines, and its suppressions added to the file's.
pub fn detection_setup(
    cfg: &Config,
    db: Option<&Path>,
    roles_flag: Option<&Path>,
    sup: Suppressions,
    now: Ts,
) -> Result<(Option<Store>, BaselineMode, Suppressions)> {
    let Some(store) = open_flag(cfg, db)? else {
        return Ok((None, BaselineMode::Off, sup));
    };
    let (mode, sup) = judge_setup(&store, cfg, roles(cfg, roles_flag)?, sup, now)?;
    Ok((Some(store), mode, sup))
}

/// The run's row: what was read, per file, with its host.
pub fn run_record(
    kind: &'static str,
    paths: &[PathBuf],
    started: Ts,
    res: &HuntResult,
) -> RunRecord {
    // Each file's host, as the run's own discovery placed it.
    let hosts: BTreeMap<&str, &str> = res
        .inputs
        .iter()
        .map(|i| (i.path.as_str(), i.host.as_str()))
        .collect();
    let inputs = res
        .summary
        .files
        .iter()
        .map(|f| InputRecord {
            host: hosts
                .get(f.path.as_str())
                .map_or_else(String::new, |h| h.to_string()),
            bytes: std::fs::metadata(&f.path).map_or(0, |m| m.len()),
            path: f.path.clone(),
            format: f.format.clone(),
            events: f.events,
            rejected: f.rejected,
        })
        .collect();
    RunRecord {
        kind,
        started,
        finished: Ts::now(),
        args: paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(" "),
        inputs,
    }
}

/// After a hunt: the alerts go into the store (one transaction), and every expired store suppression
/// is reported with what it used to hide. The alerts were already written to the output, so a store
/// error loses nothing.
pub fn record_hunt(
    store: &mut Store,
    run: &RunRecord,
    res: &HuntResult,
    now: Ts,
    err: &mut dyn std::io::Write,
) -> Result<()> {
    let alerts: Vec<_> = res.alerts.iter().map(|a| a.alert.clone()).collect();
    let o = store.record_hunt(run, &alerts, now)?;
    let network = store.record_network(o.run_id, &res.findings)?;
    let campaigns = store.record_campaigns(o.run_id, &res.campaigns)?;
    let io = |e| Error::io("writing the store summary", e);
    writeln!(
        err,
        "store {}: run {}: {} alert(s) opened, {} updated, {} reopened, {} closed, {} unchanged; {} new network flood finding(s); {} new campaign(s); {} new suppression hit(s); {} hot window(s) found normal by a mature baseline",
        store.path().display(),
        o.run_id,
        o.opened,
        o.updated,
        o.reopened,
        o.closed,
        o.unchanged,
        network,
        campaigns,
        o.new_suppression_hits,
        res.engine.baseline_absorbed
    )
    .map_err(io)?;
    report_expired(store, now, err)
}

/// Ended by `suppress expire`, or past its expiry (a file suppression only known by its hits, or a
/// removed one: never).
pub fn is_expired(s: &floodwatch_store::suppressions::SuppressionRow, now: Ts) -> bool {
    let past = s
        .expires
        .as_deref()
        .and_then(floodwatch_engine::suppress::parse_expiry)
        .is_some_and(|t| t < now);
    s.removed_at.is_none() && (s.expired_at.is_some() || past)
}

/// Every store suppression past its expiry, with its hits and the alerts it had hidden: an expired
/// suppression is reported on each run until it is renewed or removed, never dropped silently.
pub fn report_expired(store: &Store, now: Ts, err: &mut dyn std::io::Write) -> Result<()> {
    let io = |e| Error::io("writing the store summary", e);
    for s in store.list_suppressions()? {
        if s.source != "store" || !is_expired(&s, now) {
            continue;
        }
        let Some(r) = store.expiry_report(&s.id)? else {
            continue;
        };
        write_expiry(err, &r).map_err(io)?;
    }
    Ok(())
}

pub fn write_expiry(
    w: &mut dyn std::io::Write,
    r: &floodwatch_store::suppressions::ExpiryReport,
) -> std::io::Result<()> {
    let when = match &r.ended {
        Some((at, by)) => format!("{at} (ended by {})", terminal(by)),
        None => terminal(&r.expires).into_owned(),
    };
    writeln!(
        w,
        "suppression {} EXPIRED {} (owner {}, reason: {}): it hid {} alert(s), last {}; matching detections alert again. Renew it with a new expiry or remove it.",
        terminal(&r.id),
        when,
        terminal(&r.owner),
        terminal(&r.reason),
        r.hits,
        r.last_hit.as_deref().unwrap_or("never")
    )?;
    for (id, host, last, headline) in &r.suppressed {
        writeln!(
            w,
            "  hid {} on {} (last seen {}): {}",
            &id[..id.len().min(8)],
            terminal(host),
            last,
            terminal(headline)
        )?;
    }
    Ok(())
}
