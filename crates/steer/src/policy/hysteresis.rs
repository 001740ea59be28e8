//! Hysteresis: a demotion (or a restoration) is decided only once its condition has held for a
//! while, so a gap that comes and goes within the hold decides nothing.
//!
//! Each evaluation is one [`Round`]: a condition seen again keeps the time it started; one not
//! seen in the round is forgotten, so it starts over the next time it shows.
use std::collections::HashMap;

/// Since when each condition has held, epoch ms, by (cohort key, pathway index).
#[derive(Debug, Default)]
pub(super) struct HeldSince(HashMap<(Vec<String>, usize), i64>);

/// One evaluation's pass over the conditions.
pub(super) struct Round {
    before: HeldSince,
    after: HeldSince,
}

impl Round {
    /// Starts a round from what the previous one left.
    pub(super) fn after(before: HeldSince) -> Round {
        Round {
            before,
            after: HeldSince::default(),
        }
    }

    /// Notes that the condition on `pathway` in cohort `key` holds at `now`, and answers for how
    /// long it has held, ms (0 the first time).
    pub(super) fn held_for(&mut self, key: &[String], pathway: usize, now: i64) -> i64 {
        let slot = (key.to_vec(), pathway);
        let since = *self.before.0.get(&slot).unwrap_or(&now);
        self.after.0.insert(slot, since);
        now - since
    }

    /// The condition led to a decision: its timer starts over.
    pub(super) fn decided(&mut self, key: &[String], pathway: usize) {
        self.after.0.remove(&(key.to_vec(), pathway));
    }

    /// What the next round starts from.
    pub(super) fn end(self) -> HeldSince {
        self.after
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_condition_holds_from_its_first_round_until_a_round_misses_it_or_it_decides() {
        #[derive(Clone, Copy)]
        enum Step {
            Holds,
            Decided,
            Missed,
        }
        use Step::*;
        let key = vec!["DE".to_owned()];
        /// (what happens, now in s, the answer expected from `held_for`, in s).
        type Steps = &'static [(Step, i64, i64)];
        let cases: [(&str, Steps); 4] = [
            ("first seen: held for 0 s", &[(Holds, 10, 0)]),
            (
                "seen in every round: held since the first",
                &[(Holds, 10, 0), (Holds, 20, 10), (Holds, 35, 25)],
            ),
            (
                "a round without it: starts over",
                &[
                    (Holds, 10, 0),
                    (Missed, 20, 0),
                    (Holds, 30, 0),
                    (Holds, 40, 10),
                ],
            ),
            (
                "decided: starts over",
                &[(Holds, 10, 0), (Decided, 20, 0), (Holds, 30, 0)],
            ),
        ];
        for (name, steps) in cases {
            let mut held = HeldSince::default();
            for (i, &(step, now_s, want_s)) in steps.iter().enumerate() {
                let mut round = Round::after(held);
                match step {
                    Holds => assert_eq!(
                        round.held_for(&key, 1, now_s * 1000),
                        want_s * 1000,
                        "{name}, step {i}"
                    ),
                    Decided => {
                        round.held_for(&key, 1, now_s * 1000);
                        round.decided(&key, 1);
                    }
                    Missed => {}
                }
                held = round.end();
            }
        }
    }

    #[test]
    fn conditions_are_kept_apart_by_cohort_and_pathway() {
        let (de, fr) = (vec!["DE".to_owned()], vec!["FR".to_owned()]);
        let mut round = Round::after(HeldSince::default());
        round.held_for(&de, 0, 1_000);
        let mut round = Round::after(round.end());
        assert_eq!(
            round.held_for(&de, 0, 5_000),
            4_000,
            "same cohort and pathway"
        );
        assert_eq!(round.held_for(&de, 1, 5_000), 0, "another pathway");
        assert_eq!(round.held_for(&fr, 0, 5_000), 0, "another cohort");
    }
}
