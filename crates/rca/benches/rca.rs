//! Root-cause search over a realistic leaf table (issue 6: an alert's root cause within 2 s):
//! 5 CDNs × 30 countries × 8 devices × 6 OS × 4 stream types = 28,800 leaves, one injected cause.
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use openqoe_rca::{localise, Input, Row};

fn table() -> Input {
    let (mut baseline, mut current) = (Vec::new(), Vec::new());
    let mut k = 0u64;
    for cdn in 0..5 {
        for country in 0..30 {
            for device in 0..8 {
                for os in 0..6 {
                    for stream in 0..4 {
                        k += 1;
                        let leaf = vec![
                            format!("cdn-{cdn}"),
                            format!("c{country}"),
                            format!("d{device}"),
                            format!("os{os}"),
                            format!("s{stream}"),
                        ];
                        let jitter = (k % 5) as f64 * 0.2;
                        baseline.push(Row {
                            leaf: leaf.clone(),
                            numerator: 1.0 + jitter,
                            denominator: 50.0,
                        });
                        let bad = cdn == 1 && country == 4;
                        current.push(Row {
                            leaf,
                            numerator: if bad { 12.0 } else { 1.0 + jitter },
                            denominator: 50.0,
                        });
                    }
                }
            }
        }
    }
    let dimensions = ["cdn", "country", "device", "os", "stream_type"]
        .map(String::from)
        .to_vec();
    Input {
        dimensions,
        baseline,
        current,
        min_support: 25.0,
    }
}

fn bench(c: &mut Criterion) {
    let input = table();
    let found = localise(&input, "failure %");
    assert_eq!(found.causes[0].element.len(), 2, "{}", found.summary);
    let mut group = c.benchmark_group("rca");
    group.sample_size(10);
    group.bench_function("28,800 leaves, 5 dimensions, layers 1-3", |b| {
        b.iter(|| localise(black_box(&input), "failure %"))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
