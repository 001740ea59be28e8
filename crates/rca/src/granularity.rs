//! Granularity: whether a cause is better named by an element, by one of its parents (one
//! dimension fewer) or by one of its children (one dimension value more).
//!
//! The rule compares the *rest* — the parent's traffic outside the child — with the parent as a
//! whole:
//!
//! - a **child** is the better answer when the rest of its parent is normal: its rate rose by
//!   less than [`RAISED_SHARE`] of the parent's rise, within sampling noise. The child then holds
//!   the parent's excess, and naming the parent would blame traffic that is fine;
//! - a **parent** is the better answer when the rest is raised too and its children along the
//!   dropped dimension are uniformly worse, if not all by the same factor: those that did not
//!   rise hold less than half ([`UNIFORM`]) of its expected numerator. Naming one child would
//!   leave part of the incident out. Among several such parents the most uniform wins, then the
//!   larger excess;
//! - an element whose children along some dimension are mostly flat (half its expected numerator
//!   or more in children that did not rise) mixes a cause with normal traffic, and gives way to
//!   its raised child with the largest excess.
//!
//! A rest under the support floor cannot tell either way, and the element stays as it is; an
//! empty rest makes the child's extra condition redundant, and the parent is named.
//!
//! This is the judgement published methods make with other words: HotSpot's and Squeeze's
//! ripple effect (a true cause's descendants all change with it), RiskLoc's risk (the share of an
//! element's leaves that are abnormal) and the diagnosis graph of Conviva's alert patent (walk
//! to the coarsest group that explains its children). The likelihood ratio alone cannot make it
//! on real incidents: a child that carries most of its parent's traffic and rose a little more
//! than its siblings fits better by thousands of log-units when counts are large, though the
//! siblings are plainly part of the incident (the RS data set, issue 20), and a parent that
//! gathers two bad children with some normal ones fits better than either child.
use crate::lattice::{Lattice, Sums};

/// A rest whose rate rose by more than this share of its parent's rise (beyond noise) is raised;
/// below it, it is normal. The one number chosen while looking at the RS development half: 0.1
/// names 59 of its 68 labelled causes first, 0.15 names 60; a fifth or more keeps children whose
/// siblings plainly rose with them (docs/rca.md).
pub const RAISED_SHARE: f64 = 0.15;
/// A parent's children are uniformly worse when those that did not rise hold less than this
/// share of its expected numerator: a majority, as RiskLoc's risk threshold.
const UNIFORM: f64 = 0.5;
/// Rises within this many standard deviations (window and baseline) are sampling noise.
const NOISE_SD: f64 = 2.0;
/// A walk longer than this stops where it is (it cannot cycle: every element is visited once).
const MAX_STEPS: usize = 12;

/// `rest` rose by more than [`RAISED_SHARE`] of `rise` (the parent's), beyond sampling noise:
/// the window's (Poisson) and the baseline's (its prediction is an estimate).
pub fn raised(rest: &Sums, rise: f64) -> bool {
    let factor = 1.0 + RAISED_SHARE * rise.max(0.0);
    let normal = rest.expected * factor;
    let variance = normal + rest.expected_variance.max(0.0) * factor * factor;
    (rest.actual - normal) / variance.max(1.0).sqrt() > NOISE_SD
}

/// Walks from element `start` to the granularity the rule prefers, over unexplained leaves.
pub fn refine(lattice: &Lattice, start: usize, explained: &[bool], min_support: f64) -> usize {
    let mut current = start;
    let mut visited = vec![start];
    for _ in 0..MAX_STEPS {
        let next = coarser(lattice, current, explained, min_support)
            .or_else(|| finer(lattice, current, explained, min_support));
        match next {
            Some(next) if !visited.contains(&next) => {
                visited.push(next);
                current = next;
            }
            _ => break,
        }
    }
    current
}

/// The parent to move up to: its rest is raised; the most uniform, then the largest excess.
fn coarser(lattice: &Lattice, index: usize, explained: &[bool], min_support: f64) -> Option<usize> {
    let sums = lattice.sums(index, explained);
    let mut best: Option<(f64, f64, usize)> = None;
    for (parent, dropped) in lattice.parents(index) {
        let whole = lattice.sums(parent, explained);
        let rest = whole.minus(&sums);
        // A condition that leaves no traffic out (an OS that implies its device type) is
        // redundant: the parent names the same viewers with fewer words.
        if rest.denominator <= 0.0 {
            return Some(parent);
        }
        if rest.denominator < min_support || !raised(&rest, whole.rise()) {
            continue;
        }
        let flat = flat_share(&lattice.children(parent, dropped, explained), &whole);
        if flat >= UNIFORM {
            continue;
        }
        let candidate = (flat, whole.excess(), parent);
        let better = best.is_none_or(|(f, e, _)| flat < f || (flat == f && whole.excess() > e));
        if better {
            best = Some(candidate);
        }
    }
    best.map(|(_, _, parent)| parent)
}

/// The child to move down to: the rest of the element outside it is normal, or the element's
/// children along some dimension are not uniformly worse (most of its expected numerator is in
/// children that did not rise: it mixes a cause with normal traffic) and this child rose; the
/// largest excess.
fn finer(lattice: &Lattice, index: usize, explained: &[bool], min_support: f64) -> Option<usize> {
    let (element, _) = &lattice.elements[index];
    let whole = lattice.sums(index, explained);
    let dimensions = lattice.leaves.first().map_or(0, |l| l.values.len());
    let mut best: Option<(f64, usize)> = None;
    for dimension in (0..dimensions).filter(|d| element.iter().all(|(e, _)| e != d)) {
        let children = lattice.children(index, dimension, explained);
        let mixed = flat_share(&children, &whole) >= UNIFORM;
        for (child, sums) in children {
            let Some(child) = child else { continue };
            if sums.denominator < min_support || sums.excess() <= 0.0 {
                continue;
            }
            let rest = whole.minus(&sums);
            let rest_normal = rest.denominator >= min_support && !raised(&rest, whole.rise());
            let picked = rest_normal || (mixed && raised(&sums, whole.rise()));
            if picked && best.is_none_or(|(e, _)| sums.excess() > e) {
                best = Some((sums.excess(), child));
            }
        }
    }
    best.map(|(_, child)| child)
}

/// The share of `whole`'s expected numerator in children that did not rise with it.
fn flat_share(children: &[(Option<usize>, Sums)], whole: &Sums) -> f64 {
    children
        .iter()
        .filter(|(_, child)| !raised(child, whole.rise()))
        .map(|(_, child)| child.expected)
        .sum::<f64>()
        / whole.expected.max(1e-9)
}
