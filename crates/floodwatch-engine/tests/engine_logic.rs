//! Engine logic on normalized events (format-independent). Real-format scenarios live in the
//! workspace-level tests; these pin the stage logic: grouping, declared floods, pid reuse, lifecycle.

use floodwatch_core::alert::AlertStatus;
use floodwatch_core::config::Config;
use floodwatch_core::event::*;
use floodwatch_core::Ts;
use floodwatch_engine::suppress::Suppressions;
use floodwatch_engine::{AlertEvent, Engine, Shared};
use std::path::Path;
use std::sync::Arc;

const T0: i64 = 1_790_000_000; // 2026-09-21, aligned to 30 s windows below

fn ts(ms: i64) -> Ts {
    Ts::from_millis(T0 * 1000 + ms)
}

fn proc_info(
    pid: i32,
    ppid: i32,
    start_ms: i64,
    path: &str,
    args: &str,
    euid: u32,
    tty: Tty,
) -> ProcInfo {
    ProcInfo {
        pid,
        ppid: Some(ppid),
        start_time: Some(ts(start_ms)),
        path: Some(path.into()),
        args: Some(args.split(' ').map(str::to_string).collect()),
        uid: Some(euid),
        euid: Some(euid),
        tty,
        signing: Signing {
            platform_binary: Some(true),
            signing_id: Some("com.apple.x".into()),
            ..Signing::default()
        },
        ..ProcInfo::default()
    }
}

struct Run {
    engine: Engine,
    out: Vec<AlertEvent>,
    line: u64,
}

impl Run {
    fn new(sup: &str) -> Run {
        let sup = Suppressions::parse(sup, Path::new("s.toml"), Ts(0)).unwrap();
        let shared = Shared::new(Config::default(), sup, vec![Arc::from("test.jsonl")]).unwrap();
        Run {
            engine: Engine::new(Arc::new(shared), false),
            out: vec![],
            line: 0,
        }
    }
    fn push(&mut self, t: Ts, kind: EventKind) {
        self.line += 1;
        let ev = Event {
            ts: t,
            host: Arc::from("mac-1"),
            origin: Origin {
                file: 0,
                line: self.line,
            },
            kind,
        };
        self.engine.push(ev, &mut self.out);
    }
    fn finish(mut self) -> Vec<AlertEvent> {
        self.engine.finish(&mut self.out);
        self.out
    }
}

/// launchd → bash script → fork/exec curl, `per_sec` times a second for `secs` seconds.
fn curl_loop(r: &mut Run, per_sec: i64, secs: i64, base_pid: i32) {
    parent_loop(
        r,
        ("/bin/bash", "/bin/bash /Library/Scripts/.sync.sh"),
        per_sec,
        secs,
        base_pid,
    );
}

/// launchd → `parent` (path, argv) → fork/exec curl, `per_sec` times a second for `secs` seconds.
fn parent_loop(r: &mut Run, parent: (&str, &str), per_sec: i64, secs: i64, base_pid: i32) {
    let (ppath, pargs) = parent;
    let bash = proc_info(base_pid, 1, 0, ppath, pargs, 0, Tty::None);
    r.push(ts(0), EventKind::ProcessSeen(Box::new(bash.clone())));
    for (pid, i) in (base_pid + 1..).zip(0..(per_sec * secs)) {
        let t = i * 1000 / per_sec + 1;
        let child = proc_info(pid, base_pid, t, ppath, pargs, 0, Tty::None);
        r.push(
            ts(t),
            EventKind::Fork {
                parent: Box::new(bash.clone()),
                child: Box::new(child.clone()),
            },
        );
        let curl = proc_info(
            pid,
            base_pid,
            t,
            "/usr/bin/curl",
            "/usr/bin/curl -s -o /dev/null http://203.0.113.10/ping",
            0,
            Tty::None,
        );
        r.push(
            ts(t),
            EventKind::Exec {
                instigator: Some(Box::new(child)),
                target: Box::new(curl.clone()),
            },
        );
        r.push(
            ts(t + 20),
            EventKind::Exit {
                process: Box::new(curl),
                status: Some(0),
            },
        );
    }
}

