//! Root-cause localisation on any table: text lines `t,dim1,dim2,numerator,denominator` (t = 0 for
//! the baseline, 1 for the window) — odd numbers (negative, NaN, huge) included — never panic,
//! and every cause's explanatory power is a share.
#![no_main]
use libfuzzer_sys::fuzz_target;
use openqoe_rca::{localise, Input, Row};

fuzz_target!(|text: &str| {
    let mut input = Input {
        dimensions: vec!["a".into(), "b".into()],
        baseline: Vec::new(),
        current: Vec::new(),
        min_support: 1.0,
    };
    for line in text.lines().take(500) {
        let cols: Vec<&str> = line.split(',').collect();
        if cols.len() != 5 {
            continue;
        }
        let (Ok(numerator), Ok(denominator)) = (cols[3].parse::<f64>(), cols[4].parse::<f64>())
        else {
            continue;
        };
        let row = Row {
            leaf: vec![cols[1].to_owned(), cols[2].to_owned()],
            numerator,
            denominator,
        };
        if cols[0] == "0" {
            input.baseline.push(row);
        } else {
            input.current.push(row);
        }
    }
    let result = localise(&input, "m");
    for cause in &result.causes {
        assert!(
            cause.explanatory_power.is_nan() || cause.explanatory_power <= 1.0 + 1e-9,
            "{cause:?}"
        );
    }
});
