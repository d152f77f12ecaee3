//! Baselines: what normal outbound activity looks like per identity × parent class × host role.
//!
//! A [`Profile`] keeps, per window signal (tool spawns/s, outbound packets/s, outbound bytes/s, new
//! connections/s), a log-scale histogram of the rates of every BurstTimeWindow in which the subject was
//! active. Histograms merge exactly and decay by scaling, so learning is incremental (a second
//! `baseline learn` adds to the first) and old behaviour fades with `baseline.half_life`. Median, MAD, p95
//! and p99 are read from the histogram (bucket width 2^(1/8), about 9%).
//!
//! Hunting with baselines never lowers the bar below the absolute thresholds: a window must first be hot
//! by the config's thresholds; a *mature* baseline then absorbs it when every hot signal is within
//! `tolerance` × that identity's p99 (a CI runner's usual curl storm), and otherwise the alert carries the
//! deviation. An immature or missing baseline leaves the absolute thresholds in charge, and the alert says so.
//!
//! Files: `profile` (histograms and what is learned per key), `roles` (host roles), `learn` (what a
//! run learns, and a host's use of baselines as its windows close); judging is here.

mod learn;
mod profile;
mod roles;

pub use learn::{Accepted, HeldWindow, HostBaselines, Learner};
pub use profile::{Histogram, Profile, SignalStats};
pub use roles::Roles;

use crate::attribute;
use crate::context::{classify, SessionState};
use crate::process::{ProcId, ProcessTable};
use crate::scope::Scope;
use crate::window::{Trigger, WindowSignals};
use floodwatch_core::config::BaselineSettings;
use floodwatch_core::event::ProcInfo;
use foldhash::HashMap;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The learned signals, in this order everywhere (store columns, histograms, reasons).
pub const SIGNALS: [&str; 4] = [
    "spawns_per_s",
    "packets_per_s",
    "bytes_per_s",
    "connections_per_s",
];

/// What a baseline is kept for.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    bitcode::Encode,
    bitcode::Decode,
)]
pub struct BaselineKey {
    /// Code-signing id (+ team id), else the executable path, else the process name; for scripts, plus
    /// the script (or `-c` text) they run.
    pub identity: String,
    /// How it was launched: `launchd_daemon`, `launchd_agent`, `cron`, `terminal`, `ssh`, `app`, ...
    pub parent_class: String,
    pub role: String,
}

/// The identity of a process for baselining. Scripts share their interpreter's signature, so the script
/// they run is part of who they are: `/bin/bash /opt/ci/fetch.sh` is not `/bin/bash /tmp/x.sh`.
pub fn identity_of(info: &ProcInfo, is_runner: bool) -> String {
    let sig = info.signing.signing_id.as_deref().filter(|s| !s.is_empty());
    let team = info.signing.team_id.as_deref().filter(|s| !s.is_empty());
    let mut id = match (sig, team) {
        (Some(s), Some(t)) => format!("{s} (team {t})"),
        (Some(s), None) => s.to_string(),
        (None, _) => match (&info.path, info.args.as_ref().and_then(|a| a.first())) {
            (Some(p), _) => p.to_string(),
            (None, Some(a0)) => format!("name:{a0}"),
            (None, None) => "unknown".to_string(),
        },
    };
    if is_runner {
        if let Some(script) = info.script_arg() {
            id.push(' ');
            id.extend(script.chars().take(80));
        }
    }
    id
}

/// The baseline key of a subject: identity × parent class × this host's role.
pub fn key_of(
    procs: &ProcessTable,
    scope: &Scope,
    session: &SessionState,
    host: &str,
    subject: ProcId,
    roles: &Roles,
) -> BaselineKey {
    let ctx = classify(procs, scope, subject, subject, session);
    let identity = match procs.get(subject) {
        Some(p) => identity_of(&p.info, attribute::is_runner(procs, scope, subject)),
        None => "unknown".to_string(),
    };
    BaselineKey {
        identity,
        parent_class: ctx.launched_by.as_str().to_string(),
        role: roles.role_of(host).to_string(),
    }
}

