//! The metrics alert rules judge, each read from a cohort's minute counts as a ratio
//! Σnumerator / Σdenominator with a volume that sets its sampling-noise floor.
use openqoe_metrics::MinuteCounts;
use serde::{Deserialize, Serialize};

/// Typical spread of one view's average bitrate around the cohort's (coefficient of variation):
/// the bitrate noise floor is `b × BITRATE_CV / √views`.
const BITRATE_CV: f64 = 0.5;

/// A metric an alert rule can judge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
pub enum AlertMetric {
    /// Video start failures / attempts (VSF).
    #[serde(rename = "startup_failure")]
    StartupFailure,
    /// Exits before video start / attempts (EBVS).
    #[serde(rename = "exit_before_video_start")]
    ExitBeforeVideoStart,
    /// Fatal errors after the first frame / watching views (VPF after start, per minute).
    #[serde(rename = "playback_failure")]
    PlaybackFailure,
    /// Rebuffer time / (rebuffer + playing time).
    #[serde(rename = "rebuffer_percentage")]
    RebufferPercentage,
    /// 95th percentile of video startup time; judged as the share of starts slower than the
    /// baseline p95 (5 % when nothing changed).
    #[serde(rename = "video_startup_time_p95")]
    VideoStartupTimeP95,
    /// Time-weighted average bitrate; lower is worse.
    #[serde(rename = "avg_bitrate_bps")]
    AvgBitrate,
}

/// One cohort-minute of a metric as a ratio, with the volume behind it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Observation {
    /// Numerator (failures, rebuffer ms, slow starts, bit·ms/s).
    pub numerator: f64,
    /// Denominator (attempts, watched ms, starts, playing ms).
    pub denominator: f64,
    /// Independent units behind the ratio (attempts, starts or watching views): the noise floor
    /// and the minimum volume count these.
    pub volume: f64,
}

impl Observation {
    /// The ratio, when there is a denominator.
    pub fn rate(&self) -> Option<f64> {
        (self.denominator > 0.0).then(|| self.numerator / self.denominator)
    }
}

impl AlertMetric {
    /// Every alertable metric, in the order of the default rules.
    pub const ALL: [AlertMetric; 6] = [
        AlertMetric::StartupFailure,
        AlertMetric::ExitBeforeVideoStart,
        AlertMetric::PlaybackFailure,
        AlertMetric::RebufferPercentage,
        AlertMetric::VideoStartupTimeP95,
        AlertMetric::AvgBitrate,
    ];

