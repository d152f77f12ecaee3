//! From the engine's config to the rule set every target renders. Each number and list comes from
//! `Config` (and the suppressions file), never from alerts: the BurstTimeWindow is every
//! aggregation's window, `tool_spawns_per_s` × window its count, `[scope] network_tools` the tools
//! counted, `declared_packets_per_s` and `declared_curl_urls` the declared-flood cut-offs, which
//! follow the engine's reading of each tool's argv (floodwatch-engine `declared.rs`).

use crate::ir::*;
use crate::regex::{decimal_at_most, int_at_least, int_at_most};
use crate::suppress::SuppressionEntry;
use floodwatch_core::config::Config;

/// Interpreters whose inline programs the engine reads (declared.rs `is_interpreter`): the
/// config's script runners that start with one of these.
const INTERPRETERS: [&str; 5] = ["python", "perl", "ruby", "node", "php"];
/// Shells whose `-c` loops the engine reads (declared.rs `shell_loop`).
const SHELLS: [&str; 5] = ["sh", "bash", "zsh", "dash", "ksh"];
/// The tools a shell loop must run to be a declared flood (declared.rs `shell_loop`).
const LOOP_TOOLS: [&str; 6] = ["curl", "ping", "wget", "nc", "hping3", "nping"];

/// Everything an export is made of.
#[derive(Clone, Debug)]
pub struct RuleSet {
    pub window_secs: u64,
    pub event_rules: Vec<EventRule>,
    pub window_rules: Vec<WindowRule>,
    /// The config facts each header quotes (name = value).
    pub facts: Vec<(String, String)>,
    /// Suppressions that could not become filters, and why.
    pub kept_out: Vec<String>,
    /// Suppressions turned into filters (ids).
    pub filtered: Vec<String>,
    /// The network tools counted by the exec-burst rule.
    pub network_tools: Vec<String>,
    /// New outbound connections per process and window that make a window hot (KQL keeps it).
    pub connections_min: u64,
}

impl RuleSet {
    pub fn event_rule(&self, slug: &str) -> Option<&EventRule> {
        self.event_rules.iter().find(|r| r.slug == slug)
    }

    pub fn from_config(cfg: &Config, suppressions: &[SuppressionEntry]) -> RuleSet {
        let window_secs = cfg.windows.burst_time_window.as_secs().max(1);
        let t = &cfg.thresholds;
        let pps = t.declared_packets_per_s.max(f64::MIN_POSITIVE);
        let spawn_min = (t.tool_spawns_per_s * window_secs as f64).ceil().max(1.0) as u64;
        let bytes_min = (t.bytes_per_s * window_secs as f64).ceil().max(1.0) as u64;
        let facts = vec![
            (
                "windows.burst_time_window".into(),
                format!("{window_secs}s"),
            ),
            (
                "thresholds.tool_spawns_per_s".into(),
                format!("{} (= {spawn_min} execs per window)", t.tool_spawns_per_s),
            ),
            (
                "thresholds.bytes_per_s".into(),
                format!(
                    "{} (= {bytes_min} bytes per window, unweighted)",
                    t.bytes_per_s
                ),
            ),
            (
                "thresholds.declared_packets_per_s".into(),
                format!("{}", t.declared_packets_per_s),
            ),
            (
                "thresholds.declared_curl_urls".into(),
                format!("{}", t.declared_curl_urls),
            ),
            (
                "scope.network_tools".into(),
                cfg.scope.network_tools.join(", "),
            ),
        ];

        let declared_subject = Role::Process;
        let mut filtered = Vec::new();
        let mut kept_out = Vec::new();
        for s in suppressions {
            match s.kept_out() {
                Some(why) => kept_out.push(why),
                None => filtered.push(s.id.clone()),
            }
        }
        let usable: Vec<&SuppressionEntry> = suppressions
            .iter()
            .filter(|s| s.kept_out().is_none())
            .collect();

        let mut event_rules = vec![
            ping_rule(pps),
            hping_rule(pps),
            nping_rule(pps),
            curl_rule(t.declared_curl_urls),
            interpreter_rule(&cfg.scope.script_runners),
            shell_loop_rule(&cfg.scope.script_runners),
            osascript_rule(),
        ];
        for r in &mut event_rules {
            r.filters.extend(suppression_filters(
                &usable,
                declared_subject,
                &mut kept_out,
            ));
        }
        let mut exec = tool_exec_rule(&cfg.scope.network_tools);
        exec.filters
            .extend(suppression_filters(&usable, Role::Parent, &mut kept_out));
        event_rules.push(exec);
        let mut traffic = traffic_rule();
        traffic
            .filters
            .extend(suppression_filters(&usable, Role::Traffic, &mut kept_out));
        event_rules.push(traffic);
        kept_out.sort();
        kept_out.dedup();

        let window_rules = vec![
            WindowRule {
                slug: "exec_burst".into(),
                title: "Burst of Network Tool Executions From One Parent on macOS".into(),
                description: format!(
                    "At least {spawn_min} executions of network tools ({}) by one parent process on one host within {window_secs}s: floodwatch's tool_spawns_per_s threshold ({}/s) over its BurstTimeWindow ({window_secs}s). A script or agent looping curl or ping sends a flood one process at a time; this is the engine's spawn-rate channel.",
                    short_list(&cfg.scope.network_tools),
                    t.tool_spawns_per_s
                ),
                level: Level::High,
                falsepositives: vec![
                    "Monitoring or build scripts that run a network tool many times a second".into(),
                    "Load tests run on purpose from a Mac".into(),
                ],
                base: "network_tool_exec".into(),
                group_by: vec![Field::Host, Field::ParentProcessId, Field::ParentImage],
                window_secs,
                aggregate: Aggregate::Count { min: spawn_min },
                channel: Channel::ExecBurst,
            },
            WindowRule {
                slug: "outbound_bytes".into(),
                title: "High Outbound Byte Volume From One Process on macOS".into(),
                description: format!(
                    "At least {bytes_min} bytes sent by one process on one host within {window_secs}s (floodwatch's bytes_per_s threshold, {}/s, over its BurstTimeWindow, without the engine's protocol weights), summed over nettop traffic samples in delta mode.",
                    t.bytes_per_s
                ),
                level: Level::Medium,
                falsepositives: vec![
                    "Backups, uploads and software updates over TCP or QUIC (the engine weighs their bytes at a tenth)".into(),
                ],
                base: "network_traffic_sample".into(),
                group_by: vec![Field::Host, Field::ProcessId, Field::Image],
                window_secs,
                aggregate: Aggregate::Sum {
                    field: Field::SentBytes,
                    min: bytes_min,
                },
                channel: Channel::Bytes,
            },
        ];
        RuleSet {
            window_secs,
            event_rules,
            window_rules,
            facts,
            kept_out,
            filtered,
            network_tools: cfg.scope.network_tools.clone(),
            connections_min: (t.connections_per_s * window_secs as f64).ceil().max(1.0) as u64,
        }
    }
}

