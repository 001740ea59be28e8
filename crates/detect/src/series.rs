//! One cohort's series under one rule: its baseline (seasonal with a level correction, or a level
//! alone while history is short), its noise scale, and persistence. Pure; fed one minute at a time.
//!
//! Design (reference/alerting.md §6): the seasonal value at minute t is the median, over three to
//! seven earlier days (or the same weekday of earlier weeks once three weeks are held), of the
//! ratio in the ±15 minutes around t; a level factor, an exponentially weighted ratio of what was
//! seen to what the seasonal value predicted, follows drift in the traffic mix. Deviations are
//! standardised (the Poisson tail for counted outcomes, tested against the baseline's plausible
//! upper bound given the events it was learnt from; the binomial or bitrate noise floor from the
//! minute's views otherwise) and divided by an over-dispersion factor estimated robustly
//! (1.4826 × MAD) from recent standardised residuals, never below 1. Anomalous minutes feed
//! neither the baseline nor the scale, so a long incident does not become the new normal.
use std::collections::VecDeque;

use crate::metric::{AlertMetric, Observation};
use crate::sketch::StartupWindow;

const MINUTE_MS: i64 = 60_000;
const SLOT_MINUTES: i64 = 5;
const DAY_SLOTS: i64 = 24 * 60 / SLOT_MINUTES;
/// Seasonal slots held: four weeks.
const SEASONAL_SLOTS: usize = (28 * DAY_SLOTS) as usize;
/// Per-minute weight of the level's exponential average (half-life ≈ 23 minutes).
const LEVEL_ALPHA: f64 = 0.03;
/// Standardised residuals kept for the dispersion estimate: six hours of judged minutes.
const RESIDUALS: usize = 360;
/// Days (or weeks) whose same-time ratio the seasonal median takes.
const SEASONS: i64 = 7;
/// Seasonal baselines need this many earlier days at the same time (a median of fewer is one
/// noisy day); until then the level alone is the baseline.
const MIN_SEASONS: usize = 3;
/// Counted outcomes are tested against the baseline this many of its own standard deviations up.
const BASELINE_SD: f64 = 2.0;

/// How surprising `count` is when `expected` were due: the normal deviate of its Poisson mid-p
/// upper tail (negative when fewer came than expected).
fn poisson_deviate(count: f64, expected: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, Discrete, DiscreteCDF, Normal, Poisson};
    let expected = expected.max(0.01);
    let Ok(poisson) = Poisson::new(expected) else {
        return 0.0;
    };
    let k = count.round().max(0.0) as u64;
    // P(X > k) + ½ P(X = k), computed from the upper tail directly to keep far tails precise.
    let tail = poisson.sf(k) + 0.5 * poisson.pmf(k);
    let standard = Normal::standard();
    if tail <= 0.0 {
        return 40.0;
    }
    -standard.inverse_cdf(tail.min(1.0))
}

/// A minute's verdict for one series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Judgement {
    /// The minute's observation.
    pub observation: Observation,
    /// The baseline ratio.
    pub baseline: f64,
    /// The baseline the deviation was tested against (its plausible upper bound).
    pub tested: f64,
    /// The minute's value as shown (percent, the minute's own p95 in ms, or bps).
    pub shown: f64,
    /// Standard deviations beyond the baseline in the bad direction.
    pub z: f64,
    /// Excess affected views in the minute.
    pub excess_views: f64,
    /// Views (or view-minutes) of the cohort in the minute.
    pub views: f64,
    /// Beyond `z` with a meaningful excess.
    pub hot: bool,
}

/// One cohort's series.
#[derive(Debug)]
pub struct Series {
    metric: AlertMetric,
    /// 5-minute (numerator, denominator) of non-anomalous minutes; `seasonal_front` is the slot
    /// number (minutes since the epoch / 5) of the first entry.
    seasonal: VecDeque<(f32, f32)>,
    seasonal_front: i64,
    /// Level: weighted sums of numerator, denominator and seasonal prediction × denominator.
    level_numerator: f64,
    level_denominator: f64,
    level_predicted: f64,
    /// The numerator's weighted sum over the minutes that had a seasonal prediction.
    level_matched: f64,
    residuals: VecDeque<f64>,
    /// Recent judged minutes: (minute, judgement).
    recent: VecDeque<(i64, Judgement)>,
    /// Minutes fed so far (the warm-up counts these).
    pub minutes_seen: u32,
    /// Startup times of recent calm minutes, for the p95 threshold.
    startup: StartupWindow,
    /// Whether the series is firing.
    pub firing: bool,
    /// Judged minutes in a row back in range while firing.
    pub calm_minutes: u32,
}

impl Series {
    /// An empty series of `metric`.
    pub fn new(metric: AlertMetric) -> Series {
        Series {
            metric,
            seasonal: VecDeque::new(),
            seasonal_front: 0,
            level_numerator: 0.0,
            level_denominator: 0.0,
            level_predicted: 0.0,
            level_matched: 0.0,
            residuals: VecDeque::new(),
            recent: VecDeque::new(),
            minutes_seen: 0,
            startup: StartupWindow::default(),
            firing: false,
            calm_minutes: 0,
        }
    }

