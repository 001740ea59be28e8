//! The log on NATS JetStream, for collectors and sessionizers that run apart (DESIGN §5,
//! scale-out): collectors publish each batch's record to a stream, sessionizer workers take it.
//!
//! Owns the stream's layout and the two ends of it; knows nothing of views. A record goes to
//! subject `oq.events.<partition>`, the partition a stable hash of its view id, so each view's
//! batches stay in one partition. A collector acknowledges a player's batch only once JetStream
//! acknowledged the publish ([`JetStream`] is an [`openqoe_wal::EventLog`]); the publish carries
//! `Nats-Msg-Id` (the batch's environment, view and sequence numbers), so a player's retry within
//! the stream's duplicate window is stored once. A worker takes its partitions through one
//! durable pull consumer each ([`relay_partitions`]) and acks a message to JetStream only once
//! the batch is durable in the worker's own write-ahead log: a worker killed at any point
//! resumes from its consumers, and a redelivered batch is dropped by the worker's (view id, seq)
//! de-duplication.
#![warn(missing_docs)]

mod config;
mod partition;
mod publish;
mod relay;

pub use config::LogConfig;
pub use partition::{partition_of, subject_of};
pub use publish::{connect, Forwarded, JetStream, JetStreamError};
pub use relay::{relay_partitions, RelayStats};
