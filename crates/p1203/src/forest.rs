//! The P.1203.3 random forest (cl. 8.4.1): 20 regression trees, the electronic attachment of the
//! Recommendation, kept as data in `trees/` (see its README for provenance).
use std::sync::OnceLock;

/// Number of features the trees read (P.1203.3 cl. 8.1.3).
pub const FEATURES: usize = 14;

const TREES: [&str; 20] = [
    include_str!("../trees/tree01.csv"),
    include_str!("../trees/tree02.csv"),
    include_str!("../trees/tree03.csv"),
    include_str!("../trees/tree04.csv"),
    include_str!("../trees/tree05.csv"),
    include_str!("../trees/tree06.csv"),
    include_str!("../trees/tree07.csv"),
    include_str!("../trees/tree08.csv"),
    include_str!("../trees/tree09.csv"),
    include_str!("../trees/tree10.csv"),
    include_str!("../trees/tree11.csv"),
    include_str!("../trees/tree12.csv"),
    include_str!("../trees/tree13.csv"),
    include_str!("../trees/tree14.csv"),
    include_str!("../trees/tree15.csv"),
    include_str!("../trees/tree16.csv"),
    include_str!("../trees/tree17.csv"),
    include_str!("../trees/tree18.csv"),
    include_str!("../trees/tree19.csv"),
    include_str!("../trees/tree20.csv"),
];

/// One node: an inner node compares `feature` with `value` (left when strictly less); a leaf
/// (`feature == None`) predicts `value`.
#[derive(Debug, Clone, Copy)]
struct Node {
    feature: Option<usize>,
    value: f64,
    left: usize,
    right: usize,
}

fn forest() -> &'static [Vec<Node>] {
    static FOREST: OnceLock<Vec<Vec<Node>>> = OnceLock::new();
    FOREST.get_or_init(|| TREES.iter().map(|csv| parse_tree(csv)).collect())
}

/// Parses one tree; the files are part of the build, so a malformed one is a build defect.
fn parse_tree(csv: &str) -> Vec<Node> {
    csv.lines()
        .skip(1)
        .filter(|line| !line.trim().is_empty())
        .enumerate()
        .map(|(row, line)| {
            let cols: Vec<&str> = line.split(',').collect();
            assert_eq!(cols.len(), 5, "tree row {row}: {line}");
            let number = |i: usize| -> f64 {
                cols[i]
                    .trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("tree row {row}: {line}"))
            };
            assert_eq!(number(0) as usize, row, "tree rows are in node order");
            let feature = number(1);
            Node {
                feature: (feature >= 0.0).then_some(feature as usize),
                value: number(2),
                left: number(3).max(0.0) as usize,
                right: number(4).max(0.0) as usize,
            }
        })
        .collect()
}

/// The forest's prediction: the mean of the 20 trees' leaves for `features`.
pub fn predict(features: &[f64; FEATURES]) -> f64 {
    let trees = forest();
    let sum: f64 = trees
        .iter()
        .map(|tree| {
            let mut node = tree[0];
            while let Some(feature) = node.feature {
                node = tree[if features[feature] < node.value {
                    node.left
                } else {
                    node.right
                }];
            }
            node.value
        })
        .sum();
    sum / trees.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trees_load_whole() {
        let trees = forest();
        assert_eq!(trees.len(), 20);
        let rows: usize = trees.iter().map(Vec::len).sum();
        let leaves = trees
            .iter()
            .flatten()
            .filter(|n| n.feature.is_none())
            .count();
        // trees/README.md: 2056 rows, 1038 leaves, leaf values within [1.2427, 4.9692] (rounded).
        assert_eq!((rows, leaves), (2056, 1038));
        for leaf in trees.iter().flatten().filter(|n| n.feature.is_none()) {
            assert!((1.24265..4.96925).contains(&leaf.value), "{}", leaf.value);
        }
        for node in trees.iter().flatten() {
            assert!(node.feature.is_none_or(|f| f < FEATURES));
        }
    }
}
