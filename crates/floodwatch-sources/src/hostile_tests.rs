//! Hostile input across the text formats, each on data in its real format: bytes that are not
//! UTF-8, NUL bytes and garbage lines, blank lines.

use crate::testutil::{corpus, ctx, read_all};
use crate::{sniff, Format, Sniffed};
use floodwatch_core::event::{Event, EventKind, ProcInfo};

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/collection");

fn example(path: &str) -> Vec<u8> {
    std::fs::read(format!("{EXAMPLES}/{path}")).unwrap()
}

/// The first `lines` lines of a file.
fn head_lines(data: &[u8], lines: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for l in data.split_inclusive(|&b| b == b'\n').take(lines) {
        out.extend_from_slice(l);
    }
    out
}

/// `data` with `with` in place of the first `count` occurrences of `what`.
fn replace(data: &[u8], what: &[u8], with: &[u8], count: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 16);
    let mut rest = data;
    let mut n = 0;
    while n < count {
        let Some(i) = rest.windows(what.len()).position(|w| w == what) else {
            break;
        };
        out.extend_from_slice(&rest[..i]);
        out.extend_from_slice(with);
        rest = &rest[i + what.len()..];
        n += 1;
    }
    assert!(
        n > 0,
        "{:?} not in the sample",
        String::from_utf8_lossy(what)
    );
    out.extend_from_slice(rest);
    out
}

/// The real macOS `socket_events` line of telemetry-formats.md §4.
const OSQUERY_SOCKET: &str = r#"{"name":"pack/tls@eventing-pack/socket_events","hostIdentifier":"564D1C61-…","calendarTime":"Sun Jan 17 14:43:22 2021 UTC","unixTime":1610894602,"epoch":0,"counter":0,"numerics":false,"decorations":{"host_uuid":"564D1C61-…"},"columns":{"action":"connect","auid":"501","family":"2","fd":"1f","local_address":"0","local_port":"0","path":"/usr/local/bin/osqueryd","pid":"26075","remote_address":"54.194.163.85","remote_port":"443","success":"0","time":"1610821751","uptime":"103726"},"action":"added"}"#;

/// One sample per text format, and a string of it that a hostile byte goes into.
fn samples() -> Vec<(Format, Vec<u8>, &'static [u8])> {
    let unified = corpus("unifiedlog/elastic_macos_network_activity.ndjson");
    let mut array = b"[\n".to_vec();
    let objects: Vec<&[u8]> = unified
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    array.extend(objects.join(&b",\n"[..]));
    array.extend(b"\n]\n");
    // Two samples of the real fixed-width capture, three processes sending 1000 more bytes in the
    // second (as the nettop tests do).
    let fixed = String::from_utf8(corpus("nettop/whichway_nettop_P_x_l2_fixedwidth.txt")).unwrap();
    let second = fixed
        .replace("231681           95930", "231681           96930")
        .replace("17611507         1063785", "17611507         1064785")
        .replace("808991          695717", "808991          696717");
    let fixed = format!("{fixed}{second}").into_bytes();
    let mut osquery = OSQUERY_SOCKET.as_bytes().to_vec();
    osquery.push(b'\n');
    vec![
        (
            Format::Eslogger,
            head_lines(&example("build-mac-07/eslogger.jsonl"), 400),
            b"\\/ping\"",
        ),
        (
            Format::NettopCsv,
            head_lines(&example("build-mac-07/nettop.csv"), 27),
            b"apsd.665",
        ),
        (Format::NettopFixed, fixed, b"Microsoft Outlo"),
        (Format::UnifiedLogNdjson, unified, b"nsurlsessiond"),
        (Format::UnifiedLogJson, array, b"nsurlsessiond"),
        (Format::Osquery, osquery, b"osqueryd"),
        (
            Format::ZeekTsv,
            corpus("zeek/zeekdocs_conn_tsv_real_ts.log"),
            b"192.168.20.12",
        ),
        (
            Format::ZeekJson,
            corpus("zeek/zeekdocs_conn_json.ndjson"),
            b"192.168.4.76",
        ),
        (
            Format::JamfProtect,
            corpus("jamf_protect/telemetry/AUE_EXECVE.json"),
            b".Trashes",
        ),
        (
            Format::ElasticDefend,
            // Relabelled a macOS host: a Windows host's documents are skipped as out of scope.
            String::from_utf8(corpus(
                "elastic_defend/endpointpkg_process_sample_event.json",
            ))
            .unwrap()
            .replace("\"windows\"", "\"macos\"")
            .into_bytes(),
            b"WerSvcGroup",
        ),
    ]
}

