//! Every command-line flag, in one place (ripgrep's model): the commands and their arguments, and the
//! flags several commands share, each defined once and documented where it is defined. Nothing here
//! runs anything; `commands/` does.

mod store;

pub use store::{AddArgs, AlertsCmd, BaselineCmd, MarkArgs, StoreArgs, SuppressCmd, TuneCmd};

use clap::{Args, Parser, Subcommand, ValueEnum};
use floodwatch_core::Ts;
use floodwatch_runtime::default_threads;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "floodwatch",
    version,
    about = "Detect outbound network floods from macOS endpoints (ATT&CK AN0971, T1498.001)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand)]
pub enum Cmd {
    /// Hunt collected telemetry files or folders (one folder per host).
    Hunt(HuntArgs),
    /// Learn and show per-identity baselines (in the store).
    #[command(subcommand)]
    Baseline(BaselineCmd),
    /// Tuning from the store: propose suppressions for recurring benign automation.
    #[command(subcommand)]
    Tune(TuneCmd),
    /// Manage suppressions in the store (owner, reason and expiry required; hits counted).
    #[command(subcommand)]
    Suppress(SuppressCmd),
    /// Alerts in the store: list, show, and mark (acknowledged, false positive).
    #[command(subcommand)]
    Alerts(AlertsCmd),
    /// Hunt labelled telemetry and score the alerts against the labels: precision, recall and F1 per
    /// family, time to detect, false alerts per host-day, the worst misses.
    Eval(EvalArgs),
    /// Write a simulated fleet (one folder per host, in the real formats) and its labels.jsonl.
    Simulate(SimulateArgs),
    /// The tour: simulate a small fleet day, hunt it, show the alerts and how they score against the
    /// ground truth, and write an incident report (Markdown and HTML).
    Demo(DemoArgs),
    /// What the collected telemetry lets AN0971 see: channels and their sources, time span, gaps,
    /// clock skew and rejected lines per source, attribution shares, and a verdict per attack path.
    /// Also prints a bounded lab self-test (--selftest-plan) and checks its telemetry (--selftest-check).
    Coverage(CoverageArgs),
    /// Read one telemetry stream from stdin and print alerts as they happen.
    Watch(WatchArgs),
    /// Print or check configuration.
    Config(ConfigArgs),
    /// Generate detection content for a SIEM from the config (Sigma with correlations, ES|QL with
    /// a detection-rules TOML, SPL, KQL, an osquery pack), each file with a header saying which of
    /// the engine's signals it keeps and which it loses.
    Export(ExportArgs),
    /// The triage web UI and JSON API over the store: the queue, each alert with its reasons and
    /// history, and acknowledge / false positive / un-mark with who and why.
    Serve(ServeArgs),
    /// Run on a Mac: every configured source (commands it supervises, files it follows) into one
    /// engine, findings to the configured sinks as they happen.
    Agent(AgentArgs),
    /// Write a telemetry file's lines to stdout, at a fixed rate or with their original pacing (a
    /// stand-in for eslogger or nettop when rehearsing the agent).
    Replay(ReplayArgs),
    /// The fleet on NATS JetStream: publish collections' events, workers that run the engine over
    /// partitions of hosts, a collector of every finding into the store.
    #[command(subcommand)]
    Fleet(FleetCmd),
}

// ---- flags shared by several commands ----

/// `--config`: every tunable; without it the built-in defaults.
#[derive(Args, Clone, Debug, Default)]
pub struct ConfigFlag {
    /// Config file (TOML); the built-in defaults are `floodwatch config --default`.
    #[arg(long, env = "FLOODWATCH_CONFIG")]
    pub config: Option<PathBuf>,
}

/// How inputs are placed: their host and, for dateless sources, their date.
#[derive(Args, Clone, Debug, Default)]
pub struct InputFlags {
    /// Host name for every input, instead of the holding directory or the records' own.
    #[arg(long, value_parser = parse_host)]
    pub host: Option<String>,
    /// Date (YYYY-MM-DD) for nettop files that nothing nearer dates: the last resort after dated
    /// sources in the same folder, a date in the folder or file name, and the file's modification time
    /// (so: streams, mostly).
    #[arg(long, value_parser = parse_date)]
    pub date: Option<Ts>,
}

