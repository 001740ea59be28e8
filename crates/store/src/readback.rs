//! The store's own hour files read back: the events of views whose events were let go from
//! memory once their hour was written (see [`crate::ViewStore::release_hour`]).
use std::collections::{HashMap, HashSet};
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{ArrowPrimitiveType, TimestampMillisecondType, UInt64Type};
use arrow_array::{Array, BooleanArray, PrimitiveArray, RecordBatch, StringArray};
use openqoe_model::{
    BatchError, ClientTime, EndReason, Event, Props, Seq, ServerTime, View, ViewEnd, ViewHeader,
    ViewId,
};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// Why an hour file could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Opening or reading the file failed.
    #[error("reading {path}")]
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
    /// A view's state cells are missing or not valid.
    #[error("view {view}: {reason}")]
    State {
        /// The view.
        view: String,
        /// What is wrong.
        reason: String,
    },
    /// The Parquet reader gave up on the file by panicking.
    #[error("damaged file: the parquet reader failed ({0})")]
    Damaged(String),
}

/// Runs `read` of a file, turning a panic in the Parquet reader into [`ReadError::Damaged`]: the
/// `parquet` crate panics on some damaged files (found by the `hour_files` fuzz target), and a
/// damaged hour file must not take the server down at start-up or on a read-back.
fn guarded<T>(read: impl FnOnce() -> Result<T, ReadError>) -> Result<T, ReadError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(read)).unwrap_or_else(|panic| {
        let reason = match panic.downcast::<String>() {
            Ok(reason) => *reason,
            Err(panic) => panic
                .downcast_ref::<&str>()
                .map_or_else(|| "no message".to_owned(), |reason| (*reason).to_owned()),
        };
        Err(ReadError::Damaged(reason))
    })
}

/// A reader of the Parquet file at `path`.
fn open(path: &Path) -> Result<ParquetRecordBatchReaderBuilder<std::fs::File>, ReadError> {
    let file = std::fs::File::open(path).map_err(|source| ReadError::Io {
        path: path.display().to_string(),
        source,
    })?;
    Ok(ParquetRecordBatchReaderBuilder::try_new(file)?)
}

/// Column `name` of `batch` as text.
fn text<'b>(batch: &'b RecordBatch, name: &'static str) -> Result<&'b StringArray, ReadError> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_string_opt::<i32>())
        .ok_or(ReadError::Column(name))
}

/// Column `name` of `batch` as values of type `T`.
fn values<'b, T: ArrowPrimitiveType>(
    batch: &'b RecordBatch,
    name: &'static str,
) -> Result<&'b PrimitiveArray<T>, ReadError> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_primitive_opt::<T>())
        .ok_or(ReadError::Column(name))
}

/// The ended views of an hour's views file (written with [`crate::with_view_state`]'s columns),
/// each with its row's `started_at`, without their events (those are in the hour's events
/// file). The first batch's receipt time is not in the file: a loaded view gets its last.
///
/// # Errors
/// [`ReadError`] when the file cannot be read or a view's state is missing or not valid.
pub fn read_hour_views(path: &Path) -> Result<Vec<(i64, View)>, ReadError> {
    guarded(|| hour_views(path))
}

fn hour_views(path: &Path) -> Result<Vec<(i64, View)>, ReadError> {
    let mut views = Vec::new();
    for batch in open(path)?.build()? {
        let batch = batch?;
        let stamps = |name| values::<TimestampMillisecondType>(&batch, name);
        let (ids, reasons) = (text(&batch, "view_id")?, text(&batch, "end_reason")?);
        let props = text(&batch, "props")?;
        let starts = stamps("started_at")?;
        let (ended_at, end_ts, received) = (
            stamps("ended_at")?,
            stamps("end_ts")?,
            stamps("last_received_at")?,
        );
        let last_seqs = values::<UInt64Type>(&batch, "end_last_seq")?;
        // Identity columns are absent when no view of the file carried one.
        let (viewers, sessions) = (
            text(&batch, "viewer_id").ok(),
            text(&batch, "session_id").ok(),
        );
        for row in 0..batch.num_rows() {
            let id = ids.value(row);
            let invalid = |reason: &str| ReadError::State {
                view: id.to_owned(),
                reason: reason.to_owned(),
            };
            let reason = [EndReason::ViewEnd, EndReason::Idle, EndReason::StallTimeout]
                .into_iter()
                .find(|r| reasons.is_valid(row) && r.name() == reasons.value(row))
                .ok_or_else(|| invalid("no end reason"))?;
            if !(ended_at.is_valid(row) && end_ts.is_valid(row) && last_seqs.is_valid(row)) {
                return Err(invalid("no end"));
            }
            let props: Props = match props.is_valid(row) {
                true => serde_json::from_str(props.value(row))
                    .map_err(|e| invalid(&format!("props: {e}")))?,
                false => Props::new(),
            };
            let header = ViewHeader {
                id: ViewId::new(id).map_err(|_| ReadError::ViewId(id.to_owned()))?,
                viewer_id: None,
                session_id: None,
                props: Props::new(),
            };
            let mut view = View::new(&header, ServerTime(received.value(row)));
            let cell = |column: Option<&StringArray>| {
                column
                    .filter(|c| c.is_valid(row))
                    .map(|c| c.value(row).to_owned())
            };
            // Its events come from the events file, not the log.
            view.logged = None;
            view.viewer_id = cell(viewers);
            view.session_id = cell(sessions);
            view.props = props.into();
            view.end = Some(ViewEnd {
                reason,
                ts: ClientTime(end_ts.value(row)),
                at: ServerTime(ended_at.value(row)),
                last_seq: Seq(last_seqs.value(row)),
            });
            views.push((starts.value(row), view));
        }
    }
    Ok(views)
}

