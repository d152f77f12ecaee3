//! The store commands' flags: baseline, tune, suppress and alerts.

use super::{ConfigFlag, ThreadsFlag};
use std::path::PathBuf;

/// Options every store command takes.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct StoreArgs {
    #[command(flatten)]
    pub config: ConfigFlag,
    /// The store (SQLite); default: the config's store.db (floodwatch.db).
    #[arg(long)]
    pub db: Option<PathBuf>,
}

#[derive(clap::Subcommand)]
pub enum AlertsCmd {
    /// List stored alerts (suppressed ones only with --suppressed).
    List {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        host: Option<String>,
        /// open or closed.
        #[arg(long, value_parser = ["open", "closed"])]
        state: Option<String>,
        /// Include alerts a suppression hid.
        #[arg(long)]
        suppressed: bool,
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long)]
        json: bool,
    },
    /// One alert (id or unique id prefix): reasons, baseline, marks, lifecycle history and its
    /// playbook (decision points, containment with commands, impact checks, what to collect).
    Show {
        id: String,
        #[command(flatten)]
        store: StoreArgs,
        /// The stored alert JSON and history.
        #[arg(long)]
        json: bool,
    },
    /// Earlier alerts with the same identity, script path or destination, with their dispositions
    /// (acknowledged, false positive, suppressed: by whom and why).
    Similar {
        id: String,
        #[command(flatten)]
        store: StoreArgs,
        /// At most this many (newest first).
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Mark an alert acknowledged (being handled).
    Ack(MarkArgs),
    /// Mark an alert a false positive.
    Fp(MarkArgs),
    /// Clear an alert's mark.
    Unmark(MarkArgs),
}

#[derive(clap::Args)]
pub struct MarkArgs {
    /// An alert's id, or a campaign's (marks every member alert), or a unique prefix of either.
    pub id: String,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Who marks it.
    #[arg(long)]
    pub by: String,
    /// Why (kept in the alert's history).
    #[arg(long)]
    pub reason: String,
}

#[derive(clap::Subcommand)]
pub enum SuppressCmd {
    /// Add a suppression (from flags, or every entry of a suppressions TOML file with --from).
    Add(Box<AddArgs>),
    /// List suppressions with their hits, last hit and expiry state.
    List {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        json: bool,
    },
    /// End a suppression now, and report what it was hiding.
    Expire {
        id: String,
        #[command(flatten)]
        store: StoreArgs,
        /// Who ends it.
        #[arg(long)]
        by: String,
    },
    /// Give a suppression (expired, ended or still active) a new expiry; it applies again.
    Renew {
        id: String,
        #[command(flatten)]
        store: StoreArgs,
        /// New expiry: YYYY-MM-DD (end of that day, UTC) or an RFC 3339 time; must be in the future.
        #[arg(long)]
        expires: String,
        /// Who renews it (kept in its history).
        #[arg(long)]
        by: String,
    },
    /// Remove a suppression: it stops applying and is no longer reported; its hits and history stay.
    Remove {
        id: String,
        #[command(flatten)]
        store: StoreArgs,
        /// Who removes it.
        #[arg(long)]
        by: String,
        /// Why (kept in its history).
        #[arg(long)]
        reason: String,
    },
}

