//! Never fail silently: the agent's own health, per source (events, events/s, lag between event time
//! and wall time, restarts, silence) and its sinks (spool overflow), the engine's evictions. What
//! goes wrong becomes a health finding (`unmapped.floodwatch.kind = "health"`, not T1498.001) in every
//! sink, once per episode; the whole picture is written to the state file for `agent status` and
//! served as Prometheus text when `agent.metrics` is set.

use super::Feed;
use crate::output::{Delivery, Item};
use floodwatch_core::config::Config;
use floodwatch_core::Ts;
use serde_json::json;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often the picture is refreshed (and written to the state file).
const EVERY: Duration = Duration::from_secs(1);

#[derive(Default)]
struct SourceState {
    /// When this silence was reported (cleared when the source is heard again).
    silence_reported: bool,
    /// When the last crash-loop finding was made.
    crash_reported: Option<Instant>,
    events_before: u64,
    events_per_s: f64,
}

pub(crate) struct Health {
    host: String,
    sources: Vec<SourceState>,
    last: Instant,
    started: Instant,
    overflowed_reported: u64,
    evicted_reported: u64,
    /// Health findings made so far (kind, source, text), newest last, bounded.
    pub(crate) findings: Vec<serde_json::Value>,
    /// The Prometheus text, for the metrics endpoint.
    pub(crate) metrics: Arc<Mutex<String>>,
}

impl Health {
    pub(crate) fn new(cfg: &Config, sources: usize) -> Health {
        Health {
            host: cfg
                .agent
                .host
                .clone()
                .unwrap_or_else(super::config::default_host),
            sources: (0..sources).map(|_| SourceState::default()).collect(),
            last: Instant::now(),
            started: Instant::now(),
            overflowed_reported: 0,
            evicted_reported: 0,
            findings: Vec::new(),
            metrics: Arc::new(Mutex::new(String::new())),
        }
    }

