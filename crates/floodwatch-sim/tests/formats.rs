//! The generated files against the real samples in tests/data/corpus/: same keys (recursively), the
//! same escapes and time formats, nettop's frame layout and counter semantics, the unified log's
//! connection summary; each scenario's files and truth; determinism for a seed.

mod common;
use common::dir_bytes;
use floodwatch_core::time::days_from_civil;
use floodwatch_core::Ts;
use floodwatch_sim::eslogger::{EsWriter, Proc, Signer};
use floodwatch_sim::nettop::{Columns, NettopCsv};
use floodwatch_sim::osquery::OsqueryWriter;
use floodwatch_sim::unifiedlog::UnifiedLog;
use floodwatch_sim::{write_bulk, write_example_collection, write_scenario, Scenario, Truth};
use regex::Regex;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn corpus(rel: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/corpus")
        .join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn start() -> Ts {
    Ts::from_secs(days_from_civil(2025, 9, 16) * 86_400 + 2 * 3_600)
}

/// Every scenario written once (shared by the tests that only read).
struct Written {
    _tmp: tempfile::TempDir,
    dirs: Vec<(Scenario, PathBuf, Truth)>,
}

fn written() -> &'static Written {
    static W: OnceLock<Written> = OnceLock::new();
    W.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let mut dirs = Vec::new();
        for s in Scenario::ALL {
            let d = tmp.path().join(s.name());
            let t = write_scenario(s, &d, start(), 42).unwrap();
            dirs.push((s, d, t));
        }
        Written { _tmp: tmp, dirs }
    })
}

fn lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

// ---------------------------------------------------------------------------------------------------------
// eslogger

/// The real lines by version: (v9 exit, v9 exec, v10 fork, v11 exec), plus Mac Monitor's v10 exit.
fn real_es() -> &'static (Vec<Value>, Value) {
    static R: OnceLock<(Vec<Value>, Value)> = OnceLock::new();
    R.get_or_init(load_real_es)
}

