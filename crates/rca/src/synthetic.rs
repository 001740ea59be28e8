//! Semi-synthetic root-cause cases with known answers, in the style of the Squeeze benchmark
//! (Li et al., ISSRE 2019): a leaf table over four dimensions with realistic cardinalities and
//! traffic, one to three injected root-cause elements of layers 1–3 whose leaves' rate rises by a
//! random factor, and binomial sampling noise on every count — plus the scoring of
//! [`crate::localise`] against the answers (exact top-1, all causes in the top 3, lenient hits).
//!
//! Two measures, as in Squeeze: *derived* (a ratio, failed / attempts, localised on its
//! numerator and denominator) and *additive* (a count such as failed views, localised against
//! its forecast: each row's denominator is the leaf's forecast, so the baseline rate is 1 and the
//! excess is actual − forecast). `noise` adds Squeeze's forecast-error levels: every leaf's rate
//! in the window wanders from its baseline by a log-normal factor with that σ, causes or not.
use std::collections::BTreeMap;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::{localise, Input, Row};

/// Dimension names and cardinalities of the generated tables.
const DIMENSIONS: [(&str, usize); 4] = [("cdn", 5), ("country", 12), ("device", 6), ("os", 4)];
/// The normal failure rate around which leaves vary.
const BASE_RATE: f64 = 0.02;

/// One generated case: the table and the elements that were injected.
pub struct Case {
    /// The table to localise.
    pub input: Input,
    /// The injected elements (dimension → value).
    pub causes: Vec<BTreeMap<String, String>>,
}

/// The kind of measure localised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// A ratio of two counts (failed / attempts).
    Derived,
    /// A count, against its forecast.
    Additive,
}

/// Generates case `index` of a seeded series: 1–3 causes, layers 1–3, rate factors 3–10.
pub fn case(seed: u64, index: u64, measure: Measure, noise: f64) -> Case {
    let mut rng = SmallRng::seed_from_u64(seed.wrapping_mul(1_000_003).wrapping_add(index));
    let count = 1 + (index % 3) as usize;
    let mut causes: Vec<Vec<(usize, usize)>> = Vec::new();
    while causes.len() < count {
        let layer = rng.gen_range(1..=3);
        let mut dims: Vec<usize> = (0..DIMENSIONS.len()).collect();
        for i in (1..dims.len()).rev() {
            dims.swap(i, rng.gen_range(0..=i));
        }
        let mut element: Vec<(usize, usize)> = dims[..layer]
            .iter()
            .map(|&d| (d, rng.gen_range(0..DIMENSIONS[d].1)))
            .collect();
        element.sort();
        // Causes must not overlap, or the answer is ambiguous.
        let overlaps = causes.iter().any(|other| {
            other.iter().all(|(d, v)| {
                element
                    .iter()
                    .find(|(e, _)| e == d)
                    .is_none_or(|(_, w)| w == v)
            })
        });
        if !overlaps {
            causes.push(element);
        }
    }
    let factors: Vec<f64> = causes.iter().map(|_| rng.gen_range(3.0..10.0)).collect();
    let (mut baseline, mut current) = (Vec::new(), Vec::new());
    let mut leaf = vec![0usize; DIMENSIONS.len()];
    loop {
        // Traffic: skewed across leaves (a few big cohorts, many small ones).
        let traffic = (20.0 + 400.0 * rng.gen::<f64>().powi(3)).round();
        let rate = BASE_RATE * rng.gen_range(0.6..1.4);
        let factor = causes
            .iter()
            .zip(&factors)
            .find(|(c, _)| c.iter().all(|(d, v)| leaf[*d] == *v))
            .map_or(1.0, |(_, f)| *f);
        let values: Vec<String> = leaf
            .iter()
            .enumerate()
            .map(|(d, v)| format!("{}-{v}", DIMENSIONS[d].0))
            .collect();
        // Forecast error: the window's rate wanders from the baseline's for every leaf.
        let wander = (noise * normal(&mut rng)).exp();
        let now = binomial(&mut rng, traffic, (rate * factor * wander).min(1.0));
        match measure {
            Measure::Derived => {
                for _ in 0..4 {
                    baseline.push(Row {
                        leaf: values.clone(),
                        numerator: binomial(&mut rng, traffic, rate),
                        denominator: traffic,
                    });
                }
                current.push(Row {
                    leaf: values,
                    numerator: now,
                    denominator: traffic,
                });
            }
            Measure::Additive => {
                // The forecast is the mean of four earlier windows' counts.
                let forecast = (0..4)
                    .map(|_| binomial(&mut rng, traffic, rate))
                    .sum::<f64>()
                    / 4.0;
                let forecast = forecast.max(0.5);
                baseline.push(Row {
                    leaf: values.clone(),
                    numerator: forecast,
                    denominator: forecast,
                });
                current.push(Row {
                    leaf: values,
                    numerator: now,
                    denominator: forecast,
                });
            }
        }
        // Next leaf, odometer style.
        let mut d = DIMENSIONS.len();
        loop {
            if d == 0 {
                let dimensions = DIMENSIONS.iter().map(|(n, _)| n.to_string()).collect();
                let causes = causes
                    .iter()
                    .map(|c| {
                        c.iter()
                            .map(|(d, v)| {
                                (
                                    DIMENSIONS[*d].0.to_owned(),
                                    format!("{}-{v}", DIMENSIONS[*d].0),
                                )
                            })
                            .collect()
                    })
                    .collect();
                return Case {
                    input: Input {
                        dimensions,
                        baseline,
                        current,
                        min_support: 25.0,
                    },
                    causes,
                };
            }
            d -= 1;
            leaf[d] += 1;
            if leaf[d] < DIMENSIONS[d].1 {
                break;
            }
            leaf[d] = 0;
        }
    }
}

