//! The sessionizer worker's end: one durable pull consumer per owned partition, each batch made
//! durable in the worker's own log before JetStream hears the ack.
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy, PullConsumer};
use async_nats::jetstream::message::{AckKind, Message};
use futures_util::StreamExt;
use openqoe_collect::{relay, CollectStats, DurableBatches, RelayError};
use openqoe_wal::EventLog;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;

use crate::{subject_of, JetStream};

/// Batches of one partition in flight at once: enough that the worker's log syncs many with
/// one fsync (group commit), as concurrent requests do.
const IN_FLIGHT_PER_PARTITION: usize = 256;

/// Counters of the relay, on `/metrics`.
#[derive(Clone, Default)]
pub struct RelayStats {
    /// Records JetStream delivered that are no batch record: ended, never delivered again.
    refused: Counter,
    /// Records the worker's log did not take: delivered again later.
    retried: Counter,
}

impl RelayStats {
    /// Registers the counters under `openqoe_jetstream_*`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "openqoe_jetstream_records_refused",
            "Records taken from JetStream that are no batch record; ended there, never delivered again",
            self.refused.clone(),
        );
        registry.register(
            "openqoe_jetstream_records_retried",
            "Records taken from JetStream that this worker's log did not take; JetStream delivers them again",
            self.retried.clone(),
        );
    }
}

/// Takes this process's partitions (`[log] own_partitions`) from the stream, one durable
/// consumer `openqoe-p<partition>` each, for
/// ever: each batch is made durable in `log` and handed to `sink` (counted in `stats` like
/// ingest), and only then acked to JetStream, which delivers again what is not acked within
/// `[log] ack_wait_seconds`. A consumer that fails is made again after a
/// second; one that exists keeps its place, so a restarted worker resumes where it acked.
pub async fn relay_partitions<L: EventLog, D: DurableBatches>(
    jetstream: JetStream,
    log: Arc<L>,
    sink: Arc<D>,
    ingest_stats: CollectStats,
    relay_stats: RelayStats,
) {
    let ack_wait = Duration::from_secs(jetstream.config.ack_wait_seconds);
    let workers = jetstream.config.owned().into_iter().map(|partition| {
        let (jetstream, log, sink) = (jetstream.clone(), Arc::clone(&log), Arc::clone(&sink));
        let (ingest_stats, relay_stats) = (ingest_stats.clone(), relay_stats.clone());
        tokio::spawn(async move {
            loop {
                let taken = take_partition(
                    &jetstream,
                    partition,
                    ack_wait,
                    &*log,
                    &*sink,
                    &ingest_stats,
                    &relay_stats,
                );
                if let Err(reason) = taken.await {
                    tracing::warn!(partition, %reason, "JetStream consumer failed; made again in 1 s");
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    });
    futures_util::future::join_all(workers).await;
}

/// Takes one partition until its consumer's message stream ends.
async fn take_partition<L: EventLog, D: DurableBatches>(
    jetstream: &JetStream,
    partition: u16,
    ack_wait: Duration,
    log: &L,
    sink: &D,
    ingest_stats: &CollectStats,
    relay_stats: &RelayStats,
) -> Result<(), String> {
    let name = &jetstream.config.stream;
    let stream =
        (jetstream.context.get_stream(name).await).map_err(|e| format!("stream {name}: {e}"))?;
    let name = format!("openqoe-p{partition}");
    let consumer: PullConsumer = stream
        .get_or_create_consumer(
            &name,
            pull::Config {
                durable_name: Some(name.clone()),
                filter_subject: subject_of(partition),
                deliver_policy: DeliverPolicy::All,
                ack_policy: AckPolicy::Explicit,
                ack_wait,
                max_ack_pending: (IN_FLIGHT_PER_PARTITION * 4) as i64,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| format!("consumer {name}: {e}"))?;
    let messages = (consumer.messages().await).map_err(|e| format!("consumer {name}: {e}"))?;
    messages
        .for_each_concurrent(IN_FLIGHT_PER_PARTITION, |message| async {
            match message {
                Ok(message) => relay_one(message, log, sink, ingest_stats, relay_stats).await,
                Err(e) => tracing::warn!(partition, error = %e, "JetStream consumer"),
            }
        })
        .await;
    Ok(())
}

/// Makes one delivered record durable here and acks it; ends a record that is no batch, and
/// asks for a record the log did not take to be delivered again.
async fn relay_one<L: EventLog, D: DurableBatches>(
    message: Message,
    log: &L,
    sink: &D,
    ingest_stats: &CollectStats,
    relay_stats: &RelayStats,
) {
    let answer = match relay(log, sink, ingest_stats, message.payload.to_vec()).await {
        Ok(()) => AckKind::Ack,
        Err(RelayError::Record(e)) => {
            relay_stats.refused.inc();
            tracing::error!(subject = %message.subject, error = %e, "record from JetStream is no batch; ended");
            AckKind::Term
        }
        Err(RelayError::Log(e)) => {
            relay_stats.retried.inc();
            tracing::warn!(error = %e, "log refused a record from JetStream; delivered again in 1 s");
            AckKind::Nak(Some(Duration::from_secs(1)))
        }
    };
    // Not acked (the connection dropped): JetStream delivers it again after ACK_WAIT, and the
    // (view id, seq) de-duplication drops what was already durable.
    if let Err(e) = message.ack_with(answer).await {
        tracing::warn!(error = %e, "ack to JetStream failed; the record will be delivered again");
    }
}
