//! The detector on synthetic minutes: binomial noise from a fixed-seed generator, steps injected
//! into one cohort, and the lifecycle that follows.
use super::*;
use crate::series::Series;
use openqoe_model::ServerTime;

/// A small deterministic generator (splitmix64), so tests need no dependency and never flake.
struct Noise(u64);

impl Noise {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn binomial(&mut self, n: u64, p: f64) -> u64 {
        (0..n).filter(|_| self.uniform() < p).count() as u64
    }
}

fn config(warmup: u32) -> DetectConfig {
    DetectConfig {
        dimensions: vec!["cdn".into(), "country".into()],
        slices: vec!["cdn".into(), "country".into()],
        pairs: vec![["cdn".into(), "country".into()]],
        warmup_minutes: warmup,
        rules: vec![Rule {
            name: "startup-failures".into(),
            metric: AlertMetric::StartupFailure,
            ..Rule::default()
        }],
        ..DetectConfig::default()
    }
}

const CDNS: [&str; 3] = ["cdn-a", "cdn-b", "cdn-c"];
const COUNTRIES: [&str; 4] = ["DE", "FR", "US", "GB"];

/// One minute of traffic: `attempts` per leaf, failing at 2 % (or `bad_rate` in `bad` leaves).
fn minute(
    noise: &mut Noise,
    attempts: u64,
    bad: &dyn Fn(&str, &str) -> bool,
    bad_rate: f64,
) -> Vec<(Vec<Option<String>>, MinuteCounts)> {
    let mut views = Vec::new();
    for cdn in CDNS {
        for country in COUNTRIES {
            let rate = if bad(cdn, country) { bad_rate } else { 0.02 };
            let failures = noise.binomial(attempts, rate);
            views.push((
                vec![Some(cdn.to_owned()), Some(country.to_owned())],
                MinuteCounts {
                    attempts,
                    startup_failures: failures,
                    started: attempts - failures,
                    ..MinuteCounts::default()
                },
            ));
        }
    }
    views
}

fn run(
    detector: &mut Detector,
    noise: &mut Noise,
    minutes: std::ops::Range<i64>,
    bad: &dyn Fn(i64, &str, &str) -> bool,
) -> Vec<AlertChange> {
    let mut changes = Vec::new();
    for m in minutes {
        let views = minute(noise, 20, &|cdn, country| bad(m, cdn, country), 0.5);
        detector.judge_minute(
            ServerTime(m * MINUTE_MS),
            &views,
            false,
            ServerTime((m + 1) * MINUTE_MS + 15_000),
            &mut changes,
        );
    }
    changes
}

#[test]
fn a_steady_service_never_alerts() {
    let mut detector = Detector::new(&config(30)).unwrap();
    let changes = run(&mut detector, &mut Noise(1), 0..3_000, &|_, _, _| false);
    assert!(
        changes.is_empty(),
        "{:?}",
        changes
            .first()
            .map(|c| (c.alert.fired_at / MINUTE_MS, &c.alert.summary))
    );
}

#[test]
fn a_failing_cohort_fires_within_two_minutes_names_itself_and_resolves() {
    let mut detector = Detector::new(&config(30)).unwrap();
    let mut noise = Noise(2);
    let incident = |m: i64, cdn: &str, country: &str| {
        (200..230).contains(&m) && cdn == "cdn-b" && country == "DE"
    };
    let changes = run(&mut detector, &mut noise, 0..300, &incident);
    let firing: Vec<&AlertChange> = changes
        .iter()
        .filter(|c| c.kind == ChangeKind::Firing)
        .collect();
    assert_eq!(firing.len(), 1, "{changes:#?}");
    let alert = &firing[0].alert;
    assert!(
        alert.fired_at <= 202 * MINUTE_MS + 20_000,
        "fired at minute {}",
        alert.fired_at / MINUTE_MS
    );
    assert_eq!(alert.started_at, 200 * MINUTE_MS);
    let cause = &alert.causes[0].element;
    assert_eq!(cause.get("cdn").map(String::as_str), Some("cdn-b"));
    assert_eq!(cause.get("country").map(String::as_str), Some("DE"));
    assert!(
        alert
            .summary
            .contains("of the excess is cdn=cdn-b & country=DE"),
        "{}",
        alert.summary
    );
    // Every cohort that fired for it (all views, cdn-b, DE, the pair) is one alert.
    let resolved: Vec<&AlertChange> = changes
        .iter()
        .filter(|c| c.kind == ChangeKind::Resolved)
        .collect();
    assert_eq!(resolved.len(), 1);
    let at = resolved[0].alert.resolved_at.unwrap() / MINUTE_MS;
    assert!((235..=240).contains(&at), "resolved at minute {at}");
    assert_eq!(detector.alerts().count(), 1);
}

#[test]
fn the_same_cause_within_an_hour_reopens_the_alert() {
    let mut detector = Detector::new(&config(30)).unwrap();
    let bad = |m: i64, cdn: &str, _: &str| {
        ((100..110).contains(&m) || (130..140).contains(&m)) && cdn == "cdn-c"
    };
    let changes = run(&mut detector, &mut Noise(3), 0..200, &bad);
    let ids: Vec<&str> = changes
        .iter()
        .filter(|c| c.kind == ChangeKind::Firing)
        .map(|c| c.alert.id.as_str())
        .collect();
    assert_eq!(ids.len(), 2, "{changes:#?}");
    assert_eq!(ids[0], ids[1]);
    assert_eq!(detector.alerts().next().unwrap().reopened, 1);
}

