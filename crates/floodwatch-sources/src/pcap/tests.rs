//! Capture tests: the real CIC-DDoS2019 captures, Apple PKTAP/PIB captures written by the
//! simulator, every link type, and broken or truncated files (no panic, every record counted).

use super::BUCKET_NS;
use crate::testutil::{ctx, read_all};
use crate::{sniff, Format, Sniffed};
use floodwatch_core::event::{Event, EventKind, Proto, Traffic};
use floodwatch_sim::pcap::{
    ethernet, icmp_echo, ipv4, ipv6, null_loopback, pktap, tcp, udp, Endian, EpbOptions,
    PcapWriter, PcapngWriter, EPB_FLAG_INBOUND, EPB_FLAG_OUTBOUND, LINKTYPE_ETHERNET,
    LINKTYPE_NULL, LINKTYPE_PKTAP, LINKTYPE_RAW, TCP_ACK, TCP_SYN,
};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/corpus/pcap/");
/// 2025-09-15T07:00:00Z.
const T0: i64 = 1_757_919_600 * 1_000_000_000;
const ME: [u8; 4] = [10, 0, 0, 5];
const TARGET: [u8; 4] = [198, 51, 100, 7];

fn traffic(e: &Event) -> &Traffic {
    match &e.kind {
        EventKind::Traffic(t) => t,
        k => panic!("not traffic: {}", k.name()),
    }
}

fn by_local<'a>(ev: &'a [Event], local: &str) -> Vec<&'a Traffic> {
    ev.iter()
        .map(traffic)
        .filter(|t| t.local.as_deref() == Some(local))
        .collect()
}

/// The real CIC-DDoS2019 SYN flood: 26,316 packets in 0.687 s, all in one second of capture
/// time, so one event per sender; numbers checked against an independent stdlib reader.
#[test]
fn real_synflood_is_two_events_with_the_flood_rate() {
    let data = std::fs::read(format!("{CORPUS}CIC-DDoS-2019-SynFlood.pcap")).unwrap();
    assert_eq!(sniff(&data), Sniffed::Telemetry(Format::Pcap));
    let (ev, st) = read_all(&data, Format::Pcap, ctx("syn.pcap"));
    assert_eq!(
        (st.records, st.events, st.skipped, st.rejected, st.carried),
        (26_316, 2, 0, 0, 26_314)
    );
    assert_eq!(ev.len(), 2);
    let flood = by_local(&ev, "172.16.0.5");
    let t = flood[0];
    assert_eq!(t.proto, Proto::Tcp);
    assert_eq!(t.pid, None);
    // 8,450 distinct destination ports: the remote is the host alone.
    assert_eq!(t.remote.as_deref(), Some("192.168.50.4"));
    assert_eq!(t.packets_out, Some(18_778));
    assert_eq!(t.syn_out, Some(18_778));
    assert_eq!(t.new_connections, 18_778);
    assert_eq!(t.bytes_out, 18_778 * 40);
    assert_eq!(t.start.0, 1_541_241_031_281_919_000);
    let e = ev
        .iter()
        .find(|e| traffic(e).local.as_deref() == Some("172.16.0.5"))
        .unwrap();
    assert_eq!(e.ts.0, 1_541_241_031_969_269_000);
    assert_eq!(e.origin.line, 1);
    let span = (e.ts.0 - t.start.0) as f64 / 1e9;
    let rate = t.syn_out.unwrap() as f64 / span;
    assert!((27_000.0..27_600.0).contains(&rate), "{rate} SYN/s");
    // The victim's RST/ACK replies, keyed by their own sender.
    let back = by_local(&ev, "192.168.50.4");
    assert_eq!(back[0].packets_out, Some(7_538));
    assert_eq!(back[0].syn_out, Some(0));
    // Every one of them answers (RST/ACK); no SYN of the flood does.
    assert_eq!(back[0].answers_out, 7_538);
    assert_eq!(flood[0].answers_out, 0);
    assert_eq!(back[0].remote.as_deref(), Some("172.16.0.5"));
    // Time-ordered by last packet.
    assert!(ev[0].ts <= ev[1].ts);
}

