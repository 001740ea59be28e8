//! Views out into a file: one row each — `view_id`, `started_at`, every dimension, every
//! catalogue metric (rates as booleans; empty where outside the population) — and, in the
//! store's hour files, the state a view needs to be loaded back ([`STATE_COLUMNS`]).
use std::io::Write;
use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Float64Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch, StringArray, TimestampMillisecondArray, UInt64Array};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use openqoe_metrics::{MetricKind, METRICS};
use openqoe_model::{ServerTime, View};

use crate::table::{Partition, ViewColumns, ABSENT};

use crate::files::{finish_sink, parquet_writer, Format, Sink, WriteError, VIEW_ROWS_PER_GROUP};

/// The rows of one partition that started in the range.
fn rows_in(partition: &Partition, from: ServerTime, to: ServerTime) -> Vec<usize> {
    partition
        .started_at()
        .iter()
        .enumerate()
        .filter(|(_, at)| **at >= from.0 && **at < to.0)
        .map(|(row, _)| row)
        .collect()
}

fn code(partition: &Partition, dimension: usize, row: usize) -> u32 {
    partition
        .dimension(dimension)
        .get(row)
        .copied()
        .unwrap_or(ABSENT)
}

/// The column names of `dimensions` in a views file: their own, unless that is taken by a fixed
/// column (`view_id`, `started_at`, a metric) or an earlier dimension — then `prop_` before it
/// (a client may name a prop anything; a file must not carry two columns of one name).
pub fn dimension_columns(dimensions: &[String]) -> Vec<String> {
    let mut taken: std::collections::HashSet<String> = ["view_id", "started_at"]
        .into_iter()
        .chain(STATE_COLUMNS)
        .chain(METRICS.iter().map(|m| m.name))
        .map(str::to_owned)
        .collect();
    dimensions
        .iter()
        .map(|name| {
            let mut column = name.clone();
            while taken.contains(&column) {
                column = format!("prop_{column}");
            }
            taken.insert(column.clone());
            column
        })
        .collect()
}

/// The files' columns: id, start, dimensions, metrics.
fn schema(dimensions: &[String]) -> Arc<Schema> {
    let mut fields = vec![
        Field::new("view_id", DataType::Utf8, false),
        Field::new(
            "started_at",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            false,
        ),
    ];
    fields.extend(
        dimension_columns(dimensions)
            .into_iter()
            .map(|name| Field::new(name, DataType::Utf8, true)),
    );
    fields.extend(METRICS.iter().map(|m| {
        let kind = match m.kind {
            MetricKind::Rate => DataType::Boolean,
            MetricKind::Distribution => DataType::Float64,
        };
        Field::new(m.name, kind, true)
    }));
    Arc::new(Schema::new(fields))
}

/// Writes views partition by partition into one file, so a caller can release the table between
/// partitions (a long export must not hold up ingest).
pub struct ViewsWriter<W: Write + Send> {
    dimensions: Vec<String>,
    /// The dimensions' column names ([`dimension_columns`]).
    columns: Vec<String>,
    sink: Sink<W>,
    written: u64,
}

impl<W: Write + Send> ViewsWriter<W> {
    /// Starts a file with these dimension columns (the table's at the start of the export).
    ///
    /// # Errors
    /// [`WriteError`] when the header cannot be written.
    pub fn new(
        dimensions: Vec<String>,
        format: Format,
        out: W,
    ) -> Result<ViewsWriter<W>, WriteError> {
        let sink = match format {
            Format::Parquet => {
                let schema = schema(&dimensions);
                let writer = parquet_writer(out, &schema, VIEW_ROWS_PER_GROUP)?;
                Sink::Parquet(Box::new(writer), schema)
            }
            Format::Csv => {
                let mut writer = csv::Writer::from_writer(out);
                let mut header = vec!["view_id".to_owned(), "started_at".to_owned()];
                header.extend(dimension_columns(&dimensions));
                header.extend(METRICS.iter().map(|m| m.name.to_owned()));
                writer.write_record(&header)?;
                Sink::Csv(Box::new(writer))
            }
            Format::Jsonl => Sink::Jsonl(std::io::BufWriter::new(out)),
        };
        Ok(ViewsWriter {
            columns: dimension_columns(&dimensions),
            dimensions,
            sink,
            written: 0,
        })
    }

