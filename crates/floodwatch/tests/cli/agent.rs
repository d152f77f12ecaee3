//! `floodwatch agent` and `floodwatch replay` end to end, through the CLI: command sources that replay
//! real-format files give exactly `hunt`'s findings with `--once`; live, alerts reach a rotating file
//! sink and SIGTERM flushes them; a followed file is read once across rotation and truncation;
//! `--print-config` parses; bad configs are named errors.

use crate::common;

use common::repo_root;
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("floodwatch")
}

/// Runs floodwatch in the repository root with `args`, no config from the environment.
fn floodwatch(args: &[&str]) -> Output {
    Command::new(bin())
        .current_dir(repo_root())
        .args(args)
        .env_remove("FLOODWATCH_CONFIG")
        .output()
        .unwrap()
}

/// A TOML basic string (the test's paths are ASCII: Rust's escapes of quotes and backslashes are
/// TOML's).
fn q(s: &str) -> String {
    format!("{s:?}")
}

/// A `[[agent.source]]` that replays `file` through `floodwatch replay`, named as hunt names the file.
fn replay_source(file: &str, extra: &[&str], date: Option<&str>) -> String {
    let mut argv = vec![q(bin().to_str().unwrap()), q("replay"), q(file)];
    argv.extend(extra.iter().map(|a| q(a)));
    let mut s = format!(
        "[[agent.source]]\nname = {}\ncommand = [{}]\n",
        q(file),
        argv.join(", ")
    );
    if let Some(d) = date {
        s.push_str(&format!("date = {}\n", q(d)));
    }
    s
}

fn uids(jsonl: &str) -> Vec<String> {
    jsonl
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["finding_info"]["uid"].as_str().unwrap().to_string()
        })
        .collect()
}

fn ok(out: &Output) -> (String, String) {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{err}");
    (String::from_utf8(out.stdout.clone()).unwrap(), err)
}

/// The first done-when line: an agent with two command sources replaying a host's eslogger
/// and nettop files, `--once`, emits the same alerts as `hunt` on the same files: the same ids, and
/// here the same OCSF lines byte for byte. nettop is replayed at a fixed rate (0.3 s), so the merge
/// waits for it while eslogger is long done. Its date is given (`date`): hunt takes the same day from
/// the eslogger file beside it.
#[test]
fn once_with_two_replayed_command_sources_gives_hunts_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let es = "examples/collection/build-mac-07/eslogger.jsonl";
    let nt = "examples/collection/build-mac-07/nettop.csv";
    let cfg = dir.path().join("agent.toml");
    std::fs::write(
        &cfg,
        format!(
            "[agent]\nhost = \"build-mac-07\"\n{}{}",
            replay_source(es, &[], None),
            replay_source(nt, &["--rate", "20000"], Some("2025-09-16"))
        ),
    )
    .unwrap();
    let (agent, err) = ok(&floodwatch(&[
        "agent",
        "--config",
        cfg.to_str().unwrap(),
        "--once",
    ]));
    let (hunt, _) = ok(&floodwatch(&["hunt", es, nt, "--format", "jsonl"]));
    assert_eq!(uids(&hunt), ["a02bb472-5545-5bcb-9c65-888cabdc6691"]);
    assert_eq!(uids(&agent), uids(&hunt), "{err}");
    assert_eq!(agent, hunt, "the same OCSF lines");
    // Both sources were read whole, and the summary says so.
    assert!(err.contains("files read"), "{err}");
    for (name, records) in [(es, "919"), (nt, "5498")] {
        assert!(
            err.lines().any(|l| l.contains(name) && l.contains(records)),
            "{name}: {err}"
        );
    }
}

