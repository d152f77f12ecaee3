//! `floodwatch fleet status`: the fleet as the server holds it: partitions, who owns each, its
//! checkpoint, what waits for it; live workers; the streams.

use crate::nats::{
    connect, layout, nats_err, partition_of, EVENTS_PART, EVENTS_STREAM, FINDINGS_STREAM, FLEET_KV,
    LEASES_KV,
};
use floodwatch_core::Result;
use futures_util::StreamExt;
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Status {
    pub partitions: u32,
    pub lease_ttl_secs: f64,
    pub workers: Vec<String>,
    pub events: StreamCounts,
    pub findings: StreamCounts,
    pub parts: Vec<PartStatus>,
    /// Every partition's events are checkpointed (nothing delivered or waiting past a checkpoint).
    pub caught_up: bool,
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct StreamCounts {
    pub messages: u64,
    pub bytes: u64,
    pub last_seq: u64,
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct PartStatus {
    pub partition: u32,
    pub owner: Option<String>,
    pub hosts: u64,
    pub messages: u64,
    /// The stream sequence its checkpoint is as of, and who wrote it.
    pub checkpoint_seq: u64,
    pub checkpoint_owner: Option<String>,
    /// Its consumer: frames not delivered yet, and delivered but not checkpointed.
    pub pending: Option<u64>,
    pub ack_pending: Option<u64>,
}

pub fn fleet_status(url: &str) -> Result<Status> {
    let rt = crate::nats::runtime()?;
    rt.block_on(status(url))
}

async fn status(url: &str) -> Result<Status> {
    let f = connect(url, "floodwatch fleet status").await?;
    let l = layout(&f).await?;
    let mut st = Status {
        partitions: l.partitions,
        lease_ttl_secs: l.lease_ttl.as_secs_f64(),
        ..Status::default()
    };
    let leases =
        f.js.get_key_value(LEASES_KV)
            .await
            .map_err(nats_err("opening the lease bucket"))?;
    let fleet_kv =
        f.js.get_key_value(FLEET_KV)
            .await
            .map_err(nats_err("opening the fleet bucket"))?;
    let mut owners: BTreeMap<u32, String> = BTreeMap::new();
    // Bounded: listings are consumers that end when they see no more pending (the object store's
    // was seen to hang in the worker's takeover); a status whose listing timed out shows no owners
    // rather than never answering.
    let listing = async {
        let Ok(mut keys) = leases.keys().await else {
            return Vec::new();
        };
        let mut all = Vec::new();
        while let Some(Ok(k)) = keys.next().await {
            all.push(k);
        }
        all
    };
    let keys = tokio::time::timeout(std::time::Duration::from_secs(5), listing)
        .await
        .unwrap_or_default();
    for k in keys {
        if let Some(w) = k.strip_prefix("worker.") {
            st.workers.push(w.to_string());
        } else if let Some(p) = k.strip_prefix("part.").and_then(|p| p.parse().ok()) {
            if let Ok(Some(v)) = leases.get(&k).await {
                owners.insert(p, String::from_utf8_lossy(&v).into_owned());
            }
        }
    }
    let mut events =
        f.js.get_stream(EVENTS_STREAM)
            .await
            .map_err(nats_err("opening the event stream"))?;
    let info = events
        .info()
        .await
        .map_err(nats_err("reading the event stream"))?
        .clone();
    st.events = StreamCounts {
        messages: info.state.messages,
        bytes: info.state.bytes,
        last_seq: info.state.last_sequence,
    };
    let mut per_part: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
    if let Ok(mut subjects) = events.info_with_subjects(format!("{EVENTS_PART}.>")).await {
        while let Some(Ok((subject, n))) = subjects.next().await {
            if let Some(p) = partition_of(&subject) {
                let e = per_part.entry(p).or_default();
                e.0 += 1;
                e.1 += n as u64;
            }
        }
    }
    let mut findings =
        f.js.get_stream(FINDINGS_STREAM)
            .await
            .map_err(nats_err("opening the findings stream"))?;
    let fi = findings
        .info()
        .await
        .map_err(nats_err("reading the findings stream"))?
        .clone();
    st.findings = StreamCounts {
        messages: fi.state.messages,
        bytes: fi.state.bytes,
        last_seq: fi.state.last_sequence,
    };
    let mut caught_up = true;
    for p in 0..l.partitions {
        let (hosts, messages) = per_part.get(&p).copied().unwrap_or_default();
        let mut ps = PartStatus {
            partition: p,
            owner: owners.get(&p).cloned(),
            hosts,
            messages,
            ..PartStatus::default()
        };
        if let Ok(Some(e)) = fleet_kv.entry(format!("ckpt.{p}")).await {
            if let Ok(ptr) = bitcode::decode::<crate::worker::Pointer>(&e.value) {
                ps.checkpoint_seq = ptr.seq;
                ps.checkpoint_owner = Some(ptr.owner);
            }
        }
        for name in crate::worker::partition_consumers(&events, p).await {
            if let Ok(mut c) = events
                .get_consumer::<async_nats::jetstream::consumer::pull::Config>(&name)
                .await
            {
                if let Ok(i) = c.info().await {
                    ps.pending = Some(ps.pending.unwrap_or(0) + i.num_pending);
                    ps.ack_pending = Some(ps.ack_pending.unwrap_or(0) + i.num_ack_pending as u64);
                }
            }
        }
        let done = messages == 0
            || (ps.pending == Some(0) && ps.ack_pending == Some(0) && ps.checkpoint_seq > 0);
        caught_up &= done;
        st.parts.push(ps);
    }
    st.caught_up = caught_up;
    Ok(st)
}

/// The status as text.
pub fn status_text(s: &Status) -> String {
    use floodwatch_sinks::escape::terminal;
    let mut out = format!(
        "fleet: {} partition(s), lease {:.1} s; {} live worker(s): {}\n\
         events: {} message(s), {:.1} MB; findings: {} message(s)\n",
        s.partitions,
        s.lease_ttl_secs,
        s.workers.len(),
        terminal(&s.workers.join(", ")),
        s.events.messages,
        s.events.bytes as f64 / 1e6,
        s.findings.messages
    );
    for p in &s.parts {
        out.push_str(&format!(
            "  partition {}: {} host(s), {} frame(s); owner {}; checkpoint at {}{}; pending {}, unacked {}\n",
            p.partition,
            p.hosts,
            p.messages,
            terminal(p.owner.as_deref().unwrap_or("none")),
            p.checkpoint_seq,
            p.checkpoint_owner
                .as_deref()
                .map(|o| format!(" by {}", terminal(o)))
                .unwrap_or_default(),
            p.pending.map_or("-".into(), |n| n.to_string()),
            p.ack_pending.map_or("-".into(), |n| n.to_string()),
        ));
    }
    out.push_str(if s.caught_up {
        "every partition is checkpointed up to its last event\n"
    } else {
        "some partition has events not yet checkpointed\n"
    });
    out
}
