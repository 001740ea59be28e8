//! Batches relayed from an upstream log (NATS JetStream): a collector elsewhere admitted,
//! authenticated, stamped and acknowledged them; this process makes each durable in its own log
//! and hands it to its sessionizer, like a player's batch but with none of the edge's checks.
use openqoe_wal::{AppendError, EventLog};

use crate::ingest::{Durable, NotDurable};
use crate::{decode_record, CollectStats, DurableBatches, NewViews, RecordError};

/// Why a relayed record was not applied.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The record is not one a collector writes: it never will be, so it is not retried.
    #[error("not a batch record: {0}")]
    Record(#[from] RecordError),
    /// This process's log did not take it: retried later (the upstream log keeps it).
    #[error("{0}")]
    Log(#[from] AppendError),
}

/// Makes `record` (as a collector wrote it to the upstream log) durable in `log`, then hands its
/// batch to `sink`; counts it (events new here, and those already had) in `stats` as ingest
/// does. Never refused for the live views' cap:
/// the batch was acknowledged to its player already, and refusing it would lose it.
///
/// # Errors
/// [`RelayError`] when the record does not decode or `log` does not take it.
pub async fn relay<L: EventLog, D: DurableBatches>(
    log: &L,
    sink: &D,
    stats: &CollectStats,
    record: Vec<u8>,
) -> Result<(), RelayError> {
    let batch = decode_record(&record)?;
    let stage = Durable { log, sink, stats };
    match stage.make(batch, NewViews::Uncapped, |_| record).await {
        Ok(_counted) => Ok(()),
        Err(NotDurable::Log(e)) => Err(RelayError::Log(e)),
        Err(NotDurable::ViewsFull(_)) => unreachable!("uncapped: never refused for views"),
    }
}
