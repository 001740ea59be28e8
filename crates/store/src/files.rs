//! Views and raw events out into files the operator owns: Parquet (for DuckDB, ClickHouse,
//! Spark, pandas…), CSV, or JSON lines — the formats and sinks both share, and the whole-file
//! Parquet write the store's hour files use. Views' rows are in `views_file.rs`, events' in
//! `events_file.rs`.
use std::io::Write;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::Schema;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

/// A file format views can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Apache Parquet, snappy-compressed.
    Parquet,
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(name: &str) -> Result<Format, String> {
        match name {
            "parquet" => Ok(Format::Parquet),
            "csv" => Ok(Format::Csv),
            "jsonl" => Ok(Format::Jsonl),
            other => Err(format!("expected parquet, csv or jsonl, got {other:?}")),
        }
    }
}

/// Why views could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The Parquet writer failed (usually the output's I/O).
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// Building a column failed.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    /// The CSV writer failed.
    #[error("csv: {0}")]
    Csv(#[from] csv::Error),
    /// Writing the output failed.
    #[error("writing: {0}")]
    Io(#[from] std::io::Error),
}

/// Rows per Parquet row group in views files (the Parquet crate's default).
pub const VIEW_ROWS_PER_GROUP: usize = 1024 * 1024;
/// Rows per Parquet row group in events files: small enough that one view's events, found by
/// the groups' `view_id` statistics, are read without the rest of the hour.
pub const EVENT_ROWS_PER_GROUP: usize = 65_536;

/// A snappy-compressed Parquet writer of `schema` rows into `out`.
pub(crate) fn parquet_writer<W: Write + Send>(
    out: W,
    schema: &Arc<Schema>,
    rows_per_group: usize,
) -> Result<ArrowWriter<W>, WriteError> {
    let properties = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(rows_per_group.max(1)))
        .build();
    Ok(ArrowWriter::try_new(
        out,
        Arc::clone(schema),
        Some(properties),
    )?)
}

/// Where the rows go.
pub(crate) enum Sink<W: Write + Send> {
    Parquet(Box<ArrowWriter<W>>, Arc<Schema>),
    Csv(Box<csv::Writer<W>>),
    Jsonl(std::io::BufWriter<W>),
}

/// Closes `sink`: the Parquet footer, or a flush.
pub(crate) fn finish_sink<W: Write + Send>(sink: Sink<W>) -> Result<(), WriteError> {
    match sink {
        Sink::Parquet(writer, _) => {
            writer.close()?;
        }
        Sink::Csv(mut writer) => writer.flush()?,
        Sink::Jsonl(mut out) => out.flush()?,
    }
    Ok(())
}

/// Writes `batches` as the Parquet file `path`, whole or not at all: into a temporary file
/// beside it, synced, then renamed over it (and the directory and the two above it synced), so
/// a reader or a crash never sees half a file. Returns the rows written.
///
/// # Errors
/// [`WriteError`] when the directory, the file or the rename fails.
pub fn write_parquet_file(
    path: &std::path::Path,
    schema: &Arc<Schema>,
    batches: &[RecordBatch],
    rows_per_group: usize,
) -> Result<u64, WriteError> {
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir)?;
    let temporary = path.with_extension("parquet.partial");
    let file = std::fs::File::create(&temporary)?;
    let mut writer = parquet_writer(file.try_clone()?, schema, rows_per_group)?;
    let mut rows = 0;
    for batch in batches {
        writer.write(batch)?;
        rows += batch.num_rows() as u64;
    }
    writer.close()?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)?;
    std::fs::File::open(dir)?.sync_all()?;
    // Folders made just now (a new date, the table's) must be durable in their parents too:
    // once the log is cut, this file is the only copy.
    for folder in dir.ancestors().skip(1).take(2) {
        if !folder.as_os_str().is_empty() {
            std::fs::File::open(folder)?.sync_all()?;
        }
    }
    Ok(rows)
}
