//! Breakdowns and timeseries over a table's columns ([`ViewColumns`]): filters become dictionary
//! codes, groups become dense indexes over the codes, and each partition is scanned column by
//! column, split across the machine's cores.
use std::collections::{BTreeMap, HashMap};

use openqoe_metrics::{Metric, MetricKind};
use openqoe_model::ServerTime;
use openqoe_store::{Partition, ViewColumns, ABSENT};

use crate::{Aggregate, Distribution, EXACT_VIEWS};

/// What to aggregate: one metric of the views started in `[from, to)` that match every filter,
/// per group of `group_by` values and, for a timeseries, per `interval_ms` bucket of start time.
#[derive(Debug, Clone)]
pub struct Grouping<'a> {
    /// The metric.
    pub metric: &'static Metric,
    /// Start of the range (inclusive), on view start time.
    pub from: ServerTime,
    /// End of the range (exclusive).
    pub to: ServerTime,
    /// `(dimension, value)` pairs a view must all match.
    pub filters: &'a [(String, String)],
    /// Dimensions to group by.
    pub group_by: &'a [String],
    /// Bucket width for a timeseries; `None` for one bucket over the range.
    pub interval_ms: Option<i64>,
}

/// A group's key: its bucket start (epoch ms; `from` without buckets) and `group_by` values.
pub type GroupKey = (i64, Vec<Option<String>>);

/// Dense group slots up to this many (codes × buckets); sparser groupings use a hash map.
const DENSE_SLOTS: usize = 1 << 18;
/// Group sizes are estimated from every this-many-th row.
const SAMPLE_STRIDE: usize = 16;
/// Partitions below this many rows in total are not worth a second thread.
const PARALLEL_ROWS: usize = 200_000;

/// The grouping resolved against one table's dictionaries.
struct Plan {
    metric: usize,
    kind: openqoe_metrics::MetricKind,
    from: i64,
    to: i64,
    /// (dimension index, code) pairs every row must carry.
    filters: Vec<(usize, u32)>,
    /// Per group-by dimension: its index (if the table knows it) and its codes' count.
    group_by: Vec<(Option<usize>, usize)>,
    /// Bucket width and the first bucket's number (start / width).
    buckets: Option<(i64, i64)>,
    bucket_count: usize,
}

impl Plan {
    /// `None` when no row can match (a filter names a dimension or value never seen).
    fn new(table: &ViewColumns, grouping: &Grouping<'_>) -> Option<Plan> {
        let metric = openqoe_metrics::METRICS
            .iter()
            .position(|m| m.name == grouping.metric.name)?;
        let filters = grouping
            .filters
            .iter()
            .map(|(dim, value)| {
                let index = table.find_dimension(dim)?;
                Some((index, table.dictionary(index).code(value)?))
            })
            .collect::<Option<Vec<_>>>()?;
        let group_by = grouping
            .group_by
            .iter()
            .map(|dim| match table.find_dimension(dim) {
                Some(index) => (Some(index), table.dictionary(index).cardinality()),
                None => (None, 1),
            })
            .collect();
        let (buckets, bucket_count) = match grouping.interval_ms {
            Some(width) => {
                let first = grouping.from.0.div_euclid(width);
                let last = (grouping.to.0 - 1).div_euclid(width);
                (
                    Some((width, first)),
                    usize::try_from(last - first + 1).ok()?,
                )
            }
            None => (None, 1),
        };
        Some(Plan {
            metric,
            kind: grouping.metric.kind,
            from: grouping.from.0,
            to: grouping.to.0,
            filters,
            group_by,
            buckets,
            bucket_count,
        })
    }

    /// Slots a dense layout needs, if it fits.
    fn dense_slots(&self) -> Option<usize> {
        self.group_by
            .iter()
            .try_fold(self.bucket_count, |slots, (_, cardinality)| {
                slots.checked_mul(*cardinality)
            })
            .filter(|slots| *slots <= DENSE_SLOTS)
    }