/// `what` with a 0xFF byte after its first character.
fn with_ff(what: &[u8]) -> Vec<u8> {
    let mut v = what[..2].to_vec();
    v.push(0xFF);
    v.extend_from_slice(&what[2..]);
    v
}

/// A byte that is not UTF-8 in a string (attacker-controlled argv, a truncated name) loses nothing:
/// every format gives the same events as without it, and the events say so.
#[test]
fn invalid_utf8_in_a_string_keeps_the_event_in_every_text_format() {
    for (format, clean, what) in samples() {
        // Every occurrence: nettop names come back in every frame.
        let dirty = replace(&clean, what, &with_ff(what), usize::MAX);
        assert_eq!(sniff(&dirty), Sniffed::Telemetry(format), "{format:?}");
        let (want, want_st) = read_all(&clean, format, ctx("clean"));
        let (got, st) = read_all(&dirty, format, ctx("dirty"));
        assert!(
            !want.is_empty(),
            "{format:?}: the clean sample gives events"
        );
        assert_eq!(
            (got.len(), st.rejected),
            (want.len(), want_st.rejected),
            "{format:?}: {:?}",
            st.samples
        );
        let flagged = |ev: &[Event]| ev.iter().filter(|e| e.kind.invalid_utf8()).count();
        assert_eq!(flagged(&want), 0, "{format:?}");
        assert!(flagged(&got) > 0, "{format:?}: the events say so");
        assert!(
            got.iter().any(|e| text_of(e).contains('\u{fffd}')),
            "{format:?}: the byte became U+FFFD"
        );
    }
}

/// The strings of an event, joined (to find a U+FFFD in them).
fn text_of(e: &Event) -> String {
    let p = |p: &ProcInfo| {
        format!(
            "{:?} {:?} {:?} {:?}",
            p.path, p.args, p.cwd, p.signing.signing_id
        )
    };
    match &e.kind {
        EventKind::Exec { instigator, target } => {
            format!(
                "{} {}",
                p(target),
                instigator.as_deref().map(p).unwrap_or_default()
            )
        }
        EventKind::Fork { parent, child } => format!("{} {}", p(parent), p(child)),
        EventKind::Exit { process, .. } | EventKind::ProcessSeen(process) => p(process),
        EventKind::Traffic(t) => format!(
            "{:?} {:?} {:?} {:?}",
            t.process_name, t.process_path, t.remote, t.local
        ),
        EventKind::Connect(c) => format!("{:?} {:?}", c.process_path, c.remote),
        EventKind::Session(s) => format!("{:?} {:?}", s.user, s.tty),
    }
}

/// The bundled curl loop's exec lines with a byte that is not UTF-8 in the URL: each stays a curl
/// exec of the same argv (the byte as U+FFFD), and says it was not valid UTF-8.
#[test]
fn eslogger_curl_exec_with_an_invalid_byte_in_argv_is_kept_and_flagged() {
    let clean = example("build-mac-07/eslogger.jsonl");
    let dirty = replace(
        &clean,
        b"203.0.113.10\\/ping\"",
        b"203.0.113.10\\/p\xffing\"",
        usize::MAX,
    );
    let (want, _) = read_all(&clean, Format::Eslogger, ctx("es.jsonl"));
    let (got, st) = read_all(&dirty, Format::Eslogger, ctx("es.jsonl"));
    assert_eq!(
        (got.len(), st.rejected),
        (want.len(), 0),
        "{:?}",
        st.samples
    );
    let curl_execs: Vec<&Event> = got
        .iter()
        .filter(|e| {
            matches!(&e.kind, EventKind::Exec { target, .. }
                if target.path.as_deref() == Some("/usr/bin/curl"))
        })
        .collect();
    assert_eq!(curl_execs.len(), 200);
    for e in curl_execs {
        let EventKind::Exec { instigator, target } = &e.kind else {
            unreachable!()
        };
        assert!(target.invalid_utf8 && instigator.as_ref().unwrap().invalid_utf8);
        assert_eq!(
            target.args.as_ref().unwrap().last().unwrap(),
            "http://203.0.113.10/p\u{fffd}ing"
        );
    }
    // Lines without the byte are not flagged.
    assert!(got
        .iter()
        .filter(|e| !matches!(&e.kind, EventKind::Exec { target, .. }
            if target.path.as_deref() == Some("/usr/bin/curl")))
        .all(|e| !e.kind.invalid_utf8()));
}

