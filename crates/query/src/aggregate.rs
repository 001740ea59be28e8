//! Aggregates of one metric over a group of views: percentiles (exact for up to
//! [`EXACT_VIEWS`] views, within 0.8 % beyond), or a rate.
use openqoe_metrics::{Metric, MetricKind, MetricValue};
use serde_json::{json, Map, Value};

use crate::params::RootCauseQuery;
use crate::sketch::Sketch;
use crate::ViewSource;

/// Groups up to this many views keep every value and report exact percentiles; larger ones
/// switch to a [`Sketch`] (a 10 M-view breakdown cannot afford to sort its values).
pub const EXACT_VIEWS: usize = 20_000;

/// The percentiles every distribution answer carries: p50, p90, p95 and p99.
pub const PERCENTILES: [f64; 4] = [0.50, 0.90, 0.95, 0.99];

/// The values of a distribution metric in one group.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Distribution {
    /// Every value, while there are at most [`EXACT_VIEWS`] of them.
    exact: Vec<f64>,
    /// Every value, once there were more.
    sketch: Option<Box<Sketch>>,
    /// The [`PERCENTILES`], exact, when a store that aggregates where the views are computed
    /// them (no values are here then).
    computed: Option<[Option<f64>; 4]>,
    count: u64,
    sum: f64,
}

impl Distribution {
    /// An empty distribution that keeps a sketch from the start (for a group known to be large).
    pub fn sketched() -> Distribution {
        Distribution {
            sketch: Some(Box::default()),
            ..Distribution::default()
        }
    }

    /// A group aggregated elsewhere: `count` values summing to `sum`, with their exact
    /// [`PERCENTILES`] by nearest rank. It cannot take more values.
    pub fn computed(count: u64, sum: f64, percentiles: [Option<f64>; 4]) -> Distribution {
        Distribution {
            computed: Some(percentiles),
            count,
            sum,
            ..Distribution::default()
        }
    }

    /// Adds one finite value.
    #[inline]
    pub fn add(&mut self, value: f64) {
        debug_assert!(self.computed.is_none(), "adding to a computed distribution");
        self.count += 1;
        self.sum += value;
        match &mut self.sketch {
            Some(sketch) => sketch.add(value),
            None if self.exact.len() < EXACT_VIEWS => self.exact.push(value),
            None => {
                self.spill().add(value);
            }
        }
    }

    /// Moves the exact values into a sketch and returns it.
    fn spill(&mut self) -> &mut Sketch {
        let exact = std::mem::take(&mut self.exact);
        let sketch = self.sketch.get_or_insert_with(Box::default);
        exact.into_iter().for_each(|v| sketch.add(v));
        sketch
    }

    /// Adds every value of `other`.
    pub fn merge(&mut self, mut other: Distribution) {
        debug_assert!(
            self.computed.is_none() && other.computed.is_none(),
            "merging a computed distribution"
        );
        self.count += other.count;
        self.sum += other.sum;
        if self.sketch.is_none()
            && other.sketch.is_none()
            && self.exact.len() + other.exact.len() <= EXACT_VIEWS
        {
            self.exact.append(&mut other.exact);
            return;
        }
        let mine = self.spill();
        other.exact.iter().for_each(|v| mine.add(*v));
        if let Some(theirs) = &other.sketch {
            mine.merge(theirs);
        }
    }

    /// The `qs`-quantiles (ascending) by nearest rank: exact from the values by selection
    /// (no full sort), else from the sketch.
    fn quantiles(&mut self, qs: &[f64]) -> Vec<Option<f64>> {
        if let Some(sketch) = &self.sketch {
            return qs.iter().map(|q| sketch.quantile(*q)).collect();
        }
        let n = self.exact.len();
        let mut rest: &mut [f64] = &mut self.exact;
        let mut offset = 0;
        qs.iter()
            .map(|q| {
                if n == 0 {
                    return None;
                }
                let rank = ((q * n as f64).ceil() as usize).clamp(1, n) - 1;
                let (_, nth, _) = rest.select_nth_unstable_by(rank - offset, f64::total_cmp);
                let value = *nth;
                // Later (higher) ranks lie in the part above this one.
                let cut = rank - offset;
                rest = &mut std::mem::take(&mut rest)[cut..];
                offset = rank;
                Some(value)
            })
            .collect()
    }
}

