//! floodwatch: finds outbound network floods launched from macOS endpoints (MITRE ATT&CK AN0971).
//! This file only parses arguments and dispatches; the work lives in the library crates.

use clap::{Parser, Subcommand, ValueEnum};
use floodwatch::demo;
use floodwatch::pipeline::{self, HuntOptions};
use floodwatch::storage;
use floodwatch::watch::{self, WatchOptions};
use floodwatch_core::config::DEFAULT_TOML;
use floodwatch_core::{Error, Ts};
use floodwatch_engine::AlertEventKind;
use floodwatch_sinks::ocsf::{detection_finding, Activity};
use floodwatch_sinks::summary::{write_summary, RunSummary};
use floodwatch_sinks::table::{write_alert, write_table, Style};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "floodwatch",
    version,
    about = "Detect outbound network floods from macOS endpoints (ATT&CK AN0971, T1498.001)"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum OutFormat {
    /// One OCSF Detection Finding (class 2004) per line.
    Jsonl,
    /// Readable table (default on a terminal).
    Table,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum CoverageFormat {
    /// Markdown.
    Md,
    Json,
    /// A self-contained page (inline CSS, no script).
    Html,
}

#[derive(clap::Args)]
struct Common {
    /// Config file (TOML); the built-in defaults are `floodwatch config --default`.
    #[arg(long, env = "FLOODWATCH_CONFIG")]
    config: Option<PathBuf>,
    /// Suppressions file (TOML), overriding the config's `suppressions`.
    #[arg(long)]
    suppressions: Option<PathBuf>,
    /// Output format (default: table on a terminal, jsonl otherwise).
    #[arg(long, value_enum)]
    format: Option<OutFormat>,
    /// Host name for every input, instead of the holding directory or the records' own.
    #[arg(long)]
    host: Option<String>,
    /// Date (YYYY-MM-DD) for dateless sources such as nettop, instead of anchoring on other sources.
    #[arg(long, value_parser = parse_date)]
    date: Option<Ts>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Hunt collected telemetry files or folders (one folder per host).
    Hunt {
        /// Files or folders to read; formats are detected from content.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[command(flatten)]
        common: Common,
        /// Write the per-file summary as JSON here.
        #[arg(long)]
        summary_json: Option<PathBuf>,
        /// Worker threads (hosts are processed in parallel).
        #[arg(long, default_value_t = default_threads())]
        threads: usize,
        /// Write alerts here instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Also write an incident report: PREFIX.md and PREFIX.html (self-contained, with a chart of
        /// each alert's rate against its threshold).
        #[arg(long)]
        report: Option<PathBuf>,
        /// Use the store: judge against its baselines, apply its suppressions, record the alerts and
        /// their lifecycle. `--db` alone uses the config's store.db (floodwatch.db).
        #[arg(long, num_args = 0..=1, default_missing_value = "")]
        db: Option<PathBuf>,
        /// Host roles file (hostname glob → role) for baselines; default: the config's baseline.roles.
        #[arg(long, requires = "db")]
        roles: Option<PathBuf>,
    },
    /// Learn and show per-identity baselines (in the store).
    #[command(subcommand)]
    Baseline(floodwatch::baseline_cmd::BaselineCmd),
    /// Tuning from the store: propose suppressions for recurring benign automation.
    #[command(subcommand)]
    Tune(floodwatch::tune::TuneCmd),
    /// Manage suppressions in the store (owner, reason and expiry required; hits counted).
    #[command(subcommand)]
    Suppress(floodwatch::suppress_cmd::SuppressCmd),
    /// Alerts in the store: list, show, and mark (acknowledged, false positive).
    #[command(subcommand)]
    Alerts(floodwatch::alerts_cmd::AlertsCmd),
    /// Hunt labelled telemetry and score the alerts against the labels: precision, recall and F1 per
    /// family, time to detect, false alerts per host-day, the worst misses.
    Eval {
        /// Files or folders to hunt (e.g. a folder written by `floodwatch simulate`).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Labels (JSON lines); default: labels.jsonl in the first folder given.
        #[arg(long)]
        labels: Option<PathBuf>,
        #[command(flatten)]
        common: Common,
        /// Worker threads.
        #[arg(long, default_value_t = default_threads())]
        threads: usize,
        /// Write the evaluation as JSON to this file (instead of Markdown on stdout).
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Write a simulated fleet (one folder per host, in the real formats) and its labels.jsonl.
    Simulate {
        /// Folder to write (created).
        dir: PathBuf,
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u16).range(1..))]
        hosts: u16,
        /// Hosts that get one attack each (default: a third of them).
        #[arg(long)]
        attack_hosts: Option<usize>,
        /// No attack at all (a benign fleet, for false-alert rates).
        #[arg(long)]
        benign_only: bool,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Simulated duration, e.g. 24h, 90m.
        #[arg(long, default_value = "24h", value_parser = parse_span)]
        duration: std::time::Duration,
        /// First day (YYYY-MM-DD, UTC).
        #[arg(long, value_parser = parse_date)]
        date: Option<Ts>,
    },
    /// The tour: simulate a small fleet day, hunt it, show the alerts and how they score against the
    /// ground truth, and write an incident report (Markdown and HTML).
    Demo {
        #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u16).range(1..))]
        hosts: u16,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Report files to write: PREFIX.md and PREFIX.html.
        #[arg(long, default_value = "floodwatch-demo-report")]
        report: PathBuf,
        /// Keep the simulated fleet in this folder (default: a temporary folder, removed after).
        #[arg(long)]
        keep: Option<PathBuf>,
    },
    /// What the collected telemetry lets AN0971 see: channels and their sources, time span, gaps,
    /// clock skew and rejected lines per source, attribution shares, and a verdict per attack path.
    /// Also prints a bounded lab self-test (--selftest-plan) and checks its telemetry (--selftest-check).
    Coverage {
        /// Files or folders to read, as `hunt` reads them (not needed for --selftest-plan).
        paths: Vec<PathBuf>,
        /// Report format.
        #[arg(long, value_enum, default_value_t = CoverageFormat::Md)]
        format: CoverageFormat,
        /// Write the report here instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Print the self-test commands for a lab target, with the evidence each must leave.
        #[arg(long, conflicts_with = "selftest_check")]
        selftest_plan: bool,
        /// Check the telemetry of a self-test run, step by step (exit 1 when a step fails).
        #[arg(long)]
        selftest_check: bool,
        /// The lab address the self-test targets (private, loopback or link-local only).
        #[arg(long)]
        target: Option<String>,
        #[arg(long, env = "FLOODWATCH_CONFIG")]
        config: Option<PathBuf>,
        #[arg(long)]
        host: Option<String>,
        #[arg(long, value_parser = parse_date)]
        date: Option<Ts>,
        #[arg(long, default_value_t = default_threads())]
        threads: usize,
    },
    /// Read one telemetry stream from stdin and print alerts as they happen.
    Watch {
        #[command(flatten)]
        common: Common,
        /// Use the store: judge against its baselines, apply its suppressions, and record every alert
        /// state (opened, updated, closed) as it happens. `--db` alone uses the config's store.db.
        #[arg(long, num_args = 0..=1, default_missing_value = "")]
        db: Option<PathBuf>,
        /// Host roles file for baselines; default: the config's baseline.roles.
        #[arg(long, requires = "db")]
        roles: Option<PathBuf>,
    },
    /// Print or check configuration.
    Config {
        /// Print the documented default configuration.
        #[arg(long)]
        default: bool,
        /// Check a config file and report the first error.
        #[arg(long)]
        check: Option<PathBuf>,
    },
}

