//! The newest views matching a selection, from a table's columns ([`ViewColumns`]): what the view
//! list shows first. Read from copies of the columns like breakdowns, so that listing views never
//! walks every view under the views' lock.
use std::cmp::Reverse;
use std::collections::BinaryHeap;

use openqoe_model::{ServerTime, ViewId};
use openqoe_store::{ViewColumns, ABSENT};

/// Adds to `newest` the views of `columns` that started in `[from, to)` and match every
/// `(dimension, value)` filter, keeping the `limit` newest overall (a view's start, then its id
/// for a stable order among equal starts).
pub fn newest_views(
    columns: &ViewColumns,
    from: ServerTime,
    to: ServerTime,
    filters: &[(String, String)],
    limit: usize,
    newest: &mut NewestViews,
) {
    // A filter on a dimension or value the table never saw: no row matches.
    let Some(filters) = filters
        .iter()
        .map(|(dimension, value)| {
            let index = columns.find_dimension(dimension)?;
            Some((index, columns.dictionary(index).code(value)?))
        })
        .collect::<Option<Vec<_>>>()
    else {
        return;
    };
    for (_, partition) in columns.partitions(from, to) {
        let code = |index: usize, row: usize| {
            partition
                .dimension(index)
                .get(row)
                .copied()
                .unwrap_or(ABSENT)
        };
        for (row, at) in partition.started_at().iter().enumerate() {
            if *at < from.0 || *at >= to.0 {
                continue;
            }
            if !filters
                .iter()
                .all(|(index, want)| code(*index, row) == *want)
            {
                continue;
            }
            newest.offer(*at, &partition.ids()[row], limit);
        }
    }
}

/// The `limit` newest views seen so far: a heap whose top is the oldest kept.
#[derive(Debug, Default)]
pub struct NewestViews {
    /// `Reverse((start, Reverse(id)))`: the top is the oldest start, then the greatest id.
    heap: BinaryHeap<Reverse<(i64, Reverse<ViewId>)>>,
}

impl NewestViews {
    fn offer(&mut self, started_at: i64, id: &ViewId, limit: usize) {
        if limit == 0 {
            return;
        }
        if self.heap.len() == limit {
            let Some(Reverse((oldest, Reverse(last)))) = self.heap.peek() else {
                return;
            };
            // Newer, or as new with a smaller id, than the oldest kept.
            if started_at < *oldest || (started_at == *oldest && id >= last) {
                return;
            }
            self.heap.pop();
        }
        self.heap.push(Reverse((started_at, Reverse(id.clone()))));
    }

    /// The views kept, newest first (equal starts by id).
    pub fn into_sorted(self) -> Vec<(ServerTime, ViewId)> {
        let mut views: Vec<(ServerTime, ViewId)> = self
            .heap
            .into_iter()
            .map(|Reverse((at, Reverse(id)))| (ServerTime(at), id))
            .collect();
        views.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        views
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openqoe_metrics::METRICS;
    use openqoe_store::ViewTable;

    proptest::proptest! {
        /// The same views as sorting every match and taking the first `limit`.
        #[test]
        fn the_newest_are_those_a_full_sort_gives(
            rows in proptest::collection::vec((0i64..50, 0u8..3), 0..120),
            limit in 0usize..20,
            filter in proptest::option::of(0u8..3),
        ) {
            let mut table = ViewTable::new();
            let metrics = vec![f64::NAN; METRICS.len()];
            for (i, (at, cdn)) in rows.iter().enumerate() {
                let cdn = vec![("cdn".to_string(), Some(format!("cdn-{cdn}")))];
                table.write_row(ViewId::new(&format!("v{i}")).unwrap(), *at, &cdn, &metrics);
            }
            let filters: Vec<(String, String)> =
                filter.iter().map(|c| ("cdn".to_string(), format!("cdn-{c}"))).collect();
            let (from, to) = (ServerTime(5), ServerTime(45));
            let mut newest = NewestViews::default();
            newest_views(table.columns(), from, to, &filters, limit, &mut newest);

            let mut expected: Vec<(ServerTime, ViewId)> = rows
                .iter()
                .enumerate()
                .filter(|(_, (at, cdn))| *at >= 5 && *at < 45 && filter.is_none_or(|c| c == *cdn))
                .map(|(i, (at, _))| (ServerTime(*at), ViewId::new(&format!("v{i}")).unwrap()))
                .collect();
            expected.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
            expected.truncate(limit);
            proptest::prop_assert_eq!(newest.into_sorted(), expected);
        }
    }
}
