//! Per-view metrics (DESIGN §3) as pure functions of a view's ordered events, and the catalogue
//! of metrics the API aggregates.
//!
//! Owns what each number means; does not own where views come from or how they are stored.
//! Key decision: one walk over the events puts every instant of the view into exactly one
//! bucket (startup, ad, paused, seek, rebuffer, playing, idle), so the time metrics add up by
//! construction: watch time = startup + ad + seek + rebuffer + playing. Durations use the device
//! clock only; clock skew never changes a duration.
#![warn(missing_docs)]

mod catalogue;
mod growth;
mod minutes;
mod p1203;
mod quantile;
mod requests;
mod score;
mod timeline;

pub use catalogue::{metric, Metric, MetricKind, MetricValue, METRICS};
pub use minutes::{regroup_minutes, MinuteCounts, ViewMinutes};
pub use p1203::ViewP1203;
pub use quantile::nearest_rank;
pub use requests::{requests_by_host, HostRequests, Spread};
pub use score::{combine, ExperienceScore, EXPONENT, WEIGHTS};

use std::ops::Bound;

use openqoe_model::{ClientTime, Event, EventKind, Seq, ServerTime, View};
use serde::Serialize;

use crate::growth::room_for_one;
use crate::minutes::SpanMinutes;
use crate::timeline::{walk, Walker};

/// Every per-view metric; `None` where the view is outside the metric's population.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ViewMetrics {
    /// `play_requested` → `first_frame`, minus ad and paused time inside it.
    pub video_startup_time_ms: Option<u64>,
    /// `player_init` → `player_ready`.
    pub player_startup_time_ms: Option<u64>,
    /// `page_load_ms` of the view's `player_init`.
    pub page_load_time_ms: Option<u64>,
    /// Page load + player startup + video startup, when all three are known.
    pub aggregate_startup_time_ms: Option<u64>,
    /// A fatal error before the first frame; `None` without a play attempt.
    pub startup_failure: Option<bool>,
    /// Ended after a play request with no first frame and no fatal error; `None` without a play attempt.
    pub exit_before_video_start: Option<bool>,
    /// Any fatal error.
    pub playback_failure: bool,
    /// Stalls after the first frame, outside seeks and ad breaks.
    pub rebuffer_count: u64,
    /// Time in those stalls.
    pub rebuffer_duration_ms: u64,
    /// Rebuffer ÷ (rebuffer + playing) × 100; `None` with neither.
    pub rebuffer_percentage: Option<f64>,
    /// Rebuffers per minute of watch time; `None` with no watch time.
    pub rebuffer_frequency_per_min: Option<f64>,
    /// From the play request to the view's end, without paused and idle time.
    pub watch_time_ms: u64,
    /// Time actually playing content.
    pub playing_time_ms: u64,
    /// Rendition bitrate weighted by playing time; `None` with no playing time at a known rendition.
    pub avg_bitrate_bps: Option<f64>,
    /// Upscaling, weighted by playing time; `None` without a player size or rendition.
    pub upscale_percentage: Option<f64>,
    /// Downscaling, weighted by playing time.
    pub downscale_percentage: Option<f64>,
    /// The largest upscaling of any rendition played.
    pub max_upscale_percentage: Option<f64>,
    /// The largest downscaling of any rendition played.
    pub max_downscale_percentage: Option<f64>,
    /// Seeks started.
    pub seek_count: u64,
    /// Mean `seek_start` → `seek_end`; `None` with no seek.
    pub seek_latency_ms: Option<f64>,
    /// Rendition changes after the first frame.
    pub rendition_change_count: u64,
    /// Rendition changes to a higher bitrate.
    pub upshift_count: u64,
    /// Rendition changes to a lower bitrate.
    pub downshift_count: u64,
    /// ITU-T P.1203 mode 0 O46 of the view (1–5); `None` when the view cannot be scored
    /// ([`view_p1203`] says why).
    pub p1203_mos: Option<f64>,
    /// Experience score 0–100 (docs/metrics.md): playback success × the soft minimum of startup,
    /// smoothness and quality.
    pub experience_score: Option<f64>,
    /// Sub-score: 100 played, 50 exited before the start, 0 failed.
    pub playback_success_score: Option<f64>,
    /// Sub-score: `8/(8 + startup s) × 100`.
    pub startup_score: Option<f64>,
    /// Sub-score from rebuffer count and fraction.
    pub smoothness_score: Option<f64>,
    /// Sub-score from upscaling.
    pub video_quality_score: Option<f64>,
    /// Points of `100 − experience_score` lost to playback success.
    pub experience_lost_to_playback_success: Option<f64>,
    /// Points lost to startup.
    pub experience_lost_to_startup: Option<f64>,
    /// Points lost to smoothness.
    pub experience_lost_to_smoothness: Option<f64>,
    /// Points lost to video quality.
    pub experience_lost_to_quality: Option<f64>,
    /// Play request → first frame including pre-roll ads (content startup is
    /// `video_startup_time_ms`).
    pub total_startup_time_ms: Option<u64>,
    /// How long a viewer who exited before the start waited, ms (EBVS views only).
    pub exit_before_start_wait_ms: Option<u64>,
    /// Median of the heartbeats' live latency (SDK `live_latency_ms`, CMCD `ltc`), ms.
    pub live_latency_ms: Option<f64>,
    /// Dropped frames per minute of playing (heartbeats carry the player's running total).
    pub dropped_frames_per_min: Option<f64>,
    /// Whether a first frame was shown (not a metric: a filterable fact).
    pub started: bool,
    /// Whether, as of its last event, the viewer is watching or trying to (not paused, ended or
    /// failed): with a recent event, the view counts as a concurrent viewer.
    pub watching: bool,
}

