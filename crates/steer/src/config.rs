//! `[steer]` in openqoe.toml: the pathways, who counts as a cohort, and the guardrails of the
//! decisions (margins, hold times, exploration).
use serde::{Deserialize, Serialize};

use crate::query::is_pathway_id;

/// One pathway (CDN) players can be steered to.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PathwayConfig {
    /// HLS `PATHWAY-ID` / DASH `serviceLocation`.
    pub id: String,
    /// The `cdn` dimension of views served by this pathway; the id when absent.
    pub cdn: Option<String>,
    /// Other `cdn` values meaning this pathway: its media hosts (`host[:port]`), which the web
    /// SDK reports as `cdn` when the app names none.
    #[serde(default)]
    pub hosts: Vec<String>,
}

impl PathwayConfig {
    /// The `cdn` value views served by this pathway carry.
    pub fn cdn(&self) -> &str {
        self.cdn.as_deref().unwrap_or(&self.id)
    }

    /// Every `cdn` value that means this pathway.
    pub fn cdn_values(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.cdn()).chain(self.hosts.iter().map(String::as_str))
    }
}

/// A built-in runbook action an alert rule can name: demote the root cause's pathway for the
/// root cause's cohort until the alert resolves (or the action expires).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SteerAction {
    /// The name a rule's `action` uses.
    pub name: String,
    /// The demotion lapses after this long even if the alert still fires.
    #[serde(default = "default_expire_minutes")]
    pub expire_minutes: u32,
}

fn default_expire_minutes() -> u32 {
    60
}

/// The steering server's configuration. Steering is off until `pathways` names at least two.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SteerConfig {
    /// Decisions by QoE; false is the kill switch at start-up (players get the default order).
    pub enabled: bool,
    /// `TTL` of every steering manifest: how often players ask again.
    pub ttl_seconds: u32,
    /// The pathways in default order (the order players get when nothing is known).
    pub pathways: Vec<PathwayConfig>,
    /// Cohort dimensions, coarsest first: decisions are taken per prefix of this list.
    pub cohort_dimensions: Vec<String>,
    /// Health is judged over this much recent time.
    pub window_seconds: u32,
    /// How often health and decisions are recomputed.
    pub evaluate_seconds: u32,
    /// Views of a pathway in a cohort before their QoE counts.
    pub min_views: u64,
    /// Players' throughput reports on a pathway in a cohort before they count.
    pub min_reports: u64,
    /// Demote a pathway when its health is this many points below the best alternative.
    pub demote_margin: f64,
    /// Restore it when it is back within this many points.
    pub restore_margin: f64,
    /// A gap must hold this long before a demotion (one bad poll is not a trend).
    pub hold_seconds: u32,
    /// A demotion lasts at least this long, and recovery must hold this long to restore.
    pub restore_seconds: u32,
    /// Share of sessions that still get a demoted pathway first, so its recovery is measured.
    pub exploration_share: f64,
    /// Throughput at which a player's report counts as fully sufficient, bits/s (about 1.5× the
    /// top rendition's bitrate).
    pub throughput_need_bps: u64,
    /// `[[steer.actions]]`: built-in actions alert rules can name.
    pub actions: Vec<SteerAction>,
}

impl Default for SteerConfig {
    fn default() -> Self {
        SteerConfig {
            enabled: true,
            ttl_seconds: 30,
            pathways: Vec::new(),
            cohort_dimensions: vec!["country".into(), "isp".into(), "device_type".into()],
            window_seconds: 120,
            evaluate_seconds: 5,
            min_views: 10,
            min_reports: 5,
            demote_margin: 15.0,
            restore_margin: 5.0,
            hold_seconds: 20,
            restore_seconds: 300,
            exploration_share: 0.05,
            throughput_need_bps: 3_000_000,
            actions: Vec::new(),
        }
    }
}

impl SteerConfig {
    /// Whether there is anything to steer between.
    pub fn is_active(&self) -> bool {
        self.pathways.len() >= 2
    }

    /// Checks the configuration, naming the first problem.
    pub fn validate(&self) -> Result<(), String> {
        for (i, pathway) in self.pathways.iter().enumerate() {
            if !is_pathway_id(&pathway.id) {
                return Err(format!(
                    "steer.pathways[{i}].id: {:?} is not a pathway id (letters, digits, '.', '-', '_')",
                    pathway.id
                ));
            }
            if self.pathways[..i].iter().any(|p| p.id == pathway.id) {
                return Err(format!(
                    "steer.pathways[{i}].id: {:?} is listed twice",
                    pathway.id
                ));
            }
            for value in pathway.cdn_values() {
                if self.pathways[..i]
                    .iter()
                    .any(|p| p.cdn_values().any(|v| v == value))
                {
                    return Err(format!(
                        "steer.pathways[{i}]: cdn {value:?} is already another pathway's"
                    ));
                }
            }
        }
        if self.pathways.len() == 1 {
            return Err("steer.pathways: one pathway leaves nothing to steer to".into());
        }
        if self.ttl_seconds == 0 {
            return Err("steer.ttl_seconds: expected at least 1".into());
        }
        if self.evaluate_seconds == 0 || self.window_seconds == 0 {
            return Err(
                "steer.evaluate_seconds and steer.window_seconds: expected at least 1".into(),
            );
        }
        if !(0.0..=0.5).contains(&self.exploration_share) {
            return Err(format!(
                "steer.exploration_share: expected 0 to 0.5, got {}",
                self.exploration_share
            ));
        }
        if !(self.restore_margin >= 0.0 && self.demote_margin > self.restore_margin) {
            return Err(format!(
                "steer.demote_margin ({}) must exceed steer.restore_margin ({}) ≥ 0: that gap is the hysteresis",
                self.demote_margin, self.restore_margin
            ));
        }
        if self.throughput_need_bps == 0 {
            return Err("steer.throughput_need_bps: expected above 0".into());
        }
        for (i, dim) in self.cohort_dimensions.iter().enumerate() {
            if self.cohort_dimensions[..i].contains(dim) {
                return Err(format!(
                    "steer.cohort_dimensions[{i}]: {dim:?} is listed twice"
                ));
            }
        }
        Ok(())
    }
}
