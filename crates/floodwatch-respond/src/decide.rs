//! Decision points, each answered from the evidence: yes, no or unknown, with the fact behind it.

use crate::owned::{ownership, Ownership};
use floodwatch_core::alert::{Alert, ProcessView};
use floodwatch_core::config::Config;
use floodwatch_core::event::{basename, SignatureClass};
use floodwatch_core::finding::{JoinKind, NetworkFinding};
use floodwatch_core::respond::{Answer, Decision};
use floodwatch_core::Ts;
use floodwatch_engine::network::endpoint::host_in_word;

/// The decision points of one finding, and what containment needs from them.
pub struct Decided {
    pub decisions: Vec<Decision>,
    pub documented: Answer,
    pub running: Answer,
    pub trusted: Answer,
    pub present: Answer,
    pub owned: Ownership,
    /// The destination the checks and the block are about, when there is one.
    pub destination: Option<String>,
}

fn decision(id: &str, question: &str, answer: Answer, fact: String) -> Decision {
    Decision {
        id: id.into(),
        question: question.into(),
        answer,
        fact,
    }
}

const Q_DOCUMENTED: &str = "Is this documented automation (a suppression or a learned baseline)?";
const Q_RUNNING: &str = "Is it still running at the end of the data?";
const Q_TRUSTED: &str = "Is the code signed by Apple or a known team (not ad hoc, unsigned or from a user-writable path)?";
const Q_PRESENT: &str = "Is anyone at the keyboard (local TTY, UI session)?";
const Q_ROLE: &str = "Is this tool expected on this host's role?";
const Q_ANSWERED: &str = "Did the target answer (a conversation, not one-way traffic)?";
const Q_OWNED: &str = "Is the destination inside the organization?";