#[test]
fn real_synflood_truncated_mid_record_keeps_what_was_read() {
    let data = std::fs::read(format!("{CORPUS}CIC-DDoS-2019-SynFlood.pcap")).unwrap();
    // Cut inside packet 101's data (24 + 100 * 76 bytes precede it).
    let cut = 24 + 100 * 76 + 16 + 30;
    let (ev, st) = read_all(&data[..cut], Format::Pcap, ctx("cut.pcap"));
    assert_eq!((st.records, st.rejected), (101, 1));
    assert_eq!(st.samples[0].line, 101);
    assert_eq!(st.samples[0].reason, "truncated record");
    assert_eq!(
        st.samples[0].detail,
        "packet data: 30 of 60 bytes at end of file"
    );
    let pkts: u64 = ev.iter().filter_map(|e| traffic(e).packets_out).sum();
    assert_eq!(pkts, 100);
}

#[test]
fn not_a_capture_and_broken_headers_do_not_panic() {
    for (data, fmt, reason) in [
        (&b""[..], Format::Pcap, "not a capture"),
        (
            &b"hello world, not a capture at all\n"[..],
            Format::Pcap,
            "not a capture",
        ),
        (
            &[0xD4, 0xC3, 0xB2, 0xA1, 2, 0, 4][..],
            Format::Pcap,
            "truncated record",
        ),
        (
            &b"\x0a\x0d\x0d\x0a\x1c\x00"[..],
            Format::Pcapng,
            "truncated record",
        ),
        (
            &b"\x01\x00\x00\x00\x0c\x00\x00\x00\x0c\x00\x00\x00"[..],
            Format::Pcapng,
            "not a capture",
        ),
        (
            &b"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00ABCD"[..],
            Format::Pcapng,
            "not a capture",
        ),
    ] {
        let (ev, st) = read_all(data, fmt, ctx("x"));
        assert!(ev.is_empty());
        if data.is_empty() {
            continue;
        }
        assert_eq!(
            (st.rejected, st.samples[0].reason.as_str()),
            (1, reason),
            "{data:x?}"
        );
    }
    // A pcapng block whose length cannot be right stops the file with one located reject.
    let mut w = PcapngWriter::new();
    w.section(Endian::Little);
    w.interface(LINKTYPE_ETHERNET, None);
    let mut data = w.into_bytes();
    data.extend_from_slice(&[6, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0]);
    let (_, st) = read_all(&data, Format::Pcapng, ctx("x"));
    assert_eq!((st.records, st.rejected), (3, 1));
    assert_eq!(
        (st.samples[0].line, st.samples[0].reason.as_str()),
        (3, "corrupt record")
    );
}