/// The same, on every host of a simulated fleet (eslogger, nettop, osquery and unified log in the
/// real formats; three hosts with an attack): with `--once`, the agent's lines are hunt's. The
/// unified log tells hunt the host's UTC offset for nettop; the agent is given it in `[input]`.
#[test]
fn once_matches_hunt_on_every_host_of_a_simulated_fleet() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = dir.path().join("fleet");
    let out = Command::new(bin())
        .args(["simulate", fleet.to_str().unwrap()])
        .args(["--hosts", "4", "--attack-hosts", "3", "--duration", "2h"])
        .args(["--seed", "3"])
        .output()
        .unwrap();
    ok(&out);
    let mut alerts = 0;
    let mut hosts = 0;
    for host in std::fs::read_dir(&fleet).unwrap() {
        let host = host.unwrap().path();
        if !host.is_dir() {
            continue;
        }
        hosts += 1;
        let name = host.file_name().unwrap().to_str().unwrap().to_string();
        let mut files: Vec<String> = std::fs::read_dir(&host)
            .unwrap()
            .map(|f| f.unwrap().path().to_str().unwrap().to_string())
            .collect();
        files.sort();
        let mut toml = String::new();
        let ul = host.join("unifiedlog.ndjson");
        if ul.exists() {
            let text = std::fs::read_to_string(&ul).unwrap();
            let ts = serde_json::from_str::<serde_json::Value>(text.lines().next().unwrap())
                .unwrap()["timestamp"]
                .as_str()
                .unwrap()
                .to_string();
            let off = &ts[ts.len() - 5..];
            toml.push_str(&format!(
                "[input]\nnettop_utc_offset = \"{}:{}\"\n",
                &off[..3],
                &off[3..]
            ));
        }
        toml.push_str(&format!("[agent]\nhost = {}\n", q(&name)));
        for f in &files {
            let date = f.ends_with("nettop.csv").then_some("2025-09-16");
            toml.push_str(&replay_source(f, &[], date));
        }
        let cfg = dir.path().join(format!("{name}.toml"));
        std::fs::write(&cfg, toml).unwrap();
        let (agent, err) = ok(&floodwatch(&[
            "agent",
            "--config",
            cfg.to_str().unwrap(),
            "--once",
        ]));
        let mut args = vec!["hunt", "--format", "jsonl"];
        args.extend(files.iter().map(String::as_str));
        let (hunt, _) = ok(&floodwatch(&args));
        assert_eq!(uids(&agent), uids(&hunt), "{name}: {err}");
        assert_eq!(agent, hunt, "{name}: the same OCSF lines");
        alerts += uids(&hunt).len();
    }
    assert_eq!(hosts, 4);
    assert!(alerts >= 3, "the attacks alert: {alerts}");
}

