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

use crate::alert::view_of;
use crate::process::{ProcId, ProcessTable};
use floodwatch_core::alert::ProcessView;
use floodwatch_core::config::Config;
use floodwatch_core::event::{Event, EventKind, Origin, Proto, Traffic};
use floodwatch_core::finding::{
    fmt_count_rate, JoinKind, NetworkClass, NetworkEvidence, NetworkFinding, ProcessJoin,
};
use floodwatch_core::time::NANOS_PER_SEC;
use floodwatch_core::Ts;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Namespace for network finding ids (a fixed random UUID, distinct from alerts').
pub const NETWORK_NAMESPACE: uuid::Uuid =
    uuid::Uuid::from_u128(0x2b7e_4f1c_0a97_4d55_8c3e_6e09_71a4_0f21);

/// Distinct destination ports tracked per flow and hop, and per scan episode.
const MAX_PORTS: usize = 4096;
/// Distinct hosts tracked per scan episode.
const MAX_HOSTS: usize = 4096;
/// Targets tracked per local address; more are pooled as one `(other)` flow.
const MAX_FLOWS_PER_LOCAL: usize = 16_384;
/// Processes remembered per destination host for the join.
const MAX_SEEN_PER_TARGET: usize = 8;

/// `1.2.3.4:443` → (`1.2.3.4`, 443); `[fe80::1]:53` → (`fe80::1`, 53); nettop's `fe80::1%en0.5353`
/// → (`fe80::1%en0`, 5353); `fc00::1` and `IPv4#1a2b3c4d` → whole, no port.
pub fn split_endpoint(remote: &str) -> (&str, Option<u16>) {
    if let Some(rest) = remote.strip_prefix('[') {
        if let Some((h, tail)) = rest.split_once(']') {
            return (h, tail.strip_prefix(':').and_then(|p| p.parse().ok()));
        }
    }
    let colons = remote.bytes().filter(|b| *b == b':').count();
    if colons == 1 {
        if let Some((h, p)) = remote.split_once(':') {
            if let Ok(port) = p.parse() {
                return (h, Some(port));
            }
        }
        return (remote, None);
    }
    if colons >= 2 {
        if let Some((h, p)) = remote.rsplit_once('.') {
            if !h.contains('.') && !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) {
                return (h, p.parse().ok());
            }
        }
    }
    (remote, None)
}

/// Destination hosts a command line names: IP literals, alone or as a URL's host (`curl
/// http://203.0.113.10/ping`, `hping3 -S --flood 192.168.50.4`).
pub fn hosts_in_argv(args: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for a in args.iter().skip(1) {
        // Strip a scheme and a path: `http://[::1]:8080/x` → `[::1]:8080`.
        let s = a.split_once("://").map_or(a.as_str(), |(_, r)| r);
        let s = s.split(['/', '?', '#']).next().unwrap_or(s);
        let s = s.rsplit_once('@').map_or(s, |(_, h)| h);
        let (h, _) = split_endpoint(s);
        if h.parse::<std::net::IpAddr>().is_ok() && !out.iter().any(|o| o == h) {
            out.push(h.to_string());
        }
    }
    out
}

fn is_stateless(p: Proto) -> bool {
    matches!(p, Proto::Udp | Proto::Icmp | Proto::Other | Proto::Unknown)
}

/// One flow's counts in one hop. Counts are f64: a record longer than a window adds one window's
/// worth at its average rate (as process traffic does); `raw_*` keep the exact totals.
#[derive(Clone, Debug, Default)]
struct Hop {
    packets: f64,
    stateless: f64,
    /// UDP packets out, and the answers seen for them (Zeek's responder packets, or a capture's
    /// packets in the reverse direction): an answered UDP stream is a conversation.
    udp_out: f64,
    udp_in: f64,
    syn: f64,
    conns: f64,
    bytes: f64,
    raw_packets: u64,
    raw_syn: u64,
    raw_conns: u64,
    raw_bytes: u64,
    active_from: Option<Ts>,
    active_to: Option<Ts>,
    ports: BTreeSet<u16>,
    ports_capped: bool,
    protos: Vec<Proto>,
    evidence: Vec<(Ts, Origin)>,
    dropped: u64,
}

