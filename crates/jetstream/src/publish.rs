//! The collector's end: the stream as an [`EventLog`], whose append resolves once JetStream
//! acknowledged the publish.
use std::time::Duration;

use async_nats::jetstream::context::Context;
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::stream::{self, StorageType};
use openqoe_collect::{DurableBatches, NewViews, ViewsFull};
use openqoe_model::Batch;
use openqoe_wal::{AppendError, EventLog, LogPosition, RecordKey};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;

use crate::{partition_of, subject_of, LogConfig};

/// A connection to the stream: collectors append to it, workers take their partitions from it.
#[derive(Clone)]
pub struct JetStream {
    pub(crate) client: async_nats::Client,
    pub(crate) context: Context,
    /// `[log]`: the stream's name, its partitions, and this process's share of them.
    pub(crate) config: LogConfig,
    stats: PublishStats,
}

/// Counters of the publishes, on `/metrics`.
#[derive(Clone, Default)]
struct PublishStats {
    /// Records JetStream stored.
    stored: Counter,
    /// Records JetStream had already stored (a retry within the duplicate window).
    repeated: Counter,
    /// Publishes JetStream did not confirm (the batch was answered 503).
    unconfirmed: Counter,
}

/// Why the stream could not be reached or made.
#[derive(Debug, thiserror::Error)]
pub enum JetStreamError {
    /// No connection to the NATS server.
    #[error("connecting to NATS at {url}: {reason}")]
    Connect {
        /// The configured URL.
        url: String,
        /// What the client said.
        reason: String,
    },
    /// The server takes smaller messages than the largest record a collector may write.
    #[error("the NATS server takes messages of at most {server} bytes, and a batch record may be {needed} (raise max_payload in nats-server's configuration, or lower [collect] max_batch_bytes)")]
    MaxPayload {
        /// The server's `max_payload`.
        server: usize,
        /// The largest record.
        needed: usize,
    },
    /// The stream or a consumer could not be looked up or made.
    #[error("JetStream stream {stream}: {reason}")]
    Stream {
        /// The stream's name.
        stream: String,
        /// What the server said.
        reason: String,
    },
}

/// Connects to NATS, checks that it takes records of `max_record_bytes`, and makes the stream
/// when it does not exist (an existing stream keeps its settings).
///
/// # Errors
/// [`JetStreamError`] when the server cannot be reached, takes smaller messages, or refuses the
/// stream.
pub async fn connect(
    config: &LogConfig,
    max_record_bytes: usize,
) -> Result<JetStream, JetStreamError> {
    let client = async_nats::ConnectOptions::new()
        .name("openqoe")
        .connect(config.nats.as_str())
        .await
        .map_err(|e| JetStreamError::Connect {
            url: config.nats.clone(),
            reason: e.to_string(),
        })?;
    let server = client.server_info().max_payload;
    // The record's envelope and the publish's headers ride on top of the batch.
    let needed = max_record_bytes + 4 * 1024;
    if server < needed {
        return Err(JetStreamError::MaxPayload { server, needed });
    }
    let context = async_nats::jetstream::new(client.clone());
    let refused = |e: &dyn std::fmt::Display| JetStreamError::Stream {
        stream: config.stream.clone(),
        reason: e.to_string(),
    };
    context
        .get_or_create_stream(stream::Config {
            name: config.stream.clone(),
            subjects: vec!["oq.events.*".into()],
            storage: StorageType::File,
            num_replicas: config.replicas,
            duplicate_window: Duration::from_secs(config.duplicate_window_seconds),
            max_age: Duration::from_secs(config.max_age_hours * 3_600),
            ..Default::default()
        })
        .await
        .map_err(|e| refused(&e))?;
    Ok(JetStream {
        client,
        context,
        config: config.clone(),
        stats: PublishStats::default(),
    })
}

impl JetStream {
    /// Registers the publish counters under `openqoe_jetstream_*`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "openqoe_jetstream_records_stored",
            "Batch records JetStream acknowledged and stored",
            self.stats.stored.clone(),
        );
        registry.register(
            "openqoe_jetstream_records_repeated",
            "Batch records JetStream acknowledged as already stored (a retry within the stream's duplicate window)",
            self.stats.repeated.clone(),
        );
        registry.register(
            "openqoe_jetstream_records_unconfirmed",
            "Publishes JetStream did not confirm (the batch was refused with 503 and is retried by its player)",
            self.stats.unconfirmed.clone(),
        );
    }

    /// Why the connection cannot take records now, if it cannot (for `/healthz/ready`).
    pub fn unavailable(&self) -> Option<String> {
        match self.client.connection_state() {
            async_nats::connection::State::Connected => None,
            state => Some(format!("NATS connection {state}")),
        }
    }
}

impl EventLog for JetStream {
    async fn append(
        &self,
        record: Vec<u8>,
        key: RecordKey<'_>,
    ) -> Result<LogPosition, AppendError> {
        // While disconnected the client would queue the publish and wait out its ack timeout:
        // refuse at once, so players retry later instead of holding a request for seconds.
        if let Some(reason) = self.unavailable() {
            self.stats.unconfirmed.inc();
            return Err(AppendError::Unconfirmed(reason));
        }
        let partition = partition_of(key.view, self.config.partitions);
        let mut message = PublishMessage::build().payload(record.into());
        if let Some(id) = repeat_id(&key) {
            message = message.message_id(id);
        }
        let unconfirmed = |e: &dyn std::fmt::Display| {
            self.stats.unconfirmed.inc();
            AppendError::Unconfirmed(e.to_string())
        };
        let ack = (self
            .context
            .send_publish(subject_of(partition), message)
            .await)
            .map_err(|e| unconfirmed(&e))?
            .await
            .map_err(|e| unconfirmed(&e))?;
        match ack.duplicate {
            true => self.stats.repeated.inc(),
            false => self.stats.stored.inc(),
        };
        Ok(LogPosition {
            segment: u64::from(partition),
            offset: ack.sequence,
        })
    }
}

/// `Nats-Msg-Id`: the same for every retry of a batch and for no other batch of its view — its
/// environment, view, lowest and highest seq and event count. None for a batch of props alone
/// (nothing identifies it, and a repeat is harmless).
fn repeat_id(key: &RecordKey<'_>) -> Option<String> {
    let (lowest, highest) = key.seqs?;
    let environment = key.environment.unwrap_or_default();
    Some(format!(
        "{environment}/{}/{lowest}-{highest}/{}",
        key.view, key.events
    ))
}

/// The sink of a collector whose sessionizers run apart: nothing stays here, the workers take
/// the batches from JetStream. It drops no repeated event (the workers do) and caps no live
/// views (it holds none).
pub struct Forwarded;

impl DurableBatches for Forwarded {
    fn remove_durable(&self, _batch: &mut Batch, _new_views: NewViews) -> Result<usize, ViewsFull> {
        Ok(0)
    }

    fn deliver(&self, _batch: Batch) {}
}
