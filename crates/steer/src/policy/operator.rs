//! What the operator and alert actions ask of steering: the kill switch, overrides that pin an
//! order for a cohort, demotions by an alert's runbook action, and their lapse.
use openqoe_model::ServerTime;
use serde::Serialize;

use super::hysteresis::HeldSince;
use super::ChangeKind;
use super::{Cohort, DemotedBy, Demotion, Policy};

/// An operator's fixed order for a cohort.
#[derive(Debug, Clone, Serialize)]
pub struct Override {
    /// `ovr-<n>`.
    pub id: String,
    /// The viewers it applies to.
    pub cohort: Cohort,
    /// The order they get.
    pub priority: Vec<String>,
    /// Why.
    pub reason: String,
    /// When it was set, epoch ms.
    pub created_at: i64,
    /// When it lapses.
    pub expires_at: Option<i64>,
}

/// Why an operator request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

impl Policy {
    /// Throws (false) or releases (true) the kill switch. Thrown, players get their current
    /// pathway first and then the default order; QoE demotions are dropped and alert actions
    /// wait; operator overrides still apply.
    pub fn set_enabled(&mut self, enabled: bool, reason: &str, now: ServerTime) {
        let now = now.0;
        if enabled == self.enabled {
            return;
        }
        self.enabled = enabled;
        if !enabled {
            self.demotions.retain(|d| d.by != DemotedBy::Policy);
            self.held_since = HeldSince::default();
        }
        let kind = if enabled {
            ChangeKind::Enabled
        } else {
            ChangeKind::Disabled
        };
        self.log(now, Cohort::new(), None, kind, reason.to_owned());
    }

    /// Pins `priority` for `cohort`; the most specific override matching a session wins.
    pub fn set_override(
        &mut self,
        cohort: Cohort,
        priority: Vec<String>,
        expires_at: Option<i64>,
        reason: &str,
        now: ServerTime,
    ) -> Result<Override, Refused> {
        let now = now.0;
        for dim in cohort.keys() {
            if !self.config.cohort_dimensions.contains(dim) {
                return Err(Refused(format!(
                    "cohort: {dim:?} is not a cohort dimension ({})",
                    self.config.cohort_dimensions.join(", ")
                )));
            }
        }
        if priority.is_empty() {
            return Err(Refused("priority: expected at least one pathway".into()));
        }
        for (i, id) in priority.iter().enumerate() {
            if !self.config.pathways.iter().any(|p| &p.id == id) {
                return Err(Refused(format!(
                    "priority[{i}]: {id:?} is not a configured pathway"
                )));
            }
            if priority[..i].contains(id) {
                return Err(Refused(format!("priority[{i}]: {id:?} is listed twice")));
            }
        }
        if expires_at.is_some_and(|at| at <= now) {
            return Err(Refused(
                "expires_in_s: expected a time in the future".into(),
            ));
        }
        self.overrides_made += 1;
        let made = Override {
            id: format!("ovr-{}", self.overrides_made),
            cohort: cohort.clone(),
            priority: priority.clone(),
            reason: reason.to_owned(),
            created_at: now,
            expires_at,
        };
        self.overrides.push(made.clone());
        self.log(
            now,
            cohort,
            None,
            ChangeKind::OverrideSet,
            format!("{} → {}: {reason}", made.id, priority.join(" > ")),
        );
        Ok(made)
    }

    /// Removes override `id`; false when there is none.
    pub fn clear_override(&mut self, id: &str, reason: &str, now: ServerTime) -> bool {
        let now = now.0;
        let Some(i) = self.overrides.iter().position(|o| o.id == id) else {
            return false;
        };
        let gone = self.overrides.remove(i);
        self.log(
            now,
            gone.cohort,
            None,
            ChangeKind::OverrideCleared,
            format!("{id}: {reason}"),
        );
        true
    }

    /// An alert's runbook action: demotes `pathway` for `cohort` until [`Policy::revert_action`]
    /// or `expires_at`.
    pub fn demote_for_alert(
        &mut self,
        alert_id: &str,
        cohort: Cohort,
        pathway: &str,
        reason: &str,
        expires_at: i64,
        now: ServerTime,
    ) -> Result<(), Refused> {
        let now = now.0;
        if !self.config.pathways.iter().any(|p| p.id == pathway) {
            return Err(Refused(format!("{pathway:?} is not a configured pathway")));
        }
        let cohort: Cohort = cohort
            .into_iter()
            .filter(|(d, _)| self.config.cohort_dimensions.contains(d))
            .collect();
        if self.demotions.iter().any(|d| {
            d.alert_id.as_deref() == Some(alert_id) && d.pathway == pathway && d.cohort == cohort
        }) {
            return Ok(());
        }
        self.demotions.push(Demotion {
            cohort: cohort.clone(),
            pathway: pathway.to_owned(),
            since: now,
            by: DemotedBy::Action,
            reason: reason.to_owned(),
            expires_at: Some(expires_at),
            alert_id: Some(alert_id.to_owned()),
        });
        self.log(
            now,
            cohort,
            Some(pathway.to_owned()),
            ChangeKind::ActionDemoted,
            reason.to_owned(),
        );
        Ok(())
    }

    /// Undoes what alert `alert_id`'s action did.
    pub fn revert_action(&mut self, alert_id: &str, reason: &str, now: ServerTime) {
        let now = now.0;
        let (gone, kept): (Vec<Demotion>, Vec<Demotion>) = std::mem::take(&mut self.demotions)
            .into_iter()
            .partition(|d| d.alert_id.as_deref() == Some(alert_id));
        self.demotions = kept;
        for d in gone {
            self.log(
                now,
                d.cohort,
                Some(d.pathway),
                ChangeKind::ActionReverted,
                reason.to_owned(),
            );
        }
    }

    /// Lets actions' demotions and overrides whose time is up lapse, logging each.
    pub(super) fn expire(&mut self, now: i64) {
        let (lapsed, kept): (Vec<Demotion>, Vec<Demotion>) = std::mem::take(&mut self.demotions)
            .into_iter()
            .partition(|d| d.expires_at.is_some_and(|at| at <= now));
        self.demotions = kept;
        for d in lapsed {
            let reason = format!(
                "the action of {} lapsed",
                d.alert_id.as_deref().unwrap_or("an alert")
            );
            self.log(
                now,
                d.cohort,
                Some(d.pathway),
                ChangeKind::ActionReverted,
                reason,
            );
        }
        let (lapsed, kept): (Vec<Override>, Vec<Override>) = std::mem::take(&mut self.overrides)
            .into_iter()
            .partition(|o| o.expires_at.is_some_and(|at| at <= now));
        self.overrides = kept;
        for o in lapsed {
            let reason = format!("{} lapsed", o.id);
            self.log(now, o.cohort, None, ChangeKind::OverrideExpired, reason);
        }
    }
}
