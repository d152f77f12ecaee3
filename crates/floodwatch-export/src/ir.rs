//! The target-neutral rule set every renderer reads: event rules (a boolean expression over named
//! selections of field matches) and the windowed aggregations over them (a count of events, a sum
//! of a field), in Sigma's vocabulary of fields (the macOS `process_creation` taxonomy).

/// A field of a process-creation (or network-traffic) event, named as Sigma's taxonomy names it;
/// each renderer maps it to its own schema (ECS, CIM, Defender tables, osquery columns).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// The executable path of the new process.
    Image,
    /// Its command line (argv joined with spaces).
    CommandLine,
    /// The parent's executable path.
    ParentImage,
    /// The parent's pid.
    ParentProcessId,
    /// The parent's command line.
    ParentCommandLine,
    /// The new process's pid.
    ProcessId,
    /// The user the process runs as.
    User,
    /// The host (Sigma has no taxonomy field for it on macOS: only correlation rules group by it).
    Host,
    /// Outbound bytes of a traffic sample (nettop `bytes_out` in delta mode).
    SentBytes,
}

impl Field {
    pub fn sigma(self) -> &'static str {
        match self {
            Field::Image => "Image",
            Field::CommandLine => "CommandLine",
            Field::ParentImage => "ParentImage",
            Field::ParentProcessId => "ParentProcessId",
            Field::ParentCommandLine => "ParentCommandLine",
            Field::ProcessId => "ProcessId",
            Field::User => "User",
            Field::Host => "Computer",
            Field::SentBytes => "SentBytes",
        }
    }
}

/// How a field is matched: any of the values (an OR), or one regular expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Match {
    /// Ends with any of these; `*` inside a value is a wildcard (a config glob like `python3*`).
    EndsWith(Vec<String>),
    /// Contains any of these (case-insensitive, as Sigma's `contains`).
    Contains(Vec<String>),
    /// Equals any of these; `*` inside a value is a wildcard (a suppression's glob).
    Equals(Vec<String>),
    /// A number greater than this.
    GreaterThan(u64),
    /// A regular expression, searched (not anchored) in the value. Written in the portable subset
    /// every target reads once translated ([`crate::regex`]): `\s`, `\d`, classes, groups,
    /// alternation, `?`, `*`, `+`, `{n,}`, and `$` only at the end of a group alternative.
    Regex(String),
}

/// One field matched one way.
#[derive(Clone, Debug, PartialEq)]
pub struct Cond {
    pub field: Field,
    pub m: Match,
}

impl Cond {
    pub fn new(field: Field, m: Match) -> Cond {
        Cond { field, m }
    }
}

/// A named selection: all of its conditions (an AND).
#[derive(Clone, Debug, PartialEq)]
pub struct Selection {
    pub name: String,
    pub conds: Vec<Cond>,
}

/// The boolean structure over selections.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Sel(String),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
}

impl Expr {
    pub fn sel(name: &str) -> Expr {
        Expr::Sel(name.to_string())
    }
}

/// Sigma levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Informational,
    Medium,
    High,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Informational => "informational",
            Level::Medium => "medium",
            Level::High => "high",
        }
    }
    /// Elastic's risk score and severity for the same level.
    pub fn elastic(self) -> (u8, &'static str) {
        match self {
            Level::Informational => (21, "low"),
            Level::Medium => (47, "medium"),
            Level::High => (73, "high"),
        }
    }
}

/// Where an event rule's events come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Process executions (eslogger exec, Elastic process start, DeviceProcessEvents, es_process_events).
    ProcessCreation,
    /// Per-process traffic samples with outbound bytes (nettop).
    NetworkTraffic,
}

/// A rule over single events.
#[derive(Clone, Debug, PartialEq)]
pub struct EventRule {
    /// Short name, unique in the set: file names and Sigma's `name` derive from it.
    pub slug: String,
    pub title: String,
    pub description: String,
    pub source: Source,
    pub level: Level,
    pub falsepositives: Vec<String>,
    pub selections: Vec<Selection>,
    /// Filters (a pause in a loop, documented automation): the rule matches when none matches.
    pub filters: Vec<Selection>,
    /// The positive part over `selections`; the filters are added as `and not 1 of filter_*`.
    pub expr: Expr,
    /// The engine channel this rule stands for (declared flood, exec burst, bytes).
    pub channel: Channel,
    /// Whether the rule alerts on its own (declared floods) or only feeds an aggregation.
    pub standalone: bool,
}

