//! The steering server's two costs: judging every cohort's health (each `evaluate_seconds`) and
//! answering one poll. 100,000 views in the window over 3 CDNs × 30 countries × 8 ISPs × 4 device
//! classes, 50,000 throughput reports, one CDN bad in one country.
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use openqoe_metrics::MinuteCounts;
use openqoe_steer::{Observations, PathwayConfig, Policy, SteerConfig};

fn config() -> SteerConfig {
    SteerConfig {
        pathways: ["cdn-a", "cdn-b", "cdn-c"]
            .map(|id| PathwayConfig {
                id: id.into(),
                cdn: None,
                hosts: Vec::new(),
            })
            .into(),
        ..SteerConfig::default()
    }
}

fn observations() -> (Observations, Vec<Vec<Option<String>>>) {
    let config = config();
    let mut o = Observations::new(&config);
    let mut cohorts = Vec::new();
    for i in 0..100_000u64 {
        let country = i % 30;
        let cohort = vec![
            Some(format!("c{country}")),
            Some(format!("isp-{}", (i / 30) % 8)),
            Some(["desktop", "mobile", "tv", "tablet"][(i / 240 % 4) as usize].to_owned()),
        ];
        let cdn = ["cdn-a", "cdn-b", "cdn-c"][(i / 960 % 3) as usize];
        let bad = cdn == "cdn-b" && country == 4;
        let rebuffer_ms = if bad { 4_000 } else { 100 * (i % 3) };
        let counts = MinuteCounts {
            attempts: 1,
            started: 1,
            watching: 1,
            rebuffer_ms,
            playing_ms: 60_000 - rebuffer_ms,
            startup_times_ms: vec![800 + i % 700],
            ..MinuteCounts::default()
        };
        o.add_view(&cohort, Some(cdn), &counts);
        if i % 2 == 0 {
            o.add_report(
                &cohort,
                cdn,
                if bad { 400_000 } else { 8_000_000 + i % 1000 },
            );
        }
        if i < 1000 {
            cohorts.push(cohort);
        }
    }
    (o, cohorts)
}

fn bench(c: &mut Criterion) {
    let (collected, cohorts) = observations();
    let mut policy = Policy::new(config());
    c.bench_function("evaluate 100k views, 50k reports", |b| {
        let mut now = 0;
        b.iter(|| {
            now += 5_000;
            policy.evaluate(now, black_box(&collected));
        })
    });
    println!(
        "demotions after evaluating: {:?}",
        policy
            .demotions()
            .iter()
            .map(|d| (&d.pathway, &d.cohort))
            .collect::<Vec<_>>()
    );
    c.bench_function("priority for one poll", |b| {
        let mut i = 0;
        b.iter(|| {
            i += 1;
            policy.priority(
                &format!("s{i}"),
                black_box(&cohorts[i % cohorts.len()]),
                Some("cdn-b"),
            )
        })
    });
    c.bench_function("collect 100k views, 50k reports", |b| b.iter(observations));
}

criterion_group!(benches, bench);
criterion_main!(benches);
