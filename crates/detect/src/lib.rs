//! Anomaly detection: every sealed minute, each rule's metric is judged for every monitored cohort
//! (all views, each value of the slice dimensions, each value pair of the configured pairs)
//! against its own baseline; a cohort that stays anomalous fires an alert whose root cause is
//! searched over the minute rollups' leaves. Alerts for the same rule and root cause are one alert.
//!
//! Pure: minutes are fed in order with their views' counts ([`openqoe_metrics::view_minutes`]);
//! the caller owns clocks, I/O and delivery. Key decisions are in `series.rs` (baseline, scale)
//! and docs/alerts.md.
#![warn(missing_docs)]

mod alerts;
mod config;
mod metric;
mod rollup;
mod series;
mod sketch;

pub use alerts::{Alert, AlertChange, AlertStatus, ChangeKind, Severity};
pub use config::{DetectConfig, Rule};
pub use metric::{AlertMetric, Observation};

use std::collections::HashMap;

use openqoe_metrics::MinuteCounts;
use openqoe_model::ServerTime;
use rollup::{Cohort, Rollup};
use series::Series;

/// Minutes of leaves kept for root cause: the window plus an hour of baseline.
const LEAF_MINUTES: usize = 75;
/// Root cause compares the window with this many minutes before it.
const RCA_BASELINE_MINUTES: i64 = 60;
const MINUTE_MS: i64 = 60_000;
/// A minute beyond this many standard deviations leans the bad way (counts toward persistence).
const LEANING_Z: f64 = 1.0;

/// The detector: rollup leaves, one series per rule and cohort, and the alerts.
pub struct Detector {
    rollup: Rollup,
    rules: Vec<(Rule, Vec<(usize, String)>)>,
    slices: Vec<usize>,
    pairs: Vec<[usize; 2]>,
    grace_ms: i64,
    warmup_minutes: u32,
    series: HashMap<(usize, Cohort), Series>,
    alerts: alerts::Alerts,
    last_minute: Option<i64>,
}

impl Detector {
    /// Builds a detector; refuses rules or dimensions that do not fit together, naming them.
    pub fn new(config: &DetectConfig) -> Result<Detector, String> {
        let index = |name: &str, what: &str| {
            config
                .dimensions
                .iter()
                .position(|d| d == name)
                .ok_or_else(|| format!("{what}: {name:?} is not one of detect.dimensions"))
        };
        let slices = config
            .slices
            .iter()
            .map(|s| index(s, "detect.slices"))
            .collect::<Result<Vec<_>, _>>()?;
        let pairs = config
            .pairs
            .iter()
            .map(|[a, b]| Ok([index(a, "detect.pairs")?, index(b, "detect.pairs")?]))
            .collect::<Result<Vec<_>, String>>()?;
        let mut rules = Vec::new();
        for rule in config.effective_rules() {
            rule.validate()?;
            let filter = rule
                .filter_pairs()?
                .into_iter()
                .map(|(d, v)| Ok((index(&d, &format!("rule {:?} filter", rule.name))?, v)))
                .collect::<Result<Vec<_>, String>>()?;
            if rules.iter().any(|(r, _): &(Rule, _)| r.name == rule.name) {
                return Err(format!("rule {:?}: two rules have this name", rule.name));
            }
            rules.push((rule, filter));
        }
        Ok(Detector {
            rollup: Rollup::new(config.dimensions.clone(), LEAF_MINUTES),
            rules,
            slices,
            pairs,
            grace_ms: config.grace_seconds as i64 * 1000,
            warmup_minutes: config.warmup_minutes,
            series: HashMap::new(),
            alerts: alerts::Alerts::default(),
            last_minute: None,
        })
    }

    /// The dimensions, in the order [`Detector::judge_minute`] wants each view's values.
    pub fn dimensions(&self) -> &[String] {
        self.rollup.dimensions()
    }

