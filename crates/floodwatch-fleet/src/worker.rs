//! `floodwatch fleet worker`: takes partitions, runs each one's hosts through the engine, publishes
//! the findings, checkpoints.
//!
//! **Ownership.** A worker owns a partition while it holds its lease, the key `part.<p>` in the
//! `floodwatch_leases` bucket, whose entries expire after the lease time unless renewed. It takes
//! a lease by creating the key (only one creator wins) and renews it every quarter of the lease
//! time with a compare-and-set on the revision it holds; a renewal that fails means someone else
//! owns the partition now, and the worker drops it at once, without a checkpoint. With
//! `--partitions` a worker takes exactly those (waiting while another holds one); without it,
//! every worker counts the live workers (keys `worker.<name>`, renewed the same way) and takes
//! free partitions up to its share, ceil(N / workers), and gives back what is over its share
//! (checkpointing first) when another worker joins. A worker killed with SIGKILL holds its
//! partitions until their leases expire; the others then take them.
//!
//! **A partition's run.** Taking it: the checkpoint pointer `ckpt.<p>` (in `floodwatch_fleet`) is
//! rewritten in the taker's name (so a slower previous owner can no longer move it), the
//! checkpoint object it names is read and every host's engine restored, and the durable consumer
//! `part-<p>` is made anew to deliver from the checkpoint's stream sequence + 1 (from the start
//! when there is none: the stream keeps events by age, so the partition is rebuilt). Then frames
//! come in stream order; each one's findings are published as they come (with `Nats-Msg-Id` set to
//! the finding state's key, so a re-send after a takeover is dropped by the server). A checkpoint
//! (every `checkpoint_interval`, after `checkpoint_frames` frames, whenever the partition goes
//! quiet for 300 ms, and without `--live` as soon as it has caught up with its stream) first waits
//! for every finding's publish ack, then stores the engines (object
//! `part-<p>-<seq>-<worker>`), moves the pointer by compare-and-set, and only then acks the
//! consumer up to that sequence (ack-all). So an event is acked only once the findings it caused
//! are published and the state it left is stored; a takeover replays exactly the frames after the
//! last checkpoint, and the findings they cause again carry the same ids.

use crate::engines::{Judge, Partition};
use crate::nats::{
    connect, layout, nats_err, partition_filter, Fleet, Layout, ENCODING_HEADER, EVENTS_STREAM,
    FLEET_KV, HOST_HEADER, LEASES_KV, SNAPSHOTS, SOURCE_HEADER,
};
use crate::wire::{encode_finding, host_header, FindingMsg, FrameDecoder};
use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
use async_nats::jetstream::context::PublishAckFuture;
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::{kv, object_store, stream};
use floodwatch_core::config::Config;
use floodwatch_core::{Error, Result};
use floodwatch_engine::suppress::Suppressions;
use futures_util::StreamExt;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio::sync::watch;

#[derive(Clone, Debug)]
pub struct WorkerOptions {
    pub url: String,
    /// How the leases name this worker (default: this machine's name and the process id).
    pub name: Option<String>,
    /// Exactly these partitions (static assignment); None: a share of them, by lease.
    pub partitions: Option<Vec<u32>>,
    pub checkpoint_interval: Duration,
    pub checkpoint_frames: u64,
    /// Live semantics (see [`crate::engines`]).
    pub live: bool,
    /// Live: a host silent this long has its event clock moved on.
    pub idle_after: Duration,
    /// Set (by a signal handler) to stop: every partition is checkpointed and given back.
    pub stop: Option<Arc<AtomicBool>>,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            url: "nats://127.0.0.1:4222".into(),
            name: None,
            partitions: None,
            checkpoint_interval: Duration::from_secs(2),
            checkpoint_frames: 2000,
            live: false,
            idle_after: Duration::from_secs(5),
            stop: None,
        }
    }
}

/// The longest a takeover waits for its housekeeping (listing old checkpoints and consumers).
const MAINTENANCE_TIMEOUT: Duration = Duration::from_secs(5);

/// The least time between two checkpoints made because a partition caught up with its stream.
const CAUGHT_UP_SPACING: Duration = Duration::from_millis(100);

