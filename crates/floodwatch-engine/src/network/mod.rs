//! Network-level floods and scans from pid-less traffic (Zeek conn.log; packet captures aggregated per
//! local address, protocol and destination host per second).
//!
//! Records are grouped per *flow*: local address (the source's `local`, else the host) × target host.
//! Each flow accumulates per hop (half a BurstTimeWindow, by the record's end time) and is judged every
//! hop over the last two, as process subjects are. A window's rates are its counts over the traffic's
//! own *active span* in it (first packet to last, floored at `network.min_span`): a 0.69 s SYN burst is
//! rated over 0.69 s, not diluted over 30 s. Per local address, the window's flows also give the
//! fan-out (hosts, ports, packets per probe) that marks a scan.
//!
//! Rules (thresholds in `[network]`):
//! - **scan**: the local address reaches `scan_hosts` hosts, or one host on `scan_ports` ports, with at
//!   most `scan_max_packets_per_probe` packets per (host, port) on average. A scan's port-swept
//!   targets are never flood targets ("scan, not a flood"), unless the one host gets flood rate with at
//!   least `spray_min_packets` packets (a SYN flood spraying random ports).
//! - **flood**: one target, and stateless (UDP, ICMP, other; UDP only when mostly unanswered, see
//!   `two_way_ratio`) packets/s ≥ `packets_per_s`, or SYN/s ≥
//!   `syn_per_s` (both with at least `min_packets`), or new connections/s ≥ `connections_per_s` (with at
//!   least `min_connections`). TCP packets alone never make a flood: a bulk transfer is a transfer.
//!
//! Records do not pass the host's reorder buffer (a Zeek log sorted by connection start, timed at each
//! connection's end, would be rejected wholesale behind one long connection). The module keeps its own
//! clock: the latest record *start* seen, which trails the stream whether a log is sorted by start or by
//! end; a hop is judged once that clock is `network.reorder_slack` past it.
//!
//! Episodes (one per flow for floods, per local address for scans) open on the first flood (scan)
//! window and close after `windows.quiet_period` without one. A closed episode waits until the host's
//! process events have caught up with it (`network.join_slack` past its end), then is joined to the
//! process that sent to the target (see [`JoinIndex`]) and emitted.
//!
//! Files, in the order a record meets them: [`endpoint`] (host and port of a record, hosts a command
//! line names), `aggregate` (counts per flow and hop; episodes), `judge` (windows judged flood or
//! scan; episodes opened, extended, closed), `join` (the process behind a flood), `finding` (the
//! finding, its reasons and severity).

mod aggregate;
pub mod endpoint;
mod finding;
mod join;
mod judge;

pub use endpoint::{hosts_in_argv, split_endpoint};
pub use join::{JoinIndex, ProcFacts, Seen};