/// `--threads`.
#[derive(Args, Clone, Copy, Debug)]
pub struct ThreadsFlag {
    /// Worker threads (hosts are processed in parallel; default: one per core).
    #[arg(long, default_value_t = default_threads())]
    pub threads: usize,
}

/// What a detection run (hunt, eval, watch) is judged with and printed as.
#[derive(Args, Clone, Debug)]
pub struct Common {
    #[command(flatten)]
    pub config: ConfigFlag,
    /// Suppressions file (TOML), overriding the config's `suppressions`.
    #[arg(long)]
    pub suppressions: Option<PathBuf>,
    /// Output format (default: table on a terminal, jsonl otherwise).
    #[arg(long, value_enum)]
    pub format: Option<OutFormat>,
    #[command(flatten)]
    pub input: InputFlags,
}

/// `--db` and `--roles` of a detection run.
#[derive(Args, Clone, Debug)]
pub struct DbFlags {
    /// Use the store: judge against its baselines, apply its suppressions, record the alerts and
    /// their lifecycle. `--db` alone uses the config's store.db (floodwatch.db).
    #[arg(long)]
    pub db: Option<Option<PathBuf>>,
    /// Host roles file (hostname glob → role) for baselines; default: the config's baseline.roles.
    #[arg(long, requires = "db")]
    pub roles: Option<PathBuf>,
}

impl DbFlags {
    /// The store asked for: None without `--db`, an empty path for a bare `--db` (the config's store).
    pub fn store(&self) -> Option<&std::path::Path> {
        self.db
            .as_ref()
            .map(|p| p.as_deref().unwrap_or(std::path::Path::new("")))
    }
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum OutFormat {
    /// One OCSF Detection Finding (class 2004) per line.
    Jsonl,
    /// Readable table (default on a terminal).
    Table,
    /// One Elastic Common Schema alert document per line (event.kind alert, rule, threat, host,
    /// process with parent, destination, source.bytes, user).
    Ecs,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum ExportTarget {
    /// Sigma rules (macOS process_creation) and Sigma correlation rules.
    Sigma,
    /// ES|QL queries, each also as an Elastic detection-rules TOML file.
    Esql,
    /// Splunk SPL over raw eslogger JSON, the CIM Endpoint data model and nettop CSV.
    Spl,
    /// KQL for Microsoft Sentinel / Defender (DeviceProcessEvents, DeviceNetworkEvents).
    Kql,
    /// osquery SQL over es_process_events, and a query pack.
    Osquery,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum CoverageFormat {
    /// Markdown.
    Md,
    Json,
    /// A self-contained page (inline CSS, no script).
    Html,
}

// ---- one struct per command ----

#[derive(Args)]
pub struct HuntArgs {
    /// Files or folders to read; formats are detected from content.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub common: Common,
    /// Write the per-file summary as JSON here.
    #[arg(long)]
    pub summary_json: Option<PathBuf>,
    #[command(flatten)]
    pub threads: ThreadsFlag,
    /// Write alerts here instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Also write an incident report: PREFIX.md and PREFIX.html (self-contained, with a chart of
    /// each alert's rate against its threshold).
    #[arg(long)]
    pub report: Option<PathBuf>,
    #[command(flatten)]
    pub db: DbFlags,
}

#[derive(Args)]
pub struct EvalArgs {
    /// Files or folders to hunt (e.g. a folder written by `floodwatch simulate`).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Labels (JSON lines); default: labels.jsonl in the first folder given.
    #[arg(long)]
    pub labels: Option<PathBuf>,
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub threads: ThreadsFlag,
    /// Write the evaluation as JSON to this file (instead of Markdown on stdout).
    #[arg(long)]
    pub json: Option<PathBuf>,
}

#[derive(Args)]
pub struct SimulateArgs {
    /// Folder to write (created).
    pub dir: PathBuf,
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u16).range(1..))]
    pub hosts: u16,
    /// Hosts that get one attack each (default: a third of them).
    #[arg(long)]
    pub attack_hosts: Option<usize>,
    /// No attack at all (a benign fleet, for false-alert rates).
    #[arg(long)]
    pub benign_only: bool,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Simulated duration, e.g. 24h, 90m.
    #[arg(long, default_value = "24h", value_parser = parse_span)]
    pub duration: std::time::Duration,
    /// First day (YYYY-MM-DD, UTC).
    #[arg(long, value_parser = parse_date)]
    pub date: Option<Ts>,
    /// Days to write, one after another: each host repeats its routine every day; attacks run on the
    /// last day only.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=366))]
    pub days: u32,
    /// Folders: host (DIR/HOST/), host-date (DIR/HOST/YYYY-MM-DD/) or date-host
    /// (DIR/YYYY-MM-DD/HOST/). Default: host for one day, host-date for more.
    #[arg(long, value_parser = ["host", "host-date", "date-host"])]
    pub layout: Option<String>,
    /// Instead of a fleet: a campaign of this many hosts (mac-01..), each running the same LaunchAgent
    /// curl loop against one address within a minute (eslogger and nettop per host).
    #[arg(long, value_parser = clap::value_parser!(u16).range(2..=99), conflicts_with_all = ["days", "layout", "benign_only", "attack_hosts"])]
    pub campaign: Option<u16>,
    /// With --campaign: the address they flood (one per host, comma-separated, for unrelated floods).
    #[arg(long, default_value = "203.0.113.77", requires = "campaign")]
    pub campaign_target: String,
}

