//! Alert lifecycle: cohorts that fire under one rule with the same root cause are one alert;
//! it fires, is updated when its severity rises, resolves when every cohort behind it is back in
//! range, and reopens (same id) if the same cause fires again within an hour.
use std::collections::{BTreeMap, HashMap};

use openqoe_rca::{Cause, Localisation};
use serde::Serialize;

use crate::config::Rule;
use crate::metric::AlertMetric;
use crate::rollup::{Cohort, Rollup};
use crate::series::Series;

/// A resolved alert whose cause fires again within this many minutes reopens instead of paging
/// anew.
const REOPEN_MINUTES: i64 = 60;
/// Root cause is searched again this many minutes after firing, over the whole incident so far
/// (a few minutes of data name a cause less surely than ten).
const REFINE_AFTER_MINUTES: [i64; 3] = [2, 5, 10];
/// The longest window root cause looks at.
const MAX_RCA_WINDOW: i64 = 15;
/// Alerts kept in memory (the newest).
const KEEP_ALERTS: usize = 1_000;

/// Where an alert is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    /// At least one cohort behind it is anomalous.
    Firing,
    /// Every cohort behind it is back in range.
    Resolved,
}

/// How bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Beyond the rule's floors.
    Warning,
    /// Long-lasting, or five times the rule's impact floor.
    Critical,
}

/// What changed in a minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// New, or reopened.
    Firing,
    /// Severity rose.
    Updated,
    /// Back in range.
    Resolved,
}

/// One change of one alert, with the alert as it is after it.
#[derive(Debug, Clone, Serialize)]
pub struct AlertChange {
    /// What changed.
    pub kind: ChangeKind,
    /// The alert after the change.
    pub alert: Alert,
}

/// An alert.
#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    /// Stable id.
    pub id: String,
    /// Rule name.
    pub rule: String,
    /// Metric name.
    pub metric: &'static str,
    /// Unit of `value` and `baseline`.
    pub unit: &'static str,
    /// Firing or resolved.
    pub status: AlertStatus,
    /// Warning or critical.
    pub severity: Severity,
    /// What identifies it: the top root-cause element, or the cohort when no cause stood out.
    pub key: BTreeMap<String, String>,
    /// Monitored cohorts that fired for it.
    pub cohorts: Vec<BTreeMap<String, String>>,
    /// Start of the first anomalous minute, epoch ms.
    pub started_at: i64,
    /// When it fired (the judged minute's end plus the grace), epoch ms.
    pub fired_at: i64,
    /// Last change, epoch ms.
    pub updated_at: i64,
    /// When it resolved.
    pub resolved_at: Option<i64>,
    /// The metric in the firing cohort, last judged minute.
    pub value: f64,
    /// Its baseline.
    pub baseline: f64,
    /// Excess affected views so far (view-minutes for time metrics).
    pub affected_views: f64,
    /// Root cause: at firing, refined 2, 5 and 10 minutes later over the incident so far.
    pub causes: Vec<Cause>,
    /// One plain sentence.
    pub summary: String,
    /// The rule's runbook.
    pub runbook_url: Option<String>,
    /// Destinations the rule names (empty: all).
    pub destinations: Vec<String>,
    /// The rule's action webhook name.
    pub action: Option<String>,
    /// Times it reopened after resolving.
    pub reopened: u32,
    #[serde(skip)]
    rule_index: usize,
    /// The minute it fired (or reopened), and the minute it resolved.
    #[serde(skip)]
    fired_minute: i64,
    #[serde(skip)]
    resolved_minute: Option<i64>,
    /// The cohort that speaks for it: the one with the most excess in the last window.
    #[serde(skip)]
    primary: BTreeMap<String, String>,
    #[serde(skip)]
    series: Vec<Cohort>,
}

/// Every alert, oldest first.
#[derive(Default)]
pub struct Alerts {
    list: Vec<Alert>,
    next_id: u64,
}

fn describe(element: &BTreeMap<String, String>) -> String {
    if element.is_empty() {
        return "all views".into();
    }
    element
        .iter()
        .map(|(d, v)| format!("{d}={v}"))
        .collect::<Vec<_>>()
        .join(" & ")
}