/// Splits `view` over minutes of `minute_ms` (server clock, aligned to the epoch), in time order.
///
/// Intervals are placed by the server time at which they began and cut at minute boundaries;
/// point events (attempt, first frame, failures, exit) go to the minute they happened in.
pub fn view_minutes(view: &View, minute_ms: i64) -> ViewMinutes {
    let mut measure = Measure::counting(minute_ms, None);
    measure.advance(view);
    measure
        .minutes(view)
        .map_or_else(ViewMinutes::new, |(_, minutes)| minutes)
}

/// Computes every per-view metric; total over any event order, never panics.
pub fn compute(view: &View) -> ViewMetrics {
    Measure::of(view).metrics(view)
}

/// [`compute`] and [`view_minutes`] of `view` in one walk of its events (the store does both
/// when a view ends).
pub fn compute_with_minutes(view: &View, minute_ms: i64) -> (ViewMetrics, ViewMinutes) {
    let mut measure = Measure::counting(minute_ms, None);
    measure.advance(view);
    let (metrics, minutes) = measure.metrics_and_minutes(view);
    (
        metrics,
        minutes.map_or_else(ViewMinutes::new, |(_, minutes)| minutes),
    )
}

/// A view's metrics kept current event by event: measuring a live view again after a batch
/// costs that batch's events, not all of the view's. It can also count the view's minutes
/// ([`Measure::counting`]), so a view that does not keep its events still has them.
#[derive(Debug, Clone, Default)]
pub struct Measure {
    walker: Walker,
    /// The last event folded in.
    through: Option<Seq>,
    /// How many events were folded in.
    folded: usize,
    /// Server time of the last event folded in.
    last_at: Option<ServerTime>,
    /// The first `player_init`: its `seq` and time.
    player_init: Option<(Seq, ClientTime)>,
    /// The first `player_ready`: its `seq` and time.
    player_ready: Option<(Seq, ClientTime)>,
    /// `page_load_ms` of the first `player_init` that has one.
    page_load_ms: Option<u64>,
    /// Every heartbeat's live latency, sorted.
    live_latencies_ms: Vec<f64>,
    /// The largest running total of dropped frames a heartbeat reported.
    dropped_frames: Option<u64>,
    /// Counts by minute, when asked for.
    minutes: Option<SpanMinutes>,
}

