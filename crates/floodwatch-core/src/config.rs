//! Every tunable, in one struct read from one TOML file. The defaults are the documented file
//! `config/floodwatch.toml`, compiled in, so the documentation and the behaviour cannot drift apart.

use crate::error::{Error, Result};
use serde::{Deserialize, Deserializer};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The documented default configuration, exactly as `floodwatch config --default` prints it.
pub const DEFAULT_TOML: &str = include_str!("../../../config/floodwatch.toml");

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub windows: Windows,
    pub input: Input,
    pub thresholds: Thresholds,
    pub protocol_weights: ProtocolWeights,
    pub byte_weights: ProtocolWeights,
    pub scope: Scope,
    pub scoring: Scoring,
    pub output: Output,
    pub baseline: BaselineSettings,
    pub store: Store,
    #[serde(default)]
    pub suppressions: Option<PathBuf>,
    /// Network-level findings from pid-less traffic (absent in older files: the defaults apply).
    #[serde(default)]
    pub network: Network,
    /// `floodwatch coverage`: gaps and clock skew between sources.
    #[serde(default)]
    pub coverage: Coverage,
    /// Playbooks: which destinations the organization owns, whose code counts as known, which tools
    /// each host role runs at volume.
    #[serde(default)]
    pub respond: Respond,
    /// Fleet-wide campaigns: several hosts flooding one destination at the same time.
    #[serde(default)]
    pub campaign: CampaignSettings,
    /// `floodwatch agent`: the sources it reads and supervises, the sinks it writes to.
    #[serde(default)]
    pub agent: Agent,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(bitcode::Encode, bitcode::Decode)]
