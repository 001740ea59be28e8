//! The write-ahead log record of one accepted batch, and reading it back on replay.
//!
//! A wire-v1 batch is logged as the request body it came in (no re-encoding on the hot path;
//! when `[privacy]` changed its view header, with that header written in place of the body's
//! `view` member) after a small header: `0x02`, the receive time (i64, little-endian), the
//! length (u32, LE) of a JSON object of the props the server stamped (environment, trusted
//! country), that object, then the body. Replay parses the body as ingest did, at the same
//! receive time, and applies the stamps again; events the view already had are dropped by `seq`
//! when views merge, as they were live. Batches built by the server (CMCD event mode) are logged
//! as the JSON envelope `{"received_at", "batch"}`, which is also how every record was written
//! before the header existed, so old logs replay unchanged.
use openqoe_model::{Batch, BatchError, Props, ServerTime};
use serde_json::{json, Value};

/// First byte of a body record; a JSON envelope starts with `{`.
const BODY_RECORD: u8 = 0x02;
/// Bytes before the stamps: tag, receive time, stamps length.
const HEADER_BYTES: usize = 1 + 8 + 4;

/// Why a log record could not be read back as a batch.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The record is neither a body record nor the JSON envelope `encode_record` writes.
    #[error("log record: expected a body record or {{\"received_at\", \"batch\"}}")]
    Envelope,
    /// The batch inside the record no longer parses.
    #[error("log record batch: {0}")]
    Batch(#[from] BatchError),
}

/// Encodes a batch the server built with its receive time: replaying the record gives back the
/// same batch.
pub fn encode_record(batch: &Batch) -> Vec<u8> {
    serde_json::to_vec(&json!({"received_at": batch.received_at.0, "batch": batch.to_wire_json()}))
        .expect("a JSON value always serializes")
}

/// Encodes a wire-v1 request body as received, with its receive time and the props the server
/// stamped on its view.
pub fn encode_body_record(received_at: ServerTime, stamps: &Props, body: &[u8]) -> Vec<u8> {
    let stamps = serde_json::to_vec(stamps).expect("a JSON map always serializes");
    let mut record = Vec::with_capacity(HEADER_BYTES + stamps.len() + body.len());
    record.push(BODY_RECORD);
    record.extend_from_slice(&received_at.0.to_le_bytes());
    record.extend_from_slice(&(stamps.len() as u32).to_le_bytes());
    record.extend_from_slice(&stamps);
    record.extend_from_slice(body);
    record
}

/// Reads a record written by [`encode_body_record`] or [`encode_record`].
///
/// # Errors
/// [`RecordError`] when the record is neither or its batch does not parse.
pub fn decode_record(record: &[u8]) -> Result<Batch, RecordError> {
    if record.first() == Some(&BODY_RECORD) {
        return decode_body_record(record);
    }
    let envelope: Value = serde_json::from_slice(record).map_err(|_| RecordError::Envelope)?;
    let received_at = envelope
        .get("received_at")
        .and_then(Value::as_i64)
        .ok_or(RecordError::Envelope)?;
    let batch = envelope.get("batch").ok_or(RecordError::Envelope)?;
    let body = serde_json::to_vec(batch).map_err(|_| RecordError::Envelope)?;
    Ok(Batch::parse(&body, ServerTime(received_at))?)
}

fn decode_body_record(record: &[u8]) -> Result<Batch, RecordError> {
    let header = record.get(..HEADER_BYTES).ok_or(RecordError::Envelope)?;
    let received_at = i64::from_le_bytes(header[1..9].try_into().expect("8 bytes"));
    let stamps_len = u32::from_le_bytes(header[9..13].try_into().expect("4 bytes")) as usize;
    let stamps_end = HEADER_BYTES
        .checked_add(stamps_len)
        .ok_or(RecordError::Envelope)?;
    let stamps = record
        .get(HEADER_BYTES..stamps_end)
        .ok_or(RecordError::Envelope)?;
    let stamps: Props = serde_json::from_slice(stamps).map_err(|_| RecordError::Envelope)?;
    let mut batch = Batch::parse(&record[stamps_end..], ServerTime(received_at))?;
    batch.view.props.extend(stamps);
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = r#"{"v":1,"key":"demo","sent_at":1000,
        "view":{"id":"v1","props":{"cdn":"cdn-a","country":"ZZ"}},
        "events":[{"seq":0,"ts":900,"type":"play_requested"}]}"#;

    #[test]
    fn a_body_record_replays_as_the_batch_ingest_saw() {
        let received = ServerTime(5_000);
        let mut live = Batch::parse(BODY.as_bytes(), received).unwrap();
        let mut stamps = Props::new();
        stamps.insert("environment".into(), json!("production"));
        stamps.insert("country".into(), json!("DE"));
        live.view.props.extend(stamps.clone());

        let replayed =
            decode_record(&encode_body_record(received, &stamps, BODY.as_bytes())).unwrap();
        assert_eq!(replayed, live);
        // The server's country wins over the body's, as it did live.
        assert_eq!(replayed.view.props["country"], json!("DE"));
    }

    #[test]
    fn envelopes_still_replay() {
        let mut batch = Batch::parse(BODY.as_bytes(), ServerTime(5_000)).unwrap();
        // The envelope never carried the write key.
        batch.key = None;
        assert_eq!(decode_record(&encode_record(&batch)).unwrap(), batch);
    }

    #[test]
    fn damaged_records_are_refused_with_a_reason() {
        let good = encode_body_record(ServerTime(1), &Props::new(), BODY.as_bytes());
        let cases: [(&str, Vec<u8>); 4] = [
            ("empty", Vec::new()),
            ("header cut", good[..5].to_vec()),
            ("stamps length past the end", {
                let mut r = good.clone();
                r[9..13].copy_from_slice(&u32::MAX.to_le_bytes());
                r
            }),
            ("body cut", good[..good.len() - 10].to_vec()),
        ];
        for (name, record) in cases {
            assert!(decode_record(&record).is_err(), "{name}");
        }
    }
}
