//! OCSF Detection Finding (class_uid 2004), one JSON object per line.
//! Fields follow OCSF 1.3: finding_info (analytic, attacks), actor.process with the parent_process chain,
//! device, evidences (each with its source file and line), risk_score, severity_id, and floodwatch's
//! metrics, reasons, context and timeline under `unmapped.floodwatch`. Network floods (no pid) are
//! Detection Findings too, with endpoints in their evidences instead of an actor ([`network_finding`]).
//! Every finding declares the `host` profile (which brings `device` and `actor` into the class) and
//! validates against the OCSF 1.3.0 schema (`tests/data/ocsf-schema-1.3.0`); an unknown attribute is
//! omitted, never null. Lines are written by [`write_json_line`], which escapes bidirectional controls
//! (serde_json leaves them raw).

use crate::escape::is_bidi_control;
use floodwatch_core::alert::{Alert, Evidence, ProcessView, Severity};
use floodwatch_core::event::{basename, split_endpoint};
use floodwatch_core::finding::{JoinKind, NetworkFinding};
use floodwatch_core::respond::{Campaign, CampaignRef, Playbook};
use floodwatch_core::Ts;
use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter};
use serde_json::{json, Map, Value};
use std::io;

pub const ANALYTIC_UID: &str = "AN0971";
/// ATT&CK: the technique (Network Denial of Service) and the sub-technique this analytic detects.
pub const TECHNIQUE_UID: &str = "T1498";
pub const SUB_TECHNIQUE_UID: &str = "T1498.001";

/// The OCSF profiles every finding applies (`metadata.profiles`): `host` adds `device` and `actor`.
pub const PROFILES: [&str; 1] = ["host"];

/// UUIDv5 namespaces of `device.uid` (of the host name) and `process.uid` (of host, pid and start time):
/// stable ids, the same in every run, so findings about one host or one process correlate.
const DEVICE_NAMESPACE: uuid::Uuid =
    uuid::Uuid::from_u128(0x6c1e_02a4_5b8f_4d7e_9a31_0f57_c2d8_e419);
const PROCESS_NAMESPACE: uuid::Uuid =
    uuid::Uuid::from_u128(0x9d42_7b10_e3c5_4a68_b1f0_52ad_86e7_3c95);

/// OCSF `file.type_id` of an executable image: Regular File.
const REGULAR_FILE: u8 = 1;
/// OCSF `connection_info.direction_id`: every counted connection and byte of AN0971 is outbound.
const OUTBOUND: u8 = 2;

/// What happened to the finding: a new one, an update while it lasts, or its close.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activity {
    Create,
    Update,
    Close,
}

impl Activity {
    fn id(self) -> u8 {
        match self {
            Activity::Create => 1,
            Activity::Update => 2,
            Activity::Close => 3,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Activity::Create => "Create",
            Activity::Update => "Update",
            Activity::Close => "Close",
        }
    }
}

/// `process.uid`: the lifetime (host, pid, start time) as a UUIDv5; none without a start time, as a
/// pid alone is reused.
pub(crate) fn process_uid(host: &str, pid: i32, start: Option<Ts>) -> Option<String> {
    let start = start?;
    let name = format!("{host}|{pid}|{}", start.0);
    Some(uuid::Uuid::new_v5(&PROCESS_NAMESPACE, name.as_bytes()).to_string())
}

/// OCSF `hostname_t`: dot-separated labels of letters, digits and inner hyphens.
pub(crate) fn is_hostname(s: &str) -> bool {
    s.split('.').all(|l| {
        !l.is_empty()
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    })
}

/// The host's stable uid: a UUIDv5 of its name (`device.uid` here, `host.id` in ECS).
pub(crate) fn device_uid(host: &str) -> String {
    uuid::Uuid::new_v5(&DEVICE_NAMESPACE, host.as_bytes()).to_string()
}

