//! Network findings on real captures as a user meets them (issue 11): answers are never a flood
//! source, a finding states its burst as it was, a spoofed-source flood is noted from the victim's
//! side (never as a T1498.001 finding), and network floods are listed, with their severity, next to
//! the process alerts in the table, the host verdicts and the report.
//!
//! Data: the real CIC-DDoS2019 SYN flood capture (tests/data/corpus/pcap, provenance there); its
//! spoofed-source form made here byte for byte from it (each SYN gets its own forged source, each
//! RST/ACK goes back to it, as bench/spoofed_syn_pcap.py does); and an ICMP flood written with the
//! simulator's pcap writer (no real ICMP flood capture is in the corpus).

use floodwatch_core::config::Config;
use floodwatch_core::finding::{NetworkClass, NetworkFinding};
use floodwatch_core::time::days_from_civil;
use floodwatch_core::Ts;
use floodwatch_engine::suppress::Suppressions;
use floodwatch_runtime::output::{write_hunt, AlertFormat};
use floodwatch_runtime::{hunt, HuntOptions, HuntResult};
use floodwatch_sim::pcap::{ethernet, icmp_echo, ipv4, Endian, PcapWriter, LINKTYPE_ETHERNET};
use floodwatch_sinks::report::markdown_report;
use floodwatch_sinks::summary::write_summary;
use std::path::{Path, PathBuf};

const SYNFLOOD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/data/corpus/pcap/CIC-DDoS-2019-SynFlood.pcap"
);

fn run_cfg(path: &Path, cfg: Config) -> HuntResult {
    let opts = HuntOptions {
        paths: vec![path.to_path_buf()],
        threads: 1,
        ..Default::default()
    };
    hunt(&opts, cfg, Suppressions::default()).expect("hunt runs")
}

fn run(path: &Path) -> HuntResult {
    run_cfg(path, Config::default())
}

fn summary_text(r: &HuntResult) -> String {
    let mut out = Vec::new();
    write_summary(&mut out, &r.summary).unwrap();
    String::from_utf8(out).unwrap()
}

fn of(r: &HuntResult, class: NetworkClass) -> Vec<&NetworkFinding> {
    r.findings.iter().filter(|f| f.class == class).collect()
}

/// A collection folder holding one host folder with one capture (the host is named by its folder).
fn host_file(host: &str, name: &str, bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join(host);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join(name), bytes).unwrap();
    let root = tmp.path().to_path_buf();
    (tmp, root)
}

/// The real SYN flood capture with every SYN from its own forged IPv4 source (100.64.0.0 upwards)
/// and each RST/ACK sent back to the SYN's forged source (matched on the port pair). Records keep
/// their headers, lengths and times; only the addresses (and the IPv4 header checksum) change.
fn spoofed_synflood() -> Vec<u8> {
    let mut d = std::fs::read(SYNFLOOD).unwrap();
    let (attacker, victim) = ([172, 16, 0, 5], [192, 168, 50, 4]);
    let mut forged = std::collections::HashMap::new();
    let mut n = 0u32;
    let mut off = 24;
    while off + 16 <= d.len() {
        let incl = u32::from_le_bytes(d[off + 8..off + 12].try_into().unwrap()) as usize;
        let p = off + 16;
        off = p + incl;
        let ip = p + 14;
        let ihl = usize::from(d[ip] & 15) * 4;
        let ports: [u8; 4] = d[ip + ihl..ip + ihl + 4].try_into().unwrap();
        if d[ip + 12..ip + 16] == attacker && d[ip + 16..ip + 20] == victim {
            let a = (0x6440_0000 + n).to_be_bytes();
            n += 1;
            forged.insert(ports, a);
            d[ip + 12..ip + 16].copy_from_slice(&a);
        } else if d[ip + 12..ip + 16] == victim {
            let back = [ports[2], ports[3], ports[0], ports[1]];
            if let Some(a) = forged.get(&back) {
                d[ip + 16..ip + 20].copy_from_slice(a);
            }
        }
        d[ip + 10..ip + 12].copy_from_slice(&[0, 0]);
        let sum = d[ip..ip + ihl]
            .chunks(2)
            .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
            .sum::<u32>();
        let sum = (sum & 0xFFFF) + (sum >> 16);
        let sum = !(((sum & 0xFFFF) + (sum >> 16)) as u16);
        d[ip + 10..ip + 12].copy_from_slice(&sum.to_be_bytes());
    }
    assert_eq!(n, 18_778);
    d
}

