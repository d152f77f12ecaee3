//! Time per source: span, gaps (silences longer than `coverage.gap_factor` times the source's median
//! interval between events, and at least `coverage.min_gap`), and clock skew between a host's sources,
//! measured on pids both saw: a traffic source that shows a pid before the process source saw it start,
//! or after it exited (past `windows.traffic_exit_slack`), disagrees on the time by that much.

use floodwatch_core::config::Config;
use floodwatch_core::Ts;
use floodwatch_engine::observe::{FileSeen, HostSeen, PidSeen};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Clone, Debug, Serialize)]
pub struct Gap {
    pub from: Ts,
    pub to: Ts,
    pub secs: f64,
}

/// Gaps of a file longer than the threshold, oldest first, and the threshold itself in seconds.
pub fn gaps(f: &FileSeen, cfg: &Config) -> (Vec<Gap>, f64) {
    let median = f.median_interval_s().unwrap_or(0.0);
    let thr = (median * cfg.coverage.gap_factor).max(cfg.coverage.min_gap.as_secs_f64());
    let mut g: Vec<Gap> = f
        .gaps
        .iter()
        .map(|(a, b)| Gap {
            from: *a,
            to: *b,
            secs: (b.0 - a.0) as f64 / 1e9,
        })
        .filter(|g| g.secs > thr)
        .collect();
    g.sort_by_key(|g| g.from);
    (g, thr)
}

#[derive(Clone, Debug, Serialize)]
pub struct Skew {
    /// The process source (exec/fork/exit) and the traffic source compared.
    pub reference: String,
    pub other: String,
    pub pids_in_both: u64,
    /// Pids the other source saw outside their lifetime in the reference.
    pub outside: u64,
    /// The other source's clock relative to the reference's (negative: behind), median of those seen
    /// outside; None when they agree.
    pub offset_s: Option<f64>,
    pub text: String,
}

/// Clock skew between each process source and each traffic source of a host. `names` maps file ids
/// to short names for the text.
pub fn skew(seen: &HostSeen, names: &BTreeMap<u32, String>, cfg: &Config) -> Vec<Skew> {
    let tol = cfg.coverage.skew_tolerance.as_nanos() as i64;
    let exit_slack = cfg.windows.traffic_exit_slack.as_nanos() as i64;
    // Per file: its pids.
    let mut by_file: BTreeMap<u32, BTreeMap<i32, PidSeen>> = BTreeMap::new();
    for ((file, pid), p) in &seen.pids {
        by_file.entry(*file).or_default().insert(*pid, *p);
    }
    let is_process_source = |f: &u32| {
        seen.files
            .get(f)
            .is_some_and(|s| s.kinds.contains_key("exec") || s.kinds.contains_key("fork"))
    };
    let is_traffic_source = |f: &u32| {
        seen.files.get(f).is_some_and(|s| {
            s.kinds.contains_key("traffic_pid")
                || s.kinds.contains_key("traffic_pid_icmp")
                || s.kinds.contains_key("connect_pid")
        })
    };
    let mut out = Vec::new();
    for (a, pa) in by_file.iter().filter(|(f, _)| is_process_source(f)) {
        for (b, pb) in by_file
            .iter()
            .filter(|(f, _)| *f != a && is_traffic_source(f))
        {
            let mut both = 0u64;
            let mut offsets: Vec<i64> = Vec::new();
            for (pid, tb) in pb {
                let Some(ta) = pa.get(pid) else { continue };
                if ta.started.is_none() && ta.exited.is_none() {
                    continue;
                }
                both += 1;
                if let Some(s) = ta.started {
                    if tb.first.0 < s.0 - tol {
                        offsets.push(tb.first.0 - s.0);
                        continue;
                    }
                }
                if let Some(e) = ta.exited {
                    if tb.last.0 > e.0 + exit_slack + tol {
                        offsets.push(tb.last.0 - e.0 - exit_slack);
                    }
                }
            }
            if both == 0 {
                continue;
            }
            let name = |f: &u32| names.get(f).cloned().unwrap_or_else(|| format!("file#{f}"));
            let (ra, rb) = (name(a), name(b));
            // Most pids outside their lifetime, in one direction: a clock offset; a few: pid reuse or
            // sampling noise.
            let outside = offsets.len() as u64;
            let offset_s = if outside * 2 > both {
                offsets.sort_unstable();
                Some(offsets[offsets.len() / 2] as f64 / 1e9)
            } else {
                None
            };
            let text = match offset_s {
                // Only the part outside the lifetime shows: the offset is at least this.
                Some(o) => format!(
                    "{rb} runs at least {:.1} s {} {ra}: {outside} of {both} pid(s) seen by both fall outside their lifetime in {ra} (median)",
                    o.abs(),
                    if o < 0.0 { "behind" } else { "ahead of" }
                ),
                None => format!(
                    "{rb} and {ra} agree: {both} pid(s) seen by both, {outside} outside their lifetime in {ra} (tolerance {:?})",
                    cfg.coverage.skew_tolerance
                ),
            };
            out.push(Skew {
                reference: ra,
                other: rb,
                pids_in_both: both,
                outside,
                offset_s,
                text,
            });
        }
    }
    out
}
