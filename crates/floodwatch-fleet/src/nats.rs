//! The fleet's place on a NATS server: its subjects, streams, buckets, and the setup that creates
//! them (`floodwatch fleet setup`).
//!
//! | what | name | holds |
//! |---|---|---|
//! | subject, in | `floodwatch.events.<host>` | event frames, as publishers and agents send them |
//! | subject, stored | `floodwatch.part.<p>.<host>` | the same, after the server's mapping put the host in partition `p` |
//! | stream | `FLOODWATCH_EVENTS` | `floodwatch.part.>`, kept by age (a partition can be replayed) |
//! | consumers | `part-<p>` | durable pull consumer of partition `p`, acked up to its last checkpoint |
//! | subject, stream | `floodwatch.findings.<host>`, `FLOODWATCH_FINDINGS` | finding states (workers, agents) |
//! | KV bucket | `floodwatch_fleet` | `partitions` (N), `ckpt.<p>` (partition checkpoint pointers) |
//! | KV bucket | `floodwatch_leases` | `part.<p>` (who owns a partition), `worker.<name>` (who is alive); entries expire after the lease time |
//! | object store | `floodwatch_snapshots` | partition checkpoints (engine snapshots) |
//!
//! Hosts go to partitions on the server, by its subject mapping
//! `floodwatch.events.*` → `floodwatch.part.{{partition(N,1)}}.{{wildcard(1)}}` (see
//! [`server_config`]): every publisher agrees without knowing N, and a host is in one partition
//! for as long as N stays the same.

use async_nats::jetstream::{self, kv, object_store, stream};
use floodwatch_core::{Error, Result};
use std::time::Duration;

pub const EVENTS_IN: &str = "floodwatch.events";
pub const EVENTS_PART: &str = "floodwatch.part";
pub const FINDINGS: &str = "floodwatch.findings";
pub const EVENTS_STREAM: &str = "FLOODWATCH_EVENTS";
pub const FINDINGS_STREAM: &str = "FLOODWATCH_FINDINGS";
pub const FLEET_KV: &str = "floodwatch_fleet";
pub const LEASES_KV: &str = "floodwatch_leases";
pub const SNAPSHOTS: &str = "floodwatch_snapshots";

/// Headers on every message the fleet publishes.
pub const HOST_HEADER: &str = "Floodwatch-Host";
pub const SOURCE_HEADER: &str = "Floodwatch-Source";
pub const ENCODING_HEADER: &str = "Floodwatch-Encoding";

/// `bitcode/<wire version>`.
pub fn encoding() -> String {
    format!("bitcode/{}", crate::wire::WIRE_VERSION)
}

pub fn events_subject(host: &str) -> String {
    format!("{EVENTS_IN}.{}", crate::wire::host_token(host))
}

pub fn findings_subject(host: &str) -> String {
    format!("{FINDINGS}.{}", crate::wire::host_token(host))
}

pub fn partition_filter(p: u32) -> String {
    format!("{EVENTS_PART}.{p}.>")
}

/// The partition a stored subject (`floodwatch.part.<p>.<host>`) is in.
pub fn partition_of(subject: &str) -> Option<u32> {
    subject
        .strip_prefix(EVENTS_PART)?
        .strip_prefix('.')?
        .split('.')
        .next()?
        .parse()
        .ok()
}

/// A connection and its JetStream context.
#[derive(Clone)]
pub struct Fleet {
    pub client: async_nats::Client,
    pub js: jetstream::Context,
}

/// An error from the client, said with what was being done and where.
pub fn nats_err<E: std::fmt::Display>(what: impl Into<String>) -> impl FnOnce(E) -> Error {
    let what = what.into();
    move |e| Error::Input(format!("nats: {what}: {e}"))
}

/// Connects to `url` (several servers comma-separated), failing within a few seconds when none
/// answers. The client then reconnects on its own.
pub async fn connect(url: &str, name: &str) -> Result<Fleet> {
    let client = async_nats::ConnectOptions::new()
        .name(name)
        .connection_timeout(Duration::from_secs(5))
        .connect(url)
        .await
        .map_err(nats_err(format!("connecting to {url}")))?;
    Ok(fleet_of(client))
}

/// The JetStream context the fleet uses: API calls and publish acks time out after 10 s.
pub fn fleet_of(client: async_nats::Client) -> Fleet {
    let js = jetstream::ContextBuilder::new()
        .timeout(Duration::from_secs(10))
        .backpressure_on_inflight(true)
        .build(client.clone());
    Fleet { client, js }
}

