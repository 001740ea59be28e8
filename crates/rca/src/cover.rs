//! The causes: a small set of disjoint elements that together hold the incident.
//!
//! One cover is built greedily from a seed: the seed, moved to its granularity
//! ([`crate::granularity::refine`]), is the first cause; its leaves count as explained, and the
//! element with the largest likelihood ratio among the rest, refined the same way, is the next,
//! until it holds 90 % of the excess, the next element would hold under 5 % of it or score
//! under 9, or three causes are named. A cover is **complete** from the cause on after which
//! what it leaves outside is normal (not [`raised`] relative to the causes' rise).
//!
//! Seeds are the [`SEEDS`] elements with the largest likelihood ratio. Of their covers, a
//! complete one wins over an incomplete one, then the one complete with fewer causes, then the
//! larger joint likelihood ratio of those causes (the causes are disjoint, so their ratios add up to the ratio of the model in which each
//! rose by its own factor). Without a complete cover the first seed's stands. Several seeds are
//! needed where one element gathers two causes: on real incidents `p2p=1` holds 94 % of an
//! excess that is `bitrate=4500` and `bitrate=2500` (and leaves `p2p=0`'s share of both
//! outside), and scores above either bitrate alone; only the two bitrates leave nothing raised.
use crate::granularity::{raised, refine};
use crate::lattice::Lattice;

/// Covers are built from this many seeds.
pub const SEEDS: usize = 10;
/// A cover stops once this share of the excess is explained…
const EXPLAINED_ENOUGH: f64 = 0.9;
/// …or when the next element would explain less than this.
const MIN_EXPLANATORY_POWER: f64 = 0.05;
/// An element whose log-likelihood ratio is below this is no cause (2·9 = 18 on a χ² with one
/// degree of freedom: p ≈ 2·10⁻⁵): its excess could be chance.
pub const MIN_LIKELIHOOD_RATIO: f64 = 9.0;
/// At most this many causes.
const MAX_CAUSES: usize = 3;

/// One cause of a cover: the element, its leaves not explained by an earlier cause, and its
/// likelihood ratio over them.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// Index into the lattice's elements.
    pub element: usize,
    /// Its leaves, less those of earlier causes.
    pub members: Vec<usize>,
    /// Poisson log-likelihood ratio over them.
    pub score: f64,
}

/// A set of causes, first first.
struct Cover {
    causes: Vec<Found>,
    /// How many of the first causes leave nothing raised outside them, if any do.
    complete_at: Option<usize>,
}

impl Cover {
    /// The joint likelihood ratio of the first `n` causes.
    fn joint(&self, n: usize) -> f64 {
        self.causes.iter().take(n).map(|f| f.score).sum()
    }
}

/// Finds the causes. `significant[i]` is leaf `i`'s excess beyond sampling noise, whose sum
/// `positive_excess` shares of explanation are of.
pub fn find(
    lattice: &Lattice,
    significant: &[f64],
    positive_excess: f64,
    min_support: f64,
) -> Vec<Found> {
    let nothing = vec![false; lattice.leaves.len()];
    let mut seeds: Vec<(f64, usize)> = (0..lattice.elements.len())
        .filter_map(|i| score(lattice, i, &nothing, min_support).map(|s| (s, i)))
        .filter(|(s, _)| *s >= MIN_LIKELIHOOD_RATIO)
        .collect();
    seeds.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut covers: Vec<Cover> = Vec::new();
    let mut firsts: Vec<usize> = Vec::new();
    for &(_, seed) in seeds.iter().take(SEEDS) {
        let first = refine(lattice, seed, &nothing, min_support);
        // Seeds that refine to the same first cause build the same cover.
        if firsts.contains(&first) {
            continue;
        }
        firsts.push(first);
        let cover = cover(lattice, first, significant, positive_excess, min_support);
        if !cover.causes.is_empty() {
            covers.push(cover);
        }
    }
    let best = covers
        .iter()
        .filter_map(|c| c.complete_at.map(|n| (n, c)))
        .max_by(|(m, a), (n, b)| n.cmp(m).then(a.joint(*m).total_cmp(&b.joint(*n))))
        .map(|(_, c)| c);
    best.or(covers.first())
        .map(|c| c.causes.clone())
        .unwrap_or_default()
}

/// The cover that starts with element `first`.
fn cover(
    lattice: &Lattice,
    first: usize,
    significant: &[f64],
    positive_excess: f64,
    min_support: f64,
) -> Cover {
    let mut explained = vec![false; lattice.leaves.len()];
    let mut causes: Vec<Found> = Vec::new();
    let mut explained_excess = 0.0;
    let mut complete_at = None;
    let mut next = Some(first);
    while let Some(element) = next {
        let members: Vec<usize> = lattice.elements[element]
            .1
            .iter()
            .copied()
            .filter(|&i| !explained[i])
            .collect();
        let sums = lattice.sums_of(&members, &explained);
        let score = likelihood_ratio(sums.actual, sums.expected);
        let power = members.iter().map(|&i| significant[i]).sum::<f64>() / positive_excess;
        if power < MIN_EXPLANATORY_POWER || score < MIN_LIKELIHOOD_RATIO {
            break;
        }
        for &i in &members {
            explained[i] = true;
        }
        causes.push(Found {
            element,
            members,
            score,
        });
        explained_excess += power * positive_excess;
        // Complete: what the causes leave outside did not rise with them. The search goes on
        // (a small cause can hide in a large normal rest), but the choice counts these.
        let inside: Vec<usize> = (0..explained.len()).filter(|&i| explained[i]).collect();
        let rise = lattice
            .sums_of(&inside, &vec![false; explained.len()])
            .rise();
        if complete_at.is_none() && !raised(&lattice.unexplained(&explained), rise) {
            complete_at = Some(causes.len());
        }
        if causes.len() >= MAX_CAUSES || explained_excess >= EXPLAINED_ENOUGH * positive_excess {
            break;
        }
        next = best(lattice, &explained, min_support)
            .map(|(_, index)| refine(lattice, index, &explained, min_support));
    }
    Cover {
        causes,
        complete_at,
    }
}

/// The unexplained element with the largest likelihood ratio.
fn best(lattice: &Lattice, explained: &[bool], min_support: f64) -> Option<(f64, usize)> {
    (0..lattice.elements.len())
        .filter_map(|i| score(lattice, i, explained, min_support).map(|s| (s, i)))
        .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)))
}

/// Element `index`'s likelihood ratio over its unexplained leaves, if it has the support and an
/// excess.
fn score(lattice: &Lattice, index: usize, explained: &[bool], min_support: f64) -> Option<f64> {
    let sums = lattice.sums(index, explained);
    (sums.denominator >= min_support && sums.actual > sums.expected)
        .then(|| likelihood_ratio(sums.actual, sums.expected))
}

/// Poisson log-likelihood ratio of "this element's numerator rose by one common factor" against
/// "it is as the baseline predicts": `a·ln(a/e) − (a − e)` for `a` observed, `e` expected. It
/// depends only on the element's sums, so thin leaves (one view, one failure) weigh what they
/// carry; an element that holds all the excess in less traffic scores higher than its parent,
/// and one that misses part of the excess scores lower than the true cause.
pub fn likelihood_ratio(actual: f64, expected: f64) -> f64 {
    let expected = expected.max(1e-9);
    actual * (actual / expected).ln() - (actual - expected)
}
