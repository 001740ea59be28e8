//! The write-ahead log behind durable acknowledgements: segment files of CRC-checked records,
//! written by one thread with group commit, replayed in order at start-up.
//!
//! Owns durability of opaque records; knows nothing of events or views. Key decision: one
//! writer thread drains every append already queued, writes them together and calls `fsync`
//! once, so concurrent requests share a sync and an acknowledgement always follows a sync.
//! After a failed write, sync or new segment, the segment is never written again: appends are
//! refused (and [`SegmentLog::unavailable`] says why) until a fresh segment opens, which the
//! writer tries on every append and every second.
#![warn(missing_docs)]

mod log;
mod read_back;
mod segment;

use std::future::Future;
use std::path::Path;

use serde::Deserialize;

pub use log::{remove_segments_before, ReplayReport, SegmentLog, SyncObserver};
pub use read_back::{read_records, ReadBackError};
pub use segment::{read_segment, SegmentDamage, SegmentRead, MAX_RECORD_BYTES};

/// `[wal]` section of openqoe.toml.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WalConfig {
    /// Size in bytes at which a segment is closed and the next one started.
    pub segment_bytes: u64,
    /// Most bytes gathered into one group commit.
    pub max_group_bytes: usize,
}

impl Default for WalConfig {
    fn default() -> Self {
        WalConfig {
            segment_bytes: 64 * 1024 * 1024,
            max_group_bytes: 8 * 1024 * 1024,
        }
    }
}

/// Where a record landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogPosition {
    /// Segment number.
    pub segment: u64,
    /// Byte offset of the record's header in the segment.
    pub offset: u64,
}

/// An append-only log whose appends resolve once durable: this crate's [`SegmentLog`], or a
/// stream on a log server (NATS JetStream, `openqoe-jetstream`).
pub trait EventLog: Send + Sync + 'static {
    /// Appends one record and resolves once it is durable (written and fsync'd, or confirmed by
    /// the log's server).
    ///
    /// # Errors
    /// [`AppendError`] when the record could not be made durable; it must not be acknowledged.
    ///
    /// # Cancel safety
    /// Not cancel safe: a dropped call may or may not have persisted, so its batch is never acked.
    fn append(
        &self,
        record: Vec<u8>,
        key: RecordKey<'_>,
    ) -> impl Future<Output = Result<LogPosition, AppendError>> + Send;
}

/// What a partitioned, de-duplicating log (JetStream) needs to know of a record, borrowed from
/// its batch: a [`SegmentLog`] keeps every record in one sequence and ignores it, so the ingest
/// path builds nothing for it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordKey<'a> {
    /// The record's view: a partitioned log keeps each view's records in one partition.
    pub view: &'a str,
    /// The view's environment, when the server stamped one.
    pub environment: Option<&'a str>,
    /// The lowest and highest `seq` of the batch's events (none: a batch of props alone).
    pub seqs: Option<(u64, u64)>,
    /// How many events the batch has.
    pub events: usize,
}

/// Why an append was not made durable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    /// Writing or syncing the segment failed.
    #[error("write-ahead log i/o: {0}")]
    Io(String),
    /// An earlier write, sync or new segment failed and no fresh segment could be opened since.
    #[error("write-ahead log unusable after an earlier failure: {0}")]
    Poisoned(String),
    /// The record is empty or larger than `MAX_RECORD_BYTES`.
    #[error("record of {0} bytes: expected 1 byte to 64 MiB")]
    RecordSize(usize),
    /// The writer thread is gone.
    #[error("write-ahead log closed")]
    Closed,
    /// The log's server did not confirm the record: no connection, no answer in time, or a
    /// refusal.
    #[error("log server did not confirm the record: {0}")]
    Unconfirmed(String),
}

/// Why the log could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct WalError {
    path: String,
    source: std::io::Error,
}

impl WalError {
    fn io(path: &Path, source: std::io::Error) -> WalError {
        WalError {
            path: path.display().to_string(),
            source,
        }
    }
}

#[cfg(test)]
mod tests;
