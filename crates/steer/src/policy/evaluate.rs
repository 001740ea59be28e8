//! Evaluation: judges each pathway's health in each measured cohort, and demotes or restores it.
//!
//! A pathway is demoted in a cohort when even its best case stays `demote_margin` points below
//! the best alternative the cohort may use, most of its traffic there shows the gap, another
//! pathway stays usable, and all that has held for `hold_seconds`. It is restored once its score
//! has been back within `restore_margin` of the best alternative for `restore_seconds`.
use super::hysteresis::Round;
use super::{contains, ChangeKind, Cohort, DemotedBy, Demotion, Observations, Policy};
use openqoe_model::ServerTime;

/// One pathway in one measured cohort: what an evaluation judges.
struct CohortPathway {
    /// The cohort's values of the cohort dimensions, coarsest first.
    key: Vec<String>,
    cohort: Cohort,
    /// The pathway's place in the configuration.
    pathway: usize,
    id: String,
}

impl Policy {
    /// Judges health from `observations` at `now` and demotes or restores pathways.
    pub fn evaluate(&mut self, now: ServerTime, observations: &Observations) {
        let now = now.0;
        self.expire(now);
        self.healths = observations.healths(&self.config);
        self.weights = observations.weights();
        self.evaluated_at = Some(now);
        if !self.enabled {
            return;
        }
        let mut round = Round::after(std::mem::take(&mut self.held_since));
        for judged in self.cohort_pathways_coarsest_first() {
            match self.own_demotion(&judged) {
                Some(demotion) => self.consider_restoring(now, &judged, demotion, &mut round),
                None => self.consider_demoting(now, &judged, &mut round),
            }
        }
        self.held_since = round.end();
    }

    /// Every measured cohort with every pathway, coarse cohorts first: a demotion there covers
    /// the finer ones before they are judged. A demoted pathway nobody is measured on any more is
    /// not judged, so it stays demoted: exploration keeps measuring it.
    fn cohort_pathways_coarsest_first(&self) -> Vec<CohortPathway> {
        let mut keys: Vec<&Vec<String>> = self.healths.keys().collect();
        keys.sort_by_key(|key| key.len());
        keys.into_iter()
            .flat_map(|key| {
                let cohort = self.cohort_of(key);
                self.config
                    .pathways
                    .iter()
                    .enumerate()
                    .map(move |(pathway, p)| CohortPathway {
                        key: key.clone(),
                        cohort: cohort.clone(),
                        pathway,
                        id: p.id.clone(),
                    })
            })
            .collect()
    }

    /// Where in `demotions` the policy's own demotion of this pathway in exactly this cohort is.
    fn own_demotion(&self, judged: &CohortPathway) -> Option<usize> {
        self.demotions.iter().position(|d| {
            d.by == DemotedBy::Policy && d.cohort == judged.cohort && d.pathway == judged.id
        })
    }

    /// Restores a demoted pathway once it has been back within `restore_margin` of the best
    /// alternative for `restore_seconds`, and the demotion is at least that old.
    fn consider_restoring(
        &mut self,
        now: i64,
        judged: &CohortPathway,
        demotion: usize,
        round: &mut Round,
    ) {
        let own = self.own_score(&judged.key, judged.pathway);
        let best = self.best_alternative(&judged.key, &judged.cohort, judged.pathway);
        let (Some(own), Some((alternative, best))) = (own, best) else {
            return;
        };
        let recovered = own >= best - self.config.restore_margin;
        if !recovered {
            return;
        }
        let held_ms = round.held_for(&judged.key, judged.pathway, now);
        let restore_ms = i64::from(self.config.restore_seconds) * 1000;
        if held_ms < restore_ms || now - self.demotions[demotion].since < restore_ms {
            return;
        }
        let reason = format!(
            "{} health {own:.0} vs {} {best:.0} for {} s",
            judged.id,
            self.config.pathways[alternative].id,
            held_ms / 1000
        );
        self.demotions.remove(demotion);
        round.decided(&judged.key, judged.pathway);
        self.log(
            now,
            judged.cohort.clone(),
            Some(judged.id.clone()),
            ChangeKind::Restored,
            reason,
        );
    }

    /// Demotes a pathway that shows a clear, broad gap here once the gap has held for
    /// `hold_seconds`, unless it is the last usable one.
    fn consider_demoting(&mut self, now: i64, judged: &CohortPathway, round: &mut Round) {
        // Already demoted here by an alert's action, or in a coarser cohort.
        if self
            .demoted_for(&judged.cohort)
            .any(|d| d.pathway == judged.id)
        {
            return;
        }
        let Some((own_score, alternative, best_score)) = self.clear_gap(judged) else {
            return;
        };
        let usable = self.config.pathways.len() - self.demoted_for(&judged.cohort).count();
        if usable <= 1 {
            return;
        }
        let held_ms = round.held_for(&judged.key, judged.pathway, now);
        if held_ms < i64::from(self.config.hold_seconds) * 1000 {
            return;
        }
        let reason = self.demotion_reason(judged, own_score, alternative, best_score);
        self.demote(now, judged, reason);
        round.decided(&judged.key, judged.pathway);
    }