impl Hop {
    fn add(&self, other: &Hop) -> Hop {
        let mut h = self.clone();
        h.packets += other.packets;
        h.stateless += other.stateless;
        h.udp_out += other.udp_out;
        h.udp_in += other.udp_in;
        h.syn += other.syn;
        h.conns += other.conns;
        h.bytes += other.bytes;
        h.raw_packets += other.raw_packets;
        h.raw_syn += other.raw_syn;
        h.raw_conns += other.raw_conns;
        h.raw_bytes += other.raw_bytes;
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
}

/// Inserts `item` unless `set` is full at `max` (memory stays bounded); false when it was left out.
fn insert_capped<T, Q>(set: &mut BTreeSet<T>, item: &Q, max: usize) -> bool
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
fn add_proto(protos: &mut Vec<Proto>, p: Proto) {
    if !protos.contains(&p) {
        protos.push(p);
    }
}

/// Keeps `ev` while there are fewer than `max`; counts it in `dropped` otherwise.
fn push_capped(evidence: &mut Vec<(Ts, Origin)>, dropped: &mut u64, ev: (Ts, Origin), max: usize) {
    if evidence.len() < max {
        evidence.push(ev);
    } else {
        *dropped += 1;
    }
}

fn min_opt(a: Option<Ts>, b: Option<Ts>) -> Option<Ts> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// One local address's flows in one window: how far it fans out, and its total traffic.
#[derive(Default)]
struct Fan {
    hosts: u64,
    /// Distinct (host, port) pairs (a host without ports counts once).
    probes: f64,
    packets: f64,
    /// The most ports on one host, and that host.
    widest: (u64, String),
    total: Hop,
}

/// A window's rates, judged.
#[derive(Clone, Debug)]
struct Judged {
    span_s: f64,
    syn_per_s: f64,
    conns_per_s: f64,
    packets_per_s: f64,
    bytes_per_s: f64,
    /// Flood triggers: (code, value, threshold, count).
    triggers: Vec<(&'static str, f64, f64, f64)>,
    port_scan: bool,
}

/// (local address, target host).
type FlowKey = (Arc<str>, Arc<str>);

struct Flow {
    hops: BTreeMap<i64, Hop>,
    flood: Option<Episode>,
}

/// An open flood (per flow) or scan (per local address) episode.
#[derive(Clone, Debug)]
struct Episode {
    class: NetworkClass,
    local: Arc<str>,
    target: Option<String>,
    window_start: Ts,
    first_seen: Ts,
    last_seen: Ts,
    last_hot_end: Ts,
    windows: u32,
    counted_through: i64,
    packets: u64,
    syn: u64,
    conns: u64,
    bytes: u64,
    peak: Option<Judged>,
    protos: Vec<Proto>,
    hosts: BTreeSet<String>,
    ports: BTreeSet<u16>,
    capped: bool,
    /// Scans: the widest window (hosts, probes) and the most ports on one host.
    max_hosts: u64,
    max_ports_one_host: (u64, String),
    probes: f64,
    probe_packets: f64,
    evidence: Vec<(Ts, Origin)>,
    dropped: u64,
}

impl Episode {
    fn new(class: NetworkClass, local: &Arc<str>, target: Option<&str>, ws: Ts) -> Episode {
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
    fn count_hop(&mut self, target: &str, hop: &Hop, max_ev: usize) {
        self.packets += hop.raw_packets;
        self.syn += hop.raw_syn;
        self.conns += hop.raw_conns;
        self.bytes += hop.raw_bytes;
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
        self.dropped += hop.dropped;
    }
}

/// A closed episode waiting for the host's process events to catch up before it is joined.
struct Pending {
    ep: Episode,
}

/// What process sources saw per destination host: who sent there, when, how much; and which running
/// command lines name it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub id: ProcId,
    pub pid: i32,
    pub first: Ts,
    pub last: Ts,
    pub bytes: u64,
    pub events: u64,
    /// Named by the command line (not seen sending).
    pub by_argv: bool,
    /// The process as first described (kept for when the table has evicted it).
    pub view: Option<ProcessView>,
    /// Which file first showed it (for the join's wording).
    pub file: u32,
}

#[derive(Default)]
pub struct JoinIndex {
    /// Hash order never reaches output: candidates are sorted where they are used.
    by_target: foldhash::HashMap<Box<str>, Vec<Seen>>,
    /// Earliest and latest event with a pid on the host: what time process sources cover.
    pub covered: Option<(Ts, Ts)>,
}

impl JoinIndex {
    pub fn cover(&mut self, ts: Ts) {
        self.covered = Some(match self.covered {
            Some((a, b)) => (a.min(ts), b.max(ts)),
            None => (ts, ts),
        });
    }

