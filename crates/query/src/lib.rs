//! The read side: Query API v1 (DESIGN §4.2), `/healthz` and Prometheus `/metrics`.
//!
//! Owns request parsing, filtering, grouping and aggregation; does not own where views live: it
//! reads them through a [`ViewSource`] the binary provides (live views from the sessionizer,
//! ended ones from the store). Key decision: percentiles are exact — nearest-rank over the sorted
//! values of the selected views — so the API never needs to state an error bound; rates are always
//! Σnumerator / Σdenominator, never an average of ratios.
#![warn(missing_docs)]

mod aggregate;
mod error;
mod params;
mod routes;

pub use aggregate::Aggregate;
pub use error::ApiError;
pub use params::{parse_interval_ms, parse_time, Selection};
pub use routes::router;

use openqoe_metrics::ViewMetrics;
use openqoe_model::{ServerTime, View, ViewId};

/// Where the API reads views from.
pub trait ViewSource: Send + Sync + 'static {
    /// Calls `visit` with every view, live or ended, that started in `[from, to)`.
    fn visit_views(
        &self,
        from: ServerTime,
        to: ServerTime,
        visit: &mut dyn FnMut(&View, &ViewMetrics),
    );
    /// One view and its metrics, live or ended.
    fn view(&self, id: &ViewId) -> Option<(View, ViewMetrics)>;
    /// Names of the dimensions views have carried, sorted.
    fn dimensions(&self) -> Vec<String>;
}