#[test]
fn curl_loop_is_one_subject_and_alerts_with_reasons() {
    let mut r = Run::new("");
    curl_loop(&mut r, 40, 60, 4000);
    let out = r.finish();
    assert_eq!(
        out.len(),
        1,
        "one alert for the whole loop: {:#?}",
        out.iter().map(|a| &a.alert.reasons).collect::<Vec<_>>()
    );
    let a = &out[0].alert;
    assert_eq!(a.subject.process.pid, 4000);
    assert_eq!(a.subject.kind, "lineage_group");
    assert_eq!(a.reasons[0].code, "spawn_rate");
    assert!(
        a.reasons[0].text.contains("curl execs/s"),
        "{}",
        a.reasons[0].text
    );
    assert!(a.context.unattended);
    assert_eq!(a.context.launched_by, "launchd_daemon");
    assert!(a.reasons.iter().any(|r| r.code == "unattended"));
    assert!(
        a.reasons.iter().any(|r| r.code == "suspicious_path"),
        "hidden script path"
    );
    assert!(a.metrics.peak_spawns_per_s >= 39.0);
    assert!(!a.evidences.is_empty() && a.evidences[0].file == "test.jsonl");
}

#[test]
fn slow_loop_stays_quiet_and_ids_are_deterministic() {
    let mut r = Run::new("");
    curl_loop(&mut r, 2, 60, 4000);
    assert!(r.finish().is_empty());
    let ids = |_: ()| {
        let mut r = Run::new("");
        curl_loop(&mut r, 40, 60, 4000);
        r.finish()
            .into_iter()
            .map(|a| a.alert.id)
            .collect::<Vec<_>>()
    };
    let first = ids(());
    assert_eq!(first.len(), 1, "the fast loop alerts");
    assert_eq!(first, ids(()));
}

#[test]
fn declared_ping_flood_without_traffic_rows_alerts() {
    let mut r = Run::new("");
    let cron = proc_info(300, 1, 0, "/usr/sbin/cron", "/usr/sbin/cron", 0, Tty::None);
    let sh = proc_info(
        900,
        300,
        1000,
        "/bin/sh",
        "/bin/sh -c /sbin/ping -f -q 198.51.100.7",
        0,
        Tty::None,
    );
    r.push(ts(0), EventKind::ProcessSeen(Box::new(cron.clone())));
    r.push(
        ts(1000),
        EventKind::Fork {
            parent: Box::new(cron),
            child: Box::new(sh.clone()),
        },
    );
    r.push(
        ts(1000),
        EventKind::Exec {
            instigator: None,
            target: Box::new(sh.clone()),
        },
    );
    let ping = proc_info(
        901,
        900,
        1010,
        "/sbin/ping",
        "/sbin/ping -f -q 198.51.100.7",
        0,
        Tty::None,
    );
    r.push(
        ts(1010),
        EventKind::Fork {
            parent: Box::new(sh.clone()),
            child: Box::new(proc_info(
                901,
                900,
                1010,
                "/bin/sh",
                "/bin/sh",
                0,
                Tty::None,
            )),
        },
    );
    r.push(
        ts(1010),
        EventKind::Exec {
            instigator: None,
            target: Box::new(ping.clone()),
        },
    );
    r.push(
        ts(121_000),
        EventKind::Exit {
            process: Box::new(ping),
            status: Some(0),
        },
    );
    let out = r.finish();
    assert_eq!(out.len(), 1);
    let a = &out[0].alert;
    assert!(
        a.reasons
            .iter()
            .any(|x| x.code == "declared_flood" && x.text.contains("ping -f")),
        "{:#?}",
        a.reasons
    );
    assert_eq!(a.context.launched_by, "cron");
    assert!(a.context.root);
    assert!(a.metrics.estimated_packets);
    assert!(
        a.context.launch_chain.contains("cron"),
        "{}",
        a.context.launch_chain
    );
}

