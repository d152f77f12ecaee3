//! Profiles: per baseline key, a log-scale histogram of each signal's window rates (mergeable exactly,
//! decayed by scaling), and the robust statistics read from it.

use floodwatch_core::config::BaselineSettings;
use floodwatch_core::time::NANOS_PER_DAY;
use floodwatch_core::Ts;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

const H_MIN: f64 = 1e-3;
const H_PER_OCTAVE: f64 = 8.0;

/// A log-scale histogram of non-negative rates; zeros are counted apart. Weights are f64 so decay can
/// scale them.
#[derive(
    Clone, Debug, Default, PartialEq, Serialize, Deserialize, bitcode::Encode, bitcode::Decode,
)]
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
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, bitcode::Encode, bitcode::Decode)]
pub struct SignalStats {
    pub median: f64,
    pub mad: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

/// Everything learned about one [`BaselineKey`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, bitcode::Encode, bitcode::Decode)]
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

/// Midnight UTC of `t`'s day.
fn day_start(t: Ts) -> Ts {
    Ts(t.0.div_euclid(NANOS_PER_DAY) * NANOS_PER_DAY)
}

impl Profile {
    pub fn new(at: Ts) -> Profile {
        Profile {
            windows: 0,
            hist: Default::default(),
            max: [0.0; 4],
            first_seen: at,
            last_seen: at,
            decay_ref: day_start(at),
            hosts: BTreeSet::new(),
        }
    }

    /// Brings the weights forward to the start of `to`'s UTC day, halving them every `half_life`.
    /// Whole days only (decay is a drift over weeks, not a per-window cost), and on a fixed grid: a
    /// fortnight learned in one run and learned a day per run decay by the same steps, so they give
    /// the same baseline.
    fn decay_to(&mut self, to: Ts, half_life_ns: i64) {
        let to = day_start(to);
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
}
