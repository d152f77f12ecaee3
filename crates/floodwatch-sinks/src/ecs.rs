//! Elastic Common Schema alert documents, one JSON object per line (`hunt --format ecs`,
//! `watch --format ecs`), so Elastic users can index floodwatch's findings next to their endpoint
//! data. Every field is an ECS field of the release named by [`ECS_VERSION`], with its type; the
//! set is validated against that release's whole `ecs_flat.yml` (`tests/data/ecs-9.4.0/`).
//! floodwatch's own detail (reasons with their points, metrics, playbook) stays in the OCSF output:
//! ECS has no place for it, and custom fields would not validate.
//!
//! Mapping: `event.kind: alert`, `event.category: [network, process]` (`[network]` for pid-less
//! network floods), `rule.*` for the analytic (AN0971), `threat.*` for T1498 / T1498.001 / TA0040,
//! `host.*`, `process.*` with `parent`, `destination.*` from the top destination, `source.bytes`
//! and `source.packets` for what the subject sent, `user.*`. Lines are written by
//! [`crate::ocsf::write_json_line`] (bidirectional controls escaped).

use crate::ocsf::{device_uid, is_hostname, process_uid, title, write_json_line};
use floodwatch_core::alert::{Alert, ProcessView, Severity};
use floodwatch_core::event::{basename, split_endpoint, Proto};
use floodwatch_core::finding::{NetworkClass, NetworkFinding};
use floodwatch_core::respond::Campaign;
use floodwatch_core::Ts;
use serde_json::{json, Map, Value};
use std::io;

/// The ECS release the documents follow (its field definitions, the release's `ecs_flat.yml`:
/// `tests/data/ecs-9.4.0/ecs_flat.json`).
pub const ECS_VERSION: &str = "9.4.0";

const ANALYTIC_DESC: &str = "Excessive outbound traffic via ping, curl, or custom scripts indicating flooding behavior, especially with no UI context or user interaction.";

fn ts(t: Ts) -> String {
    t.to_rfc3339_millis()
}

/// `rule.*` and `threat.*`: the same for every finding.
fn rule_and_threat(v: &mut Map<String, Value>, product_version: &str) {
    v.insert(
        "rule".into(),
        json!({
            "id": "AN0971",
            "name": "Excessive outbound traffic from a macOS endpoint (AN0971)",
            "description": ANALYTIC_DESC,
            "category": "Network Denial of Service",
            "ruleset": "floodwatch",
            "reference": "https://attack.mitre.org/techniques/T1498/001/",
            "version": product_version,
            "author": ["floodwatch"],
        }),
    );
    v.insert(
        "threat".into(),
        json!({
            "tactic": {
                "id": ["TA0040"],
                "name": ["Impact"],
                "reference": ["https://attack.mitre.org/tactics/TA0040/"],
            },
            "technique": {
                "id": ["T1498"],
                "name": ["Network Denial of Service"],
                "reference": ["https://attack.mitre.org/techniques/T1498/"],
                "subtechnique": {
                    "id": ["T1498.001"],
                    "name": ["Direct Network Flood"],
                    "reference": ["https://attack.mitre.org/techniques/T1498/001/"],
                },
            },
        }),
    );
    v.insert(
        "observer".into(),
        json!({"vendor": "floodwatch", "product": "floodwatch", "version": product_version, "type": "ids"}),
    );
    v.insert("ecs".into(), json!({"version": ECS_VERSION}));
    v.insert("tags".into(), json!(["floodwatch", "AN0971", "T1498.001"]));
}

fn event(
    id: &str,
    categories: &[&str],
    severity: Severity,
    first: Ts,
    last: Ts,
    reason: String,
) -> Value {
    json!({
        "kind": "alert",
        "category": categories,
        "type": ["info"],
        "id": id,
        "action": "outbound-flood",
        "dataset": "floodwatch.alert",
        "module": "floodwatch",
        "provider": "floodwatch",
        "severity": severity.ocsf_id(),
        "start": ts(first),
        "end": ts(last),
        "reason": reason,
    })
}

fn host(name: &str) -> Value {
    let mut h = json!({
        "name": name,
        "id": device_uid(name),
        "os": {"type": "macos", "family": "macos", "name": "macOS"},
    });
    if is_hostname(name) {
        h["hostname"] = json!(name);
    }
    h
}

