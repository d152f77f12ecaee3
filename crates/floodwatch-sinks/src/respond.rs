//! Playbooks and campaigns for people: Markdown and HTML (the report) and terminal text
//! (`alerts show`). Commands are already quoted for `sh` by the respond stage; here every string is
//! escaped for the medium as well (HTML entities, Markdown code spans, visible control characters).

use crate::escape::{clip, html, markdown_cell, markdown_code, terminal};
use floodwatch_core::respond::{Campaign, Playbook};
use std::fmt::Write;

/// A playbook as a Markdown section (under an alert's heading).
pub fn playbook_markdown(p: &Playbook) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "#### Response\n\n**Next:** {}\n", markdown_cell(&p.next));
    s.push_str("| decision point | answer | from the data |\n|---|---|---|\n");
    for d in &p.decisions {
        let _ = writeln!(
            s,
            "| {} | **{}** | {} |",
            markdown_cell(&d.question),
            d.answer.as_str(),
            markdown_cell(&d.fact)
        );
    }
    s.push_str("\nContainment, least disruptive first:\n\n");
    for c in &p.containment {
        let mark = if c.id == p.recommended {
            " — **recommended first**"
        } else if !c.applicable {
            " — not applicable"
        } else {
            ""
        };
        let _ = writeln!(
            s,
            "{}. {}{mark}: when {}",
            c.disruption,
            markdown_cell(&c.title),
            markdown_cell(&c.when)
        );
        if let Some(n) = &c.note {
            let _ = writeln!(s, "   - note: {}", markdown_cell(n));
        }
        for cmd in &c.commands {
            let _ = writeln!(s, "   - {}", markdown_code(cmd));
        }
    }
    let _ = writeln!(s, "\nWhy first: {}\n", markdown_cell(&p.why));
    for i in &p.impact {
        let _ = writeln!(
            s,
            "Impact on {} ({}; {}; {:.0} s; {} host(s) in the same windows):\n",
            markdown_code(&i.destination),
            i.owned_service
                .as_deref()
                .map_or("outside the organization or not owned".to_string(), |n| {
                    format!("owned service {}", markdown_cell(n))
                }),
            markdown_cell(&i.rate),
            i.duration_secs,
            i.hosts_same_destination
        );
        for c in &i.checks {
            let _ = writeln!(s, "- {}", markdown_cell(c));
        }
        s.push('\n');
    }
    s.push_str("Collect before containment:\n\n");
    for c in &p.collect {
        let _ = write!(
            s,
            "- {}: {}",
            markdown_cell(&c.what),
            markdown_cell(&clip(&c.detail, 400))
        );
        if let Some(cmd) = &c.command {
            let _ = write!(s, " — {}", markdown_code(cmd));
        }
        s.push('\n');
    }
    s.push('\n');
    s
}

/// A playbook as an HTML block.
pub fn playbook_html(p: &Playbook) -> String {
    let mut s = String::from("<div class=\"playbook\"><h4>Response</h4>");
    let _ = write!(s, "<p><b>Next:</b> {}</p>", html(&p.next));
    s.push_str("<table><tr><th>decision point</th><th>answer</th><th>from the data</th></tr>");
    for d in &p.decisions {
        let _ = write!(
            s,
            "<tr><td>{}</td><td><b>{}</b></td><td>{}</td></tr>",
            html(&d.question),
            d.answer.as_str(),
            html(&d.fact)
        );
    }
    s.push_str("</table><p>Containment, least disruptive first:</p><ol>");
    for c in &p.containment {
        let mark = if c.id == p.recommended {
            " <b>(recommended first)</b>"
        } else if !c.applicable {
            " <span class=\"muted\">(not applicable)</span>"
        } else {
            ""
        };
        let _ = write!(s, "<li>{}{mark}: when {}", html(&c.title), html(&c.when));
        if let Some(n) = &c.note {
            let _ = write!(s, "<br><span class=\"muted\">{}</span>", html(n));
        }
        for cmd in &c.commands {
            let _ = write!(s, "<br><code>{}</code>", html(cmd));
        }
        s.push_str("</li>");
    }
    let _ = write!(s, "</ol><p>Why first: {}</p>", html(&p.why));
    for i in &p.impact {
        let _ = write!(
            s,
            "<p>Impact on <code>{}</code> ({}; {}; {:.0} s; {} host(s) in the same windows):</p><ul>",
            html(&i.destination),
            html(&i.owned_service.as_deref().map_or(
                "outside the organization or not owned".to_string(),
                |n| format!("owned service {n}")
            )),
            html(&i.rate),
            i.duration_secs,
            i.hosts_same_destination
        );
        for c in &i.checks {
            let _ = write!(s, "<li>{}</li>", html(c));
        }
        s.push_str("</ul>");
    }
    s.push_str("<p>Collect before containment:</p><ul>");
    for c in &p.collect {
        let _ = write!(s, "<li>{}: {}", html(&c.what), html(&clip(&c.detail, 400)));
        if let Some(cmd) = &c.command {
            let _ = write!(s, "<br><code>{}</code>", html(cmd));
        }
        s.push_str("</li>");
    }
    s.push_str("</ul></div>");
    s
}

