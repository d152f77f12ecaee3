//! Hostile input through the binary, on the bundled collection in its real formats: bytes an
//! attacker controls (argv) or a broken collector writes must not make a flood disappear, nor
//! invent one.

use crate::common;

use assert_cmd::Command;
use serde_json::Value;
use std::path::Path;

/// A hunt of `dir` with `--format jsonl`: exit code, alert lines, summary JSON, stderr.
fn hunt(dir: &Path) -> (i32, Vec<Value>, Value, String) {
    let summary = dir.join("summary.json");
    let out = Command::cargo_bin("floodwatch")
        .unwrap()
        .args([
            "hunt",
            "--format",
            "jsonl",
            "--threads",
            "1",
            "--summary-json",
        ])
        .arg(&summary)
        .arg(dir.join("hosts"))
        .output()
        .unwrap();
    let alerts = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let s = std::fs::read_to_string(&summary)
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or(Value::Null);
    (
        out.status.code().unwrap_or(-1),
        alerts,
        s,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn file<'a>(s: &'a Value, name: &str) -> &'a Value {
    s["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with(name))
        .unwrap_or_else(|| panic!("{name} not read: {s:#}"))
}

/// build-mac-07's three files in `dir/hosts/build-mac-07`, eslogger's lines passed through `edit`.
fn build_mac_07(dir: &Path, edit: impl Fn(&[u8]) -> Vec<u8>) {
    let host = dir.join("hosts/build-mac-07");
    std::fs::create_dir_all(&host).unwrap();
    let src = common::collection().join("build-mac-07");
    for name in ["nettop.csv", "unifiedlog.ndjson"] {
        std::fs::copy(src.join(name), host.join(name)).unwrap();
    }
    let es = std::fs::read(src.join("eslogger.jsonl")).unwrap();
    let mut out = Vec::with_capacity(es.len() + 1024);
    for line in es.split_inclusive(|&b| b == b'\n') {
        out.extend(edit(line));
    }
    std::fs::write(host.join("eslogger.jsonl"), out).unwrap();
}

fn the_curl_loop_alert(alerts: &[Value]) -> &Value {
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let a = &alerts[0];
    assert_eq!(a["device"]["hostname"], "build-mac-07");
    assert_eq!(a["actor"]["process"]["pid"], 12004);
    // Hostile argv (invalid UTF-8, controls) still makes valid OCSF 1.3.0.
    let bad = common::ocsf::violations(a);
    assert!(bad.is_empty(), "{bad:#?}");
    a
}

/// `\xff` in the URL of two curl execs out of three (the attacker controls argv): the lines are
/// decoded with U+FFFD, never rejected, and the loop still alerts.
#[test]
fn invalid_utf8_in_curl_argv_does_not_hide_the_curl_loop() {
    let d = tempfile::tempdir().unwrap();
    // The URL's last path component, `ping"`, gets a 0xFF after its `p`.
    let needle: &[u8] = b"203.0.113.10\\/ping\"";
    let seen = std::cell::Cell::new(0usize);
    build_mac_07(d.path(), |line| {
        let Some(at) = line.windows(needle.len()).position(|w| w == needle) else {
            return line.to_vec();
        };
        seen.set(seen.get() + 1);
        if seen.get().is_multiple_of(3) {
            return line.to_vec();
        }
        let cut = at + needle.len() - 4;
        [&line[..cut], &[0xFF], &line[cut..]].concat()
    });
    assert_eq!(seen.get(), 200, "every curl exec line");
    let (code, alerts, s, err) = hunt(d.path());
    assert_eq!(code, 0, "{err}");
    let a = the_curl_loop_alert(&alerts);
    // The garbled bytes are themselves a reason ("argv holds invalid UTF-8" is suspicious).
    let codes: Vec<&str> = a["unmapped"]["floodwatch"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"invalid_utf8"), "{codes:?}");
    let f = file(&s, "eslogger.jsonl");
    assert_eq!(f["rejected"], 0, "{f:#}");
}