pub struct Windows {
    #[serde(deserialize_with = "de_duration")]
    pub burst_time_window: Duration,
    #[serde(deserialize_with = "de_duration")]
    pub reorder_slack: Duration,
    #[serde(deserialize_with = "de_duration")]
    pub watch_reorder_slack: Duration,
    #[serde(deserialize_with = "de_duration")]
    pub quiet_period: Duration,
    #[serde(deserialize_with = "de_duration")]
    pub exited_retention: Duration,
    #[serde(deserialize_with = "de_duration")]
    pub traffic_exit_slack: Duration,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
#[derive(bitcode::Encode, bitcode::Decode)]
pub enum NettopMode {
    Auto,
    Cumulative,
    Delta,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    pub max_line_bytes: usize,
    #[serde(deserialize_with = "de_utc_offset")]
    pub nettop_utc_offset: i32,
    #[serde(deserialize_with = "de_duration")]
    pub nettop_interval: Duration,
    pub nettop_mode: NettopMode,
    /// The fastest a nettop counter can rise (bytes per second, per row): a jump beyond it is a
    /// counter glitch, rejected and kept out of every rate. Zeek conn.log rows are held to it too.
    pub nettop_max_bytes_per_s: f64,
    /// nettop rows read before the file's first header (a capture copied from a terminal
    /// mid-frame) are held, at most this many, until the header says what their columns are.
    pub nettop_rows_before_header: usize,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(bitcode::Encode, bitcode::Decode)]
pub struct Thresholds {
    pub tool_spawns_per_s: f64,
    pub packets_per_s: f64,
    pub bytes_per_s: f64,
    pub connections_per_s: f64,
    pub declared_packets_per_s: f64,
    pub declared_curl_urls: u64,
    pub destination_share: f64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(bitcode::Encode, bitcode::Decode)]
pub struct ProtocolWeights {
    pub icmp: f64,
    pub udp: f64,
    pub quic: f64,
    pub tcp: f64,
    pub other: f64,
    pub unknown: f64,
}

impl ProtocolWeights {
    pub fn weight(&self, p: crate::event::Proto) -> f64 {
        use crate::event::Proto::*;
        match p {
            Icmp => self.icmp,
            Udp => self.udp,
            Quic => self.quic,
            Tcp => self.tcp,
            Other => self.other,
            Unknown => self.unknown,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(bitcode::Encode, bitcode::Decode)]
pub struct Scope {
    pub network_tools: Vec<String>,
    pub script_runners: Vec<String>,
    pub include_non_platform: bool,
    pub platform_names: Vec<String>,
    pub suspicious_paths: Vec<String>,
    pub terminal_apps: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(bitcode::Encode, bitcode::Decode)]
pub struct Scoring {
    pub base_at_threshold: i32,
    pub base_per_doubling: i32,
    pub base_max: i32,
    pub declared_base: i32,
    pub unattended: i32,
    pub session_locked: i32,
    pub root: i32,
    pub declared_flood: i32,
    pub unsigned_or_adhoc: i32,
    pub suspicious_path: i32,
    /// Strings of a counted event were not valid UTF-8.
    pub invalid_utf8: i32,
    pub stateless_protocol: i32,
    pub concentrated_destination: i32,
    pub sustained_per_window: i32,
    pub sustained_max: i32,
    pub interactive: i32,
    /// A TTY that comes through sshd (a remote login, not the local console).
    pub remote_session: i32,
    pub baseline_deviation: i32,
    pub first_seen: i32,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Output {
    pub max_evidences: usize,
}

/// `[baseline]`: learning and judging per-identity baselines.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineSettings {
    #[serde(default)]
    pub roles: Option<PathBuf>,
    pub default_role: String,
    pub min_windows: u64,
    pub min_days: u64,
    #[serde(deserialize_with = "de_duration")]
    pub half_life: Duration,
    pub tolerance: f64,
    /// The most a baseline can raise an identity's bar: a hot window is absorbed only while every
    /// measured signal is at most `max_raise` × its absolute threshold.
    pub max_raise: f64,
}

/// `[store]`: the SQLite file for baselines, alerts and suppressions.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Store {
    pub db: PathBuf,
    #[serde(deserialize_with = "de_duration")]
    pub busy_timeout: Duration,
}

/// `[network]`: floods and scans judged from pid-less traffic per local address and target host.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[derive(bitcode::Encode, bitcode::Decode)]
pub struct Network {
    pub packets_per_s: f64,
    pub syn_per_s: f64,
    pub connections_per_s: f64,
    pub min_packets: u64,
    pub min_connections: u64,
    #[serde(deserialize_with = "de_duration")]
    pub min_span: Duration,
    pub scan_hosts: u64,
    pub scan_ports: u64,
    pub scan_max_packets_per_probe: f64,
    pub spray_min_packets: u64,
    pub two_way_ratio: f64,
    #[serde(deserialize_with = "de_duration")]
    pub reorder_slack: Duration,
    #[serde(deserialize_with = "de_duration")]
    pub join_slack: Duration,
    /// Flows (local address × target host) tracked per host at once; past it the quietest are evicted
    /// (counted in the summary) so a spoofed-source flood keeps memory bounded.
    pub max_flows: usize,
    /// An inbound flood note: at least this many distinct senders to one target in a window.
    pub inbound_min_senders: u64,
}

impl Default for Network {
    /// The documented defaults (config/floodwatch.toml); a test keeps the two equal.
    fn default() -> Self {
        Network {
            packets_per_s: 1000.0,
            syn_per_s: 500.0,
            connections_per_s: 20.0,
            min_packets: 1000,
            min_connections: 300,
            min_span: Duration::from_millis(100),
            scan_hosts: 20,
            scan_ports: 50,
            scan_max_packets_per_probe: 4.0,
            spray_min_packets: 5000,
            two_way_ratio: 0.5,
            reorder_slack: Duration::from_secs(300),
            join_slack: Duration::from_secs(30),
            max_flows: 262_144,
            inbound_min_senders: 100,
        }
    }
}

/// `[coverage]`: how `floodwatch coverage` judges gaps and clock skew.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Coverage {
    pub gap_factor: f64,
    #[serde(deserialize_with = "de_duration")]
    pub min_gap: Duration,
    #[serde(deserialize_with = "de_duration")]
    pub skew_tolerance: Duration,
}

impl Default for Coverage {
    /// The documented defaults (config/floodwatch.toml); a test keeps the two equal.
    fn default() -> Self {
        Coverage {
            gap_factor: 2.0,
            min_gap: Duration::from_secs(60),
            skew_tolerance: Duration::from_secs(2),
        }
    }
}

/// `[respond]`: what the playbook needs to know about the organization.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Respond {
    /// Address ranges the organization owns, each with the service name the playbook shows.
    pub owned_ranges: Vec<OwnedRange>,
    /// Domain suffixes of owned services (`corp.example.com` matches `api.corp.example.com`).
    pub owned_domains: Vec<OwnedDomain>,
    /// Team ids whose signed code counts as known (Apple's platform binaries always do).
    pub known_teams: Vec<String>,
    /// Per host role, the tools (executable or script basenames) expected to send at volume there.
    pub expected_tools: std::collections::BTreeMap<String, Vec<String>>,
    /// How the playbook names the tool that isolates a host (an MDM or EDR console).
    pub isolation_tool: String,
}

