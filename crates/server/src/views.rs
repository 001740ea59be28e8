//! Every view the process knows, live in the sessionizer and ended in the store, and the one
//! owner of "a view whose events are out of memory": a batch for such a view gets them back
//! (from its hour file or the write-ahead log) before it is applied ([`Views::try_apply`]).
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use openqoe_metrics::{Measure, ViewMetrics};
use openqoe_model::{Batch, Event, ServerTime, View, ViewId};
use openqoe_sessionize::{SessionizeConfig, Sessionizer};
use openqoe_store::{EventsAt, Hold, ReleasedEvents, ViewStore};

use crate::config::Config;
use crate::live_metrics::LiveMetrics;

/// A view's events read back, with where they were read from (and its hour's version then).
pub(crate) type ReadEvents = ((EventsAt, Option<u64>), Vec<Event>);

/// A batch whose view's events must come back first, and where they are.
pub(crate) struct NeedsEvents {
    /// The batch, not applied.
    pub(crate) batch: Batch,
    /// Where its view's events are.
    pub(crate) at: EventsAt,
    /// The version of the view's hour when `at` was read from it.
    pub(crate) version: Option<u64>,
}

/// Every view the process knows, live and ended.
pub(crate) struct Views {
    pub(crate) sessionizer: Sessionizer,
    /// Live views' measures, kept current batch by batch (a live view may keep no events).
    /// Boxed: a hash table's spare slots then cost a pointer, not a measure.
    pub(crate) measures: HashMap<ViewId, Box<Measure>>,
    pub(crate) store: ViewStore,
    /// Dimension names seen in any view's props.
    pub(crate) dimensions: BTreeSet<String>,
    /// Server time of the last idle/stall expiry pass.
    pub(crate) expired_at: ServerTime,
    /// Late batches of views whose events could not be read back from their hour file: applied
    /// once they can be (the log keeps them meanwhile: see `Pipeline::log_needed_since`).
    pub(crate) pending: Vec<Batch>,
    /// Views that took a batch or ended since their rows were last taken, while rows are
    /// written elsewhere (ClickHouse); `None` when they are not.
    pub(crate) changed: Option<HashSet<ViewId>>,
}

/// What a durable batch needs before it is applied ([`Views::route`]).
enum Route {
    /// Nothing: it repeats what its view, whose events are out of memory, already has.
    Covered,
    /// Its view's events back from where they are (read while its hour is at version `.1`).
    ReadBack(EventsAt, Option<u64>),
    /// Nothing: applied as it is.
    Apply,
}

impl Views {
    /// No view yet: views end as `sessionize` says, ended ones keep what `hold` says.
    pub(crate) fn new(sessionize: SessionizeConfig, hold: Hold) -> Views {
        Views {
            sessionizer: Sessionizer::new(sessionize),
            measures: HashMap::new(),
            store: ViewStore::holding(hold),
            dimensions: BTreeSet::new(),
            expired_at: ServerTime(0),
            pending: Vec::new(),
            changed: None,
        }
    }

    /// Notes view `id` changed, when rows are written elsewhere.
    fn note_changed(&mut self, id: &ViewId) {
        if let Some(changed) = &mut self.changed {
            if !changed.contains(id) {
                changed.insert(id.clone());
            }
        }
    }

    /// Applies durable `batch`, the one owner of "a view whose events are out of memory": its
    /// view's events come back first, from `read` when it holds them from where they are now
    /// (read at the version [`Views::route`] gave); otherwise the batch comes back with where to
    /// read them ([`NeedsEvents`]). A batch its view already holds is dropped. Live ingest reads
    /// without the views lock and calls again; replay and benchmarks read in place
    /// ([`Views::apply_reading`]). Events a view lets go are returned, to be freed outside the lock.
    pub(crate) fn try_apply(
        &mut self,
        batch: Batch,
        read: Option<ReadEvents>,
    ) -> Result<Option<ReleasedEvents>, Box<NeedsEvents>> {
        match self.route(&batch) {
            Route::Covered => return Ok(None),
            Route::Apply => {}
            Route::ReadBack(at, version) => match read {
                Some((read_from, events)) if read_from == (at.clone(), version) => {
                    self.restore(&batch.view.id, events, batch.received_at);
                }
                // Boxed: the batch travels back on the rare path only.
                _ => return Err(Box::new(NeedsEvents { batch, at, version })),
            },
        }
        Ok(self.apply(batch))
    }

