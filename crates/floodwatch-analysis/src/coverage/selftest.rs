//! A bounded lab self-test: `--selftest-plan` prints the exact commands an operator runs on a Mac against
//! a lab address (each with a hard bound on count and duration) and the evidence each must leave;
//! `--selftest-check` reads the collected telemetry and checks every expectation, pass / fail / skipped
//! (no source for it in this telemetry: the skip says which to add).
//!
//! The command lines are built here once ([`ping_argv`], [`loop_argv`], [`curl_argv`], [`python_argv`])
//! and used by the plan, the check and the simulator tests, so what is checked is what was planned.

use super::channels::Cap;
use floodwatch_core::config::Config;
use floodwatch_core::event::{basename, EventKind, Proto, Tty};
use floodwatch_core::{Result, Ts};
use floodwatch_engine::network::split_endpoint;
use floodwatch_runtime::{self as pipeline, HuntOptions, HuntResult};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// ping's `-p` pad pattern: "fwtest-ping" in hex, so the exec is recognizable.
pub const PING_PATTERN: &str = "6677746573742d70696e67";
pub const PING_COUNT: u64 = 200;
pub const PING_INTERVAL: &str = "0.01";
pub const PING_TIMEOUT_S: u64 = 10;
/// In the curl URL's path.
pub const CURL_MARKER: &str = "floodwatch-selftest-curl";
pub const CURL_COUNT: u64 = 200;
pub const CURL_SLEEP: &str = "0.05";
pub const CURL_MAX_TIME_S: u64 = 1;
/// The UDP payload (and so in python's argv).
pub const UDP_MARKER: &str = "floodwatch-selftest-udp";
pub const UDP_COUNT: u64 = 2000;
pub const UDP_PORT: u16 = 9;
pub const UDP_PAUSE: &str = "0.002";
pub const UDP_DEADLINE_S: u64 = 10;

pub fn ping_argv(target: &str) -> Vec<String> {
    [
        "ping",
        "-c",
        &PING_COUNT.to_string(),
        "-i",
        PING_INTERVAL,
        "-t",
        &PING_TIMEOUT_S.to_string(),
        "-p",
        PING_PATTERN,
        target,
    ]
    .map(String::from)
    .to_vec()
}

pub fn curl_url(target: &str, i: &str) -> String {
    let host = if target.contains(':') {
        format!("[{target}]")
    } else {
        target.to_string()
    };
    format!("http://{host}/{CURL_MARKER}?i={i}")
}

/// One curl of the loop, as the shell runs it (`i` expanded).
pub fn curl_argv(target: &str, i: u64) -> Vec<String> {
    [
        "curl",
        "-s",
        "-o",
        "/dev/null",
        "--max-time",
        &CURL_MAX_TIME_S.to_string(),
        &curl_url(target, &i.to_string()),
    ]
    .map(String::from)
    .to_vec()
}

pub fn loop_script(target: &str) -> String {
    format!(
        "for i in $(seq 1 {CURL_COUNT}); do curl -s -o /dev/null --max-time {CURL_MAX_TIME_S} \"{}\"; sleep {CURL_SLEEP}; done",
        curl_url(target, "$i")
    )
}

pub fn loop_argv(target: &str) -> Vec<String> {
    vec!["/bin/sh".into(), "-c".into(), loop_script(target)]
}

pub fn sleep_argv() -> Vec<String> {
    vec!["sleep".into(), CURL_SLEEP.into()]
}

pub fn python_code(target: &str) -> String {
    let family = if target.contains(':') {
        "AF_INET6"
    } else {
        "AF_INET"
    };
    format!(
        "import socket,time;s=socket.socket(socket.{family},socket.SOCK_DGRAM);d=time.time()+{UDP_DEADLINE_S};[(s.sendto(b\"{UDP_MARKER}\",(\"{target}\",{UDP_PORT})),time.sleep({UDP_PAUSE})) for i in range({UDP_COUNT}) if time.time()<d]"
    )
}

pub fn python_argv(target: &str) -> Vec<String> {
    vec!["python3".into(), "-c".into(), python_code(target)]
}

