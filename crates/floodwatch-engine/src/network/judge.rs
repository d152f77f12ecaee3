//! Judging: every hop, each flow's window (the last two hops) is rated over its active span and judged
//! flood or not; per local address, the window's fan-out is judged scan or not. Flood and scan episodes
//! open, extend and close here, and hops no window needs any more are dropped.

use super::aggregate::{min_opt, Episode, Flow, FlowKey, Hop, Pending};
use super::NetworkAgg;
use floodwatch_core::config::Network;
use floodwatch_core::finding::NetworkClass;
use floodwatch_core::Ts;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// One local address's flows in one window: how far it fans out, and its total traffic.
#[derive(Default, bitcode::Encode, bitcode::Decode)]
struct Fan {
    hosts: u64,
    /// Distinct (host, port) pairs (a host without ports counts once).
    probes: f64,
    packets: f64,
    /// The most ports on one host, and that host.
    widest: (u64, String),
    total: Hop,
}

/// Per local address: its window's fan-out.
type FanOut = BTreeMap<Arc<str>, Fan>;

/// One target's window seen from its side: how many senders reached it, with what (answers left out).
#[derive(Default, bitcode::Encode, bitcode::Decode)]
struct Toward {
    senders: u64,
    window: Hop,
    /// Exact packets (answers left out) in the window's first and second hop.
    raw: [u64; 2],
    raw_syn: [u64; 2],
    first_last: (Option<Ts>, Option<Ts>),
}

/// Per target host.
type Inbound = BTreeMap<Arc<str>, Toward>;

impl Fan {
    /// Adds one flow's window (to `target`); a flow that only answered is no probe.
    fn add(&mut self, target: &str, window: &Hop) {
        if window.answers_only() {
            return;
        }
        self.hosts += 1;
        self.probes += window.ports.len().max(1) as f64;
        self.packets += window.packets.max(window.conns);
        if window.ports.len() as u64 > self.widest.0 {
            self.widest = (window.ports.len() as u64, target.to_string());
        }
        let t = &mut self.total;
        t.packets += window.packets;
        t.syn += window.syn;
        t.conns += window.conns;
        t.bytes += window.bytes;
        t.active_from = min_opt(t.active_from, window.active_from);
        t.active_to = t.active_to.max(window.active_to);
    }
}

/// A window's rates, judged.
#[derive(Clone, Debug, bitcode::Encode, bitcode::Decode)]
pub(super) struct Judged {
    /// The traffic's active span in the window, in seconds: the rates are over it.
    pub(super) span_s: f64,
    pub(super) syn_per_s: f64,
    pub(super) conns_per_s: f64,
    pub(super) packets_per_s: f64,
    pub(super) bytes_per_s: f64,
    /// Flood triggers: (code, value, threshold, count).
    pub(super) triggers: Vec<(String, f64, f64, f64)>,
    pub(super) port_scan: bool,
}

impl NetworkAgg {
    /// The window ending with hop `h`: judge every flow and local address, open, extend and close
    /// episodes, drop hop `h - 1`.
    pub(super) fn judge_hop(&mut self, h: i64) {
        let we = Ts((h + 1) * self.hop_ns);
        let ws = Ts(we.0 - self.window_ns);
        let (fan, judged, toward) = self.judge_flows(h);
        let scanning = self.extend_scans(h, (ws, we), &fan, &judged);
        self.extend_floods(h, (ws, we), judged);
        let inbound = self.extend_inbound((ws, we), toward);
        self.close_quiet(we, &scanning, &inbound);
        self.drop_hop(h - 1);
    }

