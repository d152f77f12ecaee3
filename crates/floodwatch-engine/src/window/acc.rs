//! Accumulation: what one subject did in one hop (half a BurstTimeWindow). Spawns, packets, bytes,
//! connections, destinations, the busiest member and located evidence are counted here; two adjacent
//! halves make a window ([`WindowAcc::combined`]), which [`super::signals`] turns into rates.

use crate::declared::Declared;
use floodwatch_core::alert::Evidence;
use floodwatch_core::config::Config;
use floodwatch_core::event::Proto;
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
