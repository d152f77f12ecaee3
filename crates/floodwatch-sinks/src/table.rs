//! Human-readable alert table for terminals. Colours only when the caller says so (a TTY without NO_COLOR).

use crate::escape::{clip, terminal};
use crate::ocsf::title;
use floodwatch_core::alert::{Alert, Reason, Severity};
use floodwatch_core::event::basename;
use floodwatch_core::finding::{fmt_count_rate, NetworkClass, NetworkFinding};
use floodwatch_core::respond::{Campaign, CampaignRef, Playbook};
use std::io::{self, Write};

pub struct Style {
    pub color: bool,
}

impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn sev(&self, s: Severity) -> String {
        let label = format!("{:<8}", s.as_str().to_uppercase());
        let code = match s {
            Severity::Critical | Severity::High => "1;31",
            Severity::Medium => "1;33",
            Severity::Low => "36",
            Severity::Informational => "2",
        };
        self.paint(code, &label)
    }
    fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }
}

fn rate(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

use floodwatch_core::alert::fmt_bytes_rate as bytes;

pub fn write_alert(w: &mut dyn Write, a: &Alert, st: &Style) -> io::Result<()> {
    let p = &a.subject.process;
    writeln!(
        w,
        "{} {:>3}  {}  {} → {}  ({} hot window{} of {} s)  [{}]",
        st.sev(a.severity),
        a.score,
        terminal(&a.host),
        a.first_seen.to_rfc3339_millis(),
        a.last_seen.hms(),
        a.metrics.hot_windows,
        if a.metrics.hot_windows == 1 { "" } else { "s" },
        a.metrics.window_secs,
        a.status.label()
    )?;
    writeln!(w, "   {}    {}", st.dim("what"), terminal(&title(a)))?;
    let cmd = p.cmd_line.as_deref().or(p.path.as_deref()).unwrap_or("?");
    let mut subject = format!("pid {} {}", p.pid, clip(cmd, 110));
    if !a.subject.children.is_empty() {
        let kids: Vec<String> = a
            .subject
            .children
            .iter()
            .take(3)
            .map(|(path, n)| format!("{} ×{n}", clip(basename(path), 30)))
            .collect();
        subject.push_str(&format!(
            "  [{}: {}]",
            a.subject.kind.replace('_', " "),
            kids.join(", ")
        ));
    }
    writeln!(w, "   {} {}", st.dim("subject"), subject)?;
    let c = &a.context;
    let mut ctx = vec![
        // Only what the telemetry showed: a source without process context says "unknown".
        if c.unattended {
            "UNATTENDED".to_string()
        } else if let Some(r) = &c.remote_session {
            // A TTY through sshd: attended, but not at this Mac's keyboard.
            terminal(r).into_owned()
        } else if c.interactive {
            "interactive".to_string()
        } else {
            "attendance unknown".to_string()
        },
        format!("launched by {}", c.launched_by.replace('_', " ")),
        match (&c.tty, c.tty_known) {
            (Some(t), _) => format!("tty {}", terminal(t)),
            (None, true) => "no tty".into(),
            (None, false) => "tty unknown".into(),
        },
    ];
    if c.root {
        ctx.push("root".into());
    }
    ctx.push(format!("session: {}", terminal(&c.session_state)));
    writeln!(w, "   {} {}", st.dim("context"), ctx.join(" · "))?;
    writeln!(w, "   {}   {}", st.dim("chain"), clip(&c.launch_chain, 160))?;
    write_reasons(w, &a.reasons, st)?;
    let m = &a.metrics;
    let mut traffic = format!(
        "peak {} spawns/s · {} packets/s · {} · {} conn/s",
        rate(m.peak_spawns_per_s),
        rate(m.peak_packets_per_s),
        bytes(m.peak_bytes_per_s),
        rate(m.peak_connections_per_s)
    );
    if let (Some(d), Some(s)) = (&m.top_destination, m.destination_share) {
        traffic.push_str(&format!(" → {} ({:.0}%)", clip(d, 60), s * 100.0));
    }
    writeln!(w, "   {} {}", st.dim("traffic"), traffic)?;
    writeln!(w, "   {} {}", st.dim("against"), a.baseline)?;
    if let Some(e) = a.evidences.first() {
        writeln!(
            w,
            "   {} {} item(s){}, first at {}:{}",
            st.dim("evidence"),
            a.evidences.len(),
            if m.evidences_omitted > 0 {
                format!(" (+{} more not listed)", m.evidences_omitted)
            } else {
                String::new()
            },
            terminal(&e.file),
            e.line
        )?;
    }
    if let Some(s) = &a.suppressed_by {
        writeln!(
            w,
            "   {} by {} (owner {}, expires {}): {}",
            st.paint("1;35", "SUPPRESSED"),
            terminal(&s.id),
            terminal(&s.owner),
            terminal(&s.expires),
            terminal(&s.reason)
        )?;
    }
    for n in &a.suppression_notes {
        writeln!(w, "   {}    {}", st.dim("note"), terminal(n))?;
    }
    write_respond(w, a.playbook.as_ref(), a.campaign.as_ref(), st)?;
    writeln!(w, "   {}      {}", st.dim("id"), a.id)?;
    writeln!(w)
}

/// Reasons, strongest first, each with its points; the first line is labelled "why".
fn write_reasons(w: &mut dyn Write, reasons: &[Reason], st: &Style) -> io::Result<()> {
    for (i, r) in reasons.iter().enumerate() {
        let label = if i == 0 {
            st.dim("why")
        } else {
            "   ".to_string()
        };
        writeln!(w, "   {}     {:>+4} {}", label, r.points, terminal(&r.text))?;
    }
    Ok(())
}

/// The playbook's first step, and the campaign the finding is part of.
fn write_respond(
    w: &mut dyn Write,
    playbook: Option<&Playbook>,
    campaign: Option<&CampaignRef>,
    st: &Style,
) -> io::Result<()> {
    if let Some(c) = campaign {
        writeln!(
            w,
            "   {} {} hosts → {} (campaign {})",
            st.paint("1;31", "CAMPAIGN"),
            c.hosts,
            terminal(&c.destination),
            &c.id[..c.id.len().min(8)]
        )?;
    }
    if let Some(p) = playbook {
        writeln!(w, "   {}    {}", st.dim("next"), clip(&p.next, 200))?;
    }
    Ok(())
}

/// A campaign for terminals: the destination, the hosts, why, each member, and the first step.
pub fn write_campaign(w: &mut dyn Write, c: &Campaign, st: &Style) -> io::Result<()> {
    writeln!(
        w,
        "{} {} {:>3}  {} hosts → {}  {} → {}",
        st.paint("1;31", "CAMPAIGN"),
        st.sev(c.severity),
        c.score,
        c.hosts.len(),
        terminal(&c.destination),
        c.first_seen.to_rfc3339_millis(),
        c.last_seen.hms()
    )?;
    writeln!(w, "   {}    {}", st.dim("what"), terminal(&c.title()))?;
    let hosts: Vec<String> = c.hosts.iter().map(|h| clip(h, 40)).collect();
    writeln!(w, "   {}   {}", st.dim("hosts"), hosts.join(", "))?;
    let who = |id: &str| {
        c.members
            .iter()
            .find(|m| m.id == id)
            .map(|m| format!("{} on {}", &m.id[..m.id.len().min(8)], clip(&m.host, 40)))
            .unwrap_or_default()
    };
    writeln!(
        w,
        "   {}   first {}, last {}",
        st.dim("span "),
        who(&c.first_member),
        who(&c.last_member)
    )?;
    write_reasons(w, &c.reasons, st)?;
    for (i, m) in c.members.iter().enumerate() {
        let label = if i == 0 {
            st.dim("members")
        } else {
            "       ".to_string()
        };
        writeln!(
            w,
            "   {} {:<7} {}  {:<16} {}  {} → {}",
            label,
            m.kind,
            &m.id[..m.id.len().min(8)],
            clip(&m.host, 16),
            clip(&m.subject, 80),
            m.first_seen.hms(),
            m.last_seen.hms()
        )?;
    }
    writeln!(
        w,
        "   {}    {}",
        st.dim("next"),
        clip(&c.playbook.next, 200)
    )?;
    writeln!(w, "   {}      {}", st.dim("id"), c.id)?;
    writeln!(w)
}

/// All alerts: active ones first (highest score first), then the suppressed ones, still shown.
pub fn write_table(w: &mut dyn Write, alerts: &[Alert], st: &Style) -> io::Result<()> {
    write_findings(w, alerts, &[], &[], st)
}

/// Process alerts and network floods together: the count names both, so a run whose only finding is
/// a network flood never reads "No alerts."; the floods follow the process alerts, highest severity
/// first, each with its severity (see [`write_network_finding`]). Campaigns come first of all: several
/// hosts flooding one destination together outrank any one of them.
pub fn write_findings(
    w: &mut dyn Write,
    alerts: &[Alert],
    network: &[NetworkFinding],
    campaigns: &[Campaign],
    st: &Style,
) -> io::Result<()> {
    if !campaigns.is_empty() {
        writeln!(
            w,
            "{} campaign(s): several hosts flooding one destination at the same time\n",
            campaigns.len()
        )?;
        for c in campaigns {
            write_campaign(w, c, st)?;
        }
    }
    let mut floods: Vec<&NetworkFinding> = network
        .iter()
        .filter(|f| f.class == NetworkClass::Flood)
        .collect();
    floods.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.first_seen.cmp(&b.first_seen))
            .then(a.id.cmp(&b.id))
    });
    let (mut active, mut suppressed): (Vec<&Alert>, Vec<&Alert>) =
        alerts.iter().partition(|a| a.suppressed_by.is_none());
    let order = |a: &&Alert, b: &&Alert| {
        b.score
            .cmp(&a.score)
            .then(a.first_seen.cmp(&b.first_seen))
            .then(a.id.cmp(&b.id))
    };
    active.sort_by(order);
    suppressed.sort_by(order);
    match (active.len(), floods.len()) {
        (0, 0) => writeln!(w, "No alerts.")?,
        (n, 0) => writeln!(w, "{n} alert(s), highest score first:\n")?,
        (0, k) => writeln!(
            w,
            "No process alert; {k} network flood finding(s), highest severity first:\n"
        )?,
        (n, k) => writeln!(
            w,
            "{n} process alert(s), highest score first, then {k} network flood finding(s):\n"
        )?,
    }
    for a in active {
        write_alert(w, a, st)?;
    }
    for f in floods {
        write_network_finding(w, f, st)?;
    }
    if !suppressed.is_empty() {
        writeln!(
            w,
            "{} suppressed detection(s), still reported:\n",
            suppressed.len()
        )?;
        for a in suppressed {
            write_alert(w, a, st)?;
        }
    }
    Ok(())
}

