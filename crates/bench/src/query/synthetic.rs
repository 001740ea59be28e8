//! The synthetic views `bench query` queries: a mid-size OTT service's dimensions with
//! realistic cardinalities and skew, metrics drawn around realistic medians, starts following an
//! evening peak.
use openqoe_metrics::{MetricKind, METRICS};
use openqoe_model::ViewId;
use openqoe_store::ViewTable;
use rand::distributions::{Distribution, WeightedIndex};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// One dimension of the synthetic population: its values and how common each is.
struct SyntheticDimension {
    name: &'static str,
    values: Vec<String>,
    weights: WeightedIndex<f64>,
}

/// A Zipf-like share for the `rank`-th most common value.
fn zipf(count: usize, exponent: f64) -> Vec<f64> {
    (1..=count)
        .map(|rank| (rank as f64).powf(-exponent))
        .collect()
}

fn dimension(name: &'static str, values: Vec<String>, weights: Vec<f64>) -> SyntheticDimension {
    SyntheticDimension {
        name,
        values,
        weights: WeightedIndex::new(weights).expect("positive weights"),
    }
}

fn named(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| v.to_string()).collect()
}

fn numbered(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|i| format!("{prefix}{i}")).collect()
}

/// The population's dimensions: cardinalities of a mid-size OTT service.
fn population() -> Vec<SyntheticDimension> {
    let countries = [
        "US", "GB", "DE", "FR", "IN", "BR", "JP", "CA", "AU", "ES", "IT", "MX", "NL", "SE", "PL",
        "TR", "KR", "AR", "ZA", "NG", "EG", "ID", "PH", "VN", "TH", "MY", "SG", "NZ", "IE", "BE",
        "CH", "AT", "DK", "NO", "FI", "PT", "GR", "CZ", "RO", "HU", "UA", "IL", "SA", "AE", "CL",
        "CO", "PE", "KE", "MA", "PK",
    ];
    vec![
        dimension(
            "cdn",
            named(&["cdn-a", "cdn-b", "cdn-c", "cdn-d", "origin"]),
            vec![40.0, 30.0, 20.0, 9.0, 1.0],
        ),
        dimension("country", named(&countries), zipf(countries.len(), 1.1)),
        dimension("isp", numbered("isp-", 400), zipf(400, 1.0)),
        dimension(
            "device_type",
            named(&["desktop", "mobile", "tablet", "tv", "console", "set-top"]),
            vec![30.0, 35.0, 8.0, 20.0, 3.0, 4.0],
        ),
        dimension(
            "os",
            named(&[
                "Windows", "macOS", "Android", "iOS", "tvOS", "Tizen", "webOS", "Roku", "Linux",
                "ChromeOS",
            ]),
            vec![20.0, 8.0, 25.0, 18.0, 4.0, 7.0, 6.0, 8.0, 2.0, 2.0],
        ),
        dimension(
            "browser",
            named(&[
                "Chrome",
                "Safari",
                "Firefox",
                "Edge",
                "Samsung Internet",
                "app",
            ]),
            vec![35.0, 18.0, 5.0, 7.0, 5.0, 30.0],
        ),
        dimension(
            "player_name",
            named(&["web-hlsjs", "web-dashjs", "web-shaka", "native"]),
            vec![35.0, 15.0, 15.0, 35.0],
        ),
        dimension("app_version", numbered("3.", 20), zipf(20, 1.3)),
        dimension(
            "stream_type",
            named(&["on-demand", "live"]),
            vec![70.0, 30.0],
        ),
        dimension("video_id", numbered("title-", 20_000), zipf(20_000, 0.9)),
    ]
}

