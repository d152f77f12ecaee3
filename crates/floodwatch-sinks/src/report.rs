//! The incident report: Markdown and a self-contained HTML page (inline CSS and SVG, no script, no
//! external resource) with, per alert, who did it, why it scored, and a chart of its outbound rate per
//! window against the threshold it crossed.

use crate::escape::{html, markdown_cell, markdown_code};
use crate::ocsf::title;
use crate::respond::{campaigns_html, campaigns_markdown, playbook_html, playbook_markdown};
use crate::summary::RunSummary;
use floodwatch_core::alert::{fmt_bytes_rate, Alert, WindowPoint};
use floodwatch_core::finding::{fmt_count_rate, NetworkClass, NetworkFinding};

/// An extra part of the report (the evaluation in `demo`): a table and lines of text.
#[derive(Clone, Debug, Default)]
pub struct Section {
    pub title: String,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub lines: Vec<String>,
}

/// The series an alert is charted on: the signal behind its first reason.
fn series(a: &Alert) -> (&'static str, fn(&WindowPoint) -> f64, Option<f64>) {
    let first = a.reasons.first();
    let thr = first.and_then(|r| r.threshold);
    match first.map(|r| r.code.as_str()) {
        Some("packet_rate") => ("packets/s", |p| p.packets_per_s, thr),
        Some("byte_rate") => ("bytes/s", |p| p.bytes_per_s, thr),
        Some("connection_rate") => ("new connections/s", |p| p.connections_per_s, thr),
        Some("spawn_rate") => ("network-tool execs/s", |p| p.spawns_per_s, thr),
        _ => ("packets/s (declared)", |p| p.packets_per_s, None),
    }
}