    /// The threshold of a slow start: the p95 of recent calm minutes' startup times.
    pub fn slow_start_ms(&self) -> f64 {
        self.startup.p95().unwrap_or(f64::INFINITY)
    }

    /// Seasonal ratio at `minute`, when earlier days (or weeks) had traffic around it.
    fn seasonal_ratio(&self, minute: i64) -> Option<f64> {
        self.seasonal(minute).map(|(ratio, _)| ratio)
    }

    /// The seasonal ratio and how many events stand behind it (for its uncertainty).
    fn seasonal(&self, minute: i64) -> Option<(f64, f64)> {
        let slot = minute.div_euclid(SLOT_MINUTES);
        let held_days = self.seasonal.len() as i64 / DAY_SLOTS;
        // Weekly seasonality only once three weeks make a median robust to one bad week.
        let period = if held_days >= 21 {
            7 * DAY_SLOTS
        } else {
            DAY_SLOTS
        };
        let mut ratios: Vec<(f64, f64)> = (1..=SEASONS)
            .filter_map(|k| {
                let centre = slot - k * period;
                let (mut n, mut d) = (0.0, 0.0);
                for s in centre - 3..centre + 3 {
                    let i = s - self.seasonal_front;
                    if let Some((num, den)) =
                        usize::try_from(i).ok().and_then(|i| self.seasonal.get(i))
                    {
                        n += f64::from(*num);
                        d += f64::from(*den);
                    }
                }
                (d > 0.0).then(|| (n / d, n))
            })
            .collect();
        if ratios.len() < MIN_SEASONS {
            return None;
        }
        ratios.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (ratio, events) = ratios[ratios.len() / 2];
        // A median of k such windows is about as sure as 2k/π of them summed.
        Some((
            ratio,
            events * 2.0 * ratios.len() as f64 / std::f64::consts::PI,
        ))
    }

    /// Baseline ratio for `minute`: seasonal × level, or the level alone while history is short.
    pub fn baseline(&self, minute: i64) -> Option<f64> {
        if self.metric == AlertMetric::VideoStartupTimeP95 {
            // Slow means beyond the recent p95: 5 % of starts by construction.
            return self.startup.p95().map(|_| 0.05);
        }
        if self.level_denominator <= 0.0 {
            return None;
        }
        let level = self.level_numerator / self.level_denominator;
        match self.seasonal_ratio(minute) {
            Some(seasonal) if self.level_predicted > 0.0 => {
                let factor = (self.level_matched / self.level_predicted).clamp(0.5, 2.0);
                Some(seasonal * factor)
            }
            _ => Some(level),
        }
    }

    /// The baseline a counted outcome is tested against: its upper bound about two standard
    /// deviations up, given how many events it was learnt from (a rate learnt from thirty
    /// failures is uncertain by a fifth; tested at its point estimate, every unlucky low estimate
    /// would page).
    fn tested_baseline(&self, minute: i64, baseline: f64) -> f64 {
        if !self.metric.counts_outcomes() || self.metric == AlertMetric::VideoStartupTimeP95 {
            return baseline;
        }
        let denominator = self.level_denominator * (2.0 - LEVEL_ALPHA) / LEVEL_ALPHA;
        if denominator <= 0.0 {
            return baseline;
        }
        // Events behind the estimate (fewer when the seasonal value, with its own count, is in
        // use), and their upper bound E + 2√(E+1) + 1 (three when none were seen: the rule of
        // three).
        let mut events = baseline * denominator;
        if let Some((_, seasonal_events)) =
            self.seasonal(minute).filter(|_| self.level_predicted > 0.0)
        {
            events = events.min(seasonal_events);
        }
        let upper = events + BASELINE_SD * (events + 1.0).sqrt() + 1.0;
        if events > 0.0 {
            baseline * upper / events
        } else {
            upper / denominator
        }
    }

    /// The minute's deviation from `baseline` in standard units, bad direction positive.
    ///
    /// Counted outcomes (failures, exits, slow starts) are scored by their Poisson tail (mid-p)
    /// turned into a normal deviate, which stays honest when a cohort expects one failure a
    /// minute and sees five (the normal approximation would call that 4.2σ; it is 3.0σ).
    /// Time shares and bitrate use the noise floor from the minute's views.
    fn residual(&self, observation: &Observation, baseline: f64) -> Option<f64> {
        let ratio = observation.rate()?;
        let residual = if self.metric.counts_outcomes() {
            poisson_deviate(observation.numerator, baseline * observation.denominator)
        } else {
            let floor = self.metric.noise_floor(baseline, observation.volume);
            if floor <= 0.0 {
                return None;
            }
            (ratio - baseline) / floor
        };
        Some(self.metric.direction() * residual)
    }

