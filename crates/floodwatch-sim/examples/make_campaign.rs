//! Writes the bundled campaign example (synthetic, in the real formats): five Macs running the same
//! LaunchAgent curl loop against one address within a minute.
//! `cargo run -p floodwatch-sim --example make_campaign -- <dir>` (then `gzip -9n` each file).
use floodwatch_core::Ts;
use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "examples/campaign".into()),
    );
    let hosts = ["mac-01", "mac-02", "mac-03", "mac-04", "mac-05"];
    // 2025-09-16T10:00:00Z.
    let written = floodwatch_sim::write_campaign(
        &dir,
        &hosts,
        &["203.0.113.77"],
        Ts::from_secs(1_758_016_800),
        1,
    )?;
    for (host, target, at) in written {
        println!(
            "{host:<8} curl loop against {target} from {}",
            at.to_rfc3339_millis()
        );
    }
    Ok(())
}
