//! Root-cause localisation for a ratio metric (failure %, rebuffer %, …) over dimension tuples:
//! which element — a combination of up to three dimension values, such as `cdn=cdn-b &
//! country=DE` — explains an excess. Pure functions, no I/O.
//!
//! Method (docs/rca.md): the ratio's excess becomes additive per leaf, `e = n − r̂·d`
//! (counterfactual excess: actual numerator minus what the leaf's baseline rate predicts for its
//! actual denominator). Every element of layers 1–3 is scored by the Poisson log-likelihood ratio
//! of "its numerator rose by one common factor, all else is as the baseline predicts" — which
//! needs only the element's sums, so it holds on thin leaves (one view each) where a leaf-by-leaf
//! distance (HotSpot's potential score, which this crate used first) cannot tell a single
//! failure from noise. The best-scoring element (the coarsest within 2 % of the best) finds the
//! incident; `granularity` moves it to its parent when the rest of the parent clearly rose with
//! it, or to a child when the rest is clearly normal. Its leaves count as explained and the
//! search repeats (`cover`) until 90 % of the excess is explained, the next element explains
//! under 5 % (of the excess beyond two binomial standard deviations per leaf) or scores under 9,
//! or three causes are found; when what that leaves outside still rose, covers from the next best
//! elements may replace it.
use std::collections::HashMap;

mod cover;
mod granularity;
pub mod labelled;
pub mod synthetic;
pub mod table;

use serde::Serialize;

/// Elements deeper than this many dimensions are not considered.
pub const MAX_LAYER: usize = 3;
/// Deviations within this many binomial standard deviations are sampling noise.
const NOISE_SD: f64 = 2.0;
/// Prior weight (in denominator units) pulling a thin leaf's baseline rate to the global one.
const PRIOR_WEIGHT: f64 = 20.0;

/// One row of input: a leaf (a value per dimension) with its numerator and denominator.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// One value per dimension, in the order of [`Input::dimensions`].
    pub leaf: Vec<String>,
    /// Numerator (e.g. failed views, stall seconds).
    pub numerator: f64,
    /// Denominator (e.g. attempts, watch seconds).
    pub denominator: f64,
}

/// What to localise: the leaves of the baseline and of the window under investigation.
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    /// Dimension names.
    pub dimensions: Vec<String>,
    /// Rows of the baseline period (any number per leaf; they are summed).
    pub baseline: Vec<Row>,
    /// Rows of the window under investigation.
    pub current: Vec<Row>,
    /// Elements with less denominator than this in the window are not candidates.
    pub min_support: f64,
}

/// One cause: an element and what it explains.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cause {
    /// The element: dimension → value for its fixed dimensions.
    pub element: std::collections::BTreeMap<String, String>,
    /// Share of the excess (the leaves' extra numerator beyond sampling noise) it holds, 0–1.
    pub explanatory_power: f64,
    /// Σnumerator / Σdenominator inside the element, in the window.
    pub rate_inside: f64,
    /// The same outside the element.
    pub rate_outside: f64,
    /// What the baseline predicts inside the element.
    pub baseline_rate_inside: f64,
    /// Excess numerator inside the element (e.g. excess failed views).
    pub excess: f64,
    /// Denominator inside the element (e.g. attempts affected).
    pub denominator: f64,
    /// Poisson log-likelihood ratio of "this element's rate rose" against the baseline.
    pub score: f64,
}

/// The localisation result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Localisation {
    /// Causes, most explanatory first.
    pub causes: Vec<Cause>,
    /// Σnumerator / Σdenominator in the window.
    pub rate: f64,
    /// What the baseline predicts for the window's traffic.
    pub baseline_rate: f64,
    /// Total excess numerator in the window.
    pub total_excess: f64,
    /// One plain sentence.
    pub summary: String,
}

/// Sampling noise of a leaf around `predicted`: `NOISE_SD` binomial standard deviations.
fn noise(l: &Leaf, predicted: f64) -> f64 {
    let p = if l.denominator > 0.0 {
        (predicted / l.denominator).clamp(0.0, 1.0)
    } else {
        0.0
    };
    NOISE_SD * (l.denominator * p * (1.0 - p)).sqrt()
}

