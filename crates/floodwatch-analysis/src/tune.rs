//! `floodwatch tune suggest`: proposes suppressions for recurring benign automation, from the stored
//! baselines. A candidate is the same identity on many hosts, with a mature baseline, stable rates,
//! signed and scheduled (launchd or cron), whose usual rate crosses an absolute threshold (otherwise it
//! never alerts and needs no suppression). Each proposal carries the evidence a reviewer needs, a rate
//! ceiling just above what was learned, and `owner = "CHANGE-ME"`: `suppress add --from` refuses it
//! until a person owns it.

use floodwatch_core::config::Config;
use floodwatch_engine::score::{fmt_bytes_rate, fmt_rate};
use floodwatch_sinks::escape::terminal;
use floodwatch_store::baselines::BaselineRow;
use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct Suggestion {
    pub id: String,
    pub identity: String,
    pub parent_class: String,
    pub role: String,
    pub hosts: Vec<String>,
    pub windows: u64,
    pub days: f64,
    /// (signal, median, p99, max, threshold, proposed ceiling) for each signal whose p99 crosses its threshold.
    pub signals: Vec<(String, f64, f64, f64, f64, f64)>,
    pub signing_id: Option<String>,
    pub team_id: Option<String>,
    pub argv: Option<String>,
    pub parent: String,
    pub entry: String,
}

fn threshold(cfg: &Config, signal: &str) -> f64 {
    let t = &cfg.thresholds;
    match signal {
        "spawns_per_s" => t.tool_spawns_per_s,
        "packets_per_s" => t.packets_per_s,
        "bytes_per_s" => t.bytes_per_s,
        _ => t.connections_per_s,
    }
}

/// (signing id, team id, script) from a baseline identity: `com.apple.bash /opt/ci/x.sh`,
/// `com.example.agent (team ABCDE12345)`. None for identities without a signature (paths, names).
fn signed_parts(identity: &str) -> Option<(String, Option<String>, Option<String>)> {
    if identity.starts_with('/') || identity.starts_with("name:") || identity == "unknown" {
        return None;
    }
    let (head, script) = match identity.split_once(' ') {
        Some((h, rest)) if !rest.starts_with("(team ") => (h, Some(rest)),
        _ => (identity, None),
    };
    let (sig, team) = match identity.split_once(" (team ") {
        Some((s, t)) => (s, Some(t.trim_end_matches(')').to_string())),
        None => (head, None),
    };
    Some((sig.to_string(), team, script.map(str::to_string)))
}

fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').chars().take(60).collect()
}

