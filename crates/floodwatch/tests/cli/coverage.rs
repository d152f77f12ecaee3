//! `floodwatch coverage` on collections that hold one source, another, all three, or only a network
//! sensor: the channels each makes observable and the verdict per attack path (the rules in
//! `coverage/verdicts.rs`), plus clock skew, attribution shares, and the three output formats.

use crate::common;

use floodwatch_analysis::coverage::channels::Channel;
use floodwatch_analysis::coverage::verdicts::{AttackPath, Verdict};
use floodwatch_analysis::coverage::{analyze, CoverageReport, HostCoverage};
use floodwatch_core::time::days_from_civil;
use floodwatch_core::Ts;
use floodwatch_sim::host::{Files, HostFiles, HostOpts};
use std::path::{Path, PathBuf};

fn example_host() -> PathBuf {
    example("build-mac-07")
}

fn example(host: &str) -> PathBuf {
    common::collection().join(host)
}

/// A copy of build-mac-07 holding only `names` (nettop keeps its modification time: alone, it is
/// dated from it).
fn subset(dir: &Path, names: &[&str]) -> PathBuf {
    subset_of(dir, "build-mac-07", names)
}

fn subset_of(dir: &Path, from: &str, names: &[&str]) -> PathBuf {
    let host = dir.join(from);
    std::fs::create_dir_all(&host).unwrap();
    for n in names {
        let src = example(from).join(n);
        let dst = host.join(n);
        std::fs::copy(&src, &dst).unwrap();
        let mtime = std::fs::metadata(&src).unwrap().modified().unwrap();
        std::fs::File::options()
            .write(true)
            .open(&dst)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
    }
    dir.to_path_buf()
}

fn coverage(path: &Path) -> CoverageReport {
    let (_, cfg, res) = common::observed(path);
    analyze(&res, &cfg)
}

fn verdicts(h: &HostCoverage) -> Vec<(AttackPath, Verdict)> {
    h.verdicts.iter().map(|v| (v.path, v.verdict)).collect()
}

fn observed(h: &HostCoverage) -> Vec<Channel> {
    h.channels
        .iter()
        .filter(|c| c.observed)
        .map(|c| c.channel)
        .collect()
}

fn reason(h: &HostCoverage, p: AttackPath) -> String {
    h.verdicts
        .iter()
        .find(|v| v.path == p)
        .map(|v| format!("{} | {}", v.reason, v.fix))
        .unwrap()
}

use AttackPath::*;
use Verdict::*;

#[test]
fn eslogger_only() {
    let tmp = tempfile::tempdir().unwrap();
    let r = coverage(&subset(tmp.path(), &["eslogger.jsonl"]));
    let h = &r.hosts[0];
    assert_eq!(
        observed(h),
        vec![Channel::ProcessCreation, Channel::SessionUi]
    );
    assert_eq!(
        verdicts(h),
        vec![
            (CurlLoop, Degraded),
            (RootPingFlood, Degraded),
            (PythonUdpFlood, Degraded),
            (NetworkFrameworkBinary, Blind),
            (Hping3SynFlood, Degraded),
        ]
    );
    assert!(
        reason(h, CurlLoop).contains("exec rate seen"),
        "{}",
        reason(h, CurlLoop)
    );
    assert!(reason(h, CurlLoop).contains("no volume"));
    assert!(reason(h, RootPingFlood).contains("argv"));
    assert!(reason(h, RootPingFlood).contains("nettop does not report ICMP"));
    assert!(reason(h, Hping3SynFlood).contains("BPF"));
    // Every exec carries every context field in eslogger.
    assert!(h.exec_events > 300);
    assert!(
        h.exec_fields.iter().all(|s| s.share == Some(1.0)),
        "{:?}",
        h.exec_fields
    );
    // No traffic source: no bytes at all.
    assert!(h.bytes.shares.iter().all(|s| s.count == 0));
    assert_eq!(h.sources[0].rejected, 0);
    // The example's activities are hours apart: the silences between them are gaps.
    assert_eq!(h.sources[0].gaps.len(), 2);
    assert!(h.sources[0].gaps.iter().any(|g| g.secs > 5.0 * 3600.0));
}