/// An ICMP flood as the issue saw it: 18,549 echo requests from 10.4.0.9 to 10.4.0.77 in 1.41 s
/// (about 13k/s), straddling a window boundary; the victim answers 5,764 of them (echo replies) and
/// sends 300 port-unreachables for a stray UDP stream.
fn icmp_flood() -> Vec<u8> {
    let (me, victim) = ([10, 4, 0, 9], [10, 4, 0, 77]);
    let t0 = Ts::from_secs(days_from_civil(2025, 9, 16) * 86_400 + 2 * 3_600 + 14).0 + 300_000_000;
    let mut w = PcapWriter::new(Endian::Little, false, u32::from(LINKTYPE_ETHERNET));
    let gap = 1_410_000_000 / 18_548;
    let mut reply = icmp_echo(false, 1, 0, 56);
    reply[0] = 0;
    let mut unreach = vec![3, 3, 0, 0, 0, 0, 0, 0];
    unreach.extend_from_slice(&ipv4(me, victim, 17, &[0; 8]));
    for i in 0..18_549i64 {
        let t = t0 + i * gap;
        let seq = (i % 65_536) as u16;
        w.packet(
            t,
            &ethernet(0x0800, &ipv4(me, victim, 1, &icmp_echo(false, 1, seq, 56))),
        );
        if i % 3 == 0 && i / 3 < 5_764 {
            w.packet(t + 20_000, &ethernet(0x0800, &ipv4(victim, me, 1, &reply)));
        }
        if i % 60 == 1 && i / 60 < 300 {
            w.packet(
                t + 30_000,
                &ethernet(0x0800, &ipv4(victim, me, 1, &unreach)),
            );
        }
    }
    w.into_bytes()
}

#[test]
fn icmp_replies_and_errors_never_make_the_victim_a_flood_source() {
    let (_tmp, dir) = host_file("lab-mac", "icmp.pcap", &icmp_flood());
    let r = run(&dir);
    assert_eq!(r.summary.files[0].rejected, 0);
    let floods = of(&r, NetworkClass::Flood);
    assert_eq!(floods.len(), 1, "{:#?}", r.findings);
    let f = floods[0];
    assert_eq!(
        (f.local.as_str(), f.target.as_deref()),
        ("10.4.0.9", Some("10.4.0.77"))
    );
    // The victim's 5,764 echo replies and 300 unreachables: evidence, not a flood or a scan.
    assert!(
        r.findings.iter().all(|x| x.local != "10.4.0.77"),
        "{:#?}",
        r.findings
    );
    assert_eq!(f.answers_from_target, 5_764 + 300);
    assert!(
        f.reasons
            .iter()
            .any(|x| x.contains("10.4.0.77 answered 6064 packet(s)")),
        "{:?}",
        f.reasons
    );
}

#[test]
fn a_finding_states_its_burst_as_it_was() {
    let (_tmp, dir) = host_file("lab-mac", "icmp.pcap", &icmp_flood());
    let r = run(&dir);
    let f = of(&r, NetworkClass::Flood)[0];
    assert_eq!(f.packets, 18_549);
    assert!((1.40..1.42).contains(&f.span_secs), "{}", f.span_secs);
    assert!(
        (13_000.0..13_400.0).contains(&f.avg_packets_per_s),
        "{}",
        f.avg_packets_per_s
    );
    let why = &f.reasons[0];
    assert!(
        why.starts_with("18549 UDP/ICMP packets to 10.4.0.77 in 1.41 s: 13,"),
        "{why}"
    );
    assert!(why.contains(" packets/s on average, peak "), "{why}");
    // One burst of 1.41 s is not "sustained", whatever windows it straddles.
    assert!(
        f.reasons.iter().all(|x| !x.contains("sustained")),
        "{:?}",
        f.reasons
    );
    let text = summary_text(&r);
    assert!(
        text.contains("18549 packets, 0 SYN, 0 connections in 1.41 s"),
        "{text}"
    );
}

