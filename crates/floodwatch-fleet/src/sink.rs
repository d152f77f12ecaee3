//! The agent's `nats` sink (`[[agent.sink]] type = "nats"`): detection on the Mac, findings central.
//!
//! Every finding state goes to `floodwatch.findings.<host>` with `Nats-Msg-Id` set to the state's
//! key, so the server drops a re-send; with `events = true` the normalized events the engine took
//! go to `floodwatch.events.<host>` as frames (the workers' input). Each publish waits for the
//! server's ack. While the server is unreachable, or once anything waits, messages go to the
//! on-disk spool (the webhook's, bounded: what does not fit is dropped and counted, and shows as a
//! health finding) and leave it oldest first when the server is back, so order is kept. The spool
//! survives a restart of the agent.
//!
//! An agent crash can send the events read after its last checkpoint again (they are read again);
//! frames re-sent that way are new messages to the server.

use crate::nats::{fleet_of, Fleet, ENCODING_HEADER, HOST_HEADER, SOURCE_HEADER};
use crate::wire::{
    encode_finding, encode_frame, host_header, host_token, FileRef, FindingMsg, Frame,
};
use async_nats::jetstream::message::PublishMessage;
use floodwatch_core::event::Event;
use floodwatch_core::{Error, Result};
use floodwatch_deliver::spool::Spool;
use floodwatch_runtime::agent::sink::{Sink, SourceName};
use floodwatch_runtime::output::{Delivery, Item};
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

/// Events per frame, at most.
const FRAME_EVENTS: usize = 512;

/// How long one publish waits for its ack before the message is spooled.
const ACK_WAIT: Duration = Duration::from_secs(3);

/// How long one turn of the agent's loop spends sending spooled messages.
const PUMP_BUDGET: Duration = Duration::from_millis(500);

/// How long the end of a run waits for the spool to empty.
const FLUSH_WAIT: Duration = Duration::from_secs(15);

pub struct NatsSink {
    rt: tokio::runtime::Runtime,
    fleet: Fleet,
    url: String,
    spool: Spool,
    events: bool,
    /// Names this run's event frames (`Nats-Msg-Id`).
    instance: String,
    frames: u64,
    /// The files each host's frames last named.
    sent_files: HashMap<String, Vec<FileRef>>,
    warned: bool,
    /// Messages the server acked, and messages that went through the spool.
    pub published: u64,
    pub spooled: u64,
}

/// One message: where, its id, and its body.
struct Msg {
    subject: String,
    id: String,
    host: String,
    payload: Vec<u8>,
}

impl NatsSink {
    /// Connects in the background (the server may be down: the agent starts all the same, and
    /// what it finds waits in the spool).
    pub fn open(url: &str, spool: &Path, spool_max_bytes: u64, events: bool) -> Result<NatsSink> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| Error::io("starting the NATS client's runtime", e))?;
        let client = rt
            .block_on(
                async_nats::ConnectOptions::new()
                    .name("floodwatch agent")
                    .retry_on_initial_connect()
                    .connection_timeout(Duration::from_secs(3))
                    .reconnect_delay_callback(|attempts| {
                        Duration::from_millis((attempts as u64 * 250).min(2000))
                    })
                    .connect(url),
            )
            .map_err(|e| Error::Usage(format!("agent sink nats: {url}: {e}")))?;
        let spool = Spool::open(spool, spool_max_bytes)
            .map_err(|e| Error::Usage(format!("agent sink nats: {e}")))?;
        let instance = format!("{:x}{:x}", floodwatch_core::Ts::now().0, std::process::id());
        // The JetStream context spawns its acker task: it must be made inside the runtime.
        let fleet = {
            let _in_runtime = rt.enter();
            fleet_of(client)
        };
        Ok(NatsSink {
            rt,
            fleet,
            url: url.to_string(),
            spool,
            events,
            instance,
            frames: 0,
            sent_files: HashMap::new(),
            warned: false,
            published: 0,
            spooled: 0,
        })
    }

    fn connected(&self) -> bool {
        self.fleet.client.connection_state() == async_nats::connection::State::Connected
    }

    fn warn(&mut self, what: &str) {
        if !self.warned {
            self.warned = true;
            eprintln!(
                "floodwatch agent: sink nats {}: {} (findings wait in the spool; further failures are not repeated here)",
                floodwatch_sinks::escape::terminal(&self.url),
                floodwatch_sinks::escape::terminal(what)
            );
        }
    }

    /// Publishes one message and waits for its ack.
    fn publish(&self, m: &Msg) -> std::result::Result<(), String> {
        let msg = PublishMessage::build()
            .payload(m.payload.clone().into())
            .message_id(&m.id)
            .header(HOST_HEADER, host_header(&m.host).as_str())
            .header(SOURCE_HEADER, "agent")
            .header(ENCODING_HEADER, crate::nats::encoding().as_str());
        let js = &self.fleet.js;
        self.rt.block_on(async {
            let fut = tokio::time::timeout(ACK_WAIT, js.send_publish(m.subject.clone(), msg))
                .await
                .map_err(|_| "timed out".to_string())?
                .map_err(|e| e.to_string())?;
            tokio::time::timeout(ACK_WAIT, fut)
                .await
                .map_err(|_| "no ack in time".to_string())?
                .map_err(|e| e.to_string())?;
            Ok(())
        })
    }

    /// Sends now when nothing waits and the server is there; otherwise (or when the send fails)
    /// the message joins the spool.
    fn send(&mut self, m: Msg) -> Result<()> {
        self.pump(PUMP_BUDGET)?;
        if self.spool.is_empty() && self.connected() {
            match self.publish(&m) {
                Ok(()) => {
                    self.published += 1;
                    return Ok(());
                }
                Err(e) => self.warn(&e),
            }
        }
        let head = format!("{} {} {}", m.subject, m.id, host_header(&m.host));
        if self
            .spool
            .push_bytes(&head, &m.payload)
            .map_err(|e| Error::Input(format!("agent sink nats: {e}")))?
        {
            self.spooled += 1;
        }
        Ok(())
    }

    /// Sends what the spool holds, oldest first, for at most `budget`.
    fn pump(&mut self, budget: Duration) -> Result<()> {
        let t0 = Instant::now();
        while !self.spool.is_empty() && self.connected() && t0.elapsed() < budget {
            let Some(front) = self.spool.front_bytes() else {
                break;
            };
            let (head, payload) =
                front.map_err(|e| Error::Input(format!("agent sink nats: {e}")))?;
            let mut parts = head.splitn(3, ' ');
            let (subject, id, host) = (
                parts.next().unwrap_or_default().to_string(),
                parts.next().unwrap_or_default().to_string(),
                parts.next().unwrap_or_default().to_string(),
            );
            if subject.is_empty() {
                // Not one of ours: dropped rather than blocking the rest.
                self.spool
                    .pop_front()
                    .map_err(|e| Error::Input(format!("agent sink nats: {e}")))?;
                continue;
            }
            let m = Msg {
                subject,
                id,
                host,
                payload,
            };
            match self.publish(&m) {
                Ok(()) => {
                    self.published += 1;
                    self.spool
                        .pop_front()
                        .map_err(|e| Error::Input(format!("agent sink nats: {e}")))?;
                }
                Err(e) => {
                    self.warn(&e);
                    break;
                }
            }
        }
        Ok(())
    }
}

