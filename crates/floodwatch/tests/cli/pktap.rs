//! Apple PKTAP captures (`tcpdump -k`) end to end: the one source that attributes ICMP packets to a
//! process. No real PKTAP capture is public (see tests/data/corpus/pcap/PROVENANCE.md); this one is
//! written by floodwatch-sim's pcapng writer in Apple's block layout: a Process Information Block per
//! process and the EPB option 0x8001 pointing each packet at its process.

use floodwatch_core::config::Config;
use floodwatch_core::event::Proto;
use floodwatch_core::time::{days_from_civil, NANOS_PER_SEC};
use floodwatch_engine::suppress::Suppressions;
use floodwatch_runtime::{hunt, HuntOptions};
use floodwatch_sim::pcap::{
    ethernet, icmp_echo, ipv4, udp, Endian, EpbOptions, PcapngWriter, EPB_FLAG_OUTBOUND,
};

const LOCAL: [u8; 4] = [10, 0, 0, 23];
const TARGET: [u8; 4] = [198, 51, 100, 7];

/// A root `ping` (pid 4242) sending `pps` echo requests a second for `secs` seconds, and a python3 (pid
/// 777) sending one DNS query a second, on one Ethernet interface.
fn capture(pps: i64, secs: i64) -> Vec<u8> {
    let t0 = (days_from_civil(2026, 3, 2) * 86_400 + 3 * 3_600) * NANOS_PER_SEC;
    let mut w = PcapngWriter::new();
    w.section(Endian::Little);
    w.interface(1, None);
    w.process(4242, "ping", Some("/sbin/ping"), None);
    w.process(777, "python3", Some("/usr/bin/python3"), None);
    let out = |pib| EpbOptions {
        flags: Some(EPB_FLAG_OUTBOUND),
        pib_index: Some(pib),
        e_pib_index: None,
    };
    let echo = ethernet(
        0x0800,
        &ipv4(LOCAL, TARGET, 1, &icmp_echo(false, 4242, 1, 56)),
    );
    let dns = ethernet(0x0800, &ipv4(LOCAL, TARGET, 17, &udp(53_001, 53, 40)));
    for s in 0..secs {
        for k in 0..pps {
            let ts = t0 + s * NANOS_PER_SEC + k * (NANOS_PER_SEC / pps);
            w.packet(0, ts, &echo, out(0));
        }
        w.packet(0, t0 + s * NANOS_PER_SEC + 500_000_000, &dns, out(1));
    }
    w.into_bytes()
}

#[test]
fn a_pktap_capture_attributes_a_ping_flood_to_the_ping_process() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("mbp-lab-01");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("k.pcapng"), capture(800, 40)).unwrap();
    let opts = HuntOptions {
        paths: vec![tmp.path().to_path_buf()],
        threads: 1,
        ..Default::default()
    };
    let r = hunt(&opts, Config::default(), Suppressions::default()).unwrap();
    let f = &r.summary.files[0];
    assert_eq!((f.format.as_str(), f.rejected), ("pcapng", 0), "{f:?}");
    // Labelled pcapng, not pcap, in the summary JSON and the files table (issue 11).
    assert_eq!(r.summary.to_json()["files"][0]["format"], "pcapng");
    let mut table = Vec::new();
    floodwatch_sinks::summary::write_summary(&mut table, &r.summary).unwrap();
    let table = String::from_utf8(table).unwrap();
    let row = table.lines().find(|l| l.contains("k.pcapng")).unwrap();
    assert!(row.trim_start().starts_with("pcapng "), "{row}");
    // One alert, on the ping process the capture names: ICMP packets measured, not estimated.
    assert_eq!(r.alerts.len(), 1, "{:#?}", r.alerts);
    let a = &r.alerts[0].alert;
    assert_eq!(a.subject.process.pid, 4242);
    assert_eq!(a.subject.process.path.as_deref(), Some("/sbin/ping"));
    assert!(a.metrics.protocols.contains(&Proto::Icmp));
    assert!(!a.metrics.estimated_packets);
    assert!(
        (790.0..=810.0).contains(&a.metrics.peak_packets_per_s),
        "{}",
        a.metrics.peak_packets_per_s
    );
    assert_eq!(a.reasons[0].code, "packet_rate");
    // python3's one query a second is attributed to it and stays quiet.
    assert!(r.alerts.iter().all(|x| x.alert.subject.process.pid != 777));
    // The pid-attributed packets are process traffic, not a network-only finding.
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
}
