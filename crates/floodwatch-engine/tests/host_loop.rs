//! The per-host loop ([`HostEngine`]) driven directly: what it rejects and why, where pid-less traffic
//! goes, overlapping windows through the whole event path, `watch`'s early open and idle close, and the
//! verdict of a host that stayed quiet.

use floodwatch_core::config::Config;
use floodwatch_core::event::*;
use floodwatch_core::Ts;
use floodwatch_engine::suppress::Suppressions;
use floodwatch_engine::{
    AlertEvent, AlertEventKind, EngineReject, EngineStats, HostEngine, Shared,
};
use std::path::Path;
use std::sync::Arc;

/// 2026-09-21, on a 30 s window boundary.
const T0: i64 = 1_790_000_010;

fn ts(ms: i64) -> Ts {
    Ts::from_millis(T0 * 1000 + ms)
}

struct Host {
    engine: HostEngine,
    sh: Shared,
    out: Vec<AlertEvent>,
    stats: EngineStats,
    rejects: Vec<EngineReject>,
    /// `watch`: live reorder slack, Opened/Updated states.
    live: bool,
    line: u64,
}

impl Host {
    fn new(live: bool) -> Host {
        let sup = Suppressions::parse("", Path::new("s.toml"), Ts(0)).unwrap();
        let sh = Shared::new(Config::default(), sup, vec![Arc::from("h.jsonl")]).unwrap();
        Host {
            engine: HostEngine::new(Arc::from("mac-1"), &sh.cfg, live),
            sh,
            out: vec![],
            stats: EngineStats::default(),
            rejects: vec![],
            live,
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
        self.engine.push(
            ev,
            &self.sh,
            &mut self.out,
            &mut self.stats,
            &mut self.rejects,
            self.live,
        );
    }

    fn idle(&mut self, secs: i64) {
        let ns = secs * 1_000_000_000;
        self.engine
            .idle(ns, &self.sh, &mut self.out, &mut self.stats, self.live);
    }

    fn finish(&mut self) {
        self.engine
            .finish(&self.sh, &mut self.out, &mut self.stats, self.live);
    }

    fn kinds(&self) -> Vec<AlertEventKind> {
        self.out.iter().map(|a| a.kind).collect()
    }
}

fn proc_info(pid: i32, ppid: i32, path: &str, args: &str) -> ProcInfo {
    ProcInfo {
        pid,
        ppid: Some(ppid),
        start_time: Some(ts(0)),
        path: Some(path.into()),
        args: Some(args.split(' ').map(str::to_string).collect()),
        uid: Some(0),
        euid: Some(0),
        tty: Tty::None,
        ..ProcInfo::default()
    }
}

fn seen(pid: i32) -> EventKind {
    EventKind::ProcessSeen(Box::new(proc_info(
        pid,
        1,
        "/usr/local/bin/agentd",
        "agentd",
    )))
}

/// A bash script (pid 4000) running curl once at each of `at_ms`.
fn curls(h: &mut Host, at_ms: impl IntoIterator<Item = i64>) {
    h.push(
        ts(0),
        EventKind::ProcessSeen(Box::new(proc_info(
            4000,
            1,
            "/bin/bash",
            "/bin/bash /opt/poll.sh",
        ))),
    );
    for (pid, t) in (4001..).zip(at_ms) {
        let mut curl = proc_info(
            pid,
            4000,
            "/usr/bin/curl",
            "/usr/bin/curl -s http://203.0.113.10/",
        );
        curl.start_time = Some(ts(t));
        h.push(
            ts(t),
            EventKind::Exec {
                instigator: None,
                target: Box::new(curl),
            },
        );
    }
}

/// `n` instants evenly spread over `[from_ms, to_ms)`.
fn spread(n: i64, from_ms: i64, to_ms: i64) -> impl Iterator<Item = i64> {
    (0..n).map(move |i| from_ms + i * (to_ms - from_ms) / n)
}

#[test]
fn events_older_than_what_was_released_are_rejected_with_how_late() {
    let mut h = Host::new(false);
    h.push(ts(100_000), seen(10));
    // 30 s of reorder slack: this releases the event at 100 s.
    h.push(ts(200_000), seen(11));
    h.push(ts(50_000), seen(12));
    assert_eq!(h.rejects.len(), 1);
    let r = &h.rejects[0];
    assert_eq!((r.reason, r.origin.line), ("out of order", 3));
    assert!(
        r.detail.contains("50.0 s older") && r.detail.contains("windows.reorder_slack"),
        "{}",
        r.detail
    );
    assert_eq!(h.stats.late_events, 1);
    h.finish();
    assert_eq!(h.stats.events, 2, "the late event is not processed");

    // A live stream judges with the watch slack, and says so.
    let mut live = Host::new(true);
    live.push(ts(10_000), seen(10));
    live.push(ts(11_000), seen(11));
    live.push(ts(9_000), seen(12));
    assert_eq!(live.stats.late_events, 1);
    assert!(
        live.rejects[0]
            .detail
            .contains("windows.watch_reorder_slack"),
        "{}",
        live.rejects[0].detail
    );
}

#[test]
fn timestamps_outside_the_plausible_range_are_rejected_before_anything_else() {
    let mut h = Host::new(false);
    h.push(Ts::from_secs(100), seen(10));
    h.push(ts(1_000), seen(11));
    assert_eq!(h.rejects.len(), 1);
    assert_eq!(h.rejects[0].reason, "timestamp out of range");
    h.finish();
    assert_eq!(h.stats.events, 1);
    assert_eq!(h.stats.late_events, 0);
}

#[test]
fn pid_less_traffic_bypasses_the_reorder_buffer_and_counts_as_unattributed() {
    let mut h = Host::new(false);
    h.push(ts(100_000), seen(10));
    h.push(ts(200_000), seen(11));
    // Older than what process events released, but the network stage keeps its own clock.
    h.push(
        ts(50_000),
        EventKind::Traffic(Box::new(Traffic {
            start: ts(49_000),
            proto: Proto::Udp,
            remote: Some("192.168.50.4:53".into()),
            bytes_out: 100,
            packets_out: Some(1),
            ..Traffic::default()
        })),
    );
    assert!(h.rejects.is_empty(), "{:?}", h.rejects);
    h.finish();
    assert_eq!(h.stats.traffic_unattributed, 1);
    assert_eq!(h.stats.by_kind.get("traffic"), Some(1));
    assert_eq!(h.stats.events, 3);
    let v = &h.stats.hosts["mac-1"];
    assert_eq!(v.first_event, Some(ts(50_000)));
    assert_eq!(v.last_event, Some(ts(200_000)));
}

#[test]
fn traffic_of_a_platform_daemon_is_out_of_scope_and_makes_no_subject() {
    let mut h = Host::new(false);
    for s in 0..30 {
        h.push(
            ts(s * 1000),
            EventKind::Traffic(Box::new(Traffic {
                start: ts(s * 1000),
                pid: Some(321),
                process_path: Some("/usr/libexec/nsurlsessiond".into()),
                proto: Proto::Udp,
                remote: Some("17.253.1.1:443".into()),
                bytes_out: 50_000_000,
                packets_out: Some(40_000),
                ..Traffic::default()
            })),
        );
    }
    h.finish();
    assert_eq!(h.stats.traffic_out_of_scope, 30);
    assert_eq!(h.stats.hosts["mac-1"].subjects, 0);
    assert!(h.out.is_empty());
}

#[test]
fn a_burst_across_a_window_boundary_is_one_hot_window_of_the_overlapping_one() {
    // 150 execs over 20 s to 40 s: 75 in [0, 30) and 75 in [30, 60), 2.5/s each; all 150 in the
    // overlapping window [15, 45), 5/s, the threshold.
    let mut h = Host::new(false);
    curls(&mut h, spread(150, 20_000, 40_000));
    h.finish();
    assert_eq!(h.kinds(), [AlertEventKind::Final], "{:?}", h.rejects);
    let a = &h.out[0].alert;
    assert_eq!(a.metrics.hot_windows, 1);
    assert_eq!(a.metrics.peak_spawns_per_s, 5.0);
    assert_eq!(a.metrics.total_spawns, 150);
    assert_eq!(a.first_seen, ts(15_000));
    assert_eq!(
        a.subject.process.pid, 4000,
        "counted for the script that ran curl"
    );
    assert_eq!(h.stats.hot_windows, 1);
    assert_eq!(h.stats.alerts, 1);
}

#[test]
fn watch_opens_early_and_idle_time_closes_the_episode_without_new_events() {
    let mut h = Host::new(true);
    curls(&mut h, spread(200, 1_000, 5_000));
    assert_eq!(
        h.kinds().first(),
        Some(&AlertEventKind::Opened),
        "opened before the window ended"
    );
    assert!(!h.kinds().contains(&AlertEventKind::Closed));
    assert_eq!(h.stats.alerts, 0, "counted once, when it ends");
    // Silence: the host's clock moves past the quiet period.
    h.idle(30);
    assert!(
        !h.kinds().contains(&AlertEventKind::Closed),
        "not quiet long enough"
    );
    h.idle(200);
    assert_eq!(h.kinds().last(), Some(&AlertEventKind::Closed));
    assert_eq!(h.stats.alerts, 1);
    let closed = &h.out[h.out.len() - 1].alert;
    assert_eq!(closed.id, h.out[0].alert.id, "one episode");
    h.finish();
    assert_eq!(h.stats.alerts, 1, "nothing left open at the end");
}

#[test]
fn a_quiet_host_names_its_nearest_miss() {
    let mut h = Host::new(false);
    // 60 execs in one window: 2/s, 40% of the 5/s threshold.
    curls(&mut h, spread(60, 0, 30_000));
    h.finish();
    assert!(h.out.is_empty());
    let v = &h.stats.hosts["mac-1"];
    assert_eq!((v.alerts, v.hot_windows), (0, 0));
    assert!(v.subjects >= 1);
    assert_eq!(v.closest_ratio, Some(0.4));
    let text = v.closest.as_deref().unwrap_or_default();
    assert!(
        text.starts_with("/bin/bash (pid 4000): 2.0 network-tool execs/s")
            && text.contains("40% of it"),
        "{text}"
    );
}

/// Counts near 2^64 from a corrupt record (a Zeek `orig_pkts` of 2^64-1 once did this) saturate in
/// the network stage: debug builds used to panic on the overflow, release builds wrapped.
#[test]
fn pid_less_counts_near_2_64_saturate_instead_of_overflowing() {
    let mut h = Host::new(false);
    for i in 0..4 {
        h.push(
            ts(1_000 + i * 1_000),
            EventKind::Traffic(Box::new(Traffic {
                start: ts(i * 1_000),
                proto: Proto::Udp,
                local: Some("10.0.0.5".into()),
                remote: Some("198.51.100.7:53".into()),
                bytes_out: u64::MAX - 1,
                packets_out: Some(u64::MAX - 1),
                syn_out: Some(u64::MAX - 1),
                ..Traffic::default()
            })),
        );
    }
    h.push(ts(200_000), seen(11));
    h.finish();
    assert_eq!(h.stats.traffic_unattributed, 4);
    assert!(h.rejects.is_empty(), "{:?}", h.rejects);
}