/// `process.*` fields of one process (no parent, no user: `user.*` carries the subject's user).
fn process_fields(p: &ProcessView, host: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("pid".into(), json!(p.pid));
    if let Some(uid) = process_uid(host, p.pid, p.start_time) {
        m.insert("entity_id".into(), json!(uid));
    }
    if let Some(path) = &p.path {
        m.insert("name".into(), json!(basename(path)));
        if path.contains('/') {
            m.insert("executable".into(), json!(path));
        }
    }
    if let Some(c) = &p.cmd_line {
        m.insert("command_line".into(), json!(c));
    }
    let mut sig = Map::new();
    if let Some(s) = &p.signing_id {
        sig.insert("signing_id".into(), json!(s));
    }
    if let Some(t) = &p.team_id {
        sig.insert("team_id".into(), json!(t));
    }
    if !sig.is_empty() {
        m.insert("code_signature".into(), Value::Object(sig));
    }
    m
}

fn user(p: &ProcessView) -> Option<Value> {
    let uid = p.euid.or(p.uid);
    if uid.is_none() && p.user.is_none() {
        return None;
    }
    let mut u = Map::new();
    if let Some(id) = uid {
        u.insert("id".into(), json!(id.to_string()));
    }
    if let Some(n) = &p.user {
        u.insert("name".into(), json!(n));
    }
    Some(Value::Object(u))
}

fn process(p: &ProcessView, parents: &[ProcessView], host: &str) -> Value {
    let mut m = process_fields(p, host);
    if let Some(parent) = parents.first() {
        let mut pm = process_fields(parent, host);
        if let Some(t) = parent.start_time {
            pm.insert("start".into(), json!(ts(t)));
        }
        m.insert("parent".into(), Value::Object(pm));
    }
    Value::Object(m)
}

/// `destination.*` from an address as sources write it (`198.51.100.61:443`, `example.com`).
fn destination(addr: &str) -> Value {
    let (h, port) = split_endpoint(addr);
    let mut d = Map::new();
    d.insert("address".into(), json!(h));
    let bare = h.split('%').next().unwrap_or(h);
    if bare.parse::<std::net::IpAddr>().is_ok() {
        d.insert("ip".into(), json!(bare));
    } else if is_hostname(h) {
        d.insert("domain".into(), json!(h));
    }
    if let Some(p) = port {
        d.insert("port".into(), json!(p));
    }
    Value::Object(d)
}

/// ECS `network.transport` (lower case IANA names) of the protocols seen, when one is known.
fn transport(protocols: &[Proto]) -> Option<&'static str> {
    protocols.iter().find_map(|p| match p {
        Proto::Tcp => Some("tcp"),
        Proto::Udp | Proto::Quic => Some("udp"),
        Proto::Icmp => Some("icmp"),
        Proto::Other | Proto::Unknown => None,
    })
}

/// A process alert as an ECS alert document.
pub fn alert_document(a: &Alert, product_version: &str) -> Value {
    let mut v = Map::new();
    v.insert("@timestamp".into(), json!(ts(a.last_seen)));
    v.insert("message".into(), json!(title(a)));
    let reason: Vec<&str> = a.reasons.iter().map(|r| r.text.as_str()).collect();
    let mut ev = event(
        &a.id,
        &["network", "process"],
        a.severity,
        a.first_seen,
        a.last_seen,
        reason.join("; "),
    );
    ev["risk_score"] = json!(f64::from(a.score));
    ev["risk_score_norm"] = json!(f64::from(a.score));
    v.insert("event".into(), ev);
    rule_and_threat(&mut v, product_version);
    v.insert("host".into(), host(&a.host));
    let mut proc = process(&a.subject.process, &a.subject.parents, &a.host);
    if a.context.tty.is_some() {
        proc["interactive"] = json!(a.context.interactive);
    }
    v.insert("process".into(), proc);
    if let Some(u) = user(&a.subject.process) {
        v.insert("user".into(), u);
    }
    if let Some(d) = &a.metrics.top_destination {
        v.insert("destination".into(), destination(d));
    }
    let mut source = Map::new();
    if a.metrics.total_bytes_out > 0 {
        source.insert("bytes".into(), json!(a.metrics.total_bytes_out));
    }
    if a.metrics.total_packets_out > 0 {
        source.insert("packets".into(), json!(a.metrics.total_packets_out));
    }
    if !source.is_empty() {
        v.insert("source".into(), Value::Object(source));
    }
    if let Some(t) = transport(&a.metrics.protocols) {
        v.insert(
            "network".into(),
            json!({"transport": t, "direction": "egress"}),
        );
    }
    Value::Object(v)
}