#[test]
fn an_interactive_declared_flood_gets_no_discount_stays_medium_and_ranks_below_unattended() {
    let run = |tty: Tty, parent_path: &str| {
        let mut r = Run::new("");
        let parent = proc_info(800, 1, 0, parent_path, parent_path, 501, tty.clone());
        r.push(ts(0), EventKind::ProcessSeen(Box::new(parent.clone())));
        let ping = proc_info(
            801,
            800,
            10,
            "/sbin/ping",
            "/sbin/ping -f 10.0.0.1",
            0,
            tty.clone(),
        );
        r.push(
            ts(10),
            EventKind::Exec {
                instigator: None,
                target: Box::new(ping.clone()),
            },
        );
        r.push(
            ts(60_010),
            EventKind::Exit {
                process: Box::new(ping),
                status: Some(0),
            },
        );
        r.finish().remove(0).alert
    };
    let interactive = run(
        Tty::Some("/dev/ttys002".into()),
        "/System/Applications/Utilities/Terminal.app/Contents/MacOS/Terminal",
    );
    let unattended = run(Tty::None, "/usr/sbin/cron");
    assert!(!interactive.context.unattended);
    assert!(interactive.context.interactive);
    // ping -f says it floods: the keyboard's discount is not for it (issue 11), and it stays at least
    // medium; it still ranks below the unattended one.
    let discount = interactive
        .reasons
        .iter()
        .find(|r| r.code == "interactive")
        .expect("the interactive context is named");
    assert_eq!(discount.points, 0, "{}", discount.text);
    assert!(
        discount
            .text
            .contains("no discount: its command line declares a flood"),
        "{}",
        discount.text
    );
    assert!(
        interactive.severity >= floodwatch_core::alert::Severity::Medium,
        "{} {:?}",
        interactive.score,
        interactive.severity
    );
    assert!(
        interactive.score < unattended.score,
        "{} vs {}",
        interactive.score,
        unattended.score
    );
}

#[test]
fn pid_reuse_keeps_processes_apart() {
    let mut r = Run::new("");
    let md = proc_info(
        7001,
        1,
        0,
        "/usr/libexec/mdworker_shared",
        "/usr/libexec/mdworker_shared",
        501,
        Tty::None,
    );
    r.push(
        ts(0),
        EventKind::Exec {
            instigator: None,
            target: Box::new(md.clone()),
        },
    );
    r.push(
        ts(10_000),
        EventKind::Exit {
            process: Box::new(md),
            status: Some(0),
        },
    );
    // The reused pid sends UDP at 15 MB/s, seen only by a traffic source.
    for s in 20..80 {
        let t = Traffic {
            pid: Some(7001),
            process_name: Some("updater".into()),
            process_path: None,
            uid: Some(0),
            start: ts(s * 1000 - 1000),
            proto: Proto::Udp,
            remote: Some("198.51.100.9:53".into()),
            bytes_out: 15_000_000,
            bytes_in: 0,
            packets_out: None,
            packets_in: None,
            new_connections: 0,
            ..Default::default()
        };
        r.push(ts(s * 1000), EventKind::Traffic(Box::new(t)));
    }
    let out = r.finish();
    assert_eq!(out.len(), 1);
    let a = &out[0].alert;
    assert_eq!(a.subject.process.pid, 7001);
    assert_ne!(
        a.subject.process.path.as_deref(),
        Some("/usr/libexec/mdworker_shared")
    );
    assert!(a
        .subject
        .process
        .cmd_line
        .as_deref()
        .unwrap_or("")
        .contains("updater"));
    assert_eq!(a.reasons[0].code, "byte_rate");
}

#[test]
fn quiet_period_splits_episodes_and_suppression_ceiling_applies() {
    let sup = r#"
[[suppression]]
id = "SUP-CI"
reason = "CI smoke test loop"
owner = "ci@example.com"
expires = "2099-01-01"
match = { path = "/bin/bash", argv = '/bin/bash /Library/Scripts/\.sync\.sh' }
ceiling = { spawns_per_s = 20.0 }
"#;
    let mut r = Run::new(sup);
    curl_loop(&mut r, 10, 60, 4000); // below the ceiling: suppressed
    let out = r.finish();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].alert.suppressed_by.as_ref().unwrap().id, "SUP-CI");
    let mut r = Run::new(sup);
    curl_loop(&mut r, 40, 60, 4000); // above: not suppressed, and the note says why
    let out = r.finish();
    assert!(out[0].alert.suppressed_by.is_none());
    assert!(out[0]
        .alert
        .suppression_notes
        .iter()
        .any(|n| n.contains("ceiling")));
    // The input ended inside the quiet period: the alert is still open.
    assert_eq!(out[0].alert.status, AlertStatus::Open);
}

