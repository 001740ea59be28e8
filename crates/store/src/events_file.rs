//! Raw events out into a file or an Arrow batch: one row per event, as received.
use std::io::Write;
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, StringArray, TimestampMillisecondArray, UInt64Array};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use openqoe_model::{Event, View, ViewId};

use crate::files::{finish_sink, parquet_writer, Format, Sink, WriteError, EVENT_ROWS_PER_GROUP};

/// Raw events out into a file: one row per event — `view_id`, `seq`, `at` (server-corrected
/// time), `ts` (device time), `type`, and the event as received (`fields`, JSON text).
pub struct EventsWriter<W: Write + Send> {
    sink: Sink<W>,
    written: u64,
}

/// Columns of an events file or table.
pub fn events_schema() -> Arc<Schema> {
    let time = DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()));
    Arc::new(Schema::new(vec![
        Field::new("view_id", DataType::Utf8, false),
        Field::new("seq", DataType::UInt64, false),
        Field::new("at", time.clone(), false),
        Field::new("ts", time, false),
        Field::new("type", DataType::Utf8, false),
        Field::new("fields", DataType::Utf8, false),
    ]))
}

/// Events, each with its view, as an Arrow batch of [`events_schema`].
///
/// # Errors
/// [`WriteError::Arrow`] when a column cannot be built.
pub fn events_batch(events: &[(&ViewId, &Event)]) -> Result<RecordBatch, WriteError> {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            events.iter().map(|(id, _)| id.as_str()),
        )),
        Arc::new(UInt64Array::from_iter_values(
            events.iter().map(|(_, event)| event.seq.0),
        )),
        Arc::new(
            TimestampMillisecondArray::from_iter_values(events.iter().map(|(_, e)| e.at.0))
                .with_timezone("UTC"),
        ),
        Arc::new(
            TimestampMillisecondArray::from_iter_values(events.iter().map(|(_, e)| e.ts.0))
                .with_timezone("UTC"),
        ),
        Arc::new(StringArray::from_iter_values(
            events.iter().map(|(_, e)| e.kind.name()),
        )),
        Arc::new(StringArray::from_iter_values(
            events.iter().map(|(_, e)| e.raw_json()),
        )),
    ];
    Ok(RecordBatch::try_new(events_schema(), columns)?)
}

impl<W: Write + Send> EventsWriter<W> {
    /// Starts a file.
    ///
    /// # Errors
    /// [`WriteError`] when the header cannot be written.
    pub fn new(format: Format, out: W) -> Result<EventsWriter<W>, WriteError> {
        let sink = match format {
            Format::Parquet => {
                let schema = events_schema();
                let writer = parquet_writer(out, &schema, EVENT_ROWS_PER_GROUP)?;
                Sink::Parquet(Box::new(writer), schema)
            }
            Format::Csv => {
                let mut writer = csv::Writer::from_writer(out);
                writer.write_record(["view_id", "seq", "at", "ts", "type", "fields"])?;
                Sink::Csv(Box::new(writer))
            }
            Format::Jsonl => Sink::Jsonl(std::io::BufWriter::new(out)),
        };
        Ok(EventsWriter { sink, written: 0 })
    }

    /// Writes every event of `views`, view by view in `seq` order; returns how many.
    ///
    /// # Errors
    /// [`WriteError`] when a writer or the output fails.
    pub fn write_events<'v>(
        &mut self,
        views: impl IntoIterator<Item = &'v View>,
    ) -> Result<u64, WriteError> {
        let events: Vec<(&ViewId, &Event)> = views
            .into_iter()
            .flat_map(|view| view.events.values().map(move |event| (&view.id, event)))
            .collect();
        let kind = |event: &Event| event.kind.name().to_owned();
        let fields = |event: &Event| event.raw_json().to_owned();
        match &mut self.sink {
            Sink::Parquet(writer, _) => writer.write(&events_batch(&events)?)?,
            Sink::Csv(writer) => {
                for (id, event) in &events {
                    writer.write_record([
                        id.as_str().to_owned(),
                        event.seq.0.to_string(),
                        event.at.0.to_string(),
                        event.ts.0.to_string(),
                        kind(event),
                        fields(event),
                    ])?;
                }
            }
            Sink::Jsonl(out) => {
                for (id, event) in &events {
                    let row = serde_json::json!({
                        "view_id": id.as_str(),
                        "seq": event.seq.0,
                        "at": event.at.0,
                        "ts": event.ts.0,
                        "type": kind(event),
                        "fields": event.fields(),
                    });
                    serde_json::to_writer(&mut *out, &row).map_err(std::io::Error::from)?;
                    out.write_all(b"\n")?;
                }
            }
        }
        self.written += events.len() as u64;
        Ok(events.len() as u64)
    }

    /// Ends the file; returns the events written.
    ///
    /// # Errors
    /// [`WriteError`] when the end cannot be written.
    pub fn finish(self) -> Result<u64, WriteError> {
        finish_sink(self.sink)?;
        Ok(self.written)
    }
}
