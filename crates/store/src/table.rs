//! `ViewTable`: ended views as columns — start time, dictionary-encoded dimensions, one column
//! per catalogue metric — in hourly partitions by start time, so a query reads only the hours
//! and the columns it needs. What queries read ([`ViewColumns`]) is shared copy-on-write: a
//! query takes a copy of the hours it reads under the views' lock in microseconds and computes
//! without it, while ingest keeps writing (a write to a partition a query still reads copies
//! that partition, at most [`PARTITION_ROWS`] rows).
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use openqoe_metrics::{MetricValue, ViewMetrics, METRICS};
use openqoe_model::{ServerTime, View, ViewId};

/// Partition width: one hour of view start times.
pub const PARTITION_MS: i64 = 3_600_000;

/// Rows per partition at most: an hour holding more is split into several, so that a write
/// while a query holds a copy copies one partition (~3 MB), not the hour.
pub const PARTITION_ROWS: usize = 8_192;

/// Dimensions a table holds at most; props past them stay in the whole view but are not columns.
pub const MAX_DIMENSIONS: usize = 64;

/// The code of "no value" in every dimension column.
pub const ABSENT: u32 = 0;

/// Distinct values a dimension holds at most (besides `viewer_id` and `session_id`, which are
/// ids: one per viewer, bounded by the views themselves): enough for a catalogue's titles, few
/// enough that a client sending a new value per view cannot grow a breakdown or the store's
/// dictionaries without end. Rows past it carry [`OVERFLOW_VALUE`] and are counted.
pub const MAX_DIMENSION_VALUES: usize = 100_000;

/// The value a row gets in a dimension already holding [`MAX_DIMENSION_VALUES`] others.
pub const OVERFLOW_VALUE: &str = "(other)";

/// One dimension's values, each given a small code once (code 0 is [`ABSENT`]). Persistent
/// (structure-shared) maps, so that a query's copy costs nothing until the table adds a value.
#[derive(Debug, Default, Clone)]
pub struct Dictionary {
    values: imbl::Vector<Arc<str>>,
    codes: imbl::HashMap<Arc<str>, u32>,
}

impl Dictionary {
    /// The code of `value`, adding it if new.
    pub fn encode(&mut self, value: &str) -> u32 {
        if let Some(code) = self.codes.get(value) {
            return *code;
        }
        let value: Arc<str> = Arc::from(value);
        self.values.push_back(Arc::clone(&value));
        let code = u32::try_from(self.values.len()).expect("fewer than 2^32 distinct values");
        self.codes.insert(value, code);
        code
    }

    /// The code of `value`, if any view carried it.
    pub fn code(&self, value: &str) -> Option<u32> {
        self.codes.get(value).copied()
    }

    /// The value of `code`; `None` for [`ABSENT`] or an unknown code.
    pub fn value(&self, code: u32) -> Option<&str> {
        let index = usize::try_from(code).ok()?.checked_sub(1)?;
        self.values.get(index).map(|value| &**value)
    }

    /// Codes in use, [`ABSENT`] included: every code is below this.
    pub fn cardinality(&self) -> usize {
        self.values.len() + 1
    }
}

/// Up to [`PARTITION_ROWS`] views that started in one hour, column by column; row `i` of every
/// column is one view.
#[derive(Debug, Default, Clone)]
pub struct Partition {
    ids: Vec<ViewId>,
    started_at: Vec<i64>,
    /// Earliest and latest start time held.
    span: Option<(i64, i64)>,
    /// By dimension index; a column shorter than the partition is [`ABSENT`] past its end
    /// (the dimension appeared after those rows were written).
    dimensions: Vec<Vec<u32>>,
    /// By catalogue index ([`METRICS`]); NaN where the view is outside the metric's population;
    /// rate metrics hold 1.0 when their event happened, else 0.0.
    metrics: Vec<Vec<f64>>,
}

