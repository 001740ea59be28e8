//! The rows of views that changed, for a view store kept elsewhere (ClickHouse): which views
//! took a batch or ended since their rows were last taken, and their rows as of now.
use openqoe_clickhouse::ViewRow;
use openqoe_model::ViewId;

use super::Pipeline;

impl Pipeline {
    /// From now on, notes the views that change, for [`Pipeline::take_changed`].
    pub(crate) fn track_changes(&self) {
        self.views
            .write()
            .changed
            .get_or_insert_with(Default::default);
    }

    /// The views changed since the last call (their rows are made by [`Pipeline::rows_of`]).
    pub(crate) fn take_changed(&self) -> Vec<ViewId> {
        let mut views = self.views.write();
        match &mut views.changed {
            Some(changed) => changed.drain().collect(),
            None => Vec::new(),
        }
    }

    /// The rows of views `ids` at `version`: ended views with their stored metrics and their
    /// row's start, live ones with their metrics as of now. Views with no event yet, and views
    /// dropped or erased meanwhile, have no row. Made a few milliseconds of work per hold of the
    /// lock, so ingest waits that long at most.
    pub(crate) fn rows_of(&self, ids: &[ViewId], version: u64) -> Vec<ViewRow> {
        let mut rows = Vec::with_capacity(ids.len());
        self.in_short_holds(ids, |views, id| {
            if let Some(stored) = views.store.get(id) {
                let started_at = views
                    .store
                    .table()
                    .find(id)
                    .map(|(partition, row)| partition.started_at()[row])
                    .or(stored.view.started_at().map(|t| t.0));
                if let Some(started_at) = started_at {
                    rows.push(ViewRow::new(
                        &stored.view,
                        &stored.metrics,
                        started_at,
                        version,
                    ));
                }
            } else if let Some(view) = views.sessionizer.view(id) {
                if let Some(started_at) = view.started_at() {
                    let metrics = views.live_metrics(view, &self.live_metrics);
                    rows.push(ViewRow::new(view, &metrics, started_at.0, version));
                }
            }
        });
        rows
    }

    /// Notes `ids` changed again: their rows were not written, so the next
    /// [`Pipeline::take_changed`] takes them anew.
    pub(crate) fn changed_again(&self, ids: Vec<ViewId>) {
        let mut views = self.views.write();
        if let Some(changed) = &mut views.changed {
            changed.extend(ids);
        }
    }
}
