//! Network-level findings end to end: real Zeek logs (an Nmap scan, a labelled benign day), a SYN flood
//! written as Zeek writes it, and the join to the process behind it when a process source on the same
//! host saw it (by destination, or by its command line naming the target).

use floodwatch_core::config::Config;
use floodwatch_core::finding::{JoinKind, NetworkClass, NetworkFinding};
use floodwatch_core::time::days_from_civil;
use floodwatch_core::Ts;
use floodwatch_engine::suppress::Suppressions;
use floodwatch_runtime::output::{write_hunt, AlertFormat};
use floodwatch_runtime::{hunt, HuntOptions, HuntResult};
use floodwatch_sim::host::{Files, HostFiles, HostOpts};
use floodwatch_sim::{lab, zeek};
use floodwatch_sinks::ocsf::{network_finding, Activity};
use floodwatch_sinks::summary::write_summary;
use std::path::{Path, PathBuf};

use crate::common;

use floodwatch_core::respond::Answer;

fn dataset(name: &str) -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/corpus/datasets/stratosphere-zeek-conn/"
    ))
    .join(name)
}

fn run(paths: &[&Path]) -> HuntResult {
    let opts = HuntOptions {
        paths: paths.iter().map(|p| p.to_path_buf()).collect(),
        threads: 1,
        ..Default::default()
    };
    hunt(&opts, Config::default(), Suppressions::default()).expect("hunt runs")
}

fn summary_text(r: &HuntResult) -> String {
    let mut out = Vec::new();
    write_summary(&mut out, &r.summary).unwrap();
    String::from_utf8(out).unwrap()
}

fn floods(r: &HuntResult) -> Vec<&NetworkFinding> {
    r.findings
        .iter()
        .filter(|f| f.class == NetworkClass::Flood)
        .collect()
}

fn night() -> Ts {
    Ts::from_secs(days_from_civil(2025, 9, 16) * 86_400 + 2 * 3_600 + 30 * 60)
}

#[test]
fn nmap_scan_log_is_a_scan_not_a_flood() {
    let r = run(&[&dataset("002-zeek-scenario-port-scanning.conn.log")]);
    assert!(floods(&r).is_empty(), "{:#?}", floods(&r));
    assert!(r.alerts.is_empty());
    let f = &r.summary.files[0];
    assert_eq!((f.events, f.rejected), (4504, 0));
    let scans: Vec<&NetworkFinding> = r.findings.iter().collect();
    assert_eq!(scans.len(), 4, "{scans:#?}");
    assert!(scans.iter().all(|s| s.class == NetworkClass::Scan
        && s.local == "172.16.1.11"
        && s.severity == floodwatch_core::alert::Severity::Informational));
    // The widest one: a sweep of 130 hosts over the top 100 ports (Nmap -F), about one packet a probe.
    let widest = scans.iter().max_by_key(|s| s.distinct_hosts).unwrap();
    assert_eq!((widest.distinct_hosts, widest.distinct_ports), (130, 100));
    assert_eq!(widest.target, None);
    assert_eq!((widest.packets, widest.connections), (3981, 3734));
    // Its busiest window: 725 connections/s over 4.5 s of activity (a scan's rate, not a flood's).
    assert!(
        (700.0..750.0).contains(&widest.peak_connections_per_s),
        "{}",
        widest.peak_connections_per_s
    );
    assert_eq!(scans.iter().map(|s| s.connections).sum::<u64>(), 4366);
    assert!(
        widest.reasons[0].starts_with("scan, not a flood"),
        "{:?}",
        widest.reasons
    );
    // A port scan of a single host names it.
    assert!(scans
        .iter()
        .any(|s| s.target.as_deref() == Some("192.168.1.155") && s.distinct_ports == 100));
    let text = summary_text(&r);
    assert!(
        text.contains("scan (not a flood) from 172.16.1.11: 130 host(s), 100 port(s)"),
        "{text}"
    );
    // A scan's playbook asks whether it was sanctioned; there is no flood to block.
    for s in &scans {
        let p = s.playbook.as_ref().unwrap();
        assert_eq!(p.recommended, "confirm_owner", "{}", p.why);
        let block = p
            .containment
            .iter()
            .find(|c| c.id == "block_destination")
            .unwrap();
        assert!(!block.applicable && block.commands.is_empty(), "{block:?}");
    }
    // Scans never reach the OCSF stream.
    let mut jsonl = Vec::new();
    floodwatch_sinks::ocsf::write_network_jsonl(&mut jsonl, &r.findings, "test").unwrap();
    assert!(jsonl.is_empty());
}

