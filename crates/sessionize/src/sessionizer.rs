//! The live-view table and the calls that move views through it.
use std::collections::HashMap;

use openqoe_model::{Batch, ClientTime, EndReason, Merged, ServerTime, View, ViewEnd, ViewId};

use crate::end_rules::{ended_by_events, open_stall, timeout_at};
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
    /// Where a stall still open at the latest event began (device and server clock).
    open_stall_since: Option<(ClientTime, ServerTime)>,
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
    /// The caller routes batches of views that already ended elsewhere (the store), so a batch
    /// reaching here always belongs to a live or a new view.
    pub fn apply(&mut self, batch: Batch, ended: &mut Vec<View>) -> Merged {
        let id = batch.view.id.clone();
        let live = self.live.entry(id.clone()).or_insert_with(|| LiveView {
            view: View::new(&batch.view, batch.received_at),
            open_stall_since: None,
        });
        let merged = live.view.merge(batch);
        if let Some(end) = ended_by_events(&live.view, self.config.stall_timeout_ms) {
            let mut view = self.live.remove(&id).expect("live view present").view;
            view.end = Some(end);
            ended.push(view);
        } else {
            live.open_stall_since = open_stall(&live.view).map(|stall| (stall.ts, stall.at));
        }
        merged
    }

    /// Ends views idle for the inactivity timeout, or stalled past the stall timeout, as of `now`.
    pub fn expire(&mut self, now: ServerTime, ended: &mut Vec<View>) {
        let config = &self.config;
        let expired: Vec<(ViewId, ViewEnd)> = self
            .live
            .iter()
            .filter_map(|(id, live)| {
                let last = live.view.events.values().next_back()?;
                if let Some((_, stalled_at)) = live.open_stall_since {
                    if now.since(stalled_at) > config.stall_timeout_ms {
                        let stall = open_stall(&live.view)?;
                        return Some((
                            id.clone(),
                            timeout_at(stall, config.stall_timeout_ms, last.seq),
                        ));
                    }
                }
                (now.since(live.view.last_received_at) >= config.idle_timeout_ms).then(|| {
                    let end = ViewEnd {
                        reason: EndReason::Idle,
                        ts: last.ts,
                        at: last.at,
                        last_seq: last.seq,
                    };
                    (id.clone(), end)
                })
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
        let idle_ms = config.idle_timeout_ms;
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
