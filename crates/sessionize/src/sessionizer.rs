//! The live-view table and the calls that move views through it.
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use openqoe_model::{
    Batch, EndReason, Event, LoggedAt, Merged, Seq, ServerTime, SharedProps, View, ViewEnd, ViewId,
};

use crate::end_rules::{timeout_at, EndScan, StallStart};
use crate::SessionizeConfig;

/// What applying a batch did.
#[derive(Debug)]
pub struct Applied {
    /// Events new to the view, and duplicates.
    pub merged: Merged,
    /// The new events, in `seq` order, of a view that keeps none in memory (they are in the
    /// log): for the caller to measure. `None` when the view keeps them.
    pub passed: Option<Vec<Event>>,
}

/// Live views keyed by id, and the rules that end them.
#[derive(Debug)]
pub struct Sessionizer {
    config: SessionizeConfig,
    /// Boxed: a hash table's spare slots then cost a pointer, not a view.
    live: HashMap<ViewId, Box<LiveView>>,
    /// One copy of each props text, shared by the views (live and ended) that have it.
    props: SharedProps,
    /// Events of live views out of memory (in the log).
    released_events: usize,
    /// Live views by the environment they started in.
    by_environment: HashMap<Arc<str>, usize>,
}

/// Which cap on live views a new view would pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveViewsCap {
    /// The server's (`max_live_views`).
    Server,
    /// Its environment's (`max_live_views_by_environment`).
    Environment,
}

#[derive(Debug)]
struct LiveView {
    view: View,
    /// The environment it started in, as counted in [`Sessionizer::by_environment`].
    environment: Option<Arc<str>>,
    /// The end rules' reading of the view's events so far.
    scan: EndScan,
    /// The `stall_start` of a stall still open at the latest event, and when the server received
    /// it: the server-clock stall rule counts from receipt, so a device that sends late (an
    /// offline queue, a compressed simulation) is not timed out by its own delay.
    open_stall: Option<(StallStart, ServerTime)>,
}

impl LiveView {
    /// The end the server-clock rules give this view as of `now`, if any.
    fn timed_out(&self, now: ServerTime, config: &SessionizeConfig) -> Option<ViewEnd> {
        let last = self.view.last_event()?;
        if let Some((stall, received_at)) = self.open_stall {
            if now.since(received_at) > config.stall_timeout_ms {
                return Some(timeout_at(stall, config.stall_timeout_ms, last.seq));
            }
        }
        (now.since(self.view.last_received_at) >= config.idle_timeout_ms).then_some(ViewEnd {
            reason: EndReason::Idle,
            ts: last.ts,
            at: last.at,
            last_seq: last.seq,
        })
    }
}

impl Sessionizer {
    /// Creates a sessionizer with no live views.
    pub fn new(config: SessionizeConfig) -> Sessionizer {
        Sessionizer {
            config,
            live: HashMap::new(),
            props: SharedProps::default(),
            released_events: 0,
            by_environment: HashMap::new(),
        }
    }

    /// Where the live view of `batch` has its events, when it must have them back before the
    /// batch is applied: it keeps none (they are in the log, [`Sessionizer::let_go`]) and the
    /// batch does not simply continue them, or it timed out (the batch then is late).
    pub fn needs_events(&self, batch: &Batch) -> Option<&[LoggedAt]> {
        let live = self.live.get(&batch.view.id)?;
        live.view.released?;
        let continues =
            live.view.continues(batch) && live.timed_out(batch.received_at, &self.config).is_none();
        if continues {
            return None;
        }
        live.view.logged.as_deref()
    }

    /// Gives live view `id` back its events, read from the log ([`Sessionizer::needs_events`]).
    pub fn restore(&mut self, id: &ViewId, events: Vec<Event>) {
        if let Some(live) = self.live.get_mut(id) {
            self.released_events -= live.view.released.map_or(0, |released| released.events);
            live.view.restore_events(events);
        }
    }

    /// Lets go of live view `id`'s events once every batch of it is in the log and it has
    /// every `seq` from its first to its last, so that which it has stays known and the next
    /// batches can be passed on ([`Applied::passed`]). Returns them (measured by the caller
    /// already), to be freed outside any lock.
    pub fn let_go(&mut self, id: &ViewId) -> Option<BTreeMap<Seq, Event>> {
        let view = &mut self.live.get_mut(id)?.view;
        let (first, last) = (view.events.keys().next()?, view.events.keys().next_back()?);
        let every_seq = last.0 - first.0 + 1 == view.events.len() as u64;
        let events = (every_seq && view.in_log() && view.released.is_none())
            .then(|| view.release_events())?;
        self.released_events += events.len();
        Some(events)
    }

