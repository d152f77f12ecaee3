//! Hostile input through the CLI: symlink loops, unreadable folders, FIFOs and process substitution,
//! compressed logs, byte order marks, and `watch` streams that do not start cleanly. Each test compares
//! with the plain bundled collection: the same alerts (OCSF finding uid, score, message) and the same
//! per-file counts, or says what is listed as skipped and why.

use crate::common;

use assert_cmd::Command;
use common::collection;
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};

/// An alert as compared across inputs: finding uid, score, message.
type Alert = (String, i64, String);

struct Run {
    code: i32,
    alerts: Vec<Alert>,
    summary: Value,
    stderr: String,
}

fn alerts_of(stdout: &[u8]) -> Vec<Alert> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            // Whatever the input's shape (compressed, BOM, links), the finding is valid OCSF 1.3.0.
            let bad = common::ocsf::violations(&v);
            assert!(bad.is_empty(), "{bad:#?}");
            (
                v["finding_info"]["uid"].as_str().unwrap().to_string(),
                v["risk_score"].as_i64().unwrap(),
                v["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn summary_at(path: &Path) -> Value {
    std::fs::read_to_string(path)
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or(Value::Null)
}

/// `hunt --format jsonl` over `paths`, with extra args first.
fn hunt(args: &[&str], paths: &[&Path]) -> Run {
    let d = tempfile::tempdir().unwrap();
    let summary = d.path().join("summary.json");
    let out = Command::cargo_bin("floodwatch")
        .unwrap()
        .args(["hunt", "--format", "jsonl", "--summary-json"])
        .arg(&summary)
        .args(args)
        .args(paths)
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        alerts: alerts_of(&out.stdout),
        summary: summary_at(&summary),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Per file, by host folder and name without a compression suffix: format, records, events,
/// skipped, rejected.
fn counts(s: &Value) -> Vec<String> {
    let mut v: Vec<String> = s["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let p = PathBuf::from(f["path"].as_str().unwrap());
            let host = p
                .parent()
                .and_then(Path::file_name)
                .unwrap()
                .to_string_lossy();
            let name = p.file_name().unwrap().to_string_lossy();
            let name = name.trim_end_matches(".gz").trim_end_matches(".zst");
            format!(
                "{host}/{name} {} {} {} {} {}",
                f["format"], f["records"], f["events"], f["skipped"], f["rejected"]
            )
        })
        .collect();
    v.sort();
    v
}

/// The not-telemetry rows as (file name, reason).
fn not_read(s: &Value) -> Vec<(String, String)> {
    s["not_telemetry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let p = PathBuf::from(f["path"].as_str().unwrap());
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                f["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn reason_for<'a>(rows: &'a [(String, String)], name: &str) -> &'a str {
    rows.iter()
        .find(|(n, _)| n == name)
        .map(|(_, r)| r.as_str())
        .unwrap_or_else(|| panic!("{name} not listed: {rows:?}"))
}

/// The bundled collection hunted as it is: what every variant must give.
fn original() -> Run {
    let r = hunt(&[], &[&collection()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.alerts.len(), 1, "{:?}", r.alerts);
    r
}

/// A copy of the collection's host folders under `dir`, each file's bytes through `f` and renamed
/// by `name`.
fn copy_collection(dir: &Path, f: impl Fn(&[u8]) -> Vec<u8>, name: impl Fn(&str) -> String) {
    for host in ["admin-mbp-02", "build-mac-07"] {
        let to = dir.join(host);
        std::fs::create_dir_all(&to).unwrap();
        for e in std::fs::read_dir(collection().join(host)).unwrap() {
            let p = e.unwrap().path();
            let file = p.file_name().unwrap().to_string_lossy().into_owned();
            std::fs::write(to.join(name(&file)), f(&std::fs::read(&p).unwrap())).unwrap();
        }
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn with_bom(data: &[u8]) -> Vec<u8> {
    let mut v = b"\xEF\xBB\xBF".to_vec();
    v.extend(data);
    v
}

fn mkfifo(path: &Path) {
    let made = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(made.success());
}

#[test]
fn gzip_and_zstd_copies_of_the_collection_give_the_same_alerts() {
    let want = original();
    let d = tempfile::tempdir().unwrap();
    let gz = d.path().join("gz");
    let zst = d.path().join("zst");
    copy_collection(&gz, gzip, |n| format!("{n}.gz"));
    // zstd under the plain names: told from the magic bytes, not the name.
    copy_collection(&zst, |b| zstd::encode_all(b, 3).unwrap(), str::to_string);
    for dir in [&gz, &zst] {
        let got = hunt(&[], &[dir]);
        assert_eq!(got.code, 0, "{}", got.stderr);
        assert_eq!(got.alerts, want.alerts, "{}", dir.display());
        assert_eq!(
            counts(&got.summary),
            counts(&want.summary),
            "{}",
            dir.display()
        );
    }
}

#[test]
fn bzip2_and_xz_are_refused_by_name_not_called_binary() {
    let d = tempfile::tempdir().unwrap();
    let host = d.path().join("mac-01");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::copy(
        collection().join("build-mac-07/eslogger.jsonl"),
        host.join("eslogger.jsonl"),
    )
    .unwrap();
    // Real headers: bzip2's `BZh9` and block magic, xz's stream header; contents do not matter.
    let mut bz = b"BZh91AY&SY".to_vec();
    bz.extend([0u8, 1, 2, 3, 0xff, 0]);
    std::fs::write(host.join("eslogger.1.jsonl.bz2"), bz).unwrap();
    let mut xz = b"\xFD7zXZ\x00\x00\x04".to_vec();
    xz.extend([0xe6, 0xd6, 0xb4, 0x46, 0, 0]);
    // No suffix: the content says what it is.
    std::fs::write(host.join("eslogger.2"), xz).unwrap();
    let r = hunt(&[], &[d.path()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.alerts.len(), 1);
    let rows = not_read(&r.summary);
    assert!(
        reason_for(&rows, "eslogger.1.jsonl.bz2").starts_with("bzip2-compressed: decompress first")
    );
    assert!(reason_for(&rows, "eslogger.2").starts_with("xz-compressed: decompress first"));
}

#[test]
fn a_byte_order_mark_changes_nothing() {
    let want = original();
    let d = tempfile::tempdir().unwrap();
    copy_collection(d.path(), with_bom, str::to_string);
    let got = hunt(&[], &[d.path()]);
    assert_eq!(got.code, 0, "{}", got.stderr);
    assert_eq!(got.alerts, want.alerts);
    assert_eq!(counts(&got.summary), counts(&want.summary));
    assert!(not_read(&got.summary).is_empty(), "{:?}", got.summary);
}

/// `dot -> .` in a host folder made the old walk read every file 41 times into the one host.
#[test]
fn a_symlink_to_its_own_folder_is_listed_and_each_file_read_once() {
    let want = original();
    let d = tempfile::tempdir().unwrap();
    copy_collection(d.path(), <[u8]>::to_vec, str::to_string);
    std::os::unix::fs::symlink(".", d.path().join("build-mac-07/dot")).unwrap();
    let got = hunt(&[], &[d.path()]);
    assert_eq!(got.code, 0, "{}", got.stderr);
    assert_eq!(got.alerts, want.alerts);
    assert_eq!(counts(&got.summary), counts(&want.summary));
    let rows = not_read(&got.summary);
    assert!(
        reason_for(&rows, "dot").starts_with("symlink loop"),
        "{rows:?}"
    );
}

/// An unreadable subfolder used to abort the whole run. Permissions do not stop root, so as root the
/// hunt runs as `nobody` (uid 65534): the folder really cannot be listed there.
#[test]
fn unreadable_subfolder_is_listed_and_skipped() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let d = tempfile::tempdir().unwrap();
    let set = |p: &Path, mode| std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode));
    set(d.path(), 0o755).unwrap();
    let host = d.path().join("hosts/build-mac-07");
    let private = host.join("private");
    std::fs::create_dir_all(&private).unwrap();
    std::fs::copy(
        collection().join("build-mac-07/eslogger.jsonl"),
        host.join("eslogger.jsonl"),
    )
    .unwrap();
    std::fs::write(private.join("secret.jsonl"), "x").unwrap();
    let out_dir = d.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    set(&out_dir, 0o777).unwrap();
    set(&private, 0o000).unwrap();
    let summary = out_dir.join("summary.json");
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("floodwatch"));
    c.args(["hunt", "--format", "jsonl", "--summary-json"])
        .arg(&summary)
        .arg(d.path().join("hosts"));
    if is_root() {
        c.uid(65534).gid(65534);
    }
    let out = c.output();
    set(&private, 0o755).unwrap();
    let out = match out {
        Ok(o) => o,
        // The test binary's folder is not reachable by `nobody` on this machine: nothing to run.
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            eprintln!("skipped: cannot run floodwatch as nobody: {e}");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(alerts_of(&out.stdout).len(), 1, "{stderr}");
    let rows = not_read(&summary_at(&summary));
    assert!(
        reason_for(&rows, "private").starts_with("cannot list folder: Permission denied"),
        "{rows:?}"
    );
}

/// Whether this process runs as root (read from /proc, no unsafe call needed).
fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// `hunt <(cat file)`: the head read for sniffing was lost when the file was opened again, and with
/// it the curl loop's first execs: the alert was missed.
#[test]
fn process_substitution_is_read_once_and_gives_the_curl_loop_alert() {
    let es = collection().join("build-mac-07/eslogger.jsonl");
    let direct = hunt(&["--host", "build-mac-07"], &[&es]);
    assert_eq!(direct.alerts.len(), 1);
    let bin = assert_cmd::cargo::cargo_bin("floodwatch");
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "'{}' hunt --format jsonl --host build-mac-07 <(cat '{}')",
            bin.display(),
            es.display()
        ))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(alerts_of(&out.stdout), direct.alerts, "{stderr}");
    assert!(direct.alerts[0].2.contains("build-mac-07"));
    assert!(stderr.contains(" 919 "), "every line read: {stderr}");
}

/// A FIFO given as a path was opened twice (sniffed, then read): the second open waited forever for
/// a writer that had gone. It is read once, fully.
#[test]
fn a_fifo_given_as_a_path_is_read_fully_once() {
    let es = collection().join("build-mac-07/eslogger.jsonl");
    let direct = hunt(&["--host", "build-mac-07"], &[&es]);
    let d = tempfile::tempdir().unwrap();
    let fifo = d.path().join("eslogger.pipe");
    mkfifo(&fifo);
    let data = std::fs::read(&es).unwrap();
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || -> std::io::Result<()> {
            let mut w = std::fs::OpenOptions::new().write(true).open(fifo)?;
            w.write_all(&data)
        })
    };
    let got = hunt(&["--host", "build-mac-07"], &[&fifo]);
    writer.join().unwrap().unwrap();
    assert_eq!(got.code, 0, "{}", got.stderr);
    assert_eq!(got.alerts, direct.alerts);
    assert_eq!(counts(&got.summary).len(), 1);
    assert_eq!(got.summary["files"][0]["records"], 919);
    assert_eq!(got.summary["files"][0]["events"], 919);
}