fn fmt_value(unit: &str, v: f64) -> String {
    if unit == "bytes/s" {
        fmt_bytes_rate(v)
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// An inline SVG bar chart of the alert's windows, with the threshold as a dashed line.
pub fn chart_svg(a: &Alert) -> String {
    let (unit, get, thr) = series(a);
    let pts = &a.timeline;
    let (w, h, pad) = (640.0, 160.0, 28.0);
    let max = pts
        .iter()
        .map(get)
        .chain(thr)
        .fold(0.0_f64, f64::max)
        .max(1e-9);
    let n = pts.len().max(1) as f64;
    let bw = (w - 2.0 * pad) / n;
    let y = |v: f64| h - pad - (v / max) * (h - 2.0 * pad);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" role=\"img\" \
         aria-label=\"{} per window\">",
        html(unit)
    );
    s.push_str(&format!(
        "<line x1=\"{pad}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#999\"/>",
        h - pad,
        w - pad,
        h - pad
    ));
    for (i, p) in pts.iter().enumerate() {
        let v = get(p);
        let x = pad + i as f64 * bw;
        let top = y(v);
        let fill = if p.hot { "#c0392b" } else { "#95a5a6" };
        s.push_str(&format!(
            "<rect x=\"{:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{fill}\">\
             <title>{} {}: {}</title></rect>",
            x + 1.0,
            (bw - 2.0).max(1.0),
            (h - pad - top).max(0.0),
            p.start.to_rfc3339_millis(),
            html(unit),
            html(&fmt_value(unit, v))
        ));
    }
    if let Some(t) = thr {
        let ty = y(t);
        s.push_str(&format!(
            "<line x1=\"{pad}\" y1=\"{ty:.1}\" x2=\"{}\" y2=\"{ty:.1}\" stroke=\"#2c3e50\" \
             stroke-dasharray=\"6 4\"/><text x=\"{}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">\
             threshold {}</text>",
            w - pad,
            w - pad,
            ty - 4.0,
            html(&fmt_value(unit, t))
        ));
    }
    s.push_str(&format!(
        "<text x=\"{pad}\" y=\"14\" font-size=\"11\">{} per {} s window (red: hot)</text></svg>",
        html(unit),
        a.metrics.window_secs
    ));
    s
}

const CSS: &str = "body{font:14px/1.45 -apple-system,Helvetica,Arial,sans-serif;margin:2em auto;max-width:980px;color:#222}\
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ddd}table{border-collapse:collapse;margin:.5em 0}\
td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}th{background:#f4f4f4}\
.alert{border:1px solid #ccc;border-left:6px solid #c0392b;padding:.6em 1em;margin:1em 0}\
.sev{font-weight:bold}code{background:#f6f6f6;padding:0 3px;word-break:break-all}.muted{color:#777}";

/// The HTML page: alerts (highest score first) with charts, extra sections, then the files read.
pub fn html_report(
    heading: &str,
    alerts: &[Alert],
    summary: &RunSummary,
    extra: &[Section],
) -> String {
    let mut s = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{CSS}</style></head><body>",
        html(heading)
    );
    s.push_str(&format!("<h1>{}</h1>", html(heading)));
    let floods = network_floods(summary);
    s.push_str(&format!(
        "<p>{} from {} file(s), {} event(s). MITRE ATT&amp;CK AN0971 / T1498.001 (Direct Network Flood).</p>",
        alert_count(alerts.len(), floods.len()),
        summary.files.len(),
        summary.events()
    ));
    let mut sorted: Vec<&Alert> = alerts.iter().collect();
    sorted.sort_by(|a, b| b.score.cmp(&a.score).then(a.first_seen.cmp(&b.first_seen)));
    s.push_str(&campaigns_html(&summary.campaigns));
    s.push_str("<h2>Alerts</h2>");
    if sorted.is_empty() && floods.is_empty() {
        s.push_str("<p>No alert.</p>");
    }
    for f in &floods {
        s.push_str(&format!(
            "<div class=\"alert\"><p class=\"sev\">{}</p>{}</div>",
            html(&network_alert_line(f)),
            f.playbook.as_ref().map(playbook_html).unwrap_or_default()
        ));
    }
    for a in sorted {
        let p = &a.subject.process;
        s.push_str("<div class=\"alert\">");
        s.push_str(&format!(
            "<p><span class=\"sev\">{:?} {}</span> · {} · {} → {} · <span class=\"muted\">{}</span></p>",
            a.severity,
            a.score,
            html(&a.host),
            a.first_seen.to_rfc3339_millis(),
            a.last_seen.to_rfc3339_millis(),
            html(&a.id)
        ));
        s.push_str(&format!("<p><b>{}</b></p>", html(&title(a))));
        s.push_str(&format!(
            "<p>subject: pid {} <code>{}</code></p>",
            p.pid,
            html(p.cmd_line.as_deref().or(p.path.as_deref()).unwrap_or("?"))
        ));
        s.push_str(&format!(
            "<p>chain: <code>{}</code></p>",
            html(&a.context.launch_chain)
        ));
        s.push_str("<table><tr><th>points</th><th>why</th></tr>");
        for r in &a.reasons {
            s.push_str(&format!(
                "<tr><td>{:+}</td><td>{}</td></tr>",
                r.points,
                html(&r.text)
            ));
        }
        s.push_str("</table>");
        s.push_str(&chart_svg(a));
        if let Some(sup) = &a.suppressed_by {
            s.push_str(&format!(
                "<p>SUPPRESSED by {} (owner {}, expires {}): {}</p>",
                html(&sup.id),
                html(&sup.owner),
                html(&sup.expires),
                html(&sup.reason)
            ));
        }
        if let Some(p) = &a.playbook {
            s.push_str(&playbook_html(p));
        }
        s.push_str("</div>");
    }
    for sec in extra {
        s.push_str(&section_html(sec));
    }
    s.push_str("<h2>Files read</h2><table><tr><th>format</th><th>records</th><th>events</th><th>skipped</th><th>rejected</th><th>path</th></tr>");
    for f in &summary.files {
        s.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            html(&f.format),
            f.records,
            f.events,
            f.skipped,
            f.rejected,
            html(&f.path)
        ));
    }
    s.push_str("</table></body></html>\n");
    s
}

