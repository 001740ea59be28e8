//! Granularity: whether an excess is better named by an element, by one of its parents (one
//! dimension value fewer) or by one of its children (one more).
//!
//! The likelihood ratio that picks the first element cannot make this call on dense counts: a
//! child that carries most of its parent's traffic and rose a little more than its siblings fits
//! better by thousands of log-units, though the siblings plainly rose too (real incidents,
//! docs/rca.md), and a parent whose rest is flat can score within a hair of its raised child. So
//! the choice looks at the **rest** — the parent's traffic outside the child — and asks only what
//! its counts can tell. A move away from the likelihood ratio's choice needs clear evidence, in
//! either direction:
//!
//! - **up to the parent** when the rest rose with the child: beyond [`RISE_SD`] standard
//!   deviations of Poisson and baseline noise, by a [`MATERIAL`] part of the child's rise, and
//!   broadly (siblings that did not rise hold under half of the rest's prediction, RiskLoc's
//!   majority), each sibling judged against what its value did outside the parent (a rise the
//!   value shows everywhere is another cause's, not the parent's). The child would leave part of
//!   the incident out;
//! - **down to a child** when the rest did not rise (not even beyond [`NOISE_SD`]) *and* its
//!   counts are evidence that it did not rise as the child did (its count is [`EVIDENCE`]
//!   log-units likelier at the baseline's prediction than at the child's rise): the child holds
//!   the parent's excess, and the parent would blame traffic that is fine;
//! - otherwise the counts cannot tell — a rest of a few views, as most of openqoe's own leaves
//!   are, is neither a rise nor evidence of its absence — and the likelihood ratio's choice stands.
//!
//! After each move, conditions that exclude no traffic are dropped ([`succinct`]): an OS names its
//! device type too.
use crate::{Element, Leaf};

/// Deviations within this many standard deviations are sampling noise.
const NOISE_SD: f64 = 2.0;
/// Log-likelihood units by which the rest's count must favour "normal" over "risen as the child
/// did" for the child to be named: the same bar as [`NOISE_SD`] (a z of 2 is 2²/2 log-units).
const EVIDENCE: f64 = NOISE_SD * NOISE_SD / 2.0;
/// A rest counts as risen beyond this many standard deviations: a move against the likelihood
/// ratio's choice needs p ≈ 0.001, as each localisation tests several parents and their siblings
/// (at two, one alert localisation in a hundred on openqoe's own views moved to a parent on a
/// sibling's chance rise).
pub(crate) const RISE_SD: f64 = 3.0;
/// A rest rose *with* a child only if its rise, on a log scale, is at least this share of the
/// child's: on dense counts a rise of a few per cent is significant but no part of the incident.
const MATERIAL: f64 = 0.15;
/// A parent is uniformly worse when the child's siblings that did not rise with it hold less than
/// this share of the rest's expected numerator (RiskLoc's majority).
const UNIFORM: f64 = 0.5;
/// A walk longer than this stops where it is.
const MAX_STEPS: usize = 12;

/// A set of leaves' window numerator, its prediction, that prediction's variance, and denominator.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Sums {
    pub(crate) actual: f64,
    pub(crate) expected: f64,
    pub(crate) variance: f64,
    pub(crate) denominator: f64,
}

impl Sums {
    pub(crate) fn add(&mut self, leaf: &Leaf) {
        self.actual += leaf.actual;
        self.expected += leaf.expected;
        self.variance += leaf.expected_variance;
        self.denominator += leaf.denominator;
    }

    /// Observed over predicted numerator.
    pub(crate) fn factor(&self) -> f64 {
        self.actual / self.expected.max(1e-9)
    }
}

/// `rest` rose beyond `sd` standard deviations of sampling noise: the window's (Poisson) and the
/// baseline's (its prediction is an estimate). A variance under 1 counts as 1, so a single event
/// where almost none was expected is no rise.
pub(crate) fn raised(rest: &Sums, sd: f64) -> bool {
    let variance = (rest.expected + rest.variance).max(1.0);
    rest.denominator > 0.0 && (rest.actual - rest.expected) / variance.sqrt() > sd
}