/// A collector may write a byte that is not UTF-8 as a lone UTF-16 surrogate escape, which serde
/// refuses: the record is read with U+FFFD in its place, flagged, not rejected.
#[test]
fn a_lone_surrogate_escape_is_read_as_replacement_character() {
    let clean = example("build-mac-07/eslogger.jsonl");
    let dirty = replace(&clean, b"\\/ping\"", b"\\/p\\udcffing\"", 1);
    let (got, st) = read_all(&dirty, Format::Eslogger, ctx("es.jsonl"));
    assert_eq!(st.rejected, 0, "{:?}", st.samples);
    let flagged: Vec<&Event> = got.iter().filter(|e| e.kind.invalid_utf8()).collect();
    assert_eq!(flagged.len(), 1);
    let EventKind::Exec { target, .. } = &flagged[0].kind else {
        panic!("not an exec")
    };
    assert_eq!(
        target.args.as_ref().unwrap().last().unwrap(),
        "http://203.0.113.10/p\u{fffd}ing"
    );

    use crate::wire::json::replace_lone_surrogates as fix;
    assert_eq!(fix(r#"{"a":"\ud83d\ude00 ok"}"#), None, "a pair is valid");
    assert_eq!(fix(r#"{"a":"\\udcff"}"#), None, "an escaped backslash");
    assert_eq!(
        fix(r#"{"a":"\ud800x\udc00\ud800"}"#).as_deref(),
        Some(r#"{"a":"\ufffdx\ufffd\ufffd"}"#)
    );
    assert_eq!(
        fix(r#"{"a":"é\ud800\ud800\udc00"}"#).as_deref(),
        Some(r#"{"a":"é\ufffd\ud800\udc00"}"#)
    );
}

/// Blank lines (empty, whitespace, CRLF) in the line formats are counted: records + blank = lines.
#[test]
fn blank_lines_are_counted_in_line_formats() {
    for (format, clean, _) in samples() {
        if !matches!(
            format,
            Format::Eslogger
                | Format::NettopCsv
                | Format::NettopFixed
                | Format::UnifiedLogNdjson
                | Format::Osquery
                | Format::ZeekTsv
                | Format::ZeekJson
        ) {
            continue;
        }
        let mut data = Vec::new();
        let mut lines = 0;
        for (i, l) in clean.split_inclusive(|&b| b == b'\n').enumerate() {
            data.extend_from_slice(l);
            data.extend_from_slice([&b"\n"[..], b"  \t\n", b"\r\n"][i % 3]);
            lines += 2;
        }
        let (want, want_st) = read_all(&clean, format, ctx("clean"));
        let (got, st) = read_all(&data, format, ctx("blank"));
        assert_eq!(got.len(), want.len(), "{format:?}");
        assert_eq!(st.records, want_st.records, "{format:?}");
        assert_eq!(st.records + st.blank, lines, "{format:?}");
        assert!(st.blank > 0, "{format:?}");
    }
}

/// `data` with `line` inserted after its first `after` lines.
fn insert_line(data: &[u8], after: usize, line: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut n = 0;
    for l in data.split_inclusive(|&b| b == b'\n') {
        if n == after {
            out.extend_from_slice(line);
        }
        out.extend_from_slice(l);
        n += 1;
    }
    if n <= after {
        if !out.ends_with(b"\n") {
            out.push(b'\n');
        }
        out.extend_from_slice(line);
    }
    out
}

/// Where a line can go between two records of each sample.
fn between_records(format: Format) -> usize {
    match format {
        Format::NettopCsv | Format::NettopFixed => 2,
        // After the header block, before the row.
        Format::ZeekTsv => 8,
        // After the last object (the samples hold one).
        Format::Osquery | Format::JamfProtect | Format::ElasticDefend => usize::MAX,
        _ => 1,
    }
}

/// One line that is not telemetry (a first line, or a line with NUL bytes) does not make the file
/// "not telemetry": it is read, and that line is rejected with its reason.
#[test]
fn one_bad_line_or_a_nul_byte_does_not_drop_the_file() {
    for (format, clean, _) in samples() {
        let (want, want_st) = read_all(&clean, format, ctx("clean"));
        let bad_first = [&b"operator note: collected on 2025-09-16\n"[..], &clean].concat();
        let nul = insert_line(&clean, between_records(format), b"\0\0\x01\x02garbage\0\n");
        for (what, data) in [("bad first line", bad_first), ("NUL line", nul)] {
            assert_eq!(
                sniff(&data),
                Sniffed::Telemetry(format),
                "{format:?} with a {what}"
            );
            let (got, st) = read_all(&data, format, ctx("dirty"));
            assert_eq!(got.len(), want.len(), "{format:?} with a {what}");
            assert_eq!(
                st.rejected,
                want_st.rejected + 1,
                "{format:?} with a {what}: {:?}",
                st.samples
            );
        }
    }
}

/// A NUL byte inside a record (not a line of its own) costs that record only, as binary data.
#[test]
fn a_nul_byte_inside_a_record_rejects_that_record_as_binary_data() {
    let clean = head_lines(&example("build-mac-07/nettop.csv"), 27);
    let dirty = replace(&clean, b"apsd.665", b"apsd\0.665", 2);
    assert_eq!(sniff(&dirty), Sniffed::Telemetry(Format::NettopCsv));
    let (ev, st) = read_all(&dirty, Format::NettopCsv, ctx("nul"));
    assert_eq!(st.rejected, 2, "{:?}", st.samples);
    assert!(st.samples.iter().all(|s| s.reason == "binary data"));
    // apsd's socket rows under the rejected rows are not given to the process row above apsd's
    // (mDNSResponder): they have no process.
    for e in &ev {
        let EventKind::Traffic(t) = &e.kind else {
            panic!("not traffic")
        };
        if t.remote.as_deref() == Some("17.57.146.138:5223") {
            assert_eq!(t.process_name.as_deref(), Some("apsd"));
        }
    }
    assert_eq!(
        st.reasons()
            .get("skipped: socket row without a process row above")
            .copied(),
        Some(2)
    );
    let es = head_lines(&example("build-mac-07/eslogger.jsonl"), 20);
    let dirty = replace(&es, b"\\/sbin\\/launchd", b"\\/sbin\\/laun\0chd", 1);
    assert_eq!(sniff(&dirty), Sniffed::Telemetry(Format::Eslogger));
    let (want, _) = read_all(&es, Format::Eslogger, ctx("clean"));
    let (ev, st) = read_all(&dirty, Format::Eslogger, ctx("nul"));
    assert_eq!((ev.len(), st.rejected), (want.len() - 1, 1));
    assert_eq!(st.samples[0].reason, "binary data");
}

/// Binary files stay what they are: a capture is a capture, other binaries are not telemetry,
/// whatever text they hold.
#[test]
fn real_binaries_are_still_not_telemetry() {
    let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
    let head = &exe[..exe.len().min(crate::sniff::HEAD_BYTES)];
    assert!(matches!(sniff(head), Sniffed::NotTelemetry(_)), "this ELF");
    // A PNG: signature, IHDR, then compressed (random-looking) data.
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\x01\0\0\0\x01\0\x08\x06\0\0\0\x5c\x72\xa8\x66\0\0\x20\0IDAT".to_vec();
    let mut x: u32 = 0x1234_5678;
    png.extend((0..8192).map(|_| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x as u8
    }));
    assert!(matches!(sniff(&png), Sniffed::NotTelemetry(_)), "PNG");
    // A Mach-O: header, load commands padded with NULs, a cstring section with paths.
    let mut macho = b"\xcf\xfa\xed\xfe\x07\0\0\x01\x03\0\0\0\x02\0\0\0".to_vec();
    macho.extend(std::iter::repeat_n(0u8, 4000));
    macho.extend(b"/usr/lib/libSystem.B.dylib\0{\"schema_version\":1}\0curl\n\0");
    macho.extend(std::iter::repeat_n(0u8, 4000));
    assert!(matches!(sniff(&macho), Sniffed::NotTelemetry(_)), "Mach-O");
    let pcap = corpus("pcap/CIC-DDoS-2019-SynFlood.pcap");
    assert_eq!(
        sniff(&pcap[..crate::sniff::HEAD_BYTES]),
        Sniffed::Telemetry(Format::Pcap)
    );
}

/// A file that looks like telemetry but whose lines are mostly something else is not read, and
/// its reason says it looked like telemetry (the summary makes that a warning).
#[test]
fn a_file_mostly_not_telemetry_says_it_looked_like_telemetry() {
    let es = head_lines(&example("build-mac-07/eslogger.jsonl"), 2);
    let mut data = b"Incident notes\n".to_vec();
    for i in 0..10 {
        data.extend(format!("step {i}: checked the host\n").as_bytes());
    }
    data.extend(&es);
    match sniff(&data) {
        Sniffed::NotTelemetry(why) => assert!(
            why.starts_with(floodwatch_core::stats::LOOKS_LIKE_TELEMETRY)
                && why.contains("eslogger"),
            "{why}"
        ),
        s => panic!("{s:?}"),
    }
}