    /// Looks at every source and sink; returns the new health findings (to deliver) and the picture
    /// as JSON (for the state file), at most once per second (`force`: now).
    pub(crate) fn check(
        &mut self,
        cfg: &Config,
        feeds: &[Feed],
        labels: &[Arc<str>],
        overflowed: u64,
        evicted: u64,
        force: bool,
    ) -> Option<(Vec<Delivery>, serde_json::Value)> {
        let dt = self.last.elapsed();
        if dt < EVERY && !force {
            return None;
        }
        self.last = Instant::now();
        let a = &cfg.agent;
        let now = Ts::now();
        let mut new = Vec::new();
        let mut sources = Vec::new();
        for (i, (f, label)) in feeds.iter().zip(labels).enumerate() {
            let st = &mut self.sources[i];
            let events = f.events;
            st.events_per_s =
                (events - st.events_before.min(events)) as f64 / dt.as_secs_f64().max(1e-3);
            st.events_before = events;
            let silent = f.last_heard.elapsed();
            let limit = a
                .sources
                .get(i)
                .and_then(|s| s.silence)
                .unwrap_or(a.silence);
            if f.ended || silent < limit || limit.is_zero() {
                st.silence_reported = false;
            } else if !st.silence_reported {
                st.silence_reported = true;
                new.push(finding(
                    &self.host,
                    "source_silent",
                    label,
                    now,
                    format!(
                        "source {label} delivered nothing for {:.0} s (its limit is {:.0} s): the telemetry may have stopped",
                        silent.as_secs_f64(),
                        limit.as_secs_f64()
                    ),
                ));
            }
            let restarts = f.shared.restarts.load(Ordering::Relaxed);
            let recent = f
                .shared
                .restart_times
                .lock()
                .map(|t| {
                    t.iter()
                        .filter(|x| x.elapsed() <= a.crash_loop_window)
                        .count() as u64
                })
                .unwrap_or(0);
            let due = st
                .crash_reported
                .is_none_or(|t| t.elapsed() >= a.crash_loop_window);
            if a.crash_loop_restarts > 0 && recent >= a.crash_loop_restarts && due {
                st.crash_reported = Some(Instant::now());
                new.push(finding(
                    &self.host,
                    "source_crash_loop",
                    label,
                    now,
                    format!(
                        "source {label} was started again {recent} times within {:.0} s ({restarts} restarts in all): it keeps dying",
                        a.crash_loop_window.as_secs_f64()
                    ),
                ));
            }
            let lag = f.last_ts.map(|t| (now.0 - t.0) as f64 / 1e9);
            sources.push(json!({
                "source": label.as_ref(),
                "events": events,
                "events_per_s": (st.events_per_s * 10.0).round() / 10.0,
                "lag_s": lag.map(|l| (l * 10.0).round() / 10.0),
                "restarts": restarts,
                "silent_s": (silent.as_secs_f64() * 10.0).round() / 10.0,
                "ended": f.ended,
                "problems": f.shared.problems.lock().map(|p| p.clone()).unwrap_or_default(),
            }));
        }
        if overflowed > self.overflowed_reported {
            new.push(finding(
                &self.host,
                "spool_overflow",
                "sinks",
                now,
                format!(
                    "{} finding(s) did not fit in a sink's spool and were dropped ({} in all)",
                    overflowed - self.overflowed_reported,
                    overflowed
                ),
            ));
            self.overflowed_reported = overflowed;
        }
        if evicted > self.evicted_reported {
            new.push(finding(
                &self.host,
                "events_evicted",
                "engine",
                now,
                format!(
                    "the engine dropped {} flow(s) to keep its memory bounded ({} in all)",
                    evicted - self.evicted_reported,
                    evicted
                ),
            ));
            self.evicted_reported = evicted;
        }
        for d in &new {
            if let Item::Health(v) = &d.item {
                self.findings.push((**v).clone());
            }
        }
        let keep = self.findings.len().saturating_sub(50);
        self.findings.drain(..keep);
        let picture = json!({
            "host": self.host,
            "pid": std::process::id(),
            "updated": now.to_string(),
            "up_s": self.started.elapsed().as_secs(),
            "sources": sources,
            "spool_overflowed": overflowed,
            "engine_evicted": evicted,
            "health_findings": self.findings,
        });
        if let Ok(mut m) = self.metrics.lock() {
            *m = prometheus(&picture);
        }
        Some((new, picture))
    }
}

/// One health finding, as an OCSF-shaped line of its own kind.
fn finding(host: &str, kind: &str, source: &str, now: Ts, text: String) -> Delivery {
    let key = format!("health/{kind}/{source}/{}", now.as_millis());
    let v = json!({
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "activity_id": 1,
        "activity_name": "Create",
        "severity_id": 3,
        "severity": "Medium",
        "time": now.as_millis(),
        "message": text,
        "metadata": {"uid": key, "product": {"name": "floodwatch", "vendor_name": "floodwatch"}},
        "device": {"hostname": host},
        "finding_info": {
            "uid": key,
            "title": text,
            "types": ["Telemetry Health"],
        },
        "unmapped": {"floodwatch": {"kind": "health", "health": kind, "source": source}},
    });
    let mut line = Vec::new();
    let _ = floodwatch_sinks::ocsf::write_json_line(&mut line, &v);
    line.pop();
    Delivery {
        key,
        line,
        item: Item::Health(Box::new(v)),
    }
}