fn short_list(v: &[String]) -> String {
    if v.len() <= 6 {
        v.join(", ")
    } else {
        format!("{}, ... {} in all", v[..5].join(", "), v.len())
    }
}

/// Whose fields a suppression's match fields describe in a rule's events.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// The event's own process is the alert's subject (a declared flood).
    Process,
    /// The event's parent is the subject (the spawn group that runs the tools).
    Parent,
    /// A traffic sample: only the process's name/path and the host are known.
    Traffic,
}

fn glob_value(g: &str) -> String {
    // Sigma's wildcards are `*` and `?`, as in the engine's globs; character classes are not.
    g.to_string()
}

fn suppression_filters(
    entries: &[&SuppressionEntry],
    role: Role,
    kept_out: &mut Vec<String>,
) -> Vec<Selection> {
    let mut out = Vec::new();
    for s in entries {
        let mut conds = Vec::new();
        let mut missing = Vec::new();
        if let Some(p) = &s.path {
            let f = match role {
                Role::Process | Role::Traffic => Field::Image,
                Role::Parent => Field::ParentImage,
            };
            conds.push(Cond::new(f, Match::Equals(vec![glob_value(p)])));
        }
        if let Some(p) = &s.parent {
            match role {
                Role::Process => conds.push(Cond::new(
                    Field::ParentImage,
                    Match::Equals(vec![glob_value(p)]),
                )),
                _ => missing.push("parent"),
            }
        }
        if let Some(a) = &s.argv {
            let f = match role {
                Role::Process => Some(Field::CommandLine),
                Role::Parent => Some(Field::ParentCommandLine),
                Role::Traffic => None,
            };
            match f {
                Some(f) => conds.push(Cond::new(f, Match::Regex(format!("^({a})$")))),
                None => missing.push("argv"),
            }
        }
        if let Some(u) = &s.user {
            match role {
                Role::Traffic => missing.push("user"),
                _ => conds.push(Cond::new(Field::User, Match::Equals(vec![u.clone()]))),
            }
        }
        if let Some(h) = &s.host {
            conds.push(Cond::new(Field::Host, Match::Equals(vec![glob_value(h)])));
        }
        let what = match role {
            Role::Process => "declared-flood rules",
            Role::Parent => "the exec-burst rule",
            Role::Traffic => "the byte-volume rule",
        };
        if !missing.is_empty() {
            kept_out.push(format!(
                "{}: not a filter of {what}: its events do not carry {}",
                s.id,
                missing.join(", ")
            ));
            continue;
        }
        out.push(Selection {
            name: format!("filter_main_{}", slug_of(&s.id)),
            conds,
        });
    }
    out
}