/// Baselines in use by a hunt.
#[derive(Debug)]
pub struct Baselines {
    pub profiles: HashMap<BaselineKey, Profile>,
    pub settings: BaselineSettings,
    /// Roles with at least one learned baseline.
    roles_learned: BTreeSet<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[derive(bitcode::Encode, bitcode::Decode)]
pub enum Standing {
    /// No baseline for this identity, parent class and role.
    Missing,
    /// Too few windows or days: absolute thresholds judge.
    Immature,
    Mature,
}

/// How far a window's strongest hot signal is from its baseline.
#[derive(Clone, Debug, Serialize, bitcode::Encode, bitcode::Decode)]
pub struct Deviation {
    pub signal: String,
    pub value: f64,
    pub p99: f64,
    /// value / p99 (infinite when the identity never had this signal).
    pub ratio: f64,
}

/// A baseline's verdict on one hot window.
#[derive(Clone, Debug, Serialize, bitcode::Encode, bitcode::Decode)]
pub struct Judgement {
    pub key: BaselineKey,
    pub standing: Standing,
    pub windows: u64,
    pub days: f64,
    pub hosts: usize,
    /// The identity was learned on this host before (in this parent class and role).
    pub seen_on_host: bool,
    /// Any baseline was learned for this role: "first seen" means something only then.
    pub role_learned: bool,
    pub deviation: Option<Deviation>,
    /// A measured signal is above `baseline.max_raise` × its absolute threshold: no baseline absorbs it.
    pub over_ceiling: bool,
    /// Every hot signal is within tolerance of a mature baseline (and under the ceiling): normal for
    /// this identity.
    pub absorbed: bool,
}

impl Judgement {
    /// Ranks judgements of an episode's windows: the one to explain the alert with.
    pub fn strength(&self) -> f64 {
        self.deviation.as_ref().map_or(0.0, |d| d.ratio.min(1e12))
    }
}

/// A window's signal values in [`SIGNALS`] order. Raw rates, not the protocol-weighted ones the absolute
/// thresholds use: a baseline compares an identity with itself (same protocols), and suppression
/// ceilings suggested from it are in the units people read.
pub fn values_of(sig: &WindowSignals) -> [f64; 4] {
    [
        sig.spawns_per_s,
        sig.packets_per_s,
        sig.bytes_per_s,
        sig.connections_per_s,
    ]
}

impl Baselines {
    pub fn new(profiles: HashMap<BaselineKey, Profile>, settings: BaselineSettings) -> Baselines {
        let roles_learned = profiles.keys().map(|k| k.role.clone()).collect();
        Baselines {
            profiles,
            settings,
            roles_learned,
        }
    }

