//! `floodwatch fleet collect`: every finding state on `floodwatch.findings.>` (from workers and
//! from agents) into the store, where `serve`, `alerts` and `tune` read them.
//!
//! The collector reads the findings stream from its start each time it starts, keeps each
//! finding's latest state, and runs the response stage where every host's findings meet: campaigns
//! across hosts, then a playbook for every alert and flood, over all of them sorted as a hunt sorts
//! them. What changed goes to the store through the same writes as `hunt --db` and `watch --db`
//! (the alert lifecycle with history, network floods, campaigns); alerts already stored are brought
//! up to date when a campaign joins them later. Every write is idempotent (deterministic ids, the
//! same state changes nothing), so reading the stream again after a restart, or a finding sent
//! twice, changes nothing: the store is the collector's position. Campaigns see what the stream
//! keeps (`fleet setup --findings-max-age`).

use crate::nats::{connect, nats_err, FINDINGS, FINDINGS_STREAM};
use crate::wire::{decode_finding, FindingMsg};
use async_nats::jetstream::consumer::{pull, DeliverPolicy};
use floodwatch_core::alert::{Alert, AlertStatus};
use floodwatch_core::config::Config;
use floodwatch_core::finding::NetworkFinding;
use floodwatch_core::{Result, Ts};
use floodwatch_store::runs::RunRecord;
use floodwatch_store::Store;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct CollectOptions {
    pub url: String,
    pub db: PathBuf,
    /// Write at least this often while findings keep coming (and whenever the stream is read to its
    /// end).
    pub write_every: Duration,
    /// Stop once the stream has been read to its end and nothing came for this long.
    pub exit_idle: Option<Duration>,
    pub stop: Option<Arc<AtomicBool>>,
}

/// What the collector did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct CollectReport {
    pub messages: u64,
    pub alerts: u64,
    pub network: u64,
    pub campaigns: u64,
    pub health: u64,
    pub undecodable: u64,
    /// Store writes: alert states recorded, alerts refreshed by the response stage.
    pub opened: u64,
    pub updated: u64,
    pub closed: u64,
    pub refreshed: u64,
}

/// The latest state of every finding, and what was last written of each.
#[derive(Default)]
struct Findings {
    alerts: HashMap<String, Alert>,
    network: HashMap<String, NetworkFinding>,
    /// A digest of each finding's JSON as last written (alerts, floods, campaigns): unchanged ones
    /// are not written again.
    written: HashMap<String, u64>,
    changed: bool,
}

/// Whether `new` is a later view of the episode than `old` (the store's rule: a later last sight,
/// or the same one now closed).
fn later(new: &Alert, old: &Alert) -> bool {
    new.last_seen > old.last_seen
        || (new.last_seen == old.last_seen
            && new.status == AlertStatus::Closed
            && old.status != AlertStatus::Closed)
}

impl Findings {
    fn take(&mut self, f: FindingMsg, report: &mut CollectReport) {
        match f {
            FindingMsg::Alert(a) => {
                report.alerts += 1;
                let a = *a;
                match self.alerts.get(&a.id) {
                    Some(old) if !later(&a, old) => {}
                    _ => {
                        self.alerts.insert(a.id.clone(), a);
                        self.changed = true;
                    }
                }
            }
            FindingMsg::Network(n) => {
                report.network += 1;
                let n = *n;
                match self.network.get(&n.id) {
                    Some(old) if old.last_seen >= n.last_seen => {}
                    _ => {
                        self.network.insert(n.id.clone(), n);
                        self.changed = true;
                    }
                }
            }
            FindingMsg::Health(line) => {
                report.health += 1;
                eprintln!(
                    "floodwatch fleet collect: agent health: {}",
                    floodwatch_sinks::escape::terminal(&line)
                );
            }
        }
    }