/// A nats-server config for a fleet of `partitions` partitions: JetStream on, and the mapping that
/// puts each host in its partition.
pub fn server_config(partitions: u32, listen: &str, store_dir: &str) -> String {
    format!(
        "# floodwatch fleet: {partitions} partitions (floodwatch fleet setup --partitions {partitions})\n\
         listen: {listen}\n\
         jetstream {{\n  store_dir: {store_dir:?}\n}}\n\
         {}",
        mapping(partitions)
    )
}

/// The subject mapping alone, for an existing server config.
pub fn mapping(partitions: u32) -> String {
    format!(
        "mappings = {{\n  \"{EVENTS_IN}.*\": \"{EVENTS_PART}.{{{{partition({partitions},1)}}}}.{{{{wildcard(1)}}}}\"\n}}\n"
    )
}

/// What `fleet setup` creates.
#[derive(Clone, Debug)]
pub struct SetupOptions {
    pub partitions: u32,
    /// How long events are kept: a partition without a usable checkpoint is rebuilt from what is
    /// kept.
    pub events_max_age: Duration,
    pub findings_max_age: Duration,
    /// How long a partition lease lasts without renewal: how soon a dead worker's partitions
    /// move.
    pub lease_ttl: Duration,
    /// Re-sends within this window are dropped by the server (`Nats-Msg-Id`).
    pub duplicate_window: Duration,
    pub replicas: usize,
}

impl Default for SetupOptions {
    fn default() -> Self {
        SetupOptions {
            partitions: 8,
            events_max_age: Duration::from_secs(7 * 86_400),
            findings_max_age: Duration::from_secs(30 * 86_400),
            lease_ttl: Duration::from_secs(10),
            duplicate_window: Duration::from_secs(600),
            replicas: 1,
        }
    }
}

/// The fleet as set up: its partition count and lease time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    pub partitions: u32,
    pub lease_ttl: Duration,
}

/// Creates (or brings up to date) the streams, buckets and object store, records the partition
/// count, and checks that the server maps `floodwatch.events.*` into that many partitions. A
/// partition count other than the one recorded is refused: hosts would change partitions under
/// their checkpoints.
pub async fn setup(f: &Fleet, o: &SetupOptions) -> Result<Layout> {
    if o.partitions == 0 {
        return Err(Error::Usage(
            "fleet setup: --partitions must be at least 1".into(),
        ));
    }
    let js = &f.js;
    js.create_or_update_stream(stream::Config {
        name: EVENTS_STREAM.into(),
        description: Some("floodwatch: normalized events by partition and host".into()),
        subjects: vec![format!("{EVENTS_PART}.>")],
        retention: stream::RetentionPolicy::Limits,
        max_age: o.events_max_age,
        duplicate_window: o.duplicate_window,
        storage: stream::StorageType::File,
        num_replicas: o.replicas,
        ..Default::default()
    })
    .await
    .map_err(nats_err(format!("creating the stream {EVENTS_STREAM}")))?;
    js.create_or_update_stream(stream::Config {
        name: FINDINGS_STREAM.into(),
        description: Some("floodwatch: finding states by host".into()),
        subjects: vec![format!("{FINDINGS}.>")],
        retention: stream::RetentionPolicy::Limits,
        max_age: o.findings_max_age,
        duplicate_window: o.duplicate_window,
        storage: stream::StorageType::File,
        num_replicas: o.replicas,
        ..Default::default()
    })
    .await
    .map_err(nats_err(format!("creating the stream {FINDINGS_STREAM}")))?;
    let fleet = bucket(
        js,
        FLEET_KV,
        "floodwatch: partition count, checkpoint pointers",
        Duration::ZERO,
        o.replicas,
    )
    .await?;
    bucket(
        js,
        LEASES_KV,
        "floodwatch: partition leases and live workers",
        o.lease_ttl,
        o.replicas,
    )
    .await?;
    if js.get_object_store(SNAPSHOTS).await.is_err() {
        js.create_object_store(object_store::Config {
            bucket: SNAPSHOTS.into(),
            description: Some("floodwatch: partition checkpoints".into()),
            num_replicas: o.replicas,
            ..Default::default()
        })
        .await
        .map_err(nats_err(format!("creating the object store {SNAPSHOTS}")))?;
    }
    match fleet
        .get("partitions")
        .await
        .map_err(nats_err("reading the partition count"))?
    {
        Some(v) if v.as_ref() != o.partitions.to_string().as_bytes() => {
            return Err(Error::Usage(format!(
                "fleet setup: the fleet has {} partitions; changing it would move hosts away from their checkpoints (start a new server store to change it)",
                String::from_utf8_lossy(&v)
            )))
        }
        Some(_) => {}
        None => {
            fleet
                .put("partitions", o.partitions.to_string().into())
                .await
                .map_err(nats_err("recording the partition count"))?;
        }
    }
    check_mapping(f, o.partitions).await?;
    layout(f).await
}