#[derive(Args)]
pub struct DemoArgs {
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u16).range(1..))]
    pub hosts: u16,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Report files to write: PREFIX.md and PREFIX.html.
    #[arg(long, default_value = "floodwatch-demo-report")]
    pub report: PathBuf,
    /// Keep the simulated fleet in this folder (default: a temporary folder, removed after).
    #[arg(long)]
    pub keep: Option<PathBuf>,
}

#[derive(Args)]
pub struct CoverageArgs {
    /// Files or folders to read, as `hunt` reads them (not needed for --selftest-plan).
    pub paths: Vec<PathBuf>,
    /// Report format.
    #[arg(long, value_enum, default_value_t = CoverageFormat::Md)]
    pub format: CoverageFormat,
    /// Write the report here instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Also keep the report in this store, where `serve` shows the newest one.
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Print the self-test commands for a lab target, with the evidence each must leave.
    #[arg(long, conflicts_with = "selftest_check")]
    pub selftest_plan: bool,
    /// Check the telemetry of a self-test run, step by step (exit 1 when a step fails).
    #[arg(long)]
    pub selftest_check: bool,
    /// The lab address the self-test targets (private, loopback or link-local only).
    #[arg(long)]
    pub target: Option<String>,
    #[command(flatten)]
    pub config: ConfigFlag,
    #[command(flatten)]
    pub input: InputFlags,
    #[command(flatten)]
    pub threads: ThreadsFlag,
}

#[derive(Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub db: DbFlags,
}

#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Where to listen. Any address but loopback needs --token-file.
    #[arg(long, default_value = "127.0.0.1:8480")]
    pub listen: std::net::SocketAddr,
    /// A file holding the token requests must present (Authorization: Bearer, or the cookie
    /// `/?token=` sets).
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// The agent's state file, for the health page (default: the config's `agent.state`).
    #[arg(long)]
    pub agent_state: Option<PathBuf>,
}

