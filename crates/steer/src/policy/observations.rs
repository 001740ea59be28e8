//! The evidence an evaluation judges: each view's counts and each player's throughput report,
//! added to its own cohort and to every coarser one (each prefix of the cohort dimensions), per
//! pathway.
use std::collections::{BTreeMap, HashMap};

use openqoe_metrics::MinuteCounts;

use crate::config::SteerConfig;
use crate::health::{Evidence, Health};

/// Evidence per cohort (each prefix of the cohort dimensions) per pathway, over the window.
#[derive(Debug, Clone)]
pub struct Observations {
    cdn_to_pathway: HashMap<String, usize>,
    pathway_index: HashMap<String, usize>,
    pathways: usize,
    cells: HashMap<Vec<String>, Vec<Evidence>>,
}

impl Observations {
    /// Empty, for `config`'s pathways.
    pub fn new(config: &SteerConfig) -> Observations {
        Observations {
            cdn_to_pathway: config
                .pathways
                .iter()
                .enumerate()
                .flat_map(|(i, p)| p.cdn_values().map(move |v| (v.to_owned(), i)))
                .collect(),
            pathway_index: config
                .pathways
                .iter()
                .enumerate()
                .map(|(i, p)| (p.id.clone(), i))
                .collect(),
            pathways: config.pathways.len(),
            cells: HashMap::new(),
        }
    }

    /// Adds to `pathway`'s evidence in the cohort of `cohort` and in every coarser one.
    fn each_level(
        &mut self,
        cohort: &[Option<String>],
        pathway: usize,
        add: impl Fn(&mut Evidence),
    ) {
        let mut key = Vec::with_capacity(cohort.len());
        loop {
            let cell = self
                .cells
                .entry(key.clone())
                .or_insert_with(|| vec![Evidence::default(); self.pathways]);
            add(&mut cell[pathway]);
            match cohort.get(key.len()) {
                Some(Some(value)) => key.push(value.clone()),
                _ => break,
            }
        }
    }

    /// One view's counts over the window; `cohort` holds its values of the cohort dimensions in
    /// order. Views on no configured pathway are not evidence.
    pub fn add_view(
        &mut self,
        cohort: &[Option<String>],
        cdn: Option<&str>,
        counts: &MinuteCounts,
    ) {
        if let Some(&pathway) = cdn.and_then(|c| self.cdn_to_pathway.get(c)) {
            self.each_level(cohort, pathway, |e| e.add_view(counts));
        }
    }

    /// One player's throughput report on `pathway`.
    pub fn add_report(&mut self, cohort: &[Option<String>], pathway: &str, throughput_bps: u64) {
        if let Some(&pathway) = self.pathway_index.get(pathway) {
            self.each_level(cohort, pathway, |e| e.add_report(throughput_bps));
        }
    }

    /// Each cohort's health per pathway, in configured order, by cohort key.
    pub(super) fn healths(&self, config: &SteerConfig) -> BTreeMap<Vec<String>, Vec<Health>> {
        self.cells
            .iter()
            .map(|(key, cells)| {
                (
                    key.clone(),
                    cells.iter().map(|e| e.health(config)).collect(),
                )
            })
            .collect()
    }

    /// Each cohort's weight of evidence over all pathways, by cohort key.
    pub(super) fn weights(&self) -> HashMap<Vec<String>, u64> {
        self.cells
            .iter()
            .map(|(key, cells)| (key.clone(), cells.iter().map(Evidence::weight).sum()))
            .collect()
    }
}