    /// Each flow's window ending with hop `h`, judged; per local address, the window's fan-out; per
    /// target, what reached it.
    fn judge_flows(&self, h: i64) -> (FanOut, Vec<(FlowKey, Judged)>, Inbound) {
        let mut fan = FanOut::new();
        let mut toward = Inbound::new();
        let mut judged: Vec<(FlowKey, Judged)> = Vec::new();
        let window_of = |flow: &Flow| match (flow.hops.get(&(h - 1)), flow.hops.get(&h)) {
            (Some(a), Some(b)) => Some(a.add(b)),
            (Some(a), None) => Some(a.clone()),
            (None, Some(b)) => Some(b.clone()),
            (None, None) => None,
        };
        for (key, flow) in &self.flows {
            let Some(mut window) = window_of(flow) else {
                continue;
            };
            // A capture sees the answers as the reverse flow (the target sending to the local address).
            if window.udp_out > 0.0 {
                if let Some(rev) = self
                    .flows
                    .get(&(key.1.clone(), key.0.clone()))
                    .and_then(window_of)
                {
                    window.udp_in += rev.udp_out;
                }
            }
            let j = judge(&self.cfg, &window, self.min_span_ns, self.window_ns);
            // Only an address reaching scan_hosts targets, or port-scanning one, can be a scan: a
            // forged sender's one flow needs no fan-out entry (memory per sender stays small).
            let flows_of_local = self.targets_per_local.get(&key.0).copied().unwrap_or(0);
            if j.port_scan || flows_of_local as u64 >= self.cfg.scan_hosts {
                fan.entry(key.0.clone()).or_default().add(&key.1, &window);
            }
            if !window.answers_only() && window.stateless + window.syn > 0.0 {
                let to = toward.entry(key.1.clone()).or_default();
                to.senders += 1;
                let w = &mut to.window;
                w.packets += window.stateless + window.syn;
                w.stateless += window.stateless;
                w.syn += window.syn;
                w.active_from = min_opt(w.active_from, window.active_from);
                w.active_to = w.active_to.max(window.active_to);
                for (i, hh) in [h - 1, h].into_iter().enumerate() {
                    if let Some(hop) = flow.hops.get(&hh) {
                        to.raw[i] += hop.raw_packets.saturating_sub(hop.raw_answers);
                        to.raw_syn[i] += hop.raw_syn;
                    }
                }
                to.first_last = (w.active_from, w.active_to);
            }
            judged.push((key.clone(), j));
        }
        (fan, judged, toward)
    }

    /// Inbound floods: a target that many senders reach at flood rate in total (a spoofed-source
    /// flood seen from the victim's side). Informational: not an outbound flood of this host.
    /// Returns the targets flooded in this window.
    fn extend_inbound(&mut self, (ws, we): (Ts, Ts), toward: Inbound) -> BTreeSet<Arc<str>> {
        let mut hot = BTreeSet::new();
        for (target, to) in toward {
            if to.senders < self.cfg.inbound_min_senders {
                continue;
            }
            let j = judge(&self.cfg, &to.window, self.min_span_ns, self.window_ns);
            if j.triggers.is_empty() {
                continue;
            }
            let ep = self
                .inbound
                .entry(target.clone())
                .or_insert_with(|| Episode::new(NetworkClass::Inbound, &target, Some(&target), ws));
            // Each hop once: at opening, the window's first half too.
            let from = if ep.windows == 0 { 0 } else { 1 };
            for i in from..2 {
                ep.packets = ep.packets.saturating_add(to.raw[i]);
                ep.syn = ep.syn.saturating_add(to.raw_syn[i]);
            }
            ep.windows += 1;
            ep.last_hot_end = we;
            ep.max_hosts = ep.max_hosts.max(to.senders);
            if let Some(f) = to.first_last.0 {
                ep.first_seen = ep.first_seen.min(f);
            }
            if let Some(t) = to.first_last.1 {
                ep.last_seen = ep.last_seen.max(t);
            }
            if ep.peak.as_ref().is_none_or(|p| strength(&j) > strength(p)) {
                ep.peak = Some(j);
            }
            hot.insert(target);
        }
        hot
    }

