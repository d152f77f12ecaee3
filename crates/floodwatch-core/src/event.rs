//! The normalized event model. Every source turns its own format into these types and nothing of the
//! format leaks past the source: the engine never sees an eslogger key or a nettop column.

use crate::time::Ts;
use serde::Serialize;
use std::sync::Arc;

/// Where an event came from: a file registered with the run, and a 1-based line (or record start line).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Default,
    bitcode::Encode,
    bitcode::Decode,
)]
pub struct Origin {
    pub file: u32,
    pub line: u64,
}

#[derive(Clone, Debug, bitcode::Encode, bitcode::Decode)]
pub struct Event {
    /// When it happened (UTC). For interval samples (traffic) this is the end of the interval.
    pub ts: Ts,
    pub host: Arc<str>,
    pub origin: Origin,
    pub kind: EventKind,
}

#[derive(Clone, Debug, bitcode::Encode, bitcode::Decode)]
pub enum EventKind {
    /// A process image replaced by a new one. `instigator` is the pre-exec image when the source has it.
    Exec {
        instigator: Option<Box<ProcInfo>>,
        target: Box<ProcInfo>,
    },
    Fork {
        parent: Box<ProcInfo>,
        child: Box<ProcInfo>,
    },
    Exit {
        process: Box<ProcInfo>,
        status: Option<i32>,
    },
    /// A process seen alive at `ts` without a lifecycle event (osquery `processes`, a source's instigator).
    ProcessSeen(Box<ProcInfo>),
    /// Outbound/inbound volume over an interval, attributed to a pid when the source knows it.
    Traffic(Box<Traffic>),
    /// A connection attempt without volume (osquery `socket_events`, `process_open_sockets`).
    Connect(Box<Connect>),
    /// User session and UI context: login, lock, ssh, screen sharing, sleep.
    Session(Box<Session>),
}

impl EventKind {
    /// Marks every part of the event (each process image, the traffic, the connection, the session)
    /// as coming from a record that was not valid UTF-8.
    pub fn mark_invalid_utf8(&mut self) {
        match self {
            EventKind::Exec { instigator, target } => {
                if let Some(i) = instigator {
                    i.invalid_utf8 = true;
                }
                target.invalid_utf8 = true;
            }
            EventKind::Fork { parent, child } => {
                parent.invalid_utf8 = true;
                child.invalid_utf8 = true;
            }
            EventKind::Exit { process, .. } | EventKind::ProcessSeen(process) => {
                process.invalid_utf8 = true
            }
            EventKind::Traffic(t) => t.invalid_utf8 = true,
            EventKind::Connect(c) => c.invalid_utf8 = true,
            // Sessions carry no process (and other crates build them literally): user names and
            // ttys stay decoded with U+FFFD, without a flag.
            EventKind::Session(_) => {}
        }
    }

    /// Whether any part of the event came from a record that was not valid UTF-8.
    pub fn invalid_utf8(&self) -> bool {
        match self {
            EventKind::Exec { instigator, target } => {
                target.invalid_utf8 || instigator.as_ref().is_some_and(|i| i.invalid_utf8)
            }
            EventKind::Fork { parent, child } => parent.invalid_utf8 || child.invalid_utf8,
            EventKind::Exit { process, .. } | EventKind::ProcessSeen(process) => {
                process.invalid_utf8
            }
            EventKind::Traffic(t) => t.invalid_utf8,
            EventKind::Connect(c) => c.invalid_utf8,
            EventKind::Session(_) => false,
        }
    }

    pub fn name(&self) -> &'static str {
        Self::NAMES[self.index()]
    }

    /// Every kind's [`EventKind::name`], in alphabetical order (the order summaries list them in).
    pub const NAMES: [&'static str; 7] = [
        "connect", "exec", "exit", "fork", "process", "session", "traffic",
    ];

    /// The kind's place in [`EventKind::NAMES`], for counts kept in an array.
    pub fn index(&self) -> usize {
        match self {
            EventKind::Connect(_) => 0,
            EventKind::Exec { .. } => 1,
            EventKind::Exit { .. } => 2,
            EventKind::Fork { .. } => 3,
            EventKind::ProcessSeen(_) => 4,
            EventKind::Session(_) => 5,
            EventKind::Traffic(_) => 6,
        }
    }
}