/// A FIFO inside a host folder was silently ignored; it is listed, not opened (opening it would
/// wait for a writer).
#[test]
fn a_fifo_inside_a_folder_is_listed_as_skipped() {
    let d = tempfile::tempdir().unwrap();
    let host = d.path().join("build-mac-07");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::copy(
        collection().join("build-mac-07/eslogger.jsonl"),
        host.join("eslogger.jsonl"),
    )
    .unwrap();
    mkfifo(&host.join("live.pipe"));
    let r = hunt(&[], &[d.path()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.alerts.len(), 1);
    let rows = not_read(&r.summary);
    assert_eq!(
        reason_for(&rows, "live.pipe"),
        "a FIFO inside a folder is not read: give it as a path to read it as a stream"
    );
    assert!(r.stderr.contains("live.pipe"), "{}", r.stderr);
}

/// `watch` on stdin, as (activity, finding uid) per alert state.
fn watch(stdin: Vec<u8>) -> (i32, Vec<(String, String)>, String) {
    let out = Command::cargo_bin("floodwatch")
        .unwrap()
        .args(["watch", "--format", "jsonl", "--host", "build-mac-07"])
        .write_stdin(stdin)
        .output()
        .unwrap();
    let states = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            // Whatever the input's shape (compressed, BOM, links), the finding is valid OCSF 1.3.0.
            let bad = common::ocsf::violations(&v);
            assert!(bad.is_empty(), "{bad:#?}");
            (
                v["activity_name"].as_str().unwrap().to_string(),
                v["finding_info"]["uid"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (
        out.status.code().unwrap_or(-1),
        states,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A stream that starts with a line that is not telemetry (a banner, a line holding a NUL) was
/// refused whole; gzip and a byte order mark on stdin were refused as not telemetry.
#[test]
fn watch_tolerates_a_bad_first_line_and_reads_gzip_and_bom_streams() {
    let es = std::fs::read(collection().join("build-mac-07/eslogger.jsonl")).unwrap();
    let (code, want, err) = watch(es.clone());
    assert_eq!(code, 0, "{err}");
    assert!(want.iter().any(|(k, _)| k == "Create"), "{want:?}");
    let prefixed = |p: &[u8]| {
        let mut v = p.to_vec();
        v.extend(&es);
        v
    };
    for (what, stdin) in [
        ("banner", prefixed(b"eslogger: starting, 2 event types\n")),
        ("NUL", prefixed(b"\x00\x00garbage\x00\n")),
        ("gzip", gzip(&es)),
        ("zstd", zstd::encode_all(&es[..], 3).unwrap()),
        ("BOM", with_bom(&es)),
    ] {
        let (code, got, err) = watch(stdin);
        assert_eq!(code, 0, "{what}: {err}");
        assert_eq!(got, want, "{what}: {err}");
    }
}

/// A file whose time runs backwards is reread as segments from byte offsets of its text: with a
/// byte order mark, the offsets must skip it (the mullvad sample jumps back weeks twice).
#[test]
fn a_byte_order_mark_keeps_segment_offsets_right() {
    let sample = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/corpus/eslogger/mullvad_eslogger_v9_v10_v11.ndjson"
    );
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("es.ndjson");
    std::fs::write(&p, with_bom(&std::fs::read(sample).unwrap())).unwrap();
    let r = hunt(&[], &[&p]);
    let f = &r.summary["files"][0];
    assert_eq!(f["events"], 4, "{f}");
    assert_eq!(f["rejected"], 0, "{f}");
    assert!(
        f["notes"]
            .to_string()
            .contains("3 separately ordered segments"),
        "{f}"
    );
}