#[derive(Args)]
pub struct ExportArgs {
    /// What to generate.
    #[arg(long, value_enum)]
    pub to: ExportTarget,
    #[command(flatten)]
    pub config: ConfigFlag,
    /// Suppressions file (TOML), overriding the config's `suppressions`: entries without a rate
    /// ceiling become filters, the others are listed in the header as kept out.
    #[arg(long)]
    pub suppressions: Option<PathBuf>,
    /// Folder to write the files to (created); without it every file goes to stdout, each after a
    /// `==> NAME <==` line.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

#[derive(Args)]
pub struct ConfigArgs {
    /// Print the documented default configuration.
    #[arg(long)]
    pub default: bool,
    /// Check a config file and report the first error.
    #[arg(long)]
    pub check: Option<PathBuf>,
}

#[derive(Args)]
#[command(subcommand_negates_reqs = true, args_conflicts_with_subcommands = true)]
pub struct AgentArgs {
    #[command(subcommand)]
    pub action: Option<AgentAction>,
    /// The agent's config: any floodwatch config plus an [agent] section with its sources and sinks
    /// (`--print-config` prints one for a Mac). With `--print-launchd-plist`: the path the plist
    /// gives the agent (default /etc/floodwatch/agent.toml; a relative path is made absolute).
    #[arg(
        long,
        env = "FLOODWATCH_CONFIG",
        required_unless_present_any = ["print_config", "print_launchd_plist"]
    )]
    pub config: Option<PathBuf>,
    /// Run until every source has ended (commands are not restarted; followed files are read to
    /// their current end), then write the findings exactly as `hunt` does, and exit.
    #[arg(long)]
    pub once: bool,
    /// Print a documented agent config for a Mac (eslogger, nettop, log stream; stdout and file
    /// sinks) and exit.
    #[arg(long, conflicts_with_all = ["config", "once"])]
    pub print_config: bool,
    /// Print a LaunchDaemon plist (label com.floodwatch.agent, for /Library/LaunchDaemons/) that
    /// runs `BINARY agent --config PATH` as root at boot and again whenever it exits, with its
    /// stdout and stderr in /var/log/floodwatch/, and exit.
    #[arg(long, conflicts_with_all = ["once", "print_config", "suppressions", "summary_json"])]
    pub print_launchd_plist: bool,
    /// With `--print-launchd-plist`: the floodwatch binary the plist starts (default
    /// /usr/local/bin/floodwatch; a relative path is made absolute).
    #[arg(long, value_name = "PATH", requires = "print_launchd_plist")]
    pub binary: Option<PathBuf>,
    /// Suppressions file (TOML), overriding the config's `suppressions`.
    #[arg(long)]
    pub suppressions: Option<PathBuf>,
    /// Write the run summary (per source) as JSON here when the agent ends.
    #[arg(long)]
    pub summary_json: Option<PathBuf>,
    /// Also record every finding in this store (as a `type = "store"` sink would), for `serve`,
    /// `alerts` and `tune`.
    #[arg(long)]
    pub db: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum AgentAction {
    /// Print the health a running (or the last) agent wrote to its state file: per source lines,
    /// events, rejects, lag, restarts, silence, and the open health findings.
    Status(AgentStatusArgs),
}

#[derive(Args)]
pub struct AgentStatusArgs {
    /// The agent's config (its `agent.state` names the state file).
    #[arg(long, env = "FLOODWATCH_CONFIG", required_unless_present = "state")]
    pub config: Option<PathBuf>,
    /// The state file itself.
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Print the health as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("pacing").args(["rate", "pace"])))]
pub struct ReplayArgs {
    /// The file to replay (gzip and zstd are decompressed).
    pub file: PathBuf,
    /// Lines per second (default: as fast as the reader takes them).
    #[arg(long, value_parser = parse_positive)]
    pub rate: Option<f64>,
    /// Keep the records' own pacing, this many times faster (1: real time).
    #[arg(long, value_parser = parse_positive)]
    pub pace: Option<f64>,
}

fn parse_positive(s: &str) -> Result<f64, String> {
    s.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v > 0.0)
        .ok_or_else(|| format!("{s:?} is not a positive number"))
}

fn parse_span(s: &str) -> Result<std::time::Duration, String> {
    floodwatch_core::config::parse_duration(s)
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("{s:?} is not a duration (like 24h, 90m)"))
}

/// An empty `--host` would merge every input into one nameless host.
pub(crate) fn parse_host(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        return Err("a host name cannot be empty".into());
    }
    Ok(s.to_string())
}

