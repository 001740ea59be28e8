//! The causes: a few disjoint elements that together hold the incident.
//!
//! A **cover** is built greedily: the element with the largest likelihood ratio (the coarsest
//! within [`COARSE_MARGIN`] of it), moved to its granularity ([`crate::granularity::refine`]), is
//! the first cause; its leaves count as explained, and the search repeats on the rest until 90 %
//! of the excess is explained, the next element would hold under 5 % of it or score under 9, or
//! three causes are named. A cover is **complete** once what it leaves outside did not clearly
//! rise with its causes ([`crate::granularity::rose_with`] beyond three standard deviations), and
//! that outside holds some traffic (`p2p=1` with `p2p=0` holds everything and says nothing).
//!
//! Most incidents are complete with the first cover, and that is the answer. When it is not,
//! one element may have gathered two causes: on real incidents `p2p=1` holds 94 % of an excess
//! that is `bitrate=4500` and `bitrate=2500` and scores above either, but it leaves `p2p=0`'s
//! share of both raised outside it. Then covers are also built from the next best elements
//! ([`SEEDS`] in all); a complete one replaces the first when its joint likelihood ratio less
//! [`MIN_LIKELIHOOD_RATIO`] per cause is larger (the causes are disjoint, so their ratios add up
//! to that of the model in which each rose by its own factor; each cause pays the bar it had to
//! pass to be one), and its causes are ranked by what they explain.
use crate::granularity::{refine, rose_with, Sums, RISE_SD};
use crate::{likelihood_ratio, Element, Leaf};

/// Likelihood ratios within this share of the best count as equal, and the coarser element wins.
const COARSE_MARGIN: f64 = 0.02;
/// A cover stops once this share of the excess is explained…
const EXPLAINED_ENOUGH: f64 = 0.9;
/// …or when the next element would explain less than this.
const MIN_EXPLANATORY_POWER: f64 = 0.05;
/// An element whose log-likelihood ratio is below this is no cause (2·9 = 18 on a χ² with one
/// degree of freedom: p ≈ 2·10⁻⁵): its excess could be chance.
const MIN_LIKELIHOOD_RATIO: f64 = 9.0;
/// At most this many causes.
const MAX_CAUSES: usize = 3;
/// When the first cover is incomplete, covers are built from this many of the best elements.
const SEEDS: usize = 10;

/// One cause: the element, its leaves not explained by an earlier cause, and its likelihood
/// ratio over them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Found {
    pub(crate) element: Element,
    pub(crate) members: Vec<usize>,
    pub(crate) score: f64,
}

/// What the search runs over.
pub(crate) struct Search<'a> {
    pub(crate) leaves: &'a [Leaf],
    /// Every element of layers 1..=`max_layer` present in the window, with its leaves.
    pub(crate) candidates: &'a [(Element, Vec<usize>)],
    /// Each leaf's excess beyond sampling noise…
    pub(crate) significant: &'a [f64],
    /// …and their sum, of which explanatory power is a share.
    pub(crate) positive_excess: f64,
    pub(crate) min_support: f64,
    pub(crate) max_layer: usize,
}

/// A cover and how many of its first causes leave nothing raised outside them, if any do.
struct Cover {
    causes: Vec<Found>,
    complete_at: Option<usize>,
}

