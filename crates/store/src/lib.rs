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
mod files;
mod readback;
mod table;

use std::collections::{HashMap, VecDeque};

use openqoe_metrics::{compute, Measure, MinuteCounts, ViewMetrics, ViewMinutes};
use openqoe_model::{Batch, Event, LoggedAt, Merged, Seq, ServerTime, View, ViewId};

/// An ended view and its metrics, computed once when it ended (again if late events arrive).
#[derive(Debug, Clone)]
pub struct StoredView {
    /// The view.
    pub view: View,
    /// Its metrics.
    pub metrics: ViewMetrics,
    /// Server clock of the oldest batch of the view no hour file holds: its first batch, or the
    /// one that brought its events back from a file.
    unwritten_since: ServerTime,
    /// Its last minutes' counts, kept a while after its events left memory ([`Hold`]): from
    /// which minute, and the minutes.
    recent: Option<RecentCounts>,
}

/// How long an ended view whose batches are all in the write-ahead log keeps in memory what
/// the readers of its last minutes (detection, steering) need, so they need not read it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hold {
    /// Its events stay this long after its end.
    pub events_ms: i64,
    /// Then its counts in minutes of this length (readers regroup them into multiples)…
    pub minute_ms: i64,
    /// …from this long before its end, stay until this long after it.
    pub counts_ms: i64,
}

/// A view's events let go from memory ([`ViewStore::release_ended`], [`ViewStore::release_hour`]).
pub type ReleasedEvents = std::collections::BTreeMap<Seq, Event>;

/// Where an ended view's events are while they are out of memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventsAt {
    /// In the write-ahead log, at the records of its batches (its hour's files are not written
    /// since it ended).
    Log(Vec<LoggedAt>),
    /// In the events file of the hour starting at this epoch ms.
    HourFile(i64),
}

/// Ended views by id.
#[derive(Debug, Default)]
pub struct ViewStore {
    ended: HashMap<ViewId, StoredView>,
    table: ViewTable,
    /// Events of ended views out of memory (in the log or hour files).
    released_events: usize,
    /// Ended views whose events are in memory and in the log, oldest end first (nearly: a view
    /// ended by the idle rule comes in late), for [`ViewStore::release_ended`].
    unreleased: VecDeque<ViewId>,
    /// Views keeping their recent counts, in the order they were counted.
    counted: VecDeque<ViewId>,
    /// What a view whose batches are all in the log keeps, and for how long (`None`: its
    /// events stay until its hour is written).
    hold: Option<Hold>,
}

/// A view's last minutes' counts: from which minute, and the minutes.
type RecentCounts = (ServerTime, ViewMinutes);

/// Queues ended `view` for [`ViewStore::release_ended`]: to let its events go if they are in
/// memory and in the log, and to let its counts go if it was `counted` ([`measure`]).
fn queue(
    unreleased: &mut VecDeque<ViewId>,
    counted: &mut VecDeque<ViewId>,
    view: &View,
    was_counted: bool,
) {
    if view.released.is_none() && view.in_log() {
        unreleased.push_back(view.id.clone());
    }
    if was_counted {
        counted.push_back(view.id.clone());
    }
}

/// The metrics of ended `view` from `measure` (current: every measured event folded in), and
/// its last minutes' counts if its events will leave memory for the log (`hold`; `measure`
/// then counts in the hold's minutes).
fn measure(
    hold: Option<Hold>,
    view: &View,
    measure: Measure,
) -> (ViewMetrics, Option<RecentCounts>) {
    match (hold, view.end) {
        (Some(hold), Some(end)) if view.in_log() => {
            debug_assert_eq!(
                measure.minute_ms(),
                Some(hold.minute_ms),
                "counted in other minutes"
            );
            let (metrics, counted) = measure.metrics_and_minutes(view);
            let (kept_from, mut minutes) = counted.unwrap_or((ServerTime(i64::MAX), Vec::new()));
            let from = end.at.0 - hold.counts_ms;
            let from = ServerTime(from.div_euclid(hold.minute_ms) * hold.minute_ms).max(kept_from);
            minutes.retain(|(minute, _)| *minute >= from);
            (metrics, Some((from, minutes)))
        }
        _ => (measure.metrics(view), None),
    }
}