impl Partition {
    /// Rows held.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether no row is held.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// View ids, by row.
    pub fn ids(&self) -> &[ViewId] {
        &self.ids
    }

    /// View start times (epoch ms), by row.
    pub fn started_at(&self) -> &[i64] {
        &self.started_at
    }

    /// The earliest and the latest start time held (`None` when empty).
    pub fn span(&self) -> Option<(i64, i64)> {
        self.span
    }

    /// The codes of dimension `index`, by row; may be shorter than the partition (the rest are
    /// [`ABSENT`]).
    pub fn dimension(&self, index: usize) -> &[u32] {
        self.dimensions.get(index).map_or(&[], Vec::as_slice)
    }

    /// The values of catalogue metric `index`, by row.
    pub fn metric(&self, index: usize) -> &[f64] {
        &self.metrics[index]
    }

    fn push(&mut self, id: ViewId, started_at: i64) -> usize {
        if self.metrics.is_empty() {
            self.metrics = vec![Vec::new(); METRICS.len()];
        }
        self.ids.push(id);
        self.started_at.push(started_at);
        self.widen_span(started_at);
        self.metrics.iter_mut().for_each(|c| c.push(f64::NAN));
        self.ids.len() - 1
    }

    /// Removes row `row`, moving the last row into its place; returns the id of the view moved
    /// (`None` when the removed row was the last).
    fn swap_remove(&mut self, row: usize) -> Option<ViewId> {
        let last = self.ids.len() - 1;
        self.ids.swap_remove(row);
        self.started_at.swap_remove(row);
        for column in &mut self.dimensions {
            if column.len() > last {
                column.swap_remove(row);
            } else if row < column.len() {
                // The last row is absent past the column's end: so is the row it fills.
                column[row] = ABSENT;
            }
        }
        self.metrics.iter_mut().for_each(|column| {
            column.swap_remove(row);
        });
        self.span = self.started_at.iter().fold(None, |span, &at| {
            Some(span.map_or((at, at), |(low, high): (i64, i64)| {
                (low.min(at), high.max(at))
            }))
        });
        (row < last).then(|| self.ids[row].clone())
    }

    fn widen_span(&mut self, at: i64) {
        self.span = Some(
            self.span
                .map_or((at, at), |(low, high)| (low.min(at), high.max(at))),
        );
    }

    fn set_dimension(&mut self, row: usize, index: usize, code: u32) {
        if self.dimensions.len() <= index {
            self.dimensions.resize_with(index + 1, Vec::new);
        }
        let column = &mut self.dimensions[index];
        if column.len() <= row {
            if code == ABSENT {
                return;
            }
            column.resize(row + 1, ABSENT);
        }
        column[row] = code;
    }

    fn set_metric(&mut self, row: usize, index: usize, value: f64) {
        self.metrics[index][row] = value;
    }
}

/// One hour's partitions, and whether its files hold them.
#[derive(Debug, Default, Clone)]
struct Hour {
    /// Bumped by every write to the hour; the files are current when `written` equals it.
    version: u64,
    written: u64,
    partitions: Vec<Arc<Partition>>,
}

/// Where an ended view's row is.
#[derive(Debug, Clone, Copy)]
struct RowAt {
    hour: i64,
    partition: usize,
    row: usize,
}

/// What a query reads of a table: dimension names, dictionaries and partitions by hour. A copy
/// ([`ViewTable::columns_in`]) shares the partitions and dictionaries with the table.
#[derive(Debug, Default, Clone)]
pub struct ViewColumns {
    names: Vec<String>,
    by_name: HashMap<String, usize>,
    dictionaries: Vec<Dictionary>,
    hours: BTreeMap<i64, Hour>,
}