/// The shell text of an argv: words quoted with single quotes when they need it.
fn shell(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./:=?[]".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A lab address: private, loopback or link-local; never a name (it could resolve anywhere), never a
/// public, multicast or unspecified address.
pub fn lab_target(t: Option<&str>) -> std::result::Result<IpAddr, String> {
    let Some(t) = t.map(str::trim).filter(|t| !t.is_empty()) else {
        return Err("no lab target given: pass --target with a private, loopback or link-local address you own".into());
    };
    let ip: IpAddr = t.parse().map_err(|_| {
        format!("{t:?} is not an IP address: give the lab host's address, not a name")
    })?;
    if floodwatch_core::net::is_internal(ip) {
        Ok(ip)
    } else {
        Err(format!(
            "{ip} is not a lab address: the self-test only targets private (10/8, 172.16/12, 192.168/16, fc00::/7), loopback or link-local addresses"
        ))
    }
}

pub struct Plan {
    pub text: String,
    pub refused: bool,
}

/// The plan as text. A missing, named or public target is refused in the text (and by exit code): no
/// runnable command is printed for it.
pub fn plan(target: Option<&str>, cfg: &Config) -> Plan {
    let ip = match lab_target(target) {
        Ok(ip) => ip,
        Err(why) => {
            return Plan {
                text: format!(
                    "# floodwatch coverage self-test plan\n\nREFUSED: {why}.\n\nThe plan sends bounded bursts (200 ICMP echoes, 200 HTTP requests, 2,000 UDP datagrams) and is only printed for an address in your lab.\nExample: floodwatch coverage --selftest-plan --target 192.168.50.4\n"
                ),
                refused: true,
            }
        }
    };
    let t = ip.to_string();
    let loopback = ip.is_loopback();
    let mut s = format!(
        "# floodwatch coverage self-test plan (lab target {t})\n\n\
Run these on a Mac whose telemetry you collect, against {t}, a lab host you own. Each command has a hard bound on\n\
packets and time; run them one after the other, from Terminal, with the collectors running:\n\n\
    sudo eslogger exec fork exit lw_session_lock lw_session_unlock > eslogger.jsonl\n\
    nettop -L 0 -s 1 -n > nettop.csv\n\
    log stream --style ndjson --predicate 'subsystem == \"com.apple.network\" OR process == \"loginwindow\"' > unifiedlog.ndjson\n\n\
and Zeek or a packet capture at the lab's gateway if you have one. Then put the files in one folder per host and run:\n\n\
    floodwatch coverage --selftest-check FOLDER --target {t}\n\n"
    );
    if loopback {
        s.push_str("Note: a loopback target never crosses a network sensor; the flow expectations will be skipped or fail.\n\n");
    }
    let ping = ping_argv(&t);
    let mut sudo_ping = vec!["sudo".to_string()];
    sudo_ping.extend(ping.iter().cloned());
    s.push_str(&format!(
        "## Step 1 — ping: a root ICMP burst\n\n    {}\n\n\
Bounds: {PING_COUNT} echo requests {PING_INTERVAL} s apart (about 2 s, about 17 kB); ping exits after {PING_TIMEOUT_S} s whatever happens (-t).\n\
Why sudo: an interval below 0.1 s needs root on macOS releases before network_cmds-696 (about macOS 15; newer ones allow\n\
0.002 s without root), and running as root exercises the \"runs as root\" context. -p carries the pattern \"fwtest-ping\".\n\
Expected evidence:\n\
- eslogger (or osquery): an exec of ping with exactly these arguments, euid 0, parent sudo, a TTY (eslogger only).\n\
- nettop and the unified log: nothing. ICMP is not reported per process: this step shows the ICMP gap.\n\
- Zeek / pcap: ICMP to {t}, at least {} of {PING_COUNT} packets.\n\
- floodwatch: an alert on ping, a declared flood (-i {PING_INTERVAL} declares 100 packets/s, at or above thresholds.declared_packets_per_s = {}).\n\n",
        shell(&sudo_ping),
        PING_COUNT * 3 / 4,
        cfg.thresholds.declared_packets_per_s
    ));
    s.push_str(&format!(
        "## Step 2 — curl: a loop of {CURL_COUNT} requests\n\n    {}\n\n\
Bounds: {CURL_COUNT} requests, each cut after {CURL_MAX_TIME_S} s (--max-time), {CURL_SLEEP} s apart: about 15 s, at most about 4 min.\n\
Something on {t} should answer or refuse port 80 quickly (a refusal is fine); if nothing answers, every curl waits {CURL_MAX_TIME_S} s\n\
and the exec rate stays below the alert threshold. The URL path carries the marker \"{CURL_MARKER}\".\n\
Expected evidence:\n\
- eslogger (or osquery): {CURL_COUNT} execs of curl with the marker URL, all children of the one /bin/sh running the loop.\n\
- nettop: curl rows with a TCP socket to {t}:80 (curls live tens of milliseconds: 1 s frames catch only some).\n\
- the unified log: nothing (curl uses BSD sockets, not Network.framework).\n\
- Zeek / pcap: at least {} TCP connections to {t}:80.\n\
- floodwatch: an alert on the loop's /bin/sh, about 13 curl execs/s against thresholds.tool_spawns_per_s = {}.\n\n",
        shell(&loop_argv(&t)),
        CURL_COUNT * 3 / 4,
        cfg.thresholds.tool_spawns_per_s
    ));
    s.push_str(&format!(
        "## Step 3 — python: a UDP burst of {UDP_COUNT} datagrams\n\n    {}\n\n\
Bounds: {UDP_COUNT} datagrams of {} bytes to UDP port {UDP_PORT} (discard), {UDP_PAUSE} s apart: about 5 s, never more than {UDP_DEADLINE_S} s.\n\
Needs python3 (the Xcode Command Line Tools). The payload (and so the command line) carries \"{UDP_MARKER}\".\n\
Expected evidence:\n\
- eslogger (or osquery): an exec of python3 with the marker in its argv.\n\
- nettop: a python3 row with a UDP socket to {t}:{UDP_PORT}, at least half of {} bytes out.\n\
- the unified log: nothing (BSD sockets).\n\
- Zeek / pcap: at least {} UDP packets to {t}:{UDP_PORT}.\n\
- floodwatch: no alert (about 400 datagrams/s is below the thresholds by design: this step checks visibility).\n",
        shell(&python_argv(&t)),
        UDP_MARKER.len(),
        UDP_COUNT * UDP_MARKER.len() as u64,
        UDP_COUNT / 2
    ));
    Plan {
        text: s,
        refused: false,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Fail,
    /// No source for it in this telemetry.
    Skip,
    /// Reported, not judged.
    Info,
}

#[derive(Clone, Debug, Serialize)]
pub struct Expectation {
    pub what: String,
    pub status: Status,
    pub detail: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct StepResult {
    pub id: &'static str,
    pub title: &'static str,
    pub status: Status,
    pub expectations: Vec<Expectation>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub target: Option<String>,
    pub hosts: Vec<String>,
    pub passed: bool,
    pub steps: Vec<StepResult>,
}

#[derive(Clone, Debug)]
struct Hit {
    host: String,
    pid: i32,
    ppid: Option<i32>,
    ts: Ts,
    euid: Option<u32>,
    tty: Tty,
    file: u32,
    line: u64,
    /// `path:line`, filled in once the files are known.
    at: String,
    args: Vec<String>,
}

#[derive(Default)]
struct Found {
    ping: Vec<Hit>,
    loops: Vec<Hit>,
    curls: Vec<Hit>,
    python: Vec<Hit>,
    /// (host, pid, remote host, remote port) → (bytes out, records).
    pid_traffic: BTreeMap<PidDest, (u64, u64)>,
    /// (host, remote host, proto, port) → (packets, connections).
    flows: BTreeMap<FlowDest, (u64, u64)>,
}

type PidDest = (String, i32, String, Option<u16>);
type FlowDest = (String, String, Proto, Option<u16>);

fn gather(opts: &HuntOptions, cfg: &Config) -> Result<Found> {
    let mut f = Found::default();
    let files = pipeline::visit_events(opts, cfg, &mut |file, ev| match &ev.kind {
        EventKind::Exec { target, .. } => {
            let args = target.args.clone().unwrap_or_default();
            let name = target
                .path
                .as_deref()
                .map(basename)
                .or(args.first().map(|a| basename(a)))
                .unwrap_or("")
                .to_string();
            let joined = args.join(" ");
            let hit = || Hit {
                host: ev.host.to_string(),
                pid: target.pid,
                ppid: target.ppid,
                ts: ev.ts,
                euid: target.euid.or(target.uid),
                tty: target.tty.clone(),
                file,
                line: ev.origin.line,
                at: String::new(),
                args: args.to_vec(),
            };
            if name == "ping" && args.iter().any(|a| a == PING_PATTERN) {
                f.ping.push(hit());
            } else if name == "curl" && joined.contains(CURL_MARKER) {
                f.curls.push(hit());
            } else if matches!(name.as_str(), "sh" | "bash" | "zsh" | "dash")
                && joined.contains(CURL_MARKER)
            {
                f.loops.push(hit());
            } else if name.starts_with("python") && joined.contains(UDP_MARKER) {
                f.python.push(hit());
            }
        }
        EventKind::Traffic(t) => {
            let Some(r) = t.remote.as_deref() else { return };
            let (h, port) = split_endpoint(r);
            match t.pid {
                Some(pid) => {
                    let e = f
                        .pid_traffic
                        .entry((ev.host.to_string(), pid, h.to_string(), port))
                        .or_default();
                    e.0 += t.bytes_out;
                    e.1 += 1;
                }
                None => {
                    let e = f
                        .flows
                        .entry((ev.host.to_string(), h.to_string(), t.proto, port))
                        .or_default();
                    e.0 += t.packets_out.unwrap_or(0);
                    e.1 += u64::from(t.new_connections);
                }
            }
        }
        _ => {}
    })?;
    for h in f
        .ping
        .iter_mut()
        .chain(f.loops.iter_mut())
        .chain(f.curls.iter_mut())
        .chain(f.python.iter_mut())
    {
        let path = files.get(h.file as usize).map_or("?", |i| i.path.as_str());
        h.at = format!("{path}:{}", h.line);
    }
    for v in [&mut f.ping, &mut f.loops, &mut f.curls, &mut f.python] {
        v.sort_by(|a, b| a.ts.cmp(&b.ts).then(a.pid.cmp(&b.pid)));
    }
    Ok(f)
}

fn e(what: impl Into<String>, status: Status, detail: impl Into<String>) -> Expectation {
    Expectation {
        what: what.into(),
        status,
        detail: detail.into(),
    }
}

fn step(id: &'static str, title: &'static str, expectations: Vec<Expectation>) -> StepResult {
    let any = |s: Status| expectations.iter().any(|x| x.status == s);
    let status = if any(Status::Fail) {
        Status::Fail
    } else if any(Status::Pass) {
        Status::Pass
    } else {
        Status::Skip
    };
    StepResult {
        id,
        title,
        status,
        expectations,
    }
}

fn pass_if(ok: bool) -> Status {
    if ok {
        Status::Pass
    } else {
        Status::Fail
    }
}

/// An expectation that needs a capability of the telemetry (`have`): judged by `judge`, else
/// skipped with `why` (which source to add).
fn needs(
    have: bool,
    what: impl Into<String>,
    why: &str,
    judge: impl FnOnce(String) -> Expectation,
) -> Expectation {
    let what = what.into();
    if have {
        judge(what)
    } else {
        e(what, Status::Skip, why)
    }
}

/// Why a per-process volume check is skipped: the unified log alone (`nw_only`) sees only
/// Network.framework connections, which `misses` says this step's are not; else there is no source.
fn no_volume(nw_only: bool, misses: &str) -> String {
    if nw_only {
        format!("only the unified log gives per-process volume here, and {misses}: add nettop")
    } else {
        "no per-process volume source: add nettop".into()
    }
}

/// Where an exec was seen.
fn ran(h: &Hit) -> String {
    format!("pid {} on {} at {} ({})", h.pid, h.host, h.ts, h.at)
}

const NO_EXEC: &str =
    "no process-creation source in this telemetry: add eslogger (or osquery es_process_events)";
const NO_FLOWS: &str =
    "no network sensor in this telemetry: add Zeek or a packet capture at the lab's gateway";

/// Reads the telemetry and judges every expectation of the plan. `res` is the observed hunt of the same
/// paths (alerts and per-host capabilities).
pub fn check(
    opts: &HuntOptions,
    cfg: &Config,
    res: &HuntResult,
    target: Option<&str>,
) -> Result<Check> {
    let found = gather(opts, cfg)?;
    let report = super::analyze(res, cfg);
    // The target: given, else the one the runs named.
    let target: Option<String> = match target {
        Some(t) => Some(t.trim().to_string()),
        None => found
            .ping
            .first()
            .and_then(|h| h.args.last().cloned())
            .or_else(|| {
                found.curls.first().and_then(|h| {
                    h.args.last().and_then(|u| {
                        let rest = u.split_once("://")?.1;
                        Some(
                            split_endpoint(rest.split('/').next()?)
                                .0
                                .trim_matches(['[', ']'])
                                .to_string(),
                        )
                    })
                })
            }),
    };
    let on_target = |h: &Hit| {
        target
            .as_deref()
            .is_none_or(|t| h.args.iter().any(|a| a.contains(t)))
    };
    let ping: Vec<&Hit> = found.ping.iter().filter(|h| on_target(h)).collect();
    let curls: Vec<&Hit> = found.curls.iter().filter(|h| on_target(h)).collect();
    let loops: Vec<&Hit> = found.loops.iter().filter(|h| on_target(h)).collect();
    let python: Vec<&Hit> = found.python.iter().filter(|h| on_target(h)).collect();
    // The hosts the runs happened on (else every host read).
    let mut hosts: BTreeSet<String> = ping
        .iter()
        .chain(curls.iter())
        .chain(python.iter())
        .map(|h| h.host.clone())
        .collect();
    if hosts.is_empty() {
        hosts = report.hosts.iter().map(|h| h.host.clone()).collect();
    }
    let caps: BTreeSet<Cap> = report
        .hosts
        .iter()
        .filter(|h| hosts.contains(&h.host))
        .flat_map(|h| h.capabilities.iter().copied())
        .collect();
    let has = |c: Cap| caps.contains(&c);
    let t = target.clone().unwrap_or_else(|| "(target)".into());
    let pid_bytes = |pids: &BTreeSet<(String, i32)>, port: Option<u16>| -> (u64, u64, usize) {
        let mut bytes = 0;
        let mut recs = 0;
        let mut seen: BTreeSet<(String, i32)> = BTreeSet::new();
        for ((host, pid, h, p), (b, n)) in &found.pid_traffic {
            if h == &t && (port.is_none() || *p == port) && pids.contains(&(host.clone(), *pid)) {
                bytes += b;
                recs += n;
                seen.insert((host.clone(), *pid));
            }
        }
        (bytes, recs, seen.len())
    };
    let flows = |proto: Proto, port: Option<u16>| -> (u64, u64) {
        found
            .flows
            .iter()
            .filter(|((host, h, p, po), _)| {
                hosts.contains(host) && h == &t && *p == proto && (port.is_none() || *po == port)
            })
            .fold((0, 0), |a, (_, (pk, c))| (a.0 + pk, a.1 + c))
    };
    let alert_on = |pids: &BTreeSet<(String, i32)>| {
        res.alerts.iter().find(|a| {
            pids.contains(&(a.alert.host.clone(), a.alert.subject.process.pid))
                || a.alert.evidences.iter().any(|ev| {
                    ev.pid
                        .is_some_and(|p| pids.contains(&(a.alert.host.clone(), p)))
                })
        })
    };
    let key = |h: &&Hit| (h.host.clone(), h.pid);
    let mut steps = Vec::new();

    // Step 1: ping.
    {
        let mut ex = Vec::new();
        let pids: BTreeSet<(String, i32)> = ping.iter().map(key).collect();
        let what = "exec of ping with the plan's arguments";
        match (has(Cap::ExecArgv), ping.first()) {
            (false, _) => ex.push(e(what, Status::Skip, NO_EXEC)),
            (true, None) => ex.push(e(what, Status::Fail, format!("no exec of ping with -p {PING_PATTERN} and {t}: was step 1 run on a host whose eslogger was running?"))),
            (true, Some(h)) => {
                ex.push(e(what, Status::Pass, ran(h)));
                ex.push(e(
                    "ran as root",
                    pass_if(h.euid == Some(0)),
                    match h.euid {
                        Some(0) => "euid 0".to_string(),
                        Some(u) => format!("euid {u}: run it with sudo (below 0.1 s older macOS refuses it, and root is part of the test)"),
                        None => "the source does not report the user".to_string(),
                    },
                ));
                ex.push(e(
                    "a controlling terminal (interactive context)",
                    match &h.tty {
                        Tty::Some(_) => Status::Pass,
                        Tty::None => Status::Fail,
                        Tty::Unknown => Status::Skip,
                    },
                    match &h.tty {
                        Tty::Some(p) => format!("tty {p}"),
                        Tty::None => "no tty: was it run from Terminal?".into(),
                        Tty::Unknown => "this process source does not report the tty (osquery): add eslogger".into(),
                    },
                ));
            }
        }
        let (b, _, n) = pid_bytes(&pids, None);
        ex.push(e(
            "per-process volume: none expected (ICMP)",
            Status::Info,
            if n > 0 {
                format!("a traffic source attributed {b} bytes to ping: ICMP is attributable here (PKTAP?)")
            } else {
                "no per-process record, as expected: nettop and the unified log do not report ICMP (the ICMP gap)".into()
            },
        ));
        let want = PING_COUNT * 3 / 4;
        let what = format!("network flows: at least {want} ICMP packets to {t}");
        ex.push(needs(has(Cap::Flows), what, NO_FLOWS, |what| {
            let (pk, _) = flows(Proto::Icmp, None);
            e(
                what,
                pass_if(pk >= want),
                format!("{pk} ICMP packet(s) to {t}"),
            )
        }));
        let what = "floodwatch alerts on ping (declared flood)";
        ex.push(needs(
            has(Cap::ExecArgv),
            what,
            NO_EXEC,
            |what| match alert_on(&pids) {
                Some(a) => e(
                    what,
                    Status::Pass,
                    format!("alert {} (score {})", a.alert.id, a.alert.score),
                ),
                None => e(
                    what,
                    Status::Fail,
                    if pids.is_empty() {
                        "no ping run found"
                    } else {
                        "no alert names the ping: check thresholds.declared_packets_per_s"
                    },
                ),
            },
        ));
        steps.push(step("1", "ping: a root ICMP burst", ex));
    }

    // Step 2: the curl loop.
    {
        let mut ex = Vec::new();
        let curl_pids: BTreeSet<(String, i32)> = curls.iter().map(key).collect();
        let mut group: BTreeSet<(String, i32)> = loops.iter().map(key).collect();
        group.extend(curl_pids.iter().cloned());
        let want = CURL_COUNT * 19 / 20;
        let what = format!("{CURL_COUNT} execs of curl with the marker URL");
        if has(Cap::ExecArgv) {
            let n = curls.len() as u64;
            ex.push(e(
                what,
                pass_if(n >= want),
                format!(
                    "{n} of {CURL_COUNT} seen (at least {want} expected){}",
                    if n > 0 && n < want {
                        ": execs were dropped or the loop was cut short"
                    } else {
                        ""
                    }
                ),
            ));
            let parents: BTreeSet<Option<i32>> = curls.iter().map(|h| h.ppid).collect();
            let loop_pid = loops.first().map(|h| h.pid);
            let what = "all from the one /bin/sh running the loop";
            if curls.is_empty() {
                ex.push(e(what, Status::Fail, "no curl of the loop found"));
            } else if parents.len() == 1 && (loop_pid.is_none() || parents.contains(&loop_pid)) {
                ex.push(e(
                    what,
                    Status::Pass,
                    match loop_pid {
                        Some(p) => format!("parent pid {p} (the loop's sh)"),
                        None => "one parent (the loop's own exec was not seen)".into(),
                    },
                ));
            } else {
                ex.push(e(
                    what,
                    Status::Fail,
                    format!("{} different parents", parents.len()),
                ));
            }
        } else {
            ex.push(e(what, Status::Skip, NO_EXEC));
        }
        let what = format!("per-process volume: curl rows to {t}:80");
        let why = no_volume(
            has(Cap::VolumeNwFramework),
            "it covers Network.framework connections, not curl",
        );
        ex.push(needs(has(Cap::VolumeSockets), what, &why, |what| {
            let (b, _, n) = pid_bytes(&curl_pids, Some(80));
            e(what, pass_if(n > 0), format!("{n} of {} curl(s) seen with {b} bytes out (short-lived curls fall between 1 s frames)", curls.len()))
        }));
        let want = CURL_COUNT * 3 / 4;
        let what = format!("network flows: at least {want} TCP connections to {t}:80");
        ex.push(needs(has(Cap::Flows), what, NO_FLOWS, |what| {
            let (_, c) = flows(Proto::Tcp, Some(80));
            e(what, pass_if(c >= want), format!("{c} connection(s)"))
        }));
        let what = "floodwatch alerts on the loop (curl execs per second)";
        ex.push(needs(
            has(Cap::ExecArgv),
            what,
            NO_EXEC,
            |what| match alert_on(&group) {
                Some(a) => e(
                    what,
                    Status::Pass,
                    format!(
                        "alert {} on pid {} (score {})",
                        a.alert.id, a.alert.subject.process.pid, a.alert.score
                    ),
                ),
                None => e(
                    what,
                    Status::Fail,
                    "no alert: did every curl wait for --max-time (nothing answering on port 80)?",
                ),
            },
        ));
        steps.push(step("2", "curl: a loop of requests", ex));
    }

    // Step 3: python UDP.
    {
        let mut ex = Vec::new();
        let pids: BTreeSet<(String, i32)> = python.iter().map(key).collect();
        let what = "exec of python3 with the marker";
        match (has(Cap::ExecArgv), python.first()) {
            (false, _) => ex.push(e(what, Status::Skip, NO_EXEC)),
            (true, None) => ex.push(e(
                what,
                Status::Fail,
                format!("no python exec with {UDP_MARKER} in its argv"),
            )),
            (true, Some(h)) => ex.push(e(what, Status::Pass, ran(h))),
        }
        let want = UDP_COUNT * UDP_MARKER.len() as u64 / 2;
        let what = format!(
            "per-process volume: python3's UDP socket to {t}:{UDP_PORT}, at least {want} bytes"
        );
        let why = no_volume(
            has(Cap::VolumeNwFramework),
            "python's socket module is not Network.framework",
        );
        ex.push(needs(has(Cap::VolumeSockets), what, &why, |what| {
            // Without an exec source, nettop names the process: take any pid sending there.
            let (b, _, n) = if pids.is_empty() {
                let any: BTreeSet<(String, i32)> = found
                    .pid_traffic
                    .keys()
                    .filter(|(_, _, h, p)| h == &t && *p == Some(UDP_PORT))
                    .map(|(host, pid, _, _)| (host.clone(), *pid))
                    .collect();
                pid_bytes(&any, Some(UDP_PORT))
            } else {
                pid_bytes(&pids, Some(UDP_PORT))
            };
            e(
                what,
                pass_if(b >= want),
                format!("{b} bytes out from {n} process(es)"),
            )
        }));
        let want = UDP_COUNT / 2;
        let what = format!("network flows: at least {want} UDP packets to {t}:{UDP_PORT}");
        ex.push(needs(has(Cap::Flows), what, NO_FLOWS, |what| {
            let (pk, _) = flows(Proto::Udp, Some(UDP_PORT));
            e(what, pass_if(pk >= want), format!("{pk} packet(s)"))
        }));
        ex.push(e(
            "no alert expected (a visibility check, below the thresholds by design)",
            Status::Info,
            match alert_on(&pids) {
                Some(a) => format!(
                    "an alert named it anyway: {} (score {})",
                    a.alert.id, a.alert.score
                ),
                None => "none".into(),
            },
        ));
        steps.push(step("3", "python: a UDP burst", ex));
    }

    let passed = steps.iter().all(|s| s.status == Status::Pass);
    Ok(Check {
        target,
        hosts: hosts.into_iter().collect(),
        passed,
        steps,
    })
}

#[cfg(test)]
mod tests;