/// What a worker did, over its partitions.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct WorkerReport {
    pub name: String,
    pub frames: u64,
    pub events: u64,
    pub findings: u64,
    pub checkpoints: u64,
    /// Partitions taken (a partition taken twice counts twice).
    pub taken: u64,
    /// Partitions given back (rebalance, stop) and lost (a lease taken over).
    pub released: u64,
    pub lost: u64,
    /// Frames that did not decode (another wire version, not ours), skipped.
    pub undecodable: u64,
    /// Events the engines could not use, by reason.
    pub rejects: BTreeMap<String, u64>,
    /// When it judged its first and its last frame (Unix ms; 0 if none): the span it was busy,
    /// for throughput without its start-up and its last checkpoint.
    pub first_frame_ms: i64,
    pub last_frame_ms: i64,
    /// When it last stored a checkpoint (Unix ms; 0 if never).
    pub last_checkpoint_ms: i64,
}

/// What a partition's task is told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ctl {
    Run,
    /// Checkpoint and give it back.
    Release,
    /// The lease is gone: stop now, no checkpoint.
    Lost,
}

/// How a partition's task ended.
enum End {
    Released,
    Lost,
}

struct Owned {
    ctl: watch::Sender<Ctl>,
    task: tokio::task::JoinHandle<Result<End>>,
}

/// Everything the partition tasks share.
struct Ctx {
    fleet: Fleet,
    name: String,
    layout: Layout,
    leases: kv::Store,
    fleet_kv: kv::Store,
    snapshots: object_store::ObjectStore,
    events: stream::Stream,
    judge: Arc<Judge>,
    opts: WorkerOptions,
    report: RefCell<WorkerReport>,
    /// One takeover's housekeeping (listing old checkpoints and consumers) at a time: 32 listings
    /// of the object store at once left most of them hanging until their time-out.
    housekeeping: tokio::sync::Mutex<()>,
}

/// Runs a worker until it is stopped. Errors for an unusable setup (no server, the fleet not set
/// up); a partition that fails is given up and taken again later.
pub fn run_worker(o: &WorkerOptions, cfg: Config, sup: Suppressions) -> Result<WorkerReport> {
    let rt = crate::nats::runtime()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, worker(o.clone(), cfg, sup))
}

fn default_name() -> String {
    let host = floodwatch_runtime::agent::default_host();
    let token: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{token}-{}", std::process::id())
}

async fn worker(o: WorkerOptions, cfg: Config, sup: Suppressions) -> Result<WorkerReport> {
    let name = o.name.clone().unwrap_or_else(default_name);
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(Error::Usage(format!(
            "fleet worker: --name {name:?}: use letters, digits, - and _ only"
        )));
    }
    let fleet = connect(&o.url, &format!("floodwatch fleet worker {name}")).await?;
    let layout = layout(&fleet).await?;
    if let Some(ps) = &o.partitions {
        if let Some(p) = ps.iter().find(|p| **p >= layout.partitions) {
            return Err(Error::Usage(format!(
                "fleet worker: partition {p} does not exist (the fleet has {} partitions, 0-{})",
                layout.partitions,
                layout.partitions - 1
            )));
        }
    }
    let js = &fleet.js;
    let ctx = Rc::new(Ctx {
        leases: js
            .get_key_value(LEASES_KV)
            .await
            .map_err(nats_err("opening the lease bucket"))?,
        fleet_kv: js
            .get_key_value(FLEET_KV)
            .await
            .map_err(nats_err("opening the fleet bucket"))?,
        snapshots: js
            .get_object_store(SNAPSHOTS)
            .await
            .map_err(nats_err("opening the snapshot store"))?,
        events: js
            .get_stream(EVENTS_STREAM)
            .await
            .map_err(nats_err("opening the event stream"))?,
        judge: Arc::new(Judge::new(cfg, sup, o.live)),
        report: RefCell::new(WorkerReport {
            name: name.clone(),
            ..WorkerReport::default()
        }),
        housekeeping: tokio::sync::Mutex::new(()),
        fleet,
        name,
        layout,
        opts: o,
    });
    let result = balance(&ctx).await;
    let report = ctx.report.borrow().clone();
    result.map(|()| report)
}

fn log(msg: &str) {
    eprintln!(
        "floodwatch fleet worker: {}",
        floodwatch_sinks::escape::terminal(msg)
    );
}

/// A lease as the keeper holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lease {
    /// Held at this revision, renewed by the keeper.
    Held(u64),
    /// To be given back (deleted at the revision held).
    Release(u64),
    /// A renewal failed: someone else holds it now.
    Lost,
}

