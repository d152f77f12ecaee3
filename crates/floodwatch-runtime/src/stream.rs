//! A collection as per-host event streams: each host's events exactly as `hunt` hands them to its
//! engine (the same discovery, anchoring, merge and segments), for a consumer other than a local
//! engine (`fleet publish` ships them to the fleet's workers).

use crate::hunt::HuntOptions;
use crate::plan::{anchor, plan, Planned};
use crate::replay::{merge, Breaks, PassPlan, Watch};
use floodwatch_core::config::Config;
use floodwatch_core::event::Event;
use floodwatch_core::Result;
use floodwatch_sinks::summary::RunSummary;
use floodwatch_sources::FileStats;
use std::collections::{BTreeMap, HashMap};

/// One host of a collection: its name and its telemetry files. Its events name their file by the
/// index in `files` (not the run-wide file id), so a host's stream stands on its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostStream {
    pub host: String,
    pub files: Vec<StreamFile>,
}

/// A telemetry file of a host: its path as the run names it, and its format's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamFile {
    pub path: String,
    pub format: String,
}

/// Where the streams go, host after host: `begin`, every event in the engine's order, `end`.
pub trait HostSink {
    fn begin(&mut self, host: &HostStream) -> Result<()>;
    fn event(&mut self, ev: Event) -> Result<()>;
    fn end(&mut self, host: &HostStream) -> Result<()>;
}

/// A host whose first pass finds more events than this is read twice (the first pass only looks
/// for time running backwards) rather than held in memory.
const HOLD_EVENTS: usize = 1 << 20;

/// Streams every host of the collection `opts` names, hosts in name order. Returns the summary of
/// what was read (files, skipped files); the engine's part is the consumer's.
pub fn stream_hosts(
    opts: &HuntOptions,
    cfg: &Config,
    sink: &mut dyn HostSink,
) -> Result<RunSummary> {
    let (planned, not_telemetry) = plan(opts)?;
    let mut groups: BTreeMap<String, Vec<Planned>> = BTreeMap::new();
    for p in planned {
        groups.entry(p.file.host.clone()).or_default().push(p);
    }
    let mut files: BTreeMap<u32, FileStats> = BTreeMap::new();
    for (host, group) in groups {
        let stream = HostStream {
            host,
            files: group
                .iter()
                .map(|p| StreamFile {
                    path: p.file.path.display().to_string(),
                    format: p.format.name().to_string(),
                })
                .collect(),
        };
        let local: HashMap<u32, u32> = group
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id, i as u32))
            .collect();
        let renumber = |mut ev: Event| {
            ev.origin.file = local.get(&ev.origin.file).copied().unwrap_or(u32::MAX);
            ev
        };
        let stats = stream_host(&group, &stream, cfg, opts, sink, &renumber)?;
        files.extend(stats);
    }
    Ok(RunSummary {
        files: files.into_values().collect(),
        not_telemetry,
        ..RunSummary::default()
    })
}

/// One host: as `run_host` replays it. When a file can be read again as segments, a first pass
/// looks for time running backwards; its events are held (up to [`HOLD_EVENTS`]) and sent when it
/// found none, else the host is read again in segments, as a hunt does.
fn stream_host(
    group: &[Planned],
    stream: &HostStream,
    cfg: &Config,
    opts: &HuntOptions,
    sink: &mut dyn HostSink,
    renumber: &dyn Fn(Event) -> Event,
) -> Result<BTreeMap<u32, FileStats>> {
    let clock = anchor(group, cfg, opts);
    let host_has_stream = group.iter().any(|p| p.stream.is_some());
    let watched = !host_has_stream && group.iter().any(|p| p.format.segmentable() && p.seekable());
    // Every event to the sink, the files split at `known` (no file is watched: there is nothing to
    // watch, or every break is known).
    let direct = |sink: &mut dyn HostSink, known: &Breaks| {
        sink.begin(stream)?;
        let pass = merge(
            group,
            &clock,
            cfg,
            opts,
            PassPlan::alone(known, Watch::Off),
            &mut |ev| sink.event(renumber(ev)),
        )?;
        sink.end(stream)?;
        Ok::<_, floodwatch_core::Error>(pass.stats)
    };
    let none = Breaks::new();
    if !watched {
        return direct(sink, &none);
    }
    let mut held: Vec<Event> = Vec::new();
    let mut overflowed = false;
    let pass = merge(
        group,
        &clock,
        cfg,
        opts,
        PassPlan::alone(&none, Watch::Collect),
        &mut |ev| {
            if !overflowed {
                if held.len() < HOLD_EVENTS {
                    held.push(ev);
                } else {
                    overflowed = true;
                    held = Vec::new();
                }
            }
            Ok(())
        },
    )?;
    let (stats, breaks) = (pass.stats, pass.breaks);
    if breaks.values().all(Vec::is_empty) && !overflowed {
        sink.begin(stream)?;
        for ev in held {
            sink.event(renumber(ev))?;
        }
        sink.end(stream)?;
        return Ok(stats);
    }
    drop(held);
    direct(sink, &breaks)
}
