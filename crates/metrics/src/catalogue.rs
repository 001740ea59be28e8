//! The metric catalogue: every metric the API aggregates, with its unit and kind.
use serde::Serialize;

use crate::ViewMetrics;

/// How a metric aggregates over views.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// Percentiles, mean and sum of per-view values.
    Distribution,
    /// Percent of views in the population where it happened.
    Rate,
}

/// One entry of the metric catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Metric {
    /// The name, equal to the `ViewMetrics` field.
    pub name: &'static str,
    /// `ms`, `bps`, `percent`, `count` or `per_min`.
    pub unit: &'static str,
    /// How it aggregates.
    pub kind: MetricKind,
    /// One plain sentence for an operator.
    pub description: &'static str,
}

/// A view's value of one metric, as aggregation reads it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MetricValue {
    /// A distribution metric's value.
    Number(f64),
    /// Whether a rate metric's event happened.
    Flag(bool),
}

const fn distribution(name: &'static str, unit: &'static str, description: &'static str) -> Metric {
    Metric {
        name,
        unit,
        kind: MetricKind::Distribution,
        description,
    }
}

const fn rate(name: &'static str, description: &'static str) -> Metric {
    Metric {
        name,
        unit: "percent",
        kind: MetricKind::Rate,
        description,
    }
}

/// Every metric, in display order; `name` equals the `ViewMetrics` field name.
pub const METRICS: &[Metric] = &[
    distribution(
        "video_startup_time_ms",
        "ms",
        "How long viewers wait from pressing play to the first frame (ads and pauses excluded).",
    ),
    distribution(
        "player_startup_time_ms",
        "ms",
        "How long the player takes from being created to being ready to play.",
    ),
    distribution(
        "page_load_time_ms",
        "ms",
        "How long the page took to load before the player was created (first view of a page).",
    ),
    distribution(
        "aggregate_startup_time_ms",
        "ms",
        "Page load plus player startup plus video startup: the whole wait on a page's first view.",
    ),
    rate(
        "startup_failure",
        "Share of play attempts that failed with an error before the first frame.",
    ),
    rate(
        "exit_before_video_start",
        "Share of play attempts abandoned before the first frame without an error.",
    ),
    rate(
        "playback_failure",
        "Share of views that ended in a fatal error, before or after the video started.",
    ),
    distribution(
        "rebuffer_count",
        "count",
        "How many times playback froze to buffer, per view (seeks and ads excluded).",
    ),
    distribution(
        "rebuffer_duration_ms",
        "ms",
        "How long playback was frozen buffering, per view.",
    ),
    distribution(
        "rebuffer_percentage",
        "percent",
        "Share of viewing time spent frozen: rebuffering over rebuffering plus playing.",
    ),
    distribution(
        "rebuffer_frequency_per_min",
        "per_min",
        "Freezes per minute of watch time.",
    ),
    distribution(
        "watch_time_ms",
        "ms",
        "Time spent watching or trying to watch: startup, playing, rebuffering, seeking and ads.",
    ),
    distribution(
        "playing_time_ms",
        "ms",
        "Time the content was actually playing.",
    ),
    distribution(
        "avg_bitrate_bps",
        "bps",
        "Video bitrate viewers played, weighted by how long each quality played.",
    ),
    distribution(
        "upscale_percentage",
        "percent",
        "How much the picture was stretched to fill the player, averaged over playing time.",
    ),
    distribution(
        "downscale_percentage",
        "percent",
        "How much the picture was shrunk to fit the player, averaged over playing time.",
    ),
    distribution(
        "max_upscale_percentage",
        "percent",
        "The most the picture was stretched in any quality played.",
    ),
    distribution(
        "max_downscale_percentage",
        "percent",
        "The most the picture was shrunk in any quality played.",
    ),
    distribution(
        "rendition_change_count",
        "count",
        "How often the picture quality changed while watching, per view.",
    ),
    distribution(
        "upshift_count",
        "count",
        "How often the quality went up, per view.",
    ),
    distribution(
        "downshift_count",
        "count",
        "How often the quality dropped, per view.",
    ),
    distribution(
        "total_startup_time_ms",
        "ms",
        "How long viewers wait from pressing play to the first frame, pre-roll ads included.",
    ),
    distribution(
        "exit_before_start_wait_ms",
        "ms",
        "How long viewers who gave up before the video started had waited.",
    ),
    distribution(
        "live_latency_ms",
        "ms",
        "How far behind the live edge viewers watch.",
    ),
    distribution(
        "dropped_frames_per_min",
        "per_min",
        "Frames the player dropped per minute of playing.",
    ),
    distribution(
        "p1203_mos",
        "mos",
        "The ITU-T P.1203 quality score of what viewers saw, 1 (bad) to 5 (excellent).",
    ),
    distribution(
        "experience_score",
        "score",
        "One number for the viewing experience, 0 to 100: success, startup, smoothness and quality.",
    ),
    distribution(
        "playback_success_score",
        "score",
        "100 when the video played, 50 when the viewer gave up waiting, 0 when it failed.",
    ),
    distribution(
        "startup_score",
        "score",
        "100 for an instant start, 80 for a 2-second wait, 50 for 8 seconds.",
    ),
    distribution(
        "smoothness_score",
        "score",
        "100 without freezes; lower with more and longer freezes.",
    ),
    distribution(
        "video_quality_score",
        "score",
        "100 when the picture is sharp; lower the more it is blown up.",
    ),
    distribution(
        "experience_lost_to_playback_success",
        "score",
        "Points of the experience score lost to failures and give-ups.",
    ),
    distribution(
        "experience_lost_to_startup",
        "score",
        "Points of the experience score lost to waiting for the video to start.",
    ),
    distribution(
        "experience_lost_to_smoothness",
        "score",
        "Points of the experience score lost to freezes.",
    ),
    distribution(
        "experience_lost_to_quality",
        "score",
        "Points of the experience score lost to blurry, upscaled pictures.",
    ),
    distribution(
        "seek_count",
        "count",
        "How many times viewers jumped to another point, per view.",
    ),
    distribution(
        "seek_latency_ms",
        "ms",
        "How long a jump took until the video could continue, averaged per view.",
    ),
];

