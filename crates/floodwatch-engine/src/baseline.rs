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

use crate::attribute;
use crate::context::{classify, SessionState};
use crate::process::{ProcId, ProcessTable};
use crate::scope::Scope;
use crate::window::WindowSignals;
use crate::BaselineMode;
use floodwatch_core::config::BaselineSettings;
use floodwatch_core::event::ProcInfo;
use floodwatch_core::time::NANOS_PER_DAY;
use floodwatch_core::{Error, Result, Ts};
use foldhash::HashMap;
use globset::{Glob, GlobMatcher};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

/// The learned signals, in this order everywhere (store columns, histograms, reasons).
pub const SIGNALS: [&str; 4] = [
    "spawns_per_s",
    "packets_per_s",
    "bytes_per_s",
    "connections_per_s",
];

/// What a baseline is kept for.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
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
            (Some(p), _) => p.clone(),
            (None, Some(a0)) => format!("name:{a0}"),
            (None, None) => "unknown".to_string(),
        },
    };
    if is_runner {
        if let Some(script) = info
            .args
            .as_ref()
            .and_then(|a| a.iter().skip(1).find(|s| !s.starts_with('-')))
        {
            id.push(' ');
            id.extend(script.chars().take(80));
        }
    }
    id
}

const H_MIN: f64 = 1e-3;
const H_PER_OCTAVE: f64 = 8.0;

/// A log-scale histogram of non-negative rates; zeros are counted apart. Weights are f64 so decay can
/// scale them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    pub zero: f64,
    pub buckets: BTreeMap<u16, f64>,
}

fn bucket_of(v: f64) -> u16 {
    let i = ((v / H_MIN).log2() * H_PER_OCTAVE).floor();
    i.clamp(0.0, f64::from(u16::MAX - 1)) as u16
}

fn bucket_lower(i: u16) -> f64 {
    H_MIN * (f64::from(i) / H_PER_OCTAVE).exp2()
}

impl Histogram {
    pub fn add(&mut self, v: f64, w: f64) {
        if !(v.is_finite() && v > 0.0) {
            self.zero += w;
        } else {
            *self.buckets.entry(bucket_of(v)).or_default() += w;
        }
    }

    pub fn total(&self) -> f64 {
        self.zero + self.buckets.values().sum::<f64>()
    }

    pub fn scale(&mut self, f: f64) {
        self.zero *= f;
        for w in self.buckets.values_mut() {
            *w *= f;
        }
    }

    pub fn merge(&mut self, other: &Histogram) {
        self.zero += other.zero;
        for (k, w) in &other.buckets {
            *self.buckets.entry(*k).or_default() += w;
        }
    }

    /// The bucket holding quantile `q`, as (lower, upper) bounds; zeros as (0, 0).
    fn quantile_bucket(&self, q: f64) -> Option<(f64, f64)> {
        let total = self.total();
        if total <= 0.0 {
            return None;
        }
        let target = q.clamp(0.0, 1.0) * total;
        let mut acc = self.zero;
        if acc >= target && self.zero > 0.0 {
            return Some((0.0, 0.0));
        }
        let mut last = None;
        for (k, w) in &self.buckets {
            acc += w;
            last = Some(*k);
            if acc >= target {
                return Some((bucket_lower(*k), bucket_lower(k + 1)));
            }
        }
        last.map(|k| (bucket_lower(k), bucket_lower(k + 1)))
    }

    /// Quantile at the bucket's geometric middle (for the median).
    pub fn quantile_mid(&self, q: f64) -> f64 {
        self.quantile_bucket(q).map_or(
            0.0,
            |(lo, hi)| if lo == 0.0 { 0.0 } else { (lo * hi).sqrt() },
        )
    }

    /// Quantile at the bucket's upper bound: a "normal" ceiling errs high, never low.
    pub fn quantile_upper(&self, q: f64) -> f64 {
        self.quantile_bucket(q).map_or(0.0, |(_, hi)| hi)
    }

    /// Median absolute deviation around `median`, from bucket middles.
    pub fn mad(&self, median: f64) -> f64 {
        let mut devs: Vec<(f64, f64)> = Vec::with_capacity(self.buckets.len() + 1);
        if self.zero > 0.0 {
            devs.push((median, self.zero));
        }
        for (k, w) in &self.buckets {
            let mid = (bucket_lower(*k) * bucket_lower(k + 1)).sqrt();
            devs.push(((mid - median).abs(), *w));
        }
        devs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let half = devs.iter().map(|d| d.1).sum::<f64>() / 2.0;
        let mut acc = 0.0;
        for (d, w) in devs {
            acc += w;
            if acc >= half {
                return d;
            }
        }
        0.0
    }
}