/// A measure of `view`'s events in memory, counting in the hold's minutes if there is one.
fn measure_events(hold: Option<Hold>, view: &View) -> Measure {
    let mut measure = match hold {
        Some(hold) => Measure::counting(hold.minute_ms, None),
        None => Measure::default(),
    };
    measure.advance(view);
    measure
}

pub use config::{file_hour, hour_file, StoreConfig};
pub use files::{
    events_batch, events_schema, with_view_state, write_parquet_file, write_views, EventsWriter,
    Format, ViewBatches, ViewsWriter, WriteError, EVENT_ROWS_PER_GROUP, STATE_COLUMNS,
    VIEW_ROWS_PER_GROUP,
};
pub use readback::{events_by_view, read_event_rows, read_hour_views, ReadError};
pub use table::{Dictionary, Partition, ViewTable, ABSENT, MAX_DIMENSIONS, PARTITION_MS};

impl ViewStore {
    /// Creates an empty store whose views keep their events until their hour is written.
    pub fn new() -> ViewStore {
        ViewStore::default()
    }

    /// Creates an empty store whose views let their events go as `hold` says once the log
    /// holds every batch of them ([`ViewStore::release_ended`]).
    pub fn holding(hold: Hold) -> ViewStore {
        ViewStore {
            hold: Some(hold),
            ..ViewStore::default()
        }
    }

    /// What views keep once their events go, and for how long.
    pub fn hold(&self) -> Option<&Hold> {
        self.hold.as_ref()
    }

    /// Stores a view that has just ended, with its events in memory.
    pub fn insert(&mut self, view: View) {
        let measured = measure_events(self.hold, &view);
        self.insert_measured(view, measured);
    }

    /// Stores a view that has just ended, measured as its events came (`measured`: every
    /// measured event folded in, counting in the [`Hold`]'s minutes if the store has one): its
    /// events may be out of memory already, in the log.
    pub fn insert_measured(&mut self, view: View, measured: Measure) {
        debug_assert!(view.is_ended(), "only ended views are stored");
        let (metrics, recent) = measure(self.hold, &view, measured);
        self.table.upsert(&view, &metrics);
        self.keep(view, metrics, recent);
    }

    /// Holds `view` (its row already written), in place of any earlier copy.
    fn keep(&mut self, view: View, metrics: ViewMetrics, recent: Option<RecentCounts>) {
        let unwritten_since = view.first_received_at;
        // A live view that let its events go comes with them in the log already.
        let out_of_memory = view.released.map_or(0, |released| released.events);
        queue(
            &mut self.unreleased,
            &mut self.counted,
            &view,
            recent.is_some(),
        );
        let replaced = self.ended.insert(
            view.id.clone(),
            StoredView {
                view,
                metrics,
                unwritten_since,
                recent,
            },
        );
        if let Some(released) = replaced.and_then(|stored| stored.view.released) {
            self.released_events -= released.events;
        }
        self.released_events += out_of_memory;
    }

    /// Merges a late batch into its ended view and recomputes the view's metrics.
    ///
    /// Gives the batch back when no ended view has its id (it belongs to a live view).
    /// Late events with a `seq` before the view's end are measured (out-of-order delivery);
    /// later ones are kept but not measured. A view whose events were let go is
    /// [restored](ViewStore::restore) first by the caller (from the log or a file). A view
    /// whose batches are all in the log lets its events go again at the next
    /// [`ViewStore::release_ended`].
    pub fn merge_late(&mut self, batch: Batch) -> Result<Merged, Box<Batch>> {
        let hold = self.hold;
        match self.ended.get_mut(&batch.view.id) {
            Some(stored) => {
                debug_assert!(
                    stored.view.released.is_none(),
                    "late batch for a released view"
                );
                let merged = stored.view.merge(batch);
                // New events, or new props (which metrics such as upscaling read): late batches
                // are rare, so the view is measured again every time.
                let (metrics, recent) =
                    measure(hold, &stored.view, measure_events(hold, &stored.view));
                stored.metrics = metrics;
                stored.recent = recent;
                self.table.upsert(&stored.view, &stored.metrics);
                let counted = stored.recent.is_some();
                queue(
                    &mut self.unreleased,
                    &mut self.counted,
                    &stored.view,
                    counted,
                );
                Ok(merged)
            }
            None => Err(Box::new(batch)),
        }
    }