#[test]
fn a_pause_longer_than_the_quiet_period_makes_two_alerts() {
    let mut r = Run::new("");
    curl_loop(&mut r, 40, 60, 4000);
    // Same script, second burst ten minutes later (quiet period is 2 minutes).
    let bash = proc_info(
        4000,
        1,
        0,
        "/bin/bash",
        "/bin/bash /Library/Scripts/.sync.sh",
        0,
        Tty::None,
    );
    for i in 0..(40 * 60) {
        let t = 600_000 + i * 25;
        let pid = 9000 + i as i32;
        let child = proc_info(
            pid,
            4000,
            t,
            "/bin/bash",
            "/bin/bash /Library/Scripts/.sync.sh",
            0,
            Tty::None,
        );
        r.push(
            ts(t),
            EventKind::Fork {
                parent: Box::new(bash.clone()),
                child: Box::new(child.clone()),
            },
        );
        let curl = proc_info(
            pid,
            4000,
            t,
            "/usr/bin/curl",
            "/usr/bin/curl -s http://203.0.113.10/",
            0,
            Tty::None,
        );
        r.push(
            ts(t),
            EventKind::Exec {
                instigator: Some(Box::new(child)),
                target: Box::new(curl.clone()),
            },
        );
        r.push(
            ts(t + 10),
            EventKind::Exit {
                process: Box::new(curl),
                status: Some(0),
            },
        );
    }
    let out = r.finish();
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].alert.status, AlertStatus::Closed);
    assert_eq!(out[1].alert.status, AlertStatus::Open);
    assert_ne!(out[0].alert.id, out[1].alert.id);
    assert_eq!(
        out[0].alert.subject.process.pid,
        out[1].alert.subject.process.pid
    );
}

#[test]
fn watch_mode_opens_the_alert_before_the_window_ends() {
    let sup = Suppressions::default();
    let shared = Shared::new(Config::default(), sup, vec![Arc::from("stdin")]).unwrap();
    let mut r = Run {
        engine: Engine::new(Arc::new(shared), true),
        out: vec![],
        line: 0,
    };
    curl_loop(&mut r, 40, 60, 4000);
    // The Opened event came while the first window was still running: before any 30 s boundary passed.
    let first = r
        .out
        .iter()
        .find(|a| a.kind == floodwatch_engine::AlertEventKind::Opened)
        .expect("opened early");
    assert!(
        first.alert.last_seen < ts(30_000),
        "opened at {}",
        first.alert.last_seen
    );
    let out = r.finish();
    let ids: std::collections::BTreeSet<_> = out.iter().map(|a| a.alert.id.clone()).collect();
    assert_eq!(ids.len(), 1, "one episode: opened, updated, final");
}

#[test]
fn tool_spawns_count_on_any_parent_not_only_script_runners() {
    // xargs -P (a platform binary, not a script runner) running curl 20 times a second: the spawn
    // rate belongs to xargs, not to 1,200 one-exec curl subjects.
    let mut r = Run::new("");
    parent_loop(
        &mut r,
        ("/usr/bin/xargs", "xargs -P 16 -n 1 curl -s -o /dev/null"),
        20,
        60,
        6000,
    );
    let out = r.finish();
    assert_eq!(out.len(), 1, "{out:#?}");
    let a = &out[0].alert;
    assert_eq!(a.subject.process.pid, 6000);
    assert_eq!(a.subject.process.path.as_deref(), Some("/usr/bin/xargs"));
    assert_eq!(a.reasons[0].code, "spawn_rate");
    assert_eq!(a.metrics.total_spawns, 1200);
}

#[test]
fn a_far_future_timestamp_is_rejected_and_does_not_poison_the_host() {
    let mut r = Run::new("");
    let stray = proc_info(9, 1, 0, "/usr/bin/true", "true", 0, Tty::None);
    // Year 2100: a corrupt line. Accepted, it would move the host's clock ahead of everything else.
    r.push(
        Ts::from_secs(4_102_444_800),
        EventKind::ProcessSeen(Box::new(stray)),
    );
    curl_loop(&mut r, 40, 60, 4000);
    let rejects: Vec<_> = r
        .engine
        .rejects
        .iter()
        .map(|j| (j.origin.line, j.reason))
        .collect();
    assert_eq!(rejects, vec![(1, "timestamp out of range")]);
    let out = r.finish();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].alert.subject.process.pid, 4000);
}
