//! P.1203 mode 0 on a 10-minute session (issue 5: well under a millisecond): 100 segments of 6 s
//! switching among a 5-rung ladder, AAC-LC audio, five stalls.
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use openqoe_p1203::{evaluate, AudioCodec, AudioSegment, Device, Session, VideoSegment};

fn ten_minutes() -> Session {
    let ladder = [
        (1920, 1080, 6000.0),
        (1280, 720, 3000.0),
        (960, 540, 1800.0),
        (640, 360, 800.0),
        (426, 240, 400.0),
    ];
    let video = (0..100)
        .map(|i| {
            let (width, height, bitrate_kbps) = ladder[(i * 7 / 3) % ladder.len()];
            VideoSegment {
                duration: 6.0,
                bitrate_kbps,
                width,
                height,
                fps: 30.0,
                display: None,
            }
        })
        .collect();
    let audio = (0..100)
        .map(|_| AudioSegment {
            duration: 6.0,
            bitrate_kbps: 128.0,
            codec: AudioCodec::AacLc,
        })
        .collect();
    Session {
        device: Device::Pc,
        display: (1920, 1080),
        video,
        audio,
        stalls: vec![
            (0.0, 1.2),
            (95.0, 2.0),
            (230.0, 0.8),
            (410.0, 4.5),
            (555.0, 1.0),
        ],
    }
}

fn bench(c: &mut Criterion) {
    let session = ten_minutes();
    evaluate(&session).expect("a valid session");
    c.bench_function("p1203 mode 0, 10-minute session", |b| {
        b.iter(|| evaluate(black_box(&session)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