    /// Scan windows per local address: opens or extends each scanning address's episode. Returns the
    /// addresses scanning in this window.
    fn extend_scans(
        &mut self,
        h: i64,
        (ws, we): (Ts, Ts),
        fan: &FanOut,
        judged: &[(FlowKey, Judged)],
    ) -> BTreeSet<Arc<str>> {
        let cfg = &self.cfg;
        let port_scanning: BTreeSet<&Arc<str>> = judged
            .iter()
            .filter(|(_, j)| j.port_scan)
            .map(|((l, _), _)| l)
            .collect();
        let mut scanning: BTreeSet<Arc<str>> = BTreeSet::new();
        for (local, f) in fan {
            let per_probe = f.packets / f.probes.max(1.0);
            let sweep = f.hosts >= cfg.scan_hosts && per_probe <= cfg.scan_max_packets_per_probe;
            if !(sweep || port_scanning.contains(local)) {
                continue;
            }
            scanning.insert(local.clone());
            if !self.scans.contains_key(local) {
                self.scans_found += 1;
            }
            let ep = self
                .scans
                .entry(local.clone())
                .or_insert_with(|| Episode::new(NetworkClass::Scan, local, None, ws));
            let opened = ep.windows == 0;
            ep.windows += 1;
            ep.last_hot_end = we;
            ep.max_hosts = ep.max_hosts.max(f.hosts);
            if f.widest.0 > ep.max_ports_one_host.0 {
                ep.max_ports_one_host = f.widest.clone();
            }
            // The scan's peak: its busiest window's probes over their active span.
            let j = judge(cfg, &f.total, self.min_span_ns, self.window_ns);
            let rate = |j: &Judged| j.packets_per_s.max(j.conns_per_s);
            if ep.peak.as_ref().is_none_or(|p| rate(&j) > rate(p)) {
                ep.peak = Some(j);
            }
            // Each hop once: at opening, the window's first half too.
            let from = if opened { h - 1 } else { h };
            for hh in from..=h {
                if hh <= ep.counted_through {
                    continue;
                }
                for ((l, t), flow) in self.flows.range((local.clone(), Arc::from(""))..) {
                    if l != local {
                        break;
                    }
                    if let Some(hop) = flow.hops.get(&hh) {
                        ep.probes += hop.ports.len().max(1) as f64;
                        ep.probe_packets += hop.packets.max(hop.conns);
                        ep.count_hop(t, hop, self.max_ev);
                    }
                }
                ep.counted_through = hh;
            }
        }
        scanning
    }

    /// Flood windows per flow (a port-swept target is a scan's, never a flood's): opens or extends
    /// each flooded flow's episode; an open episode counts every hop once, cooler stretches too.
    fn extend_floods(&mut self, h: i64, (ws, we): (Ts, Ts), judged: Vec<(FlowKey, Judged)>) {
        for (key, j) in judged {
            let hot = !j.port_scan && !j.triggers.is_empty();
            // The target's answers back (RST/ACK, echo replies, unreachables): the flood reached it.
            let open = self.flows.get(&key).is_some_and(|f| f.flood.is_some());
            let back = if hot || open {
                let rev = self.flows.get(&(key.1.clone(), key.0.clone()));
                [h - 1, h].map(|hh| {
                    rev.and_then(|f| f.hops.get(&hh))
                        .map_or(0, |x| x.raw_answers)
                })
            } else {
                [0, 0]
            };
            let Some(flow) = self.flows.get_mut(&key) else {
                continue;
            };
            if hot && flow.flood.is_none() {
                self.floods += 1;
                flow.flood = Some(Box::new(Episode::new(
                    NetworkClass::Flood,
                    &key.0,
                    Some(&key.1),
                    ws,
                )));
            }
            let Some(ep) = flow.flood.as_mut() else {
                continue;
            };
            let from = if ep.windows == 0 { h - 1 } else { h };
            if hot {
                ep.windows += 1;
                ep.last_hot_end = we;
                if ep.peak.as_ref().is_none_or(|p| strength(&j) > strength(p)) {
                    ep.peak = Some(j);
                }
            }
            for hh in from..=h {
                if hh <= ep.counted_through {
                    continue;
                }
                if let Some(hop) = flow.hops.get(&hh) {
                    ep.count_hop(&key.1, hop, self.max_ev);
                }
                let i = usize::from(hh == h);
                ep.answers_back = ep.answers_back.saturating_add(back[i]);
                ep.counted_through = hh;
            }
        }
    }

