//! The engine judged on labelled scenarios written in the real formats (eslogger JSON lines, nettop CSV,
//! unified-log ndjson) by `floodwatch-sim`, read back through the same sniffing and parsers as real
//! telemetry. Each scenario lives alone in its own host folder, so any alert on that host is about it.

use floodwatch_core::alert::Severity;
use floodwatch_core::config::Config;
use floodwatch_core::event::Proto;
use floodwatch_core::time::days_from_civil;
use floodwatch_core::Ts;
use floodwatch_engine::suppress::Suppressions;
use floodwatch_engine::AlertEvent;
use floodwatch_runtime::output::{write_hunt, AlertFormat};
use floodwatch_runtime::{hunt, HuntOptions};
use floodwatch_sim::families::{self, Act};
use floodwatch_sim::{write_scenario, Files, HostFiles, HostOpts, Scenario, Truth};
use std::path::Path;

use crate::common;

fn start() -> Ts {
    // 2025-09-16 02:30:00 UTC: a night on the victim's clock.
    Ts::from_secs(days_from_civil(2025, 9, 16) * 86_400 + 2 * 3_600 + 30 * 60)
}

fn run(dir: &Path) -> floodwatch_runtime::HuntResult {
    let opts = HuntOptions {
        paths: vec![dir.to_path_buf()],
        threads: 1,
        ..Default::default()
    };
    hunt(&opts, Config::default(), Suppressions::default()).expect("hunt runs")
}

fn scenario(s: Scenario, seed: u64) -> (tempfile::TempDir, Truth, Vec<AlertEvent>) {
    let tmp = tempfile::tempdir().unwrap();
    let truth = write_scenario(s, &tmp.path().join(s.name()), start(), seed).unwrap();
    let r = run(tmp.path());
    for f in &r.summary.files {
        assert_eq!(
            f.rejected,
            0,
            "{}: simulator output rejected by the parsers: {:?}",
            s.name(),
            f.reasons()
        );
        assert!(f.events > 0, "{}: {} gave no events", s.name(), f.path);
    }
    (tmp, truth, r.alerts)
}

fn codes(a: &AlertEvent) -> Vec<&str> {
    a.alert.reasons.iter().map(|r| r.code.as_str()).collect()
}

/// Asserts exactly one unsuppressed alert naming the truth's subject, overlapping the flood's time.
fn one_alert_on_subject(s: Scenario, seed: u64) -> AlertEvent {
    let (_tmp, truth, alerts) = scenario(s, seed);
    assert!(truth.should_alert);
    let live: Vec<&AlertEvent> = alerts
        .iter()
        .filter(|a| a.alert.suppressed_by.is_none())
        .collect();
    assert_eq!(
        live.len(),
        1,
        "{}: expected one alert, got {:#?}",
        s.name(),
        live.iter()
            .map(|a| (&a.alert.subject.process.path, a.alert.score, codes(a)))
            .collect::<Vec<_>>()
    );
    let a = live[0].clone();
    assert_eq!(a.alert.host, s.name());
    if let Some(pid) = truth.subject_pid {
        assert_eq!(
            a.alert.subject.process.pid,
            pid,
            "{}: subject pid",
            s.name()
        );
    }
    if let Some(path) = &truth.subject_path {
        assert_eq!(
            a.alert.subject.process.path.as_deref(),
            Some(path.as_str()),
            "{}: subject path",
            s.name()
        );
    }
    assert!(
        a.alert.first_seen <= truth.end && a.alert.last_seen >= truth.start,
        "{}: alert {:?}..{:?} outside the flood {:?}..{:?}",
        s.name(),
        a.alert.first_seen,
        a.alert.last_seen,
        truth.start,
        truth.end
    );
    a
}

fn quiet(s: Scenario, seed: u64) {
    let (_tmp, truth, alerts) = scenario(s, seed);
    assert!(!truth.should_alert);
    assert!(
        alerts.is_empty(),
        "{}: expected no alert, got {:#?}",
        s.name(),
        alerts
            .iter()
            .map(|a| (&a.alert.subject.process.path, a.alert.score, codes(a)))
            .collect::<Vec<_>>()
    );
}

