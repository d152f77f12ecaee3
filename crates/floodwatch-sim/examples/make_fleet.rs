//! Writes a labelled fleet (a day per host) and prints its labels:
//! `cargo run --release -p floodwatch-sim --example make_fleet -- <dir> [hosts] [seed]`
use floodwatch_sim::{write_fleet, FleetSpec};
use std::path::PathBuf;
use std::time::Instant;

fn main() -> std::io::Result<()> {
    let a: Vec<String> = std::env::args().collect();
    let dir = PathBuf::from(a.get(1).map(String::as_str).unwrap_or("fleet"));
    let mut spec = FleetSpec::default();
    if let Some(h) = a.get(2).and_then(|s| s.parse().ok()) {
        spec.hosts = h;
        spec.attack_hosts = h / 3;
    }
    if let Some(s) = a.get(3).and_then(|s| s.parse().ok()) {
        spec.seed = s;
    }
    let t0 = Instant::now();
    let labels = write_fleet(&dir, &spec)?;
    let secs = t0.elapsed().as_secs_f64();
    for l in &labels {
        println!(
            "{:<10} {:<34} attack={:<5} alert={:<5} pid={:<7} {} .. {}  {}",
            l.host,
            l.family,
            l.attack,
            l.should_alert,
            l.subject_pid.map_or("-".to_string(), |p| p.to_string()),
            l.start,
            l.end,
            l.note
        );
    }
    eprintln!(
        "{} hosts, {} labels in {secs:.2} s -> {}",
        spec.hosts,
        labels.len(),
        dir.display()
    );
    Ok(())
}