/// One metric aggregated over the views of one group.
#[derive(Debug, Clone, PartialEq)]
pub enum Aggregate {
    /// The values, for percentiles.
    Distribution(Distribution),
    /// Views where the rate's event happened, over views in its population.
    Rate {
        /// Views where it happened (a startup failure, an exit before video start…).
        numerator: u64,
        /// Views in the metric's population (play attempts, or all views).
        denominator: u64,
    },
}

impl Aggregate {
    /// An empty aggregate of a metric of this kind.
    pub fn new(kind: MetricKind) -> Aggregate {
        match kind {
            MetricKind::Distribution => Aggregate::Distribution(Distribution::default()),
            MetricKind::Rate => Aggregate::Rate {
                numerator: 0,
                denominator: 0,
            },
        }
    }

    /// Adds one view's value; `None` means the view is outside the metric's population.
    pub fn add(&mut self, value: Option<MetricValue>) {
        match value {
            Some(MetricValue::Number(v)) => self.add_column_value(v),
            Some(MetricValue::Flag(happened)) => {
                self.add_column_value(f64::from(u8::from(happened)))
            }
            None => {}
        }
    }

    /// Adds one view's value as a table column holds it: NaN outside the population, a rate's
    /// event as 1.0 (happened) or 0.0.
    #[inline]
    pub fn add_column_value(&mut self, value: f64) {
        if !value.is_finite() {
            return;
        }
        match self {
            Aggregate::Distribution(values) => values.add(value),
            Aggregate::Rate {
                numerator,
                denominator,
            } => {
                *denominator += 1;
                *numerator += u64::from(value > 0.5);
            }
        }
    }

    /// Adds everything of `other` (of the same kind).
    pub fn merge(&mut self, other: Aggregate) {
        match (self, other) {
            (Aggregate::Distribution(mine), Aggregate::Distribution(theirs)) => mine.merge(theirs),
            (
                Aggregate::Rate {
                    numerator,
                    denominator,
                },
                Aggregate::Rate {
                    numerator: n,
                    denominator: d,
                },
            ) => {
                *numerator += n;
                *denominator += d;
            }
            _ => debug_assert!(false, "merging aggregates of different kinds"),
        }
    }

    /// Views that contributed.
    pub fn views(&self) -> u64 {
        match self {
            Aggregate::Distribution(values) => values.count,
            Aggregate::Rate { denominator, .. } => *denominator,
        }
    }