type Leases = Arc<std::sync::Mutex<BTreeMap<u32, Lease>>>;

/// The lease keeper: its own thread, runtime and connection, so renewals keep their pace however
/// busy the engines are. Every tick it renews the worker's presence and every lease held, and
/// deletes the leases given back. It ends (presence removed) when `stop` is set and nothing is
/// left to give back.
fn spawn_keeper(
    url: String,
    name: String,
    tick: Duration,
    leases: Leases,
    stop: Arc<AtomicBool>,
) -> Result<std::thread::JoinHandle<()>> {
    let (ready_tx, ready) = std::sync::mpsc::channel::<Result<()>>();
    let handle = std::thread::spawn(move || {
        let rt = match crate::nats::runtime() {
            Ok(rt) => rt,
            Err(e) => {
                let _ = ready_tx.send(Err(e));
                return;
            }
        };
        rt.block_on(async move {
            let opened = async {
                let fleet =
                    connect(&url, &format!("floodwatch fleet worker {name} leases")).await?;
                fleet
                    .js
                    .get_key_value(LEASES_KV)
                    .await
                    .map_err(nats_err("opening the lease bucket"))
            };
            let bucket = match opened.await {
                Ok(b) => {
                    let _ = ready_tx.send(Ok(()));
                    b
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let me = format!("worker.{name}");
            loop {
                let _ = bucket.put(&me, "alive".into()).await;
                let snapshot: Vec<(u32, Lease)> = match leases.lock() {
                    Ok(l) => l.iter().map(|(p, l)| (*p, *l)).collect(),
                    Err(_) => return,
                };
                for (p, l) in snapshot {
                    let next = match l {
                        Lease::Held(rev) => {
                            match bucket.update(lease_key(p), name.clone().into(), rev).await {
                                Ok(rev) => Some(Lease::Held(rev)),
                                Err(e) => {
                                    log(&format!(
                                        "partition {p}: the lease could not be renewed ({e}): dropping it"
                                    ));
                                    Some(Lease::Lost)
                                }
                            }
                        }
                        Lease::Release(rev) => {
                            let _ = bucket.delete_expect_revision(lease_key(p), Some(rev)).await;
                            None
                        }
                        Lease::Lost => continue,
                    };
                    if let Ok(mut m) = leases.lock() {
                        // Unless the worker changed it meanwhile (a release asked for).
                        match (m.get(&p).copied(), next) {
                            (Some(now), Some(n)) if now == l => {
                                m.insert(p, n);
                            }
                            (Some(Lease::Release(_)), Some(Lease::Held(rev))) => {
                                m.insert(p, Lease::Release(rev));
                            }
                            (Some(now), None) if now == l => {
                                m.remove(&p);
                            }
                            _ => {}
                        }
                    }
                }
                let empty = leases.lock().map(|m| m.is_empty()).unwrap_or(true);
                if stop.load(Ordering::Relaxed) && empty {
                    let _ = bucket.delete(&me).await;
                    return;
                }
                tokio::time::sleep(tick).await;
            }
        })
    });
    ready
        .recv()
        .map_err(|_| Error::Input("the lease keeper did not start".into()))??;
    Ok(handle)
}

/// The worker's own loop: taking partitions, giving them back, stopping. Leases are renewed by the
/// keeper ([`spawn_keeper`]).
async fn balance(ctx: &Rc<Ctx>) -> Result<()> {
    let ttl = ctx.layout.lease_ttl;
    let tick = (ttl / 4).clamp(Duration::from_millis(100), Duration::from_secs(5));
    let n = ctx.layout.partitions;
    let leases: Leases = Arc::default();
    let keeper_stop = Arc::new(AtomicBool::new(false));
    let keeper = spawn_keeper(
        ctx.opts.url.clone(),
        ctx.name.clone(),
        tick,
        leases.clone(),
        keeper_stop.clone(),
    )?;
    let mut owned: BTreeMap<u32, Owned> = BTreeMap::new();
    let mut over_since: Option<Instant> = None;
    // Where this worker starts looking for free partitions: spread, so workers starting together
    // do not all race for partition 0.
    let offset = ctx
        .name
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32))
        % n;
    let lease_of = |p: u32| leases.lock().ok().and_then(|m| m.get(&p).copied());
    let set_lease = |p: u32, l: Option<Lease>| {
        if let Ok(mut m) = leases.lock() {
            match l {
                Some(l) => m.insert(p, l),
                None => m.remove(&p),
            };
        }
    };
    loop {
        let stopping = ctx
            .opts
            .stop
            .as_ref()
            .is_some_and(|s| s.load(Ordering::Relaxed));
        // Leases the keeper could not renew.
        for (p, o) in owned.iter() {
            if lease_of(*p) == Some(Lease::Lost) && *o.ctl.borrow() != Ctl::Lost {
                let _ = o.ctl.send(Ctl::Lost);
            }
        }
        // Partition tasks that ended: their leases are given back (a lost one is forgotten).
        let done: Vec<u32> = owned
            .iter()
            .filter(|(_, o)| o.task.is_finished())
            .map(|(p, _)| *p)
            .collect();
        for p in done {
            let Some(o) = owned.remove(&p) else { continue };
            let end = o
                .task
                .await
                .unwrap_or_else(|e| Err(Error::Input(format!("the task failed: {e}"))));
            match end {
                Ok(End::Released) => ctx.report.borrow_mut().released += 1,
                Ok(End::Lost) => ctx.report.borrow_mut().lost += 1,
                Err(e) => {
                    log(&format!(
                        "partition {p}: {e}: giving it up (it is taken again from its last checkpoint)"
                    ));
                    ctx.report.borrow_mut().lost += 1;
                }
            }
            match lease_of(p) {
                Some(Lease::Held(rev)) | Some(Lease::Release(rev)) => {
                    set_lease(p, Some(Lease::Release(rev)))
                }
                _ => set_lease(p, None),
            }
        }
        if stopping {
            if owned.is_empty() {
                keeper_stop.store(true, Ordering::Relaxed);
                let _ = tokio::task::spawn_blocking(move || keeper.join()).await;
                return Ok(());
            }
            for o in owned.values() {
                if *o.ctl.borrow() == Ctl::Run {
                    let _ = o.ctl.send(Ctl::Release);
                }
            }
        } else {
            let wanted: BTreeSet<u32> = match &ctx.opts.partitions {
                Some(ps) => ps.iter().copied().collect(),
                None => (0..n).collect(),
            };
            let share = match &ctx.opts.partitions {
                Some(ps) => ps.len(),
                None => {
                    // Bounded like the takeover's listings: a listing that hangs counts this
                    // worker alone this round (it takes free partitions; a later round evens out).
                    let workers =
                        tokio::time::timeout(MAINTENANCE_TIMEOUT, live_workers(&ctx.leases))
                            .await
                            .unwrap_or(1)
                            .max(1);
                    (n as usize).div_ceil(workers)
                }
            };
            let mut order: Vec<u32> = wanted.iter().copied().collect();
            order.sort_by_key(|p| (p + n - offset) % n);
            for p in order {
                if owned.len() >= share {
                    break;
                }
                // Not while a lease of ours is still being given back or forgotten.
                if owned.contains_key(&p) || lease_of(p).is_some() {
                    continue;
                }
                if let Ok(rev) = ctx
                    .leases
                    .create(lease_key(p), ctx.name.clone().into())
                    .await
                {
                    set_lease(p, Some(Lease::Held(rev)));
                    let (tx, rx) = watch::channel(Ctl::Run);
                    let c = ctx.clone();
                    let task =
                        tokio::task::spawn_local(async move { run_partition(c, p, rx).await });
                    ctx.report.borrow_mut().taken += 1;
                    owned.insert(p, Owned { ctl: tx, task });
                }
            }
            // Over the share (a worker joined): give back the last taken, checkpointed first.
            let running: Vec<u32> = owned
                .iter()
                .filter(|(_, o)| *o.ctl.borrow() == Ctl::Run)
                .map(|(p, _)| *p)
                .collect();
            // Only once it has lasted a lease time: a worker just killed still counts as live
            // until its presence expires, and giving back for it would only take back after.
            if running.len() > share {
                over_since.get_or_insert_with(Instant::now);
            } else {
                over_since = None;
            }
            let over_long = over_since.is_some_and(|t| t.elapsed() >= ttl);
            if ctx.opts.partitions.is_none() && running.len() > share && over_long {
                over_since = None;
                let mut by_order = running.clone();
                by_order.sort_by_key(|p| (p + n - offset) % n);
                for p in by_order.into_iter().skip(share) {
                    if let Some(o) = owned.get(&p) {
                        let _ = o.ctl.send(Ctl::Release);
                    }
                }
            }
        }
        tokio::time::sleep(tick).await;
    }
}

