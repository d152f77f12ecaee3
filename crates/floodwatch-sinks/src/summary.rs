//! The per-file run summary: detected format, records, events, skipped and rejected lines with reasons.
//! Printed to stderr after every run, and written as JSON with `--summary-json FILE`.

use crate::escape::terminal;
use floodwatch_core::alert::HostVerdict;
use floodwatch_core::finding::{fmt_count_rate, NetworkClass, NetworkFinding};
use floodwatch_core::respond::Campaign;
use floodwatch_core::stats::{FileStats, LOOKS_LIKE_TELEMETRY};
use serde::Serialize;
use std::io::{self, Write};

#[derive(Clone, Debug, Serialize)]
pub struct SkippedFile {
    pub path: String,
    pub reason: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct RunSummary {
    pub files: Vec<FileStats>,
    /// Files that are not telemetry (listed, not fatal).
    pub not_telemetry: Vec<SkippedFile>,
    /// Warnings about the run (suppressions, anchoring) that are not per-line.
    pub warnings: Vec<String>,
    /// Engine counters (events processed, late events, unattributed traffic, suppression hits).
    pub engine: serde_json::Value,
    /// What the hunt concluded per host, quiet hosts included.
    pub hosts: Vec<HostVerdict>,
    /// Network-level findings: floods (also in the alert output) and scans (only here).
    pub network: Vec<NetworkFinding>,
    /// Fleet-wide campaigns (several hosts, one destination, the same minutes).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub campaigns: Vec<Campaign>,
}

impl RunSummary {
    pub fn events(&self) -> u64 {
        self.files.iter().map(|f| f.events).sum()
    }

    /// The run's warnings, and one for each file that looked like telemetry but was not read: a
    /// file dropped that way must not pass as a quiet "not telemetry" row.
    pub fn all_warnings(&self) -> Vec<String> {
        let dropped = self
            .not_telemetry
            .iter()
            .filter(|f| f.reason.starts_with(LOOKS_LIKE_TELEMETRY))
            .map(|f| format!("{} was not read: it {}", f.path, f.reason));
        self.warnings.iter().cloned().chain(dropped).collect()
    }

    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        if let Some(w) = v.get_mut("warnings") {
            *w = self.all_warnings().into();
        }
        v
    }
}

/// How many located rejects to print per file (all are counted).
const PRINT_SAMPLES: usize = 5;