#[test]
fn labelled_benign_day_gives_no_finding() {
    let r = run(&[&dataset("008-zeek-mixed.conn.log.labeled")]);
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
    assert!(r.alerts.is_empty());
    let f = &r.summary.files[0];
    // One row an hour late (Zeek writes at connection end plus timeout; this one is far behind): the
    // engine refuses it, so it counts as rejected, not as an event.
    assert_eq!(f.events, 5662);
    assert_eq!(f.rejected, 1, "{:?}", f.samples);
    assert_eq!(f.records, f.events + f.skipped + f.rejected + f.carried);
    assert!(f.samples[0].detail.contains("network.reorder_slack"));
    assert!(!summary_text(&r).contains("scan (not a flood)"));
}

/// A host folder `name` with a Zeek conn.log of `rows` (sorted as Zeek writes them).
fn zeek_host(dir: &Path, name: &str, rows: Vec<zeek::Conn>) -> PathBuf {
    let host = dir.join(name);
    std::fs::create_dir_all(&host).unwrap();
    zeek::write_conn_log(&host.join("conn.log"), &zeek::by_end(rows)).unwrap();
    host
}

#[test]
fn syn_flood_in_zeek_tsv_is_a_network_only_flood_at_its_real_rate() {
    let tmp = tempfile::tempdir().unwrap();
    let t0 = night();
    let local = "10.20.30.40";
    let mut rows = zeek::routine(1, t0.add_secs(-120), 300.0, local);
    rows.extend(zeek::syn_flood(
        1,
        t0,
        1.0,
        20_000,
        local,
        "192.168.50.4",
        80,
    ));
    // The host folder is not the sending address: the finding keys on Zeek's originator.
    let host = zeek_host(tmp.path(), "gw-sensor", rows);
    let r = run(&[&host]);
    assert_eq!(
        r.summary.files[0].rejected, 0,
        "{:?}",
        r.summary.files[0].samples
    );
    let fl = floods(&r);
    assert_eq!(fl.len(), 1, "{:#?}", r.findings);
    let f = fl[0];
    assert_eq!(f.host, "gw-sensor");
    assert_eq!(f.local, local);
    assert_eq!(f.target.as_deref(), Some("192.168.50.4"));
    assert_eq!((f.syn, f.packets, f.connections), (20_000, 20_000, 20_000));
    // 20,000 SYNs over 1 s of activity (the first to the last row), not 667/s over the 30 s window.
    assert!(
        (19_000.0..21_000.0).contains(&f.peak_syn_per_s),
        "{}",
        f.peak_syn_per_s
    );
    assert!(
        (0.95..1.05).contains(&f.peak_span_secs),
        "{}",
        f.peak_span_secs
    );
    assert_eq!(f.distinct_ports, 1);
    assert_eq!(f.severity, floodwatch_core::alert::Severity::High);
    assert_eq!(f.process.kind, JoinKind::NetworkOnly);
    assert!(f
        .process
        .text
        .starts_with("network-only: no process source covers this host/time"));
    assert!(f.reasons[0].contains("SYN/s"), "{:?}", f.reasons);
    // Evidence is located (file and line).
    assert!(f.evidences[0].file.ends_with("gw-sensor/conn.log"));
    assert!(f.evidences[0].line > 8);
    let v = network_finding(f, Activity::Create, "test");
    assert_eq!(v["class_uid"], 2004);
    assert_eq!(v["unmapped"]["floodwatch"]["kind"], "network");
    // Detection Finding has no endpoints of its own: each evidence record carries them.
    assert!(v.get("src_endpoint").is_none() && v.get("dst_endpoint").is_none());
    assert_eq!(v["evidences"][0]["src_endpoint"]["ip"], local);
    assert_eq!(v["evidences"][0]["dst_endpoint"]["ip"], "192.168.50.4");
    assert_eq!(v["metadata"]["log_provider"], "zeek-conn-tsv");
    assert!(
        v.get("actor").is_none(),
        "no process object: the traffic has no pid"
    );
    assert_eq!(v["finding_info"]["analytic"]["uid"], "AN0971");
    // Its playbook: no process behind it, so the first step is the destination (a private
    // address with no owned ranges configured: "unknown", not "owned"), and the answers say why.
    let p = f
        .playbook
        .as_ref()
        .expect("a network flood carries a playbook");
    let answer = |id: &str| p.decision(id).unwrap().answer;
    assert_eq!(answer("destination_owned"), Answer::Unknown);
    assert_eq!(answer("target_answered"), Answer::No);
    assert!(p
        .decision("still_running")
        .unwrap()
        .fact
        .contains("network-only"));
    assert_eq!(p.recommended, "block_destination");
    assert!(p
        .recommended_option()
        .unwrap()
        .commands
        .iter()
        .any(|c| c.contains("block drop out quick to 192.168.50.4")));
    assert_eq!(
        v["remediation"]["desc"].as_str(),
        Some(p.summary.as_str()),
        "OCSF remediation carries the playbook"
    );
    assert_eq!(
        v["unmapped"]["floodwatch"]["playbook"]["recommended"],
        "block_destination"
    );
    // Same input, same id.
    assert_eq!(run(&[&host]).findings[0].id, f.id);
}