    /// Writes the rows of `partition` (of `table`) that started in `[from, to)`; returns how many.
    ///
    /// # Errors
    /// [`WriteError`] when a writer or the output fails.
    pub fn write_partition(
        &mut self,
        table: &ViewColumns,
        partition: &Partition,
        from: ServerTime,
        to: ServerTime,
    ) -> Result<u64, WriteError> {
        let rows = rows_in(partition, from, to);
        if rows.is_empty() {
            return Ok(0);
        }
        let dimensions = dimension_indexes(&self.dimensions, table);
        let value = |dimension: Option<usize>, row: usize| {
            dimension.and_then(|d| table.dictionary(d).value(code(partition, d, row)))
        };
        match &mut self.sink {
            Sink::Parquet(writer, schema) => {
                writer.write(&partition_batch(
                    schema,
                    &self.dimensions,
                    table,
                    partition,
                    &rows,
                )?)?;
            }
            Sink::Csv(writer) => {
                let mut record: Vec<String> = Vec::new();
                for row in &rows {
                    record.clear();
                    record.push(partition.ids()[*row].as_str().to_owned());
                    record.push(partition.started_at()[*row].to_string());
                    for dimension in &dimensions {
                        record.push(value(*dimension, *row).unwrap_or_default().to_owned());
                    }
                    for (index, metric) in METRICS.iter().enumerate() {
                        record.push(cell(metric.kind, partition.metric(index)[*row]));
                    }
                    writer.write_record(&record)?;
                }
            }
            Sink::Jsonl(out) => {
                for row in &rows {
                    let mut object = serde_json::Map::new();
                    object.insert("view_id".into(), partition.ids()[*row].as_str().into());
                    object.insert("started_at".into(), partition.started_at()[*row].into());
                    for (name, dimension) in self.columns.iter().zip(&dimensions) {
                        if let Some(v) = value(*dimension, *row) {
                            object.insert(name.clone(), v.into());
                        }
                    }
                    for (index, metric) in METRICS.iter().enumerate() {
                        let v = partition.metric(index)[*row];
                        if v.is_nan() {
                            continue;
                        }
                        let json = match metric.kind {
                            MetricKind::Rate => serde_json::Value::Bool(v > 0.5),
                            MetricKind::Distribution => serde_json::json!(v),
                        };
                        object.insert(metric.name.into(), json);
                    }
                    serde_json::to_writer(&mut *out, &object).map_err(std::io::Error::from)?;
                    out.write_all(b"\n")?;
                }
            }
        }
        self.written += rows.len() as u64;
        Ok(rows.len() as u64)
    }

    /// Ends the file (Parquet's footer); returns the rows written.
    ///
    /// # Errors
    /// [`WriteError`] when the end cannot be written.
    pub fn finish(self) -> Result<u64, WriteError> {
        finish_sink(self.sink)?;
        Ok(self.written)
    }
}

/// Each of `names` as a dimension index of `table` (`None`: the table never saw it).
fn dimension_indexes(names: &[String], table: &ViewColumns) -> Vec<Option<usize>> {
    names
        .iter()
        .map(|name| table.find_dimension(name))
        .collect()
}

/// `rows` of `partition` (of `table`) as an Arrow batch of `schema`, whose dimension columns are
/// `dimensions`.
fn partition_batch(
    schema: &Arc<Schema>,
    dimensions: &[String],
    table: &ViewColumns,
    partition: &Partition,
    rows: &[usize],
) -> Result<RecordBatch, WriteError> {
    let indexes = dimension_indexes(dimensions, table);
    record_batch(schema, partition, rows, |d, row| {
        indexes[d].and_then(|i| table.dictionary(i).value(code(partition, i, row)))
    })
}

/// Views as Arrow record batches in memory, partition by partition (the SQL engine's `views`).
pub struct ViewBatches {
    dimensions: Vec<String>,
    schema: Arc<Schema>,
    batches: Vec<RecordBatch>,
    /// Memory the batches hold, bytes.
    bytes: usize,
}

impl ViewBatches {
    /// No batches yet, with these dimension columns.
    pub fn new(dimensions: Vec<String>) -> ViewBatches {
        ViewBatches {
            schema: schema(&dimensions),
            dimensions,
            batches: Vec::new(),
            bytes: 0,
        }
    }

    /// Adds the rows of `partition` (of `table`) that started in `[from, to)`; returns how many.
    ///
    /// # Errors
    /// [`WriteError::Arrow`] when a column cannot be built.
    pub fn add_partition(
        &mut self,
        table: &ViewColumns,
        partition: &Partition,
        from: ServerTime,
        to: ServerTime,
    ) -> Result<u64, WriteError> {
        let rows = rows_in(partition, from, to);
        if !rows.is_empty() {
            let batch = partition_batch(&self.schema, &self.dimensions, table, partition, &rows)?;
            self.bytes += batch.get_array_memory_size();
            self.batches.push(batch);
        }
        Ok(rows.len() as u64)
    }