pub fn write_summary(w: &mut dyn Write, s: &RunSummary) -> io::Result<()> {
    writeln!(w, "floodwatch: files read")?;
    writeln!(
        w,
        "  {:<18} {:>9} {:>9} {:>8} {:>8}  path",
        "format", "records", "events", "skipped", "rejected"
    )?;
    for f in &s.files {
        writeln!(
            w,
            "  {:<18} {:>9} {:>9} {:>8} {:>8}  {}",
            f.format,
            f.records,
            f.events,
            f.skipped,
            f.rejected,
            terminal(&f.path)
        )?;
    }
    for f in &s.not_telemetry {
        writeln!(
            w,
            "  {:<18} {:>9} {:>9} {:>8} {:>8}  {} ({})",
            "not telemetry",
            "-",
            "-",
            "-",
            "-",
            terminal(&f.path),
            terminal(&f.reason)
        )?;
    }
    for f in &s.files {
        if f.rejected > 0 {
            writeln!(w, "  rejected in {}:", terminal(&f.path))?;
            for (reason, n) in f.reject_reasons() {
                writeln!(w, "    {n} × {}", terminal(reason))?;
            }
            for r in f.samples.iter().take(PRINT_SAMPLES) {
                writeln!(
                    w,
                    "    {}:{}: {}: {}",
                    terminal(&f.path),
                    r.line,
                    terminal(&r.reason),
                    terminal(&r.detail)
                )?;
            }
        }
        if f.blank > 0 {
            writeln!(
                w,
                "  note {}: {} blank line(s), not records",
                terminal(&f.path),
                f.blank
            )?;
        }
        for n in &f.notes {
            writeln!(w, "  note {}: {}", terminal(&f.path), terminal(n))?;
        }
    }
    for warn in &s.all_warnings() {
        writeln!(w, "  warning: {}", terminal(warn))?;
    }
    if !s.hosts.is_empty() {
        writeln!(w, "floodwatch: hosts")?;
    }
    for h in &s.hosts {
        let mut verdict = match h.alerts {
            0 => "no alert".to_string(),
            n if h.suppressed_alerts > 0 => {
                format!("{n} alert(s), {} suppressed", h.suppressed_alerts)
            }
            n => format!("{n} alert(s)"),
        };
        // Network floods are alerts too: a host with only those is not "no alert".
        let floods: Vec<&NetworkFinding> = s
            .network
            .iter()
            .filter(|f| f.host == h.host && f.class == NetworkClass::Flood)
            .collect();
        if let Some(top) = floods.iter().map(|f| f.severity).max() {
            let process = match h.alerts {
                0 => "no process alert".to_string(),
                _ => verdict.replace("alert(s)", "process alert(s)"),
            };
            verdict = format!(
                "{process}, {} network flood finding(s) (highest {})",
                floods.len(),
                top.as_str().to_uppercase()
            );
        }
        writeln!(
            w,
            "  {}: {verdict}; {} events, {} subject-windows judged, {} hot",
            terminal(&h.host),
            h.events,
            h.subjects,
            h.hot_windows
        )?;
        if let Some(c) = &h.closest {
            writeln!(w, "    closest below a threshold: {}", terminal(c))?;
        }
        for f in s.network.iter().filter(|f| f.host == h.host) {
            writeln!(w, "    {}", terminal(&network_line(f)))?;
        }
    }
    if !s.campaigns.is_empty() {
        writeln!(w, "floodwatch: campaigns")?;
    }
    for c in &s.campaigns {
        writeln!(
            w,
            "  {} {}: {} hosts ({}) flooding {}, {} → {}; {}",
            c.severity.as_str().to_uppercase(),
            c.id,
            c.hosts.len(),
            terminal(&c.hosts.join(", ")),
            terminal(&c.destination),
            c.first_seen.to_rfc3339_millis(),
            c.last_seen.hms(),
            terminal(&c.playbook.next)
        )?;
    }
    Ok(())
}

/// One network finding in a line: a flood with its peak rate and who sent it, or a scan with its
/// fan-out ("scan (not a flood)").
pub fn network_line(f: &NetworkFinding) -> String {
    let when = format!(
        "{} → {}",
        f.first_seen.to_rfc3339_millis(),
        f.last_seen.hms()
    );
    match f.class {
        NetworkClass::Flood => {
            let (rate, what) = [
                (f.peak_syn_per_s, "SYN/s"),
                (f.peak_packets_per_s, "packets/s"),
                (f.peak_connections_per_s, "connections/s"),
            ]
            .into_iter()
            .fold((0.0, "packets/s"), |a, b| if b.0 > a.0 { b } else { a });
            format!(
                "{} network flood {} → {}: {} packets, {} SYN, {} connections in {:.2} s ({} packets/s on average); peak {} {what} over {:.2} s, {when}; {}",
                f.severity.as_str().to_uppercase(),
                f.local,
                f.target.as_deref().unwrap_or("?"),
                f.packets,
                f.syn,
                f.connections,
                f.span_secs,
                fmt_count_rate(f.avg_packets_per_s),
                fmt_count_rate(rate),
                f.peak_span_secs,
                f.process.text
            )
        }
        NetworkClass::Inbound => format!(
            "{} (informational, not an outbound flood): {} packets ({} SYN) in {:.2} s, {} packets/s on average, peak {} packets/s over {:.2} s, {when}",
            f.title(),
            f.packets,
            f.syn,
            f.span_secs,
            fmt_count_rate(f.avg_packets_per_s),
            fmt_count_rate(f.peak_packets_per_s),
            f.peak_span_secs
        ),
        NetworkClass::Scan => format!(
            "{} over {:.0} s ({} packets, {} connections; peak {} connections/s over {:.2} s), {when}",
            f.title(),
            f.span_secs,
            f.packets,
            f.connections,
            fmt_count_rate(f.peak_connections_per_s),
            f.peak_span_secs
        ),
    }
}