/// Blank lines (empty, spaces, CRLF) between records are counted, so records and blank lines
/// account for every line of the file.
#[test]
fn blank_lines_are_counted() {
    let d = tempfile::tempdir().unwrap();
    let blanks: [&[u8]; 3] = [b"\n", b"   \t\n", b"\r\n"];
    let n = std::cell::Cell::new(0usize);
    build_mac_07(d.path(), |line| {
        let i = n.get();
        n.set(i + 1);
        if i % 100 == 50 {
            [blanks[i % 3], line].concat()
        } else {
            line.to_vec()
        }
    });
    let (code, alerts, s, err) = hunt(d.path());
    assert_eq!(code, 0, "{err}");
    the_curl_loop_alert(&alerts);
    let f = file(&s, "eslogger.jsonl");
    let lines = n.get() as u64 + 9;
    assert_eq!(f["blank"], 9, "{f:#}");
    assert_eq!(f["records"].as_u64().unwrap() + 9, lines, "{f:#}");
    assert!(err.contains("9 blank line"), "{err}");
    // Files without blank lines do not show the counter.
    assert!(file(&s, "nettop.csv").get("blank").is_none());
}

/// A first line that is not telemetry and a NUL byte in the head no longer make the bundled
/// capture "not telemetry": it is read, the two lines are rejected with their reasons, and the
/// curl loop alerts.
#[test]
fn a_bad_first_line_and_a_nul_byte_do_not_drop_the_file() {
    let d = tempfile::tempdir().unwrap();
    let n = std::cell::Cell::new(0usize);
    build_mac_07(d.path(), |line| {
        let i = n.get();
        n.set(i + 1);
        match i {
            0 => [
                &b"eslogger exec fork exit (started by collect.sh)\n"[..],
                line,
            ]
            .concat(),
            5 => [line, &b"\0\0\0\0\x07\x01\0\0\n"[..]].concat(),
            _ => line.to_vec(),
        }
    });
    let (code, alerts, s, err) = hunt(d.path());
    assert_eq!(code, 0, "{err}");
    let f = file(&s, "eslogger.jsonl");
    assert_eq!(f["format"], "eslogger");
    assert_eq!(f["rejected"], 2, "{f:#}");
    assert_eq!(f["samples"][0]["line"], 1);
    assert_eq!(f["samples"][1]["line"], 8);
    assert_eq!(f["samples"][1]["reason"], "binary data");
    the_curl_loop_alert(&alerts);
}

/// A file that looks like telemetry but is mostly not (notes around two eslogger lines) is not
/// read, and the summary says so loudly: a warning, not only a "not telemetry" row.
#[test]
fn a_file_that_looks_like_telemetry_but_is_dropped_is_a_warning() {
    let d = tempfile::tempdir().unwrap();
    build_mac_07(d.path(), |line| line.to_vec());
    let es = std::fs::read(common::collection().join("build-mac-07/eslogger.jsonl")).unwrap();
    let mut notes = b"Incident notes for build-mac-07\n".to_vec();
    for i in 0..8 {
        notes.extend(format!("{i}. looked at the launchd jobs\n").as_bytes());
    }
    notes.extend(es.split_inclusive(|&b| b == b'\n').take(2).flatten());
    std::fs::write(d.path().join("hosts/build-mac-07/notes.txt"), notes).unwrap();
    let (code, alerts, s, err) = hunt(d.path());
    assert_eq!(code, 0, "{err}");
    the_curl_loop_alert(&alerts);
    let warnings = s["warnings"].as_array().unwrap();
    assert!(
        warnings.iter().any(|w| {
            let w = w.as_str().unwrap();
            w.contains("notes.txt") && w.contains("looks like telemetry") && w.contains("eslogger")
        }),
        "{warnings:?}"
    );
    assert!(
        err.lines()
            .any(|l| l.contains("warning:") && l.contains("notes.txt")),
        "{err}"
    );
}