#[test]
fn short_burst_is_rated_over_its_own_span() {
    // The CIC-DDoS2019 sample's shape: 18,778 SYNs to one host within 0.687 s.
    let tmp = tempfile::tempdir().unwrap();
    let rows = zeek::syn_flood(2, night(), 0.687, 18_778, "172.16.0.5", "192.168.50.1", 80);
    let host = zeek_host(tmp.path(), "cic", rows);
    let r = run(&[&host]);
    let fl = floods(&r);
    assert_eq!(fl.len(), 1);
    assert!(
        (26_500.0..28_000.0).contains(&fl[0].peak_syn_per_s),
        "{}",
        fl[0].peak_syn_per_s
    );
}

#[test]
fn below_the_minimum_count_is_not_a_flood() {
    // 250 SYNs in 10 ms divide into 25,000/s, but they are fewer than network.min_packets (1,000)
    // and network.min_connections (300): a burst this small is no flood.
    let tmp = tempfile::tempdir().unwrap();
    let rows = zeek::syn_flood(3, night(), 0.01, 250, "10.0.0.9", "10.0.0.1", 443);
    let host = zeek_host(tmp.path(), "tiny", rows);
    let r = run(&[&host]);
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
}

/// A Mac's folder with eslogger (and, with `traffic`, nettop and unified log) holding `sudo hping3 -S
/// --flood 192.168.50.4` from Terminal, plus the gateway's conn.log of that flood.
fn joined_host(dir: &Path, traffic: bool) -> (PathBuf, floodwatch_sim::families::Act) {
    let host = dir.join("lab-mac");
    let files = Files {
        eslogger: true,
        nettop: traffic,
        unifiedlog: traffic,
    };
    let mut hf = HostFiles::create(&host, files, HostOpts::default()).unwrap();
    let start = night();
    let act = lab::hping3_syn_flood(&mut hf, start, 20.0, "192.168.50.4", traffic);
    let ip = hf.ip.clone();
    hf.finish().unwrap();
    let mut rows = zeek::routine(4, start.add_secs(-60), 120.0, &ip);
    rows.extend(zeek::syn_flood(
        4,
        start.add_secs(5),
        1.0,
        20_000,
        &ip,
        "192.168.50.4",
        80,
    ));
    zeek::write_conn_log(&host.join("conn.log"), &zeek::by_end(rows)).unwrap();
    (host, act)
}

