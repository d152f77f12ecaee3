//! Parser throughput (bytes/s): `cargo bench -p floodwatch-sources --bench parsers`.
//!
//! Inputs are generated once by floodwatch-sim in the real formats: one bulk host (eslogger, nettop
//! CSV, unified log ndjson) written to a temporary directory and read back into memory, plus osquery
//! `es_process_events` lines written straight into a buffer. Each benchmark reads a few MB through a
//! [`FileSource`] (line framing + the format's parser), which is what a hunt does per file, minus the
//! disk. `eslogger/parse_only` runs the record parser on pre-split lines, so the framing cost is the
//! difference between the two eslogger numbers.

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
    ]
}

fn parsers(c: &mut Criterion) {
    let inputs = inputs();
    let mut g = c.benchmark_group("parsers");
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    for inp in &inputs {
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

criterion_group!(benches, parsers);
criterion_main!(benches);
