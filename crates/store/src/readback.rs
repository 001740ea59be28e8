//! The store's own hour files read back: the events of views whose events were let go from
//! memory once their hour was written (see [`crate::ViewStore::release_hour`]).
use std::collections::{HashMap, HashSet};
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{TimestampMillisecondType, UInt64Type};
use arrow_array::{Array, BooleanArray, RecordBatch};
use openqoe_model::{
    BatchError, ClientTime, EndReason, Event, Props, Seq, ServerTime, View, ViewEnd, ViewHeader,
    ViewId,
};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};

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
}

/// The rows of the Parquet file at `path`, a batch at a time.
fn read_batches(path: &Path) -> Result<ParquetRecordBatchReader, ReadError> {
    let file = std::fs::File::open(path).map_err(|source| ReadError::Io {
        path: path.display().to_string(),
        source,
    })?;
    Ok(ParquetRecordBatchReaderBuilder::try_new(file)?.build()?)
}

/// The ended views of an hour's views file (written with [`crate::with_view_state`]'s columns),
/// each with its row's `started_at`, without their events (those are in the hour's events
/// file). The first batch's receipt time is not in the file: a loaded view gets its last.
///
/// # Errors
/// [`ReadError`] when the file cannot be read or a view's state is missing or not valid.
pub fn read_hour_views(path: &Path) -> Result<Vec<(i64, View)>, ReadError> {
    let mut views = Vec::new();
    for batch in read_batches(path)? {
        let batch = batch?;
        let text = |name: &'static str| {
            batch
                .column_by_name(name)
                .and_then(|c| c.as_string_opt::<i32>())
                .ok_or(ReadError::Column(name))
        };
        let stamps = |name: &'static str| {
            batch
                .column_by_name(name)
                .and_then(|c| c.as_primitive_opt::<TimestampMillisecondType>())
                .ok_or(ReadError::Column(name))
        };
        let (ids, reasons, props) = (text("view_id")?, text("end_reason")?, text("props")?);
        let starts = stamps("started_at")?;
        let (ended_at, end_ts, received) = (
            stamps("ended_at")?,
            stamps("end_ts")?,
            stamps("last_received_at")?,
        );
        let last_seqs = batch
            .column_by_name("end_last_seq")
            .and_then(|c| c.as_primitive_opt::<UInt64Type>())
            .ok_or(ReadError::Column("end_last_seq"))?;
        let identity = |name: &str| {
            batch
                .column_by_name(name)
                .and_then(|c| c.as_string_opt::<i32>())
        };
        let (viewers, sessions) = (identity("viewer_id"), identity("session_id"));
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
            let cell = |column: Option<&arrow_array::StringArray>| {
                column
                    .filter(|c| c.is_valid(row))
                    .map(|c| c.value(row).to_owned())
            };
            view.viewer_id = cell(viewers);
            view.session_id = cell(sessions);
            view.props = props;
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
    let file = std::fs::File::open(path).map_err(|source| ReadError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let mut builder = ParquetRecordBatchReaderBuilder::try_new(file)?;
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
        let column = batch
            .column_by_name("view_id")
            .and_then(|c| c.as_string_opt::<i32>())
            .ok_or(ReadError::Column("view_id"))?;
        let selected: BooleanArray = column
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
