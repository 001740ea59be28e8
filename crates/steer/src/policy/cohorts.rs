//! The operator's view of the cohorts: each measured group of viewers with the order it gets, its
//! pathways' health, and the demotions and override that apply.
use serde::Serialize;

use super::{Cohort, Demotion, Override, Policy};
use crate::health::Health;

/// A cohort as the operator sees it.
#[derive(Debug, Clone, Serialize)]
pub struct CohortState {
    /// The viewers.
    pub cohort: Cohort,
    /// The order a new session gets.
    pub priority: Vec<String>,
    /// Each pathway's health measured in this cohort, in configured order.
    pub health: Vec<PathwayHealth>,
    /// Demotions that apply (own or a coarser cohort's).
    pub demoted: Vec<Demotion>,
    /// The override that applies.
    pub r#override: Option<Override>,
}

/// One pathway's health, named.
#[derive(Debug, Clone, Serialize)]
pub struct PathwayHealth {
    /// The pathway.
    pub pathway: String,
    /// Its health.
    #[serde(flatten)]
    pub health: Health,
}

impl Policy {
    /// Every measured cohort, those with a decision first, then by volume; at most `limit`.
    pub fn cohorts(&self, limit: usize) -> Vec<CohortState> {
        let mut keys: Vec<&Vec<String>> = self.healths.keys().collect();
        let decided = |key: &Vec<String>| {
            let cohort = self.cohort_of(key);
            self.demotions.iter().any(|d| d.cohort == cohort)
                || self.overrides.iter().any(|o| o.cohort == cohort)
        };
        keys.sort_by_key(|k| {
            (
                !(k.is_empty() || decided(k)),
                std::cmp::Reverse(self.weights.get(*k).copied().unwrap_or(0)),
            )
        });
        let mut states: Vec<CohortState> = keys
            .into_iter()
            .take(limit)
            .map(|key| {
                let cohort = self.cohort_of(key);
                self.state_of(cohort, Some(&self.healths[key]))
            })
            .collect();
        // Decisions on cohorts nobody is measured in still show.
        let extra: Vec<Cohort> = self
            .demotions
            .iter()
            .map(|d| d.cohort.clone())
            .chain(self.overrides.iter().map(|o| o.cohort.clone()))
            .collect();
        for cohort in extra {
            if !states.iter().any(|s| s.cohort == cohort) {
                states.push(self.state_of(cohort, None));
            }
        }
        states
    }

    fn state_of(&self, cohort: Cohort, healths: Option<&Vec<Health>>) -> CohortState {
        let health = healths
            .map(|hs| {
                self.config
                    .pathways
                    .iter()
                    .zip(hs)
                    .map(|(p, h)| PathwayHealth {
                        pathway: p.id.clone(),
                        health: h.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        CohortState {
            priority: self.order(&cohort, None, None),
            demoted: self.demoted_for(&cohort).cloned().collect(),
            r#override: self.override_for(&cohort).cloned(),
            health,
            cohort,
        }
    }
}
