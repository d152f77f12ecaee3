//! floodwatch-fleet: the fleet on NATS JetStream, for fleets that outgrow one process.
//!
//! Two shapes, on the same subjects (see [`nats`] for every name):
//! - **Detection on each Mac, findings central**: the agent's `nats` sink ([`sink`]) publishes its
//!   finding states; [`collect`] writes them into the store that `serve` reads.
//! - **Telemetry central, detection distributed**: agents (the same sink with `events`) or a batch
//!   [`publish`] of a collected archive ship normalized events ([`wire`]); the server's subject
//!   mapping puts each host in one of N partitions; [`worker`]s each own some partitions (leases),
//!   run one engine per host ([`engines`]), checkpoint, and publish findings for the collector.
//!
//! Campaigns (several hosts against one destination) are found where every host's findings meet:
//! in the collector. [`status`] shows the fleet as the server holds it.

pub mod collect;
pub mod engines;
pub mod nats;
pub mod publish;
pub mod sink;
pub mod status;
pub mod wire;
pub mod worker;

pub use collect::{run_collect, CollectOptions, CollectReport};
pub use nats::{server_config, SetupOptions};
pub use publish::{publish, PublishOptions, PublishReport};
pub use sink::{agent_sink, NatsSink};
pub use status::{fleet_status, status_text, Status};
pub use worker::{run_worker, WorkerOptions, WorkerReport};

/// `fleet setup`: the streams, buckets and object store, checked against the server's mapping.
pub fn setup(url: &str, o: &SetupOptions) -> floodwatch_core::Result<nats::Layout> {
    let rt = nats::runtime()?;
    rt.block_on(async {
        let f = nats::connect(url, "floodwatch fleet setup").await?;
        nats::setup(&f, o).await
    })
}
