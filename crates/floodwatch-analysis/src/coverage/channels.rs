//! Which AN0971 channels a host's telemetry makes observable, and through which sources.
//!
//! A format *can* show some capabilities; a file *does* when it produced the events that prove them (an
//! eslogger file with only fork events shows no argv). [`capabilities`] is the one table from format to
//! capabilities: a new format is one more arm.

use floodwatch_engine::observe::FileSeen;
use floodwatch_sources::Format;
use serde::Serialize;

/// What a source can contribute, finer than a channel: the verdict rules need to know, for instance,
/// that the unified log's volume covers Network.framework connections only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cap {
    /// Process creation with argv, parent and user (exec events).
    ExecArgv,
    /// The exec's controlling terminal is known (present or absent), not just unknown.
    Tty,
    /// Login, lock, unlock, ssh, screen sharing events.
    SessionEvents,
    /// Per-process outbound volume of every TCP/UDP socket (BSD sockets included).
    VolumeSockets,
    /// Per-process outbound volume of Network.framework connections only (unified-log summaries).
    VolumeNwFramework,
    /// Per-process connections without volume (osquery socket_events): joins only.
    Connections,
    /// Network-only flows: volume per address, no process (incl. ICMP and raw packets).
    Flows,
    /// ICMP packets attributed to a pid.
    IcmpPid,
}

/// The event kind (from [`FileSeen::kinds`]) that proves a capability in a file.
#[derive(Clone, Copy, Debug)]
enum Proof {
    ExecArgv,
    ExecTtyKnown,
    Session,
    TrafficPid,
    ConnectPid,
    TrafficNoPid,
    TrafficPidIcmp,
}

impl Proof {
    fn count(self, f: &FileSeen) -> u64 {
        let k = |n: &str| f.kinds.get(n).copied().unwrap_or(0);
        match self {
            Proof::ExecArgv => k("exec_argv"),
            Proof::ExecTtyKnown => k("exec_tty_known"),
            Proof::Session => k("session"),
            Proof::TrafficPid => k("traffic_pid") + k("traffic_pid_icmp"),
            Proof::ConnectPid => k("connect_pid"),
            Proof::TrafficNoPid => k("traffic_no_pid") + k("traffic_no_pid_icmp"),
            Proof::TrafficPidIcmp => k("traffic_pid_icmp"),
        }
    }
}

/// What each format can show, proven by which events, and what an analyst should know about it.
/// New formats from the sources crate are added here (and only here).
fn capabilities(format: Format) -> &'static [(Cap, Proof, &'static str)] {
    use Cap::*;
    match format {
        Format::Eslogger => &[
            (
                ExecArgv,
                Proof::ExecArgv,
                "exec with argv, parent, user, signing",
            ),
            (
                Tty,
                Proof::ExecTtyKnown,
                "controlling terminal of every exec",
            ),
            (
                SessionEvents,
                Proof::Session,
                "login, lock, ssh, screen sharing events",
            ),
        ],
        Format::NettopCsv | Format::NettopFixed => &[(
            VolumeSockets,
            Proof::TrafficPid,
            "TCP/UDP/QUIC bytes per process (no ICMP, no raw sockets; 15-character names)",
        )],
        Format::UnifiedLogNdjson | Format::UnifiedLogJson => &[
            (
                VolumeNwFramework,
                Proof::TrafficPid,
                "connection summaries per pid (Network.framework clients only)",
            ),
            (
                SessionEvents,
                Proof::Session,
                "loginwindow login, lock, unlock",
            ),
        ],
        Format::Osquery => &[
            (
                ExecArgv,
                Proof::ExecArgv,
                "exec with argv, parent, user (no tty)",
            ),
            (SessionEvents, Proof::Session, "logged-in users"),
            (
                Connections,
                Proof::ConnectPid,
                "connections per pid, no volume",
            ),
        ],
        Format::ZeekTsv | Format::ZeekJson => &[(
            Flows,
            Proof::TrafficNoPid,
            "flows per address incl. ICMP and raw packets, no process",
        )],
        // A capture proves per-process volume (and ICMP per pid) only when it carries Apple's process
        // information (tcpdump -k, PKTAP); otherwise it is flows per address.
        Format::Pcap | Format::Pcapng => &[
            (
                Flows,
                Proof::TrafficNoPid,
                "packets per sender, protocol and destination incl. ICMP, no process",
            ),
            (
                VolumeSockets,
                Proof::TrafficPid,
                "packets per pid from PKTAP process information (tcpdump -k)",
            ),
            (
                IcmpPid,
                Proof::TrafficPidIcmp,
                "ICMP packets per pid (PKTAP): the one source that attributes ping",
            ),
        ],
        Format::JamfProtect => &[
            (
                ExecArgv,
                Proof::ExecArgv,
                "exec with argv, parent, user, signing (BSM audit)",
            ),
            (
                Tty,
                Proof::ExecTtyKnown,
                "terminal id of an exec when the audit record has one",
            ),
            (
                SessionEvents,
                Proof::Session,
                "loginwindow login and logout, audit sessions",
            ),
            (
                Connections,
                Proof::ConnectPid,
                "connect() per pid, no volume",
            ),
        ],
        Format::JamfTelemetry => &[
            (
                ExecArgv,
                Proof::ExecArgv,
                "exec with argv, parent, user, signing (Endpoint Security)",
            ),
            (
                Tty,
                Proof::ExecTtyKnown,
                "controlling terminal of every exec",
            ),
            (
                SessionEvents,
                Proof::Session,
                "login, lock, ssh, screen sharing events",
            ),
        ],
        Format::ElasticDefend => &[
            (
                ExecArgv,
                Proof::ExecArgv,
                "exec with argv, parent, user, signing",
            ),
            (
                VolumeSockets,
                Proof::TrafficPid,
                "source.bytes per connection and pid (network content filter)",
            ),
            (
                Connections,
                Proof::ConnectPid,
                "connection attempts per pid",
            ),
        ],
    }
}