pub fn decide_alert(a: &Alert, cfg: &Config) -> Decided {
    let f = &a.facts;
    let p = &a.subject.process;
    let c = &a.context;
    let mut out = Vec::with_capacity(7);

    let (documented, fact) = if let Some(s) = &a.suppressed_by {
        (
            Answer::Yes,
            format!(
                "suppression {} (owner {}: {}; expires {}) covers it",
                s.id, s.owner, s.reason, s.expires
            ),
        )
    } else if let Some(note) = a.suppression_notes.first() {
        (
            Answer::Yes,
            format!("a suppression matched but did not apply: {note}"),
        )
    } else {
        match &f.baseline {
            Some(b) if b.standing != "missing" => {
                let above = match (&b.signal, b.ratio) {
                    (Some(sig), Some(r)) if r.is_finite() => {
                        format!("; this peak is {r:.1}× its p99 {sig}")
                    }
                    (Some(sig), Some(_)) => format!("; it never had {sig} before"),
                    _ => String::new(),
                };
                (
                    Answer::Yes,
                    format!(
                        "{} baseline for {}: {} windows over {:.1} days{above}",
                        b.standing, b.identity, b.windows, b.days
                    ),
                )
            }
            Some(b) => (
                Answer::No,
                format!(
                    "no suppression matched and no baseline is learned for {}",
                    b.identity
                ),
            ),
            None => (
                Answer::Unknown,
                "no suppression matched; no baseline store was consulted (hunt --db)".into(),
            ),
        }
    };
    out.push(decision(
        "documented_automation",
        Q_DOCUMENTED,
        documented,
        fact,
    ));

    let (running, fact) = match (f.exited, f.exits_visible) {
        (Some(t), _) => (
            Answer::No,
            format!("pid {} exited at {}", p.pid, t.to_rfc3339_millis()),
        ),
        (None, true) => (
            Answer::Yes,
            format!(
                "no exit of pid {} seen up to the host's last event{}",
                p.pid,
                at(f.host_last_event)
            ),
        ),
        (None, false) => (
            Answer::Unknown,
            format!(
                "this host's telemetry reports no process exits (traffic or log sources only); pid {} was last seen sending at {}",
                p.pid,
                a.last_seen.to_rfc3339_millis()
            ),
        ),
    };
    out.push(decision("still_running", Q_RUNNING, running, fact));

    let (trusted, fact) = if let Some(path) = &c.suspicious_path {
        (
            Answer::No,
            format!(
                "runs from a hidden or user-writable path: {path} (signer: {})",
                signer(p)
            ),
        )
    } else {
        signature_answer(p, f.script.as_deref(), cfg)
    };
    out.push(decision("trusted_code", Q_TRUSTED, trusted, fact));

    let (present, fact) = if c.interactive {
        (
            Answer::Yes,
            format!(
                "local terminal {} (session: {})",
                c.tty.as_deref().unwrap_or("tty"),
                c.session_state
            ),
        )
    } else if let Some(r) = &c.remote_session {
        (
            Answer::No,
            format!("{r}: driven remotely, nobody at this Mac's keyboard"),
        )
    } else if c.unattended {
        (
            Answer::No,
            format!(
                "unattended: {}; launched by {}; session: {}",
                if c.tty_known { "no TTY" } else { "TTY unknown" },
                c.launched_by.replace('_', " "),
                c.session_state
            ),
        )
    } else {
        (
            Answer::Unknown,
            format!(
                "{}; launched by {}; session: {}",
                if c.tty_known {
                    "no TTY"
                } else {
                    "the telemetry cannot tell the TTY"
                },
                c.launched_by.replace('_', " "),
                c.session_state
            ),
        )
    };
    out.push(decision("someone_present", Q_PRESENT, present, fact));

    let tool = f
        .tool
        .clone()
        .unwrap_or_else(|| basename(p.path.as_deref().unwrap_or("?")).to_string());
    let script = f.script.as_deref().map(basename);
    let (role_answer, fact) = match &f.role {
        None => (
            Answer::Unknown,
            "no host role (hunt --db with a roles file gives one)".to_string(),
        ),
        Some(role) => {
            let listed = cfg.respond.expected_tools.get(role);
            let learned = f.baseline.as_ref().filter(|b| b.standing != "missing");
            if let Some(t) =
                listed.and_then(|l| l.iter().find(|t| **t == tool || Some(t.as_str()) == script))
            {
                (
                    Answer::Yes,
                    format!("{t} is expected on role {role} ([respond] expected_tools)"),
                )
            } else if let Some(b) = learned {
                (
                    Answer::Yes,
                    format!(
                        "learned on role {role}: {} windows over {:.1} days",
                        b.windows, b.days
                    ),
                )
            } else if listed.is_some() {
                (
                    Answer::No,
                    format!("{tool} is not among the tools expected on role {role}, and no baseline has it there"),
                )
            } else {
                (
                    Answer::Unknown,
                    format!(
                        "role {role} lists no expected tools, and no baseline has {tool} there"
                    ),
                )
            }
        }
    };
    out.push(decision("role_expected", Q_ROLE, role_answer, fact));

    let (answered, fact) = if f.traffic_samples > 0 {
        if f.bytes_in > 0 {
            (
                Answer::Yes,
                format!(
                    "{} bytes came back over {} traffic sample(s): a conversation",
                    f.bytes_in, f.traffic_samples
                ),
            )
        } else {
            (
                Answer::No,
                format!(
                    "no byte came back in {} traffic sample(s): one-way",
                    f.traffic_samples
                ),
            )
        }
    } else {
        (
            Answer::Unknown,
            "no measured traffic: the evidence is process executions or the command line".into(),
        )
    };
    out.push(decision("target_answered", Q_ANSWERED, answered, fact));

    let destination = destination_of(a);
    let owned = owned_decision(destination.as_deref(), cfg, &mut out);
    Decided {
        decisions: out,
        documented,
        running,
        trusted,
        present,
        owned,
        destination,
    }
}

pub fn decide_finding(n: &NetworkFinding, cfg: &Config) -> Decided {
    let mut out = Vec::with_capacity(7);
    let proc = n.process.process.as_ref();
    out.push(decision(
        "documented_automation",
        Q_DOCUMENTED,
        Answer::Unknown,
        "network findings are not matched against suppressions or baselines".into(),
    ));
    let running_fact = match proc {
        Some(p) => format!(
            "pid {} ({}) was joined by {}; network sources do not report exits",
            p.pid,
            p.path.as_deref().unwrap_or("path unknown"),
            join_word(n.process.kind)
        ),
        None => format!(
            "no process behind it is known ({}); traffic was last seen at {}",
            join_word(n.process.kind),
            n.last_seen.to_rfc3339_millis()
        ),
    };
    out.push(decision(
        "still_running",
        Q_RUNNING,
        Answer::Unknown,
        running_fact,
    ));
    let (trusted, fact) = match proc {
        Some(p) => signature_answer(p, None, cfg),
        None => (
            Answer::Unknown,
            "no process is known behind it (network telemetry)".to_string(),
        ),
    };
    out.push(decision("trusted_code", Q_TRUSTED, trusted, fact));
    out.push(decision(
        "someone_present",
        Q_PRESENT,
        Answer::Unknown,
        "network telemetry carries no session or TTY".into(),
    ));
    out.push(decision(
        "role_expected",
        Q_ROLE,
        Answer::Unknown,
        "network findings are not judged by host role".into(),
    ));
    let (answered, fact) = if n.answers_from_target > 0 {
        (
            Answer::Yes,
            format!(
                "the target sent {} answer(s) back (replies, resets or ICMP errors): the flood reached it",
                n.answers_from_target
            ),
        )
    } else {
        (
            Answer::No,
            "the capture shows no answer from the target: one-way".to_string(),
        )
    };
    out.push(decision("target_answered", Q_ANSWERED, answered, fact));
    let destination = n.target.clone();
    let owned = owned_decision(destination.as_deref(), cfg, &mut out);
    Decided {
        decisions: out,
        documented: Answer::Unknown,
        running: Answer::Unknown,
        trusted,
        present: Answer::Unknown,
        owned,
        destination,
    }
}

