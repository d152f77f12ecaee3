//! A fleet-wide campaign in the real formats: several Macs run the same LaunchAgent curl-loop script
//! (`~/Library/Application Support/.cache/sync.sh`) within a minute, each writing eslogger and nettop
//! files of its own. With one target for every host it is one campaign; with a target per host it
//! is as many unrelated floods.

use crate::families::launchagent_curl_loop_to;
use crate::host::{Files, HostFiles, HostOpts};
use floodwatch_core::Ts;
use std::io;
use std::path::Path;

/// Writes `dir/HOST/{eslogger.jsonl,nettop.csv}` for each host; host `i` floods `targets[i %
/// targets.len()]` from `start + 9 s × i` for 30 s at 8 curl runs a second (at least 180 in some 30 s
/// window however the windows fall, above the default 5/s). Returns the hosts
/// (name, target, start).
pub fn write_campaign(
    dir: &Path,
    hosts: &[&str],
    targets: &[&str],
    start: Ts,
    seed: u64,
) -> io::Result<Vec<(String, String, Ts)>> {
    let mut out = Vec::new();
    if targets.is_empty() {
        return Ok(out);
    }
    let users = ["ana", "ben", "chloe", "dev", "eli", "fay", "gus", "hana"];
    for (i, host) in hosts.iter().enumerate() {
        let opts = HostOpts {
            es_version: 10,
            seed: seed.wrapping_add(i as u64 * 7919),
            user: (501, users[i % users.len()].to_string()),
            nettop_interval_s: 2,
            ..HostOpts::default()
        };
        let files = Files {
            eslogger: true,
            nettop: true,
            unifiedlog: false,
        };
        let mut hf = HostFiles::create(&dir.join(host), files, opts)?;
        let target = targets[i % targets.len()];
        let at = start.add_secs(9 * i as i64);
        launchagent_curl_loop_to(&mut hf, at, 30.0, 8.0, target);
        hf.finish()?;
        out.push((host.to_string(), target.to_string(), at));
    }
    Ok(out)
}