/// The picture in the Prometheus text exposition format (label values escaped as the format asks).
fn prometheus(p: &serde_json::Value) -> String {
    let esc = |s: &str| {
        s.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
    };
    let mut out = String::new();
    let metrics: [(&str, &str, &str); 5] = [
        ("floodwatch_source_events_total", "counter", "events"),
        (
            "floodwatch_source_events_per_second",
            "gauge",
            "events_per_s",
        ),
        ("floodwatch_source_lag_seconds", "gauge", "lag_s"),
        ("floodwatch_source_restarts_total", "counter", "restarts"),
        ("floodwatch_source_silent_seconds", "gauge", "silent_s"),
    ];
    let empty = Vec::new();
    let sources = p["sources"].as_array().unwrap_or(&empty);
    for (name, kind, field) in metrics {
        out.push_str(&format!("# TYPE {name} {kind}\n"));
        for s in sources {
            if let Some(v) = s[field].as_f64() {
                let label = esc(s["source"].as_str().unwrap_or(""));
                out.push_str(&format!("{name}{{source=\"{label}\"}} {v}\n"));
            }
        }
    }
    for (name, field) in [
        ("floodwatch_spool_overflowed_total", "spool_overflowed"),
        ("floodwatch_engine_evicted_total", "engine_evicted"),
    ] {
        out.push_str(&format!(
            "# TYPE {name} counter\n{name} {}\n",
            p[field].as_u64().unwrap_or(0)
        ));
    }
    out.push_str(&format!(
        "# TYPE floodwatch_health_findings_total counter\nfloodwatch_health_findings_total {}\n",
        p["health_findings"].as_array().map_or(0, Vec::len)
    ));
    out
}

/// Serves `metrics` as Prometheus text on `addr` (loopback only; checked by the config), one short
/// answer per connection, on a thread of its own.
pub(crate) fn serve_metrics(
    addr: &str,
    metrics: Arc<Mutex<String>>,
) -> floodwatch_core::Result<()> {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind(addr).map_err(|e| {
        floodwatch_core::Error::io(format!("agent.metrics: listening on {addr}"), e)
    })?;
    // Where it listens, which port 0 (the system picks one) leaves to be told.
    if let Ok(bound) = listener.local_addr() {
        super::source::log("metrics", &format!("http://{bound}/metrics"));
    }
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut c) = conn else { continue };
                let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
                let mut req = [0u8; 1024];
                let _ = c.read(&mut req);
                let body = metrics.lock().map(|m| m.clone()).unwrap_or_default();
                let _ = write!(
                    c,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        })
        .map_err(|e| floodwatch_core::Error::io("starting the metrics thread", e))?;
    Ok(())
}

/// `agent status`: the picture as a table.
pub fn status_text(p: &serde_json::Value, age_s: f64) -> String {
    use floodwatch_sinks::escape::terminal;
    let s = |v: &serde_json::Value| terminal(v.as_str().unwrap_or("")).into_owned();
    let mut out = format!(
        "agent on {} (pid {}), health written {:.0} s ago{}\n",
        s(&p["host"]),
        p["pid"],
        age_s,
        if age_s > 10.0 {
            " — the agent may not be running"
        } else {
            ""
        }
    );
    out.push_str(&format!(
        "  {:<40} {:>10} {:>9} {:>9} {:>8} {:>9}\n",
        "source", "events", "events/s", "lag s", "restarts", "silent s"
    ));
    let empty = Vec::new();
    for src in p["sources"].as_array().unwrap_or(&empty) {
        let n = |k: &str| src[k].as_f64().map_or("-".into(), |v| format!("{v}"));
        out.push_str(&format!(
            "  {:<40} {:>10} {:>9} {:>9} {:>8} {:>9}{}\n",
            s(&src["source"]),
            n("events"),
            n("events_per_s"),
            n("lag_s"),
            n("restarts"),
            n("silent_s"),
            if src["ended"].as_bool() == Some(true) {
                "  (ended)"
            } else {
                ""
            }
        ));
    }
    out.push_str(&format!(
        "  spool overflowed: {}, engine evicted: {}\n",
        p["spool_overflowed"], p["engine_evicted"]
    ));
    let findings = p["health_findings"].as_array().unwrap_or(&empty);
    if findings.is_empty() {
        out.push_str("  no health findings\n");
    }
    for f in findings {
        out.push_str(&format!(
            "  health: {}: {}\n",
            s(&f["unmapped"]["floodwatch"]["health"]),
            s(&f["message"])
        ));
    }
    out
}
