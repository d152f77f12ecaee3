//! Aggregation: pid-less records counted per flow (local address × target host) and hop, and the
//! flood and scan episodes those counts feed. Counts are bounded: ports, hosts and evidence stop
//! growing at fixed caps, and say so.

use super::judge::Judged;
use floodwatch_core::event::{Origin, Proto, Traffic};
use floodwatch_core::finding::NetworkClass;
use floodwatch_core::Ts;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Distinct destination ports tracked per flow and hop, and per scan episode.
const MAX_PORTS: usize = 4096;
/// Distinct hosts tracked per scan episode.
const MAX_HOSTS: usize = 4096;

/// Protocols a flood of packets can be made of without a handshake.
fn is_stateless(p: Proto) -> bool {
    matches!(p, Proto::Udp | Proto::Icmp | Proto::Other | Proto::Unknown)
}

/// One flow's counts in one hop. Counts are f64: a record longer than a window adds one window's
/// worth at its average rate (as process traffic does); `raw_*` keep the exact totals.
#[derive(Clone, Debug, Default, bitcode::Encode, bitcode::Decode)]
pub(super) struct Hop {
    pub(super) packets: f64,
    pub(super) stateless: f64,
    /// UDP packets out, and the answers seen for them (Zeek's responder packets, or a capture's
    /// packets in the reverse direction): an answered UDP stream is a conversation.
    pub(super) udp_out: f64,
    pub(super) udp_in: f64,
    pub(super) syn: f64,
    pub(super) conns: f64,
    pub(super) bytes: f64,
    /// Packets that answer the other side's (echo replies, ICMP errors, RST, SYN/ACK): never a flood
    /// or a probe of their own.
    pub(super) answers: f64,
    pub(super) raw_packets: u64,
    pub(super) raw_answers: u64,
    pub(super) raw_syn: u64,
    pub(super) raw_conns: u64,
    pub(super) raw_bytes: u64,
    pub(super) active_from: Option<Ts>,
    pub(super) active_to: Option<Ts>,
    pub(super) ports: BTreeSet<u16>,
    pub(super) ports_capped: bool,
    pub(super) protos: Vec<Proto>,
    pub(super) evidence: Vec<(Ts, Origin)>,
    pub(super) dropped: u64,
}

impl Hop {
    /// Whether the flow only answered in it (RST/ACK, echo replies, port-unreachables): an answering
    /// host is no flood source and no scanner, however many addresses it answers.
    pub(super) fn answers_only(&self) -> bool {
        self.answers > 0.0 && self.answers >= self.packets && self.syn == 0.0 && self.conns == 0.0
    }

    /// Two adjacent hops of a flow as one window.
    pub(super) fn add(&self, other: &Hop) -> Hop {
        let mut h = self.clone();
        h.packets += other.packets;
        h.stateless += other.stateless;
        h.udp_out += other.udp_out;
        h.udp_in += other.udp_in;
        h.syn += other.syn;
        h.conns += other.conns;
        h.bytes += other.bytes;
        h.answers += other.answers;
        h.raw_answers = h.raw_answers.saturating_add(other.raw_answers);
        h.raw_packets = h.raw_packets.saturating_add(other.raw_packets);
        h.raw_syn = h.raw_syn.saturating_add(other.raw_syn);
        h.raw_conns = h.raw_conns.saturating_add(other.raw_conns);
        h.raw_bytes = h.raw_bytes.saturating_add(other.raw_bytes);
        h.active_from = min_opt(h.active_from, other.active_from);
        h.active_to = h.active_to.max(other.active_to);
        for p in &other.ports {
            h.ports_capped |= !insert_capped(&mut h.ports, p, MAX_PORTS);
        }
        h.ports_capped |= other.ports_capped;
        for p in &other.protos {
            add_proto(&mut h.protos, *p);
        }
        h
    }

