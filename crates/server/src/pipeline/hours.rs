//! The store's hour files: which hours are behind, an hour's views and events as Arrow batches
//! to write, what writing them lets go, what the log must keep until they are written, and
//! loading them at start-up.
use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context;
use arrow_array::RecordBatch;
use arrow_schema::Schema;
use openqoe_model::{Event, ServerTime, ViewId};
use openqoe_store::{
    events_batch, events_by_view, file_hour, hour_file, read_event_rows, read_hour_views,
    with_view_state, ReadError, ViewBatches, PARTITION_MS,
};

use super::Pipeline;
use crate::erasure::ErasureLog;
use crate::read_back::ReadGroup;

/// One hour of ended views as Arrow batches: the `views` rows (schema, batches) and the events.
pub struct HourBatches {
    /// The views' rows.
    pub views: (Arc<Schema>, Vec<RecordBatch>),
    /// Their events: those read back from the hour's file, then those in memory.
    pub events: Vec<RecordBatch>,
}

impl Pipeline {
    /// Hours of ended views whose files are behind (ended by `settled`), with their versions.
    pub fn unwritten_hours(&self, settled: ServerTime) -> Vec<(i64, u64)> {
        let views = self.views.read();
        views.store.table().unwritten_hours(settled.0)
    }

    /// The ended views that started in hour `hour` and their events, as Arrow batches: events
    /// in memory, and those of views whose events were let go read back from the hour's file
    /// or the write-ahead log.
    ///
    /// # Errors
    /// When a batch cannot be built or released events cannot be read back.
    pub fn hour_batches(&self, hour: i64) -> anyhow::Result<HourBatches> {
        let (views_rows, resident, released) = {
            let views = self.views.read();
            let table = views.store.table().columns();
            let mut rows = ViewBatches::new(table.dimension_names().to_vec());
            let (from, to) = (ServerTime(hour), ServerTime(hour + PARTITION_MS));
            for (_, partition) in table.partitions(from, to) {
                rows.add_partition(table, partition, from, to)?;
            }
            // By view id: each run of rows in the file covers a narrow range of ids.
            let mut ended = views.store.hour_views(hour);
            ended.sort_unstable_by(|a, b| a.id.cmp(&b.id));
            let events: Vec<_> = ended
                .iter()
                .flat_map(|view| view.events.values().map(move |event| (&view.id, event)))
                .collect();
            let released = views.store.released_in(hour);
            let (schema, batches) = rows.into_parts();
            let rows = with_view_state(&schema, &batches, |id| {
                let id = ViewId::new(id).ok()?;
                views.store.get(&id).map(|stored| &stored.view)
            })?;
            (rows, events_batch(&events)?, released)
        };
        let mut events = Vec::new();
        for group in ReadGroup::split(released) {
            match &group {
                // Rows as the file has them, without decoding events.
                ReadGroup::HourFile(hour, ids) => events.extend(
                    read_event_rows(&hour_file(&self.data_dir, "events", *hour), Some(ids))
                        .context("reading back the hour's released events")?,
                ),
                ReadGroup::Log(_) => {
                    let by_view = group.read(&self.data_dir)?;
                    let mut ids: Vec<&ViewId> = by_view.keys().collect();
                    ids.sort_unstable();
                    let rows: Vec<(&ViewId, &Event)> = ids
                        .into_iter()
                        .flat_map(|id| by_view[id].iter().map(move |event| (id, event)))
                        .collect();
                    events.push(events_batch(&rows)?);
                }
            }
        }
        events.push(resident);
        Ok(HourBatches {
            views: views_rows,
            events,
        })
    }

    /// Server clock of the oldest batch that no hour file holds — of a live view, of an ended
    /// one not written since, or held back — (`None`: they all are): the write-ahead log is
    /// needed from there on.
    pub fn log_needed_since(&self) -> Option<ServerTime> {
        let views = self.views.read();
        let live = views
            .sessionizer
            .live_views()
            .map(|view| view.first_received_at)
            .min();
        let pending = views.pending.iter().map(|batch| batch.received_at).min();
        live.into_iter()
            .chain(views.store.unwritten_since())
            .chain(pending)
            .min()
    }

    /// Hour `hour`'s version now (`None`: no ended view ever started in it).
    pub fn hour_version(&self, hour: i64) -> Option<u64> {
        self.views.read().store.hour_version(hour)
    }

    /// Records that hour `hour`'s files hold its rows as of `version`, and lets its views'
    /// events go from memory if nothing changed since; returns how many events were let go.
    pub fn written(&self, hour: i64, version: u64) -> usize {
        let released = {
            let mut views = self.views.write();
            views.store.mark_written(hour, version);
            let released = views.store.release_hour(hour);
            self.gauges.hours_written.inc();
            self.gauges.refresh(&views);
            released
        };
        // Freed here, with ingest free to go on.
        released.iter().map(|events| events.len()).sum()
    }

    /// Loads every hour the data directory has files for, oldest first (their events leave
    /// memory again once measured), less the views `erasures` erased (their hours are then
    /// written again); returns the hours and views loaded.
    ///
    /// # Errors
    /// When an hour file cannot be read.
    pub fn load_hours(&self, erasures: &ErasureLog) -> anyhow::Result<(usize, usize)> {
        let data_dir = &self.data_dir;
        let mut views = self.views.write();
        let mut hours = BTreeMap::new();
        if let Ok(dates) = std::fs::read_dir(data_dir.join("views")) {
            for date in dates.flatten() {
                for file in std::fs::read_dir(date.path())?.flatten() {
                    if let Some(hour) = file_hour(&file.path()) {
                        hours.insert(hour, file.path());
                    }
                }
            }
        }
        let mut loaded = 0;
        for (hour, path) in &hours {
            let mut held = match read_hour_views(path) {
                Ok(held) => held,
                // Written before views files carried their state: the log still holds the hour.
                Err(ReadError::Column(column)) => {
                    tracing::warn!(file = %path.display(), column, "hour file without view state; its views come from the log");
                    continue;
                }
                Err(e) => return Err(e).with_context(|| format!("loading {}", path.display())),
            };
            let events_path = hour_file(data_dir, "events", *hour);
            let rows = read_event_rows(&events_path, None)
                .with_context(|| format!("loading {}", events_path.display()))?;
            let mut events = events_by_view(&rows)
                .with_context(|| format!("loading {}", events_path.display()))?;
            for (_, view) in &mut held {
                view.restore_events(events.remove(&view.id).unwrap_or_default());
                views.note_dimensions(view.props.names().iter());
            }
            held.retain(|(_, view)| !view.events.is_empty());
            loaded += held.len();
            let (_, duplicates) = views.store.load_hour(*hour, held);
            if duplicates > 0 {
                tracing::warn!(file = %path.display(), duplicates, "views in an earlier hour file too: the earlier copy kept");
            }
        }
        drop(views);
        let forgotten = self.forget_erased(erasures);
        if forgotten > 0 {
            tracing::warn!(
                views = forgotten,
                "erased views were still in hour files: those hours are written again"
            );
        }
        Ok((hours.len(), loaded.saturating_sub(forgotten)))
    }
}