    /// Notes that process `id` sent `bytes` to `remote` over `[from, to]` (or that its command line
    /// names it, `by_argv`). `describe` is asked only for a new entry.
    #[allow(clippy::too_many_arguments)]
    pub fn note(
        &mut self,
        remote: &str,
        id: ProcId,
        pid: i32,
        from: Ts,
        to: Ts,
        bytes: u64,
        by_argv: bool,
        file: u32,
        describe: impl FnOnce() -> Option<ProcessView>,
    ) {
        let (host, _) = split_endpoint(remote);
        if host.is_empty() {
            return;
        }
        let list = match self.by_target.get_mut(host) {
            Some(l) => l,
            None => self.by_target.entry(host.into()).or_default(),
        };
        if let Some(s) = list.iter_mut().find(|s| s.id == id && s.by_argv == by_argv) {
            s.first = s.first.min(from);
            s.last = s.last.max(to);
            s.bytes += bytes;
            s.events += 1;
            return;
        }
        let seen = Seen {
            id,
            pid,
            first: from,
            last: to,
            bytes,
            events: 1,
            by_argv,
            view: describe(),
            file,
        };
        if list.len() >= MAX_SEEN_PER_TARGET {
            // Replace the entry seen last longest ago.
            if let Some((i, _)) = list.iter().enumerate().min_by_key(|(_, s)| s.last) {
                list[i] = seen;
            }
        } else {
            list.push(seen);
        }
    }

    /// Records what a process event shows for the join: the time process sources cover; who sent to
    /// which destination (traffic, connections of process `id`); which command lines name one (execs).
    pub fn note_event(&mut self, procs: &ProcessTable, ev: &Event, id: Option<ProcId>) {
        self.cover(ev.ts);
        let Some(id) = id else { return };
        let Some(p) = procs.get(id) else { return };
        let pid = p.info.pid;
        let file = ev.origin.file;
        match &ev.kind {
            EventKind::Traffic(t) => {
                if let Some(r) = t.remote.as_deref() {
                    let (from, to) = (t.start.min(ev.ts), ev.ts);
                    self.note(r, id, pid, from, to, t.bytes_out, false, file, || {
                        view_of(procs, id)
                    });
                }
            }
            EventKind::Connect(c) => {
                if let Some(r) = c.remote.as_deref() {
                    self.note(r, id, pid, ev.ts, ev.ts, 0, false, file, || {
                        view_of(procs, id)
                    });
                }
            }
            EventKind::Exec { .. } => {
                let hosts = p
                    .info
                    .args
                    .as_deref()
                    .map(hosts_in_argv)
                    .unwrap_or_default();
                for h in hosts {
                    self.note(&h, id, pid, ev.ts, ev.ts, 0, true, file, || {
                        view_of(procs, id)
                    });
                }
            }
            _ => {}
        }
    }

    /// Forgets entries older than `cutoff` unless `keep` (a process still running).
    pub fn evict(&mut self, cutoff: Ts, keep: impl Fn(&Seen) -> bool) {
        self.by_target.retain(|_, list| {
            list.retain(|s| s.last >= cutoff || keep(s));
            !list.is_empty()
        });
    }

