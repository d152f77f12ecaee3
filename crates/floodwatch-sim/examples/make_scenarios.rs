//! Writes every scenario alone into `<dir>/<scenario-name>/` and prints its truth:
//! `cargo run -p floodwatch-sim --example make_scenarios -- <dir> [seed]`
use floodwatch_core::time::days_from_civil;
use floodwatch_core::Ts;
use floodwatch_sim::{write_scenario, Scenario};
use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let a: Vec<String> = std::env::args().collect();
    let dir = PathBuf::from(a.get(1).map(String::as_str).unwrap_or("scenarios"));
    let seed = a.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let start = Ts::from_secs(days_from_civil(2025, 9, 16) * 86_400 + 2 * 3_600);
    for s in Scenario::ALL {
        let t = write_scenario(s, &dir.join(s.name()), start, seed)?;
        println!(
            "{:<32} alert={:<5} pid={:?} path={:?} {} .. {}",
            s.name(),
            t.should_alert,
            t.subject_pid,
            t.subject_path,
            t.start,
            t.end
        );
    }
    Ok(())
}
