//! A hunt is a replay of streams: discover files → sniff each from its head → anchor dateless sources →
//! per host, merge the host's files in time order into an engine → collect alerts and per-file stats.
//! Hosts are independent, so they run on a small worker pool; output is sorted, so it is deterministic.

use crate::helpers::map_hosts;
use crate::plan::{anchor, ctx_for, open_at, plan, Planned};
use crate::replay::{bytes_on_disk, run_host, HostOutput};
use floodwatch_core::config::Config;
use floodwatch_core::event::Event;
use floodwatch_core::finding::NetworkFinding;
use floodwatch_core::respond::Campaign;
use floodwatch_core::{Error, Result, Ts};
use floodwatch_engine::baseline::Learner;
use floodwatch_engine::suppress::Suppressions;
use floodwatch_engine::{AlertEvent, BaselineMode, EngineStats, Shared};
use floodwatch_sinks::summary::RunSummary;
use floodwatch_sources::{FileSource, FileStats, Format};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Clone, Debug, Default)]
pub struct HuntOptions {
    pub paths: Vec<PathBuf>,
    pub host: Option<String>,
    /// `--date YYYY-MM-DD` for dateless sources (nettop).
    pub date: Option<Ts>,
    pub threads: usize,
    /// Bytes read so far across all files (for a progress bar); updated every few thousand events.
    pub progress: Option<Arc<std::sync::atomic::AtomicU64>>,
}

pub struct HuntResult {
    pub alerts: Vec<AlertEvent>,
    /// Network-level findings (floods and scans from pid-less traffic), sorted by time, host, id.
    pub findings: Vec<NetworkFinding>,
    /// Several hosts flooding one destination at the same time, first alert first.
    pub campaigns: Vec<Campaign>,
    pub summary: RunSummary,
    pub engine: EngineStats,
    /// Baselines learned (learn mode only).
    pub learned: Learner,
    /// Per file id (what `EngineStats::observed` file ids refer to): path, host, detected format.
    pub inputs: Vec<InputInfo>,
}

/// A telemetry file of the run, by file id.
#[derive(Clone, Debug)]
pub struct InputInfo {
    pub path: String,
    pub host: String,
    pub format: Format,
}

impl HuntResult {
    /// Events produced across all files: zero means nothing usable was read (every record was
    /// rejected, or skipped as carrying nothing the engine uses).
    pub fn usable_events(&self) -> u64 {
        self.summary.files.iter().map(|f| f.events).sum()
    }
}

/// Runs a whole hunt. Errors only for unusable setups (missing paths, bad config); bad lines are counted.
pub fn hunt(opts: &HuntOptions, cfg: Config, suppressions: Suppressions) -> Result<HuntResult> {
    run(opts, cfg, suppressions, BaselineMode::Off, false)
}

/// A hunt that learns baselines (`baseline learn`) or judges against them (`hunt --db`).
pub fn hunt_with(
    opts: &HuntOptions,
    cfg: Config,
    suppressions: Suppressions,
    baseline: BaselineMode,
) -> Result<HuntResult> {
    run(opts, cfg, suppressions, baseline, false)
}

/// A hunt that also keeps what each source showed (`EngineStats::observed`), for `coverage`.
pub fn hunt_observed(
    opts: &HuntOptions,
    cfg: Config,
    suppressions: Suppressions,
) -> Result<HuntResult> {
    run(opts, cfg, suppressions, BaselineMode::Off, true)
}

