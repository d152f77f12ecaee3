//! Learning: the profiles one run learns (merged into the store afterwards), and one host's use of
//! baselines as its windows close: learn each window, or judge each hot one.

use super::{values_of, BaselineKey, Judgement, Profile, Roles};
use crate::process::ProcId;
use crate::window::{Trigger, WindowSignals};
use crate::BaselineMode;
use floodwatch_core::Ts;
use foldhash::{HashMap, HashSet};
use serde::Serialize;
use std::sync::Arc;

/// Profiles learned by one run, before they are merged into the store.
#[derive(Debug, Default, bitcode::Encode, bitcode::Decode)]
pub struct Learner {
    pub profiles: HashMap<BaselineKey, Profile>,
    /// Windows learned and windows skipped because an earlier learn already covered their time.
    pub windows: u64,
    pub skipped_windows: u64,
    /// Windows kept out of the baseline for review: hot by the absolute thresholds, or a declared
    /// flood, for a key no reviewer has accepted on that host.
    pub held: Vec<HeldWindow>,
}

/// A window `baseline learn` did not learn: what it was and why.
#[derive(Clone, Debug, PartialEq, Serialize, bitcode::Encode, bitcode::Decode)]
pub struct HeldWindow {
    pub key: BaselineKey,
    pub host: String,
    pub start: Ts,
    /// Raw rates in [`super::SIGNALS`] order, as a learned window would be.
    pub values: [f64; 4],
    /// Why it was held: each trigger with its multiple of the threshold ("bytes_per_s 2.6x the
    /// threshold", "declared flood").
    pub why: String,
}

/// Keys a reviewer accepted on a host: their hot windows are learned like any other.
pub type Accepted = HashSet<(BaselineKey, String)>;

/// Why a hot window is hot, in words.
fn why_hot(sig: &WindowSignals) -> String {
    sig.triggers
        .iter()
        .map(|(t, ratio)| match t {
            Trigger::Declared => "declared flood".to_string(),
            Trigger::Spawns => format!("spawns_per_s {ratio:.1}x the threshold"),
            Trigger::Packets => format!("packets_per_s {ratio:.1}x the threshold"),
            Trigger::Bytes => format!("bytes_per_s {ratio:.1}x the threshold"),
            Trigger::Connections => format!("connections_per_s {ratio:.1}x the threshold"),
        })
        .collect::<Vec<_>>()
        .join(", ")
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
        self.held.extend(other.held);
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
#[derive(Default, bitcode::Encode, bitcode::Decode)]
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
            BaselineMode::Learn {
                roles,
                watermarks,
                accepted,
            } => {
                if watermarks.get(host).is_some_and(|w| sig.start < *w) {
                    self.learner.skipped_windows += 1;
                    return None;
                }
                let key = self.key(subject, roles, key);
                // A window that would alert is not "normal" until a reviewer says so: learning it
                // would let an attacker who persists through the learning period train the detector.
                if sig.hot() && !accepted.contains(&((*key).clone(), host.to_string())) {
                    self.learner.held.push(HeldWindow {
                        key: (*key).clone(),
                        host: host.to_string(),
                        start: sig.start,
                        values: values_of(sig),
                        why: why_hot(sig),
                    });
                    return None;
                }
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
