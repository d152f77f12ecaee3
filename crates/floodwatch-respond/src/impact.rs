//! Business-service impact checks (which destination, at what rate, for how long, how many hosts, is
//! it ours) and what to collect before containment.

use crate::decide::Decided;
use crate::shell::quote;
use floodwatch_core::alert::{fmt_bytes_rate, Alert};
use floodwatch_core::finding::{fmt_count_rate, NetworkFinding};
use floodwatch_core::respond::{Answer, CollectItem, ImpactCheck};
use floodwatch_core::Ts;
use std::collections::BTreeSet;

/// Evidence locations listed in a playbook's "collect" (the rest are counted).
const MAX_CITED: usize = 8;

pub fn alert_rate(a: &Alert) -> String {
    let m = &a.metrics;
    let mut parts = Vec::new();
    if m.peak_spawns_per_s > 0.0 {
        parts.push(format!(
            "{} tool execs/s",
            fmt_count_rate(m.peak_spawns_per_s)
        ));
    }
    if m.peak_packets_per_s > 0.0 {
        parts.push(format!(
            "{} packets/s",
            fmt_count_rate(m.peak_packets_per_s)
        ));
    }
    if m.peak_bytes_per_s > 0.0 {
        parts.push(fmt_bytes_rate(m.peak_bytes_per_s));
    }
    if m.peak_connections_per_s > 0.0 {
        parts.push(format!(
            "{} connections/s",
            fmt_count_rate(m.peak_connections_per_s)
        ));
    }
    if parts.is_empty() {
        "no measured rate".into()
    } else {
        format!("peak {}", parts.join(", "))
    }
}

pub fn finding_rate(n: &NetworkFinding) -> String {
    let mut parts = vec![format!(
        "{} packets/s",
        fmt_count_rate(n.peak_packets_per_s)
    )];
    if n.peak_syn_per_s > 0.0 {
        parts.push(format!("{} SYN/s", fmt_count_rate(n.peak_syn_per_s)));
    }
    parts.push(fmt_bytes_rate(n.peak_bytes_per_s));
    format!("peak {}", parts.join(", "))
}

/// The impact check for the finding's destination.
pub fn impact(
    d: &Decided,
    rate: String,
    first: Ts,
    last: Ts,
    hosts_same_destination: u64,
) -> Vec<ImpactCheck> {
    let Some(dest) = d.destination.clone() else {
        return Vec::new();
    };
    let span = format!(
        "{} to {}",
        first.to_rfc3339_millis(),
        last.to_rfc3339_millis()
    );
    let mut checks = Vec::new();
    match (&d.owned.service, d.owned.answer) {
        (Some(svc), Answer::Yes) => {
            checks.push(format!(
                "Before containment: check {svc}'s own error rate, latency and saturation (CPU, connections, queue depth) from {span}"
            ));
            checks.push(format!(
                "After containment: confirm {svc}'s error rate and load return to their usual level"
            ));
        }
        _ => {
            checks.push(format!(
                "The target {dest} is not a known owned service: record the rate and times ({span}) for its owner or an abuse contact; flooding a third party can breach contracts and acceptable use"
            ));
            checks.push(
                "Check the egress firewall or uplink for saturation in the same minutes (other users behind the same link feel it first)".into(),
            );
        }
    }
    if hosts_same_destination > 1 {
        checks.push(format!(
            "{hosts_same_destination} hosts sent to this destination in overlapping windows: judge the impact from their sum, not one host"
        ));
    } else {
        checks.push("Only this host sent to it in these windows in this data: check the other telemetry of the fleet before calling it isolated".into());
    }
    vec![ImpactCheck {
        destination: dest,
        rate,
        duration_secs: (last.0 - first.0).max(0) as f64 / 1e9,
        hosts_same_destination,
        owned_service: d.owned.service.clone(),
        checks,
    }]
}