/// The controlling terminal, as far as the source can tell. `Unknown` is not the same as `None`:
/// eslogger writes `"tty": null` for launchd children (None), osquery's es_process_events has no tty (Unknown).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "path")]
#[derive(bitcode::Encode, bitcode::Decode)]
pub enum Tty {
    #[default]
    Unknown,
    None,
    Some(String),
}

/// A process image as one source saw it. Every field is optional except the pid: sources differ.
#[derive(Clone, Debug, Default, bitcode::Encode, bitcode::Decode)]
pub struct ProcInfo {
    pub pid: i32,
    /// eslogger's audit_token pidversion: changes on exec, so it names an image, not a lifetime.
    pub pidversion: Option<u32>,
    pub ppid: Option<i32>,
    pub original_ppid: Option<i32>,
    pub responsible_pid: Option<i32>,
    pub session_id: Option<i32>,
    /// Kept across exec, so (pid, start_time) names a process lifetime.
    pub start_time: Option<Ts>,
    /// Paths and signing ids repeat across a host's events: sources share one copy per text
    /// (an interner per source) rather than allocating one per event.
    pub path: Option<Arc<str>>,
    pub args: Option<Arc<[String]>>,
    pub cwd: Option<Arc<str>>,
    pub uid: Option<u32>,
    pub euid: Option<u32>,
    /// Audit user id; `None` when unset (4294967295 in eslogger).
    pub auid: Option<u32>,
    pub username: Option<String>,
    pub tty: Tty,
    pub signing: Signing,
    /// Some string of the record this came from was not valid UTF-8 (attacker-controlled argv can
    /// carry any bytes): the bytes were replaced by U+FFFD rather than the event being lost, and this
    /// keeps the fact for scoring. False by default.
    pub invalid_utf8: bool,
}

/// argv as a command line for display ([`ProcInfo::cmdline`]), for holders of the arguments alone.
pub fn cmdline_of(args: &[String]) -> String {
    args.join(" ")
}

/// The last component of a path (`/usr/bin/curl` → `curl`); the whole text when it has no `/`.
pub fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// `1.2.3.4:443` → (`1.2.3.4`, 443); `[fe80::1]:53` → (`fe80::1`, 53); nettop's `fe80::1%en0.5353`
/// → (`fe80::1%en0`, 5353); `fc00::1` and `IPv4#1a2b3c4d` → whole, no port.
pub fn split_endpoint(remote: &str) -> (&str, Option<u16>) {
    if let Some(rest) = remote.strip_prefix('[') {
        if let Some((h, tail)) = rest.split_once(']') {
            return (h, tail.strip_prefix(':').and_then(|p| p.parse().ok()));
        }
    }
    let colons = remote.bytes().filter(|b| *b == b':').count();
    if colons == 1 {
        if let Some((h, p)) = remote.split_once(':') {
            if let Ok(port) = p.parse() {
                return (h, Some(port));
            }
        }
        return (remote, None);
    }
    if colons >= 2 {
        if let Some((h, p)) = remote.rsplit_once('.') {
            if !h.contains('.') && !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) {
                return (h, p.parse().ok());
            }
        }
    }
    (remote, None)
}

impl ProcInfo {
    /// Last path component of the executable, if any.
    pub fn basename(&self) -> Option<&str> {
        self.path.as_deref().map(basename)
    }

    /// Command line for display: argv joined by spaces (callers escape it for their output).
    pub fn cmdline(&self) -> Option<String> {
        self.args.as_deref().map(cmdline_of)
    }

    /// The first argument after argv[0] that is not an option: the script an interpreter runs
    /// (`/bin/bash /opt/ci/fetch.sh`), or its `-c` text.
    pub fn script_arg(&self) -> Option<&str> {
        self.args
            .as_ref()?
            .iter()
            .skip(1)
            .find(|s| !s.starts_with('-'))
            .map(String::as_str)
    }
}

/// Code-signing facts. `cs_flags` are the kernel's CS_* bits when the source reports them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, bitcode::Encode, bitcode::Decode)]
pub struct Signing {
    pub signing_id: Option<Arc<str>>,
    pub team_id: Option<Arc<str>>,
    pub platform_binary: Option<bool>,
    pub cs_flags: Option<u32>,
}

