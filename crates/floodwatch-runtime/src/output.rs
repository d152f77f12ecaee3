//! Where a run's results leave it: alerts and network findings as OCSF lines or a table, the
//! incident report, and the run summary. `hunt`, `watch` and `demo` all write through here, so every
//! command prints the same thing the same way.

use crate::hunt::HuntResult;
use floodwatch_core::{Error, Result};
use floodwatch_engine::{AlertEvent, AlertEventKind};
use floodwatch_sinks::ecs::{alert_document, campaign_document, write_network_ecs};
use floodwatch_sinks::ocsf::{
    campaign_finding, detection_finding, network_finding, write_json_line, write_network_jsonl,
    Activity,
};
use floodwatch_sinks::report::{html_report, markdown_report, network_sections};
use floodwatch_sinks::summary::{write_summary, RunSummary};
use floodwatch_sinks::table::{write_alert, write_findings, Style};
use std::io::Write;
use std::path::Path;

/// The product version every finding carries.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// How alerts are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlertFormat {
    /// One OCSF Detection Finding (class 2004) per line.
    Jsonl,
    /// The readable table.
    Table { color: bool },
    /// One Elastic Common Schema alert document per line.
    Ecs,
}

/// A hunt reports each episode once, complete: a Create. `watch` reports its life: Create, Update…,
/// Close, all with the same finding uid.
fn activity(kind: AlertEventKind, live: bool) -> Activity {
    match kind {
        _ if !live => Activity::Create,
        AlertEventKind::Opened | AlertEventKind::Final => Activity::Create,
        AlertEventKind::Updated => Activity::Update,
        AlertEventKind::Closed => Activity::Close,
    }
}

/// One alert state as it happens (`watch`): an OCSF line or a table entry.
pub fn write_live_alert(
    w: &mut dyn Write,
    ev: &AlertEvent,
    format: AlertFormat,
) -> std::io::Result<()> {
    match format {
        AlertFormat::Jsonl => write_jsonl(w, ev, true),
        AlertFormat::Table { color } => write_alert(w, &ev.alert, &Style { color }),
        // ECS has no lifecycle activity: each state is the alert document as it stands.
        AlertFormat::Ecs => write_json_line(w, &alert_document(&ev.alert, VERSION)),
    }
}

fn write_jsonl(w: &mut dyn Write, ev: &AlertEvent, live: bool) -> std::io::Result<()> {
    let v = detection_finding(&ev.alert, activity(ev.kind, live), VERSION);
    write_json_line(w, &v)
}

/// What the agent hands its sinks: one finding line, the key that names this state of the finding
/// (the same input always gives the same keys; a sink that delivered a key skips it), and the
/// finding itself for sinks that store it.
pub struct Delivery {
    pub key: String,
    pub line: Vec<u8>,
    pub item: Item,
}

/// The finding behind a [`Delivery`].
pub enum Item {
    Alert(Box<floodwatch_core::alert::Alert>),
    Network(Box<floodwatch_core::finding::NetworkFinding>),
    Campaign(Box<floodwatch_core::respond::Campaign>),
    /// The agent's own health finding (a source silent, a command crash-looping, a spool full).
    Health(Box<serde_json::Value>),
}

fn line_of(v: &serde_json::Value) -> Vec<u8> {
    let mut line = Vec::new();
    // Writing to memory cannot fail.
    let _ = write_json_line(&mut line, v);
    if line.last() == Some(&b'\n') {
        line.pop();
    }
    line
}

/// A live alert state (`agent`): `watch`'s line with the state's key as `metadata.uid` (OCSF's id
/// of one event instance), so a receiver can tell a repeat, and the agent can find what a file sink
/// holds after a crash.
pub fn live_delivery(ev: &AlertEvent) -> Delivery {
    let a = &ev.alert;
    let key = format!(
        "{}/{:?}/{}/{}",
        a.id, ev.kind, a.metrics.hot_windows, a.last_seen.0
    );
    let mut v = detection_finding(a, activity(ev.kind, true), VERSION);
    v["metadata"]["uid"] = serde_json::Value::String(key.clone());
    Delivery {
        key,
        line: line_of(&v),
        item: Item::Alert(Box::new(a.clone())),
    }
}

