//! `openqoe eval alerts` on a short simulated run: the harness itself works, and on a quarter
//! day with two incidents the detector finds the one that touches more than 2 % of views within
//! three minutes, names its exact dimensions, and raises no false alert. (The second touches
//! 0.4 % of views, three dimensions deep. The week's figures come from the full run:
//! docs/alerts.md.)
mod support;

use serde_json::Value;

#[test]
fn a_short_simulated_run_detects_and_localises_its_incidents() {
    let out = support::run_with_stdin(
        &[
            "eval",
            "alerts",
            "--days",
            "0.25",
            "--viewers",
            "1500",
            "--incidents",
            "2",
            "--seed",
            "2",
        ],
        "",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    println!(
        "eval alerts (quarter day): detected {} · false alerts {} · rca exact {} (at firing {}) · time to detect max {} s",
        report["detected_at_all"],
        report["false_alerts"],
        report["rca_exact_top1"],
        report["rca_exact_top1_at_firing"],
        report["time_to_detect_s_max"]
    );
    assert_eq!(report["incidents"], 2, "{report:#}");
    assert_eq!(report["incidents_at_least_2pct"], 1, "{report:#}");
    assert_eq!(
        report["detected_within_3_min_at_least_2pct"], 1.0,
        "{report:#}"
    );
    assert_eq!(report["false_alerts"], 0, "{report:#}");
    assert_eq!(report["rca_exact_top1"], 1.0, "{report:#}");
    for outcome in report["outcomes"].as_array().unwrap() {
        assert!(outcome["view_share"].as_f64().unwrap() > 0.0, "{outcome}");
    }
}