/// Rewrites build-mac-07's nettop.csv: after the header of frame `k` (0-based), the rows `rows(k,
/// time)` give (in the capture's own format), `time` being that frame's first row time.
fn edit_nettop(dir: &Path, rows: impl Fn(usize, &str) -> String) {
    let path = dir.join("hosts/build-mac-07/nettop.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut out = String::with_capacity(text.len() + 4096);
    let mut frame = None::<usize>;
    let mut lines = text.lines().peekable();
    while let Some(l) = lines.next() {
        out.push_str(l);
        out.push('\n');
        if l.starts_with("time,") {
            let k = frame.map_or(0, |f| f + 1);
            frame = Some(k);
            let time = lines.peek().and_then(|n| n.split(',').next()).unwrap_or("");
            out.push_str(&rows(k, time));
        }
    }
    std::fs::write(&path, out).unwrap();
}

/// A third-party uploader whose nettop counter reads 2^64-1 for one frame (a counter glitch), and a
/// sync client first listed mid-capture with its 3.3 GB lifetime total: neither is a flood (they
/// gave "614891469102.3 MB/s" and "1666.7 MB/s" alerts), the curl loop still alerts alone.
#[test]
fn nettop_counter_glitches_and_late_rows_are_not_floods() {
    let d = tempfile::tempdir().unwrap();
    build_mac_07(d.path(), |line| line.to_vec());
    edit_nettop(d.path(), |k, time| {
        let mut rows = String::new();
        if (100..=110).contains(&k) {
            let out: u64 = if k == 105 {
                u64::MAX
            } else {
                1_000_000 + 2_000 * k as u64
            };
            rows.push_str(&format!("{time},uploader.4711,,,5000,{out},\n"));
            rows.push_str(&format!(
                "{time},tcp4 192.168.1.56:56500<->198.51.100.77:443,en0,Established,5000,{out},\n"
            ));
        }
        if (200..=205).contains(&k) {
            let out = 3_333_400_000 + 1_000 * (k as u64 - 200);
            rows.push_str(&format!("{time},syncclient.4712,,,70000,{out},\n"));
            rows.push_str(&format!(
                "{time},tcp4 192.168.1.56:56501<->198.51.100.78:443,en0,Established,70000,{out},\n"
            ));
        }
        rows
    });
    let (code, alerts, s, err) = hunt(d.path());
    assert_eq!(code, 0, "{err}");
    the_curl_loop_alert(&alerts);
    let f = file(&s, "nettop.csv");
    assert_eq!(f["reasons"]["counter glitch"], 2, "{f:#}");
    assert!(
        f["notes"].as_array().unwrap().iter().any(|n| n
            .as_str()
            .unwrap()
            .starts_with("2 nettop rows first listed mid-capture")),
        "{f:#}"
    );
}

/// A real Zeek conn.log (Stratosphere) with one row's orig_pkts at 2^64-1: the row is rejected as
/// a counter glitch, and nothing downstream sees the count (it gave an 18,446,744,073,709,551,615
/// packets/s finding, and totals that overflow).
#[test]
fn a_zeek_count_near_2_64_is_rejected() {
    let d = tempfile::tempdir().unwrap();
    let host = d.path().join("hosts/sensor");
    std::fs::create_dir_all(&host).unwrap();
    let src = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/corpus/datasets/stratosphere-zeek-conn/008-zeek-mixed.conn.log.labeled"
    ))
    .unwrap();
    let mut rows = 0;
    let text: Vec<String> = src
        .lines()
        .map(|l| {
            if l.starts_with('#') {
                return l.to_string();
            }
            rows += 1;
            let mut f: Vec<&str> = l.split('\t').collect();
            if rows == 10 {
                f[16] = "18446744073709551615"; // orig_pkts
            }
            f.join("\t")
        })
        .collect();
    std::fs::write(host.join("conn.log"), text.join("\n") + "\n").unwrap();
    let (code, _, s, err) = hunt(d.path());
    assert!(code == 0 || code == 2, "{err}");
    let f = file(&s, "conn.log");
    assert_eq!(f["reasons"]["counter glitch"], 1, "{f:#}");
    assert_eq!(f["samples"][0]["line"], 18, "{f:#}");
    for n in s["network"].as_array().unwrap() {
        assert!(n["packets"].as_u64().unwrap() < 1 << 53, "{n:#}");
    }
}

/// A right-to-left override (U+202E) in the script path the alert names: every OCSF line escapes it
/// as `\u202e` (a viewer would otherwise show the text reversed), and it parses back to the same text.
#[test]
fn bidi_controls_in_argv_are_escaped_in_every_ocsf_line() {
    let d = tempfile::tempdir().unwrap();
    build_mac_07(d.path(), |l| {
        String::from_utf8_lossy(l)
            .replace(".sync.sh", ".sync\u{202e}hs.txt")
            .into_bytes()
    });
    let out = Command::cargo_bin("floodwatch")
        .unwrap()
        .args(["hunt", "--format", "jsonl", "--threads", "1"])
        .arg(d.path().join("hosts"))
        .output()
        .unwrap();
    common::assert_success(&out);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.is_empty());
    assert!(!text.contains('\u{202e}'), "raw U+202E in the OCSF output");
    assert!(text.contains("\\u202e"), "{text}");
    let v: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert!(v["actor"]["process"]["cmd_line"]
        .as_str()
        .unwrap()
        .contains(".sync\u{202e}hs.txt"));
}