/// The capabilities a file proved, each with its note.
pub fn proven(format: Format, seen: Option<&FileSeen>) -> Vec<(Cap, &'static str)> {
    let Some(seen) = seen else {
        return Vec::new();
    };
    capabilities(format)
        .iter()
        .filter(|(_, proof, _)| proof.count(seen) > 0)
        .map(|(c, _, note)| (*c, *note))
        .collect()
}

/// ICMP with a pid proves [`Cap::IcmpPid`] whatever the format (kept out of the table above so that a
/// format mapping cannot forget it).
pub fn icmp_with_pid(seen: Option<&FileSeen>) -> bool {
    seen.is_some_and(|s| Proof::TrafficPidIcmp.count(s) > 0)
}

/// The five AN0971 channels the coverage report shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    ProcessCreation,
    ProcessVolume,
    SessionUi,
    NetworkFlows,
    IcmpAttribution,
}

impl Channel {
    pub const ALL: [Channel; 5] = [
        Channel::ProcessCreation,
        Channel::ProcessVolume,
        Channel::SessionUi,
        Channel::NetworkFlows,
        Channel::IcmpAttribution,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Channel::ProcessCreation => "process creation with argv, parent, user, tty",
            Channel::ProcessVolume => "per-process outbound volume",
            Channel::SessionUi => "session and UI context",
            Channel::NetworkFlows => "network-only flows",
            Channel::IcmpAttribution => "ICMP attributed to a process",
        }
    }

    /// The capabilities that make the channel observable (any of them).
    pub fn caps(self) -> &'static [Cap] {
        match self {
            Channel::ProcessCreation => &[Cap::ExecArgv],
            Channel::ProcessVolume => &[Cap::VolumeSockets, Cap::VolumeNwFramework],
            Channel::SessionUi => &[Cap::Tty, Cap::SessionEvents],
            Channel::NetworkFlows => &[Cap::Flows],
            Channel::IcmpAttribution => &[Cap::IcmpPid],
        }
    }

    /// What to add when the channel is missing.
    pub fn fix(self) -> &'static str {
        match self {
            Channel::ProcessCreation => "collect eslogger exec/fork/exit (or osquery es_process_events)",
            Channel::ProcessVolume => "collect nettop -L 0 -s 1 (per-process TCP/UDP bytes)",
            Channel::SessionUi => {
                "collect eslogger (tty, session events) or unified-log loginwindow messages"
            }
            Channel::NetworkFlows => "collect Zeek conn.log or a packet capture at a tap or gateway",
            Channel::IcmpAttribution => {
                "collect a PKTAP capture (tcpdump -k) or rely on ping's argv; nettop does not report ICMP"
            }
        }
    }
}
