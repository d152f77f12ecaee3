//! Per attack path, what a host's telemetry lets floodwatch do: **detectable** (an alert with measured
//! or declared evidence and the process behind it, with its command line and launch context),
//! **degraded** (something alerts or shows, but a key part is missing: volume, the process, or its
//! context), **blind** (nothing crosses a threshold or shows at all).
//!
//! The rules are the table [`RULES`]: per path, rows in order, the first whose capabilities the host has
//! all of decides. Then one rule for every path: a *detectable* verdict without any TTY or session
//! context is *degraded* (AN0971 is about floods "with no UI context": without it, unattended and
//! interactive look alike). Facts behind the rows: nettop reports TCP/UDP/QUIC sockets per process and
//! no ICMP; the unified log's connection summaries come from Network.framework clients only (curl and
//! python's socket module use BSD sockets [assumption, not verified on a Mac]); hping3 and ping send
//! through raw sockets or BPF, invisible to both; the engine alerts on curl execs per parent, on argv
//! that declares a flood (ping -f / -i, hping3 --flood, socket one-liners) and on measured volume.

use super::channels::Cap;
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Detectable,
    Degraded,
    Blind,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Detectable => "detectable",
            Verdict::Degraded => "degraded",
            Verdict::Blind => "blind",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttackPath {
    CurlLoop,
    RootPingFlood,
    PythonUdpFlood,
    NetworkFrameworkBinary,
    Hping3SynFlood,
}

impl AttackPath {
    pub const ALL: [AttackPath; 5] = [
        AttackPath::CurlLoop,
        AttackPath::RootPingFlood,
        AttackPath::PythonUdpFlood,
        AttackPath::NetworkFrameworkBinary,
        AttackPath::Hping3SynFlood,
    ];

    pub fn title(self) -> &'static str {
        match self {
            AttackPath::CurlLoop => "curl loop (a script running curl many times a second)",
            AttackPath::RootPingFlood => "root ping flood (ICMP: ping -f, -i 0.002)",
            AttackPath::PythonUdpFlood => "python UDP flood (socket sendto loop)",
            AttackPath::NetworkFrameworkBinary => "Network.framework binary (unsigned, own code)",
            AttackPath::Hping3SynFlood => "hping3 SYN flood (raw packets via BPF)",
        }
    }
}

struct Rule {
    needs: &'static [Cap],
    verdict: Verdict,
    reason: &'static str,
    fix: &'static str,
}

const fn r(
    needs: &'static [Cap],
    verdict: Verdict,
    reason: &'static str,
    fix: &'static str,
) -> Rule {
    Rule {
        needs,
        verdict,
        reason,
        fix,
    }
}

use Cap::*;
use Verdict::*;

