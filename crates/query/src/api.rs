//! The query routes' shared state: what every handler reads from.
use std::sync::Arc;

use openqoe_model::{Privacy, ServerTime};

use crate::{ApiError, Selection};

/// The view source the routes query, and how it stores identifiers.
pub(crate) struct Api<S> {
    /// Where views come from.
    pub(crate) source: Arc<S>,
    /// How identifiers are stored: filters on pseudonymised dimensions are translated.
    pub(crate) privacy: Arc<Privacy>,
}

impl<S> Api<S> {
    /// A request's selection as of `now`, its filters in the form the values are stored.
    pub(crate) fn selection(
        &self,
        pairs: &[(String, String)],
        now: ServerTime,
    ) -> Result<Selection, ApiError> {
        let mut selection = Selection::from_query(pairs, now)?;
        selection.store_filters(&self.privacy);
        Ok(selection)
    }
}