#[test]
fn flood_joins_the_process_seen_sending_to_the_target() {
    let tmp = tempfile::tempdir().unwrap();
    let (host, act) = joined_host(tmp.path(), true);
    let r = run(&[&host]);
    for f in &r.summary.files {
        assert_eq!(f.rejected, 0, "{}: {:?}", f.path, f.samples);
    }
    let fl = floods(&r);
    assert_eq!(fl.len(), 1, "{:#?}", r.findings);
    let j = &fl[0].process;
    assert_eq!(j.kind, JoinKind::Destination, "{}", j.text);
    let p = j.process.as_ref().unwrap();
    assert_eq!(Some(p.pid), act.subject_pid);
    assert_eq!(p.path, act.subject_path);
    assert_eq!(
        p.cmd_line.as_deref(),
        Some("hping3 -S --flood 192.168.50.4")
    );
    assert!(
        j.text
            .starts_with("joined by destination 192.168.50.4 and time: pid "),
        "{}",
        j.text
    );
    // Its parents: sudo, then the interactive shell.
    assert!(
        j.parents[0].path.as_deref() == Some("/usr/bin/sudo"),
        "{:?}",
        j.parents
    );
    // Table output names it, escaped.
    let mut out = Vec::new();
    floodwatch_sinks::table::write_network_table(
        &mut out,
        &r.findings,
        &floodwatch_sinks::table::Style { color: false },
    )
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("joined by destination 192.168.50.4"),
        "{text}"
    );
    assert!(text.contains("hping3 -S --flood 192.168.50.4"), "{text}");
    // The OCSF lines (the interactive process alert and the joined network finding) are valid OCSF
    // 1.3.0; the joined process is an evidence of the network finding, with its lineage.
    let mut out = Vec::new();
    write_hunt(&mut out, &r, AlertFormat::Jsonl).unwrap();
    let jsonl = String::from_utf8(out).unwrap();
    assert!(common::ocsf::assert_valid_jsonl("joined lab-mac", &jsonl) >= 2);
    let net: serde_json::Value = jsonl
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["unmapped"]["floodwatch"]["kind"] == "network")
        .unwrap();
    let joined = net["evidences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["data"]["kind"] == "joined_process")
        .unwrap();
    assert_eq!(joined["process"]["pid"], p.pid);
    assert_eq!(joined["process"]["parent_process"]["name"], "sudo");
    // Joined to a process: the playbook's first step stops it, by pid.
    let book = fl[0].playbook.as_ref().unwrap();
    assert_eq!(book.recommended, "stop_process", "{}", book.why);
    assert!(book
        .recommended_option()
        .unwrap()
        .title
        .contains(&p.pid.to_string()));
    assert_eq!(net["confidence_id"], 3, "joined by destination: High");
    // The process alert of the same flood: started from Terminal, its TTY is the session's terminal
    // (OCSF's process has no terminal of its own).
    let alert: serde_json::Value = serde_json::from_str(jsonl.lines().next().unwrap()).unwrap();
    assert!(
        alert["actor"]["process"]["session"]["terminal"].is_string(),
        "{}",
        alert["actor"]
    );
}

#[test]
fn without_traffic_the_command_line_naming_the_target_joins() {
    let tmp = tempfile::tempdir().unwrap();
    let (host, act) = joined_host(tmp.path(), false);
    let r = run(&[&host]);
    let fl = floods(&r);
    assert_eq!(fl.len(), 1, "{:#?}", r.findings);
    let j = &fl[0].process;
    assert_eq!(j.kind, JoinKind::CommandLine, "{}", j.text);
    assert_eq!(j.process.as_ref().map(|p| p.pid), act.subject_pid);
    assert!(
        j.text.starts_with("joined by command line and time"),
        "{}",
        j.text
    );
    assert!(j.text.contains("PKTAP"), "{}", j.text);
}

#[test]
fn process_sources_that_never_saw_the_target_say_so() {
    // The same host's eslogger covers the time but nothing names 192.168.77.7.
    let tmp = tempfile::tempdir().unwrap();
    let (host, _) = joined_host(tmp.path(), false);
    let mut rows = Vec::new();
    // The host's address is in the existing conn.log; flood another target from it.
    let text = std::fs::read_to_string(host.join("conn.log")).unwrap();
    let ip = text
        .lines()
        .find(|l| !l.starts_with('#'))
        .and_then(|l| l.split('\t').nth(2))
        .unwrap()
        .to_string();
    rows.extend(zeek::syn_flood(
        5,
        night().add_secs(8),
        1.0,
        5_000,
        &ip,
        "192.168.77.7",
        22,
    ));
    std::fs::write(host.join("conn.log"), "").unwrap();
    zeek::write_conn_log(&host.join("conn.log"), &rows).unwrap();
    let r = run(&[&host]);
    let fl = floods(&r);
    assert_eq!(fl.len(), 1, "{:#?}", r.findings);
    assert_eq!(fl[0].process.kind, JoinKind::NotSeen);
    assert!(fl[0]
        .process
        .text
        .starts_with("network-only: process sources cover lab-mac at this time, but none saw traffic to 192.168.77.7"));
}

