//! The process's view state, shared by ingest, queries, detection, steering and the store's
//! files: [`Views`] behind one lock, with its gauges. Ingest applies durable batches to it
//! ([`DurableBatches`]); queries read it ([`openqoe_query::ViewSource`], in `source.rs`); detection
//! and steering read counts from it (`counts.rs`); the store's files are written from it and
//! loaded into it (`hours.rs`); the log is replayed into it at start-up (`replay.rs`).
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};

use openqoe_collect::{DurableBatches, NewViews, ViewsFull};
// Fair: a writer waiting (ingest) is not starved by a query taking read holds one after another,
// as std's lock allows when the reader is on the CPU and the woken writer is not yet.
use openqoe_metrics::ViewMetrics;
use openqoe_model::{Batch, ServerTime, View, ViewId};
use openqoe_sessionize::{LiveViewsCap, SessionizeConfig};
use openqoe_store::{EventsAt, Hold};
use parking_lot::RwLock;

use crate::live_metrics::LiveMetrics;
use crate::read_back::{read_view_events, ReadGroup};
use crate::telemetry::ViewGauges;
use crate::views::Views;

pub use erase::Erased;

mod counts;
mod erase;
mod hours;
mod replay;
mod rows;
mod source;

/// The shared view state plus the gauges that describe it.
pub struct Pipeline {
    views: RwLock<Views>,
    live_metrics: LiveMetrics,
    gauges: ViewGauges,
    /// Newest event time delivered (server clock), and the wall time of that delivery.
    newest_event_at: AtomicI64,
    delivered_at: AtomicI64,
    /// Where the hour files are: events let go from memory are read back from them.
    data_dir: PathBuf,
}

impl Pipeline {
    /// No view yet: views end as `sessionize` says, ended ones keep what `hold` says; hour files
    /// and the log are in `data_dir`.
    pub fn new(
        sessionize: SessionizeConfig,
        hold: Hold,
        gauges: ViewGauges,
        data_dir: &Path,
    ) -> Pipeline {
        Pipeline {
            views: RwLock::new(Views::new(sessionize, hold)),
            live_metrics: LiveMetrics::default(),
            gauges,
            newest_event_at: AtomicI64::new(0),
            delivered_at: AtomicI64::new(0),
            data_dir: data_dir.to_owned(),
        }
    }

    /// Newest event time delivered or replayed (server clock; 0: none yet).
    pub fn newest_event_at(&self) -> ServerTime {
        ServerTime(self.newest_event_at.load(Ordering::Relaxed))
    }

    /// Applies late batches held back because their views' events could not be read back.
    pub fn retry_pending(&self) {
        let pending = {
            let mut views = self.views.write();
            std::mem::take(&mut views.pending)
        };
        pending
            .into_iter()
            .for_each(|batch| self.apply_durable(batch));
    }

    /// Applies a durable batch; a view whose events are out of memory gets them back first (read
    /// without the lock, again if they moved or its hour changed meanwhile). When they cannot
    /// be read the batch is held back ([`Views::pending`]) rather than merged into a view
    /// missing them.
    fn apply_durable(&self, mut batch: Batch) {
        let mut read = None;
        loop {
            let mut views = self.views.write();
            match views.try_apply(batch, read.take()) {
                Ok(let_go) => {
                    self.gauges.refresh(&views);
                    drop(views);
                    // Freed here, with ingest free to go on.
                    drop(let_go);
                    return;
                }
                Err(needs) => {
                    drop(views);
                    match read_view_events(&self.data_dir, &needs.batch.view.id, needs.at.clone()) {
                        Ok(events) => {
                            read = Some(((needs.at, needs.version), events));
                            batch = needs.batch;
                        }
                        Err(e) => {
                            let mut views = self.views.write();
                            views.hold_back(needs.batch, &e);
                            self.gauges.refresh(&views);
                            return;
                        }
                    }
                }
            }
        }
    }

