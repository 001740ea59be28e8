//! A mergeable quantile sketch for large groups: a log-linear histogram over the bits of an
//! `f64` (64 sub-buckets per power of two, as in HdrHistogram's log-linear layout), so a
//! reported quantile is within 0.8 % of the exact one and two sketches merge by adding counts.

/// Sub-bucket bits: 2^6 = 64 sub-buckets per power of two, bucket width ≤ 1/64 of its value.
const SUB_BITS: u32 = 6;
/// Bits of an `f64` dropped to get its bucket: the mantissa below the top `SUB_BITS`.
const SHIFT: u32 = 52 - SUB_BITS;
/// Smallest value kept apart from zero: 2^-20 (a millionth of a millisecond or a percent).
const MIN_VALUE: f64 = 1.0 / 1_048_576.0;
/// Values above 2^44 (about 1.8 × 10^13) share the last bucket.
const MAX_VALUE: f64 = 17_592_186_044_416.0;

fn first_key() -> u64 {
    MIN_VALUE.to_bits() >> SHIFT
}

/// Buckets between `MIN_VALUE` and `MAX_VALUE`: 64 powers of two × 64.
const BUCKETS: usize = 64 << SUB_BITS;

/// Counts of values in log-linear buckets, plus the values at or below zero.
#[derive(Debug, Clone, PartialEq)]
pub struct Sketch {
    zeros: u64,
    counts: Vec<u32>,
    total: u64,
}

impl Default for Sketch {
    fn default() -> Sketch {
        Sketch {
            zeros: 0,
            counts: vec![0; BUCKETS],
            total: 0,
        }
    }
}

/// The bucket of a positive value.
fn bucket(value: f64) -> usize {
    let key = value.clamp(MIN_VALUE, MAX_VALUE).to_bits() >> SHIFT;
    ((key - first_key()) as usize).min(BUCKETS - 1)
}

/// The middle of bucket `index`: within half a bucket width (≤ 1/128) of any value in it.
fn midpoint(index: usize) -> f64 {
    let low = f64::from_bits((first_key() + index as u64) << SHIFT);
    let high = f64::from_bits((first_key() + index as u64 + 1) << SHIFT);
    (low + high) / 2.0
}

impl Sketch {
    /// Adds one value; values at or below 2^-20 (metrics are never negative) count as zero.
    #[inline]
    pub fn add(&mut self, value: f64) {
        self.total += 1;
        if value < MIN_VALUE {
            self.zeros += 1;
        } else {
            self.counts[bucket(value)] += 1;
        }
    }

    /// Adds every value of `other`.
    pub fn merge(&mut self, other: &Sketch) {
        self.zeros += other.zeros;
        self.total += other.total;
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
    }

    /// The `q`-quantile by nearest rank (the value at rank ⌈q·n⌉), as its bucket's middle.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        if rank <= self.zeros {
            return Some(0.0);
        }
        let mut seen = self.zeros;
        for (index, count) in self.counts.iter().enumerate() {
            seen += u64::from(*count);
            if seen >= rank {
                return Some(midpoint(index));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openqoe_metrics::nearest_rank;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn quantiles_are_within_a_percent_of_exact(
            values in prop::collection::vec(0.0f64..1e9, 1..400),
            q in 0.01f64..1.0,
        ) {
            let mut sketch = Sketch::default();
            values.iter().for_each(|v| sketch.add(*v));
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            let exact = nearest_rank(&sorted, q).unwrap();
            let estimate = sketch.quantile(q).unwrap();
            let tolerance = if exact < MIN_VALUE { MIN_VALUE } else { exact / 128.0 + 1e-9 };
            prop_assert!((estimate - exact).abs() <= tolerance, "{estimate} vs {exact}");
        }

        #[test]
        fn merging_equals_adding_everything(
            a in prop::collection::vec(0.0f64..1e6, 0..100),
            b in prop::collection::vec(0.0f64..1e6, 0..100),
        ) {
            let (mut left, mut right, mut both) =
                (Sketch::default(), Sketch::default(), Sketch::default());
            a.iter().for_each(|v| { left.add(*v); both.add(*v) });
            b.iter().for_each(|v| { right.add(*v); both.add(*v) });
            left.merge(&right);
            prop_assert_eq!(left, both);
        }
    }

    #[test]
    fn zeros_and_extremes() {
        let mut sketch = Sketch::default();
        assert_eq!(sketch.quantile(0.5), None);
        for v in [0.0, 0.0, 0.0, 1e20] {
            sketch.add(v);
        }
        assert_eq!(sketch.quantile(0.5), Some(0.0));
        assert!(sketch.quantile(1.0).unwrap() > 1e13);
    }
}
