//! The views table: one row per view, keyed by its id, a later version replacing an earlier one.
//!
//! `ReplacingMergeTree(version)` keeps, per `ORDER BY` key, the row of the highest version, but
//! only once parts merge: queries read with `FINAL` for exact answers. Partitions are days of the
//! view's start, which a view's later rows keep, so all of a view's rows meet in one partition
//! and merge. Every statement here runs on ClickHouse 18.16 (Debian's) and on current releases:
//! no `Map`, no `LowCardinality`, no `DateTime64`.
use openqoe_metrics::METRICS;

/// The table views are written to.
pub const VIEWS_TABLE: &str = "openqoe_views";

/// `CREATE TABLE IF NOT EXISTS` for the views table: the view's id, the version that replaces
/// earlier rows, its start (epoch ms, server clock), whether it was still live when written,
/// its dimensions as two parallel arrays (names and values; ClickHouse 18 has no map type) and
/// one nullable column per catalogue metric (NULL outside the metric's population).
pub fn create_views_table() -> String {
    let metrics: String = METRICS
        .iter()
        .map(|metric| format!(",\n  {} Nullable(Float64)", metric.name))
        .collect();
    format!(
        "CREATE TABLE IF NOT EXISTS {VIEWS_TABLE} (\n  view_id String,\n  version UInt64,\n  \
         started_at Int64,\n  live UInt8,\n  dimension_names Array(String),\n  \
         dimension_values Array(String){metrics}\n) ENGINE = ReplacingMergeTree(version)\n\
         PARTITION BY toYYYYMMDD(toDateTime(intDiv(started_at, 1000)))\nORDER BY view_id"
    )
}

/// The columns of the views table, as `system.columns` lists them.
pub fn views_columns() -> String {
    format!(
        "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = '{VIEWS_TABLE}'"
    )
}

/// The views table's partitions (days of view start, `YYYYMMDD`) that hold rows.
pub fn views_partitions() -> String {
    format!(
        "SELECT DISTINCT partition FROM system.parts WHERE database = currentDatabase() \
         AND table = '{VIEWS_TABLE}' AND active"
    )
}

/// The partitions of `partitions` whose day ended by `cutoff_ms` (epoch ms): every view in
/// them started before the cutoff. Names that are not a `YYYYMMDD` day are left alone.
pub fn expired_partitions(partitions: &[String], cutoff_ms: i64) -> Vec<String> {
    partitions
        .iter()
        .filter(|name| day_start_ms(name).is_some_and(|start| start + DAY_MS <= cutoff_ms))
        .cloned()
        .collect()
}

/// `ALTER TABLE … DROP PARTITION` for day `partition` (from [`expired_partitions`]).
pub fn drop_partition(partition: &str) -> String {
    format!("ALTER TABLE {VIEWS_TABLE} DROP PARTITION {partition}")
}

const DAY_MS: i64 = 86_400_000;

/// The start (epoch ms, UTC) of day `YYYYMMDD`.
fn day_start_ms(name: &str) -> Option<i64> {
    if name.len() != 8 || !name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (year, month, day) = (&name[..4], &name[4..6], &name[6..]);
    let month = time::Month::try_from(month.parse::<u8>().ok()?).ok()?;
    let date = time::Date::from_calendar_date(year.parse().ok()?, month, day.parse().ok()?).ok()?;
    Some(date.midnight().assume_utc().unix_timestamp() * 1_000)
}

/// `ALTER TABLE … ADD COLUMN` for each catalogue metric the table lacks: a table made by an
/// earlier release gains the metrics added since (its older rows read NULL there).
pub fn add_missing_metrics(columns: &[String]) -> Vec<String> {
    METRICS
        .iter()
        .filter(|metric| !columns.iter().any(|c| c == metric.name))
        .map(|metric| {
            format!(
                "ALTER TABLE {VIEWS_TABLE} ADD COLUMN {} Nullable(Float64)",
                metric.name
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_a_column_per_metric_and_replaces_by_version() {
        let create = create_views_table();
        for metric in METRICS {
            assert!(create.contains(&format!("  {} Nullable(Float64)", metric.name)));
        }
        assert!(create.contains("ReplacingMergeTree(version)"));
        assert!(create.contains("ORDER BY view_id"));
    }

    #[test]
    fn days_go_once_they_ended_by_the_cutoff() {
        let partitions: Vec<String> = ["20261205", "20261206", "20261207", "all", "2026120"]
            .map(str::to_owned)
            .to_vec();
        // 2026-12-07T00:00Z: the 6th ended then; the 7th has not.
        let cutoff = 1_796_601_600_000;
        assert_eq!(
            expired_partitions(&partitions, cutoff),
            vec!["20261205".to_owned(), "20261206".to_owned()]
        );
        assert_eq!(
            expired_partitions(&partitions, cutoff - 1),
            vec!["20261205".to_owned()]
        );
        assert_eq!(
            drop_partition("20261205"),
            "ALTER TABLE openqoe_views DROP PARTITION 20261205"
        );
    }

    #[test]
    fn only_missing_metrics_are_added() {
        let mut columns: Vec<String> = METRICS.iter().map(|m| m.name.to_owned()).collect();
        assert!(add_missing_metrics(&columns).is_empty());
        let gone = columns.remove(3);
        assert_eq!(
            add_missing_metrics(&columns),
            vec![format!(
                "ALTER TABLE {VIEWS_TABLE} ADD COLUMN {gone} Nullable(Float64)"
            )]
        );
    }
}
