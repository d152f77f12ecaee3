//! Network-level findings: what pid-less traffic (Zeek conn.log, packet captures) shows per local
//! address and target host, judged over the same BurstTimeWindow windows as process alerts. A finding
//! is a flood (one target, packet / SYN / connection rate above the `[network]` thresholds) or a scan
//! (fan-out over many hosts or ports with few packets each: informational, never a flood). It names the
//! process behind it when a process source on the same host saw the same destination at the same time,
//! and says what is missing when none did: network-only findings lack the context AN0971 asks for.

use crate::alert::{ProcessView, Severity};
use crate::event::Proto;
use crate::respond::{CampaignRef, Playbook};
use crate::time::Ts;
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[derive(bitcode::Encode, bitcode::Decode)]
pub enum NetworkClass {
    /// One target, a rate above a `[network]` threshold.
    Flood,
    /// Fan-out over many hosts or ports with few packets each: reported, never a flood.
    Scan,
    /// Many senders reaching one target at flood rate in total (a spoofed-source flood seen from the
    /// victim's side): informational, in the summary and report, never a T1498.001 finding (the
    /// analytic is about floods *from* this host).
    Inbound,
}

impl NetworkClass {
    pub fn as_str(self) -> &'static str {
        match self {
            NetworkClass::Flood => "flood",
            NetworkClass::Scan => "scan",
            NetworkClass::Inbound => "inbound",
        }
    }
}

/// How the finding was tied to a process (or why it was not).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[derive(bitcode::Encode, bitcode::Decode)]
pub enum JoinKind {
    /// A process source on the host saw this process send to the target at the same time.
    Destination,
    /// A process whose command line names the target ran at the same time (raw sockets, ICMP: its
    /// packets are invisible to nettop and the unified log).
    CommandLine,
    /// Process sources cover the host at that time, but none saw the target.
    NotSeen,
    /// No process source covers the host at that time.
    NetworkOnly,
}

#[derive(Clone, Debug, Serialize, bitcode::Encode, bitcode::Decode)]
pub struct ProcessJoin {
    pub kind: JoinKind,
    /// The joined process (pid, path, argv, user when known).
    pub process: Option<ProcessView>,
    /// Its parent chain, nearest first.
    pub parents: Vec<ProcessView>,
    /// Other processes that matched too (the busiest one is named).
    pub others: u64,
    /// In words: "joined by destination 192.168.50.4 and time: ..." or "network-only: ...".
    pub text: String,
}

/// Where a contributing pid-less record is.
#[derive(Clone, Debug, Serialize, bitcode::Encode, bitcode::Decode)]
pub struct NetworkEvidence {
    pub time: Ts,
    pub file: String,
    pub line: u64,
    /// The source format the file was read as (`pcap`, `zeek-tsv`...), when the run knows it.
    /// For the OCSF `metadata.log_provider`; not in the summary JSON.
    #[serde(skip)]
    pub format: Option<std::sync::Arc<str>>,
}

#[derive(Clone, Debug, Serialize, bitcode::Encode, bitcode::Decode)]
pub struct NetworkFinding {
    /// Deterministic: a UUIDv5 of host, local address, target, class and the first window's start.
    pub id: String,
    pub host: String,
    pub class: NetworkClass,
    pub severity: Severity,
    /// The sending address (the source's `local`, else the host); for an inbound flood, "N senders".
    pub local: String,
    /// The target host; None for a scan over many hosts.
    pub target: Option<String>,
    pub protocols: Vec<Proto>,
    pub first_seen: Ts,
    pub last_seen: Ts,
    /// Windows judged flood (or scan) in the episode, and their length.
    pub windows: u32,
    pub window_secs: u64,
    /// Totals over the episode.
    pub packets: u64,
    /// TCP connection openers (SYN without ACK), when the source sees flags.
    pub syn: u64,
    pub bytes: u64,
    pub connections: u64,
    /// Answers from the target back to the sender during a flood (RST/ACK, echo replies, ICMP errors):
    /// evidence the flood reached it.
    pub answers_from_target: u64,
    /// Peak rates: a window's count over the traffic's own active span in it (first packet to last,
    /// at least `network.min_span`), the highest of the episode.
    pub peak_packets_per_s: f64,
    pub peak_syn_per_s: f64,
    pub peak_connections_per_s: f64,
    pub peak_bytes_per_s: f64,
    /// The active span behind the peak rate, in seconds.
    pub peak_span_secs: f64,
    /// Averages over the whole episode (totals over first-to-last, at least `network.min_span`).
    pub avg_packets_per_s: f64,
    pub avg_syn_per_s: f64,
    pub avg_connections_per_s: f64,
    pub span_secs: f64,
    /// Distinct destination hosts and ports (fan-out); `distinct_capped` when tracking stopped counting.
    /// For an inbound flood, `distinct_hosts` is the most senders seen in one window.
    pub distinct_hosts: u64,
    pub distinct_ports: u64,
    pub distinct_capped: bool,
    /// Plain sentences with the numbers behind them, strongest first.
    pub reasons: Vec<String>,
    pub evidences: Vec<NetworkEvidence>,
    /// Contributing records beyond `output.max_evidences` (counted, not listed).
    pub evidences_omitted: u64,
    pub process: ProcessJoin,
    /// The campaign this finding is part of (several hosts, one destination, the same minutes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign: Option<CampaignRef>,
    /// What to do next (floods only): set by the respond stage before the sinks see it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub playbook: Option<Playbook>,
}

impl NetworkFinding {
    /// One line for summaries: "flood 10.0.0.5 → 192.168.50.4: 27,331 SYN/s over 0.69 s".
    pub fn title(&self) -> String {
        match self.class {
            NetworkClass::Flood => format!(
                "network flood from {} to {}{}",
                self.local,
                self.target.as_deref().unwrap_or("(many hosts)"),
                match self.process.process.as_ref() {
                    Some(p) => format!(
                        " by pid {} {}",
                        p.pid,
                        p.path.as_deref().unwrap_or("(path unknown)")
                    ),
                    None => " (network-only)".into(),
                }
            ),
            NetworkClass::Inbound => format!(
                "inbound flood toward {} from {}",
                self.target.as_deref().unwrap_or("?"),
                self.local
            ),
            NetworkClass::Scan => format!(
                "scan (not a flood) from {}: {} host(s){}, {} port(s){}",
                self.local,
                self.distinct_hosts,
                if self.distinct_capped { "+" } else { "" },
                self.distinct_ports,
                match &self.target {
                    Some(t) => format!(" on {t}"),
                    None => String::new(),
                }
            ),
        }
    }
}

/// A rate for people: "27,331", "812", "3.4".
pub fn fmt_count_rate(v: f64) -> String {
    if v >= 1000.0 {
        let n = v.round() as u64;
        let s = n.to_string();
        let mut out = String::with_capacity(s.len() + s.len() / 3);
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_well() {
        assert_eq!(fmt_count_rate(27_331.4), "27,331");
        assert_eq!(fmt_count_rate(1_000_000.0), "1,000,000");
        assert_eq!(fmt_count_rate(812.2), "812");
        assert_eq!(fmt_count_rate(3.44), "3.4");
    }
}
