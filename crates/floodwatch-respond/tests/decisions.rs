//! The playbook's decision points are answered from the data, and the recommended first containment
//! step follows them: each test changes one fact and sees the answer and the first step change.

use floodwatch_core::alert::*;
use floodwatch_core::config::{Config, OwnedRange};
use floodwatch_core::event::{Proto, SignatureClass, Tty};
use floodwatch_core::respond::{Answer, Playbook};
use floodwatch_core::Ts;
use floodwatch_respond::{playbook_alone, respond};

fn view(path: &str, cmd: &str, sig: SignatureClass) -> ProcessView {
    ProcessView {
        pid: 812,
        start_time: Some(Ts::from_secs(1_757_992_318)),
        path: Some(path.into()),
        cmd_line: Some(cmd.into()),
        uid: Some(501),
        euid: Some(501),
        user: Some("ana".into()),
        tty: Tty::None,
        signing_id: Some("com.apple.ping".into()),
        team_id: None,
        signature: sig,
    }
}

/// Apple's ping flooding an outside address, unattended, started by cron, still running.
fn trusted() -> Alert {
    Alert {
        id: "a1".into(),
        host: "mac-01".into(),
        first_seen: Ts::from_secs(1_757_992_320),
        last_seen: Ts::from_secs(1_757_992_410),
        score: 71,
        severity: Severity::High,
        metrics: Metrics {
            window_secs: 30,
            hot_windows: 4,
            peak_packets_per_s: 500.0,
            peak_bytes_per_s: 614_000.0,
            top_destination: Some("203.0.113.50".into()),
            destination_share: Some(1.0),
            protocols: vec![Proto::Icmp],
            ..Metrics::default()
        },
        subject: SubjectView {
            kind: "process".into(),
            process: view(
                "/sbin/ping",
                "/sbin/ping -i 0.002 -s 1200 203.0.113.50",
                SignatureClass::Platform,
            ),
            ..SubjectView::default()
        },
        context: ContextView {
            unattended: true,
            launched_by: "cron".into(),
            launch_chain: "launchd → cron → /sbin/ping".into(),
            tty_known: true,
            session_state: "locked".into(),
            signature: Some(SignatureClass::Platform),
            ..ContextView::default()
        },
        facts: AlertFacts {
            exits_visible: true,
            host_last_event: Some(Ts::from_secs(1_757_992_500)),
            uid: Some(501),
            tool: Some("ping".into()),
            identity: "com.apple.ping".into(),
            ..AlertFacts::default()
        },
        ..Alert::default()
    }
}

/// The same, but an unsigned binary from a user-writable path.
fn untrusted() -> Alert {
    let mut a = trusted();
    a.subject.process.path = Some("/Users/ana/.local/bin/pinger".into());
    a.subject.process.signature = SignatureClass::Unsigned;
    a.subject.process.signing_id = None;
    a.context.suspicious_path = Some("/Users/ana/.local/bin/pinger".into());
    a
}

fn cfg() -> Config {
    Config::default()
}

fn book(a: &Alert, cfg: &Config) -> Playbook {
    playbook_alone(a, cfg)
}

fn answer(p: &Playbook, id: &str) -> Answer {
    p.decision(id).unwrap_or_else(|| panic!("no {id}")).answer
}

#[test]
fn every_decision_point_is_answered_with_a_fact() {
    let p = book(&trusted(), &cfg());
    let ids: Vec<&str> = p.decisions.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "documented_automation",
            "still_running",
            "trusted_code",
            "someone_present",
            "role_expected",
            "target_answered",
            "destination_owned"
        ]
    );
    for d in &p.decisions {
        assert!(!d.fact.is_empty(), "{} has no fact", d.id);
    }
    // Options least disruptive first, and the recommended one among them.
    let order: Vec<u8> = p.containment.iter().map(|c| c.disruption).collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    assert!(p.recommended_option().is_some());
    assert!(p.next.starts_with(&p.recommended_option().unwrap().title));
}