/// floodwatch's detection channels the exported rules stand for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    /// A command line that declares a flood (the engine's `declared_flood` reason).
    Declared,
    /// Network-tool executions per spawn group and window (`spawn_rate`).
    ExecBurst,
    /// Outbound bytes per process and window (`byte_rate`).
    Bytes,
}

/// What an aggregation computes over its base rule's events in one window and group.
#[derive(Clone, Debug, PartialEq)]
pub enum Aggregate {
    /// At least `min` events.
    Count { min: u64 },
    /// The sum of `field` is at least `min`.
    Sum { field: Field, min: u64 },
}

/// A windowed aggregation over an event rule: Sigma's correlation rules.
#[derive(Clone, Debug, PartialEq)]
pub struct WindowRule {
    pub slug: String,
    pub title: String,
    pub description: String,
    pub level: Level,
    pub falsepositives: Vec<String>,
    /// The event rule whose events are aggregated (its slug).
    pub base: String,
    pub group_by: Vec<Field>,
    pub window_secs: u64,
    pub aggregate: Aggregate,
    pub channel: Channel,
}

/// Which of the engine's signals an output keeps, and which it loses.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Coverage {
    pub keeps: Vec<String>,
    pub loses: Vec<String>,
}

/// A boolean language's spelling of AND, OR and NOT.
pub struct Bool {
    pub and: &'static str,
    pub or: &'static str,
    pub not: &'static str,
}

/// Renders a rule's condition (its expression, then `not` each filter) in a target language, given
/// how one condition is written. A selection is the AND of its conditions.
pub fn render_condition(rule: &EventRule, b: &Bool, cond: &dyn Fn(&Cond) -> String) -> String {
    let sel = |s: &Selection| -> String {
        let parts: Vec<String> = s.conds.iter().map(cond).collect();
        if parts.len() == 1 {
            parts[0].clone()
        } else {
            format!("({})", parts.join(&format!(" {} ", b.and)))
        }
    };
    fn walk(e: &Expr, rule: &EventRule, b: &Bool, sel: &dyn Fn(&Selection) -> String) -> String {
        match e {
            Expr::Sel(name) => rule
                .selections
                .iter()
                .find(|s| &s.name == name)
                .map(sel)
                .unwrap_or_default(),
            Expr::And(v) => format!(
                "({})",
                v.iter()
                    .map(|x| walk(x, rule, b, sel))
                    .collect::<Vec<_>>()
                    .join(&format!(" {} ", b.and))
            ),
            Expr::Or(v) => format!(
                "({})",
                v.iter()
                    .map(|x| walk(x, rule, b, sel))
                    .collect::<Vec<_>>()
                    .join(&format!(" {} ", b.or))
            ),
            Expr::Not(x) => format!("{} {}", b.not, walk(x, rule, b, sel)),
        }
    }
    let mut out = walk(&rule.expr, rule, b, &sel);
    for f in &rule.filters {
        out = format!("{out} {} {} {}", b.and, b.not, sel(f));
    }
    out
}

/// A glob (`*`, `?`) as a regular expression matching the whole value.
/// One condition, or several joined with `or` (the target's spelling) in parentheses.
pub fn any_of(or: &str, parts: Vec<String>) -> String {
    if parts.len() == 1 {
        parts.into_iter().next().unwrap_or_default()
    } else {
        format!("({})", parts.join(or))
    }
}

pub fn glob_to_regex(g: &str) -> String {
    let mut out = String::from("^");
    for c in g.chars() {
        match c {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            c => out.push_str(&regex_escape(&c.to_string())),
        }
    }
    out.push('$');
    out
}

/// Escapes regular-expression metacharacters.
pub fn regex_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// When every suffix is `/name` (no wildcard, no further folder), the names: a target with a
/// basename field (`process.name`, `FileName`) matches them exactly instead of by suffix.
pub fn plain_basenames(values: &[String]) -> Option<Vec<&str>> {
    values
        .iter()
        .map(|v| {
            v.strip_prefix('/')
                .filter(|n| !n.is_empty() && !n.contains(['/', '*', '?']))
        })
        .collect()
}