fn amount(metric: AlertMetric, value: f64) -> String {
    match metric {
        AlertMetric::VideoStartupTimeP95 => format!("{value:.0} ms"),
        AlertMetric::AvgBitrate => format!("{:.2} Mbps", value / 1e6),
        _ => format!("{value:.2}%"),
    }
}

/// "Rebuffer percentage is 3.1× normal for all views (4.20% vs 1.35%); 82% of the excess is
/// cdn=cdn-b & country=DE".
fn summary(metric: AlertMetric, alert: &Alert) -> String {
    let change = if metric.direction() < 0.0 {
        let below = if alert.baseline > 0.0 {
            (1.0 - alert.value / alert.baseline) * 100.0
        } else {
            0.0
        };
        format!("{below:.0}% below normal")
    } else if alert.baseline > 0.0 {
        format!("{:.1}× normal", alert.value / alert.baseline)
    } else {
        "above normal".into()
    };
    let cohort = &alert.primary;
    let mut sentence = format!(
        "{} is {change} for {} ({} vs {})",
        metric.label(),
        describe(cohort),
        amount(metric, alert.value),
        amount(metric, alert.baseline)
    );
    if let Some(cause) = alert.causes.first() {
        sentence.push_str(&format!(
            "; {:.0}% of the excess is {}",
            cause.explanatory_power * 100.0,
            describe(&cause.element)
        ));
    }
    sentence
}