/// The rule table: per path, the first row whose capabilities the host has decides.
const RULES: &[(AttackPath, &[Rule])] = &[
    (
        AttackPath::CurlLoop,
        &[
            r(&[ExecArgv, VolumeSockets], Detectable,
              "curl execs per parent (the loop's script) and per-process TCP volume, with argv and parent chain", ""),
            r(&[ExecArgv, Flows], Detectable,
              "curl execs per parent from process events; the connection rate to the target from network flows, joined by the URL host in argv and time", ""),
            r(&[ExecArgv], Degraded,
              "exec rate seen (curl execs/s from one parent alerts), no volume",
              "add nettop (per-process TCP bytes) or a network sensor"),
            r(&[Flows], Degraded,
              "connection rate to one target seen network-only: no process, argv or session",
              "add eslogger (exec with parent)"),
            r(&[VolumeSockets], Blind,
              "nettop shows each short-lived curl as its own pid with a few KB and no parent to group them by; 1 s frames miss most of them",
              "add eslogger (exec with parent)"),
            r(&[], Blind,
              "no process creation and no TCP volume per process; unified-log summaries do not cover curl (BSD sockets, not Network.framework)",
              "add eslogger and nettop"),
        ],
    ),
    (
        AttackPath::RootPingFlood,
        &[
            r(&[ExecArgv, IcmpPid], Detectable,
              "declared flood from argv, ICMP volume measured per process", ""),
            r(&[ExecArgv, Flows], Detectable,
              "declared flood from argv (ping -f, -i below 0.1 s, -l); ICMP packet rate measured network-only and joined by the target in argv and time", ""),
            r(&[ExecArgv], Degraded,
              "detected from argv only (ping -f / -i / -l declare the rate): the rate is estimated, ICMP is not attributable",
              "add PKTAP capture or a network sensor, or rely on argv; nettop does not report ICMP"),
            r(&[IcmpPid], Degraded,
              "ICMP volume per pid and name, but no argv, parent or user",
              "add eslogger"),
            r(&[Flows], Degraded,
              "ICMP packet rate to one target seen network-only: no process",
              "add eslogger (argv names ping and its target)"),
            r(&[], Blind,
              "ICMP not attributable and no argv: nettop does not report ICMP, the unified log has no ICMP summaries",
              "add eslogger (argv), and PKTAP capture or a network sensor"),
        ],
    ),
    (
        AttackPath::PythonUdpFlood,
        &[
            r(&[ExecArgv, VolumeSockets], Detectable,
              "UDP volume per process (nettop) with argv and parent chain", ""),
            r(&[VolumeSockets], Degraded,
              "UDP volume per pid alerts, but with a 15-character name only: no argv, parent or user",
              "add eslogger"),
            r(&[ExecArgv, Flows], Degraded,
              "UDP rate seen network-only; joined to the process only when argv names the target (a one-liner), not for `python3 flood.py`",
              "add nettop (per-process UDP bytes)"),
            r(&[ExecArgv], Degraded,
              "only a one-liner that loops over a socket without pause is declared from argv (rate unknown); `python3 flood.py` shows nothing",
              "add nettop (per-process UDP bytes)"),
            r(&[Flows], Degraded,
              "UDP packet rate to one target seen network-only: no process",
              "add eslogger and nettop"),
            r(&[], Blind,
              "no per-process UDP volume: python's socket module uses BSD sockets, which unified-log summaries do not cover",
              "add nettop"),
        ],
    ),
    (
        AttackPath::NetworkFrameworkBinary,
        &[
            r(&[ExecArgv, VolumeNwFramework], Detectable,
              "connection summaries per pid (bytes, packets) joined to the binary's exec context", ""),
            r(&[ExecArgv, VolumeSockets], Detectable,
              "nettop volume per pid with the binary's exec context", ""),
            r(&[VolumeNwFramework], Degraded,
              "connection summaries give pid, path, uid and volume, but no argv, parent or tty",
              "add eslogger"),
            r(&[VolumeSockets], Degraded,
              "nettop volume per pid, with a 15-character name only",
              "add eslogger"),
            r(&[Flows], Degraded,
              "the rate to the target seen network-only: no process",
              "add eslogger and nettop or the unified log"),
            r(&[ExecArgv], Blind,
              "the binary's exec is seen, but its own code declares nothing and its traffic is invisible without per-process volume",
              "add nettop or the unified log (com.apple.network summaries)"),
            r(&[], Blind,
              "no per-process volume and no flows",
              "add eslogger and nettop"),
        ],
    ),
    (
        AttackPath::Hping3SynFlood,
        &[
            r(&[ExecArgv, Flows], Detectable,
              "declared flood from argv (hping3 --flood, -i u…) and the SYN rate measured network-only, joined by the target in argv and time", ""),
            r(&[ExecArgv], Degraded,
              "declared from argv only: hping3 sends raw packets through BPF, invisible to nettop and the unified log; the rate is estimated",
              "add a network sensor (Zeek or pcap) for the SYN rate"),
            r(&[Flows], Degraded,
              "SYN rate to one target seen network-only: no process",
              "add eslogger (argv names hping3 and its target)"),
            r(&[], Blind,
              "raw packets: nettop and the unified log never show them, and no argv is collected",
              "add eslogger and a network sensor"),
        ],
    ),
];

#[derive(Clone, Debug, Serialize)]
pub struct PathVerdict {
    pub path: AttackPath,
    pub title: String,
    pub verdict: Verdict,
    pub reason: String,
    /// What would make it better (empty when detectable).
    pub fix: String,
}

/// Judges every path for a host with these capabilities.
pub fn judge(caps: &[Cap]) -> Vec<PathVerdict> {
    let has = |c: &Cap| caps.contains(c);
    let context = has(&Tty) || has(&SessionEvents);
    RULES
        .iter()
        .map(|(path, rules)| {
            // Every path's last row needs nothing (tested), so a row always matches.
            let (mut verdict, mut reason, mut fix) =
                match rules.iter().find(|r| r.needs.iter().all(has)) {
                    Some(r) => (r.verdict, r.reason.to_string(), r.fix.to_string()),
                    None => (Blind, "no rule matched".to_string(), String::new()),
                };
            if verdict == Detectable && !context {
                verdict = Degraded;
                reason.push_str(
                    "; but no TTY or session context: unattended and interactive look alike",
                );
                fix =
                    "add eslogger (tty, session events) or unified-log loginwindow messages".into();
            }
            PathVerdict {
                path: *path,
                title: path.title().to_string(),
                verdict,
                reason,
                fix,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(caps: &[Cap]) -> Vec<Verdict> {
        judge(caps).into_iter().map(|p| p.verdict).collect()
    }

    #[test]
    fn every_path_has_a_last_row_that_always_matches() {
        for (_, rules) in RULES {
            assert!(rules.last().is_some_and(|r| r.needs.is_empty()));
        }
        assert_eq!(judge(&[]).len(), AttackPath::ALL.len());
        assert!(v(&[]).iter().all(|x| *x == Blind));
    }

    #[test]
    fn osquery_exec_and_nettop_without_tty_is_degraded_for_want_of_context() {
        let p = judge(&[ExecArgv, VolumeSockets]);
        assert_eq!(p[0].verdict, Degraded);
        assert!(p[0].reason.contains("no TTY or session context"));
        assert_eq!(v(&[ExecArgv, Tty, VolumeSockets])[0], Detectable);
    }
}
