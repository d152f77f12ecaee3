//! Alert lifecycle: one alert per subject per episode. An episode opens on the first hot window, is updated
//! by each later hot window, and closes after `quiet_period` without one. Its id is a UUIDv5 of the host,
//! the subject's identity and the episode's first window, so the same input always gives the same ids.

use crate::declared::Declared;
use crate::process::ProcId;
use crate::score::Peaks;
use crate::window::{Trigger, WindowAcc, WindowSignals};
use floodwatch_core::alert::{Evidence, WindowPoint};
use floodwatch_core::event::Proto;
use floodwatch_core::Ts;
// Ordered maps: sums over them (destination shares) must not depend on hash order, or re-runs could
// differ in the last digit.
use std::collections::BTreeMap;

/// Namespace for alert ids (a fixed random UUID: changing it changes every id).
pub const ALERT_NAMESPACE: uuid::Uuid =
    uuid::Uuid::from_u128(0x5f0c_9a51_8a2e_4c1b_9d4e_a971_0d37_2b10);

/// Timeline points kept per episode (a day of 30 s windows); older ones are dropped from the chart only.
const MAX_TIMELINE: usize = 2880;

#[derive(Clone, bitcode::Encode, bitcode::Decode)]
pub struct Episode {
    pub id: String,
    pub subject: ProcId,
    pub first_seen: Ts,
    pub last_seen: Ts,
    pub last_hot_end: Ts,
    pub hot_windows: u32,
    pub peaks: Peaks,
    pub total_bytes_out: f64,
    pub total_packets_out: f64,
    pub total_spawns: u64,
    pub total_connections: u64,
    /// Inbound bytes of the measured traffic samples, and the sample count (did the target answer?).
    pub total_bytes_in: f64,
    pub traffic_samples: u64,
    pub spawned: BTreeMap<String, u64>,
    pub destinations: BTreeMap<String, f64>,
    pub protos: Vec<Proto>,
    /// How the command line declared the protocol the source did not report (see [`WindowAcc`]).
    pub proto_from_cmdline: Option<String>,
    pub declared: Option<Declared>,
    pub estimated_packets: bool,
    pub member: ProcId,
    pub timeline: Vec<WindowPoint>,
    pub evidences: Vec<Evidence>,
    /// Evidence items beyond `output.max_evidences`: counted, not kept.
    pub evidence_dropped: u64,
    /// The host's session state when the episode opened (locked, logged out, ssh...): the context
    /// that matters is the flood's, not the one when the alert is written.
    pub session: Option<crate::context::SessionState>,
    /// The baseline's verdict on the episode's most deviant hot window (hunts with baselines).
    pub baseline: Option<crate::baseline::Judgement>,
}

impl Episode {
    pub fn new(
        host: &str,
        subject: ProcId,
        identity: &str,
        window_start: Ts,
        member: ProcId,
    ) -> Episode {
        let name = format!("{host}|{identity}|{}", window_start.0);
        Episode {
            id: uuid::Uuid::new_v5(&ALERT_NAMESPACE, name.as_bytes()).to_string(),
            subject,
            first_seen: window_start,
            last_seen: window_start,
            last_hot_end: window_start,
            hot_windows: 0,
            peaks: Peaks::default(),
            total_bytes_out: 0.0,
            total_packets_out: 0.0,
            total_spawns: 0,
            total_connections: 0,
            total_bytes_in: 0.0,
            traffic_samples: 0,
            spawned: BTreeMap::new(),
            destinations: BTreeMap::new(),
            protos: Vec::new(),
            proto_from_cmdline: None,
            declared: None,
            estimated_packets: false,
            member,
            timeline: Vec::new(),
            evidences: Vec::new(),
            evidence_dropped: 0,
            session: None,
            baseline: None,
        }
    }

    /// Keeps the judgement that explains the episode best: the largest deviation from baseline.
    pub fn note_baseline(&mut self, j: crate::baseline::Judgement) {
        if self
            .baseline
            .as_ref()
            .is_none_or(|b| j.strength() > b.strength())
        {
            self.baseline = Some(j);
        }
    }

