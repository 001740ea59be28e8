//! What queries read: views by time and id, their tables, dimensions and hours
//! ([`ViewSource`]); views whose events are out of memory are read back, a group at a time.
use std::collections::BTreeSet;

use openqoe_metrics::ViewMetrics;
use openqoe_model::{ServerTime, View, ViewId};
use openqoe_query::ViewSource;
use openqoe_store::{ViewTable, PARTITION_MS};

use super::Pipeline;

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