    /// Memory the batches made so far hold, bytes.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The schema and the batches.
    pub fn into_parts(self) -> (Arc<Schema>, Vec<RecordBatch>) {
        (self.schema, self.batches)
    }
}

/// Rows of one partition as an Arrow batch of `schema`; `dimension(i, row)` gives the value of
/// the file's `i`-th dimension.
fn record_batch<'t>(
    schema: &Arc<Schema>,
    partition: &Partition,
    rows: &[usize],
    dimension: impl Fn(usize, usize) -> Option<&'t str>,
) -> Result<RecordBatch, WriteError> {
    let dimensions = schema.fields().len() - 2 - METRICS.len();
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    columns.push(Arc::new(StringArray::from_iter_values(
        rows.iter().map(|row| partition.ids()[*row].as_str()),
    )));
    columns.push(Arc::new(
        TimestampMillisecondArray::from_iter_values(
            rows.iter().map(|row| partition.started_at()[*row]),
        )
        .with_timezone("UTC"),
    ));
    for d in 0..dimensions {
        let mut values = StringBuilder::with_capacity(rows.len(), rows.len() * 8);
        rows.iter()
            .for_each(|row| values.append_option(dimension(d, *row)));
        columns.push(Arc::new(values.finish()));
    }
    for (index, metric) in METRICS.iter().enumerate() {
        let column = partition.metric(index);
        let present = |row: &usize| Some(column[*row]).filter(|v| !v.is_nan());
        let array: ArrayRef = match metric.kind {
            MetricKind::Rate => {
                let mut flags = BooleanBuilder::with_capacity(rows.len());
                rows.iter()
                    .for_each(|row| flags.append_option(present(row).map(|v| v > 0.5)));
                Arc::new(flags.finish())
            }
            MetricKind::Distribution => {
                let mut numbers = Float64Builder::with_capacity(rows.len());
                rows.iter()
                    .for_each(|row| numbers.append_option(present(row)));
                Arc::new(numbers.finish())
            }
        };
        columns.push(array);
    }
    Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
}

/// Writes every view of `table` that started in `[from, to)` to `out`, oldest partition first;
/// returns the rows written.
///
/// # Errors
/// [`WriteError`] when a writer or the output fails.
pub fn write_views(
    table: &ViewColumns,
    from: ServerTime,
    to: ServerTime,
    format: Format,
    out: impl Write + Send,
) -> Result<u64, WriteError> {
    let mut writer = ViewsWriter::new(table.dimension_names().to_vec(), format, out)?;
    for (_, partition) in table.partitions(from, to) {
        writer.write_partition(table, partition, from, to)?;
    }
    writer.finish()
}

/// Columns an hour file of views has beyond an export's, so the store can load the hour back at
/// start-up: how each view ended, when its last batch arrived, and its props as JSON (typed, as
/// sent; the dimension columns hold them as text).
pub const STATE_COLUMNS: [&str; 6] = [
    "end_reason",
    "ended_at",
    "end_ts",
    "end_last_seq",
    "last_received_at",
    "props",
];

/// `batches` of views rows (of `schema`, from [`ViewBatches`]) with [`STATE_COLUMNS`] appended,
/// from each row's view as `view` finds it (a view it does not find gets empty cells).
///
/// # Errors
/// [`WriteError::Arrow`] when a column cannot be built.
pub fn with_view_state<'v>(
    schema: &Arc<Schema>,
    batches: &[RecordBatch],
    view: impl Fn(&str) -> Option<&'v View>,
) -> Result<(Arc<Schema>, Vec<RecordBatch>), WriteError> {
    let time = DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()));
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.extend([
        Field::new("end_reason", DataType::Utf8, true),
        Field::new("ended_at", time.clone(), true),
        Field::new("end_ts", time.clone(), true),
        Field::new("end_last_seq", DataType::UInt64, true),
        Field::new("last_received_at", time, true),
        Field::new("props", DataType::Utf8, true),
    ]);
    let extended = Arc::new(Schema::new(fields));
    let mut out = Vec::with_capacity(batches.len());
    for batch in batches {
        let ids = batch
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| arrow_schema::ArrowError::SchemaError("view_id not text".into()))?;
        let views: Vec<Option<&View>> = ids.iter().map(|id| id.and_then(&view)).collect();
        let end = |v: &Option<&View>| v.and_then(|v| v.end);
        let stamps = |at: &dyn Fn(&View) -> Option<i64>| -> ArrayRef {
            Arc::new(
                views
                    .iter()
                    .map(|v| v.and_then(at))
                    .collect::<TimestampMillisecondArray>()
                    .with_timezone("UTC"),
            )
        };
        let mut columns = batch.columns().to_vec();
        columns.push(Arc::new(
            views
                .iter()
                .map(|v| end(v).map(|e| e.reason.name()))
                .collect::<StringArray>(),
        ));
        columns.push(stamps(&|v| v.end.map(|e| e.at.0)));
        columns.push(stamps(&|v| v.end.map(|e| e.ts.0)));
        columns.push(Arc::new(
            views
                .iter()
                .map(|v| end(v).map(|e| e.last_seq.0))
                .collect::<UInt64Array>(),
        ));
        columns.push(stamps(&|v| Some(v.last_received_at.0)));
        columns.push(Arc::new(
            views
                .iter()
                .map(|v| v.map(|v| v.props.as_str().to_owned()))
                .collect::<StringArray>(),
        ));
        out.push(RecordBatch::try_new(Arc::clone(&extended), columns)?);
    }
    Ok((extended, out))
}