#[test]
fn signed_or_unsigned_changes_the_answer_and_the_first_step() {
    let c = cfg();
    let signed = book(&trusted(), &c);
    let unsigned = book(&untrusted(), &c);
    assert_eq!(answer(&signed, "trusted_code"), Answer::Yes);
    assert_eq!(answer(&unsigned, "trusted_code"), Answer::No);
    assert!(unsigned
        .decision("trusted_code")
        .unwrap()
        .fact
        .contains("/Users/ana/.local/bin/pinger"));
    assert_eq!(signed.recommended, "stop_process");
    assert_eq!(unsigned.recommended, "isolate_host");
}

#[test]
fn someone_at_the_keyboard_changes_the_answer_and_the_first_step() {
    let c = cfg();
    let nobody = book(&untrusted(), &c);
    let mut a = untrusted();
    a.context.unattended = false;
    a.context.interactive = true;
    a.context.tty = Some("ttys004".into());
    a.context.launched_by = "terminal".into();
    a.subject.process.tty = Tty::Some("ttys004".into());
    let someone = book(&a, &c);
    assert_eq!(answer(&nobody, "someone_present"), Answer::No);
    assert_eq!(answer(&someone, "someone_present"), Answer::Yes);
    assert!(someone
        .decision("someone_present")
        .unwrap()
        .fact
        .contains("ttys004"));
    assert_eq!(nobody.recommended, "isolate_host");
    assert_eq!(someone.recommended, "stop_process");
}

#[test]
fn an_owned_destination_changes_the_answer_and_the_first_step() {
    let outside = book(&untrusted(), &cfg());
    let mut c = cfg();
    c.respond.owned_ranges.push(OwnedRange {
        cidr: "203.0.113.0/24".into(),
        name: "status API".into(),
    });
    let owned = book(&untrusted(), &c);
    assert_eq!(answer(&outside, "destination_owned"), Answer::No);
    assert_eq!(answer(&owned, "destination_owned"), Answer::Yes);
    assert!(owned
        .decision("destination_owned")
        .unwrap()
        .fact
        .contains("status API"));
    assert_eq!(outside.recommended, "isolate_host");
    assert_eq!(owned.recommended, "stop_process");
    // The impact checks name the owned service and what to watch on it.
    let i = &owned.impact[0];
    assert_eq!(i.owned_service.as_deref(), Some("status API"));
    assert!(i
        .checks
        .iter()
        .any(|c| c.contains("status API's own error rate")));
}

#[test]
fn still_running_or_exited_changes_the_answer_and_the_first_step() {
    let c = cfg();
    let running = book(&trusted(), &c);
    let mut a = trusted();
    a.facts.exited = Some(Ts::from_secs(1_757_992_415));
    let exited = book(&a, &c);
    assert_eq!(answer(&running, "still_running"), Answer::Yes);
    assert_eq!(answer(&exited, "still_running"), Answer::No);
    assert!(exited
        .decision("still_running")
        .unwrap()
        .fact
        .contains("exited at 2025-09-16T03:13:35"));
    assert_eq!(running.recommended, "stop_process");
    assert_eq!(exited.recommended, "block_destination");
    let stop = exited
        .containment
        .iter()
        .find(|c| c.id == "stop_process")
        .unwrap();
    assert!(!stop.applicable);
    // Without exit events in the telemetry, "no exit seen" is not "running".
    let mut b = trusted();
    b.facts.exits_visible = false;
    assert_eq!(answer(&book(&b, &c), "still_running"), Answer::Unknown);
}

