//! Findings: a closed flood or scan episode, joined to a process, as a [`NetworkFinding`]: its id,
//! span, totals and peak rates, the reasons in words, and its severity (through the one policy in
//! [`crate::severity`], from [`crate::score::network_score`]).

use super::aggregate::Episode;
use super::join::ProcFacts;
use super::judge::Judged;
use super::{NetworkAgg, NETWORK_NAMESPACE};
use crate::process::ProcId;
use crate::score::network_score;
use crate::severity::severity;
use floodwatch_core::finding::{
    fmt_count_rate, JoinKind, NetworkClass, NetworkEvidence, NetworkFinding, ProcessJoin,
};
use floodwatch_core::time::NANOS_PER_SEC;

impl NetworkAgg {
    pub(super) fn build(
        &self,
        ep: Episode,
        files: &dyn Fn(u32) -> String,
        formats: &dyn Fn(u32) -> Option<std::sync::Arc<str>>,
        facts: &dyn Fn(ProcId) -> Option<ProcFacts>,
    ) -> NetworkFinding {
        let target = match ep.class {
            NetworkClass::Flood | NetworkClass::Inbound => ep.target.clone(),
            // A scan of one host is a port scan of it.
            NetworkClass::Scan if ep.hosts.len() == 1 && !ep.capped => {
                ep.hosts.iter().next().cloned()
            }
            NetworkClass::Scan => None,
        };
        let (first, last) = ep.active_span();
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
        let reasons = match ep.class {
            NetworkClass::Flood => {
                self.flood_reasons(&ep, target.as_deref().unwrap_or("?"), peak.as_ref())
            }
            NetworkClass::Scan => self.scan_reasons(&ep, peak.as_ref()),
            NetworkClass::Inbound => self.inbound_reasons(&ep, span_s, peak.as_ref()),
        };
        let local = match ep.class {
            NetworkClass::Inbound => format!("{} senders", ep.max_hosts),
            _ => ep.local.to_string(),
        };
        let severity = severity(network_score(ep.class, peak_ratio(peak.as_ref())));
        let process = match (&target, ep.class) {
            (Some(t), NetworkClass::Flood) => self.join(t, first, last, files, facts),
            _ => ProcessJoin {
                kind: JoinKind::NotSeen,
                process: None,
                parents: Vec::new(),
                others: 0,
                text: match ep.class {
                    NetworkClass::Inbound => {
                        "inbound: traffic toward this address, not sent by a process here (informational)"
                    }
                    _ => "scans are not joined to a process (informational)",
                }
                .into(),
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
            local,
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
            answers_from_target: ep.answers_back,
            peak_packets_per_s: pk,
            peak_syn_per_s: sy,
            peak_connections_per_s: cn,
            peak_bytes_per_s: peak.as_ref().map_or(0.0, |p| p.bytes_per_s),
            peak_span_secs: peak.as_ref().map_or(0.0, |p| p.span_s),
            avg_packets_per_s: ep.packets as f64 / span_s,
            avg_syn_per_s: ep.syn as f64 / span_s,
            avg_connections_per_s: ep.conns as f64 / span_s,
            span_secs: span_s,
            distinct_hosts: match ep.class {
                NetworkClass::Inbound => ep.max_hosts,
                _ => ep.hosts.len() as u64,
            },
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
                    format: formats(o.file),
                })
                .collect(),
            evidences_omitted: ep.dropped,
            process,
            campaign: None,
            playbook: None,
        }
    }

    /// A flood's reasons: the burst as it was (its duration, packets, average and peak rates against
    /// the threshold), the one target and its ports, whether the target answered, and how long it
    /// lasted when that is longer than a window.
    fn flood_reasons(&self, ep: &Episode, t: &str, peak: Option<&Judged>) -> Vec<String> {
        let cfg = &self.cfg;
        let mut reasons = Vec::new();
        let (first, last) = ep.active_span();
        let span_s = (last.0 - first.0).max(self.min_span_ns) as f64 / 1e9;
        if let Some(p) = peak {
            for (code, v, thr, _) in &p.triggers {
                let (what, unit, total, min) = match code.as_str() {
                    "syn_rate" => (
                        "SYN (TCP connection openers)",
                        "SYN/s",
                        ep.syn,
                        cfg.min_packets,
                    ),
                    "packet_rate" => ("UDP/ICMP packets", "packets/s", ep.packets, cfg.min_packets),
                    _ => (
                        "new connections",
                        "connections/s",
                        ep.conns,
                        cfg.min_connections,
                    ),
                };
                reasons.push(format!(
                    "{total} {what} to {t} in {:.2} s: {} {unit} on average, peak {} {unit} over {:.2} s (threshold {}/s with at least {min})",
                    span_s,
                    fmt_count_rate(total as f64 / span_s),
                    fmt_count_rate(*v),
                    p.span_s,
                    fmt_count_rate(*thr),
                ));
            }
        }
        if ep.ports.is_empty() {
            reasons.push(format!(
                "one target: {t} (this source does not report destination ports for it)"
            ));
        } else {
            let ports = match ep.ports.len() {
                1..=4 => format!(
                    " ({})",
                    ep.ports
                        .iter()
                        .map(u16::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                n if n as u64 >= cfg.scan_ports => {
                    " (port-spraying at flood rate; a fast full-range port scan of one host would look the same)"
                        .to_string()
                }
                _ => String::new(),
            };
            reasons.push(format!(
                "one target: {t} on {} destination port(s){ports}",
                ep.ports.len()
            ));
        }
        if ep.answers_back > 0 {
            reasons.push(format!(
                "{t} answered {} packet(s) back (RST/ACK, echo replies or ICMP errors): the flood reached it; answers are never counted as a flood of their own",
                ep.answers_back
            ));
        }
        // Windows overlap by half: only a flood outlasting one window is "sustained".
        if span_s > (self.window_ns / NANOS_PER_SEC) as f64 {
            reasons.push(format!(
                "sustained: {:.0} s of flood ({} overlapping windows of {} s judged flood)",
                span_s,
                ep.windows,
                self.window_ns / NANOS_PER_SEC
            ));
        }
        reasons
    }

    /// An inbound flood's reasons: how many senders, at what rate, and why it is only a note.
    fn inbound_reasons(&self, ep: &Episode, span_s: f64, peak: Option<&Judged>) -> Vec<String> {
        let t = ep.target.as_deref().unwrap_or("?");
        let mut reasons = vec![format!(
            "{} packets ({} SYN) toward {t} from up to {} distinct senders in one window, over {:.2} s: {}/s on average",
            ep.packets,
            ep.syn,
            ep.max_hosts,
            span_s,
            fmt_count_rate(ep.packets as f64 / span_s),
        )];
        if let Some(p) = peak {
            reasons.push(format!(
                "peak {} packets/s ({} SYN/s) over {:.2} s; no single sender reaches a flood rate (spoofed or distributed sources)",
                fmt_count_rate(p.packets_per_s),
                fmt_count_rate(p.syn_per_s),
                p.span_s
            ));
        }
        reasons.push(
            "seen from the victim's side: informational, not an outbound flood from this host (AN0971), so not in the T1498.001 finding stream"
                .into(),
        );
        if self.flows_evicted > 0 {
            reasons.push(format!(
                "{} flows were evicted past network.max_flows: senders and packets are at least these",
                self.flows_evicted
            ));
        }
        reasons
    }

    /// A scan's reasons: how far it fanned out, and why its rate does not make a flood.
    fn scan_reasons(&self, ep: &Episode, peak: Option<&Judged>) -> Vec<String> {
        let per_probe = ep.probe_packets / ep.probes.max(1.0);
        let mut reasons = vec![format!(
            "scan, not a flood: {} reached {} host(s){} and {} distinct port(s), {:.1} packet(s) per probe (at most {} for a scan); widest window: {} hosts; most ports on one host: {} ({})",
            ep.local,
            ep.hosts.len(),
            if ep.capped { "+" } else { "" },
            ep.ports.len(),
            per_probe,
            self.cfg.scan_max_packets_per_probe,
            ep.max_hosts,
            ep.max_ports_one_host.0,
            ep.max_ports_one_host.1,
        )];
        if let Some(p) = peak {
            reasons.push(format!(
                "peak {} connections/s and {} packets/s over {:.2} s of activity: a scan's rate, whatever it is, does not make its targets flood targets",
                fmt_count_rate(p.conns_per_s),
                fmt_count_rate(p.packets_per_s),
                p.span_s
            ));
        }
        reasons
    }
}

/// How far the peak window's strongest flood rate is past its threshold (1 at the threshold, or when
/// no rate is: a scan's).
fn peak_ratio(peak: Option<&Judged>) -> f64 {
    peak.map_or(1.0, |p| {
        p.triggers
            .iter()
            .fold(1.0_f64, |ratio, (_, v, thr, _)| ratio.max(v / thr))
    })
}
