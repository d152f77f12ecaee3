//! BurstTimeWindow accumulation and the per-window signals.
//!
//! Every subject active in a window gets one accumulator; when the host's event time passes the window's
//! end, the accumulator becomes a [`WindowSignals`] (rates per second) and is judged against thresholds.

use crate::declared::Declared;
use floodwatch_core::alert::Evidence;
use floodwatch_core::config::Config;
use floodwatch_core::event::Proto;
use floodwatch_core::Ts;
// Ordered maps: sums over them (destination shares) must not depend on hash order, or re-runs could
// differ in the last digit.
use std::collections::BTreeMap;

/// How many distinct destinations a window tracks per subject (the rest are pooled as "other").
const MAX_DESTINATIONS: usize = 64;

#[derive(Clone, Debug, Default)]
pub struct WindowAcc {
    pub spawns: u64,
    /// Tool image → exec count, for "41 curl execs/s".
    pub spawned: BTreeMap<String, u64>,
    /// Measured by traffic sources (nettop, unified log); weighted by protocol.
    pub packets_measured: f64,
    pub packets_estimated: f64,
    pub weighted_packets: f64,
    pub bytes_out: f64,
    pub weighted_bytes: f64,
    pub connections: u64,
    pub destinations: BTreeMap<String, f64>,
    pub protos: Vec<Proto>,
    pub declared: Option<Declared>,
    /// The member process that did the most (for context and the alert's actor).
    pub busiest_member: Option<(u64, f64)>,
    /// Located evidence gathered in this window (bounded by `output.max_evidences`).
    pub evidence: Vec<Evidence>,
    /// Evidence items past the bound: counted so the alert can say how many it leaves out.
    pub evidence_dropped: u64,
    /// What declared command lines imply (ping -f: ~100 packets/s), kept apart from what was measured:
    /// both describe the same traffic, so the window takes the larger, never the sum.
    pub weighted_packets_estimated: f64,
    pub bytes_estimated: f64,
    pub weighted_bytes_estimated: f64,
}