/// `device`: the host by name (`hostname` when it is one, else `name`) and its stable `uid`.
fn device(host: &str) -> Map<String, Value> {
    let mut m = Map::new();
    let key = if is_hostname(host) {
        "hostname"
    } else {
        "name"
    };
    m.insert(key.into(), json!(host));
    m.insert("uid".into(), json!(device_uid(host)));
    m.insert("type_id".into(), json!(0));
    m
}

/// A `network_endpoint` from an address as sources write it (`198.51.100.61:443`, `[fe80::1]:53`,
/// `example.com`): `ip` or `hostname` and `port`; anything else (nettop's `IPv4#1a2b3c4d`) is kept
/// as the endpoint's `name`.
fn endpoint(addr: &str) -> Value {
    let (host, port) = split_endpoint(addr);
    // An IPv6 scope (`fe80::1%en0`) is allowed by OCSF's ip_t, not by Rust's parser.
    let bare = host.split('%').next().unwrap_or(host);
    let key = if bare.parse::<std::net::IpAddr>().is_ok() && host.len() <= 40 {
        "ip"
    } else if is_hostname(host) {
        "hostname"
    } else {
        "name"
    };
    let mut m = Map::new();
    m.insert(key.into(), json!(host));
    if let Some(p) = port {
        m.insert("port".into(), json!(p));
    }
    Value::Object(m)
}

/// Sets the process `name` from its image, and returns the image as a `process.file` when it is a
/// path (a traffic source may know only the name).
fn insert_image(m: &mut Map<String, Value>, image: &str) -> Option<Map<String, Value>> {
    let name = basename(image);
    m.insert("name".into(), json!(name));
    if !image.contains('/') {
        // argv[0] without a path: a name, not a file.
        return None;
    }
    let mut file = Map::new();
    file.insert("path".into(), json!(image));
    file.insert("name".into(), json!(name));
    file.insert("type_id".into(), json!(REGULAR_FILE));
    Some(file)
}

fn process(p: &ProcessView, host: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("pid".into(), json!(p.pid));
    if let Some(uid) = process_uid(host, p.pid, p.start_time) {
        m.insert("uid".into(), json!(uid));
    }
    if let Some(c) = &p.cmd_line {
        m.insert("cmd_line".into(), json!(c));
    }
    if let Some(mut file) = p
        .path
        .as_deref()
        .and_then(|path| insert_image(&mut m, path))
    {
        if p.signing_id.is_some() || p.team_id.is_some() {
            // OCSF has a slot for the team id (developer_uid) but none for Apple's signing
            // identifier; that goes with the signature class under unmapped.floodwatch.subject_signing.
            let mut sig = json!({"algorithm_id": 99, "algorithm": "Apple code signature"});
            if let Some(team) = &p.team_id {
                sig["developer_uid"] = json!(team);
            }
            file.insert("signature".into(), sig);
        }
        m.insert("file".into(), Value::Object(file));
    }
    if let Some(t) = p.start_time {
        m.insert("created_time".into(), json!(t.as_millis()));
    }
    let uid = p.euid.or(p.uid);
    if uid.is_some() || p.user.is_some() {
        // OCSF: an unknown attribute is omitted, never null.
        let mut user = Map::new();
        if let Some(u) = uid {
            user.insert("uid".into(), json!(u.to_string()));
        }
        if let Some(n) = &p.user {
            user.insert("name".into(), json!(n));
        }
        m.insert("user".into(), Value::Object(user));
    }
    if let floodwatch_core::event::Tty::Some(t) = &p.tty {
        // OCSF keeps the terminal on the process's session.
        m.insert("session".into(), json!({"terminal": t}));
    }
    m
}

/// actor.process with `parent_process` nested nearest-first, as OCSF models lineage.
fn process_with_parents(p: &ProcessView, parents: &[ProcessView], host: &str) -> Value {
    let mut chain: Option<Map<String, Value>> = None;
    for parent in parents.iter().rev() {
        let mut m = process(parent, host);
        if let Some(inner) = chain.take() {
            m.insert("parent_process".into(), Value::Object(inner));
        }
        chain = Some(m);
    }
    let mut m = process(p, host);
    if let Some(inner) = chain {
        m.insert("parent_process".into(), Value::Object(inner));
    }
    Value::Object(m)
}