#[test]
fn warm_up_and_learning_never_alert() {
    let mut detector = Detector::new(&config(30)).unwrap();
    let all_bad = |m: i64, _: &str, _: &str| (20..25).contains(&m);
    assert!(
        run(&mut detector, &mut Noise(4), 0..40, &all_bad).is_empty(),
        "inside warm-up"
    );
    let mut learning = Detector::new(&config(5)).unwrap();
    let mut noise = Noise(5);
    let mut changes = Vec::new();
    for m in 0..60 {
        let views = minute(&mut noise, 20, &|_, _| m >= 40, 0.5);
        learning.judge_minute(
            ServerTime(m * MINUTE_MS),
            &views,
            true,
            ServerTime((m + 1) * MINUTE_MS),
            &mut changes,
        );
    }
    assert!(
        changes.is_empty(),
        "replayed history teaches but does not alert"
    );
}

#[test]
fn thin_cohorts_are_not_judged() {
    let mut config = config(30);
    config.rules[0].min_volume = 25.0;
    let mut detector = Detector::new(&config).unwrap();
    let mut noise = Noise(6);
    let mut changes = Vec::new();
    for m in 0..200 {
        // 2 attempts per leaf: 8 per cdn, 6 per country, 24 in all — all under 25 a minute.
        let views = minute(&mut noise, 2, &|_, _| m >= 150, 0.9);
        detector.judge_minute(
            ServerTime(m * MINUTE_MS),
            &views,
            false,
            ServerTime((m + 1) * MINUTE_MS + 15_000),
            &mut changes,
        );
    }
    assert!(changes.is_empty(), "{changes:#?}");
}

#[test]
fn minutes_out_of_order_are_ignored() {
    let mut detector = Detector::new(&config(30)).unwrap();
    let mut changes = Vec::new();
    detector.judge_minute(
        ServerTime(10 * MINUTE_MS),
        &[],
        false,
        ServerTime(11 * MINUTE_MS),
        &mut changes,
    );
    detector.judge_minute(
        ServerTime(9 * MINUTE_MS),
        &[],
        false,
        ServerTime(10 * MINUTE_MS),
        &mut changes,
    );
    assert_eq!(detector.last_minute(), Some(ServerTime(10 * MINUTE_MS)));
}

#[test]
fn the_seasonal_baseline_expects_the_evening() {
    // Three days where the evening (18:00–22:00) fails at 6 % instead of 2 %.
    let mut series = Series::new(AlertMetric::StartupFailure);
    let evening = |m: i64| (18 * 60..22 * 60).contains(&m.rem_euclid(1_440));
    for m in 0..3 * 1_440 + 18 * 60 + 30 {
        let failures = if evening(m) { 60.0 } else { 20.0 };
        let observation = Observation {
            numerator: failures,
            denominator: 1_000.0,
            volume: 1_000.0,
        };
        series.learn(m, observation, &[], None, false);
    }
    // Half an hour into the fourth evening the level has only begun to follow; the seasonal
    // baseline already expects 6 %.
    let baseline = series.baseline(3 * 1_440 + 18 * 60 + 30).unwrap();
    assert!((baseline - 0.06).abs() < 0.006, "baseline {baseline}");
}

#[test]
fn rules_are_checked_and_named() {
    let cases: [(&str, Rule); 4] = [
        ("name", Rule::default()),
        (
            "persistence",
            Rule {
                name: "r".into(),
                persistence: [3, 2],
                ..Rule::default()
            },
        ),
        (
            "z",
            Rule {
                name: "r".into(),
                z: -1.0,
                ..Rule::default()
            },
        ),
        (
            "filter",
            Rule {
                name: "r".into(),
                filter: vec!["cdn".into()],
                ..Rule::default()
            },
        ),
    ];
    for (field, rule) in cases {
        let err = rule.validate().unwrap_err();
        assert!(err.contains(field), "{field}: {err}");
    }
    let mut unknown = config(30);
    unknown.rules[0].filter = vec!["planet:mars".into()];
    let err = Detector::new(&unknown).err().unwrap();
    assert!(err.contains("planet"), "{err}");
}

#[test]
fn the_toml_section_parses_and_rejects_unknown_keys() {
    let parsed: DetectConfig = toml::from_str(
        r#"
        warmup_minutes = 10
        [[rules]]
        name = "rebuffering-tv"
        metric = "rebuffer_percentage"
        filter = ["device_type:tv"]
        persistence = [3, 5]
        runbook_url = "https://runbooks.example/rebuffering"
        "#,
    )
    .unwrap();
    assert_eq!(parsed.rules[0].metric, AlertMetric::RebufferPercentage);
    assert_eq!(parsed.rules[0].persistence, [3, 5]);
    assert!(toml::from_str::<DetectConfig>("[[rules]]\nname = \"x\"\nthreshold = 3").is_err());
    assert!(toml::from_str::<DetectConfig>("[[rules]]\nname = \"x\"\nmetric = \"mos\"").is_err());
}