    /// Applies durable `batch`, reading its view's events with `read_back` in place when they
    /// are out of memory (replay, benchmarks); a batch whose view's events cannot be read is
    /// held back ([`Views::pending`]) rather than merged into a view missing them.
    pub(crate) fn apply_reading(
        &mut self,
        mut batch: Batch,
        read_back: &mut dyn FnMut(&ViewId, EventsAt) -> anyhow::Result<Vec<Event>>,
    ) -> Option<ReleasedEvents> {
        let mut read = None;
        loop {
            match self.try_apply(batch, read.take()) {
                Ok(let_go) => return let_go,
                Err(needs) => match read_back(&needs.batch.view.id, needs.at.clone()) {
                    Ok(events) => {
                        read = Some(((needs.at, needs.version), events));
                        batch = needs.batch;
                    }
                    Err(e) => {
                        self.hold_back(needs.batch, &e);
                        return None;
                    }
                },
            }
        }
    }

    /// Applies one durable batch whose view's events are in memory: to its ended view if it has
    /// one (late events), else to the sessionizer, measuring the live view's new events; views
    /// that end go to the store. A live view whose batches are all in the log then lets its
    /// events go: they are returned, to be freed outside the lock.
    fn apply(&mut self, batch: Batch) -> Option<ReleasedEvents> {
        self.note_dimensions(batch.view.props.keys());
        self.note_changed(&batch.view.id);
        let batch = *self.store.merge_late(batch).err()?;
        let id = batch.view.id.clone();
        let mut ended = Vec::new();
        let applied = match self.sessionizer.apply(batch, &mut ended) {
            Ok(applied) => applied,
            Err(batch) => {
                // Routed for its events first (`Views::route`): not reached.
                let error = anyhow::anyhow!("its live view's events are out of memory");
                self.hold_back(*batch, &error);
                return None;
            }
        };
        let hold = self.store.hold().copied();
        let measure = self.measures.entry(id.clone()).or_insert_with(|| {
            Box::new(match hold {
                Some(hold) => Measure::counting(hold.minute_ms, Some(hold.counts_ms)),
                None => Measure::default(),
            })
        });
        if let Some(view) = self.sessionizer.view(&id).or(ended.first()) {
            match &applied.passed {
                Some(passed) => measure.extend(view, passed),
                None => measure.advance(view),
            }
        }
        self.end(ended);
        // Kept while live too if ended views keep theirs a while (`keep_ended_seconds`).
        if hold.is_some_and(|hold| hold.events_ms == 0) {
            self.sessionizer.let_go(&id)
        } else {
            None
        }
    }

    /// Stores views that ended, with their measures.
    fn end(&mut self, ended: Vec<View>) {
        for view in ended {
            self.note_changed(&view.id);
            match self.measures.remove(&view.id) {
                Some(mut measure) => {
                    measure.advance(&view);
                    self.store.insert_measured(view, *measure);
                }
                None => self.store.insert(view),
            }
        }
    }

    /// What `batch` needs before [`Views::apply`]: one look-up for the common case (a view
    /// whose events are in memory).
    fn route(&self, batch: &Batch) -> Route {
        match self.store.released_to(&batch.view.id) {
            None => match self.sessionizer.needs_events(batch) {
                Some(records) => Route::ReadBack(EventsAt::Log(records.to_vec()), None),
                None => Route::Apply,
            },
            Some(_) if self.store.covers(batch) => Route::Covered,
            Some(at) => {
                let hour = self.store.table().hour_of(&batch.view.id);
                Route::ReadBack(at, hour.and_then(|h| self.store.hour_version(h)))
            }
        }
    }

