//! The change log: every decision, operator request and lapse, with the order the cohort gets
//! from then on, newest first and bounded.
use serde::Serialize;

use super::{Cohort, Policy};

/// Changes kept for the log.
const CHANGE_LOG: usize = 500;

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// The policy demoted a pathway.
    Demoted,
    /// The policy restored it.
    Restored,
    /// An operator set an override.
    OverrideSet,
    /// An operator removed one.
    OverrideCleared,
    /// One lapsed.
    OverrideExpired,
    /// The kill switch was thrown.
    Disabled,
    /// Steering by QoE resumed.
    Enabled,
    /// An alert's action demoted a pathway.
    ActionDemoted,
    /// The alert resolved, or the action lapsed.
    ActionReverted,
}

/// One entry of the change log.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// Epoch ms.
    pub at: i64,
    /// The viewers concerned.
    pub cohort: Cohort,
    /// The pathway concerned, if one.
    pub pathway: Option<String>,
    /// What changed.
    pub kind: ChangeKind,
    /// Why, in words.
    pub reason: String,
    /// The order a new session in the cohort gets from now on.
    pub priority: Vec<String>,
}

impl Policy {
    /// Records a change to `cohort` at `at`, with the order a new session of it now gets.
    pub(super) fn log(
        &mut self,
        at: i64,
        cohort: Cohort,
        pathway: Option<String>,
        kind: ChangeKind,
        reason: String,
    ) {
        let priority = self.order(&cohort, None, None);
        self.changes_made += 1;
        self.changes.push_front(Change {
            at,
            cohort,
            pathway,
            kind,
            reason,
            priority,
        });
        self.changes.truncate(CHANGE_LOG);
    }
}