impl Measure {
    /// Every measured event of `view` folded in.
    pub fn of(view: &View) -> Measure {
        let mut measure = Measure::default();
        measure.advance(view);
        measure
    }

    /// A measure that also counts the view's minutes of `minute_ms` (as [`view_minutes`]
    /// does), keeping only those from `keep_ms` before its newest event (`None`: all).
    pub fn counting(minute_ms: i64, keep_ms: Option<i64>) -> Measure {
        Measure {
            minutes: Some(SpanMinutes::new(minute_ms, keep_ms)),
            ..Measure::default()
        }
    }

    /// The length of the minutes counted, if counting.
    pub fn minute_ms(&self) -> Option<i64> {
        self.minutes.as_ref().map(SpanMinutes::minute_ms)
    }

    /// Folds in the measured events of `view` after those already folded. Starts over when the
    /// view gained events before them (out-of-order delivery) or ended before them. Does
    /// nothing for a view whose events are out of memory: those were folded in as they came
    /// ([`Measure::extend`]).
    pub fn advance(&mut self, view: &View) {
        if view.released.is_some() {
            return;
        }
        let last = view.end.map_or(Seq(u64::MAX), |end| end.last_seq);
        if let Some(through) = self.through {
            let later = view
                .events
                .range((Bound::Excluded(through), Bound::Unbounded))
                .count();
            if through > last || view.events.len() - later != self.folded {
                self.start_over();
            }
        }
        let after = self.through.map_or(Bound::Unbounded, Bound::Excluded);
        for (_, event) in view.events.range((after, Bound::Included(last))) {
            self.fold(event);
        }
    }

    /// Folds in `events`, new to `view` in `seq` order after every event folded so far, as a
    /// view that does not keep its events passes them on ([`View::pass`]); those past the
    /// view's end are not measured.
    pub fn extend(&mut self, view: &View, events: &[Event]) {
        let last = view.end.map_or(Seq(u64::MAX), |end| end.last_seq);
        for event in events.iter().take_while(|event| event.seq <= last) {
            debug_assert!(
                self.through.is_none_or(|through| event.seq > through),
                "events extended out of order"
            );
            self.fold(event);
        }
    }

    /// Forgets every event folded in, keeping how minutes are counted.
    fn start_over(&mut self) {
        let minutes = self.minutes.as_ref().map(SpanMinutes::emptied);
        *self = Measure {
            minutes,
            ..Measure::default()
        };
    }

    fn fold(&mut self, event: &Event) {
        let Measure {
            walker, minutes, ..
        } = self;
        match minutes {
            Some(minutes) => {
                walker.step(event, &mut |span| minutes.add(&span));
                minutes.event(event, walker.totals());
            }
            None => walker.step(event, &mut |_| {}),
        }
        self.through = Some(event.seq);
        self.folded += 1;
        self.last_at = Some(event.at);
        match &event.kind {
            EventKind::PlayerInit { page_load_ms } => {
                self.player_init.get_or_insert((event.seq, event.ts));
                self.page_load_ms = self.page_load_ms.or(*page_load_ms);
            }
            EventKind::PlayerReady => {
                self.player_ready.get_or_insert((event.seq, event.ts));
            }
            EventKind::Heartbeat(heartbeat) => {
                if let Some(ms) = heartbeat.live_latency_ms {
                    let ms = ms as f64;
                    let at = self
                        .live_latencies_ms
                        .partition_point(|v| v.total_cmp(&ms).is_le());
                    room_for_one(&mut self.live_latencies_ms);
                    self.live_latencies_ms.insert(at, ms);
                }
                self.dropped_frames = self.dropped_frames.max(heartbeat.dropped_frames);
            }
            _ => {}
        }
    }