    /// Gives view `id`, live or ended, back its events, read from where they were, for a batch
    /// received at `received_at`.
    fn restore(&mut self, id: &ViewId, events: Vec<Event>, received_at: ServerTime) {
        if self.store.get(id).is_some() {
            self.store.restore(id, events, received_at);
        } else {
            self.sessionizer.restore(id, events);
        }
    }

    /// Where view `id`'s events are while they are out of memory, live or ended.
    pub(crate) fn released_to(&self, id: &ViewId) -> Option<EventsAt> {
        self.store.released_to(id).or_else(|| {
            let view = self.sessionizer.view(id)?;
            view.released?;
            Some(EventsAt::Log(view.logged.clone()?))
        })
    }

    /// The metrics of live `view`, from its measure (cached in `cache` until it changes).
    pub(crate) fn live_metrics(&self, view: &View, cache: &LiveMetrics) -> Arc<ViewMetrics> {
        cache.of(view, || match self.measures.get(&view.id) {
            Some(measure) => measure.metrics(view),
            None => openqoe_metrics::compute(view),
        })
    }

    /// Holds `batch` back: its view's events could not be read back (`error`).
    pub(crate) fn hold_back(&mut self, batch: Batch, error: &anyhow::Error) {
        tracing::error!(error = format!("{error:#}"), view = %batch.view.id, "late batch held back: its view's events cannot be read back");
        self.pending.push(batch);
    }

    /// Records dimension names seen in props.
    pub(crate) fn note_dimensions<'n>(&mut self, names: impl Iterator<Item = &'n String>) {
        for name in names {
            if !self.dimensions.contains(name) {
                self.dimensions.insert(name.clone());
            }
        }
    }

    /// Stored and live views with time in `[from, to)`.
    pub(crate) fn touching(&self, from: ServerTime, to: ServerTime) -> impl Iterator<Item = &View> {
        let stored = self.store.iter().map(|s| &s.view);
        stored
            .chain(self.sessionizer.live_views())
            .filter(move |view| {
                view.started_at().is_some_and(|s| s < to)
                    && view.end.is_none_or(|end| end.at >= from)
            })
    }

    /// Ends idle and over-stalled views as of `now`, and lets go of the events of views ended
    /// long enough ago (returned, to be freed outside the lock).
    pub(crate) fn expire(&mut self, now: ServerTime) -> Vec<ReleasedEvents> {
        let mut ended = Vec::new();
        self.sessionizer.expire(now, &mut ended);
        self.end(ended);
        // Views dropped without an event leave their (empty) measures behind.
        if self.measures.len() > self.sessionizer.live_count() {
            let sessionizer = &self.sessionizer;
            self.measures.retain(|id, _| sessionizer.view(id).is_some());
        }
        self.expired_at = now;
        self.store.release_ended(now)
    }
}

/// The views of a server, without its log or its files: what `openqoe bench store --live`
/// measures the memory of. Batches come with where they would be in the log.
pub struct ServerViews(Views);

impl ServerViews {
    /// No view yet, kept as `config` says.
    pub fn new(config: &Config) -> ServerViews {
        ServerViews(Views::new(config.sessionize.clone(), config.hold()))
    }

    /// Applies a durable batch as the server does. A batch that needs a view's events back from
    /// the log is held back (there is no log here).
    pub fn apply(&mut self, batch: Batch) {
        let let_go = self.0.apply_reading(batch, &mut |_, _| {
            Err(anyhow::anyhow!("no log to read back from"))
        });
        drop(let_go);
    }

    /// Ends idle views and lets go of ended views' events as of `now`, as the server's expiry
    /// pass does every second.
    pub fn expire(&mut self, now: ServerTime) {
        drop(self.0.expire(now));
    }

    /// How many views ended.
    pub fn ended_count(&self) -> usize {
        self.0.store.len()
    }

    /// How many views are live.
    pub fn live_count(&self) -> usize {
        self.0.sessionizer.live_count()
    }

    /// How many batches were held back.
    pub fn held_back(&self) -> usize {
        self.0.pending.len()
    }
}
