//! A partition's engines: one [`Engine`] per host, as a hunt keeps one per host, fed the host's
//! frames in stream order; and the partition's checkpoint (every host's engine snapshot, its files,
//! the alert states it holds back) as bytes.
//!
//! Batch semantics (the default, what `fleet publish` streams are for): the host's alert states are
//! held until its stream ends, then settled as a hunt settles them and handed out with its network
//! findings, so a published collection gives exactly `hunt`'s findings. Live (`--live`, for
//! agents' events, which never end): every state goes out as it happens, and a host quiet for a
//! while has its event clock moved on with wall time, as `watch` does.

use crate::wire::{FileRef, FindingMsg, Frame};
use floodwatch_core::config::Config;
use floodwatch_core::{Error, Result};
use floodwatch_engine::suppress::Suppressions;
use floodwatch_engine::{AlertEvent, Engine, Shared};
use floodwatch_sources::Format;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Bumped when [`Checkpoint`] changes shape.
const CHECKPOINT_VERSION: u32 = 1;

/// What every host engine judges with.
pub struct Judge {
    pub cfg: Config,
    pub sup: Suppressions,
    /// The config and suppressions' fingerprint: a snapshot is restored only under the same.
    pub fingerprint: u64,
    /// Live semantics (see the module's doc).
    pub live: bool,
}

impl Judge {
    pub fn new(cfg: Config, sup: Suppressions, live: bool) -> Judge {
        let fingerprint = floodwatch_runtime::agent::fingerprint(&cfg, &sup);
        Judge {
            cfg,
            sup,
            fingerprint,
            live,
        }
    }

    /// The shared state of one host's engine: its files by index, their formats.
    fn shared(&self, files: &[FileRef]) -> Result<Arc<Shared>> {
        let mut sh = Shared::new(
            self.cfg.clone(),
            self.sup.clone(),
            files.iter().map(|f| Arc::from(f.path.as_str())).collect(),
        )
        .map_err(Error::Usage)?;
        sh.formats = files.iter().map(|f| Arc::from(f.format.as_str())).collect();
        // As a hunt: the network join index only when some source can carry pid-less traffic (an
        // unknown format might).
        let network_only: Vec<&str> = [
            Format::ZeekTsv,
            Format::ZeekJson,
            Format::Pcap,
            Format::Pcapng,
        ]
        .iter()
        .map(|f| f.name())
        .collect();
        let known: Vec<&str> = [
            Format::Eslogger,
            Format::NettopCsv,
            Format::NettopFixed,
            Format::UnifiedLogNdjson,
            Format::UnifiedLogJson,
            Format::Osquery,
            Format::JamfProtect,
            Format::ElasticDefend,
            Format::JamfTelemetry,
        ]
        .iter()
        .map(|f| f.name())
        .collect();
        sh.network_join = files.is_empty()
            || files.iter().any(|f| {
                network_only.contains(&f.format.as_str()) || !known.contains(&f.format.as_str())
            });
        sh.fingerprint = self.fingerprint;
        Ok(Arc::new(sh))
    }
}

/// One host's engine and what goes with it.
struct Host {
    engine: Engine,
    files: Vec<FileRef>,
    /// Batch: alert states held until the host's stream ends.
    held: Vec<AlertEvent>,
    /// When its last frame came (live: its clock moves on with wall time after a silence).
    last_frame: Instant,
    /// Its snapshot as of the last checkpoint, while it has not changed since.
    snapshot: Option<Vec<u8>>,
}

/// Every host of a partition.
pub struct Partition {
    judge: Arc<Judge>,
    hosts: BTreeMap<String, Host>,
    /// Frames and events taken, for the report.
    pub frames: u64,
    pub events: u64,
    /// Hosts whose stream ended here.
    pub hosts_ended: u64,
    /// Events the engines could not use (out of range, too late), by reason.
    pub rejects: BTreeMap<&'static str, u64>,
}

/// A partition's checkpoint: every host's state, and the stream sequence it is as of (set by the
/// caller).
#[derive(bitcode::Encode, bitcode::Decode)]
struct Checkpoint {
    version: u32,
    seq: u64,
    hosts: Vec<HostCheckpoint>,
}

#[derive(bitcode::Encode, bitcode::Decode)]
struct HostCheckpoint {
    host: String,
    files: Vec<FileRef>,
    held: Vec<AlertEvent>,
    /// `Engine::snapshot`.
    engine: Vec<u8>,
}

impl Partition {
    pub fn new(judge: Arc<Judge>) -> Partition {
        Partition {
            judge,
            hosts: BTreeMap::new(),
            frames: 0,
            events: 0,
            hosts_ended: 0,
            rejects: BTreeMap::new(),
        }
    }

    pub fn hosts(&self) -> usize {
        self.hosts.len()
    }