    /// The API fields: `views, p50, p90, p95, p99, mean, sum, exact`, or `views, value, numerator, denominator`.
    pub fn into_fields(self) -> Map<String, Value> {
        let fields = match self {
            Aggregate::Distribution(mut values) => {
                let mean = (values.count > 0).then(|| values.sum / values.count as f64);
                let p = match values.computed {
                    Some(p) => p.to_vec(),
                    None => values.quantiles(&PERCENTILES),
                };
                json!({
                    "views": values.count,
                    "p50": p[0],
                    "p90": p[1],
                    "p95": p[2],
                    "p99": p[3],
                    "mean": mean,
                    "sum": values.sum,
                    "exact": values.sketch.is_none(),
                })
            }
            Aggregate::Rate {
                numerator,
                denominator,
            } => json!({
                "views": denominator,
                "value": (denominator > 0).then(|| numerator as f64 * 100.0 / denominator as f64),
                "numerator": numerator,
                "denominator": denominator,
            }),
        };
        match fields {
            Value::Object(map) => map,
            _ => unreachable!("json! of an object literal is an object"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_sum_numerators_and_denominators() {
        let mut rate = Aggregate::new(MetricKind::Rate);
        for value in [Some(true), Some(false), None, Some(false), Some(true)] {
            rate.add(value.map(MetricValue::Flag));
        }
        let fields = rate.into_fields();
        assert_eq!(fields["numerator"], json!(2));
        assert_eq!(fields["denominator"], json!(4));
        assert_eq!(fields["value"], json!(50.0));
    }
}

#[cfg(test)]
mod spill_tests {
    use super::*;
    use openqoe_metrics::nearest_rank;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn selected_quantiles_equal_sorted_nearest_rank(
            values in prop::collection::vec(-1e3f64..1e6, 0..300),
        ) {
            let mut aggregate = Aggregate::new(MetricKind::Distribution);
            values.iter().for_each(|v| aggregate.add_column_value(*v));
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            let fields = aggregate.into_fields();
            for (name, q) in [("p50", 0.5), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99)] {
                prop_assert_eq!(fields[name].as_f64(), nearest_rank(&sorted, q), "{}", name);
            }
        }
    }

    #[test]
    fn large_groups_switch_to_the_sketch_and_stay_close() {
        let mut whole = Aggregate::new(MetricKind::Distribution);
        let mut halves = [
            Aggregate::new(MetricKind::Distribution),
            Aggregate::new(MetricKind::Distribution),
        ];
        let n = EXACT_VIEWS * 3;
        for i in 0..n {
            let v = (i % 1000) as f64 + 1.0;
            whole.add_column_value(v);
            halves[i % 2].add_column_value(v);
        }
        let [mut left, right] = halves;
        left.merge(right);
        for aggregate in [whole, left] {
            let fields = aggregate.into_fields();
            assert_eq!(fields["views"], json!(n));
            assert_eq!(fields["exact"], json!(false));
            let p50 = fields["p50"].as_f64().unwrap();
            assert!((p50 - 500.0).abs() <= 500.0 / 128.0, "{p50}");
        }
    }

    #[test]
    fn small_groups_stay_exact() {
        let mut small = Aggregate::new(MetricKind::Distribution);
        [3.0, 1.0, 2.0, f64::NAN]
            .into_iter()
            .for_each(|v| small.add_column_value(v));
        let fields = small.into_fields();
        assert_eq!(fields["p50"], json!(2.0));
        assert_eq!(fields["exact"], json!(true));
        assert_eq!(fields["views"], json!(3));
    }
}

/// The root-cause search's input for `metric` over `source`: one row per view of the window
/// and of the baseline that `query` selects, its leaf (its values of the searched dimensions,
/// `(none)` where it has none) with the ratio's numerator and denominator — 1 or 0 of 1 view
/// for a rate, rebuffer time of rebuffer + playing time for `rebuffer_percentage`.
pub(crate) fn root_cause_input<S: ViewSource + ?Sized>(
    source: &S,
    metric: &Metric,
    query: &RootCauseQuery,
) -> openqoe_rca::Input {
    let window = &query.selection;
    let (mut baseline, mut current) = (Vec::new(), Vec::new());
    let earliest = query.baseline_from.min(window.from);
    let latest = query.baseline_to.max(window.to);
    source.visit_views(earliest, latest, &mut |view, metrics| {
        let Some(started) = view.started_at().filter(|_| window.matches(view)) else {
            return;
        };
        let ratio = if metric.kind == MetricKind::Rate {
            match metrics.value(metric.name) {
                Some(MetricValue::Flag(happened)) => Some((f64::from(u8::from(happened)), 1.0)),
                _ => None,
            }
        } else {
            let measured = metrics.rebuffer_duration_ms + metrics.playing_time_ms;
            (measured > 0).then_some((metrics.rebuffer_duration_ms as f64, measured as f64))
        };
        let Some((numerator, denominator)) = ratio else {
            return;
        };
        let leaf = query
            .dimensions
            .iter()
            .map(|d| view.dimension(d).unwrap_or_else(|| "(none)".into()))
            .collect();
        let row = openqoe_rca::Row {
            leaf,
            numerator,
            denominator,
        };
        if started >= window.from && started < window.to {
            current.push(row);
        } else if started >= query.baseline_from && started < query.baseline_to {
            baseline.push(row);
        }
    });
    openqoe_rca::Input {
        dimensions: query.dimensions.clone(),
        baseline,
        current,
        // Views weigh 1 each: an element needs 25 of them; times weigh by the second.
        min_support: if metric.kind == MetricKind::Rate {
            25.0
        } else {
            60_000.0
        },
    }
}