pub const CS_VALID: u32 = 0x0000_0001;
pub const CS_ADHOC: u32 = 0x0000_0002;
pub const CS_SIGNED: u32 = 0x2000_0000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[derive(bitcode::Encode, bitcode::Decode)]
pub enum SignatureClass {
    /// Apple platform binary.
    Platform,
    /// Signed with a Developer ID team.
    Developer,
    /// Ad hoc signature (no identity), typical of locally built or dropped tools.
    AdHoc,
    Unsigned,
    Unknown,
}

impl Signing {
    pub fn class(&self) -> SignatureClass {
        if self.platform_binary == Some(true) {
            return SignatureClass::Platform;
        }
        if let Some(flags) = self.cs_flags {
            if flags & CS_ADHOC != 0 {
                return SignatureClass::AdHoc;
            }
            if flags & (CS_SIGNED | CS_VALID) == 0 {
                return SignatureClass::Unsigned;
            }
        }
        if self.team_id.as_deref().is_some_and(|t| !t.is_empty()) {
            return SignatureClass::Developer;
        }
        if self.platform_binary == Some(false)
            && self.signing_id.as_deref().is_none_or(str::is_empty)
        {
            return SignatureClass::Unsigned;
        }
        SignatureClass::Unknown
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
#[derive(bitcode::Encode, bitcode::Decode)]
pub enum Proto {
    Icmp,
    Udp,
    Tcp,
    Quic,
    Other,
    #[default]
    Unknown,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Icmp => "icmp",
            Proto::Udp => "udp",
            Proto::Tcp => "tcp",
            Proto::Quic => "quic",
            Proto::Other => "other",
            Proto::Unknown => "unknown",
        }
    }
}

/// Volume over the interval `[start, event.ts]`.
#[derive(Clone, Debug, Default, bitcode::Encode, bitcode::Decode)]
pub struct Traffic {
    /// None for network-only sources (no process attribution).
    pub pid: Option<i32>,
    /// Short name as the source gives it (nettop truncates to 15 characters). Shared: a capture
    /// names the same process in every sample.
    pub process_name: Option<Arc<str>>,
    pub process_path: Option<String>,
    pub uid: Option<u32>,
    pub start: Ts,
    pub proto: Proto,
    /// Remote endpoint as text: `17.57.146.138:5223`, or a redacted `IPv4#14ad2c93:443`. Shared,
    /// like the name.
    pub remote: Option<Arc<str>>,
    pub bytes_out: u64,
    pub bytes_in: u64,
    pub packets_out: Option<u64>,
    pub packets_in: Option<u64>,
    /// Connections that began in this interval (0 when unknown).
    pub new_connections: u32,
    /// The endpoint's own address, for network sources that see many endpoints (pcap, Zeek originator).
    pub local: Option<String>,
    /// Outbound TCP packets with SYN set and ACK clear (connection openers), when the source sees flags.
    pub syn_out: Option<u64>,
    /// Of `packets_out`, the packets that answer someone else's (ICMP echo replies and errors such as
    /// port-unreachable, TCP RST and SYN/ACK), when the source can tell. An answer never makes its
    /// sender a flood or scan source: it only shows that the other side's traffic reached it.
    pub answers_out: u64,
    /// A string of the record (process name, remote) was not valid UTF-8 and was decoded with
    /// U+FFFD; see [`ProcInfo::invalid_utf8`].
    pub invalid_utf8: bool,
}

#[derive(Clone, Debug, bitcode::Encode, bitcode::Decode)]
pub struct Connect {
    pub pid: Option<i32>,
    pub process_path: Option<String>,
    pub uid: Option<u32>,
    pub proto: Proto,
    pub remote: Option<String>,
    pub success: Option<bool>,
    /// See [`ProcInfo::invalid_utf8`].
    pub invalid_utf8: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[derive(bitcode::Encode, bitcode::Decode)]
pub enum SessionKind {
    Login,
    Logout,
    Lock,
    Unlock,
    SshLogin,
    SshLogout,
    ScreenShareStart,
    ScreenShareEnd,
    Sleep,
    Wake,
    /// A point-in-time observation that a user is logged in (osquery logged_in_users).
    UserPresent,
}

#[derive(Clone, Debug, bitcode::Encode, bitcode::Decode)]
pub struct Session {
    pub kind: SessionKind,
    pub user: Option<String>,
    pub uid: Option<u32>,
    pub tty: Option<String>,
    pub remote: Option<String>,
}