#[test]
fn link_types_non_ip_and_bad_ip_are_counted() {
    let mut w = PcapWriter::new(Endian::Little, false, u32::from(LINKTYPE_ETHERNET));
    let syn = ipv4(ME, TARGET, 6, &tcp(40000, 80, TCP_SYN, 0));
    w.packet(T0, &ethernet(0x0800, &syn));
    w.packet(T0 + 1000, &ethernet(0x0806, &[0; 28])); // ARP
    w.packet(T0 + 2000, &ethernet(0x0800, &[0x45, 0, 0])); // cut IP header
    let v6 = ipv6(
        [0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        [0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7],
        17,
        &udp(5000, 53, 20),
    );
    w.packet(T0 + 3000, &ethernet(0x86DD, &v6));
    // VLAN-tagged SYN|ACK: not a connection opener.
    let mut tagged = vec![0u8; 12];
    tagged.extend_from_slice(&[0x81, 0x00, 0, 5, 0x08, 0x00]);
    tagged.extend_from_slice(&ipv4(ME, TARGET, 6, &tcp(40000, 80, TCP_SYN | TCP_ACK, 0)));
    w.packet(T0 + 4000, &tagged);
    let (ev, st) = read_all(&w.into_bytes(), Format::Pcap, ctx("l.pcap"));
    assert_eq!(
        (st.records, st.events, st.skipped, st.rejected),
        (5, 2, 1, 1)
    );
    assert_eq!(st.reasons().get("skipped: not IP: ARP"), Some(&1));
    assert_eq!(
        (st.samples[0].line, st.samples[0].reason.as_str()),
        (3, "truncated IP header")
    );
    let v4 = by_local(&ev, "10.0.0.5")[0];
    assert_eq!(
        (v4.packets_out, v4.syn_out, v4.bytes_out),
        (Some(2), Some(1), 80)
    );
    assert_eq!(v4.remote.as_deref(), Some("198.51.100.7:80"));
    let v6 = by_local(&ev, "2001:db8::1")[0];
    assert_eq!(
        (v6.proto, v6.remote.as_deref()),
        (Proto::Udp, Some("[2001:db8::7]:53"))
    );
    assert_eq!((v6.bytes_out, v6.syn_out), (40 + 28, None));

    // BSD loopback (AF_INET6 = 30 on Darwin) and raw IP, nanosecond big-endian pcap.
    let mut w = PcapWriter::new(Endian::Big, true, u32::from(LINKTYPE_NULL));
    let lo = ipv6(
        [0; 16],
        {
            let mut a = [0; 16];
            a[15] = 1;
            a
        },
        58,
        &icmp_echo(true, 1, 1, 56),
    );
    w.packet(T0 + 7, &null_loopback(30, &lo));
    w.packet(T0 + 8, &null_loopback(17, &[0; 8]));
    let (ev, st) = read_all(&w.into_bytes(), Format::Pcap, ctx("lo.pcap"));
    assert_eq!((st.events, st.skipped), (1, 1));
    let t = traffic(&ev[0]);
    assert_eq!(
        (t.proto, t.remote.as_deref(), t.local.as_deref()),
        (Proto::Icmp, Some("::1"), Some("::"))
    );
    assert_eq!(ev[0].ts.0, T0 + 7);
    let mut w = PcapWriter::new(Endian::Little, false, u32::from(LINKTYPE_RAW));
    w.packet(T0, &ipv4(ME, TARGET, 1, &icmp_echo(false, 1, 1, 56)));
    let (ev, _) = read_all(&w.into_bytes(), Format::Pcap, ctx("raw.pcap"));
    assert_eq!(
        (traffic(&ev[0]).proto, traffic(&ev[0]).bytes_out),
        (Proto::Icmp, 84)
    );
}

/// Buckets close when capture time moves to the next second; a packet slightly late joins the
/// open bucket; events come out time-ordered.
#[test]
fn one_event_per_key_per_second() {
    let mut w = PcapWriter::new(Endian::Little, false, u32::from(LINKTYPE_RAW));
    for i in 0..30i64 {
        // 10 packets/s for 3 s, to two ports, and a reply stream.
        let port = 9000 + (i % 2) as u16;
        w.packet(
            T0 + i * BUCKET_NS / 10,
            &ipv4(ME, TARGET, 17, &udp(5000, port, 100)),
        );
        w.packet(
            T0 + i * BUCKET_NS / 10 + 5,
            &ipv4(TARGET, ME, 17, &udp(port, 5000, 10)),
        );
    }
    // 0.5 s late: joins the open (third) second's bucket instead of going out of order.
    w.packet(
        T0 + 3 * BUCKET_NS / 2,
        &ipv4(ME, TARGET, 17, &udp(5000, 9000, 100)),
    );
    let (ev, st) = read_all(&w.into_bytes(), Format::Pcap, ctx("b.pcap"));
    assert_eq!((st.records, st.events, st.carried), (61, 6, 55));
    assert!(ev.windows(2).all(|w| w[0].ts <= w[1].ts));
    let mine = by_local(&ev, "10.0.0.5");
    let pk: Vec<_> = mine.iter().map(|t| t.packets_out.unwrap()).collect();
    assert_eq!(pk, [10, 10, 11]);
    assert_eq!(mine[0].remote.as_deref(), Some("198.51.100.7"), "two ports");
    assert_eq!(mine[0].bytes_out, 10 * 128);
    assert_eq!(mine[2].start.0, T0 + 3 * BUCKET_NS / 2);
}

/// Legacy pcap with the PKTAP link type: pid and command name per packet, inbound skipped.
#[test]
fn pktap_pcap_attributes_and_drops_inbound() {
    let mut w = PcapWriter::new(Endian::Little, false, u32::from(LINKTYPE_PKTAP));
    let ping = ethernet(0x0800, &ipv4(ME, TARGET, 1, &icmp_echo(false, 7, 1, 56)));
    let reply = ethernet(0x0800, &ipv4(TARGET, ME, 1, &icmp_echo(false, 7, 1, 56)));
    for i in 0..5 {
        w.packet(T0 + i * 1000, &pktap(4242, "ping", 1, 0x2, &ping));
        w.packet(T0 + i * 1000 + 500, &pktap(4242, "ping", 1, 0x1, &reply));
    }
    let (ev, st) = read_all(&w.into_bytes(), Format::Pcap, ctx("k.pcap"));
    assert_eq!((st.records, st.events, st.skipped), (10, 1, 5));
    assert_eq!(
        st.reasons().get("skipped: inbound packet (PKTAP header)"),
        Some(&5)
    );
    let t = traffic(&ev[0]);
    assert_eq!(
        (t.pid, t.process_name.as_deref()),
        (Some(4242), Some("ping"))
    );
    assert_eq!((t.proto, t.packets_out), (Proto::Icmp, Some(5)));
}

/// The Apple `tcpdump -k` layout: PIBs numbered per section, EPB options naming them, in a
/// little-endian and a big-endian section of one file.
fn apple_capture() -> Vec<u8> {
    let mut w = PcapngWriter::new();
    for (s, endian) in [Endian::Little, Endian::Big].into_iter().enumerate() {
        let t = T0 + s as i64 * 10 * BUCKET_NS;
        w.section(endian);
        w.interface(LINKTYPE_ETHERNET, if s == 0 { None } else { Some(9) });
        // The order differs per section: indexes must restart at each section header.
        let (ping_ix, py_ix) = if s == 0 { (0, 1) } else { (1, 0) };
        let pibs = [
            (4242, "ping", "/sbin/ping"),
            (777, "python3", "/opt/homebrew/bin/python3.12"),
        ];
        let order = if s == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            let (pid, name, path) = pibs[i];
            w.process(pid, name, Some(path), Some([0x11; 16]));
        }
        let ping = ethernet(0x0800, &ipv4(ME, TARGET, 1, &icmp_echo(false, 9, 1, 56)));
        let dns = ethernet(0x0800, &ipv4(ME, TARGET, 17, &udp(5353, 53, 33)));
        let reply = ethernet(0x0800, &ipv4(TARGET, ME, 1, &icmp_echo(false, 9, 1, 56)));
        for i in 0..3 {
            let at = t + i * 1_000_000;
            let out = EpbOptions {
                flags: Some(EPB_FLAG_OUTBOUND),
                pib_index: Some(ping_ix),
                e_pib_index: None,
            };
            w.packet(0, at, &ping, out);
            let inb = EpbOptions {
                flags: Some(EPB_FLAG_INBOUND),
                pib_index: Some(ping_ix),
                e_pib_index: None,
            };
            w.packet(0, at + 100, &reply, inb);
            // python3 named only by the effective-process option.
            let eff = EpbOptions {
                flags: None,
                pib_index: None,
                e_pib_index: Some(py_ix),
            };
            w.packet(0, at + 200, &dns, eff);
        }
        // A packet naming a PIB that does not exist.
        let bad = EpbOptions {
            flags: None,
            pib_index: Some(2),
            e_pib_index: None,
        };
        w.packet(0, t + 5_000_000, &dns, bad);
    }
    w.into_bytes()
}