/// Robust statistics of one signal.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct SignalStats {
    pub median: f64,
    pub mad: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

/// Everything learned about one [`BaselineKey`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// Windows ever learned (not decayed).
    pub windows: u64,
    pub hist: [Histogram; 4],
    /// Largest value seen per signal (not decayed: the record stays a record).
    pub max: [f64; 4],
    pub first_seen: Ts,
    pub last_seen: Ts,
    /// The instant the histogram weights are expressed at: older weight has been decayed up to here.
    pub decay_ref: Ts,
    /// Kept in the store's `baseline_hosts` table, not in the serialized profile.
    #[serde(skip)]
    pub hosts: BTreeSet<String>,
}

impl Profile {
    pub fn new(at: Ts) -> Profile {
        Profile {
            windows: 0,
            hist: Default::default(),
            max: [0.0; 4],
            first_seen: at,
            last_seen: at,
            decay_ref: at,
            hosts: BTreeSet::new(),
        }
    }

    /// Brings the weights forward to `to`, halving them every `half_life`. Applied at most once a day
    /// per profile: decay is a drift over weeks, not a per-window cost.
    fn decay_to(&mut self, to: Ts, half_life_ns: i64) {
        let dt = to.0 - self.decay_ref.0;
        if dt < NANOS_PER_DAY || half_life_ns <= 0 {
            return;
        }
        let f = (-(dt as f64) / half_life_ns as f64).exp2();
        for h in &mut self.hist {
            h.scale(f);
        }
        self.decay_ref = to;
    }

    pub fn add(&mut self, values: [f64; 4], at: Ts, host: &str, half_life_ns: i64) {
        self.decay_to(at, half_life_ns);
        for (i, v) in values.iter().enumerate() {
            self.hist[i].add(*v, 1.0);
            if *v > self.max[i] {
                self.max[i] = *v;
            }
        }
        self.windows += 1;
        self.first_seen = self.first_seen.min(at);
        self.last_seen = self.last_seen.max(at);
        if !self.hosts.contains(host) {
            self.hosts.insert(host.to_string());
        }
    }

    /// Adds another profile of the same key (a new learn run into the stored one).
    pub fn merge(&mut self, mut other: Profile, half_life_ns: i64) {
        let to = self.decay_ref.max(other.decay_ref);
        self.decay_to(to, half_life_ns);
        other.decay_to(to, half_life_ns);
        for i in 0..4 {
            self.hist[i].merge(&other.hist[i]);
            self.max[i] = self.max[i].max(other.max[i]);
        }
        self.windows += other.windows;
        self.first_seen = self.first_seen.min(other.first_seen);
        self.last_seen = self.last_seen.max(other.last_seen);
        self.hosts.extend(other.hosts);
    }

    pub fn stats(&self, signal: usize) -> SignalStats {
        let h = &self.hist[signal.min(3)];
        let median = h.quantile_mid(0.5);
        SignalStats {
            median,
            mad: h.mad(median),
            p95: h.quantile_upper(0.95),
            p99: h.quantile_upper(0.99),
            max: self.max[signal.min(3)],
        }
    }

    /// Days between the first and the last learned window.
    pub fn days(&self) -> f64 {
        (self.last_seen.0 - self.first_seen.0) as f64 / NANOS_PER_DAY as f64
    }

    pub fn is_mature(&self, s: &BaselineSettings) -> bool {
        self.windows >= s.min_windows && self.days() >= s.min_days as f64
    }
}

