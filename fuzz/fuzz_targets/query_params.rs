//! Query parameters: times, intervals, filters and limits parse or give a named error.
#![no_main]
use libfuzzer_sys::fuzz_target;
use openqoe_model::ServerTime;
use openqoe_query::Selection;

fuzz_target!(|text: &str| {
    let pairs: Vec<(String, String)> = text
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    if let Ok(selection) = Selection::from_query(&pairs, ServerTime(1_764_028_800_000)) {
        assert!(selection.from < selection.to);
        assert!(selection.interval_ms >= 1_000);
    }
    let _ = openqoe_query::parse_time(text);
    let _ = openqoe_query::parse_interval_ms(text);
});
