//! `[detect]` section of openqoe.toml: what is monitored and the rules that fire alerts.
use serde::{Deserialize, Serialize};

use crate::metric::AlertMetric;

/// `[detect]`: monitored dimensions and alert rules.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectConfig {
    /// Whether detection runs at all.
    pub enabled: bool,
    /// Dimensions kept in the minute rollups: the leaves root cause searches over.
    pub dimensions: Vec<String>,
    /// Dimensions whose every value with enough volume is monitored as its own cohort.
    pub slices: Vec<String>,
    /// Dimension pairs whose value combinations are monitored too (e.g. `["cdn", "country"]`).
    pub pairs: Vec<[String; 2]>,
    /// Seconds after a minute's end before it is judged (late batches: the SDK flushes every 10 s).
    pub grace_seconds: u64,
    /// Minutes of a cohort's history needed before it can alert.
    pub warmup_minutes: u32,
    /// Alert rules; none configured means [`Rule::defaults`].
    pub rules: Vec<Rule>,
}

impl Default for DetectConfig {
    fn default() -> DetectConfig {
        let dims = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        DetectConfig {
            enabled: true,
            dimensions: dims(&[
                "cdn",
                "country",
                "isp",
                "device_type",
                "os",
                "player_name",
                "app_version",
            ]),
            slices: dims(&[
                "cdn",
                "country",
                "isp",
                "device_type",
                "os",
                "player_name",
                "app_version",
            ]),
            // A CDN failing in one country, a device type suffering on one CDN or in one
            // country: the combinations incidents come in most.
            pairs: vec![
                ["cdn".into(), "country".into()],
                ["cdn".into(), "device_type".into()],
                ["country".into(), "device_type".into()],
            ],
            grace_seconds: 15,
            warmup_minutes: 30,
            rules: Vec::new(),
        }
    }
}

impl DetectConfig {
    /// The configured rules, or the defaults when none are.
    pub fn effective_rules(&self) -> Vec<Rule> {
        if self.rules.is_empty() {
            Rule::defaults()
        } else {
            self.rules.clone()
        }
    }
}

/// One `[[detect.rules]]` entry: a metric, its thresholds, and where its alerts go.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rule {
    /// Rule name, shown in alerts (`rebuffering`).
    pub name: String,
    /// The metric judged.
    pub metric: AlertMetric,
    /// Only views with these `dim:value` pairs (empty: all views).
    pub filter: Vec<String>,
    /// A minute is anomalous beyond this many standard deviations from the baseline.
    pub z: f64,
    /// Fire when `persistence[0]` of the last `persistence[1]` judged minutes are anomalous.
    pub persistence: [u32; 2],
    /// Fire on one minute alone beyond this many standard deviations (an outage is plain at
    /// once); 0 turns it off.
    pub immediate_z: f64,
    /// A cohort is judged only in minutes with at least this much volume (attempts, starts or
    /// watching views, by metric; Conviva's floor is 25 a minute).
    pub min_volume: f64,
    /// Impact floor: excess affected views over the persistence window, at least.
    pub min_excess_views: f64,
    /// Impact floor: excess affected views as a share of the cohort's views in the window.
    pub min_excess_share: f64,
    /// Resolved after this many judged minutes in a row back within `z / 2` of the baseline.
    pub resolve_minutes: u32,
    /// Critical (not warning) once firing this many minutes, or when excess share is 5 × the floor.
    pub critical_after_minutes: u32,
    /// Runbook link sent with every notice.
    pub runbook_url: Option<String>,
    /// Destination names (`[[alerts.destinations]]`); empty: every destination.
    pub destinations: Vec<String>,
    /// Name of an action webhook (`[[alerts.actions]]`) called when the alert fires and resolves.
    pub action: Option<String>,
}

impl Default for Rule {
    fn default() -> Rule {
        Rule {
            name: String::new(),
            metric: AlertMetric::RebufferPercentage,
            filter: Vec::new(),
            z: 4.0,
            persistence: [2, 2],
            immediate_z: 8.0,
            min_volume: 25.0,
            min_excess_views: 3.0,
            min_excess_share: 0.01,
            resolve_minutes: 5,
            critical_after_minutes: 15,
            runbook_url: None,
            destinations: Vec::new(),
            action: None,
        }
    }
}

impl Rule {
    /// One rule per alertable metric, default thresholds, every destination.
    pub fn defaults() -> Vec<Rule> {
        AlertMetric::ALL
            .iter()
            .map(|metric| Rule {
                name: metric.rule_name().into(),
                metric: *metric,
                // Bitrate wanders with every network: only a fall of 15 % or more is news.
                min_excess_share: if *metric == AlertMetric::AvgBitrate {
                    0.15
                } else {
                    0.01
                },
                ..Rule::default()
            })
            .collect()
    }

    /// The rule's filter as (dimension, value) pairs; malformed entries are named.
    pub fn filter_pairs(&self) -> Result<Vec<(String, String)>, String> {
        self.filter
            .iter()
            .map(|f| {
                f.split_once(':')
                    .map(|(d, v)| (d.trim().to_owned(), v.trim().to_owned()))
                    .filter(|(d, v)| !d.is_empty() && !v.is_empty())
                    .ok_or_else(|| {
                        format!("rule {:?}: filter {f:?}: expected dim:value", self.name)
                    })
            })
            .collect()
    }

    /// Checks thresholds make sense, naming the first that does not.
    pub fn validate(&self) -> Result<(), String> {
        let bad = |what: &str| Err(format!("rule {:?}: {what}", self.name));
        if self.name.is_empty() {
            return bad("name: expected a name");
        }
        if !(self.z.is_finite() && self.z > 0.0) {
            return bad("z: expected a positive number");
        }
        let [m, n] = self.persistence;
        if m == 0 || m > n || n > 60 {
            return bad("persistence: expected [m, n] with 1 ≤ m ≤ n ≤ 60");
        }
        if !(self.immediate_z == 0.0 || self.immediate_z >= self.z) {
            return bad("immediate_z: expected 0 (off) or at least z");
        }
        if self.resolve_minutes == 0 {
            return bad("resolve_minutes: expected at least 1");
        }
        self.filter_pairs().map(|_| ())
    }
}
