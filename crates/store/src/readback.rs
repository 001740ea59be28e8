//! The store's own hour files read back: the events of views whose events were let go from
//! memory once their hour was written (see [`crate::ViewStore::release_hour`]).
use std::collections::HashMap;
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{TimestampMillisecondType, UInt64Type};
use arrow_array::{BooleanArray, RecordBatch};
use openqoe_model::{BatchError, Event, ServerTime, ViewId};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// Why an hour file could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Opening or reading the file failed.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What failed.
        source: std::io::Error,
    },
    /// The file is not valid Parquet.
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// The file's columns are not the events file's.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    /// A column is missing or of another type.
    #[error("not an events file: column {0} missing or of another type")]
    Column(&'static str),
    /// An event's text is not a valid event.
    #[error("event {seq} of view {view}: {source}")]
    Event {
        /// The view.
        view: String,
        /// The event's `seq`.
        seq: u64,
        /// Why it is not valid.
        source: BatchError,
    },
    /// A view id in the file is not a valid view id.
    #[error("view id {0:?} is not valid")]
    ViewId(String),
}

/// The rows of the events file at `path` (written with [`crate::events_schema`]) whose view id
/// `keep` accepts, as they are in the file.
///
/// # Errors
/// [`ReadError`] when the file cannot be opened or is not an events file.
pub fn read_event_rows(
    path: &Path,
    keep: impl Fn(&str) -> bool,
) -> Result<Vec<RecordBatch>, ReadError> {
    let file = std::fs::File::open(path).map_err(|source| ReadError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)?.build()?;
    let mut kept = Vec::new();
    for batch in reader {
        let batch = batch?;
        let ids = batch
            .column_by_name("view_id")
            .and_then(|c| c.as_string_opt::<i32>())
            .ok_or(ReadError::Column("view_id"))?;
        let selected: BooleanArray = ids.iter().map(|id| Some(id.is_some_and(&keep))).collect();
        let batch = arrow_select::filter::filter_record_batch(&batch, &selected)?;
        if batch.num_rows() > 0 {
            kept.push(batch);
        }
    }
    Ok(kept)
}

/// The events in `rows` (of [`crate::events_schema`]), by view.
///
/// # Errors
/// [`ReadError`] when a column is missing or an event is not valid.
pub fn events_by_view(rows: &[RecordBatch]) -> Result<HashMap<ViewId, Vec<Event>>, ReadError> {
    let mut by_view: HashMap<ViewId, Vec<Event>> = HashMap::new();
    // A file holds a view's events together: the id is made once per run of them.
    let mut current: Option<ViewId> = None;
    for batch in rows {
        let column = |name: &'static str| batch.column_by_name(name).ok_or(ReadError::Column(name));
        let ids = column("view_id")?
            .as_string_opt::<i32>()
            .ok_or(ReadError::Column("view_id"))?;
        let seqs = column("seq")?
            .as_primitive_opt::<UInt64Type>()
            .ok_or(ReadError::Column("seq"))?;
        let ats = column("at")?
            .as_primitive_opt::<TimestampMillisecondType>()
            .ok_or(ReadError::Column("at"))?;
        let texts = column("fields")?
            .as_string_opt::<i32>()
            .ok_or(ReadError::Column("fields"))?;
        for row in 0..batch.num_rows() {
            let view = ids.value(row);
            let event =
                Event::restore(texts.value(row), ServerTime(ats.value(row))).map_err(|source| {
                    ReadError::Event {
                        view: view.to_owned(),
                        seq: seqs.value(row),
                        source,
                    }
                })?;
            let id = match current.take() {
                Some(id) if id.as_str() == view => id,
                _ => ViewId::new(view).map_err(|_| ReadError::ViewId(view.to_owned()))?,
            };
            by_view.entry(id.clone()).or_default().push(event);
            current = Some(id);
        }
    }
    Ok(by_view)
}
