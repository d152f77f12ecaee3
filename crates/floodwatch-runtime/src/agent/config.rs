//! The agent's config: the `[agent]` section (declared with the rest in `floodwatch_core::config`)
//! turned into runnable sources, the machine's name, and the documented default config for a Mac
//! that `floodwatch agent --print-config` prints.

use super::source::{Origin, Spec};
use floodwatch_core::config::Config;
use floodwatch_core::{Error, Result};
use floodwatch_sources::{ClockHints, Format, SourceCtx};
use std::sync::Arc;

/// A documented agent config for a Mac, ready to use (`floodwatch agent --print-config`). Only the
/// `[agent]` section: every other key takes its default (`floodwatch config --default`). A test
/// keeps it parsing.
pub const PRINT_CONFIG: &str = r#"# floodwatch agent config for a Mac: `sudo floodwatch agent --config /etc/floodwatch/agent.toml`.
# Any key of `floodwatch config --default` can be added here too ([windows], [thresholds], ...); the
# keys left out keep their defaults. The agent must run as root, from a process that has Full Disk
# Access (eslogger is an Endpoint Security client and refuses to start without it:
# ES_NEW_CLIENT_RESULT_ERR_NOT_PERMITTED in the log below).

[agent]
# The host every finding names; default: this machine's name.
# host = "mac-01"
# A live source silent this long no longer holds back the others (sources are merged in event time),
# and the event clock then moves with wall time, so windows close without waiting for the next line.
tick = "2s"
# A command that exits is started again after restart_delay, doubled after each quick exit up to
# restart_delay_max; each restart is logged on stderr and counted in the summary.
restart_delay = "1s"
restart_delay_max = "1m"

# Process context: execs with argv, forks and exits (lineage, pid reuse), and the session events that
# say whether someone is at the keyboard (login, logout, lock, unlock, ssh, screen sharing). JSON Lines.
[[agent.source]]
name = "eslogger"
command = ["/usr/bin/eslogger", "exec", "fork", "exit",
           "lw_session_login", "lw_session_logout", "lw_session_lock", "lw_session_unlock",
           "login_login", "login_logout", "openssh_login", "openssh_logout",
           "screensharing_attach", "screensharing_detach"]
format = "eslogger"

# Per-process bytes and packets: nettop in CSV logging mode (-L 0: endless), one frame a second
# (-s 1; keep [input] nettop_interval equal), one row per process (-P), raw numbers (-x). Its times
# have no date: they are dated today on this machine's clock, midnight rollovers included.
[[agent.source]]
name = "nettop"
command = ["/usr/bin/nettop", "-L", "0", "-s", "1", "-P", "-x"]
format = "nettop-csv"

# Connection summaries with bytes and packets per process (Network.framework clients), and the
# loginwindow lock, unlock and login messages. NDJSON.
[[agent.source]]
name = "unified log"
command = ["/usr/bin/log", "stream", "--style", "ndjson", "--predicate",
           '(subsystem == "com.apple.network" AND category == "connection") OR process == "loginwindow" OR subsystem == "com.apple.login"']
format = "unifiedlog-ndjson"

# Telemetry another collector already writes, followed across rotation and truncation, e.g.:
# [[agent.source]]
# path = "/var/log/osquery/osqueryd.results.log"
# follow = true

# Findings as OCSF Detection Finding JSON lines. stdout, and a file rotated at max_bytes with keep
# older files (PATH.1 is the newest of them).
[[agent.sink]]
type = "stdout"

[[agent.sink]]
type = "file"
path = "/var/log/floodwatch/findings.jsonl"
max_bytes = 104857600
keep = 5
"#;

/// Every format by the name the summary gives it (what `format = "..."` takes).
const FORMATS: [Format; 13] = [
    Format::Eslogger,
    Format::NettopCsv,
    Format::NettopFixed,
    Format::UnifiedLogNdjson,
    Format::UnifiedLogJson,
    Format::Osquery,
    Format::ZeekTsv,
    Format::ZeekJson,
    Format::JamfProtect,
    Format::ElasticDefend,
    Format::JamfTelemetry,
    Format::Pcap,
    Format::Pcapng,
];

fn format_named(name: &str) -> Option<Format> {
    FORMATS.iter().copied().find(|f| f.name() == name)
}