    /// The rules in force.
    pub fn rules(&self) -> impl Iterator<Item = &Rule> + '_ {
        self.rules.iter().map(|(rule, _)| rule)
    }

    /// Every alert, newest first.
    pub fn alerts(&self) -> impl Iterator<Item = &Alert> + '_ {
        self.alerts.list()
    }

    /// Seconds after a minute's end before it may be judged (late batches).
    pub fn grace_ms(&self) -> i64 {
        self.grace_ms
    }

    /// The minute judged last (its start).
    pub fn last_minute(&self) -> Option<ServerTime> {
        self.last_minute.map(ServerTime)
    }

    /// Judges the minute starting at `minute` (a multiple of 60,000 ms) from its views'
    /// counts (`values` in [`Detector::dimensions`] order). Minutes must come in order; one that
    /// does not is ignored. With `learn_only` the minute only feeds baselines (history replayed
    /// at start-up must not alert). `judged_at` dates the alert changes, which are
    /// pushed to `changes`.
    pub fn judge_minute(
        &mut self,
        minute: ServerTime,
        views: &[(Vec<Option<String>>, MinuteCounts)],
        learn_only: bool,
        judged_at: ServerTime,
        changes: &mut Vec<AlertChange>,
    ) {
        let judged_at = judged_at.0;
        let minute = minute.0.div_euclid(MINUTE_MS);
        if self
            .last_minute
            .is_some_and(|last| minute <= last.div_euclid(MINUTE_MS))
        {
            return;
        }
        self.last_minute = Some(minute * MINUTE_MS);
        self.rollup.push_minute(minute, views);
        for rule_index in 0..self.rules.len() {
            let fired = self.judge_rule(rule_index, minute, learn_only);
            let (rule, filter) = &self.rules[rule_index];
            let mut localise = |n: usize| {
                let slow_ms = self
                    .series
                    .get(&(rule_index, Cohort::default()))
                    .map_or(f64::INFINITY, |s| s.slow_start_ms());
                self.rollup.localise(
                    rule.metric,
                    filter,
                    minute,
                    n as i64,
                    RCA_BASELINE_MINUTES,
                    slow_ms,
                )
            };
            self.alerts.update(
                rule_index,
                rule,
                &fired,
                &self.series,
                &mut localise,
                &self.rollup,
                minute,
                judged_at,
                changes,
            );
        }
    }

    /// Judges and learns every series of one rule; returns the cohorts that started firing.
    fn judge_rule(&mut self, rule_index: usize, minute: i64, learn_only: bool) -> Vec<Cohort> {
        let (rule, filter) = &self.rules[rule_index];
        let cohorts = self
            .rollup
            .cohorts(minute, filter, &self.slices, &self.pairs);
        for cohort in cohorts.keys() {
            self.series
                .entry((rule_index, cohort.clone()))
                .or_insert_with(|| Series::new(rule.metric));
        }
        let [m, n] = rule.persistence;
        let empty = MinuteCounts::default();
        let mut fired = Vec::new();
        for ((index, cohort), series) in self.series.iter_mut() {
            if *index != rule_index {
                continue;
            }
            let counts = cohorts.get(cohort).unwrap_or(&empty);
            let observation = rule.metric.observe(counts, series.slow_start_ms());
            let judgement = (series.minutes_seen >= self.warmup_minutes
                && observation.volume >= rule.min_volume)
                .then(|| {
                    let p95_ms = match rule.metric {
                        AlertMetric::VideoStartupTimeP95 => {
                            sketch::p95_of(&counts.startup_times_ms).unwrap_or(f64::NAN)
                        }
                        _ => f64::NAN,
                    };
                    series.judge(
                        minute,
                        observation,
                        p95_ms,
                        rule.z,
                        rule.min_excess_views / f64::from(n),
                    )
                })
                .flatten();
            let hot = judgement.is_some_and(|j| j.hot);
            series.learn(
                minute,
                observation,
                &counts.startup_times_ms,
                judgement,
                hot || series.firing,
            );
            if series.firing {
                let calm = judgement.is_none_or(|j| j.z < rule.z / 2.0);
                series.calm_minutes = if calm { series.calm_minutes + 1 } else { 0 };
                if series.calm_minutes >= rule.resolve_minutes {
                    series.firing = false;
                }
                continue;
            }
            // Fire when the last n minutes together are beyond z, m of them lean the bad way
            // (persistence), this one among them — or this minute alone is beyond immediate_z —
            // and the excess passes the impact floors.
            let window = series.window(minute, n as usize);
            let leaning = window.iter().filter(|(_, j)| j.z > LEANING_Z).count() as u32;
            let excess: f64 = window.iter().map(|(_, j)| j.excess_views).sum();
            let views: f64 = window.iter().map(|(_, j)| j.views).sum();
            let immediate =
                rule.immediate_z > 0.0 && judgement.is_some_and(|j| j.z > rule.immediate_z);
            if !learn_only
                && judgement.is_some_and(|j| j.z > LEANING_Z)
                && (immediate || (leaning >= m && series.window_z(&window) > rule.z))
                && excess >= rule.min_excess_views
                && views > 0.0
                && excess / views >= rule.min_excess_share
            {
                series.firing = true;
                series.calm_minutes = 0;
                fired.push(cohort.clone());
            }
        }
        fired
    }
}

#[cfg(test)]
mod tests;