/// Where the alert's traffic went: the measured top destination, else the address or URL host its
/// command lines name most often (a curl loop whose connections no traffic source saw, a ping).
pub fn destination_of(a: &Alert) -> Option<String> {
    if let Some(d) = &a.metrics.top_destination {
        return Some(d.clone());
    }
    let mut counts: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    let lines = a
        .evidences
        .iter()
        .filter_map(|e| e.cmd_line.as_deref())
        .chain(a.subject.process.cmd_line.as_deref());
    for line in lines {
        if let Some(t) = line.split_whitespace().skip(1).find_map(target_of) {
            *counts.entry(t).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        .map(|(t, _)| t)
}

/// A command-line word naming a destination: a URL's host, or an IP address.
fn target_of(word: &str) -> Option<String> {
    let word = word.trim_matches(|c| c == '\'' || c == '"');
    if word.contains("://") {
        let host = host_in_word(word);
        return (!host.is_empty()).then(|| host.to_ascii_lowercase());
    }
    word.parse::<std::net::IpAddr>()
        .ok()
        .map(|ip| ip.to_string())
}

/// Trusted code? Apple's platform binaries (unless they only interpret a script, which carries no
/// signature) and `[respond] known_teams`; ad hoc and unsigned code is not; the rest is unknown.
fn signature_answer(p: &ProcessView, script: Option<&str>, cfg: &Config) -> (Answer, String) {
    let signer = signer(p);
    match p.signature {
        SignatureClass::Platform => match script {
            Some(script) => (
                Answer::Unknown,
                format!(
                    "Apple-signed interpreter running script {script}: a script carries no signature"
                ),
            ),
            None => (Answer::Yes, format!("Apple platform binary ({signer})")),
        },
        SignatureClass::Developer => {
            let team = p.team_id.as_deref().unwrap_or("");
            if cfg.respond.known_teams.iter().any(|t| t == team) {
                (
                    Answer::Yes,
                    format!("signed by known team {team} ({signer})"),
                )
            } else {
                (
                    Answer::Unknown,
                    format!(
                        "Developer ID signed ({signer}); team {team} is not in [respond] known_teams"
                    ),
                )
            }
        }
        SignatureClass::AdHoc => (Answer::No, format!("ad hoc signature ({signer})")),
        SignatureClass::Unsigned => (Answer::No, "unsigned".into()),
        SignatureClass::Unknown => (
            Answer::Unknown,
            "the telemetry carries no signing information for it".into(),
        ),
    }
}

/// "com.apple.curl", "com.acme.agent (team ACME7Q2X9Z)", or "no signing id".
fn signer(p: &ProcessView) -> String {
    match (&p.signing_id, &p.team_id) {
        (Some(s), Some(t)) => format!("{s} (team {t})"),
        (Some(s), None) => s.clone(),
        _ => "no signing id".into(),
    }
}

fn owned_decision(dest: Option<&str>, cfg: &Config, out: &mut Vec<Decision>) -> Ownership {
    let owned = match dest {
        Some(d) => ownership(d, &cfg.respond),
        None => Ownership {
            answer: Answer::Unknown,
            service: None,
            fact: "no destination was seen".into(),
        },
    };
    out.push(decision(
        "destination_owned",
        Q_OWNED,
        owned.answer,
        owned.fact.clone(),
    ));
    owned
}

fn join_word(k: JoinKind) -> &'static str {
    match k {
        JoinKind::Destination => "destination and time",
        JoinKind::CommandLine => "its command line naming the target",
        JoinKind::NotSeen => "nothing: process sources cover the host but none saw the target",
        JoinKind::NetworkOnly => "nothing: network-only, no process source covers the host",
    }
}

fn at(t: Option<Ts>) -> String {
    t.map(|t| format!(" at {}", t.to_rfc3339_millis()))
        .unwrap_or_default()
}
