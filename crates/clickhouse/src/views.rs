//! The two ends of the views table: sessionizers write rows ([`ViewRows`]), API nodes aggregate
//! there ([`StoredViews`], an [`Aggregates`] for the query routes).
use std::collections::BTreeMap;

use openqoe_query::{Aggregate, Aggregates, ApiError, GroupKey, Grouping};
use openqoe_store::IDENTITY_DIMENSIONS;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use tokio::runtime::Handle;

use crate::client::{ClickHouse, ClickHouseError};
use crate::rows::{row_columns, ViewRow};
use crate::schema::{
    add_missing_metrics, create_views_table, drop_partition, expired_partitions, views_columns,
    views_partitions, VIEWS_TABLE,
};
use crate::select::{grouping_sql, literal, read_groups};

/// Makes the views table if it is missing and adds the catalogue metrics it lacks.
///
/// # Errors
/// When ClickHouse is unreachable or refuses a statement.
pub async fn prepare(clickhouse: &ClickHouse) -> Result<(), ClickHouseError> {
    clickhouse.execute(&create_views_table()).await?;
    let columns: Vec<String> = clickhouse
        .select(&views_columns())
        .await?
        .into_iter()
        .filter_map(|row| row.get("name")?.as_str().map(str::to_owned))
        .collect();
    for statement in add_missing_metrics(&columns) {
        clickhouse.execute(&statement).await?;
    }
    Ok(())
}

/// Writes views' rows to the views table, counting what it wrote and what failed.
#[derive(Clone)]
pub struct ViewRows {
    clickhouse: ClickHouse,
    written: Counter,
    failed: Counter,
}

impl ViewRows {
    /// A writer to `clickhouse`'s views table (made by [`prepare`]).
    pub fn new(clickhouse: ClickHouse) -> ViewRows {
        ViewRows {
            clickhouse,
            written: Counter::default(),
            failed: Counter::default(),
        }
    }

    /// Adds the writer's counters to `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "openqoe_clickhouse_view_rows_written",
            "View rows written to ClickHouse",
            self.written.clone(),
        );
        registry.register(
            "openqoe_clickhouse_view_row_writes_failed",
            "Writes of view rows ClickHouse did not take (the views are written again later)",
            self.failed.clone(),
        );
    }

    /// Writes `rows` in one insert: all or none.
    ///
    /// # Errors
    /// When ClickHouse is unreachable or refuses the insert.
    pub async fn write(&self, rows: &[ViewRow]) -> Result<(), ClickHouseError> {
        if rows.is_empty() {
            return Ok(());
        }
        let body: Vec<u8> = rows
            .iter()
            .flat_map(|row| row.as_row_binary())
            .copied()
            .collect();
        match self
            .clickhouse
            .insert(VIEWS_TABLE, &row_columns(), body)
            .await
        {
            Ok(()) => {
                self.written.inc_by(rows.len() as u64);
                Ok(())
            }
            Err(e) => {
                self.failed.inc();
                Err(e)
            }
        }
    }
}

impl ViewRows {
    /// Drops the days of views that all started before `cutoff_ms` (epoch ms), as retention
    /// asks; returns how many days went. A day is dropped whole, once it ended by the cutoff:
    /// ClickHouse keeps views up to a day longer than the embedded store, which drops by hour.
    ///
    /// # Errors
    /// When ClickHouse is unreachable or refuses a statement.
    pub async fn drop_days_before(&self, cutoff_ms: i64) -> Result<usize, ClickHouseError> {
        let partitions: Vec<String> = self
            .clickhouse
            .select(&views_partitions())
            .await?
            .into_iter()
            .filter_map(|row| row.get("partition")?.as_str().map(str::to_owned))
            .collect();
        let expired = expired_partitions(&partitions, cutoff_ms);
        for partition in &expired {
            self.clickhouse.execute(&drop_partition(partition)).await?;
        }
        Ok(expired.len())
    }
}

/// The views table as the query routes read it: breakdowns and timeseries computed in
/// ClickHouse. Called off the async workers (the routes run queries on the blocking pool), it
/// waits for ClickHouse's answer on `runtime`.
pub struct StoredViews {
    clickhouse: ClickHouse,
    runtime: Handle,
}

impl StoredViews {
    /// Reads `clickhouse`'s views table, waiting for answers on `runtime`.
    pub fn new(clickhouse: ClickHouse, runtime: Handle) -> StoredViews {
        StoredViews {
            clickhouse,
            runtime,
        }
    }

    fn select(
        &self,
        sql: &str,
    ) -> Result<Vec<serde_json::Map<String, serde_json::Value>>, ApiError> {
        self.runtime
            .block_on(self.clickhouse.select(sql))
            .map_err(|e| ApiError::StoreUnavailable(e.to_string()))
    }
}

impl Aggregates for StoredViews {
    fn aggregate(
        &self,
        grouping: &Grouping<'_>,
    ) -> Result<BTreeMap<GroupKey, Aggregate>, ApiError> {
        let rows = self.select(&grouping_sql(grouping))?;
        read_groups(grouping, rows).map_err(|reason| {
            tracing::error!(%reason, "ClickHouse answered a grouping with rows openqoe cannot read");
            ApiError::Failed
        })
    }

    fn dimension_names(&self) -> Result<Vec<String>, ApiError> {
        // A row's viewer and session ids are dimensions the embedded mode does not list.
        let identity: Vec<String> = IDENTITY_DIMENSIONS.iter().map(|d| literal(d)).collect();
        let rows = self.select(&format!(
            "SELECT DISTINCT arrayJoin(dimension_names) AS name FROM {VIEWS_TABLE} \
             WHERE name NOT IN ({}) ORDER BY name",
            identity.join(", ")
        ))?;
        Ok(rows
            .into_iter()
            .filter_map(|row| row.get("name")?.as_str().map(str::to_owned))
            .collect())
    }
}