#[test]
fn nettop_only() {
    let tmp = tempfile::tempdir().unwrap();
    let r = coverage(&subset(tmp.path(), &["nettop.csv"]));
    let h = &r.hosts[0];
    assert_eq!(observed(h), vec![Channel::ProcessVolume]);
    assert_eq!(
        verdicts(h),
        vec![
            (CurlLoop, Blind),
            (RootPingFlood, Blind),
            (PythonUdpFlood, Degraded),
            (NetworkFrameworkBinary, Degraded),
            (Hping3SynFlood, Blind),
        ]
    );
    assert!(reason(h, CurlLoop).contains("no parent to group them"));
    assert!(reason(h, PythonUdpFlood).contains("15-character name"));
    // Every byte has a pid, none an exec context.
    let s = &h.bytes.shares;
    assert_eq!((s[0].share, s[1].share), (Some(0.0), Some(1.0)));
    assert!(h.bytes.pid_only_top.iter().any(|(n, _)| n == "backupd"));
    assert_eq!(h.exec_events, 0);
}

#[test]
fn unified_log_only() {
    // admin-mbp-02's unified log: connection summaries, and its login and screen lock.
    let tmp = tempfile::tempdir().unwrap();
    let r = coverage(&subset_of(
        tmp.path(),
        "admin-mbp-02",
        &["unifiedlog.ndjson"],
    ));
    let h = &r.hosts[0];
    assert_eq!(
        observed(h),
        vec![Channel::ProcessVolume, Channel::SessionUi]
    );
    assert_eq!(
        verdicts(h),
        vec![
            (CurlLoop, Blind),
            (RootPingFlood, Blind),
            (PythonUdpFlood, Blind),
            (NetworkFrameworkBinary, Degraded),
            (Hping3SynFlood, Blind),
        ]
    );
    assert!(reason(h, CurlLoop).contains("Network.framework"));
    assert!(reason(h, PythonUdpFlood).contains("BSD sockets"));
    let vol = h
        .channels
        .iter()
        .find(|c| c.channel == Channel::ProcessVolume)
        .unwrap();
    assert!(
        vol.sources[0].contains("Network.framework clients only"),
        "{:?}",
        vol.sources
    );
}

#[test]
fn all_three_sources() {
    let r = coverage(&example_host());
    let h = &r.hosts[0];
    assert_eq!(
        observed(h),
        vec![
            Channel::ProcessCreation,
            Channel::ProcessVolume,
            Channel::SessionUi
        ]
    );
    assert_eq!(
        verdicts(h),
        vec![
            (CurlLoop, Detectable),
            (RootPingFlood, Degraded),
            (PythonUdpFlood, Detectable),
            (NetworkFrameworkBinary, Detectable),
            (Hping3SynFlood, Degraded),
        ]
    );
    let missing: Vec<&str> = h
        .channels
        .iter()
        .filter(|c| !c.observed)
        .map(|c| c.fix.as_str())
        .collect();
    assert!(missing.iter().any(|f| f.contains("PKTAP")));
    assert!(missing.iter().any(|f| f.contains("Zeek")));
    // nettop and the unified log agree with eslogger on the pids they share.
    assert_eq!(h.skew.len(), 2, "{:?}", h.skew);
    assert!(h
        .skew
        .iter()
        .all(|s| s.offset_s.is_none() && s.pids_in_both > 0));
    // Most outbound bytes belong to processes eslogger described (the Time Machine backup, the curls).
    assert!(h.bytes.shares[0].share.unwrap() > 0.99);
    assert_eq!(h.alerts, 1);
    assert_eq!(r.fleet.hosts, 1);
    assert_eq!(r.fleet.verdicts[0].detectable, 1);
}

#[test]
fn network_sensor_only() {
    let r = coverage(&PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/corpus/datasets/stratosphere-zeek-conn/002-zeek-scenario-port-scanning.conn.log"
    )));
    let h = &r.hosts[0];
    assert_eq!(observed(h), vec![Channel::NetworkFlows]);
    assert!(verdicts(h).iter().all(|(_, v)| *v == Degraded));
    assert_eq!(h.network_scans, 4);
    assert_eq!(h.bytes.shares[2].share, Some(1.0));
    assert_eq!(h.bytes.no_pid_top[0].0, "172.16.1.11");
}

#[test]
fn clock_skew_between_sources_is_measured_on_shared_pids() {
    let tmp = tempfile::tempdir().unwrap();
    let host = tmp.path().join("skewed-mac");
    let mut hf = HostFiles::create(&host, Files::ALL, HostOpts::default()).unwrap();
    // The unified log's clock runs 30 s behind the other sources.
    hf.set_unifiedlog_skew(-30.0);
    let start = Ts::from_secs(days_from_civil(2025, 9, 16) * 86_400 + 10 * 3_600);
    floodwatch_sim::lab::hping3_syn_flood(&mut hf, start, 20.0, "192.168.50.4", true);
    hf.finish().unwrap();
    let r = coverage(&host);
    let h = &r.hosts[0];
    let ul = h
        .skew
        .iter()
        .find(|s| s.other.ends_with("unifiedlog.ndjson"))
        .unwrap();
    // The summary, written at the flood's end (20 s in), lands 10 s before hping3 started: the
    // unified log runs at least that far behind.
    let o = ul.offset_s.unwrap();
    assert!((-11.0..-9.0).contains(&o), "{o}: {}", ul.text);
    assert!(ul.text.contains("runs at least"), "{}", ul.text);
    assert!(ul.text.contains("behind"));
    let nt = h
        .skew
        .iter()
        .find(|s| s.other.ends_with("nettop.csv"))
        .unwrap();
    assert_eq!(nt.offset_s, None, "{}", nt.text);
}