fn run(
    opts: &HuntOptions,
    cfg: Config,
    suppressions: Suppressions,
    baseline: BaselineMode,
    observe: bool,
) -> Result<HuntResult> {
    let (planned, not_telemetry) = plan(opts)?;
    let names: Vec<Arc<str>> = planned
        .iter()
        .map(|p| Arc::from(p.file.path.display().to_string()))
        .collect();
    let inputs = inputs_of(&planned);
    let mut warnings = suppressions.warnings.clone();
    let half_life = cfg.baseline.half_life.as_nanos() as i64;
    let mut shared = Shared::new(cfg.clone(), suppressions, names)
        .map_err(Error::Usage)?
        .with_baseline(baseline);
    shared.observe = observe;
    shared.network_join = planned.iter().any(|p| p.format.network_only_capable());
    shared.formats = planned.iter().map(|p| Arc::from(p.format.name())).collect();
    let shared = Arc::new(shared);
    let hosts: Vec<(Vec<Planned>, u64)> = by_host(planned)
        .into_iter()
        .map(|g| {
            let bytes = bytes_on_disk(&g);
            (g, bytes)
        })
        .collect();
    let results: Vec<Result<HostOutput>> = map_hosts(
        &hosts,
        opts.threads,
        |h| h.1,
        |(g, bytes), helpers| run_host(g, *bytes, &cfg, &shared, opts, helpers),
    );
    let mut alerts = Vec::new();
    let mut findings = Vec::new();
    let mut files: BTreeMap<u32, FileStats> = BTreeMap::new();
    let mut engine = EngineStats::default();
    let mut learned = Learner::default();
    for r in results {
        let r = r?;
        learned.merge(r.learned, half_life);
        alerts.extend(r.alerts);
        findings.extend(r.findings);
        for (id, st) in r.stats {
            files.insert(id, st);
        }
        engine.absorb(r.engine);
        for rej in r.rejects {
            if let Some(st) = files.get_mut(&rej.origin.file) {
                st.reject_event(rej.origin.line, rej.reason.into(), rej.detail);
            }
        }
    }
    alerts.sort_by(|a, b| {
        a.alert
            .first_seen
            .cmp(&b.alert.first_seen)
            .then(a.alert.host.cmp(&b.alert.host))
            .then(a.alert.id.cmp(&b.alert.id))
    });
    findings.sort_by(|a: &NetworkFinding, b: &NetworkFinding| {
        a.first_seen
            .cmp(&b.first_seen)
            .then(a.host.cmp(&b.host))
            .then(a.id.cmp(&b.id))
    });
    // The response stage sees every host at once: campaigns across hosts, then a playbook for each.
    let campaigns = floodwatch_respond::respond(
        alerts.iter_mut().map(|e| &mut e.alert).collect(),
        &mut findings,
        &cfg,
    );
    if engine.network_flows_evicted > 0 {
        warnings.push(format!(
            "network: {} flows ({} packets) evicted past network.max_flows ({}), quietest first; findings still open were kept",
            engine.network_flows_evicted, engine.network_packets_evicted, cfg.network.max_flows
        ));
    }
    let summary = RunSummary {
        files: files.into_values().collect(),
        not_telemetry,
        warnings,
        engine: serde_json::to_value(&engine).unwrap_or_default(),
        hosts: engine.hosts.values().cloned().collect(),
        network: findings.clone(),
        campaigns: campaigns.clone(),
    };
    Ok(HuntResult {
        alerts,
        findings,
        campaigns,
        summary,
        engine,
        learned,
        inputs,
    })
}

/// Reads every event of every telemetry file, anchored as a hunt anchors them, and hands each to
/// `visit` with the file's id, in file order and without the engine: for checks that look for
/// specific raw events (the coverage self-test). Returns the files by id.
pub fn visit_events(
    opts: &HuntOptions,
    cfg: &Config,
    visit: &mut dyn FnMut(u32, &Event),
) -> Result<Vec<InputInfo>> {
    let (planned, _) = plan(opts)?;
    let inputs = inputs_of(&planned);
    for files in &by_host(planned) {
        let clock = anchor(files, cfg, opts);
        for p in files {
            let ctx = ctx_for(p, cfg, clock(p), opts.host.is_some());
            let mut src = FileSource::new(open_at(p, 0)?.reader, p.format, ctx);
            let mut out = Vec::new();
            loop {
                out.clear();
                let more = src
                    .next_events(&mut out)
                    .map_err(|e| Error::io(format!("reading {}", p.file.path.display()), e))?;
                for ev in &out {
                    visit(p.id, ev);
                }
                if !more {
                    break;
                }
            }
        }
    }
    Ok(inputs)
}

/// The run's telemetry files by id: path, host, detected format.
fn inputs_of(planned: &[Planned]) -> Vec<InputInfo> {
    planned
        .iter()
        .map(|p| InputInfo {
            path: p.file.path.display().to_string(),
            host: p.file.host.clone(),
            format: p.format,
        })
        .collect()
}

/// The plan split per host, hosts in name order (each host is one replay).
pub(crate) fn by_host(planned: Vec<Planned>) -> Vec<Vec<Planned>> {
    let mut groups: BTreeMap<String, Vec<Planned>> = BTreeMap::new();
    for p in planned {
        groups.entry(p.file.host.clone()).or_default().push(p);
    }
    groups.into_values().collect()
}