/// Host roles: the first rule whose hostname glob matches, else the default role.
#[derive(Clone, Debug)]
pub struct Roles {
    pub default: String,
    rules: Vec<(String, GlobMatcher, String)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoles {
    default: Option<String>,
    #[serde(default)]
    role: Vec<RawRole>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRole {
    hosts: String,
    role: String,
}

impl Roles {
    pub fn new(default: &str) -> Roles {
        Roles {
            default: default.to_string(),
            rules: Vec::new(),
        }
    }

    /// A roles file: `default = "workstation"` and `[[role]] hosts = "build-*" role = "build-agent"`.
    pub fn load(path: &Path, default: &str) -> Result<Roles> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("reading roles {}", path.display()), e))?;
        Self::parse(&text, path, default)
    }

    pub fn parse(text: &str, path: &Path, default: &str) -> Result<Roles> {
        let bad = |message: String| Error::Config {
            path: path.to_path_buf(),
            message,
        };
        let raw: RawRoles = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
        let mut roles = Roles::new(raw.default.as_deref().unwrap_or(default));
        for (i, r) in raw.role.into_iter().enumerate() {
            let g = Glob::new(&r.hosts).map_err(|e| {
                bad(format!(
                    "role #{}: bad hosts glob {:?}: {e}",
                    i + 1,
                    r.hosts
                ))
            })?;
            roles.rules.push((r.hosts, g.compile_matcher(), r.role));
        }
        Ok(roles)
    }

    pub fn role_of(&self, host: &str) -> &str {
        self.rules
            .iter()
            .find(|(_, g, _)| g.is_match(host))
            .map_or(self.default.as_str(), |(_, _, r)| r.as_str())
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
pub enum Standing {
    /// No baseline for this identity, parent class and role.
    Missing,
    /// Too few windows or days: absolute thresholds judge.
    Immature,
    Mature,
}

/// How far a window's strongest hot signal is from its baseline.
#[derive(Clone, Debug, Serialize)]
pub struct Deviation {
    pub signal: &'static str,
    pub value: f64,
    pub p99: f64,
    /// value / p99 (infinite when the identity never had this signal).
    pub ratio: f64,
}

/// A baseline's verdict on one hot window.
#[derive(Clone, Debug, Serialize)]
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
    /// Every hot signal is within tolerance of a mature baseline: normal for this identity.
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
                crate::window::Trigger::Spawns => Some(0),
                crate::window::Trigger::Packets => Some(1),
                crate::window::Trigger::Bytes => Some(2),
                crate::window::Trigger::Connections => Some(3),
                crate::window::Trigger::Declared => None,
            })
            .collect();
        let declared = sig
            .triggers
            .iter()
            .any(|(t, _)| *t == crate::window::Trigger::Declared);
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
                    signal: SIGNALS[i],
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
            absorbed: mature && all_normal && !declared,
        }
    }
}

/// Profiles learned by one run, before they are merged into the store.
#[derive(Debug, Default)]
pub struct Learner {
    pub profiles: HashMap<BaselineKey, Profile>,
    /// Windows learned and windows skipped because an earlier learn already covered their time.
    pub windows: u64,
    pub skipped_windows: u64,
}

impl Learner {
    pub fn add(&mut self, key: &BaselineKey, values: [f64; 4], at: Ts, host: &str, half_life: i64) {
        self.windows += 1;
        match self.profiles.get_mut(key) {
            Some(p) => p.add(values, at, host, half_life),
            None => {
                let mut p = Profile::new(at);
                p.add(values, at, host, half_life);
                self.profiles.insert(key.clone(), p);
            }
        }
    }

    pub fn merge(&mut self, other: Learner, half_life: i64) {
        self.windows += other.windows;
        self.skipped_windows += other.skipped_windows;
        for (k, p) in other.profiles {
            match self.profiles.get_mut(&k) {
                Some(mine) => mine.merge(p, half_life),
                None => {
                    self.profiles.insert(k, p);
                }
            }
        }
    }
}

/// One host's use of baselines: each subject's key, kept for the subject's lifetime (identity and
/// parent class do not change within one), and the windows the host learned.
#[derive(Default)]
pub struct HostBaselines {
    keys: HashMap<ProcId, Arc<BaselineKey>>,
    pub learner: Learner,
}

impl HostBaselines {
    /// Learns the window (learn mode), or judges a hot one against its baseline (judge mode). Returns
    /// the judgement of a hot window when baselines are in use. `key` describes a subject not seen
    /// before (see [`key_of`]).
    pub fn window(
        &mut self,
        mode: &BaselineMode,
        half_life_ns: i64,
        host: &str,
        subject: ProcId,
        sig: &WindowSignals,
        key: impl FnOnce(&Roles) -> BaselineKey,
    ) -> Option<Judgement> {
        match mode {
            BaselineMode::Off => None,
            BaselineMode::Learn { roles, watermarks } => {
                if watermarks.get(host).is_some_and(|w| sig.start < *w) {
                    self.learner.skipped_windows += 1;
                    return None;
                }
                let key = self.key(subject, roles, key);
                self.learner
                    .add(&key, values_of(sig), sig.start, host, half_life_ns);
                None
            }
            BaselineMode::Judge { roles, baselines } => {
                if !sig.hot() {
                    return None;
                }
                let key = self.key(subject, roles, key);
                Some(baselines.judge(&key, host, sig))
            }
        }
    }