fn slug_of(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

fn sel(name: &str, conds: Vec<Cond>) -> Selection {
    Selection {
        name: name.into(),
        conds,
    }
}

fn ends(field: Field, v: &[&str]) -> Cond {
    Cond::new(
        field,
        Match::EndsWith(v.iter().map(|s| s.to_string()).collect()),
    )
}

fn contains(v: &[&str]) -> Cond {
    Cond::new(
        Field::CommandLine,
        Match::Contains(v.iter().map(|s| s.to_string()).collect()),
    )
}

fn re(s: String) -> Cond {
    Cond::new(Field::CommandLine, Match::Regex(s))
}

fn declared(
    slug: &str,
    title: &str,
    description: String,
    falsepositives: &[&str],
    selections: Vec<Selection>,
    filters: Vec<Selection>,
    expr: Expr,
) -> EventRule {
    EventRule {
        slug: slug.into(),
        title: title.into(),
        description,
        source: Source::ProcessCreation,
        level: Level::High,
        falsepositives: falsepositives.iter().map(|s| s.to_string()).collect(),
        selections,
        filters,
        expr,
        channel: Channel::Declared,
        standalone: true,
    }
}

/// A flag in a getopt cluster: `-f`, `-qf`, `-fq`, preceded by whitespace.
fn flag(c: char) -> String {
    format!(r"\s-[A-Za-z]*{c}")
}

/// `ping -f`, `ping -i` at or below 1/pps seconds, `ping -l N` with N ≥ max(100, pps).
fn ping_rule(pps: f64) -> EventRule {
    let interval = 1.0 / pps;
    let preload = (pps.ceil() as u64).max(100);
    declared(
        "ping_flood",
        "Declared Ping Flood on macOS",
        format!(
            "ping or ping6 started with -f (flood, at least 100 packets/s), an interval (-i) of at most {} s ({} packets/s or more) or a preload (-l) of at least {preload} packets: a command line that declares a flood (floodwatch declared_packets_per_s = {pps}). ICMP is invisible to nettop and to the unified log, so the command line is the evidence.",
            trim_float(interval),
            trim_float(pps)
        ),
        &["Network engineers measuring loss on a lab network with ping -f"],
        vec![
            sel("selection_img", vec![ends(Field::Image, &["/ping", "/ping6"])]),
            sel("selection_flood", vec![re(format!(r"{}[A-Za-z]*(\s|$)", flag('f')))]),
            sel(
                "selection_interval",
                vec![re(format!(r"{}\s*{}(\s|$)", flag('i'), decimal_at_most(interval)))],
            ),
            sel(
                "selection_preload",
                vec![re(format!(r"{}\s*{}(\s|$)", flag('l'), int_at_least(preload)))],
            ),
        ],
        Vec::new(),
        Expr::And(vec![
            Expr::sel("selection_img"),
            Expr::Or(vec![
                Expr::sel("selection_flood"),
                Expr::sel("selection_interval"),
                Expr::sel("selection_preload"),
            ]),
        ]),
    )
}

/// `hping3 --flood`, `--faster`/`--fast` when their rate reaches the cut-off, `-i uN` / `-i S`.
fn hping_rule(pps: f64) -> EventRule {
    let mut modes = vec!["--flood"];
    if 100.0 >= pps {
        modes.push("--faster");
    }
    if 10.0 >= pps {
        modes.push("--fast");
    }
    let max_us = (1e6 / pps).floor() as u64;
    let max_s = 1.0 / pps;
    let mode_re = format!(r"\s({})(\s|$)", modes.join("|"));
    declared(
        "hping_flood",
        "Declared Hping3 Flood on macOS",
        format!(
            "hping/hping3 started with {} or an interval (-i) of at most u{max_us} microseconds or {} s: {} packets/s or more (floodwatch declared_packets_per_s).",
            modes.join(" or "),
            trim_float(max_s),
            trim_float(pps)
        ),
        &["Authorized load tests of your own network equipment"],
        vec![
            sel(
                "selection_img",
                vec![ends(Field::Image, &["/hping", "/hping2", "/hping3"])],
            ),
            sel("selection_mode", vec![re(mode_re)]),
            sel(
                "selection_interval",
                vec![re(format!(
                    r"\s(-i|--interval)\s*(u{}|{})(\s|$)",
                    int_at_most(max_us),
                    decimal_at_most(max_s)
                ))],
            ),
        ],
        Vec::new(),
        Expr::And(vec![
            Expr::sel("selection_img"),
            Expr::Or(vec![
                Expr::sel("selection_mode"),
                Expr::sel("selection_interval"),
            ]),
        ]),
    )
}

/// `nping --rate R` with R ≥ pps.
fn nping_rule(pps: f64) -> EventRule {
    let min = pps.ceil() as u64;
    declared(
        "nping_rate",
        "Declared Nping Flood on macOS",
        format!(
            "nping started with --rate of at least {min} probes per second (floodwatch declared_packets_per_s = {}).",
            trim_float(pps)
        ),
        &["Authorized load tests of your own network equipment"],
        vec![
            sel("selection_img", vec![ends(Field::Image, &["/nping"])]),
            sel(
                "selection_rate",
                vec![re(format!(r"\s--rate\s+{}(\.\d+)?(\s|$)", int_at_least(min)))],
            ),
        ],
        Vec::new(),
        Expr::sel("selection_img").and_all(&["selection_rate"]),
    )
}

/// curl over a URL glob of at least `min_urls` URLs (approximated: a numeric range whose upper
/// bound is at least that), or parallel transfers (`-Z`) from a config file (`-K`).
fn curl_rule(min_urls: u64) -> EventRule {
    declared(
        "curl_glob_flood",
        "Declared Curl Flood via URL Glob or Parallel Config on macOS",
        format!(
            "curl started with a URL range glob whose upper bound is at least {min_urls} (floodwatch declared_curl_urls: that many URLs in one invocation), or with parallel transfers (-Z/--parallel) read from a config file (-K/--config)."
        ),
        &["Mirroring or crawling jobs that fetch numbered files on purpose"],
        vec![
            sel("selection_img", vec![ends(Field::Image, &["/curl"])]),
            sel(
                "selection_glob",
                vec![re(format!(r"\[\d+-{}(:\d+)?\]", int_at_least(min_urls)))],
            ),
            sel(
                "selection_parallel",
                vec![re(r"\s(-[A-Za-z]*Z[A-Za-z]*|--parallel)(\s|$)".to_string())],
            ),
            sel(
                "selection_config",
                vec![re(r"\s(-K|--config)(\s|$)".to_string())],
            ),
        ],
        Vec::new(),
        Expr::And(vec![
            Expr::sel("selection_img"),
            Expr::Or(vec![
                Expr::sel("selection_glob"),
                Expr::And(vec![
                    Expr::sel("selection_parallel"),
                    Expr::sel("selection_config"),
                ]),
            ]),
        ]),
    )
}

fn runner_images(runners: &[String], keep: impl Fn(&str) -> bool) -> Vec<String> {
    let mut v: Vec<String> = runners
        .iter()
        .filter(|r| keep(r))
        .map(|r| format!("/{r}"))
        .collect();
    v.dedup();
    v
}

/// `python -c`, `perl -e`, ... programs that send on a socket in an endless loop with no pause.
fn interpreter_rule(runners: &[String]) -> EventRule {
    let images = runner_images(runners, |r| INTERPRETERS.iter().any(|i| r.starts_with(i)));
    let images: Vec<&str> = images.iter().map(String::as_str).collect();
    declared(
        "interpreter_send_loop",
        "Interpreter One-Liner Sending in an Endless Loop on macOS",
        "A python, perl, ruby, node or php inline program (-c/-e) with an endless loop (while True, while 1, for(;;), loop do, scapy srloop/sendpfast) that sends on a socket and never sleeps: a flood written as a one-liner.".into(),
        &["Developers testing a socket server locally with a tight loop"],
        vec![
            sel("selection_img", vec![ends(Field::Image, &images)]),
            sel("selection_inline", vec![contains(&[" -c ", " -e "])]),
            sel(
                "selection_loop",
                vec![contains(&[
                    "while True",
                    "while 1",
                    "while(1)",
                    "while (1)",
                    "for(;;)",
                    "loop do",
                    "loop=1",
                    "srloop",
                    "sendpfast",
                ])],
            ),
            sel("selection_send", vec![contains(&["sendto", "send(", "socket"])]),
        ],
        vec![sel("filter_optional_pause", vec![contains(&["sleep", "delay "])])],
        Expr::sel("selection_img").and_all(&["selection_inline", "selection_loop", "selection_send"]),
    )
}

/// `sh -c 'while true; do curl ...; done'` with no sleep.
fn shell_loop_rule(runners: &[String]) -> EventRule {
    let images = runner_images(runners, |r| SHELLS.contains(&r));
    let images: Vec<&str> = images.iter().map(String::as_str).collect();
    declared(
        "shell_loop",
        "Shell One-Liner Running a Network Tool in an Endless Loop on macOS",
        format!(
            "A shell started with -c and an endless loop (while true, while :, until false, for ((;;))) that runs a network tool ({}) and never sleeps.",
            LOOP_TOOLS.join(", ")
        ),
        &["Ad hoc monitoring loops typed by an administrator (they usually sleep)"],
        vec![
            sel("selection_img", vec![ends(Field::Image, &images)]),
            sel("selection_inline", vec![contains(&[" -c "])]),
            sel(
                "selection_loop",
                vec![contains(&[
                    "while true",
                    "while :",
                    "while [",
                    "while 1",
                    "until false",
                    "for ((;;))",
                    "for((;;))",
                ])],
            ),
            sel(
                "selection_tool",
                vec![re(format!(r"[\s;|(/]{}(\s|$)", alt(&LOOP_TOOLS)))],
            ),
        ],
        vec![sel("filter_optional_pause", vec![contains(&["sleep"])])],
        Expr::sel("selection_img").and_all(&["selection_inline", "selection_loop", "selection_tool"]),
    )
}

fn alt(v: &[&str]) -> String {
    format!("({})", v.join("|"))
}

/// `osascript -e 'repeat ... do shell script "curl ..." ... end repeat'` with no delay.
fn osascript_rule() -> EventRule {
    declared(
        "osascript_loop",
        "Osascript Repeat Loop Running a Network Tool on macOS",
        "osascript with an inline AppleScript that repeats do shell script with curl or ping and never delays.".into(),
        &["Automation scripts that poll a service (they usually delay between rounds)"],
        vec![
            sel("selection_img", vec![ends(Field::Image, &["/osascript"])]),
            sel("selection_repeat", vec![contains(&["repeat"])]),
            sel("selection_shell", vec![contains(&["do shell script"])]),
            sel("selection_tool", vec![contains(&["curl", "ping"])]),
        ],
        vec![sel("filter_optional_pause", vec![contains(&["delay ", "sleep"])])],
        Expr::sel("selection_img").and_all(&["selection_repeat", "selection_shell", "selection_tool"]),
    )
}

/// Every execution of a configured network tool: the events the exec-burst rule counts.
fn tool_exec_rule(tools: &[String]) -> EventRule {
    let images: Vec<String> = tools.iter().map(|t| format!("/{t}")).collect();
    EventRule {
        slug: "network_tool_exec".into(),
        title: "Network Tool Execution on macOS".into(),
        description: format!(
            "Execution of one of floodwatch's network tools ([scope] network_tools: {}). Informational on its own: the exec-burst correlation counts these per host and parent over the BurstTimeWindow.",
            short_list(tools)
        ),
        source: Source::ProcessCreation,
        level: Level::Informational,
        falsepositives: vec!["Every interactive use of these tools".into()],
        selections: vec![Selection {
            name: "selection".into(),
            conds: vec![Cond::new(Field::Image, Match::EndsWith(images))],
        }],
        filters: Vec::new(),
        expr: Expr::sel("selection"),
        channel: Channel::ExecBurst,
        standalone: false,
    }
}

/// Every per-process traffic sample with outbound bytes: the events the byte rule sums.
fn traffic_rule() -> EventRule {
    EventRule {
        slug: "network_traffic_sample".into(),
        title: "Per-Process Outbound Traffic Sample on macOS".into(),
        description: "A per-process traffic sample with outbound bytes (nettop -L -d rows: bytes_out per interval). Informational on its own: the byte-volume correlation sums SentBytes per host and process over the BurstTimeWindow.".into(),
        source: Source::NetworkTraffic,
        level: Level::Informational,
        falsepositives: vec!["Every process that sends anything".into()],
        selections: vec![Selection {
            name: "selection".into(),
            conds: vec![Cond::new(Field::SentBytes, Match::GreaterThan(0))],
        }],
        filters: Vec::new(),
        expr: Expr::sel("selection"),
        channel: Channel::Bytes,
        standalone: false,
    }
}

impl Expr {
    fn and_all(self, rest: &[&str]) -> Expr {
        let mut v = vec![self];
        v.extend(rest.iter().map(|s| Expr::sel(s)));
        Expr::And(v)
    }
}

/// `0.02` rather than `0.02000000001`.
pub fn trim_float(x: f64) -> String {
    let s = format!("{x:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}
