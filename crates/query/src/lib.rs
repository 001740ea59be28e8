//! The read side: Query API v1 (DESIGN §4.2) and Prometheus `/metrics`.
//!
//! Owns request parsing, filtering, grouping and aggregation; does not own where views live: it
//! reads them through a [`ViewSource`] the binary provides (live views from the sessionizer,
//! ended ones from the store). Key decisions: breakdowns and timeseries scan the store's columns
//! ([`aggregate`]); percentiles are exact (nearest rank) for groups of up to [`EXACT_VIEWS`]
//! views and come from a mergeable sketch within 0.8 % beyond (each row says which, `exact`);
//! rates are always Σnumerator / Σdenominator, never an average of ratios.
#![warn(missing_docs)]

mod aggregate;
mod api;
mod error;
mod export;
mod newest;
mod params;
mod routes;
mod scan;
mod sketch;

pub use aggregate::{Aggregate, Distribution, EXACT_VIEWS, PERCENTILES};
pub use error::ApiError;
pub use params::{parse_interval_ms, parse_time, Selection};
pub use routes::{aggregate_router, router};
pub use scan::{aggregate, GroupKey, Grouping};
pub use sketch::Sketch;

use std::collections::BTreeMap;

use openqoe_metrics::ViewMetrics;
use openqoe_model::{ServerTime, View, ViewId};
use openqoe_store::ViewColumns;

/// Where the API reads views from.
pub trait ViewSource: Send + Sync + 'static {
    /// Calls `visit` with every view, live or ended, that started in `[from, to)`. An ended
    /// view's events may be out of memory (its props, end and metrics are there): callers that
    /// need events ask [`ViewSource::views`].
    fn visit_views(
        &self,
        from: ServerTime,
        to: ServerTime,
        visit: &mut dyn FnMut(&View, &ViewMetrics),
    );
    /// Views, live or ended, with their events and metrics, in no particular order (ids not held
    /// are left out).
    fn views(&self, ids: &[ViewId]) -> Vec<(View, ViewMetrics)>;
    /// One view with its events and metrics, live or ended.
    fn view(&self, id: &ViewId) -> Option<(View, ViewMetrics)> {
        self.views(std::slice::from_ref(id)).pop()
    }
    /// Names of the dimensions views have carried, sorted.
    fn dimensions(&self) -> Vec<String>;
    /// Copies of the columns of every table holding views, live or ended, that started in
    /// `[from, to)` (they may hold others too: queries select by time themselves). Taken under
    /// the source's lock briefly; a query computes on them with no lock held, so a costly one
    /// never holds up ingest.
    fn tables(&self, from: ServerTime, to: ServerTime) -> Vec<ViewColumns>;
    /// A copy of the columns of the ended views that started in `[from, to)` (as
    /// [`ViewSource::tables`]).
    fn ended(&self, from: ServerTime, to: ServerTime) -> ViewColumns;
    /// The hours (epoch ms of their start) in which views held, live or ended, started within
    /// `[from, to)`, oldest first.
    fn hours(&self, from: ServerTime, to: ServerTime) -> Vec<i64>;
    /// The views, live or ended, with their events, that started in the hour starting at `hour`
    /// and within `[from, to)`.
    fn hour_views(&self, hour: i64, from: ServerTime, to: ServerTime) -> Vec<View>;
}

/// Where breakdowns, timeseries and dimension names come from: this process's own views (every
/// [`ViewSource`] scans copies of its tables), or a view store that aggregates where the views
/// are (ClickHouse), which can fail to answer.
pub trait Aggregates: Send + Sync + 'static {
    /// One metric per group (and bucket) of the views `grouping` selects.
    ///
    /// # Errors
    /// [`ApiError::StoreUnavailable`] when the store did not answer.
    fn aggregate(&self, grouping: &Grouping<'_>)
        -> Result<BTreeMap<GroupKey, Aggregate>, ApiError>;
    /// Names of the dimensions views have carried, sorted.
    ///
    /// # Errors
    /// [`ApiError::StoreUnavailable`] when the store did not answer.
    fn dimension_names(&self) -> Result<Vec<String>, ApiError>;
}

impl<S: ViewSource> Aggregates for S {
    fn aggregate(
        &self,
        grouping: &Grouping<'_>,
    ) -> Result<BTreeMap<GroupKey, Aggregate>, ApiError> {
        let mut groups = BTreeMap::new();
        for columns in self.tables(grouping.from, grouping.to) {
            scan::aggregate(&columns, grouping, &mut groups);
        }
        Ok(groups)
    }

    fn dimension_names(&self) -> Result<Vec<String>, ApiError> {
        Ok(self.dimensions())
    }
}

/// Calls `each` with every stored partition of hour `hour` (epoch ms of its start), from a
/// copy of that hour's columns (the views are held only while it is taken); the first error
/// stops it.
pub fn each_partition<S: ViewSource + ?Sized, E>(
    source: &S,
    hour: i64,
    mut each: impl FnMut(&ViewColumns, &openqoe_store::Partition) -> Result<(), E>,
) -> Result<(), E> {
    let (from, until) = (
        ServerTime(hour),
        ServerTime(hour + openqoe_store::PARTITION_MS),
    );
    let columns = source.ended(from, until);
    for (_, partition) in columns.partitions(from, until) {
        each(&columns, partition)?;
    }
    Ok(())
}
