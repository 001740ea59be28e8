//! Durable appends of 10 KiB records (≈ 100 events) from 1, 8 and 64 concurrent tasks: how far
//! group commit stretches one fsync.
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use openqoe_wal::{EventLog, SegmentLog, WalConfig};

fn wal_append(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = SegmentLog::open(
        dir.path(),
        WalConfig::default(),
        Box::new(|_, _, _| {}),
        |_, _| {},
    )
    .unwrap();
    let mut group = c.benchmark_group("wal_append_10KiB");
    for tasks in [1usize, 8, 64] {
        group.throughput(Throughput::Elements(tasks as u64));
        group.bench_function(format!("{tasks}_concurrent"), |b| {
            b.iter_custom(|iterations| {
                let log = log.clone();
                runtime.block_on(async move {
                    let started = Instant::now();
                    for _ in 0..iterations {
                        let appends: Vec<_> = (0..tasks)
                            .map(|_| {
                                let log = log.clone();
                                tokio::spawn(async move {
                                    log.append(vec![7u8; 10 * 1024]).await.unwrap()
                                })
                            })
                            .collect();
                        for append in appends {
                            append.await.unwrap();
                        }
                    }
                    started.elapsed()
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, wal_append);
criterion_main!(benches);