pub fn suggest(
    rows: &[BaselineRow],
    cfg: &Config,
    min_hosts: usize,
    max_spread: f64,
    expires: &str,
    today: &str,
) -> Vec<Suggestion> {
    let mut out = Vec::new();
    for r in rows {
        let scheduled = matches!(
            r.key.parent_class.as_str(),
            "launchd_daemon" | "launchd_agent" | "cron"
        );
        let mature =
            r.windows >= cfg.baseline.min_windows && r.days >= cfg.baseline.min_days as f64;
        let Some((sig, team, script)) = signed_parts(&r.key.identity) else {
            continue;
        };
        if !scheduled || !mature || r.hosts.len() < min_hosts {
            continue;
        }
        let mut signals = Vec::new();
        let mut stable = true;
        for (name, s) in &r.signals {
            let thr = threshold(cfg, name);
            if s.p99 < thr {
                continue;
            }
            if s.median <= 0.0 || s.p99 > max_spread * s.median {
                stable = false;
            }
            // Just above what was learned: the learned peak or tolerance × p99, whichever is higher.
            let ceiling = (s.max.max(s.p99 * cfg.baseline.tolerance) * 1.05).ceil();
            signals.push((name.clone(), s.median, s.p99, s.max, thr, ceiling));
        }
        if signals.is_empty() || !stable {
            continue;
        }
        let parent = if r.key.parent_class == "cron" {
            "*/cron".to_string()
        } else {
            "/sbin/launchd".to_string()
        };
        let argv = script.as_ref().map(|sc| {
            // The script (or -c text) anywhere after the interpreter: `^(?:.* )?SCRIPT( .*)?$` once anchored.
            format!("(?:.* )?{}(?: .*)?", regex::escape(sc))
        });
        let id = format!(
            "tune-{}-{}-{}",
            slug(&r.key.identity),
            slug(&r.key.parent_class),
            slug(&r.key.role)
        );
        // Comment lines carry attacker-influenced names: control characters (a newline would end the
        // comment and inject TOML) are escaped.
        let c = |x: &str| terminal(x).into_owned();
        let mut e = String::new();
        e.push_str(&format!(
            "# {} under {} on role {}\n",
            c(&r.key.identity),
            c(&r.key.parent_class),
            c(&r.key.role)
        ));
        e.push_str(&format!(
            "#   learned on {} host(s): {}\n",
            r.hosts.len(),
            r.hosts
                .iter()
                .take(10)
                .map(|h| c(h))
                .collect::<Vec<_>>()
                .join(", ")
                + if r.hosts.len() > 10 { ", ..." } else { "" }
        ));
        e.push_str(&format!(
            "#   {} windows over {:.0} days ({} .. {})\n",
            r.windows, r.days, r.first_seen, r.last_seen
        ));
        for (n, med, p99, max, thr, ceil) in &signals {
            e.push_str(&format!(
                "#   {n}: median {}, p99 {}, max {} (threshold {}) -> ceiling {}\n",
                fmt_signal(n, *med),
                fmt_signal(n, *p99),
                fmt_signal(n, *max),
                fmt_signal(n, *thr),
                fmt_signal(n, *ceil)
            ));
        }
        e.push_str(&format!(
            "#   signed ({}{}), scheduled ({}), stable (p99 within {max_spread}x the median)\n",
            c(&sig),
            team.as_deref()
                .map(|t| format!(", team {}", c(t)))
                .unwrap_or_default(),
            c(&r.key.parent_class)
        ));
        let mut t = toml::Table::new();
        let s = |v: &str| toml::Value::String(v.to_string());
        t.insert("id".into(), s(&id));
        t.insert("owner".into(), s("CHANGE-ME"));
        t.insert(
            "reason".into(),
            s(&format!(
                "CHANGE-ME: recurring scheduled automation ({} on {} hosts of role {}), suggested by floodwatch tune on {today}",
                r.key.identity,
                r.hosts.len(),
                r.key.role
            )),
        );
        t.insert("expires".into(), s(expires));
        let mut m = toml::Table::new();
        m.insert("signing_id".into(), s(&sig));
        if let Some(tm) = &team {
            m.insert("team_id".into(), s(tm));
        }
        if let Some(a) = &argv {
            m.insert("argv".into(), s(a));
        }
        m.insert("parent".into(), s(&parent));
        t.insert("match".into(), toml::Value::Table(m));
        let mut c = toml::Table::new();
        for (n, _, _, _, _, ceil) in &signals {
            c.insert(n.clone(), toml::Value::Float(*ceil));
        }
        t.insert("ceiling".into(), toml::Value::Table(c));
        let mut wrap = toml::Table::new();
        wrap.insert(
            "suppression".into(),
            toml::Value::Array(vec![toml::Value::Table(t)]),
        );
        e.push_str(&toml::to_string(&wrap).unwrap_or_default());
        out.push(Suggestion {
            id,
            identity: r.key.identity.clone(),
            parent_class: r.key.parent_class.clone(),
            role: r.key.role.clone(),
            hosts: r.hosts.clone(),
            windows: r.windows,
            days: r.days,
            signals,
            signing_id: Some(sig),
            team_id: team,
            argv,
            parent,
            entry: e,
        });
    }
    out
}

/// A baseline signal's value in the units people read (bytes per second scaled, small rates with two
/// decimals); `baseline show` prints the same.
pub fn fmt_signal(signal: &str, v: f64) -> String {
    if signal == "bytes_per_s" {
        fmt_bytes_rate(v)
    } else if v < 1.0 {
        format!("{v:.2}")
    } else {
        fmt_rate(v)
    }
}