/// A pid-less network flood as an ECS alert document: the sending address as `source`, the
/// target as `destination`, the joined process (when a process source saw it) as `process`.
pub fn network_document(f: &NetworkFinding, product_version: &str) -> Value {
    let mut v = Map::new();
    v.insert("@timestamp".into(), json!(ts(f.last_seen)));
    v.insert("message".into(), json!(f.title()));
    let mut reasons = f.reasons.clone();
    reasons.push(f.process.text.clone());
    let cats: &[&str] = if f.process.process.is_some() {
        &["network", "process"]
    } else {
        &["network"]
    };
    v.insert(
        "event".into(),
        event(
            &f.id,
            cats,
            f.severity,
            f.first_seen,
            f.last_seen,
            reasons.join("; "),
        ),
    );
    rule_and_threat(&mut v, product_version);
    v.insert("host".into(), host(&f.host));
    if let Some(p) = &f.process.process {
        v.insert("process".into(), process(p, &f.process.parents, &f.host));
        if let Some(u) = user(p) {
            v.insert("user".into(), u);
        }
    }
    let (local, _) = split_endpoint(&f.local);
    let mut source = Map::new();
    source.insert("address".into(), json!(local));
    if let Ok(ip) = local
        .split('%')
        .next()
        .unwrap_or(local)
        .parse::<std::net::IpAddr>()
    {
        source.insert("ip".into(), json!(ip.to_string()));
    }
    if f.bytes > 0 {
        source.insert("bytes".into(), json!(f.bytes));
    }
    if f.packets > 0 {
        source.insert("packets".into(), json!(f.packets));
    }
    v.insert("source".into(), Value::Object(source));
    if let Some(t) = &f.target {
        v.insert("destination".into(), destination(t));
    }
    if let Some(t) = transport(&f.protocols) {
        v.insert(
            "network".into(),
            json!({"transport": t, "direction": "egress"}),
        );
    }
    Value::Object(v)
}

/// A campaign (several hosts flooding one destination) as an ECS alert document: its members'
/// hosts in `related.hosts`, the destination (or its prefix) in `destination.address`.
pub fn campaign_document(c: &Campaign, product_version: &str) -> Value {
    let mut v = Map::new();
    v.insert("@timestamp".into(), json!(ts(c.last_seen)));
    v.insert("message".into(), json!(c.title()));
    let reason: Vec<&str> = c.reasons.iter().map(|r| r.text.as_str()).collect();
    let mut ev = event(
        &c.id,
        &["network"],
        c.severity,
        c.first_seen,
        c.last_seen,
        reason.join("; "),
    );
    ev["risk_score"] = json!(f64::from(c.score));
    ev["risk_score_norm"] = json!(f64::from(c.score));
    v.insert("event".into(), ev);
    rule_and_threat(&mut v, product_version);
    v.insert("destination".into(), destination(&c.destination));
    v.insert("related".into(), json!({"hosts": c.hosts}));
    Value::Object(v)
}

/// Network floods as ECS lines (scans are not floods and are never written).
pub fn write_network_ecs(
    w: &mut dyn io::Write,
    findings: &[NetworkFinding],
    product_version: &str,
) -> io::Result<()> {
    for f in findings.iter().filter(|f| f.class == NetworkClass::Flood) {
        write_json_line(w, &network_document(f, product_version))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_split_into_ip_or_domain_and_port() {
        assert_eq!(
            destination("198.51.100.61:443"),
            json!({"address": "198.51.100.61", "ip": "198.51.100.61", "port": 443})
        );
        assert_eq!(
            destination("updates.example.com:443"),
            json!({"address": "updates.example.com", "domain": "updates.example.com", "port": 443})
        );
        assert_eq!(
            destination("IPv4#1a2b3c4d"),
            json!({"address": "IPv4#1a2b3c4d"})
        );
    }
}
