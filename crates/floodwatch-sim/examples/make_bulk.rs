//! Bulk benchmark input: `cargo run --release -p floodwatch-sim --example make_bulk -- <dir> <hosts>
//! <megabytes> [seed]`
use std::path::PathBuf;
use std::time::Instant;

fn main() -> std::io::Result<()> {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 4 {
        eprintln!("usage: make_bulk <dir> <hosts> <megabytes> [seed]");
        std::process::exit(2);
    }
    let dir = PathBuf::from(&a[1]);
    let parse = |s: &str, what: &str| -> u64 {
        s.parse().unwrap_or_else(|_| {
            eprintln!("make_bulk: {what} must be a whole number, got {s:?}");
            std::process::exit(2)
        })
    };
    let hosts = parse(&a[2], "hosts") as usize;
    let mb = parse(&a[3], "megabytes");
    let seed = a.get(4).map(|s| parse(s, "seed")).unwrap_or(1);
    let t0 = Instant::now();
    let bytes = floodwatch_sim::write_bulk(&dir, hosts, mb * 1_000_000, seed)?;
    let s = t0.elapsed().as_secs_f64();
    println!(
        "wrote {bytes} bytes in {hosts} hosts under {} in {s:.2} s ({:.1} MB/s)",
        dir.display(),
        bytes as f64 / 1e6 / s
    );
    Ok(())
}