#[test]
fn launchd_curl_loop_alerts_on_the_script_with_spawn_rate_and_unattended() {
    let a = one_alert_on_subject(Scenario::LaunchdCurlLoop, 1);
    let c = codes(&a);
    assert!(c.contains(&"spawn_rate"), "{c:?}");
    assert!(c.contains(&"unattended"), "{c:?}");
    assert_eq!(a.alert.subject.kind, "lineage_group");
    assert!(a
        .alert
        .subject
        .children
        .iter()
        .any(|(p, n)| p == "/usr/bin/curl" && *n >= 100));
    assert_eq!(a.alert.context.launched_by, "launchd_daemon");
    let spawn = a
        .alert
        .reasons
        .iter()
        .find(|r| r.code == "spawn_rate")
        .unwrap();
    assert!(
        spawn.value.unwrap() > 30.0 && spawn.threshold == Some(5.0),
        "{spawn:?}"
    );
}

#[test]
fn cron_root_ping_flood_without_nettop_rows_is_carried_by_argv() {
    let a = one_alert_on_subject(Scenario::CronRootPingFlood, 2);
    let c = codes(&a);
    assert!(c.contains(&"declared_flood"), "{c:?}");
    assert!(a.alert.context.root);
    assert_eq!(a.alert.context.launched_by, "cron");
    assert!(a.alert.context.unattended);
}

#[test]
fn python_udp_flood_seen_only_in_nettop() {
    let a = one_alert_on_subject(Scenario::PythonUdpFloodNettopOnly, 3);
    let c = codes(&a);
    assert!(
        c.contains(&"packet_rate") || c.contains(&"byte_rate"),
        "{c:?}"
    );
    assert!(
        a.alert.metrics.peak_bytes_per_s > 10e6,
        "{:?}",
        a.alert.metrics
    );
}

#[test]
fn unsigned_binary_seen_only_through_unified_log_summaries() {
    let a = one_alert_on_subject(Scenario::UnsignedBinaryUnifiedLogOnly, 4);
    let c = codes(&a);
    assert!(
        c.contains(&"connection_rate") || c.contains(&"packet_rate"),
        "{c:?}"
    );
}

#[test]
fn osascript_curl_loop_alerts_as_unattended_osascript() {
    let a = one_alert_on_subject(Scenario::OsascriptCurlLoop, 5);
    let c = codes(&a);
    assert!(
        c.contains(&"spawn_rate") || c.contains(&"declared_flood"),
        "{c:?}"
    );
    assert!(
        a.alert.context.launch_chain.contains("osascript"),
        "{:?}",
        a.alert.context
    );
}

#[test]
fn pid_reuse_names_the_flooder_not_the_earlier_or_later_holder_of_its_pid() {
    // pid 7001 is mdworker_shared, then the ad hoc updater (the flood, start+20..80 s), then
    // mdworker_shared again with the same byte rate over TCP from start+100 s.
    let a = one_alert_on_subject(Scenario::PidReuse, 6);
    let cmd = a.alert.subject.process.cmd_line.clone().unwrap_or_default();
    assert!(cmd.contains("updater --daemon"), "{cmd}");
    let t0 = start();
    let started = a.alert.subject.process.start_time.expect("start time");
    assert!(started >= t0.add_nanos(19_000_000_000), "{started:?}");
    // The later mdworker's traffic (same pid) must not extend the updater's episode.
    assert!(
        a.alert.last_seen < t0.add_nanos(100_000_000_000),
        "{:?}",
        a.alert.last_seen
    );
}

#[test]
fn interactive_flood_alerts_but_ranks_below_the_unattended_one() {
    let interactive = one_alert_on_subject(Scenario::InteractivePingFlood, 7);
    let cron = one_alert_on_subject(Scenario::CronRootPingFlood, 2);
    assert!(!interactive.alert.context.unattended);
    assert!(interactive.alert.context.interactive);
    // `sudo ping -f` typed in Terminal declares a flood: no keyboard discount, at least medium.
    let r = interactive
        .alert
        .reasons
        .iter()
        .find(|r| r.code == "interactive")
        .expect("the interactive context is a reason");
    assert_eq!(r.points, 0, "{}", r.text);
    assert!(
        interactive.alert.severity >= Severity::Medium,
        "{} {:?} {:?}",
        interactive.alert.score,
        interactive.alert.severity,
        codes(&interactive)
    );
    assert!(
        interactive.alert.score < cron.alert.score,
        "interactive {} vs cron {}",
        interactive.alert.score,
        cron.alert.score
    );
}

#[test]
fn admin_slow_ping_is_quiet() {
    quiet(Scenario::AdminSlowPing, 8);
}

#[test]
fn backupd_volume_is_quiet() {
    quiet(Scenario::BackupdVolume, 9);
}

#[test]
fn monitoring_agent_pings_are_quiet() {
    quiet(Scenario::MonitoringAgentPings, 10);
}

