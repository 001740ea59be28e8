//! A view's contribution to each minute of server time: the fundamental counters that minute
//! rollups sum (DESIGN §5) and detectors read. Additive by construction, so any cohort's rate is
//! Σnumerator / Σdenominator over its views and minutes, never an average of ratios.
use openqoe_model::{Event, EventKind, ServerTime, View};

use crate::growth::room_for_one;
use crate::timeline::{Bucket, Span, Walk};

/// What one view (or, summed, a cohort) did in one minute.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct MinuteCounts {
    /// Play attempts made in the minute (the first play request).
    pub attempts: u64,
    /// First frames shown in the minute.
    pub started: u64,
    /// Fatal errors before the first frame (VSF), in the minute of the error.
    pub startup_failures: u64,
    /// Views that ended without a first frame or a fatal error (EBVS), in the minute of their
    /// last event.
    pub exits_before_start: u64,
    /// Fatal errors after the first frame, in the minute of the error (VPF after start).
    pub playback_failures: u64,
    /// Views with any watch time in the minute (rebuffering, playing, starting).
    pub watching: u64,
    /// Rebuffering in the minute, ms.
    pub rebuffer_ms: u64,
    /// Playing in the minute, ms.
    pub playing_ms: u64,
    /// Σ bitrate × playing ms over playing time with a known rendition, bit·ms/s.
    pub bitrate_ms: f64,
    /// Playing ms with a known rendition (the weight of `bitrate_ms`).
    pub rendition_ms: u64,
    /// Video startup times of the first frames shown in the minute, ms.
    pub startup_times_ms: Vec<u64>,
}

impl MinuteCounts {
    /// Adds `other` into `self`.
    pub fn add(&mut self, other: &MinuteCounts) {
        self.attempts += other.attempts;
        self.started += other.started;
        self.startup_failures += other.startup_failures;
        self.exits_before_start += other.exits_before_start;
        self.playback_failures += other.playback_failures;
        self.watching += other.watching;
        self.rebuffer_ms += other.rebuffer_ms;
        self.playing_ms += other.playing_ms;
        self.bitrate_ms += other.bitrate_ms;
        self.rendition_ms += other.rendition_ms;
        self.startup_times_ms
            .extend_from_slice(&other.startup_times_ms);
    }
}

/// One view's counts by minute (start, epoch ms), in time order.
pub type ViewMinutes = Vec<(ServerTime, MinuteCounts)>;

/// Regroups one view's counts from [`crate::view_minutes`] into minutes of `minute_ms`, a multiple of
/// theirs: what `view_minutes(view, minute_ms)` gives, without the view's events. `watching`
/// counts the view once in a minute, so it is the most of the parts, not their sum.
pub fn regroup_minutes(parts: &[(ServerTime, MinuteCounts)], minute_ms: i64) -> ViewMinutes {
    let minute_ms = minute_ms.max(1);
    let mut minutes = ViewMinutes::new();
    for (at, counts) in parts {
        let start = ServerTime(at.0.div_euclid(minute_ms) * minute_ms);
        match minutes.last_mut() {
            Some((last, minute)) if *last == start => {
                let watching = minute.watching.max(counts.watching);
                minute.add(counts);
                minute.watching = watching;
            }
            _ => minutes.push((start, counts.clone())),
        }
    }
    minutes
}

/// A view's counts by minute, gathered event by event as a [`crate::Measure`] folds them in, keeping
/// (when `keep_ms` says) only the minutes from that long before its newest event.
#[derive(Debug, Clone)]
pub(crate) struct SpanMinutes {
    minute_ms: i64,
    keep_ms: Option<i64>,
    /// Minutes before this one were let go: their counts are not known here.
    kept_from: ServerTime,
    minutes: ViewMinutes,
    /// Newest server time of an event folded in.
    newest: Option<ServerTime>,
    /// A play attempt was counted.
    attempted: bool,
    /// A first frame was counted.
    started: bool,
    /// A fatal error was counted: nothing after it is.
    failed: bool,
}

impl SpanMinutes {
    /// Counts in minutes of `minute_ms`, keeping those from `keep_ms` before the newest event
    /// (`None`: every minute).
    pub(crate) fn new(minute_ms: i64, keep_ms: Option<i64>) -> SpanMinutes {
        SpanMinutes {
            minute_ms: minute_ms.max(1),
            keep_ms,
            kept_from: ServerTime(i64::MIN),
            minutes: ViewMinutes::new(),
            newest: None,
            attempted: false,
            started: false,
            failed: false,
        }
    }

    /// The same counting, started over.
    pub(crate) fn emptied(&self) -> SpanMinutes {
        SpanMinutes::new(self.minute_ms, self.keep_ms)
    }