/// Partition `p`'s consumer while `worker` owns it.
pub(crate) fn consumer_name(p: u32, worker: &str) -> String {
    format!("part-{p}-{worker}")
}

/// The consumers of partition `p` (normally one: its owner's).
pub(crate) async fn partition_consumers(events: &stream::Stream, p: u32) -> Vec<String> {
    let prefix = format!("part-{p}-");
    let mut names = events.consumer_names();
    let mut out = Vec::new();
    while let Some(Ok(n)) = names.next().await {
        if n.starts_with(&prefix) {
            out.push(n);
        }
    }
    out
}

fn lease_key(p: u32) -> String {
    format!("part.{p}")
}

fn pointer_key(p: u32) -> String {
    format!("ckpt.{p}")
}

async fn live_workers(leases: &kv::Store) -> usize {
    let Ok(mut keys) = leases.keys().await else {
        return 1;
    };
    let mut n = 0;
    while let Some(k) = keys.next().await {
        if k.is_ok_and(|k| k.starts_with("worker.")) {
            n += 1;
        }
    }
    n
}

/// Where a partition's checkpoint is: its stream sequence, the object holding it (none before the
/// first), and who wrote it.
#[derive(bitcode::Encode, bitcode::Decode, Clone, Debug, Default)]
pub(crate) struct Pointer {
    pub(crate) seq: u64,
    pub(crate) object: Option<String>,
    pub(crate) owner: String,
}

