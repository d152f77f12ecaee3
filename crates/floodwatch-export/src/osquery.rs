//! osquery: SQL over `es_process_events` (EndpointSecurity exec events, macOS), one query per
//! declared-flood rule and the exec burst counted per parent over the last BurstTimeWindow, both as
//! a `.sql` file and as a query pack scheduled every BurstTimeWindow. The parent's path comes from
//! a join on the live `processes` table (empty once the parent has exited).

use crate::header;
use crate::ir::*;
use crate::spec::RuleSet;
use crate::{OutFile, Target};
use serde_json::json;

fn field(f: Field) -> &'static str {
    match f {
        Field::Image => "e.path",
        Field::CommandLine => "e.cmdline",
        Field::ParentImage => "p.path",
        Field::ParentProcessId => "e.parent",
        Field::ParentCommandLine => "p.cmdline",
        Field::ProcessId => "e.pid",
        Field::User => "e.username",
        // Rows are per endpoint: osquery's log lines carry the host (hostIdentifier).
        Field::Host => "(SELECT hostname FROM system_info)",
        Field::SentBytes => "bytes_out",
    }
}

/// A SQLite string literal.
pub fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A LIKE pattern with `\` as its escape: `%` and `_` escaped, a glob's `*`/`?` kept as wildcards
/// when `glob`.
fn like(s: &str, glob: bool) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '*' if glob => out.push('%'),
            '?' if glob => out.push('_'),
            '%' | '_' | '\\' => {
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
    match &c.m {
        Match::EndsWith(v) if plain_basenames(v).is_some() => {
            let names: Vec<String> = plain_basenames(v)
                .unwrap_or_default()
                .iter()
                .map(|n| regex_escape(n))
                .collect();
            format!(
                "regex_match({f}, {}, 0) IS NOT NULL",
                lit(&format!("/({})$", names.join("|")))
            )
        }
        Match::EndsWith(v) => any_of(
            " OR ",
            v.iter()
                .map(|x| {
                    format!(
                        "{f} LIKE {} ESCAPE '\\'",
                        lit(&format!("%{}", like(x, true)))
                    )
                })
                .collect(),
        ),
        Match::Contains(v) => any_of(
            " OR ",
            v.iter()
                .map(|x| {
                    format!(
                        "{f} LIKE {} ESCAPE '\\'",
                        lit(&format!("%{}%", like(x, false)))
                    )
                })
                .collect(),
        ),
        Match::Equals(v) => any_of(
            " OR ",
            v.iter()
                .map(|x| format!("{f} LIKE {} ESCAPE '\\'", lit(&like(x, true))))
                .collect(),
        ),
        Match::GreaterThan(n) => format!("{f} > {n}"),
        Match::Regex(r) => format!("regex_match({f}, {}, 0) IS NOT NULL", lit(r)),
    }
}

const BOOL: Bool = Bool {
    and: "AND",
    or: "OR",
    not: "NOT",
};

const FROM: &str =
    "FROM es_process_events e LEFT JOIN processes p ON p.pid = e.parent\nWHERE e.event_type = 'exec'";

pub fn event_query(r: &EventRule, window_secs: u64) -> String {
    format!(
        "SELECT e.time, e.pid, e.path, e.cmdline, e.username, e.parent, p.path AS parent_path\n{FROM}\n  AND e.time >= (SELECT unix_time FROM time) - {window_secs}\n  AND {};\n",
        render_condition(r, &BOOL, &cond)
    )
}

pub fn count_query(w: &WindowRule, base: &EventRule, min: u64) -> String {
    format!(
        "SELECT e.parent, p.path AS parent_path, COUNT(*) AS execs, MIN(e.time) AS first_time, MAX(e.time) AS last_time\n{FROM}\n  AND e.time >= (SELECT unix_time FROM time) - {}\n  AND {}\nGROUP BY e.parent\nHAVING execs >= {min};\n",
        w.window_secs,
        render_condition(base, &BOOL, &cond)
    )
}

pub fn render(rules: &RuleSet) -> Vec<OutFile> {
    let mut queries: Vec<(String, String, String)> = Vec::new();
    for r in rules.event_rules.iter().filter(|r| r.standalone) {
        queries.push((
            format!("floodwatch_{}", r.slug),
            r.title.clone(),
            event_query(r, rules.window_secs),
        ));
    }
    for w in &rules.window_rules {
        if let (Aggregate::Count { min }, Some(base)) = (&w.aggregate, rules.event_rule(&w.base)) {
            queries.push((
                format!("floodwatch_{}", w.slug),
                w.title.clone(),
                count_query(w, base, *min),
            ));
        }
    }
    let mut sql = header::render(rules, Target::Osquery, "-- ");
    for (name, title, q) in &queries {
        sql.push_str(&format!("\n-- {name}: {title}\n{q}"));
    }
    let mut pack_queries = serde_json::Map::new();
    for (name, title, q) in &queries {
        pack_queries.insert(
            name.clone(),
            json!({
                "query": q.trim_end().trim_end_matches(';').replace('\n', " "),
                "interval": rules.window_secs,
                "platform": "darwin",
                "description": format!("{title} (floodwatch AN0971, T1498.001)"),
                "removed": false,
            }),
        );
    }
    let pack = json!({
        "platform": "darwin",
        "queries": pack_queries,
    });
    // osquery strips whole-line `//` comments from its config files before parsing the JSON.
    let pack_text = format!(
        "{}{}\n",
        header::render(rules, Target::Osquery, "// "),
        serde_json::to_string_pretty(&pack).unwrap_or_default()
    );
    vec![
        OutFile {
            name: "floodwatch-an0971.sql".into(),
            content: sql,
        },
        OutFile {
            name: "floodwatch-an0971.conf".into(),
            content: pack_text,
        },
    ]
}
