//! `GET /v1/export/{views|events}?from=&to=&format=parquet|csv|jsonl`: the operator's data as a
//! file, streamed. Views are the ended views that started in the range (a live view is exported
//! once it ends); events are every event of the views, live or ended, that started in it.
//! Filters do not apply: an export is the whole range.
//! The export walks the range an hour at a time and lets go of the views between hours, so a
//! long export never holds up ingest.
use std::io::Write;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use openqoe_model::{ServerTime, View};
use openqoe_store::{EventsWriter, Format, ViewsWriter, WriteError, PARTITION_MS};
use tokio::sync::mpsc;

use crate::routes::Api;
use crate::{ApiError, Selection, ViewSource};

/// Bytes gathered before a chunk goes to the client.
const CHUNK_BYTES: usize = 1 << 20;

/// A `Write` that hands full chunks to the response body.
struct ChunkSender {
    chunks: mpsc::Sender<Result<Bytes, std::io::Error>>,
    pending: Vec<u8>,
}

impl ChunkSender {
    fn send_pending(&mut self) -> std::io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.pending,
            Vec::with_capacity(CHUNK_BYTES),
        ));
        self.chunks
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::other("the client went away"))
    }
}

impl Write for ChunkSender {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(bytes);
        if self.pending.len() >= CHUNK_BYTES {
            self.send_pending()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send_pending()
    }
}

/// The hours (partition starts) a range touches.
fn hours(from: ServerTime, to: ServerTime) -> impl Iterator<Item = ServerTime> {
    let first = from.0.div_euclid(PARTITION_MS) * PARTITION_MS;
    (0..)
        .map(move |i| ServerTime(first + i * PARTITION_MS))
        .take_while(move |hour| hour.0 < to.0)
}

fn write_views<S: ViewSource>(
    source: &S,
    selection: &Selection,
    format: Format,
    out: ChunkSender,
) -> Result<u64, WriteError> {
    let mut dimensions = Vec::new();
    source.visit_ended(&mut |table| dimensions = table.dimension_names().to_vec());
    let mut writer = ViewsWriter::new(dimensions, format, out)?;
    for hour in hours(selection.from, selection.to) {
        let until = ServerTime(hour.0 + PARTITION_MS);
        let mut result = Ok(());
        source.visit_ended(&mut |table| {
            for (_, partition) in table.partitions(hour, until) {
                if let Err(e) =
                    writer.write_partition(table, partition, selection.from, selection.to)
                {
                    result = Err(e);
                    return;
                }
            }
        });
        result?;
    }
    writer.finish()
}

fn write_events<S: ViewSource>(
    source: &S,
    selection: &Selection,
    format: Format,
    out: ChunkSender,
) -> Result<u64, WriteError> {
    let mut writer = EventsWriter::new(format, out)?;
    for hour in hours(selection.from, selection.to) {
        let from = hour.max(selection.from);
        let to = ServerTime(hour.0 + PARTITION_MS).min(selection.to);
        let mut views: Vec<View> = Vec::new();
        source.visit_views(from, to, &mut |view, _| views.push(view.clone()));
        views.sort_by(|a, b| a.started_at().cmp(&b.started_at()).then(a.id.cmp(&b.id)));
        writer.write_events(&views)?;
    }
    writer.finish()
}

/// The export route's handler.
pub(crate) async fn export<S: ViewSource>(
    State(api): State<Arc<Api<S>>>,
    Path(table): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let selection = Selection::from_query(&pairs, crate::routes::now())?;
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
    let failed = chunks.clone();
    let source = Arc::clone(&api.source);
    tokio::task::spawn_blocking(move || {
        let out = ChunkSender {
            chunks,
            pending: Vec::with_capacity(CHUNK_BYTES),
        };
        let written = if events {
            write_events(source.as_ref(), &selection, format, out)
        } else {
            write_views(source.as_ref(), &selection, format, out)
        };
        match written {
            Ok(rows) => tracing::info!(table, rows, "export finished"),
            Err(e) => {
                tracing::warn!(table, error = %e, "export failed; the response is cut short");
                // The client sees the body end in an error, never a file that looks whole.
                let _ = failed.blocking_send(Err(std::io::Error::other(e.to_string())));
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
