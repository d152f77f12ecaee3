//! One file per command: each reads its flags (`cli`), calls library code (the runtime, the
//! analyses, the store) and prints. What they share is here.

pub mod agent;
pub mod alerts;
pub mod baseline;
pub mod config;
pub mod coverage;
pub mod demo;
pub mod eval;
pub mod export;
pub mod fleet;
pub mod hunt;
pub mod replay;
pub mod serve;
pub mod simulate;
pub mod suppress;
pub mod tune;
pub mod watch;

use crate::cli::{Cmd, Common, DbFlags, OutFormat, StoreArgs};
use floodwatch_core::config::Config;
use floodwatch_core::{Error, Result, Ts};
use floodwatch_engine::suppress::Suppressions;
use floodwatch_engine::BaselineMode;
use floodwatch_runtime::output::AlertFormat;
use floodwatch_runtime::{load_setup, store};
use floodwatch_store::Store;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Runs the command the user asked for.
pub fn run(cmd: Cmd) -> Result<ExitCode> {
    match cmd {
        Cmd::Hunt(a) => hunt::run(a),
        Cmd::Watch(a) => watch::run(a),
        Cmd::Baseline(c) => baseline::run(c),
        Cmd::Tune(c) => tune::run(c),
        Cmd::Suppress(c) => suppress::run(c),
        Cmd::Alerts(c) => alerts::run(c),
        Cmd::Coverage(a) => coverage::run(a),
        Cmd::Eval(a) => eval::run(a),
        Cmd::Simulate(a) => simulate::run(a),
        Cmd::Demo(a) => demo::run(a),
        Cmd::Config(a) => config::run(a),
        Cmd::Export(a) => export::run(a),
        Cmd::Serve(a) => serve::run(a),
        Cmd::Agent(a) => agent::run(a),
        Cmd::Replay(a) => replay::run(a),
        Cmd::Fleet(c) => fleet::run(c),
    }
}

/// SIGINT or SIGTERM ends a live run (`watch`, `agent`) as the end of its input would: open alerts
/// get their last state, the summary is printed, exit 0. A second one ends it at once (exit 130).
pub fn stop_on_signal() -> Result<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    #[cfg(unix)]
    {
        use signal_hook::consts::{SIGINT, SIGTERM};
        use signal_hook::flag;
        let io = |e| Error::io("installing signal handlers", e);
        for sig in [SIGINT, SIGTERM] {
            flag::register_conditional_shutdown(sig, 130, stop.clone()).map_err(io)?;
            flag::register(sig, stop.clone()).map_err(io)?;
        }
    }
    Ok(stop)
}

/// What a detection run (`hunt`, `watch`) starts from: when it started, the config, and what it
/// judges with (with `--db`: the store, its baselines and its suppressions added to the file's).
pub struct Detection {
    pub started: Ts,
    pub cfg: Config,
    pub store: Option<Store>,
    pub mode: BaselineMode,
    pub sup: Suppressions,
}

impl Detection {
    pub fn set_up(common: &Common, db: &DbFlags) -> Result<Detection> {
        let started = Ts::now();
        let (cfg, sup) = load_setup(
            common.config.config.as_deref(),
            common.suppressions.as_deref(),
            started,
        )?;
        let (store, mode, sup) =
            store::detection_setup(&cfg, db.store(), db.roles.as_deref(), sup, started)?;
        Ok(Detection {
            started,
            cfg,
            store,
            mode,
            sup,
        })
    }
}

/// Colour only on a terminal, and never when NO_COLOR is set.
pub fn color_ok(stream_is_tty: bool) -> bool {
    stream_is_tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// The alert format asked for, else a table on a terminal and OCSF lines otherwise.
pub fn alert_format(asked: Option<OutFormat>, tty: bool) -> AlertFormat {
    match asked.unwrap_or(if tty {
        OutFormat::Table
    } else {
        OutFormat::Jsonl
    }) {
        OutFormat::Jsonl => AlertFormat::Jsonl,
        OutFormat::Table => AlertFormat::Table {
            color: color_ok(tty),
        },
        OutFormat::Ecs => AlertFormat::Ecs,
    }
}

/// Pretty JSON on stdout, for the store commands' `--json`.
pub fn print_json<T: serde::Serialize>(v: &T) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, v).map_err(|x| Error::Input(x.to_string()))?;
    writeln!(out).map_err(|x| Error::io("writing JSON", x))
}

impl StoreArgs {
    pub fn load_config(&self) -> Result<Config> {
        floodwatch_runtime::load_config(self.config.config.as_deref())
    }

    pub fn db_path(&self, cfg: &Config) -> PathBuf {
        self.db.clone().unwrap_or_else(|| cfg.store.db.clone())
    }

    /// The store, which must exist (read and mark commands).
    pub fn existing(&self) -> Result<(Config, Store)> {
        let cfg = self.load_config()?;
        let store = Store::open_existing(&self.db_path(&cfg), cfg.store.busy_timeout)?;
        Ok((cfg, store))
    }

    /// The store, created when absent (commands that add to it).
    pub fn open(&self) -> Result<(Config, Store)> {
        let cfg = self.load_config()?;
        let store = Store::open(&self.db_path(&cfg), cfg.store.busy_timeout)?;
        Ok((cfg, store))
    }
}
