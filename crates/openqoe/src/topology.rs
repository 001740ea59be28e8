//! Wires the stages: collect → wal → sessionize → metrics → store → query, in one process.
//!
//! Stages never call each other; this file hands each the handles it needs. The one shared piece
//! of state is [`Views`] (live views in the sessionizer, ended ones in the store) behind a lock:
//! ingest writes to it once a batch is durable, queries read it.
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use arrow_array::RecordBatch;
use arrow_schema::Schema;
use openqoe_collect::{decode_record, CollectStats, DurableBatches, Ingest};
use openqoe_metrics::{
    regroup_minutes, view_minutes, Measure, MinuteCounts, ViewMetrics, ViewMinutes,
};
use openqoe_model::{Batch, Event, LoggedAt, ServerTime, View, ViewId};
use openqoe_query::ViewSource;
use openqoe_sessionize::Sessionizer;
use openqoe_store::{
    events_batch, events_by_view, file_hour, hour_file, read_event_rows, read_hour_views,
    with_view_state, EventsAt, Hold, ReadError, ReleasedEvents, ViewBatches, ViewStore, ViewTable,
    PARTITION_MS,
};
use openqoe_wal::{ReplayReport, SegmentLog};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::alerting::Alerting;
use crate::config::Config;
use crate::persist::Persistence;
use crate::read_back::{read_view_events, ReadGroup};
use crate::steering::Steering;

/// Every view the process knows, live and ended.
struct Views {
    sessionizer: Sessionizer,
    /// Live views' measures, kept current batch by batch (a live view may keep no events).
    /// Boxed: a hash table's spare slots then cost a pointer, not a measure.
    measures: HashMap<ViewId, Box<Measure>>,
    store: ViewStore,
    /// Dimension names seen in any view's props.
    dimensions: BTreeSet<String>,
    /// Server time of the last idle/stall expiry pass.
    expired_at: ServerTime,
    /// Late batches of views whose events could not be read back from their hour file: applied
    /// once they can be (the log keeps them meanwhile: see [`Pipeline::log_needed_since`]).
    pending: Vec<Batch>,
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
    /// No view yet, kept as `config` says.
    fn new(config: &Config) -> Views {
        Views {
            sessionizer: Sessionizer::new(config.sessionize.clone()),
            measures: HashMap::new(),
            store: ViewStore::holding(hold(config)),
            dimensions: BTreeSet::new(),
            expired_at: ServerTime(0),
            pending: Vec::new(),
        }
    }

    /// Applies one durable batch: to its ended view if it has one (late events), else to the
    /// sessionizer, measuring the live view's new events; views that end go to the store. A
    /// live view whose batches are all in the log then lets its events go: they are returned,
    /// to be freed outside the lock.
    fn apply(&mut self, batch: Batch) -> Option<ReleasedEvents> {
        self.note_dimensions(batch.view.props.keys());
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
    fn released_to(&self, id: &ViewId) -> Option<EventsAt> {
        self.store.released_to(id).or_else(|| {
            let view = self.sessionizer.view(id)?;
            view.released?;
            Some(EventsAt::Log(view.logged.clone()?))
        })
    }

    /// The metrics of live `view`, from its measure (cached in `cache` until it changes).
    fn live_metrics(&self, view: &View, cache: &LiveMetrics) -> Arc<ViewMetrics> {
        cache.of(view, || match self.measures.get(&view.id) {
            Some(measure) => measure.metrics(view),
            None => openqoe_metrics::compute(view),
        })
    }

    /// Holds `batch` back: its view's events could not be read back (`error`).
    fn hold_back(&mut self, batch: Batch, error: &anyhow::Error) {
        tracing::error!(error = format!("{error:#}"), view = %batch.view.id, "late batch held back: its view's events cannot be read back");
        self.pending.push(batch);
    }

    /// Records dimension names seen in props.
    fn note_dimensions<'n>(&mut self, names: impl Iterator<Item = &'n String>) {
        for name in names {
            if !self.dimensions.contains(name) {
                self.dimensions.insert(name.clone());
            }
        }
    }

