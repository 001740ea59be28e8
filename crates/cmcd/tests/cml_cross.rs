//! Cross-implementation check: 10,000 random payloads encoded by `@svta/cml-cmcd` (the library
//! hls.js, dash.js and Shaka use) in every transmission form; openqoe's decoder must agree with
//! CML's own decoding on every key and value. `./scripts/test` installs the npm package.
use std::path::Path;
use std::process::Command;

use openqoe_cmcd::{
    decode_event_body, decode_headers, decode_payload, decode_query, CmcdError, CmcdPayload,
};
use serde_json::{json, Value};

const CASES: usize = 10_000;

/// Numbers compared by value: `pr=2` is an SF integer that openqoe reads as the decimal 2.0.
fn by_value(value: Value) -> Value {
    match value {
        Value::Number(n) => json!(n.as_f64()),
        Value::Array(items) => Value::Array(items.into_iter().map(by_value).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, by_value(v))).collect())
        }
        other => other,
    }
}

fn keys_json(decoded: Result<CmcdPayload, CmcdError>) -> Result<Value, String> {
    match decoded {
        Ok(payload) if payload.ignored.is_empty() => {
            Ok(by_value(serde_json::to_value(&payload.keys).unwrap()))
        }
        Ok(payload) => Err(format!("ignored {:?}", payload.ignored)),
        // CML encodes an empty object to an empty payload and decodes it back to {}.
        Err(CmcdError::Empty) => Ok(json!({})),
        Err(e) => Err(e.to_string()),
    }
}

#[test]
fn agrees_with_cml_on_ten_thousand_random_payloads() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let script = repo.join("tests/cmcd/cml-cases.mjs");
    assert!(
        repo.join("tests/cmcd/node_modules/@svta/cml-cmcd").exists(),
        "run `npm ci` in tests/cmcd first (./scripts/test does): the check needs @svta/cml-cmcd"
    );
    let output = Command::new("node")
        .arg(&script)
        .arg(CASES.to_string())
        .arg("42")
        .output()
        .expect("node runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut agreed = 0;
    let mut by_form = std::collections::BTreeMap::<String, usize>::new();
    for line in String::from_utf8(output.stdout).unwrap().lines() {
        let case: Value = serde_json::from_str(line).unwrap();
        let form = case["form"].as_str().unwrap();
        let decoded: Vec<Result<Value, String>> = match form {
            "payload" => vec![keys_json(decode_payload(case["input"].as_str().unwrap()))],
            "query" => vec![keys_json(
                decode_query(case["input"].as_str().unwrap()).expect("CMCD= argument"),
            )],
            "headers" => {
                let headers: Vec<(&str, &str)> = case["input"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str().unwrap()))
                    .collect();
                vec![decode_headers(headers).map_or(Ok(json!({})), keys_json)]
            }
            "event" => decode_event_body(case["input"].as_str().unwrap())
                .into_iter()
                .map(keys_json)
                .collect(),
            other => panic!("unknown form {other}"),
        };
        let expected: Vec<Result<Value, String>> = case["expected"]
            .as_array()
            .unwrap()
            .iter()
            .cloned()
            .map(|v| Ok(by_value(v)))
            .collect();
        assert_eq!(
            decoded, expected,
            "{form} v{}: {}",
            case["version"], case["input"]
        );
        agreed += expected.len();
        *by_form.entry(form.to_owned()).or_default() += 1;
    }
    assert!(agreed >= CASES, "{agreed} payloads");
    println!("cml cross-check: {agreed} payloads from @svta/cml-cmcd agree on every key and value ({by_form:?})");
}