    fn key(
        &mut self,
        subject: ProcId,
        roles: &Roles,
        make: impl FnOnce(&Roles) -> BaselineKey,
    ) -> Arc<BaselineKey> {
        if let Some(k) = self.keys.get(&subject) {
            return k.clone();
        }
        let key = Arc::new(make(roles));
        self.keys.insert(subject, key.clone());
        key
    }

    /// Forgets the keys of subjects no longer in the process table.
    pub fn retain(&mut self, alive: impl Fn(ProcId) -> bool) {
        self.keys.retain(|id, _| alive(*id));
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_quantiles_are_within_a_bucket() {
        let mut h = Histogram::default();
        for i in 1..=1000 {
            h.add(i as f64, 1.0);
        }
        let med = h.quantile_mid(0.5);
        assert!((med / 500.0 - 1.0).abs() < 0.1, "median {med}");
        let p99 = h.quantile_upper(0.99);
        assert!((990.0..=990.0 * 1.1).contains(&p99), "p99 {p99}");
        // MAD of 1..1000 around 500 is 250.
        let mad = h.mad(med);
        assert!((mad / 250.0 - 1.0).abs() < 0.15, "mad {mad}");
    }

    #[test]
    fn zeros_count_and_decay_halves_weight() {
        let mut p = Profile::new(Ts::from_secs(0));
        let hl = 10 * NANOS_PER_DAY;
        for _ in 0..10 {
            p.add([0.0, 5.0, 0.0, 1.0], Ts::from_secs(0), "h", hl);
        }
        assert_eq!(p.hist[0].total(), 10.0);
        assert_eq!(p.stats(0).median, 0.0);
        // Ten days later the old weight is halved before the new window is added.
        p.add([0.0, 5.0, 0.0, 1.0], Ts(10 * NANOS_PER_DAY), "h", hl);
        assert!(
            (p.hist[1].total() - 6.0).abs() < 1e-9,
            "{}",
            p.hist[1].total()
        );
        assert_eq!(p.windows, 11);
        assert!((p.days() - 10.0).abs() < 1e-9);
    }

    #[test]
    fn merge_is_the_same_as_learning_together() {
        let hl = 30 * NANOS_PER_DAY;
        let mut a = Profile::new(Ts::from_secs(0));
        let mut b = Profile::new(Ts::from_secs(100));
        let mut both = Profile::new(Ts::from_secs(0));
        for i in 0..50 {
            let v = [0.0, i as f64, 0.0, 0.0];
            a.add(v, Ts::from_secs(i), "a", hl);
            both.add(v, Ts::from_secs(i), "a", hl);
        }
        for i in 0..50 {
            let v = [0.0, 100.0 + i as f64, 0.0, 0.0];
            b.add(v, Ts::from_secs(100 + i), "b", hl);
            both.add(v, Ts::from_secs(100 + i), "b", hl);
        }
        a.merge(b, hl);
        assert_eq!(a, both);
        assert_eq!(a.hosts.len(), 2);
    }

    #[test]
    fn roles_first_match_wins_else_default() {
        let r = Roles::parse(
            "default = \"workstation\"\n[[role]]\nhosts = \"build-*\"\nrole = \"build-agent\"\n[[role]]\nhosts = \"*\"\nrole = \"other\"\n",
            Path::new("roles.toml"),
            "default",
        )
        .unwrap();
        assert_eq!(r.role_of("build-mac-07"), "build-agent");
        assert_eq!(r.role_of("admin-mbp"), "other");
        let r = Roles::parse("", Path::new("r"), "default").unwrap();
        assert_eq!(r.role_of("x"), "default");
        assert!(Roles::parse(
            "[[role]]\nhosts = \"[\"\nrole = \"x\"\n",
            Path::new("r"),
            "d"
        )
        .is_err());
    }

    #[test]
    fn identity_prefers_signature_and_names_the_script() {
        let mut p = ProcInfo {
            path: Some("/bin/bash".into()),
            args: Some(vec![
                "/bin/bash".into(),
                "-e".into(),
                "/opt/ci/fetch.sh".into(),
            ]),
            ..ProcInfo::default()
        };
        assert_eq!(identity_of(&p, true), "/bin/bash /opt/ci/fetch.sh");
        p.signing.signing_id = Some("com.apple.bash".into());
        assert_eq!(identity_of(&p, true), "com.apple.bash /opt/ci/fetch.sh");
        p.signing.team_id = Some("ABCDE12345".into());
        assert_eq!(identity_of(&p, false), "com.apple.bash (team ABCDE12345)");
    }
}
