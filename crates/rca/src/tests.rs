//! Injected incidents on a grid of leaves with known ground truth, one row per shape of cause.
use crate::{localise, Input, Row};

const CDNS: [&str; 3] = ["cdn-a", "cdn-b", "cdn-c"];
const COUNTRIES: [&str; 4] = ["DE", "FR", "US", "GB"];
const DEVICES: [&str; 3] = ["tv", "phone", "desktop"];

/// 36 leaves of 100 attempts; 2 % fail normally, `rate(leaf)` during the incident. A deterministic
/// jitter, the same before and during, keeps the leaves from being identical without adding a
/// change of its own.
fn input(rate: impl Fn(&[&str; 3]) -> f64) -> Input {
    let mut baseline = Vec::new();
    let mut current = Vec::new();
    let mut k = 0;
    for cdn in CDNS {
        for country in COUNTRIES {
            for device in DEVICES {
                k += 1;
                let leaf = [cdn, country, device];
                let values: Vec<String> = leaf.iter().map(|s| s.to_string()).collect();
                let jitter = f64::from(k * 7 % 5) * 0.25 - 0.5;
                for _ in 0..4 {
                    baseline.push(Row {
                        leaf: values.clone(),
                        numerator: 2.0 + jitter,
                        denominator: 100.0,
                    });
                }
                current.push(Row {
                    leaf: values,
                    numerator: 100.0 * rate(&leaf) + jitter,
                    denominator: 100.0,
                });
            }
        }
    }
    Input {
        dimensions: vec!["cdn".into(), "country".into(), "device".into()],
        baseline,
        current,
        min_support: 25.0,
    }
}

fn elements(input: &Input) -> Vec<Vec<(String, String)>> {
    localise(input, "Startup failure %")
        .causes
        .iter()
        .map(|c| c.element.clone().into_iter().collect())
        .collect()
}

fn el(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(d, v)| (d.to_string(), v.to_string()))
        .collect()
}

#[test]
fn injected_incidents_are_localised_to_their_element() {
    /// (name, the data, the causes that must be named)
    type Case = (&'static str, Input, Vec<Vec<(String, String)>>);
    let cases: Vec<Case> = vec![
        (
            "one CDN",
            input(|l| if l[0] == "cdn-b" { 0.2 } else { 0.02 }),
            vec![el(&[("cdn", "cdn-b")])],
        ),
        (
            "one CDN in one country",
            input(|l| {
                if l[0] == "cdn-b" && l[1] == "DE" {
                    0.3
                } else {
                    0.02
                }
            }),
            vec![el(&[("cdn", "cdn-b"), ("country", "DE")])],
        ),
        (
            "three dimensions",
            input(|l| {
                if l == &["cdn-c", "US", "phone"] {
                    0.5
                } else {
                    0.02
                }
            }),
            vec![el(&[
                ("cdn", "cdn-c"),
                ("country", "US"),
                ("device", "phone"),
            ])],
        ),
        (
            "two causes at once",
            input(|l| {
                if l[0] == "cdn-b" && l[1] == "DE" {
                    0.3
                } else if l[2] == "tv" {
                    0.12
                } else {
                    0.02
                }
            }),
            vec![
                el(&[("device", "tv")]),
                el(&[("cdn", "cdn-b"), ("country", "DE")]),
            ],
        ),
        ("nothing wrong", input(|_| 0.02), vec![]),
    ];
    for (name, input, want) in cases {
        let mut got = elements(&input);
        let mut want = want;
        got.sort();
        want.sort();
        assert_eq!(
            got,
            want,
            "{name}: {}",
            localise(&input, "Startup failure %").summary
        );
    }
}

#[test]
fn the_report_gives_rates_inside_and_outside_and_one_sentence() {
    let result = localise(
        &input(|l| {
            if l[0] == "cdn-b" && l[1] == "DE" {
                0.3
            } else {
                0.02
            }
        }),
        "Startup failure %",
    );
    let cause = &result.causes[0];
    assert!(
        cause.explanatory_power > 0.95,
        "{}",
        cause.explanatory_power
    );
    assert!(
        (cause.rate_inside - 0.3).abs() < 0.01 && (cause.rate_outside - 0.02).abs() < 0.005,
        "{cause:?}"
    );
    assert!((cause.baseline_rate_inside - 0.02).abs() < 0.005);
    assert_eq!(cause.denominator, 300.0, "three devices × 100 attempts");
    assert!(
        result.summary.starts_with(
            "Startup failure % is 2.2× normal; 100% of the excess is cdn=cdn-b & country=DE"
        ),
        "{}",
        result.summary
    );
}

#[test]
fn thin_elements_are_not_blamed() {
    // One leaf of 10 attempts fails entirely: under the 25-attempt support, no cause is named.
    let mut input = input(|_| 0.02);
    input.current.push(Row {
        leaf: vec!["cdn-x".into(), "DE".into(), "tv".into()],
        numerator: 10.0,
        denominator: 10.0,
    });
    assert!(localise(&input, "x").causes.is_empty());
}

#[test]
fn semi_synthetic_cases_are_localised() {
    use crate::synthetic::{evaluate, Measure};
    // 30 Squeeze-style cases (1–3 causes of layers 1–3, factors 3–10, binomial noise), for a
    // ratio and for a count against its forecast, without and with 10 % forecast error.
    // Issue 6's bar for root cause is exact top-1 ≥ 85 %; counts against a noisy forecast are
    // harder (89 % over 200 cases, docs/rca.md) and held to 80 % on these 30.
    for (measure, noise, bar) in [
        (Measure::Derived, 0.0, 0.85),
        (Measure::Derived, 0.1, 0.85),
        (Measure::Additive, 0.0, 0.8),
    ] {
        let result = evaluate(7, 30, measure, noise);
        assert!(
            result.exact_top1 >= bar,
            "{measure:?} noise {noise}: {result:?}"
        );
        assert!(
            result.lenient_top1 >= 0.9,
            "{measure:?} noise {noise}: {result:?}"
        );
    }
}