/// What to collect from an alert's host before containment.
pub fn collect_alert(a: &Alert, launchd: bool, plist_find: Option<&str>) -> Vec<CollectItem> {
    let p = &a.subject.process;
    let mut out = Vec::new();
    let chain = &a.context.launch_chain;
    out.push(CollectItem {
        what: "process tree".into(),
        detail: format!("the chain in the alert: {chain}"),
        command: Some(format!(
            "ps -axo pid,ppid,user,lstart,command | grep -v grep | grep -E '^ *({})[[:space:]]|[[:space:]]{}[[:space:]]'",
            p.pid, p.pid
        )),
    });
    if let Some(script) = &a.facts.script {
        out.push(CollectItem {
            what: "the script".into(),
            detail: format!("{script} (named in the chain), before anyone edits or deletes it"),
            command: Some(format!(
                "mkdir -p \"$HOME/floodwatch-evidence\" && sudo shasum -a 256 -- {q} && sudo cp -p -- {q} \"$HOME/floodwatch-evidence/\"",
                q = quote(script)
            )),
        });
    }
    if let Some(path) = &p.path {
        out.push(CollectItem {
            what: "the binary's signing info".into(),
            detail: path.clone(),
            command: Some(format!(
                "codesign -dvvv -- {q} 2>&1; spctl --assess -vv -- {q} 2>&1; shasum -a 256 -- {q}",
                q = quote(path)
            )),
        });
    }
    if launchd {
        out.push(CollectItem {
            what: "the launchd plist".into(),
            detail: "the job that starts it (the telemetry does not name the plist)".into(),
            command: plist_find.map(str::to_string),
        });
    }
    if p.pid > 0 {
        out.push(CollectItem {
            what: "its open sockets".into(),
            detail: format!("pid {}", p.pid),
            command: Some(format!("sudo lsof -nP -a -i -p {}", p.pid)),
        });
    }
    out.push(cited(
        a.evidences.iter().map(|e| (e.file.as_str(), e.line)),
        a.metrics.evidences_omitted,
    ));
    out
}

pub fn collect_finding(n: &NetworkFinding) -> Vec<CollectItem> {
    let mut out = Vec::new();
    if let Some(p) = &n.process.process {
        if let Some(path) = &p.path {
            out.push(CollectItem {
                what: "the binary's signing info".into(),
                detail: path.clone(),
                command: Some(format!(
                    "codesign -dvvv -- {q} 2>&1; shasum -a 256 -- {q}",
                    q = quote(path)
                )),
            });
        }
        out.push(CollectItem {
            what: "process tree".into(),
            detail: format!("pid {} and its parents", p.pid),
            command: Some("ps -axo pid,ppid,user,lstart,command".into()),
        });
    }
    out.push(cited(
        n.evidences.iter().map(|e| (e.file.as_str(), e.line)),
        n.evidences_omitted,
    ));
    out
}

/// The telemetry files and lines cited as evidence (the first few, and how many more).
fn cited<'a>(items: impl Iterator<Item = (&'a str, u64)>, omitted: u64) -> CollectItem {
    let all: Vec<(&str, u64)> = items.collect();
    let files: BTreeSet<&str> = all.iter().map(|(f, _)| *f).collect();
    let mut listed: Vec<String> = all
        .iter()
        .take(MAX_CITED)
        .map(|(f, l)| format!("{f}:{l}"))
        .collect();
    let more = (all.len().saturating_sub(MAX_CITED)) as u64 + omitted;
    if more > 0 {
        listed.push(format!("+{more} more"));
    }
    CollectItem {
        what: "the telemetry cited as evidence".into(),
        detail: format!(
            "{} file(s): {}",
            files.len(),
            if listed.is_empty() {
                "none located".to_string()
            } else {
                listed.join(", ")
            }
        ),
        command: (!files.is_empty()).then(|| {
            format!(
                "mkdir -p \"$HOME/floodwatch-evidence\" && cp -p -- {} \"$HOME/floodwatch-evidence/\"",
                files.iter().map(|f| quote(f)).collect::<Vec<_>>().join(" ")
            )
        }),
    }
}