fn load_real_es() -> (Vec<Value>, Value) {
    let v: Vec<Value> = corpus("eslogger/mullvad_eslogger_v9_v10_v11.ndjson")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mm: Value = serde_json::from_str(
        corpus("eslogger/macmonitor_fixture_eslogger-exit_v10_sanitized.jsonl").trim(),
    )
    .unwrap();
    (v, mm)
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

/// Same shape as the real value: objects have exactly the real keys (recursively); `null` on either
/// side is accepted (nullable fields: `tty`, `team_id`, `script`); arrays compare their first items.
fn same_shape(ours: &Value, real: &Value, path: &str) {
    match (ours, real) {
        (Value::Null, _) | (_, Value::Null) => {}
        (Value::Object(a), Value::Object(b)) => {
            let ka: BTreeSet<_> = a.keys().collect();
            let kb: BTreeSet<_> = b.keys().collect();
            assert_eq!(ka, kb, "keys of {path}");
            for (k, v) in a {
                same_shape(v, &b[k], &format!("{path}.{k}"));
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            if let (Some(x), Some(y)) = (a.first(), b.first()) {
                same_shape(x, y, &format!("{path}[0]"));
            }
        }
        (Value::Number(_), Value::Number(_))
        | (Value::String(_), Value::String(_))
        | (Value::Bool(_), Value::Bool(_)) => {}
        _ => panic!("{path}: {ours} vs real {real}"),
    }
}

fn real_process(version: u64) -> Value {
    let (v, _) = real_es();
    match version {
        9 => v[1]["process"].clone(),
        10 => v[2]["process"].clone(),
        _ => v[3]["process"].clone(),
    }
}

fn check_es_line(line: &str, seen_orders: &mut BTreeSet<Vec<String>>) -> Value {
    let (real, mm) = real_es();
    static RE: OnceLock<(Regex, Regex)> = OnceLock::new();
    let (ts_ns, ts_us) = RE.get_or_init(|| {
        (
            Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$").unwrap(),
            Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$").unwrap(),
        )
    });
    // Every `/` is escaped.
    let b = line.as_bytes();
    for i in 0..b.len() {
        if b[i] == b'/' {
            assert!(i > 0 && b[i - 1] == b'\\', "unescaped / in {line}");
        }
    }
    assert!(line.contains("\\/"));
    let v: Value = serde_json::from_str(line).unwrap();
    // Top-level key order (serde_json without preserve_order sorts; read the raw order instead).
    let order: Vec<String> = top_level_order(line);
    seen_orders.insert(order);
    assert_eq!(keys(&v), keys(&real[0]), "top-level keys");
    assert_eq!(keys(&v), keys(mm), "top-level keys (Mac Monitor)");
    assert!(ts_ns.is_match(v["time"].as_str().unwrap()), "{}", v["time"]);
    let version = v["version"].as_u64().unwrap();
    let rp = real_process(version);
    same_shape(&v["process"], &rp, "process");
    assert!(ts_us.is_match(v["process"]["start_time"].as_str().unwrap()));
    let token_is_array = v["process"]["audit_token"].is_array();
    assert_eq!(
        token_is_array,
        version == 10,
        "audit token form for v{version}"
    );
    for k in [
        "audit_token",
        "parent_audit_token",
        "responsible_audit_token",
    ] {
        if version == 10 {
            assert_eq!(v["process"][k].as_array().unwrap().len(), 8);
        } else {
            assert_eq!(v["process"][k].as_object().unwrap().len(), 8);
        }
    }
    let ev = v["event"].as_object().unwrap();
    assert_eq!(ev.len(), 1);
    let (name, body) = ev.iter().next().unwrap();
    match name.as_str() {
        "exec" => {
            assert_eq!(v["event_type"], 9);
            let real_exec = if version >= 11 {
                &real[3]["event"]["exec"]
            } else {
                &real[1]["event"]["exec"]
            };
            assert_eq!(keys(body), keys(real_exec), "event.exec keys (v{version})");
            let mut real_exec = real_exec.clone();
            real_exec["target"] = rp.clone();
            if version >= 11 {
                real_exec["entitlements"] = Value::Null;
            }
            same_shape(body, &real_exec, "event.exec");
            // pidversion changes on exec, pid and start_time do not.
            let p = &v["process"];
            let t = &body["target"];
            assert_eq!(pid_of(t), pid_of(p));
            assert_eq!(pidversion_of(t), pidversion_of(p) + 1, "{line}");
            assert_eq!(t["start_time"], p["start_time"]);
        }
        "fork" => {
            assert_eq!(v["event_type"], 11);
            same_shape(&body["child"], &rp, "event.fork.child");
            assert_eq!(body["child"]["ppid"], Value::from(pid_of(&v["process"])));
        }
        "exit" => {
            assert_eq!(v["event_type"], 15);
            assert!(body["stat"].is_i64());
        }
        other => assert!(
            other.starts_with("lw_session_") || other == "openssh_login",
            "{other}"
        ),
    }
    v
}

fn top_level_order(line: &str) -> Vec<String> {
    // Keys at depth 1: scan with a tiny state machine.
    let mut out = Vec::new();
    let (mut depth, mut in_str, mut esc) = (0i32, false, false);
    let mut cur = String::new();
    let mut key_next = false;
    for c in line.chars() {
        if in_str {
            if esc {
                esc = false;
            } else if c == '\\' {
                esc = true;
            } else if c == '"' {
                in_str = false;
                if depth == 1 && key_next {
                    out.push(cur.clone());
                    key_next = false;
                }
                continue;
            }
            if depth == 1 && key_next {
                cur.push(c);
            }
            continue;
        }
        match c {
            '"' => {
                in_str = true;
                cur.clear();
            }
            '{' | '[' => {
                depth += 1;
                if depth == 1 {
                    key_next = true;
                }
            }
            '}' | ']' => depth -= 1,
            ',' if depth == 1 => key_next = true,
            _ => {}
        }
    }
    out
}

fn pid_of(p: &Value) -> i64 {
    let t = &p["audit_token"];
    if t.is_array() {
        t[5].as_i64().unwrap()
    } else {
        t["pid"].as_i64().unwrap()
    }
}

fn pidversion_of(p: &Value) -> i64 {
    let t = &p["audit_token"];
    if t.is_array() {
        t[7].as_i64().unwrap()
    } else {
        t["pidversion"].as_i64().unwrap()
    }
}

fn auid_of(p: &Value) -> i64 {
    let t = &p["audit_token"];
    if t.is_array() {
        t[0].as_i64().unwrap()
    } else {
        t["auid"].as_i64().unwrap()
    }
}

#[test]
fn eslogger_lines_have_the_real_shape() {
    let mut versions = BTreeSet::new();
    for (s, dir, _) in &written().dirs {
        let p = dir.join("eslogger.jsonl");
        if !p.exists() {
            continue;
        }
        let mut orders = BTreeSet::new();
        let mut last_time = String::new();
        let ls = lines(&p);
        assert!(ls.len() > 5, "{s:?}");
        let mut seqs = Vec::new();
        for l in &ls {
            let v = check_es_line(l, &mut orders);
            versions.insert(v["version"].as_u64().unwrap());
            let t = v["time"].as_str().unwrap().to_string();
            assert!(t >= last_time, "{s:?}: time order {t} after {last_time}");
            last_time = t;
            seqs.push(v["global_seq_num"].as_u64().unwrap());
        }
        assert!(
            seqs.windows(2).all(|w| w[1] == w[0] + 1),
            "{s:?} global_seq_num"
        );
        assert!(orders.len() > 1, "{s:?}: key order must vary line to line");
    }
    assert_eq!(versions, BTreeSet::from([9, 10, 11]));
}

#[test]
fn launchd_daemon_lineage_and_curl_execs() {
    let (_, dir, truth) = written()
        .dirs
        .iter()
        .find(|(s, _, _)| *s == Scenario::LaunchdCurlLoop)
        .unwrap();
    let bash = truth.subject_pid.unwrap() as i64;
    let mut curl_execs = 0;
    let mut saw_bash_exec = false;
    for l in lines(&dir.join("eslogger.jsonl")) {
        let v: Value = serde_json::from_str(&l).unwrap();
        assert_eq!(v["version"], 10);
        if let Some(e) = v["event"].get("exec") {
            let t = &e["target"];
            let path = t["executable"]["path"].as_str().unwrap();
            if path == "/bin/bash" && pid_of(t) == bash {
                saw_bash_exec = true;
                assert_eq!(t["ppid"], 1);
                assert_eq!(auid_of(t), 4_294_967_295);
                assert!(t["tty"].is_null());
                assert_eq!(t["audit_token"][1], 0, "euid 0");
                assert_eq!(t["responsible_audit_token"][5].as_i64(), Some(bash));
                assert_eq!(t["is_platform_binary"], true);
                assert_eq!(e["args"][1], "/Library/Scripts/.sync.sh");
                assert_eq!(v["process"]["executable"]["path"], "/usr/libexec/xpcproxy");
            }
            if path == "/usr/bin/curl" {
                curl_execs += 1;
                assert_eq!(t["ppid"].as_i64(), Some(bash));
                assert_eq!(v["process"]["executable"]["path"], "/bin/bash");
                assert_eq!(e["args"][4], "http://203.0.113.10/ping");
            }
        }
    }
    assert!(saw_bash_exec);
    assert_eq!(curl_execs, 2_400);
}

#[test]
fn terminal_children_have_tty_objects() {
    let (_, dir, truth) = written()
        .dirs
        .iter()
        .find(|(s, _, _)| *s == Scenario::InteractivePingFlood)
        .unwrap();
    let (real, _) = real_es();
    let mut found = false;
    let mut terminal = None;
    for l in lines(&dir.join("eslogger.jsonl")) {
        let v: Value = serde_json::from_str(&l).unwrap();
        if v["event"].get("fork").is_some()
            && v["process"]["executable"]["path"]
                .as_str()
                .unwrap()
                .ends_with("Terminal.app/Contents/MacOS/Terminal")
        {
            terminal = Some(pid_of(&v["process"]));
        }
        if let Some(e) = v["event"].get("exec") {
            let t = &e["target"];
            if Some(pid_of(t)) == truth.subject_pid.map(i64::from) {
                found = true;
                assert_eq!(t["tty"]["path"], "/dev/ttys002");
                same_shape(&t["tty"], &real[1]["process"]["tty"], "tty");
                assert_eq!(t["audit_token"]["euid"], 0);
                assert_eq!(t["audit_token"]["auid"], 501);
                let term = t["responsible_audit_token"]["pid"].as_i64();
                assert!(term.is_some() && term == terminal, "responsible = Terminal");
            }
        }
    }
    assert!(found);
}

#[test]
fn writer_api_array_tokens_and_sessions() {
    let boot = start().add_secs(-50_000);
    let launchd = Proc::launchd(boot, 1029);
    let child = launchd.fork_child(4242, 50_000, start());
    let job = child.exec_image(
        "/private/tmp/.x/updater",
        &["/private/tmp/.x/updater"],
        Signer::adhoc("updater"),
    );
    for version in [9u32, 10, 11] {
        let mut w = EsWriter::new(Vec::new(), version, 3);
        w.fork(start(), &launchd, &child).unwrap();
        w.exec(start().add_nanos(5_000_000), &child, &job).unwrap();
        for kind in [
            "lw_session_lock",
            "lw_session_unlock",
            "lw_session_login",
            "lw_session_logout",
            "openssh_login",
        ] {
            w.session(start().add_secs(1), kind, "bob").unwrap();
        }
        w.exit(start().add_secs(2), &job, 9).unwrap();
        assert!(w.session(start(), "nope", "bob").is_err());
        let out = String::from_utf8(w.into_inner()).unwrap();
        let mut orders = BTreeSet::new();
        for l in out.lines() {
            let v = check_es_line(l, &mut orders);
            assert_eq!(v["version"], version);
        }
        let exec: Value = serde_json::from_str(out.lines().nth(1).unwrap()).unwrap();
        let t = &exec["event"]["exec"]["target"];
        assert_eq!(
            t["codesigning_flags"].as_u64().unwrap() & 0x2,
            0x2,
            "CS_ADHOC"
        );
        assert_eq!(t["is_platform_binary"], false);
        assert!(t["team_id"].is_null());
        let sess: Value = serde_json::from_str(out.lines().nth(2).unwrap()).unwrap();
        assert_eq!(sess["event"]["lw_session_lock"]["username"], "bob");
        assert_eq!(sess["event_type"], 116);
        let ssh: Value = serde_json::from_str(out.lines().nth(6).unwrap()).unwrap();
        assert_eq!(ssh["event"]["openssh_login"]["uid"]["uid"], 501);
    }
}

// ---------------------------------------------------------------------------------------------------------
// nettop

struct Frame {
    rows: Vec<String>,
}

fn frames(text: &str) -> (String, Vec<Frame>) {
    let mut header = None;
    let mut out: Vec<Frame> = Vec::new();
    for l in text.lines() {
        if l.starts_with("time,,") {
            match &header {
                None => header = Some(l.to_string()),
                Some(h) => assert_eq!(h, l, "same header every frame"),
            }
            out.push(Frame { rows: Vec::new() });
        } else {
            out.last_mut()
                .expect("rows before the first header")
                .rows
                .push(l.to_string());
        }
    }
    (header.unwrap(), out)
}

fn check_total(c: &Option<(String, u64, u64, u64, u64)>) {
    if let Some((n, ti, to, si, so)) = c {
        assert_eq!(
            (ti, to),
            (si, so),
            "{n}: process total = sum of its sockets"
        );
    }
}

fn check_nettop(text: &str) -> usize {
    let (header, frames) = frames(text);
    let ncomma = header.matches(',').count();
    let time = Regex::new(r"^\d\d:\d\d:\d\d\.\d{6}$").unwrap();
    let proc_re = Regex::new(r"^(.{1,15})\.(\d+)$").unwrap();
    let sock_re = Regex::new(r"^(tcp|udp|quic)[46] \S+<->\S+$").unwrap();
    let mut last: HashMap<(String, String), (u64, u64)> = HashMap::new();
    for f in &frames {
        let mut cur_proc: Option<(String, u64, u64, u64, u64)> = None;
        for r in &f.rows {
            assert!(r.ends_with(','), "trailing comma: {r}");
            assert_eq!(r.matches(',').count(), ncomma, "field count: {r}");
            let cells: Vec<&str> = r.split(',').collect();
            assert!(time.is_match(cells[0]), "{r}");
            let num = |s: &str| -> u64 {
                if s.is_empty() {
                    0
                } else {
                    s.parse().unwrap()
                }
            };
            if let Some(c) = proc_re
                .captures(cells[1])
                .filter(|_| !cells[1].contains("<->"))
            {
                check_total(&cur_proc);
                assert!(cells[2].is_empty() && cells[3].is_empty());
                cur_proc = Some((
                    format!("{}.{}", &c[1], &c[2]),
                    num(cells[4]),
                    num(cells[5]),
                    0,
                    0,
                ));
            } else {
                assert!(sock_re.is_match(cells[1]), "socket row: {r}");
                let p = cur_proc.as_mut().expect("socket row after a process row");
                let (i, o) = (num(cells[4]), num(cells[5]));
                p.3 += i;
                p.4 += o;
                let key = (p.0.clone(), cells[1].to_string());
                if let Some(&(li, lo)) = last.get(&key) {
                    assert!(i >= li && o >= lo, "cumulative counters fell: {r}");
                }
                last.insert(key, (i, o));
            }
        }
        check_total(&cur_proc);
    }
    frames.len()
}

#[test]
fn nettop_frames_have_the_real_layout() {
    // The real capture itself passes the same checks (one frame).
    assert_eq!(
        frames(&corpus("nettop/netglass_nettop_L1_J_conn_rows_macos26.csv")).0,
        "time,,interface,state,bytes_in,bytes_out,"
    );
    let mut n = 0;
    for (s, dir, _) in &written().dirs {
        let p = dir.join("nettop.csv");
        if p.exists() {
            let k = check_nettop(&std::fs::read_to_string(&p).unwrap());
            assert!(k >= 60, "{s:?}: {k} frames");
            n += 1;
        }
    }
    assert!(n >= 6);
}

#[test]
fn nettop_writer_truncates_and_accumulates() {
    for columns in [Columns::Selected, Columns::Default] {
        let mut w = NettopCsv::with_columns(Vec::new(), 19_800, columns);
        let t = start();
        w.add(
            1790,
            "com.apple.WebKit.Networking",
            "tcp4 10.0.0.5:5000<->17.1.2.3:443",
            "en0",
            "Established",
            100,
            10,
        );
        w.add(
            1790,
            "com.apple.WebKit.Networking",
            "udp4 *:*<->*:*",
            "",
            "",
            0,
            0,
        );
        w.add(
            6101,
            "python3",
            "udp4 10.0.0.5:53122<->198.51.100.9:53",
            "en0",
            "",
            0,
            5_000,
        );
        w.add(99, "tcpd", "tcp4 *:51560<->*:*", "", "Listen", 0, 0);
        w.frame(t).unwrap();
        w.add(
            1790,
            "com.apple.WebKit.Networking",
            "tcp4 10.0.0.5:5000<->17.1.2.3:443",
            "en0",
            "Established",
            50,
            5,
        );
        w.add(
            6101,
            "python3",
            "udp4 10.0.0.5:53122<->198.51.100.9:53",
            "en0",
            "",
            0,
            5_000,
        );
        w.frame(t.add_secs(1)).unwrap();
        w.remove(6101);
        w.frame(t.add_secs(2)).unwrap();
        let text = String::from_utf8(w.into_inner()).unwrap();
        assert_eq!(check_nettop(&text), 3);
        assert!(text.contains(",com.apple.WebKi.1790,,,150,15,"), "{text}");
        assert!(text.contains(",python3.6101,,,0,10000,"));
        assert!(
            text.contains(",udp4 *:*<->*:*,,,,,"),
            "idle sockets have empty counters"
        );
        assert!(text.contains(",tcp4 *:51560<->*:*,,Listen,,,"));
        assert_eq!(text.matches("python3.6101").count(), 2);
        assert!(text.starts_with("time,,interface,state,bytes_in,bytes_out,"));
        // 02:00 UTC is 07:30 at +05:30.
        assert!(
            text.lines().nth(1).unwrap().starts_with("07:30:0"),
            "{text}"
        );
    }
}

// ---------------------------------------------------------------------------------------------------------
// unified log

fn raw_key_order(line: &str) -> Vec<String> {
    top_level_order(line)
}

#[test]
fn unified_log_records_match_the_real_ones() {
    let real_line = corpus("unifiedlog/elastic_macos_network_activity.ndjson")
        .lines()
        .next()
        .unwrap()
        .to_string();
    let real: Value = serde_json::from_str(&real_line).unwrap();
    let real_order = raw_key_order(&real_line);
    let summary = Regex::new(r"bytes in/out: (\d+)/(\d+), packets in/out: (\d+)/(\d+)").unwrap();
    let ts = Regex::new(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}[+-]\d{4}$").unwrap();
    let mut summaries = 0;
    for (s, dir, _) in &written().dirs {
        let p = dir.join("unifiedlog.ndjson");
        if !p.exists() {
            continue;
        }
        for l in lines(&p) {
            assert!(l.contains("\\/"), "{s:?}: slashes escaped");
            assert!(!l.contains("\"/"), "{s:?}: no unescaped path");
            let v: Value = serde_json::from_str(&l).unwrap();
            assert_eq!(raw_key_order(&l), real_order, "key order");
            same_shape(&v, &real, "record");
            assert!(
                ts.is_match(v["timestamp"].as_str().unwrap()),
                "{}",
                v["timestamp"]
            );
            if v["subsystem"] == "com.apple.network" && v["category"] == "connection" {
                summaries += 1;
                let m = v["eventMessage"].as_str().unwrap();
                assert!(summary.is_match(m), "{m}");
                assert_eq!(v["formatString"], real["formatString"]);
                assert_eq!(v["senderImagePath"], real["senderImagePath"]);
                assert_eq!(m.lines().count(), 7, "{m}");
                assert!(m.lines().next().unwrap().ends_with("] cancelled"));
                let real_m = real["eventMessage"].as_str().unwrap();
                for (a, b) in m.lines().zip(real_m.lines()).skip(1) {
                    let wa: Vec<&str> = a.split_whitespace().take(1).collect();
                    let wb: Vec<&str> = b.split_whitespace().take(1).collect();
                    if !a.starts_with("\t[") {
                        assert_eq!(wa, wb, "line shape: {a}");
                    }
                }
            }
        }
    }
    assert!(summaries > 3_000);
    // The writer's own summary has the asked numbers.
    let mut w = UnifiedLog::new(Vec::new(), -25_200, 9);
    w.connection_summary(
        start(),
        6502,
        "/Users/Shared/.cache/netd",
        501,
        "tcp",
        "192.168.1.20:50000",
        "IPv4#1a2b3c4d:80",
        0.5,
        300,
        40_000,
        8,
        30,
    )
    .unwrap();
    w.login(start(), "bob", 501).unwrap();
    w.lock(start()).unwrap();
    w.unlock(start()).unwrap();
    let out = String::from_utf8(w.into_inner()).unwrap();
    let v: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    let c = summary
        .captures(v["eventMessage"].as_str().unwrap())
        .unwrap();
    assert_eq!((&c[1], &c[2], &c[3], &c[4]), ("300", "40000", "8", "30"));
    assert_eq!(v["timestamp"], "2025-09-15 19:00:00.000000-0700");
    assert!(v["eventMessage"]
        .as_str()
        .unwrap()
        .contains("Duration: 0.500s"));
    assert!(out.contains("-[Login1 doLogin] | shortUsername = bob, userID = 501, groupID = 20"));
    assert_eq!(out.lines().count(), 4);
}

// ---------------------------------------------------------------------------------------------------------
// osquery

#[test]
fn osquery_exec_rows() {
    let real: Value = serde_json::from_str(
        corpus("osquery/elastic_test-osquery_first3lines.ndjson")
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    let launchd = Proc::launchd(start().add_secs(-9_000), 1029);
    let child = launchd.fork_child(700, 40_000, start());
    let curl = child.exec_image(
        "/usr/bin/curl",
        &["curl", "-s", "http://a b/"],
        Signer::platform("com.apple.curl"),
    );
    let mut buf = Vec::new();
    {
        let mut w = OsqueryWriter::new(&mut buf, "mac-01.local", 5);
        w.exec(start(), &curl, 1029, "root").unwrap();
        assert!(w.bytes_written() > 500);
    }
    let v: Value = serde_json::from_slice(&buf).unwrap();
    for k in [
        "name",
        "hostIdentifier",
        "calendarTime",
        "unixTime",
        "epoch",
        "counter",
        "decorations",
        "columns",
        "action",
    ] {
        assert!(v.get(k).is_some(), "{k}");
        assert!(real.get(k).is_some(), "{k} in the real line");
    }
    let c = &v["columns"];
    assert_eq!(c["pid"], "700");
    assert_eq!(c["event_type"], "exec");
    assert_eq!(c["cmdline"], "curl -s \"http://a b/\" ");
    assert_eq!(v["calendarTime"], "Tue Sep 16 02:00:01 2025 UTC");
}

// ---------------------------------------------------------------------------------------------------------
// Scenarios, collection, bulk, determinism

#[test]
fn each_scenario_writes_its_files_and_truth() {
    for (s, dir, t) in &written().dirs {
        let mut present: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        present.sort();
        let mut want: Vec<String> = s.files().names().iter().map(|n| n.to_string()).collect();
        want.sort();
        assert_eq!(present, want, "{s:?}");
        assert_eq!(t.scenario, *s);
        assert_eq!(t.host, s.name());
        assert_eq!(t.should_alert, s.should_alert());
        assert!(t.end > t.start);
        let pid = t.subject_pid.expect("subject pid");
        assert!((100..100_000).contains(&pid), "{s:?} pid {pid}");
        // The subject is in the files.
        let all: String = want
            .iter()
            .map(|f| std::fs::read_to_string(dir.join(f)).unwrap())
            .collect();
        match s {
            Scenario::PythonUdpFloodNettopOnly => assert!(all.contains(",python3.6101,")),
            Scenario::UnsignedBinaryUnifiedLogOnly => {
                assert!(all.contains("\"processID\":6502"));
                assert!(all.contains("\\/Users\\/Shared\\/.cache\\/netd"));
            }
            _ => {
                let path = t.subject_path.as_deref().unwrap().replace('/', "\\/");
                assert!(all.contains(&path), "{s:?}: {path}");
            }
        }
    }
    let alerting: Vec<_> = Scenario::ALL.iter().filter(|s| s.should_alert()).collect();
    assert_eq!(alerting.len(), 7);
}

#[test]
fn pid_reuse_keeps_images_apart() {
    let (_, dir, t) = written()
        .dirs
        .iter()
        .find(|(s, _, _)| *s == Scenario::PidReuse)
        .unwrap();
    let mut images = Vec::new();
    for l in lines(&dir.join("eslogger.jsonl")) {
        let v: Value = serde_json::from_str(&l).unwrap();
        if let Some(e) = v["event"].get("exec") {
            let tg = &e["target"];
            if pid_of(tg) == 7001
                && !tg["executable"]["path"]
                    .as_str()
                    .unwrap()
                    .ends_with("xpcproxy")
            {
                images.push((
                    tg["executable"]["path"].as_str().unwrap().to_string(),
                    tg["start_time"].as_str().unwrap().to_string(),
                    tg["codesigning_flags"].as_u64().unwrap(),
                    tg["is_platform_binary"].as_bool().unwrap(),
                ));
            }
        }
    }
    assert_eq!(images.len(), 3, "{images:?}");
    assert_eq!(images[0].0, "/usr/libexec/mdworker_shared");
    assert_eq!(images[1].0, "/private/tmp/.x/updater");
    assert_eq!(images[2].0, "/usr/libexec/mdworker_shared");
    assert!(
        images[0].1 < images[1].1 && images[1].1 < images[2].1,
        "new start_time each life"
    );
    assert_eq!(images[1].2 & 0x2, 0x2);
    assert!(!images[1].3 && images[2].3);
    let nettop = std::fs::read_to_string(dir.join("nettop.csv")).unwrap();
    assert!(nettop.contains(",updater.7001,"));
    assert!(nettop.contains(",mdworker_shared.7001,"));
    assert_eq!(t.subject_path.as_deref(), Some("/private/tmp/.x/updater"));
}

#[test]
fn deterministic_for_a_seed() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let c = tempfile::tempdir().unwrap();
    for s in [
        Scenario::PidReuse,
        Scenario::BackupdVolume,
        Scenario::CronRootPingFlood,
        Scenario::InteractivePingFlood,
        Scenario::PythonUdpFloodNettopOnly,
    ] {
        let ta = write_scenario(s, &a.path().join("h"), start(), 11).unwrap();
        let tb = write_scenario(s, &b.path().join("h"), start(), 11).unwrap();
        write_scenario(s, &c.path().join("h"), start(), 12).unwrap();
        assert_eq!(ta, tb);
        let (da, db, dc) = (
            dir_bytes(a.path()),
            dir_bytes(b.path()),
            dir_bytes(c.path()),
        );
        assert!(da == db, "{s:?}: same seed, same bytes");
        assert!(da != dc, "{s:?}: another seed, other bytes");
    }
    let (ba, bb) = (a.path().join("bulk"), b.path().join("bulk"));
    let na = write_bulk(&ba, 3, 600_000, 5).unwrap();
    let nb = write_bulk(&bb, 3, 600_000, 5).unwrap();
    assert_eq!(na, nb);
    assert!(dir_bytes(&ba) == dir_bytes(&bb));
}

#[test]
fn example_collection() {
    let d = tempfile::tempdir().unwrap();
    let truths = write_example_collection(d.path()).unwrap();
    assert_eq!(truths.len(), 4);
    let hosts: BTreeSet<_> = truths.iter().map(|t| t.host.as_str()).collect();
    assert_eq!(hosts, BTreeSet::from(["admin-mbp-02", "build-mac-07"]));
    assert_eq!(truths.iter().filter(|t| t.should_alert).count(), 1);
    let files = dir_bytes(d.path());
    let total: usize = files.iter().map(|(_, b)| b.len()).sum();
    assert!(total < 3_000_000, "{total} bytes");
    assert_eq!(files.len(), 6);
    let mut orders = BTreeSet::new();
    for (name, bytes) in &files {
        let text = std::str::from_utf8(bytes).unwrap();
        if name.ends_with("eslogger.jsonl") {
            let mut last = String::new();
            for l in text.lines() {
                let v = check_es_line(l, &mut orders);
                let t = v["time"].as_str().unwrap().to_string();
                assert!(t >= last, "{name}: time order");
                last = t;
            }
        } else if name.ends_with("nettop.csv") {
            check_nettop(text);
        }
    }
}

#[test]
fn bulk_is_mostly_eslogger_and_valid() {
    let d = tempfile::tempdir().unwrap();
    let n = write_bulk(d.path(), 2, 4_000_000, 3).unwrap();
    assert!((4_000_000..5_000_000).contains(&n), "{n}");
    let files = dir_bytes(d.path());
    assert_eq!(files.len(), 6);
    let es: usize = files
        .iter()
        .filter(|(n, _)| n.ends_with("eslogger.jsonl"))
        .map(|(_, b)| b.len())
        .sum();
    let share = es as f64 / n as f64;
    assert!((0.7..0.9).contains(&share), "eslogger share {share}");
    let mut orders = BTreeSet::new();
    for (name, bytes) in &files {
        let text = std::str::from_utf8(bytes).unwrap();
        if name.ends_with("nettop.csv") {
            check_nettop(text);
            continue;
        }
        let es = name.ends_with("eslogger.jsonl");
        let mut last = String::new();
        for (i, l) in text.lines().enumerate() {
            let v: Value = if es && i % 7 == 0 {
                check_es_line(l, &mut orders)
            } else {
                serde_json::from_str(l).unwrap()
            };
            let t = v
                .get("time")
                .unwrap_or(&v["timestamp"])
                .as_str()
                .unwrap()
                .to_string();
            assert!(t >= last, "{name}: time order at line {}", i + 1);
            last = t;
        }
    }
}
