//! Score and severity, table-driven: rows of inputs (peaks, context, declared intent, protocols,
//! destination, hot windows, baseline) → the score, its reasons (code and points, in order) and the
//! severity; and network findings (class, peak ratio) → their severity through the same policy.

use floodwatch_core::alert::Severity;
use floodwatch_core::config::Config;
use floodwatch_core::event::{Proto, SignatureClass};
use floodwatch_core::finding::NetworkClass;
use floodwatch_engine::baseline::{BaselineKey, Deviation, Judgement, Standing};
use floodwatch_engine::context::{Context, LaunchedBy};
use floodwatch_engine::declared::Declared;
use floodwatch_engine::score::{network_score, score, Peaks, ScoreInput};
use floodwatch_engine::severity::severity;
use floodwatch_engine::window::Trigger;

fn ctx(launched_by: LaunchedBy) -> Context {
    Context {
        launched_by,
        chain: "launchd → /usr/sbin/cron → /bin/bash /opt/x.sh".into(),
        tty: None,
        tty_known: true,
        responsible: None,
        interactive: false,
        remote_session: None,
        unattended: false,
        away: None,
        root: false,
        signature: SignatureClass::Platform,
        suspicious_path: None,
        session: "unknown (no session events)".into(),
    }
}

fn peaks(ratios: &[(Trigger, f64)]) -> Peaks {
    Peaks {
        spawns_per_s: 10.0,
        packets_per_s: 1_500.0,
        weighted_packets_per_s: 1_875.0,
        bytes_per_s: 64e7,
        weighted_bytes_per_s: 64e7,
        connections_per_s: 60.0,
        ratios: ratios.to_vec(),
    }
}

fn ping_flood() -> Declared {
    Declared {
        est_pps: Some(100.0),
        bytes_per_packet: Some(84.0),
        unbounded: false,
        proto: Proto::Icmp,
        what: "ping -f (flood: at least 100 packets/s)".into(),
    }
}

fn nping_rate() -> Declared {
    Declared {
        est_pps: Some(5000.0),
        bytes_per_packet: None,
        unbounded: false,
        proto: Proto::Tcp,
        what: "nping at 5000 probes/s".into(),
    }
}

fn mature_deviation(ratio: f64) -> Judgement {
    Judgement {
        key: BaselineKey {
            identity: "com.apple.curl".into(),
            parent_class: "launchd_daemon".into(),
            role: "build-agent".into(),
        },
        standing: Standing::Mature,
        windows: 4_000,
        days: 21.0,
        hosts: 3,
        seen_on_host: false,
        role_learned: true,
        deviation: Some(Deviation {
            signal: "spawns_per_s".into(),
            value: 10.0,
            p99: 10.0 / ratio,
            ratio,
        }),
        over_ceiling: false,
        absorbed: false,
    }
}

