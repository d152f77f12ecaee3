//! Sigma: one rule per file. Declared floods as macOS `process_creation` rules; the exec burst and
//! the byte volume as Sigma correlation rules (`event_count`, `value_sum`) over informational base
//! rules, grouped by host and parent (or process) over the BurstTimeWindow. Every rule carries the
//! ATT&CK tags, a level, false positives and the documented suppressions as `filter_main_*`
//! selections. Files are named as SigmaHQ names them (`proc_creation_macos_...`).

use crate::header;
use crate::ir::*;
use crate::spec::RuleSet;
use crate::{OutFile, Target};

/// The date every generated rule carries (the generator's; the content depends only on the config).
pub const RULE_DATE: &str = "2026-12-04";
const ID_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x3f0e_9a61_72c4_4b0d_8e15_a9d2_64c7_1b58);

/// The Sigma rule id of a rule: a UUIDv5 of its name, the same in every export.
pub fn rule_id(slug: &str) -> String {
    uuid::Uuid::new_v5(&ID_NAMESPACE, slug.as_bytes()).to_string()
}

/// Sigma's `name` of a rule (what correlations reference).
pub fn rule_name(slug: &str) -> String {
    format!("floodwatch_{slug}")
}

/// The file a rule is written to.
pub fn file_name(slug: &str, source: Option<Source>) -> String {
    match source {
        Some(Source::ProcessCreation) => format!("proc_creation_macos_floodwatch_{slug}.yml"),
        // SigmaHQ's taxonomy has no macOS network_connection category: its prefix is the product's.
        Some(Source::NetworkTraffic) => format!("macos_floodwatch_{slug}.yml"),
        None => format!("correlation_macos_floodwatch_{slug}.yml"),
    }
}

pub fn render(rules: &RuleSet) -> Vec<OutFile> {
    let head = header::render(rules, Target::Sigma, "# ");
    let mut out = Vec::new();
    for r in &rules.event_rules {
        out.push(OutFile {
            name: file_name(&r.slug, Some(r.source)),
            content: format!("{head}{}", event_rule(r)),
        });
    }
    for w in &rules.window_rules {
        out.push(OutFile {
            name: file_name(&w.slug, None),
            content: format!("{head}{}", window_rule(w)),
        });
    }
    out.push(OutFile {
        name: "sigma-validation.yaml".into(),
        content: validation_config(rules),
    });
    out
}

/// `sigma check -c sigma-validation.yaml DIR`: every validator, and the one exclusion the rules
/// need (SigmaHQ's taxonomy has no macOS network_connection log source, so the byte rule's base
/// rule uses one it does not know). Named `.yaml` so `sigma check DIR` (which reads `*.yml`) does
/// not take it for a rule.
pub fn validation_config(rules: &RuleSet) -> String {
    let mut s = String::from(
        "# sigma check -c sigma-validation.yaml DIR: all validators but d3_fendtag, which needs the online\n# D3FEND ontology (the rules carry no D3FEND tags); the exclusions below are the only others.\nvalidators:\n    - all\n    - -d3_fendtag\nexclusions:\n",
    );
    for r in rules
        .event_rules
        .iter()
        .filter(|r| r.source == Source::NetworkTraffic)
    {
        s.push_str(&format!(
            "    {}:\n        - sigmahq_logsource_unknown\n",
            rule_id(&r.slug)
        ));
    }
    s
}

/// A YAML single-quoted scalar.
pub fn q(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn common(slug: &str, title: &str, description: &str) -> String {
    format!(
        "title: {}\nid: {}\nname: {}\nstatus: experimental\ndescription: {}\nauthor: floodwatch\ndate: {RULE_DATE}\ntags:\n    - attack.impact\n    - attack.t1498.001\n",
        q(title),
        rule_id(slug),
        rule_name(slug),
        q(description),
    )
}

fn tail(falsepositives: &[String], level: Level) -> String {
    let mut s = String::from("falsepositives:\n");
    for f in falsepositives {
        s.push_str(&format!("    - {}\n", q(f)));
    }
    s.push_str(&format!("level: {}\n", level.as_str()));
    s
}

fn modifier(m: &Match) -> &'static str {
    match m {
        Match::EndsWith(_) => "|endswith",
        Match::Contains(_) => "|contains",
        Match::Equals(_) => "",
        Match::GreaterThan(_) => "|gt",
        Match::Regex(_) => "|re",
    }
}

fn values(m: &Match) -> Vec<String> {
    match m {
        Match::EndsWith(v) | Match::Contains(v) | Match::Equals(v) => {
            v.iter().map(|s| q(s)).collect()
        }
        Match::GreaterThan(n) => vec![n.to_string()],
        Match::Regex(r) => vec![q(r)],
    }
}