impl ViewColumns {
    /// The index of dimension `name`, if any view carried it.
    pub fn find_dimension(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// Dimension names, by index.
    pub fn dimension_names(&self) -> &[String] {
        &self.names
    }

    /// The dictionary of dimension `index`.
    pub fn dictionary(&self, index: usize) -> &Dictionary {
        &self.dictionaries[index]
    }

    /// Partitions holding views that started in `[from, to)`, oldest hour first, each with its
    /// hour.
    pub fn partitions(
        &self,
        from: ServerTime,
        to: ServerTime,
    ) -> impl DoubleEndedIterator<Item = (i64, &Partition)> + '_ {
        self.hours
            .range(hour_range(from, to))
            .flat_map(|(hour, held)| {
                held.partitions
                    .iter()
                    .map(move |partition| (*hour, &**partition))
            })
    }

    /// The start (epoch ms) of every hour holding views, oldest first.
    pub fn hours(&self) -> Vec<i64> {
        self.hours.keys().copied().collect()
    }
}

/// The hours (epoch ms of their start) whose views may have started in `[from, to)`.
fn hour_range(from: ServerTime, to: ServerTime) -> std::ops::Range<i64> {
    let first = from.0.div_euclid(PARTITION_MS) * PARTITION_MS;
    first..if to > from { to.0 } else { first }
}

/// Ended views in columns, partitioned by the hour they started, with each view's row.
#[derive(Debug, Default)]
pub struct ViewTable {
    columns: ViewColumns,
    rows: HashMap<ViewId, RowAt>,
    /// Values written as [`OVERFLOW_VALUE`] because their dimension was full.
    overflowed: u64,
}

/// Dimensions a view has besides its props.
pub const IDENTITY_DIMENSIONS: [&str; 2] = ["viewer_id", "session_id"];

/// A view's metric as a column value.
fn column_value(value: Option<MetricValue>) -> f64 {
    match value {
        Some(MetricValue::Number(v)) => v,
        Some(MetricValue::Flag(happened)) => f64::from(u8::from(happened)),
        None => f64::NAN,
    }
}

/// A view's row dimensions: its viewer and session ids (`None` when absent), then its props as
/// text. Every store of rows (this table, ClickHouse) groups and filters on these.
pub fn row_dimensions(view: &View) -> Vec<(String, Option<String>)> {
    IDENTITY_DIMENSIONS
        .iter()
        .map(|d| (d.to_string(), view.dimension(d)))
        .chain(
            view.props
                .texts()
                .into_iter()
                .map(|(name, value)| (name, Some(value))),
        )
        .collect()
}

/// A view's row metric values, one per catalogue metric in order: NaN outside the metric's
/// population, a rate's event as 1.0 (happened) or 0.0.
pub fn row_metrics(metrics: &ViewMetrics) -> Vec<f64> {
    METRICS
        .iter()
        .map(|m| column_value(metrics.value(m.name)))
        .collect()
}

impl ViewTable {
    /// An empty table.
    pub fn new() -> ViewTable {
        ViewTable::default()
    }

    /// The columns, to read in place.
    pub fn columns(&self) -> &ViewColumns {
        &self.columns
    }

    /// The columns, without the rows' index.
    pub fn into_columns(self) -> ViewColumns {
        self.columns
    }

    /// A copy of the columns of the hours overlapping `[from, to)`, sharing their partitions
    /// and dictionaries with the table: cheap under a lock, and readable after it is let go.
    pub fn columns_in(&self, from: ServerTime, to: ServerTime) -> ViewColumns {
        ViewColumns {
            names: self.columns.names.clone(),
            by_name: self.columns.by_name.clone(),
            dictionaries: self.columns.dictionaries.clone(),
            hours: self
                .columns
                .hours
                .range(hour_range(from, to))
                .map(|(hour, held)| (*hour, held.clone()))
                .collect(),
        }
    }

    /// The index of dimension `name`, adding it if new; `None` once [`MAX_DIMENSIONS`] are held
    /// (a client sending a new prop name per view must not grow a column per view).
    pub fn dimension_index(&mut self, name: &str) -> Option<usize> {
        let columns = &mut self.columns;
        if let Some(index) = columns.by_name.get(name) {
            return Some(*index);
        }
        if columns.names.len() >= MAX_DIMENSIONS {
            return None;
        }
        columns.names.push(name.to_owned());
        columns.dictionaries.push(Dictionary::default());
        columns
            .by_name
            .insert(name.to_owned(), columns.names.len() - 1);
        Some(columns.names.len() - 1)
    }