/// The rows of the events file at `path` (written with [`crate::events_schema`]) of the views
/// `ids` (every row when `None`), as they are in the file. Row groups whose `view_id` range holds
/// none of `ids` are not read: a lookup reads a few groups, not the hour.
///
/// # Errors
/// [`ReadError`] when the file cannot be opened or is not an events file.
pub fn read_event_rows(
    path: &Path,
    ids: Option<&HashSet<ViewId>>,
) -> Result<Vec<RecordBatch>, ReadError> {
    guarded(|| event_rows(path, ids))
}

fn event_rows(path: &Path, ids: Option<&HashSet<ViewId>>) -> Result<Vec<RecordBatch>, ReadError> {
    let mut builder = open(path)?;
    if let Some(ids) = ids {
        let mut sorted: Vec<&str> = ids.iter().map(ViewId::as_str).collect();
        sorted.sort_unstable();
        let column = builder
            .parquet_schema()
            .columns()
            .iter()
            .position(|c| c.name() == "view_id")
            .ok_or(ReadError::Column("view_id"))?;
        let groups = builder
            .metadata()
            .row_groups()
            .iter()
            .enumerate()
            .filter(|(_, group)| {
                let statistics = group.column(column).statistics();
                match statistics.map(|s| (bound(s.min_bytes_opt()), bound(s.max_bytes_opt()))) {
                    // Bounds may be truncated, but stay bounds: a group is skipped only when
                    // no id falls between them.
                    Some((Some(min), Some(max))) => {
                        let first = sorted.partition_point(|id| *id < min);
                        sorted.get(first).is_some_and(|id| *id <= max)
                    }
                    _ => true,
                }
            })
            .map(|(index, _)| index)
            .collect();
        builder = builder.with_row_groups(groups);
    }
    let mut kept = Vec::new();
    for batch in builder.build()? {
        let batch = batch?;
        let Some(ids) = ids else {
            kept.push(batch);
            continue;
        };
        let selected: BooleanArray = text(&batch, "view_id")?
            .iter()
            .map(|id| Some(id.is_some_and(|id| ids.contains(id))))
            .collect();
        let batch = arrow_select::filter::filter_record_batch(&batch, &selected)?;
        if batch.num_rows() > 0 {
            kept.push(batch);
        }
    }
    Ok(kept)
}

/// A statistics bound as text.
fn bound(bytes: Option<&[u8]>) -> Option<&str> {
    bytes.and_then(|b| std::str::from_utf8(b).ok())
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
        let (ids, texts) = (text(batch, "view_id")?, text(batch, "fields")?);
        let seqs = values::<UInt64Type>(batch, "seq")?;
        let ats = values::<TimestampMillisecondType>(batch, "at")?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_reader_is_a_damaged_file_not_a_crash() {
        let quiet = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let text = guarded::<()>(|| panic!("column start and length should not be negative"));
        let formatted = guarded::<()>(|| panic!("offset {}", 7));
        std::panic::set_hook(quiet);
        let message = |read: Result<(), ReadError>| read.unwrap_err().to_string();
        assert!(message(text).contains("should not be negative"));
        assert!(message(formatted).contains("offset 7"));
        assert!(guarded(|| Ok(3)).is_ok_and(|n| n == 3));
    }
}