/// A standard normal draw (Box–Muller).
fn normal(rng: &mut SmallRng) -> f64 {
    let (u1, u2): (f64, f64) = (rng.gen_range(f64::EPSILON..1.0), rng.gen());
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// A binomial draw by its normal approximation (counts here are large enough), rounded, ≥ 0.
fn binomial(rng: &mut SmallRng, n: f64, p: f64) -> f64 {
    let mean = n * p;
    let sd = (n * p * (1.0 - p)).sqrt();
    (mean + sd * normal(rng)).round().clamp(0.0, n)
}

/// Accuracy over a series of cases.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Evaluation {
    /// Cases run.
    pub cases: u64,
    /// Share whose first cause is exactly one of the injected elements.
    pub exact_top1: f64,
    /// Share whose first three causes contain every injected element exactly.
    pub exact_top3_all: f64,
    /// Share whose first cause contains or is contained in an injected element.
    pub lenient_top1: f64,
    /// Localisation time per case, ms: median and 99th percentile.
    pub time_ms_p50: f64,
    /// 99th percentile.
    pub time_ms_p99: f64,
}

/// Runs `cases` generated cases and scores the localisation.
pub fn evaluate(seed: u64, cases: u64, measure: Measure, noise: f64) -> Evaluation {
    let (mut top1, mut top3, mut lenient) = (0u64, 0u64, 0u64);
    let mut times = Vec::new();
    for index in 0..cases {
        let case = case(seed, index, measure, noise);
        let started = std::time::Instant::now();
        let found = localise(&case.input, "failure %");
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        let named: Vec<&BTreeMap<String, String>> =
            found.causes.iter().map(|c| &c.element).collect();
        if named
            .first()
            .is_some_and(|first| case.causes.contains(first))
        {
            top1 += 1;
        }
        if case
            .causes
            .iter()
            .all(|c| named.iter().take(3).any(|n| *n == c))
        {
            top3 += 1;
        }
        let related = |a: &BTreeMap<String, String>, b: &BTreeMap<String, String>| {
            a.iter().all(|(k, v)| b.get(k) == Some(v)) || b.iter().all(|(k, v)| a.get(k) == Some(v))
        };
        if named
            .first()
            .is_some_and(|first| case.causes.iter().any(|c| related(first, c)))
        {
            lenient += 1;
        }
    }
    times.sort_by(f64::total_cmp);
    let share = |n: u64| n as f64 / cases.max(1) as f64;
    let at = |q: f64| {
        times
            .get(((q * times.len() as f64).ceil() as usize).max(1) - 1)
            .copied()
            .unwrap_or(0.0)
    };
    Evaluation {
        cases,
        exact_top1: share(top1),
        exact_top3_all: share(top3),
        lenient_top1: share(lenient),
        time_ms_p50: at(0.5),
        time_ms_p99: at(0.99),
    }
}