#[test]
fn hunt_jsonl_carries_the_network_finding() {
    let tmp = tempfile::tempdir().unwrap();
    let rows = zeek::syn_flood(6, night(), 1.0, 20_000, "10.9.9.9", "192.168.50.4", 80);
    let host = zeek_host(tmp.path(), "sensor", rows);
    let out = assert_cmd::Command::cargo_bin("floodwatch")
        .unwrap()
        .args(["hunt", "--format", "jsonl"])
        .arg(&host)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["unmapped"]["floodwatch"]["kind"], "network");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("network flood 10.9.9.9 → 192.168.50.4"),
        "{stderr}"
    );
}

fn pcap_host(dir: &Path, host: &str, file: &str) -> PathBuf {
    let src = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/corpus/pcap/"
    ))
    .join(file);
    let d = dir.join(host);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::copy(&src, d.join(file)).unwrap();
    dir.to_path_buf()
}

#[test]
fn real_syn_flood_pcap_is_a_network_flood_at_about_27k_syn_per_s() {
    let tmp = tempfile::tempdir().unwrap();
    let r = run(&[&pcap_host(
        tmp.path(),
        "gateway",
        "CIC-DDoS-2019-SynFlood.pcap",
    )]);
    let f = &r.summary.files[0];
    assert_eq!((f.records, f.rejected), (26_316, 0));
    let fl = floods(&r);
    assert_eq!(fl.len(), 1, "{:#?}", r.findings);
    let f = fl[0];
    assert_eq!(f.local, "172.16.0.5");
    assert_eq!(f.target.as_deref(), Some("192.168.50.4"));
    assert_eq!(f.syn, 18_778);
    // 18,778 SYNs over the 0.687 s the attack lasts.
    assert!(
        (26_500.0..=28_000.0).contains(&f.peak_syn_per_s),
        "{}",
        f.peak_syn_per_s
    );
    assert!(f.reasons[0].contains("SYN/s"), "{:?}", f.reasons);
    // The RST/ACK replies from the victim are not a flood of the victim's.
    assert!(r.findings.iter().all(|x| x.local != "192.168.50.4"));
    // No process source on this host: the finding says what it lacks.
    assert_eq!(f.process.kind, JoinKind::NetworkOnly);
    assert!(r.alerts.is_empty());
}

#[test]
fn real_low_rate_http_attack_pcap_is_not_a_volumetric_flood() {
    let tmp = tempfile::tempdir().unwrap();
    let r = run(&[&pcap_host(tmp.path(), "web", "CIC-DDoS-2019-WebDDoS.pcap")]);
    let f = &r.summary.files[0];
    assert_eq!((f.records, f.rejected), (3_104, 0));
    assert!(floods(&r).is_empty(), "{:#?}", r.findings);
}

/// `count` SYNs from `local` to `target`, destination port `port_of(i)`, evenly over `secs`.
fn syn_rows(
    start: Ts,
    secs: f64,
    count: u64,
    local: &str,
    target: &str,
    port_of: impl Fn(u64) -> u16,
) -> Vec<zeek::Conn> {
    let mut rows = zeek::syn_flood(3, start, secs, count, local, target, 80);
    for (i, r) in rows.iter_mut().enumerate() {
        r.resp_p = port_of(i as u64);
    }
    rows
}

#[test]
fn a_syn_flood_spraying_random_ports_is_a_flood_and_a_port_scan_is_not() {
    let tmp = tempfile::tempdir().unwrap();
    // The CIC sample's shape in Zeek form: 18,778 SYNs in 0.687 s over thousands of ports of one host.
    let spray = syn_rows(night(), 0.687, 18_778, "172.16.0.5", "192.168.50.4", |i| {
        (1 + (i * 7_919) % 65_000) as u16
    });
    let r = run(&[&zeek_host(tmp.path(), "spray", spray)]);
    let fl = floods(&r);
    assert_eq!(fl.len(), 1, "{:#?}", r.findings);
    // Distinct ports are counted up to a cap (4,096) to bound memory.
    assert!(fl[0].distinct_ports >= 4_000, "{}", fl[0].distinct_ports);
    assert!(
        fl[0].reasons.iter().any(|x| x.contains("port-spraying")),
        "{:?}",
        fl[0].reasons
    );
    // nmap -sS of the 1,000 most common ports of one host, fast: a scan, not a flood.
    let scan = syn_rows(night(), 0.8, 1_000, "172.16.0.9", "192.168.50.7", |i| {
        (1 + i) as u16
    });
    let r = run(&[&zeek_host(tmp.path(), "scan", scan)]);
    assert!(floods(&r).is_empty(), "{:#?}", r.findings);
    assert!(r.findings.iter().any(|f| f.class == NetworkClass::Scan));
}