#[test]
fn pktap_pcapng_attributes_ping_and_python_in_both_byte_orders() {
    let data = apple_capture();
    assert_eq!(sniff(&data), Sniffed::Telemetry(Format::Pcapng));
    let (ev, st) = read_all(&data, Format::Pcapng, ctx("k.pcapng"));
    // Per section: SHB + IDB + 2 PIB (skipped), 3 ping out, 3 replies in (skipped), 3 dns,
    // one bad index (rejected).
    assert_eq!(
        (st.records, st.events, st.skipped, st.rejected, st.carried),
        (2 * 14, 4, 2 * 7, 2, 8)
    );
    assert_eq!(
        st.reasons().get("skipped: inbound packet (epb_flags)"),
        Some(&6)
    );
    assert_eq!(st.reasons().get("PIB index out of range"), Some(&2));
    assert_eq!(st.samples[0].line, 14);
    assert_eq!(
        st.samples[0].detail,
        "packet names process block 2, the section has 2"
    );
    assert_eq!(st.samples[1].line, 28);
    for (s, pair) in ev.chunks(2).enumerate() {
        let ping = pair
            .iter()
            .map(traffic)
            .find(|t| t.proto == Proto::Icmp)
            .unwrap();
        assert_eq!(ping.pid, Some(4242), "section {s}");
        assert_eq!(ping.process_name.as_deref(), Some("ping"));
        assert_eq!(ping.process_path.as_deref(), Some("/sbin/ping"));
        assert_eq!((ping.packets_out, ping.bytes_out), (Some(3), 3 * 84));
        assert_eq!(ping.remote.as_deref(), Some("198.51.100.7"));
        let py = pair
            .iter()
            .map(traffic)
            .find(|t| t.proto == Proto::Udp)
            .unwrap();
        assert_eq!(
            (py.pid, py.process_name.as_deref()),
            (Some(777), Some("python3")),
            "section {s}"
        );
        assert_eq!(py.remote.as_deref(), Some("198.51.100.7:53"));
        assert_eq!(py.packets_out, Some(3));
    }
    // The big-endian section's interface has nanosecond resolution: times survive it.
    let last_ping = ev
        .iter()
        .rev()
        .find(|e| traffic(e).proto == Proto::Icmp)
        .unwrap();
    assert_eq!(last_ping.ts.0, T0 + 10 * BUCKET_NS + 2_000_000);
    assert_eq!(traffic(last_ping).start.0, T0 + 10 * BUCKET_NS);
}