    pub fn candidates(&self, target: &str) -> &[Seen] {
        self.by_target.get(target).map_or(&[], Vec::as_slice)
    }
}

/// How the host engine describes a process for a join: its view, parent chain, exit time.
pub struct ProcFacts {
    pub view: ProcessView,
    pub parents: Vec<ProcessView>,
    pub exited: Option<Ts>,
}

impl ProcFacts {
    /// The facts of process `id` while the process table still has it.
    pub fn of(procs: &ProcessTable, id: ProcId) -> Option<ProcFacts> {
        let p = procs.get(id)?;
        Some(ProcFacts {
            view: view_of(procs, id)?,
            parents: procs
                .ancestors(id)
                .into_iter()
                .filter_map(|a| view_of(procs, a))
                .collect(),
            exited: p.exited,
        })
    }
}

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
        let local: Arc<str> = match t.local.as_deref() {
            Some(l) if !l.is_empty() => Arc::from(l),
            _ => self.host.clone(),
        };
        let (host, port) = t
            .remote
            .as_deref()
            .map(split_endpoint)
            .unwrap_or(("(unknown)", None));
        let mut target: Arc<str> = Arc::from(host);
        if !self.flows.contains_key(&(local.clone(), target.clone())) {
            let n = self.targets_per_local.entry(local.clone()).or_default();
            if *n >= MAX_FLOWS_PER_LOCAL {
                target = Arc::from("(other)");
            } else {
                *n += 1;
            }
        }
        let span = (end.0 - t.start.0).max(0);
        let (frac, from) = if span <= self.window_ns {
            (1.0, t.start.min(end))
        } else {
            (
                self.window_ns as f64 / span as f64,
                Ts(end.0 - self.window_ns),
            )
        };
        let packets = t.packets_out.unwrap_or(0);
        let syn = t.syn_out.unwrap_or(0);
        let max_ev = self.max_ev;
        let flow = self.flows.entry((local, target)).or_insert_with(|| Flow {
            hops: BTreeMap::new(),
            flood: None,
        });
        let hop = flow.hops.entry(h).or_default();
        hop.packets += packets as f64 * frac;
        if is_stateless(t.proto) {
            hop.stateless += packets as f64 * frac;
        }
        if t.proto == Proto::Udp {
            hop.udp_out += packets as f64 * frac;
            hop.udp_in += t.packets_in.unwrap_or(0) as f64 * frac;
        }
        hop.syn += syn as f64 * frac;
        hop.conns += f64::from(t.new_connections) * frac;
        hop.bytes += t.bytes_out as f64 * frac;
        hop.raw_packets += packets;
        hop.raw_syn += syn;
        hop.raw_conns += u64::from(t.new_connections);
        hop.raw_bytes += t.bytes_out;
        hop.active_from = min_opt(hop.active_from, Some(from));
        hop.active_to = hop.active_to.max(Some(end));
        if let Some(p) = port {
            hop.ports_capped |= !insert_capped(&mut hop.ports, &p, MAX_PORTS);
        }
        add_proto(&mut hop.protos, t.proto);
        push_capped(&mut hop.evidence, &mut hop.dropped, (end, origin), max_ev);
        self.clock = Some(self.clock.map_or(t.start, |c| c.max(t.start.min(end))));
        Ok(())
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
            let next = match self.judged_through {
                Some(j) => j + 1,
                None => match self
                    .flows
                    .values()
                    .filter_map(|f| f.hops.keys().next())
                    .min()
                {
                    Some(&m) => m,
                    None => return,
                },
            };
            if next > ready {
                return;
            }
            // Idle stretch: nothing recorded before `next` and no episode to close: jump ahead.
            let earliest = self
                .flows
                .values()
                .filter_map(|f| f.hops.keys().next())
                .min()
                .copied();
            let open = self.scans.values().next().is_some()
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