/// Network floods of the run (outbound, T1498.001 findings), highest severity first: they are
/// alerts too, listed with the process alerts.
fn network_floods(summary: &RunSummary) -> Vec<&NetworkFinding> {
    let mut v: Vec<&NetworkFinding> = summary
        .network
        .iter()
        .filter(|f| f.class == NetworkClass::Flood)
        .collect();
    v.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.first_seen.cmp(&b.first_seen))
    });
    v
}

/// "3 alert(s)", or "0 process alert(s) and 1 network flood finding(s)" when there are network floods.
fn alert_count(alerts: usize, floods: usize) -> String {
    if floods == 0 {
        format!("{alerts} alert(s)")
    } else {
        format!("{alerts} process alert(s) and {floods} network flood finding(s)")
    }
}

/// A network flood in one line for the alert list: its severity, what, and its burst.
fn network_alert_line(f: &NetworkFinding) -> String {
    format!(
        "{:?} {} [network]: {} packets, {} SYN in {:.2} s (peak {} packets/s, {} SYN/s); {}",
        f.severity,
        f.title(),
        f.packets,
        f.syn,
        f.span_secs,
        fmt_count_rate(f.peak_packets_per_s),
        fmt_count_rate(f.peak_syn_per_s),
        f.process.text
    )
}

/// The same report as Markdown.
pub fn markdown_report(
    heading: &str,
    alerts: &[Alert],
    summary: &RunSummary,
    extra: &[Section],
) -> String {
    let mut s = format!("# {}\n\n", markdown_cell(heading));
    let floods = network_floods(summary);
    s.push_str(&format!(
        "{} from {} file(s), {} event(s). MITRE ATT&CK AN0971 / T1498.001.\n\n{}## Alerts\n\n",
        alert_count(alerts.len(), floods.len()),
        summary.files.len(),
        summary.events(),
        campaigns_markdown(&summary.campaigns)
    ));
    let mut sorted: Vec<&Alert> = alerts.iter().collect();
    sorted.sort_by(|a, b| b.score.cmp(&a.score).then(a.first_seen.cmp(&b.first_seen)));
    if sorted.is_empty() && floods.is_empty() {
        s.push_str("No alert.\n");
    }
    for f in &floods {
        s.push_str(&format!("- {}\n", markdown_cell(&network_alert_line(f))));
        if let Some(p) = &f.playbook {
            s.push('\n');
            s.push_str(&playbook_markdown(p));
        }
    }
    if !floods.is_empty() {
        s.push('\n');
    }
    for a in sorted {
        let p = &a.subject.process;
        s.push_str(&format!(
            "### {:?} {} — {}\n\n- host {}, {} → {}, id {}\n- subject: pid {} {}\n- chain: {}\n",
            a.severity,
            a.score,
            markdown_cell(&title(a)),
            markdown_cell(&a.host),
            a.first_seen.to_rfc3339_millis(),
            a.last_seen.to_rfc3339_millis(),
            markdown_code(&a.id),
            p.pid,
            markdown_code(p.cmd_line.as_deref().or(p.path.as_deref()).unwrap_or("?")),
            markdown_code(&a.context.launch_chain)
        ));
        for r in &a.reasons {
            s.push_str(&format!("  - {:+} {}\n", r.points, markdown_cell(&r.text)));
        }
        s.push('\n');
        if let Some(p) = &a.playbook {
            s.push_str(&playbook_markdown(p));
        }
    }
    for sec in extra {
        s.push_str(&section_markdown(sec));
    }
    s
}

/// One section as HTML: a heading, its table, its lines; every text escaped.
pub fn section_html(sec: &Section) -> String {
    let mut s = format!("<h2>{}</h2>", html(&sec.title));
    if !sec.headers.is_empty() {
        s.push_str("<table><tr>");
        for h in &sec.headers {
            s.push_str(&format!("<th>{}</th>", html(h)));
        }
        s.push_str("</tr>");
        for row in &sec.rows {
            s.push_str("<tr>");
            for c in row {
                s.push_str(&format!("<td>{}</td>", html(c)));
            }
            s.push_str("</tr>");
        }
        s.push_str("</table>");
    }
    for l in &sec.lines {
        s.push_str(&format!("<p>{}</p>", html(l)));
    }
    s
}