    /// Episodes quiet for the quiet period by the window ending at `we` close, and wait to be joined.
    fn close_quiet(&mut self, we: Ts, scanning: &BTreeSet<Arc<str>>, inbound: &BTreeSet<Arc<str>>) {
        let quiet = self.quiet_ns;
        let done_inbound: Vec<Arc<str>> = self
            .inbound
            .iter()
            .filter(|(t, e)| !inbound.contains(*t) && we.0 - e.last_hot_end.0 >= quiet)
            .map(|(t, _)| t.clone())
            .collect();
        for t in done_inbound {
            if let Some(ep) = self.inbound.remove(&t) {
                self.pending.push(Pending { ep });
            }
        }
        let done_scans: Vec<Arc<str>> = self
            .scans
            .iter()
            .filter(|(l, e)| !scanning.contains(*l) && we.0 - e.last_hot_end.0 >= quiet)
            .map(|(l, _)| l.clone())
            .collect();
        for l in done_scans {
            if let Some(ep) = self.scans.remove(&l) {
                self.pending.push(Pending { ep });
            }
        }
        for flow in self.flows.values_mut() {
            if flow
                .flood
                .as_ref()
                .is_some_and(|e| e.last_hot_end < we && we.0 - e.last_hot_end.0 >= quiet)
            {
                if let Some(ep) = flow.flood.take() {
                    self.pending.push(Pending { ep: *ep });
                }
            }
        }
    }

    /// Hop `old` is no longer part of any window; idle flows go.
    fn drop_hop(&mut self, old: i64) {
        let mut gone = Vec::new();
        for (key, flow) in self.flows.iter_mut() {
            flow.hops.retain(|k, _| *k > old);
            if flow.hops.is_empty() && flow.flood.is_none() {
                gone.push(key.clone());
            }
        }
        for key in gone {
            self.flows.remove(&key);
            self.forget_target(&key.0);
        }
        self.min_hop = self
            .flows
            .values()
            .filter_map(|f| f.hops.keys().next())
            .min()
            .copied();
    }
}

/// How far a window's strongest trigger is past its threshold (for choosing the peak window).
pub(super) fn strength(j: &Judged) -> f64 {
    j.triggers
        .iter()
        .map(|(_, v, t, _)| v / t)
        .fold(0.0, f64::max)
}

/// A window's rates over its active span, and which flood rules (and the port-scan rule) it meets.
fn judge(cfg: &Network, w: &Hop, min_span_ns: i64, window_ns: i64) -> Judged {
    let span_ns = match (w.active_from, w.active_to) {
        (Some(a), Some(b)) => (b.0 - a.0).clamp(min_span_ns, window_ns.max(min_span_ns)),
        _ => window_ns,
    };
    let span_s = span_ns as f64 / 1e9;
    let rate = |n: f64| n / span_s;
    let mut triggers = Vec::new();
    // Answered UDP (a VPN tunnel, QUIC, a call) is a conversation, not a flood. ICMP is not exempt: a
    // ping flood at a live host is answered one for one.
    let stateless = if w.udp_out > 0.0 && w.udp_in >= cfg.two_way_ratio * w.udp_out {
        w.stateless - w.udp_out
    } else {
        w.stateless
    };
    if stateless >= cfg.min_packets as f64 && rate(stateless) >= cfg.packets_per_s {
        triggers.push(("packet_rate", rate(stateless), cfg.packets_per_s, stateless));
    }
    if w.syn >= cfg.min_packets as f64 && rate(w.syn) >= cfg.syn_per_s {
        triggers.push(("syn_rate", rate(w.syn), cfg.syn_per_s, w.syn));
    }
    if w.conns >= cfg.min_connections as f64 && rate(w.conns) >= cfg.connections_per_s {
        triggers.push((
            "connection_rate",
            rate(w.conns),
            cfg.connections_per_s,
            w.conns,
        ));
    }
    let ports = w.ports.len() as u64;
    let per_port = w.packets.max(w.conns) / (ports.max(1) as f64);
    // A SYN flood with random destination ports (hping3 --rand-dest -p ++, the CIC-DDoS2019 sample) fans
    // out over ports like a port scan of one host; at flood rate and far more packets than a port scan
    // sends, it is a flood.
    let spraying = !triggers.is_empty() && w.syn.max(stateless) >= cfg.spray_min_packets as f64;
    Judged {
        span_s,
        syn_per_s: rate(w.syn),
        conns_per_s: rate(w.conns),
        packets_per_s: rate(w.packets),
        bytes_per_s: rate(w.bytes),
        triggers: triggers
            .into_iter()
            .map(|(code, v, thr, n)| (code.to_string(), v, thr, n))
            .collect(),
        port_scan: ports >= cfg.scan_ports
            && per_port <= cfg.scan_max_packets_per_probe
            && !spraying,
    }
}
