//! Parsing a wire v1 batch of 100 events: the per-request CPU cost of ingest validation.
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use openqoe_model::{Batch, ServerTime};
use serde_json::json;

fn batch_of(events: usize) -> Vec<u8> {
    let events: Vec<_> = (0..events)
        .map(|seq| match seq % 4 {
            0 => json!({"seq": seq, "ts": 1_764_028_800_000i64 + seq as i64 * 100, "type": "heartbeat",
                        "playhead_ms": seq * 100, "buffer_ms": 12000, "bandwidth_bps": 8_000_000, "dropped_frames": 0}),
            1 => json!({"seq": seq, "ts": 1_764_028_800_000i64 + seq as i64 * 100, "type": "rendition_change",
                        "bitrate_bps": 3_000_000, "width": 1280, "height": 720, "fps": 30, "codec": "avc1.64001f"}),
            2 => json!({"seq": seq, "ts": 1_764_028_800_000i64 + seq as i64 * 100, "type": "stall_start"}),
            _ => json!({"seq": seq, "ts": 1_764_028_800_000i64 + seq as i64 * 100, "type": "stall_end"}),
        })
        .collect();
    serde_json::to_vec(&json!({
        "v": 1, "key": "demo", "sent_at": 1_764_028_900_000i64,
        "view": {"id": "7f9c2b1e-0d1a-4c47-9a55-3f1d2e8b6a10", "viewer_id": "u-5b3a",
                 "props": {"cdn": "cdn-a", "country": "DE", "device_type": "tv", "player_width": 1920}},
        "events": events,
    }))
    .unwrap()
}

fn decode_batch(c: &mut Criterion) {
    let body = batch_of(100);
    let mut group = c.benchmark_group("decode_batch");
    group.throughput(Throughput::Elements(100));
    group.bench_function("100_events", |b| {
        b.iter(|| Batch::parse(&body, ServerTime(1_764_028_900_100)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, decode_batch);
criterion_main!(benches);