fn evidence(e: &Evidence, host: &str) -> Value {
    let mut data = Map::new();
    data.insert("kind".into(), json!(e.kind));
    data.insert("time".into(), json!(e.time.as_millis()));
    data.insert("source_file".into(), json!(e.file));
    data.insert("source_line".into(), json!(e.line));
    if let Some(b) = e.bytes_out {
        data.insert("bytes_out".into(), json!(b));
    }
    if let Some(p) = e.packets_out {
        data.insert("packets_out".into(), json!(p));
    }
    let mut v = Map::new();
    v.insert("data".into(), Value::Object(data));
    // The pid is known whenever the process is (both come from the process table).
    if let Some(pid) = e.pid {
        let mut p = Map::new();
        p.insert("pid".into(), json!(pid));
        if let Some(uid) = process_uid(host, pid, e.process_start) {
            p.insert("uid".into(), json!(uid));
        }
        if let Some(image) = &e.process {
            if let Some(file) = insert_image(&mut p, image) {
                p.insert("file".into(), Value::Object(file));
            }
        }
        if let Some(c) = &e.cmd_line {
            p.insert("cmd_line".into(), json!(c));
        }
        if let Some(t) = e.process_start {
            p.insert("created_time".into(), json!(t.as_millis()));
        }
        v.insert("process".into(), Value::Object(p));
    }
    if let Some(p) = e.proto {
        v.insert(
            "connection_info".into(),
            json!({"protocol_name": p.as_str(), "direction_id": OUTBOUND, "direction": "Outbound"}),
        );
    }
    if let Some(r) = &e.remote {
        v.insert("dst_endpoint".into(), endpoint(r));
    }
    Value::Object(v)
}

/// `confidence_id` (how far the finding's own evidence bears it out): High when the rate was measured
/// and tied to its process, Medium when the packets were estimated from a declared command line.
fn alert_confidence(a: &Alert) -> (u8, &'static str) {
    if a.metrics.estimated_packets {
        (2, "Medium")
    } else {
        (3, "High")
    }
}

/// A network flood's confidence: measured from packets or flows; High when a process source saw the
/// process send to the target, Medium when only its command line names the target or no process is
/// known (the context AN0971 judges is missing).
fn network_confidence(f: &NetworkFinding) -> (u8, &'static str) {
    match f.process.kind {
        JoinKind::Destination => (3, "High"),
        JoinKind::CommandLine | JoinKind::NotSeen | JoinKind::NetworkOnly => (2, "Medium"),
    }
}

/// `metadata.log_provider`: the source formats the evidence was read from, sorted, comma-separated.
fn log_provider<'a>(formats: impl Iterator<Item = Option<&'a str>>) -> Option<String> {
    let set: std::collections::BTreeSet<&str> = formats.flatten().collect();
    (!set.is_empty()).then(|| set.into_iter().collect::<Vec<_>>().join(", "))
}

/// The analyst's workflow status: New until someone triages it (an episode ending is not a
/// resolution; its state is `unmapped.floodwatch.status`), Suppressed when a documented entry matched.
fn status(a: &Alert) -> (u8, &'static str) {
    if a.suppressed_by.is_some() {
        (3, "Suppressed")
    } else {
        (1, "New")
    }
}

pub fn title(a: &Alert) -> String {
    let what = a
        .subject
        .process
        .path
        .as_deref()
        .map(|p| basename(p).to_string())
        .unwrap_or_else(|| format!("pid {}", a.subject.process.pid));
    format!(
        "Outbound flood from {what} (pid {}) on {}{}",
        a.subject.process.pid,
        a.host,
        if a.context.unattended {
            ", unattended"
        } else if a.context.remote_session.is_some() {
            ", remote session (ssh)"
        } else {
            ""
        }
    )
}