/// Creates or updates a key-value bucket (history 1, entries expiring after `max_age` unless it is
/// zero). The bucket's stream is made here with the settings the client's own `create_key_value`
/// uses: that call first reads the account's info, whose shape from a 2.9 server (no
/// `reserved_memory`) async-nats 0.52 does not parse.
async fn bucket(
    js: &jetstream::Context,
    name: &str,
    description: &str,
    max_age: Duration,
    replicas: usize,
) -> Result<kv::Store> {
    js.create_or_update_stream(stream::Config {
        name: format!("KV_{name}"),
        description: Some(description.into()),
        subjects: vec![format!("$KV.{name}.>")],
        max_messages_per_subject: 1,
        max_age,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: stream::DiscardPolicy::New,
        num_replicas: replicas.max(1),
        storage: stream::StorageType::File,
        ..Default::default()
    })
    .await
    .map_err(nats_err(format!("creating the bucket {name}")))?;
    js.get_key_value(name)
        .await
        .map_err(nats_err(format!("opening the bucket {name}")))
}

/// Publishes a few probes to `floodwatch.events.*`, reads where the server stored them and removes
/// them: each must land in `floodwatch.part.<p>.<token>` with `p` below the partition count.
async fn check_mapping(f: &Fleet, partitions: u32) -> Result<()> {
    let stream =
        f.js.get_stream(EVENTS_STREAM)
            .await
            .map_err(nats_err(format!("opening the stream {EVENTS_STREAM}")))?;
    let hint = || {
        format!(
            "the server must map {EVENTS_IN}.* into {partitions} partitions; add to its config:\n{}",
            mapping(partitions)
        )
    };
    for i in 0..16 {
        let token = format!("floodwatch-setup-probe-{i}");
        let mut h = async_nats::HeaderMap::new();
        h.insert(SOURCE_HEADER, "setup-probe");
        let ack =
            f.js.publish_with_headers(format!("{EVENTS_IN}.{token}"), h, bytes::Bytes::new())
                .await
                .map_err(|e| Error::Usage(format!("fleet setup: {e}: {}", hint())))?
                .await
                .map_err(|e| Error::Usage(format!("fleet setup: {e}: {}", hint())))?;
        let msg = stream
            .get_raw_message(ack.sequence)
            .await
            .map_err(nats_err("reading a probe back"))?;
        stream
            .delete_message(ack.sequence)
            .await
            .map_err(nats_err("removing a probe"))?;
        let subject = msg.subject.to_string();
        let ok = partition_of(&subject).is_some_and(|p| p < partitions)
            && subject.ends_with(&format!(".{token}"));
        if !ok {
            return Err(Error::Usage(format!(
                "fleet setup: a probe to {EVENTS_IN}.{token} was stored as {subject}: {}",
                hint()
            )));
        }
    }
    Ok(())
}

/// The fleet's partition count and lease time, as `fleet setup` left them.
pub async fn layout(f: &Fleet) -> Result<Layout> {
    let missing = |e: String| {
        Error::Usage(format!(
            "the fleet is not set up on this server (run floodwatch fleet setup): {e}"
        ))
    };
    let fleet =
        f.js.get_key_value(FLEET_KV)
            .await
            .map_err(|e| missing(e.to_string()))?;
    let n = fleet
        .get("partitions")
        .await
        .map_err(|e| missing(e.to_string()))?
        .and_then(|v| std::str::from_utf8(&v).ok()?.parse::<u32>().ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| missing("no partition count".into()))?;
    let leases =
        f.js.get_key_value(LEASES_KV)
            .await
            .map_err(|e| missing(e.to_string()))?;
    let ttl = leases
        .status()
        .await
        .map_err(|e| missing(e.to_string()))?
        .max_age();
    Ok(Layout {
        partitions: n,
        lease_ttl: ttl,
    })
}

/// A current-thread runtime for one blocking entry point (the CLI's commands, the agent's sink).
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("starting the NATS client's runtime", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_read_from_stored_subjects() {
        assert_eq!(partition_of("floodwatch.part.3.mac-01"), Some(3));
        assert_eq!(partition_of("floodwatch.part.x.mac-01"), None);
        assert_eq!(partition_of("floodwatch.events.mac-01"), None);
        assert!(mapping(8).contains(
            "\"floodwatch.events.*\": \"floodwatch.part.{{partition(8,1)}}.{{wildcard(1)}}\""
        ));
    }
}
