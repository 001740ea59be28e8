//! A view's row as the views table holds it, in ClickHouse's `RowBinary` format, and the
//! versions that order a view's rows.
//!
//! Binary, not text: ClickHouse 18.16 parses about one decimal float in 150 to a neighbouring
//! double (measured: 128 of 20,000), so a metric sent as text could differ from the embedded
//! mode's value in its last bit, and a percentile with it. `RowBinary` carries the bits. The
//! encoding (ClickHouse's "Formats: RowBinary"): integers little-endian, a string as its LEB128
//! length and bytes, an array as its LEB128 length and elements, `Nullable` as one byte (1:
//! NULL) before the value when there is one.
use std::sync::atomic::{AtomicU64, Ordering};

use openqoe_metrics::{ViewMetrics, METRICS};
use openqoe_model::View;
use openqoe_store::{row_dimensions, row_metrics};

/// The columns a [`ViewRow`] holds, in its order: for `INSERT INTO … (columns) FORMAT RowBinary`.
pub fn row_columns() -> String {
    let mut columns =
        String::from("view_id, version, started_at, live, dimension_names, dimension_values");
    for metric in METRICS {
        columns.push_str(", ");
        columns.push_str(metric.name);
    }
    columns
}

/// One view's row: its dimensions and metrics as of one write, in `RowBinary`.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewRow {
    bytes: Vec<u8>,
}

impl ViewRow {
    /// The row of `view` with `metrics`, started at `started_at` (epoch ms: the start its
    /// embedded row has), written at `version`. Absent dimensions are left out, and values
    /// outside a metric's population are NULL.
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
            &row_metrics(metrics),
        )
    }

    /// A row from its parts: `(dimension, value)` pairs and one value per catalogue metric, in
    /// its order (NaN outside the metric's population: NULL).
    pub fn from_parts<'a>(
        view_id: &str,
        started_at: i64,
        version: u64,
        live: bool,
        dimensions: impl Iterator<Item = (&'a str, &'a str)>,
        values: &[f64],
    ) -> ViewRow {
        debug_assert_eq!(values.len(), METRICS.len());
        let (names, texts): (Vec<&str>, Vec<&str>) = dimensions.unzip();
        let mut bytes = Vec::with_capacity(64 + 16 * names.len() + 9 * values.len());
        put_text(&mut bytes, view_id);
        bytes.extend_from_slice(&version.to_le_bytes());
        bytes.extend_from_slice(&started_at.to_le_bytes());
        bytes.push(u8::from(live));
        for array in [&names, &texts] {
            put_length(&mut bytes, array.len());
            array.iter().for_each(|text| put_text(&mut bytes, text));
        }
        for &value in values {
            // NaN (outside the population) and the infinite are NULL.
            if value.is_finite() {
                bytes.push(0);
                bytes.extend_from_slice(&value.to_le_bytes());
            } else {
                bytes.push(1);
            }
        }
        ViewRow { bytes }
    }

    /// The row's `RowBinary` bytes, in [`row_columns`] order.
    pub fn as_row_binary(&self) -> &[u8] {
        &self.bytes
    }
}

/// A length as LEB128.
fn put_length(bytes: &mut Vec<u8>, mut length: usize) {
    loop {
        let low = (length & 0x7f) as u8;
        length >>= 7;
        if length == 0 {
            bytes.push(low);
            return;
        }
        bytes.push(low | 0x80);
    }
}

/// A string as its length and bytes.
fn put_text(bytes: &mut Vec<u8>, text: &str) {
    put_length(bytes, text.len());
    bytes.extend_from_slice(text.as_bytes());
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
    fn a_row_is_row_binary_in_the_columns_order() {
        let mut values = vec![f64::NAN; METRICS.len()];
        values[1] = 1.5;
        let row = ViewRow::from_parts("v", 0x0102, 7, true, [("cdn", "a")].into_iter(), &values);
        let mut want = vec![1, b'v'];
        want.extend_from_slice(&7u64.to_le_bytes());
        want.extend_from_slice(&0x0102i64.to_le_bytes());
        want.push(1);
        want.extend_from_slice(&[1, 3, b'c', b'd', b'n', 1, 1, b'a']);
        want.push(1); // the first metric: NULL
        want.push(0);
        want.extend_from_slice(&1.5f64.to_le_bytes());
        want.extend(std::iter::repeat_n(1, METRICS.len() - 2));
        assert_eq!(row.as_row_binary(), want.as_slice());
        assert!(row_columns().starts_with("view_id, version, started_at, live, dimension_names"));
        assert_eq!(row_columns().split(", ").count(), 6 + METRICS.len());
    }

    #[test]
    fn lengths_are_leb128() {
        for (length, want) in [
            (0, vec![0]),
            (127, vec![0x7f]),
            (128, vec![0x80, 0x01]),
            (300, vec![0xac, 0x02]),
        ] {
            let mut bytes = Vec::new();
            put_length(&mut bytes, length);
            assert_eq!(bytes, want, "{length}");
        }
    }

    #[test]
    fn a_views_row_carries_its_dimensions_and_metrics() {
        let body = r#"{"v":1,"view":{"id":"v-1","viewer_id":"u-1","props":{"cdn":"c'dn","bitrate":3000}},"events":[
            {"seq":0,"ts":1000,"type":"player_init"},{"seq":1,"ts":1100,"type":"play"},
            {"seq":2,"ts":1600,"type":"first_frame"},{"seq":3,"ts":9600,"type":"view_end"}]}"#;
        let batch = Batch::parse(body.as_bytes(), ServerTime(10_000)).unwrap();
        let mut view = View::new(&batch.view, batch.received_at);
        view.merge(batch);
        let metrics = openqoe_metrics::compute(&view);
        let row = ViewRow::new(&view, &metrics, 1_000, 7);
        let parts = ViewRow::from_parts(
            "v-1",
            1_000,
            7,
            true,
            [("viewer_id", "u-1"), ("bitrate", "3000"), ("cdn", "c'dn")].into_iter(),
            &row_metrics(&metrics),
        );
        assert_eq!(row, parts);
        assert!(metrics.value("playing_time_ms").is_some());
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
