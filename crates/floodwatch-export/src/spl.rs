//! Splunk SPL: over raw eslogger JSON lines (`sourcetype=eslogger`, fields extracted with `spath`),
//! the exec burst also as `tstats` over the CIM Endpoint.Processes data model, and the byte volume
//! over raw nettop CSV (`sourcetype=nettop`, `nettop -L 0 -d`). Matching uses `match()` (PCRE):
//! case-insensitive for suffixes and substrings, as Sigma's modifiers are.

use crate::header;
use crate::ir::*;
use crate::spec::RuleSet;
use crate::{OutFile, Target};

/// The eslogger exec fields every query extracts, in Sigma's names' stead.
const ESLOGGER_EXEC: &str = "sourcetype=eslogger event_type=9
| spath output=image path=event.exec.target.executable.path
| spath output=args path=event.exec.args{}
| eval cmdline=mvjoin(args, \" \")
| spath output=pid path=event.exec.target.audit_token.pid
| spath output=ppid path=process.ppid
| spath output=parent_image path=process.executable.path
| spath output=euid path=event.exec.target.audit_token.euid
| eval user=if(euid==0, \"root\", tostring(euid))
";

fn field(f: Field) -> &'static str {
    match f {
        Field::Image => "image",
        Field::CommandLine => "cmdline",
        Field::ParentImage => "parent_image",
        Field::ParentProcessId => "ppid",
        // eslogger's exec event has no parent command line; the parent's own exec line would.
        Field::ParentCommandLine => "parent_cmdline",
        Field::ProcessId => "pid",
        Field::User => "user",
        Field::Host => "host",
        Field::SentBytes => "bytes_out",
    }
}

/// An SPL string literal (eval): backslashes and quotes escaped.
pub fn lit(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn glob_body(s: &str) -> String {
    let r = glob_to_regex(s);
    r[1..r.len() - 1].to_string()
}

fn cond(c: &Cond) -> String {
    let f = field(c.field);
    match &c.m {
        Match::EndsWith(v) => {
            let alts: Vec<String> = v.iter().map(|x| glob_body(x)).collect();
            format!("match({f}, {})", lit(&format!("(?i)({})$", alts.join("|"))))
        }
        Match::Contains(v) => {
            let alts: Vec<String> = v.iter().map(|x| regex_escape(x)).collect();
            format!("match({f}, {})", lit(&format!("(?i)({})", alts.join("|"))))
        }
        Match::Equals(v) => {
            let alts: Vec<String> = v.iter().map(|x| glob_body(x)).collect();
            format!("match({f}, {})", lit(&format!("^({})$", alts.join("|"))))
        }
        Match::GreaterThan(n) => format!("{f} > {n}"),
        Match::Regex(r) => format!("match({f}, {})", lit(r)),
    }
}

const BOOL: Bool = Bool {
    and: "AND",
    or: "OR",
    not: "NOT",
};

pub fn event_query(r: &EventRule) -> String {
    format!(
        "{ESLOGGER_EXEC}| where {}\n| table _time host user pid image cmdline ppid parent_image\n",
        render_condition(r, &BOOL, &cond)
    )
}

pub fn count_query(w: &WindowRule, base: &EventRule, min: u64) -> String {
    format!(
        "{ESLOGGER_EXEC}| where {}\n| bin _time span={}s\n| stats count as execs values(parent_image) as parent_image by host ppid _time\n| where execs >= {min}\n",
        render_condition(base, &BOOL, &cond),
        w.window_secs
    )
}

/// The same count over the CIM Endpoint.Processes data model (accelerated searches).
pub fn tstats_query(w: &WindowRule, tools: &[String], min: u64) -> String {
    let names: Vec<String> = tools.iter().map(|t| lit(t)).collect();
    format!(
        "| tstats summariesonly=false count as execs from datamodel=Endpoint.Processes where Processes.process_name IN ({}) by _time span={}s Processes.dest Processes.parent_process_id Processes.parent_process_name\n| where execs >= {min}\n",
        names.join(", "),
        w.window_secs
    )
}

pub fn bytes_query(w: &WindowRule, base: &EventRule, min: u64) -> String {
    format!(
        "sourcetype=nettop\n| rex field=_raw \"^[^,]*,(?<image>[^,]+)\\.(?<pid>\\d+),[^,]*,[^,]*,(?<bytes_in>\\d+),(?<bytes_out>\\d+),\"\n| where isnotnull(pid) AND NOT match(image, \"^(tcp|udp|quic)[46] \")\n| where {}\n| bin _time span={}s\n| stats sum(bytes_out) as bytes_out by host pid image _time\n| where bytes_out >= {min}\n",
        render_condition(base, &BOOL, &cond),
        w.window_secs
    )
}

pub fn render(rules: &RuleSet) -> Vec<OutFile> {
    let head = header::render(rules, Target::Spl, "");
    // SPL's comments are triple backticks; the header is one comment block.
    let head = format!("```\n{head}```\n");
    let mut out = Vec::new();
    for r in rules.event_rules.iter().filter(|r| r.standalone) {
        out.push(OutFile {
            name: format!("floodwatch_{}.spl", r.slug),
            content: format!("{head}{}", event_query(r)),
        });
    }
    for w in &rules.window_rules {
        let Some(base) = rules.event_rule(&w.base) else {
            continue;
        };
        match w.aggregate {
            Aggregate::Count { min } => {
                out.push(OutFile {
                    name: format!("floodwatch_{}.spl", w.slug),
                    content: format!("{head}{}", count_query(w, base, min)),
                });
                out.push(OutFile {
                    name: format!("floodwatch_{}_tstats.spl", w.slug),
                    content: format!("{head}{}", tstats_query(w, &rules.network_tools, min)),
                });
            }
            Aggregate::Sum { min, .. } => out.push(OutFile {
                name: format!("floodwatch_{}.spl", w.slug),
                content: format!("{head}{}", bytes_query(w, base, min)),
            }),
        }
    }
    out
}
