//! Aggregates of one metric over a group of views: exact percentiles, or a rate.
use openqoe_metrics::{nearest_rank, MetricKind, MetricValue};
use serde_json::{json, Map, Value};

/// One metric aggregated over the views of one group.
#[derive(Debug, Clone, PartialEq)]
pub enum Aggregate {
    /// Every view's value, for exact percentiles.
    Distribution(Vec<f64>),
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
            MetricKind::Distribution => Aggregate::Distribution(Vec::new()),
            MetricKind::Rate => Aggregate::Rate {
                numerator: 0,
                denominator: 0,
            },
        }
    }

    /// Adds one view's value; `None` means the view is outside the metric's population.
    pub fn add(&mut self, value: Option<MetricValue>) {
        match (self, value) {
            (Aggregate::Distribution(values), Some(MetricValue::Number(v))) if v.is_finite() => {
                values.push(v)
            }
            (
                Aggregate::Rate {
                    numerator,
                    denominator,
                },
                Some(MetricValue::Flag(happened)),
            ) => {
                *denominator += 1;
                *numerator += u64::from(happened);
            }
            _ => {}
        }
    }

    /// Views that contributed.
    pub fn views(&self) -> u64 {
        match self {
            Aggregate::Distribution(values) => values.len() as u64,
            Aggregate::Rate { denominator, .. } => *denominator,
        }
    }

    /// The API fields: `views, p50, p90, p95, p99, mean, sum`, or `views, value, numerator, denominator`.
    pub fn into_fields(self) -> Map<String, Value> {
        let fields = match self {
            Aggregate::Distribution(mut values) => {
                values.sort_by(f64::total_cmp);
                let sum: f64 = values.iter().sum();
                let mean = (!values.is_empty()).then(|| sum / values.len() as f64);
                json!({
                    "views": values.len(),
                    "p50": nearest_rank(&values, 0.50),
                    "p90": nearest_rank(&values, 0.90),
                    "p95": nearest_rank(&values, 0.95),
                    "p99": nearest_rank(&values, 0.99),
                    "mean": mean,
                    "sum": sum,
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