    /// [`Measure::metrics`] and, when counting, the first minute kept and the minutes (an
    /// ended view's closed at its end, as [`view_minutes`] gives them).
    pub fn metrics_and_minutes(
        &self,
        view: &View,
    ) -> (ViewMetrics, Option<(ServerTime, ViewMinutes)>) {
        (self.metrics(view), self.minutes(view))
    }

    /// When counting, the first minute kept and the minutes, as [`Measure::metrics_and_minutes`]
    /// gives them, without the metrics.
    pub fn minutes(&self, view: &View) -> Option<(ServerTime, ViewMinutes)> {
        let mut minutes = self.minutes.clone()?;
        let walk = self
            .walker
            .clone()
            .finish(view.end.map(|end| end.ts), &mut |span| minutes.add(&span));
        minutes.close(view, &walk, self.last_at);
        Some(minutes.into_parts())
    }

    /// Every per-view metric of `view` as of the events folded in (open intervals closed at the
    /// view's end, if it has ended).
    pub fn metrics(&self, view: &View) -> ViewMetrics {
        let walk = self
            .walker
            .clone()
            .finish(view.end.map(|end| end.ts), &mut |_| {});
        let player_startup_time_ms = match (self.player_init, self.player_ready) {
            (Some((init_seq, init_ts)), Some((ready_seq, ready_ts))) if ready_seq > init_seq => {
                Some(ready_ts.since(init_ts))
            }
            _ => None,
        };
        let page_load_time_ms = self.page_load_ms;
        let video_startup_time_ms =
            (walk.started && walk.requested_before_start).then_some(walk.startup_ms);
        let aggregate_startup_time_ms = match (
            page_load_time_ms,
            player_startup_time_ms,
            video_startup_time_ms,
        ) {
            (Some(page), Some(player), Some(video)) => Some(page + player + video),
            _ => None,
        };
        let attempted = walk.play_requested;
        let watch_ms = walk.watch_ms();
        let measured_ms = walk.rebuffer_ms + walk.playing_ms;
        let (upscale, downscale) = scaling(view, &walk.playing_by_rendition);
        let exit_before_video_start =
            attempted.then_some(view.is_ended() && !walk.started && !walk.fatal);
        let score = score::score(&score::ScoreInputs {
            attempted,
            started: walk.started,
            failed: walk.fatal,
            exit_wait_ms: (exit_before_video_start == Some(true)).then_some(walk.startup_ms),
            startup_ms: video_startup_time_ms,
            rebuffer_count: walk.rebuffer_count,
            rebuffer_fraction: (measured_ms > 0)
                .then(|| walk.rebuffer_ms as f64 / measured_ms as f64),
            upscale_mean: upscale.as_ref().map(|s| s.mean / 100.0),
            upscale_max: upscale.as_ref().map(|s| s.max / 100.0),
        });
        let lost = |i: usize| score.pull.map(|pull| pull[i]);
        ViewMetrics {
            video_startup_time_ms,
            player_startup_time_ms,
            page_load_time_ms,
            aggregate_startup_time_ms,
            startup_failure: attempted.then_some(walk.fatal_before_start),
            exit_before_video_start,
            playback_failure: walk.fatal,
            rebuffer_count: walk.rebuffer_count,
            rebuffer_duration_ms: walk.rebuffer_ms,
            rebuffer_percentage: (measured_ms > 0)
                .then(|| walk.rebuffer_ms as f64 * 100.0 / measured_ms as f64),
            rebuffer_frequency_per_min: (watch_ms > 0)
                .then(|| walk.rebuffer_count as f64 * 60_000.0 / watch_ms as f64),
            watch_time_ms: watch_ms,
            playing_time_ms: walk.playing_ms,
            avg_bitrate_bps: weighted(&walk.playing_by_rendition, |r| Some(r.bitrate_bps as f64)),
            upscale_percentage: upscale.as_ref().map(|s| s.mean),
            downscale_percentage: downscale.as_ref().map(|s| s.mean),
            max_upscale_percentage: upscale.map(|s| s.max),
            max_downscale_percentage: downscale.map(|s| s.max),
            seek_count: walk.seek_count,
            seek_latency_ms: (walk.seek_count > 0)
                .then(|| walk.seek_latency_total_ms as f64 / walk.seek_count as f64),
            rendition_change_count: walk.rendition_changes,
            upshift_count: walk.upshifts,
            downshift_count: walk.downshifts,
            total_startup_time_ms: video_startup_time_ms.map(|content| content + walk.preroll_ms),
            exit_before_start_wait_ms: (exit_before_video_start == Some(true))
                .then_some(walk.startup_ms),
            live_latency_ms: nearest_rank(&self.live_latencies_ms, 0.5),
            dropped_frames_per_min: self
                .dropped_frames
                .filter(|_| walk.playing_ms >= 1000)
                .map(|frames| frames as f64 * 60_000.0 / walk.playing_ms as f64),
            p1203_mos: p1203::view_p1203(view, &walk, false).o46,
            experience_score: score.overall,
            playback_success_score: score.playback_success,
            startup_score: score.startup,
            smoothness_score: score.smoothness,
            video_quality_score: score.quality,
            experience_lost_to_playback_success: lost(3),
            experience_lost_to_startup: lost(0),
            experience_lost_to_smoothness: lost(1),
            experience_lost_to_quality: lost(2),
            started: walk.started,
            watching: walk.watching_at_end && !view.is_ended(),
        }
    }
}

