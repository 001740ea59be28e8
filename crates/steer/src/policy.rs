//! The decisions: which pathways are demoted for which cohort, and the priority each session gets.
//!
//! Healthy players stay where they are (their current pathway first, so the operator's default
//! traffic split holds); a pathway is demoted in a cohort only when its health stays
//! `demote_margin` points below the best alternative for `hold_seconds`, and restored when it has
//! been back within `restore_margin` for `restore_seconds` — measured on the `exploration_share`
//! of sessions still sent to it. Decisions are taken at the coarsest cohort level where most of
//! the pathway's traffic shows the gap (a CDN bad in one country is not demoted everywhere).
//! Operator overrides pin an order for a cohort; the kill switch stops every automatic decision.
//!
//! The files follow those concepts: [`Observations`] gathers the evidence; `evaluate` judges it
//! into demotions and restorations, with `hysteresis` timing how long a condition has held;
//! `priority` turns demotions, overrides and exploration into a session's order; `operator` holds
//! the operator's and alert actions' requests; `change_log` records every change; `cohorts` is
//! the operator's view of each group of viewers.
use std::collections::{BTreeMap, HashMap, VecDeque};

use serde::Serialize;

use crate::config::SteerConfig;
use crate::health::Health;

mod change_log;
mod cohorts;
mod evaluate;
mod hysteresis;
mod observations;
mod operator;
mod priority;

pub use change_log::{Change, ChangeKind};
pub use cohorts::{CohortState, PathwayHealth};
pub use observations::Observations;
pub use operator::{Override, Refused};

use hysteresis::HeldSince;

/// Dimension values that define a group of viewers; `{}` is everyone.
pub type Cohort = BTreeMap<String, String>;

/// Who demoted a pathway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DemotedBy {
    /// The QoE policy.
    Policy,
    /// An alert's runbook action.
    Action,
}

/// A pathway put last for a cohort.
#[derive(Debug, Clone, Serialize)]
pub struct Demotion {
    /// The viewers it applies to.
    pub cohort: Cohort,
    /// The pathway.
    pub pathway: String,
    /// When, epoch ms.
    pub since: i64,
    /// By whom.
    pub by: DemotedBy,
    /// Why, in words.
    pub reason: String,
    /// When it lapses on its own (actions).
    pub expires_at: Option<i64>,
    /// The alert whose action made it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert_id: Option<String>,
}

/// The steering state: demotions, overrides, the kill switch, the log, and the last health.
#[derive(Debug)]
pub struct Policy {
    config: SteerConfig,
    enabled: bool,
    demotions: Vec<Demotion>,
    /// Since when a demotion's (or a restoration's) condition has held.
    held_since: HeldSince,
    overrides: Vec<Override>,
    overrides_made: u64,
    changes: VecDeque<Change>,
    changes_made: u64,
    /// Each measured cohort's health per pathway (configured order), by cohort key: the cohort's
    /// values of the cohort dimensions, coarsest first.
    healths: BTreeMap<Vec<String>, Vec<Health>>,
    /// Each measured cohort's weight of evidence (views and reports), by cohort key.
    weights: HashMap<Vec<String>, u64>,
    evaluated_at: Option<i64>,
}

/// Whether `inner`'s viewers are all in `outer`: `outer` sets every dimension `inner` sets, alike.
fn contains(outer: &Cohort, inner: &Cohort) -> bool {
    inner.iter().all(|(k, v)| outer.get(k) == Some(v))
}

impl Policy {
    /// A policy for a validated configuration.
    pub fn new(config: SteerConfig) -> Policy {
        Policy {
            enabled: config.enabled,
            config,
            demotions: Vec::new(),
            held_since: HeldSince::default(),
            overrides: Vec::new(),
            overrides_made: 0,
            changes: VecDeque::new(),
            changes_made: 0,
            healths: BTreeMap::new(),
            weights: HashMap::new(),
            evaluated_at: None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SteerConfig {
        &self.config
    }

    /// Whether automatic steering is on (the kill switch is not thrown).
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// When health was last judged, epoch ms.
    pub fn evaluated_at(&self) -> Option<i64> {
        self.evaluated_at
    }

    /// The change log, newest first.
    pub fn changes(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter()
    }

    /// How many changes were ever logged (the log keeps the newest 500): a caller that remembers
    /// the count knows which are new.
    pub fn changes_made(&self) -> u64 {
        self.changes_made
    }

    /// Overrides in force.
    pub fn overrides(&self) -> &[Override] {
        &self.overrides
    }

    /// Demotions in force.
    pub fn demotions(&self) -> &[Demotion] {
        &self.demotions
    }

    fn cohort_of(&self, key: &[String]) -> Cohort {
        self.config
            .cohort_dimensions
            .iter()
            .cloned()
            .zip(key.iter().cloned())
            .collect()
    }

    fn cohort_from_values(&self, values: &[Option<String>]) -> Cohort {
        self.config
            .cohort_dimensions
            .iter()
            .zip(values)
            .filter_map(|(d, v)| v.clone().map(|v| (d.clone(), v)))
            .collect()
    }

    /// Demotions that apply to `cohort` (own or coarser), kill switch respected.
    fn demoted_for<'a>(&'a self, cohort: &'a Cohort) -> impl Iterator<Item = &'a Demotion> + 'a {
        let enabled = self.enabled;
        self.demotions
            .iter()
            .filter(move |d| enabled && contains(cohort, &d.cohort))
    }

    /// The score of pathway `p` for `key`: its own, else the nearest coarser cohort's.
    fn effective_score(&self, key: &[String], p: usize) -> Option<f64> {
        (0..=key.len())
            .rev()
            .find_map(|n| self.healths.get(&key[..n]).and_then(|h| h[p].score))
    }
}