/// A metric's CSV cell: empty outside the population, `true`/`false` for a rate.
fn cell(kind: MetricKind, value: f64) -> String {
    match kind {
        _ if value.is_nan() => String::new(),
        MetricKind::Rate => (value > 0.5).to_string(),
        MetricKind::Distribution => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openqoe_model::ViewId;
    use parquet::file::reader::{FileReader, SerializedFileReader};

    fn table() -> ViewColumns {
        let mut table = crate::ViewTable::new();
        for (i, cdn) in [Some("cdn-a"), None, Some("cdn-b")].into_iter().enumerate() {
            let mut values = vec![f64::NAN; METRICS.len()];
            values[0] = 1000.0 + i as f64;
            let failure = METRICS
                .iter()
                .position(|m| m.name == "startup_failure")
                .unwrap();
            values[failure] = if i == 2 { 1.0 } else { 0.0 };
            table.write_row(
                ViewId::new(&format!("v{i}")).unwrap(),
                i as i64 * 1000,
                &[("cdn".into(), cdn.map(str::to_owned))],
                &values,
            );
        }
        table.columns().clone()
    }

    #[test]
    fn parquet_holds_every_row_in_range_with_its_columns() {
        let table = table();
        let file = tempfile::tempfile().unwrap();
        let rows = write_views(
            &table,
            ServerTime(0),
            ServerTime(2_000),
            Format::Parquet,
            file.try_clone().unwrap(),
        )
        .unwrap();
        assert_eq!(rows, 2);
        let reader = SerializedFileReader::new(file).unwrap();
        assert_eq!(reader.metadata().file_metadata().num_rows(), 2);
        let columns: Vec<String> = reader
            .metadata()
            .file_metadata()
            .schema_descr()
            .columns()
            .iter()
            .map(|c| c.name().to_owned())
            .collect();
        assert_eq!(&columns[..3], ["view_id", "started_at", "cdn"]);
        assert_eq!(columns.len(), 3 + METRICS.len());
    }

    #[test]
    fn props_named_like_fixed_columns_get_a_prefix() {
        let names = ["cdn", "view_id", "watch_time_ms", "prop_view_id"].map(String::from);
        assert_eq!(
            dimension_columns(&names),
            [
                "cdn",
                "prop_view_id",
                "prop_watch_time_ms",
                "prop_prop_view_id"
            ]
        );
    }

    #[test]
    fn csv_and_jsonl_leave_absent_values_empty() {
        let table = table();
        let mut csv_out = Vec::new();
        write_views(
            &table,
            ServerTime(0),
            ServerTime(5_000),
            Format::Csv,
            &mut csv_out,
        )
        .unwrap();
        let text = String::from_utf8(csv_out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[0].starts_with("view_id,started_at,cdn,video_startup_time_ms"));
        assert!(lines[2].starts_with("v1,1000,,1001,"), "{}", lines[2]);
        assert!(lines[3].contains(",true,"), "{}", lines[3]);

        let mut jsonl = Vec::new();
        write_views(
            &table,
            ServerTime(0),
            ServerTime(5_000),
            Format::Jsonl,
            &mut jsonl,
        )
        .unwrap();
        let rows: Vec<serde_json::Value> = String::from_utf8(jsonl)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(rows.len(), 3);
        assert!(rows[1].get("cdn").is_none());
        assert_eq!(rows[2]["startup_failure"], serde_json::json!(true));
        assert_eq!(rows[0]["video_startup_time_ms"], serde_json::json!(1000.0));
    }
}
