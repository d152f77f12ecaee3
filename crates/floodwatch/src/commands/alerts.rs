//! `floodwatch alerts list | show | similar | ack | fp | unmark`: the alerts in the store, their lifecycle, and the
//! analyst's marks (with who and why).

use crate::cli::{AlertsCmd, MarkArgs};
use crate::commands::print_json;
use floodwatch_core::respond::Playbook;
use floodwatch_core::Ts;
use floodwatch_core::{Error, Result};
use floodwatch_sinks::escape::{clip, terminal};
use floodwatch_sinks::respond::playbook_text;
use floodwatch_store::alerts::{AlertFilter, Mark, SimilarRow};
use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

pub fn run(cmd: AlertsCmd) -> Result<ExitCode> {
    let io = |x| Error::io("writing alerts", x);
    match cmd {
        AlertsCmd::List {
            store,
            host,
            state,
            suppressed,
            limit,
            json,
        } => {
            let (_, st) = store.existing()?;
            let (host_filter, state_filter) = (host.clone(), state.clone());
            let rows = st.list_alerts(&AlertFilter {
                host,
                state,
                suppressed,
                limit,
            })?;
            let mut out = std::io::stdout().lock();
            if json {
                print_json(&rows)?;
                return Ok(ExitCode::SUCCESS);
            }
            // Campaigns first: several hosts flooding one destination outrank any one alert.
            let campaigns = st.list_campaigns(host_filter.as_deref())?;
            if !campaigns.is_empty() && state_filter.is_none() {
                writeln!(out, "{} campaign(s):", campaigns.len()).map_err(io)?;
                for c in &campaigns {
                    writeln!(
                        out,
                        "{:<8} {:<24} {:<8} {:>3}  {} hosts → {} ({} member(s): {})",
                        &c.id[..c.id.len().min(8)],
                        c.first_seen,
                        c.severity,
                        c.score,
                        c.hosts,
                        terminal(&c.destination),
                        c.members,
                        terminal(&clip(&c.host_list, 100))
                    )
                    .map_err(io)?;
                }
                writeln!(out).map_err(io)?;
            }
            writeln!(
                out,
                "{:<8} {:<24} {:<16} {:<6} {:>5} {:<14} {:<28} headline",
                "id", "first seen", "host", "state", "score", "mark", "subject"
            )
            .map_err(io)?;
            for r in &rows {
                let mark = match (&r.mark, &r.suppressed_by) {
                    (Some(m), _) => m.clone(),
                    (None, Some(s)) => format!("suppressed:{s}"),
                    (None, None) => "-".into(),
                };
                writeln!(
                    out,
                    "{:<8} {:<24} {:<16} {:<6} {:>5} {:<14} {:<28} {}",
                    &r.id[..r.id.len().min(8)],
                    r.first_seen,
                    terminal(&clip(&r.host, 16)),
                    r.state,
                    r.score,
                    terminal(&clip(&mark, 14)),
                    terminal(&clip(&r.subject, 28)),
                    terminal(&clip(&r.headline, 100))
                )
                .map_err(io)?;
            }
            writeln!(out, "{} alert(s)", rows.len()).map_err(io)?;
            // Network-level floods have no process: listed apart, after the alerts.
            let net = st.list_network(host_filter.as_deref())?;
            if !net.is_empty() && state_filter.is_none() {
                writeln!(out, "\n{} network flood finding(s):", net.len()).map_err(io)?;
                for n in &net {
                    writeln!(
                        out,
                        "{:<8} {:<24} {:<16} {:<8} {} → {}: {}",
                        &n.id[..n.id.len().min(8)],
                        n.first_seen,
                        terminal(&clip(&n.host, 16)),
                        n.severity,
                        terminal(&n.local),
                        terminal(n.target.as_deref().unwrap_or("?")),
                        terminal(&clip(&n.headline, 100))
                    )
                    .map_err(io)?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        AlertsCmd::Show { id, store, json } => {
            let (_, st) = store.existing()?;
            let Some((r, alert_json, hist)) = st.alert(&id)? else {
                return Err(Error::Usage(format!(
                    "no single alert matches {id:?} in {} (`floodwatch alerts list`)",
                    st.path().display()
                )));
            };
            let mut out = std::io::stdout().lock();
            if json {
                let alert: serde_json::Value =
                    serde_json::from_str(&alert_json).unwrap_or(serde_json::Value::Null);
                let v = serde_json::json!({ "row": r, "alert": alert, "history": hist });
                print_json(&v)?;
                return Ok(ExitCode::SUCCESS);
            }
            writeln!(out, "alert {}", r.id).map_err(io)?;
            writeln!(
                out,
                "  host {}  state {}  score {} ({})  {} → {}",
                terminal(&r.host),
                r.state,
                r.score,
                r.severity,
                r.first_seen,
                r.last_seen
            )
            .map_err(io)?;
            writeln!(out, "  subject {}", terminal(&r.subject)).map_err(io)?;
            if let Some(c) = &r.cmd_line {
                writeln!(out, "  command {}", terminal(&clip(c, 300))).map_err(io)?;
            }
            if let Some(m) = &r.mark {
                writeln!(
                    out,
                    "  marked {} by {}: {}",
                    m,
                    terminal(r.mark_by.as_deref().unwrap_or("?")),
                    terminal(r.mark_reason.as_deref().unwrap_or(""))
                )
                .map_err(io)?;
            }
            if let Some(p) = &r.reopens {
                writeln!(
                    out,
                    "  reopens alert {p} (the same process, after a quiet close)"
                )
                .map_err(io)?;
            }
            if let Some(s) = &r.suppressed_by {
                writeln!(out, "  suppressed by {}", terminal(s)).map_err(io)?;
            }
            writeln!(out, "  baseline: {}", terminal(&r.baseline)).map_err(io)?;
            let alert: serde_json::Value =
                serde_json::from_str(&alert_json).unwrap_or(serde_json::Value::Null);
            {
                let a = &alert;
                if let Some(reasons) = a.get("reasons").and_then(|x| x.as_array()) {
                    writeln!(out, "  reasons:").map_err(io)?;
                    for x in reasons {
                        writeln!(
                            out,
                            "    {:+4}  {}",
                            x.get("points").and_then(|p| p.as_i64()).unwrap_or(0),
                            terminal(x.get("text").and_then(|t| t.as_str()).unwrap_or(""))
                        )
                        .map_err(io)?;
                    }
                }
            }
            if let Some(c) = alert.get("campaign").filter(|c| !c.is_null()) {
                writeln!(
                    out,
                    "  campaign {}: {} hosts flooding {}",
                    terminal(c.get("id").and_then(|x| x.as_str()).unwrap_or("?")),
                    c.get("hosts").and_then(|x| x.as_u64()).unwrap_or(0),
                    terminal(c.get("destination").and_then(|x| x.as_str()).unwrap_or("?"))
                )
                .map_err(io)?;
            }
            match alert
                .get("playbook")
                .cloned()
                .and_then(|p| serde_json::from_value::<Playbook>(p).ok())
            {
                Some(p) => {
                    writeln!(out, "  playbook:").map_err(io)?;
                    write!(out, "{}", playbook_text(&p)).map_err(io)?;
                }
                None => writeln!(
                    out,
                    "  playbook: none stored (recorded by a floodwatch before playbooks; hunt again with --db)"
                )
                .map_err(io)?,
            }
            writeln!(out, "  history:").map_err(io)?;
            for h in &hist {
                writeln!(
                    out,
                    "    {}  {:<14} {}{}{}",
                    h.at,
                    h.event,
                    h.run_id.map(|r| format!("run {r} ")).unwrap_or_default(),
                    h.actor
                        .as_deref()
                        .map(|a| format!("by {} ", terminal(a)))
                        .unwrap_or_default(),
                    terminal(h.note.as_deref().unwrap_or(""))
                )
                .map_err(io)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        AlertsCmd::Similar {
            id,
            store,
            limit,
            json,
        } => {
            let (_, st) = store.existing()?;
            let Some((full, rows)) = st.similar_alerts(&id, limit)? else {
                return Err(Error::Usage(format!(
                    "no single alert matches {id:?} in {} (`floodwatch alerts list`)",
                    st.path().display()
                )));
            };
            if json {
                print_json(&serde_json::json!({ "alert": full, "similar": rows }))?;
                return Ok(ExitCode::SUCCESS);
            }
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "{} earlier alert(s) like {full} (same identity, script or destination):",
                rows.len()
            )
            .map_err(io)?;
            for line in dispositions(&rows) {
                writeln!(out, "  {}", terminal(&line)).map_err(io)?;
            }
            if !rows.is_empty() {
                writeln!(
                    out,
                    "\n{:<8} {:<24} {:<16} {:<6} {:>5} {:<22} {:<30} disposition",
                    "id", "first seen", "host", "state", "score", "shares", "subject"
                )
                .map_err(io)?;
            }
            for r in &rows {
                let disposition = match (&r.mark, &r.suppressed_by) {
                    (Some(m), _) => format!(
                        "{m} by {}: {}",
                        r.mark_by.as_deref().unwrap_or("?"),
                        r.mark_reason.as_deref().unwrap_or("")
                    ),
                    (None, Some(s)) => format!("suppressed by {s}"),
                    (None, None) => "-".into(),
                };
                writeln!(
                    out,
                    "{:<8} {:<24} {:<16} {:<6} {:>5} {:<22} {:<30} {}",
                    &r.id[..r.id.len().min(8)],
                    r.first_seen,
                    terminal(&clip(&r.host, 16)),
                    r.state,
                    r.score,
                    r.shares.join("+"),
                    terminal(&clip(&r.subject, 30)),
                    terminal(&clip(&disposition, 120))
                )
                .map_err(io)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        AlertsCmd::Ack(m) => mark(m, Mark::Acknowledged),
        AlertsCmd::Fp(m) => mark(m, Mark::FalsePositive),
        AlertsCmd::Unmark(m) => mark(m, Mark::Unmarked),
    }
}

/// What analysts decided about similar alerts, one line per disposition: "marked false_positive 2
/// time(s): by alice (2026-11-03): backup agent; ...".
fn dispositions(rows: &[SimilarRow]) -> Vec<String> {
    let mut by_mark: BTreeMap<&str, Vec<&SimilarRow>> = BTreeMap::new();
    let mut suppressed: BTreeMap<&str, u64> = BTreeMap::new();
    for r in rows {
        if let Some(m) = r.mark.as_deref() {
            by_mark.entry(m).or_default().push(r);
        } else if let Some(s) = r.suppressed_by.as_deref() {
            *suppressed.entry(s).or_default() += 1;
        }
    }
    let mut out = Vec::new();
    for (m, rs) in by_mark {
        let who: Vec<String> = rs
            .iter()
            .map(|r| {
                format!(
                    "by {} ({}): {}",
                    r.mark_by.as_deref().unwrap_or("?"),
                    r.marked_at.as_deref().unwrap_or("?"),
                    r.mark_reason.as_deref().unwrap_or("")
                )
            })
            .collect();
        out.push(format!(
            "marked {m} {} time(s): {}",
            rs.len(),
            who.join("; ")
        ));
    }
    for (s, n) in suppressed {
        out.push(format!("suppressed {n} time(s) by {s}"));
    }
    if out.is_empty() && !rows.is_empty() {
        out.push("none of them was marked or suppressed".into());
    }
    out
}

fn mark(m: MarkArgs, mark: Mark) -> Result<ExitCode> {
    let (_, mut st) = m.store.existing()?;
    if let Some(full) = st.mark_alert(&m.id, mark, &m.by, &m.reason, Ts::now())? {
        println!("alert {full}: {} by {}", mark.as_str(), terminal(&m.by));
        return Ok(ExitCode::SUCCESS);
    }
    // A campaign's id marks every member alert at once.
    match st.mark_campaign(&m.id, mark, &m.by, &m.reason, Ts::now())? {
        Some((full, members)) => {
            println!(
                "campaign {full}: {} member alert(s) {} by {}",
                members.len(),
                mark.as_str(),
                terminal(&m.by)
            );
            Ok(ExitCode::SUCCESS)
        }
        None => Err(Error::Usage(format!(
            "no single alert or campaign matches {:?} in {}",
            m.id,
            st.path().display()
        ))),
    }
}
