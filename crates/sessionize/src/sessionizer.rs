//! The live-view table and the calls that move views through it.
use std::collections::HashMap;

use openqoe_model::{Batch, EndReason, Merged, ServerTime, View, ViewEnd, ViewId};

use crate::end_rules::{timeout_at, EndScan, StallStart};
use crate::SessionizeConfig;

/// Live views keyed by id, and the rules that end them.
#[derive(Debug)]
pub struct Sessionizer {
    config: SessionizeConfig,
    live: HashMap<ViewId, LiveView>,
}

#[derive(Debug)]
struct LiveView {
    view: View,
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
        let last = self.view.events.values().next_back()?;
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
        }
    }

    /// Applies one durable batch to its live view, starting the view if it is new; views it ends
    /// are pushed to `ended`.
    ///
    /// A live view whose time had already run out when the batch arrived (idle, or stalled past
    /// the timeout, as of `received_at`) is ended first and the batch merged into it as late
    /// events, exactly as if the expiry tick had run in between: so what ends a view depends only
    /// on the log, and replay rebuilds what the live run had. The caller routes batches of views
    /// that already ended elsewhere (the store).
    pub fn apply(&mut self, batch: Batch, ended: &mut Vec<View>) -> Merged {
        let id = batch.view.id.clone();
        if let Some(end) = self
            .live
            .get(&id)
            .and_then(|live| live.timed_out(batch.received_at, &self.config))
        {
            let mut view = self.live.remove(&id).expect("live view present").view;
            view.end = Some(end);
            let merged = view.merge(batch);
            ended.push(view);
            return merged;
        }
        let received_at = batch.received_at;
        let live = self.live.entry(id.clone()).or_insert_with(|| LiveView {
            view: View::new(&batch.view, batch.received_at),
            scan: EndScan::default(),
            open_stall: None,
        });
        // An event new to the view before the last one the end rules read changes what they read.
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
        if let Some(end) = live.scan.advance(&live.view, self.config.stall_timeout_ms) {
            let mut view = self.live.remove(&id).expect("live view present").view;
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
        merged
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
            if let Some(live) = self.live.remove(&id) {
                let mut view = live.view;
                view.end = Some(end);
                ended.push(view);
            }
        }
        // A view that never carried an event has nothing to measure: drop it once idle.
        let idle_ms = self.config.idle_timeout_ms;
        self.live.retain(|_, live| {
            !(live.view.events.is_empty() && now.since(live.view.last_received_at) >= idle_ms)
        });
    }

    /// The live view with this id.
    pub fn view(&self, id: &ViewId) -> Option<&View> {
        self.live.get(id).map(|live| &live.view)
    }

    /// Every live view, in no particular order.
    pub fn live_views(&self) -> impl Iterator<Item = &View> + '_ {
        self.live.values().map(|live| &live.view)
    }

    /// How many views are live.
    pub fn live_count(&self) -> usize {
        self.live.len()
    }
}
