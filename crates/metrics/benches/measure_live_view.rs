//! Measuring a live view again after a batch: the whole view, or only the batch's events
//! ([`Measure::advance`]). A dashboard polling live views pays this for each view that changed.
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use openqoe_metrics::{compute, Measure};
use openqoe_model::{Batch, ServerTime, View};
use serde_json::json;

const T0: i64 = 1_764_028_800_000;

/// Batch `index` (100 events) of a playing view: startup first, then heartbeats with a
/// rendition change and a short stall now and then.
fn batch(index: u64) -> Batch {
    let events: Vec<_> = (index * 100..(index + 1) * 100)
        .map(|seq| {
            let ts = T0 + seq as i64 * 1000;
            match seq {
                0 => json!({"seq": seq, "ts": ts, "type": "play_requested"}),
                1 => json!({"seq": seq, "ts": ts, "type": "rendition_change", "bitrate_bps": 3_000_000,
                            "width": 1280, "height": 720, "fps": 30, "codec": "avc1.64001f"}),
                2 => json!({"seq": seq, "ts": ts, "type": "first_frame"}),
                s if s % 250 == 120 => json!({"seq": seq, "ts": ts, "type": "stall_start"}),
                s if s % 250 == 121 => json!({"seq": seq, "ts": ts, "type": "stall_end"}),
                _ => json!({"seq": seq, "ts": ts, "type": "heartbeat", "playhead_ms": seq * 1000,
                            "buffer_ms": 12_000, "bandwidth_bps": 8_000_000, "dropped_frames": seq / 50}),
            }
        })
        .collect();
    let body = json!({"v": 1, "view": {"id": "live", "props": {"player_width": 1920, "player_height": 1080}},
                      "events": events});
    Batch::parse(body.to_string().as_bytes(), ServerTime(T0)).unwrap()
}

fn measure_live_view(c: &mut Criterion) {
    let first = batch(0);
    let mut view = View::new(&first.view, ServerTime(T0));
    view.merge(first);
    (1..19).for_each(|i| {
        view.merge(batch(i));
    });
    let measured = Measure::of(&view);
    view.merge(batch(19));
    let mut group = c.benchmark_group("measure_live_view_2000_events_after_a_100_event_batch");
    group.throughput(Throughput::Elements(1));
    group.bench_function("whole", |b| b.iter(|| compute(&view)));
    group.bench_function("incremental", |b| {
        b.iter_batched(
            || measured.clone(),
            |mut measure| {
                measure.advance(&view);
                measure.metrics(&view)
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, measure_live_view);
criterion_main!(benches);
