//! Parser throughput (bytes/s): `cargo bench -p floodwatch-sources --bench parsers`.
//!
//! Inputs are generated once by floodwatch-sim in the real formats: one bulk host (eslogger, nettop
//! CSV, unified log ndjson; `eslogger_v10` is a second host's eslogger, macOS 26's message version
//! with audit tokens as arrays) written to a temporary directory and read back into memory, plus osquery
//! `es_process_events` lines written straight into a buffer. Each benchmark reads a few MB through a
//! [`FileSource`] (line framing + the format's parser), which is what a hunt does per file, minus the
//! disk. `eslogger/parse_only` runs the record parser on pre-split lines, so the framing cost is the
//! difference between the two eslogger numbers.
//!
//! The newer sources read real samples from `tests/data/corpus`, repeated to size: `pcap` is the
//! CIC-DDoS2019 SYN flood (each repetition shifted one second later, so aggregation sees a flood
//! lasting seconds), `jamf_protect` the vendor's pretty-printed telemetry samples back to back,
//! `elastic_defend` the package's sample events as NDJSON. `pcapng_pktap` is a synthetic Apple
//! `tcpdump -k` capture (no real one exists): process blocks and EPBs naming them, ping/UDP/TCP.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use floodwatch_core::config::Config;
use floodwatch_core::event::Event;
use floodwatch_core::Ts;
use floodwatch_sim::eslogger::{Proc, Signer};
use floodwatch_sim::osquery::OsqueryWriter;
use floodwatch_sources::eslogger::EsloggerParser;
use floodwatch_sources::{sniff, ClockHints, FileSource, Format, RecordParser, Sniffed, SourceCtx};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

/// About this many bytes per input.
const TARGET: usize = 4_000_000;

fn ctx(name: &str, clock: ClockHints) -> SourceCtx {
    SourceCtx {
        file_id: 0,
        path: Arc::from(name),
        host: Arc::from("mac-0000"),
        host_forced: false,
        clock,
        input: Config::default().input,
    }
}

/// Reads the whole input, dropping events as they come (as a hunt's merge does); returns the event count.
fn read(data: &[u8], format: Format, ctx: SourceCtx) -> (u64, FileSource<&[u8]>) {
    let mut src = FileSource::new(data, format, ctx);
    let mut out: Vec<Event> = Vec::with_capacity(64);
    let mut n = 0u64;
    while src.next_events(&mut out).expect("in-memory read") {
        n += out.len() as u64;
        out.clear();
    }
    n += out.len() as u64;
    (n, src)
}

/// The first `max` bytes of `data`, cut after a newline.
fn head_lines(data: &[u8], max: usize) -> Vec<u8> {
    if data.len() <= max {
        return data.to_vec();
    }
    let cut = data[..max]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(data.len(), |i| i + 1);
    data[..cut].to_vec()
}

/// `data` repeated until it is at least `min` bytes (records are independent lines).
fn repeat_to(data: &[u8], min: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(min + data.len());
    while v.len() < min {
        v.extend_from_slice(data);
    }
    v
}

/// osquery `es_process_events` exec rows (string numerics), about `min` bytes.
fn osquery_lines(min: usize) -> Vec<u8> {
    let t0 = Ts::from_secs(1_757_919_600); // 2025-09-15T07:00:00Z
    let launchd = Proc::launchd(t0.add_secs(-9_000), 1029);
    let cmds: [(&str, &[&str], Signer); 5] = [
        (
            "/usr/bin/curl",
            &["curl", "-sSL", "https://example.com/status"],
            Signer::platform("com.apple.curl"),
        ),
        (
            "/sbin/ping",
            &["ping", "-c", "4", "10.0.0.1"],
            Signer::platform("com.apple.ping"),
        ),
        (
            "/bin/ls",
            &["ls", "-la", "/Users/Shared/some dir"],
            Signer::platform("com.apple.ls"),
        ),
        (
            "/opt/homebrew/bin/python3.12",
            &["python3", "manage.py", "test"],
            Signer::adhoc("python3.12"),
        ),
        (
            "/Applications/Visual Studio Code.app/Contents/Resources/app/bin/code",
            &["code", "."],
            Signer::developer("com.microsoft.VSCode", "UBF8T346G9"),
        ),
    ];
    let mut buf = Vec::with_capacity(min + 4096);
    let mut w = OsqueryWriter::new(&mut buf, "mac-0000.local", 5);
    let mut i = 0usize;
    while (w.bytes_written() as usize) < min {
        let t = t0.add_nanos(i as i64 * 37_000_000);
        let child = launchd.fork_child(1_000 + (i % 30_000) as i32, 40_000 + i as u32, t);
        let (path, args, signer) = cmds[i % cmds.len()].clone();
        let img = child.exec_image(path, args, signer);
        w.exec(t, &img, 1029, "root").expect("write to memory");
        i += 1;
    }
    drop(w);
    buf
}

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/corpus");

