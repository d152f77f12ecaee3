//! BurstTimeWindow: a host's overlapping windows. Windows are `windows.window` long and overlap by half:
//! one is judged every hop (half a window) over the last two hops, so a burst is never cut in two by a
//! window boundary. [`Windows`] keeps, per subject, the current hop's accumulator ([`WindowAcc`]) and the
//! previous hop's; at a hop's end it adds what declared floods imply for the hop, combines the two
//! halves into each subject's window and evaluates its [`WindowSignals`].
//!
//! In the order a window is made: accumulation (what a subject did in one hop), the hop clock and
//! the combining of two halves, then signals (the window's counts as rates, judged against the
//! thresholds).

use crate::alert::EvidenceSeed;
use crate::declared::Declared;
use crate::process::{ProcId, ProcessTable};
use floodwatch_core::config::Config;
use floodwatch_core::event::Proto;
use floodwatch_core::time::NANOS_PER_SEC;
use floodwatch_core::Ts;
use foldhash::HashMap;
use std::collections::BTreeMap;

// ---- accumulation: what one subject did in one hop ----

// Ordered maps: sums over them (destination shares) must not depend on hash order, or re-runs could
// differ in the last digit.

/// How many distinct destinations a window tracks per subject (the rest are pooled as "other").
const MAX_DESTINATIONS: usize = 64;

#[derive(Clone, Debug, Default, bitcode::Encode, bitcode::Decode)]
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
    /// The source reported no protocol and the command line declared it: how (for the explanation).
    pub proto_from_cmdline: Option<String>,
    pub declared: Option<Declared>,
    /// The member process that did the most (for context and the alert's actor).
    pub busiest_member: Option<(u64, f64)>,
    /// Located evidence gathered in this window (bounded by `output.max_evidences`).
    pub evidence: Vec<EvidenceSeed>,
    /// Evidence items past the bound: counted so the alert can say how many it leaves out.
    pub evidence_dropped: u64,
    /// What declared command lines imply (ping -f: ~100 packets/s), kept apart from what was measured:
    /// both describe the same traffic, so the window takes the larger, never the sum.
    pub weighted_packets_estimated: f64,
    pub bytes_estimated: f64,
    pub weighted_bytes_estimated: f64,
    /// Inbound bytes of the measured traffic samples, and how many samples there were: whether the
    /// target answered (a conversation) or the traffic was one-way.
    pub bytes_in: f64,
    pub traffic_samples: u64,
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
            proto_from_cmdline: self
                .proto_from_cmdline
                .clone()
                .or_else(|| later.proto_from_cmdline.clone()),
            declared: self.declared.clone().or_else(|| later.declared.clone()),
            busiest_member: self.busiest_member,
            evidence: Vec::new(),
            evidence_dropped: 0,
            weighted_packets_estimated: self.weighted_packets_estimated
                + later.weighted_packets_estimated,
            bytes_estimated: self.bytes_estimated + later.bytes_estimated,
            weighted_bytes_estimated: self.weighted_bytes_estimated
                + later.weighted_bytes_estimated,
            bytes_in: self.bytes_in + later.bytes_in,
            traffic_samples: self.traffic_samples + later.traffic_samples,
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

    /// Traffic just added took its protocol from the command line (`how` says what declares it).
    pub fn note_proto_from_cmdline(&mut self, how: &str) {
        if self.proto_from_cmdline.is_none() {
            self.proto_from_cmdline = Some(how.to_string());
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
        self.traffic_samples += 1;
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
/// Bytes, not chars: a port is ASCII digits, and a colon is one byte (a char walk and a pattern
/// search took 220 instructions a call, on every in-scope traffic event).
fn strip_port(remote: &str) -> &str {
    let b = remote.as_bytes();
    if let Some(colon) = b.iter().rposition(|&c| c == b':') {
        let (host, port) = (&b[..colon], &b[colon + 1..]);
        if port.iter().all(u8::is_ascii_digit) && !host.contains(&b':') {
            return &remote[..colon];
        }
    }
    remote
}

// ---- signals: a window's counts as rates, judged against the thresholds ----

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, bitcode::Encode, bitcode::Decode)]
pub enum Trigger {
    Spawns,
    Packets,
    Bytes,
    Connections,
    Declared,
}

