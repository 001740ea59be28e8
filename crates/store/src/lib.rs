//! The embedded view store: ended views with their metrics, kept in memory.
//!
//! Owns ended views only; live views belong to the sessionizer. Durability is not this crate's
//! job: the write-ahead log is the record, and the binary rebuilds this store by replaying it at
//! start-up. Key decisions: every ended view also has a row in [`ViewTable`] — dimensions
//! dictionary-encoded, one column per metric, hourly partitions — which aggregate queries scan;
//! whole views (events included) stay in memory for lookups and late events.
#![warn(missing_docs)]

mod config;
mod files;
mod table;

use std::collections::HashMap;

use openqoe_metrics::{compute, ViewMetrics};
use openqoe_model::{Batch, Merged, Seq, ServerTime, View, ViewId};

/// An ended view and its metrics, computed once when it ended (again if late events arrive).
#[derive(Debug, Clone)]
pub struct StoredView {
    /// The view.
    pub view: View,
    /// Its metrics.
    pub metrics: ViewMetrics,
}

/// Ended views by id.
#[derive(Debug, Default)]
pub struct ViewStore {
    ended: HashMap<ViewId, StoredView>,
    table: ViewTable,
}

pub use config::{file_hour, hour_file, StoreConfig};
pub use files::{
    events_batch, events_schema, write_parquet_file, write_views, EventsWriter, Format,
    ViewBatches, ViewsWriter, WriteError,
};
pub use table::{Dictionary, Partition, ViewTable, ABSENT, MAX_DIMENSIONS, PARTITION_MS};

impl ViewStore {
    /// Creates an empty store.
    pub fn new() -> ViewStore {
        ViewStore::default()
    }

    /// Stores a view that has just ended.
    pub fn insert(&mut self, view: View) {
        debug_assert!(view.is_ended(), "only ended views are stored");
        let metrics = compute(&view);
        self.table.upsert(&view, &metrics);
        self.ended
            .insert(view.id.clone(), StoredView { view, metrics });
    }

    /// Merges a late batch into its ended view and recomputes the view's metrics.
    ///
    /// Gives the batch back when no ended view has its id (it belongs to a live view).
    /// Late events with a `seq` before the view's end are measured (out-of-order delivery);
    /// later ones are kept but not measured.
    pub fn merge_late(&mut self, batch: Batch) -> Result<Merged, Box<Batch>> {
        match self.ended.get_mut(&batch.view.id) {
            Some(stored) => {
                let merged = stored.view.merge(batch);
                // New events, or new props (which metrics such as upscaling read): late batches
                // are rare, so the view is measured again every time.
                stored.metrics = compute(&stored.view);
                self.table.upsert(&stored.view, &stored.metrics);
                Ok(merged)
            }
            None => Err(Box::new(batch)),
        }
    }

    /// Whether the ended view `id` already has an event with `seq`; `None` if no such view ended.
    pub fn has_event(&self, id: &ViewId, seq: Seq) -> Option<bool> {
        self.ended
            .get(id)
            .map(|stored| stored.view.events.contains_key(&seq))
    }

    /// The ended view with this id.
    pub fn get(&self, id: &ViewId) -> Option<&StoredView> {
        self.ended.get(id)
    }

    /// Ended views that started in hour `hour` (epoch ms of its start).
    pub fn hour_views(&self, hour: i64) -> Vec<&View> {
        self.table
            .partitions(ServerTime(hour), ServerTime(hour + PARTITION_MS))
            .flat_map(|(_, partition)| partition.ids())
            .filter_map(|id| self.ended.get(id).map(|stored| &stored.view))
            .collect()
    }

    /// Records that hour `hour`'s files hold its rows as of `version`.
    pub fn mark_written(&mut self, hour: i64, version: u64) {
        self.table.mark_written(hour, version);
    }

    /// Forgets every view that started in an hour that ended at or before `cutoff` (retention);
    /// returns how many.
    pub fn drop_before(&mut self, cutoff: ServerTime) -> usize {
        let ids = self.table.drop_before(cutoff.0);
        ids.iter().for_each(|id| {
            self.ended.remove(id);
        });
        ids.len()
    }

    /// Ended views in columns, for aggregate queries.
    pub fn table(&self) -> &ViewTable {
        &self.table
    }

    /// Every ended view, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &StoredView> + '_ {
        self.ended.values()
    }

    /// How many ended views are stored.
    pub fn len(&self) -> usize {
        self.ended.len()
    }

    /// Whether no view has ended yet.
    pub fn is_empty(&self) -> bool {
        self.ended.is_empty()
    }
}
