//! The decisions: which pathways are demoted for which cohort, and the priority each session gets.
//!
//! Healthy players stay where they are (their current pathway first, so the operator's default
//! traffic split holds); a pathway is demoted in a cohort only when its health stays
//! `demote_margin` points below the best alternative for `hold_seconds`, and restored when it has
//! been back within `restore_margin` for `restore_seconds` — measured on the `exploration_share`
//! of sessions still sent to it. Decisions are taken at the coarsest cohort level where most of
//! the pathway's traffic shows the gap (a CDN bad in one country is not demoted everywhere).
//! Operator overrides pin an order for a cohort; the kill switch stops every automatic decision.
use std::collections::{BTreeMap, HashMap, VecDeque};

use openqoe_metrics::MinuteCounts;
use serde::Serialize;

use crate::config::SteerConfig;
use crate::health::{Evidence, Health};

/// Dimension values that define a group of viewers; `{}` is everyone.
pub type Cohort = BTreeMap<String, String>;

/// Changes kept for the log.
const CHANGE_LOG: usize = 500;

/// Evidence per cohort (each prefix of the cohort dimensions) per pathway, over the window.
#[derive(Debug, Clone)]
pub struct Observations {
    cdn_to_pathway: HashMap<String, usize>,
    pathway_index: HashMap<String, usize>,
    pathways: usize,
    cells: HashMap<Vec<String>, Vec<Evidence>>,
}

impl Observations {
    /// Empty, for `config`'s pathways.
    pub fn new(config: &SteerConfig) -> Observations {
        Observations {
            cdn_to_pathway: config
                .pathways
                .iter()
                .enumerate()
                .flat_map(|(i, p)| p.cdn_values().map(move |v| (v.to_owned(), i)))
                .collect(),
            pathway_index: config
                .pathways
                .iter()
                .enumerate()
                .map(|(i, p)| (p.id.clone(), i))
                .collect(),
            pathways: config.pathways.len(),
            cells: HashMap::new(),
        }
    }

    fn each_level(
        &mut self,
        cohort: &[Option<String>],
        pathway: usize,
        add: impl Fn(&mut Evidence),
    ) {
        let mut key = Vec::with_capacity(cohort.len());
        loop {
            let cell = self
                .cells
                .entry(key.clone())
                .or_insert_with(|| vec![Evidence::default(); self.pathways]);
            add(&mut cell[pathway]);
            match cohort.get(key.len()) {
                Some(Some(value)) => key.push(value.clone()),
                _ => break,
            }
        }
    }

    /// One view's counts over the window; `cohort` holds its values of the cohort dimensions in
    /// order. Views on no configured pathway are not evidence.
    pub fn add_view(
        &mut self,
        cohort: &[Option<String>],
        cdn: Option<&str>,
        counts: &MinuteCounts,
    ) {
        if let Some(&pathway) = cdn.and_then(|c| self.cdn_to_pathway.get(c)) {
            self.each_level(cohort, pathway, |e| e.add_view(counts));
        }
    }

    /// One player's throughput report on `pathway`.
    pub fn add_report(&mut self, cohort: &[Option<String>], pathway: &str, throughput_bps: u64) {
        if let Some(&pathway) = self.pathway_index.get(pathway) {
            self.each_level(cohort, pathway, |e| e.add_report(throughput_bps));
        }
    }
}

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

/// Why an operator request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// The steering state: demotions, overrides, the kill switch, the log, and the last health.
#[derive(Debug)]
pub struct Policy {
    config: SteerConfig,
    enabled: bool,
    demotions: Vec<Demotion>,
    /// Since when a demotion's (or a restoration's) condition has held, by (cohort key, pathway).
    held_since: HashMap<(Vec<String>, usize), i64>,
    overrides: Vec<Override>,
    overrides_made: u64,
    changes: VecDeque<Change>,
    changes_made: u64,
    healths: BTreeMap<Vec<String>, Vec<Health>>,
    weights: HashMap<Vec<String>, u64>,
    evaluated_at: Option<i64>,
}