    pub fn judge(&self, key: &BaselineKey, host: &str, sig: &WindowSignals) -> Judgement {
        let Some(p) = self.profiles.get(key) else {
            return Judgement {
                key: key.clone(),
                standing: Standing::Missing,
                windows: 0,
                days: 0.0,
                hosts: 0,
                seen_on_host: false,
                role_learned: self.roles_learned.contains(&key.role),
                deviation: None,
                over_ceiling: false,
                absorbed: false,
            };
        };
        let mature = p.is_mature(&self.settings);
        let values = values_of(sig);
        // Hot measured signals (declared floods are intent, never "normal").
        let hot: Vec<usize> = sig
            .triggers
            .iter()
            .filter_map(|(t, _)| match t {
                Trigger::Spawns => Some(0),
                Trigger::Packets => Some(1),
                Trigger::Bytes => Some(2),
                Trigger::Connections => Some(3),
                Trigger::Declared => None,
            })
            .collect();
        let declared = sig.triggers.iter().any(|(t, _)| *t == Trigger::Declared);
        // The ceiling: whatever was learned, a signal beyond max_raise x its threshold alerts.
        let over_ceiling = sig
            .triggers
            .iter()
            .any(|(t, ratio)| *t != Trigger::Declared && *ratio > self.settings.max_raise);
        let mut deviation: Option<Deviation> = None;
        let mut all_normal = !hot.is_empty();
        for i in hot {
            let p99 = p.stats(i).p99;
            let ratio = if p99 > 0.0 {
                values[i] / p99
            } else {
                f64::INFINITY
            };
            if ratio > self.settings.tolerance {
                all_normal = false;
            }
            if deviation.as_ref().is_none_or(|d| ratio > d.ratio) {
                deviation = Some(Deviation {
                    signal: SIGNALS[i].to_string(),
                    value: values[i],
                    p99,
                    ratio,
                });
            }
        }
        Judgement {
            key: key.clone(),
            standing: if mature {
                Standing::Mature
            } else {
                Standing::Immature
            },
            windows: p.windows,
            days: p.days(),
            hosts: p.hosts.len(),
            seen_on_host: p.hosts.contains(host),
            role_learned: true,
            deviation,
            over_ceiling,
            absorbed: mature && all_normal && !declared && !over_ceiling,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_prefers_signature_and_names_the_script() {
        let mut p = ProcInfo {
            path: Some("/bin/bash".into()),
            args: Some(["/bin/bash".into(), "-e".into(), "/opt/ci/fetch.sh".into()].into()),
            ..ProcInfo::default()
        };
        assert_eq!(identity_of(&p, true), "/bin/bash /opt/ci/fetch.sh");
        p.signing.signing_id = Some("com.apple.bash".into());
        assert_eq!(identity_of(&p, true), "com.apple.bash /opt/ci/fetch.sh");
        p.signing.team_id = Some("ABCDE12345".into());
        assert_eq!(identity_of(&p, false), "com.apple.bash (team ABCDE12345)");
    }

    /// A mature baseline that learned a 20 MB/s upload absorbs it (2.5x the byte threshold), but the
    /// same identity far above the ceiling (max_raise x the threshold) alerts whatever was learned.
    #[test]
    fn a_baseline_raises_the_bar_only_up_to_the_ceiling() {
        use floodwatch_core::config::Config;
        use floodwatch_core::time::NANOS_PER_DAY;
        use floodwatch_core::Ts;
        let cfg = Config::default();
        let key = BaselineKey {
            identity: "com.ibm.aspera.ascp".into(),
            parent_class: "launchd_agent".into(),
            role: "default".into(),
        };
        let hl = 30 * NANOS_PER_DAY;
        let mut p = Profile::new(Ts(0));
        for d in 0..14 {
            for w in 0..20 {
                // An upload at 20 MB/s and, once a day, a record burst of 200 MB/s.
                let bytes = if w == 0 { 200e6 } else { 20e6 };
                p.add(
                    [0.0, 0.0, bytes, 0.0],
                    Ts(d * NANOS_PER_DAY + w * 30_000_000_000),
                    "mac-up",
                    hl,
                );
            }
        }
        let mut profiles = HashMap::default();
        profiles.insert(key.clone(), p);
        let b = Baselines::new(profiles, cfg.baseline.clone());
        let sig = |bytes: f64| WindowSignals {
            start: Ts(20 * NANOS_PER_DAY),
            spawns_per_s: 0.0,
            packets_per_s: 0.0,
            weighted_packets_per_s: 0.0,
            bytes_per_s: bytes,
            weighted_bytes_per_s: bytes * 1.25,
            connections_per_s: 0.0,
            triggers: vec![(Trigger::Bytes, bytes * 1.25 / cfg.thresholds.bytes_per_s)],
            top_destination: None,
            closest: None,
        };
        let usual = b.judge(&key, "mac-up", &sig(20e6));
        assert_eq!(usual.standing, Standing::Mature);
        assert!(usual.absorbed && !usual.over_ceiling, "{usual:?}");
        // 150 MB/s is within 1.5x the learned p99 (the record bursts) but 18.75x the threshold.
        let big = b.judge(&key, "mac-up", &sig(150e6));
        assert!(big.over_ceiling && !big.absorbed, "{big:?}");
    }
}