    /// The metric's name in the API.
    pub fn name(self) -> &'static str {
        match self {
            AlertMetric::StartupFailure => "startup_failure",
            AlertMetric::ExitBeforeVideoStart => "exit_before_video_start",
            AlertMetric::PlaybackFailure => "playback_failure",
            AlertMetric::RebufferPercentage => "rebuffer_percentage",
            AlertMetric::VideoStartupTimeP95 => "video_startup_time_p95",
            AlertMetric::AvgBitrate => "avg_bitrate_bps",
        }
    }

    /// Default rule name.
    pub fn rule_name(self) -> &'static str {
        match self {
            AlertMetric::StartupFailure => "startup-failures",
            AlertMetric::ExitBeforeVideoStart => "exits-before-start",
            AlertMetric::PlaybackFailure => "playback-failures",
            AlertMetric::RebufferPercentage => "rebuffering",
            AlertMetric::VideoStartupTimeP95 => "slow-startup",
            AlertMetric::AvgBitrate => "low-bitrate",
        }
    }

    /// Words for sentences.
    pub fn label(self) -> &'static str {
        match self {
            AlertMetric::StartupFailure => "Video start failure",
            AlertMetric::ExitBeforeVideoStart => "Exit before video start",
            AlertMetric::PlaybackFailure => "Playback failure",
            AlertMetric::RebufferPercentage => "Rebuffer percentage",
            AlertMetric::VideoStartupTimeP95 => "Video startup time p95",
            AlertMetric::AvgBitrate => "Average bitrate",
        }
    }

    /// Unit of [`AlertMetric::display`] values.
    pub fn unit(self) -> &'static str {
        match self {
            AlertMetric::VideoStartupTimeP95 => "ms",
            AlertMetric::AvgBitrate => "bps",
            _ => "%",
        }
    }

    /// +1 when higher is worse, −1 when lower is worse.
    pub fn direction(self) -> f64 {
        match self {
            AlertMetric::AvgBitrate => -1.0,
            _ => 1.0,
        }
    }

    /// Whether the numerator counts outcomes (failures, exits, slow starts) out of the
    /// denominator's views.
    pub fn counts_outcomes(self) -> bool {
        !matches!(
            self,
            AlertMetric::RebufferPercentage | AlertMetric::AvgBitrate
        )
    }

    /// Whether the ratio is a probability (a share of views or of time), so the binomial floor
    /// applies.
    fn is_share(self) -> bool {
        self != AlertMetric::AvgBitrate
    }

    /// The minute's ratio; `slow_ms` is the baseline p95 that counts a start as slow.
    pub fn observe(self, counts: &MinuteCounts, slow_ms: f64) -> Observation {
        let (numerator, denominator, volume) = match self {
            AlertMetric::StartupFailure => (
                counts.startup_failures as f64,
                counts.attempts as f64,
                counts.attempts as f64,
            ),
            AlertMetric::ExitBeforeVideoStart => (
                counts.exits_before_start as f64,
                counts.attempts as f64,
                counts.attempts as f64,
            ),
            AlertMetric::PlaybackFailure => (
                counts.playback_failures as f64,
                counts.watching as f64,
                counts.watching as f64,
            ),
            AlertMetric::RebufferPercentage => (
                counts.rebuffer_ms as f64,
                (counts.rebuffer_ms + counts.playing_ms) as f64,
                counts.watching as f64,
            ),
            AlertMetric::VideoStartupTimeP95 => {
                let slow = counts
                    .startup_times_ms
                    .iter()
                    .filter(|ms| **ms as f64 > slow_ms)
                    .count();
                let starts = counts.startup_times_ms.len() as f64;
                (slow as f64, starts, starts)
            }
            AlertMetric::AvgBitrate => (
                counts.bitrate_ms,
                counts.rendition_ms as f64,
                counts.watching as f64,
            ),
        };
        Observation {
            numerator,
            denominator,
            volume,
        }
    }

    /// Sampling noise of the ratio around `baseline` with `volume` independent units.
    pub fn noise_floor(self, baseline: f64, volume: f64) -> f64 {
        let volume = volume.max(1.0);
        if self.is_share() {
            // Never below one unit's worth: a baseline of 0 must not make any single event infinite.
            let p = baseline
                .clamp(0.5 / volume, 1.0 - 0.5 / volume)
                .clamp(0.0, 1.0);
            (p * (1.0 - p) / volume).sqrt()
        } else {
            baseline.abs() * BITRATE_CV / volume.sqrt()
        }
    }

    /// How many views the excess `numerator − baseline × denominator` amounts to: failures and
    /// slow starts count themselves; time metrics count view-minutes (a view stalled for a whole
    /// minute is one).
    pub fn excess_views(self, observation: &Observation, baseline: f64) -> f64 {
        let excess =
            self.direction() * (observation.numerator - baseline * observation.denominator);
        match self {
            AlertMetric::RebufferPercentage => excess / 60_000.0,
            AlertMetric::AvgBitrate if baseline > 0.0 => excess / baseline / 60_000.0,
            AlertMetric::AvgBitrate => 0.0,
            _ => excess,
        }
    }

    /// The ratio as shown: percent for shares, ms for the p95 (`p95_ms`), bps for bitrate.
    pub fn display(self, ratio: f64, p95_ms: f64) -> f64 {
        match self {
            AlertMetric::VideoStartupTimeP95 => p95_ms,
            AlertMetric::AvgBitrate => ratio,
            _ => ratio * 100.0,
        }
    }

    /// A leaf's numerator and denominator for root cause, in units whose count sets the sampling
    /// noise: shares of views as they are; time metrics in watching views (a view's share of
    /// time rebuffering, or of bitrate short of `top_bps`, counts as that fraction of a view),
    /// because stalls cluster in views and a second is not an independent trial.
    pub fn rca_ratio(self, counts: &MinuteCounts, slow_ms: f64, top_bps: f64) -> (f64, f64) {
        let views = counts.watching as f64;
        match self {
            AlertMetric::RebufferPercentage => {
                let watched = (counts.rebuffer_ms + counts.playing_ms) as f64;
                if watched > 0.0 {
                    (views * counts.rebuffer_ms as f64 / watched, views)
                } else {
                    (0.0, 0.0)
                }
            }
            AlertMetric::AvgBitrate if top_bps > 0.0 && counts.rendition_ms > 0 => {
                let average = counts.bitrate_ms / counts.rendition_ms as f64;
                (views * (1.0 - average / top_bps).clamp(0.0, 1.0), views)
            }
            AlertMetric::AvgBitrate => (0.0, 0.0),
            _ => {
                let observation = self.observe(counts, slow_ms);
                (observation.numerator, observation.denominator)
            }
        }
    }
}
