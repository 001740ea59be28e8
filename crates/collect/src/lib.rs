//! The ingest stage: `POST /v1/events` (DESIGN §4.1) and `POST /v1/cmcd` (CMCD v2 event mode),
//! from request to durable acknowledgement.
//!
//! Owns body decoding (gzip, `text/plain`, size limits), write keys, admission control, privacy
//! before storage (pseudonyms, dropped props) and (view id, seq) de-duplication. Does not own
//! views: a durable batch is handed to a [`DurableBatches`] sink that the binary wires to the
//! sessionizer.
//! Key decision: a batch is acknowledged (`202`) only after the log (the write-ahead log, or
//! JetStream on a collector that runs apart) says it is durable; a failed append is answered
//! `503` and the client retries, so an ack is a promise. A process that runs the sessionizer
//! apart takes the collectors' batches from JetStream through [`relay`].
#![warn(missing_docs)]

mod config;
mod decode;
mod error;
mod ingest;
mod quiet;
mod rate;
mod record;
mod relay;
mod stats;

pub use config::{CollectConfig, Environment};
pub use error::IngestError;
pub use ingest::{router, Accepted, DurableBatches, Ingest, NewViews, ViewsFull};
pub use rate::{client_of, RateLimit, RateScope};
pub use record::{decode_record, encode_body_record, encode_record, RecordError};
pub use relay::{relay, RelayError};
pub use stats::CollectStats;