    pub fn point(sig: &WindowSignals, hot: bool) -> WindowPoint {
        WindowPoint {
            start: sig.start,
            packets_per_s: sig.packets_per_s,
            bytes_per_s: sig.bytes_per_s,
            connections_per_s: sig.connections_per_s,
            spawns_per_s: sig.spawns_per_s,
            hot,
        }
    }

    fn push_point(&mut self, p: WindowPoint) {
        if self.timeline.len() >= MAX_TIMELINE {
            self.timeline.remove(0);
        }
        self.timeline.push(p);
    }

    /// A hot window joins the episode.
    pub fn absorb(
        &mut self,
        sig: &WindowSignals,
        acc: WindowAcc,
        window_end: Ts,
        max_evidence: usize,
    ) {
        self.hot_windows += 1;
        self.last_seen = window_end;
        self.last_hot_end = window_end;
        self.note_peaks(sig);
        self.fold(acc, max_evidence);
        self.push_point(Self::point(sig, true));
    }

    /// Adds a half-window's counts, tools, destinations and evidence (each half is folded once, though
    /// every half is judged in two overlapping windows).
    pub fn fold(&mut self, acc: WindowAcc, max_evidence: usize) {
        self.total_bytes_out += acc.bytes();
        self.total_packets_out += acc.packets();
        self.estimated_packets |= acc.packets_estimated > acc.packets_measured;
        self.total_spawns += acc.spawns;
        self.total_connections += acc.connections;
        self.total_bytes_in += acc.bytes_in;
        self.traffic_samples += acc.traffic_samples;
        for (k, v) in acc.spawned {
            *self.spawned.entry(k).or_default() += v;
        }
        for (k, v) in acc.destinations {
            if self.destinations.len() < 256 || self.destinations.contains_key(&k) {
                *self.destinations.entry(k).or_default() += v;
            }
        }
        for pr in acc.protos {
            if !self.protos.contains(&pr) {
                self.protos.push(pr);
            }
        }
        if self.proto_from_cmdline.is_none() {
            self.proto_from_cmdline = acc.proto_from_cmdline;
        }
        if self.declared.is_none() {
            self.declared = acc.declared;
        }
        if let Some((m, _)) = acc.busiest_member {
            self.member = m;
        }
        self.evidence_dropped += acc.evidence_dropped;
        for e in acc.evidence {
            if self.evidences.len() < max_evidence {
                self.evidences.push(e.grow());
            } else {
                self.evidence_dropped += 1;
            }
        }
    }

    /// `watch` opens an episode as soon as the current window has already crossed a threshold: peaks only,
    /// the window itself is absorbed (and counted) when it ends.
    pub fn early(&mut self, sig: &WindowSignals, now: Ts) {
        self.last_seen = now;
        self.note_peaks(sig);
    }

    fn note_peaks(&mut self, sig: &WindowSignals) {
        let p = &mut self.peaks;
        p.spawns_per_s = p.spawns_per_s.max(sig.spawns_per_s);
        p.packets_per_s = p.packets_per_s.max(sig.packets_per_s);
        p.weighted_packets_per_s = p.weighted_packets_per_s.max(sig.weighted_packets_per_s);
        p.bytes_per_s = p.bytes_per_s.max(sig.bytes_per_s);
        p.weighted_bytes_per_s = p.weighted_bytes_per_s.max(sig.weighted_bytes_per_s);
        p.connections_per_s = p.connections_per_s.max(sig.connections_per_s);
        for (t, r) in &sig.triggers {
            if *t != Trigger::Declared {
                p.note_ratio(*t, *r);
            }
        }
    }

    /// A quiet (or cool) window while the episode is open: recorded for the chart only.
    pub fn quiet_window(&mut self, sig: Option<&WindowSignals>, start: Ts, window_end: Ts) {
        self.last_seen = self.last_seen.max(window_end.min(self.last_hot_end));
        let p = match sig {
            Some(s) => Self::point(s, false),
            None => WindowPoint {
                start,
                packets_per_s: 0.0,
                bytes_per_s: 0.0,
                connections_per_s: 0.0,
                spawns_per_s: 0.0,
                hot: false,
            },
        };
        self.push_point(p);
    }