    /// Stored and live views with time in `[from, to)`.
    fn touching(&self, from: ServerTime, to: ServerTime) -> impl Iterator<Item = &View> {
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
    fn expire(&mut self, now: ServerTime) -> Vec<ReleasedEvents> {
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
pub(crate) struct ServerViews(Views);

impl ServerViews {
    /// No view yet, kept as `config` says.
    pub(crate) fn new(config: &Config) -> ServerViews {
        ServerViews(Views::new(config))
    }

    /// Applies a durable batch as the server does. A batch that needs a view's events back from
    /// the log is held back (there is no log here).
    pub(crate) fn apply(&mut self, batch: Batch) {
        match self.0.route(&batch) {
            Route::Apply => drop(self.0.apply(batch)),
            Route::Covered => {}
            Route::ReadBack(..) => {
                let error = anyhow::anyhow!("no log to read back from");
                self.0.hold_back(batch, &error);
            }
        }
    }

    /// How many views are live.
    pub(crate) fn live_count(&self) -> usize {
        self.0.sessionizer.live_count()
    }

    /// How many batches were held back.
    pub(crate) fn held_back(&self) -> usize {
        self.0.pending.len()
    }
}

/// Metrics of live views as last computed, recomputed only for a view that changed since: a
/// dashboard polling breakdowns must not recompute every live view under the views lock each
/// time (that held up ingest; `openqoe bench freshness`).
#[derive(Default)]
struct LiveMetrics {
    by_view: Mutex<HashMap<ViewId, CachedMetrics>>,
}

/// A live view's revision (batches merged) and its metrics then.
type CachedMetrics = (u64, Arc<ViewMetrics>);

impl LiveMetrics {
    /// The metrics of live `view`, computed by `measure` only if it changed since last asked.
    fn of(&self, view: &View, measure: impl FnOnce() -> ViewMetrics) -> Arc<ViewMetrics> {
        let mut by_view = self.by_view.lock().expect("live metrics lock poisoned");
        match by_view.get_mut(&view.id) {
            Some((revision, metrics)) if *revision == view.revision => Arc::clone(metrics),
            _ => {
                let metrics = Arc::new(measure());
                by_view.insert(view.id.clone(), (view.revision, Arc::clone(&metrics)));
                metrics
            }
        }
    }

    /// Forgets views that are no longer live, once they could outnumber the live ones.
    fn retain_live(&self, sessionizer: &Sessionizer) {
        let mut by_view = self.by_view.lock().expect("live metrics lock poisoned");
        if by_view.len() > 2 * sessionizer.live_count() + 1_024 {
            by_view.retain(|id, _| sessionizer.view(id).is_some());
        }
    }
}

/// One hour of ended views as Arrow batches: the `views` rows (schema, batches) and the events.
pub struct HourBatches {
    /// The views' rows.
    pub views: (Arc<Schema>, Vec<RecordBatch>),
    /// Their events: those read back from the hour's file, then those in memory.
    pub events: Vec<RecordBatch>,
}

/// With no batch for this long, the detection clock follows the wall clock.
const IDLE_CLOCK_MS: i64 = 120_000;
/// A view with a batch this recent (wall clock) is sending now and sets the detection clock.
const SENDING_MS: i64 = 10_000;

/// One minute's views for detection: each view's dimension values and counts in the minute.
pub type MinuteViews = Vec<(Vec<Option<String>>, MinuteCounts)>;

/// The shared view state plus the gauges that describe it.
pub struct Pipeline {
    views: RwLock<Views>,
    live_metrics: LiveMetrics,
    active_views: Gauge,
    ended_views: Gauge,
    released_events: Gauge,
    held_back_batches: Gauge,
    hours_written: Counter,
    /// Newest event time delivered (server clock), and the wall time of that delivery.
    newest_event_at: AtomicI64,
    delivered_at: AtomicI64,
    /// Where the hour files are: events let go from memory are read back from them.
    data_dir: PathBuf,
}

impl Pipeline {
    /// Applies late batches held back because their views' events could not be read back.
    pub fn retry_pending(&self) {
        let pending = {
            let mut views = self.views.write().expect("views lock poisoned");
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
    fn apply_durable(&self, batch: Batch) {
        // Where the events were read from (and the hour's version then), and the events.
        type ReadBack = ((EventsAt, Option<u64>), Vec<Event>);
        let mut read: Option<ReadBack> = None;
        loop {
            let mut views = self.views.write().expect("views lock poisoned");
            match views.route(&batch) {
                Route::Covered => return,
                Route::Apply => {}
                Route::ReadBack(at, version) => match read.take() {
                    Some((read_from, events)) if read_from == (at.clone(), version) => {
                        views.restore(&batch.view.id, events, batch.received_at);
                    }
                    _ => {
                        drop(views);
                        match read_view_events(&self.data_dir, &batch.view.id, at.clone()) {
                            Ok(events) => {
                                read = Some(((at, version), events));
                                continue;
                            }
                            Err(e) => {
                                let mut views = self.views.write().expect("views lock poisoned");
                                views.hold_back(batch, &e);
                                self.refresh_gauges(&views);
                                return;
                            }
                        }
                    }
                },
            }
            let let_go = views.apply(batch);
            self.refresh_gauges(&views);
            drop(views);
            // Freed here, with ingest free to go on.
            drop(let_go);
            return;
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
                let views = self.views.read().expect("views lock poisoned");
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

    /// Calls `each` with every view, live or ended, with time in `[from, to)` (`from` a
    /// multiple of `bucket_ms`), and its counts in buckets of `bucket_ms`: made from its events
    /// in memory or its counts kept in memory under the lock, then from events read back.
    fn each_counted(
        &self,
        from: ServerTime,
        to: ServerTime,
        bucket_ms: i64,
        each: &mut dyn FnMut(&View, ViewMinutes),
    ) {
        let mut released = Vec::new();
        {
            let views = self.views.read().expect("views lock poisoned");
            let hold = views.store.hold().copied();
            // Whole buckets from `from` on are made of kept minutes only.
            let regrouped = |kept_from: ServerTime, minutes: &[(ServerTime, MinuteCounts)]| {
                (from >= kept_from && hold.is_some_and(|hold| bucket_ms % hold.minute_ms == 0))
                    .then(|| regroup_minutes(minutes, bucket_ms))
            };
            for view in views.touching(from, to) {
                if view.released.is_none() {
                    each(view, view_minutes(view, bucket_ms));
                    continue;
                }
                let kept = match views.store.get(&view.id) {
                    Some(_) => views
                        .store
                        .recent_counts(&view.id)
                        .and_then(|(kept_from, minutes)| regrouped(kept_from, minutes)),
                    // A live view that keeps no events: its measure counts its last minutes.
                    None => views
                        .measures
                        .get(&view.id)
                        .and_then(|measure| measure.minutes(view))
                        .and_then(|(kept_from, minutes)| regrouped(kept_from, &minutes)),
                };
                match (kept, views.released_to(&view.id)) {
                    (Some(minutes), _) => each(view, minutes),
                    (None, Some(at)) => released.push((view.id.clone(), at)),
                    (None, None) => {}
                }
            }
        }
        self.each_restored(released, &mut |view, _| {
            each(&view, view_minutes(&view, bucket_ms));
        });
    }

    fn refresh_gauges(&self, views: &Views) {
        self.active_views.set(views.sessionizer.live_count() as i64);
        self.ended_views.set(views.store.len() as i64);
        self.released_events
            .set((views.store.released_events() + views.sessionizer.released_events()) as i64);
        self.held_back_batches.set(views.pending.len() as i64);
    }

    /// The clock detection judges by: how far the viewers sending now have got — the 5th
    /// percentile, over live views with a batch in the last ten seconds, of their newest event
    /// time (so a viewer whose batches lag holds minutes open, and a few stuck devices do not);
    /// the newest event time when no view is that recent; `now` once no batch has arrived for
    /// two minutes. Never ahead of `now`.
    pub fn event_clock(&self, now: ServerTime) -> ServerTime {
        let newest = self.newest_event_at.load(Ordering::Relaxed);
        let delivered = self.delivered_at.load(Ordering::Relaxed);
        if newest == 0 || now.0 - delivered > IDLE_CLOCK_MS {
            return now;
        }
        let mut frontiers: Vec<i64> = {
            let views = self.views.read().expect("views lock poisoned");
            views
                .sessionizer
                .live_views()
                .filter(|v| now.0 - v.last_received_at.0 <= SENDING_MS)
                .filter_map(|v| v.last_event().map(|e| e.at.0))
                .collect()
        };
        let clock = if frontiers.is_empty() {
            newest
        } else {
            let rank = frontiers.len() / 20;
            *frontiers.select_nth_unstable(rank).1
        };
        ServerTime(clock.min(now.0))
    }

    /// The oldest view start known.
    pub fn earliest_event(&self) -> Option<ServerTime> {
        let views = self.views.read().expect("views lock poisoned");
        let stored = views.store.iter().filter_map(|s| s.view.started_at());
        let live = views
            .sessionizer
            .live_views()
            .filter_map(|v| v.started_at());
        stored.chain(live).min()
    }

    /// Every view's counts in each minute from `from` to `to` (minute starts, epoch ms).
    pub fn minutes(
        &self,
        from: ServerTime,
        to: ServerTime,
        dimensions: &[String],
    ) -> BTreeMap<i64, MinuteViews> {
        let mut minutes: BTreeMap<i64, MinuteViews> = BTreeMap::new();
        self.each_counted(from, to, 60_000, &mut |view, counted| {
            let values: Vec<Option<String>> =
                dimensions.iter().map(|d| view.dimension(d)).collect();
            for (minute, counts) in counted {
                if minute >= from && minute < to {
                    minutes
                        .entry(minute.0)
                        .or_default()
                        .push((values.clone(), counts));
                }
            }
        });
        minutes
    }

    /// Each view's counts over `[from, to)` in `bucket_ms` buckets (a view counts if any bucket
    /// starting in the range holds something of it), with its values of `dimensions`.
    pub fn window(
        &self,
        from: ServerTime,
        to: ServerTime,
        bucket_ms: i64,
        dimensions: &[String],
    ) -> MinuteViews {
        let mut window = MinuteViews::new();
        self.each_counted(from, to, bucket_ms, &mut |view, counted| {
            let mut sum: Option<MinuteCounts> = None;
            for (bucket, counts) in counted {
                if bucket >= from && bucket < to {
                    sum.get_or_insert_with(MinuteCounts::default).add(&counts);
                }
            }
            if let Some(counts) = sum {
                let values = dimensions.iter().map(|d| view.dimension(d)).collect();
                window.push((values, counts));
            }
        });
        window
    }

    /// Hours of ended views whose files are behind (ended by `settled`), with their versions.
    pub fn unwritten_hours(&self, settled: ServerTime) -> Vec<(i64, u64)> {
        let views = self.views.read().expect("views lock poisoned");
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
            let views = self.views.read().expect("views lock poisoned");
            let table = views.store.table();
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
        let views = self.views.read().expect("views lock poisoned");
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

    /// Records that hour `hour`'s files hold its rows as of `version`, and lets its views'
    /// events go from memory if nothing changed since; returns how many events were let go.
    pub fn written(&self, hour: i64, version: u64) -> usize {
        let released = {
            let mut views = self.views.write().expect("views lock poisoned");
            views.store.mark_written(hour, version);
            let released = views.store.release_hour(hour);
            self.hours_written.inc();
            self.refresh_gauges(&views);
            released
        };
        // Freed here, with ingest free to go on.
        released.iter().map(|events| events.len()).sum()
    }

    /// Forgets the ended views of every hour that ended by `cutoff`; returns how many.
    pub fn drop_before(&self, cutoff: ServerTime) -> usize {
        let mut views = self.views.write().expect("views lock poisoned");
        let dropped = views.store.drop_before(cutoff);
        self.refresh_gauges(&views);
        dropped
    }

    /// Ends idle and over-stalled views as of `now`, and lets go of the events of views that
    /// ended long enough ago (the log holds them).
    pub fn expire(&self, now: ServerTime) {
        let released = {
            let mut views = self.views.write().expect("views lock poisoned");
            let released = views.expire(now);
            self.refresh_gauges(&views);
            self.live_metrics.retain_live(&views.sessionizer);
            released
        };
        // Freed here, with ingest free to go on.
        drop(released);
    }
}

impl DurableBatches for Pipeline {
    fn remove_durable(&self, batch: &mut Batch) -> usize {
        let views = self.views.read().expect("views lock poisoned");
        let id = &batch.view.id;
        let live = views.sessionizer.view(id);
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
        before - batch.events.len()
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

impl ViewSource for Pipeline {
    fn visit_views(
        &self,
        from: ServerTime,
        to: ServerTime,
        visit: &mut dyn FnMut(&View, &ViewMetrics),
    ) {
        let views = self.views.read().expect("views lock poisoned");
        let in_range = |view: &View| view.started_at().is_some_and(|t| t >= from && t < to);
        for stored in views.store.iter().filter(|s| in_range(&s.view)) {
            visit(&stored.view, &stored.metrics);
        }
        for view in views.sessionizer.live_views().filter(|v| in_range(v)) {
            visit(view, &views.live_metrics(view, &self.live_metrics));
        }
    }

    fn views(&self, ids: &[ViewId]) -> Vec<(View, ViewMetrics)> {
        let mut found = Vec::new();
        let mut released = Vec::new();
        {
            let views = self.views.read().expect("views lock poisoned");
            for id in ids {
                if let Some(at) = views.released_to(id) {
                    released.push((id.clone(), at));
                } else if let Some(stored) = views.store.get(id) {
                    found.push((stored.view.clone(), stored.metrics.clone()));
                } else if let Some(view) = views.sessionizer.view(id) {
                    let metrics = views.live_metrics(view, &self.live_metrics);
                    found.push((view.clone(), (*metrics).clone()));
                }
            }
        }
        self.each_restored(released, &mut |view, metrics| {
            found.push((view, metrics.clone()));
        });
        found
    }

    fn dimensions(&self) -> Vec<String> {
        let views = self.views.read().expect("views lock poisoned");
        views.dimensions.iter().cloned().collect()
    }

    fn visit_tables(&self, from: ServerTime, to: ServerTime, visit: &mut dyn FnMut(&ViewTable)) {
        let views = self.views.read().expect("views lock poisoned");
        visit(views.store.table());
        // Live views change with every batch: their rows are made per query.
        let mut live = ViewTable::new();
        for view in views.sessionizer.live_views() {
            if view.started_at().is_some_and(|t| t >= from && t < to) {
                live.upsert(view, &views.live_metrics(view, &self.live_metrics));
            }
        }
        visit(&live);
    }

    fn visit_ended(&self, visit: &mut dyn FnMut(&ViewTable)) {
        let views = self.views.read().expect("views lock poisoned");
        visit(views.store.table());
    }

    fn hours(&self, from: ServerTime, to: ServerTime) -> Vec<i64> {
        let views = self.views.read().expect("views lock poisoned");
        let stored = views
            .store
            .table()
            .partitions(from, to)
            .map(|(hour, _)| hour);
        let live = views
            .sessionizer
            .live_views()
            .filter_map(|view| view.started_at())
            .filter(|t| *t >= from && *t < to)
            .map(|t| t.0.div_euclid(PARTITION_MS) * PARTITION_MS);
        let hours: BTreeSet<i64> = stored.chain(live).collect();
        hours.into_iter().collect()
    }

    fn hour_views(&self, hour: i64, from: ServerTime, to: ServerTime) -> Vec<View> {
        let in_range = |view: &View| view.started_at().is_some_and(|t| t >= from && t < to);
        let mut held = Vec::new();
        let mut released = Vec::new();
        {
            let views = self.views.read().expect("views lock poisoned");
            let in_hour = |t: ServerTime| t.0.div_euclid(PARTITION_MS) * PARTITION_MS == hour;
            let live = views
                .sessionizer
                .live_views()
                .filter(|view| view.started_at().is_some_and(in_hour));
            for view in views
                .store
                .hour_views(hour)
                .into_iter()
                .chain(live)
                .filter(|v| in_range(v))
            {
                match views.released_to(&view.id) {
                    Some(at) => released.push((view.id.clone(), at)),
                    None => held.push(view.clone()),
                }
            }
        }
        self.each_restored(released, &mut |view, _| held.push(view));
        held
    }
}

/// Loads every hour the data directory has files for into `views`, oldest first (their events
/// leave memory again once measured); returns the hours and views loaded.
fn load_hours(data_dir: &Path, views: &mut Views) -> anyhow::Result<(usize, usize)> {
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
        let mut events =
            events_by_view(&rows).with_context(|| format!("loading {}", events_path.display()))?;
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
    Ok((hours.len(), loaded))
}

/// What an ended view keeps in memory: its events for `[store] keep_ended_seconds` (none by
/// default), then its counts in steering's buckets (detection's minutes are made of them) while
/// detection (the minute the view ended in, sealed after the grace, judged at the next tick)
/// and steering (its window) may still read it, so they need not read it back.
fn hold(config: &Config) -> Hold {
    let ms = |seconds: u64| i64::try_from(seconds.saturating_mul(1_000)).unwrap_or(i64::MAX);
    let detection = 60 + config.detect.grace_seconds + 60;
    let steering =
        u64::from(config.steer.window_seconds) + u64::from(config.steer.evaluate_seconds);
    Hold {
        events_ms: ms(config.store.keep_ended_seconds),
        minute_ms: crate::steering::BUCKET_MS,
        counts_ms: ms(detection.max(steering)),
    }
}

/// The running server's parts, before it accepts connections.
pub struct Topology {
    /// The HTTP surface: ingest, query API, `/metrics`, dashboard.
    pub router: axum::Router,
    /// The shared view state (for the expiry tick).
    pub pipeline: Arc<Pipeline>,
    /// Detection and delivery (for the alerting tick).
    pub alerting: Arc<Alerting>,
    /// The store's files and retention (for its tick).
    pub persistence: Arc<Persistence>,
    /// The content-steering server, when `[steer]` names pathways (for its tick).
    pub steering: Option<Arc<Steering>>,
    /// What replaying the log found at start-up.
    pub replay: ReplayReport,
    /// Log records that could not be read back as batches.
    pub unreadable_records: u64,
}

/// Opens the log in `data_dir`, replays it into fresh views, and builds the router.
pub fn build(config: &Config, data_dir: &Path) -> anyhow::Result<Topology> {
    let mut registry = Registry::default();
    let stats = CollectStats::default();
    stats.register(&mut registry);
    let sync_seconds = Histogram::new(exponential_buckets(0.000_05, 2.0, 16));
    registry.register(
        "openqoe_wal_sync_seconds",
        "Write-ahead log group commit fsync latency",
        sync_seconds.clone(),
    );
    let group_batches = Histogram::new(exponential_buckets(1.0, 2.0, 12));
    registry.register(
        "openqoe_wal_group_batches",
        "Batches made durable by one write-ahead log fsync (group commit)",
        group_batches.clone(),
    );
    let active_views = Gauge::default();
    registry.register(
        "openqoe_active_views",
        "Views live in the sessionizer",
        active_views.clone(),
    );
    let ended_views = Gauge::default();
    registry.register(
        "openqoe_ended_views",
        "Ended views held in the store",
        ended_views.clone(),
    );

    let released_events = Gauge::default();
    registry.register(
        "openqoe_released_events",
        "Events out of memory, of live and ended views: read back from the write-ahead log, or from their hour file once written",
        released_events.clone(),
    );

    let held_back_batches = Gauge::default();
    registry.register(
        "openqoe_held_back_batches",
        "Late batches waiting because their view's events cannot be read back from its hour file",
        held_back_batches.clone(),
    );

    let hours_written = Counter::default();
    registry.register(
        "openqoe_store_hours_written",
        "Hours whose views and events files were written (again, when an hour changed); their views then read their events back from the files",
        hours_written.clone(),
    );

    let pipeline = Arc::new(Pipeline {
        live_metrics: LiveMetrics::default(),
        views: RwLock::new(Views::new(config)),
        active_views,
        ended_views,
        released_events,
        held_back_batches,
        hours_written,
        newest_event_at: AtomicI64::new(0),
        delivered_at: AtomicI64::new(0),
        data_dir: data_dir.to_owned(),
    });

    let wal_dir = data_dir.join("wal");
    std::fs::create_dir_all(&wal_dir).with_context(|| format!("creating {}", wal_dir.display()))?;
    let on_sync = Box::new(move |took: Duration, records: usize, _bytes: usize| {
        sync_seconds.observe(took.as_secs_f64());
        group_batches.observe(records as f64);
    });
    let mut unreadable_records = 0;
    let (log, replay) = {
        let mut views = pipeline.views.write().expect("views lock poisoned");
        // Settled hours come from their files; the log then adds what they do not hold.
        let (hours, loaded) = load_hours(data_dir, &mut views)?;
        if hours > 0 {
            tracing::info!(hours, views = loaded, "hour files loaded");
        }
        SegmentLog::open(&wal_dir, config.wal.clone(), on_sync, |at, record| match decode_record(record) {
            Ok(mut batch) => {
                batch.logged_at = LoggedAt::new(at.segment, at.offset);
                if let Some(newest) = batch.events.iter().map(|e| e.at.0).max() {
                    pipeline.newest_event_at.fetch_max(newest, Ordering::Relaxed);
                }
                // Replay runs the expiry rules on the log's own clock, as the live run did.
                if batch.received_at.since(views.expired_at) >= 1_000 {
                    drop(views.expire(batch.received_at));
                }
                // A logged batch its hour file does not hold yet needs the view's events back.
                match views.route(&batch) {
                    Route::Covered => return,
                    Route::Apply => {}
                    Route::ReadBack(at, _) => {
                        match read_view_events(data_dir, &batch.view.id, at) {
                            Ok(events) => {
                                views.restore(&batch.view.id, events, batch.received_at);
                            }
                            Err(e) => return views.hold_back(batch, &e),
                        }
                    }
                }
                drop(views.apply(batch));
            }
            Err(e) => {
                unreadable_records += 1;
                tracing::error!(error = %e, "write-ahead log record unreadable; its events are lost to queries");
            }
        })
        .with_context(|| format!("opening the write-ahead log in {}", wal_dir.display()))?
    };
    pipeline.expire(now());
    let replayed_until = pipeline.newest_event_at.load(Ordering::Relaxed);
    let steering =
        Steering::new(&config.steer, config.collect.country_header.clone())?.map(Arc::new);
    let alerting = Arc::new(Alerting::new(
        config,
        ServerTime(replayed_until),
        steering.clone(),
        &mut registry,
    )?);

    let ingest = Arc::new(Ingest::new(
        config.collect.clone(),
        log,
        Arc::clone(&pipeline),
        stats,
    ));
    let router = openqoe_collect::router(ingest)
        .merge(openqoe_query::router(
            Arc::clone(&pipeline),
            Arc::new(registry),
        ))
        .merge(Arc::clone(&alerting).router())
        .merge(match &steering {
            Some(steering) => Arc::clone(steering).router(),
            None => crate::steering::unconfigured_router(),
        })
        .merge(crate::sql_api::router(Arc::clone(&pipeline)))
        .merge(openqoe_dashboard::router())
        .merge(openqoe_beacon::router());
    Ok(Topology {
        router,
        persistence: Arc::new(Persistence::new(config.store.clone(), data_dir.to_owned())),
        pipeline,
        alerting,
        steering,
        replay,
        unreadable_records,
    })
}

/// The server clock.
pub fn now() -> ServerTime {
    ServerTime(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64),
    )
}

#[cfg(test)]
mod tests;