    /// Hours that changed since their files were last written and ended by `settled`, each
    /// with its version now (to [`ViewTable::mark_written`] once the files are written).
    pub fn unwritten_hours(&self, settled: i64) -> Vec<(i64, u64)> {
        self.columns
            .hours
            .range(..=settled.saturating_sub(PARTITION_MS))
            .filter(|(_, held)| held.version != held.written)
            .map(|(hour, held)| (*hour, held.version))
            .collect()
    }

    /// Records that hour `hour`'s files hold its `version` (a later write makes it unwritten).
    pub fn mark_written(&mut self, hour: i64, version: u64) {
        if let Some(held) = self.columns.hours.get_mut(&hour) {
            held.written = held.written.max(version);
        }
    }

    /// Drops every hour that ended at or before `cutoff`; returns the ids of its views.
    pub fn drop_before(&mut self, cutoff: i64) -> Vec<ViewId> {
        let keep = self
            .columns
            .hours
            .split_off(&(cutoff.div_euclid(PARTITION_MS) * PARTITION_MS));
        let dropped = std::mem::replace(&mut self.columns.hours, keep);
        let ids: Vec<ViewId> = dropped
            .into_values()
            .flat_map(|held| held.partitions)
            .flat_map(|partition| partition.ids.clone())
            .collect();
        ids.iter().for_each(|id| {
            self.rows.remove(id);
        });
        ids
    }

    /// Removes view `id`'s row (a viewer's data erased); its hour's files are then behind.
    /// Returns the row's hour, if it had one. Its dimensions' values stay in the dictionaries
    /// (codes are positions) until the process restarts.
    pub fn remove(&mut self, id: &ViewId) -> Option<i64> {
        let at = self.rows.remove(id)?;
        let held = self.columns.hours.get_mut(&at.hour).expect("row's hour");
        held.version += 1;
        let partition = Arc::make_mut(&mut held.partitions[at.partition]);
        if let Some(moved) = partition.swap_remove(at.row) {
            self.rows.get_mut(&moved).expect("a held row").row = at.row;
        }
        Some(at.hour)
    }

    /// Rows held.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether no row is held.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The hour (epoch ms of its start) whose partition holds view `id`'s row.
    pub fn hour_of(&self, id: &ViewId) -> Option<i64> {
        self.rows.get(id).map(|at| at.hour)
    }

    /// Hour `hour`'s version: how many times its rows were written.
    pub fn version(&self, hour: i64) -> Option<u64> {
        self.columns.hours.get(&hour).map(|held| held.version)
    }

    /// Whether hour `hour`'s files hold every change to its rows.
    pub fn is_written(&self, hour: i64) -> bool {
        self.columns
            .hours
            .get(&hour)
            .is_some_and(|held| held.version == held.written)
    }

    /// The partition and row of view `id`.
    pub fn find(&self, id: &ViewId) -> Option<(&Partition, usize)> {
        let at = self.rows.get(id)?;
        let partition = &self.columns.hours[&at.hour].partitions[at.partition];
        Some((partition, at.row))
    }

    /// Writes (or rewrites) a view's row: its dimensions and metrics. Views that never
    /// started (no time) are not written: every query selects by start time.
    pub fn upsert(&mut self, view: &View, metrics: &ViewMetrics) {
        if let Some(started_at) = view.started_at() {
            self.upsert_at(view, metrics, started_at.0);
        }
    }

    /// [`ViewTable::upsert`] with the row's start given: a view loaded from an hour file goes
    /// back to the hour and start its row had (a late lower-`seq` event can have moved the
    /// view's first event out of the hour; its row stays).
    pub fn upsert_at(&mut self, view: &View, metrics: &ViewMetrics, started_at: i64) {
        self.write_row(
            view.id.clone(),
            started_at,
            &row_dimensions(view),
            &row_metrics(metrics),
        );
    }

