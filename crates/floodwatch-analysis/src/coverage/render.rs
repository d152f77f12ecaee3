//! The coverage report and self-test check as sections, rendered by the sinks' report helpers
//! (Markdown, and a self-contained HTML page: inline CSS, no script, every text escaped).

use super::selftest::{Check, Status};
use super::{CoverageReport, HostCoverage, Share};
use floodwatch_core::Ts;
use floodwatch_sinks::report::{html_page, markdown_page, Section};

const HEADING: &str = "floodwatch coverage: what AN0971 can see in this telemetry";

fn pct(s: &Share) -> String {
    match s.share {
        Some(x) => format!("{:.0}%", x * 100.0),
        None => "-".into(),
    }
}

fn secs(v: f64) -> String {
    if v >= 3600.0 {
        format!("{:.1} h", v / 3600.0)
    } else if v >= 60.0 {
        format!("{:.1} min", v / 60.0)
    } else {
        format!("{v:.1} s")
    }
}

fn bytes(v: u64) -> String {
    let f = v as f64;
    if f >= 1e9 {
        format!("{:.1} GB", f / 1e9)
    } else if f >= 1e6 {
        format!("{:.1} MB", f / 1e6)
    } else if f >= 1e3 {
        format!("{:.1} kB", f / 1e3)
    } else {
        format!("{v} B")
    }
}

fn intro(r: &CoverageReport) -> Vec<String> {
    let files: usize = r.hosts.iter().map(|h| h.sources.len()).sum();
    let events: u64 = r
        .hosts
        .iter()
        .flat_map(|h| h.sources.iter())
        .map(|s| s.events)
        .sum();
    let mut v = vec![
        format!(
            "{} host(s), {files} telemetry file(s), {events} event(s), read exactly as `floodwatch hunt` reads them; {} line(s) rejected.",
            r.fleet.hosts, r.fleet.rejected_lines
        ),
        "Verdicts: detectable = an alert with measured or declared evidence and the process behind it, with its command line and launch context; degraded = something alerts or shows, but volume, the process or its context is missing; blind = nothing crosses a threshold or shows at all.".into(),
    ];
    for f in &r.not_telemetry {
        v.push(format!("Not telemetry: {} ({})", f.path, f.reason));
    }
    v
}

fn fleet_sections(r: &CoverageReport) -> Vec<Section> {
    let f = &r.fleet;
    let mut attribution = Section {
        title: "Fleet: attribution".into(),
        headers: ["outbound bytes attributable to", "bytes", "share"]
            .map(String::from)
            .to_vec(),
        rows: f
            .bytes
            .shares
            .iter()
            .map(|s| vec![s.what.clone(), bytes(s.count), pct(s)])
            .collect(),
        lines: vec![format!(
            "{} exec event(s); share carrying each context field: {}.",
            f.exec_events,
            f.exec_fields
                .iter()
                .map(|s| format!("{} {}", s.what, pct(s)))
                .collect::<Vec<_>>()
                .join(", ")
        )],
    };
    attribution.lines.push(
        "Bytes are counted per source record: a network sensor and nettop may both count the same packets."
            .into(),
    );
    vec![
        Section {
            title: "Fleet: channels observable".into(),
            headers: ["channel", "hosts with it"].map(String::from).to_vec(),
            rows: f
                .channels
                .iter()
                .map(|c| vec![c.title.clone(), format!("{} of {}", c.hosts, c.of)])
                .collect(),
            lines: Vec::new(),
        },
        Section {
            title: "Fleet: attack paths".into(),
            headers: ["attack path", "detectable", "degraded", "blind"]
                .map(String::from)
                .to_vec(),
            rows: f
                .verdicts
                .iter()
                .map(|v| {
                    vec![
                        v.title.clone(),
                        v.detectable.to_string(),
                        v.degraded.to_string(),
                        v.blind.to_string(),
                    ]
                })
                .collect(),
            lines: Vec::new(),
        },
        attribution,
    ]
}