    /// Calls `visit(row, slot, bucket)` for every `stride`-th row of `partition` in the range
    /// that matches the filters: `slot` is its dense group index (bucket-major), `bucket` its
    /// bucket number.
    #[inline]
    fn rows(
        &self,
        partition: &Partition,
        stride: usize,
        mut visit: impl FnMut(usize, usize, usize),
    ) {
        let started = partition.started_at();
        let code = |column: &[u32], row: usize| column.get(row).copied().unwrap_or(ABSENT);
        let filters: Vec<(&[u32], u32)> = self
            .filters
            .iter()
            .map(|(index, code)| (partition.dimension(*index), *code))
            .collect();
        let groups: Vec<(&[u32], usize)> = self
            .group_by
            .iter()
            .map(|(index, cardinality)| {
                (
                    index.map_or(&[][..], |i| partition.dimension(i)),
                    *cardinality,
                )
            })
            .collect();
        let whole = partition
            .span()
            .is_some_and(|(low, high)| low >= self.from && high < self.to);
        for (row, at) in started.iter().enumerate().step_by(stride) {
            if !whole && (*at < self.from || *at >= self.to) {
                continue;
            }
            if !filters
                .iter()
                .all(|(column, want)| code(column, row) == *want)
            {
                continue;
            }
            let bucket = match self.buckets {
                Some((width, first)) => (at.div_euclid(width) - first) as usize,
                None => 0,
            };
            let mut slot = bucket;
            for (column, cardinality) in &groups {
                // Wraps harmlessly in the sparse layout, which does not use it.
                slot = slot
                    .wrapping_mul(*cardinality)
                    .wrapping_add(code(column, row) as usize);
            }
            visit(row, slot, bucket);
        }
    }

    /// Estimated rows per dense slot over a slice of partitions, from every
    /// [`SAMPLE_STRIDE`]-th row.
    fn estimate(&self, partitions: &[&Partition], slots: usize) -> Vec<u32> {
        let mut counts = vec![0u32; slots];
        for partition in partitions {
            let values = partition.metric(self.metric);
            self.rows(partition, SAMPLE_STRIDE, |row, slot, _| {
                // Only views with a value count towards a group's size.
                if values[row].is_finite() {
                    counts[slot] += SAMPLE_STRIDE as u32;
                }
            });
        }
        counts
    }

    /// Aggregates of one slice of partitions; `sized` estimates each dense slot's total rows
    /// (over every slice), so a group that will be large starts as a sketch instead of filling
    /// and spilling (a wrong guess costs time, never accuracy beyond the sketch's bound).
    fn scan(&self, partitions: &[&Partition], sized: Option<&[u32]>) -> Slots {
        match self.dense_slots() {
            Some(n) => {
                let fresh = |slot: usize| match sized {
                    // Only groups surely past the exact limit start as sketches: a sample's
                    // error must not cost a group of fewer views its exact answer.
                    Some(estimates) if estimates[slot] as usize > 2 * EXACT_VIEWS => {
                        Aggregate::Distribution(Distribution::sketched())
                    }
                    _ => Aggregate::new(self.kind),
                };
                let mut dense: Vec<Option<Aggregate>> = vec![None; n];
                for partition in partitions {
                    let values = partition.metric(self.metric);
                    self.rows(partition, 1, |row, slot, _| {
                        dense[slot]
                            .get_or_insert_with(|| fresh(slot))
                            .add_column_value(values[row]);
                    });
                }
                Slots::Dense(dense)
            }
            None => {
                let mut sparse: HashMap<Vec<u32>, Aggregate> = HashMap::new();
                let mut key = Vec::with_capacity(self.group_by.len() + 1);
                for partition in partitions {
                    let values = partition.metric(self.metric);
                    let columns: Vec<&[u32]> = self
                        .group_by
                        .iter()
                        .map(|(index, _)| index.map_or(&[][..], |i| partition.dimension(i)))
                        .collect();
                    self.rows(partition, 1, |row, _, bucket| {
                        key.clear();
                        key.push(bucket as u32);
                        key.extend(
                            columns
                                .iter()
                                .map(|c| c.get(row).copied().unwrap_or(ABSENT)),
                        );
                        match sparse.get_mut(&key) {
                            Some(aggregate) => aggregate.add_column_value(values[row]),
                            None => {
                                let mut aggregate = Aggregate::new(self.kind);
                                aggregate.add_column_value(values[row]);
                                sparse.insert(key.clone(), aggregate);
                            }
                        }
                    });
                }
                Slots::Sparse(sparse)
            }
        }
    }