/// `rows` UDP "connections" of 10 s each from `local` to a WireGuard-like endpoint, back to back,
/// `out_pps` packets out and `in_pps` answered.
fn udp_rows(local: &str, target: &str, rows: i64, out_pps: u64, in_pps: u64) -> Vec<zeek::Conn> {
    (0..rows)
        .map(|i| zeek::Conn {
            ts: night().add_secs(i * 10),
            uid: format!("Cudp{i:06}"),
            orig_h: local.to_string(),
            orig_p: 51_820,
            resp_h: target.to_string(),
            resp_p: 51_820,
            proto: "udp",
            service: None,
            duration: Some(9.99),
            orig_bytes: Some(out_pps * 10 * 100),
            resp_bytes: Some(in_pps * 10 * 100),
            conn_state: if in_pps > 0 { "SF" } else { "S0" },
            history: Some(if in_pps > 0 { "Dd" } else { "D" }),
            orig_pkts: out_pps * 10,
            orig_ip_bytes: out_pps * 10 * 128,
            resp_pkts: in_pps * 10,
            resp_ip_bytes: in_pps * 10 * 128,
        })
        .collect()
}

#[test]
fn answered_udp_is_a_conversation_and_unanswered_udp_is_a_flood() {
    let tmp = tempfile::tempdir().unwrap();
    // A VPN tunnel at 3,000 packets/s out, 2,400 back, for a minute: no finding.
    let vpn = zeek_host(
        tmp.path(),
        "vpn",
        udp_rows("10.1.1.5", "203.0.113.50", 6, 3_000, 2_400),
    );
    let r = run(&[&vpn]);
    assert!(floods(&r).is_empty(), "{:#?}", r.findings);
    // The same rate with nothing coming back: a UDP flood.
    let flood = zeek_host(
        tmp.path(),
        "flood",
        udp_rows("10.1.1.6", "203.0.113.51", 6, 3_000, 0),
    );
    let r = run(&[&flood]);
    let fl = floods(&r);
    assert_eq!(fl.len(), 1, "{:#?}", r.findings);
    assert!(
        (2_900.0..=3_100.0).contains(&fl[0].peak_packets_per_s),
        "{}",
        fl[0].peak_packets_per_s
    );
    assert!(
        fl[0].reasons[0].contains("packets/s"),
        "{:?}",
        fl[0].reasons
    );
}

#[test]
fn in_a_capture_the_reverse_direction_answers_udp() {
    use floodwatch_sim::pcap::{ethernet, ipv4, udp, Endian, PcapWriter, LINKTYPE_ETHERNET};
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = ([10, 1, 1, 7], [203, 0, 113, 52]);
    let write = |host: &str, answered: bool| {
        let mut w = PcapWriter::new(Endian::Little, false, u32::from(LINKTYPE_ETHERNET));
        let out = ethernet(0x0800, &ipv4(a, b, 17, &udp(51_820, 51_820, 100)));
        let back = ethernet(0x0800, &ipv4(b, a, 17, &udp(51_820, 51_820, 100)));
        let t0 = night().0;
        for i in 0..(2_000 * 20) {
            let t = t0 + i * 500_000;
            w.packet(t, &out);
            if answered && i % 5 != 0 {
                w.packet(t + 100_000, &back);
            }
        }
        let d = tmp.path().join(host);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("cap.pcap"), w.into_bytes()).unwrap();
        d
    };
    let r = run(&[&write("two-way", true)]);
    assert!(floods(&r).is_empty(), "{:#?}", r.findings);
    let r = run(&[&write("one-way", false)]);
    assert_eq!(floods(&r).len(), 1, "{:#?}", r.findings);
}