/// `rest` rose beyond `sd` standard deviations and by a material part of `factor` (the child's
/// rise), on a log scale.
pub(crate) fn rose_with(rest: &Sums, factor: f64, sd: f64) -> bool {
    raised(rest, sd) && rest.factor().ln() >= MATERIAL * factor.max(1.0).ln()
}

/// `rest`'s count is evidence that it did not rise by `factor`: its Poisson log-likelihood at the
/// baseline's prediction exceeds that at `factor` times it by [`EVIDENCE`].
pub(crate) fn evidently_normal(rest: &Sums, factor: f64) -> bool {
    let normal = rest.expected.max(1e-9);
    let risen = normal * factor.max(1.0);
    let log_likelihood = |mean: f64| rest.actual * mean.ln() - mean;
    log_likelihood(normal) - log_likelihood(risen) >= EVIDENCE
}

/// Sums over the unexplained leaves of `element` among `members`.
fn sums(leaves: &[Leaf], members: &[usize], explained: &[bool], element: &Element) -> Sums {
    let mut sums = Sums::default();
    for &i in members {
        if !explained[i] && element.iter().all(|(d, v)| leaves[i].values[*d] == *v) {
            sums.add(&leaves[i]);
        }
    }
    sums
}

/// Walks from `start` to the granularity the rule prefers, over the unexplained leaves; `all`
/// lists every leaf index. Returns the element.
pub(crate) fn refine(
    leaves: &[Leaf],
    all: &[usize],
    explained: &[bool],
    start: &Element,
    max_layer: usize,
    min_support: f64,
) -> Element {
    let mut current = start.clone();
    let mut visited = vec![current.clone()];
    for _ in 0..MAX_STEPS {
        let next = coarser(leaves, all, explained, &current, min_support)
            .or_else(|| finer(leaves, all, explained, &current, max_layer, min_support));
        match next.map(|next| succinct(leaves, all, explained, next)) {
            Some(next) if !visited.contains(&next) => {
                visited.push(next.clone());
                current = next;
            }
            _ => break,
        }
    }
    current
}