/// The view's P.1203 mode 0 scores with the per-second video quality, or why it has none;
/// `h264_equivalent` scores other codecs as H.264 at the same bitrate (an estimate, noted).
pub fn view_p1203(view: &View, h264_equivalent: bool) -> ViewP1203 {
    p1203::view_p1203(view, &walk(view), h264_equivalent)
}

/// Σ(value × playing time) ÷ Σ playing time over renditions with a value.
fn weighted(
    played: &[(openqoe_model::Rendition, u64)],
    value: impl Fn(&openqoe_model::Rendition) -> Option<f64>,
) -> Option<f64> {
    let (sum, ms) = played
        .iter()
        .filter_map(|(r, ms)| value(r).map(|v| (v * *ms as f64, *ms)))
        .fold((0.0, 0u64), |(sum, total), (v, ms)| (sum + v, total + ms));
    (ms > 0).then(|| sum / ms as f64)
}

struct Scaling {
    mean: f64,
    max: f64,
}

/// Upscale and downscale percentages (Mux's definition): the factor that fits the rendition into
/// the player on the dimension that fits first, as a percentage away from 1.
fn scaling(
    view: &View,
    played: &[(openqoe_model::Rendition, u64)],
) -> (Option<Scaling>, Option<Scaling>) {
    let size = |name: &str| {
        view.props
            .get(name)
            .as_ref()
            .and_then(serde_json::Value::as_f64)
            .filter(|v| *v > 0.0)
    };
    let (Some(player_w), Some(player_h)) = (size("player_width"), size("player_height")) else {
        return (None, None);
    };
    let factor = |r: &openqoe_model::Rendition| {
        (r.width > 0 && r.height > 0)
            .then(|| (player_w / f64::from(r.width)).min(player_h / f64::from(r.height)))
    };
    let up = |r: &openqoe_model::Rendition| factor(r).map(|s| ((s - 1.0) * 100.0).max(0.0));
    let down = |r: &openqoe_model::Rendition| factor(r).map(|s| ((1.0 - s) * 100.0).max(0.0));
    let summary = |percent: &dyn Fn(&openqoe_model::Rendition) -> Option<f64>| {
        let mean = weighted(played, percent)?;
        let max = played
            .iter()
            .filter(|(_, ms)| *ms > 0)
            .filter_map(|(r, _)| percent(r))
            .fold(0.0, f64::max);
        Some(Scaling { mean, max })
    };
    (summary(&up), summary(&down))
}

#[cfg(test)]
mod tests;
