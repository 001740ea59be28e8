//! Counts of views for detection (minutes) and steering (windows of buckets), from events in
//! memory, counts kept in memory, or events read back; and the clock detection judges by.
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use openqoe_metrics::{regroup_minutes, view_minutes, MinuteCounts, ViewMinutes};
use openqoe_model::{ServerTime, View};

use super::Pipeline;
use crate::view_counts::{MinuteViews, ViewCounts};

/// With no batch for this long, the detection clock follows the wall clock.
const IDLE_CLOCK_MS: i64 = 120_000;
/// A view with a batch this recent (wall clock) is sending now and sets the detection clock.
const SENDING_MS: i64 = 10_000;

impl Pipeline {
    /// Calls `each` with every view, live or ended, with time in `[from, to)` (`from` a
    /// multiple of `bucket_ms`), and its counts in buckets of `bucket_ms`: made from its events
    /// in memory or its counts kept in memory under the lock, then from events read back.
    fn each_counted(
        &self,
        from: ServerTime,
        to: ServerTime,
        bucket_ms: i64,
        each: &mut dyn FnMut(&View, ViewMinutes),
    ) {
        let mut released = Vec::new();
        {
            let views = self.views.read();
            let hold = views.store.hold().copied();
            // Whole buckets from `from` on are made of kept minutes only.
            let regrouped = |kept_from: ServerTime, minutes: &[(ServerTime, MinuteCounts)]| {
                (from >= kept_from && hold.is_some_and(|hold| bucket_ms % hold.minute_ms == 0))
                    .then(|| regroup_minutes(minutes, bucket_ms))
            };
            for view in views.touching(from, to) {
                if view.released.is_none() {
                    each(view, view_minutes(view, bucket_ms));
                    continue;
                }
                let kept = match views.store.get(&view.id) {
                    Some(_) => views
                        .store
                        .recent_counts(&view.id)
                        .and_then(|(kept_from, minutes)| regrouped(kept_from, minutes)),
                    // A live view that keeps no events: its measure counts its last minutes.
                    None => views
                        .measures
                        .get(&view.id)
                        .and_then(|measure| measure.minutes(view))
                        .and_then(|(kept_from, minutes)| regrouped(kept_from, &minutes)),
                };
                match (kept, views.released_to(&view.id)) {
                    (Some(minutes), _) => each(view, minutes),
                    (None, Some(at)) => released.push((view.id.clone(), at)),
                    (None, None) => {}
                }
            }
        }
        self.each_restored(released, &mut |view, _| {
            each(&view, view_minutes(&view, bucket_ms));
        });
    }
}

impl ViewCounts for Pipeline {
    /// The clock detection judges by: how far the viewers sending now have got — the 5th
    /// percentile, over live views with a batch in the last ten seconds, of their newest event
    /// time (so a viewer whose batches lag holds minutes open, and a few stuck devices do not);
    /// the newest event time when no view is that recent; `now` once no batch has arrived for
    /// two minutes. Never ahead of `now`.
    fn event_clock(&self, now: ServerTime) -> ServerTime {
        let newest = self.newest_event_at.load(Ordering::Relaxed);
        let delivered = self.delivered_at.load(Ordering::Relaxed);
        if newest == 0 || now.0 - delivered > IDLE_CLOCK_MS {
            return now;
        }
        let mut frontiers: Vec<i64> = {
            let views = self.views.read();
            views
                .sessionizer
                .live_views()
                .filter(|v| now.0 - v.last_received_at.0 <= SENDING_MS)
                .filter_map(|v| v.last_event().map(|e| e.at.0))
                .collect()
        };
        let clock = if frontiers.is_empty() {
            newest
        } else {
            let rank = frontiers.len() / 20;
            *frontiers.select_nth_unstable(rank).1
        };
        ServerTime(clock.min(now.0))
    }

    fn earliest_event(&self) -> Option<ServerTime> {
        let views = self.views.read();
        let stored = views.store.iter().filter_map(|s| s.view.started_at());
        let live = views
            .sessionizer
            .live_views()
            .filter_map(|v| v.started_at());
        stored.chain(live).min()
    }

    fn minutes(
        &self,
        from: ServerTime,
        to: ServerTime,
        dimensions: &[String],
    ) -> BTreeMap<i64, MinuteViews> {
        let mut minutes: BTreeMap<i64, MinuteViews> = BTreeMap::new();
        self.each_counted(from, to, 60_000, &mut |view, counted| {
            let values: Vec<Option<String>> =
                dimensions.iter().map(|d| view.dimension(d)).collect();
            for (minute, counts) in counted {
                if minute >= from && minute < to {
                    minutes
                        .entry(minute.0)
                        .or_default()
                        .push((values.clone(), counts));
                }
            }
        });
        minutes
    }

    fn window(
        &self,
        from: ServerTime,
        to: ServerTime,
        bucket_ms: i64,
        dimensions: &[String],
    ) -> MinuteViews {
        let mut window = MinuteViews::new();
        self.each_counted(from, to, bucket_ms, &mut |view, counted| {
            let mut sum: Option<MinuteCounts> = None;
            for (bucket, counts) in counted {
                if bucket >= from && bucket < to {
                    sum.get_or_insert_with(MinuteCounts::default).add(&counts);
                }
            }
            if let Some(counts) = sum {
                let values = dimensions.iter().map(|d| view.dimension(d)).collect();
                window.push((values, counts));
            }
        });
        window
    }
}