#[test]
fn a_launchd_job_is_unloaded_not_killed_and_a_suppression_means_confirm_with_its_owner() {
    let c = cfg();
    let mut a = trusted();
    a.context.launched_by = "launchd_agent".into();
    let p = book(&a, &c);
    assert_eq!(p.recommended, "unload_job");
    let unload = p.recommended_option().unwrap();
    assert!(unload
        .commands
        .iter()
        .any(|c| c.contains("launchctl bootout gui/501")));
    let mut s = trusted();
    s.suppressed_by = Some(SuppressionHit {
        id: "sup-7".into(),
        owner: "netops".into(),
        reason: "uplink probe".into(),
        expires: "2027-01-01".into(),
    });
    let p = book(&s, &c);
    assert_eq!(answer(&p, "documented_automation"), Answer::Yes);
    assert!(p
        .decision("documented_automation")
        .unwrap()
        .fact
        .contains("netops"));
    assert_eq!(p.recommended, "confirm_owner");
}

#[test]
fn the_kill_checks_the_start_time_so_a_reused_pid_is_not_killed() {
    let p = book(&trusted(), &cfg());
    let stop = p
        .containment
        .iter()
        .find(|c| c.id == "stop_process")
        .unwrap();
    let kill = stop.commands.iter().find(|c| c.contains("kill")).unwrap();
    assert!(
        kill.starts_with(
            "[ \"$(TZ=UTC LC_ALL=C ps -p 812 -o lstart=)\" = 'Tue Sep 16 03:11:58 2025' ] && "
        ),
        "{kill}"
    );
}

#[test]
fn role_and_answers_come_from_the_facts() {
    let mut c = cfg();
    let mut a = trusted();
    a.facts.role = Some("build-agent".into());
    a.facts.traffic_samples = 4;
    a.facts.bytes_in = 0;
    let p = book(&a, &c);
    assert_eq!(answer(&p, "role_expected"), Answer::No);
    assert_eq!(answer(&p, "target_answered"), Answer::No);
    c.respond
        .expected_tools
        .insert("build-agent".into(), vec!["ping".into()]);
    a.facts.bytes_in = 9000;
    let p = book(&a, &c);
    assert_eq!(answer(&p, "role_expected"), Answer::Yes);
    assert_eq!(answer(&p, "target_answered"), Answer::Yes);
}

#[test]
fn a_campaign_raises_its_members_and_links_them() {
    let c = cfg();
    let mut alerts: Vec<Alert> = (0..4)
        .map(|i| {
            let mut a = untrusted();
            a.id = format!("id-{i}");
            a.host = format!("mac-{i:02}");
            a.first_seen = Ts::from_secs(1_757_992_320 + 10 * i);
            a
        })
        .collect();
    // A fifth host floods elsewhere: not a member.
    let mut other = untrusted();
    other.id = "id-x".into();
    other.host = "mac-99".into();
    other.metrics.top_destination = Some("198.51.100.9".into());
    alerts.push(other);
    let before: Vec<u8> = alerts.iter().map(|a| a.score).collect();
    let campaigns = respond(alerts.iter_mut().collect(), &mut [], &c);
    assert_eq!(campaigns.len(), 1);
    let k = &campaigns[0];
    assert_eq!(k.hosts, ["mac-00", "mac-01", "mac-02", "mac-03"]);
    assert_eq!(k.destination, "203.0.113.50");
    assert_eq!(k.members.len(), 4);
    for (a, b) in alerts.iter().zip(&before).take(4) {
        assert_eq!(
            a.campaign.as_ref().map(|r| r.id.as_str()),
            Some(k.id.as_str())
        );
        assert_eq!(a.score, b + c.campaign.score_bonus);
        let r = a.reasons.iter().find(|r| r.code == "campaign").unwrap();
        assert!(r.text.contains("4 hosts"), "{}", r.text);
        assert_eq!(
            a.playbook.as_ref().unwrap().impact[0].hosts_same_destination,
            4
        );
    }
    assert!(alerts[4].campaign.is_none());
    assert_eq!(alerts[4].score, before[4]);
    assert!(k
        .shared_traits
        .iter()
        .any(|t| t.contains("same signing id") || t.contains("same command line shape")));
    // Below min_hosts: no campaign.
    let mut two: Vec<Alert> = alerts.drain(..2).collect();
    for a in &mut two {
        a.campaign = None;
    }
    assert!(respond(two.iter_mut().collect(), &mut [], &c).is_empty());
}
