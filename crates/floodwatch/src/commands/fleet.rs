//! `floodwatch fleet ...`: the fleet on NATS JetStream (the work is `floodwatch_fleet`).

use crate::cli::{
    FleetCmd, FleetCollectArgs, FleetPublishArgs, FleetSetupArgs, FleetStatusArgs, FleetWorkerArgs,
};
use crate::commands::{print_json, stop_on_signal};
use floodwatch_core::{Result, Ts};
use floodwatch_fleet::{CollectOptions, PublishOptions, SetupOptions, WorkerOptions};
use floodwatch_runtime::output::{finish_summary, write_json};
use floodwatch_runtime::{load_config, load_setup, HuntOptions};
use floodwatch_sinks::escape::terminal;
use std::process::ExitCode;

pub fn run(c: FleetCmd) -> Result<ExitCode> {
    match c {
        FleetCmd::ServerConfig(a) => {
            print!(
                "{}",
                floodwatch_fleet::server_config(a.partitions, &a.listen, &a.store_dir)
            );
            Ok(ExitCode::SUCCESS)
        }
        FleetCmd::Setup(a) => setup(a),
        FleetCmd::Publish(a) => publish(a),
        FleetCmd::Worker(a) => worker(a),
        FleetCmd::Collect(a) => collect(a),
        FleetCmd::Status(a) => status(a),
    }
}

fn setup(a: FleetSetupArgs) -> Result<ExitCode> {
    let l = floodwatch_fleet::setup(
        &a.nats.url,
        &SetupOptions {
            partitions: a.partitions,
            events_max_age: a.events_max_age,
            findings_max_age: a.findings_max_age,
            lease_ttl: a.lease_ttl,
            duplicate_window: a.duplicate_window,
            replicas: a.replicas,
        },
    )?;
    eprintln!(
        "fleet set up on {}: {} partitions (the server's mapping checked), leases of {:.1} s",
        terminal(&a.nats.url),
        l.partitions,
        l.lease_ttl.as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

fn publish(a: FleetPublishArgs) -> Result<ExitCode> {
    let cfg = load_config(a.config.config.as_deref())?;
    let r = floodwatch_fleet::publish(
        &PublishOptions {
            url: a.nats.url.clone(),
            hunt: HuntOptions {
                paths: a.paths.clone(),
                host: a.input.host.clone(),
                date: a.input.date,
                threads: 1,
                progress: None,
            },
            frame_events: a.frame_events as usize,
            inflight: a.inflight as usize,
        },
        &cfg,
    )?;
    finish_summary(&r.summary, a.summary_json.as_deref())?;
    eprintln!(
        "published {} event(s) of {} host(s) in {} message(s), {:.1} MB, in {:.2} s ({:.0} events/s){}{}",
        r.events,
        r.hosts,
        r.frames,
        r.bytes as f64 / 1e6,
        r.seconds,
        r.events as f64 / r.seconds.max(1e-9),
        if r.duplicates > 0 {
            format!("; {} message(s) the server already had", r.duplicates)
        } else {
            String::new()
        },
        if r.too_large > 0 {
            format!(
                "; {} event(s) larger than the server's message limit on their own were not sent",
                r.too_large
            )
        } else {
            String::new()
        }
    );
    if r.events == 0 {
        eprintln!("floodwatch: error: nothing usable was read (no telemetry event in any file; see the summary for what was skipped or rejected)");
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}

fn worker(a: FleetWorkerArgs) -> Result<ExitCode> {
    let (cfg, sup) = load_setup(
        a.config.config.as_deref(),
        a.suppressions.as_deref(),
        Ts::now(),
    )?;
    for w in &sup.warnings {
        eprintln!("floodwatch: warning: {}", terminal(w));
    }
    let r = floodwatch_fleet::run_worker(
        &WorkerOptions {
            url: a.nats.url.clone(),
            name: a.name.clone(),
            partitions: a.partitions.as_ref().map(|p| p.0.clone()),
            checkpoint_interval: a.checkpoint_interval,
            checkpoint_frames: a.checkpoint_frames,
            live: a.live,
            idle_after: a.idle_after,
            stop: Some(stop_on_signal()?),
        },
        cfg,
        sup,
    )?;
    eprintln!(
        "fleet worker {}: {} event(s) in {} message(s), {} finding state(s) published, {} checkpoint(s); partitions taken {}, given back {}, lost {}{}",
        terminal(&r.name),
        r.events,
        r.frames,
        r.findings,
        r.checkpoints,
        r.taken,
        r.released,
        r.lost,
        if r.undecodable > 0 {
            format!("; {} message(s) not decodable, skipped", r.undecodable)
        } else {
            String::new()
        }
    );
    if let Some(p) = &a.report_json {
        write_json(p, &r)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn collect(a: FleetCollectArgs) -> Result<ExitCode> {
    let cfg = load_config(a.config.config.as_deref())?;
    let r = floodwatch_fleet::run_collect(
        &CollectOptions {
            url: a.nats.url.clone(),
            db: a.db.clone(),
            write_every: a.write_every,
            exit_idle: a.exit_idle,
            stop: Some(stop_on_signal()?),
        },
        &cfg,
    )?;
    eprintln!(
        "fleet collect into {}: {} message(s) ({} alert state(s), {} network finding(s), {} health); store: {} alert(s) opened, {} updated, {} closed, {} refreshed by the response stage, {} new campaign(s){}",
        a.db.display(),
        r.messages,
        r.alerts,
        r.network,
        r.health,
        r.opened,
        r.updated,
        r.closed,
        r.refreshed,
        r.campaigns,
        if r.undecodable > 0 {
            format!("; {} message(s) not decodable, skipped", r.undecodable)
        } else {
            String::new()
        }
    );
    Ok(ExitCode::SUCCESS)
}

fn status(a: FleetStatusArgs) -> Result<ExitCode> {
    let s = floodwatch_fleet::fleet_status(&a.nats.url)?;
    if a.json {
        print_json(&s)?;
    } else {
        print!("{}", floodwatch_fleet::status_text(&s));
    }
    Ok(ExitCode::SUCCESS)
}
