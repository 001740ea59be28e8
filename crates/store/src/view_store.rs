//! [`ViewStore`]: ended views with their metrics and table rows, where each one's events are,
//! and when they leave memory (after the hold, or once their hour's files hold them).
use std::collections::{HashMap, VecDeque};

use openqoe_metrics::{compute, Measure, MinuteCounts, ViewMetrics, ViewMinutes};
use openqoe_model::{Batch, Event, LoggedAt, Merged, Seq, ServerTime, View, ViewId};

use crate::table::{ViewTable, PARTITION_MS};

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
            .columns()
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
            .columns()
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

    /// Forgets ended view `id` and its row (a viewer's data erased): its hour's files are then
    /// behind, and written again without it. Returns the row's hour, or `None` when no such
    /// view is stored (`Some(None)`: stored without a row, never started).
    pub fn remove(&mut self, id: &ViewId) -> Option<Option<i64>> {
        let stored = self.ended.remove(id)?;
        if let Some(released) = stored.view.released {
            self.released_events -= released.events;
        }
        Some(self.table.remove(id))
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
