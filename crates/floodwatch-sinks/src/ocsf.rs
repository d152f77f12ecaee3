//! OCSF Detection Finding (class_uid 2004), one JSON object per line.
//! Fields follow OCSF 1.3: finding_info (analytic, attacks), actor.process with the parent_process chain,
//! device, evidences (each with its source file and line), risk_score, severity_id, and floodwatch's
//! metrics, reasons, context and timeline under `unmapped.floodwatch`. Network floods (no pid) are
//! Detection Findings too, with endpoints instead of an actor ([`network_finding`]). Lines are
//! written by [`write_json_line`], which escapes bidirectional controls (serde_json leaves them raw).

use crate::escape::is_bidi_control;
use floodwatch_core::alert::{Alert, Evidence, ProcessView, Severity};
use floodwatch_core::event::basename;
use floodwatch_core::finding::NetworkFinding;
use floodwatch_core::Ts;
use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter};
use serde_json::{json, Map, Value};
use std::io;

pub const ANALYTIC_UID: &str = "AN0971";
/// ATT&CK: the technique (Network Denial of Service) and the sub-technique this analytic detects.
pub const TECHNIQUE_UID: &str = "T1498";
pub const SUB_TECHNIQUE_UID: &str = "T1498.001";

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

fn process(p: &ProcessView) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("pid".into(), json!(p.pid));
    if let Some(c) = &p.cmd_line {
        m.insert("cmd_line".into(), json!(c));
    }
    if let Some(path) = &p.path {
        let name = basename(path);
        let mut file = json!({"path": path, "name": name, "type_id": 1});
        if p.signing_id.is_some() || p.team_id.is_some() {
            // OCSF has a slot for the team id (developer_uid) but none for Apple's signing
            // identifier; that goes with the signature class under unmapped.floodwatch.subject_signing.
            let mut sig = json!({"algorithm_id": 99, "algorithm": "Apple code signature"});
            if let Some(team) = &p.team_id {
                sig["developer_uid"] = json!(team);
            }
            file["signature"] = sig;
        }
        m.insert("file".into(), file);
        m.insert("name".into(), json!(name));
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
        m.insert("terminal".into(), json!(t));
    }
    m
}

/// actor.process with `parent_process` nested nearest-first, as OCSF models lineage.
fn process_with_parents(p: &ProcessView, parents: &[ProcessView]) -> Value {
    let mut chain: Option<Map<String, Value>> = None;
    for parent in parents.iter().rev() {
        let mut m = process(parent);
        if let Some(inner) = chain.take() {
            m.insert("parent_process".into(), Value::Object(inner));
        }
        chain = Some(m);
    }
    let mut m = process(p);
    if let Some(inner) = chain {
        m.insert("parent_process".into(), Value::Object(inner));
    }
    Value::Object(m)
}

fn evidence(e: &Evidence) -> Value {
    let mut v = json!({
        "data": {
            "kind": e.kind,
            "time": e.time.as_millis(),
            "source_file": e.file,
            "source_line": e.line,
            "bytes_out": e.bytes_out,
            "packets_out": e.packets_out,
        }
    });
    if e.pid.is_some() || e.cmd_line.is_some() || e.process.is_some() {
        v["process"] = json!({"pid": e.pid, "cmd_line": e.cmd_line, "file": e.process.as_ref().map(|p| json!({"path": p}))});
    }
    if let Some(p) = e.proto {
        v["connection_info"] = json!({"protocol_name": p.as_str()});
    }
    if let Some(r) = &e.remote {
        v["dst_endpoint"] = json!({"hostname": r});
    }
    v
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
    };
    let mut actor = json!({
        "process": process_with_parents(&a.subject.process, &a.subject.parents),
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
    finding(
        head,
        activity,
        product_version,
        json!({
            "risk_score": a.score,
            "device": {"hostname": a.host, "type_id": 0, "os": {"name": "macOS", "type_id": 300}},
            "actor": actor,
            "evidences": a.evidences.iter().map(evidence).collect::<Vec<_>>(),
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
    )
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
}

/// A Detection Finding: the fields every finding has (class, activity, times, severity, status,
/// metadata, finding_info with the analytic and technique), and `own`, the fields of its kind.
fn finding(head: Head<'_>, activity: Activity, product_version: &str, own: Value) -> Value {
    let (status_id, status_name) = head.status;
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
        // OCSF risk levels run 0 (Info) to 4 (Critical), one below the severity ids (1 to 5).
        "risk_level_id": head.severity.ocsf_id().saturating_sub(1),
        "risk_details": head.risk_details,
        "message": head.title,
        "metadata": {
            "version": "1.3.0",
            "uid": head.uid,
            "product": {"name": "floodwatch", "vendor_name": "floodwatch", "version": product_version},
        },
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

/// A network flood as an OCSF Detection Finding: no actor process (the traffic has no pid), the
/// sending and target addresses as `src_endpoint` / `dst_endpoint`, the joined process (when a process
/// source saw it) in `evidences[]` and under `unmapped.floodwatch`, with `kind = "network"`.
/// Scans are not findings of AN0971 and are never written here (the run summary lists them).
pub fn network_finding(f: &NetworkFinding, activity: Activity, product_version: &str) -> Value {
    let mut evidences: Vec<Value> = f
        .evidences
        .iter()
        .map(|e| {
            json!({
                "data": {"kind": "network", "time": e.time.as_millis(), "source_file": e.file, "source_line": e.line},
                "src_endpoint": {"ip": f.local},
                "dst_endpoint": {"ip": f.target},
            })
        })
        .collect();
    if let Some(p) = &f.process.process {
        evidences.push(json!({
            "data": {"kind": "joined_process", "join": f.process.kind, "text": f.process.text},
            "process": process_with_parents(p, &f.process.parents),
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
    };
    finding(
        head,
        activity,
        product_version,
        json!({
            "device": {"hostname": f.host, "type_id": 0},
            "src_endpoint": {"ip": f.local},
            "dst_endpoint": {"ip": f.target},
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
    )
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
