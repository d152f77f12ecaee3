//! The exported declared-flood rules against the engine's own reading of the same command lines
//! (`floodwatch_engine::declared::analyze`, with the config's cut-offs): on every command line
//! here, a rule of the set matches exactly when the engine declares a flood, except the few
//! approximations each output's header names (checked here as such, so a change in either side
//! shows). Rules are evaluated from the target-neutral rule set, with Sigma's semantics: suffix
//! and substring tests case-insensitive, regular expressions searched.

use floodwatch_core::config::Config;
use floodwatch_export::ir::{EventRule, Expr, Field, Match, Selection};
use floodwatch_export::spec::RuleSet;

struct Exec<'a> {
    image: &'a str,
    cmdline: String,
}

fn field<'a>(e: &'a Exec, f: Field) -> Option<&'a str> {
    match f {
        Field::Image => Some(e.image),
        Field::CommandLine => Some(&e.cmdline),
        _ => None,
    }
}

fn glob_match(pattern: &str, value: &str, suffix: bool) -> bool {
    let mut re = String::from("(?i)");
    if !suffix {
        re.push('^');
    }
    for c in pattern.chars() {
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    regex::Regex::new(&re).unwrap().is_match(value)
}

fn sel_matches(s: &Selection, e: &Exec) -> bool {
    s.conds.iter().all(|c| {
        let Some(v) = field(e, c.field) else {
            return false;
        };
        match &c.m {
            Match::EndsWith(xs) => xs.iter().any(|x| glob_match(x, v, true)),
            Match::Contains(xs) => xs
                .iter()
                .any(|x| v.to_lowercase().contains(&x.to_lowercase())),
            Match::Equals(xs) => xs.iter().any(|x| glob_match(x, v, false)),
            Match::Regex(r) => regex::Regex::new(r).unwrap().is_match(v),
            Match::GreaterThan(_) => false,
        }
    })
}

fn expr_matches(x: &Expr, r: &EventRule, e: &Exec) -> bool {
    match x {
        Expr::Sel(n) => r
            .selections
            .iter()
            .find(|s| &s.name == n)
            .is_some_and(|s| sel_matches(s, e)),
        Expr::And(v) => v.iter().all(|x| expr_matches(x, r, e)),
        Expr::Or(v) => v.iter().any(|x| expr_matches(x, r, e)),
        Expr::Not(x) => !expr_matches(x, r, e),
    }
}

fn rule_matches(r: &EventRule, e: &Exec) -> bool {
    expr_matches(&r.expr, r, e) && !r.filters.iter().any(|f| sel_matches(f, e))
}

/// Splits like the simulator's argv: words, with one quoted program kept whole.
fn argv(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote = None;
    for c in s.chars() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, ' ') => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            (_, c) => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// (command line, what the rules do differently from the engine, if anything).
const CASES: &[(&str, Option<&str>)] = &[
    ("/sbin/ping -f -q 198.51.100.7", None),
    ("/sbin/ping -fq 198.51.100.7", None),
    ("/sbin/ping -q -f 198.51.100.7", None),
    ("/sbin/ping -i 0.002 10.0.0.1", None),
    ("/sbin/ping -i0.01 10.0.0.1", None),
    ("/sbin/ping -i .02 10.0.0.1", None),
    ("/sbin/ping -i 0.021 10.0.0.1", None),
    ("/sbin/ping -i 0 10.0.0.1", None),
    ("/sbin/ping -q -i 0.002 -s 1200 203.0.113.50", None),
    ("/sbin/ping -l 1000 -c 1000 10.0.0.1", None),
    ("/sbin/ping -l 99 10.0.0.1", None),
    ("/sbin/ping 10.0.0.1", None),
    ("/sbin/ping -c 3 -i 1 10.0.0.1", None),
    ("/sbin/ping -i 0.1 10.0.0.1", None),
    ("/sbin/ping -s 1472 -c 5 10.0.0.1", None),
    ("/sbin/ping6 -f ::1", None),
    ("/usr/local/bin/hping3 --flood -S -p 80 10.0.0.1", None),
    ("/usr/local/bin/hping3 -1 -i u1000 10.0.0.1", None),
    ("/usr/local/bin/hping3 -1 -i u30000 10.0.0.1", None),
    ("/usr/local/bin/hping3 --faster -S 10.0.0.1", None),
    ("/usr/local/bin/hping3 --fast -S 10.0.0.1", None),
    ("/usr/local/bin/hping3 -S 10.0.0.1", None),
    ("/opt/homebrew/bin/nping --rate 5000 -c 0 --udp 10.0.0.1", None),
    ("/opt/homebrew/bin/nping --rate 50 10.0.0.1", None),
    ("/opt/homebrew/bin/nping --rate 49 10.0.0.1", None),
    ("/opt/homebrew/bin/nping 10.0.0.1", None),
    ("/usr/bin/curl -Z --parallel-max 200 http://203.0.113.5/[1-100000]", None),
    ("/usr/bin/curl -s -o /dev/null http://203.0.113.10/[1-1000]", None),
    ("/usr/bin/curl -s -o /dev/null http://203.0.113.10/[1-999]", None),
    ("/usr/bin/curl -s -o /dev/null http://203.0.113.10/ping", None),
    ("/usr/bin/curl -Z -K urls.txt", None),
    ("/usr/bin/curl -K urls.txt", None),
    (
        "/usr/bin/curl http://x/[1-100]/[1-100]",
        Some("two ranges multiplied (10,000 URLs): the rules read one range's upper bound"),
    ),
    (
        "/usr/bin/curl http://x/[5000-5500]",
        Some("a high-offset range of 501 URLs: the rules read its upper bound"),
    ),
    (
        "/usr/bin/python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nwhile True: s.sendto(b\"x\"*1400, (\"10.0.0.9\", 9))'",
        None,
    ),
    (
        "/usr/bin/python3 -c 'import socket,time; s=socket.socket()\nwhile True: s.send(b\"x\"); time.sleep(1)'",
        None,
    ),
    (
        "/usr/bin/perl -e 'use IO::Socket::INET; my $s = IO::Socket::INET->new(PeerAddr => \"198.51.100.30:9999\", Proto => \"udp\") or die; while (1) { $s->send(\"A\" x 1400) }'",
        None,
    ),
    ("/usr/bin/python3 -c 'print(1)'", None),
    ("/bin/sh -c 'while true; do curl -s http://10.0.0.1/; done'", None),
    ("/bin/bash -c 'while :; do ping -c 1 10.0.0.1; done'", None),
    ("/bin/sh -c 'while true; do curl -s http://10.0.0.1/; sleep 5; done'", None),
    ("/bin/zsh -c 'for f in a b c; do curl -s http://10.0.0.1/$f; done'", None),
    ("/bin/sh -c 'while true; do sync; done'", None),
    (
        "/usr/bin/osascript -e 'repeat\ndo shell script \"curl -s http://10.0.0.1/\"\nend repeat'",
        None,
    ),
    (
        "/usr/bin/osascript -e 'repeat\ndo shell script \"curl -s http://10.0.0.1/\"\ndelay 5\nend repeat'",
        None,
    ),
];

#[test]
fn declared_rules_fire_where_the_engine_declares_a_flood() {
    let cfg = Config::default();
    let rules = RuleSet::from_config(&cfg, &[]);
    let declared: Vec<&EventRule> = rules.event_rules.iter().filter(|r| r.standalone).collect();
    assert_eq!(declared.len(), 7);
    let mut agree = 0;
    for (line, difference) in CASES {
        let args = argv(line);
        let image = args[0].clone();
        let base = image.rsplit('/').next().unwrap();
        let engine = floodwatch_engine::declared::analyze(
            base,
            &args,
            cfg.thresholds.declared_packets_per_s,
            cfg.thresholds.declared_curl_urls,
        )
        .is_some();
        let exec = Exec {
            image: &image,
            cmdline: args.join(" "),
        };
        let hits: Vec<&str> = declared
            .iter()
            .filter(|r| rule_matches(r, &exec))
            .map(|r| r.slug.as_str())
            .collect();
        let exported = !hits.is_empty();
        match difference {
            None => {
                assert_eq!(exported, engine, "{line}: engine {engine}, rules {hits:?}");
                agree += 1;
            }
            Some(why) => assert_ne!(exported, engine, "{line}: expected to differ ({why})"),
        }
    }
    assert!(agree >= 40, "{agree}");
}

#[test]
fn a_changed_cut_off_moves_the_rules() {
    let mut cfg = Config::default();
    cfg.thresholds.declared_packets_per_s = 200.0;
    let rules = RuleSet::from_config(&cfg, &[]);
    let ping = rules.event_rule("ping_flood").unwrap();
    let at = |line: &str| {
        let args = argv(line);
        rule_matches(
            ping,
            &Exec {
                image: &args[0].clone(),
                cmdline: args.join(" "),
            },
        )
    };
    // 1/200 s: 0.005 is a flood, 0.01 (100/s) no longer; preload must reach 200.
    assert!(at("/sbin/ping -i 0.005 10.0.0.1"));
    assert!(!at("/sbin/ping -i 0.01 10.0.0.1"));
    assert!(!at("/sbin/ping -l 150 10.0.0.1"));
    assert!(at("/sbin/ping -l 200 10.0.0.1"));
    assert!(at("/sbin/ping -f 10.0.0.1"), "-f is a flood at any cut-off");
    let hping = rules.event_rule("hping_flood").unwrap();
    assert!(
        !format!("{:?}", hping.selections).contains("--faster"),
        "100/s < 200/s"
    );
}

/// ES|QL's `RLIKE` (Lucene: the whole value, no `\s`/`\d`) reads the translated expressions as the
/// searched originals on every command line here. Lucene's syntax for this subset (classes,
/// groups, alternation, `?`, `*`, `+`, `{n,}`) is the same as Rust's, so an anchored Rust regex
/// stands in for it.
#[test]
fn lucene_translations_match_where_the_originals_do() {
    let rules = RuleSet::from_config(&Config::default(), &[]);
    let mut compared = 0;
    for r in &rules.event_rules {
        for s in r.selections.iter().chain(&r.filters) {
            for c in &s.conds {
                let Match::Regex(re) = &c.m else {
                    continue;
                };
                let original = regex::Regex::new(re).unwrap();
                let lucene = floodwatch_export::regex::to_lucene(re);
                let whole = regex::Regex::new(&format!("^(?s:{lucene})$")).unwrap();
                for (line, _) in CASES {
                    let cmd = argv(line).join(" ");
                    assert_eq!(
                        whole.is_match(&cmd),
                        original.is_match(&cmd),
                        "{re} vs {lucene} on {cmd}"
                    );
                    compared += 1;
                }
            }
        }
    }
    assert!(compared > 300, "{compared}");
}