    /// Adds one record ending at `end`, active from `from`: `frac` of its counts (a record longer than
    /// a window adds one window's worth), all of its raw counts.
    pub(super) fn add_record(
        &mut self,
        t: &Traffic,
        frac: f64,
        (from, end): (Ts, Ts),
        port: Option<u16>,
        origin: Origin,
        max_ev: usize,
    ) {
        let packets = t.packets_out.unwrap_or(0);
        let answers = t.answers_out.min(packets);
        let syn = t.syn_out.unwrap_or(0);
        self.packets += packets as f64 * frac;
        self.answers += answers as f64 * frac;
        if is_stateless(t.proto) {
            self.stateless += (packets - answers) as f64 * frac;
        }
        if t.proto == Proto::Udp {
            self.udp_out += (packets - answers) as f64 * frac;
            self.udp_in += t.packets_in.unwrap_or(0) as f64 * frac;
        }
        self.syn += syn as f64 * frac;
        // A record of answers only (a Zeek row of echo replies or errors) opens no connection.
        if packets == 0 || answers < packets {
            self.conns += f64::from(t.new_connections) * frac;
        }
        self.raw_answers = self.raw_answers.saturating_add(answers);
        self.bytes += t.bytes_out as f64 * frac;
        // Counts come from the input: a corrupt one must saturate, never wrap or panic.
        self.raw_packets = self.raw_packets.saturating_add(packets);
        self.raw_syn = self.raw_syn.saturating_add(syn);
        self.raw_conns = self.raw_conns.saturating_add(u64::from(t.new_connections));
        self.raw_bytes = self.raw_bytes.saturating_add(t.bytes_out);
        self.active_from = min_opt(self.active_from, Some(from));
        self.active_to = self.active_to.max(Some(end));
        if let Some(p) = port {
            self.ports_capped |= !insert_capped(&mut self.ports, &p, MAX_PORTS);
        }
        add_proto(&mut self.protos, t.proto);
        push_capped(&mut self.evidence, &mut self.dropped, (end, origin), max_ev);
    }
}

/// Inserts `item` unless `set` is full at `max` (memory stays bounded); false when it was left out.
pub(super) fn insert_capped<T, Q>(set: &mut BTreeSet<T>, item: &Q, max: usize) -> bool
where
    T: Ord + std::borrow::Borrow<Q>,
    Q: Ord + ToOwned<Owned = T> + ?Sized,
{
    if set.len() < max {
        set.insert(item.to_owned());
        true
    } else {
        set.contains(item)
    }
}

/// Protocols in the order first seen, each once.
pub(super) fn add_proto(protos: &mut Vec<Proto>, p: Proto) {
    if !protos.contains(&p) {
        protos.push(p);
    }
}

/// Keeps `ev` while there are fewer than `max`; counts it in `dropped` otherwise.
pub(super) fn push_capped(
    evidence: &mut Vec<(Ts, Origin)>,
    dropped: &mut u64,
    ev: (Ts, Origin),
    max: usize,
) {
    if evidence.len() < max {
        // Exact growth: a spoofed sender's flow holds one record, not a doubling's spare room.
        evidence.reserve_exact(1);
        evidence.push(ev);
    } else {
        *dropped += 1;
    }
}

pub(super) fn min_opt(a: Option<Ts>, b: Option<Ts>) -> Option<Ts> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// (local address, target host).
pub(super) type FlowKey = (Arc<str>, Arc<str>);

/// A flow's hops, oldest first. A flow holds at most the two or three hops its windows still need,
/// so a small exact-size vector, not a map: a spoofed-source flood holds hundreds of thousands of
/// one-hop flows, and a map's first node would be ten times the hop it holds.
#[derive(Default, bitcode::Encode, bitcode::Decode)]
pub(super) struct Hops(Vec<(i64, Hop)>);

impl Hops {
    pub(super) fn get(&self, h: &i64) -> Option<&Hop> {
        self.0.iter().find(|(k, _)| k == h).map(|(_, v)| v)
    }

    pub(super) fn entry_or_default(&mut self, h: i64) -> &mut Hop {
        let at = match self.0.iter().position(|(k, _)| *k >= h) {
            Some(i) if self.0[i].0 == h => i,
            pos => {
                let i = pos.unwrap_or(self.0.len());
                self.0.reserve_exact(1);
                self.0.insert(i, (h, Hop::default()));
                i
            }
        };
        &mut self.0[at].1
    }

    pub(super) fn keys(&self) -> impl DoubleEndedIterator<Item = &i64> {
        self.0.iter().map(|(k, _)| k)
    }

    pub(super) fn values(&self) -> impl Iterator<Item = &Hop> {
        self.0.iter().map(|(_, v)| v)
    }

