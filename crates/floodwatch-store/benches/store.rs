//! Store cost per 1,000 baseline identities: the time to merge a learn run of 1,000 keys into the store
//! (first learn, then a second learn that merges into existing rows), the time to load them for a hunt,
//! and the file size. Each key has 300 windows over 10 days on 3 hosts with rates spread over several
//! histogram buckets per signal, like a busy automation identity.
//!
//! Run: `cargo bench -p floodwatch-store --bench store`. The file size is printed once.

use criterion::{criterion_group, criterion_main, Criterion};
use floodwatch_core::time::NANOS_PER_DAY;
use floodwatch_core::Ts;
use floodwatch_engine::baseline::{BaselineKey, Learner};
use floodwatch_store::runs::RunRecord;
use floodwatch_store::Store;
use std::collections::BTreeMap;
use std::time::Duration;

const IDENTITIES: usize = 1_000;
const WINDOWS: u64 = 300;

fn learner(offset_days: i64) -> Learner {
    let mut l = Learner::default();
    let half_life = 30 * NANOS_PER_DAY;
    for i in 0..IDENTITIES {
        let key = BaselineKey {
            identity: format!("com.example.agent{i} (team ABCDE{:05})", i % 97),
            parent_class: ["launchd_daemon", "launchd_agent", "cron", "terminal"][i % 4].into(),
            role: ["build-agent", "workstation", "server"][i % 3].into(),
        };
        for w in 0..WINDOWS {
            let at =
                Ts((offset_days * NANOS_PER_DAY)
                    + (w as i64) * (10 * NANOS_PER_DAY / WINDOWS as i64));
            let x = (w % 17) as f64;
            let values = [
                0.1 * x,
                40.0 + 7.0 * x,
                9_000.0 + 1_500.0 * x,
                0.5 + 0.2 * x,
            ];
            l.add(
                &key,
                values,
                at,
                ["h1", "h2", "h3"][(w % 3) as usize],
                half_life,
            );
        }
    }
    l
}

fn run_record() -> RunRecord {
    RunRecord {
        kind: "learn",
        started: Ts::from_secs(0),
        finished: Ts::from_secs(1),
        args: "bench".into(),
        inputs: Vec::new(),
    }
}

fn bench(c: &mut Criterion) {
    let until: BTreeMap<String, Ts> = BTreeMap::new();
    let half_life = 30 * NANOS_PER_DAY;
    // Size, once.
    {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("size.db");
        let mut s = Store::open(&path, Duration::from_secs(5)).unwrap();
        s.record_learn(&run_record(), learner(0), &until, half_life)
            .unwrap();
        s.record_learn(&run_record(), learner(10), &until, half_life)
            .unwrap();
        s.connection()
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE); VACUUM;")
            .unwrap();
        drop(s);
        let bytes = std::fs::metadata(&path).unwrap().len();
        eprintln!(
            "store size: {bytes} bytes for {IDENTITIES} identities ({:.0} bytes per identity, {:.2} MB per 1,000)",
            bytes as f64 / IDENTITIES as f64,
            bytes as f64 / IDENTITIES as f64 * 1000.0 / 1e6
        );
    }
    let mut g = c.benchmark_group("store_1000_identities");
    g.sample_size(10);
    g.bench_function("first_learn", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().unwrap();
                let s = Store::open(&dir.path().join("b.db"), Duration::from_secs(5)).unwrap();
                (dir, s, learner(0))
            },
            |(_dir, mut s, l)| s.record_learn(&run_record(), l, &until, half_life).unwrap(),
            criterion::BatchSize::LargeInput,
        )
    });
    g.bench_function("second_learn_merge", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().unwrap();
                let mut s = Store::open(&dir.path().join("b.db"), Duration::from_secs(5)).unwrap();
                s.record_learn(&run_record(), learner(0), &until, half_life)
                    .unwrap();
                (dir, s, learner(10))
            },
            |(_dir, mut s, l)| s.record_learn(&run_record(), l, &until, half_life).unwrap(),
            criterion::BatchSize::LargeInput,
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("load.db"), Duration::from_secs(5)).unwrap();
    s.record_learn(&run_record(), learner(0), &until, half_life)
        .unwrap();
    g.bench_function("load_for_hunt", |b| {
        b.iter(|| s.load_profiles().unwrap().len())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