/// Live (no `--once`): the replays end and wait to be started again, the alert's states reach a file
/// sink that rotates at 4 KiB, and SIGTERM ends the agent with exit 0, the alert's last state written
/// and the summary printed. Every line in the sink's files is the hunt's alert.
#[cfg(unix)]
#[test]
fn live_alerts_reach_a_rotating_file_sink_and_sigterm_flushes() {
    let dir = tempfile::tempdir().unwrap();
    let sink = dir.path().join("out/findings.jsonl");
    let es = "examples/collection/build-mac-07/eslogger.jsonl";
    let nt = "examples/collection/build-mac-07/nettop.csv";
    let cfg = dir.path().join("agent.toml");
    std::fs::write(
        &cfg,
        format!(
            "[agent]\nhost = \"build-mac-07\"\ntick = \"500ms\"\nrestart_delay = \"1m\"\n{}{}\
             [[agent.sink]]\ntype = \"file\"\npath = {}\nmax_bytes = 4096\nkeep = 50\n",
            replay_source(es, &[], None),
            replay_source(nt, &[], Some("2025-09-16")),
            q(sink.to_str().unwrap())
        ),
    )
    .unwrap();
    let summary = dir.path().join("summary.json");
    let mut child = Command::new(bin())
        .current_dir(repo_root())
        .args(["agent", "--config", cfg.to_str().unwrap()])
        .args(["--summary-json", summary.to_str().unwrap()])
        .env_remove("FLOODWATCH_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in std::io::BufReader::new(stderr).lines() {
            if tx.send(l.unwrap()).is_err() {
                break;
            }
        }
    });
    // Both replays have ended (each waits a minute to start again) and the alert has opened.
    let mut err = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while err
        .iter()
        .filter(|l: &&String| l.contains("starting it again"))
        .count()
        < 2
        || !sink.exists()
    {
        assert!(Instant::now() < deadline, "{err:?}");
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(100)) {
            err.push(l);
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: sending a signal to our own child process.
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) },
        0
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the agent did not end on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    err.extend(rx.try_iter());
    let err = err.join("\n");
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(err.contains("files read"), "the summary: {err}");
    // The sink's files, oldest first: every line is a state of the hunt's alert, the first its opening.
    let mut files: Vec<PathBuf> = std::fs::read_dir(sink.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let age = |p: &Path| -> u32 {
        p.extension()
            .and_then(|e| e.to_str())
            .and_then(|e| e.parse().ok())
            .unwrap_or(0)
    };
    files.sort_by_key(|p| std::cmp::Reverse(age(p)));
    assert!(files.len() >= 2, "rotated at 4 KiB: {files:?}");
    let mut lines = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        assert!(text.len() <= 4096 || text.lines().count() == 1, "{f:?}");
        lines.extend(text.lines().map(str::to_string));
    }
    let ids = uids(&lines.join("\n"));
    assert!(ids.len() >= 2, "opened, then more states: {ids:?}");
    assert!(ids
        .iter()
        .all(|i| i == "a02bb472-5545-5bcb-9c65-888cabdc6691"));
    let activity = |l: &str| {
        serde_json::from_str::<serde_json::Value>(l).unwrap()["activity_name"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(activity(&lines[0]), "Create");
    // The summary JSON lists both sources, read whole, nothing rejected.
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    let files = s["files"].as_array().unwrap();
    assert_eq!(files.len(), 2, "{s}");
    assert_eq!(files[0]["records"], 919, "{s}");
    assert_eq!(files[1]["records"], 5498, "{s}");
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(out.is_empty(), "a file sink only: {out}");
}

/// A followed file source, written while the agent runs, renamed away (rotation), written in a new
/// file, truncated and written again: every line is read once (records and events are the file's
/// line count, nothing rejected) and the alert is hunt's. The lines are old (2025), written with
/// pauses: a long tick keeps the live event clock from moving on with wall time during the pauses
/// (which would make the next lines late, as in `watch`).
#[cfg(unix)]
#[test]
fn a_followed_file_is_read_once_across_rotation_and_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("es.log");
    let es = std::fs::read_to_string(
        repo_root().join("examples/collection/build-mac-07/eslogger.jsonl"),
    )
    .unwrap();
    let lines: Vec<&str> = es.lines().collect();
    let cfg = dir.path().join("agent.toml");
    std::fs::write(
        &cfg,
        format!(
            "[agent]\nhost = \"build-mac-07\"\ntick = \"30s\"\n[[agent.source]]\npath = {}\nfollow = true\n",
            q(log.to_str().unwrap())
        ),
    )
    .unwrap();
    let summary = dir.path().join("summary.json");
    let child = Command::new(bin())
        .args(["agent", "--config", cfg.to_str().unwrap()])
        .args(["--summary-json", summary.to_str().unwrap()])
        .env_remove("FLOODWATCH_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let write = |range: std::ops::Range<usize>| {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        for l in &lines[range] {
            writeln!(f, "{l}").unwrap();
        }
        f.flush().unwrap();
    };
    let settle = || std::thread::sleep(Duration::from_millis(800));
    // The file does not exist when the agent starts: it is waited for.
    settle();
    write(0..300);
    settle();
    write(300..350);
    std::fs::rename(&log, dir.path().join("es.log.1")).unwrap();
    write(350..600);
    settle();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(0)
        .unwrap();
    settle();
    write(600..lines.len());
    std::thread::sleep(Duration::from_secs(2));
    // SAFETY: sending a signal to our own child process.
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) },
        0
    );
    let out = child.wait_with_output().unwrap();
    let (stdout, err) = ok(&out);
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    let f = &s["files"][0];
    assert_eq!(f["records"], 919, "{err}\n{s}");
    assert_eq!(f["events"], 919, "{s}");
    assert!(f.get("rejected").is_none_or(|r| r == 0), "{s}");
    let notes = f["notes"].to_string();
    assert!(
        notes.contains("followed across 1 rotation(s) and 1 truncation(s)"),
        "{notes}"
    );
    let ids = uids(&stdout);
    assert!(!ids.is_empty(), "{err}");
    assert!(ids
        .iter()
        .all(|i| i == "a02bb472-5545-5bcb-9c65-888cabdc6691"));
}