    /// One frame in; the finding states it let out appended to `out`.
    pub fn take(&mut self, frame: Frame, out: &mut Vec<FindingMsg>) -> Result<()> {
        self.frames += 1;
        self.events += frame.events.len() as u64;
        let judge = self.judge.clone();
        let live = judge.live;
        let host = match self.hosts.get_mut(&frame.host) {
            Some(h) => {
                if !frame.files.is_empty() && frame.files != h.files {
                    // The host's sources changed (an agent learnt a format): the same state under
                    // the new names.
                    let bytes = h.engine.snapshot();
                    h.engine = Engine::restore(judge.shared(&frame.files)?, &bytes)
                        .map_err(|e| Error::Input(format!("re-naming a host's files: {e}")))?;
                    h.files = frame.files.clone();
                }
                h
            }
            None => {
                let engine = Engine::new(judge.shared(&frame.files)?, live);
                self.hosts.entry(frame.host.clone()).or_insert(Host {
                    engine,
                    files: frame.files.clone(),
                    held: Vec::new(),
                    last_frame: Instant::now(),
                    snapshot: None,
                })
            }
        };
        host.snapshot = None;
        host.last_frame = Instant::now();
        let mut alerts = Vec::new();
        for ev in frame.events {
            host.engine.push(ev, &mut alerts);
        }
        for r in host.engine.rejects.drain(..) {
            *self.rejects.entry(r.reason).or_default() += 1;
        }
        if live {
            out.extend(
                alerts
                    .into_iter()
                    .map(|a| FindingMsg::Alert(Box::new(a.alert))),
            );
            out.extend(
                host.engine
                    .findings
                    .drain(..)
                    .map(|f| FindingMsg::Network(Box::new(f))),
            );
        } else {
            host.held.extend(alerts);
        }
        if frame.end {
            if let Some(mut h) = self.hosts.remove(&frame.host) {
                let mut alerts = std::mem::take(&mut h.held);
                h.engine.finish(&mut alerts);
                h.engine.settle(&mut alerts);
                out.extend(
                    alerts
                        .into_iter()
                        .map(|a| FindingMsg::Alert(Box::new(a.alert))),
                );
                out.extend(
                    h.engine
                        .findings
                        .drain(..)
                        .map(|f| FindingMsg::Network(Box::new(f))),
                );
                self.hosts_ended += 1;
            }
        }
        Ok(())
    }

    /// Live: every host silent for `after` has its event clock moved on by the silence, as
    /// `watch` does, so quiet episodes close. Returns whether any host was moved.
    pub fn idle(&mut self, after: Duration, out: &mut Vec<FindingMsg>) -> bool {
        if !self.judge.live {
            return false;
        }
        let mut moved = false;
        for h in self.hosts.values_mut() {
            let quiet = h.last_frame.elapsed();
            if quiet < after {
                continue;
            }
            let mut alerts = Vec::new();
            h.engine.idle(quiet, &mut alerts);
            h.last_frame = Instant::now();
            h.snapshot = None;
            moved = true;
            out.extend(
                alerts
                    .into_iter()
                    .map(|a| FindingMsg::Alert(Box::new(a.alert))),
            );
            out.extend(
                h.engine
                    .findings
                    .drain(..)
                    .map(|f| FindingMsg::Network(Box::new(f))),
            );
        }
        moved
    }

    /// The checkpoint as of stream sequence `seq`: hosts unchanged since the last one keep their
    /// snapshot.
    pub fn checkpoint(&mut self, seq: u64) -> Vec<u8> {
        let mut hosts = Vec::with_capacity(self.hosts.len());
        for (name, h) in self.hosts.iter_mut() {
            let engine = h
                .snapshot
                .get_or_insert_with(|| h.engine.snapshot())
                .clone();
            hosts.push(HostCheckpoint {
                host: name.clone(),
                files: h.files.clone(),
                held: h.held.clone(),
                engine,
            });
        }
        let mut out = CHECKPOINT_VERSION.to_le_bytes().to_vec();
        out.extend_from_slice(&bitcode::encode(&Checkpoint {
            version: CHECKPOINT_VERSION,
            seq,
            hosts,
        }));
        out
    }

    /// A partition as its checkpoint left it, and the stream sequence the checkpoint is as of.
    pub fn restore(judge: Arc<Judge>, bytes: &[u8]) -> Result<(Partition, u64)> {
        let bad =
            |why: String| Error::Input(format!("the partition checkpoint is not usable: {why}"));
        let version = bytes
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)
            .ok_or_else(|| bad("shorter than its header".into()))?;
        if version != CHECKPOINT_VERSION {
            return Err(bad(format!(
                "format {version}, this build reads format {CHECKPOINT_VERSION}"
            )));
        }
        let ck: Checkpoint = bitcode::decode(&bytes[4..]).map_err(|e| bad(e.to_string()))?;
        let mut p = Partition::new(judge.clone());
        let mut seen = BTreeSet::new();
        for h in ck.hosts {
            if !seen.insert(h.host.clone()) {
                return Err(bad(format!("host {:?} twice", h.host)));
            }
            let engine = Engine::restore(judge.shared(&h.files)?, &h.engine)
                .map_err(|e| bad(format!("host {:?}: {e}", h.host)))?;
            p.hosts.insert(
                h.host,
                Host {
                    engine,
                    files: h.files,
                    held: h.held,
                    last_frame: Instant::now(),
                    snapshot: Some(h.engine),
                },
            );
        }
        Ok((p, ck.seq))
    }
}