fn corpus(rel: &str) -> Vec<u8> {
    std::fs::read(format!("{CORPUS}/{rel}")).expect("corpus sample")
}

/// The real Stratosphere conn.log (Zeek TSV with label columns): its header once, its rows repeated
/// to `min` bytes.
fn zeek_tsv(min: usize) -> Vec<u8> {
    let data = corpus("datasets/stratosphere-zeek-conn/008-zeek-mixed.conn.log.labeled");
    let text = String::from_utf8_lossy(&data);
    let mut head = String::new();
    let mut rows = String::new();
    for l in text.lines() {
        if l.starts_with('#') {
            if rows.is_empty() {
                head.push_str(l);
                head.push('\n');
            }
        } else {
            rows.push_str(l);
            rows.push('\n');
        }
    }
    let mut v = head.into_bytes();
    v.extend(repeat_to(rows.as_bytes(), min));
    v
}

/// The real SYN flood pcap, its packets repeated (each copy one second later) to `min` bytes.
fn synflood_pcap(min: usize) -> Vec<u8> {
    let data = corpus("pcap/CIC-DDoS-2019-SynFlood.pcap");
    let mut v = data[..24].to_vec();
    let mut rep = 0u32;
    while v.len() < min {
        let mut at = 24;
        while at + 16 <= data.len() {
            let word = |i: usize| u32::from_le_bytes(data[i..i + 4].try_into().expect("4 bytes"));
            let caplen = word(at + 8) as usize;
            v.extend_from_slice(&(word(at) + rep).to_le_bytes());
            v.extend_from_slice(&data[at + 4..at + 16 + caplen]);
            at += 16 + caplen;
        }
        rep += 1;
    }
    v
}

/// A synthetic Apple PKTAP pcapng: 6 processes, 20 kpps of ping / UDP / TCP SYN among them.
fn pktap_pcapng(min: usize) -> Vec<u8> {
    use floodwatch_sim::pcap::*;
    let t0: i64 = 1_757_919_600_000_000_000;
    let mut w = PcapngWriter::new();
    w.section(Endian::Little);
    w.interface(LINKTYPE_ETHERNET, None);
    let procs = [
        (4242, "ping", "/sbin/ping"),
        (777, "python3", "/opt/homebrew/bin/python3.12"),
        (901, "curl", "/usr/bin/curl"),
        (
            1200,
            "Safari",
            "/Applications/Safari.app/Contents/MacOS/Safari",
        ),
        (88, "mDNSResponder", "/usr/sbin/mDNSResponder"),
        (5150, "hping3", "/opt/homebrew/sbin/hping3"),
    ];
    for (pid, name, path) in procs {
        w.process(pid, name, Some(path), Some([7; 16]));
    }
    let me = [10, 0, 0, 5];
    let mut i: u64 = 0;
    while w.len() < min {
        let dst = [198, 51, 100, (i % 7) as u8];
        let (l4, proto) = match i % 3 {
            0 => (icmp_echo(false, 7, i as u16, 56), 1),
            1 => (udp(50000, 53 + (i % 2) as u16, 40), 17),
            _ => (tcp(40000, (i % 1000) as u16, TCP_SYN, 0), 6),
        };
        let frame = ethernet(0x0800, &ipv4(me, dst, proto, &l4));
        let opts = EpbOptions {
            flags: Some(EPB_FLAG_OUTBOUND),
            pib_index: Some((i % procs.len() as u64) as u32),
            e_pib_index: None,
        };
        w.packet(0, t0 + i as i64 * 50_000, &frame, opts);
        i += 1;
    }
    w.into_bytes()
}

