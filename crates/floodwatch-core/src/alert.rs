//! What the engine hands to sinks: an alert that explains itself. Sinks render it (OCSF JSON, table,
//! report) and never reach back into engine state.

use crate::event::{Proto, SignatureClass, Tty};
use crate::respond::{CampaignRef, Playbook};
use crate::time::Ts;
use serde::Serialize;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[derive(bitcode::Encode, bitcode::Decode)]
pub enum AlertStatus {
    /// Still hot when the input ended (or, in `watch`, just opened).
    #[default]
    Open,
    /// An update while the episode lasts (`watch` only).
    Updated,
    /// Quiet for the configured quiet period.
    Closed,
}

impl AlertStatus {
    pub fn label(self) -> &'static str {
        match self {
            AlertStatus::Open => "open",
            AlertStatus::Updated => "updated",
            AlertStatus::Closed => "closed",
        }
    }
}

/// `Default` is for tests and builders: an empty alert to fill with `..Alert::default()`.
#[derive(Clone, Debug, Default, Serialize, bitcode::Encode, bitcode::Decode)]
pub struct Alert {
    /// Deterministic: a UUIDv5 of host, subject identity and episode start.
    pub id: String,
    pub host: String,
    pub status: AlertStatus,
    pub first_seen: Ts,
    pub last_seen: Ts,
    /// 0-100.
    pub score: u8,
    pub severity: Severity,
    /// Ordered, strongest first; each carries the number behind it.
    pub reasons: Vec<Reason>,
    pub metrics: Metrics,
    pub subject: SubjectView,
    pub context: ContextView,
    pub evidences: Vec<Evidence>,
    /// Per-window rates for charts: one point per BurstTimeWindow in the episode.
    pub timeline: Vec<WindowPoint>,
    /// Which thresholds judged this (absolute config thresholds until a baseline store exists).
    pub baseline: String,
    pub suppressed_by: Option<SuppressionHit>,
    /// Suppressions that matched but did not apply (expired, or rate above their ceiling).
    pub suppression_notes: Vec<String>,
    /// The campaign this alert is part of (several hosts, one destination, the same minutes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign: Option<CampaignRef>,
    /// What to do next: set by the respond stage (`floodwatch-respond`) before the sinks see it.
    pub playbook: Option<Playbook>,
    /// Facts the playbook is decided from that the rest of the alert does not show.
    #[serde(skip)]
    pub facts: AlertFacts,
}

/// What the engine knew when it wrote the alert, beyond what the alert shows: the respond stage
/// answers the playbook's decision points from these and the alert itself.
#[derive(Clone, Debug, Default, bitcode::Encode, bitcode::Decode)]
pub struct AlertFacts {
    /// When the subject exited, if an exit was seen (by the end of the data, in a hunt).
    pub exited: Option<Ts>,
    /// Some source on the host reports process exits (eslogger, osquery, Jamf): when false, "no exit
    /// seen" says nothing.
    pub exits_visible: bool,
    /// The host's last event time when the alert was written (end of data, in a hunt).
    pub host_last_event: Option<Ts>,
    /// The host's role from the roles file, when a baseline store or roles file is in use.
    pub role: Option<String>,
    /// The baseline's verdict, in numbers, when baselines were consulted.
    pub baseline: Option<BaselineFacts>,
    /// Inbound bytes from the episode's measured traffic samples, and how many samples there were.
    pub bytes_in: u64,
    pub traffic_samples: u64,
    /// The script (or `-c` text) the subject interpreter runs, when it is a script runner.
    pub script: Option<String>,
    /// The subject's effective uid, for `launchctl` domains.
    pub uid: Option<u32>,
    /// The tools the subject ran, by basename (`curl`), or the subject's own name: for role checks.
    pub tool: Option<String>,
    /// Who the subject is, as baselines key it: signing id (+ team), else path; scripts add their
    /// script. For "similar alerts" in the store.
    pub identity: String,
}

