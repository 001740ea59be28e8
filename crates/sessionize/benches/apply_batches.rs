//! A view's whole life through the sessionizer: 20 batches of 100 events, the last ending it.
//! The end rules read each event once, so the cost per event does not grow with the view.
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use openqoe_model::{Batch, ServerTime};
use openqoe_sessionize::{SessionizeConfig, Sessionizer};
use serde_json::json;

const T0: i64 = 1_764_028_800_000;
const BATCHES: u64 = 20;

fn batch(index: u64) -> Batch {
    let events: Vec<_> = (index * 100..(index + 1) * 100)
        .map(|seq| {
            let ts = T0 + seq as i64 * 1000;
            let kind = match seq {
                0 => "play_requested",
                1 => "first_frame",
                s if s + 1 == BATCHES * 100 => "view_end",
                s if s % 250 == 120 => "stall_start",
                s if s % 250 == 121 => "stall_end",
                _ => "heartbeat",
            };
            json!({"seq": seq, "ts": ts, "type": kind})
        })
        .collect();
    let body = json!({"v": 1, "view": {"id": "v"}, "events": events});
    Batch::parse(body.to_string().as_bytes(), ServerTime(T0)).unwrap()
}

fn apply_batches(c: &mut Criterion) {
    let batches: Vec<Batch> = (0..BATCHES).map(batch).collect();
    let mut group = c.benchmark_group("sessionize_view_of_20_batches_of_100_events");
    group.throughput(Throughput::Elements(BATCHES * 100));
    group.bench_function("apply", |b| {
        b.iter_batched(
            || batches.clone(),
            |batches| {
                let mut sessionizer = Sessionizer::new(SessionizeConfig::default());
                let mut ended = Vec::new();
                for batch in batches {
                    sessionizer.apply(batch, &mut ended).unwrap();
                }
                assert_eq!(ended.len(), 1);
                ended
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, apply_batches);
criterion_main!(benches);
