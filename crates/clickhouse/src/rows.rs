//! A view's row as the views table holds it, and the versions that order a view's rows.
use std::sync::atomic::{AtomicU64, Ordering};

use openqoe_metrics::{ViewMetrics, METRICS};
use openqoe_model::View;
use openqoe_store::{row_dimensions, row_metrics};
use serde_json::{Map, Value};

/// One view's row: its dimensions and metrics as of one write.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewRow {
    line: Vec<u8>,
}

impl ViewRow {
    /// The row of `view` with `metrics`, started at `started_at` (epoch ms: the start its
    /// embedded row has), written at `version`. Absent dimensions and values outside a metric's
    /// population are left out (NULL).
    pub fn new(view: &View, metrics: &ViewMetrics, started_at: i64, version: u64) -> ViewRow {
        let dimensions = row_dimensions(view);
        ViewRow::from_parts(
            view.id.as_str(),
            started_at,
            version,
            !view.is_ended(),
            dimensions
                .iter()
                .filter_map(|(name, value)| Some((name.as_str(), value.as_deref()?))),
            METRICS.iter().map(|m| m.name).zip(row_metrics(metrics)),
        )
    }

    /// A row from its parts: `(dimension, value)` pairs and `(metric, value)` pairs (NaN outside
    /// the metric's population; catalogue metrics left out are NULL).
    pub fn from_parts<'a>(
        view_id: &str,
        started_at: i64,
        version: u64,
        live: bool,
        dimensions: impl Iterator<Item = (&'a str, &'a str)>,
        metrics: impl Iterator<Item = (&'static str, f64)>,
    ) -> ViewRow {
        let (names, values): (Vec<Value>, Vec<Value>) = dimensions
            .map(|(name, value)| (Value::from(name), Value::from(value)))
            .unzip();
        let mut row = Map::new();
        row.insert("view_id".into(), view_id.into());
        row.insert("version".into(), version.into());
        row.insert("started_at".into(), started_at.into());
        row.insert("live".into(), u8::from(live).into());
        row.insert("dimension_names".into(), Value::Array(names));
        row.insert("dimension_values".into(), Value::Array(values));
        for (metric, value) in metrics {
            // NaN (outside the population) and the infinite are NULL.
            let value = serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number);
            row.insert(metric.into(), value);
        }
        let mut line = serde_json::to_vec(&row).expect("a JSON map serializes");
        line.push(b'\n');
        ViewRow { line }
    }

    /// The row as one line of `JSONEachRow`.
    pub fn as_json_line(&self) -> &[u8] {
        &self.line
    }
}

/// Versions for rows this process writes: increasing, and from the wall clock, so a process
/// that restarts (or a worker that takes a partition over) writes versions above those written
/// before it, unless its clock is behind theirs.
#[derive(Debug, Default)]
pub struct Versions {
    last: AtomicU64,
}

impl Versions {
    /// A version above every one given before, at least `now_ms` × 1,000.
    pub fn next(&self, now_ms: i64) -> u64 {
        let floor = u64::try_from(now_ms).unwrap_or(0).saturating_mul(1_000);
        let previous = self
            .last
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
                Some(last.saturating_add(1).max(floor))
            })
            .expect("the update always gives a value");
        previous.saturating_add(1).max(floor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openqoe_model::{Batch, ServerTime};

    #[test]
    fn a_row_carries_dimensions_and_metrics_with_nulls_for_the_absent() {
        let body = r#"{"v":1,"view":{"id":"v-1","viewer_id":"u-1","props":{"cdn":"c'dn\\x","bitrate":3000}},"events":[
            {"seq":0,"ts":1000,"type":"player_init"},{"seq":1,"ts":1100,"type":"play"},
            {"seq":2,"ts":1600,"type":"first_frame"},{"seq":3,"ts":9600,"type":"view_end"}]}"#;
        let batch = Batch::parse(body.as_bytes(), ServerTime(10_000)).unwrap();
        let mut view = View::new(&batch.view, batch.received_at);
        view.merge(batch);
        let metrics = openqoe_metrics::compute(&view);
        let row = ViewRow::new(&view, &metrics, 1_000, 7);
        let line = std::str::from_utf8(row.as_json_line()).unwrap();
        assert!(line.ends_with('\n'));
        let parsed: Map<String, Value> = serde_json::from_str(line).unwrap();
        assert_eq!(parsed["view_id"], "v-1");
        assert_eq!(parsed["version"], 7);
        assert_eq!(parsed["started_at"], 1_000);
        let names: Vec<&str> = parsed["dimension_names"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(names, ["viewer_id", "bitrate", "cdn"]);
        assert_eq!(parsed["dimension_values"][2], "c'dn\\x");
        assert_eq!(
            parsed["live"], 1,
            "the sessionizer, not a view_end, ends a view"
        );
        assert_eq!(parsed["playing_time_ms"], 8_000.0, "{line}");
        assert_eq!(parsed["rebuffer_count"], 0.0);
        // No P.1203 score without renditions: outside the metric's population.
        assert_eq!(parsed["p1203_mos"], Value::Null);
        assert!(METRICS.iter().all(|m| parsed.contains_key(m.name)));
    }

    #[test]
    fn versions_increase_and_follow_the_clock() {
        let versions = Versions::default();
        let first = versions.next(5);
        assert_eq!(first, 5_000);
        assert_eq!(versions.next(5), 5_001);
        assert_eq!(
            versions.next(4),
            5_002,
            "a clock going back never lowers a version"
        );
        assert_eq!(versions.next(9), 9_000);
    }
}