/// A baseline verdict in numbers (see the engine's `baseline::Judgement`).
#[derive(Clone, Debug, Default, bitcode::Encode, bitcode::Decode)]
pub struct BaselineFacts {
    /// `missing`, `immature` or `mature`.
    pub standing: String,
    pub identity: String,
    pub windows: u64,
    pub days: f64,
    /// The strongest signal's value over the baseline's p99, when there is a deviation.
    pub signal: Option<String>,
    pub ratio: Option<f64>,
    pub absorbed: bool,
}

/// How urgent a finding is. Which severity a finding gets is decided in one place, the engine's
/// `severity` module, for process alerts and network findings alike.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[derive(bitcode::Encode, bitcode::Decode)]
pub enum Severity {
    #[default]
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// OCSF severity_id.
    pub fn ocsf_id(self) -> u8 {
        match self {
            Severity::Informational => 1,
            Severity::Low => 2,
            Severity::Medium => 3,
            Severity::High => 4,
            Severity::Critical => 5,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Informational => "informational",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

#[derive(Clone, Debug, Serialize, bitcode::Encode, bitcode::Decode)]
pub struct Reason {
    /// Stable machine code, e.g. `spawn_rate`, `unattended`.
    pub code: String,
    /// Points this reason added to (or took from) the score.
    pub points: i32,
    /// Human sentence with the number behind it.
    pub text: String,
    pub value: Option<f64>,
    pub threshold: Option<f64>,
}

/// Peak and total figures over the episode.
#[derive(Clone, Debug, Default, Serialize, bitcode::Encode, bitcode::Decode)]
pub struct Metrics {
    pub window_secs: u64,
    pub hot_windows: u32,
    pub peak_packets_per_s: f64,
    pub peak_bytes_per_s: f64,
    pub peak_connections_per_s: f64,
    pub peak_spawns_per_s: f64,
    pub total_bytes_out: u64,
    pub total_packets_out: u64,
    pub total_spawns: u64,
    pub total_connections: u64,
    /// Share of outbound traffic or connections to the top destination (0-1), when destinations are known.
    pub top_destination: Option<String>,
    pub destination_share: Option<f64>,
    pub protocols: Vec<Proto>,
    /// Packets estimated from a declared command line (ping -f, -i) rather than measured.
    pub estimated_packets: bool,
    /// Located evidence items beyond `output.max_evidences` (counted, not listed).
    pub evidences_omitted: u64,
}

#[derive(Clone, Debug, Serialize, bitcode::Encode, bitcode::Decode)]
pub struct ProcessView {
    pub pid: i32,
    pub start_time: Option<Ts>,
    pub path: Option<String>,
    pub cmd_line: Option<String>,
    pub uid: Option<u32>,
    pub euid: Option<u32>,
    pub user: Option<String>,
    pub tty: Tty,
    pub signing_id: Option<String>,
    pub team_id: Option<String>,
    pub signature: SignatureClass,
}

impl Default for ProcessView {
    fn default() -> Self {
        ProcessView::unknown(0)
    }
}

impl ProcessView {
    /// A process known by pid only (every other fact unknown).
    pub fn unknown(pid: i32) -> ProcessView {
        ProcessView {
            pid,
            start_time: None,
            path: None,
            cmd_line: None,
            uid: None,
            euid: None,
            user: None,
            tty: crate::event::Tty::default(),
            signing_id: None,
            team_id: None,
            signature: crate::event::SignatureClass::Unknown,
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, bitcode::Encode, bitcode::Decode)]
pub struct SubjectView {
    /// `process` or `lineage_group` (a script or loop and the tools it spawned).
    pub kind: String,
    pub process: ProcessView,
    /// Parent chain, nearest first, up to launchd.
    pub parents: Vec<ProcessView>,
    /// Distinct tool images the group ran (e.g. `/usr/bin/curl`), with counts.
    pub children: Vec<(String, u64)>,
}

#[derive(Clone, Debug, Default, Serialize, bitcode::Encode, bitcode::Decode)]
pub struct ContextView {
    /// No TTY, no interactive responsible app, launched by launchd/cron/osascript or with the session locked.
    pub unattended: bool,
    /// How the subject was launched: `launchd_daemon`, `launchd_agent`, `cron`, `osascript`, `terminal`,
    /// `ssh`, `app`, `unknown`.
    pub launched_by: String,
    pub launch_chain: String,
    pub tty: Option<String>,
    /// Whether the telemetry could tell the TTY at all (eslogger can; nettop and the unified log
    /// cannot): when false, `tty: null` means unknown, not "no terminal".
    pub tty_known: bool,
    /// Whether someone was seen at this Mac's keyboard (a TTY from a local terminal).
    pub interactive: bool,
    /// A TTY that came through sshd: "remote session via sshd-session (tty ttys003)" (a remote
    /// login is not the local console). Omitted when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_session: Option<String>,
    pub responsible: Option<String>,
    pub session_state: String,
    pub root: bool,
    pub signature: Option<SignatureClass>,
    pub suspicious_path: Option<String>,
}

#[derive(Clone, Debug, Serialize, bitcode::Encode, bitcode::Decode)]
pub struct Evidence {
    /// `exec`, `traffic`, `connect`, `declared`.
    pub kind: String,
    pub time: Ts,
    pub pid: Option<i32>,
    /// The process's start time, when its source gave one (with the pid it names the lifetime).
    pub process_start: Option<Ts>,
    pub process: Option<String>,
    pub cmd_line: Option<String>,
    pub proto: Option<Proto>,
    pub remote: Option<String>,
    pub bytes_out: Option<u64>,
    pub packets_out: Option<u64>,
    /// Source file path and 1-based line.
    pub file: String,
    pub line: u64,
    /// The source format the file was read as (`eslogger`, `nettop-csv`...), when the run knows it.
    /// For the OCSF `metadata.log_provider`; not in the summary JSON.
    #[serde(skip)]
    pub format: Option<std::sync::Arc<str>>,
}

#[derive(Clone, Debug, Serialize, bitcode::Encode, bitcode::Decode)]
pub struct WindowPoint {
    pub start: Ts,
    pub packets_per_s: f64,
    pub bytes_per_s: f64,
    pub connections_per_s: f64,
    pub spawns_per_s: f64,
    pub hot: bool,
}

#[derive(Clone, Debug, Serialize, bitcode::Encode, bitcode::Decode)]
pub struct SuppressionHit {
    pub id: String,
    pub owner: String,
    pub reason: String,
    pub expires: String,
}

/// What a hunt concluded about one host, alerted or not: an analyst sees that a quiet host was looked
/// at, and how close its busiest subject came to a threshold.
#[derive(Clone, Debug, Default, Serialize, bitcode::Encode, bitcode::Decode)]
pub struct HostVerdict {
    pub host: String,
    pub events: u64,
    /// Event-time span of what was read for the host.
    pub first_event: Option<Ts>,
    pub last_event: Option<Ts>,
    /// Subjects whose windows were judged (processes or lineage groups with in-scope activity).
    pub subjects: u64,
    pub hot_windows: u64,
    pub alerts: u64,
    pub suppressed_alerts: u64,
    /// Windows hot by absolute thresholds that a mature baseline found normal for their identity.
    pub baseline_absorbed: u64,
    /// The highest value/threshold ratio of a window that stayed below every threshold.
    pub closest_ratio: Option<f64>,
    /// That window in words: "ping (pid 812): 0.03 tool execs/s (threshold 5/s) at 2025-09-16T...".
    pub closest: Option<String>,
}

/// A byte rate for people: "117 B/s", "12.5 kB/s", "60.2 MB/s".
pub fn fmt_bytes_rate(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.1} MB/s", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1} kB/s", v / 1e3)
    } else {
        format!("{v:.0} B/s")
    }
}
