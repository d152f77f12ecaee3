//! `floodwatch simulate`: write a simulated fleet in the real formats, with its labels.

use crate::cli::SimulateArgs;
use floodwatch_core::time::NANOS_PER_DAY;
use floodwatch_core::{Error, Result, Ts};
use std::path::Path;
use std::process::ExitCode;

pub fn run(a: SimulateArgs) -> Result<ExitCode> {
    refuse_non_empty(&a.dir)?;
    if let Some(n) = a.campaign {
        return campaign(&a, usize::from(n));
    }
    let hosts = usize::from(a.hosts);
    let mut spec = floodwatch_sim::FleetSpec {
        hosts,
        seed: a.seed,
        duration_s: a.duration.as_secs() as i64,
        benign_only: a.benign_only,
        days: a.days,
        layout: match a.layout.as_deref() {
            Some(l) => floodwatch_sim::Layout::parse(l)
                .ok_or_else(|| Error::Usage(format!("unknown layout {l:?}")))?,
            None if a.days > 1 => floodwatch_sim::Layout::HostDate,
            None => floodwatch_sim::Layout::Host,
        },
        ..floodwatch_sim::FleetSpec::default()
    };
    spec.attack_hosts = a.attack_hosts.unwrap_or(hosts / 3);
    if spec.attack_hosts > hosts {
        eprintln!(
            "floodwatch: warning: --attack-hosts {} is more than the {hosts} hosts: every host gets an attack",
            spec.attack_hosts
        );
        spec.attack_hosts = hosts;
    }
    if let Some(d) = a.date {
        spec.start = d;
    }
    refuse_unhuntable_span(
        spec.start,
        (i64::from(spec.days) - 1) * 86_400 + spec.duration_s,
    )?;
    let labels = floodwatch_sim::write_fleet(&a.dir, &spec)
        .map_err(|e| Error::io(format!("writing {}", a.dir.display()), e))?;
    eprintln!(
        "floodwatch: wrote {} hosts ({} day(s)) and {} labels to {} ({})",
        hosts,
        spec.days,
        labels.len(),
        a.dir.display(),
        a.dir.join("labels.jsonl").display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `simulate --campaign N`: N hosts, the same script, one address (or one each), within a minute.
fn campaign(a: &SimulateArgs, n: usize) -> Result<ExitCode> {
    let names: Vec<String> = (1..=n).map(|i| format!("mac-{i:02}")).collect();
    let hosts: Vec<&str> = names.iter().map(String::as_str).collect();
    let targets: Vec<&str> = a.campaign_target.split(',').map(str::trim).collect();
    if let Some(bad) = targets
        .iter()
        .find(|t| t.parse::<std::net::Ipv4Addr>().is_err())
    {
        return Err(Error::Usage(format!(
            "--campaign-target {bad:?} is not an IPv4 address"
        )));
    }
    // 2025-09-16T10:00:00Z unless --date: a working-day morning.
    let start = a
        .date
        .map_or(Ts::from_secs(1_758_016_800), |d| d.add_secs(10 * 3600));
    refuse_unhuntable_span(start, 9 * n as i64 + 60)?;
    let written = floodwatch_sim::write_campaign(&a.dir, &hosts, &targets, start, a.seed)
        .map_err(|e| Error::io(format!("writing {}", a.dir.display()), e))?;
    for (host, target, at) in &written {
        eprintln!(
            "floodwatch: {host}: curl loop against {target} from {}",
            at.to_rfc3339_millis()
        );
    }
    eprintln!(
        "floodwatch: wrote a campaign of {} hosts to {}",
        written.len(),
        a.dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `hunt` rejects events before 2000 or more than a day ahead of this machine's clock: a fleet
/// outside that span would be written only to be rejected line by line.
fn refuse_unhuntable_span(start: Ts, duration_s: i64) -> Result<()> {
    let end = Ts(start
        .0
        .saturating_add(duration_s.saturating_mul(1_000_000_000)));
    let latest = Ts(Ts::now().0.saturating_add(NANOS_PER_DAY));
    if end > latest {
        return Err(Error::Usage(format!(
            "the simulated span ends at {}, more than a day ahead of this machine's clock: hunt would reject those events (choose a shorter --duration or an earlier --date)",
            end.to_rfc3339_millis()
        )));
    }
    if start < Ts::from_secs(946_684_800) {
        return Err(Error::Usage(
            "the simulated span starts before 2000: hunt would reject those events".into(),
        ));
    }
    Ok(())
}

/// A fleet written over an older one would mix their hosts under one labels file.
fn refuse_non_empty(dir: &Path) -> Result<()> {
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