    /// The response stage over every finding, then what changed into the store.
    fn write(
        &mut self,
        store: &mut Store,
        run_id: i64,
        cfg: &Config,
        report: &mut CollectReport,
    ) -> Result<()> {
        if !self.changed {
            return Ok(());
        }
        self.changed = false;
        let mut alerts: Vec<Alert> = self.alerts.values().cloned().collect();
        alerts.sort_by(|a, b| {
            a.first_seen
                .cmp(&b.first_seen)
                .then(a.host.cmp(&b.host))
                .then(a.id.cmp(&b.id))
        });
        let mut network: Vec<NetworkFinding> = self.network.values().cloned().collect();
        network.sort_by(|a, b| {
            a.first_seen
                .cmp(&b.first_seen)
                .then(a.host.cmp(&b.host))
                .then(a.id.cmp(&b.id))
        });
        let campaigns = floodwatch_respond::respond(alerts.iter_mut().collect(), &mut network, cfg);
        let written = &mut self.written;
        let mut fresh = |key: String, json: String| {
            let d = digest(json.as_bytes());
            if written.get(&key) == Some(&d) {
                false
            } else {
                written.insert(key, d);
                true
            }
        };
        let alerts: Vec<Alert> = alerts
            .into_iter()
            .filter(|a| {
                fresh(
                    format!("a/{}", a.id),
                    serde_json::to_string(a).unwrap_or_default(),
                )
            })
            .collect();
        let network: Vec<NetworkFinding> = network
            .into_iter()
            .filter(|n| {
                fresh(
                    format!("n/{}", n.id),
                    serde_json::to_string(n).unwrap_or_default(),
                )
            })
            .collect();
        let campaigns: Vec<_> = campaigns
            .into_iter()
            .filter(|c| {
                fresh(
                    format!("c/{}", c.id),
                    serde_json::to_string(c).unwrap_or_default(),
                )
            })
            .collect();
        let now = Ts::now();
        let o = store.record_alerts(run_id, &alerts, now)?;
        report.opened += o.opened + o.reopened;
        report.updated += o.updated;
        report.closed += o.closed;
        report.refreshed += store.refresh_alerts(&alerts)?;
        store.record_network(run_id, &network)?;
        report.refreshed += store.refresh_network(&network)?;
        report.campaigns += store.record_campaigns(run_id, &campaigns)?;
        Ok(())
    }
}

fn digest(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, x| {
        (h ^ *x as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Runs the collector until it is stopped (or, with `exit_idle`, until the stream is read and
/// quiet).
pub fn run_collect(o: &CollectOptions, cfg: &Config) -> Result<CollectReport> {
    let rt = crate::nats::runtime()?;
    rt.block_on(collect(o, cfg))
}

async fn collect(o: &CollectOptions, cfg: &Config) -> Result<CollectReport> {
    let mut store = Store::open(&o.db, cfg.store.busy_timeout)?;
    let fleet = connect(&o.url, "floodwatch fleet collect").await?;
    let stream = fleet.js.get_stream(FINDINGS_STREAM).await.map_err(|e| {
        floodwatch_core::Error::Usage(format!(
            "the fleet is not set up on this server (run floodwatch fleet setup): {e}"
        ))
    })?;
    let now = Ts::now();
    let run_id = store.begin_run(&RunRecord {
        kind: "fleet collect",
        started: now,
        finished: now,
        args: format!("fleet collect {}", o.url),
        inputs: Vec::new(),
    })?;
    let consumer = stream
        .create_consumer(pull::OrderedConfig {
            filter_subject: format!("{FINDINGS}.>"),
            deliver_policy: DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .map_err(nats_err("reading the findings stream"))?;
    let mut messages = consumer
        .messages()
        .await
        .map_err(nats_err("reading the findings stream"))?;
    let mut report = CollectReport::default();
    let mut findings = Findings::default();
    // Where the stream ended when the collector started: until then it is catching up.
    let mut caught_up = stream
        .get_info()
        .await
        .map_err(nats_err("reading the findings stream"))?
        .state
        .messages
        == 0;
    let mut last_write = Instant::now();
    let mut last_in = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_millis(200));
    loop {
        tokio::select! {
            m = messages.next() => {
                let Some(m) = m else { break };
                let msg = m.map_err(nats_err("reading the findings stream"))?;
                report.messages += 1;
                last_in = Instant::now();
                if msg.info().is_ok_and(|i| i.pending == 0) {
                    caught_up = true;
                }
                match decode_finding(&msg.payload) {
                    Ok(f) => findings.take(f, &mut report),
                    Err(e) => {
                        report.undecodable += 1;
                        if report.undecodable == 1 {
                            eprintln!("floodwatch fleet collect: a message on {} is skipped: {e}", floodwatch_sinks::escape::terminal(msg.subject.as_str()));
                        }
                    }
                }
            }
            _ = ticker.tick() => {}
        }
        let quiet = last_in.elapsed() >= Duration::from_millis(200);
        if findings.changed && ((caught_up && quiet) || last_write.elapsed() >= o.write_every) {
            findings.write(&mut store, run_id, cfg, &mut report)?;
            last_write = Instant::now();
        }
        let stop = o.stop.as_ref().is_some_and(|s| s.load(Ordering::Relaxed));
        let idle_out = o
            .exit_idle
            .is_some_and(|d| caught_up && last_in.elapsed() >= d);
        if stop || idle_out {
            break;
        }
    }
    findings.write(&mut store, run_id, cfg, &mut report)?;
    Ok(report)
}
