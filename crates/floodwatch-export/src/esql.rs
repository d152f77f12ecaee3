//! ES|QL over Elastic Defend's macOS process events (ECS), each query also wrapped as an Elastic
//! detection-rules TOML file (`type = "esql"`, ATT&CK threat mapping, risk score and severity from
//! the level). Declared floods are one query each; the exec burst is a `STATS ... BY` over
//! `BUCKET(@timestamp, window)`.

use crate::header;
use crate::ir::*;
use crate::regex::to_lucene;
use crate::sigma::{rule_id, RULE_DATE};
use crate::spec::RuleSet;
use crate::{OutFile, Target};

const INDEX: &str = "logs-endpoint.events.process-*";

fn field(f: Field) -> &'static str {
    match f {
        Field::Image => "process.executable",
        Field::CommandLine => "process.command_line",
        Field::ParentImage => "process.parent.executable",
        Field::ParentProcessId => "process.parent.pid",
        Field::ParentCommandLine => "process.parent.command_line",
        Field::ProcessId => "process.pid",
        Field::User => "user.name",
        Field::Host => "host.name",
        Field::SentBytes => "source.bytes",
    }
}

/// An ES|QL string literal.
pub fn lit(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A LIKE pattern: `*` and `?` are wildcards; `keep_wildcards` keeps a glob's own.
fn like_pattern(s: &str, keep_wildcards: bool) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '*' | '?' if keep_wildcards => out.push(c),
            '*' | '?' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

fn cond(c: &Cond) -> String {
    let f = field(c.field);
    let name_field = match c.field {
        Field::Image => Some("process.name"),
        Field::ParentImage => Some("process.parent.name"),
        _ => None,
    };
    match &c.m {
        Match::EndsWith(v) if name_field.is_some() && plain_basenames(v).is_some() => {
            let names: Vec<String> = plain_basenames(v)
                .unwrap_or_default()
                .iter()
                .map(|n| lit(n))
                .collect();
            format!("{} IN ({})", name_field.unwrap_or(f), names.join(", "))
        }
        Match::EndsWith(v) => any_of(
            " OR ",
            v.iter()
                .map(|x| format!("{f} LIKE {}", lit(&format!("*{}", like_pattern(x, true)))))
                .collect(),
        ),
        Match::Contains(v) => any_of(
            " OR ",
            v.iter()
                .map(|x| {
                    format!(
                        "TO_LOWER({f}) LIKE {}",
                        lit(&format!("*{}*", like_pattern(&x.to_lowercase(), false)))
                    )
                })
                .collect(),
        ),
        Match::Equals(v) => any_of(
            " OR ",
            v.iter()
                .map(|x| {
                    if x.contains('*') || x.contains('?') {
                        format!("{f} LIKE {}", lit(&like_pattern(x, true)))
                    } else {
                        format!("{f} == {}", lit(x))
                    }
                })
                .collect(),
        ),
        Match::GreaterThan(n) => format!("{f} > {n}"),
        Match::Regex(r) => format!("{f} RLIKE {}", lit(&to_lucene(r))),
    }
}

const BOOL: Bool = Bool {
    and: "AND",
    or: "OR",
    not: "NOT",
};

/// The ES|QL query of an event rule.
pub fn event_query(r: &EventRule) -> String {
    format!(
        "FROM {INDEX}\n| WHERE host.os.type == \"macos\" AND event.type == \"start\"\n  AND {}\n| KEEP @timestamp, host.name, user.name, process.pid, process.executable, process.command_line, process.parent.pid, process.parent.executable\n",
        render_condition(r, &BOOL, &cond)
    )
}

/// The ES|QL query of a count over a window (the exec burst).
pub fn count_query(w: &WindowRule, base: &EventRule, min: u64) -> String {
    let by: Vec<&str> = w.group_by.iter().map(|f| field(*f)).collect();
    format!(
        "FROM {INDEX}\n| WHERE host.os.type == \"macos\" AND event.type == \"start\"\n  AND {}\n| STATS execs = COUNT(*) BY {}, window = BUCKET(@timestamp, {} seconds)\n| WHERE execs >= {min}\n",
        render_condition(base, &BOOL, &cond),
        by.join(", "),
        w.window_secs
    )
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn wrapper(
    head: &str,
    slug: &str,
    name: &str,
    description: &str,
    level: Level,
    query: &str,
) -> String {
    let (risk, severity) = level.elastic();
    let date = RULE_DATE.replace('-', "/");
    format!(
        "{head}[metadata]\ncreation_date = \"{date}\"\nintegration = [\"endpoint\"]\nmaturity = \"development\"\nupdated_date = \"{date}\"\n\n[rule]\nauthor = [\"floodwatch\"]\ndescription = {}\nfrom = \"now-9m\"\nlanguage = \"esql\"\nlicense = \"Apache-2.0\"\nname = {}\nrisk_score = {risk}\nrule_id = \"{}\"\nseverity = \"{severity}\"\ntags = [\"Domain: Endpoint\", \"OS: macOS\", \"Use Case: Threat Detection\", \"Tactic: Impact\", \"Data Source: Elastic Defend\"]\ntimestamp_override = \"event.ingested\"\ntype = \"esql\"\nquery = '''\n{query}'''\n\n[[rule.threat]]\nframework = \"MITRE ATT&CK\"\n\n[[rule.threat.technique]]\nid = \"T1498\"\nname = \"Network Denial of Service\"\nreference = \"https://attack.mitre.org/techniques/T1498/\"\n\n[[rule.threat.technique.subtechnique]]\nid = \"T1498.001\"\nname = \"Direct Network Flood\"\nreference = \"https://attack.mitre.org/techniques/T1498/001/\"\n\n[rule.threat.tactic]\nid = \"TA0040\"\nname = \"Impact\"\nreference = \"https://attack.mitre.org/tactics/TA0040/\"\n",
        toml_str(description),
        toml_str(name),
        rule_id(slug),
    )
}

pub fn render(rules: &RuleSet) -> Vec<OutFile> {
    let toml_head = header::render(rules, Target::Esql, "# ");
    let esql_head = header::render(rules, Target::Esql, "// ");
    let mut out = Vec::new();
    let mut push = |slug: &str, title: &str, desc: &str, level: Level, q: String| {
        out.push(OutFile {
            name: format!("floodwatch_{slug}.esql"),
            content: format!("{esql_head}{q}"),
        });
        out.push(OutFile {
            name: format!("floodwatch_{slug}.toml"),
            content: wrapper(&toml_head, slug, title, desc, level, &q),
        });
    };
    for r in rules.event_rules.iter().filter(|r| r.standalone) {
        push(&r.slug, &r.title, &r.description, r.level, event_query(r));
    }
    for w in &rules.window_rules {
        let Aggregate::Count { min } = w.aggregate else {
            continue; // no per-process bytes in Elastic Defend's macOS events (the header says so)
        };
        if let Some(base) = rules.event_rule(&w.base) {
            push(
                &w.slug,
                &w.title,
                &w.description,
                w.level,
                count_query(w, base, min),
            );
        }
    }
    out
}