pub fn detection_finding(a: &Alert, activity: Activity, product_version: &str) -> Value {
    let reasons: Vec<&str> = a.reasons.iter().map(|r| r.text.as_str()).collect();
    let head = Head {
        uid: &a.id,
        title: title(a),
        desc: reasons.join("\n"),
        risk_details: reasons.join("; "),
        first_seen: a.first_seen,
        last_seen: a.last_seen,
        severity: a.severity,
        status: status(a),
        confidence: alert_confidence(a),
        log_provider: log_provider(a.evidences.iter().map(|e| e.format.as_deref())),
        original_time: a.evidences.iter().map(|e| e.time).min(),
    };
    let mut actor = json!({
        "process": process_with_parents(&a.subject.process, &a.subject.parents, &a.host),
    });
    if a.context.remote_session.is_some() {
        // A TTY through sshd: OCSF's session says it is remote (floodwatch's wording is in
        // unmapped.floodwatch.context.remote_session).
        let mut session = json!({"is_remote": true});
        if let Some(t) = &a.context.tty {
            session["terminal"] = json!(t);
        }
        actor["session"] = session;
    }
    let mut v = finding(
        head,
        activity,
        product_version,
        json!({
            "risk_score": a.score,
            "device": mac(device(&a.host)),
            "actor": actor,
            "evidences": a.evidences.iter().map(|e| evidence(e, &a.host)).collect::<Vec<_>>(),
            "unmapped": {
                "floodwatch": {
                    "status": a.status,
                    "score": a.score,
                    "reasons": a.reasons,
                    "metrics": a.metrics,
                    "context": a.context,
                    "subject_kind": a.subject.kind,
                    "subject_signing": {
                        "signing_id": a.subject.process.signing_id,
                        "team_id": a.subject.process.team_id,
                        "class": a.subject.process.signature,
                    },
                    "children": a.subject.children,
                    "baseline": a.baseline,
                    "timeline": a.timeline,
                    "suppressed_by": a.suppressed_by,
                    "suppression_notes": a.suppression_notes,
                }
            }
        }),
    );
    respond_fields(&mut v, a.playbook.as_ref(), a.campaign.as_ref());
    v
}

/// The playbook as the finding's `remediation` (its summary; the steps, checks and commands under
/// `unmapped.floodwatch.playbook`), and the campaign the finding is part of.
fn respond_fields(v: &mut Value, playbook: Option<&Playbook>, campaign: Option<&CampaignRef>) {
    if let Some(p) = playbook {
        v["remediation"] = json!({
            "desc": p.summary,
            "references": ["https://attack.mitre.org/techniques/T1498/001/"],
        });
        v["unmapped"]["floodwatch"]["playbook"] = json!(p);
    }
    if let Some(c) = campaign {
        v["unmapped"]["floodwatch"]["campaign"] = json!(c);
    }
}

/// A campaign as an OCSF Detection Finding: `unmapped.floodwatch.kind = "campaign"`, each member
/// finding's uid in `finding_info.related_events`, the destination as the evidence's `dst_endpoint`.
pub fn campaign_finding(c: &Campaign, product_version: &str) -> Value {
    let reasons: Vec<&str> = c.reasons.iter().map(|r| r.text.as_str()).collect();
    let head = Head {
        uid: &c.id,
        title: c.title(),
        desc: reasons.join("\n"),
        risk_details: reasons.join("; "),
        first_seen: c.first_seen,
        last_seen: c.last_seen,
        severity: c.severity,
        status: (1, "New"),
        confidence: (3, "High"),
        log_provider: None,
        original_time: Some(c.first_seen),
    };
    let mut v = finding(
        head,
        Activity::Create,
        product_version,
        json!({
            "risk_score": c.score,
            "evidences": c.members.iter().map(|m| json!({
                "data": {"kind": "campaign_member", "member_kind": m.kind, "uid": m.id, "host": m.host,
                          "subject": m.subject, "first_seen": m.first_seen.as_millis(),
                          "last_seen": m.last_seen.as_millis()},
                "dst_endpoint": endpoint(&m.destination),
            })).collect::<Vec<_>>(),
            "unmapped": {
                "floodwatch": {
                    "kind": "campaign",
                    "score": c.score,
                    "destination": c.destination,
                    "hosts": c.hosts,
                    "summed_bytes_per_s": c.summed_bytes_per_s,
                    "summed_packets_per_s": c.summed_packets_per_s,
                    "summed_connections_per_s": c.summed_connections_per_s,
                    "summed_spawns_per_s": c.summed_spawns_per_s,
                    "shared_traits": c.shared_traits,
                    "reasons": c.reasons,
                    "members": c.members,
                    "owned_service": c.owned_service,
                }
            }
        }),
    );
    v["finding_info"]["related_events"] = json!(c
        .members
        .iter()
        .map(|m| json!({"uid": m.id, "type_name": "Detection Finding", "type_uid": 200401}))
        .collect::<Vec<_>>());
    v["finding_info"]["types"] = json!(["Network Flood", "Campaign"]);
    // Many hosts, so no one device: not the host profile (the members carry theirs).
    v["metadata"]["profiles"] = json!([]);
    respond_fields(&mut v, Some(&c.playbook), None);
    v
}