pub(crate) fn parse_date(s: &str) -> Result<Ts, String> {
    floodwatch_core::time::parse_date(s).ok_or_else(|| format!("{s:?} is not a date (YYYY-MM-DD)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// clap's own consistency checks (duplicate ids, `requires` naming a flag that exists, ...).
    #[test]
    fn the_flags_are_consistent() {
        Cli::command().debug_assert();
    }

    /// `fleet worker --partitions` is one value (a list, ranges expanded), read back as its type.
    #[test]
    fn worker_partitions_parse_as_one_list() {
        let cli =
            Cli::try_parse_from(["floodwatch", "fleet", "worker", "--partitions", "5-7,0,2,6"])
                .unwrap();
        let Cmd::Fleet(FleetCmd::Worker(w)) = cli.cmd else {
            panic!("not a fleet worker");
        };
        assert_eq!(w.partitions.unwrap().0, [0, 2, 5, 6, 7]);
        assert!(
            Cli::try_parse_from(["floodwatch", "fleet", "worker", "--partitions", "3-1"]).is_err()
        );
    }

    #[test]
    fn shared_flags_parse_the_same_in_every_command() {
        let hunt = Cli::try_parse_from([
            "floodwatch",
            "hunt",
            "x",
            "--threads",
            "3",
            "--db",
            "--roles",
            "r.toml",
        ])
        .unwrap();
        let Cmd::Hunt(h) = hunt.cmd else {
            panic!("not hunt")
        };
        assert_eq!(h.threads.threads, 3);
        assert_eq!(
            h.db.store(),
            Some(std::path::Path::new("")),
            "bare --db: the config's store"
        );
        let named = Cli::try_parse_from(["floodwatch", "watch", "--db", "fw.db"]).unwrap();
        let Cmd::Watch(w) = named.cmd else {
            panic!("not watch")
        };
        assert_eq!(w.db.store(), Some(std::path::Path::new("fw.db")));
        let cov = Cli::try_parse_from([
            "floodwatch",
            "coverage",
            "x",
            "--threads",
            "5",
            "--date",
            "2025-09-16",
        ])
        .unwrap();
        let Cmd::Coverage(c) = cov.cmd else {
            panic!("not coverage")
        };
        assert_eq!(c.threads.threads, 5);
        assert!(c.input.date.is_some());
        assert!(
            Cli::try_parse_from(["floodwatch", "watch", "--roles", "r.toml"]).is_err(),
            "--roles needs --db"
        );
        assert!(Cli::try_parse_from(["floodwatch", "hunt", "x", "--date", "16/09/2025"]).is_err());
        for cmd in [
            &["hunt", "x"][..],
            &["watch"],
            &["coverage", "x"],
            &["baseline", "learn", "x"],
        ] {
            let mut argv = vec!["floodwatch"];
            argv.extend_from_slice(cmd);
            argv.extend_from_slice(&["--host", ""]);
            assert!(
                Cli::try_parse_from(&argv).is_err(),
                "{argv:?} took an empty host"
            );
        }
    }
}

// ---- fleet ----

/// `--nats`: the server (several comma-separated).
#[derive(Args, Clone, Debug)]
pub struct NatsFlag {
    /// NATS server URL (several comma-separated).
    #[arg(
        long = "nats",
        env = "FLOODWATCH_NATS",
        default_value = "nats://127.0.0.1:4222"
    )]
    pub url: String,
}

#[derive(Subcommand)]
pub enum FleetCmd {
    /// Print a nats-server config for the fleet: JetStream, and the subject mapping that puts each
    /// host in one of N partitions.
    ServerConfig(FleetServerConfigArgs),
    /// Create (or bring up to date) the fleet's streams, buckets and object store on the server,
    /// and check the server's partition mapping.
    Setup(FleetSetupArgs),
    /// Publish a collection's events, read exactly as `hunt` reads it, host by host in time order.
    Publish(FleetPublishArgs),
    /// Run the engine over partitions of hosts: take partitions by lease (or the ones given),
    /// checkpoint, publish findings. Runs until SIGINT/SIGTERM (partitions are checkpointed and
    /// given back).
    Worker(FleetWorkerArgs),
    /// Write every finding (workers' and agents') into the store, with fleet-wide campaigns. Runs
    /// until SIGINT/SIGTERM, or --exit-idle.
    Collect(FleetCollectArgs),
    /// The fleet as the server holds it: partitions, owners, checkpoints, what waits.
    Status(FleetStatusArgs),
}

#[derive(Args)]
pub struct FleetServerConfigArgs {
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub partitions: u32,
    /// Where the server listens for clients.
    #[arg(long, default_value = "127.0.0.1:4222")]
    pub listen: String,
    /// JetStream's storage folder.
    #[arg(long, default_value = "nats-store")]
    pub store_dir: String,
}