    /// The destination with the largest share over the episode.
    pub fn top_destination(&self) -> Option<(&str, f64)> {
        let total: f64 = self.destinations.values().sum();
        if total <= 0.0 {
            return None;
        }
        self.destinations
            .iter()
            .filter(|(k, _)| k.as_str() != "(other)")
            .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(a.0)))
            .map(|(k, v)| (k.as_str(), v / total))
    }

    pub fn top_tool(&self) -> Option<&str> {
        self.spawned
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
            .map(|(k, _)| crate::process::basename(k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baseline::{BaselineKey, Deviation, Judgement, Standing};
    use floodwatch_core::config::Config;

    const S: i64 = 1_000_000_000;

    fn spawns(n: u64, tool: &str, member: ProcId) -> WindowAcc {
        let mut a = WindowAcc::default();
        for _ in 0..n {
            a.add_spawn(tool, member);
        }
        a
    }

    fn evidence(line: u64) -> crate::alert::EvidenceSeed {
        crate::alert::EvidenceSeed::at_line(line)
    }

    fn judgement(ratio: f64) -> Judgement {
        Judgement {
            key: BaselineKey {
                identity: "curl".into(),
                parent_class: "cron".into(),
                role: "default".into(),
            },
            standing: Standing::Mature,
            windows: 100,
            days: 10.0,
            hosts: 1,
            seen_on_host: true,
            role_learned: true,
            deviation: Some(Deviation {
                signal: "spawns_per_s".into(),
                value: ratio,
                p99: 1.0,
                ratio,
            }),
            over_ceiling: false,
            absorbed: false,
        }
    }

    #[test]
    fn ids_depend_on_host_identity_and_first_window_only() {
        let id = |host: &str, identity: &str, start: i64, member: ProcId| {
            Episode::new(host, 1, identity, Ts(start), member).id
        };
        let a = id("mac-1", "812|5|/bin/bash", 30 * S, 1);
        assert_eq!(
            a,
            id("mac-1", "812|5|/bin/bash", 30 * S, 2),
            "not the member"
        );
        assert_ne!(a, id("mac-2", "812|5|/bin/bash", 30 * S, 1));
        assert_ne!(a, id("mac-1", "813|5|/bin/bash", 30 * S, 1));
        assert_ne!(a, id("mac-1", "812|5|/bin/bash", 45 * S, 1));
        let u = uuid::Uuid::parse_str(&a).unwrap();
        assert_eq!(u.get_version_num(), 5);
    }

    #[test]
    fn hot_windows_raise_peaks_and_totals_and_chart_the_timeline() {
        let cfg = Config::default();
        let mut ep = Episode::new("mac-1", 1, "x", Ts(0), 1);
        let first = spawns(150, "/usr/bin/curl", 2);
        let sig = WindowSignals::evaluate(&cfg, Ts(0), &first);
        ep.absorb(&sig, first, Ts(30 * S), 20);
        let second = spawns(300, "/usr/bin/curl", 3);
        let sig2 = WindowSignals::evaluate(&cfg, Ts(15 * S), &second);
        ep.absorb(&sig2, second, Ts(45 * S), 20);
        assert_eq!(ep.hot_windows, 2);
        assert_eq!((ep.last_seen, ep.last_hot_end), (Ts(45 * S), Ts(45 * S)));
        assert_eq!(ep.peaks.spawns_per_s, 10.0);
        assert_eq!(ep.peaks.ratios, vec![(Trigger::Spawns, 2.0)]);
        assert_eq!(ep.total_spawns, 450);
        assert_eq!(ep.member, 3, "the busiest member of the latest half");
        assert_eq!(ep.top_tool(), Some("curl"));
        let chart: Vec<(Ts, f64, bool)> = ep
            .timeline
            .iter()
            .map(|p| (p.start, p.spawns_per_s, p.hot))
            .collect();
        assert_eq!(chart, [(Ts(0), 5.0, true), (Ts(15 * S), 10.0, true)]);
    }

    #[test]
    fn quiet_windows_chart_without_moving_the_end_and_early_opens_count_no_window() {
        let cfg = Config::default();
        let mut ep = Episode::new("mac-1", 1, "x", Ts(0), 1);
        let acc = spawns(150, "/usr/bin/curl", 2);
        let sig = WindowSignals::evaluate(&cfg, Ts(0), &acc);
        ep.early(&sig, Ts(4 * S));
        assert_eq!((ep.hot_windows, ep.last_seen), (0, Ts(4 * S)));
        assert_eq!(ep.peaks.spawns_per_s, 5.0);
        ep.absorb(&sig, acc, Ts(30 * S), 20);
        ep.quiet_window(None, Ts(15 * S), Ts(45 * S));
        let cool = WindowSignals::evaluate(&cfg, Ts(30 * S), &spawns(3, "/usr/bin/curl", 2));
        ep.quiet_window(Some(&cool), Ts(30 * S), Ts(60 * S));
        assert_eq!(
            ep.last_seen,
            Ts(30 * S),
            "quiet windows do not extend the episode"
        );
        assert_eq!(ep.hot_windows, 1);
        let chart: Vec<(Ts, f64, bool)> = ep
            .timeline
            .iter()
            .map(|p| (p.start, p.spawns_per_s, p.hot))
            .collect();
        assert_eq!(
            chart,
            [
                (Ts(0), 5.0, true),
                (Ts(15 * S), 0.0, false),
                (Ts(30 * S), 0.1, false)
            ]
        );
        for i in 0..MAX_TIMELINE as i64 {
            ep.quiet_window(None, Ts((4 + i) * 15 * S), Ts((6 + i) * 15 * S));
        }
        assert_eq!(
            ep.timeline.len(),
            MAX_TIMELINE,
            "the chart keeps the newest points"
        );
        assert_eq!(ep.timeline[0].start, Ts(60 * S), "the three oldest dropped");
    }

    #[test]
    fn folding_halves_bounds_evidence_and_keeps_what_was_declared_and_estimated() {
        let cfg = Config::default();
        let mut ep = Episode::new("mac-1", 1, "x", Ts(0), 1);
        let mut a = WindowAcc::default();
        a.add_connection(2, Proto::Tcp, Some("10.0.0.1:80"));
        a.add_connection(2, Proto::Tcp, Some("10.0.0.1:80"));
        a.add_connection(2, Proto::Tcp, Some("10.0.0.2:80"));
        a.add_connection(2, Proto::Tcp, Some("10.0.0.1:443"));
        a.evidence = vec![evidence(1), evidence(2), evidence(3)];
        a.evidence_dropped = 4;
        ep.fold(a, 2);
        assert_eq!(ep.total_connections, 4);
        assert_eq!(ep.top_destination(), Some(("10.0.0.1", 0.75)));
        let lines: Vec<u64> = ep.evidences.iter().map(|e| e.line).collect();
        assert_eq!(lines, [1, 2]);
        assert_eq!(ep.evidence_dropped, 5, "4 dropped before, 1 over the bound");
        assert!(!ep.estimated_packets && ep.declared.is_none());

        let args: Vec<String> = ["ping", "-f", "198.51.100.7"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let d = crate::declared::analyze("ping", &args, 50.0, 1000).unwrap();
        let mut b = WindowAcc::default();
        b.add_declared(&cfg, 3, &d, 15.0);
        ep.fold(b, 2);
        assert!(
            ep.estimated_packets,
            "packets only estimated from the command line"
        );
        assert_eq!(ep.declared.as_ref(), Some(&d));
        assert_eq!(ep.protos, [Proto::Tcp, Proto::Icmp]);
        assert_eq!(ep.member, 3);
    }

    #[test]
    fn the_most_deviant_baseline_judgement_explains_the_episode() {
        let mut ep = Episode::new("mac-1", 1, "x", Ts(0), 1);
        for r in [2.0, 5.0, 3.0] {
            ep.note_baseline(judgement(r));
        }
        let kept = ep.baseline.as_ref().and_then(|j| j.deviation.as_ref());
        assert_eq!(kept.map(|d| d.ratio), Some(5.0));
    }
}
