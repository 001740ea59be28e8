//! A viewer's data forgotten (`DELETE /v1/viewers/{id}`, `crate::erasure`): their views, live
//! and ended, with their rows and the batches held back for them; and, at start-up, the views
//! an erasure named that an hour file still held.
use std::collections::{BTreeSet, HashSet};

use openqoe_model::{ServerTime, View, ViewId};

use super::Pipeline;
use crate::erasure::ErasureLog;

/// What erasing a viewer took away.
#[derive(Debug)]
pub struct Erased {
    /// The views forgotten, live and ended.
    pub views: Vec<ViewId>,
    /// The hours whose rows changed: their files are behind until written again.
    pub hours: BTreeSet<i64>,
    /// When: the log's batches of these views received until then are never replayed.
    pub at: ServerTime,
}

impl Pipeline {
    /// Forgets every view of `viewer` (the id as stored): live views, ended views and their
    /// rows, batches held back for them.
    pub fn erase_viewer(&self, viewer: &str) -> Erased {
        let of_viewer = |view: &View| view.viewer_id.as_deref() == Some(viewer);
        let mut views = self.views.write();
        let at = ServerTime::now();
        let live: Vec<ViewId> = views
            .sessionizer
            .live_views()
            .filter(|view| of_viewer(view))
            .map(|view| view.id.clone())
            .collect();
        let ended: Vec<ViewId> = views
            .store
            .iter()
            .filter(|stored| of_viewer(&stored.view))
            .map(|stored| stored.view.id.clone())
            .collect();
        for id in &live {
            views.sessionizer.forget(id);
            views.measures.remove(id);
        }
        let mut hours = BTreeSet::new();
        for id in &ended {
            if let Some(Some(hour)) = views.store.remove(id) {
                hours.insert(hour);
            }
        }
        let erased: Vec<ViewId> = live.into_iter().chain(ended).collect();
        let named: HashSet<&ViewId> = erased.iter().collect();
        views
            .pending
            .retain(|batch| !named.contains(&batch.view.id));
        self.live_metrics.forget(&erased);
        self.gauges.refresh(&views);
        Erased {
            views: erased,
            hours,
            at,
        }
    }

    /// Forgets the ended views loaded from hour files that `erasures` erased (the process
    /// stopped between an erasure and the rewrite of their hours): those hours are written
    /// again at the next check. Returns how many.
    pub(super) fn forget_erased(&self, erasures: &ErasureLog) -> usize {
        let mut views = self.views.write();
        let named: Vec<ViewId> = views
            .store
            .iter()
            // Received after the erasure: a view's batches that came later are new data.
            .filter(|stored| erasures.erased(&stored.view.id, stored.view.last_received_at))
            .map(|stored| stored.view.id.clone())
            .collect();
        for id in &named {
            views.store.remove(id);
        }
        self.gauges.refresh(&views);
        named.len()
    }
}
