//! `ViewTable`: ended views as columns — start time, dictionary-encoded dimensions, one column
//! per catalogue metric — in hourly partitions by start time, so a query reads only the hours
//! and the columns it needs.
use std::collections::{BTreeMap, HashMap};

use openqoe_metrics::{MetricValue, ViewMetrics, METRICS};
use openqoe_model::{ServerTime, View, ViewId};

/// Partition width: one hour of view start times.
pub const PARTITION_MS: i64 = 3_600_000;

/// Dimensions a table holds at most; props past them stay in the whole view but are not columns.
pub const MAX_DIMENSIONS: usize = 64;

/// The code of "no value" in every dimension column.
pub const ABSENT: u32 = 0;

/// One dimension's values, each given a small code once (code 0 is [`ABSENT`]).
#[derive(Debug, Default)]
pub struct Dictionary {
    values: Vec<String>,
    codes: HashMap<String, u32>,
}

impl Dictionary {
    /// The code of `value`, adding it if new.
    pub fn encode(&mut self, value: &str) -> u32 {
        if let Some(code) = self.codes.get(value) {
            return *code;
        }
        self.values.push(value.to_owned());
        let code = u32::try_from(self.values.len()).expect("fewer than 2^32 distinct values");
        self.codes.insert(value.to_owned(), code);
        code
    }

    /// The code of `value`, if any view carried it.
    pub fn code(&self, value: &str) -> Option<u32> {
        self.codes.get(value).copied()
    }

    /// The value of `code`; `None` for [`ABSENT`] or an unknown code.
    pub fn value(&self, code: u32) -> Option<&str> {
        let index = usize::try_from(code).ok()?.checked_sub(1)?;
        self.values.get(index).map(String::as_str)
    }

    /// Codes in use, [`ABSENT`] included: every code is below this.
    pub fn cardinality(&self) -> usize {
        self.values.len() + 1
    }
}

/// The views that started in one hour, column by column; row `i` of every column is one view.
#[derive(Debug, Default)]
pub struct Partition {
    ids: Vec<ViewId>,
    started_at: Vec<i64>,
    /// Earliest and latest start time held.
    span: Option<(i64, i64)>,
    /// Bumped by every write to the partition; the files are current when `written` equals it.
    version: u64,
    written: u64,
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

