//! The write-ahead log record of one accepted batch, and reading it back on replay.
use openqoe_model::{Batch, BatchError, ServerTime};
use serde_json::{json, Value};

/// Why a log record could not be read back as a batch.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The record is not the JSON envelope `encode_record` writes.
    #[error("log record: expected {{\"received_at\", \"batch\"}}")]
    Envelope,
    /// The batch inside the record no longer parses.
    #[error("log record batch: {0}")]
    Batch(#[from] BatchError),
}

/// Encodes a batch with its receive time: replaying the record gives back the same batch.
pub fn encode_record(batch: &Batch) -> Vec<u8> {
    serde_json::to_vec(&json!({"received_at": batch.received_at.0, "batch": batch.to_wire_json()}))
        .expect("a JSON value always serializes")
}

/// Reads a record written by [`encode_record`].
///
/// # Errors
/// [`RecordError`] when the record is not such an envelope or its batch does not parse.
pub fn decode_record(record: &[u8]) -> Result<Batch, RecordError> {
    let envelope: Value = serde_json::from_slice(record).map_err(|_| RecordError::Envelope)?;
    let received_at = envelope
        .get("received_at")
        .and_then(Value::as_i64)
        .ok_or(RecordError::Envelope)?;
    let batch = envelope.get("batch").ok_or(RecordError::Envelope)?;
    let body = serde_json::to_vec(batch).map_err(|_| RecordError::Envelope)?;
    Ok(Batch::parse(&body, ServerTime(received_at))?)
}