    /// Writes (or rewrites) one row from its parts: `(dimension, value)` pairs and one value per
    /// catalogue metric (NaN outside its population).
    pub fn write_row(
        &mut self,
        id: ViewId,
        started_at: i64,
        dimensions: &[(String, Option<String>)],
        metric_values: &[f64],
    ) {
        let codes: Vec<(usize, u32)> = dimensions
            .iter()
            .filter_map(|(name, value)| {
                let index = self.dimension_index(name)?;
                let code = value.as_deref().map_or(ABSENT, |v| self.encode(index, v));
                Some((index, code))
            })
            .collect();
        self.write_encoded(id, started_at, &codes, metric_values);
    }

    /// The code of `value` in dimension `index`, adding it if new; [`OVERFLOW_VALUE`]'s (counted)
    /// when the dimension already holds [`MAX_DIMENSION_VALUES`] values.
    pub fn encode(&mut self, index: usize, value: &str) -> u32 {
        let capped = !IDENTITY_DIMENSIONS.contains(&self.columns.names[index].as_str());
        let dictionary = &mut self.columns.dictionaries[index];
        if let Some(code) = dictionary.code(value) {
            return code;
        }
        if capped && dictionary.cardinality() > MAX_DIMENSION_VALUES {
            self.overflowed += 1;
            return dictionary.encode(OVERFLOW_VALUE);
        }
        dictionary.encode(value)
    }

    /// Values written as [`OVERFLOW_VALUE`] since the table was made.
    pub fn values_overflowed(&self) -> u64 {
        self.overflowed
    }

    /// Writes (or rewrites) one row with its dimensions already encoded: `(dimension index,
    /// code)` pairs. A rewritten view keeps its first start time's partition; dimensions it no
    /// longer names are cleared.
    pub fn write_encoded(
        &mut self,
        id: ViewId,
        started_at: i64,
        codes: &[(usize, u32)],
        metric_values: &[f64],
    ) {
        debug_assert_eq!(metric_values.len(), METRICS.len());
        let (at, rewrite) = match self.rows.get(&id) {
            Some(at) => (*at, true),
            None => {
                let hour = started_at.div_euclid(PARTITION_MS) * PARTITION_MS;
                let held = self.columns.hours.entry(hour).or_default();
                if held
                    .partitions
                    .last()
                    .is_none_or(|last| last.len() >= PARTITION_ROWS)
                {
                    held.partitions.push(Arc::default());
                }
                let partition = held.partitions.len() - 1;
                let row =
                    Arc::make_mut(&mut held.partitions[partition]).push(id.clone(), started_at);
                let at = RowAt {
                    hour,
                    partition,
                    row,
                };
                self.rows.insert(id, at);
                (at, false)
            }
        };
        let dimension_count = self.columns.names.len();
        let held = self.columns.hours.get_mut(&at.hour).expect("row's hour");
        held.version += 1;
        // Copies the partition only if a query still reads it.
        let partition = Arc::make_mut(&mut held.partitions[at.partition]);
        // A late event with a lower `seq` can move the start; the row keeps its hour (moving
        // rows between partitions is not supported), so the move is kept within it.
        if rewrite && started_at.div_euclid(PARTITION_MS) * PARTITION_MS == at.hour {
            partition.started_at[at.row] = started_at;
            partition.widen_span(started_at);
        }
        if rewrite {
            for index in 0..dimension_count {
                partition.set_dimension(at.row, index, ABSENT);
            }
        }
        for (index, code) in codes {
            partition.set_dimension(at.row, *index, *code);
        }
        for (index, value) in metric_values.iter().enumerate() {
            partition.set_metric(at.row, index, *value);
        }
    }
}

#[cfg(test)]
mod tests;
