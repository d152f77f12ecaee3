//! The header every output starts with: where it came from (the config values it was generated
//! from), which of the engine's signals it keeps and which it loses, and the suppressions that
//! became filters or could not.

use crate::ir::Coverage;
use crate::spec::RuleSet;
use crate::Target;

/// What every target loses against the engine, whatever its language.
fn common_losses() -> Vec<String> {
    [
        "lineage groups: execs are grouped by their direct parent pid; the engine groups a tool with the script runner above it (a bash loop run by a python wrapper is one subject there, two here)",
        "pid-reuse safety: the engine keys a process on (pid, start time) and follows pidversion across exec; a parent pid reused within a window merges two processes here",
        "context scoring: unattended (no TTY, launchd/cron parent), locked session, root, unsigned or ad hoc signature, suspicious path, stateless protocol, concentrated destination and sustained windows raise the engine's score; here every hit has one fixed level",
        "interactive discount: the engine lowers ambiguous volume started at the Mac's own keyboard; here a terminal user's load test alerts like an agent's",
        "baselines: per-identity learned rates (with their ceiling, baseline.max_raise) that absorb a known identity's routine volume",
        "suppressions with ceilings: an entry that suppresses only below a rate cannot be a per-event filter and is left out (listed below)",
        "half-window hops: the engine's windows advance by half a BurstTimeWindow, so a burst straddling two aligned windows is still one hot window; a SIEM's aligned buckets can split it",
        "alert episodes: the engine merges hot windows into one alert until quiet_period passes; here each window is a hit",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The coverage of one target.
pub fn coverage(target: Target) -> Coverage {
    let mut keeps: Vec<String> = vec![
        "declared floods read from argv: ping -f / -i / -l, hping3 --flood / --faster / -i, nping --rate, curl URL globs and -Z -K, interpreter one-liners sending in an endless loop, shell and osascript loops, with the config's cut-offs".into(),
        "exec bursts: network-tool executions per host and parent over the BurstTimeWindow, at the config's tool_spawns_per_s".into(),
    ];
    let mut loses = common_losses();
    loses.push("declared-flood argv reading is approximate: getopt clusters and attached values are matched by regular expressions, not parsed; curl glob sizes are read from a range's upper bound (ranges multiplied together, {a,b} sets, steps and offsets are not counted); nping --delay is not read; substring tests are case-insensitive where the engine's are not".into());
    match target {
        Target::Sigma => {
            keeps.push("outbound bytes per process and window (value_sum over nettop delta rows), unweighted".into());
            loses.push("protocol weights: bytes are summed as sent; the engine weighs TCP and QUIC bytes at a tenth, UDP and ICMP above one".into());
            loses.push("packet and connection rates: no Sigma log source for macOS carries per-process packets or connections".into());
        }
        Target::Esql => {
            keeps.push("ECS field names as Elastic Defend writes them for macOS process events (logs-endpoint.events.process-*)".into());
            loses.push("outbound bytes, packets and connections per process: Elastic Defend's macOS network events carry no per-process byte or packet counts".into());
        }
        Target::Spl => {
            keeps.push("raw eslogger JSON (spath) or the CIM Endpoint.Processes data model (tstats), both included".into());
            keeps.push("outbound bytes per process and window over raw nettop CSV (sourcetype nettop), unweighted".into());
            loses.push("protocol weights on bytes; packet and connection rates".into());
        }
        Target::Kql => {
            keeps.push("Microsoft Defender for Endpoint on macOS: DeviceProcessEvents for execs, DeviceNetworkEvents for new connections per process and window (connections_per_s)".into());
            loses.push(
                "outbound bytes and packets: DeviceNetworkEvents has no byte or packet counts"
                    .into(),
            );
        }
        Target::Osquery => {
            keeps.push("es_process_events (EndpointSecurity) on each Mac, scheduled every BurstTimeWindow, the count computed on the endpoint".into());
            loses.push("fleet view and alert logic: the pack only emits rows; thresholds on declared floods are evaluated by regex_match on the endpoint and alerting is up to the log pipeline".into());
            loses.push("outbound bytes, packets and connections: osquery has no per-process traffic counters on macOS".into());
        }
    }
    Coverage { keeps, loses }
}

/// The header as comment lines, each prefixed with `prefix` (`# `, `// `, `-- `, `` ` ``...).
pub fn render(rules: &RuleSet, target: Target, prefix: &str) -> String {
    let cov = coverage(target);
    let mut lines = vec![
        format!(
            "floodwatch export --to {}: MITRE ATT&CK AN0971 (T1498.001, Direct Network Flood) from macOS endpoints.",
            target.name()
        ),
        "Generated from floodwatch's config (never from alert data); regenerate after changing it:".into(),
    ];
    for (k, v) in &rules.facts {
        lines.push(format!("  {k} = {v}"));
    }
    lines.push("Keeps:".into());
    lines.extend(cov.keeps.iter().map(|k| format!("  + {k}")));
    lines.push("Loses (what floodwatch itself does that this output cannot):".into());
    lines.extend(cov.loses.iter().map(|k| format!("  - {k}")));
    if rules.filtered.is_empty() && rules.kept_out.is_empty() {
        lines.push("Suppressions: none configured.".into());
    } else {
        if !rules.filtered.is_empty() {
            lines.push(format!(
                "Suppressions as filters: {} (their expiry is not enforced here: regenerate when one expires).",
                rules.filtered.join(", ")
            ));
        }
        for k in &rules.kept_out {
            lines.push(format!("Suppression kept out: {k}"));
        }
    }
    let mut out = String::new();
    for l in lines {
        out.push_str(prefix);
        out.push_str(&l);
        out.push('\n');
    }
    out
}