/// The 14 Jamf telemetry samples and the process alert, pretty-printed, back to back.
fn jamf_objects(min: usize) -> Vec<u8> {
    let mut one = Vec::new();
    let dir = format!("{CORPUS}/jamf_protect/telemetry");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("jamf dir")
        .map(|e| e.expect("entry").path())
        .collect();
    names.sort();
    for n in names {
        one.extend(std::fs::read(n).expect("sample"));
        one.push(b'\n');
    }
    one.extend(corpus("jamf_protect/alerts/GPProcessEvent.json"));
    one.push(b'\n');
    repeat_to(&one, min)
}

/// The Elastic package's process and network sample events, one compact line each, their host
/// relabelled macOS.
fn elastic_ndjson(min: usize) -> Vec<u8> {
    let mut one = Vec::new();
    for f in [
        "elastic_defend/endpointpkg_process_sample_event.json",
        "elastic_defend/endpointpkg_network_sample_event.json",
    ] {
        // Relabelled macOS hosts: a Windows host's documents are skipped as out of scope, and
        // the bench measures the parser reading them.
        let text = String::from_utf8(corpus(f))
            .expect("UTF-8")
            .replace("\"windows\"", "\"macos\"");
        let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        one.extend(v.to_string().into_bytes());
        one.push(b'\n');
    }
    repeat_to(&one, min)
}

struct Input {
    name: &'static str,
    format: Format,
    data: Vec<u8>,
    clock: ClockHints,
}

fn inputs() -> Vec<Input> {
    let dir = tempfile::tempdir().expect("tempdir");
    // One bulk host: ~80% eslogger, ~16% nettop, ~4% unified log.
    floodwatch_sim::write_bulk(dir.path(), 1, 16_000_000, 7).expect("write_bulk");
    let host = dir.path().join("mac-0000");
    let file = |n: &str| std::fs::read(host.join(n)).expect("generated file");
    let es = head_lines(&file(floodwatch_sim::host::ESLOGGER_FILE), TARGET);
    // The second host writes eslogger's macOS 26 messages (version 10: audit tokens as arrays).
    let dir_v10 = tempfile::tempdir().expect("tempdir");
    floodwatch_sim::write_bulk(dir_v10.path(), 2, 32_000_000, 7).expect("write_bulk");
    let es_v10 = head_lines(
        &std::fs::read(
            dir_v10
                .path()
                .join("mac-0001")
                .join(floodwatch_sim::host::ESLOGGER_FILE),
        )
        .expect("generated file"),
        TARGET,
    );
    assert!(
        es_v10.starts_with(b"{") && es_v10[..4096].windows(12).any(|w| w == b"\"version\":10"),
        "the second bulk host writes version 10"
    );
    let ulog_one = file(floodwatch_sim::host::UNIFIEDLOG_FILE);
    let nettop = file(floodwatch_sim::host::NETTOP_FILE);
    // nettop has no date: anchor it as a hunt does, on the host's dated sources.
    let mut probe = FileSource::new(
        &es[..],
        Format::Eslogger,
        ctx("probe", ClockHints::default()),
    );
    let mut first = Vec::new();
    probe.next_events(&mut first).expect("probe");
    let (_, ul_src) = read(
        &ulog_one,
        Format::UnifiedLogNdjson,
        ctx("probe", ClockHints::default()),
    );
    let nettop_clock = ClockHints {
        reference: first.first().map(|e| e.ts),
        utc_offset: ul_src.utc_offset(),
        ..ClockHints::default()
    };
    vec![
        Input {
            name: "eslogger",
            format: Format::Eslogger,
            data: es,
            clock: ClockHints::default(),
        },
        Input {
            name: "eslogger_v10",
            format: Format::Eslogger,
            data: es_v10,
            clock: ClockHints::default(),
        },
        Input {
            name: "nettop_csv",
            format: Format::NettopCsv,
            data: head_lines(&nettop, TARGET),
            clock: nettop_clock,
        },
        Input {
            name: "unifiedlog_ndjson",
            format: Format::UnifiedLogNdjson,
            data: repeat_to(&ulog_one, TARGET / 2),
            clock: ClockHints::default(),
        },
        Input {
            name: "osquery",
            format: Format::Osquery,
            data: osquery_lines(TARGET / 2),
            clock: ClockHints::default(),
        },
        Input {
            name: "zeek_conn_tsv",
            format: Format::ZeekTsv,
            data: zeek_tsv(TARGET / 2),
            clock: ClockHints::default(),
        },
        Input {
            name: "zeek_conn_json",
            format: Format::ZeekJson,
            data: repeat_to(
                &corpus("datasets/stratosphere-zeek-conn/002-zeek-scenario-port-scanning.conn.log"),
                TARGET / 2,
            ),
            clock: ClockHints::default(),
        },
        Input {
            name: "pcap",
            format: Format::Pcap,
            data: synflood_pcap(TARGET),
            clock: ClockHints::default(),
        },
        Input {
            name: "pcapng_pktap",
            format: Format::Pcapng,
            data: pktap_pcapng(TARGET),
            clock: ClockHints::default(),
        },
        Input {
            name: "jamf_protect",
            format: Format::JamfProtect,
            data: jamf_objects(TARGET / 2),
            clock: ClockHints::default(),
        },
        Input {
            name: "elastic_defend",
            format: Format::ElasticDefend,
            data: elastic_ndjson(TARGET / 2),
            clock: ClockHints::default(),
        },
    ]
}

