//! The elements a cause can be — every combination of one to [`MAX_LAYER`] dimension values
//! present in the window — with their leaves, and the sums the search needs over the leaves not
//! yet explained.
use std::collections::HashMap;

use crate::Leaf;

/// Elements deeper than this many dimensions are not considered.
pub const MAX_LAYER: usize = 3;

/// A combination of dimension values, sorted by dimension index: `[(0, "cdn-b"), (1, "DE")]`.
pub type Element = Vec<(usize, String)>;

/// A window's numerator, what the baseline predicts for it, and its denominator.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sums {
    /// Observed numerator.
    pub actual: f64,
    /// Numerator the baseline predicts.
    pub expected: f64,
    /// The variance of that prediction.
    pub expected_variance: f64,
    /// Denominator.
    pub denominator: f64,
}

impl Sums {
    /// Numerator beyond the prediction.
    pub fn excess(&self) -> f64 {
        self.actual - self.expected
    }

    /// How far the rate rose relative to the prediction: 0 for as predicted, 1 for doubled.
    pub fn rise(&self) -> f64 {
        self.excess() / self.expected.max(1e-9)
    }

    /// The part of `self` that `part` leaves out.
    pub fn minus(&self, part: &Sums) -> Sums {
        Sums {
            actual: self.actual - part.actual,
            expected: self.expected - part.expected,
            expected_variance: self.expected_variance - part.expected_variance,
            denominator: self.denominator - part.denominator,
        }
    }
}

/// Every element of layers 1..=[`MAX_LAYER`] present in the window, with its leaves.
pub struct Lattice<'a> {
    /// The window's leaves.
    pub leaves: &'a [Leaf],
    /// Elements and the indices of their leaves, layer by layer.
    pub elements: Vec<(Element, Vec<usize>)>,
    index: HashMap<Element, usize>,
}

impl<'a> Lattice<'a> {
    /// Groups the leaves by every combination of up to [`MAX_LAYER`] of `dimensions`.
    pub fn new(leaves: &'a [Leaf], dimensions: usize) -> Self {
        let mut cuboids: Vec<Vec<usize>> = Vec::new();
        for size in 1..=MAX_LAYER.min(dimensions) {
            combinations(dimensions, size, &mut Vec::new(), 0, &mut cuboids);
        }
        let mut elements = Vec::new();
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
            elements.extend(groups);
        }
        let index = elements
            .iter()
            .enumerate()
            .map(|(i, (element, _))| (element.clone(), i))
            .collect();
        Lattice {
            leaves,
            elements,
            index,
        }
    }

    /// The index of `element`, if it is present in the window.
    pub fn find(&self, element: &Element) -> Option<usize> {
        self.index.get(element).copied()
    }

    /// Sums over element `index`'s leaves not yet explained.
    pub fn sums(&self, index: usize, explained: &[bool]) -> Sums {
        self.sums_of(&self.elements[index].1, explained)
    }

    /// Sums over the given leaves not yet explained.
    pub fn sums_of(&self, members: &[usize], explained: &[bool]) -> Sums {
        let mut sums = Sums::default();
        for &i in members.iter().filter(|&&i| !explained[i]) {
            let leaf = &self.leaves[i];
            sums.actual += leaf.actual;
            sums.expected += leaf.expected;
            sums.expected_variance += leaf.expected_variance;
            sums.denominator += leaf.denominator;
        }
        sums
    }

    /// Sums over every leaf not yet explained.
    pub fn unexplained(&self, explained: &[bool]) -> Sums {
        let all: Vec<usize> = (0..self.leaves.len()).collect();
        self.sums_of(&all, explained)
    }

    /// The parents of element `index` (one dimension fewer, the whole window excluded), each
    /// with the dimension that was dropped.
    pub fn parents(&self, index: usize) -> Vec<(usize, usize)> {
        let element = &self.elements[index].0;
        (0..element.len())
            .filter(|_| element.len() > 1)
            .filter_map(|drop| {
                let parent: Element = element
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != drop)
                    .map(|(_, pair)| pair.clone())
                    .collect();
                self.find(&parent).map(|p| (p, element[drop].0))
            })
            .collect()
    }

    /// The children of element `index` along `dimension` (one value each), with their sums
    /// over unexplained leaves; a child deeper than [`MAX_LAYER`] has no index.
    pub fn children(
        &self,
        index: usize,
        dimension: usize,
        explained: &[bool],
    ) -> Vec<(Option<usize>, Sums)> {
        let (element, members) = &self.elements[index];
        let mut by_value: HashMap<&str, Sums> = HashMap::new();
        for &i in members.iter().filter(|&&i| !explained[i]) {
            let leaf = &self.leaves[i];
            let sums = by_value.entry(&leaf.values[dimension]).or_default();
            sums.actual += leaf.actual;
            sums.expected += leaf.expected;
            sums.expected_variance += leaf.expected_variance;
            sums.denominator += leaf.denominator;
        }
        let mut children: Vec<(Option<usize>, Sums)> = by_value
            .into_iter()
            .map(|(value, sums)| {
                let mut child = element.clone();
                child.push((dimension, value.to_owned()));
                child.sort();
                (self.find(&child), sums)
            })
            .collect();
        // Hash order must not decide ties.
        children.sort_by_key(|c| c.0);
        children
    }
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