/// `parent`'s unexplained leaves split by their value of `dimension`: each value's sums inside the
/// parent and outside it; and the parent's whole sums.
fn split<'l>(
    leaves: &'l [Leaf],
    all: &[usize],
    explained: &[bool],
    parent: &Element,
    dimension: usize,
) -> (Vec<(&'l str, Sums, Sums)>, Sums) {
    let mut values: Vec<(&str, Sums, Sums)> = Vec::new();
    let mut whole = Sums::default();
    for &i in all.iter().filter(|&&i| !explained[i]) {
        let leaf = &leaves[i];
        let inside = parent.iter().all(|(d, v)| leaf.values[*d] == *v);
        if inside {
            whole.add(leaf);
        }
        let value = leaf.values[dimension].as_str();
        let entry = match values.iter().position(|(v, _, _)| *v == value) {
            Some(at) => &mut values[at],
            None => {
                values.push((value, Sums::default(), Sums::default()));
                values.last_mut().expect("pushed")
            }
        };
        if inside {
            entry.1.add(leaf);
        } else {
            entry.2.add(leaf);
        }
    }
    (values, whole)
}

/// The parent's traffic outside its child of value `own` along the split's dimension, each
/// sibling's prediction raised to its value's level outside the parent where that rose (a rise
/// the value shows everywhere is not the parent's); and the expected numerator of the siblings
/// that did not rise with `factor`.
fn rest_of(
    values: &[(&str, Sums, Sums)],
    own: &str,
    factor: f64,
    against_background: bool,
) -> (Sums, f64) {
    let mut rest = Sums::default();
    let mut flat = 0.0;
    for (_, inside, outside) in values.iter().filter(|(v, _, _)| *v != own) {
        let level = if against_background && raised(outside, NOISE_SD) {
            outside.factor()
        } else {
            1.0
        };
        let sibling = Sums {
            expected: inside.expected * level,
            variance: inside.variance * level * level,
            ..*inside
        };
        if !rose_with(&sibling, factor, NOISE_SD) {
            flat += sibling.expected;
        }
        rest.actual += sibling.actual;
        rest.expected += sibling.expected;
        rest.variance += sibling.variance;
        rest.denominator += sibling.denominator;
    }
    (rest, flat)
}

/// `element` without the conditions that exclude no unexplained traffic: an OS that implies its
/// device type, an ISP its country. The same viewers are named with fewer words.
fn succinct(leaves: &[Leaf], all: &[usize], explained: &[bool], element: Element) -> Element {
    let count = |element: &Element| {
        all.iter()
            .filter(|&&i| !explained[i] && element.iter().all(|(d, v)| leaves[i].values[*d] == *v))
            .count()
    };
    let mut element = element;
    let mut own = count(&element);
    let mut drop = 0;
    while drop < element.len() && element.len() > 1 {
        let mut parent = element.clone();
        parent.remove(drop);
        let theirs = count(&parent);
        if theirs == own {
            element = parent;
            own = theirs;
        } else {
            drop += 1;
        }
    }
    element
}

/// The parent to move up to: its rest rose with the child, broadly (siblings that did not rise
/// with it hold under [`UNIFORM`] of the rest), and beyond what the same siblings' values did
/// outside the parent; of several, the one whose rest rose most.
///
/// The last condition keeps a parent from collecting other causes: with `os=os-2` broken
/// everywhere, `country=X & os=os-2` rose too, and `country=X` would look uniformly worse around
/// a cause `country=X & os=os-0` (HotSpot's ripple effect, read the other way: a sibling's rise
/// that its value shows everywhere is not the parent's).
fn coarser(
    leaves: &[Leaf],
    all: &[usize],
    explained: &[bool],
    element: &Element,
    min_support: f64,
) -> Option<Element> {
    if element.len() < 2 {
        return None;
    }
    let own = sums(leaves, all, explained, element);
    let mut best: Option<(f64, Element)> = None;
    for drop in 0..element.len() {
        let (dimension, own_value) = (element[drop].0, &element[drop].1);
        let parent: Element = element
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != drop)
            .map(|(_, pair)| pair.clone())
            .collect();
        let (values, whole) = split(leaves, all, explained, &parent, dimension);
        if whole.denominator < min_support {
            continue;
        }
        let (rest, flat) = rest_of(&values, own_value, own.factor(), true);
        if !rose_with(&rest, own.factor(), RISE_SD) || flat >= UNIFORM * rest.expected {
            continue;
        }
        let closeness = rest.factor().ln();
        if best.as_ref().is_none_or(|(c, _)| closeness > *c) {
            best = Some((closeness, parent));
        }
    }
    best.map(|(_, parent)| parent)
}

/// The child to move down to: the rest of the element outside it did not rise with it (beyond
/// what the same values did elsewhere) and is evidently normal; the largest likelihood ratio
/// among such children.
fn finer(
    leaves: &[Leaf],
    all: &[usize],
    explained: &[bool],
    element: &Element,
    max_layer: usize,
    min_support: f64,
) -> Option<Element> {
    if element.len() >= max_layer {
        return None;
    }
    let dimensions = leaves.first().map_or(0, |l| l.values.len());
    let mut best: Option<(f64, Element)> = None;
    for dimension in (0..dimensions).filter(|d| element.iter().all(|(e, _)| e != d)) {
        let (values, _) = split(leaves, all, explained, element, dimension);
        for (value, child, _) in &values {
            if child.denominator < min_support || child.actual <= child.expected {
                continue;
            }
            // Taken as it is: a rest that rose anywhere near the child keeps the parent.
            let (rest, _) = rest_of(&values, value, child.factor(), false);
            if rose_with(&rest, child.factor(), NOISE_SD)
                || !evidently_normal(&rest, child.factor())
            {
                continue;
            }
            let score = crate::likelihood_ratio(child.actual, child.expected);
            if best.as_ref().is_none_or(|(s, _)| score > *s) {
                let mut element = element.clone();
                element.push((dimension, (*value).to_owned()));
                element.sort();
                best = Some((score, element));
            }
        }
    }
    best.map(|(_, element)| element)
}

#[cfg(test)]
mod tests;
