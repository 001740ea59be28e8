//! What queries read: views by time and id, their tables, dimensions and hours
//! ([`ViewSource`]); views whose events are out of memory are read back, a group at a time.
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use openqoe_metrics::ViewMetrics;
use openqoe_model::{ServerTime, View, ViewId};
use openqoe_query::ViewSource;
use openqoe_store::{ViewColumns, ViewTable, PARTITION_MS};

use super::Pipeline;
use crate::views::Views;

/// How long a query holds the views' lock at most while it makes live views into rows or copies
/// views to visit.
const LIVE_HOLD: Duration = Duration::from_millis(2);

impl Pipeline {
    /// Calls `each` with the views and every id of `ids`, holding the views' read lock for
    /// [`LIVE_HOLD`] of work at a time, so ingest waits that long at most.
    pub(super) fn in_short_holds(&self, ids: &[ViewId], mut each: impl FnMut(&Views, &ViewId)) {
        let mut pending = ids;
        while !pending.is_empty() {
            let views = self.views.read();
            let held = Instant::now();
            let mut done = 0;
            for id in pending {
                done += 1;
                each(&views, id);
                if held.elapsed() >= LIVE_HOLD {
                    break;
                }
            }
            pending = &pending[done..];
        }
    }
}

impl ViewSource for Pipeline {
    fn visit_views(
        &self,
        from: ServerTime,
        to: ServerTime,
        visit: &mut dyn FnMut(&View, &ViewMetrics),
    ) {
        // Hour by hour, copies of [`LIVE_HOLD`] of views at a time, visited with no lock held:
        // a query's own work (grouping, sets of viewers) never holds up ingest. A view that
        // ends meanwhile is visited once, as found when its copy is taken.
        let in_range = |view: &View| view.started_at().is_some_and(|t| t >= from && t < to);
        let hour_of = |view: &View| {
            view.started_at()
                .map(|t| t.0.div_euclid(PARTITION_MS) * PARTITION_MS)
        };
        let (stored_hours, mut live_by_hour) = {
            let views = self.views.read();
            let stored: Vec<i64> = views
                .store
                .table()
                .columns()
                .partitions(from, to)
                .map(|(hour, _)| hour)
                .collect();
            let mut live: BTreeMap<i64, Vec<ViewId>> = BTreeMap::new();
            for view in views.sessionizer.live_views().filter(|v| in_range(v)) {
                if let Some(hour) = hour_of(view) {
                    live.entry(hour).or_default().push(view.id.clone());
                }
            }
            (stored, live)
        };
        let hours: BTreeSet<i64> = stored_hours
            .into_iter()
            .chain(live_by_hour.keys().copied())
            .collect();
        let mut copies = Vec::new();
        for hour in hours {
            let mut ids = live_by_hour.remove(&hour).unwrap_or_default();
            {
                let views = self.views.read();
                let table = views.store.table().columns();
                for (_, partition) in
                    table.partitions(ServerTime(hour), ServerTime(hour + PARTITION_MS))
                {
                    ids.extend_from_slice(partition.ids());
                }
            }
            ids.sort_unstable();
            ids.dedup();
            let mut pending = ids.as_slice();
            while !pending.is_empty() {
                {
                    let views = self.views.read();
                    let held = Instant::now();
                    let mut done = 0;
                    for id in pending {
                        done += 1;
                        if let Some(stored) = views.store.get(id) {
                            copies.push((stored.view.clone(), stored.metrics.clone()));
                        } else if let Some(view) = views.sessionizer.view(id) {
                            let metrics = views.live_metrics(view, &self.live_metrics);
                            copies.push((view.clone(), (*metrics).clone()));
                        }
                        if held.elapsed() >= LIVE_HOLD {
                            break;
                        }
                    }
                    pending = &pending[done..];
                }
                for (view, metrics) in copies.drain(..) {
                    if in_range(&view) {
                        visit(&view, &metrics);
                    }
                }
            }
        }
    }

    fn views(&self, ids: &[ViewId]) -> Vec<(View, ViewMetrics)> {
        let mut found = Vec::new();
        let mut released = Vec::new();
        {
            let views = self.views.read();
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
        let views = self.views.read();
        views.dimensions.iter().cloned().collect()
    }

    fn tables(&self, from: ServerTime, to: ServerTime) -> Vec<ViewColumns> {
        let in_range = |view: &View| view.started_at().is_some_and(|t| t >= from && t < to);
        let (ended, live_ids) = {
            let views = self.views.read();
            let live_ids: Vec<ViewId> = views
                .sessionizer
                .live_views()
                .filter(|view| in_range(view))
                .map(|view| view.id.clone())
                .collect();
            (views.store.table().columns_in(from, to), live_ids)
        };
        // Live views change with every batch: their rows are made per query, [`LIVE_HOLD`] of
        // work per hold of the lock, so ingest waits that long at most. A view that ends
        // meanwhile is in neither table until the next query.
        let mut live = ViewTable::new();
        self.in_short_holds(&live_ids, |views, id| {
            if let Some(view) = views.sessionizer.view(id) {
                live.upsert(view, &views.live_metrics(view, &self.live_metrics));
            }
        });
        vec![ended, live.into_columns()]
    }

    fn ended(&self, from: ServerTime, to: ServerTime) -> ViewColumns {
        let views = self.views.read();
        views.store.table().columns_in(from, to)
    }

    fn hours(&self, from: ServerTime, to: ServerTime) -> Vec<i64> {
        let views = self.views.read();
        let stored = views
            .store
            .table()
            .columns()
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
            let views = self.views.read();
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
