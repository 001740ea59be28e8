//! Ingest counters exported on `/metrics`.
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// The `reason` label of a refused request.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RejectLabels {
    /// Why it was refused (`malformed`, `unknown_key`, …).
    pub reason: &'static str,
}

/// Counters every ingest request updates; registered once on the binary's registry.
#[derive(Debug, Clone, Default)]
pub struct CollectStats {
    /// Events accepted and durable.
    pub events: Counter,
    /// Batches accepted and durable.
    pub batches: Counter,
    /// Events dropped because their (view id, seq) was already durable.
    pub duplicates: Counter,
    /// Requests refused, by reason.
    pub rejects: Family<RejectLabels, Counter>,
    /// Batches dated in the future (a device clock ahead) and moved back whole.
    pub moved_back: Counter,
}

impl CollectStats {
    /// Counts a refused request under its reason and passes the outcome on.
    pub fn count_refusal<T>(
        &self,
        outcome: Result<T, crate::IngestError>,
    ) -> Result<T, crate::IngestError> {
        if let Err(refusal) = &outcome {
            self.rejects
                .get_or_create(&RejectLabels {
                    reason: refusal.reason(),
                })
                .inc();
        }
        outcome
    }

    /// Registers the counters under `openqoe_ingest_*`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "openqoe_ingest_events",
            "Events accepted and durable",
            self.events.clone(),
        );
        registry.register(
            "openqoe_ingest_batches",
            "Batches accepted and durable",
            self.batches.clone(),
        );
        registry.register(
            "openqoe_ingest_batches_moved_back",
            "Batches dated more than a minute after they arrived (a device clock ahead), moved back whole",
            self.moved_back.clone(),
        );
        registry.register(
            "openqoe_ingest_duplicates",
            "Events dropped as duplicates of a durable (view id, seq)",
            self.duplicates.clone(),
        );
        registry.register(
            "openqoe_ingest_rejects",
            "Requests refused, by reason",
            self.rejects.clone(),
        );
    }
}
