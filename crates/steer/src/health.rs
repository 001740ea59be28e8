//! A pathway's health in a cohort: one score out of 100 from what its viewers lived through
//! (rebuffering, failures, startup time — openqoe's own views) and what its players measure
//! (throughput in their steering polls). Ratios are Σ numerator / Σ denominator over the window.
use openqoe_metrics::MinuteCounts;
use serde::Serialize;

use crate::config::SteerConfig;

/// Points a component takes off at its worst, and where its worst begins. Rebuffering and
/// failures are what viewers leave over; throughput predicts rebuffering before it happens.
const REBUFFER_POINTS: f64 = 35.0;
/// Rebuffer percentage at which the whole penalty applies.
const REBUFFER_WORST_PCT: f64 = 5.0;
const FAILURE_POINTS: f64 = 30.0;
/// Failed views (start or playback) per 100 views at which the whole penalty applies.
const FAILURE_WORST_PCT: f64 = 10.0;
const STARTUP_POINTS: f64 = 10.0;
/// Median video startup time without penalty, and the span over which the penalty grows.
const STARTUP_FREE_MS: f64 = 1_000.0;
const STARTUP_SPAN_MS: f64 = 4_000.0;
const THROUGHPUT_POINTS: f64 = 25.0;

/// What is known of one pathway in one cohort over the window.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    /// Views with any counts in the window.
    pub views: u64,
    /// Fatal errors, before or after the first frame.
    pub failures: u64,
    /// Rebuffering, ms.
    pub rebuffer_ms: u64,
    /// Playing, ms.
    pub playing_ms: u64,
    /// Video startup times of first frames in the window, ms.
    pub startup_times_ms: Vec<u64>,
    /// Players' throughput reports, bits/s.
    pub throughput_bps: Vec<u64>,
    /// The view with the most rebuffering: (its rebuffer ms, its watched ms).
    pub worst_view: (u64, u64),
}

impl Evidence {
    /// Adds one view's counts over the window.
    pub fn add_view(&mut self, counts: &MinuteCounts) {
        self.views += 1;
        if counts.rebuffer_ms > self.worst_view.0 {
            self.worst_view = (counts.rebuffer_ms, counts.rebuffer_ms + counts.playing_ms);
        }
        self.failures += counts.startup_failures + counts.playback_failures;
        self.rebuffer_ms += counts.rebuffer_ms;
        self.playing_ms += counts.playing_ms;
        self.startup_times_ms
            .extend_from_slice(&counts.startup_times_ms);
    }

    /// Adds one player's throughput report.
    pub fn add_report(&mut self, throughput_bps: u64) {
        self.throughput_bps.push(throughput_bps);
    }

    /// Adds everything `other` knows.
    pub fn merge(&mut self, other: &Evidence) {
        self.views += other.views;
        self.failures += other.failures;
        self.rebuffer_ms += other.rebuffer_ms;
        self.playing_ms += other.playing_ms;
        self.startup_times_ms
            .extend_from_slice(&other.startup_times_ms);
        self.throughput_bps.extend_from_slice(&other.throughput_bps);
        if other.worst_view.0 > self.worst_view.0 {
            self.worst_view = other.worst_view;
        }
    }

    /// How much this evidence weighs (views plus reports).
    pub fn weight(&self) -> u64 {
        self.views + self.throughput_bps.len() as u64
    }

    /// The health this evidence shows; `score` is `None` when there is too little of it.
    pub fn health(&self, config: &SteerConfig) -> Health {
        let enough_views = self.views >= config.min_views.max(1);
        let enough_reports = self.throughput_bps.len() as u64 >= config.min_reports.max(1);
        let watched = self.rebuffer_ms + self.playing_ms;
        let rebuffer_pct =
            (enough_views && watched > 0).then(|| 100.0 * self.rebuffer_ms as f64 / watched as f64);
        let failure_pct = enough_views.then(|| 100.0 * self.failures as f64 / self.views as f64);
        let startup_ms = (enough_views && !self.startup_times_ms.is_empty())
            .then(|| quantile(&self.startup_times_ms, 0.5));
        let throughput_bps = enough_reports.then(|| quantile(&self.throughput_bps, 0.5));
        let penalties = Penalties::of(
            config,
            rebuffer_pct,
            failure_pct,
            startup_ms,
            throughput_bps,
        );
        // The best case the same evidence allows, so noise never demotes: without its worst
        // view, failures at their 95 % Poisson lower bound, throughput at its upper quartile.
        let (worst_rebuffer, worst_watched) = self.worst_view;
        let best_rebuffer_pct = rebuffer_pct.map(|pct| {
            let rest = watched - worst_watched.min(watched);
            if rest == 0 {
                pct.min(REBUFFER_WORST_PCT)
            } else {
                100.0 * (self.rebuffer_ms - worst_rebuffer) as f64 / rest as f64
            }
        });
        let best_failure_pct =
            failure_pct.map(|_| 100.0 * poisson_lower_95(self.failures) / self.views as f64);
        let best_throughput = throughput_bps.map(|_| quantile(&self.throughput_bps, 0.75));
        let best_case = Penalties::of(
            config,
            best_rebuffer_pct,
            best_failure_pct,
            startup_ms,
            best_throughput,
        );
        let known = enough_views || enough_reports;
        Health {
            score: known.then(|| 100.0 - penalties.total()),
            best_case_score: known.then(|| 100.0 - best_case.total()),
            views: self.views,
            reports: self.throughput_bps.len() as u64,
            rebuffer_pct,
            failure_pct,
            startup_ms,
            throughput_bps,
            penalties,
        }
    }
}