    fn dispersion(&self) -> f64 {
        if self.residuals.len() < 30 {
            return 1.0;
        }
        let mut r: Vec<f64> = self.residuals.iter().copied().collect();
        r.sort_by(f64::total_cmp);
        let median = r[r.len() / 2];
        let mut deviations: Vec<f64> = r.iter().map(|x| (x - median).abs()).collect();
        deviations.sort_by(f64::total_cmp);
        (1.4826 * deviations[deviations.len() / 2]).max(1.0)
    }

    /// Judges one minute against the baseline (before learning from it). `None` while there is
    /// no baseline yet or the minute's volume is below `min_volume`.
    pub fn judge(
        &self,
        minute: i64,
        observation: Observation,
        p95_ms: f64,
        z_threshold: f64,
        min_minute_excess: f64,
    ) -> Option<Judgement> {
        let baseline = self.baseline(minute)?;
        let ratio = observation.rate()?;
        let tested = self.tested_baseline(minute, baseline);
        let z = self.residual(&observation, tested).unwrap_or(0.0) / self.dispersion();
        let excess_views = self.metric.excess_views(&observation, baseline);
        let views = match self.metric {
            AlertMetric::StartupFailure
            | AlertMetric::ExitBeforeVideoStart
            | AlertMetric::VideoStartupTimeP95 => observation.volume,
            _ => observation
                .volume
                .max(observation.denominator / MINUTE_MS as f64),
        };
        Some(Judgement {
            observation,
            shown: self.metric.display(ratio, p95_ms),
            baseline,
            tested,
            z,
            excess_views,
            views,
            hot: z > z_threshold && excess_views >= min_minute_excess,
        })
    }

    /// Learns from one minute; anomalous minutes (hot, or while firing) only advance time.
    pub fn learn(
        &mut self,
        minute: i64,
        observation: Observation,
        startup_times_ms: &[u64],
        judgement: Option<Judgement>,
        anomalous: bool,
    ) {
        self.minutes_seen += 1;
        let slot = minute.div_euclid(SLOT_MINUTES);
        if self.seasonal.is_empty() {
            self.seasonal_front = slot;
        }
        while self.seasonal_front + (self.seasonal.len() as i64) <= slot {
            self.seasonal.push_back((0.0, 0.0));
        }
        while self.seasonal.len() > SEASONAL_SLOTS {
            self.seasonal.pop_front();
            self.seasonal_front += 1;
        }
        if let Some(judgement) = judgement {
            self.recent.push_back((minute, judgement));
            while self.recent.len() > 60 {
                self.recent.pop_front();
            }
        }
        if anomalous {
            return;
        }
        self.startup.push(minute, startup_times_ms);
        if let Some(residual) = judgement.and_then(|j| self.residual(&observation, j.tested)) {
            self.residuals.push_back(residual);
            while self.residuals.len() > RESIDUALS {
                self.residuals.pop_front();
            }
        }
        if observation.denominator <= 0.0 {
            return;
        }
        if let Some(entry) = usize::try_from(slot - self.seasonal_front)
            .ok()
            .and_then(|i| self.seasonal.get_mut(i))
        {
            entry.0 += observation.numerator as f32;
            entry.1 += observation.denominator as f32;
        }
        let keep = 1.0 - LEVEL_ALPHA;
        self.level_numerator = keep * self.level_numerator + LEVEL_ALPHA * observation.numerator;
        self.level_denominator =
            keep * self.level_denominator + LEVEL_ALPHA * observation.denominator;
        if let Some(seasonal) = self.seasonal_ratio(minute) {
            self.level_matched = keep * self.level_matched + LEVEL_ALPHA * observation.numerator;
            self.level_predicted =
                keep * self.level_predicted + LEVEL_ALPHA * seasonal * observation.denominator;
        }
    }

    /// Standard deviations beyond the baseline of `window`'s minutes taken together (their sums
    /// against the sum of their baselines): a few failures a minute in a small cohort add up.
    pub fn window_z(&self, window: &[(i64, Judgement)]) -> f64 {
        let mut sum = Observation::default();
        let mut expected = 0.0;
        for (_, j) in window {
            sum.numerator += j.observation.numerator;
            sum.denominator += j.observation.denominator;
            sum.volume += j.observation.volume;
            expected += j.tested * j.observation.denominator;
        }
        if sum.denominator <= 0.0 || window.is_empty() {
            return 0.0;
        }
        if !self.metric.counts_outcomes() {
            // The same views watch minute after minute: n minutes of them are not n times the
            // evidence.
            sum.volume /= window.len() as f64;
        }
        let baseline = expected / sum.denominator;
        self.residual(&sum, baseline).unwrap_or(0.0) / self.dispersion()
    }

    /// The last `n` judged minutes (oldest first) up to and including `minute`.
    pub fn window(&self, minute: i64, n: usize) -> Vec<(i64, Judgement)> {
        let mut window: Vec<(i64, Judgement)> = self
            .recent
            .iter()
            .rev()
            .take_while(|(m, _)| minute - m < n as i64)
            .copied()
            .collect();
        window.reverse();
        window
    }
}