use crate::process::ProcId;
use aggregate::{Episode, Flow, FlowKey, Pending};
use floodwatch_core::config::Config;
use floodwatch_core::event::{Origin, Traffic};
use floodwatch_core::finding::NetworkFinding;
use floodwatch_core::time::NANOS_PER_SEC;
use floodwatch_core::Ts;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Namespace for network finding ids (a fixed random UUID, distinct from alerts').
pub const NETWORK_NAMESPACE: uuid::Uuid =
    uuid::Uuid::from_u128(0x2b7e_4f1c_0a97_4d55_8c3e_6e09_71a4_0f21);

/// Targets tracked per local address; more are pooled as one `(other)` flow.
const MAX_FLOWS_PER_LOCAL: usize = 16_384;

/// One host's pid-less traffic: flows, open episodes, closed ones waiting for the join, the join index.
#[derive(bitcode::Encode, bitcode::Decode)]
pub struct NetworkAgg {
    host: Arc<str>,
    window_ns: i64,
    hop_ns: i64,
    slack_ns: i64,
    quiet_ns: i64,
    join_slack_ns: i64,
    min_span_ns: i64,
    max_ev: usize,
    cfg: floodwatch_core::config::Network,
    flows: BTreeMap<FlowKey, Flow>,
    /// Targets per local address (for the flow cap).
    targets_per_local: BTreeMap<Arc<str>, usize>,
    scans: BTreeMap<Arc<str>, Episode>,
    /// Inbound floods seen from the victim's side, per target.
    inbound: BTreeMap<Arc<str>, Episode>,
    /// The earliest hop any flow holds (a bound: it may be lower after evictions): found without a
    /// pass over every flow, so a record costs the same however many senders there are.
    min_hop: Option<i64>,
    /// Flows evicted past `network.max_flows`, and the packets they held.
    pub flows_evicted: u64,
    pub packets_evicted: u64,
    /// The latest record start seen: the module's clock.
    clock: Option<Ts>,
    /// Hops up to here have been judged.
    judged_through: Option<i64>,
    pending: Vec<Pending>,
    pub index: JoinIndex,
    /// Records rejected as too late (their hop was already judged).
    pub late: u64,
    pub floods: u64,
    pub scans_found: u64,
}

impl NetworkAgg {
    pub fn new(host: Arc<str>, cfg: &Config) -> NetworkAgg {
        let window_ns = cfg.window_secs() as i64 * NANOS_PER_SEC;
        NetworkAgg {
            host,
            window_ns,
            hop_ns: (window_ns / 2).max(1),
            slack_ns: cfg.network.reorder_slack.as_nanos() as i64,
            quiet_ns: (cfg.windows.quiet_period.as_nanos() as i64).max(window_ns),
            join_slack_ns: cfg.network.join_slack.as_nanos() as i64,
            min_span_ns: (cfg.network.min_span.as_nanos() as i64).max(1),
            max_ev: cfg.output.max_evidences,
            cfg: cfg.network.clone(),
            flows: BTreeMap::new(),
            targets_per_local: BTreeMap::new(),
            scans: BTreeMap::new(),
            inbound: BTreeMap::new(),
            min_hop: None,
            flows_evicted: 0,
            packets_evicted: 0,
            clock: None,
            judged_through: None,
            pending: Vec::new(),
            index: JoinIndex::default(),
            late: 0,
            floods: 0,
            scans_found: 0,
        }
    }

    /// The hop holding instant `ts`.
    fn hop_of(&self, ts: Ts) -> i64 {
        ts.0.div_euclid(self.hop_ns)
    }

    /// Adds one pid-less record ending at `end`. When it is too late to place (its hop was already
    /// judged) returns how late, in nanoseconds, past the judged windows' end; the caller rejects it.
    pub fn push(&mut self, end: Ts, t: &Traffic, origin: Origin) -> Result<(), i64> {
        let h = self.hop_of(end);
        if let Some(j) = self.judged_through.filter(|j| h <= *j) {
            self.late += 1;
            return Err((j + 1) * self.hop_ns - end.0);
        }
        let (host, port) = t
            .remote
            .as_deref()
            .map(split_endpoint)
            .unwrap_or(("(unknown)", None));
        let key = self.flow_key(t.local.as_deref(), host);
        let span = (end.0 - t.start.0).max(0);
        let (frac, from) = if span <= self.window_ns {
            (1.0, t.start.min(end))
        } else {
            (
                self.window_ns as f64 / span as f64,
                Ts(end.0 - self.window_ns),
            )
        };
        let max_ev = self.max_ev;
        self.min_hop = Some(self.min_hop.map_or(h, |m| m.min(h)));
        self.flows
            .entry(key)
            .or_default()
            .hops
            .entry_or_default(h)
            .add_record(t, frac, (from, end), port, origin, max_ev);
        self.clock = Some(self.clock.map_or(t.start, |c| c.max(t.start.min(end))));
        Ok(())
    }

    /// The flow a record belongs to: its local address (else the host) × its target host; past
    /// `MAX_FLOWS_PER_LOCAL` targets of one address, new targets pool as `(other)`.
    fn flow_key(&mut self, local: Option<&str>, host: &str) -> FlowKey {
        let local: Arc<str> = match local {
            Some(l) if !l.is_empty() => Arc::from(l),
            _ => self.host.clone(),
        };
        let mut target: Arc<str> = Arc::from(host);
        if !self.flows.contains_key(&(local.clone(), target.clone())) {
            if self.flows.len() >= self.cfg.max_flows.max(1) {
                self.evict_flows();
            }
            let n = self.targets_per_local.entry(local.clone()).or_default();
            if *n >= MAX_FLOWS_PER_LOCAL {
                target = Arc::from("(other)");
            } else {
                *n += 1;
            }
        }
        (local, target)
    }

    /// At the flow cap: evicts the quietest eighth of the flows that hold no open flood (a spoofed
    /// sender's one or two packets), in one pass. Each pass frees an eighth of the cap, so eviction
    /// costs a constant per record however long the flood runs.
    fn evict_flows(&mut self) {
        let mut quiet: Vec<(f64, FlowKey)> = self
            .flows
            .iter()
            .filter(|(_, f)| f.flood.is_none())
            .map(|(k, f)| (f.weight(), k.clone()))
            .collect();
        let n = (self.cfg.max_flows / 8).max(1).min(quiet.len());
        if n == 0 {
            return;
        }
        if n < quiet.len() {
            quiet.select_nth_unstable_by(n - 1, |a, b| a.0.total_cmp(&b.0));
        }
        for (_, key) in quiet.into_iter().take(n) {
            if let Some(flow) = self.flows.remove(&key) {
                self.flows_evicted += 1;
                let packets: u64 = flow.hops.values().map(|h| h.raw_packets).sum();
                self.packets_evicted = self.packets_evicted.saturating_add(packets);
            }
            self.forget_target(&key.0);
        }
    }

    /// One flow of `local` is gone (idle or evicted).
    fn forget_target(&mut self, local: &Arc<str>) {
        if let Some(n) = self.targets_per_local.get_mut(local) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.targets_per_local.remove(local);
            }
        }
    }

    /// Judges every hop the clock has left `reorder_slack` behind. `to`: a later clock (idle time in
    /// `watch`), else the records' own.
    pub fn advance(&mut self, to: Option<Ts>) {
        let Some(clock) = to.max(self.clock) else {
            return;
        };
        let ready = self.hop_of(Ts(clock.0.saturating_sub(self.slack_ns))) - 1;
        self.judge_until(ready);
    }

    fn judge_until(&mut self, ready: i64) {
        loop {
            // Called for every record: nothing here may walk the flows before a hop is due.
            let next = match self.judged_through {
                Some(j) => j + 1,
                None => match self.min_hop {
                    Some(m) => m,
                    None => return,
                },
            };
            if next > ready {
                return;
            }
            // Idle stretch: nothing recorded before `next` and no episode to close: jump ahead.
            let earliest = self.min_hop;
            let open = !self.scans.is_empty()
                || !self.inbound.is_empty()
                || self.flows.values().any(|f| f.flood.is_some());
            let h = match earliest {
                Some(e) if !open && e > next => e.min(ready),
                None if !open => {
                    self.judged_through = Some(ready);
                    return;
                }
                _ => next,
            };
            self.judge_hop(h);
            self.judged_through = Some(h);
        }
    }

    /// End of input: judge everything, close every episode.
    pub fn finish(&mut self) {
        if let Some(last) = self
            .flows
            .values()
            .filter_map(|f| f.hops.keys().last())
            .max()
        {
            let last = *last + 1;
            self.judge_until(last);
        }
        for (_, ep) in std::mem::take(&mut self.scans) {
            self.pending.push(Pending { ep });
        }
        for (_, ep) in std::mem::take(&mut self.inbound) {
            self.pending.push(Pending { ep });
        }
        self.min_hop = None;
        for flow in self.flows.values_mut() {
            if let Some(ep) = flow.flood.take() {
                self.pending.push(Pending { ep: *ep });
            }
        }
        self.flows.clear();
    }

    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The earliest instant a pending finding may still need from the join index.
    pub fn oldest_needed(&self) -> Option<Ts> {
        let open = self
            .flows
            .values()
            .filter_map(|f| f.flood.as_ref().map(|e| e.window_start))
            .chain(self.scans.values().map(|e| e.window_start))
            .chain(self.inbound.values().map(|e| e.window_start));
        self.pending
            .iter()
            .map(|p| p.ep.window_start)
            .chain(open)
            .min()
            .map(|t| t.add_nanos(-self.join_slack_ns - self.window_ns))
    }

    /// Closed episodes whose time the host's process events have passed by `join_slack` (all of them
    /// at the end of input), joined to a process and built into findings.
    pub fn take_ready(
        &mut self,
        processed: Option<Ts>,
        all: bool,
        files: &dyn Fn(u32) -> String,
        formats: &dyn Fn(u32) -> Option<std::sync::Arc<str>>,
        facts: &dyn Fn(ProcId) -> Option<ProcFacts>,
    ) -> Vec<NetworkFinding> {
        let slack = self.join_slack_ns;
        let (ready, keep): (Vec<Pending>, Vec<Pending>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|p| {
                all || processed.is_some_and(|t| t.0 >= p.ep.last_seen.0.saturating_add(slack))
            });
        self.pending = keep;
        let mut out: Vec<NetworkFinding> = ready
            .into_iter()
            .map(|p| self.build(p.ep, files, formats, facts))
            .collect();
        out.sort_by(|a, b| a.first_seen.cmp(&b.first_seen).then(a.id.cmp(&b.id)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use floodwatch_core::event::Proto;
    use floodwatch_core::finding::{JoinKind, NetworkClass};

    #[test]
    fn records_without_a_local_address_key_on_the_host_and_late_ones_are_refused() {
        let cfg = Config::default();
        let mut n = NetworkAgg::new(Arc::from("mac-9"), &cfg);
        let t0 = Ts::from_secs(1_757_989_800);
        // 3,000 UDP packets over 0.9 s to one target: 3,333 packets/s over the active span.
        for i in 0..3000i64 {
            let ts = t0.add_nanos(i * 300_000);
            let t = Traffic {
                start: ts,
                proto: Proto::Udp,
                remote: Some("192.168.50.4:53".into()),
                bytes_out: 100,
                packets_out: Some(1),
                ..Traffic::default()
            };
            let origin = Origin {
                file: 0,
                line: i as u64 + 1,
            };
            assert!(n.push(ts, &t, origin).is_ok());
        }
        // Ten minutes later the first windows are judged: a record from the start is refused.
        let later = Traffic {
            start: t0.add_secs(600),
            ..Traffic::default()
        };
        assert!(n.push(t0.add_secs(600), &later, Origin::default()).is_ok());
        n.advance(None);
        let late = Traffic {
            start: t0,
            ..Traffic::default()
        };
        assert!(n.push(t0, &late, Origin::default()).is_err());
        n.finish();
        let out = n.take_ready(None, true, &|_| "f".into(), &|_| None, &|_| None);
        let floods: Vec<_> = out
            .iter()
            .filter(|f| f.class == NetworkClass::Flood)
            .collect();
        assert_eq!(floods.len(), 1, "{out:#?}");
        assert_eq!(floods[0].local, "mac-9");
        assert!(
            (3_300.0..3_400.0).contains(&floods[0].peak_packets_per_s),
            "{}",
            floods[0].peak_packets_per_s
        );
        assert_eq!(floods[0].process.kind, JoinKind::NetworkOnly);
    }

    /// A spoofed-source flood: one flow per forged sender. Past `network.max_flows` the state stays
    /// at the cap (never above it), the quietest flows go, every eviction is counted, and no forged
    /// sender is taken for a flood source.
    #[test]
    fn spoofed_senders_keep_the_flows_bounded_and_evictions_counted() {
        let mut cfg = Config::default();
        cfg.network.max_flows = 1024;
        let mut n = NetworkAgg::new(Arc::from("gw"), &cfg);
        let t0 = Ts::from_secs(1_757_989_800);
        let senders = 50_000u32;
        let mut most = 0;
        for i in 0..senders {
            // 50,000 SYNs in 1 s, each from its own address.
            let ts = t0.add_nanos(i64::from(i) * 20_000);
            let t = Traffic {
                start: ts,
                proto: Proto::Tcp,
                local: Some(std::net::Ipv4Addr::from(0x6440_0000 + i).to_string()),
                remote: Some("192.168.50.4".into()),
                bytes_out: 40,
                packets_out: Some(1),
                syn_out: Some(1),
                new_connections: 1,
                ..Traffic::default()
            };
            let origin = Origin {
                file: 0,
                line: u64::from(i) + 1,
            };
            assert!(n.push(ts, &t, origin).is_ok());
            n.advance(None);
            most = most.max(n.flows.len());
        }
        assert!(most <= 1024, "{most} flows held");
        // Evicted an eighth at a time: every sender past the cap was either evicted or is held.
        assert_eq!(n.flows_evicted + n.flows.len() as u64, u64::from(senders));
        assert_eq!(n.packets_evicted, n.flows_evicted);
        n.finish();
        let out = n.take_ready(None, true, &|_| "f".into(), &|_| None, &|_| None);
        assert!(
            out.iter().all(|f| f.class == NetworkClass::Inbound),
            "{out:#?}"
        );
    }
}