#[derive(clap::Args)]
pub struct AddArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Suppressions TOML file (as written by `tune suggest` or for --suppressions): adds every entry.
    #[arg(long, conflicts_with_all = ["id", "owner", "reason", "expires"])]
    pub from: Option<PathBuf>,
    /// Who adds it (kept with the entry).
    #[arg(long, env = "USER", default_value = "unknown")]
    pub by: String,
    #[arg(long, required_unless_present = "from")]
    pub id: Option<String>,
    /// Who answers for it (a person or team).
    #[arg(long, required_unless_present = "from")]
    pub owner: Option<String>,
    /// Why this activity is expected (a ticket, a change record).
    #[arg(long, required_unless_present = "from")]
    pub reason: Option<String>,
    /// Expiry: YYYY-MM-DD (end of that day, UTC) or an RFC 3339 time.
    #[arg(long, required_unless_present = "from")]
    pub expires: Option<String>,
    #[arg(long)]
    pub signing_id: Option<String>,
    #[arg(long)]
    pub team_id: Option<String>,
    /// Executable path glob.
    #[arg(long)]
    pub path: Option<String>,
    /// Regex over the whole command line (anchored at both ends).
    #[arg(long)]
    pub argv: Option<String>,
    /// Ancestor path glob (e.g. /sbin/launchd).
    #[arg(long)]
    pub parent: Option<String>,
    #[arg(long)]
    pub user: Option<String>,
    /// Host name glob.
    #[arg(long)]
    pub host: Option<String>,
    /// Destination glob: every destination must match.
    #[arg(long)]
    pub destination: Option<String>,
    /// Rate ceilings: the suppression applies only while the peak stays at or below them.
    #[arg(long)]
    pub max_spawns_per_s: Option<f64>,
    #[arg(long)]
    pub max_packets_per_s: Option<f64>,
    #[arg(long)]
    pub max_bytes_per_s: Option<f64>,
    #[arg(long)]
    pub max_connections_per_s: Option<f64>,
}

#[derive(clap::Subcommand)]
pub enum BaselineCmd {
    /// Learn baselines from telemetry of a period believed benign (incremental: windows already learned
    /// for a host are skipped, so learning the same files twice adds nothing).
    Learn {
        /// Files or folders to read (one folder per host), formats detected from content.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[command(flatten)]
        store: StoreArgs,
        /// Host roles file (hostname glob → role); default: the config's baseline.roles.
        #[arg(long)]
        roles: Option<PathBuf>,
        /// Host name for every input, instead of the holding directory.
        #[arg(long, value_parser = super::parse_host)]
        host: Option<String>,
        /// Date (YYYY-MM-DD) for nettop files nothing nearer dates (no dated source in their folder,
        /// no date in their path, no file time).
        #[arg(long, value_parser = super::parse_date)]
        date: Option<floodwatch_core::Ts>,
        /// The learn report as JSON on stdout (what was learned, and what was held for review).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        threads: ThreadsFlag,
    },
    /// Windows `learn` held for review (hot by the absolute thresholds, or a declared flood), grouped
    /// by identity, parent class, role and host; the id accepts them.
    Held {
        #[command(flatten)]
        store: StoreArgs,
        /// Accepted ones too.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Accept held windows as normal: the key (identity × parent class × role) of held window ID on its
    /// host is learned, with every window held for it, and later learns take its hot windows too.
    /// A baseline still absorbs at most baseline.max_raise × the absolute thresholds.
    Accept {
        /// Held window id(s), as `learn` and `held` list them.
        #[arg(required = true)]
        ids: Vec<i64>,
        #[command(flatten)]
        store: StoreArgs,
        /// Who is answerable for it.
        #[arg(long)]
        owner: String,
        /// Why this is routine.
        #[arg(long)]
        reason: String,
        /// Who accepts it (kept with the acceptance).
        #[arg(long, env = "USER", default_value = "unknown")]
        by: String,
    },
    /// Show the stored baselines (most windows first).
    Show {
        #[command(flatten)]
        store: StoreArgs,
        /// Only identities containing this text.
        #[arg(long)]
        identity: Option<String>,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Subcommand)]
pub enum TuneCmd {
    /// Propose suppressions (TOML with the evidence as comments, or --json) for recurring automation.
    Suggest {
        #[command(flatten)]
        store: StoreArgs,
        /// Seen on at least this many hosts.
        #[arg(long, default_value_t = 3)]
        min_hosts: usize,
        /// Stable: p99 at most this multiple of the median on the signal that crosses a threshold.
        #[arg(long, default_value_t = 4.0)]
        max_spread: f64,
        /// Proposed expiry, in days from today.
        #[arg(long, default_value_t = 90)]
        expires_in_days: u32,
        #[arg(long)]
        json: bool,
    },
}