/// A process alert's device is a Mac (every process source floodwatch reads is macOS telemetry).
fn mac(mut device: Map<String, Value>) -> Value {
    device.insert("os".into(), json!({"name": "macOS", "type_id": 300}));
    Value::Object(device)
}

/// What an alert and a network flood both put in a Detection Finding.
struct Head<'a> {
    uid: &'a str,
    title: String,
    desc: String,
    risk_details: String,
    first_seen: Ts,
    last_seen: Ts,
    severity: Severity,
    status: (u8, &'static str),
    confidence: (u8, &'static str),
    /// Source formats of the evidence (`metadata.log_provider`).
    log_provider: Option<String>,
    /// When the first record behind the finding happened, as its source dated it
    /// (`metadata.original_time`).
    original_time: Option<Ts>,
}

/// A Detection Finding: the fields every finding has (class, activity, times, severity, status,
/// metadata, finding_info with the analytic and technique), and `own`, the fields of its kind.
fn finding(head: Head<'_>, activity: Activity, product_version: &str, own: Value) -> Value {
    let (status_id, status_name) = head.status;
    let (confidence_id, confidence) = head.confidence;
    let mut metadata = json!({
        "version": "1.3.0",
        "profiles": PROFILES,
        "uid": head.uid,
        "product": {"name": "floodwatch", "vendor_name": "floodwatch", "version": product_version},
    });
    if let Some(p) = head.log_provider {
        metadata["log_provider"] = json!(p);
    }
    if let Some(t) = head.original_time {
        // The first record behind the finding, dated as its source dated it (RFC 3339, UTC).
        metadata["original_time"] = json!(t.to_rfc3339_millis());
    }
    let mut v = json!({
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": activity.id(),
        "activity_name": activity.name(),
        "type_uid": 200400 + activity.id() as u32,
        "type_name": format!("Detection Finding: {}", activity.name()),
        "time": head.last_seen.as_millis(),
        "start_time": head.first_seen.as_millis(),
        "end_time": head.last_seen.as_millis(),
        "severity_id": head.severity.ocsf_id(),
        "severity": capitalize(head.severity.as_str()),
        "status_id": status_id,
        "status": status_name,
        "confidence_id": confidence_id,
        "confidence": confidence,
        // OCSF risk levels run 0 (Info) to 4 (Critical), one below the severity ids (1 to 5).
        "risk_level_id": head.severity.ocsf_id().saturating_sub(1),
        "risk_details": head.risk_details,
        "message": head.title,
        "metadata": metadata,
        "finding_info": {
            "uid": head.uid,
            "title": head.title,
            "desc": head.desc,
            "types": ["Network Flood"],
            "first_seen_time": head.first_seen.as_millis(),
            "last_seen_time": head.last_seen.as_millis(),
            "analytic": {"uid": ANALYTIC_UID, "name": "Analytic 0971", "type_id": 1, "type": "Rule",
                          "desc": "Excessive outbound traffic via ping, curl, or custom scripts indicating flooding behavior, especially with no UI context or user interaction."},
            "attacks": [{
                "technique": {"uid": TECHNIQUE_UID, "name": "Network Denial of Service"},
                "sub_technique": {"uid": SUB_TECHNIQUE_UID, "name": "Direct Network Flood"},
                "tactic": {"uid": "TA0040", "name": "Impact"},
            }],
        },
    });
    if let (Some(all), Value::Object(own)) = (v.as_object_mut(), own) {
        all.extend(own);
    }
    v
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// A network flood as an OCSF Detection Finding: no actor process (the traffic has no pid), each
/// evidence record with the sending and target addresses as its `src_endpoint` / `dst_endpoint` (the
/// class itself has no endpoints), the joined process (when a process source saw it) in `evidences[]`
/// and under `unmapped.floodwatch`, with `kind = "network"`.
/// Scans are not findings of AN0971 and are never written here (the run summary lists them).
pub fn network_finding(f: &NetworkFinding, activity: Activity, product_version: &str) -> Value {
    let mut evidences: Vec<Value> = f
        .evidences
        .iter()
        .map(|e| {
            let mut v = json!({
                "data": {"kind": "network", "time": e.time.as_millis(), "source_file": e.file, "source_line": e.line},
                "src_endpoint": endpoint(&f.local),
            });
            if let Some(t) = &f.target {
                v["dst_endpoint"] = endpoint(t);
            }
            v
        })
        .collect();
    if let Some(p) = &f.process.process {
        evidences.push(json!({
            "data": {"kind": "joined_process", "join": f.process.kind, "text": f.process.text},
            "process": process_with_parents(p, &f.process.parents, &f.host),
        }));
    }
    let metrics = json!({
            "window_secs": f.window_secs,
            "windows": f.windows,
            "packets": f.packets,
            "syn": f.syn,
            "bytes": f.bytes,
            "connections": f.connections,
            "peak_packets_per_s": f.peak_packets_per_s,
            "peak_syn_per_s": f.peak_syn_per_s,
            "peak_connections_per_s": f.peak_connections_per_s,
            "peak_bytes_per_s": f.peak_bytes_per_s,
            "peak_span_secs": f.peak_span_secs,
            "avg_packets_per_s": f.avg_packets_per_s,
            "avg_syn_per_s": f.avg_syn_per_s,
            "avg_connections_per_s": f.avg_connections_per_s,
            "span_secs": f.span_secs,
            "distinct_hosts": f.distinct_hosts,
            "distinct_ports": f.distinct_ports,
            "distinct_capped": f.distinct_capped,
            "evidences_omitted": f.evidences_omitted,
    });
    let head = Head {
        uid: &f.id,
        title: f.title(),
        desc: format!("{}\n{}", f.reasons.join("\n"), f.process.text),
        risk_details: f.reasons.join("; "),
        first_seen: f.first_seen,
        last_seen: f.last_seen,
        severity: f.severity,
        // No workflow state for network floods: always New.
        status: (1, "New"),
        confidence: network_confidence(f),
        log_provider: log_provider(f.evidences.iter().map(|e| e.format.as_deref())),
        // The first packet or flow, as the capture or log dated it (the evidence list is bounded).
        original_time: Some(f.first_seen),
    };
    let mut v = finding(
        head,
        activity,
        product_version,
        json!({
            "device": device(&f.host),
            "evidences": evidences,
            "unmapped": {
                "floodwatch": {
                    "kind": "network",
                    "class": f.class,
                    "protocols": f.protocols,
                    "metrics": metrics,
                    "reasons": f.reasons,
                    "process_join": f.process,
                }
            }
        }),
    );
    respond_fields(&mut v, f.playbook.as_ref(), f.campaign.as_ref());
    v
}

/// Compact JSON that also writes bidirectional controls (U+061C, U+200E, U+200F, U+202A-U+202E,
/// U+2066-U+2069) as `\uXXXX` escapes: serde_json writes them raw, and an attacker's U+202E in a
/// command line would reorder what an analyst reads in a terminal or an editor. The value is the
/// same once parsed.
struct BidiEscaping;

impl Formatter for BidiEscaping {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if is_bidi_control(c) {
                writer.write_all(&fragment.as_bytes()[start..i])?;
                write!(writer, "\\u{:04x}", u32::from(c))?;
                start = i + c.len_utf8();
            }
        }
        CompactFormatter.write_string_fragment(writer, &fragment[start..])
    }
}

