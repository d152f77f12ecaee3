//! `floodwatch alerts list | show | ack | fp | unmark`: the alerts in the store, their lifecycle, and the
//! analyst's marks (with who and why).

use crate::cli::{AlertsCmd, MarkArgs};
use crate::commands::print_json;
use floodwatch_core::Ts;
use floodwatch_core::{Error, Result};
use floodwatch_sinks::escape::{clip, terminal};
use floodwatch_store::alerts::{AlertFilter, Mark};
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
            if let Ok(a) = serde_json::from_str::<serde_json::Value>(&alert_json) {
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
        AlertsCmd::Ack(m) => mark(m, Mark::Acknowledged),
        AlertsCmd::Fp(m) => mark(m, Mark::FalsePositive),
        AlertsCmd::Unmark(m) => mark(m, Mark::Unmarked),
    }
}

fn mark(m: MarkArgs, mark: Mark) -> Result<ExitCode> {
    let (_, mut st) = m.store.existing()?;
    match st.mark_alert(&m.id, mark, &m.by, &m.reason, Ts::now())? {
        Some(full) => {
            println!("alert {full}: {} by {}", mark.as_str(), terminal(&m.by));
            Ok(ExitCode::SUCCESS)
        }
        None => Err(Error::Usage(format!(
            "no single alert matches {:?} in {}",
            m.id,
            st.path().display()
        ))),
    }
}