/// A playbook for terminals (`alerts show`): every string through [`terminal`].
pub fn playbook_text(p: &Playbook) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "  next: {}", terminal(&p.next));
    let _ = writeln!(s, "  decision points:");
    for d in &p.decisions {
        let _ = writeln!(
            s,
            "    {:<8} {}\n             {}",
            d.answer.as_str(),
            terminal(&d.question),
            terminal(&d.fact)
        );
    }
    let _ = writeln!(s, "  containment, least disruptive first:");
    for c in &p.containment {
        let mark = if c.id == p.recommended {
            "  <- recommended first"
        } else if !c.applicable {
            "  (not applicable)"
        } else {
            ""
        };
        let _ = writeln!(s, "    {}. {}{mark}", c.disruption, terminal(&c.title));
        let _ = writeln!(s, "       when {}", terminal(&c.when));
        if let Some(n) = &c.note {
            let _ = writeln!(s, "       note: {}", terminal(n));
        }
        for cmd in &c.commands {
            let _ = writeln!(s, "       $ {}", terminal(cmd));
        }
    }
    let _ = writeln!(s, "  why first: {}", terminal(&p.why));
    for i in &p.impact {
        let _ = writeln!(
            s,
            "  impact on {} ({}; {}; {:.0} s; {} host(s) in the same windows):",
            terminal(&i.destination),
            terminal(&i.owned_service.as_deref().map_or(
                "outside the organization or not owned".to_string(),
                |n| format!("owned service {n}")
            )),
            terminal(&i.rate),
            i.duration_secs,
            i.hosts_same_destination
        );
        for c in &i.checks {
            let _ = writeln!(s, "    - {}", terminal(c));
        }
    }
    let _ = writeln!(s, "  collect before containment:");
    for c in &p.collect {
        let _ = writeln!(s, "    - {}: {}", terminal(&c.what), clip(&c.detail, 300));
        if let Some(cmd) = &c.command {
            let _ = writeln!(s, "       $ {}", terminal(cmd));
        }
    }
    s
}

/// Campaigns as a Markdown section (first in the report).
pub fn campaigns_markdown(campaigns: &[Campaign]) -> String {
    if campaigns.is_empty() {
        return String::new();
    }
    let mut s = String::from("## Campaigns\n\n");
    for c in campaigns {
        let _ = writeln!(
            s,
            "### {:?} {} — {}\n\n- {} → {}, id {}\n- hosts: {}\n- first member {}, last member {}",
            c.severity,
            c.score,
            markdown_cell(&c.title()),
            c.first_seen.to_rfc3339_millis(),
            c.last_seen.to_rfc3339_millis(),
            markdown_code(&c.id),
            markdown_cell(&c.hosts.join(", ")),
            markdown_code(&c.first_member),
            markdown_code(&c.last_member)
        );
        for r in &c.reasons {
            let _ = writeln!(s, "  - {:+} {}", r.points, markdown_cell(&r.text));
        }
        s.push_str("\n| member | host | subject | from → to |\n|---|---|---|---|\n");
        for m in &c.members {
            let _ = writeln!(
                s,
                "| {} {} | {} | {} | {} → {} |",
                m.kind,
                markdown_code(&m.id),
                markdown_cell(&m.host),
                markdown_cell(&m.subject),
                m.first_seen.to_rfc3339_millis(),
                m.last_seen.hms()
            );
        }
        s.push('\n');
        s.push_str(&playbook_markdown(&c.playbook));
    }
    s
}

/// Campaigns as HTML (first in the report).
pub fn campaigns_html(campaigns: &[Campaign]) -> String {
    if campaigns.is_empty() {
        return String::new();
    }
    let mut s = String::from("<h2>Campaigns</h2>");
    for c in campaigns {
        let _ = write!(
            s,
            "<div class=\"alert\"><p><span class=\"sev\">{:?} {}</span> · {} → {} · <span class=\"muted\">{}</span></p><p><b>{}</b></p><p>hosts: {}</p><table><tr><th>points</th><th>why</th></tr>",
            c.severity,
            c.score,
            c.first_seen.to_rfc3339_millis(),
            c.last_seen.to_rfc3339_millis(),
            html(&c.id),
            html(&c.title()),
            html(&c.hosts.join(", "))
        );
        for r in &c.reasons {
            let _ = write!(
                s,
                "<tr><td>{:+}</td><td>{}</td></tr>",
                r.points,
                html(&r.text)
            );
        }
        s.push_str("</table><table><tr><th>member</th><th>host</th><th>subject</th><th>from → to</th></tr>");
        for m in &c.members {
            let _ = write!(
                s,
                "<tr><td>{} <code>{}</code></td><td>{}</td><td>{}</td><td>{} → {}</td></tr>",
                html(&m.kind),
                html(&m.id),
                html(&m.host),
                html(&m.subject),
                m.first_seen.to_rfc3339_millis(),
                m.last_seen.hms()
            );
        }
        s.push_str("</table>");
        s.push_str(&playbook_html(&c.playbook));
        s.push_str("</div>");
    }
    s
}