/// A network flood for terminals: addresses, peak rate over the active span, totals, who sent it (or
/// what is missing), reasons, evidence. Every text from the input is escaped.
pub fn write_network_finding(w: &mut dyn Write, f: &NetworkFinding, st: &Style) -> io::Result<()> {
    writeln!(
        w,
        "{}      {}  {} → {}  ({:.2} s, {} packets)  [network]",
        st.sev(f.severity),
        terminal(&f.host),
        f.first_seen.to_rfc3339_millis(),
        f.last_seen.hms(),
        f.span_secs,
        f.packets
    )?;
    writeln!(w, "   {}    {}", st.dim("what"), terminal(&f.title()))?;
    writeln!(
        w,
        "   {} {} → {}  {}",
        st.dim("flow   "),
        terminal(&f.local),
        terminal(f.target.as_deref().unwrap_or("?")),
        f.protocols
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join("/")
    )?;
    for (i, r) in f.reasons.iter().enumerate() {
        let label = if i == 0 {
            st.dim("why")
        } else {
            "   ".to_string()
        };
        writeln!(w, "   {}     {}", label, terminal(r))?;
    }
    writeln!(
        w,
        "   {} peak {} packets/s · {} SYN/s · {} conn/s · {} over {:.2} s; totals {} packets, {} SYN, {} connections, {} bytes",
        st.dim("traffic"),
        fmt_count_rate(f.peak_packets_per_s),
        fmt_count_rate(f.peak_syn_per_s),
        fmt_count_rate(f.peak_connections_per_s),
        bytes(f.peak_bytes_per_s),
        f.peak_span_secs,
        f.packets,
        f.syn,
        f.connections,
        f.bytes
    )?;
    writeln!(w, "   {} {}", st.dim("process"), clip(&f.process.text, 240))?;
    if let Some(p) = &f.process.process {
        let cmd = p.cmd_line.as_deref().or(p.path.as_deref()).unwrap_or("?");
        writeln!(
            w,
            "   {} pid {} {}",
            st.dim("subject"),
            p.pid,
            clip(cmd, 110)
        )?;
    }
    if let Some(e) = f.evidences.first() {
        writeln!(
            w,
            "   {} {} item(s){}, first at {}:{}",
            st.dim("evidence"),
            f.evidences.len(),
            if f.evidences_omitted > 0 {
                format!(" (+{} more not listed)", f.evidences_omitted)
            } else {
                String::new()
            },
            terminal(&e.file),
            e.line
        )?;
    }
    write_respond(w, f.playbook.as_ref(), f.campaign.as_ref(), st)?;
    writeln!(w, "   {}      {}", st.dim("id"), f.id)?;
    writeln!(w)
}

/// Network floods alone (scans and inbound notes are in the run summary); [`write_findings`] lists
/// them with the process alerts.
pub fn write_network_table(
    w: &mut dyn Write,
    findings: &[NetworkFinding],
    st: &Style,
) -> io::Result<()> {
    let floods: Vec<&NetworkFinding> = findings
        .iter()
        .filter(|f| f.class == NetworkClass::Flood)
        .collect();
    if floods.is_empty() {
        return Ok(());
    }
    writeln!(w, "{} network flood finding(s):\n", floods.len())?;
    for f in floods {
        write_network_finding(w, f, st)?;
    }
    Ok(())
}