#[derive(Clone, Debug, bitcode::Encode, bitcode::Decode)]
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

// ---- the hop clock: halves combined into windows ----

/// A flood a command line declared, alive from `since` until its process exits or execs.
#[derive(bitcode::Encode, bitcode::Decode)]
struct LiveDeclared {
    subject: ProcId,
    since: Ts,
    until: Option<Ts>,
    declared: Declared,
}

/// The window a hop's end closes: `[start, end)`, of which the hop just ended is `[hop_start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, bitcode::Encode, bitcode::Decode)]
pub struct WindowEnd {
    pub start: Ts,
    pub hop_start: Ts,
    pub end: Ts,
}

/// One subject's window at a hop's end: its signals, and its two halves (each half is folded into an
/// episode once, though it is judged in two windows).
#[derive(bitcode::Encode, bitcode::Decode)]
pub struct SubjectWindow {
    pub subject: ProcId,
    pub sig: WindowSignals,
    /// The member that did the most over the whole window.
    pub busiest: Option<ProcId>,
    /// The previous hop (judged before, as the later half of the previous window).
    pub first_half: Option<WindowAcc>,
    /// The hop just ended (empty when the subject was only active in the previous one).
    pub second_half: WindowAcc,
}

/// A host's windows: the current hop's accumulators, the previous hop's, and declared floods alive.
#[derive(bitcode::Encode, bitcode::Decode)]
pub struct Windows {
    window_ns: i64,
    hop_ns: i64,
    /// The current hop's index (event time / hop).
    cur_hop: Option<i64>,
    active: HashMap<ProcId, WindowAcc>,
    /// The previous hop's accumulators: the first half of the window judged at the current hop's end.
    prev_hop: HashMap<ProcId, WindowAcc>,
    declared: BTreeMap<ProcId, LiveDeclared>,
}

impl Windows {
    pub fn new(cfg: &Config) -> Windows {
        let window_ns = cfg.window_secs() as i64 * NANOS_PER_SEC;
        Windows {
            window_ns,
            hop_ns: (window_ns / 2).max(1),
            cur_hop: None,
            active: HashMap::default(),
            prev_hop: HashMap::default(),
            declared: BTreeMap::new(),
        }
    }

    pub fn window_ns(&self) -> i64 {
        self.window_ns
    }

    /// The hop holding instant `ts`.
    pub fn hop_of(&self, ts: Ts) -> i64 {
        ts.0.div_euclid(self.hop_ns)
    }

    /// The current hop (None before the first event).
    pub fn current_hop(&self) -> Option<i64> {
        self.cur_hop
    }

    pub fn set_current_hop(&mut self, hop: i64) {
        self.cur_hop = Some(hop);
    }

    /// Nothing counted in either half and no declared flood alive: hops can be skipped.
    pub fn is_idle(&self) -> bool {
        self.active.is_empty() && self.prev_hop.is_empty() && self.declared.is_empty()
    }

    /// The current hop's accumulator of `subject`.
    pub fn acc(&mut self, subject: ProcId) -> &mut WindowAcc {
        self.active.entry(subject).or_default()
    }

    /// Adds located evidence to the subject's current hop, or counts it as left out past `max`
    /// (`make` is only called when the item is kept).
    pub fn add_evidence(
        &mut self,
        subject: ProcId,
        max: usize,
        make: impl FnOnce() -> EvidenceSeed,
    ) {
        if let Some(a) = self.active.get_mut(&subject) {
            if a.evidence.len() >= max {
                a.evidence_dropped += 1;
                return;
            }
        }
        let e = make();
        self.acc(subject).evidence.push(e);
    }