/// The one-sided 95 % lower confidence bound of a Poisson mean with `events` observed
/// (Wilson–Hilferty).
fn poisson_lower_95(events: u64) -> f64 {
    if events == 0 {
        return 0.0;
    }
    let x = events as f64;
    (x * (1.0 - 1.0 / (9.0 * x) - 1.645 / (3.0 * x.sqrt())).powi(3)).max(0.0)
}

/// Nearest-rank quantile; the median of an even count averages the middle two.
fn quantile(values: &[u64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let n = sorted.len();
    if q == 0.5 && n.is_multiple_of(2) {
        return (sorted[n / 2 - 1] + sorted[n / 2]) as f64 / 2.0;
    }
    sorted[((q * n as f64).ceil() as usize).clamp(1, n) - 1] as f64
}

/// Points each component takes off the score.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Penalties {
    /// From the rebuffer percentage.
    pub rebuffer: f64,
    /// From failed views.
    pub failure: f64,
    /// From the median video startup time.
    pub startup: f64,
    /// From throughput below the need.
    pub throughput: f64,
}

impl Penalties {
    fn of(
        config: &SteerConfig,
        rebuffer_pct: Option<f64>,
        failure_pct: Option<f64>,
        startup_ms: Option<f64>,
        throughput_bps: Option<f64>,
    ) -> Penalties {
        let mut parts = Penalties::default();
        if let Some(pct) = rebuffer_pct {
            parts.rebuffer = REBUFFER_POINTS * (pct / REBUFFER_WORST_PCT).min(1.0);
        }
        if let Some(pct) = failure_pct {
            parts.failure = FAILURE_POINTS * (pct / FAILURE_WORST_PCT).min(1.0);
        }
        if let Some(ms) = startup_ms {
            parts.startup =
                STARTUP_POINTS * ((ms - STARTUP_FREE_MS) / STARTUP_SPAN_MS).clamp(0.0, 1.0);
        }
        if let Some(bps) = throughput_bps {
            parts.throughput =
                THROUGHPUT_POINTS * (1.0 - bps / config.throughput_need_bps as f64).clamp(0.0, 1.0);
        }
        parts
    }

    fn total(&self) -> f64 {
        self.rebuffer + self.failure + self.startup + self.throughput
    }
}

/// A pathway's health in a cohort.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Health {
    /// 0–100, higher is better; `None` with too little evidence.
    pub score: Option<f64>,
    /// The best score the same evidence plausibly allows (its worst view left out, failures at
    /// their lower confidence bound, throughput at its upper quartile): a pathway is demoted
    /// only when even this is far behind, so one unlucky view never moves traffic.
    pub best_case_score: Option<f64>,
    /// Views in the window.
    pub views: u64,
    /// Throughput reports in the window.
    pub reports: u64,
    /// Rebuffer percentage (with enough views).
    pub rebuffer_pct: Option<f64>,
    /// Failed views per 100 (with enough views).
    pub failure_pct: Option<f64>,
    /// Median video startup time, ms.
    pub startup_ms: Option<f64>,
    /// Median reported throughput, bits/s (with enough reports).
    pub throughput_bps: Option<f64>,
    /// What the score lost, by component.
    pub penalties: Penalties,
}

impl Health {
    /// The component that puts `self` furthest below `better`, in words for a change log:
    /// "rebuffering 6.2 % vs 0.3 %".
    pub fn worst_part_against(&self, better: &Health) -> String {
        let gaps = [
            (self.penalties.rebuffer - better.penalties.rebuffer, 0),
            (self.penalties.failure - better.penalties.failure, 1),
            (self.penalties.startup - better.penalties.startup, 2),
            (self.penalties.throughput - better.penalties.throughput, 3),
        ];
        let (_, which) =
            gaps.iter()
                .copied()
                .fold((f64::MIN, 0), |best, g| if g.0 > best.0 { g } else { best });
        let pair = |a: Option<f64>, b: Option<f64>, unit: &str, scale: f64, digits: usize| {
            let show = |v: Option<f64>| {
                v.map_or("unknown".to_owned(), |v| {
                    format!("{:.*}{unit}", digits, v / scale)
                })
            };
            format!("{} vs {}", show(a), show(b))
        };
        match which {
            0 => format!(
                "rebuffering {}",
                pair(self.rebuffer_pct, better.rebuffer_pct, " %", 1.0, 1)
            ),
            1 => format!(
                "failed views {}",
                pair(self.failure_pct, better.failure_pct, " %", 1.0, 1)
            ),
            2 => format!(
                "median startup {}",
                pair(self.startup_ms, better.startup_ms, " s", 1000.0, 1)
            ),
            _ => format!(
                "throughput {}",
                pair(
                    self.throughput_bps,
                    better.throughput_bps,
                    " Mbit/s",
                    1e6,
                    1
                )
            ),
        }
    }
}