    /// Whether the ended view `id` already has an event with `seq`; `None` if no such view
    /// ended, or its events are out of memory and which `seq`s it has is not known.
    pub fn has_event(&self, id: &ViewId, seq: Seq) -> Option<bool> {
        self.ended.get(id)?.view.has_event(seq)
    }

    /// Whether `batch` would change nothing of its ended view whose events are out of memory:
    /// the view has every event's `seq` and the header says nothing new. Such a batch (a retry,
    /// or a logged batch the hour file or the log already holds) needs no merge, so no
    /// read-back.
    pub fn covers(&self, batch: &Batch) -> bool {
        let Some(stored) = self.ended.get(&batch.view.id) else {
            return false;
        };
        let view = &stored.view;
        let Some(released) = view.released else {
            return false;
        };
        let known = |new: &Option<String>, old: &Option<String>| new.is_none() || new == old;
        let props = view.props.to_map();
        batch
            .events
            .iter()
            .all(|event| released.has(event.seq) == Some(true))
            && known(&batch.view.viewer_id, &view.viewer_id)
            && known(&batch.view.session_id, &view.session_id)
            && batch
                .view
                .props
                .iter()
                .all(|(name, value)| props.get(name) == Some(value))
    }

    /// Takes in an hour read back from its files at start-up: its views, events included, each
    /// with its row's start from the file, are stored and measured, the hour counts as written,
    /// and the events leave memory again (returned, to be freed by the caller). A view already
    /// stored (two files naming it) keeps its first copy; returns how many were skipped so.
    pub fn load_hour(
        &mut self,
        hour: i64,
        views: Vec<(i64, View)>,
    ) -> (Vec<ReleasedEvents>, usize) {
        let mut duplicates = 0;
        for (started_at, view) in views {
            if self.ended.contains_key(&view.id) {
                duplicates += 1;
                continue;
            }
            let metrics = compute(&view);
            self.table.upsert_at(&view, &metrics, started_at);
            self.keep(view, metrics, None);
        }
        if let Some(version) = self.table.version(hour) {
            self.table.mark_written(hour, version);
        }
        (self.release_hour(hour), duplicates)
    }