impl Sink for NatsSink {
    fn write_line(&mut self, _line: &[u8]) -> Result<()> {
        // The findings themselves go out (`write`), not their lines.
        Ok(())
    }

    fn write(&mut self, d: &Delivery) -> Result<()> {
        let f = match &d.item {
            Item::Alert(a) => FindingMsg::Alert(a.clone()),
            Item::Network(n) => FindingMsg::Network(n.clone()),
            Item::Health(_) => FindingMsg::Health(String::from_utf8_lossy(&d.line).into_owned()),
            // Campaigns are the collector's: it sees every host.
            Item::Campaign(_) => return Ok(()),
        };
        let host = match &f {
            FindingMsg::Health(_) => match &d.item {
                Item::Health(v) => v
                    .pointer("/device/hostname")
                    .and_then(|h| h.as_str())
                    .unwrap_or_default()
                    .to_string(),
                _ => String::new(),
            },
            other => other.host().to_string(),
        };
        self.send(Msg {
            subject: crate::nats::findings_subject(&host),
            id: d.key.clone(),
            host,
            payload: encode_finding(&f),
        })
    }

    fn name(&self) -> String {
        format!("nats {}", self.url)
    }

    fn tick(&mut self) -> Result<()> {
        self.pump(PUMP_BUDGET)
    }

    fn overflowed(&self) -> u64 {
        self.spool.overflowed()
    }

    fn wants_events(&self) -> bool {
        self.events
    }

    fn write_events(&mut self, files: &[SourceName], events: &[Event]) -> Result<()> {
        let refs: Vec<FileRef> = files
            .iter()
            .map(|f| FileRef {
                path: f.label.to_string(),
                format: f.format.to_string(),
            })
            .collect();
        let mut start = 0;
        while start < events.len() {
            let host = events[start].host.clone();
            let mut end = start;
            while end < events.len() && end - start < FRAME_EVENTS && events[end].host == host {
                end += 1;
            }
            let changed = self.sent_files.get(&*host) != Some(&refs);
            if changed {
                self.sent_files.insert(host.to_string(), refs.clone());
            }
            self.frames += 1;
            let frame = Frame {
                host: host.to_string(),
                files: if changed { refs.clone() } else { Vec::new() },
                events: events[start..end].to_vec(),
                end: false,
            };
            self.send(Msg {
                subject: crate::nats::events_subject(&host),
                id: format!("ev/{}/{}/{}", host_token(&host), self.instance, self.frames),
                host: host.to_string(),
                payload: encode_frame(frame),
            })?;
            start = end;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        let t0 = Instant::now();
        while !self.spool.is_empty() && t0.elapsed() < FLUSH_WAIT {
            self.pump(PUMP_BUDGET)?;
            if !self.spool.is_empty() {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        eprintln!(
            "floodwatch agent: sink nats {}: {} message(s) acknowledged by the server; {} waited in the spool; {} dropped (spool full)",
            floodwatch_sinks::escape::terminal(&self.url),
            self.published,
            self.spooled,
            self.spool.overflowed()
        );
        if !self.spool.is_empty() {
            eprintln!(
                "floodwatch agent: sink nats {}: {} message(s) still wait in the spool; they are sent when the agent runs again",
                floodwatch_sinks::escape::terminal(&self.url),
                self.spool.len()
            );
        }
        Ok(())
    }
}

/// The sinks of the fleet crate, for `Sinks::from_config_with`.
pub fn agent_sink(
    cfg: &floodwatch_core::config::AgentSink,
) -> Option<Result<Box<dyn Sink + Send>>> {
    match cfg {
        floodwatch_core::config::AgentSink::Nats {
            url,
            spool,
            spool_max_bytes,
            events,
        } => Some(
            NatsSink::open(url, spool, *spool_max_bytes, *events)
                .map(|s| Box::new(s) as Box<dyn Sink + Send>),
        ),
        _ => None,
    }
}