/// A spoofed-source flood makes one key per packet: open buckets are flushed early, so memory
/// stays bounded, and events still come out in time order.
#[test]
fn many_keys_flush_early_in_order() {
    let mut w = PcapWriter::new(Endian::Little, false, u32::from(LINKTYPE_RAW));
    let n = super::aggregate::MAX_OPEN_BUCKETS as i64 + 4_000;
    for i in 0..n {
        let src = [10, (i >> 16) as u8, (i >> 8) as u8, i as u8];
        w.packet(
            T0 + i * 10_000,
            &ipv4(src, TARGET, 6, &tcp(1024, 80, TCP_SYN, 0)),
        );
    }
    let (ev, st) = read_all(&w.into_bytes(), Format::Pcap, ctx("spoof.pcap"));
    assert_eq!((st.records, st.events, st.carried), (n as u64, n as u64, 0));
    assert!(ev.windows(2).all(|w| w[0].ts <= w[1].ts));
}

/// Mutated and cut captures never panic, and every record is still accounted for.
#[test]
fn mutated_captures_do_not_panic_and_balance() {
    let real = std::fs::read(format!("{CORPUS}CIC-DDoS-2019-SynFlood.pcap")).unwrap();
    let inputs = [
        (real[..4000].to_vec(), Format::Pcap),
        (apple_capture(), Format::Pcapng),
    ];
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for (data, fmt) in inputs {
        for _ in 0..400 {
            let mut d = data.clone();
            for _ in 0..1 + next() % 8 {
                let at = (next() % d.len() as u64) as usize;
                d[at] = next() as u8;
            }
            d.truncate(1 + (next() % d.len() as u64) as usize);
            let (ev, st) = read_all(&d, fmt, ctx("m"));
            assert_eq!(ev.len() as u64, st.events);
            assert_eq!(
                st.records,
                st.events + st.skipped + st.rejected + st.carried,
                "{st:?}"
            );
        }
    }
}

