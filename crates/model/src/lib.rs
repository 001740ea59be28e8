//! The vocabulary every openqoe stage shares: the wire v1 [`Batch`], [`Event`]s and their
//! [`EventKind`], the [`View`] they build, and the two clocks ([`ClientTime`], [`ServerTime`]).
//!
//! This crate owns parsing of the beacon wire format (DESIGN §4.1) because every stage that
//! reads a batch — ingest, WAL replay, tests — must read it the same way. It does no I/O.
//! Key decision: a batch is validated whole; one bad field rejects the batch with the JSON path
//! of that field, so nothing of a malformed batch is ever stored.
#![warn(missing_docs)]

mod batch;
mod event;
mod privacy;
mod props;
mod time;
mod view;
mod view_id;

pub use batch::{Batch, BatchError, LoggedAt, ViewHeader, ViewSpan, WIRE_VERSION};
pub use event::{Event, EventKind, Heartbeat, Rendition, Seq};
pub use privacy::{is_pseudonym, Privacy, PrivacyConfig, PrivacyConfigError};
pub use props::{dimension_text, Props, SharedProps, ViewProps};
pub use time::{ClientTime, ServerTime};
pub use view::{EndReason, LastEvent, Merged, Released, View, ViewEnd};
pub use view_id::{ViewId, ViewIdError};