/// Looks a metric up by name.
pub fn metric(name: &str) -> Option<&'static Metric> {
    METRICS.iter().find(|m| m.name == name)
}

impl ViewMetrics {
    /// A view's value of one metric; `None` when the view is outside that metric's population.
    pub fn value(&self, name: &str) -> Option<MetricValue> {
        let number = |v: Option<f64>| v.map(MetricValue::Number);
        let ms = |v: Option<u64>| v.map(|v| MetricValue::Number(v as f64));
        let count = |v: u64| Some(MetricValue::Number(v as f64));
        match name {
            "video_startup_time_ms" => ms(self.video_startup_time_ms),
            "player_startup_time_ms" => ms(self.player_startup_time_ms),
            "page_load_time_ms" => ms(self.page_load_time_ms),
            "aggregate_startup_time_ms" => ms(self.aggregate_startup_time_ms),
            "startup_failure" => self.startup_failure.map(MetricValue::Flag),
            "exit_before_video_start" => self.exit_before_video_start.map(MetricValue::Flag),
            "playback_failure" => Some(MetricValue::Flag(self.playback_failure)),
            "rebuffer_count" => count(self.rebuffer_count),
            "rebuffer_duration_ms" => count(self.rebuffer_duration_ms),
            "rebuffer_percentage" => number(self.rebuffer_percentage),
            "rebuffer_frequency_per_min" => number(self.rebuffer_frequency_per_min),
            "watch_time_ms" => count(self.watch_time_ms),
            "playing_time_ms" => count(self.playing_time_ms),
            "avg_bitrate_bps" => number(self.avg_bitrate_bps),
            "upscale_percentage" => number(self.upscale_percentage),
            "downscale_percentage" => number(self.downscale_percentage),
            "max_upscale_percentage" => number(self.max_upscale_percentage),
            "max_downscale_percentage" => number(self.max_downscale_percentage),
            "rendition_change_count" => count(self.rendition_change_count),
            "upshift_count" => count(self.upshift_count),
            "downshift_count" => count(self.downshift_count),
            "total_startup_time_ms" => ms(self.total_startup_time_ms),
            "exit_before_start_wait_ms" => ms(self.exit_before_start_wait_ms),
            "live_latency_ms" => number(self.live_latency_ms),
            "dropped_frames_per_min" => number(self.dropped_frames_per_min),
            "p1203_mos" => number(self.p1203_mos),
            "experience_score" => number(self.experience_score),
            "playback_success_score" => number(self.playback_success_score),
            "startup_score" => number(self.startup_score),
            "smoothness_score" => number(self.smoothness_score),
            "video_quality_score" => number(self.video_quality_score),
            "experience_lost_to_playback_success" => {
                number(self.experience_lost_to_playback_success)
            }
            "experience_lost_to_startup" => number(self.experience_lost_to_startup),
            "experience_lost_to_smoothness" => number(self.experience_lost_to_smoothness),
            "experience_lost_to_quality" => number(self.experience_lost_to_quality),
            "seek_count" => count(self.seek_count),
            "seek_latency_ms" => number(self.seek_latency_ms),
            _ => None,
        }
    }
}