#[test]
fn pcapng_truncated_final_block_is_one_reject() {
    let data = apple_capture();
    let (full, _) = read_all(&data, Format::Pcapng, ctx("k"));
    for cut in [data.len() - 1, data.len() - 40] {
        let (ev, st) = read_all(&data[..cut], Format::Pcapng, ctx("k"));
        assert_eq!(st.rejected, 2, "cut at {cut}: {:?}", st.samples);
        let last = st.samples.last().unwrap();
        assert_eq!((last.line, last.reason.as_str()), (28, "truncated record"));
        assert_eq!(ev.len(), full.len());
    }
}

/// ICMP requests and answers, v4 and v6, and TCP answers: only answers are counted as such, so the
/// engine never takes a host that replies (echo reply, port unreachable, RST) for a flood source.
#[test]
fn answers_are_told_from_requests() {
    let mut w = PcapWriter::new(Endian::Little, false, u32::from(LINKTYPE_RAW));
    let (me6, t6) = (
        [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5],
        [0xfd; 16],
    );
    let with_type = |t: u8, v6: bool| {
        let mut m = icmp_echo(v6, 7, 1, 8);
        m[0] = t;
        m
    };
    for i in 0..4i64 {
        let t = T0 + i * 1000;
        w.packet(t, &ipv4(ME, TARGET, 1, &icmp_echo(false, 7, 1, 8))); // echo request
        w.packet(t + 1, &ipv4(TARGET, ME, 1, &with_type(0, false))); // echo reply
        w.packet(t + 2, &ipv4(TARGET, ME, 1, &with_type(3, false))); // port unreachable
        w.packet(t + 3, &ipv6(me6, t6, 58, &icmp_echo(true, 7, 1, 8))); // echo request (v6)
        w.packet(t + 4, &ipv6(t6, me6, 58, &with_type(129, true))); // echo reply (v6)
        w.packet(t + 5, &ipv6(t6, me6, 58, &with_type(1, true))); // unreachable (v6)
        w.packet(t + 6, &ipv4(ME, TARGET, 6, &tcp(4000, 80, TCP_SYN, 0)));
        w.packet(
            t + 7,
            &ipv4(TARGET, ME, 6, &tcp(80, 4000, TCP_SYN | TCP_ACK, 0)),
        );
        w.packet(t + 8, &ipv4(TARGET, ME, 6, &tcp(80, 4001, 0x14, 0))); // RST/ACK
        w.packet(t + 9, &ipv4(ME, TARGET, 6, &tcp(4000, 80, TCP_ACK, 10))); // data: no answer
    }
    let (ev, st) = read_all(&w.into_bytes(), Format::Pcap, ctx("a.pcap"));
    assert_eq!((st.records, st.rejected), (40, 0));
    let answers = |local: &str, proto: Proto| -> (u64, u64) {
        let t: Vec<&Traffic> = by_local(&ev, local)
            .into_iter()
            .filter(|t| t.proto == proto)
            .collect();
        (
            t.iter().map(|t| t.packets_out.unwrap_or(0)).sum(),
            t.iter().map(|t| t.answers_out).sum(),
        )
    };
    assert_eq!(answers("10.0.0.5", Proto::Icmp), (4, 0));
    assert_eq!(answers("198.51.100.7", Proto::Icmp), (8, 8));
    assert_eq!(answers("fd00::5", Proto::Icmp), (4, 0));
    assert_eq!(
        answers(&std::net::Ipv6Addr::from(t6).to_string(), Proto::Icmp),
        (8, 8)
    );
    assert_eq!(answers("10.0.0.5", Proto::Tcp), (8, 0));
    assert_eq!(answers("198.51.100.7", Proto::Tcp), (8, 8));
}
