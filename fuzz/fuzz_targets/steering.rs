//! Content steering's two parsers on any input: a poll's query (`_DASH_pathway` and
//! `_DASH_throughput` from the first two lines) and a steering manifest (the whole text). Neither
//! panics; what parses keeps its promises (legal pathway ids; a manifest that validates and
//! reads back the same).
#![no_main]
use libfuzzer_sys::fuzz_target;
use openqoe_steer::{is_pathway_id, Protocol, SteeringManifest, SteeringQuery};

fuzz_target!(|text: &str| {
    let mut lines = text.lines();
    let pairs = vec![
        (
            "_DASH_pathway".to_owned(),
            lines.next().unwrap_or("").to_owned(),
        ),
        (
            "_DASH_throughput".to_owned(),
            lines.next().unwrap_or("").to_owned(),
        ),
    ];
    if let Ok(query) = SteeringQuery::parse(Protocol::Dash, &pairs) {
        assert!(query.reports.iter().all(|r| is_pathway_id(&r.pathway)));
    }
    if let Ok(manifest) = SteeringManifest::parse(text) {
        assert!(manifest.validate().is_ok());
        let again = SteeringManifest::parse(&manifest.to_json().to_string())
            .expect("our output reads back");
        assert_eq!(again, manifest);
    }
});
