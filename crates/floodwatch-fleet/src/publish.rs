//! `floodwatch fleet publish PATH...`: a collection read exactly as `hunt` reads it (the same
//! discovery, anchoring and per-host merge, see `floodwatch_runtime::stream`), each host's events
//! sent in that order as frames to `floodwatch.events.<host>`, where the server's mapping files
//! them under the host's partition. A host's first frame names its files; its last says the host
//! ends, so the worker finishes it as a hunt does.
//!
//! Reading and encoding run on their own thread; publishing keeps up to `inflight` frames waiting
//! for their acks. Frames carry `Nats-Msg-Id` (`<run>/<host>/<n>`), so a frame re-sent by the
//! client after a reconnect is stored once. A frame the server does not ack stops the publish
//! with an error: the frames of a host must be stored in order, and a gap cannot be filled later.

use crate::nats::{connect, layout, ENCODING_HEADER, HOST_HEADER, SOURCE_HEADER};
use crate::wire::{encode_frame, host_header, host_token, FileRef, Frame};
use async_nats::jetstream::context::PublishAckFuture;
use async_nats::jetstream::message::PublishMessage;
use floodwatch_core::config::Config;
use floodwatch_core::event::Event;
use floodwatch_core::{Error, Result};
use floodwatch_runtime::stream::{stream_hosts, HostSink, HostStream};
use floodwatch_runtime::HuntOptions;
use floodwatch_sinks::summary::RunSummary;
use std::collections::VecDeque;
use std::time::Instant;

#[derive(Clone, Debug)]
pub struct PublishOptions {
    pub url: String,
    pub hunt: HuntOptions,
    /// Events per frame (at most; a frame is also cut below the server's message size limit).
    pub frame_events: usize,
    /// Frames published and not yet acked, at most.
    pub inflight: usize,
}

/// What a publish sent.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct PublishReport {
    pub hosts: u64,
    pub events: u64,
    pub frames: u64,
    pub bytes: u64,
    /// Frames the server already had (a re-send).
    pub duplicates: u64,
    /// Events larger than the server's message size limit on their own: not sent.
    pub too_large: u64,
    pub seconds: f64,
    #[serde(skip)]
    pub summary: RunSummary,
}

/// A frame ready to publish.
struct Outgoing {
    subject: String,
    id: String,
    host: String,
    payload: bytes::Bytes,
}

/// Builds frames as the host streams come, and hands them over encoded.
struct Framer {
    tx: tokio::sync::mpsc::Sender<Outgoing>,
    run: String,
    frame: Frame,
    n: u64,
    frame_events: usize,
    max_payload: usize,
    hosts: u64,
    events: u64,
    too_large: u64,
}

impl Framer {
    fn flush(&mut self, end: bool) -> Result<()> {
        let mut frame = std::mem::take(&mut self.frame);
        frame.end = end;
        let host = frame.host.clone();
        self.frame.host = host;
        self.send(frame)
    }

    /// Encodes and hands over a frame; one too large for the server is cut in two.
    fn send(&mut self, frame: Frame) -> Result<()> {
        let host = frame.host.clone();
        let events = frame.events.len();
        if events > 1 {
            let bytes = encode_frame(frame.clone());
            if bytes.len() > self.max_payload {
                let mut first = frame;
                let rest = first.events.split_off(events / 2);
                let second = Frame {
                    host: first.host.clone(),
                    files: Vec::new(),
                    events: rest,
                    end: first.end,
                };
                first.end = false;
                self.send(first)?;
                return self.send(second);
            }
            return self.hand_over(host, bytes);
        }
        let mut frame = frame;
        let bytes = encode_frame(frame.clone());
        let bytes = if bytes.len() > self.max_payload {
            // One event alone is too large: counted, and the frame goes without it.
            self.too_large += frame.events.len() as u64;
            frame.events.clear();
            encode_frame(frame)
        } else {
            bytes
        };
        self.hand_over(host, bytes)
    }

    fn hand_over(&mut self, host: String, bytes: Vec<u8>) -> Result<()> {
        self.n += 1;
        let out = Outgoing {
            subject: crate::nats::events_subject(&host),
            id: format!("{}/{}/{}", self.run, host_token(&host), self.n),
            host,
            payload: bytes.into(),
        };
        self.tx
            .blocking_send(out)
            .map_err(|_| Error::Input("fleet publish: the publisher stopped".into()))
    }
}