use floodwatch::default_threads;

fn parse_span(s: &str) -> Result<std::time::Duration, String> {
    floodwatch_core::config::parse_duration(s)
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("{s:?} is not a duration (like 24h, 90m)"))
}

fn parse_date(s: &str) -> Result<Ts, String> {
    floodwatch_core::time::parse_date(s).ok_or_else(|| format!("{s:?} is not a date (YYYY-MM-DD)"))
}

fn now() -> Ts {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Ts(d.as_nanos() as i64)
}

fn color_ok(stream_is_tty: bool) -> bool {
    stream_is_tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// A hunt reports each episode once, complete: a Create. `watch` reports its life: Create, Update…,
/// Close, all with the same finding uid.
fn activity(kind: AlertEventKind, live: bool) -> Activity {
    match kind {
        _ if !live => Activity::Create,
        AlertEventKind::Opened | AlertEventKind::Final => Activity::Create,
        AlertEventKind::Updated => Activity::Update,
        AlertEventKind::Closed => Activity::Close,
    }
}

fn write_jsonl(
    w: &mut dyn Write,
    ev: &floodwatch_engine::AlertEvent,
    live: bool,
) -> std::io::Result<()> {
    let v = detection_finding(
        &ev.alert,
        activity(ev.kind, live),
        env!("CARGO_PKG_VERSION"),
    );
    serde_json::to_writer(&mut *w, &v)?;
    w.write_all(b"\n")
}

fn run() -> Result<ExitCode, Error> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Config { default, check } => {
            if let Some(p) = check {
                let cfg = floodwatch_core::config::Config::load(&p)?;
                // Patterns are compiled where they are used: check them the same way a hunt would.
                floodwatch_engine::scope::Scope::new(&cfg.scope).map_err(|message| {
                    Error::Config {
                        path: p.clone(),
                        message,
                    }
                })?;
                println!("{}: ok", p.display());
            } else if default {
                print!("{DEFAULT_TOML}");
            } else {
                return Err(Error::Usage(
                    "say --default to print the defaults, or --check FILE".into(),
                ));
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Hunt {
            paths,
            common,
            summary_json,
            threads,
            output,
            report,
            db,
            roles,
        } => {
            let started = now();
            let (cfg, sup) = pipeline::load_setup(
                common.config.as_deref(),
                common.suppressions.as_deref(),
                started,
            )?;
            // The store is opened before any input is read: a locked or damaged store fails fast.
            let mut store = storage::open_flag(&cfg, db.as_deref())?;
            let opts = HuntOptions {
                paths: paths.clone(),
                host: common.host.clone(),
                date: common.date,
                threads,
                progress: None,
            };
            let res = match &store {
                Some(st) => {
                    let roles = storage::roles(&cfg, roles.as_deref())?;
                    let (mode, sup) = storage::judge_setup(st, &cfg, roles, sup, started)?;
                    pipeline::hunt_with(&opts, cfg, sup, mode)?
                }
                None => pipeline::hunt(&opts, cfg, sup)?,
            };
            let stdout = std::io::stdout();
            let (mut w, tty): (Box<dyn Write>, bool) = match &output {
                Some(p) => (
                    Box::new(std::io::BufWriter::new(std::fs::File::create(p).map_err(
                        |e| Error::io(format!("creating {}", p.display()), e),
                    )?)),
                    false,
                ),
                None => (
                    Box::new(std::io::BufWriter::new(stdout.lock())),
                    std::io::stdout().is_terminal(),
                ),
            };
            let format = common.format.unwrap_or(if tty {
                OutFormat::Table
            } else {
                OutFormat::Jsonl
            });
            let io = |e| Error::io("writing alerts", e);
            match format {
                OutFormat::Jsonl => {
                    for a in &res.alerts {
                        write_jsonl(&mut w, a, false).map_err(io)?;
                    }
                    floodwatch_sinks::ocsf::write_network_jsonl(
                        &mut w,
                        &res.findings,
                        env!("CARGO_PKG_VERSION"),
                    )
                    .map_err(io)?;
                }
                OutFormat::Table => {
                    let alerts: Vec<_> = res.alerts.iter().map(|a| a.alert.clone()).collect();
                    write_table(
                        &mut w,
                        &alerts,
                        &Style {
                            color: color_ok(tty),
                        },
                    )
                    .map_err(io)?;
                    let style = Style {
                        color: color_ok(tty),
                    };
                    floodwatch_sinks::table::write_network_table(&mut w, &res.findings, &style)
                        .map_err(io)?;
                }
            }
            w.flush().map_err(io)?;
            drop(w);
            if let Some(prefix) = report {
                write_report(&prefix, &res)?;
            }
            finish_summary(&res.summary, summary_json.as_deref())?;
            // After the alerts are out: a store that fails now loses nothing already written.
            if let Some(st) = store.as_mut() {
                let run =
                    storage::run_record("hunt", &paths, common.host.as_deref(), started, &res);
                storage::record_hunt(st, &run, &res, now(), &mut std::io::stderr().lock())?;
            }
            if res.usable_events() == 0 {
                eprintln!(
                    "floodwatch: error: nothing usable was read (no telemetry event in any file; see the summary for what was skipped or rejected)"
                );
                return Ok(ExitCode::from(2));
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Watch { common, db, roles } => watch(common, db, roles),
        Cmd::Baseline(c) => floodwatch::baseline_cmd::run(c),
        Cmd::Tune(c) => floodwatch::tune::run(c),
        Cmd::Suppress(c) => floodwatch::suppress_cmd::run(c),
        Cmd::Alerts(c) => floodwatch::alerts_cmd::run(c),
        Cmd::Coverage {
            paths,
            format,
            output,
            selftest_plan,
            selftest_check,
            target,
            config,
            host,
            date,
            threads,
        } => floodwatch::coverage::command(floodwatch::coverage::CoverageArgs {
            paths,
            config,
            host,
            date,
            threads,
            format: match format {
                CoverageFormat::Md => floodwatch::coverage::ReportFormat::Markdown,
                CoverageFormat::Json => floodwatch::coverage::ReportFormat::Json,
                CoverageFormat::Html => floodwatch::coverage::ReportFormat::Html,
            },
            output,
            selftest_plan,
            selftest_check,
            target,
        }),
        Cmd::Eval {
            paths,
            labels,
            common,
            threads,
            json,
        } => eval_cmd(paths, labels, common, threads, json),
        Cmd::Simulate {
            dir,
            hosts,
            attack_hosts,
            benign_only,
            seed,
            duration,
            date,
        } => {
            refuse_non_empty(&dir)?;
            let hosts = usize::from(hosts);
            let mut spec = floodwatch_sim::FleetSpec {
                hosts,
                seed,
                duration_s: duration.as_secs() as i64,
                benign_only,
                ..floodwatch_sim::FleetSpec::default()
            };
            spec.attack_hosts = attack_hosts.unwrap_or(hosts / 3);
            if spec.attack_hosts > hosts {
                eprintln!(
                    "floodwatch: warning: --attack-hosts {} is more than the {hosts} hosts: every host gets an attack",
                    spec.attack_hosts
                );
                spec.attack_hosts = hosts;
            }
            if let Some(d) = date {
                spec.start = d;
            }
            let labels = floodwatch_sim::write_fleet(&dir, &spec)
                .map_err(|e| Error::io(format!("writing {}", dir.display()), e))?;
            eprintln!(
                "floodwatch: wrote {} hosts and {} labels to {} ({})",
                hosts,
                labels.len(),
                dir.display(),
                dir.join("labels.jsonl").display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Demo {
            hosts,
            seed,
            report,
            keep,
        } => demo::run(&demo::DemoOptions {
            hosts: usize::from(hosts),
            seed,
            report,
            keep,
            threads: default_threads(),
            color: color_ok(std::io::stdout().is_terminal()),
        }),
    }
}

/// A fleet written over an older one would mix their hosts under one labels file.
fn refuse_non_empty(dir: &std::path::Path) -> Result<(), Error> {
    match std::fs::read_dir(dir) {
        Ok(rd) => {
            if rd.into_iter().next().is_some() {
                return Err(Error::Usage(format!(
                    "{} is not empty: choose a new folder (an older fleet's hosts would mix with this one's labels)",
                    dir.display()
                )));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => Err(Error::Usage(format!(
            "{} exists and is not a folder",
            dir.display()
        ))),
        Err(e) => Err(Error::io(format!("checking {}", dir.display()), e)),
    }
}

/// `eval`: hunt, then score against the labels; Markdown on stdout, JSON on request.
fn eval_cmd(
    paths: Vec<PathBuf>,
    labels: Option<PathBuf>,
    common: Common,
    threads: usize,
    json: Option<PathBuf>,
) -> Result<ExitCode, Error> {
    let labels_path = labels
        .or_else(|| paths.first().map(|p| p.join("labels.jsonl")))
        .ok_or_else(|| Error::Usage("say --labels FILE".into()))?;
    if let Some(p) = paths.iter().find(|p| !p.exists()) {
        return Err(Error::Usage(format!("{} does not exist", p.display())));
    }
    let labels = floodwatch::eval::read_labels(&labels_path)?;
    if labels.is_empty() {
        eprintln!(
            "floodwatch: warning: {} holds no label: every alert will count as false",
            labels_path.display()
        );
    }
    let (cfg, sup) = pipeline::load_setup(
        common.config.as_deref(),
        common.suppressions.as_deref(),
        now(),
    )?;
    let window = cfg.window_secs();
    let opts = HuntOptions {
        paths,
        host: common.host,
        date: common.date,
        threads,
        progress: None,
    };
    let res = pipeline::hunt(&opts, cfg, sup)?;
    let alerts: Vec<_> = res.alerts.iter().map(|a| a.alert.clone()).collect();
    let e = floodwatch::eval::evaluate(&labels, &alerts, &res.summary.hosts, window);
    match json {
        Some(p) => {
            let text = serde_json::to_string_pretty(&e).map_err(|x| Error::Input(x.to_string()))?;
            std::fs::write(&p, text + "\n")
                .map_err(|x| Error::io(format!("writing {}", p.display()), x))?;
        }
        None => print!("{}", e.to_markdown()),
    }
    Ok(ExitCode::SUCCESS)
}

fn write_report(prefix: &std::path::Path, res: &pipeline::HuntResult) -> Result<(), Error> {
    use floodwatch_sinks::report::{html_report, markdown_report};
    let alerts: Vec<_> = res.alerts.iter().map(|a| a.alert.clone()).collect();
    let heading = "floodwatch hunt: outbound network floods (AN0971)";
    let extra = floodwatch_sinks::report::network_sections(&res.findings);
    for (ext, text) in [
        (
            "md",
            markdown_report(heading, &alerts, &res.summary, &extra),
        ),
        ("html", html_report(heading, &alerts, &res.summary, &extra)),
    ] {
        let p = prefix.with_extension(ext);
        std::fs::write(&p, text).map_err(|e| Error::io(format!("writing {}", p.display()), e))?;
    }
    Ok(())
}

fn finish_summary(s: &RunSummary, json: Option<&std::path::Path>) -> Result<(), Error> {
    let mut e = std::io::stderr().lock();
    write_summary(&mut e, s).map_err(|x| Error::io("writing summary", x))?;
    if let Some(p) = json {
        let text =
            serde_json::to_string_pretty(&s.to_json()).map_err(|x| Error::Input(x.to_string()))?;
        std::fs::write(p, text + "\n")
            .map_err(|x| Error::io(format!("writing {}", p.display()), x))?;
    }
    Ok(())
}

/// `watch`: the same engine, fed from stdin, printing alerts as they open, update and close.
fn watch(common: Common, db: Option<PathBuf>, roles: Option<PathBuf>) -> Result<ExitCode, Error> {
    let started = now();
    let (cfg, sup) = pipeline::load_setup(
        common.config.as_deref(),
        common.suppressions.as_deref(),
        started,
    )?;
    let mut store = storage::open_flag(&cfg, db.as_deref())?;
    let (mode, sup) = match &store {
        Some(st) => {
            let roles = storage::roles(&cfg, roles.as_deref())?;
            storage::judge_setup(st, &cfg, roles, sup, started)?
        }
        None => (floodwatch_engine::BaselineMode::Off, sup),
    };
    let run_id = match store.as_mut() {
        Some(st) => Some(st.begin_run(&floodwatch_store::runs::RunRecord {
            kind: "watch",
            started,
            finished: started,
            args: "<stdin>".into(),
            inputs: Vec::new(),
        })?),
        None => None,
    };
    for w in &sup.warnings {
        eprintln!("floodwatch: warning: {w}");
    }
    let tty = std::io::stdout().is_terminal();
    let fmt = common.format.unwrap_or(if tty {
        OutFormat::Table
    } else {
        OutFormat::Jsonl
    });
    let style = Style {
        color: color_ok(tty),
    };
    let mut out = std::io::stdout().lock();
    let io = |e| Error::io("writing alerts", e);
    let opts = WatchOptions {
        host: common.host.clone(),
        date: common.date,
        ..WatchOptions::default()
    };
    let s = watch::watch_with(std::io::stdin(), cfg, sup, mode, &opts, |a| {
        match fmt {
            OutFormat::Jsonl => write_jsonl(&mut out, a, true).map_err(io)?,
            OutFormat::Table => write_alert(&mut out, &a.alert, &style).map_err(io)?,
        }
        out.flush().map_err(io)?;
        // Printed first: a store error stops the watch but loses no alert.
        if let (Some(st), Some(run)) = (store.as_mut(), run_id) {
            st.record_alerts(run, std::slice::from_ref(&a.alert), now())?;
        }
        Ok(())
    })?;
    finish_summary(&s, None)?;
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    match run() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("floodwatch: error: {e}");
            ExitCode::from(2)
        }
    }
}