fn host_sections(h: &HostCoverage) -> Vec<Section> {
    let channels = Section {
        title: format!("{}: channels", h.host),
        headers: ["channel", "observable", "through", "to add"]
            .map(String::from)
            .to_vec(),
        rows: h
            .channels
            .iter()
            .map(|c| {
                vec![
                    c.title.clone(),
                    if c.observed { "yes" } else { "no" }.into(),
                    if c.sources.is_empty() {
                        "-".into()
                    } else {
                        c.sources.join("; ")
                    },
                    c.fix.clone(),
                ]
            })
            .collect(),
        lines: Vec::new(),
    };
    let paths = Section {
        title: format!("{}: attack paths", h.host),
        headers: ["attack path", "verdict", "why", "what would fix it"]
            .map(String::from)
            .to_vec(),
        rows: h
            .verdicts
            .iter()
            .map(|v| {
                vec![
                    v.title.clone(),
                    v.verdict.as_str().into(),
                    v.reason.clone(),
                    v.fix.clone(),
                ]
            })
            .collect(),
        lines: vec![format!(
            "This run: {} alert(s), {} network flood finding(s), {} scan(s) (not floods).",
            h.alerts, h.network_floods, h.network_scans
        )],
    };
    let mut src_lines = Vec::new();
    for s in &h.sources {
        for g in &s.gaps {
            src_lines.push(format!(
                "{}: gap of {} from {} to {} (longer than {})",
                s.path,
                secs(g.secs),
                g.from,
                g.to,
                secs(s.gap_threshold_s)
            ));
        }
        for (reason, n) in &s.rejected_reasons {
            src_lines.push(format!("{}: {n} line(s) rejected: {reason}", s.path));
        }
    }
    for k in &h.skew {
        src_lines.push(format!("clock: {}", k.text));
    }
    if h.skew.is_empty() {
        src_lines.push(
            "clock: no pid seen by both a process source and a traffic source to measure skew on"
                .into(),
        );
    }
    // First and last events per source: a capture started or stopped apart, or a clock off.
    let firsts: Vec<(Ts, &str)> = h
        .sources
        .iter()
        .filter_map(|s| Some((s.first?, s.path.as_str())))
        .collect();
    let lasts: Vec<(Ts, &str)> = h
        .sources
        .iter()
        .filter_map(|s| Some((s.last?, s.path.as_str())))
        .collect();
    if firsts.len() > 1 {
        let spread = |v: &[(Ts, &str)]| {
            let min = v.iter().min_by_key(|x| x.0);
            let max = v.iter().max_by_key(|x| x.0);
            match (min, max) {
                (Some(a), Some(b)) => (
                    (b.0 .0 - a.0 .0) as f64 / 1e9,
                    a.1.to_string(),
                    b.1.to_string(),
                ),
                _ => (0.0, String::new(), String::new()),
            }
        };
        let (ds, a, b) = spread(&firsts);
        let (de, c, d) = spread(&lasts);
        src_lines.push(format!(
            "spans: first events {} apart ({a} earliest, {b} latest), last events {} apart ({c} earliest, {d} latest): captures started and stopped apart, or clocks disagree",
            secs(ds),
            secs(de)
        ));
    }
    let sources = Section {
        title: format!("{}: sources", h.host),
        headers: [
            "file",
            "format",
            "events",
            "rejected",
            "first → last",
            "span",
            "median interval",
            "gaps",
        ]
        .map(String::from)
        .to_vec(),
        rows: h
            .sources
            .iter()
            .map(|s| {
                vec![
                    s.path.clone(),
                    s.format.clone(),
                    s.events.to_string(),
                    s.rejected.to_string(),
                    match (s.first, s.last) {
                        (Some(a), Some(b)) => format!("{a} → {b}"),
                        _ => "-".into(),
                    },
                    secs(s.span_s),
                    s.median_interval_s.map_or("-".into(), secs),
                    s.gaps.len().to_string(),
                ]
            })
            .collect(),
        lines: src_lines,
    };
    let mut attr_lines = Vec::new();
    if !h.bytes.pid_only_top.is_empty() {
        attr_lines.push(format!(
            "Bytes with a pid but no exec context, by the name the traffic source gave: {}.",
            h.bytes
                .pid_only_top
                .iter()
                .map(|(n, b)| format!("{n} {}", bytes(*b)))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !h.bytes.no_pid_top.is_empty() {
        attr_lines.push(format!(
            "Bytes without a pid, by sending address: {}.",
            h.bytes
                .no_pid_top
                .iter()
                .map(|(n, b)| format!("{n} {}", bytes(*b)))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    attr_lines.push(format!(
        "{} exec event(s); share carrying each context field: {}.",
        h.exec_events,
        h.exec_fields
            .iter()
            .map(|s| format!("{} {} ({} of {})", s.what, pct(s), s.count, s.of))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let attribution = Section {
        title: format!("{}: attribution", h.host),
        headers: ["outbound bytes attributable to", "bytes", "share"]
            .map(String::from)
            .to_vec(),
        rows: h
            .bytes
            .shares
            .iter()
            .map(|s| vec![s.what.clone(), bytes(s.count), pct(s)])
            .collect(),
        lines: attr_lines,
    };
    vec![channels, paths, sources, attribution]
}

fn sections(r: &CoverageReport) -> Vec<Section> {
    let mut v = fleet_sections(r);
    for h in &r.hosts {
        v.extend(host_sections(h));
    }
    v
}

pub fn markdown(r: &CoverageReport) -> String {
    markdown_page(HEADING, &intro(r), &sections(r))
}

pub fn html(r: &CoverageReport) -> String {
    html_page(HEADING, &intro(r), &sections(r))
}

fn check_sections(c: &Check) -> (Vec<String>, Vec<Section>) {
    let intro = vec![
        format!(
            "Self-test check of {} against lab target {}: {}.",
            c.hosts.join(", "),
            c.target.as_deref().unwrap_or("(none found)"),
            if c.passed {
                "PASSED"
            } else {
                "FAILED (see the failing expectations)"
            }
        ),
        "Each expectation passes, fails, or is skipped when the telemetry has no source for it (the skip says which source to add).".into(),
    ];
    let mut secs = Vec::new();
    for s in &c.steps {
        secs.push(Section {
            title: format!("step {}: {} — {}", s.id, s.title, s.status.as_str()),
            headers: ["expectation", "result", "why"].map(String::from).to_vec(),
            rows: s
                .expectations
                .iter()
                .map(|e| vec![e.what.clone(), e.status.as_str().into(), e.detail.clone()])
                .collect(),
            lines: Vec::new(),
        });
    }
    (intro, secs)
}

pub fn selftest_markdown(c: &Check) -> String {
    let (i, s) = check_sections(c);
    markdown_page("floodwatch coverage self-test check", &i, &s)
}

pub fn selftest_html(c: &Check) -> String {
    let (i, s) = check_sections(c);
    html_page("floodwatch coverage self-test check", &i, &s)
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "FAIL",
            Status::Skip => "skipped",
            Status::Info => "info",
        }
    }
}