/// One synthetic view's value of every catalogue metric, in [`METRICS`] order.
fn metric_values(rng: &mut SmallRng, cdn_penalty: f64, values: &mut Vec<f64>) {
    // Log-normal around a median, by the Box–Muller normal.
    let mut log_normal = |median: f64, sigma: f64| {
        let (u1, u2): (f64, f64) = (rng.gen_range(1e-12..1.0), rng.gen());
        let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        median * (sigma * z).exp()
    };
    let startup = (log_normal(1_100.0, 0.6) * cdn_penalty).round();
    let player_startup = log_normal(300.0, 0.5).round();
    let page_load = log_normal(900.0, 0.7).round();
    let watch = log_normal(600_000.0, 1.2).round();
    let bitrate = log_normal(3_500_000.0, 0.5);
    let mut r = || rng.gen::<f64>();
    let failed_start = r() < 0.004 * cdn_penalty;
    let exited = !failed_start && r() < 0.02;
    let started = !failed_start && !exited;
    let stalls = if started && r() < 0.25 * cdn_penalty {
        1.0 + (r() * 4.0).floor()
    } else {
        0.0
    };
    let stall_ms = stalls * (400.0 + r() * 3_000.0).round();
    let playing = if started {
        (watch - stall_ms).max(1.0)
    } else {
        0.0
    };
    let switches = (r() * 6.0).floor();
    let up = (switches * r()).floor();
    values.clear();
    for m in METRICS {
        let when_started = |v: f64| if started { v } else { f64::NAN };
        let value = match m.name {
            "video_startup_time_ms" => when_started(startup),
            "player_startup_time_ms" => player_startup,
            "page_load_time_ms" => page_load,
            "aggregate_startup_time_ms" => when_started(page_load + player_startup + startup),
            "startup_failure" => f64::from(u8::from(failed_start)),
            "exit_before_video_start" => f64::from(u8::from(exited)),
            "playback_failure" => f64::from(u8::from(failed_start || r() < 0.003)),
            "rebuffer_count" => stalls,
            "rebuffer_duration_ms" => stall_ms,
            "rebuffer_percentage" => when_started(stall_ms * 100.0 / (stall_ms + playing)),
            "rebuffer_frequency_per_min" => when_started(stalls * 60_000.0 / watch),
            "watch_time_ms" => watch,
            "playing_time_ms" => playing,
            "avg_bitrate_bps" => when_started(bitrate.round()),
            "rendition_change_count" => switches,
            "upshift_count" => up,
            "downshift_count" => switches - up,
            "total_startup_time_ms" => when_started(player_startup + startup),
            "exit_before_start_wait_ms" => {
                if exited {
                    (r() * 8_000.0).round()
                } else {
                    f64::NAN
                }
            }
            "p1203_mos" => when_started((4.5 - stalls * 0.4 - r() * 0.5).max(1.0)),
            _ => match m.kind {
                MetricKind::Rate => f64::from(u8::from(r() < 0.01)),
                MetricKind::Distribution => when_started((r() * 100.0).round()),
            },
        };
        values.push(value);
    }
}

/// Fills a table with `views` synthetic ended views over `hours` hours ending at `end`.
pub(super) fn generate(views: usize, hours: i64, end: i64, seed: u64) -> ViewTable {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut table = ViewTable::new();
    let dimensions = population();
    let encoded: Vec<(usize, Vec<u32>)> = dimensions
        .iter()
        .map(|d| {
            let index = table.dimension_index(d.name).expect("fewer than the cap");
            let codes = d.values.iter().map(|v| table.encode(index, v)).collect();
            (index, codes)
        })
        .collect();
    let viewer = table
        .dimension_index("viewer_id")
        .expect("fewer than the cap");
    let viewer_codes: Vec<u32> = (0..(views / 3).max(1))
        .map(|v| table.encode(viewer, &format!("viewer-{v}")))
        .collect();
    let span = hours * 3_600_000;
    let start = end - span;
    // Evening peak: a view's start hour follows 1 + 0.6·sin over the day.
    let daily = WeightedIndex::new(
        (0..24).map(|h| 1.0 + 0.6 * (std::f64::consts::TAU * (f64::from(h) - 14.0) / 24.0).sin()),
    )
    .expect("positive weights");
    let mut started: Vec<i64> = (0..views)
        .map(|_| {
            let hour = (daily.sample(&mut rng) as i64) % hours.max(1);
            start + (hour * 3_600_000 + rng.gen_range(0..3_600_000)).min(span - 1)
        })
        .collect();
    started.sort_unstable();
    let mut codes = Vec::with_capacity(encoded.len() + 1);
    let mut values = Vec::with_capacity(METRICS.len());
    for (i, at) in started.into_iter().enumerate() {
        codes.clear();
        for ((index, dimension_codes), dimension) in encoded.iter().zip(&dimensions) {
            codes.push((*index, dimension_codes[dimension.weights.sample(&mut rng)]));
        }
        // cdn-c is a little worse everywhere: the breakdown has something to show.
        let cdn_penalty = if codes[0].1 == encoded[0].1[2] {
            1.4
        } else {
            1.0
        };
        codes.push((viewer, viewer_codes[rng.gen_range(0..viewer_codes.len())]));
        metric_values(&mut rng, cdn_penalty, &mut values);
        let id = ViewId::new(&format!("view-{i:010}")).expect("valid id");
        table.write_encoded(id, at, &codes, &values);
    }
    table
}
