//! `floodwatch coverage`: what the collected telemetry lets AN0971 see, per host and for the fleet.
//! Files are discovered, sniffed and read exactly as `hunt` reads them (the same pipeline, with the
//! engine keeping per-source observations); the report says which channels are observable and through
//! which sources ([`channels`]), the time span, gaps, clock skew and rejected lines of each source
//! ([`timeline`]), how much outbound volume can be tied to a process with exec context and which context
//! fields exec events carry, and a verdict per attack path with the reason and the fix ([`verdicts`]).
//! [`selftest`] prints a bounded lab self-test and checks the telemetry it left.

pub mod channels;
pub mod render;
pub mod selftest;
pub mod timeline;
pub mod verdicts;

use channels::{Cap, Channel};
use floodwatch_core::config::Config;
use floodwatch_core::finding::NetworkClass;
use floodwatch_core::Ts;
use floodwatch_engine::observe::{Bytes, ExecFields, HostSeen};
use floodwatch_runtime::HuntResult;
use floodwatch_sinks::summary::SkippedFile;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use timeline::{Gap, Skew};
use verdicts::{AttackPath, PathVerdict, Verdict};

#[derive(Clone, Debug, Serialize)]
pub struct SourceRow {
    pub path: String,
    pub format: String,
    pub events: u64,
    pub rejected: u64,
    /// Rejected lines per reason.
    pub rejected_reasons: BTreeMap<String, u64>,
    pub first: Option<Ts>,
    pub last: Option<Ts>,
    pub span_s: f64,
    pub median_interval_s: Option<f64>,
    /// A silence longer than this is a gap (seconds).
    pub gap_threshold_s: f64,
    pub gaps: Vec<Gap>,
    /// What this file proved it can show.
    pub capabilities: Vec<Cap>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ChannelRow {
    pub channel: Channel,
    pub title: String,
    pub observed: bool,
    /// `file (format): what it gives`.
    pub sources: Vec<String>,
    /// What to collect when the channel is missing (empty when observed).
    pub fix: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Share {
    pub what: String,
    pub count: u64,
    pub of: u64,
    pub share: Option<f64>,
}

fn share(what: &str, count: u64, of: u64) -> Share {
    Share {
        what: what.to_string(),
        count,
        of,
        share: (of > 0).then(|| count as f64 / of as f64),
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct ByteShares {
    /// Outbound bytes by attribution: a process with exec context, a pid only, no pid. Counted per
    /// source record: a network sensor and nettop may both count the same packets.
    pub shares: Vec<Share>,
    /// The busiest names behind pid-only bytes, and addresses behind pid-less bytes (top 5 each).
    pub pid_only_top: Vec<(String, u64)>,
    pub no_pid_top: Vec<(String, u64)>,
}

fn byte_shares(b: &Bytes) -> ByteShares {
    let total = b.exec_context + b.pid_only + b.no_pid;
    let top = |m: &BTreeMap<String, u64>| {
        let mut v: Vec<(String, u64)> = m.iter().map(|(k, v)| (k.clone(), *v)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v.truncate(5);
        v
    };
    ByteShares {
        shares: vec![
            share("a process with exec context", b.exec_context, total),
            share("a pid without exec context", b.pid_only, total),
            share("no pid (network-only)", b.no_pid, total),
        ],
        pid_only_top: top(&b.pid_only_by_name),
        no_pid_top: top(&b.no_pid_by_local),
    }
}

fn exec_shares(e: &ExecFields) -> Vec<Share> {
    vec![
        share("argv", e.argv, e.execs),
        share("parent", e.parent, e.execs),
        share("user", e.user, e.execs),
        share("tty (known present or absent)", e.tty, e.execs),
        share("session id", e.session, e.execs),
        share("signing facts", e.signing, e.execs),
    ]
}

#[derive(Clone, Debug, Serialize)]
pub struct HostCoverage {
    pub host: String,
    pub capabilities: Vec<Cap>,
    pub channels: Vec<ChannelRow>,
    pub verdicts: Vec<PathVerdict>,
    pub sources: Vec<SourceRow>,
    pub skew: Vec<Skew>,
    pub bytes: ByteShares,
    pub exec_events: u64,
    pub exec_fields: Vec<Share>,
    pub alerts: u64,
    pub network_floods: u64,
    pub network_scans: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct FleetChannel {
    pub channel: Channel,
    pub title: String,
    pub hosts: u64,
    pub of: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct FleetVerdict {
    pub path: AttackPath,
    pub title: String,
    pub detectable: u64,
    pub degraded: u64,
    pub blind: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct FleetCoverage {
    pub hosts: u64,
    pub channels: Vec<FleetChannel>,
    pub verdicts: Vec<FleetVerdict>,
    pub bytes: ByteShares,
    pub exec_events: u64,
    pub exec_fields: Vec<Share>,
    pub rejected_lines: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct CoverageReport {
    pub fleet: FleetCoverage,
    pub hosts: Vec<HostCoverage>,
    pub not_telemetry: Vec<SkippedFile>,
}

/// Builds the report from an observed hunt.
pub fn analyze(res: &HuntResult, cfg: &Config) -> CoverageReport {
    let mut hosts: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for (id, inp) in res.inputs.iter().enumerate() {
        hosts.entry(inp.host.clone()).or_default().push(id as u32);
    }
    let empty = HostSeen::default();
    let mut out = Vec::new();
    for (host, ids) in &hosts {
        let seen = res.engine.observed.get(host).unwrap_or(&empty);
        let names: BTreeMap<u32, String> = ids
            .iter()
            .filter_map(|id| res.inputs.get(*id as usize).map(|i| (*id, short(&i.path))))
            .collect();
        let mut caps: BTreeSet<Cap> = BTreeSet::new();
        let mut sources = Vec::new();
        let mut channel_sources: BTreeMap<Channel, Vec<String>> = BTreeMap::new();
        for id in ids {
            let Some(inp) = res.inputs.get(*id as usize) else {
                continue;
            };
            let fseen = seen.files.get(id);
            let mut proven = channels::proven(inp.format, fseen);
            if channels::icmp_with_pid(fseen) {
                proven.push((Cap::IcmpPid, "ICMP packets per pid"));
            }
            for (c, _) in &proven {
                caps.insert(*c);
            }
            // One entry per channel and file: "eslogger.jsonl (eslogger): tty of every exec, session events".
            for ch in Channel::ALL {
                let notes: Vec<&str> = proven
                    .iter()
                    .filter(|(c, _)| ch.caps().contains(c))
                    .map(|(_, n)| *n)
                    .collect();
                if !notes.is_empty() {
                    channel_sources.entry(ch).or_default().push(format!(
                        "{} ({}): {}",
                        short(&inp.path),
                        inp.format.name(),
                        notes.join(", ")
                    ));
                }
            }
            let stats = res.summary.files.iter().find(|f| f.path == inp.path);
            let (g, thr) = fseen
                .map(|f| timeline::gaps(f, cfg))
                .unwrap_or((Vec::new(), 0.0));
            let (first, last) = (fseen.and_then(|f| f.first), fseen.and_then(|f| f.last));
            sources.push(SourceRow {
                path: inp.path.clone(),
                format: inp.format.name().to_string(),
                events: fseen.map_or(0, |f| f.events),
                rejected: stats.map_or(0, |s| s.rejected),
                rejected_reasons: stats
                    .map(|s| {
                        s.reject_reasons()
                            .map(|(r, n)| (r.to_string(), n))
                            .collect()
                    })
                    .unwrap_or_default(),
                first,
                last,
                span_s: match (first, last) {
                    (Some(a), Some(b)) => (b.0 - a.0) as f64 / 1e9,
                    _ => 0.0,
                },
                median_interval_s: fseen.and_then(|f| f.median_interval_s()),
                gap_threshold_s: thr,
                gaps: g,
                capabilities: proven.iter().map(|(c, _)| *c).collect(),
            });
        }
        let caps: Vec<Cap> = caps.into_iter().collect();
        let channels = Channel::ALL
            .iter()
            .map(|ch| {
                let observed = ch.caps().iter().any(|c| caps.contains(c));
                ChannelRow {
                    channel: *ch,
                    title: ch.title().to_string(),
                    observed,
                    sources: channel_sources.remove(ch).unwrap_or_default(),
                    fix: if observed {
                        String::new()
                    } else {
                        ch.fix().to_string()
                    },
                }
            })
            .collect();
        let net = |c: NetworkClass| {
            res.findings
                .iter()
                .filter(|f| &f.host == host && f.class == c)
                .count() as u64
        };
        out.push(HostCoverage {
            host: host.clone(),
            verdicts: verdicts::judge(&caps),
            capabilities: caps,
            channels,
            sources,
            skew: timeline::skew(seen, &names, cfg),
            bytes: byte_shares(&seen.bytes),
            exec_events: seen.exec_fields.execs,
            exec_fields: exec_shares(&seen.exec_fields),
            alerts: res.alerts.iter().filter(|a| &a.alert.host == host).count() as u64,
            network_floods: net(NetworkClass::Flood),
            network_scans: net(NetworkClass::Scan),
        });
    }
    let fleet = fleet(&out, res);
    CoverageReport {
        fleet,
        hosts: out,
        not_telemetry: res.summary.not_telemetry.clone(),
    }
}

fn fleet(hosts: &[HostCoverage], res: &HuntResult) -> FleetCoverage {
    let n = hosts.len() as u64;
    let mut all = HostSeen::default();
    for seen in res.engine.observed.values() {
        all.absorb(seen.clone());
    }
    FleetCoverage {
        hosts: n,
        channels: Channel::ALL
            .iter()
            .map(|ch| FleetChannel {
                channel: *ch,
                title: ch.title().to_string(),
                hosts: hosts
                    .iter()
                    .filter(|h| h.channels.iter().any(|c| c.channel == *ch && c.observed))
                    .count() as u64,
                of: n,
            })
            .collect(),
        verdicts: AttackPath::ALL
            .iter()
            .map(|p| {
                let count = |v: Verdict| {
                    hosts
                        .iter()
                        .filter(|h| h.verdicts.iter().any(|x| x.path == *p && x.verdict == v))
                        .count() as u64
                };
                FleetVerdict {
                    path: *p,
                    title: p.title().to_string(),
                    detectable: count(Verdict::Detectable),
                    degraded: count(Verdict::Degraded),
                    blind: count(Verdict::Blind),
                }
            })
            .collect(),
        bytes: byte_shares(&all.bytes),
        exec_events: all.exec_fields.execs,
        exec_fields: exec_shares(&all.exec_fields),
        rejected_lines: res.summary.files.iter().map(|f| f.rejected).sum(),
    }
}

/// The last two path components: `build-mac-07/nettop.csv`.
fn short(path: &str) -> String {
    let parts: Vec<&str> = path.rsplit('/').take(2).collect();
    parts.into_iter().rev().collect::<Vec<_>>().join("/")
}