#[test]
fn every_scenario_is_judged_right_across_seeds_and_thread_counts_give_the_same_ids() {
    for seed in [11u64, 12, 13] {
        for s in Scenario::ALL {
            let (_tmp, truth, alerts) = scenario(s, seed);
            let live = alerts
                .iter()
                .filter(|a| a.alert.suppressed_by.is_none())
                .count();
            assert_eq!(
                live > 0,
                truth.should_alert,
                "{} seed {seed}: {live} alerts",
                s.name()
            );
        }
    }
    // All scenarios in one collection, hunted with one and with two threads: same alerts, same ids.
    let tmp = tempfile::tempdir().unwrap();
    for s in Scenario::ALL {
        write_scenario(s, &tmp.path().join(s.name()), start(), 21).unwrap();
    }
    let hunted = |threads| {
        let opts = HuntOptions {
            paths: vec![tmp.path().to_path_buf()],
            threads,
            ..Default::default()
        };
        hunt(&opts, Config::default(), Suppressions::default()).unwrap()
    };
    let ids = |r: &floodwatch_runtime::HuntResult| {
        r.alerts
            .iter()
            .map(|a| (a.alert.host.clone(), a.alert.id.clone(), a.alert.score))
            .collect::<Vec<_>>()
    };
    let r = hunted(1);
    let one = ids(&r);
    assert_eq!(one.len(), 7, "{one:?}");
    let two = hunted(2);
    assert_eq!(one, ids(&two));
    // Scenarios started together against neighbouring documentation addresses (one /24) are a
    // campaign: the same one whatever the threads.
    let campaigns = |r: &floodwatch_runtime::HuntResult| {
        r.campaigns
            .iter()
            .map(|c| (c.id.clone(), c.hosts.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(campaigns(&r), campaigns(&two));
    // Every scenario's alert is valid OCSF 1.3.0 (declared floods with estimated packets, nettop-only
    // and unified-log-only subjects, interactive ones with a TTY).
    let mut out = Vec::new();
    write_hunt(&mut out, &r, AlertFormat::Jsonl).unwrap();
    let n = common::ocsf::assert_valid_jsonl("scenarios", &String::from_utf8(out).unwrap());
    assert_eq!(n, 7 + r.campaigns.len());
}

/// A short loop just above the spawn threshold, started at several offsets from the 30 s window grid
/// (including ones that cut it in half): windows overlap, so where it falls never hides it. A loop just
/// below the threshold stays quiet at every offset.
#[test]
fn near_threshold_bursts_are_judged_the_same_wherever_they_fall_on_the_window_grid() {
    use floodwatch_sim::nettop::Columns;
    use floodwatch_sim::scenario::launchd_curl_loop;
    use floodwatch_sim::{Files, HostFiles, HostOpts};
    let base = Ts::from_secs(days_from_civil(2025, 9, 16) * 86_400 + 3 * 3_600);
    for (per_s, alert) in [(7.5, true), (4.0, false)] {
        for offset_ms in [0i64, 7_000, 15_000, 22_500] {
            let tmp = tempfile::tempdir().unwrap();
            let opts = HostOpts {
                es_version: 10,
                utc_offset_secs: 0,
                seed: 5,
                nettop_columns: Columns::Selected,
                user: (501, "ci".into()),
                nettop_interval_s: 1,
            };
            let mut hf = HostFiles::create(&tmp.path().join("h"), Files::ALL, opts).unwrap();
            // 28 s: cut in two by any tumbling 30 s grid unless it starts within 2 s of a boundary.
            launchd_curl_loop(&mut hf, base.add_nanos(offset_ms * 1_000_000), 28.0, per_s);
            hf.finish().unwrap();
            let alerts = run(tmp.path()).alerts;
            assert_eq!(
                !alerts.is_empty(),
                alert,
                "{per_s} execs/s at +{offset_ms} ms: {:?}",
                alerts
                    .iter()
                    .map(|a| (a.alert.score, codes(a)))
                    .collect::<Vec<_>>()
            );
        }
    }
}

/// One host folder written by a simulator family with `files` (the real formats), hunted alone.
fn family(
    host: &str,
    files: Files,
    seed: u64,
    setup: impl FnOnce(&mut HostFiles) -> Act,
) -> (tempfile::TempDir, Act, Vec<AlertEvent>) {
    let tmp = tempfile::tempdir().unwrap();
    let opts = HostOpts {
        seed,
        ..HostOpts::default()
    };
    let mut hf = HostFiles::create(&tmp.path().join(host), files, opts).unwrap();
    let act = setup(&mut hf);
    hf.finish().unwrap();
    let r = run(tmp.path());
    for f in &r.summary.files {
        assert_eq!(f.rejected, 0, "{host}: {}: {:?}", f.path, f.reasons());
    }
    (tmp, act, r.alerts)
}

fn only_alert(host: &str, alerts: Vec<AlertEvent>, act: &Act) -> AlertEvent {
    assert_eq!(
        alerts.len(),
        1,
        "{host}: {:#?}",
        alerts
            .iter()
            .map(|a| (&a.alert.subject.process.path, a.alert.score, codes(a)))
            .collect::<Vec<_>>()
    );
    let a = alerts.into_iter().next().unwrap();
    assert_eq!(Some(a.alert.subject.process.pid), act.subject_pid, "{host}");
    a
}

/// Issue 11: a 25 MB/s UDP flood from an unattended python one-liner, seen only as `nettop -P`
/// process rows (no protocol), takes UDP from its command line (`socket(2,2)`) and is high, not
/// "protocol unknown" at half its rate; the explanation says where the protocol came from.
#[test]
fn a_python_udp_flood_in_nettop_process_rows_takes_udp_from_its_command_line() {
    let es_and_nettop = Files {
        eslogger: true,
        nettop: true,
        unifiedlog: false,
    };
    let flood = |hf: &mut HostFiles| {
        hf.nettop_process_only();
        families::python_udp_flood_process_rows(hf, start(), 90.0, 25_000_000)
    };
    let (tmp, act, alerts) = family("mac-py", es_and_nettop, 11, flood);
    let nettop = std::fs::read_to_string(tmp.path().join("mac-py/nettop.csv")).unwrap();
    assert!(
        nettop.contains(",python3.") && !nettop.contains("udp4") && !nettop.contains("tcp4"),
        "nettop -P: process rows only"
    );
    let a = only_alert("mac-py", alerts, &act);
    let rate = &a.alert.reasons[0];
    assert_eq!(rate.code, "byte_rate", "{:?}", codes(&a));
    assert!(
        rate.text.contains(
            "UDP taken from the command line: python -c program opens socket(2, 2) = socket(AF_INET, SOCK_DGRAM)"
        ),
        "{}",
        rate.text
    );
    assert!(a.alert.metrics.protocols.contains(&Proto::Udp));
    assert!(a.alert.context.unattended);
    assert_eq!(
        a.alert.severity,
        Severity::High,
        "{} {:?}",
        a.alert.score,
        codes(&a)
    );

    // Without the process source nothing declares the protocol: the same rows stay "not
    // reported", weighted as unknown (half), and rank lower.
    let nettop_only = Files {
        eslogger: false,
        nettop: true,
        unifiedlog: false,
    };
    let (_tmp, act, alerts) = family("mac-py", nettop_only, 11, flood);
    let b = only_alert("mac-py", alerts, &act);
    assert!(
        b.alert.reasons[0].text.contains("protocol not reported"),
        "{}",
        b.alert.reasons[0].text
    );
    assert!(b.alert.score < a.alert.score);
}

/// Issue 11: `sudo hping3 --flood` typed in an ssh login is a remote session, not someone at the
/// keyboard: the context says so, there is no interactive discount, the alert is not "unattended",
/// and a declared flood stays at least medium.
#[test]
fn a_flood_typed_in_an_ssh_session_is_a_remote_session_and_at_least_medium() {
    let es_and_nettop = Files {
        eslogger: true,
        nettop: true,
        unifiedlog: false,
    };
    let (_tmp, act, alerts) = family("mac-ssh", es_and_nettop, 12, |hf| {
        families::hping3_flood(hf, start(), 60.0)
    });
    let a = only_alert("mac-ssh", alerts, &act);
    let c = &a.alert.context;
    assert_eq!(c.launched_by, "ssh");
    assert_eq!(
        c.remote_session.as_deref(),
        Some("remote session via sshd-session (tty ttys003)")
    );
    assert!(!c.interactive && !c.unattended, "{c:?}");
    let r = a
        .alert
        .reasons
        .iter()
        .find(|r| r.code == "remote_session")
        .expect("the remote session is a reason");
    assert!(
        r.text
            .starts_with("remote session via sshd-session (tty ttys003)"),
        "{}",
        r.text
    );
    assert!(
        a.alert.reasons.iter().all(|r| r.points >= 0),
        "no discount: {:?}",
        codes(&a)
    );
    assert!(
        a.alert.severity >= Severity::Medium,
        "{} {:?}",
        a.alert.score,
        codes(&a)
    );
}