/// This machine's name (what `hostname` prints), for `agent.host` left out.
pub fn default_host() -> String {
    #[cfg(unix)]
    {
        let mut buf = [0u8; 256];
        // SAFETY: the buffer is valid for its whole length, which is what is passed.
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        if rc == 0 {
            let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
            let name = String::from_utf8_lossy(&buf[..end]).trim().to_string();
            if !name.is_empty() {
                return name;
            }
        }
    }
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// The config's sources, ready to run; an error when there are none or one names an unknown format.
pub(crate) fn agent_sources(cfg: &Config, once: bool) -> Result<Vec<Spec>> {
    let a = &cfg.agent;
    let bad = |m: String| Error::Usage(format!("agent config: {m}"));
    if a.sources.is_empty() {
        return Err(bad(
            "no sources: add [[agent.source]] entries (`floodwatch agent --print-config` prints a config for a Mac)".into(),
        ));
    }
    let host = a.host.clone().unwrap_or_else(default_host);
    let mut specs = Vec::new();
    for (i, s) in a.sources.iter().enumerate() {
        let label = s.label();
        let format = match &s.format {
            None => None,
            Some(n) => Some(format_named(n).ok_or_else(|| {
                let names: Vec<&str> = FORMATS.iter().map(|f| f.name()).collect();
                bad(format!(
                    "source #{} ({label}): unknown format {n:?}; one of {}",
                    i + 1,
                    names.join(", ")
                ))
            })?),
        };
        let origin = match (&s.command, &s.path) {
            (Some(c), _) => Origin::Command(c.clone()),
            (None, Some(p)) => Origin::File {
                path: p.clone(),
                follow: s.follow,
            },
            (None, None) => return Err(bad(format!("source #{}: no command or path", i + 1))),
        };
        // nettop's times of day are dated by `date` when given; a file by its path's date or its
        // modification time, as a hunt would (without the other files of a folder); a command
        // today, by the wall clock.
        let clock = match (&s.date, &origin) {
            (Some(d), _) => ClockHints {
                forced_date: Some(*d),
                ..ClockHints::default()
            },
            (None, Origin::File { path, follow }) => ClockHints {
                path_date: floodwatch_sources::date_in_path(path),
                file_mtime: if *follow { None } else { mtime(path) },
                ..ClockHints::default()
            },
            // A live nettop prints this machine's local times: its zone's offset dates them,
            // unless `[input] nettop_utc_offset` names another one.
            (None, Origin::Command(_)) => ClockHints {
                utc_offset: (cfg.input.nettop_utc_offset == 0)
                    .then(local_utc_offset)
                    .flatten(),
                ..ClockHints::default()
            },
        };
        specs.push(Spec {
            ctx: SourceCtx {
                file_id: i as u32,
                path: Arc::from(label.as_str()),
                host: Arc::from(host.as_str()),
                // Every source of the agent is this machine's.
                host_forced: true,
                clock,
                input: cfg.input.clone(),
            },
            label,
            origin,
            format,
            once,
            restart_delay: a.restart_delay,
            restart_delay_max: a.restart_delay_max,
            resume: None,
        });
    }
    Ok(specs)
}

/// This machine's UTC offset now, in seconds east (the system's time zone).
fn local_utc_offset() -> Option<i32> {
    #[cfg(unix)]
    {
        // SAFETY: `time` with a null pointer only returns the time; `localtime_r` writes into the
        // `tm` given (all-zero is a valid `tm`), and its result is checked before use.
        unsafe {
            let now = libc::time(std::ptr::null_mut());
            let mut tm: libc::tm = std::mem::zeroed();
            if libc::localtime_r(&now, &mut tm).is_null() {
                return None;
            }
            i32::try_from(tm.tm_gmtoff).ok()
        }
    }
    #[cfg(not(unix))]
    {
        None
    }
}

fn mtime(path: &std::path::Path) -> Option<floodwatch_core::Ts> {
    let m = std::fs::metadata(path).ok()?.modified().ok()?;
    let d = m.duration_since(std::time::UNIX_EPOCH).ok()?;
    Some(floodwatch_core::Ts(d.as_nanos() as i64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn the_printed_config_parses_into_three_mac_sources() {
        let cfg = Config::from_toml_str(PRINT_CONFIG, Path::new("print-config")).unwrap();
        let specs = agent_sources(&cfg, false).unwrap();
        let labels: Vec<&str> = specs.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(labels, ["eslogger", "nettop", "unified log"]);
        let formats: Vec<Option<Format>> = specs.iter().map(|s| s.format).collect();
        assert_eq!(
            formats,
            [
                Some(Format::Eslogger),
                Some(Format::NettopCsv),
                Some(Format::UnifiedLogNdjson)
            ]
        );
        assert_eq!(cfg.agent.sinks.len(), 2);
        assert!(!specs[0].ctx.host.is_empty(), "the machine's name");
        // A live nettop's times are this machine's local times.
        assert_eq!(specs[1].ctx.clock.utc_offset, local_utc_offset());
        assert!(local_utc_offset().is_some());
    }

    #[test]
    fn an_unknown_format_and_no_sources_are_errors() {
        let cfg = Config::from_toml_str(
            "[[agent.source]]\ncommand = [\"x\"]\nformat = \"esloger\"\n",
            Path::new("t"),
        )
        .unwrap();
        let e = agent_sources(&cfg, true).unwrap_err().to_string();
        assert!(e.contains("unknown format \"esloger\""), "{e}");
        let e = agent_sources(&Config::default(), true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no sources"), "{e}");
    }
}
