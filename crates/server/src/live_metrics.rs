//! Live views' metrics as last computed, so that reads do not recompute them under the views lock.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use openqoe_metrics::ViewMetrics;
use openqoe_model::{View, ViewId};
use openqoe_sessionize::Sessionizer;

/// Metrics of live views as last computed, recomputed only for a view that changed since: a
/// dashboard polling breakdowns must not recompute every live view under the views lock each
/// time (that held up ingest; `openqoe bench freshness`).
#[derive(Default)]
pub(crate) struct LiveMetrics {
    by_view: Mutex<HashMap<ViewId, CachedMetrics>>,
}

/// A live view's revision (batches merged) and its metrics then.
type CachedMetrics = (u64, Arc<ViewMetrics>);

impl LiveMetrics {
    /// The metrics of live `view`, computed by `measure` only if it changed since last asked.
    pub(crate) fn of(
        &self,
        view: &View,
        measure: impl FnOnce() -> ViewMetrics,
    ) -> Arc<ViewMetrics> {
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

    /// Forgets the metrics of views erased (a view of the same id may come again).
    pub(crate) fn forget(&self, ids: &[ViewId]) {
        let mut by_view = self.by_view.lock().expect("live metrics lock poisoned");
        ids.iter().for_each(|id| {
            by_view.remove(id);
        });
    }

    /// Forgets views that are no longer live, once they could outnumber the live ones.
    pub(crate) fn retain_live(&self, sessionizer: &Sessionizer) {
        let mut by_view = self.by_view.lock().expect("live metrics lock poisoned");
        if by_view.len() > 2 * sessionizer.live_count() + 1_024 {
            by_view.retain(|id, _| sessionizer.view(id).is_some());
        }
    }
}