    /// Hour `hour`'s version (see [`ViewTable::version`]): events read back for one of its views
    /// are still the ones its file holds while this stays the same.
    pub fn hour_version(&self, hour: i64) -> Option<u64> {
        self.table.version(hour)
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

    /// As of `now`, lets go of the events of views that ended `hold.events_ms` ago and whose
    /// every batch is in the write-ahead log (they are read back from there until their hour's
    /// files hold them; their last minutes' counts were made when they were measured), and of
    /// counts past `hold.counts_ms`. Returns the events, to be freed by the caller outside any
    /// lock. Does nothing in a store made without a [`Hold`].
    pub fn release_ended(&mut self, now: ServerTime) -> Vec<ReleasedEvents> {
        let Some(hold) = self.hold else {
            return Vec::new();
        };
        let mut released = Vec::new();
        while let Some(id) = self.unreleased.front() {
            let Some(stored) = self.ended.get_mut(id) else {
                self.unreleased.pop_front();
                continue;
            };
            let Some(end) = stored.view.end else {
                self.unreleased.pop_front();
                continue;
            };
            if end.at.0 >= now.0 - hold.events_ms {
                break;
            }
            if stored.view.in_log() && stored.view.released.is_none() {
                let events = stored.view.release_events();
                self.released_events += events.len();
                released.push(events);
            }
            self.unreleased.pop_front();
        }
        while let Some(id) = self.counted.front() {
            if let Some(stored) = self.ended.get_mut(id) {
                if stored
                    .view
                    .end
                    .is_some_and(|end| end.at.0 >= now.0 - hold.counts_ms)
                {
                    break;
                }
                stored.recent = None;
            }
            self.counted.pop_front();
        }
        released
    }

    /// The last minutes' counts of ended view `id` whose events are out of memory, while kept
    /// ([`Hold`]): the first minute they cover, and the minutes.
    pub fn recent_counts(
        &self,
        id: &ViewId,
    ) -> Option<(ServerTime, &[(ServerTime, MinuteCounts)])> {
        let stored = self.ended.get(id)?;
        stored.view.released?;
        let (from, minutes) = stored.recent.as_ref()?;
        Some((*from, minutes))
    }

    /// Lets go of the events of hour `hour`'s views if its files hold every change to it (they
    /// are read back from its events file when needed). Returns them, to be freed by the caller
    /// outside any lock (freeing millions of events takes a while). Views whose events were
    /// read back from the log for the write are now read back from the file instead.
    pub fn release_hour(&mut self, hour: i64) -> Vec<ReleasedEvents> {
        if !self.table.is_written(hour) {
            return Vec::new();
        }
        let ids: Vec<ViewId> = self
            .table
            .partitions(ServerTime(hour), ServerTime(hour + PARTITION_MS))
            .flat_map(|(_, partition)| partition.ids().iter().cloned())
            .collect();
        let mut released = Vec::new();
        for id in &ids {
            if let Some(stored) = self.ended.get_mut(id) {
                // The file holds them now: the log may be cut behind it.
                stored.view.logged = None;
                let events = stored.view.release_events();
                if !events.is_empty() {
                    self.released_events += events.len();
                    released.push(events);
                }
            }
        }
        released
    }

    /// Where view `id`'s events are, while they are out of memory.
    pub fn released_to(&self, id: &ViewId) -> Option<EventsAt> {
        let view = &self.ended.get(id)?.view;
        view.released?;
        match &view.logged {
            Some(logged) => Some(EventsAt::Log(logged.clone())),
            None => self.table.hour_of(id).map(EventsAt::HourFile),
        }
    }

    /// Hour `hour`'s views whose events are out of memory, with where they are.
    pub fn released_in(&self, hour: i64) -> Vec<(ViewId, EventsAt)> {
        self.hour_views(hour)
            .into_iter()
            .filter_map(|view| Some((view.id.clone(), self.released_to(&view.id)?)))
            .collect()
    }

    /// Gives view `id` back its events, read from where they were, for a batch received at
    /// `received_at`.
    pub fn restore(&mut self, id: &ViewId, events: Vec<Event>, received_at: ServerTime) {
        if let Some(stored) = self.ended.get_mut(id) {
            if let Some(released) = stored.view.released {
                self.released_events -= released.events;
                // Read back from a file, the view is unwritten again from this batch on; from
                // the log, it has been unwritten since its first batch.
                if stored.view.logged.is_none() {
                    stored.unwritten_since = received_at;
                }
            }
            stored.view.restore_events(events);
        }
    }

    /// Server clock of the oldest batch of an ended view that no hour file holds (`None`: the
    /// files hold them all): the write-ahead log is needed from there on.
    pub fn unwritten_since(&self) -> Option<ServerTime> {
        self.ended
            .values()
            .filter(|stored| stored.view.released.is_none() || stored.view.logged.is_some())
            .map(|stored| stored.unwritten_since)
            .min()
    }

    /// Events of ended views out of memory (in the log or hour files).
    pub fn released_events(&self) -> usize {
        self.released_events
    }

    /// Forgets every view that started in an hour that ended at or before `cutoff` (retention);
    /// returns how many.
    pub fn drop_before(&mut self, cutoff: ServerTime) -> usize {
        let ids = self.table.drop_before(cutoff.0);
        for id in &ids {
            if let Some(released) = self.ended.remove(id).and_then(|s| s.view.released) {
                self.released_events -= released.events;
            }
        }
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

#[cfg(test)]
mod tests {
    use arrow_array::RecordBatch;
    use openqoe_model::{Batch, ServerTime};

    use super::*;

    /// An ended view `id` with `events` events, the first at `start` (server clock, no skew).
    fn ended_view(id: &str, start: i64, events: u64) -> View {
        let events: Vec<serde_json::Value> = (0..events)
            .map(|seq| {
                let kind = if seq + 1 == events {
                    "view_end"
                } else {
                    "heartbeat"
                };
                serde_json::json!({"seq": seq, "ts": start + seq as i64 * 1_000, "type": kind})
            })
            .collect();
        let body = serde_json::json!({"v": 1, "view": {"id": id}, "events": events});
        let batch = Batch::parse(body.to_string().as_bytes(), ServerTime(start)).unwrap();
        let mut view = View::new(&batch.view, batch.received_at);
        view.merge(batch);
        let last = view.events.values().next_back().unwrap();
        view.end = Some(openqoe_model::ViewEnd {
            reason: openqoe_model::EndReason::ViewEnd,
            ts: last.ts,
            at: last.at,
            last_seq: last.seq,
        });
        view
    }

    #[test]
    fn a_written_hour_lets_events_go_and_takes_them_back() {
        let mut store = ViewStore::new();
        let id = ViewId::new("a").unwrap();
        store.insert(ended_view("a", 1_000, 3));
        store.insert(ended_view("b", PARTITION_MS + 1_000, 2));
        let released = |store: &mut ViewStore| -> usize {
            store.release_hour(0).iter().map(ReleasedEvents::len).sum()
        };
        assert_eq!(
            released(&mut store),
            0,
            "an unwritten hour keeps its events"
        );

        assert_eq!(
            store.unwritten_since(),
            Some(ServerTime(1_000)),
            "the first batch"
        );
        let (_, version) = store.table().unwritten_hours(PARTITION_MS)[0];
        store.mark_written(0, version);
        assert_eq!(released(&mut store), 3);
        assert_eq!(released(&mut store), 0, "released once");
        assert_eq!(store.released_events(), 3);
        assert_eq!(store.released_to(&id), Some(EventsAt::HourFile(0)));
        assert_eq!(
            store.released_in(0),
            vec![(id.clone(), EventsAt::HourFile(0))]
        );
        let slim = &store.get(&id).unwrap().view;
        assert!(slim.events.is_empty());
        assert_eq!(
            slim.started_at(),
            Some(ServerTime(1_000)),
            "start stays known"
        );

        let events: Vec<Event> = ended_view("a", 1_000, 3).events.into_values().collect();
        store.restore(&id, events, ServerTime(9_000));
        assert_eq!(store.unwritten_since(), Some(ServerTime(9_000)));
        assert_eq!(store.released_to(&id), None);
        assert_eq!(store.released_events(), 0);
        assert_eq!(store.get(&id).unwrap().view.events.len(), 3);

        store.mark_written(0, version);
        store.release_hour(0);
        assert_eq!(store.drop_before(ServerTime(PARTITION_MS)), 1);
        assert_eq!(
            store.released_events(),
            0,
            "dropped views' events are not counted"
        );
    }

    /// `view` as if each of its events had come in its own logged batch.
    fn logged(mut view: View) -> View {
        let records: Vec<LoggedAt> = (0..view.events.len() as u32)
            .map(|i| LoggedAt {
                segment: 1,
                offset: i * 100,
            })
            .collect();
        view.logged = Some(records);
        view
    }

    #[test]
    fn ended_views_in_the_log_let_events_go_after_the_hold_until_their_hour_is_written() {
        let mut store = ViewStore::holding(Hold {
            events_ms: 0,
            minute_ms: 5_000,
            counts_ms: 2_000,
        });
        let a = ViewId::new("a").unwrap();
        // Ends at 1_000 + 2 s, 3_000 + 1 s and 2_000 + 3 s; "c" (an idle end, say) comes last.
        store.insert(logged(ended_view("a", 1_000, 3)));
        store.insert(logged(ended_view("b", 3_000, 2)));
        store.insert(ended_view("unlogged", 1_000, 2));
        store.insert(logged(ended_view("c", 2_000, 4)));
        let total =
            |released: Vec<ReleasedEvents>| -> usize { released.iter().map(|e| e.len()).sum() };

        assert_eq!(
            total(store.release_ended(ServerTime(3_000))),
            0,
            "none ended before"
        );
        assert_eq!(total(store.release_ended(ServerTime(3_001))), 3, "a only");
        let (from, _) = store.recent_counts(&a).expect("a's last minutes are kept");
        assert_eq!(
            from,
            ServerTime(0),
            "from 2 s before its end, in whole minutes"
        );
        assert!(
            matches!(store.released_to(&a), Some(EventsAt::Log(records)) if records.len() == 3)
        );
        assert_eq!(
            store.unwritten_since(),
            Some(ServerTime(1_000)),
            "a still needs the log"
        );
        // b ended at 4_000 and holds c back: the queue is in insertion order.
        assert_eq!(total(store.release_ended(ServerTime(4_000))), 0);
        assert_eq!(total(store.release_ended(ServerTime(10_000))), 6, "b and c");
        assert!(
            store.recent_counts(&a).is_none(),
            "kept until counts_ms after the end"
        );
        assert!(
            store.recent_counts(&ViewId::new("b").unwrap()).is_none(),
            "b let go past counts_ms: nothing to keep"
        );
        assert_eq!(
            total(store.release_ended(ServerTime(99_000))),
            0,
            "released once"
        );
        assert_eq!(store.released_events(), 9);
        assert_eq!(
            store
                .get(&ViewId::new("unlogged").unwrap())
                .unwrap()
                .view
                .events
                .len(),
            2,
            "a view not wholly in the log keeps its events until its hour is written"
        );

        // Read back from the log for a late batch: the view is unwritten since its first batch,
        // and goes back on the queue.
        let events: Vec<Event> = ended_view("a", 1_000, 3).events.into_values().collect();
        store.restore(&a, events, ServerTime(50_000));
        assert_eq!(store.released_to(&a), None);
        assert_eq!(store.unwritten_since(), Some(ServerTime(1_000)));
        let late = Batch::parse(
            br#"{"v":1,"view":{"id":"a"},"events":[{"seq":3,"ts":4000,"type":"heartbeat"}]}"#,
            ServerTime(50_000),
        )
        .map(|mut batch| {
            batch.logged_at = Some(LoggedAt {
                segment: 2,
                offset: 0,
            });
            batch
        })
        .unwrap();
        store.merge_late(late).unwrap();
        assert_eq!(total(store.release_ended(ServerTime(99_000))), 4);
        assert!(
            matches!(store.released_to(&a), Some(EventsAt::Log(records)) if records.len() == 4)
        );

        // Once the hour is written, the file holds them and the log is no longer needed.
        let (_, version) = store.table().unwritten_hours(PARTITION_MS)[0];
        store.mark_written(0, version);
        assert_eq!(
            total(store.release_hour(0)),
            2,
            "the unlogged view's events"
        );
        assert_eq!(store.released_to(&a), Some(EventsAt::HourFile(0)));
        assert_eq!(store.unwritten_since(), None);
    }

    #[test]
    fn a_loaded_hour_keeps_its_rows_starts_and_first_copies() {
        let mut store = ViewStore::new();
        // The view's first event is in the hour before: a late lower-seq event moved it after
        // its row was made; the row's start (from the file) keeps it in this hour.
        let moved = ended_view("moved", PARTITION_MS - 5_000, 4);
        let plain = ended_view("plain", PARTITION_MS + 7_000, 3);
        let (released, duplicates) = store.load_hour(
            PARTITION_MS,
            vec![
                (PARTITION_MS + 1_000, moved),
                (PARTITION_MS + 7_000, plain.clone()),
            ],
        );
        assert_eq!(duplicates, 0);
        assert_eq!(released.iter().map(ReleasedEvents::len).sum::<usize>(), 7);
        assert_eq!(
            store.table().hour_of(&ViewId::new("moved").unwrap()),
            Some(PARTITION_MS)
        );
        assert!(store.table().is_written(PARTITION_MS));
        assert_eq!(store.released_events(), 7);

        let version = store.hour_version(PARTITION_MS);
        let (_, duplicates) = store.load_hour(PARTITION_MS, vec![(PARTITION_MS + 7_000, plain)]);
        assert_eq!(duplicates, 1, "a second copy is skipped");
        assert_eq!(store.hour_version(PARTITION_MS), version);
        assert_eq!(store.released_events(), 7);
    }

    #[test]
    fn one_view_is_read_back_from_a_file_of_many_row_groups() {
        let views: Vec<View> = (0..40)
            .map(|i| ended_view(&format!("v{i:03}"), 1_000 + i * 10, 5))
            .collect();
        let events: Vec<(&ViewId, &Event)> = views
            .iter()
            .flat_map(|view| view.events.values().map(move |event| (&view.id, event)))
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.parquet");
        let batch = events_batch(&events).unwrap();
        // Groups of 7 rows: views straddle groups, and most groups hold none of the ids asked.
        write_parquet_file(&path, &events_schema(), &[batch], 7).unwrap();

        let ids: std::collections::HashSet<ViewId> = ["v000", "v017", "v039", "zzz"]
            .into_iter()
            .map(|id| ViewId::new(id).unwrap())
            .collect();
        let rows = read_event_rows(&path, Some(&ids)).unwrap();
        let back = events_by_view(&rows).unwrap();
        assert_eq!(back.len(), 3, "v000, v017 and v039; zzz is not in the file");
        for id in ["v000", "v017", "v039"] {
            let seqs: Vec<u64> = back[&ViewId::new(id).unwrap()]
                .iter()
                .map(|e| e.seq.0)
                .collect();
            assert_eq!(seqs, [0, 1, 2, 3, 4], "{id}");
        }
        let all = read_event_rows(&path, None).unwrap();
        assert_eq!(all.iter().map(RecordBatch::num_rows).sum::<usize>(), 200);
    }

    #[test]
    fn damaged_hour_files_are_refused_with_a_reason() {
        let view = ended_view("a", 5_000, 40);
        let events: Vec<(&ViewId, &Event)> = view.events.values().map(|e| (&view.id, e)).collect();
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.parquet");
        write_parquet_file(
            &good,
            &events_schema(),
            &[events_batch(&events).unwrap()],
            8,
        )
        .unwrap();
        let whole = std::fs::read(&good).unwrap();
        let mut flipped = whole.clone();
        let middle = flipped.len() / 2;
        flipped[middle..middle + 16]
            .iter_mut()
            .for_each(|b| *b ^= 0x5a);
        let cases: [(&str, Vec<u8>); 5] = [
            ("empty", Vec::new()),
            ("not parquet", b"view_id,seq\na,1\n".to_vec()),
            ("truncated", whole[..whole.len() / 2].to_vec()),
            ("footer only", whole[whole.len() - 8..].to_vec()),
            ("bytes flipped", flipped),
        ];
        for (name, bytes) in cases {
            let path = dir.path().join(format!("{name}.parquet"));
            std::fs::write(&path, bytes).unwrap();
            let read = read_event_rows(&path, None).and_then(|rows| events_by_view(&rows));
            let views = read_hour_views(&path);
            // Refused with a reason; a flip inside compressed data may also decode to other
            // text, which the event parser then refuses or keeps as text.
            if name != "bytes flipped" {
                let e = read.expect_err(name);
                assert!(!e.to_string().is_empty(), "{name}");
                assert!(views.is_err(), "{name}");
            }
        }
        let missing = read_event_rows(&dir.path().join("missing.parquet"), None).unwrap_err();
        assert!(missing.to_string().contains("missing.parquet"), "{missing}");
    }

    #[test]
    fn events_read_back_are_the_events_written() {
        let view = ended_view("a", 5_000, 4);
        let events: Vec<(&ViewId, &Event)> = view.events.values().map(|e| (&view.id, e)).collect();
        let batch = events_batch(&events).unwrap();
        let restored = events_by_view(&[batch]).unwrap();
        let back = &restored[&view.id];
        assert_eq!(back.len(), 4);
        for (original, back) in view.events.values().zip(back) {
            assert_eq!(
                (original.seq, original.ts, original.at),
                (back.seq, back.ts, back.at)
            );
            assert_eq!(original.kind, back.kind);
            assert_eq!(original.raw_json(), back.raw_json());
        }
    }
}