#[derive(Args)]
pub struct FleetSetupArgs {
    #[command(flatten)]
    pub nats: NatsFlag,
    /// Partitions (the server's mapping must use the same number).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub partitions: u32,
    /// How long a worker's partition lease lasts without renewal (how soon a dead worker's
    /// partitions move).
    #[arg(long, default_value = "10s", value_parser = parse_span)]
    pub lease_ttl: std::time::Duration,
    /// How long events are kept (a partition without a usable checkpoint is rebuilt from them).
    #[arg(long, default_value = "7d", value_parser = parse_span)]
    pub events_max_age: std::time::Duration,
    /// How long finding states are kept (what the collector's campaigns see).
    #[arg(long, default_value = "30d", value_parser = parse_span)]
    pub findings_max_age: std::time::Duration,
    /// Re-sends within this window are dropped by the server.
    #[arg(long, default_value = "10m", value_parser = parse_span)]
    pub duplicate_window: std::time::Duration,
    /// Stream and bucket replicas (a clustered server).
    #[arg(long, default_value_t = 1)]
    pub replicas: usize,
}

#[derive(Args)]
pub struct FleetPublishArgs {
    /// Files or folders to read, as `hunt` takes them.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub nats: NatsFlag,
    #[command(flatten)]
    pub config: ConfigFlag,
    #[command(flatten)]
    pub input: InputFlags,
    /// Events per message, at most.
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub frame_events: u32,
    /// Messages waiting for the server's ack, at most.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub inflight: u32,
    /// Write the per-file summary as JSON here.
    #[arg(long)]
    pub summary_json: Option<PathBuf>,
}

#[derive(Args)]
pub struct FleetWorkerArgs {
    #[command(flatten)]
    pub nats: NatsFlag,
    #[command(flatten)]
    pub config: ConfigFlag,
    /// Suppressions file (TOML), overriding the config's `suppressions`.
    #[arg(long)]
    pub suppressions: Option<PathBuf>,
    /// Exactly these partitions (`0,2,5-7`), held until stopped; default: a share of all of them,
    /// by lease, rebalanced as workers come and go.
    #[arg(long, value_parser = parse_partitions)]
    pub partitions: Option<PartitionList>,
    /// How leases name this worker (letters, digits, - and _; default: machine name and pid).
    #[arg(long)]
    pub name: Option<String>,
    /// Checkpoint every partition at least this often while it changes.
    #[arg(long, default_value = "2s", value_parser = parse_span)]
    pub checkpoint_interval: std::time::Duration,
    /// ... and after this many messages.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..))]
    pub checkpoint_frames: u64,
    /// Live streams (agents' events): alert states as they happen, and a host's event clock moves
    /// on with wall time after --idle-after of silence, as in `watch`. Default: hunt's semantics
    /// (final states when a published host ends).
    #[arg(long)]
    pub live: bool,
    #[arg(long, default_value = "5s", value_parser = parse_span)]
    pub idle_after: std::time::Duration,
    /// Write the worker's counts as JSON here when it stops.
    #[arg(long)]
    pub report_json: Option<PathBuf>,
}

#[derive(Args)]
pub struct FleetCollectArgs {
    #[command(flatten)]
    pub nats: NatsFlag,
    #[command(flatten)]
    pub config: ConfigFlag,
    /// The store to write (created when absent).
    #[arg(long)]
    pub db: PathBuf,
    /// Write to the store at least this often while findings keep coming.
    #[arg(long, default_value = "2s", value_parser = parse_span)]
    pub write_every: std::time::Duration,
    /// Stop once every finding so far is in the store and nothing came for this long.
    #[arg(long, value_parser = parse_span)]
    pub exit_idle: Option<std::time::Duration>,
}

#[derive(Args)]
pub struct FleetStatusArgs {
    #[command(flatten)]
    pub nats: NatsFlag,
    /// As JSON.
    #[arg(long)]
    pub json: bool,
}

/// `0,2,5-7` → [0, 2, 5, 6, 7].
/// `--partitions 0,2,5-7`: one value to clap (a bare `Vec` would make it many).
#[derive(Clone, Debug)]
pub struct PartitionList(pub Vec<u32>);

fn parse_partitions(s: &str) -> Result<PartitionList, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bad = || format!("{part:?} is not a partition or a range (like 0,2,5-7)");
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) =
                    (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
                if a > b || b - a > 4096 {
                    return Err(bad());
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().map_err(|_| bad())?),
        }
    }
    out.sort_unstable();
    out.dedup();
    if out.is_empty() {
        return Err("no partition given".into());
    }
    Ok(PartitionList(out))
}
