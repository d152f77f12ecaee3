//! KQL for Microsoft Sentinel / Defender XDR advanced hunting on Macs onboarded to Defender for
//! Endpoint: `DeviceProcessEvents` for the declared floods and the exec burst,
//! `DeviceNetworkEvents` for new connections per process and window (the engine's
//! connections_per_s; Defender carries no byte counts). Restricted to macOS devices via `DeviceInfo`.

use crate::header;
use crate::ir::*;
use crate::spec::RuleSet;
use crate::{OutFile, Target};

const MACS: &str = "let macs = DeviceInfo | where OSPlatform == \"macOS\" | distinct DeviceId;\n";

fn field(f: Field) -> &'static str {
    match f {
        Field::Image => "FolderPath",
        Field::CommandLine => "ProcessCommandLine",
        Field::ParentImage => "InitiatingProcessFolderPath",
        Field::ParentProcessId => "InitiatingProcessId",
        Field::ParentCommandLine => "InitiatingProcessCommandLine",
        Field::ProcessId => "ProcessId",
        Field::User => "AccountName",
        Field::Host => "DeviceName",
        Field::SentBytes => "SentBytes",
    }
}

/// A KQL verbatim string: `@"..."`, quotes doubled.
pub fn lit(s: &str) -> String {
    format!("@\"{}\"", s.replace('"', "\"\""))
}

fn cond(c: &Cond) -> String {
    let f = field(c.field);
    let name_field = match c.field {
        Field::Image => Some("FileName"),
        Field::ParentImage => Some("InitiatingProcessFileName"),
        _ => None,
    };
    match &c.m {
        Match::EndsWith(v) if name_field.is_some() && plain_basenames(v).is_some() => {
            let names: Vec<String> = plain_basenames(v)
                .unwrap_or_default()
                .iter()
                .map(|n| lit(n))
                .collect();
            format!("{} in~ ({})", name_field.unwrap_or(f), names.join(", "))
        }
        Match::EndsWith(v) => any_of(
            " or ",
            v.iter()
                .map(|x| {
                    if x.contains('*') || x.contains('?') {
                        let r = glob_to_regex(x);
                        format!("{f} matches regex {}", lit(&format!("(?i){}", &r[1..])))
                    } else {
                        format!("{f} endswith {}", lit(x))
                    }
                })
                .collect(),
        ),
        Match::Contains(v) => any_of(
            " or ",
            v.iter()
                .map(|x| format!("{f} contains {}", lit(x)))
                .collect(),
        ),
        Match::Equals(v) => any_of(
            " or ",
            v.iter()
                .map(|x| {
                    if x.contains('*') || x.contains('?') {
                        format!("{f} matches regex {}", lit(&glob_to_regex(x)))
                    } else {
                        format!("{f} =~ {}", lit(x))
                    }
                })
                .collect(),
        ),
        Match::GreaterThan(n) => format!("{f} > {n}"),
        Match::Regex(r) => format!("{f} matches regex {}", lit(r)),
    }
}

const BOOL: Bool = Bool {
    and: "and",
    or: "or",
    not: "not",
};

pub fn event_query(r: &EventRule) -> String {
    format!(
        "{MACS}DeviceProcessEvents\n| where DeviceId in (macs) and ActionType == \"ProcessCreated\"\n| where {}\n| project Timestamp, DeviceName, AccountName, ProcessId, FolderPath, ProcessCommandLine, InitiatingProcessId, InitiatingProcessFolderPath\n",
        render_condition(r, &BOOL, &cond)
    )
}

pub fn count_query(w: &WindowRule, base: &EventRule, min: u64) -> String {
    format!(
        "{MACS}DeviceProcessEvents\n| where DeviceId in (macs) and ActionType == \"ProcessCreated\"\n| where {}\n| summarize execs = count(), ParentImage = any(InitiatingProcessFolderPath) by DeviceName, InitiatingProcessId, Window = bin(Timestamp, {}s)\n| where execs >= {min}\n",
        render_condition(base, &BOOL, &cond),
        w.window_secs
    )
}

pub fn connections_query(window_secs: u64, min: u64) -> String {
    format!(
        "{MACS}DeviceNetworkEvents\n| where DeviceId in (macs) and ActionType in (\"ConnectionSuccess\", \"ConnectionAttempt\", \"ConnectionFailed\")\n| summarize connections = count(), Destinations = dcount(RemoteIP), Image = any(InitiatingProcessFolderPath) by DeviceName, InitiatingProcessId, Window = bin(Timestamp, {window_secs}s)\n| where connections >= {min}\n"
    )
}

pub fn render(rules: &RuleSet) -> Vec<OutFile> {
    let head = header::render(rules, Target::Kql, "// ");
    let mut out = Vec::new();
    for r in rules.event_rules.iter().filter(|r| r.standalone) {
        out.push(OutFile {
            name: format!("floodwatch_{}.kql", r.slug),
            content: format!("{head}{}", event_query(r)),
        });
    }
    for w in &rules.window_rules {
        let (Aggregate::Count { min }, Some(base)) = (&w.aggregate, rules.event_rule(&w.base))
        else {
            continue; // no bytes in DeviceNetworkEvents (the header says so)
        };
        out.push(OutFile {
            name: format!("floodwatch_{}.kql", w.slug),
            content: format!("{head}{}", count_query(w, base, *min)),
        });
    }
    out.push(OutFile {
        name: "floodwatch_connection_burst.kql".into(),
        content: format!(
            "{head}// At least {} new outbound connections by one process within {}s (connections_per_s).\n{}",
            rules.connections_min,
            rules.window_secs,
            connections_query(rules.window_secs, rules.connections_min)
        ),
    });
    out
}