/// One section as Markdown: `##` heading, a table, paragraphs; every cell escaped.
pub fn section_markdown(sec: &Section) -> String {
    let mut s = format!("## {}\n\n", markdown_cell(&sec.title));
    if !sec.headers.is_empty() {
        let hdr: Vec<String> = sec.headers.iter().map(|h| markdown_cell(h)).collect();
        s.push_str(&format!("| {} |\n", hdr.join(" | ")));
        s.push_str(&format!("|{}\n", "---|".repeat(sec.headers.len())));
        for row in &sec.rows {
            let r: Vec<String> = row.iter().map(|c| markdown_cell(c)).collect();
            s.push_str(&format!("| {} |\n", r.join(" | ")));
        }
        s.push('\n');
    }
    for l in &sec.lines {
        s.push_str(&format!("{}\n\n", markdown_cell(l)));
    }
    s
}

/// A self-contained page of sections (inline CSS, no script, nothing external): the coverage report.
pub fn html_page(heading: &str, intro: &[String], sections: &[Section]) -> String {
    let mut s = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{CSS}</style></head><body><h1>{}</h1>",
        html(heading),
        html(heading)
    );
    for l in intro {
        s.push_str(&format!("<p>{}</p>", html(l)));
    }
    for sec in sections {
        s.push_str(&section_html(sec));
    }
    s.push_str("</body></html>\n");
    s
}

/// The same page as Markdown.
pub fn markdown_page(heading: &str, intro: &[String], sections: &[Section]) -> String {
    let mut s = format!("# {}\n\n", markdown_cell(heading));
    for l in intro {
        s.push_str(&format!("{}\n\n", markdown_cell(l)));
    }
    for sec in sections {
        s.push_str(&section_markdown(sec));
    }
    s
}

/// Network findings as a report section: floods with who sent them, scans marked "not a flood".
pub fn network_sections(findings: &[NetworkFinding]) -> Vec<Section> {
    if findings.is_empty() {
        return Vec::new();
    }
    vec![Section {
        title: "Network findings (pid-less traffic)".into(),
        headers: [
            "class",
            "severity",
            "host",
            "from → to",
            "burst",
            "peak",
            "totals",
            "process",
        ]
        .map(String::from)
        .to_vec(),
        rows: findings
            .iter()
            .map(|f| {
                vec![
                    match f.class {
                        NetworkClass::Flood => "flood".to_string(),
                        NetworkClass::Scan => "scan (not a flood)".to_string(),
                        NetworkClass::Inbound => {
                            "inbound flood (seen from the victim's side)".to_string()
                        }
                    },
                    format!("{:?}", f.severity),
                    f.host.clone(),
                    format!(
                        "{} → {}",
                        f.local,
                        f.target.as_deref().unwrap_or("many hosts")
                    ),
                    format!(
                        "{:.2} s, {} packets: {} packets/s on average",
                        f.span_secs,
                        f.packets,
                        fmt_count_rate(f.avg_packets_per_s)
                    ),
                    format!(
                        "{} packets/s, {} SYN/s, {} conn/s over {:.2} s",
                        fmt_count_rate(f.peak_packets_per_s),
                        fmt_count_rate(f.peak_syn_per_s),
                        fmt_count_rate(f.peak_connections_per_s),
                        f.peak_span_secs
                    ),
                    format!(
                        "{} packets, {} SYN, {} connections; {} host(s), {} port(s)",
                        f.packets, f.syn, f.connections, f.distinct_hosts, f.distinct_ports
                    ),
                    f.process.text.clone(),
                ]
            })
            .collect(),
        lines: Vec::new(),
    }]
}
