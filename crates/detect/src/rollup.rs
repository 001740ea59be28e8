//! Minute rollups: each minute's counts summed per leaf (one value per dimension, dictionary
//! encoded), kept for the last hour or so; cohorts are sums of leaves, never averages of ratios.
use std::collections::{BTreeMap, HashMap, VecDeque};

use openqoe_metrics::MinuteCounts;
use openqoe_rca::{Input, Localisation, Row};

use crate::metric::AlertMetric;

/// Smallest root-cause candidate, in views (Conviva's per-cohort floor is 25 a minute).
const MIN_SUPPORT_VIEWS: f64 = 25.0;
/// The value of a dimension a view does not carry.
const NONE: &str = "(none)";

/// A monitored cohort: fixed (dimension index, value id) pairs, sorted; empty for all views.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cohort(pub Vec<(usize, u32)>);

type Leaves = HashMap<Vec<u32>, MinuteCounts>;
/// A leaf's (numerator, denominator) summed over minutes.
type LeafSums<'a> = HashMap<&'a Vec<u32>, (f64, f64)>;

/// Recent minutes' leaves and the value dictionary.
pub struct Rollup {
    dimensions: Vec<String>,
    ids: Vec<HashMap<String, u32>>,
    values: Vec<Vec<String>>,
    minutes: VecDeque<(i64, Leaves)>,
    keep: usize,
}

impl Rollup {
    /// An empty rollup over `dimensions` keeping `keep` minutes of leaves.
    pub fn new(dimensions: Vec<String>, keep: usize) -> Rollup {
        let n = dimensions.len();
        Rollup {
            dimensions,
            ids: vec![HashMap::new(); n],
            values: vec![Vec::new(); n],
            minutes: VecDeque::new(),
            keep,
        }
    }

    /// Dimension names.
    pub fn dimensions(&self) -> &[String] {
        &self.dimensions
    }

    fn id(&mut self, dim: usize, value: Option<&str>) -> u32 {
        let value = value.unwrap_or(NONE);
        if let Some(id) = self.ids[dim].get(value) {
            return *id;
        }
        let id = self.values[dim].len() as u32;
        self.values[dim].push(value.to_owned());
        self.ids[dim].insert(value.to_owned(), id);
        id
    }

    /// A value id's text.
    pub fn value(&self, dim: usize, id: u32) -> &str {
        &self.values[dim][id as usize]
    }

    /// Adds one minute's views, summed per leaf, and forgets minutes beyond the window.
    pub fn push_minute(&mut self, minute: i64, views: &[(Vec<Option<String>>, MinuteCounts)]) {
        let mut leaves = Leaves::new();
        for (values, counts) in views {
            let key: Vec<u32> = (0..self.dimensions.len())
                .map(|d| self.id(d, values.get(d).and_then(|v| v.as_deref())))
                .collect();
            leaves.entry(key).or_default().add(counts);
        }
        self.minutes.push_back((minute, leaves));
        while self.minutes.len() > self.keep {
            self.minutes.pop_front();
        }
    }

    fn minute(&self, minute: i64) -> Option<&Leaves> {
        self.minutes
            .iter()
            .rev()
            .find(|(m, _)| *m == minute)
            .map(|(_, leaves)| leaves)
    }

    fn matches(&self, leaf: &[u32], filter: &[(usize, String)]) -> bool {
        filter
            .iter()
            .all(|(dim, want)| self.value(*dim, leaf[*dim]) == want)
    }

    /// The minute's counts of every monitored cohort present: all views, each value of `slices`,
    /// each value pair of `pairs`; only leaves passing `filter`.
    pub fn cohorts(
        &self,
        minute: i64,
        filter: &[(usize, String)],
        slices: &[usize],
        pairs: &[[usize; 2]],
    ) -> HashMap<Cohort, MinuteCounts> {
        let mut cohorts: HashMap<Cohort, MinuteCounts> = HashMap::new();
        let Some(leaves) = self.minute(minute) else {
            return cohorts;
        };
        for (leaf, counts) in leaves.iter().filter(|(l, _)| self.matches(l, filter)) {
            cohorts.entry(Cohort::default()).or_default().add(counts);
            for dim in slices {
                cohorts
                    .entry(Cohort(vec![(*dim, leaf[*dim])]))
                    .or_default()
                    .add(counts);
            }
            for [a, b] in pairs {
                let mut pair = vec![(*a, leaf[*a]), (*b, leaf[*b])];
                pair.sort_unstable();
                cohorts.entry(Cohort(pair)).or_default().add(counts);
            }
        }
        cohorts
    }

    /// A cohort as `dimension → value`.
    pub fn describe(&self, cohort: &Cohort) -> BTreeMap<String, String> {
        cohort
            .0
            .iter()
            .map(|(dim, id)| {
                (
                    self.dimensions[*dim].clone(),
                    self.value(*dim, *id).to_owned(),
                )
            })
            .collect()
    }

    /// Root cause of the last `window` minutes up to `minute` against the `baseline` minutes
    /// before them, over the leaves passing `filter`.
    pub fn localise(
        &self,
        metric: AlertMetric,
        filter: &[(usize, String)],
        minute: i64,
        window: i64,
        baseline: i64,
        slow_ms: f64,
    ) -> Localisation {
        let in_span = |m: i64, from: i64, to: i64| m >= from && m <= to;
        let window_from = minute - window + 1;
        let baseline_from = window_from - baseline;
        let selected = || {
            self.minutes
                .iter()
                .filter(move |(m, _)| in_span(*m, baseline_from, minute))
                .flat_map(|(m, leaves)| leaves.iter().map(move |(l, c)| (*m, l, c)))
                .filter(|(_, l, _)| self.matches(l, filter))
        };
        // Bitrate shortfall is measured against the best leaf average seen (so it is a share).
        let top_bps = selected()
            .filter(|(_, _, c)| c.rendition_ms > 0)
            .map(|(_, _, c)| c.bitrate_ms / c.rendition_ms as f64)
            .fold(0.0, f64::max);
        let mut before: LeafSums = HashMap::new();
        let mut during: LeafSums = HashMap::new();
        for (m, leaf, counts) in selected() {
            let (n, d) = metric.rca_ratio(counts, slow_ms, top_bps);
            let sums = if m >= window_from {
                during.entry(leaf).or_default()
            } else {
                before.entry(leaf).or_default()
            };
            sums.0 += n;
            sums.1 += d;
        }
        let rows = |sums: LeafSums| -> Vec<Row> {
            sums.into_iter()
                .filter(|(_, (_, d))| *d > 0.0)
                .map(|(leaf, (numerator, denominator))| Row {
                    leaf: leaf
                        .iter()
                        .enumerate()
                        .map(|(dim, id)| self.value(dim, *id).to_owned())
                        .collect(),
                    numerator,
                    denominator,
                })
                .collect()
        };
        let input = Input {
            dimensions: self.dimensions.clone(),
            baseline: rows(before),
            current: rows(during),
            min_support: MIN_SUPPORT_VIEWS,
        };
        openqoe_rca::localise(&input, metric.name())
    }
}