struct Row {
    name: &'static str,
    ratios: Vec<(Trigger, f64)>,
    ctx: Context,
    declared: Option<Declared>,
    hot_windows: u32,
    top_destination: Option<(&'static str, f64)>,
    protos: Vec<Proto>,
    proto_from_cmdline: Option<&'static str>,
    baseline: Option<Judgement>,
    score: u8,
    reasons: Vec<(&'static str, i32)>,
    severity: Severity,
}

fn rows() -> Vec<Row> {
    vec![
        Row {
            name: "a cron curl loop at twice the spawn threshold, as root, to one destination",
            ratios: vec![(Trigger::Spawns, 2.0)],
            ctx: Context {
                unattended: true,
                root: true,
                ..ctx(LaunchedBy::Cron)
            },
            declared: None,
            hot_windows: 1,
            top_destination: Some(("203.0.113.10", 1.0)),
            protos: vec![Proto::Tcp],
            proto_from_cmdline: None,
            baseline: None,
            // base 35 + 10 × log2(2) = 45
            score: 70,
            reasons: vec![
                ("spawn_rate", 45),
                ("unattended", 15),
                ("root", 5),
                ("concentrated_destination", 5),
            ],
            severity: Severity::High,
        },
        Row {
            name: "a declared ping flood with no measured volume, from a launchd agent",
            ratios: vec![],
            ctx: Context {
                unattended: true,
                ..ctx(LaunchedBy::LaunchdAgent)
            },
            declared: Some(ping_flood()),
            hot_windows: 1,
            top_destination: None,
            protos: vec![Proto::Icmp],
            proto_from_cmdline: None,
            baseline: None,
            // The declared flood carries the declared base (40) instead of the base.
            score: 60,
            reasons: vec![
                ("declared_flood", 40),
                ("unattended", 15),
                ("stateless_protocol", 5),
            ],
            severity: Severity::Medium,
        },
        Row {
            name: "interactive UDP at the packet threshold ranks below low",
            ratios: vec![(Trigger::Packets, 1.0)],
            ctx: Context {
                tty: Some("ttys001".into()),
                interactive: true,
                responsible: Some(
                    "/System/Applications/Utilities/Terminal.app/Contents/MacOS/Terminal".into(),
                ),
                ..ctx(LaunchedBy::Terminal)
            },
            declared: None,
            hot_windows: 1,
            top_destination: Some(("198.51.100.9", 0.5)),
            protos: vec![Proto::Udp],
            proto_from_cmdline: None,
            baseline: None,
            score: 25,
            reasons: vec![
                ("packet_rate", 35),
                ("stateless_protocol", 5),
                ("interactive", -15),
            ],
            severity: Severity::Informational,
        },
        Row {
            name: "a declared flood typed at this Mac's keyboard: no interactive discount, raised to medium",
            ratios: vec![],
            ctx: Context {
                tty: Some("/dev/ttys001".into()),
                interactive: true,
                responsible: Some(
                    "/System/Applications/Utilities/Terminal.app/Contents/MacOS/Terminal".into(),
                ),
                ..ctx(LaunchedBy::Terminal)
            },
            declared: Some(nping_rate()),
            hot_windows: 1,
            top_destination: None,
            protos: vec![Proto::Tcp],
            proto_from_cmdline: None,
            baseline: None,
            // 40 declared + 0 (the discount is not for a declared flood) = 40, below the medium
            // floor: raised by 10 to 50, as a reason of its own.
            score: 50,
            reasons: vec![
                ("declared_flood", 40),
                ("interactive", 0),
                ("declared_floor", 10),
            ],
            severity: Severity::Medium,
        },
        Row {
            name: "a declared flood from an unknown launcher, TTY not reported: still medium",
            ratios: vec![],
            ctx: Context {
                tty_known: false,
                ..ctx(LaunchedBy::Unknown)
            },
            declared: Some(nping_rate()),
            hot_windows: 1,
            top_destination: None,
            protos: vec![Proto::Tcp],
            proto_from_cmdline: None,
            baseline: None,
            score: 50,
            reasons: vec![("declared_flood", 40), ("declared_floor", 10)],
            severity: Severity::Medium,
        },
        Row {
            name: "UDP over a TTY that came through sshd: a remote login, neither discounted nor unattended",
            ratios: vec![(Trigger::Packets, 2.0)],
            ctx: Context {
                tty: Some("/dev/ttys003".into()),
                remote_session: Some("remote session via sshd-session (tty ttys003)".into()),
                ..ctx(LaunchedBy::Ssh)
            },
            declared: None,
            hot_windows: 1,
            top_destination: None,
            protos: vec![Proto::Udp],
            proto_from_cmdline: None,
            baseline: None,
            score: 50,
            reasons: vec![
                ("packet_rate", 45),
                ("stateless_protocol", 5),
                ("remote_session", 0),
            ],
            severity: Severity::Medium,
        },
        Row {
            name: "25 MB/s of UDP (protocol from the command line) from an unattended python one-liner",
            // 25 MB/s × 1.25 (UDP) = 31.25 MB/s weighted, 3.125× the 10 MB/s threshold.
            ratios: vec![(Trigger::Bytes, 3.125)],
            ctx: Context {
                unattended: true,
                ..ctx(LaunchedBy::LaunchdDaemon)
            },
            declared: None,
            hot_windows: 1,
            top_destination: None,
            protos: vec![Proto::Udp],
            proto_from_cmdline: Some(
                "python -c program opens socket(2, 2) = socket(AF_INET, SOCK_DGRAM)",
            ),
            baseline: None,
            // 35 + 10 × log2(3.125) = 51.4
            score: 71,
            reasons: vec![
                ("byte_rate", 51),
                ("unattended", 15),
                ("stateless_protocol", 5),
            ],
            severity: Severity::High,
        },
        Row {
            name: "connections at 1.5× from an unknown launcher, TTY not reported",
            ratios: vec![(Trigger::Connections, 1.5)],
            ctx: Context {
                tty_known: false,
                ..ctx(LaunchedBy::Unknown)
            },
            declared: None,
            hot_windows: 1,
            top_destination: None,
            protos: vec![Proto::Tcp],
            proto_from_cmdline: None,
            baseline: None,
            // 35 + 10 × log2(1.5) = 40.8, rounded
            score: 41,
            reasons: vec![("connection_rate", 41)],
            severity: Severity::Low,
        },
        Row {
            name: "everything at once: the base caps at base_max and the score at 100",
            ratios: vec![(Trigger::Connections, 3.0), (Trigger::Bytes, 64.0)],
            ctx: Context {
                unattended: true,
                away: Some("screen locked since 03:00:00".into()),
                root: true,
                signature: SignatureClass::AdHoc,
                suspicious_path: Some("/private/tmp/.x/flood".into()),
                ..ctx(LaunchedBy::LaunchdDaemon)
            },
            declared: Some(ping_flood()),
            hot_windows: 5,
            top_destination: Some(("198.51.100.9", 0.9)),
            protos: vec![Proto::Udp, Proto::Icmp],
            proto_from_cmdline: None,
            baseline: None,
            score: 100,
            // Measured signals strongest first (only the first carries the base), then context by
            // points, ties in the order they are considered. 5 hot windows span 90 s: 2 extra windows.
            reasons: vec![
                ("byte_rate", 60),
                ("connection_rate", 0),
                ("unattended", 15),
                ("declared_flood", 10),
                ("unsigned_or_adhoc", 10),
                ("suspicious_path", 10),
                ("session_away", 5),
                ("root", 5),
                ("stateless_protocol", 5),
                ("concentrated_destination", 5),
                ("sustained", 4),
            ],
            severity: Severity::Critical,
        },
        Row {
            name: "a launchd daemon at its threshold, three times its mature baseline, never seen on this host",
            ratios: vec![(Trigger::Spawns, 1.0)],
            ctx: Context {
                unattended: true,
                ..ctx(LaunchedBy::LaunchdDaemon)
            },
            declared: None,
            hot_windows: 1,
            top_destination: None,
            protos: vec![],
            proto_from_cmdline: None,
            baseline: Some(mature_deviation(3.0)),
            score: 65,
            reasons: vec![
                ("spawn_rate", 35),
                ("unattended", 15),
                ("baseline_deviation", 10),
                ("first_seen", 5),
            ],
            severity: Severity::Medium,
        },
    ]
}

#[test]
fn score_reasons_and_severity_per_row() {
    let cfg = Config::default();
    for row in rows() {
        let p = peaks(&row.ratios);
        let (got, reasons) = score(&ScoreInput {
            cfg: &cfg,
            peaks: &p,
            ctx: &row.ctx,
            declared: row.declared.as_ref(),
            hot_windows: row.hot_windows,
            top_destination: row.top_destination,
            protos: &row.protos,
            proto_from_cmdline: row.proto_from_cmdline,
            top_tool: Some("curl"),
            estimated_packets: false,
            baseline: row.baseline.as_ref(),
            invalid_utf8: false,
        });
        let codes: Vec<(&str, i32)> = reasons
            .iter()
            .map(|r| (r.code.as_str(), r.points))
            .collect();
        assert_eq!(codes, row.reasons, "{}", row.name);
        assert_eq!(got, row.score, "{}", row.name);
        assert_eq!(severity(got), row.severity, "{}", row.name);
    }
}

#[test]
fn reasons_carry_their_numbers() {
    let cfg = Config::default();
    let rows = rows();
    let row = &rows[0];
    let p = peaks(&row.ratios);
    let (_, reasons) = score(&ScoreInput {
        cfg: &cfg,
        peaks: &p,
        ctx: &row.ctx,
        declared: None,
        hot_windows: 1,
        top_destination: row.top_destination,
        protos: &row.protos,
        proto_from_cmdline: None,
        top_tool: Some("curl"),
        estimated_packets: false,
        baseline: None,
        invalid_utf8: false,
    });
    let texts: Vec<&str> = reasons.iter().map(|r| r.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "10.0 curl execs/s from one parent for 30 s (threshold 5/s)",
            "unattended: no TTY; launched by cron: launchd → /usr/sbin/cron → /bin/bash /opt/x.sh",
            "runs as root (euid 0)",
            "100% of the traffic went to one destination: 203.0.113.10",
        ]
    );
    assert_eq!(reasons[0].value, Some(10.0));
    assert_eq!(reasons[0].threshold, Some(5.0));
}

/// Bytes that are not UTF-8 in a counted command line add their reason and points.
#[test]
fn invalid_utf8_is_a_reason() {
    let cfg = Config::default();
    let rows = rows();
    let row = &rows[0];
    let p = peaks(&row.ratios);
    let input = |invalid_utf8| ScoreInput {
        cfg: &cfg,
        peaks: &p,
        ctx: &row.ctx,
        declared: None,
        hot_windows: 1,
        top_destination: row.top_destination,
        protos: &row.protos,
        proto_from_cmdline: None,
        top_tool: Some("curl"),
        estimated_packets: false,
        baseline: None,
        invalid_utf8,
    };
    let (clean, _) = score(&input(false));
    let (garbled, reasons) = score(&input(true));
    let r = reasons.iter().find(|r| r.code == "invalid_utf8").unwrap();
    assert_eq!(r.points, cfg.scoring.invalid_utf8);
    assert!(r.text.contains("not UTF-8"), "{}", r.text);
    assert_eq!(
        i32::from(garbled),
        i32::from(clean) + cfg.scoring.invalid_utf8
    );
}

#[test]
fn severity_bands() {
    for (score, want) in [
        (0, Severity::Informational),
        (1, Severity::Informational),
        (29, Severity::Informational),
        (30, Severity::Low),
        (49, Severity::Low),
        (50, Severity::Medium),
        (69, Severity::Medium),
        (70, Severity::High),
        (89, Severity::High),
        (90, Severity::Critical),
        (100, Severity::Critical),
    ] {
        assert_eq!(severity(score), want, "score {score}");
    }
}

#[test]
fn network_findings_get_their_severity_from_the_same_bands() {
    for (class, ratio, score, want) in [
        // A scan is never a flood, whatever its rate.
        (NetworkClass::Scan, 0.0, 0, Severity::Informational),
        (NetworkClass::Scan, 500.0, 0, Severity::Informational),
        // A flood: 50 at its threshold, +10 per whole doubling, up to two (high, never critical).
        (NetworkClass::Flood, 1.0, 50, Severity::Medium),
        (NetworkClass::Flood, 1.99, 50, Severity::Medium),
        (NetworkClass::Flood, 2.0, 60, Severity::Medium),
        (NetworkClass::Flood, 3.999_999, 60, Severity::Medium),
        (NetworkClass::Flood, 4.0, 70, Severity::High),
        (NetworkClass::Flood, 54.7, 70, Severity::High),
        (NetworkClass::Flood, f64::INFINITY, 70, Severity::High),
    ] {
        assert_eq!(network_score(class, ratio), score, "{class:?} × {ratio}");
        assert_eq!(
            severity(network_score(class, ratio)),
            want,
            "{class:?} × {ratio}"
        );
    }
}

#[test]
fn network_flood_severity_is_what_the_network_rule_gave() {
    // The rule network findings had before the one policy: two doublings past a threshold is high,
    // less is medium.
    let before = |ratio: f64| {
        if ratio >= 4.0 {
            Severity::High
        } else {
            Severity::Medium
        }
    };
    let mut ratio = 1.0;
    while ratio < 1e6 {
        for r in [ratio, ratio * (1.0 - 1e-12), ratio * (1.0 + 1e-12)] {
            assert_eq!(
                severity(network_score(NetworkClass::Flood, r)),
                before(r),
                "ratio {r}"
            );
        }
        ratio *= 1.25;
    }
    // The largest ratio below 4 (the gap between doubles just below 4 is 2 × EPSILON).
    let below_four = 4.0 - 2.0 * f64::EPSILON;
    assert!(below_four < 4.0);
    assert_eq!(
        severity(network_score(NetworkClass::Flood, below_four)),
        Severity::Medium
    );
}

/// The explanation says where the protocol came from when the source reported none.
#[test]
fn a_protocol_from_the_command_line_is_said_so() {
    let cfg = Config::default();
    let rows = rows();
    let row = rows
        .iter()
        .find(|r| r.proto_from_cmdline.is_some())
        .expect("a row with the protocol from the command line");
    let p = Peaks {
        bytes_per_s: 25e6,
        weighted_bytes_per_s: 31.25e6,
        ..peaks(&row.ratios)
    };
    let (_, reasons) = score(&ScoreInput {
        cfg: &cfg,
        peaks: &p,
        ctx: &row.ctx,
        declared: None,
        hot_windows: 1,
        top_destination: None,
        protos: &row.protos,
        proto_from_cmdline: row.proto_from_cmdline,
        top_tool: None,
        estimated_packets: false,
        baseline: None,
        invalid_utf8: false,
    });
    let texts: Vec<&str> = reasons.iter().map(|r| r.text.as_str()).collect();
    assert_eq!(
        texts[0],
        "25.0 MB/s outbound (UDP taken from the command line: python -c program opens socket(2, 2) = socket(AF_INET, SOCK_DGRAM); weighted 31.2 MB/s; threshold 10.0 MB/s)"
    );
    assert!(
        texts.contains(&"stateless protocol (UDP, from the command line)"),
        "{texts:?}"
    );
}
