//! The order a session gets (`PATHWAY-PRIORITY`): an override's order if one matches; otherwise
//! healthy pathways before demoted ones, a playing session's current pathway first, and a stable
//! `exploration_share` of sessions sent to a demoted pathway first so its recovery shows.
use super::{contains, Cohort, Override, Policy};

/// A session's stable draw: FNV-1a, then SplitMix64's finaliser so similar ids spread evenly.
fn draw(session: &str, salt: u64) -> u64 {
    let h = session.bytes().fold(0xcbf2_9ce4_8422_2325 ^ salt, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    let h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

impl Policy {
    /// The override that applies to `cohort`: the most specific, then the newest.
    pub(super) fn override_for(&self, cohort: &Cohort) -> Option<&Override> {
        self.overrides
            .iter()
            .filter(|o| contains(cohort, &o.cohort))
            .max_by_key(|o| (o.cohort.len(), o.created_at))
    }

    /// The order for a session of `cohort` now on `current` (None: a new session). `session`
    /// picks the explorers; without one nobody explores.
    pub(super) fn order(
        &self,
        cohort: &Cohort,
        current: Option<&str>,
        session: Option<&str>,
    ) -> Vec<String> {
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
}
