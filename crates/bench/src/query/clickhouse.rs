//! `bench query --clickhouse URL`: the same synthetic views in ClickHouse, and the standard
//! breakdown and timeseries the way an API node runs them (one SQL query, its rows read back,
//! the API's JSON), next to the embedded store's in the same run.
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use openqoe_clickhouse::{prepare, ClickHouse, StoredViews, ViewRow, ViewRows, VIEWS_TABLE};
use openqoe_metrics::METRICS;
use openqoe_model::ServerTime;
use openqoe_query::{Aggregates, Grouping};
use openqoe_store::{ViewTable, ABSENT};
use serde_json::Value;

/// Rows per insert.
const ROWS_PER_INSERT: usize = 100_000;

/// The metrics loaded: those the standard queries read. ClickHouse reads only the columns a
/// query names, so the others would cost load time and nothing at query time.
const LOADED_METRICS: [&str; 2] = ["video_startup_time_ms", "rebuffer_percentage"];

/// Replaces the views table at `clickhouse` with `table`'s views started in `[from, to)`;
/// returns how many rows and how long it took.
pub(super) async fn load(
    clickhouse: &ClickHouse,
    table: &ViewTable,
    from: ServerTime,
    to: ServerTime,
) -> anyhow::Result<(usize, Duration)> {
    let started = Instant::now();
    clickhouse
        .execute(&format!("DROP TABLE IF EXISTS {VIEWS_TABLE}"))
        .await?;
    prepare(clickhouse).await?;
    let rows = ViewRows::new(clickhouse.clone());
    let columns = table.columns();
    let names = columns.dimension_names();
    let loaded: Vec<usize> = METRICS
        .iter()
        .enumerate()
        .filter(|(_, m)| LOADED_METRICS.contains(&m.name))
        .map(|(index, _)| index)
        .collect();
    let (mut batch, mut written) = (Vec::with_capacity(ROWS_PER_INSERT), 0);
    let mut values = vec![f64::NAN; METRICS.len()];
    for (_, partition) in columns.partitions(from, to) {
        for row in 0..partition.len() {
            let dimensions = (0..names.len()).filter_map(|index| {
                let code = partition
                    .dimension(index)
                    .get(row)
                    .copied()
                    .unwrap_or(ABSENT);
                let value = (code != ABSENT)
                    .then(|| columns.dictionary(index).value(code))
                    .flatten()?;
                Some((names[index].as_str(), value))
            });
            for &index in &loaded {
                values[index] = partition.metric(index)[row];
            }
            batch.push(ViewRow::from_parts(
                partition.ids()[row].as_str(),
                partition.started_at()[row],
                1,
                false,
                dimensions,
                &values,
            ));
            if batch.len() == ROWS_PER_INSERT {
                rows.write(&batch).await?;
                written += batch.len();
                batch.clear();
            }
        }
    }
    rows.write(&batch).await?;
    written += batch.len();
    Ok((written, started.elapsed()))
}

/// A query as an API node runs it: the SQL, ClickHouse's rows, the API's JSON rows.
pub(super) fn query_json(views: &StoredViews, grouping: &Grouping<'_>) -> Vec<Value> {
    // The API runs queries on the blocking pool; here, on a runtime worker told it blocks.
    let groups = tokio::task::block_in_place(|| views.aggregate(grouping))
        .unwrap_or_else(|e| panic!("ClickHouse answered the standard query: {e}"));
    super::rows_json(groups)
}

/// How many groups of `embedded`'s answer whose percentiles are exact have the same views and
/// percentiles in `clickhouse`'s, and how many are exact.
pub(super) fn exact_groups_equal(embedded: &[Value], clickhouse: &[Value]) -> (usize, usize) {
    let key = |row: &Value| (row["t"].to_string(), row["group"].to_string());
    let theirs: BTreeMap<(String, String), &Value> =
        clickhouse.iter().map(|row| (key(row), row)).collect();
    let exact: Vec<&Value> = embedded.iter().filter(|row| row["exact"] == true).collect();
    let equal = exact
        .iter()
        .filter(|row| {
            theirs.get(&key(row)).is_some_and(|other| {
                ["views", "p50", "p90", "p95", "p99"]
                    .iter()
                    .all(|field| row[*field] == other[*field])
            })
        })
        .count();
    (equal, exact.len())
}