#[test]
fn spoofed_syn_flood_is_noted_from_the_victims_side_and_never_a_finding() {
    let (_tmp, dir) = host_file("gateway", "spoofed.pcap", &spoofed_synflood());
    let r = run(&dir);
    assert_eq!(r.summary.files[0].records, 26_316);
    // No forged sender floods, and the victim's 7,538 RST/ACKs to 3,769 addresses are no scan.
    assert!(of(&r, NetworkClass::Flood).is_empty(), "{:#?}", r.findings);
    assert!(of(&r, NetworkClass::Scan).is_empty(), "{:#?}", r.findings);
    let inbound = of(&r, NetworkClass::Inbound);
    assert_eq!(inbound.len(), 1, "{:#?}", r.findings);
    let n = inbound[0];
    assert_eq!(n.target.as_deref(), Some("192.168.50.4"));
    assert_eq!(n.distinct_hosts, 18_778);
    assert_eq!((n.packets, n.syn), (18_778, 18_778));
    assert!(n.peak_syn_per_s > 20_000.0, "{}", n.peak_syn_per_s);
    assert_eq!(n.severity, floodwatch_core::alert::Severity::Informational);
    // Summary text and JSON, and the report, say it.
    let text = summary_text(&r);
    assert!(
        text.contains("inbound flood toward 192.168.50.4 from 18778 senders (informational"),
        "{text}"
    );
    assert!(text.contains("gateway: no alert;"), "{text}");
    let json = r.summary.to_json();
    assert_eq!(json["network"][0]["class"], "inbound");
    let md = markdown_report(
        "r",
        &[],
        &r.summary,
        &floodwatch_sinks::report::network_sections(&r.findings),
    );
    assert!(
        md.contains("inbound flood (seen from the victim's side)"),
        "{md}"
    );
    // Never in the OCSF T1498.001 stream.
    let mut out = Vec::new();
    write_hunt(&mut out, &r, AlertFormat::Jsonl).unwrap();
    assert!(out.is_empty(), "{}", String::from_utf8_lossy(&out));
    // The real capture, one sender: its flood is a finding, with no inbound note beside it.
    let (_tmp2, dir2) = host_file("gw2", "syn.pcap", &std::fs::read(SYNFLOOD).unwrap());
    let real = run(&dir2);
    assert_eq!(of(&real, NetworkClass::Flood).len(), 1);
    assert!(
        of(&real, NetworkClass::Inbound).is_empty(),
        "{:#?}",
        real.findings
    );
    let f = of(&real, NetworkClass::Flood)[0];
    assert_eq!(f.answers_from_target, 7_538);
}

#[test]
fn a_capped_flow_table_counts_its_evictions_in_the_summary() {
    let (_tmp, dir) = host_file("gateway", "spoofed.pcap", &spoofed_synflood());
    let mut cfg = Config::default();
    cfg.network.max_flows = 2_000;
    let r = run_cfg(&dir, cfg);
    let evicted = r.summary.engine["network_flows_evicted"].as_u64().unwrap();
    assert!(evicted > 15_000, "{evicted}");
    let warnings = r.summary.all_warnings();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains(&format!("network: {evicted} flows"))
                && w.contains("network.max_flows (2000)")),
        "{warnings:?}"
    );
    assert!(of(&r, NetworkClass::Flood).is_empty(), "{:#?}", r.findings);
    // Without the cap the engine section says nothing of evictions.
    let r = run(&dir);
    assert!(r.summary.engine.get("network_flows_evicted").is_none());
}