    /// Process `id`'s command line declares a flood from `since`, counted for `subject`.
    pub fn declare(&mut self, id: ProcId, subject: ProcId, since: Ts, declared: Declared) {
        self.declared.insert(
            id,
            LiveDeclared {
                subject,
                since,
                until: None,
                declared,
            },
        );
    }

    /// Process `id` exec'd a new image at `ts`: a flood its old image declared ends then (if not before).
    pub fn image_replaced(&mut self, id: ProcId, ts: Ts) {
        if let Some(d) = self.declared.get_mut(&id) {
            d.until.get_or_insert(ts);
        }
    }

    /// Process `id` exited at `ts`: a flood it declared ends then.
    pub fn exited(&mut self, id: ProcId, ts: Ts) {
        if let Some(d) = self.declared.get_mut(&id) {
            d.until = Some(ts);
        }
    }

    /// Processes a live declared flood refers to (its process and its subject): the process table keeps them.
    pub fn declared_processes(&self) -> impl Iterator<Item = ProcId> + '_ {
        self.declared
            .keys()
            .copied()
            .chain(self.declared.values().map(|d| d.subject))
    }

    /// The halves of `subject`'s current window so far (earlier first), with their evidence: what an
    /// alert opened early (`watch`) shows, so it says what a hunt's alert of the same window says.
    pub fn halves_so_far(&self, subject: ProcId) -> Vec<WindowAcc> {
        self.prev_hop
            .get(&subject)
            .into_iter()
            .chain(self.active.get(&subject))
            .cloned()
            .collect()
    }

    /// The window ending with the current hop, so far (for `watch`, which opens an alert as soon as a
    /// window's counts already exceed a whole window's budget): its start, signals and busiest member.
    pub fn so_far(
        &self,
        cfg: &Config,
        subject: ProcId,
    ) -> Option<(Ts, WindowSignals, Option<ProcId>)> {
        let cur = self.active.get(&subject)?;
        let start = Ts((self.cur_hop.unwrap_or(0) + 1) * self.hop_ns - self.window_ns);
        Some(match self.prev_hop.get(&subject) {
            Some(prev) => {
                let window = prev.combined(cur);
                let sig = WindowSignals::evaluate(cfg, start, &window);
                (start, sig, window.busiest_member.map(|m| m.0))
            }
            None => (
                start,
                WindowSignals::evaluate(cfg, start, cur),
                cur.busiest_member.map(|m| m.0),
            ),
        })
    }

    /// Ends hop `hop`: declared floods add what they imply for the part of the hop their process was
    /// alive, then each subject's two halves become its window, with signals. Both halves are handed
    /// over; what the next window needs of this hop comes back through [`Windows::keep_half`].
    pub fn close_hop(
        &mut self,
        hop: i64,
        cfg: &Config,
        procs: &ProcessTable,
    ) -> (WindowEnd, Vec<SubjectWindow>) {
        let hop_start = Ts(hop * self.hop_ns);
        let end = Ts(hop_start.0 + self.hop_ns);
        let bounds = WindowEnd {
            start: Ts(end.0 - self.window_ns),
            hop_start,
            end,
        };
        self.add_declared(cfg, procs, hop_start, end);

        // Subjects in order, each half taken out of its map once: an ordered map of the pairs
        // moved every (large) half into its nodes and out again.
        let mut subjects: Vec<ProcId> = self
            .prev_hop
            .keys()
            .chain(self.active.keys())
            .copied()
            .collect();
        subjects.sort_unstable();
        subjects.dedup();
        let mut out = Vec::with_capacity(subjects.len());
        for subject in subjects {
            let (first, second) = (self.prev_hop.remove(&subject), self.active.remove(&subject));
            let window = match (&first, &second) {
                (Some(p), Some(c)) => p.combined(c),
                (Some(p), None) => p.combined(&WindowAcc::default()),
                (None, Some(c)) => WindowAcc::default().combined(c),
                (None, None) => continue,
            };
            out.push(SubjectWindow {
                subject,
                sig: WindowSignals::evaluate(cfg, bounds.start, &window),
                busiest: window.busiest_member.map(|m| m.0),
                first_half: first,
                second_half: second.unwrap_or_default(),
            });
        }
        (bounds, out)
    }

    /// Keeps a half just judged as the first half of the next window.
    pub fn keep_half(&mut self, subject: ProcId, half: WindowAcc) {
        self.prev_hop.insert(subject, half);
    }

    /// Declared floods contribute to `[hop_start, end)` for the part their process was alive; those that
    /// ended by `end` are done.
    fn add_declared(&mut self, cfg: &Config, procs: &ProcessTable, hop_start: Ts, end: Ts) {
        // An exit or exec may have reached the process table without ending the entry (a later image
        // of the same lifetime, an exit seen through another pid lookup): the table has the last word.
        for (id, d) in self.declared.iter_mut() {
            if d.until.is_none() {
                d.until = procs.get(*id).and_then(|p| p.exited);
            }
        }
        let mut ended = Vec::new();
        for (id, d) in &self.declared {
            let from = d.since.max(hop_start);
            let to = d.until.map_or(end, |u| u.min(end));
            if to > from {
                let secs = (to.0 - from.0) as f64 / 1e9;
                self.active
                    .entry(d.subject)
                    .or_default()
                    .add_declared(cfg, *id, &d.declared, secs);
            }
            if d.until.is_some_and(|u| u <= end) {
                ended.push(*id);
            }
        }
        for id in ended {
            self.declared.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOP: i64 = 15 * NANOS_PER_SEC;

    /// The byte-wise port strip keeps what the char-wise one kept: IPv4 and host names lose a
    /// numeric port; IPv6 (bracketed or dotted), empty and non-numeric ports, non-ASCII digits and
    /// names stay whole.
    #[test]
    fn strip_port_keeps_what_the_char_walk_kept() {
        let char_walk = |remote: &str| -> String {
            match remote.rsplit_once(':') {
                Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) && !h.contains(':') => h,
                _ => remote,
            }
            .to_string()
        };
        let cases = [
            "17.57.146.138:5223",
            "one.one.one.one:443",
            "[fe80::1]:53",
            "fe80::1.53",
            "host:",
            ":443",
            ":",
            "",
            "host:44a",
            "host:\u{0663}\u{0664}",
            "h\u{e9}te:80",
            "a:b:80",
            "10.0.0.1",
        ];
        for r in cases {
            assert_eq!(strip_port(r), char_walk(r), "{r:?}");
        }
        assert_eq!(strip_port("17.57.146.138:5223"), "17.57.146.138");
        assert_eq!(strip_port("[fe80::1]:53"), "[fe80::1]:53");
    }

    #[test]
    fn a_burst_across_a_hop_boundary_is_judged_whole_and_each_half_is_handed_over_once() {
        let cfg = Config::default();
        let procs = ProcessTable::new(0);
        let mut w = Windows::new(&cfg);
        assert_eq!(w.hop_of(Ts(HOP * 4 + 1)), 4);
        // 75 execs late in hop 4, 75 early in hop 5: 2.5/s in either window alone, 5/s over both.
        for _ in 0..75 {
            w.acc(7).add_spawn("/usr/bin/curl", 8);
        }
        let (end, first) = w.close_hop(4, &cfg, &procs);
        assert_eq!(
            end,
            WindowEnd {
                start: Ts(HOP * 3),
                hop_start: Ts(HOP * 4),
                end: Ts(HOP * 5)
            }
        );
        assert_eq!(first.len(), 1);
        assert!(!first[0].sig.hot());
        assert_eq!(first[0].sig.spawns_per_s, 2.5);
        assert!(first[0].first_half.is_none());
        assert!(w.is_idle(), "both halves are handed over");
        let sw = first.into_iter().next().unwrap();
        w.keep_half(sw.subject, sw.second_half);
        assert!(!w.is_idle());
        for _ in 0..75 {
            w.acc(7).add_spawn("/usr/bin/curl", 9);
        }
        let (end, second) = w.close_hop(5, &cfg, &procs);
        assert_eq!(end.start, Ts(HOP * 4));
        let sw = &second[0];
        assert_eq!(sw.subject, 7);
        assert_eq!(sw.sig.spawns_per_s, 5.0);
        assert_eq!(sw.sig.triggers[0].0, Trigger::Spawns);
        assert_eq!(sw.first_half.as_ref().map(|h| h.spawns), Some(75));
        assert_eq!(sw.second_half.spawns, 75);
        // Nothing kept back: the next hop starts empty.
        assert!(w.is_idle());
        let (_, none) = w.close_hop(6, &cfg, &procs);
        assert!(none.is_empty());
    }

    #[test]
    fn a_declared_flood_counts_for_the_part_of_the_hop_its_process_was_alive() {
        let cfg = Config::default();
        let procs = ProcessTable::new(0);
        let mut w = Windows::new(&cfg);
        let args: Vec<String> = ["ping", "-f", "198.51.100.7"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let t = &cfg.thresholds;
        let d = crate::declared::analyze(
            "ping",
            &args,
            t.declared_packets_per_s,
            t.declared_curl_urls,
        )
        .expect("ping -f declares a flood");
        let pps = d.est_pps.expect("an estimated rate");
        // Declared 5 s into hop 0, exits 5 s into hop 1.
        w.declare(3, 2, Ts(5 * NANOS_PER_SEC), d);
        let (_, hop0) = w.close_hop(0, &cfg, &procs);
        let est0 = hop0[0].second_half.packets_estimated;
        assert!((est0 - pps * 10.0).abs() < 1e-6, "{est0}");
        assert!(hop0[0].sig.hot(), "a declared flood makes its window hot");
        w.exited(3, Ts(HOP + 5 * NANOS_PER_SEC));
        let (_, hop1) = w.close_hop(1, &cfg, &procs);
        let est1 = hop1[0].second_half.packets_estimated;
        assert!((est1 - pps * 5.0).abs() < 1e-6, "{est1}");
        // Ended inside hop 1: nothing declared is left alive.
        assert_eq!(w.declared_processes().count(), 0);
        assert!(w.is_idle());
    }

    #[test]
    fn so_far_adds_the_previous_half_and_evidence_is_bounded() {
        let cfg = Config::default();
        let mut w = Windows::new(&cfg);
        w.set_current_hop(10);
        w.keep_half(1, {
            let mut a = WindowAcc::default();
            a.add_connection(4, floodwatch_core::event::Proto::Tcp, Some("10.0.0.1:80"));
            a
        });
        assert!(
            w.so_far(&cfg, 1).is_none(),
            "nothing in the current hop yet"
        );
        w.acc(1)
            .add_connection(5, floodwatch_core::event::Proto::Tcp, Some("10.0.0.1:80"));
        let (start, sig, _) = w.so_far(&cfg, 1).unwrap();
        assert_eq!(start, Ts(HOP * 11 - 2 * HOP));
        assert_eq!(sig.connections_per_s, 2.0 / 30.0);
        let mut made = 0;
        for _ in 0..3 {
            w.add_evidence(1, 2, || {
                made += 1;
                EvidenceSeed::at_line(1)
            });
        }
        assert_eq!(made, 2, "an item past the bound is not even built");
        assert_eq!(w.acc(1).evidence.len(), 2);
        assert_eq!(w.acc(1).evidence_dropped, 1);
    }
}

#[cfg(test)]
mod signal_tests {
    use super::*;
    use floodwatch_core::event::Proto;

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