    /// Applies one durable batch to its live view, starting the view if it is new; views it ends
    /// are pushed to `ended`.
    ///
    /// A view that keeps no events takes a batch that continues them without keeping its
    /// events: they are handed back in [`Applied::passed`]. Any other batch of such a view is
    /// given back: its events must be [restored](Sessionizer::restore) first
    /// ([`Sessionizer::needs_events`]).
    ///
    /// A live view whose time had already run out when the batch arrived (idle, or stalled past
    /// the timeout, as of `received_at`) is ended first and the batch merged into it as late
    /// events, exactly as if the expiry tick had run in between: so what ends a view depends only
    /// on the log, and replay rebuilds what the live run had. The caller routes batches of views
    /// that already ended elsewhere (the store).
    pub fn apply(&mut self, batch: Batch, ended: &mut Vec<View>) -> Result<Applied, Box<Batch>> {
        if self.needs_events(&batch).is_some() {
            return Err(Box::new(batch));
        }
        let id = batch.view.id.clone();
        if let Some(end) = self
            .live
            .get(&id)
            .and_then(|live| live.timed_out(batch.received_at, &self.config))
        {
            let mut view = self.take(&id);
            view.end = Some(end);
            let merged = view.merge(batch);
            ended.push(view);
            return Ok(Applied {
                merged,
                passed: None,
            });
        }
        let received_at = batch.received_at;
        if !self.live.contains_key(&id) {
            let environment = self.count_in(environment_of(&batch));
            self.live.insert(
                id.clone(),
                Box::new(LiveView {
                    view: View::new(&batch.view, batch.received_at),
                    environment,
                    scan: EndScan::default(),
                    open_stall: None,
                }),
            );
        }
        let live = self.live.get_mut(&id).expect("inserted above");
        let timeout = self.config.stall_timeout_ms;
        let (merged, passed, end) = if live.view.released.is_some() {
            let (merged, passed) = live.view.pass(batch);
            self.released_events += passed.len();
            let end = live.scan.advance_over(&passed, timeout);
            (merged, Some(passed), end)
        } else {
            // An event new to the view before the last one the end rules read changes what
            // they read.
            if let Some(through) = live.scan.through() {
                if batch
                    .events
                    .iter()
                    .any(|e| e.seq <= through && !live.view.events.contains_key(&e.seq))
                {
                    live.scan.restart();
                }
            }
            let merged = live.view.merge(batch);
            let end = live.scan.advance(&live.view, timeout);
            (merged, None, end)
        };
        if merged.props_changed {
            self.props.share(&mut live.view.props);
        }
        if let Some(end) = end {
            let mut view = self.take(&id);
            view.end = Some(end);
            ended.push(view);
        } else {
            live.open_stall = match (live.scan.open_stall(), live.open_stall) {
                (Some(stall), Some((known, since))) if stall.seq == known.seq => {
                    Some((stall, since))
                }
                (Some(stall), _) => Some((stall, received_at)),
                (None, _) => None,
            };
        }
        Ok(Applied { merged, passed })
    }

    /// Ends views idle for the inactivity timeout, or stalled past the stall timeout, as of `now`.
    pub fn expire(&mut self, now: ServerTime, ended: &mut Vec<View>) {
        let expired: Vec<(ViewId, ViewEnd)> = self
            .live
            .iter()
            .filter_map(|(id, live)| {
                live.timed_out(now, &self.config)
                    .map(|end| (id.clone(), end))
            })
            .collect();
        for (id, end) in expired {
            if self.live.contains_key(&id) {
                let mut view = self.take(&id);
                view.end = Some(end);
                ended.push(view);
            }
        }
        // A view that never carried an event has nothing to measure: drop it once idle.
        let idle_ms = self.config.idle_timeout_ms;
        let empty: Vec<ViewId> = self
            .live
            .iter()
            .filter(|(_, live)| {
                live.view.last_event().is_none() && now.since(live.view.last_received_at) >= idle_ms
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in &empty {
            self.take(id);
        }
    }

    /// The live view with this id.
    pub fn view(&self, id: &ViewId) -> Option<&View> {
        self.live.get(id).map(|live| &live.view)
    }

    /// Every live view, in no particular order.
    pub fn live_views(&self) -> impl Iterator<Item = &View> + '_ {
        self.live.values().map(|live| &live.view)
    }

    /// Removes live view `id`, which must be live; its events out of memory are no longer
    /// counted here.
    fn take(&mut self, id: &ViewId) -> View {
        let live = self.live.remove(id).expect("live view present");
        if let Some(environment) = &live.environment {
            if let Some(count) = self.by_environment.get_mut(environment) {
                *count -= 1;
            }
        }
        let view = live.view;
        self.released_events -= view.released.map_or(0, |released| released.events);
        view
    }

    /// Counts a view starting in `environment`; returns the environment's shared name.
    fn count_in(&mut self, environment: Option<&str>) -> Option<Arc<str>> {
        let environment = environment?;
        let known = self.by_environment.get_key_value(environment);
        if let Some(name) = known.map(|(name, _)| Arc::clone(name)) {
            *self.by_environment.get_mut(environment).expect("present") += 1;
            return Some(name);
        }
        let name: Arc<str> = Arc::from(environment);
        self.by_environment.insert(Arc::clone(&name), 1);
        Some(name)
    }

    /// Forgets live view `id` (a viewer's data erased); returns whether it was live.
    pub fn forget(&mut self, id: &ViewId) -> bool {
        let live = self.live.contains_key(id);
        if live {
            self.take(id);
        }
        live
    }

    /// Events of live views out of memory (in the log).
    pub fn released_events(&self) -> usize {
        self.released_events
    }

    /// How many views are live.
    pub fn live_count(&self) -> usize {
        self.live.len()
    }

    /// Which cap a new view of `batch` would pass (`None`: it may start): the server's
    /// `max_live_views`, or its environment's.
    pub fn full_for(&self, batch: &Batch) -> Option<LiveViewsCap> {
        if self.live.len() >= self.config.max_live_views {
            return Some(LiveViewsCap::Server);
        }
        let environment = environment_of(batch)?;
        let cap = self.config.max_live_views_by_environment.get(environment)?;
        let live = self.by_environment.get(environment).copied().unwrap_or(0);
        (live >= *cap).then_some(LiveViewsCap::Environment)
    }
}

/// The environment a batch's view starts in: the server stamps it on every batch.
fn environment_of(batch: &Batch) -> Option<&str> {
    batch.view.props.get("environment")?.as_str()
}
