//! Measures how soon `floodwatch watch` reports a flood after the line that crosses the threshold,
//! with the stream written at a given rate. Usage (from the repo root, after `cargo build --release`):
//!
//!     cargo run --release -p floodwatch --example watch_latency -- [LINES_PER_S=100000]
//!
//! The stream is the launchd curl-loop scenario (eslogger JSON lines, real format) from the simulator.
//! The crossing line is the exec that makes one window hold more curl execs than the whole window's
//! budget (5/s × 30 s = 150), which is when `watch` opens the alert.

use floodwatch_core::time::days_from_civil;
use floodwatch_core::Ts;
use floodwatch_sim::{write_scenario, Scenario};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rate: f64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000.0);
    let tmp = tempfile::tempdir()?;
    let start = Ts::from_secs(days_from_civil(2025, 9, 16) * 86_400 + 3 * 3_600);
    write_scenario(Scenario::LaunchdCurlLoop, &tmp.path().join("h"), start, 1)?;
    let text = std::fs::read_to_string(tmp.path().join("h/eslogger.jsonl"))?;
    let lines: Vec<&str> = text.lines().collect();
    // The crossing line: the 151st curl exec (the loop is the only curl runner in this scenario).
    let mut execs = 0;
    let crossing = lines
        .iter()
        .position(|l| {
            if l.contains("\"exec\":") && l.contains("\"path\":\"\\/usr\\/bin\\/curl\"") {
                execs += 1;
            }
            execs == 151
        })
        .ok_or("scenario has fewer than 151 curl execs")?;

    let exe = std::env::current_exe()?
        .parent()
        .and_then(|p| p.parent())
        .map(|p| p.join("floodwatch"))
        .ok_or("no target dir")?;
    let mut child = Command::new(&exe)
        .args(["watch", "--format", "jsonl", "--host", "h"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let reader = std::thread::spawn(move || {
        let mut first = None;
        for line in BufReader::new(stdout).lines() {
            if line.is_ok() && first.is_none() {
                first = Some(Instant::now());
            }
        }
        first
    });

    let t0 = Instant::now();
    let mut crossed_at = None;
    for (i, l) in lines.iter().enumerate() {
        // Pace: line i is due at i / rate seconds.
        let due = t0 + Duration::from_secs_f64(i as f64 / rate);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        stdin.write_all(l.as_bytes())?;
        stdin.write_all(b"\n")?;
        if i == crossing {
            stdin.flush()?;
            crossed_at = Some(Instant::now());
        }
    }
    let wrote = t0.elapsed();
    // Keep the stream open a moment (a live source stays open), then end it.
    std::thread::sleep(Duration::from_millis(1500));
    drop(stdin);
    let first = reader.join().map_err(|_| "reader panicked")?;
    child.wait()?;
    let achieved = lines.len() as f64 / wrote.as_secs_f64();
    match (crossed_at, first) {
        (Some(c), Some(f)) => println!(
            "{} lines at {:.0} lines/s (target {rate:.0}); alert {:.1} ms after the crossing line (line {})",
            lines.len(),
            achieved,
            f.saturating_duration_since(c).as_secs_f64() * 1e3,
            crossing + 1
        ),
        _ => println!("no alert seen ({} lines at {achieved:.0} lines/s)", lines.len()),
    }
    Ok(())
}