/// A finding on its way: what to publish again if its ack fails.
struct Outgoing {
    subject: String,
    id: String,
    host: String,
    payload: bytes::Bytes,
}

/// The finding state's key: the same state of the same finding always has the same one.
pub fn finding_key(f: &FindingMsg) -> String {
    match f {
        FindingMsg::Alert(a) => format!(
            "alert/{}/{:?}/{}/{}",
            a.id, a.status, a.metrics.hot_windows, a.last_seen.0
        ),
        FindingMsg::Network(n) => format!("network/{}/{}", n.id, n.last_seen.0),
        FindingMsg::Health(line) => format!("health/{:016x}", fnv(line.as_bytes())),
    }
}

fn fnv(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, x| {
        (h ^ *x as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

fn outgoing(f: &FindingMsg) -> Outgoing {
    let host = f.host().to_string();
    Outgoing {
        subject: crate::nats::findings_subject(&host),
        id: finding_key(f),
        host,
        payload: encode_finding(f).into(),
    }
}

async fn send(fleet: &Fleet, m: &Outgoing, source: &str) -> Result<PublishAckFuture> {
    let msg = PublishMessage::build()
        .payload(m.payload.clone())
        .message_id(&m.id)
        .header(HOST_HEADER, host_header(&m.host).as_str())
        .header(SOURCE_HEADER, source)
        .header(ENCODING_HEADER, crate::nats::encoding().as_str());
    fleet
        .js
        .send_publish(m.subject.clone(), msg)
        .await
        .map_err(nats_err(format!("publishing to {}", m.subject)))
}

/// Waits for every publish ack; one that fails is published again (same id: a copy the server
/// already has is dropped), a few times.
async fn settle(
    fleet: &Fleet,
    pending: &mut Vec<(Outgoing, PublishAckFuture)>,
    source: &str,
) -> Result<()> {
    for (m, fut) in pending.drain(..) {
        if fut.await.is_ok() {
            continue;
        }
        let mut last = None;
        for attempt in 0..5u32 {
            tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
            match send(fleet, &m, source).await {
                Ok(f) => match f.await {
                    Ok(_) => {
                        last = None;
                        break;
                    }
                    Err(e) => last = Some(e.to_string()),
                },
                Err(e) => last = Some(e.to_string()),
            }
        }
        if let Some(e) = last {
            return Err(Error::Input(format!(
                "nats: publishing a finding to {}: {e}",
                m.subject
            )));
        }
    }
    Ok(())
}

/// One partition, from taking it to giving it back.
async fn run_partition(ctx: Rc<Ctx>, p: u32, mut ctl: watch::Receiver<Ctl>) -> Result<End> {
    // Claim the pointer: from now on a previous owner's checkpoint cannot move it.
    let key = pointer_key(p);
    let (mut pointer, rev) = match ctx
        .fleet_kv
        .entry(&key)
        .await
        .map_err(nats_err("reading a checkpoint pointer"))?
    {
        Some(e) if e.operation == kv::Operation::Put => {
            let ptr: Pointer = bitcode::decode(&e.value).unwrap_or_default();
            (ptr, Some(e.revision))
        }
        _ => (Pointer::default(), None),
    };
    let previous_owner = pointer.owner.clone();
    let first_claim = rev.is_none();
    pointer.owner = ctx.name.clone();
    let bytes: bytes::Bytes = bitcode::encode(&pointer).into();
    let claimed = match rev {
        Some(r) => ctx
            .fleet_kv
            .update(&key, bytes, r)
            .await
            .map_err(|e| e.to_string()),
        None => ctx
            .fleet_kv
            .create(&key, bytes)
            .await
            .map_err(|e| e.to_string()),
    };
    let mut rev = claimed.map_err(|e| {
        Error::Input(format!(
            "partition {p}: the checkpoint pointer moved under us: {e}"
        ))
    })?;
    // The engines as the checkpoint left them.
    let (mut part, mut last_seq) = match &pointer.object {
        Some(obj) => match tokio::time::timeout(Duration::from_secs(60), load_object(&ctx, obj))
            .await
            .unwrap_or_else(|_| Err(Error::Input(format!("reading {obj} timed out"))))
            .and_then(|b| Partition::restore(ctx.judge.clone(), &b))
        {
            Ok((part, seq)) => (part, seq),
            Err(e) => {
                log(&format!(
                    "partition {p}: {e}: rebuilding it from the start of the stream"
                ));
                (Partition::new(ctx.judge.clone()), 0)
            }
        },
        None => (Partition::new(ctx.judge.clone()), 0),
    };
    pointer.seq = last_seq;
    log(&format!(
        "partition {p}: taken{} at stream sequence {last_seq} with {} host(s) in progress",
        if previous_owner.is_empty() || previous_owner == ctx.name {
            String::new()
        } else {
            format!(" over from {previous_owner}")
        },
        part.hosts()
    ));
    let durable = consumer_name(p, &ctx.name);
    // A partition never claimed before has no checkpoint objects and no consumers left behind
    // (both are made only after the claim): nothing to clean, and a new fleet's workers start
    // reading at once.
    if !first_claim {
        let _turn = ctx.housekeeping.lock().await;
        // Best effort, and bounded: listing the object store has been seen to hang (the partition
        // then never started again); a stale object left here is removed by a later takeover.
        dbg_log(p, "takeover: cleaning old objects");
        if tokio::time::timeout(
            MAINTENANCE_TIMEOUT,
            clean_objects(&ctx, p, pointer.object.as_deref()),
        )
        .await
        .is_err()
        {
            log(&format!(
                "partition {p}: listing old checkpoints timed out; they are left for a later takeover"
            ));
        }
        // The durable consumer, made anew at the checkpoint under the new owner's name: the previous
        // owner's (alive but too slow to renew its lease) is deleted, so its pulls fail and it cannot
        // take frames meant for the new one. Its name is known from the pointer; the listing (bounded
        // too) finds any other left behind.
        dbg_log(p, "takeover: deleting old consumers");
        let mut old_consumers =
            tokio::time::timeout(MAINTENANCE_TIMEOUT, partition_consumers(&ctx.events, p))
                .await
                .unwrap_or_else(|_| {
                    log(&format!("partition {p}: listing its consumers timed out"));
                    Vec::new()
                });
        if !previous_owner.is_empty() {
            old_consumers.push(consumer_name(p, &previous_owner));
        }
        old_consumers.sort();
        old_consumers.dedup();
        for old in old_consumers {
            let _ =
                tokio::time::timeout(MAINTENANCE_TIMEOUT, ctx.events.delete_consumer(&old)).await;
        }
    }
    dbg_log(p, "takeover: creating the consumer");
    let consumer: async_nats::jetstream::consumer::PullConsumer = ctx
        .events
        .create_consumer(pull::Config {
            durable_name: Some(durable.clone()),
            filter_subject: partition_filter(p),
            deliver_policy: if last_seq == 0 {
                DeliverPolicy::All
            } else {
                DeliverPolicy::ByStartSequence {
                    start_sequence: last_seq + 1,
                }
            },
            ack_policy: AckPolicy::All,
            ack_wait: Duration::from_secs(600).max(ctx.opts.checkpoint_interval * 10),
            max_ack_pending: 1_000_000,
            max_deliver: -1,
            ..Default::default()
        })
        .await
        .map_err(nats_err(format!("creating the consumer {durable}")))?;
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(256)
        .heartbeat(Duration::from_secs(5))
        .expires(Duration::from_secs(30))
        .messages()
        .await
        .map_err(nats_err(format!("reading {durable}")))?;
    dbg_log(p, "takeover: reading");
    let source = format!("worker/{}", ctx.name);
    let mut pending: Vec<(Outgoing, PublishAckFuture)> = Vec::new();
    let mut last_msg: Option<async_nats::jetstream::Message> = None;
    let mut since = 0u64;
    let mut last_ck = Instant::now();
    // The last frame taken left nothing behind it in the stream (a published collection's end).
    let mut caught_up = false;
    let mut last_in = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_millis(100));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut out: Vec<FindingMsg> = Vec::new();
    let mut decoder = FrameDecoder::default();
    let mut errors = 0u32;
    loop {
        let mut checkpoint_now = false;
        tokio::select! {
            m = messages.next() => {
                let msg = match m {
                    Some(Ok(m)) => m,
                    Some(Err(e)) => {
                        // Heartbeats missed, a server restart: the stream recovers. Errors that
                        // go on (the consumer deleted by a worker that took the partition over)
                        // end the partition here.
                        errors += 1;
                        if errors == 1 || errors.is_multiple_of(50) {
                            log(&format!("partition {p}: {e}"));
                        }
                        if errors >= 25 && e.to_string().contains("deleted") {
                            fold(&ctx, &part);
                            return Ok(End::Lost);
                        }
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                    None => return Err(Error::Input(format!("partition {p}: the consumer ended"))),
                };
                errors = 0;
                let (seq, behind) = {
                    let info = msg.info().map_err(nats_err("reading a message's sequence"))?;
                    (info.stream_sequence, info.pending)
                };
                last_in = Instant::now();
                if seq <= last_seq {
                    continue;
                }
                dbg_log(p, &format!("frame {seq}"));
                {
                    let now = floodwatch_core::Ts::now().as_millis();
                    let mut r = ctx.report.borrow_mut();
                    if r.first_frame_ms == 0 {
                        r.first_frame_ms = now;
                    }
                    r.last_frame_ms = now;
                }
                match decoder.decode(&msg.payload) {
                    Ok(frame) => {
                        if let Err(e) = part.take(frame, &mut out) {
                            log(&format!("partition {p}: a frame at sequence {seq}: {e}"));
                        }
                    }
                    Err(e) => {
                        let mut r = ctx.report.borrow_mut();
                        r.undecodable += 1;
                        if r.undecodable == 1 {
                            log(&format!("partition {p}: a message at sequence {seq} is skipped: {e}"));
                        }
                    }
                }
                for f in out.drain(..) {
                    let m = outgoing(&f);
                    let fut = send(&ctx.fleet, &m, &source).await?;
                    pending.push((m, fut));
                    ctx.report.borrow_mut().findings += 1;
                }
                last_seq = seq;
                last_msg = Some(msg);
                since += 1;
                // The other partitions' turn.
                tokio::task::yield_now().await;
                if since >= ctx.opts.checkpoint_frames {
                    checkpoint_now = true;
                }
                // A published collection's partition that has caught up with the stream is
                // checkpointed now, not after the quiet time (at most every 100 ms, for a publisher
                // slower than the worker). Live streams trickle: they keep the quiet time.
                caught_up = behind == 0 && !ctx.opts.live;
                if caught_up && last_ck.elapsed() >= CAUGHT_UP_SPACING {
                    checkpoint_now = true;
                }
            }
            _ = ticker.tick() => {
                if part.idle(ctx.opts.idle_after, &mut out) {
                    for f in out.drain(..) {
                        let m = outgoing(&f);
                        let fut = send(&ctx.fleet, &m, &source).await?;
                        pending.push((m, fut));
                        ctx.report.borrow_mut().findings += 1;
                    }
                    since += 1;
                }
                if since > 0
                    && (last_ck.elapsed() >= ctx.opts.checkpoint_interval
                        || last_in.elapsed() >= Duration::from_millis(300)
                        || (caught_up && last_ck.elapsed() >= CAUGHT_UP_SPACING))
                {
                    checkpoint_now = true;
                }
            }
            changed = ctl.changed() => {
                if changed.is_err() {
                    fold(&ctx, &part);
                    return Ok(End::Lost);
                }
            }
        }
        let state = *ctl.borrow();
        if state == Ctl::Lost {
            fold(&ctx, &part);
            return Ok(End::Lost);
        }
        if checkpoint_now || (state == Ctl::Release && since > 0) {
            dbg_log(p, "checkpoint: settling");
            settle(&ctx.fleet, &mut pending, &source).await?;
            dbg_log(p, "checkpoint: snapshot");
            let bytes = part.checkpoint(last_seq);
            dbg_log(p, &format!("checkpoint: put {} bytes", bytes.len()));
            let object = format!("part-{p}-{last_seq}-{}", ctx.name);
            ctx.snapshots
                .put(object.as_str(), &mut &bytes[..])
                .await
                .map_err(nats_err(format!("storing the checkpoint {object}")))?;
            dbg_log(p, "checkpoint: pointer");
            let old = pointer.object.replace(object.clone());
            pointer.seq = last_seq;
            match ctx
                .fleet_kv
                .update(&key, bitcode::encode(&pointer).into(), rev)
                .await
            {
                Ok(r) => rev = r,
                Err(e) => {
                    log(&format!(
                        "partition {p}: the checkpoint pointer was moved by another worker ({e}): dropping the partition"
                    ));
                    let _ = ctx.snapshots.delete(&object).await;
                    fold(&ctx, &part);
                    return Ok(End::Lost);
                }
            }
            dbg_log(p, "checkpoint: ack");
            if let Some(m) = last_msg.take() {
                m.ack()
                    .await
                    .map_err(nats_err("acking the checkpointed frames"))?;
            }
            if let Some(o) = old.filter(|o| *o != object) {
                let _ = ctx.snapshots.delete(&o).await;
            }
            dbg_log(p, "checkpoint: done");
            {
                let mut r = ctx.report.borrow_mut();
                r.checkpoints += 1;
                r.last_checkpoint_ms = floodwatch_core::Ts::now().as_millis();
            }
            since = 0;
            last_ck = Instant::now();
        }
        if state == Ctl::Release && since == 0 {
            settle(&ctx.fleet, &mut pending, &source).await?;
            fold(&ctx, &part);
            log(&format!(
                "partition {p}: given back at stream sequence {last_seq}"
            ));
            return Ok(End::Released);
        }
    }
}

/// A partition's counts into the worker's report.
fn fold(ctx: &Ctx, part: &Partition) {
    let mut r = ctx.report.borrow_mut();
    r.frames += part.frames;
    r.events += part.events;
    for (k, v) in &part.rejects {
        *r.rejects.entry((*k).to_string()).or_default() += v;
    }
}

async fn load_object(ctx: &Ctx, name: &str) -> Result<Vec<u8>> {
    let mut obj = ctx
        .snapshots
        .get(name)
        .await
        .map_err(nats_err(format!("reading the checkpoint {name}")))?;
    let mut bytes = Vec::new();
    obj.read_to_end(&mut bytes)
        .await
        .map_err(|e| Error::io(format!("reading the checkpoint {name}"), e))?;
    Ok(bytes)
}

/// Checkpoint objects of partition `p` other than `keep` (left by a worker that died between
/// storing one and moving the pointer) are removed.
async fn clean_objects(ctx: &Ctx, p: u32, keep: Option<&str>) {
    let prefix = format!("part-{p}-");
    let Ok(mut list) = ctx.snapshots.list().await else {
        return;
    };
    let mut stale = Vec::new();
    while let Some(Ok(info)) = list.next().await {
        if info.name.starts_with(&prefix) && Some(info.name.as_str()) != keep && !info.deleted {
            stale.push(info.name);
        }
    }
    for name in stale {
        let _ = ctx.snapshots.delete(&name).await;
    }
}

fn dbg_log(p: u32, what: &str) {
    if std::env::var_os("FLOODWATCH_FLEET_DEBUG").is_some() {
        eprintln!(
            "debug {:?} partition {p}: {what}",
            std::time::SystemTime::now()
        );
    }
}