#[test]
fn network_only_floods_are_listed_with_their_severity_next_to_process_alerts() {
    let (_tmp, dir) = host_file("gateway", "syn.pcap", &std::fs::read(SYNFLOOD).unwrap());
    let r = run(&dir);
    assert!(r.alerts.is_empty());
    let f = of(&r, NetworkClass::Flood)[0];
    let sev = f.severity.as_str().to_uppercase();
    let mut out = Vec::new();
    write_hunt(&mut out, &r, AlertFormat::Table { color: false }).unwrap();
    let table = String::from_utf8(out).unwrap();
    assert!(!table.contains("No alerts."), "{table}");
    assert!(
        table.starts_with("No process alert; 1 network flood finding(s), highest severity first:"),
        "{table}"
    );
    assert!(table.contains(&format!("{sev:<8}      gateway")), "{table}");
    // The host's verdict is not "no alert".
    let text = summary_text(&r);
    assert!(
        text.contains(&format!(
            "gateway: no process alert, 1 network flood finding(s) (highest {sev})"
        )),
        "{text}"
    );
    // The report counts and lists it under the alerts, with its severity.
    let md = markdown_report(
        "r",
        &[],
        &r.summary,
        &floodwatch_sinks::report::network_sections(&r.findings),
    );
    assert!(
        md.contains("0 process alert(s) and 1 network flood finding(s)"),
        "{md}"
    );
    assert!(!md.contains("No alert."), "{md}");
    assert!(
        md.contains(&format!(
            "- {:?} network flood from 172.16.0.5 to 192.168.50.4",
            f.severity
        )),
        "{md}"
    );
}

/// Zeek conn.log, as Zeek keys ICMP (btest core.icmp.icmp-events): the echo requester is the
/// originator (`id.orig_p` 8, the replies in `resp_pkts`); a host sending port-unreachables is the
/// originator of its own rows (`id.orig_p` 3). A flood of pings is a flood of the requester's; the
/// victim's 2,000 unreachables/s to one address are answers, never a flood of the victim's.
#[test]
fn zeek_icmp_answers_are_not_a_flood_source() {
    use floodwatch_sim::zeek::{by_end, write_conn_log, Conn};
    let t0 = Ts::from_secs(days_from_civil(2025, 9, 16) * 86_400 + 2 * 3_600 + 30 * 60);
    let row = |i: i64, orig: &str, op: u16, resp: &str, rp: u16, pkts: u64, back: u64| Conn {
        ts: t0.add_nanos(i * 100_000_000),
        uid: format!("C{i}{op}"),
        orig_h: orig.into(),
        orig_p: op,
        resp_h: resp.into(),
        resp_p: rp,
        proto: "icmp",
        service: None,
        duration: Some(0.099),
        orig_bytes: Some(pkts * 56),
        resp_bytes: Some(back * 56),
        conn_state: "OTH",
        history: None,
        orig_pkts: pkts,
        orig_ip_bytes: pkts * 84,
        resp_pkts: back,
        resp_ip_bytes: back * 84,
    };
    let mut rows = Vec::new();
    for i in 0..100 {
        // 10 s of 5,000 echo requests/s from 10.4.0.9, half answered by 10.4.0.77.
        rows.push(row(i, "10.4.0.9", 8, "10.4.0.77", 0, 500, 250));
        // 10.4.0.77 answers a UDP stream from 10.4.0.12 with 2,000 port-unreachables/s.
        rows.push(row(i, "10.4.0.77", 3, "10.4.0.12", 3, 200, 0));
    }
    let tmp = tempfile::tempdir().unwrap();
    let host = tmp.path().join("zeek-sensor");
    std::fs::create_dir_all(&host).unwrap();
    write_conn_log(&host.join("conn.log"), &by_end(rows)).unwrap();
    let r = run(tmp.path());
    assert_eq!(r.summary.files[0].rejected, 0);
    let floods = of(&r, NetworkClass::Flood);
    assert_eq!(floods.len(), 1, "{:#?}", r.findings);
    assert_eq!(floods[0].local, "10.4.0.9");
    assert!(
        r.findings.iter().all(|f| f.local != "10.4.0.77"),
        "{:#?}",
        r.findings
    );
}