#[test]
fn formats_json_parses_and_html_is_inert() {
    let tmp = tempfile::tempdir().unwrap();
    // A hostile host folder and process name, as nettop would report them.
    let evil_host = "<img src=x onerror=alert(1)>";
    let host = tmp.path().join(evil_host);
    let files = Files {
        eslogger: false,
        nettop: true,
        unifiedlog: false,
    };
    let mut hf = HostFiles::create(&host, files, HostOpts::default()).unwrap();
    let start = Ts::from_secs(days_from_civil(2025, 9, 16) * 86_400 + 10 * 3_600);
    hf.nettop_capture(start, start.add_secs(10), 1);
    let sock = format!("tcp4 {}<->192.168.50.4:80", hf.local_endpoint());
    for i in 0..10 {
        hf.net_add(
            start.add_secs(i),
            4242,
            "<script>x()</script>",
            &sock,
            "en0",
            "Established",
            10,
            1000,
        );
    }
    hf.finish().unwrap();
    let run = |fmt: &str| {
        let out = assert_cmd::Command::cargo_bin("floodwatch")
            .unwrap()
            .args(["coverage", "--format", fmt])
            .arg(tmp.path())
            .output()
            .unwrap();
        common::assert_success(&out);
        String::from_utf8(out.stdout).unwrap()
    };
    let html = run("html");
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(!html.to_lowercase().contains("<script"), "{html}");
    assert!(!html.contains("<img"));
    // nettop cuts names to 15 characters; what is left is still escaped.
    assert!(html.contains("&lt;script&gt;x()&lt;/sc "), "{html}");
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert!(html.contains("<style>"));
    let md = run("md");
    assert!(!md.contains("<script"), "{md}");
    let json: serde_json::Value = serde_json::from_str(&run("json")).unwrap();
    assert_eq!(json["fleet"]["hosts"], 1);
    assert_eq!(json["hosts"][0]["host"], evil_host);
    assert_eq!(json["hosts"][0]["verdicts"][2]["path"], "python_udp_flood");
    assert_eq!(json["hosts"][0]["verdicts"][2]["verdict"], "degraded");
    // Re-runs are identical.
    assert_eq!(run("json"), run("json"));
}

#[test]
fn eslogger_and_a_pktap_capture_make_the_ping_flood_detectable() {
    use floodwatch_sim::pcap::{
        ethernet, icmp_echo, ipv4, Endian, EpbOptions, PcapngWriter, EPB_FLAG_OUTBOUND,
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = subset(tmp.path(), &["eslogger.jsonl"]);
    // `tcpdump -k` on the same host: a ping (pid 4242) named by a Process Information Block.
    let mut w = PcapngWriter::new();
    w.section(Endian::Little);
    w.interface(1, None);
    w.process(4242, "ping", Some("/sbin/ping"), None);
    let echo = ethernet(
        0x0800,
        &ipv4(
            [10, 0, 0, 7],
            [198, 51, 100, 7],
            1,
            &icmp_echo(false, 1, 1, 56),
        ),
    );
    let t0 = Ts::from_secs(days_from_civil(2025, 9, 16) * 86_400 + 3_600).0;
    for i in 0..200 {
        let opts = EpbOptions {
            flags: Some(EPB_FLAG_OUTBOUND),
            pib_index: Some(0),
            e_pib_index: None,
        };
        w.packet(0, t0 + i * 10_000_000, &echo, opts);
    }
    std::fs::write(dir.join("build-mac-07").join("k.pcapng"), w.into_bytes()).unwrap();
    let r = coverage(&dir);
    let h = &r.hosts[0];
    assert!(
        observed(h).contains(&Channel::IcmpAttribution),
        "{:?}",
        observed(h)
    );
    let ping = verdicts(h)
        .into_iter()
        .find(|(p, _)| *p == RootPingFlood)
        .unwrap();
    assert_eq!(ping.1, Detectable, "{}", reason(h, RootPingFlood));
    assert!(reason(h, RootPingFlood).contains("ICMP volume measured per process"));
}
