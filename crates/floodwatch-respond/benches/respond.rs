//! The respond stage's cost over a hunt's alerts: campaigns (grouping by destination prefix, chaining
//! overlapping episodes) and a playbook for every alert. 10,000 alerts on 2,000 hosts over a day,
//! against 1,000 addresses in 250 /24 networks; one in ten is part of a campaign of ten hosts.
//!
//! Run: `cargo bench -p floodwatch-respond --bench respond`.

use criterion::{criterion_group, criterion_main, Criterion};
use floodwatch_core::alert::*;
use floodwatch_core::config::Config;
use floodwatch_core::event::SignatureClass;
use floodwatch_core::Ts;
use std::time::Duration;

const ALERTS: usize = 10_000;

fn alerts() -> Vec<Alert> {
    let day = Ts::from_secs(1_758_000_000);
    (0..ALERTS)
        .map(|i| {
            // A deterministic spread: in every tenth group of ten, the ten hosts flood one /24 within a
            // minute (a campaign); the other groups' hosts are scattered over the day.
            let g = i / 10;
            let dest = format!("198.51.{}.{}", g % 250, i % 4);
            let at = if g % 10 == 0 {
                day.add_secs(((g * 97) % 1440) as i64 * 60 + (i % 10) as i64 * 5)
            } else {
                day.add_secs(((i * 7919) % 86_400) as i64)
            };
            let path = format!("/Users/u{}/Library/.cache/sync.sh", i % 2000);
            Alert {
                id: format!("{i:08x}-0000-5000-8000-000000000000"),
                host: format!("mac-{:04}", i % 2000),
                first_seen: at,
                last_seen: at.add_secs(60),
                score: 70,
                severity: Severity::High,
                metrics: Metrics {
                    peak_spawns_per_s: 8.0,
                    top_destination: Some(dest),
                    ..Metrics::default()
                },
                subject: SubjectView {
                    kind: "lineage_group".into(),
                    process: ProcessView {
                        pid: 1000 + i as i32,
                        start_time: Some(at),
                        path: Some("/bin/zsh".into()),
                        cmd_line: Some(format!("/bin/zsh {path}")),
                        signing_id: Some("com.apple.zsh".into()),
                        signature: SignatureClass::Platform,
                        ..ProcessView::default()
                    },
                    parents: vec![],
                    children: vec![("/usr/bin/curl".into(), 480)],
                },
                context: ContextView {
                    unattended: true,
                    launched_by: "launchd_agent".into(),
                    tty_known: true,
                    suspicious_path: Some(path.clone()),
                    ..ContextView::default()
                },
                facts: AlertFacts {
                    exits_visible: true,
                    script: Some(path),
                    uid: Some(501),
                    identity: "com.apple.zsh".into(),
                    ..AlertFacts::default()
                },
                ..Alert::default()
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let cfg = Config::default();
    let base = alerts();
    let mut g = c.benchmark_group("respond");
    g.measurement_time(Duration::from_secs(10)).sample_size(10);
    let mut sample = base.clone();
    let campaigns = floodwatch_respond::respond(sample.iter_mut().collect(), &mut [], &cfg);
    let members: usize = campaigns.iter().map(|k| k.members.len()).sum();
    eprintln!(
        "{ALERTS} alerts: {} campaign(s) with {members} member(s)",
        campaigns.len()
    );
    g.bench_function("10k_alerts", |b| {
        b.iter_batched(
            || base.clone(),
            |mut a| floodwatch_respond::respond(a.iter_mut().collect(), &mut [], &cfg),
            criterion::BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
