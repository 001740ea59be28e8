//! `openqoe rca`: an operator's CSV (RFC 3339 times, any dimension columns) in, the ranked causes
//! of the last minute's excess out; a wrong column name is refused with the columns there are.
mod support;

use std::process::Command;

use serde_json::Value;
use support::{binary, data_dir};

fn csv() -> String {
    let mut text = String::from("time,cdn,country,app_version,attempts,failed\n");
    for minute in 0..6 {
        for cdn in ["cdn-a", "cdn-b"] {
            for country in ["DE", "FR", "US"] {
                for app in ["3.1.0", "3.2.0"] {
                    // The last minute: app 3.2.0 fails 25 % everywhere; 2 % is normal.
                    let failed = if minute == 5 && app == "3.2.0" { 25 } else { 2 };
                    text.push_str(&format!(
                        "2026-12-04T10:0{minute}:00Z,{cdn},{country},{app},100,{failed}\n"
                    ));
                }
            }
        }
    }
    text
}

fn rca(file: &std::path::Path, numerator: &str) -> std::process::Output {
    Command::new(binary())
        .env_remove("RUST_BACKTRACE")
        .args(["rca", "--csv"])
        .arg(file)
        .args([
            "--time-col",
            "time",
            "--numerator",
            numerator,
            "--denominator",
            "attempts",
        ])
        .output()
        .unwrap()
}

#[test]
fn names_the_cause_of_the_last_minutes_excess() {
    let dir = data_dir();
    let file = dir.path().join("failures.csv");
    std::fs::write(&file, csv()).unwrap();
    let out = rca(&file, "failed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    let top = &result["causes"][0];
    assert_eq!(
        top["element"],
        serde_json::json!({"app_version": "3.2.0"}),
        "{result}"
    );
    assert!(top["explanatory_power"].as_f64().unwrap() > 0.95);
    assert_eq!(top["rate_inside"], 0.25);
    assert!(result["summary"]
        .as_str()
        .unwrap()
        .contains("of the excess is app_version=3.2.0"));

    let wrong = rca(&file, "failures");
    assert!(!wrong.status.success());
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        stderr.contains("no column \"failures\"") && stderr.contains("app_version"),
        "{stderr}"
    );
}