    /// Copies of the views `released` (with where their events are) with their events read
    /// back, a group at a time (an hour file, or a share of the log: one group's copies held at
    /// once), each handed to `each` with its metrics. A view given its events back meanwhile is
    /// copied as it is, and a live view's batches logged since the read are read then; views
    /// whose events cannot be read are left out (and logged).
    fn each_restored(
        &self,
        released: Vec<(ViewId, EventsAt)>,
        each: &mut dyn FnMut(View, &ViewMetrics),
    ) {
        for group in ReadGroup::split(released) {
            let ids = group.ids();
            let mut events = match group.read(&self.data_dir) {
                Ok(events) => events,
                Err(e) => {
                    // Left out rather than shown without their events.
                    tracing::error!(
                        error = format!("{e:#}"),
                        views = ids.len(),
                        "views left out: their events cannot be read back"
                    );
                    continue;
                }
            };
            let copies: Vec<(View, ViewMetrics)> = {
                let views = self.views.read();
                ids.iter()
                    .filter_map(|id| match views.store.get(id) {
                        Some(stored) => Some((stored.view.clone(), stored.metrics.clone())),
                        None => views.sessionizer.view(id).map(|view| {
                            let metrics = views.live_metrics(view, &self.live_metrics);
                            (view.clone(), (*metrics).clone())
                        }),
                    })
                    .collect()
            };
            for (mut view, metrics) in copies {
                if view.released.is_some() {
                    let mut read = events.remove(&view.id).unwrap_or_default();
                    let since = match (&group, &view.logged) {
                        (ReadGroup::Log(views), Some(logged)) => views
                            .iter()
                            .find(|(id, _)| *id == view.id)
                            .and_then(|(_, records)| logged.get(records.len()..))
                            .filter(|since| !since.is_empty()),
                        _ => None,
                    };
                    if let Some(since) = since {
                        match read_view_events(
                            &self.data_dir,
                            &view.id,
                            EventsAt::Log(since.to_vec()),
                        ) {
                            Ok(more) => read.extend(more),
                            Err(e) => {
                                tracing::error!(error = format!("{e:#}"), view = %view.id, "view left out: its latest events cannot be read back");
                                continue;
                            }
                        }
                    }
                    view.restore_events(read);
                }
                each(view, &metrics);
            }
        }
    }

    /// Forgets the ended views of every hour that ended by `cutoff`; returns how many.
    pub fn drop_before(&self, cutoff: ServerTime) -> usize {
        let mut views = self.views.write();
        let dropped = views.store.drop_before(cutoff);
        self.gauges.refresh(&views);
        dropped
    }

    /// Ends idle and over-stalled views as of `now`, and lets go of the events of views that
    /// ended long enough ago (the log holds them).
    pub fn expire(&self, now: ServerTime) {
        let released = {
            let mut views = self.views.write();
            let released = views.expire(now);
            self.gauges.refresh(&views);
            self.live_metrics.retain_live(&views.sessionizer);
            released
        };
        // Freed here, with ingest free to go on.
        drop(released);
    }
}

impl DurableBatches for Pipeline {
    fn remove_durable(&self, batch: &mut Batch, new_views: NewViews) -> Result<usize, ViewsFull> {
        let views = self.views.read();
        let id = &batch.view.id;
        let live = views.sessionizer.view(id);
        if new_views == NewViews::Capped && live.is_none() && views.store.get(id).is_none() {
            if let Some(cap) = views.sessionizer.full_for(batch) {
                let environment = match cap {
                    LiveViewsCap::Server => None,
                    LiveViewsCap::Environment => batch
                        .view
                        .props
                        .get("environment")
                        .and_then(|e| e.as_str())
                        .map(str::to_owned),
                };
                return Err(ViewsFull { environment });
            }
        }
        let before = batch.events.len();
        // SDKs send a batch's events in `seq` order: then none repeats another.
        let in_order = batch
            .events
            .windows(2)
            .all(|pair| pair[0].seq < pair[1].seq);
        let mut seen_in_batch = BTreeSet::new();
        batch.events.retain(|event| {
            let durable = match live {
                Some(view) => view.has_event(event.seq).unwrap_or(false),
                None => views.store.has_event(id, event.seq).unwrap_or(false),
            };
            !durable && (in_order || seen_in_batch.insert(event.seq))
        });
        Ok(before - batch.events.len())
    }

    fn deliver(&self, batch: Batch) {
        if let Some(newest) = batch.events.iter().map(|e| e.at.0).max() {
            self.newest_event_at.fetch_max(newest, Ordering::Relaxed);
            self.delivered_at
                .store(batch.received_at.0, Ordering::Relaxed);
        }
        self.apply_durable(batch);
    }
}

#[cfg(test)]
mod tests;