/// `--print-config` is a complete config: it loads as the agent loads it (`config --check`), and
/// names the Mac's sources.
#[test]
fn the_printed_config_parses() {
    let (text, _) = ok(&floodwatch(&["agent", "--print-config"]));
    for want in [
        "/usr/bin/eslogger",
        "\"exec\", \"fork\", \"exit\"",
        "\"nettop\", \"-L\", \"0\"",
        "\"log\", \"stream\", \"--style\", \"ndjson\"",
    ] {
        let want = want
            .replace("\"nettop\"", "\"/usr/bin/nettop\"")
            .replace("\"log\"", "\"/usr/bin/log\"");
        assert!(text.contains(&want), "{want} not in {text}");
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("agent.toml");
    std::fs::write(&p, &text).unwrap();
    let (out, _) = ok(&floodwatch(&["config", "--check", p.to_str().unwrap()]));
    assert!(out.contains(": ok"), "{out}");
}

/// A bad agent config stops the agent before anything runs, exit 2, saying what is wrong; so does a
/// `--once` run that read nothing.
#[test]
fn bad_agent_configs_are_named_errors() {
    let dir = tempfile::tempdir().unwrap();
    for (toml, want) in [
        ("[agent]\nhots = \"x\"\n", "unknown key agent.hots"),
        ("[[agent.source]]\ncommand = []\n", "command is empty"),
        (
            "[[agent.source]]\ncommand = [\"x\"]\nfolow = true\n",
            "unknown field `folow`",
        ),
        ("[agent]\nhost = \"mac\"\n", "no sources"),
        (
            "[[agent.source]]\npath = \"a\"\nformat = \"esloger\"\n",
            "unknown format \"esloger\"",
        ),
        (
            "[[agent.source]]\npath = \"/nonexistent/x\"\n",
            "cannot open /nonexistent/x",
        ),
        (
            "[[agent.source]]\ncommand = [\"x\"]\n[[agent.sink]]\ntype = \"kafka\"\n",
            "unknown variant `kafka`",
        ),
    ] {
        let p = dir.path().join("bad.toml");
        std::fs::write(&p, toml).unwrap();
        let out = floodwatch(&["agent", "--config", p.to_str().unwrap(), "--once"]);
        let err = String::from_utf8_lossy(&out.stderr);
        // (A missing file is the source's problem, noted in the summary; with nothing read at all,
        // `--once` ends as hunt does: exit 2.)
        assert_eq!(out.status.code(), Some(2), "{toml}: {err}");
        assert!(err.contains(want), "{toml}: {err}");
    }
}

/// `replay` ends quietly with exit 0 when its reader goes away, and writes the file's bytes.
#[cfg(unix)]
#[test]
fn replay_ends_quietly_when_its_reader_goes_away() {
    let es = repo_root().join("examples/collection/build-mac-07/eslogger.jsonl");
    let first = replay_one_line_then_close(&[es.to_str().unwrap(), "--rate", "100000"]);
    assert_eq!(
        first.trim_end(),
        std::fs::read_to_string(&es)
            .unwrap()
            .lines()
            .next()
            .unwrap()
    );
    let all = floodwatch(&["replay", es.to_str().unwrap()]);
    assert_eq!(all.stdout, std::fs::read(&es).unwrap());
}

/// At full speed into a pipe, `replay` writes exactly what it writes elsewhere: a plain file's text
/// after its byte order mark (Linux splices it), a compressed file decoded (copied), and it ends
/// quietly when the reader goes away before a large file is through.
#[cfg(unix)]
#[test]
fn replay_at_full_speed_writes_the_text_and_stops_with_its_reader() {
    let dir = tempfile::tempdir().unwrap();
    let es =
        std::fs::read(repo_root().join("examples/collection/build-mac-07/eslogger.jsonl")).unwrap();
    let bom = dir.path().join("bom.jsonl");
    std::fs::write(&bom, [b"\xEF\xBB\xBF".as_slice(), &es].concat()).unwrap();
    let gz = dir.path().join("es.jsonl.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&es).unwrap();
    std::fs::write(&gz, enc.finish().unwrap()).unwrap();
    for f in [&bom, &gz] {
        let out = floodwatch(&["replay", f.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{}", f.display());
        assert_eq!(out.stdout, es, "{}", f.display());
    }
    // Larger than any pipe: the reader takes one line and goes away.
    let big = dir.path().join("big.jsonl");
    std::fs::write(&big, es.repeat(64)).unwrap();
    let first = replay_one_line_then_close(&[big.to_str().unwrap()]);
    assert!(es.starts_with(first.as_bytes()));
}

/// Runs `floodwatch replay ARGS` into a pipe, reads one line and closes the pipe: the replay must
/// then end quietly, with exit 0 and nothing on stderr. Returns the line.
#[cfg(unix)]
fn replay_one_line_then_close(args: &[&str]) -> String {
    let mut child = Command::new(bin())
        .arg("replay")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{args:?}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    first
}

/// The agent's network sinks: with `--once`, hunt's alert reaches a UDP syslog receiver as an RFC
/// 5424 message carrying its id, and a webhook receiver as the same OCSF line, signed.
#[test]
fn once_alerts_reach_syslog_and_a_signed_webhook() {
    let dir = tempfile::tempdir().unwrap();
    let es = "examples/collection/build-mac-07/eslogger.jsonl";
    let nt = "examples/collection/build-mac-07/nettop.csv";
    let syslog = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    syslog
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let http = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let http_port = http.local_addr().unwrap().port();
    // One request: its signature header and body, then a 200.
    let webhook = std::thread::spawn(move || {
        let (conn, _) = http.accept().unwrap();
        let mut reader = std::io::BufReader::new(conn.try_clone().unwrap());
        let (mut sig, mut len) = (String::new(), 0usize);
        let mut line = String::new();
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap() == 0 || line.trim_end().is_empty() {
                break;
            }
            let lower = line.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("x-floodwatch-signature:") {
                sig = v.trim().to_string();
            }
            if let Some(v) = lower.strip_prefix("content-length:") {
                len = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0u8; len];
        reader.read_exact(&mut body).unwrap();
        let mut conn = conn;
        conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .unwrap();
        (sig, String::from_utf8(body).unwrap())
    });
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "s3cret\n").unwrap();
    let cfg = dir.path().join("agent.toml");
    std::fs::write(
        &cfg,
        format!(
            "[agent]\nhost = \"build-mac-07\"\n{}{}\
             [[agent.sink]]\ntype = \"syslog\"\ntransport = \"udp\"\naddress = {}\n\
             [[agent.sink]]\ntype = \"webhook\"\nurl = {}\nsecret_file = {}\nspool = {}\n",
            replay_source(es, &[], None),
            replay_source(nt, &["--rate", "20000"], Some("2025-09-16")),
            q(&syslog.local_addr().unwrap().to_string()),
            q(&format!("http://127.0.0.1:{http_port}/hook")),
            q(secret.to_str().unwrap()),
            q(dir.path().join("spool").to_str().unwrap()),
        ),
    )
    .unwrap();
    let (_, err) = ok(&floodwatch(&[
        "agent",
        "--config",
        cfg.to_str().unwrap(),
        "--once",
    ]));
    let (hunt, _) = ok(&floodwatch(&["hunt", es, nt, "--format", "jsonl"]));
    let id = "a02bb472-5545-5bcb-9c65-888cabdc6691";
    assert_eq!(uids(&hunt), [id]);
    let mut buf = vec![0u8; 65536];
    let n = syslog.recv(&mut buf).unwrap();
    let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
    // local0 * 8 + warning (a medium finding) = 132; version 1; the id in the structured data.
    assert!(
        msg.starts_with("<132>1 2025-09-16T03:12:30.000Z build-mac-07 floodwatch "),
        "{msg:.200}"
    );
    assert!(
        msg.contains(&format!("[floodwatch@32473 id=\"{id}\"")),
        "{msg}"
    );
    assert!(msg.ends_with(hunt.trim_end()), "{msg}\n{err}");
    let (sig, body) = webhook.join().unwrap();
    assert_eq!(body, hunt.trim_end());
    assert_eq!(sig, floodwatch_deliver::webhook::signature("s3cret", &body));
}
