//! The query routes' shared state: what every handler reads from.
use std::sync::Arc;

use prometheus_client::registry::Registry;

/// The view source the routes query, and the registry `/metrics` encodes.
pub(crate) struct Api<S> {
    /// Where views come from.
    pub(crate) source: Arc<S>,
    /// The process's own series, for `/metrics`.
    pub(crate) registry: Arc<Registry>,
}
