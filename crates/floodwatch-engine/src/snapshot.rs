//! Engine snapshots: everything an [`Engine`] holds between two events (every host's reorder buffer,
//! process table, session, windows, open episodes, baselines being learned, network flows), as bytes,
//! and back. The agent checkpoints with them and the fleet worker hands partitions over with them, so
//! a restart continues exactly where the snapshot was taken: the same events after it give the same
//! alerts, with the same ids, as an engine that never stopped.
//!
//! The encoding is bitcode's (its own derive traits, so the JSON attributes on the same types, such
//! as `#[serde(skip)]`, do not leak into it). A snapshot starts with a format version and the
//! fingerprint of the config it was taken under; [`Engine::restore`] refuses one from another format
//! or another config rather than guess.

use crate::host::HostEngine;
use crate::{Engine, EngineStats, KindCounts, Shared};
use floodwatch_core::alert::HostVerdict;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Bumped whenever a type inside a snapshot changes shape (2: windows hold evidence seeds).
pub const SNAPSHOT_VERSION: u32 = 2;

/// Bytes before the body: the format version and the config fingerprint, little-endian.
const HEADER: usize = 12;

/// [`EngineStats`] as a snapshot keeps it (names as strings; coverage observations left out).
#[derive(bitcode::Encode, bitcode::Decode)]
struct Stats {
    events: u64,
    by_kind: Vec<(String, u64)>,
    traffic_unattributed: u64,
    traffic_out_of_scope: u64,
    late_events: u64,
    hot_windows: u64,
    alerts: u64,
    suppressed_alerts: u64,
    suppression_hits: BTreeMap<String, u64>,
    baseline_absorbed: u64,
    peak_processes: u64,
    network_floods: u64,
    network_scans: u64,
    network_late: u64,
    network_flows_evicted: u64,
    network_packets_evicted: u64,
    hosts: BTreeMap<String, HostVerdict>,
}

impl Stats {
    fn of(s: &EngineStats) -> Stats {
        Stats {
            events: s.events,
            by_kind: s.by_kind.iter().map(|(k, v)| (k.to_string(), v)).collect(),
            traffic_unattributed: s.traffic_unattributed,
            traffic_out_of_scope: s.traffic_out_of_scope,
            late_events: s.late_events,
            hot_windows: s.hot_windows,
            alerts: s.alerts,
            suppressed_alerts: s.suppressed_alerts,
            suppression_hits: s.suppression_hits.clone(),
            baseline_absorbed: s.baseline_absorbed,
            peak_processes: s.peak_processes as u64,
            network_floods: s.network_floods,
            network_scans: s.network_scans,
            network_late: s.network_late,
            network_flows_evicted: s.network_flows_evicted,
            network_packets_evicted: s.network_packets_evicted,
            hosts: s.hosts.clone(),
        }
    }

    fn into_stats(self) -> EngineStats {
        EngineStats {
            events: self.events,
            by_kind: {
                let mut counts = KindCounts::default();
                for (name, n) in self.by_kind {
                    // A name no kind has (a snapshot from another build) is left out.
                    counts.add(&name, n);
                }
                counts
            },
            traffic_unattributed: self.traffic_unattributed,
            traffic_out_of_scope: self.traffic_out_of_scope,
            late_events: self.late_events,
            hot_windows: self.hot_windows,
            alerts: self.alerts,
            suppressed_alerts: self.suppressed_alerts,
            suppression_hits: self.suppression_hits,
            baseline_absorbed: self.baseline_absorbed,
            peak_processes: self.peak_processes as _,
            network_floods: self.network_floods,
            network_scans: self.network_scans,
            network_late: self.network_late,
            network_flows_evicted: self.network_flows_evicted,
            network_packets_evicted: self.network_packets_evicted,
            observed: BTreeMap::new(),
            hosts: self.hosts,
        }
    }
}

/// Why a snapshot was not restored.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("the snapshot is not readable: {0}")]
    Corrupt(String),
    #[error("the snapshot is of format {found}, this build reads format {SNAPSHOT_VERSION}")]
    Version { found: u32 },
    #[error("the snapshot was taken under another config (or other suppressions)")]
    Config,
}

impl Engine {
    /// Everything the engine holds, as bytes for [`Engine::restore`]. Take it between two pushes,
    /// after the alert states pushed so far were handed on (they are not in it). Rejects gathered
    /// since the last drain are not in it either: they are reported by the run that met them.
    pub fn snapshot(&self) -> Vec<u8> {
        // Each part encoded on its own (from the engine's own fields, no copy), length first.
        let parts = [
            bitcode::encode(&self.updates),
            bitcode::encode(&self.hosts),
            bitcode::encode(&Stats::of(&self.stats)),
            bitcode::encode(&self.learned),
            bitcode::encode(&self.findings),
            bitcode::encode(&self.ends),
        ];
        let len: usize = parts.iter().map(|p| p.len() + 8).sum();
        let mut out = Vec::with_capacity(HEADER + len);
        out.extend_from_slice(&SNAPSHOT_VERSION.to_le_bytes());
        out.extend_from_slice(&self.shared.fingerprint.to_le_bytes());
        for p in &parts {
            out.extend_from_slice(&(p.len() as u64).to_le_bytes());
            out.extend_from_slice(p);
        }
        out
    }

    /// An engine as it was when `bytes` were taken by [`Engine::snapshot`], working under `shared`,
    /// which must carry the same [`Shared::fingerprint`] (the same config and suppressions).
    pub fn restore(shared: Arc<Shared>, bytes: &[u8]) -> Result<Engine, RestoreError> {
        let (Some(version), Some(fingerprint), Some(body)) = (
            bytes
                .get(..4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_le_bytes),
            bytes
                .get(4..HEADER)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_le_bytes),
            bytes.get(HEADER..),
        ) else {
            return Err(RestoreError::Corrupt("shorter than its header".into()));
        };
        if version != SNAPSHOT_VERSION {
            return Err(RestoreError::Version { found: version });
        }
        if fingerprint != shared.fingerprint {
            return Err(RestoreError::Config);
        }
        let mut parts = Parts(body);
        let updates: bool = parts.next()?;
        let hosts: BTreeMap<Arc<str>, HostEngine> = parts.next()?;
        let stats: Stats = parts.next()?;
        let learned = parts.next()?;
        let findings = parts.next()?;
        let ends = parts.next()?;
        if !parts.0.is_empty() {
            return Err(RestoreError::Corrupt("bytes after its last part".into()));
        }
        Ok(Engine {
            shared,
            hosts,
            updates,
            stats: stats.into_stats(),
            rejects: Vec::new(),
            learned,
            findings,
            ends,
        })
    }
}

/// A snapshot body's parts, each length-prefixed.
struct Parts<'a>(&'a [u8]);

impl Parts<'_> {
    fn next<T: bitcode::DecodeOwned>(&mut self) -> Result<T, RestoreError> {
        let cut = || RestoreError::Corrupt("cut short".into());
        let len = self
            .0
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
            .ok_or_else(cut)?;
        let len = usize::try_from(len).map_err(|_| cut())?;
        let part = self.0.get(8..8usize.saturating_add(len)).ok_or_else(cut)?;
        self.0 = &self.0[8 + len..];
        bitcode::decode(part).map_err(|e| RestoreError::Corrupt(e.to_string()))
    }
}