impl Search<'_> {
    /// The causes, first first.
    pub(crate) fn find(&self) -> Vec<Found> {
        let first = self.cover(None);
        if first.complete_at.is_some() || first.causes.is_empty() {
            return first.causes;
        }
        let nothing = vec![false; self.leaves.len()];
        let all: Vec<usize> = (0..self.leaves.len()).collect();
        let mut ranked = self.scored(&nothing);
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.3.cmp(&b.3)));
        let mut firsts = vec![first.causes[0].element.clone()];
        let mut covers = vec![first];
        for &(score, _, _, index) in ranked.iter().take(SEEDS) {
            if score < MIN_LIKELIHOOD_RATIO {
                break;
            }
            let seed = &self.candidates[index].0;
            let element = refine(
                self.leaves,
                &all,
                &nothing,
                seed,
                self.max_layer,
                self.min_support,
            );
            // Seeds that refine to the same first cause build the same cover.
            if firsts.contains(&element) {
                continue;
            }
            firsts.push(element.clone());
            let cover = self.cover(Some(element));
            // Another cover is an answer only if it holds the whole incident.
            if cover.complete_at.is_some() {
                covers.push(cover);
            }
        }
        // Each cause costs what it takes to be one: the joint likelihood ratio less that bar per
        // cause, so a second cause must earn its place.
        let worth = |c: &Cover| {
            c.causes
                .iter()
                .map(|f| f.score - MIN_LIKELIHOOD_RATIO)
                .sum::<f64>()
        };
        let mut best = 0;
        for (i, cover) in covers.iter().enumerate() {
            if worth(cover) > worth(&covers[best]) {
                best = i;
            }
        }
        let mut causes = covers.swap_remove(best).causes;
        if best > 0 {
            // Its first cause was forced as a seed: rank its causes by what they explain.
            let power = |f: &Found| f.members.iter().map(|&i| self.significant[i]).sum::<f64>();
            causes.sort_by(|a, b| power(b).total_cmp(&power(a)));
        }
        causes
    }

    /// The greedy cover that starts with `first` (or the best element).
    fn cover(&self, mut first: Option<Element>) -> Cover {
        let all: Vec<usize> = (0..self.leaves.len()).collect();
        let mut explained = vec![false; self.leaves.len()];
        let mut causes: Vec<Found> = Vec::new();
        let mut complete_at = None;
        let mut explained_excess = 0.0;
        while causes.len() < MAX_CAUSES
            && explained_excess < EXPLAINED_ENOUGH * self.positive_excess
        {
            let element = match first.take() {
                Some(element) => element,
                None => {
                    let Some(seed) = self.best(&explained) else {
                        break;
                    };
                    // The likelihood ratio finds the incident; the rest of its parents and
                    // children decides how finely to name it.
                    refine(
                        self.leaves,
                        &all,
                        &explained,
                        &seed,
                        self.max_layer,
                        self.min_support,
                    )
                }
            };
            let members: Vec<usize> = all
                .iter()
                .copied()
                .filter(|&i| {
                    !explained[i] && element.iter().all(|(d, v)| self.leaves[i].values[*d] == *v)
                })
                .collect();
            let (actual, expected) = members.iter().fold((0.0, 0.0), |acc, &i| {
                (
                    acc.0 + self.leaves[i].actual,
                    acc.1 + self.leaves[i].expected,
                )
            });
            let score = likelihood_ratio(actual, expected);
            let power =
                members.iter().map(|&i| self.significant[i]).sum::<f64>() / self.positive_excess;
            if power < MIN_EXPLANATORY_POWER || score < MIN_LIKELIHOOD_RATIO {
                break;
            }
            for &i in &members {
                explained[i] = true;
            }
            explained_excess += power * self.positive_excess;
            causes.push(Found {
                element,
                members,
                score,
            });
            if complete_at.is_none() && self.complete(&explained) {
                complete_at = Some(causes.len());
            }
        }
        Cover {
            causes,
            complete_at,
        }
    }

    /// What the explained leaves leave outside did not rise with them.
    fn complete(&self, explained: &[bool]) -> bool {
        let (mut inside, mut outside) = (Sums::default(), Sums::default());
        for (leaf, &e) in self.leaves.iter().zip(explained) {
            if e {
                inside.add(leaf);
            } else {
                outside.add(leaf);
            }
        }
        // Causes that hold all the traffic (`p2p=1` and `p2p=0`) say no more than "everything":
        // that is no cover.
        outside.denominator >= self.min_support && !rose_with(&outside, inside.factor(), RISE_SD)
    }

    /// Each unexplained element with the support and an excess: (likelihood ratio, layer,
    /// excess, index).
    fn scored(&self, explained: &[bool]) -> Vec<(f64, usize, f64, usize)> {
        let mut scored = Vec::new();
        for (index, (element, members)) in self.candidates.iter().enumerate() {
            let (mut support, mut actual, mut expected) = (0.0, 0.0, 0.0);
            for &i in members.iter().filter(|&&i| !explained[i]) {
                support += self.leaves[i].denominator;
                actual += self.leaves[i].actual;
                expected += self.leaves[i].expected;
            }
            if support < self.min_support || actual <= expected {
                continue;
            }
            scored.push((
                likelihood_ratio(actual, expected),
                element.len(),
                actual - expected,
                index,
            ));
        }
        scored
    }

    /// The best unexplained element: the largest log-likelihood ratio, the coarsest within the
    /// margin, then the largest excess.
    fn best(&self, explained: &[bool]) -> Option<Element> {
        let scored = self.scored(explained);
        let top = scored.iter().map(|s| s.0).fold(f64::NEG_INFINITY, f64::max);
        let (_, _, _, index) = scored
            .into_iter()
            .filter(|s| s.0 >= top * (1.0 - COARSE_MARGIN))
            .min_by(|a, b| a.1.cmp(&b.1).then(b.2.total_cmp(&a.2)))?;
        Some(self.candidates[index].0.clone())
    }
}