impl Alerts {
    /// Newest first.
    pub fn list(&self) -> impl Iterator<Item = &Alert> + '_ {
        self.list.iter().rev()
    }

    /// Applies one rule's minute: new firings (localised once), refreshes, resolutions.
    #[allow(clippy::too_many_arguments)]
    pub fn update(
        &mut self,
        rule_index: usize,
        rule: &Rule,
        fired: &[Cohort],
        series: &HashMap<(usize, Cohort), Series>,
        localise: &mut dyn FnMut(usize) -> Localisation,
        rollup: &Rollup,
        minute: i64,
        judged_at: i64,
        changes: &mut Vec<AlertChange>,
    ) {
        let n = rule.persistence[1] as usize;
        let mut raised: Vec<String> = Vec::new();
        if !fired.is_empty() {
            let found = localise(n);
            for cohort in fired {
                let key = found
                    .causes
                    .first()
                    .map(|c| c.element.clone())
                    .unwrap_or_else(|| rollup.describe(cohort));
                // One cause named more or less finely is still the same alert.
                let nested = |a: &BTreeMap<String, String>, b: &BTreeMap<String, String>| {
                    a.iter().all(|(k, v)| b.get(k) == Some(v))
                        || b.iter().all(|(k, v)| a.get(k) == Some(v))
                };
                let existing = self.list.iter_mut().rev().find(|a| {
                    a.rule_index == rule_index
                        && nested(&a.key, &key)
                        && (a.status == AlertStatus::Firing
                            || a.resolved_minute
                                .is_some_and(|r| minute - r < REOPEN_MINUTES))
                });
                let alert = match existing {
                    Some(alert) => {
                        if alert.status == AlertStatus::Resolved {
                            alert.status = AlertStatus::Firing;
                            alert.resolved_at = None;
                            alert.resolved_minute = None;
                            alert.fired_minute = minute;
                            alert.reopened += 1;
                            alert.causes = found.causes.clone();
                            raised.push(alert.id.clone());
                        }
                        alert
                    }
                    None => {
                        self.next_id += 1;
                        let id = format!("{}-{}-{}", rule.name, minute * 60, self.next_id);
                        raised.push(id.clone());
                        self.list.push(Alert {
                            id,
                            rule: rule.name.clone(),
                            metric: rule.metric.name(),
                            unit: rule.metric.unit(),
                            status: AlertStatus::Firing,
                            severity: Severity::Warning,
                            key,
                            cohorts: Vec::new(),
                            started_at: minute * 60_000,
                            fired_at: judged_at,
                            updated_at: judged_at,
                            resolved_at: None,
                            value: 0.0,
                            baseline: 0.0,
                            affected_views: 0.0,
                            causes: found.causes.clone(),
                            summary: String::new(),
                            runbook_url: rule.runbook_url.clone(),
                            destinations: rule.destinations.clone(),
                            action: rule.action.clone(),
                            reopened: 0,
                            rule_index,
                            fired_minute: minute,
                            resolved_minute: None,
                            primary: BTreeMap::new(),
                            series: Vec::new(),
                        });
                        self.list.last_mut().expect("just pushed")
                    }
                };
                if !alert.series.contains(cohort) {
                    alert.series.push(cohort.clone());
                    alert.cohorts.push(rollup.describe(cohort));
                }
                let Some(s) = series.get(&(rule_index, cohort.clone())) else {
                    continue;
                };
                // The alert began at its cohort's first anomalous minute in the window.
                if let Some((first, _)) = s.window(minute, n).iter().find(|(_, j)| j.hot) {
                    alert.started_at = alert.started_at.min(first * 60_000);
                }
            }
        }
        for alert in self
            .list
            .iter_mut()
            .filter(|a| a.rule_index == rule_index && a.status == AlertStatus::Firing)
        {
            alert.series.retain(|c| {
                series
                    .get(&(rule_index, c.clone()))
                    .is_some_and(|s| s.firing)
            });
            if alert.series.is_empty() {
                alert.status = AlertStatus::Resolved;
                alert.resolved_at = Some(judged_at);
                alert.resolved_minute = Some(minute);
                alert.updated_at = judged_at;
                changes.push(AlertChange {
                    kind: ChangeKind::Resolved,
                    alert: alert.clone(),
                });
                continue;
            }
            // The cohort with the most excess this window speaks for the alert.
            let judged = alert
                .series
                .iter()
                .filter_map(|c| series.get(&(rule_index, c.clone())).map(|s| (c, s)))
                .filter_map(|(c, s)| {
                    let window = s.window(minute, n);
                    let excess: f64 = window.iter().map(|(_, j)| j.excess_views).sum();
                    let views: f64 = window.iter().map(|(_, j)| j.views).sum();
                    let last = window.last().filter(|(m, _)| *m == minute).map(|(_, j)| *j);
                    last.map(|j| (excess, views, j, s.slow_start_ms(), c))
                })
                .max_by(|a, b| a.0.total_cmp(&b.0));
            let Some((excess, views, last, slow_ms, cohort)) = judged else {
                continue;
            };
            let since_fired = minute - alert.fired_minute;
            let mut refined = false;
            if REFINE_AFTER_MINUTES.contains(&since_fired) && !raised.contains(&alert.id) {
                let window =
                    ((minute * 60_000 - alert.started_at) / 60_000 + 1).clamp(1, MAX_RCA_WINDOW);
                let found = localise(window as usize);
                let top = |causes: &[Cause]| causes.first().map(|c| c.element.clone());
                if let Some(new_top) = top(&found.causes) {
                    refined = Some(&new_top) != top(&alert.causes).as_ref();
                    // The key follows the cause (cohorts still join it when nested).
                    alert.key = new_top;
                    alert.causes = found.causes;
                }
            }
            let metric = rule.metric;
            // Values and summary describe the incident, not the calm minutes before resolving.
            if last.hot || raised.contains(&alert.id) {
                alert.value = last.shown;
                alert.baseline = metric.display(last.baseline, slow_ms);
                alert.primary = rollup.describe(cohort);
            }
            alert.affected_views += last.excess_views.max(0.0);
            let minutes_firing = (minute * 60_000 - alert.started_at) / 60_000 + 1;
            let severity = if minutes_firing >= i64::from(rule.critical_after_minutes)
                || (views > 0.0 && excess / views >= 5.0 * rule.min_excess_share)
            {
                Severity::Critical
            } else {
                Severity::Warning
            };
            let escalated = severity > alert.severity;
            alert.severity = alert.severity.max(severity);
            alert.summary = summary(metric, alert);
            let kind = if raised.contains(&alert.id) {
                ChangeKind::Firing
            } else if escalated || refined {
                ChangeKind::Updated
            } else {
                continue;
            };
            alert.updated_at = judged_at;
            changes.push(AlertChange {
                kind,
                alert: alert.clone(),
            });
        }
        if self.list.len() > KEEP_ALERTS {
            let drop = self.list.len() - KEEP_ALERTS;
            self.list.drain(..drop);
        }
    }
}