    /// The slots' groups by bucket start and decoded values.
    fn decode(&self, table: &ViewColumns, slots: Slots, out: &mut BTreeMap<GroupKey, Aggregate>) {
        let bucket_start = |bucket: usize| match self.buckets {
            Some((width, first)) => (first + bucket as i64) * width,
            None => self.from,
        };
        let values = |codes: &[u32]| -> Vec<Option<String>> {
            self.group_by
                .iter()
                .zip(codes)
                .map(|((index, _), code)| {
                    index.and_then(|i| table.dictionary(i).value(*code).map(str::to_owned))
                })
                .collect()
        };
        let mut put = |key: GroupKey, aggregate: Aggregate| match out.get_mut(&key) {
            Some(existing) => existing.merge(aggregate),
            None => {
                out.insert(key, aggregate);
            }
        };
        match slots {
            Slots::Dense(dense) => {
                let mut codes = vec![0u32; self.group_by.len()];
                for (mut slot, aggregate) in dense.into_iter().enumerate() {
                    let Some(aggregate) = aggregate else { continue };
                    for (i, (_, cardinality)) in self.group_by.iter().enumerate().rev() {
                        codes[i] = (slot % cardinality) as u32;
                        slot /= cardinality;
                    }
                    put((bucket_start(slot), values(&codes)), aggregate);
                }
            }
            Slots::Sparse(sparse) => {
                for (key, aggregate) in sparse {
                    put(
                        (bucket_start(key[0] as usize), values(&key[1..])),
                        aggregate,
                    );
                }
            }
        }
    }
}

/// Aggregates per group while scanning.
enum Slots {
    Dense(Vec<Option<Aggregate>>),
    Sparse(HashMap<Vec<u32>, Aggregate>),
}

impl Slots {
    fn merge(&mut self, other: Slots) {
        match (self, other) {
            (Slots::Dense(mine), Slots::Dense(theirs)) => {
                for (slot, aggregate) in mine.iter_mut().zip(theirs) {
                    match (slot.as_mut(), aggregate) {
                        (Some(slot), Some(aggregate)) => slot.merge(aggregate),
                        (None, Some(aggregate)) => *slot = Some(aggregate),
                        (_, None) => {}
                    }
                }
            }
            (Slots::Sparse(mine), Slots::Sparse(theirs)) => {
                for (key, aggregate) in theirs {
                    match mine.get_mut(&key) {
                        Some(slot) => slot.merge(aggregate),
                        None => {
                            mine.insert(key, aggregate);
                        }
                    }
                }
            }
            _ => unreachable!("one plan gives one layout"),
        }
    }
}

/// Adds the grouping's aggregates over `table` into `out` (merging with groups already there,
/// so a caller can aggregate several tables — stored and live views — into one answer).
pub fn aggregate(
    table: &ViewColumns,
    grouping: &Grouping<'_>,
    out: &mut BTreeMap<GroupKey, Aggregate>,
) {
    let Some(plan) = Plan::new(table, grouping) else {
        return;
    };
    let partitions: Vec<&Partition> = table
        .partitions(grouping.from, grouping.to)
        .map(|(_, p)| p)
        .collect();
    let rows: usize = partitions.iter().map(|p| p.len()).sum();
    let chunks = shares(partitions);
    let sized = match (plan.kind, plan.dense_slots()) {
        (MetricKind::Distribution, Some(n)) if rows > EXACT_VIEWS => {
            let counts = in_parallel(&chunks, |chunk| plan.estimate(chunk, n));
            Some(counts.into_iter().reduce(|mut total, more| {
                total.iter_mut().zip(more).for_each(|(t, m)| *t += m);
                total
            }))
        }
        _ => None,
    }
    .flatten();
    let slots = in_parallel(&chunks, |chunk| plan.scan(chunk, sized.as_deref()))
        .into_iter()
        .reduce(|mut slots, more| {
            slots.merge(more);
            slots
        });
    if let Some(slots) = slots {
        plan.decode(table, slots, out);
    }
}

/// Partitions split into contiguous shares of about equal rows, one per core (one share when
/// there are too few rows to be worth a thread).
fn shares(partitions: Vec<&Partition>) -> Vec<Vec<&Partition>> {
    let rows: usize = partitions.iter().map(|p| p.len()).sum();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads == 1 || rows < PARALLEL_ROWS {
        return vec![partitions];
    }
    let share = rows.div_ceil(threads);
    let mut chunks: Vec<Vec<&Partition>> = vec![Vec::new()];
    let mut in_chunk = 0;
    for partition in partitions {
        if in_chunk >= share {
            chunks.push(Vec::new());
            in_chunk = 0;
        }
        in_chunk += partition.len();
        chunks.last_mut().expect("one chunk").push(partition);
    }
    chunks
}

/// `work` on every share, each on its own thread (the caller's for a single share).
fn in_parallel<T: Send>(
    chunks: &[Vec<&Partition>],
    work: impl Fn(&[&Partition]) -> T + Sync,
) -> Vec<T> {
    if chunks.len() == 1 {
        return vec![work(&chunks[0])];
    }
    std::thread::scope(|scope| {
        let work = &work;
        let handles: Vec<_> = chunks
            .iter()
            .map(|chunk| scope.spawn(move || work(chunk)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("scan thread panicked"))
            .collect()
    })
}