impl WindowAcc {
    /// Two adjacent half-windows as one window (`self` the earlier): counts add up, the busiest member
    /// is the busier of the two. Evidence is not carried (episodes take it from each half once).
    pub fn combined(&self, later: &WindowAcc) -> WindowAcc {
        let mut c = WindowAcc {
            spawns: self.spawns + later.spawns,
            spawned: self.spawned.clone(),
            packets_measured: self.packets_measured + later.packets_measured,
            packets_estimated: self.packets_estimated + later.packets_estimated,
            weighted_packets: self.weighted_packets + later.weighted_packets,
            bytes_out: self.bytes_out + later.bytes_out,
            weighted_bytes: self.weighted_bytes + later.weighted_bytes,
            connections: self.connections + later.connections,
            destinations: self.destinations.clone(),
            protos: self.protos.clone(),
            declared: self.declared.clone().or_else(|| later.declared.clone()),
            busiest_member: self.busiest_member,
            evidence: Vec::new(),
            evidence_dropped: 0,
            weighted_packets_estimated: self.weighted_packets_estimated
                + later.weighted_packets_estimated,
            bytes_estimated: self.bytes_estimated + later.bytes_estimated,
            weighted_bytes_estimated: self.weighted_bytes_estimated
                + later.weighted_bytes_estimated,
        };
        for (k, v) in &later.spawned {
            *c.spawned.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &later.destinations {
            c.note_destination(k, *v);
        }
        for p in &later.protos {
            c.note_proto(*p);
        }
        if let Some((m, a)) = later.busiest_member {
            c.note_member(m, a);
        }
        c
    }

    /// Nothing counted (a subject with no activity in a half-window need not be kept).
    pub fn is_empty(&self) -> bool {
        self.spawns == 0
            && self.connections == 0
            && self.bytes_out == 0.0
            && self.packets_measured == 0.0
            && self.packets_estimated == 0.0
            && self.bytes_estimated == 0.0
            && self.declared.is_none()
    }

    pub fn packets(&self) -> f64 {
        self.packets_measured.max(self.packets_estimated)
    }
    pub fn weighted_packets_total(&self) -> f64 {
        self.weighted_packets.max(self.weighted_packets_estimated)
    }
    pub fn bytes(&self) -> f64 {
        self.bytes_out.max(self.bytes_estimated)
    }
    pub fn weighted_bytes_total(&self) -> f64 {
        self.weighted_bytes.max(self.weighted_bytes_estimated)
    }

    fn note_proto(&mut self, p: Proto) {
        if !self.protos.contains(&p) {
            self.protos.push(p);
        }
    }

    fn note_destination(&mut self, remote: &str, weight: f64) {
        if let Some(v) = self.destinations.get_mut(remote) {
            *v += weight;
        } else if self.destinations.len() < MAX_DESTINATIONS {
            self.destinations.insert(remote.to_string(), weight);
        } else {
            *self.destinations.entry("(other)".into()).or_default() += weight;
        }
    }

    fn note_member(&mut self, member: u64, amount: f64) {
        match self.busiest_member {
            Some((_, a)) if a >= amount => {}
            _ => self.busiest_member = Some((member, amount)),
        }
    }

    pub fn add_spawn(&mut self, tool: &str, member: u64) {
        self.spawns += 1;
        *self.spawned.entry(tool.to_string()).or_default() += 1;
        self.note_member(member, self.spawns as f64);
    }

    #[allow(clippy::too_many_arguments)]
    pub fn add_traffic(
        &mut self,
        cfg: &Config,
        member: u64,
        proto: Proto,
        remote: Option<&str>,
        bytes_out: f64,
        packets_out: Option<f64>,
        new_connections: u64,
    ) {
        self.bytes_out += bytes_out;
        self.weighted_bytes += bytes_out * cfg.byte_weights.weight(proto);
        if let Some(p) = packets_out {
            self.packets_measured += p;
            self.weighted_packets += p * cfg.protocol_weights.weight(proto);
        }
        self.connections += new_connections;
        self.note_proto(proto);
        if let Some(r) = remote {
            let host = strip_port(r);
            self.note_destination(host, bytes_out.max(new_connections as f64));
        }
        self.note_member(member, bytes_out);
    }

    pub fn add_connection(&mut self, member: u64, proto: Proto, remote: Option<&str>) {
        self.connections += 1;
        self.note_proto(proto);
        if let Some(r) = remote {
            self.note_destination(strip_port(r), 1.0);
        }
        self.note_member(member, 1.0);
    }

    pub fn add_declared(&mut self, cfg: &Config, member: u64, d: &Declared, seconds: f64) {
        if let Some(pps) = d.est_pps {
            let pk = pps * seconds;
            self.packets_estimated += pk;
            self.weighted_packets_estimated += pk * cfg.protocol_weights.weight(d.proto);
            if let Some(b) = d.bytes_per_packet {
                self.bytes_estimated += pk * b;
                self.weighted_bytes_estimated += pk * b * cfg.byte_weights.weight(d.proto);
            }
        }
        self.note_proto(d.proto);
        self.note_member(member, f64::MAX / 2.0);
        if self.declared.is_none() {
            self.declared = Some(d.clone());
        }
    }
}

/// `1.2.3.4:443` → `1.2.3.4`, `[fe80::1]:53` / `fe80::1.53` → kept whole when unsure.
fn strip_port(remote: &str) -> &str {
    if let Some((h, p)) = remote.rsplit_once(':') {
        if p.chars().all(|c| c.is_ascii_digit()) && !h.contains(':') {
            return h;
        }
    }
    remote
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Trigger {
    Spawns,
    Packets,
    Bytes,
    Connections,
    Declared,
}

#[derive(Clone, Debug)]
pub struct WindowSignals {
    pub start: Ts,
    pub spawns_per_s: f64,
    pub packets_per_s: f64,
    pub weighted_packets_per_s: f64,
    pub bytes_per_s: f64,
    pub weighted_bytes_per_s: f64,
    pub connections_per_s: f64,
    /// (trigger, value / threshold), strongest first.
    pub triggers: Vec<(Trigger, f64)>,
    pub top_destination: Option<(String, f64)>,
    /// The measured signal nearest its threshold (trigger, value, threshold), hot or not.
    pub closest: Option<(Trigger, f64, f64)>,
}

impl WindowSignals {
    pub fn hot(&self) -> bool {
        !self.triggers.is_empty()
    }

    pub fn evaluate(cfg: &Config, start: Ts, acc: &WindowAcc) -> WindowSignals {
        let w = cfg.window_secs() as f64;
        let t = &cfg.thresholds;
        let spawns_per_s = acc.spawns as f64 / w;
        let weighted_packets_per_s = acc.weighted_packets_total() / w;
        let weighted_bytes_per_s = acc.weighted_bytes_total() / w;
        let connections_per_s = acc.connections as f64 / w;
        let mut triggers = Vec::new();
        let mut closest: Option<(Trigger, f64, f64)> = None;
        for (trig, v, thr) in [
            (Trigger::Spawns, spawns_per_s, t.tool_spawns_per_s),
            (Trigger::Packets, weighted_packets_per_s, t.packets_per_s),
            (Trigger::Bytes, weighted_bytes_per_s, t.bytes_per_s),
            (Trigger::Connections, connections_per_s, t.connections_per_s),
        ] {
            if v >= thr {
                triggers.push((trig, v / thr));
            }
            if v > 0.0 && thr > 0.0 && closest.is_none_or(|(_, cv, ct)| v / thr > cv / ct) {
                closest = Some((trig, v, thr));
            }
        }
        if acc.declared.is_some() {
            triggers.push((Trigger::Declared, 0.0));
        }
        triggers.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let total: f64 = acc.destinations.values().sum();
        let top_destination = acc
            .destinations
            .iter()
            .filter(|(k, _)| k.as_str() != "(other)")
            .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(a.0)))
            .filter(|_| total > 0.0)
            .map(|(k, v)| (k.clone(), v / total));
        WindowSignals {
            start,
            spawns_per_s,
            packets_per_s: acc.packets() / w,
            weighted_packets_per_s,
            bytes_per_s: acc.bytes() / w,
            weighted_bytes_per_s,
            connections_per_s,
            triggers,
            top_destination,
            closest,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_and_weights() {
        let cfg = Config::default();
        let mut acc = WindowAcc::default();
        for _ in 0..(5 * 30) {
            acc.add_spawn("/usr/bin/curl", 1);
        }
        let s = WindowSignals::evaluate(&cfg, Ts(0), &acc);
        assert_eq!(s.triggers[0].0, Trigger::Spawns);
        let mut quiet = WindowAcc::default();
        for _ in 0..(5 * 30 - 1) {
            quiet.add_spawn("/usr/bin/curl", 1);
        }
        assert!(!WindowSignals::evaluate(&cfg, Ts(0), &quiet).hot());
        // 20 MB/s of TCP is a transfer, 20 MB/s of UDP is a flood.
        let mut tcp = WindowAcc::default();
        tcp.add_traffic(
            &cfg,
            1,
            Proto::Tcp,
            Some("10.0.0.20:445"),
            20e6 * 30.0,
            None,
            1,
        );
        assert!(!WindowSignals::evaluate(&cfg, Ts(0), &tcp).hot());
        let mut udp = WindowAcc::default();
        udp.add_traffic(
            &cfg,
            1,
            Proto::Udp,
            Some("198.51.100.9:53"),
            20e6 * 30.0,
            None,
            1,
        );
        let s = WindowSignals::evaluate(&cfg, Ts(0), &udp);
        assert_eq!(s.triggers[0].0, Trigger::Bytes);
        assert_eq!(s.top_destination.as_ref().unwrap().0, "198.51.100.9");
    }
}