    /// The window ending with hop `h`: judge every flow and local address, open, extend and close
    /// episodes, drop hop `h - 1`.
    fn judge_hop(&mut self, h: i64) {
        let we = Ts((h + 1) * self.hop_ns);
        let ws = Ts(we.0 - self.window_ns);
        let cfg = self.cfg.clone();
        let min_span = self.min_span_ns;
        let window_ns = self.window_ns;
        let max_ev = self.max_ev;
        // Per local address: the window's fan-out for the scan rule.
        let mut fan: BTreeMap<Arc<str>, Fan> = BTreeMap::new();
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
            let j = judge(&cfg, &window, min_span, window_ns);
            let f = fan.entry(key.0.clone()).or_default();
            f.hosts += 1;
            f.probes += window.ports.len().max(1) as f64;
            f.packets += window.packets.max(window.conns);
            if window.ports.len() as u64 > f.widest.0 {
                f.widest = (window.ports.len() as u64, key.1.to_string());
            }
            let t = &mut f.total;
            t.packets += window.packets;
            t.syn += window.syn;
            t.conns += window.conns;
            t.bytes += window.bytes;
            t.active_from = min_opt(t.active_from, window.active_from);
            t.active_to = t.active_to.max(window.active_to);
            judged.push((key.clone(), j));
        }
        // Scan windows per local address.
        let port_scanning: BTreeSet<&Arc<str>> = judged
            .iter()
            .filter(|(_, j)| j.port_scan)
            .map(|((l, _), _)| l)
            .collect();
        let mut scanning: BTreeSet<Arc<str>> = BTreeSet::new();
        for (local, f) in &fan {
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
            let j = judge(&cfg, &f.total, min_span, window_ns);
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
                        ep.count_hop(t, hop, max_ev);
                    }
                }
                ep.counted_through = hh;
            }
        }
        // Flood windows per flow (a port-swept target is a scan's, never a flood's).
        for (key, j) in judged {
            let hot = !j.port_scan && !j.triggers.is_empty();
            let Some(flow) = self.flows.get_mut(&key) else {
                continue;
            };
            if hot && flow.flood.is_none() {
                self.floods += 1;
                flow.flood = Some(Episode::new(NetworkClass::Flood, &key.0, Some(&key.1), ws));
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
            // While the episode is open, every hop counts once (cooler stretches too).
            for hh in from..=h {
                if hh <= ep.counted_through {
                    continue;
                }
                if let Some(hop) = flow.hops.get(&hh) {
                    ep.count_hop(&key.1, hop, max_ev);
                }
                ep.counted_through = hh;
            }
        }
        // Close quiet episodes.
        let quiet = self.quiet_ns;
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
                    self.pending.push(Pending { ep });
                }
            }
        }
        // Hop h - 1 is no longer part of any window; idle flows go.
        let mut gone = Vec::new();
        for (key, flow) in self.flows.iter_mut() {
            flow.hops.retain(|k, _| *k >= h);
            if flow.hops.is_empty() && flow.flood.is_none() {
                gone.push(key.clone());
            }
        }
        for key in gone {
            self.flows.remove(&key);
            if let Some(n) = self.targets_per_local.get_mut(&key.0) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.targets_per_local.remove(&key.0);
                }
            }
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
        for flow in self.flows.values_mut() {
            if let Some(ep) = flow.flood.take() {
                self.pending.push(Pending { ep });
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
            .chain(self.scans.values().map(|e| e.window_start));
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
            .map(|p| self.build(p.ep, files, facts))
            .collect();
        out.sort_by(|a, b| a.first_seen.cmp(&b.first_seen).then(a.id.cmp(&b.id)));
        out
    }

    fn build(
        &self,
        ep: Episode,
        files: &dyn Fn(u32) -> String,
        facts: &dyn Fn(ProcId) -> Option<ProcFacts>,
    ) -> NetworkFinding {
        let cfg = &self.cfg;
        let target = match ep.class {
            NetworkClass::Flood => ep.target.clone(),
            // A scan of one host is a port scan of it.
            NetworkClass::Scan if ep.hosts.len() == 1 && !ep.capped => {
                ep.hosts.iter().next().cloned()
            }
            NetworkClass::Scan => None,
        };
        let first = if ep.first_seen == Ts::MAX {
            ep.window_start
        } else {
            ep.first_seen
        };
        let last = if ep.last_seen == Ts::MIN {
            ep.last_hot_end
        } else {
            ep.last_seen
        };
        let span_ns = (last.0 - first.0).max(self.min_span_ns);
        let span_s = span_ns as f64 / 1e9;
        let name = format!(
            "{}|{}|{}|{}|{}",
            self.host,
            ep.local,
            target.as_deref().unwrap_or("*"),
            ep.class.as_str(),
            ep.window_start.0
        );
        let id = uuid::Uuid::new_v5(&NETWORK_NAMESPACE, name.as_bytes()).to_string();
        let mut protos = ep.protos.clone();
        protos.sort();
        let peak = ep.peak.clone();
        let mut reasons = Vec::new();
        let severity;
        match ep.class {
            NetworkClass::Flood => {
                let t = target.as_deref().unwrap_or("?");
                let mut ratio: f64 = 1.0;
                if let Some(p) = &peak {
                    for (code, v, thr, n) in &p.triggers {
                        ratio = ratio.max(v / thr);
                        let what = match *code {
                            "syn_rate" => "SYN/s (TCP connection openers)",
                            "packet_rate" => "UDP/ICMP packets/s",
                            _ => "new connections/s",
                        };
                        let min = if *code == "connection_rate" {
                            cfg.min_connections
                        } else {
                            cfg.min_packets
                        };
                        reasons.push(format!(
                            "{} {what} to {t} over {:.2} s of activity ({} in the window; threshold {}/s with at least {min})",
                            fmt_count_rate(*v),
                            p.span_s,
                            fmt_count_rate(*n),
                            fmt_count_rate(*thr),
                        ));
                    }
                }
                if ep.ports.is_empty() {
                    reasons.push(format!(
                        "one target: {t} (this source does not report destination ports for it)"
                    ));
                } else {
                    reasons.push(format!(
                    "one target: {t} on {} destination port(s){}",
                    ep.ports.len(),
                    match ep.ports.len() {
                        1..=4 => format!(
                            " ({})",
                            ep.ports
                                .iter()
                                .map(u16::to_string)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        _ if ep.ports.len() as u64 >= cfg.scan_ports => {
                            " (port-spraying at flood rate; a fast full-range port scan of one host would look the same)"
                                .to_string()
                        }
                        _ => String::new(),
                    }
                ));
                }
                if ep.windows > 1 {
                    reasons.push(format!(
                        "sustained: {} flood windows of {} s",
                        ep.windows,
                        self.window_ns / NANOS_PER_SEC
                    ));
                }
                severity = crate::severity::severity(crate::score::network_score(ep.class, ratio));
            }
            NetworkClass::Scan => {
                let per_probe = ep.probe_packets / ep.probes.max(1.0);
                reasons.push(format!(
                    "scan, not a flood: {} reached {} host(s){} and {} distinct port(s), {:.1} packet(s) per probe (at most {} for a scan); widest window: {} hosts; most ports on one host: {} ({})",
                    ep.local,
                    ep.hosts.len(),
                    if ep.capped { "+" } else { "" },
                    ep.ports.len(),
                    per_probe,
                    cfg.scan_max_packets_per_probe,
                    ep.max_hosts,
                    ep.max_ports_one_host.0,
                    ep.max_ports_one_host.1,
                ));
                if let Some(p) = &peak {
                    reasons.push(format!(
                        "peak {} connections/s and {} packets/s over {:.2} s of activity: a scan's rate, whatever it is, does not make its targets flood targets",
                        fmt_count_rate(p.conns_per_s),
                        fmt_count_rate(p.packets_per_s),
                        p.span_s
                    ));
                }
                severity = crate::severity::severity(crate::score::network_score(ep.class, 0.0));
            }
        }
        let process = match (&target, ep.class) {
            (Some(t), NetworkClass::Flood) => self.join(t, first, last, files, facts),
            _ => ProcessJoin {
                kind: JoinKind::NotSeen,
                process: None,
                parents: Vec::new(),
                others: 0,
                text: "scans are not joined to a process (informational)".into(),
            },
        };
        let (pk, sy, cn) = peak.as_ref().map_or((0.0, 0.0, 0.0), |p| {
            (p.packets_per_s, p.syn_per_s, p.conns_per_s)
        });
        NetworkFinding {
            id,
            host: self.host.to_string(),
            class: ep.class,
            severity,
            local: ep.local.to_string(),
            target,
            protocols: protos,
            first_seen: first,
            last_seen: last,
            windows: ep.windows,
            window_secs: (self.window_ns / NANOS_PER_SEC) as u64,
            packets: ep.packets,
            syn: ep.syn,
            bytes: ep.bytes,
            connections: ep.conns,
            peak_packets_per_s: pk,
            peak_syn_per_s: sy,
            peak_connections_per_s: cn,
            peak_bytes_per_s: peak.as_ref().map_or(0.0, |p| p.bytes_per_s),
            peak_span_secs: peak.as_ref().map_or(0.0, |p| p.span_s),
            avg_packets_per_s: ep.packets as f64 / span_s,
            avg_syn_per_s: ep.syn as f64 / span_s,
            avg_connections_per_s: ep.conns as f64 / span_s,
            span_secs: span_s,
            distinct_hosts: ep.hosts.len() as u64,
            distinct_ports: ep.ports.len() as u64,
            distinct_capped: ep.capped,
            reasons,
            evidences: ep
                .evidence
                .iter()
                .map(|(t, o)| NetworkEvidence {
                    time: *t,
                    file: files(o.file),
                    line: o.line,
                })
                .collect(),
            evidences_omitted: ep.dropped,
            process,
        }
    }

    /// The process behind a flood: one a process source saw sending to the target within
    /// `join_slack` of the finding (the busiest), else one whose command line names the target and
    /// ran then; else what is missing, in words.
    fn join(
        &self,
        target: &str,
        first: Ts,
        last: Ts,
        files: &dyn Fn(u32) -> String,
        facts: &dyn Fn(ProcId) -> Option<ProcFacts>,
    ) -> ProcessJoin {
        let from = first.add_nanos(-self.join_slack_ns);
        let to = last.add_nanos(self.join_slack_ns);
        let cands = self.index.candidates(target);
        let overlaps = |s: &Seen| {
            let end = if s.by_argv {
                facts(s.id)
                    .and_then(|f| f.exited)
                    .unwrap_or(Ts::MAX)
                    .max(s.last)
            } else {
                s.last
            };
            s.first <= to && end >= from
        };
        let mut sent: Vec<&Seen> = cands.iter().filter(|s| !s.by_argv && overlaps(s)).collect();
        sent.sort_by(|a, b| {
            b.bytes
                .cmp(&a.bytes)
                .then(b.events.cmp(&a.events))
                .then(a.pid.cmp(&b.pid))
        });
        let mut named: Vec<&Seen> = cands.iter().filter(|s| s.by_argv && overlaps(s)).collect();
        named.sort_by(|a, b| b.first.cmp(&a.first).then(a.pid.cmp(&b.pid)));
        let describe = |s: &Seen| -> (Option<ProcessView>, Vec<ProcessView>, String) {
            match facts(s.id) {
                Some(f) => {
                    let who = who(&f.view);
                    (Some(f.view), f.parents, who)
                }
                None => {
                    let who = s.view.as_ref().map_or(format!("pid {}", s.pid), who);
                    (s.view.clone(), Vec::new(), who)
                }
            }
        };
        if let Some(best) = sent.first() {
            let (view, parents, who) = describe(best);
            return ProcessJoin {
                kind: JoinKind::Destination,
                process: view,
                parents,
                others: (sent.len() - 1) as u64,
                text: format!(
                    "joined by destination {target} and time: {who} sent {} byte(s) to {target} in {} sample(s) between {} and {} ({})",
                    best.bytes,
                    best.events,
                    best.first,
                    best.last,
                    files(best.file)
                ),
            };
        }
        if let Some(best) = named.first() {
            let (view, parents, who) = describe(best);
            return ProcessJoin {
                kind: JoinKind::CommandLine,
                process: view,
                parents,
                others: (named.len() - 1) as u64,
                text: format!(
                    "joined by command line and time: {who} names {target} and was running (started {}); no process source saw its packets (raw sockets and ICMP are invisible to nettop and the unified log; PKTAP capture would attribute them)",
                    best.first
                ),
            };
        }
        let covered = self
            .index
            .covered
            .is_some_and(|(a, b)| a <= to && b >= from);
        if covered {
            ProcessJoin {
                kind: JoinKind::NotSeen,
                process: None,
                parents: Vec::new(),
                others: 0,
                text: format!(
                    "network-only: process sources cover {} at this time, but none saw traffic to {target} or a command line naming it (nettop does not show ICMP or raw-socket traffic; the unified log only Network.framework connections); the process, user and session are unknown",
                    self.host
                ),
            }
        } else {
            ProcessJoin {
                kind: JoinKind::NetworkOnly,
                process: None,
                parents: Vec::new(),
                others: 0,
                text: format!(
                    "network-only: no process source covers this host/time ({} has no exec, connection or per-process traffic events between {} and {}): the process, command line, parent, user and session are unknown; add eslogger and nettop on the host",
                    self.host, from, to
                ),
            }
        }
    }
}

fn who(v: &ProcessView) -> String {
    let what = v
        .cmd_line
        .as_deref()
        .or(v.path.as_deref())
        .unwrap_or("(unknown image)");
    format!("pid {} ({what})", v.pid)
}

/// How far a window's strongest trigger is past its threshold (for choosing the peak window).
fn strength(j: &Judged) -> f64 {
    j.triggers
        .iter()
        .map(|(_, v, t, _)| v / t)
        .fold(0.0, f64::max)
}

fn judge(
    cfg: &floodwatch_core::config::Network,
    w: &Hop,
    min_span_ns: i64,
    window_ns: i64,
) -> Judged {
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
        triggers,
        port_scan: ports >= cfg.scan_ports
            && per_port <= cfg.scan_max_packets_per_probe
            && !spraying,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_split_by_shape() {
        assert_eq!(split_endpoint("1.2.3.4:443"), ("1.2.3.4", Some(443)));
        assert_eq!(split_endpoint("[fe80::1]:53"), ("fe80::1", Some(53)));
        assert_eq!(
            split_endpoint("fe80::1%awdl0.52214"),
            ("fe80::1%awdl0", Some(52214))
        );
        assert_eq!(split_endpoint("fc00::1"), ("fc00::1", None));
        assert_eq!(split_endpoint("::ffff:1.2.3.4"), ("::ffff:1.2.3.4", None));
        assert_eq!(
            split_endpoint("IPv4#1a2b3c4d:80"),
            ("IPv4#1a2b3c4d", Some(80))
        );
        assert_eq!(split_endpoint("10.0.0.1"), ("10.0.0.1", None));
    }

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
        let out = n.take_ready(None, true, &|_| "f".into(), &|_| None);
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

    #[test]
    fn command_lines_name_hosts() {
        let a = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            hosts_in_argv(&a(&["hping3", "-S", "--flood", "192.168.50.4"])),
            vec!["192.168.50.4"]
        );
        assert_eq!(
            hosts_in_argv(&a(&["curl", "-s", "http://203.0.113.10:8080/ping?x=1"])),
            vec!["203.0.113.10"]
        );
        assert_eq!(
            hosts_in_argv(&a(&["curl", "http://[fd00::5]/x"])),
            vec!["fd00::5"]
        );
        assert!(hosts_in_argv(&a(&["ping", "-c", "3", "example.com"])).is_empty());
    }
}
