//! What detection and steering read of the views, whatever holds them: each view's counts per
//! minute or over a window of buckets, and the clock detection judges by. The sessionizer's
//! pipeline gives them from memory and its log; a store that holds views elsewhere would give
//! them from there, with detection and steering unchanged.
use std::collections::BTreeMap;

use openqoe_metrics::MinuteCounts;
use openqoe_model::ServerTime;

/// One minute's (or window's) views: each view's values of the asked dimensions and its counts.
pub type MinuteViews = Vec<(Vec<Option<String>>, MinuteCounts)>;

/// Counts of views for detection and steering.
pub trait ViewCounts: Send + Sync {
    /// The clock detection judges by, never ahead of `now`: how far the viewers sending now
    /// have got.
    fn event_clock(&self, now: ServerTime) -> ServerTime;
    /// The oldest view start known.
    fn earliest_event(&self) -> Option<ServerTime>;
    /// Every view's counts in each minute from `from` to `to` (minute starts, epoch ms), with
    /// its values of `dimensions`.
    fn minutes(
        &self,
        from: ServerTime,
        to: ServerTime,
        dimensions: &[String],
    ) -> BTreeMap<i64, MinuteViews>;
    /// Each view's counts over `[from, to)` in `bucket_ms` buckets (a view counts if any bucket
    /// starting in the range holds something of it), with its values of `dimensions`.
    fn window(
        &self,
        from: ServerTime,
        to: ServerTime,
        bucket_ms: i64,
        dimensions: &[String],
    ) -> MinuteViews;
}
