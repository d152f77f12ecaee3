//! The fields of an eslogger line that floodwatch reads, read by serde_json, sonic-rs and
//! simd-json into typed structs (serde derive, strings borrowed where unescaped), against
//! floodwatch's own record parser, which reads the same fields and also builds its events. Also
//! each crate checking a whole line without keeping anything (`IgnoredAny`): the floor of any
//! parser built on it. Every line of the file is in memory first; the best of seven passes each.
//! Usage: json-crates ESLOGGER_FILE

// Fields deserialized and not read again are still the work measured: each is parsed and checked.
#![allow(dead_code)]

use floodwatch_core::config::Config;
use floodwatch_core::event::Event;
use floodwatch_sources::eslogger::EsloggerParser;
use floodwatch_sources::{ClockHints, RecordParser, SourceCtx};
use serde::de::IgnoredAny;
use serde::Deserialize;
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

#[derive(Deserialize)]
struct Token {
    auid: Option<u32>,
    euid: Option<u32>,
    ruid: Option<u32>,
    pid: Option<i32>,
    pidversion: Option<u32>,
}

#[derive(Deserialize)]
struct File<'a> {
    #[serde(borrow)]
    path: Cow<'a, str>,
}

#[derive(Deserialize)]
struct Process<'a> {
    audit_token: Option<Token>,
    parent_audit_token: Option<Token>,
    responsible_audit_token: Option<Token>,
    ppid: Option<i32>,
    original_ppid: Option<i32>,
    session_id: Option<i32>,
    #[serde(borrow)]
    executable: Option<File<'a>>,
    #[serde(borrow)]
    signing_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    team_id: Option<Cow<'a, str>>,
    codesigning_flags: Option<u32>,
    is_platform_binary: Option<bool>,
    #[serde(borrow)]
    start_time: Option<Cow<'a, str>>,
    #[serde(borrow)]
    tty: Option<File<'a>>,
}

#[derive(Deserialize)]
struct Exec<'a> {
    #[serde(borrow)]
    target: Process<'a>,
    #[serde(borrow)]
    args: Option<Vec<Cow<'a, str>>>,
    #[serde(borrow)]
    cwd: Option<File<'a>>,
    #[serde(borrow)]
    script: Option<File<'a>>,
}

#[derive(Deserialize)]
struct Fork<'a> {
    #[serde(borrow)]
    child: Process<'a>,
}

#[derive(Deserialize)]
struct Exit {
    stat: Option<i32>,
}

#[derive(Deserialize)]
struct EsEvent<'a> {
    #[serde(borrow)]
    exec: Option<Exec<'a>>,
    #[serde(borrow)]
    fork: Option<Fork<'a>>,
    exit: Option<Exit>,
}

#[derive(Deserialize)]
struct Message<'a> {
    version: Option<u32>,
    #[serde(borrow)]
    time: Cow<'a, str>,
    #[serde(borrow)]
    process: Process<'a>,
    #[serde(borrow)]
    event: EsEvent<'a>,
}

/// Something of every part read, so that no field can be left unread.
fn touch(m: &Message) -> usize {
    let p = |p: &Process| {
        p.audit_token
            .as_ref()
            .map_or(0, |t| t.pid.unwrap_or(0) as usize)
            + p.executable.as_ref().map_or(0, |f| f.path.len())
            + p.start_time.as_ref().map_or(0, |s| s.len())
    };
    let e = &m.event;
    m.time.len()
        + m.version.unwrap_or(0) as usize
        + p(&m.process)
        + e.exec.as_ref().map_or(0, |x| {
            p(&x.target)
                + x.args.as_ref().map_or(0, Vec::len)
                + x.cwd.as_ref().map_or(0, |c| c.path.len())
        })
        + e.fork.as_ref().map_or(0, |f| p(&f.child))
        + e.exit.as_ref().map_or(0, |x| x.stat.unwrap_or(0) as usize)
}

fn best(name: &str, bytes: usize, mut pass: impl FnMut() -> usize) {
    let mut best = f64::MAX;
    let mut check = 0;
    for _ in 0..7 {
        let t = Instant::now();
        check = pass();
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "{name:36} {:6.0} MB/s   ({check})",
        bytes as f64 / best / 1e6
    );
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: json-crates ESLOGGER_FILE");
    let text = std::fs::read_to_string(&path).expect("an eslogger file, UTF-8");
    let lines: Vec<&str> = text.lines().collect();
    let n = text.len();
    println!(
        "{path}: {} lines, {n} bytes; MB/s of the best of 7 passes (what each pass read)",
        lines.len()
    );
    best("serde_json, typed", n, || {
        lines
            .iter()
            .map(|l| serde_json::from_str::<Message>(l).map_or(0, |m| touch(&m)))
            .sum()
    });
    best("sonic-rs, typed", n, || {
        lines
            .iter()
            .map(|l| sonic_rs::from_str::<Message>(l).map_or(0, |m| touch(&m)))
            .sum()
    });
    // simd-json parses in place: each pass copies the line into a buffer first, as a reader would.
    let mut buf = Vec::new();
    best("simd-json, typed (copy + parse)", n, || {
        let mut sum = 0;
        for l in &lines {
            buf.clear();
            buf.extend_from_slice(l.as_bytes());
            sum += simd_json::serde::from_slice::<Message>(&mut buf).map_or(0, |m| touch(&m));
        }
        sum
    });
    best("serde_json, whole line checked only", n, || {
        lines
            .iter()
            .filter(|l| serde_json::from_str::<IgnoredAny>(l).is_ok())
            .count()
    });
    best("sonic-rs, whole line checked only", n, || {
        lines
            .iter()
            .filter(|l| sonic_rs::from_str::<IgnoredAny>(l).is_ok())
            .count()
    });
    let ctx = || SourceCtx {
        file_id: 0,
        path: Arc::from("eslogger.jsonl"),
        host: Arc::from("mac-0000"),
        host_forced: false,
        clock: ClockHints::default(),
        input: Config::default().input,
    };
    best("floodwatch, typed + events built", n, || {
        let mut p = EsloggerParser::new(ctx());
        let mut out: Vec<Event> = Vec::with_capacity(4);
        let mut events = 0;
        for (i, l) in lines.iter().enumerate() {
            let _ = p.parse(l, i as u64 + 1, &mut out);
            events += out.len();
            out.clear();
        }
        events
    });
}
