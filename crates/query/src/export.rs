//! `GET /v1/export/{views|events}?from=&to=&format=parquet|csv|jsonl`: the operator's data as a
//! file, streamed. Views are the ended views that started in the range (a live view is exported
//! once it ends); events are every event of the views, live or ended, that started in it.
//! Filters do not apply: an export is the whole range.
//! The export walks the hours that hold views, one at a time: each hour is written into memory
//! while the views are held (never waiting on the client), then sent with the views let go, so
//! neither a long export nor a slow client holds up ingest. Memory is bounded by an hour's part
//! of the file.
use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use openqoe_store::{EventsWriter, Format, ViewsWriter, WriteError};
use tokio::sync::mpsc;

use crate::api::Api;
use crate::{ApiError, Selection, ViewSource};
use openqoe_model::ServerTime;

/// Bytes written while the views are held: appending never blocks, so a slow client can never
/// hold up ingest; the spool goes to the client once the views are let go.
#[derive(Clone, Default)]
struct Spool(Arc<Mutex<Vec<u8>>>);

impl Spool {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().expect("spool lock poisoned"))
    }
}

impl Write for Spool {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .expect("spool lock poisoned")
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Where the spooled bytes go: the response body.
type Chunks = mpsc::Sender<Result<Bytes, std::io::Error>>;

/// Sends what the spool holds to the client (waiting for it if it reads slowly).
fn send(spool: &Spool, chunks: &Chunks) -> std::io::Result<()> {
    let bytes = spool.take();
    if bytes.is_empty() {
        return Ok(());
    }
    chunks
        .blocking_send(Ok(Bytes::from(bytes)))
        .map_err(|_| std::io::Error::other("the client went away"))
}

fn write_views<S: ViewSource>(
    source: &S,
    selection: &Selection,
    format: Format,
    chunks: &Chunks,
) -> Result<u64, WriteError> {
    let dimensions = source
        .ended(selection.from, selection.to)
        .dimension_names()
        .to_vec();
    let spool = Spool::default();
    let mut writer = ViewsWriter::new(dimensions, format, spool.clone())?;
    for hour in source.hours(selection.from, selection.to) {
        crate::each_partition(source, hour, |table, partition| {
            writer
                .write_partition(table, partition, selection.from, selection.to)
                .map(drop)
        })?;
        send(&spool, chunks)?;
    }
    let rows = writer.finish()?;
    send(&spool, chunks)?;
    Ok(rows)
}

fn write_events<S: ViewSource>(
    source: &S,
    selection: &Selection,
    format: Format,
    chunks: &Chunks,
) -> Result<u64, WriteError> {
    let spool = Spool::default();
    let mut writer = EventsWriter::new(format, spool.clone())?;
    for hour in source.hours(selection.from, selection.to) {
        let mut views = source.hour_views(hour, selection.from, selection.to);
        views.sort_by(|a, b| a.started_at().cmp(&b.started_at()).then(a.id.cmp(&b.id)));
        writer.write_events(&views)?;
        send(&spool, chunks)?;
    }
    let events = writer.finish()?;
    send(&spool, chunks)?;
    Ok(events)
}

/// The export route's handler.
pub(crate) async fn export<S: ViewSource>(
    State(api): State<Arc<Api<S>>>,
    Path(table): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let selection = api.selection(&pairs, ServerTime::now())?;
    let format: Format = pairs
        .iter()
        .find(|(k, _)| k == "format")
        .map_or(Ok(Format::Parquet), |(_, v)| v.parse())
        .map_err(|e| ApiError::BadParameter(format!("format: {e}")))?;
    let (events, table) = match table.as_str() {
        "views" => (false, "views"),
        "events" => (true, "events"),
        other => {
            return Err(ApiError::BadParameter(format!(
                "table: expected views or events, got {other:?}"
            )))
        }
    };
    let (chunks, body) = mpsc::channel(4);
    let source = Arc::clone(&api.source);
    tokio::task::spawn_blocking(move || {
        let written = if events {
            write_events(source.as_ref(), &selection, format, &chunks)
        } else {
            write_views(source.as_ref(), &selection, format, &chunks)
        };
        match written {
            Ok(rows) => tracing::info!(table, rows, "export finished"),
            Err(e) => {
                tracing::warn!(table, error = %e, "export failed; the response is cut short");
                // The client sees the body end in an error, never a file that looks whole.
                let _ = chunks.blocking_send(Err(std::io::Error::other(e.to_string())));
            }
        }
    });
    let stream = futures_util::stream::unfold(body, |mut body| async move {
        body.recv().await.map(|chunk| (chunk, body))
    });
    let (content_type, extension) = match format {
        Format::Parquet => ("application/vnd.apache.parquet", "parquet"),
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
        Format::Jsonl => ("application/x-ndjson", "jsonl"),
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"openqoe-{table}.{extension}\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}
