//! The process's own series in `/metrics`: ingest, the write-ahead log's group commit, and the
//! views held. Registered once here; each stage gets the handles it updates.
use std::sync::Arc;
use std::time::Duration;

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use openqoe_collect::CollectStats;
use openqoe_wal::SyncObserver;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::views::Views;

/// The registry `/metrics` encodes, and the handles the stages update.
pub struct Telemetry {
    /// Every series below, for `/metrics`.
    pub registry: Registry,
    /// Ingest's counters.
    pub collect: CollectStats,
    /// The views held, refreshed as they change.
    pub views: ViewGauges,
    /// The write-ahead log's fsync latency.
    wal_sync_seconds: Histogram,
    /// Batches made durable by one fsync.
    wal_group_batches: Histogram,
}

/// Gauges (and a counter) describing the views the process holds.
#[derive(Clone, Default)]
pub struct ViewGauges {
    pub(crate) active_views: Gauge,
    pub(crate) ended_views: Gauge,
    pub(crate) released_events: Gauge,
    pub(crate) held_back_batches: Gauge,
    /// Hours whose files were written.
    pub(crate) hours_written: Counter,
    /// Dimension values stored as the overflow value (the table counts; this follows it).
    dimension_values_overflowed: Counter,
}

impl Telemetry {
    /// Registers every series.
    pub fn new() -> Telemetry {
        let mut registry = Registry::default();
        let collect = CollectStats::default();
        collect.register(&mut registry);
        let wal_sync_seconds = Histogram::new(exponential_buckets(0.000_05, 2.0, 16));
        registry.register(
            "openqoe_wal_sync_seconds",
            "Write-ahead log group commit fsync latency",
            wal_sync_seconds.clone(),
        );
        let wal_group_batches = Histogram::new(exponential_buckets(1.0, 2.0, 12));
        registry.register(
            "openqoe_wal_group_batches",
            "Batches made durable by one write-ahead log fsync (group commit)",
            wal_group_batches.clone(),
        );
        let views = ViewGauges::default();
        views.register(&mut registry);
        Telemetry {
            registry,
            collect,
            views,
            wal_sync_seconds,
            wal_group_batches,
        }
    }

    /// What the write-ahead log calls after each group commit: how long its fsync took and how
    /// many records it made durable.
    pub fn on_wal_sync(&self) -> SyncObserver {
        let (sync_seconds, group_batches) = (
            self.wal_sync_seconds.clone(),
            self.wal_group_batches.clone(),
        );
        Box::new(move |took: Duration, records: usize, _bytes: usize| {
            sync_seconds.observe(took.as_secs_f64());
            group_batches.observe(records as f64);
        })
    }
}

impl ViewGauges {
    fn register(&self, registry: &mut Registry) {
        registry.register(
            "openqoe_active_views",
            "Views live in the sessionizer",
            self.active_views.clone(),
        );
        registry.register(
            "openqoe_ended_views",
            "Ended views held in the store",
            self.ended_views.clone(),
        );
        registry.register(
            "openqoe_released_events",
            "Events out of memory, of live and ended views: read back from the write-ahead log, or from their hour file once written",
            self.released_events.clone(),
        );
        registry.register(
            "openqoe_held_back_batches",
            "Late batches waiting because their view's events cannot be read back from its hour file",
            self.held_back_batches.clone(),
        );
        registry.register(
            "openqoe_store_hours_written",
            "Hours whose views and events files were written (again, when an hour changed); their views then read their events back from the files",
            self.hours_written.clone(),
        );
        registry.register(
            "openqoe_store_dimension_values_overflowed",
            "Prop values of ended views stored as \"(other)\" because their dimension already held 100,000 distinct values",
            self.dimension_values_overflowed.clone(),
        );
    }

    /// Sets the gauges from `views`.
    pub(crate) fn refresh(&self, views: &Views) {
        self.active_views.set(views.sessionizer.live_count() as i64);
        self.ended_views.set(views.store.len() as i64);
        self.released_events
            .set((views.store.released_events() + views.sessionizer.released_events()) as i64);
        self.held_back_batches.set(views.pending.len() as i64);
        let overflowed = views.store.table().values_overflowed();
        let counted = self.dimension_values_overflowed.get();
        if overflowed > counted {
            self.dimension_values_overflowed
                .inc_by(overflowed - counted);
        }
    }
}

/// `/metrics`: `registry` in the OpenMetrics text format.
pub(crate) fn router(registry: Registry) -> axum::Router {
    let registry = Arc::new(registry);
    axum::Router::new().route(
        "/metrics",
        get(move || {
            let registry = Arc::clone(&registry);
            async move {
                let mut text = String::new();
                prometheus_client::encoding::text::encode(&mut text, &registry)
                    .expect("writing to a String cannot fail");
                (
                    [(
                        header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    text,
                )
                    .into_response()
            }
        }),
    )
}