    pub(super) fn retain(&mut self, mut keep: impl FnMut(&i64, &Hop) -> bool) {
        self.0.retain(|(k, v)| keep(k, v));
        self.0.shrink_to_fit();
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[derive(Default, bitcode::Encode, bitcode::Decode)]
pub(super) struct Flow {
    pub(super) hops: Hops,
    /// Boxed: most flows never flood, and an episode is many times a flow's size.
    pub(super) flood: Option<Box<Episode>>,
}

impl Flow {
    /// Packets in the hops still held: how busy the flow is, for choosing what to evict.
    pub(super) fn weight(&self) -> f64 {
        self.hops.values().map(|h| h.packets.max(h.conns)).sum()
    }
}

/// An open flood (per flow) or scan (per local address) episode.
#[derive(Clone, Debug, bitcode::Encode, bitcode::Decode)]
pub(super) struct Episode {
    pub(super) class: NetworkClass,
    pub(super) local: Arc<str>,
    pub(super) target: Option<String>,
    pub(super) window_start: Ts,
    pub(super) first_seen: Ts,
    pub(super) last_seen: Ts,
    pub(super) last_hot_end: Ts,
    pub(super) windows: u32,
    pub(super) counted_through: i64,
    pub(super) packets: u64,
    pub(super) syn: u64,
    pub(super) conns: u64,
    pub(super) bytes: u64,
    /// Answers from the target back to the sender during the episode: the flood reached it.
    pub(super) answers_back: u64,
    pub(super) peak: Option<Judged>,
    pub(super) protos: Vec<Proto>,
    pub(super) hosts: BTreeSet<String>,
    pub(super) ports: BTreeSet<u16>,
    pub(super) capped: bool,
    /// Scans: the widest window (hosts, probes) and the most ports on one host.
    pub(super) max_hosts: u64,
    pub(super) max_ports_one_host: (u64, String),
    pub(super) probes: f64,
    pub(super) probe_packets: f64,
    pub(super) evidence: Vec<(Ts, Origin)>,
    pub(super) dropped: u64,
}

impl Episode {
    pub(super) fn new(
        class: NetworkClass,
        local: &Arc<str>,
        target: Option<&str>,
        ws: Ts,
    ) -> Episode {
        Episode {
            class,
            local: local.clone(),
            target: target.map(str::to_string),
            window_start: ws,
            first_seen: Ts::MAX,
            last_seen: Ts::MIN,
            last_hot_end: ws,
            windows: 0,
            counted_through: i64::MIN,
            packets: 0,
            syn: 0,
            conns: 0,
            bytes: 0,
            answers_back: 0,
            peak: None,
            protos: Vec::new(),
            hosts: BTreeSet::new(),
            ports: BTreeSet::new(),
            capped: false,
            max_hosts: 0,
            max_ports_one_host: (0, String::new()),
            probes: 0.0,
            probe_packets: 0.0,
            evidence: Vec::new(),
            dropped: 0,
        }
    }

    /// Adds one hop's exact counts (each hop once, however many windows it is part of).
    pub(super) fn count_hop(&mut self, target: &str, hop: &Hop, max_ev: usize) {
        self.packets = self.packets.saturating_add(hop.raw_packets);
        self.syn = self.syn.saturating_add(hop.raw_syn);
        self.conns = self.conns.saturating_add(hop.raw_conns);
        self.bytes = self.bytes.saturating_add(hop.raw_bytes);
        if let Some(f) = hop.active_from {
            self.first_seen = self.first_seen.min(f);
        }
        if let Some(t) = hop.active_to {
            self.last_seen = self.last_seen.max(t);
        }
        for p in &hop.protos {
            add_proto(&mut self.protos, *p);
        }
        self.capped |= !insert_capped(&mut self.hosts, target, MAX_HOSTS);
        for p in &hop.ports {
            self.capped |= !insert_capped(&mut self.ports, p, MAX_PORTS);
        }
        self.capped |= hop.ports_capped;
        for e in &hop.evidence {
            push_capped(&mut self.evidence, &mut self.dropped, *e, max_ev);
        }
        self.dropped = self.dropped.saturating_add(hop.dropped);
    }

    /// First and last activity; the window's bounds when no record said (an episode of empty records).
    pub(super) fn active_span(&self) -> (Ts, Ts) {
        let first = if self.first_seen == Ts::MAX {
            self.window_start
        } else {
            self.first_seen
        };
        let last = if self.last_seen == Ts::MIN {
            self.last_hot_end
        } else {
            self.last_seen
        };
        (first, last)
    }
}

/// A closed episode waiting for the host's process events to catch up before it is joined.
#[derive(bitcode::Encode, bitcode::Decode)]
pub(super) struct Pending {
    pub(super) ep: Episode,
}