/// A session's stable draw: FNV-1a, then SplitMix64's finaliser so similar ids spread evenly.
fn draw(session: &str, salt: u64) -> u64 {
    let h = session.bytes().fold(0xcbf2_9ce4_8422_2325 ^ salt, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    let h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

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
            held_since: HashMap::new(),
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

    fn log(
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

    /// Throws (false) or releases (true) the kill switch. Thrown, players get their current
    /// pathway first and then the default order; QoE demotions are dropped and alert actions
    /// wait; operator overrides still apply.
    pub fn set_enabled(&mut self, enabled: bool, reason: &str, now: i64) {
        if enabled == self.enabled {
            return;
        }
        self.enabled = enabled;
        if !enabled {
            self.demotions.retain(|d| d.by != DemotedBy::Policy);
            self.held_since.clear();
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
        now: i64,
    ) -> Result<Override, Refused> {
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
    pub fn clear_override(&mut self, id: &str, reason: &str, now: i64) -> bool {
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
        now: i64,
    ) -> Result<(), Refused> {
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
    pub fn revert_action(&mut self, alert_id: &str, reason: &str, now: i64) {
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

    fn expire(&mut self, now: i64) {
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

    fn own_score(&self, key: &[String], p: usize) -> Option<f64> {
        self.healths.get(key).and_then(|h| h[p].score)
    }

    fn own_best_case(&self, key: &[String], p: usize) -> Option<f64> {
        self.healths.get(key).and_then(|h| h[p].best_case_score)
    }

    /// The best score among `p`'s alternatives that `cohort` may use, and which it is.
    fn best_alternative(&self, key: &[String], cohort: &Cohort, p: usize) -> Option<(usize, f64)> {
        let demoted: Vec<&str> = self
            .demoted_for(cohort)
            .map(|d| d.pathway.as_str())
            .collect();
        (0..self.config.pathways.len())
            .filter(|&q| q != p && !demoted.contains(&self.config.pathways[q].id.as_str()))
            .filter_map(|q| self.effective_score(key, q).map(|s| (q, s)))
            // Ties go to the earlier pathway in the default order.
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
    }

    /// Whether most of `p`'s traffic under `key` (by weight, over the next finer cohorts that
    /// measure it) shows the gap too. True when no finer cohort measures it.
    fn gap_is_broad(&self, key: &[String], p: usize) -> bool {
        let (mut all, mut bad) = (0u64, 0u64);
        for (child, healths) in self.healths.range(key.to_vec()..) {
            if !child.starts_with(key) {
                break;
            }
            if child.len() != key.len() + 1 {
                continue;
            }
            let Some(own) = healths[p].score else {
                continue;
            };
            let weight = self.weights.get(child).copied().unwrap_or(0).max(1);
            all += weight;
            let cohort = self.cohort_of(child);
            if self
                .best_alternative(child, &cohort, p)
                .is_some_and(|(_, best)| own <= best - self.config.demote_margin)
            {
                bad += weight;
            }
        }
        all == 0 || 2 * bad > all
    }

    /// Judges health from `observations` at `now` and demotes or restores pathways.
    pub fn evaluate(&mut self, now: i64, observations: &Observations) {
        self.expire(now);
        self.healths = observations
            .cells
            .iter()
            .map(|(key, cells)| {
                (
                    key.clone(),
                    cells.iter().map(|e| e.health(&self.config)).collect(),
                )
            })
            .collect();
        self.weights = observations
            .cells
            .iter()
            .map(|(key, cells)| (key.clone(), cells.iter().map(Evidence::weight).sum()))
            .collect();
        self.evaluated_at = Some(now);
        if !self.enabled {
            return;
        }
        let hold_ms = i64::from(self.config.hold_seconds) * 1000;
        let restore_ms = i64::from(self.config.restore_seconds) * 1000;
        let mut keys: Vec<Vec<String>> = self.healths.keys().cloned().collect();
        // Coarse cohorts first: a demotion there covers the finer ones. A demoted pathway nobody
        // is measured on any more stays demoted: exploration keeps measuring it.
        keys.sort_by_key(Vec::len);
        let mut held = HashMap::new();
        for key in keys {
            let cohort = self.cohort_of(&key);
            for p in 0..self.config.pathways.len() {
                let id = self.config.pathways[p].id.clone();
                let here = self.demotions.iter().position(|d| {
                    d.by == DemotedBy::Policy && d.cohort == cohort && d.pathway == id
                });
                let own = self.own_score(&key, p);
                let best = self.best_alternative(&key, &cohort, p);
                let slot = (key.clone(), p);
                if let Some(i) = here {
                    let recovered = matches!((own, best), (Some(own), Some((_, best))) if own >= best - self.config.restore_margin);
                    if !recovered {
                        continue;
                    }
                    let since = *self.held_since.get(&slot).unwrap_or(&now);
                    held.insert(slot, since);
                    if now - since >= restore_ms && now - self.demotions[i].since >= restore_ms {
                        let (q, best) = best.expect("recovered implies an alternative");
                        let reason = format!(
                            "{id} health {:.0} vs {} {best:.0} for {} s",
                            own.unwrap_or_default(),
                            self.config.pathways[q].id,
                            (now - since) / 1000
                        );
                        self.demotions.remove(i);
                        held.remove(&(key.clone(), p));
                        self.log(now, cohort.clone(), Some(id), ChangeKind::Restored, reason);
                    }
                    continue;
                }
                if self.demoted_for(&cohort).any(|d| d.pathway == id) {
                    continue;
                }
                let (Some(own_score), Some(own_best_case), Some((q, best_score))) =
                    (own, self.own_best_case(&key, p), best)
                else {
                    continue;
                };
                if own_best_case > best_score - self.config.demote_margin
                    || !self.gap_is_broad(&key, p)
                {
                    continue;
                }
                let usable = self.config.pathways.len() - self.demoted_for(&cohort).count();
                if usable <= 1 {
                    continue;
                }
                let since = *self.held_since.get(&slot).unwrap_or(&now);
                held.insert(slot, since);
                if now - since < hold_ms {
                    continue;
                }
                let healths = &self.healths[&key];
                let better = self
                    .healths
                    .get(&key)
                    .map(|h| &h[q])
                    .filter(|h| h.score.is_some());
                let part = better
                    .map(|b| healths[p].worst_part_against(b))
                    .unwrap_or_else(|| "measured on coarser cohorts".into());
                let reason = format!(
                    "{id} health {own_score:.0} vs {} {best_score:.0} ({part}; {} views, {} throughput reports over {} s)",
                    self.config.pathways[q].id,
                    healths[p].views,
                    healths[p].reports,
                    self.config.window_seconds
                );
                // A finer cohort's demotion of the same pathway is now covered by this one.
                self.demotions.retain(|d| {
                    !(d.by == DemotedBy::Policy && d.pathway == id && contains(&d.cohort, &cohort))
                });
                self.demotions.push(Demotion {
                    cohort: cohort.clone(),
                    pathway: id.clone(),
                    since: now,
                    by: DemotedBy::Policy,
                    reason: reason.clone(),
                    expires_at: None,
                    alert_id: None,
                });
                held.remove(&(key.clone(), p));
                self.log(now, cohort.clone(), Some(id), ChangeKind::Demoted, reason);
            }
        }
        self.held_since = held;
    }

    /// The override that applies to `cohort`: the most specific, then the newest.
    fn override_for(&self, cohort: &Cohort) -> Option<&Override> {
        self.overrides
            .iter()
            .filter(|o| contains(cohort, &o.cohort))
            .max_by_key(|o| (o.cohort.len(), o.created_at))
    }

    /// The order for a session of `cohort` now on `current` (None: a new session). `session`
    /// picks the explorers; without one nobody explores.
    fn order(&self, cohort: &Cohort, current: Option<&str>, session: Option<&str>) -> Vec<String> {
        let ids: Vec<&str> = self.config.pathways.iter().map(|p| p.id.as_str()).collect();
        if let Some(o) = self.override_for(cohort) {
            let mut order = o.priority.clone();
            order.extend(
                ids.iter()
                    .filter(|id| !o.priority.iter().any(|p| p == *id))
                    .map(|id| (*id).to_owned()),
            );
            return order;
        }
        let demoted: Vec<&str> = self
            .demoted_for(cohort)
            .map(|d| d.pathway.as_str())
            .collect();
        let key: Vec<String> = self
            .config
            .cohort_dimensions
            .iter()
            .map_while(|d| cohort.get(d).cloned())
            .collect();
        let score = |id: &str| {
            ids.iter()
                .position(|p| *p == id)
                .and_then(|p| self.effective_score(&key, p))
                .unwrap_or(f64::MIN)
        };
        let current = current.filter(|c| ids.contains(c));
        let (mut healthy, mut bad): (Vec<&str>, Vec<&str>) =
            ids.iter().partition(|id| !demoted.contains(id));
        if self.enabled {
            // Sessions already playing stay put; the rest move to the best healthy one.
            healthy.sort_by(|a, b| score(b).total_cmp(&score(a)));
            if current.is_none() {
                healthy.sort_by_key(|id| ids.iter().position(|p| p == id));
            }
            bad.sort_by(|a, b| score(b).total_cmp(&score(a)));
        }
        let mut order: Vec<&str> = Vec::with_capacity(ids.len());
        if let Some(c) = current.filter(|c| healthy.contains(c)) {
            order.push(c);
        }
        order.extend(
            healthy
                .iter()
                .filter(|id| Some(**id) != current.filter(|c| healthy.contains(c))),
        );
        let explore = session.is_some_and(|s| {
            !bad.is_empty() && (draw(s, 0) as f64 / u64::MAX as f64) < self.config.exploration_share
        });
        if explore {
            let pick = bad[(draw(session.unwrap_or_default(), 1) % bad.len() as u64) as usize];
            order.insert(0, pick);
            bad.retain(|b| *b != pick);
        }
        order.extend(bad);
        order.into_iter().map(str::to_owned).collect()
    }

    /// `PATHWAY-PRIORITY` for a poll: `cohort` holds the session's values of the cohort
    /// dimensions in order, `current` the pathway it plays from.
    pub fn priority(
        &self,
        session: &str,
        cohort: &[Option<String>],
        current: Option<&str>,
    ) -> Vec<String> {
        let cohort = self.cohort_from_values(cohort);
        self.order(&cohort, current, Some(session))
    }

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