    /// Minutes of this length.
    pub(crate) fn minute_ms(&self) -> i64 {
        self.minute_ms
    }

    /// The first minute kept, and the minutes.
    pub(crate) fn into_parts(self) -> (ServerTime, ViewMinutes) {
        (self.kept_from, self.minutes)
    }

    /// The counts of the minute holding server time `at`; `None` once that minute was let go.
    fn slot(&mut self, at: i64) -> Option<&mut MinuteCounts> {
        let start = ServerTime(at.div_euclid(self.minute_ms) * self.minute_ms);
        if start < self.kept_from {
            return None;
        }
        let minutes = &mut self.minutes;
        // Spans and events arrive nearly in order: search from the back.
        let position = minutes.iter().rposition(|(t, _)| *t <= start);
        let index = match position {
            Some(i) if minutes[i].0 == start => i,
            Some(i) => {
                room_for_one(minutes);
                minutes.insert(i + 1, (start, MinuteCounts::default()));
                i + 1
            }
            None => {
                room_for_one(minutes);
                minutes.insert(0, (start, MinuteCounts::default()));
                0
            }
        };
        Some(&mut minutes[index].1)
    }

    /// Adds a span of the walk, cut at minute boundaries.
    pub(crate) fn add(&mut self, span: &Span<'_>) {
        let minute_ms = self.minute_ms;
        let (mut at, mut left) = (span.at.0, span.ms as i64);
        while left > 0 {
            let boundary = (at.div_euclid(minute_ms) + 1) * minute_ms;
            let piece = left.min(boundary - at);
            if let Some(counts) = self.slot(at) {
                match span.bucket {
                    Bucket::Rebuffer => counts.rebuffer_ms += piece as u64,
                    Bucket::Playing => {
                        counts.playing_ms += piece as u64;
                        if let Some(rendition) = span.rendition {
                            counts.bitrate_ms += rendition.bitrate_bps as f64 * piece as f64;
                            counts.rendition_ms += piece as u64;
                        }
                    }
                    _ => {}
                }
                if matches!(
                    span.bucket,
                    Bucket::Startup
                        | Bucket::Rebuffer
                        | Bucket::Playing
                        | Bucket::Seek
                        | Bucket::Ad
                ) {
                    // A view counts once in a minute it watched in.
                    counts.watching = 1;
                }
            }
            at += piece;
            left -= piece;
        }
    }

    /// Counts `event`'s point in time (attempt, first frame, failure), once the walk stepped
    /// over it (`walk`: its totals then), and lets go of minutes older than the kept time.
    pub(crate) fn event(&mut self, event: &Event, walk: &Walk) {
        if !self.failed {
            match &event.kind {
                EventKind::PlayRequested { .. } if !self.attempted && !self.started => {
                    self.attempted = true;
                    if let Some(counts) = self.slot(event.at.0) {
                        counts.attempts += 1;
                    }
                }
                EventKind::FirstFrame if !self.started => {
                    self.started = true;
                    let attempted = self.attempted;
                    if let Some(counts) = self.slot(event.at.0) {
                        counts.started += 1;
                        // Startup is over at the first frame: the walk's startup is final.
                        if attempted && walk.requested_before_start {
                            counts.startup_times_ms.push(walk.startup_ms);
                        }
                    }
                }
                EventKind::Error { fatal: true, .. } => {
                    self.failed = true;
                    let (started, attempted) = (self.started, self.attempted);
                    if let Some(counts) = self.slot(event.at.0) {
                        if started {
                            counts.playback_failures += 1;
                        } else if attempted {
                            counts.startup_failures += 1;
                        }
                    }
                }
                _ => {}
            }
        }
        let newest = self.newest.map_or(event.at, |newest| newest.max(event.at));
        self.newest = Some(newest);
        if let Some(keep_ms) = self.keep_ms {
            let from = newest.0.saturating_sub(keep_ms);
            let from = ServerTime(from.div_euclid(self.minute_ms) * self.minute_ms);
            if from > self.kept_from {
                self.kept_from = from;
                let gone = self.minutes.partition_point(|(t, _)| *t < from);
                self.minutes.drain(..gone);
            }
        }
    }

    /// Closes the counts of an ended view (`walk`: its totals, closed at the end) whose last
    /// measured event was at `last_at`: a viewer who attempted and neither started nor failed
    /// gave up then, whenever the view was ended (an idle view ends an hour later).
    pub(crate) fn close(&mut self, view: &View, walk: &Walk, last_at: Option<ServerTime>) {
        if view.end.is_some() && self.attempted && !walk.started && !walk.fatal {
            if let Some(counts) = last_at.and_then(|at| self.slot(at.0)) {
                counts.exits_before_start += 1;
            }
        }
    }
}
