//! Exact quantiles of a view's or an aggregate's values.

/// The exact `q`-quantile of sorted values by the nearest-rank method: the value at rank ⌈q·n⌉.
pub fn nearest_rank(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let hundred: Vec<f64> = (1..=100).map(f64::from).collect();
        let cases: [(&str, &[f64], f64, Option<f64>); 6] = [
            ("empty", &[], 0.5, None),
            ("one value", &[7.0], 0.99, Some(7.0)),
            (
                "median of four is the 2nd",
                &[1.0, 2.0, 3.0, 4.0],
                0.5,
                Some(2.0),
            ),
            ("p95 of 1..=100", &hundred, 0.95, Some(95.0)),
            ("p99 of 1..=100", &hundred, 0.99, Some(99.0)),
            (
                "p90 of ten",
                &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0],
                0.9,
                Some(9.0),
            ),
        ];
        for (name, values, q, want) in cases {
            assert_eq!(nearest_rank(values, q), want, "{name}");
        }
    }
}