    /// The pathway's score, the best alternative and its score, when even the pathway's best
    /// case is `demote_margin` below that alternative and most of its traffic shows the gap.
    fn clear_gap(&self, judged: &CohortPathway) -> Option<(f64, usize, f64)> {
        let own_score = self.own_score(&judged.key, judged.pathway)?;
        let own_best_case = self.own_best_case(&judged.key, judged.pathway)?;
        let (alternative, best_score) =
            self.best_alternative(&judged.key, &judged.cohort, judged.pathway)?;
        if own_best_case > best_score - self.config.demote_margin
            || !self.gap_is_broad(&judged.key, judged.pathway)
        {
            return None;
        }
        Some((own_score, alternative, best_score))
    }

    /// Why, in words: both scores, the part of health that differs most, and the evidence.
    fn demotion_reason(
        &self,
        judged: &CohortPathway,
        own_score: f64,
        alternative: usize,
        best_score: f64,
    ) -> String {
        let healths = &self.healths[&judged.key];
        let own = &healths[judged.pathway];
        let part = Some(&healths[alternative])
            .filter(|better| better.score.is_some())
            .map(|better| own.worst_part_against(better))
            .unwrap_or_else(|| "measured on coarser cohorts".into());
        format!(
            "{} health {own_score:.0} vs {} {best_score:.0} ({part}; {} views, {} throughput reports over {} s)",
            judged.id,
            self.config.pathways[alternative].id,
            own.views,
            own.reports,
            self.config.window_seconds
        )
    }

    /// Puts the pathway last for the cohort; a finer cohort's demotion of the same pathway is now
    /// covered by this one.
    fn demote(&mut self, now: i64, judged: &CohortPathway, reason: String) {
        self.demotions.retain(|d| {
            !(d.by == DemotedBy::Policy
                && d.pathway == judged.id
                && contains(&d.cohort, &judged.cohort))
        });
        self.demotions.push(Demotion {
            cohort: judged.cohort.clone(),
            pathway: judged.id.clone(),
            since: now,
            by: DemotedBy::Policy,
            reason: reason.clone(),
            expires_at: None,
            alert_id: None,
        });
        self.log(
            now,
            judged.cohort.clone(),
            Some(judged.id.clone()),
            ChangeKind::Demoted,
            reason,
        );
    }

    /// Pathway `p`'s score measured in cohort `key` itself.
    fn own_score(&self, key: &[String], p: usize) -> Option<f64> {
        self.healths.get(key).and_then(|h| h[p].score)
    }

    /// Pathway `p`'s best case in cohort `key` itself, allowing for bad luck in few views.
    fn own_best_case(&self, key: &[String], p: usize) -> Option<f64> {
        self.healths.get(key).and_then(|h| h[p].best_case_score)
    }

    /// The best score among `p`'s alternatives that `cohort` may use, and which it is.
    fn best_alternative(&self, key: &[String], cohort: &Cohort, p: usize) -> Option<(usize, f64)> {
        let demoted: Vec<&str> = self
            .demoted_for(cohort)
            .map(|d| d.pathway.as_str())
            .collect();
        self.config
            .pathways
            .iter()
            .enumerate()
            .filter(|&(q, alternative)| q != p && !demoted.contains(&alternative.id.as_str()))
            .filter_map(|(q, _)| self.effective_score(key, q).map(|s| (q, s)))
            // Ties go to the earlier pathway in the default order.
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
    }

    /// Whether most of `p`'s traffic under `key` (by weight, over the next finer cohorts that
    /// measure it) shows the gap too. True when no finer cohort measures it.
    fn gap_is_broad(&self, key: &[String], p: usize) -> bool {
        let finer = self
            .healths
            .range(key.to_vec()..)
            .take_while(|(child, _)| child.starts_with(key))
            .filter(|(child, _)| child.len() == key.len() + 1)
            .filter_map(|(child, healths)| healths[p].score.map(|own| (child, own)));
        let (all, bad) = finer.fold((0u64, 0u64), |(all, bad), (child, own)| {
            let weight = self.weights.get(child).copied().unwrap_or(0).max(1);
            let shows_gap = self
                .best_alternative(child, &self.cohort_of(child), p)
                .is_some_and(|(_, best)| own <= best - self.config.demote_margin);
            (all + weight, if shows_gap { bad + weight } else { bad })
        });
        all == 0 || 2 * bad > all
    }
}