/// A network flood as it is written (`agent`, live): keyed by its id, `metadata.uid` as for alerts.
/// Scans are not written (as in a hunt).
pub fn network_delivery(f: &floodwatch_core::finding::NetworkFinding) -> Option<Delivery> {
    if f.class != floodwatch_core::finding::NetworkClass::Flood {
        return None;
    }
    let key = format!("{}/network", f.id);
    let mut v = network_finding(f, Activity::Create, VERSION);
    v["metadata"]["uid"] = serde_json::Value::String(key.clone());
    Some(Delivery {
        key,
        line: line_of(&v),
        item: Item::Network(Box::new(f.clone())),
    })
}

/// A hunt's findings one by one, each line exactly as [`write_hunt`] writes it (`agent --once`).
pub fn hunt_deliveries(res: &HuntResult) -> Vec<Delivery> {
    let mut out = Vec::new();
    for c in &res.campaigns {
        out.push(Delivery {
            key: format!("{}/campaign", c.id),
            line: line_of(&campaign_finding(c, VERSION)),
            item: Item::Campaign(Box::new(c.clone())),
        });
    }
    for a in &res.alerts {
        out.push(Delivery {
            key: a.alert.id.clone(),
            line: line_of(&detection_finding(&a.alert, Activity::Create, VERSION)),
            item: Item::Alert(Box::new(a.alert.clone())),
        });
    }
    for f in &res.findings {
        if f.class == floodwatch_core::finding::NetworkClass::Flood {
            out.push(Delivery {
                key: format!("{}/network", f.id),
                line: line_of(&network_finding(f, Activity::Create, VERSION)),
                item: Item::Network(Box::new(f.clone())),
            });
        }
    }
    out
}

/// A hunt's alerts, then its network findings.
pub fn write_hunt(w: &mut dyn Write, res: &HuntResult, format: AlertFormat) -> std::io::Result<()> {
    match format {
        AlertFormat::Jsonl => {
            for c in &res.campaigns {
                write_json_line(w, &campaign_finding(c, VERSION))?;
            }
            for a in &res.alerts {
                write_jsonl(w, a, false)?;
            }
            write_network_jsonl(w, &res.findings, VERSION)
        }
        AlertFormat::Ecs => {
            for c in &res.campaigns {
                write_json_line(w, &campaign_document(c, VERSION))?;
            }
            for a in &res.alerts {
                write_json_line(w, &alert_document(&a.alert, VERSION))?;
            }
            write_network_ecs(w, &res.findings, VERSION)
        }
        AlertFormat::Table { color } => {
            let style = Style { color };
            let alerts: Vec<_> = res.alerts.iter().map(|a| a.alert.clone()).collect();
            write_findings(w, &alerts, &res.findings, &res.campaigns, &style)
        }
    }
}

/// The incident report: PREFIX.md and PREFIX.html.
pub fn write_report(prefix: &Path, res: &HuntResult) -> Result<()> {
    let alerts: Vec<_> = res.alerts.iter().map(|a| a.alert.clone()).collect();
    let heading = "floodwatch hunt: outbound network floods (AN0971)";
    let extra = network_sections(&res.findings);
    for (ext, text) in [
        (
            "md",
            markdown_report(heading, &alerts, &res.summary, &extra),
        ),
        ("html", html_report(heading, &alerts, &res.summary, &extra)),
    ] {
        let p = prefix.with_extension(ext);
        std::fs::write(&p, text).map_err(|e| Error::io(format!("writing {}", p.display()), e))?;
    }
    Ok(())
}

/// The run summary on stderr (files read, rejects with their locations, hosts), and as JSON when asked.
pub fn finish_summary(s: &RunSummary, json: Option<&Path>) -> Result<()> {
    // Buffered: stderr is not, and the table's cells and padding went out as one write each
    // (2,500 system calls for a 48-file fleet).
    let mut e = std::io::BufWriter::new(std::io::stderr().lock());
    write_summary(&mut e, s)
        .and_then(|()| e.flush())
        .map_err(|x| Error::io("writing summary", x))?;
    if let Some(p) = json {
        write_json(p, &s.to_json())?;
    }
    Ok(())
}

/// Pretty JSON with a final newline, to a file.
pub fn write_json<T: serde::Serialize>(p: &Path, v: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(v).map_err(|x| Error::Input(x.to_string()))?;
    std::fs::write(p, text + "\n").map_err(|x| Error::io(format!("writing {}", p.display()), x))
}
