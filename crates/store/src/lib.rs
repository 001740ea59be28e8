//! The embedded view store: ended views with their metrics, and the hour files they go to.
//!
//! Owns ended views only; live views belong to the sessionizer. Key decisions: every ended view
//! also has a row in [`ViewTable`] — dimensions dictionary-encoded, one column per metric, hourly
//! partitions — which aggregate queries scan. A view's events are let go from memory soon after
//! it ends when the write-ahead log holds every batch of it ([`ViewStore::release_ended`]), and
//! otherwise once its hour's files hold them ([`ViewStore::release_hour`]); what remains of such
//! a view (its props, end and metrics) answers queries, and its events are read back from where
//! they are ([`EventsAt`]) for a lookup, a late batch or a write of the hour.
#![warn(missing_docs)]

mod config;
mod events_file;
mod files;
mod readback;
mod table;
#[cfg(test)]
mod tests;
mod view_store;
mod views_file;

pub use config::{file_hour, hour_file, StoreConfig};
pub use events_file::{events_batch, events_schema, EventsWriter};
pub use files::{
    write_parquet_file, Format, WriteError, EVENT_ROWS_PER_GROUP, VIEW_ROWS_PER_GROUP,
};
pub use readback::{events_by_view, read_event_rows, read_hour_views, ReadError};
pub use table::{
    row_dimensions, row_metrics, Dictionary, Partition, ViewColumns, ViewTable, ABSENT,
    IDENTITY_DIMENSIONS, MAX_DIMENSIONS, MAX_DIMENSION_VALUES, OVERFLOW_VALUE, PARTITION_MS,
    PARTITION_ROWS,
};
pub use view_store::{EventsAt, Hold, ReleasedEvents, StoredView, ViewStore};
pub use views_file::{with_view_state, write_views, ViewBatches, ViewsWriter, STATE_COLUMNS};