/// A group with this bench's settings: few samples, a short warm-up.
fn group<'c>(
    c: &'c mut Criterion,
    name: &str,
    measure: Duration,
) -> criterion::BenchmarkGroup<'c, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(name);
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(measure);
    g
}

/// The inputs are generated once, for both groups.
fn benches(c: &mut Criterion) {
    let inputs = inputs();
    parsers(c, &inputs);
    sniffing(c, &inputs);
}

fn parsers(c: &mut Criterion, inputs: &[Input]) {
    let mut g = group(c, "parsers", Duration::from_secs(4));
    for inp in inputs {
        // The generated input must be what the parser expects, and read cleanly.
        assert_eq!(
            sniff(&inp.data[..inp.data.len().min(64 * 1024)]),
            Sniffed::Telemetry(inp.format),
            "{}",
            inp.name
        );
        let (events, src) = read(&inp.data, inp.format, ctx(inp.name, inp.clock.clone()));
        assert_eq!(
            src.stats.rejected, 0,
            "{}: {:?}",
            inp.name, src.stats.samples
        );
        assert!(events > 0, "{}", inp.name);
        eprintln!(
            "input {:<18} {:>9} bytes {:>7} records {:>7} events",
            inp.name,
            inp.data.len(),
            src.stats.records,
            events
        );
        g.throughput(Throughput::Bytes(inp.data.len() as u64));
        g.bench_function(inp.name, |b| {
            b.iter(|| {
                read(
                    black_box(&inp.data),
                    inp.format,
                    ctx(inp.name, inp.clock.clone()),
                )
                .0
            })
        });
    }
    // The eslogger record parser alone, on lines split beforehand (no framing, no UTF-8 check).
    let es = &inputs[0].data;
    let text = std::str::from_utf8(es).expect("UTF-8");
    let lines: Vec<&str> = text.lines().collect();
    g.throughput(Throughput::Bytes(es.len() as u64));
    g.bench_function("eslogger/parse_only", |b| {
        b.iter(|| {
            let mut p = EsloggerParser::new(ctx("eslogger", ClockHints::default()));
            let mut out: Vec<Event> = Vec::with_capacity(4);
            let mut n = 0usize;
            for (i, line) in lines.iter().enumerate() {
                let _ = p.parse(black_box(line), i as u64 + 1, &mut out);
                n += out.len();
                out.clear();
            }
            n
        })
    });
    g.finish();
}

/// Sniffing a file's head (`sniff::HEAD_BYTES`), as a hunt does for every file before reading it.
fn sniffing(c: &mut Criterion, inputs: &[Input]) {
    let mut g = group(c, "sniff", Duration::from_secs(3));
    for inp in inputs.iter().filter(|i| {
        matches!(
            i.name,
            "eslogger" | "nettop_csv" | "unifiedlog_ndjson" | "osquery" | "zeek_conn_json"
        )
    }) {
        let head = &inp.data[..inp.data.len().min(floodwatch_sources::sniff::HEAD_BYTES)];
        assert_eq!(sniff(head), Sniffed::Telemetry(inp.format), "{}", inp.name);
        g.throughput(Throughput::Bytes(head.len() as u64));
        g.bench_function(inp.name, |b| b.iter(|| sniff(black_box(head))));
    }
    g.finish();
}

criterion_group!(all, benches);
criterion_main!(all);
