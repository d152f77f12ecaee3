//! Writes the bundled example collection (synthetic, in the real formats):
//! `cargo run -p floodwatch-sim --example make_collection -- <dir>`
use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "examples/collection".into()),
    );
    let truths = floodwatch_sim::write_example_collection(&dir)?;
    for t in &truths {
        println!(
            "{:<14} {:<26} alert={:<5} pid={:?} path={:?} {} .. {}",
            t.host,
            t.scenario.name(),
            t.should_alert,
            t.subject_pid,
            t.subject_path,
            t.start,
            t.end
        );
    }
    Ok(())
}