    /// Whether the partition changed since its files were last written.
    pub fn unwritten(&self) -> bool {
        self.version != self.written
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

/// Where an ended view's row is.
#[derive(Debug, Clone, Copy)]
struct RowAt {
    hour: i64,
    row: usize,
}

/// Ended views in columns, partitioned by the hour they started.
#[derive(Debug, Default)]
pub struct ViewTable {
    names: Vec<String>,
    by_name: HashMap<String, usize>,
    dictionaries: Vec<Dictionary>,
    partitions: BTreeMap<i64, Partition>,
    rows: HashMap<ViewId, RowAt>,
}

/// Dimensions a view has besides its props.
const IDENTITY_DIMENSIONS: [&str; 2] = ["viewer_id", "session_id"];

/// A view's metric as a column value.
fn column_value(value: Option<MetricValue>) -> f64 {
    match value {
        Some(MetricValue::Number(v)) => v,
        Some(MetricValue::Flag(happened)) => f64::from(u8::from(happened)),
        None => f64::NAN,
    }
}

impl ViewTable {
    /// An empty table.
    pub fn new() -> ViewTable {
        ViewTable::default()
    }

    /// The index of dimension `name`, adding it if new; `None` once [`MAX_DIMENSIONS`] are held
    /// (a client sending a new prop name per view must not grow a column per view).
    pub fn dimension_index(&mut self, name: &str) -> Option<usize> {
        if let Some(index) = self.by_name.get(name) {
            return Some(*index);
        }
        if self.names.len() >= MAX_DIMENSIONS {
            return None;
        }
        self.names.push(name.to_owned());
        self.dictionaries.push(Dictionary::default());
        self.by_name.insert(name.to_owned(), self.names.len() - 1);
        Some(self.names.len() - 1)
    }

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

    /// Partitions holding views that started in `[from, to)`, oldest first, with their hour.
    pub fn partitions(
        &self,
        from: ServerTime,
        to: ServerTime,
    ) -> impl DoubleEndedIterator<Item = (i64, &Partition)> + '_ {
        let first = from.0.div_euclid(PARTITION_MS) * PARTITION_MS;
        let end = if to > from { to.0 } else { first };
        self.partitions
            .range(first..end)
            .map(|(hour, partition)| (*hour, partition))
    }

    /// The start (epoch ms) of every hour holding views, oldest first.
    pub fn hours(&self) -> Vec<i64> {
        self.partitions.keys().copied().collect()
    }

    /// Hours that changed since their files were last written and ended by `settled`, each
    /// with its version now (to [`ViewTable::mark_written`] once the files are written).
    pub fn unwritten_hours(&self, settled: i64) -> Vec<(i64, u64)> {
        self.partitions
            .range(..=settled.saturating_sub(PARTITION_MS))
            .filter(|(_, p)| p.unwritten())
            .map(|(hour, p)| (*hour, p.version))
            .collect()
    }

    /// Records that hour `hour`'s files hold its `version` (a later write makes it unwritten).
    pub fn mark_written(&mut self, hour: i64, version: u64) {
        if let Some(partition) = self.partitions.get_mut(&hour) {
            partition.written = partition.written.max(version);
        }
    }

    /// Drops every hour that ended at or before `cutoff`; returns the ids of its views.
    pub fn drop_before(&mut self, cutoff: i64) -> Vec<ViewId> {
        let keep = self
            .partitions
            .split_off(&(cutoff.div_euclid(PARTITION_MS) * PARTITION_MS));
        let dropped = std::mem::replace(&mut self.partitions, keep);
        let ids: Vec<ViewId> = dropped.into_values().flat_map(|p| p.ids).collect();
        ids.iter().for_each(|id| {
            self.rows.remove(id);
        });
        ids
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
        self.partitions.get(&hour).map(|p| p.version)
    }

    /// Whether hour `hour`'s files hold every change to its rows.
    pub fn is_written(&self, hour: i64) -> bool {
        self.partitions.get(&hour).is_some_and(|p| !p.unwritten())
    }

    /// The partition and row of view `id`.
    pub fn find(&self, id: &ViewId) -> Option<(&Partition, usize)> {
        let at = self.rows.get(id)?;
        Some((&self.partitions[&at.hour], at.row))
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
        let mut values = Vec::with_capacity(METRICS.len());
        values.extend(METRICS.iter().map(|m| column_value(metrics.value(m.name))));
        let dimensions: Vec<(String, Option<String>)> = IDENTITY_DIMENSIONS
            .iter()
            .map(|d| (d.to_string(), view.dimension(d)))
            .chain(
                view.props
                    .texts()
                    .into_iter()
                    .map(|(name, value)| (name, Some(value))),
            )
            .collect();
        self.write_row(view.id.clone(), started_at, &dimensions, &values);
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

    /// The code of `value` in dimension `index`, adding it if new.
    pub fn encode(&mut self, index: usize, value: &str) -> u32 {
        self.dictionaries[index].encode(value)
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
                let row = self
                    .partitions
                    .entry(hour)
                    .or_default()
                    .push(id.clone(), started_at);
                let at = RowAt { hour, row };
                self.rows.insert(id, at);
                (at, false)
            }
        };
        let partition = self.partitions.get_mut(&at.hour).expect("row's partition");
        partition.version += 1;
        // A late event with a lower `seq` can move the start; the row keeps its hour (moving
        // rows between partitions is not supported), so the move is kept within it.
        if rewrite && started_at.div_euclid(PARTITION_MS) * PARTITION_MS == at.hour {
            partition.started_at[at.row] = started_at;
            partition.widen_span(started_at);
        }
        if rewrite {
            for index in 0..self.names.len() {
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
mod tests {
    use super::*;

    fn id(s: &str) -> ViewId {
        ViewId::new(s).unwrap()
    }

    fn nan_metrics() -> Vec<f64> {
        vec![f64::NAN; METRICS.len()]
    }

    #[test]
    fn rows_land_in_their_hour_and_rewrites_stay_put() {
        let mut table = ViewTable::new();
        let dims = |cdn: &str| vec![("cdn".to_string(), Some(cdn.to_string()))];
        table.write_row(id("a"), 10, &dims("cdn-a"), &nan_metrics());
        table.write_row(id("b"), PARTITION_MS + 5, &dims("cdn-b"), &nan_metrics());
        let mut values = nan_metrics();
        values[0] = 1500.0;
        table.write_row(id("a"), 10, &dims("cdn-c"), &values);

        assert_eq!(table.len(), 2);
        let hours: Vec<i64> = table
            .partitions(ServerTime(0), ServerTime(2 * PARTITION_MS))
            .map(|(h, _)| h)
            .collect();
        assert_eq!(hours, vec![0, PARTITION_MS]);
        let cdn = table.find_dimension("cdn").unwrap();
        let (partition, row) = table.find(&id("a")).unwrap();
        let code = partition.dimension(cdn)[row];
        assert_eq!(table.dictionary(cdn).value(code), Some("cdn-c"));
        assert_eq!(partition.metric(0)[row], 1500.0);
        assert_eq!(partition.len(), 1);
    }

    #[test]
    fn a_dimension_added_later_reads_absent_for_older_rows() {
        let mut table = ViewTable::new();
        table.write_row(id("a"), 0, &[], &nan_metrics());
        table.write_row(
            id("b"),
            1,
            &[("isp".into(), Some("x".into()))],
            &nan_metrics(),
        );
        table.write_row(id("c"), 2, &[("isp".into(), None)], &nan_metrics());
        let isp = table.find_dimension("isp").unwrap();
        let (partition, _) = table.find(&id("a")).unwrap();
        let column = partition.dimension(isp);
        let code = |row: usize| column.get(row).copied().unwrap_or(ABSENT);
        assert_eq!(code(0), ABSENT);
        assert_eq!(table.dictionary(isp).value(code(1)), Some("x"));
        assert_eq!(code(2), ABSENT);
    }

    #[test]
    fn hours_are_unwritten_until_written_and_again_after_a_change() {
        let mut table = ViewTable::new();
        table.write_row(id("a"), 10, &[], &nan_metrics());
        table.write_row(id("b"), PARTITION_MS + 10, &[], &nan_metrics());
        // Only hours that ended by the settled time are offered.
        assert_eq!(table.unwritten_hours(PARTITION_MS - 1).len(), 0);
        let offered = table.unwritten_hours(2 * PARTITION_MS - 1);
        assert_eq!(offered.iter().map(|h| h.0).collect::<Vec<_>>(), vec![0]);
        table.mark_written(0, offered[0].1);
        assert!(table.unwritten_hours(2 * PARTITION_MS - 1).is_empty());
        table.write_row(id("a"), 10, &[], &nan_metrics());
        assert_eq!(table.unwritten_hours(2 * PARTITION_MS - 1).len(), 1);
    }

    #[test]
    fn dropping_old_hours_forgets_their_views() {
        let mut table = ViewTable::new();
        table.write_row(id("old"), 10, &[], &nan_metrics());
        table.write_row(id("new"), PARTITION_MS + 10, &[], &nan_metrics());
        assert_eq!(table.drop_before(PARTITION_MS), vec![id("old")]);
        assert!(table.find(&id("old")).is_none());
        assert!(table.find(&id("new")).is_some());
        assert_eq!(table.hours(), vec![PARTITION_MS]);
    }

    #[test]
    fn a_rewrite_moves_the_start_within_its_hour() {
        let mut table = ViewTable::new();
        table.write_row(id("a"), 5_000, &[], &nan_metrics());
        table.write_row(id("a"), 1_000, &[], &nan_metrics());
        let (partition, row) = table.find(&id("a")).unwrap();
        assert_eq!(partition.started_at()[row], 1_000);
        assert_eq!(partition.span(), Some((1_000, 5_000)));
    }

    #[test]
    fn dimensions_stop_at_the_cap() {
        let mut table = ViewTable::new();
        let dims: Vec<(String, Option<String>)> = (0..MAX_DIMENSIONS + 5)
            .map(|i| (format!("custom_{i}"), Some("x".to_string())))
            .collect();
        table.write_row(id("a"), 0, &dims, &nan_metrics());
        assert_eq!(table.dimension_names().len(), MAX_DIMENSIONS);
        assert_eq!(table.dimension_index("another"), None);
    }

    #[test]
    fn partitions_select_by_hour_overlap() {
        let mut table = ViewTable::new();
        for (i, at) in [0, PARTITION_MS, 2 * PARTITION_MS].into_iter().enumerate() {
            table.write_row(id(&format!("v{i}")), at, &[], &nan_metrics());
        }
        let hours = |from: i64, to: i64| -> Vec<i64> {
            table
                .partitions(ServerTime(from), ServerTime(to))
                .map(|(h, _)| h)
                .collect()
        };
        assert_eq!(
            hours(PARTITION_MS + 1, PARTITION_MS + 2),
            vec![PARTITION_MS]
        );
        assert_eq!(hours(1, 2 * PARTITION_MS), vec![0, PARTITION_MS]);
        assert_eq!(hours(5, 5), Vec::<i64>::new());
    }
}
