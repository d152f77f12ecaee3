//! The coverage self-test: the plan refuses anything but a lab address; the check passes on telemetry
//! the simulator wrote for exactly the planned runs (with and without a network sensor) and fails, step
//! by step and saying why, on telemetry without them.

use crate::common;

use floodwatch_analysis::coverage::selftest::{
    self, check, curl_argv, loop_argv, ping_argv, python_argv, sleep_argv, Check, Status,
};
use floodwatch_core::time::days_from_civil;
use floodwatch_core::Ts;
use floodwatch_sim::host::{Files, HostFiles, HostOpts};
use floodwatch_sim::lab::{selftest_runs, SelftestArgv, SelftestTruth};
use floodwatch_sim::zeek;
use std::path::{Path, PathBuf};

const TARGET: &str = "192.168.50.4";

fn cli(args: &[&str]) -> (Option<i32>, String, String) {
    let out = assert_cmd::Command::cargo_bin("floodwatch")
        .unwrap()
        .arg("coverage")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn plan_names_bounded_commands_for_a_lab_address_only() {
    let (code, text, _) = cli(&["--selftest-plan", "--target", TARGET]);
    assert_eq!(code, Some(0));
    assert!(text.contains("sudo ping -c 200 -i 0.01 -t 10 -p 6677746573742d70696e67 192.168.50.4"));
    assert!(text.contains("/bin/sh -c 'for i in $(seq 1 200); do curl -s -o /dev/null --max-time 1 \"http://192.168.50.4/floodwatch-selftest-curl?i=$i\"; sleep 0.05; done'"), "{text}");
    assert!(text.contains("python3 -c 'import socket,time;"));
    assert!(text.contains("for i in range(2000) if time.time()<d]"));
    assert!(text.contains("nettop and the unified log: nothing"));
    assert!(text.contains("--selftest-check FOLDER --target 192.168.50.4"));
    for args in [
        vec!["--selftest-plan"],
        vec!["--selftest-plan", "--target", "8.8.8.8"],
        vec!["--selftest-plan", "--target", "lab.example.com"],
    ] {
        let (code, text, _) = cli(&args);
        assert_eq!(code, Some(2), "{args:?}");
        assert!(text.contains("REFUSED"), "{text}");
        assert!(!text.contains("ping -c"), "{text}");
    }
}

fn start() -> Ts {
    Ts::from_secs(days_from_civil(2025, 9, 16) * 86_400 + 15 * 3_600)
}

fn argv() -> SelftestArgv {
    SelftestArgv {
        target: TARGET.into(),
        ping: ping_argv(TARGET),
        ping_secs: 2.0,
        loop_sh: loop_argv(TARGET),
        curls: (1..=selftest::CURL_COUNT)
            .map(|i| curl_argv(TARGET, i))
            .collect(),
        sleep: sleep_argv(),
        python: python_argv(TARGET),
        udp_datagrams: selftest::UDP_COUNT,
        udp_payload: selftest::UDP_MARKER.len() as u64,
        udp_port: selftest::UDP_PORT,
        udp_secs: 5.0,
    }
}

/// Zeek rows of the three runs as the lab gateway would log them.
fn zeek_rows(ip: &str, t: &SelftestTruth) -> Vec<zeek::Conn> {
    let row = |ts: Ts, proto: &'static str, port: u16, pkts: u64, dur: f64, state: &'static str| {
        zeek::Conn {
            ts,
            uid: format!("C{:017}", ts.0 % 100_000_000_000_000_000),
            orig_h: ip.into(),
            orig_p: if proto == "icmp" { 8 } else { 50_000 },
            resp_h: TARGET.into(),
            resp_p: port,
            proto,
            service: None,
            duration: Some(dur),
            orig_bytes: Some(pkts * 23),
            resp_bytes: Some(0),
            conn_state: state,
            history: None,
            orig_pkts: pkts,
            orig_ip_bytes: pkts * 51,
            resp_pkts: 0,
            resp_ip_bytes: 0,
        }
    };
    let mut rows = vec![row(t.start, "icmp", 0, 200, 2.0, "OTH")];
    let loop_start = t.start.add_secs(5);
    for i in 0..200 {
        let mut r = row(
            loop_start.add_nanos(i * 84_000_000),
            "tcp",
            80,
            2,
            0.001,
            "REJ",
        );
        r.orig_p = 50_000 + i as u16;
        r.history = Some("Sr");
        rows.push(r);
    }
    rows.push(row(t.end.add_secs(-6), "udp", 9, 2000, 5.0, "S0"));
    rows
}

fn lab(dir: &Path, files: Files, sensor: bool) -> (PathBuf, SelftestTruth) {
    let host = dir.join("lab-mac");
    let mut hf = HostFiles::create(&host, files, HostOpts::default()).unwrap();
    let truth = selftest_runs(&mut hf, start(), &argv());
    let ip = hf.ip.clone();
    hf.finish().unwrap();
    if sensor {
        zeek::write_conn_log(
            &host.join("conn.log"),
            &zeek::by_end(zeek_rows(&ip, &truth)),
        )
        .unwrap();
    }
    (host, truth)
}

fn run_check(path: &Path, target: Option<&str>) -> Check {
    let (opts, cfg, res) = common::observed(path);
    check(&opts, &cfg, &res, target).unwrap()
}

fn status(c: &Check, step: &str, what: &str) -> (Status, String) {
    let s = c.steps.iter().find(|s| s.id == step).unwrap();
    let e = s
        .expectations
        .iter()
        .find(|e| e.what.contains(what))
        .unwrap_or_else(|| {
            panic!(
                "no expectation {what:?} in step {step}: {:#?}",
                s.expectations
            )
        });
    (e.status, e.detail.clone())
}

#[test]
fn check_passes_on_the_planned_runs_with_every_source() {
    let tmp = tempfile::tempdir().unwrap();
    let (host, truth) = lab(tmp.path(), Files::ALL, true);
    let c = run_check(&host, Some(TARGET));
    if std::env::var_os("SHOW").is_some() {
        println!(
            "{}",
            floodwatch_analysis::coverage::render::selftest_markdown(&c)
        );
    }
    assert!(c.passed, "{c:#?}");
    assert_eq!(c.hosts, vec!["lab-mac"]);
    let (s, d) = status(&c, "1", "exec of ping");
    assert_eq!(s, Status::Pass);
    assert!(d.contains(&format!("pid {}", truth.ping_pid)), "{d}");
    assert_eq!(status(&c, "1", "ran as root").0, Status::Pass);
    assert_eq!(status(&c, "1", "controlling terminal").0, Status::Pass);
    assert_eq!(status(&c, "1", "ICMP packets").0, Status::Pass);
    let (s, d) = status(&c, "1", "per-process volume");
    assert_eq!(s, Status::Info);
    assert!(d.contains("the ICMP gap"), "{d}");
    assert_eq!(status(&c, "1", "alerts on ping").0, Status::Pass);
    let (s, d) = status(&c, "2", "execs of curl");
    assert_eq!(s, Status::Pass);
    assert!(d.starts_with("200 of 200"), "{d}");
    let (s, d) = status(&c, "2", "one /bin/sh");
    assert_eq!(s, Status::Pass);
    assert!(d.contains(&format!("parent pid {}", truth.loop_pid)), "{d}");
    assert_eq!(status(&c, "2", "curl rows").0, Status::Pass);
    assert_eq!(status(&c, "2", "TCP connections").0, Status::Pass);
    let (s, d) = status(&c, "2", "alerts on the loop");
    assert_eq!(s, Status::Pass, "{d}");
    assert!(d.contains(&format!("pid {}", truth.loop_pid)), "{d}");
    assert_eq!(status(&c, "3", "exec of python3").0, Status::Pass);
    let (s, d) = status(&c, "3", "UDP socket");
    assert_eq!(s, Status::Pass, "{d}");
    assert_eq!(status(&c, "3", "UDP packets").0, Status::Pass);
    assert_eq!(status(&c, "3", "no alert expected").1, "none");
    // Without --target the check takes the target the runs named.
    assert_eq!(run_check(&host, None).target.as_deref(), Some(TARGET));
}

#[test]
fn without_a_network_sensor_the_flow_checks_are_skipped_with_the_fix() {
    let tmp = tempfile::tempdir().unwrap();
    let files = Files {
        eslogger: true,
        nettop: false,
        unifiedlog: true,
    };
    let (host, _) = lab(tmp.path(), files, false);
    let c = run_check(&host, Some(TARGET));
    assert!(c.passed, "{c:#?}");
    let (s, d) = status(&c, "1", "ICMP packets");
    assert_eq!(s, Status::Skip);
    assert!(d.contains("add Zeek"), "{d}");
    let (s, d) = status(&c, "2", "curl rows");
    assert_eq!(s, Status::Skip);
    assert!(d.contains("Network.framework"), "{d}");
}

#[test]
fn check_fails_step_by_step_without_the_runs() {
    let collection = common::collection();
    let c = run_check(&collection, Some(TARGET));
    assert!(!c.passed);
    for s in &c.steps {
        assert_eq!(
            s.status,
            Status::Fail,
            "step {}: {:#?}",
            s.id,
            s.expectations
        );
    }
    let (s, d) = status(&c, "1", "exec of ping");
    assert_eq!(s, Status::Fail);
    assert!(
        d.starts_with("no exec of ping with -p 6677746573742d70696e67"),
        "{d}"
    );
    assert!(status(&c, "2", "execs of curl").1.starts_with("0 of 200"));
    assert_eq!(status(&c, "3", "exec of python3").0, Status::Fail);
    // Through the binary: exit 1 and the failure in the Markdown.
    let (code, text, _) = cli(&[
        "--selftest-check",
        collection.to_str().unwrap(),
        "--target",
        TARGET,
    ]);
    assert_eq!(code, Some(1));
    assert!(text.contains("FAILED"), "{text}");
    assert!(
        text.contains("| exec of ping with the plan's arguments | FAIL |"),
        "{text}"
    );
}

#[test]
fn a_run_against_another_target_does_not_count() {
    let tmp = tempfile::tempdir().unwrap();
    let (host, _) = lab(tmp.path(), Files::ALL, false);
    let c = run_check(&host, Some("10.0.0.99"));
    assert!(!c.passed);
    assert_eq!(status(&c, "1", "exec of ping").0, Status::Fail);
}