impl Default for Respond {
    /// The documented defaults (config/floodwatch.toml); a test keeps the two equal.
    fn default() -> Self {
        let tools = [
            "curl",
            "git",
            "python3",
            "xcodebuild",
            "swift",
            "ruby",
            "java",
        ];
        Respond {
            owned_ranges: Vec::new(),
            owned_domains: Vec::new(),
            known_teams: Vec::new(),
            expected_tools: [
                (
                    "build-agent".to_string(),
                    tools.iter().map(|t| t.to_string()).collect(),
                ),
                ("workstation".to_string(), Vec::new()),
            ]
            .into_iter()
            .collect(),
            isolation_tool: "your MDM/EDR console".into(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[derive(bitcode::Encode, bitcode::Decode)]
pub struct OwnedRange {
    /// `10.0.0.0/8`, `2001:db8::/32`, or one address.
    pub cidr: String,
    pub name: String,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[derive(bitcode::Encode, bitcode::Decode)]
pub struct OwnedDomain {
    pub suffix: String,
    pub name: String,
}

/// `[campaign]`: when several hosts' floods are one campaign.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[derive(bitcode::Encode, bitcode::Decode)]
pub struct CampaignSettings {
    /// Distinct hosts needed for a campaign.
    pub min_hosts: usize,
    /// IPv4 destinations are grouped by this prefix (32: the address alone).
    pub ipv4_prefix: u8,
    /// IPv6 destinations are grouped by this prefix (128: the address alone).
    pub ipv6_prefix: u8,
    /// Members' episodes overlap when they are at most this far apart.
    #[serde(deserialize_with = "de_duration")]
    pub overlap: Duration,
    /// Points a campaign adds to each member's score.
    pub score_bonus: u8,
}

impl Default for CampaignSettings {
    /// The documented defaults (config/floodwatch.toml); a test keeps the two equal.
    fn default() -> Self {
        CampaignSettings {
            min_hosts: 3,
            ipv4_prefix: 24,
            ipv6_prefix: 64,
            overlap: Duration::from_secs(60),
            score_bonus: 10,
        }
    }
}

/// `[agent]`: `floodwatch agent --config FILE` reads these sources into one engine and writes its
/// findings to these sinks. Sources and sinks are arrays of tables (`[[agent.source]]`,
/// `[[agent.sink]]`); `floodwatch agent --print-config` prints a documented one for a Mac.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    /// The host every source's events belong to (default: this machine's name).
    #[serde(default)]
    pub host: Option<String>,
    /// A live source silent this long no longer holds back the merge of the others, and the event
    /// clock then moves with wall time (as `watch` does).
    #[serde(deserialize_with = "de_duration")]
    pub tick: Duration,
    /// A command that exits is started again after this long, doubled after each quick exit...
    #[serde(deserialize_with = "de_duration")]
    pub restart_delay: Duration,
    /// ...up to this long. A command that ran longer than this before exiting starts again after
    /// `restart_delay`.
    #[serde(deserialize_with = "de_duration")]
    pub restart_delay_max: Duration,
    /// The agent's state file (SQLite): checkpoints (engine state, where each followed file was
    /// read to), what each sink has delivered, and the health `floodwatch agent status` reads. None:
    /// no checkpoints (a restart starts over) and no status.
    #[serde(default)]
    pub state: Option<PathBuf>,
    /// How often a checkpoint is written (and at a clean stop): what a crash can cost a command
    /// source, whose output cannot be read again.
    #[serde(deserialize_with = "de_duration")]
    pub checkpoint_interval: Duration,
    /// A live source that delivered nothing for this long is reported silent (a health finding), once
    /// per silence; 0s: never. A source's own `silence` overrides it.
    #[serde(deserialize_with = "de_duration")]
    pub silence: Duration,
    /// A command that had to be started again this many times within `crash_loop_window` is
    /// reported crash-looping (a health finding, at most once per window).
    pub crash_loop_restarts: u64,
    #[serde(deserialize_with = "de_duration")]
    pub crash_loop_window: Duration,
    /// Optional metrics endpoint (Prometheus text format) on a loopback address, e.g.
    /// "127.0.0.1:9184"; another address is refused. Port 0 lets the system pick one; the agent
    /// says where it listens on stderr (`floodwatch: agent: metrics: http://…/metrics`).
    #[serde(default)]
    pub metrics: Option<String>,
    #[serde(default, rename = "source")]
    pub sources: Vec<AgentSource>,
    /// Where findings go; none: `stdout`.
    #[serde(default, rename = "sink")]
    pub sinks: Vec<AgentSink>,
}

impl Default for Agent {
    /// The documented defaults (config/floodwatch.toml); a test keeps the two equal.
    fn default() -> Self {
        Agent {
            host: None,
            tick: Duration::from_secs(2),
            restart_delay: Duration::from_secs(1),
            restart_delay_max: Duration::from_secs(60),
            state: None,
            checkpoint_interval: Duration::from_secs(5),
            silence: Duration::from_secs(300),
            crash_loop_restarts: 5,
            crash_loop_window: Duration::from_secs(600),
            metrics: None,
            sources: Vec::new(),
            sinks: Vec::new(),
        }
    }
}

/// One `[[agent.source]]`: a command the agent starts and supervises (its stdout is the telemetry),
/// or a file it reads (and with `follow`, keeps reading as it grows, across rotation and truncation).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AgentSource {
    /// How the summary and every finding's evidence name this source (default: the command line or
    /// the path).
    #[serde(default)]
    pub name: Option<String>,
    /// Program and arguments (no shell): `["eslogger", "exec", "fork", "exit"]`.
    #[serde(default)]
    pub command: Option<Vec<String>>,
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// With `path`: keep reading what is appended, across rotation (a new file at the path) and
    /// truncation.
    #[serde(default)]
    pub follow: bool,
    /// The format (`eslogger`, `nettop-csv`, ... as the summary names them); default: sniffed from
    /// the first lines, as `hunt` and `watch` do.
    #[serde(default)]
    pub format: Option<String>,
    /// For dateless sources (nettop): the date (YYYY-MM-DD) its times of day are on. Default: a
    /// path source's date in its path or its modification time, else the current date (live).
    #[serde(default, deserialize_with = "de_opt_date")]
    pub date: Option<crate::Ts>,
    /// This source's silence limit (see `agent.silence`): a source that is quiet by nature (an
    /// osquery schedule every 10 minutes) gets a longer one.
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub silence: Option<Duration>,
}

/// One `[[agent.sink]]`, by `type`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum AgentSink {
    /// OCSF JSON lines on stdout.
    Stdout {},
    /// The SQLite store (default: `store.db`): alert states with their lifecycle, network floods.
    Store {
        #[serde(default)]
        path: Option<PathBuf>,
    },
    /// OCSF JSON lines appended to `path`; past `max_bytes` it is renamed `path.1` (`path.1` to
    /// `path.2`, ...) and a new one started; `keep` renamed files are kept.
    File {
        path: PathBuf,
        #[serde(default = "default_sink_max_bytes")]
        max_bytes: u64,
        #[serde(default = "default_sink_keep")]
        keep: usize,
    },
    /// RFC 5424 syslog: `transport` udp (`host:port`), tcp (`host:port`, octet counting) or unix
    /// (a socket path) at `address`; `facility` 0-23 (16, local0, by default).
    Syslog {
        transport: String,
        address: String,
        #[serde(default = "default_syslog_facility")]
        facility: u8,
    },
    /// An HTTP(S) POST per finding, signed with HMAC-SHA256 when `secret_file` is given, kept in the
    /// `spool` folder until the receiver answers 2xx (at most `spool_max_bytes`; more is dropped and
    /// counted).
    Webhook {
        url: String,
        #[serde(default)]
        secret_file: Option<PathBuf>,
        spool: PathBuf,
        #[serde(default = "default_spool_max_bytes")]
        spool_max_bytes: u64,
    },
    /// NATS JetStream (the fleet): every finding state to `floodwatch.findings.<host>`, and with
    /// `events` the normalized events to `floodwatch.events.<host>`, each publish acknowledged by
    /// the server; while it is unreachable they wait in the `spool` folder (at most
    /// `spool_max_bytes`; more is dropped and counted). `url` may list several servers,
    /// comma-separated.
    Nats {
        url: String,
        spool: PathBuf,
        #[serde(default = "default_spool_max_bytes")]
        spool_max_bytes: u64,
        #[serde(default)]
        events: bool,
    },
}

fn default_syslog_facility() -> u8 {
    16
}

fn default_spool_max_bytes() -> u64 {
    64 * 1024 * 1024
}

fn default_sink_max_bytes() -> u64 {
    100 * 1024 * 1024
}

fn default_sink_keep() -> usize {
    5
}

impl AgentSource {
    /// What the summary and evidence call it: its name, else its command line or path.
    pub fn label(&self) -> String {
        if let Some(n) = &self.name {
            return n.clone();
        }
        match (&self.command, &self.path) {
            (Some(c), _) => c.join(" "),
            (None, Some(p)) => p.display().to_string(),
            (None, None) => String::from("<no source>"),
        }
    }
}

impl Agent {
    /// The shape of each source and sink (that there are any is the agent's to check: a config for
    /// `hunt` has none).
    fn check(&self) -> std::result::Result<(), String> {
        if self.tick.is_zero() {
            return Err("agent.tick must be more than 0s".into());
        }
        if self.checkpoint_interval.is_zero() {
            return Err("agent.checkpoint_interval must be more than 0s".into());
        }
        if let Some(m) = &self.metrics {
            match m.parse::<std::net::SocketAddr>() {
                Ok(a) if a.ip().is_loopback() => {}
                _ => {
                    return Err(format!(
                        "agent.metrics {m:?} must be a loopback address and port, e.g. \"127.0.0.1:9184\""
                    ))
                }
            }
        }
        if self.restart_delay.is_zero() || self.restart_delay_max < self.restart_delay {
            return Err(
                "agent.restart_delay must be more than 0s and at most agent.restart_delay_max"
                    .into(),
            );
        }
        if matches!(&self.host, Some(h) if h.trim().is_empty()) {
            return Err(
                "agent.host must not be empty (leave it out for this machine's name)".into(),
            );
        }
        for (i, s) in self.sources.iter().enumerate() {
            let n = i + 1;
            match (&s.command, &s.path) {
                (Some(_), Some(_)) => {
                    return Err(format!(
                        "agent.source #{n}: give either command or path, not both"
                    ))
                }
                (None, None) => {
                    return Err(format!(
                        "agent.source #{n}: give command = [\"program\", \"arg\", ...] or path = \"FILE\""
                    ))
                }
                (Some(c), None) => {
                    if c.first().is_none_or(|p| p.trim().is_empty()) {
                        return Err(format!(
                            "agent.source #{n}: command is empty: name the program to run"
                        ));
                    }
                    if s.follow {
                        return Err(format!(
                            "agent.source #{n} ({}): follow is for path sources (a command is read as long as it runs)",
                            s.label()
                        ));
                    }
                }
                (None, Some(p)) => {
                    if p.as_os_str().is_empty() {
                        return Err(format!("agent.source #{n}: path is empty"));
                    }
                }
            }
            if matches!(&s.name, Some(x) if x.trim().is_empty()) {
                return Err(format!("agent.source #{n}: name must not be empty"));
            }
        }
        for (i, k) in self.sinks.iter().enumerate() {
            if let AgentSink::Nats { url, spool, .. } = k {
                if url.trim().is_empty() {
                    return Err(format!(
                        "agent.sink #{} (nats): url is empty: name the server (nats://host:4222)",
                        i + 1
                    ));
                }
                if spool.as_os_str().is_empty() {
                    return Err(format!("agent.sink #{} (nats): spool is empty", i + 1));
                }
            }
            if let AgentSink::File {
                path,
                max_bytes,
                keep: _,
            } = k
            {
                if path.as_os_str().is_empty() {
                    return Err(format!("agent.sink #{}: path is empty", i + 1));
                }
                if *max_bytes < 4096 {
                    return Err(format!(
                        "agent.sink #{} ({}): max_bytes must be at least 4096",
                        i + 1,
                        path.display()
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Lays `over` onto `base`, table by table; any other value replaces the default whole. Keys that
/// are not among the defaults are collected (dotted) for the error message.
fn overlay(base: &mut toml::Table, over: toml::Table, prefix: &str, new_keys: &mut Vec<String>) {
    for (k, v) in over {
        let name = format!("{prefix}{k}");
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => {
                overlay(b, o, &format!("{name}."), new_keys)
            }
            (existing, v) => {
                if existing.is_none() {
                    new_keys.push(name);
                }
                base.insert(k, v);
            }
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        // The compiled-in file is tested to parse (config::tests), so this cannot fail at run time.
        Config::from_toml_str(DEFAULT_TOML, Path::new("<built-in>"))
            .expect("built-in default config parses (tested)")
    }
}

impl Config {
    /// Reads a config file over the documented defaults: a file needs only the keys it changes
    /// ("copy it, change what you need"); a key the defaults do not know is an error naming it.
    pub fn from_toml_str(text: &str, path: &Path) -> Result<Config> {
        let bad = |message: String| Error::Config {
            path: path.to_path_buf(),
            message,
        };
        let user: toml::Table = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
        let mut merged: toml::Table = toml::from_str(DEFAULT_TOML).map_err(|e| Error::Config {
            path: PathBuf::from("<built-in>"),
            message: e.to_string(),
        })?;
        let mut new_keys = Vec::new();
        overlay(&mut merged, user, "", &mut new_keys);
        let cfg: Config = toml::Value::Table(merged)
            .try_into()
            .map_err(|e: toml::de::Error| {
                let msg = e.message().to_string();
                // serde names the unknown key but not its table: name the whole key from the file.
                match new_keys
                    .iter()
                    .find(|k| msg.contains(&format!("`{}`", k.rsplit('.').next().unwrap_or(k))))
                {
                    Some(k) if msg.starts_with("unknown field") => {
                        bad(format!("unknown key {k}: {msg}"))
                    }
                    _ => bad(msg),
                }
            })?;
        cfg.validate(path)?;
        Ok(cfg)
    }

    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("reading config {}", path.display()), e))?;
        Config::from_toml_str(&text, path)
    }

    fn validate(&self, path: &Path) -> Result<()> {
        let bad = |m: &str| {
            Err(Error::Config {
                path: path.to_path_buf(),
                message: m.to_string(),
            })
        };
        let w = self.windows.burst_time_window;
        if w < Duration::from_secs(1) || w > Duration::from_secs(3600) {
            return bad("windows.burst_time_window must be between 1s and 1h");
        }
        if w.subsec_nanos() != 0 {
            return bad("windows.burst_time_window must be whole seconds");
        }
        let t = &self.thresholds;
        for (name, v) in [
            ("tool_spawns_per_s", t.tool_spawns_per_s),
            ("packets_per_s", t.packets_per_s),
            ("bytes_per_s", t.bytes_per_s),
            ("connections_per_s", t.connections_per_s),
            ("declared_packets_per_s", t.declared_packets_per_s),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return bad(&format!("thresholds.{name} must be a positive number"));
            }
        }
        if !(self.baseline.tolerance.is_finite() && self.baseline.tolerance >= 1.0) {
            return bad(
                "baseline.tolerance must be a number of at least 1 (a multiple of the p99)",
            );
        }
        if !(self.baseline.max_raise.is_finite() && self.baseline.max_raise >= 1.0) {
            return bad(
                "baseline.max_raise must be a number of at least 1 (a multiple of the absolute thresholds)",
            );
        }
        if self.baseline.default_role.trim().is_empty() {
            return bad("baseline.default_role must not be empty");
        }
        if !(0.0..=1.0).contains(&t.destination_share) {
            return bad("thresholds.destination_share must be between 0 and 1");
        }
        let n = &self.network;
        for (name, v) in [
            ("packets_per_s", n.packets_per_s),
            ("syn_per_s", n.syn_per_s),
            ("connections_per_s", n.connections_per_s),
            ("scan_max_packets_per_probe", n.scan_max_packets_per_probe),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return bad(&format!("network.{name} must be a positive number"));
            }
        }
        if n.min_span.is_zero() || n.min_span > self.windows.burst_time_window {
            return bad(
                "network.min_span must be more than 0s and at most windows.burst_time_window",
            );
        }
        if n.scan_hosts < 2 || n.scan_ports < 2 {
            return bad("network.scan_hosts and network.scan_ports must be at least 2");
        }
        if !(self.coverage.gap_factor.is_finite() && self.coverage.gap_factor >= 1.0) {
            return bad("coverage.gap_factor must be at least 1");
        }
        if self.input.nettop_interval.is_zero() {
            return bad("input.nettop_interval must be more than 0s");
        }
        let ceiling = self.input.nettop_max_bytes_per_s;
        if !(ceiling.is_finite() && ceiling > 0.0) {
            return bad("input.nettop_max_bytes_per_s must be a positive number");
        }
        if self.input.max_line_bytes < 1024 {
            return bad("input.max_line_bytes must be at least 1024");
        }
        for r in &self.respond.owned_ranges {
            if crate::net::parse_cidr(&r.cidr).is_none() {
                return bad(&format!(
                    "respond.owned_ranges: {:?} is not an address range (10.0.0.0/8, 2001:db8::/32, or one address)",
                    r.cidr
                ));
            }
        }
        let c = &self.campaign;
        if c.min_hosts < 2 {
            return bad("campaign.min_hosts must be at least 2");
        }
        if c.ipv4_prefix > 32 || c.ipv6_prefix > 128 {
            return bad(
                "campaign.ipv4_prefix must be at most 32 and campaign.ipv6_prefix at most 128",
            );
        }
        self.agent.check().or_else(|m| bad(&m))
    }

    pub fn window_secs(&self) -> u64 {
        self.windows.burst_time_window.as_secs()
    }
}

/// Parses "30s", "500ms", "2m", "1h", "1.5s".
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (num, unit) = s.split_at(split);
    let v: f64 = num.parse().ok()?;
    let secs = match unit.trim() {
        "ms" => v / 1000.0,
        "s" => v,
        "m" => v * 60.0,
        "h" => v * 3600.0,
        "d" => v * 86400.0,
        _ => return None,
    };
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    Some(Duration::from_secs_f64(secs))
}

/// Parses "+05:30", "-07:00", "Z" into seconds east of UTC.
pub fn parse_utc_offset(s: &str) -> Option<i32> {
    let s = s.trim();
    if s == "Z" || s == "UTC" {
        return Some(0);
    }
    let b = s.as_bytes();
    if b.len() != 6 || b[3] != b':' || !(b[0] == b'+' || b[0] == b'-') {
        return None;
    }
    let h: i32 = s[1..3].parse().ok()?;
    let m: i32 = s[4..6].parse().ok()?;
    if h > 14 || m > 59 {
        return None;
    }
    let v = h * 3600 + m * 60;
    Some(if b[0] == b'-' { -v } else { v })
}

fn de_duration<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    parse_duration(&s).ok_or_else(|| {
        serde::de::Error::custom(format!("invalid duration {s:?} (write e.g. \"30s\")"))
    })
}

fn de_opt_duration<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Duration>, D::Error> {
    de_duration(d).map(Some)
}

fn de_opt_date<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<crate::Ts>, D::Error> {
    let s = String::deserialize(d)?;
    crate::time::parse_date(&s)
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom(format!("invalid date {s:?} (write YYYY-MM-DD)")))
}

fn de_utc_offset<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<i32, D::Error> {
    let s = String::deserialize(d)?;
    parse_utc_offset(&s).ok_or_else(|| {
        serde::de::Error::custom(format!("invalid UTC offset {s:?} (write e.g. \"+05:30\")"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_default_parses_with_documented_values() {
        let c = Config::from_toml_str(DEFAULT_TOML, Path::new("default")).unwrap();
        assert_eq!(c.windows.burst_time_window, Duration::from_secs(30));
        assert_eq!(c.thresholds.tool_spawns_per_s, 5.0);
        assert!(c.scope.network_tools.iter().any(|t| t == "curl"));
        // The Rust defaults for tables an older file may lack are the documented ones.
        assert_eq!(c.network, Network::default());
        assert_eq!(c.coverage, Coverage::default());
        assert_eq!(c.campaign, CampaignSettings::default());
        assert_eq!(c.respond, Respond::default());
        assert_eq!(c.agent, Agent::default());
    }

    #[test]
    fn agent_sources_and_sinks_parse_and_are_checked() {
        let c = Config::from_toml_str(
            "[agent]\nhost = \"mac-01\"\n[[agent.source]]\ncommand = [\"eslogger\", \"exec\"]\n\
             [[agent.source]]\npath = \"/var/log/x.log\"\nfollow = true\ndate = \"2025-09-16\"\n\
             [[agent.sink]]\ntype = \"stdout\"\n[[agent.sink]]\ntype = \"file\"\npath = \"/tmp/f.jsonl\"\nkeep = 2\n",
            Path::new("agent"),
        )
        .unwrap();
        let a = &c.agent;
        assert_eq!(a.host.as_deref(), Some("mac-01"));
        assert_eq!(a.tick, Duration::from_secs(2), "defaults kept");
        assert_eq!(a.sources.len(), 2);
        assert_eq!(a.sources[0].label(), "eslogger exec");
        assert!(a.sources[1].follow);
        assert_eq!(a.sources[1].date, crate::time::parse_date("2025-09-16"));
        assert_eq!(
            a.sinks[1],
            AgentSink::File {
                path: "/tmp/f.jsonl".into(),
                max_bytes: 100 * 1024 * 1024,
                keep: 2
            }
        );
        let err = |t: &str| {
            Config::from_toml_str(t, Path::new("bad"))
                .unwrap_err()
                .to_string()
        };
        let e = err("[[agent.source]]\ncommand = []\n");
        assert!(e.contains("command is empty"), "{e}");
        let e = err("[[agent.source]]\ncommand = [\"a\"]\npath = \"b\"\n");
        assert!(e.contains("not both"), "{e}");
        let e = err("[[agent.source]]\nfollow = true\n");
        assert!(e.contains("give command"), "{e}");
        let e = err("[[agent.source]]\ncommand = [\"a\"]\nfolow = true\n");
        assert!(e.contains("unknown field `folow`"), "{e}");
        let e = err("[[agent.sink]]\ntype = \"syslg\"\n");
        assert!(e.contains("syslg"), "{e}");
        let e = err("[[agent.sink]]\ntype = \"stdout\"\npath = \"x\"\n");
        assert!(e.contains("unknown field `path`"), "{e}");
        let e = err("[[agent.sink]]\ntype = \"file\"\n");
        assert!(e.contains("path"), "{e}");
        let e = err("[[agent.source]]\npath = \"x\"\ndate = \"16/09/2025\"\n");
        assert!(e.contains("invalid date"), "{e}");
        let e = err("[agent]\ntick = \"0s\"\n");
        assert!(e.contains("agent.tick"), "{e}");
    }

    #[test]
    fn files_without_network_or_coverage_tables_still_load() {
        let cut = DEFAULT_TOML
            .split("\n[network]")
            .next()
            .unwrap()
            .to_string();
        let c = Config::from_toml_str(&cut, Path::new("old")).unwrap();
        assert_eq!(c.network, Network::default());
        let bad = DEFAULT_TOML.replace("syn_per_s = 500.0", "syn_per_s = 0.0");
        let e = Config::from_toml_str(&bad, Path::new("x"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("network.syn_per_s"), "{e}");
    }

    #[test]
    fn fifteen_second_window_and_bad_values() {
        let txt =
            DEFAULT_TOML.replace("burst_time_window = \"30s\"", "burst_time_window = \"15s\"");
        let c = Config::from_toml_str(&txt, Path::new("x")).unwrap();
        assert_eq!(c.window_secs(), 15);
        let bad = DEFAULT_TOML.replace("packets_per_s = 1000.0", "packets_per_s = -1.0");
        let e = Config::from_toml_str(&bad, Path::new("x"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("packets_per_s"), "{e}");
        let typo = format!("{DEFAULT_TOML}\n[extra]\nx = 1\n");
        assert!(Config::from_toml_str(&typo, Path::new("x")).is_err());
    }

    #[test]
    fn a_partial_file_takes_the_defaults_for_the_rest() {
        let c = Config::from_toml_str(
            "[windows]\nburst_time_window = \"15s\"\n\n[thresholds]\npackets_per_s = 2000.0\n",
            Path::new("partial"),
        )
        .unwrap();
        assert_eq!(c.window_secs(), 15);
        assert_eq!(c.thresholds.packets_per_s, 2000.0);
        let d = Config::default();
        assert_eq!(
            c.thresholds.tool_spawns_per_s,
            d.thresholds.tool_spawns_per_s
        );
        assert_eq!(c.windows.reorder_slack, d.windows.reorder_slack);
        assert_eq!(c.scope.network_tools, d.scope.network_tools);
        // An empty file is the defaults.
        let e = Config::from_toml_str("", Path::new("empty")).unwrap();
        assert_eq!(e.window_secs(), d.window_secs());
    }

    #[test]
    fn an_unknown_key_is_named_with_its_table() {
        let e = Config::from_toml_str("[thresholds]\npackets_per_sec = 5.0\n", Path::new("typo"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("thresholds.packets_per_sec"), "{e}");
        let e = Config::from_toml_str("[windwos]\nx = 1\n", Path::new("typo"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("windwos"), "{e}");
        // A wrong type in a partial file is still an error.
        let e = Config::from_toml_str("[thresholds]\npackets_per_s = \"many\"\n", Path::new("t"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("packets_per_s") || e.contains("invalid type"),
            "{e}"
        );
    }

    #[test]
    fn owned_ranges_and_campaign_settings_are_checked() {
        let c = Config::from_toml_str(
            "[respond]\nowned_ranges = [{ cidr = \"10.20.0.0/16\", name = \"payments API\" }, { cidr = \"192.0.2.10\", name = \"status\" }]\n[respond.expected_tools]\nci = [\"curl\"]\n",
            Path::new("owned"),
        )
        .unwrap();
        assert_eq!(c.respond.owned_ranges.len(), 2);
        // A table overlays the defaults key by key: the built-in roles stay.
        assert!(c.respond.expected_tools.contains_key("build-agent"));
        assert_eq!(c.respond.expected_tools["ci"], ["curl"]);
        let e = Config::from_toml_str(
            "[respond]\nowned_ranges = [{ cidr = \"10.0.0.0/33\", name = \"x\" }]\n",
            Path::new("bad"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("\"10.0.0.0/33\" is not an address range"), "{e}");
        let e = Config::from_toml_str("[campaign]\nmin_hosts = 1\n", Path::new("bad"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("campaign.min_hosts must be at least 2"), "{e}");
    }

    #[test]
    fn durations_and_offsets() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("abc"), None);
        assert_eq!(parse_utc_offset("+05:30"), Some(19800));
        assert_eq!(parse_utc_offset("-07:00"), Some(-25200));
        assert_eq!(parse_utc_offset("0530"), None);
    }
}