/// A leaf's excess beyond its sampling noise (0 if within).
fn significant_excess(l: &Leaf) -> f64 {
    (l.actual - l.expected - noise(l, l.expected)).max(0.0)
}

/// One full combination of dimension values in the window, with its counts.
struct Leaf {
    /// One value per dimension.
    values: Vec<String>,
    /// The window's numerator.
    actual: f64,
    /// What the leaf's (smoothed) baseline rate predicts for the window's denominator.
    expected: f64,
    /// The variance of that prediction (the baseline is a sample too).
    expected_variance: f64,
    /// The window's denominator.
    denominator: f64,
}

/// Localises the excess of the current window against the baseline.
pub fn localise(input: &Input, metric: &str) -> Localisation {
    let leaves = leaves(input);
    let actual: f64 = leaves.iter().map(|l| l.actual).sum();
    let expected: f64 = leaves.iter().map(|l| l.expected).sum();
    let denominator: f64 = leaves.iter().map(|l| l.denominator).sum();
    let total_excess = actual - expected;
    // Shares are of the leaves' extra numerator beyond their sampling noise: leaves that did
    // better do not offset it, noise does not dilute it, and a share never exceeds 1.
    let significant: Vec<f64> = leaves.iter().map(significant_excess).collect();
    let positive_excess: f64 = significant.iter().sum();
    let rate = ratio(actual, denominator);
    let baseline_rate = ratio(expected, denominator);
    let mut causes = Vec::new();
    if positive_excess > 0.0 {
        let candidates = candidates(&leaves, input.dimensions.len());
        let search = cover::Search {
            leaves: &leaves,
            candidates: &candidates,
            significant: &significant,
            positive_excess,
            min_support: input.min_support,
            max_layer: MAX_LAYER.min(input.dimensions.len()),
        };
        for cover::Found {
            element,
            members,
            score,
        } in search.find()
        {
            let excess: f64 = members
                .iter()
                .map(|&i| leaves[i].actual - leaves[i].expected)
                .sum();
            let power = members.iter().map(|&i| significant[i]).sum::<f64>() / positive_excess;
            let mut member = vec![false; leaves.len()];
            for &i in &members {
                member[i] = true;
            }
            let sum = |f: &dyn Fn(&Leaf) -> f64, inside: bool| -> f64 {
                leaves
                    .iter()
                    .zip(&member)
                    .filter(|(_, m)| **m == inside)
                    .map(|(l, _)| f(l))
                    .sum()
            };
            causes.push(Cause {
                element: element
                    .iter()
                    .map(|(d, v)| (input.dimensions[*d].clone(), v.clone()))
                    .collect(),
                explanatory_power: power,
                rate_inside: ratio(sum(&|l| l.actual, true), sum(&|l| l.denominator, true)),
                rate_outside: ratio(sum(&|l| l.actual, false), sum(&|l| l.denominator, false)),
                baseline_rate_inside: ratio(
                    sum(&|l| l.expected, true),
                    sum(&|l| l.denominator, true),
                ),
                excess,
                denominator: sum(&|l| l.denominator, true),
                score,
            });
        }
    }
    let summary = summary(metric, rate, baseline_rate, &causes, positive_excess > 0.0);
    Localisation {
        causes,
        rate,
        baseline_rate,
        total_excess,
        summary,
    }
}