/// A glob with `*` only at its ends as Sigma's modifier (SigmaHQ's convention: `startswith`, not a
/// trailing wildcard); other globs keep their wildcards.
fn glob_modifier(v: &str) -> Option<(&'static str, &str)> {
    let inner = |x: &str| !x.is_empty() && !x.contains(['*', '?']);
    match (v.strip_prefix('*'), v.strip_suffix('*')) {
        (Some(_), Some(_)) if v.len() > 2 && inner(&v[1..v.len() - 1]) => {
            Some(("|contains", &v[1..v.len() - 1]))
        }
        (None, Some(p)) if inner(p) => Some(("|startswith", p)),
        (Some(x), None) if inner(x) => Some(("|endswith", x)),
        _ => None,
    }
}

fn selection(s: &Selection) -> String {
    let mut out = format!("    {}:\n", s.name);
    for c in &s.conds {
        if let Match::Equals(v) = &c.m {
            if let [one] = v.as_slice() {
                if let Some((m, value)) = glob_modifier(one) {
                    out.push_str(&format!("        {}{m}: {}\n", c.field.sigma(), q(value)));
                    continue;
                }
            }
        }
        let vals = values(&c.m);
        let key = format!("{}{}", c.field.sigma(), modifier(&c.m));
        if vals.len() == 1 {
            out.push_str(&format!("        {key}: {}\n", vals[0]));
        } else {
            out.push_str(&format!("        {key}:\n"));
            for v in vals {
                out.push_str(&format!("            - {v}\n"));
            }
        }
    }
    out
}

/// A Sigma condition from the expression, with parentheses where an OR sits inside an AND.
pub fn condition(e: &Expr) -> String {
    match e {
        Expr::Sel(s) => s.clone(),
        Expr::And(v) => v
            .iter()
            .map(|x| match x {
                Expr::Or(_) => format!("({})", condition(x)),
                _ => condition(x),
            })
            .collect::<Vec<_>>()
            .join(" and "),
        Expr::Or(v) => v
            .iter()
            .map(|x| match x {
                Expr::And(_) => format!("({})", condition(x)),
                _ => condition(x),
            })
            .collect::<Vec<_>>()
            .join(" or "),
        Expr::Not(x) => format!("not {}", condition(x)),
    }
}

/// The filters, grouped by prefix: `not NAME` for one, `not 1 of PREFIX*` for several.
fn filter_condition(filters: &[Selection]) -> String {
    let mut out = String::new();
    for prefix in ["filter_main_", "filter_optional_"] {
        let names: Vec<&str> = filters
            .iter()
            .map(|f| f.name.as_str())
            .filter(|n| n.starts_with(prefix))
            .collect();
        match names.len() {
            0 => {}
            1 => out.push_str(&format!(" and not {}", names[0])),
            _ => out.push_str(&format!(" and not 1 of {prefix}*")),
        }
    }
    out
}

pub fn event_rule(r: &EventRule) -> String {
    let mut s = common(&r.slug, &r.title, &r.description);
    let category = match r.source {
        Source::ProcessCreation => "process_creation",
        Source::NetworkTraffic => "network_connection",
    };
    s.push_str(&format!(
        "logsource:\n    product: macos\n    category: {category}\ndetection:\n"
    ));
    for sel in r.selections.iter().chain(&r.filters) {
        s.push_str(&selection(sel));
    }
    s.push_str(&format!(
        "    condition: {}{}\n",
        condition(&r.expr),
        filter_condition(&r.filters)
    ));
    s.push_str(&tail(&r.falsepositives, r.level));
    s
}

/// Sigma timespans: `30s`, `2m`, `1h`.
pub fn timespan(secs: u64) -> String {
    if secs % 3600 == 0 {
        format!("{}h", secs / 3600)
    } else if secs % 60 == 0 {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

pub fn window_rule(w: &WindowRule) -> String {
    let mut s = common(&w.slug, &w.title, &w.description);
    let (kind, cond) = match &w.aggregate {
        Aggregate::Count { min } => ("event_count", format!("        gte: {min}\n")),
        Aggregate::Sum { field, min } => (
            "value_sum",
            format!("        field: {}\n        gte: {min}\n", field.sigma()),
        ),
    };
    s.push_str(&format!(
        "correlation:\n    type: {kind}\n    rules:\n        - {}\n    group-by:\n",
        rule_name(&w.base)
    ));
    for f in &w.group_by {
        s.push_str(&format!("        - {}\n", f.sigma()));
    }
    s.push_str(&format!(
        "    timespan: {}\n    condition:\n{cond}",
        timespan(w.window_secs)
    ));
    s.push_str(&tail(&w.falsepositives, w.level));
    s
}