impl HostSink for Framer {
    fn begin(&mut self, host: &HostStream) -> Result<()> {
        self.hosts += 1;
        self.frame = Frame {
            host: host.host.clone(),
            files: host
                .files
                .iter()
                .map(|f| FileRef {
                    path: f.path.clone(),
                    format: f.format.clone(),
                })
                .collect(),
            events: Vec::with_capacity(self.frame_events),
            end: false,
        };
        Ok(())
    }

    fn event(&mut self, ev: Event) -> Result<()> {
        self.events += 1;
        self.frame.events.push(ev);
        if self.frame.events.len() >= self.frame_events {
            self.flush(false)?;
        }
        Ok(())
    }

    fn end(&mut self, _host: &HostStream) -> Result<()> {
        self.flush(true)
    }
}

/// Publishes a collection. Errors for an unusable setup, a read error, or a frame the server would
/// not take.
pub fn publish(o: &PublishOptions, cfg: &Config) -> Result<PublishReport> {
    let rt = crate::nats::runtime()?;
    let t0 = Instant::now();
    let fleet = rt.block_on(connect(&o.url, "floodwatch fleet publish"))?;
    rt.block_on(layout(&fleet))?;
    let max_payload = fleet
        .client
        .server_info()
        .max_payload
        .saturating_sub(4096)
        .max(4096);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Outgoing>(o.inflight.max(16));
    let run = run_id();
    let hunt = o.hunt.clone();
    let cfg = cfg.clone();
    let frame_events = o.frame_events.max(1);
    let reader = std::thread::spawn(move || {
        let mut f = Framer {
            tx,
            run,
            frame: Frame::default(),
            n: 0,
            frame_events,
            max_payload,
            hosts: 0,
            events: 0,
            too_large: 0,
        };
        let summary = stream_hosts(&hunt, &cfg, &mut f);
        (summary, f.hosts, f.events, f.too_large)
    });
    let mut report = PublishReport::default();
    let sent = rt.block_on(async {
        let mut inflight: VecDeque<(String, PublishAckFuture)> = VecDeque::new();
        while let Some(m) = rx.recv().await {
            report.frames += 1;
            report.bytes += m.payload.len() as u64;
            let msg = PublishMessage::build()
                .payload(m.payload)
                .message_id(&m.id)
                .header(HOST_HEADER, host_header(&m.host).as_str())
                .header(SOURCE_HEADER, "publish")
                .header(ENCODING_HEADER, crate::nats::encoding().as_str());
            let fut = fleet
                .js
                .send_publish(m.subject.clone(), msg)
                .await
                .map_err(|e| no_stream(&m.subject, e))?;
            inflight.push_back((m.subject, fut));
            while inflight.len() >= o.inflight.max(1) {
                if let Some((subject, fut)) = inflight.pop_front() {
                    report.duplicates += u64::from(acked(&subject, fut).await?);
                }
            }
        }
        while let Some((subject, fut)) = inflight.pop_front() {
            report.duplicates += u64::from(acked(&subject, fut).await?);
        }
        Ok::<(), Error>(())
    });
    // A failed publish drops the receiver: the reader then stops at its next frame.
    drop(rx);
    let (summary, hosts, events, too_large) = reader
        .join()
        .map_err(|_| Error::Input("fleet publish: the reading thread panicked".into()))?;
    sent?;
    report.summary = summary?;
    report.hosts = hosts;
    report.events = events;
    report.too_large = too_large;
    report.seconds = t0.elapsed().as_secs_f64();
    Ok(report)
}

fn no_stream(subject: &str, e: impl std::fmt::Display) -> Error {
    Error::Input(format!(
        "nats: publishing to {subject}: {e} (is the fleet set up, and does the server map {}.* into partitions? see floodwatch fleet server-config)",
        crate::nats::EVENTS_IN
    ))
}

/// Waits for a frame's ack: true when the server already had it.
async fn acked(subject: &str, fut: PublishAckFuture) -> Result<bool> {
    let ack = fut.await.map_err(|e| {
        Error::Input(format!(
            "nats: the server did not take a frame on {subject} ({e}); the publish stops here, as later frames of the host would be stored out of order"
        ))
    })?;
    Ok(ack.duplicate)
}

/// A name for this publish run (its frames' ids): unique per process and moment.
fn run_id() -> String {
    let seed = format!(
        "{}|{}|{:?}",
        std::process::id(),
        floodwatch_core::Ts::now().0,
        std::thread::current().id()
    );
    let ns = uuid::Uuid::from_u128(0x3d1e_8f4a_27c9_4b60_9e15_c0a7_5b2d_6f83);
    uuid::Uuid::new_v5(&ns, seed.as_bytes())
        .simple()
        .to_string()[..12]
        .to_string()
}