/// The window's leaves with their expected numerators from the (smoothed) baseline rates.
fn leaves(input: &Input) -> Vec<Leaf> {
    let mut base: HashMap<&[String], (f64, f64)> = HashMap::new();
    for row in &input.baseline {
        let entry = base.entry(&row.leaf).or_default();
        entry.0 += row.numerator;
        entry.1 += row.denominator;
    }
    let (bn, bd) = base
        .values()
        .fold((0.0, 0.0), |acc, (n, d)| (acc.0 + n, acc.1 + d));
    let global = ratio(bn, bd);
    let mut current: HashMap<&[String], (f64, f64)> = HashMap::new();
    for row in &input.current {
        let entry = current.entry(&row.leaf).or_default();
        entry.0 += row.numerator;
        entry.1 += row.denominator;
    }
    let mut leaves: Vec<Leaf> = current
        .into_iter()
        .map(|(values, (n, d))| {
            // A thin leaf leans on the global rate (a beta prior of PRIOR_WEIGHT units).
            let (ln, ld) = base.get(values).copied().unwrap_or_default();
            let rate = (ln + PRIOR_WEIGHT * global) / (ld + PRIOR_WEIGHT);
            Leaf {
                values: values.to_vec(),
                actual: n,
                expected: rate * d,
                // The baseline rate is an estimate from `ld + PRIOR_WEIGHT` units: Poisson
                // variance `rate / (ld + PRIOR_WEIGHT)`, scaled to the window's denominator.
                expected_variance: rate * d * d / (ld + PRIOR_WEIGHT),
                denominator: d,
            }
        })
        .collect();
    leaves.sort_by(|a, b| a.values.cmp(&b.values));
    leaves
}

/// A combination of dimension values, sorted by dimension index: `[(0, "cdn-b"), (1, "DE")]`.
type Element = Vec<(usize, String)>;

/// Every element of layers 1..=3 present in the window, with its leaves.
fn candidates(leaves: &[Leaf], dimensions: usize) -> Vec<(Element, Vec<usize>)> {
    let mut cuboids: Vec<Vec<usize>> = Vec::new();
    for size in 1..=MAX_LAYER.min(dimensions) {
        combinations(dimensions, size, &mut Vec::new(), 0, &mut cuboids);
    }
    let mut out = Vec::new();
    for cuboid in cuboids {
        let mut groups: HashMap<Element, Vec<usize>> = HashMap::new();
        for (i, leaf) in leaves.iter().enumerate() {
            let element: Element = cuboid
                .iter()
                .map(|&d| (d, leaf.values[d].clone()))
                .collect();
            groups.entry(element).or_default().push(i);
        }
        let mut groups: Vec<_> = groups.into_iter().collect();
        groups.sort();
        out.extend(groups);
    }
    out
}

fn combinations(
    n: usize,
    k: usize,
    current: &mut Vec<usize>,
    from: usize,
    out: &mut Vec<Vec<usize>>,
) {
    if current.len() == k {
        out.push(current.clone());
        return;
    }
    for d in from..n {
        current.push(d);
        combinations(n, k, current, d + 1, out);
        current.pop();
    }
}

/// Poisson log-likelihood ratio of "this element's numerator rose by one common factor" against
/// "it is as the baseline predicts": `a·ln(a/e) − (a − e)` for `a` observed, `e` expected. It
/// depends only on the element's sums, so thin leaves (one view, one failure) weigh what they
/// carry; an element that holds all the excess in less traffic scores higher than its parent,
/// and one that misses part of the excess scores lower than the true cause.
pub(crate) fn likelihood_ratio(actual: f64, expected: f64) -> f64 {
    let expected = expected.max(1e-9);
    actual * (actual / expected).ln() - (actual - expected)
}

fn ratio(n: f64, d: f64) -> f64 {
    if d > 0.0 {
        n / d
    } else {
        0.0
    }
}

/// "Rebuffer percentage is 3.1× normal; 82% of the excess is cdn=cdn-b & country=DE."
fn summary(metric: &str, rate: f64, baseline: f64, causes: &[Cause], excess: bool) -> String {
    let level = if baseline > 0.0 {
        format!("{metric} is {:.1}× normal", rate / baseline)
    } else {
        format!("{metric} is {rate:.4}, against none normally")
    };
    if !excess {
        return format!("{level}: no excess beyond sampling noise to explain");
    }
    if causes.is_empty() {
        return format!(
            "{level}; no combination of up to {MAX_LAYER} dimensions explains the excess"
        );
    }
    let parts: Vec<String> = causes
        .iter()
        .map(|c| {
            let element: Vec<String> = c.element.iter().map(|(d, v)| format!("{d}={v}")).collect();
            format!(
                "{:.0}% of the excess is {}",
                c.explanatory_power * 100.0,
                element.join(" & ")
            )
        })
        .collect();
    format!("{level}; {}", parts.join("; "))
}

#[cfg(test)]
mod tests;