/// One value as one JSON line (compact, newline-terminated), bidirectional controls escaped.
pub fn write_json_line(w: &mut dyn io::Write, value: &impl Serialize) -> io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(&mut *w, BidiEscaping);
    value.serialize(&mut ser)?;
    w.write_all(b"\n")
}

/// Network floods as JSON lines (one Create each, as a hunt reports alerts); scans are skipped.
pub fn write_network_jsonl(
    w: &mut dyn std::io::Write,
    findings: &[NetworkFinding],
    product_version: &str,
) -> std::io::Result<()> {
    for f in findings
        .iter()
        .filter(|f| f.class == floodwatch_core::finding::NetworkClass::Flood)
    {
        write_json_line(w, &network_finding(f, Activity::Create, product_version))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_split_into_ip_or_hostname_and_port() {
        assert_eq!(
            endpoint("198.51.100.61:443"),
            json!({"ip": "198.51.100.61", "port": 443})
        );
        assert_eq!(
            endpoint("[2001:db8::7]:53"),
            json!({"ip": "2001:db8::7", "port": 53})
        );
        assert_eq!(
            endpoint("fe80::1%en0.5353"),
            json!({"ip": "fe80::1%en0", "port": 5353})
        );
        assert_eq!(endpoint("10.0.0.1"), json!({"ip": "10.0.0.1"}));
        assert_eq!(
            endpoint("updates.example.com:443"),
            json!({"hostname": "updates.example.com", "port": 443})
        );
        // Neither an address nor a host name: kept, as the endpoint's name.
        assert_eq!(
            endpoint("IPv4#1a2b3c4d:80"),
            json!({"name": "IPv4#1a2b3c4d", "port": 80})
        );
    }

    #[test]
    fn a_host_name_outside_hostname_t_is_the_device_name() {
        assert!(is_hostname("build-mac-07") && is_hostname("mac.corp.example"));
        for odd in ["Jane's MacBook", "-x", "a..b", "", "mac_01"] {
            assert!(!is_hostname(odd), "{odd}");
        }
        let d = device("Jane's MacBook");
        assert_eq!(d["name"], "Jane's MacBook");
        assert!(d.get("hostname").is_none());
        // Stable: the same host gives the same uid in every run.
        assert_eq!(device("mac-01")["uid"], device("mac-01")["uid"]);
        assert_ne!(device("mac-01")["uid"], device("mac-02")["uid"]);
    }

    #[test]
    fn an_image_is_a_file_only_when_it_is_a_path() {
        let mut m = Map::new();
        let file = insert_image(&mut m, "/usr/bin/curl").unwrap();
        assert_eq!(
            Value::Object(file),
            json!({"path": "/usr/bin/curl", "name": "curl", "type_id": 1})
        );
        assert_eq!(m["name"], "curl");
        // A traffic source that knows only the name: a process name, no file.
        let mut m = Map::new();
        assert!(insert_image(&mut m, "curl").is_none());
        assert_eq!(m["name"], "curl");
    }

    #[test]
    fn a_process_uid_needs_a_start_time() {
        assert_eq!(process_uid("mac-01", 42, None), None);
        let a = process_uid("mac-01", 42, Some(Ts(1))).unwrap();
        assert_eq!(Some(a.clone()), process_uid("mac-01", 42, Some(Ts(1))));
        assert_ne!(Some(a), process_uid("mac-01", 42, Some(Ts(2))));
    }
}
