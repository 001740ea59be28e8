//! The crash test: the simulator drives load, the server is killed with SIGKILL mid-load and
//! restarted on the same address; every (view id, seq) the simulator saw acknowledged must be
//! queryable afterwards.
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use support::{binary, data_dir, free_port, TestServer};

#[tokio::test(flavor = "multi_thread")]
async fn every_acknowledged_event_survives_kill_9() {
    let dir = data_dir();
    let ledger = dir.path().join("ledger.txt");
    let listen = format!("127.0.0.1:{}", free_port());
    let server = TestServer::start(&dir.path().join("data"), &listen);
    let url = server.url.clone();

    let sim = Command::new(binary())
        .args([
            "sim",
            "--target",
            &url,
            "--key",
            "demo",
            "--viewers",
            "300",
            "--minutes",
            "20",
            "--speed",
            "60",
            "--json",
            "--ledger",
        ])
        .arg(&ledger)
        .env("OPENQOE_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("simulator starts");

    tokio::time::sleep(Duration::from_secs(6)).await;
    server.kill_9();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let server = TestServer::start(&dir.path().join("data"), &listen);

    let output = tokio::task::spawn_blocking(move || sim.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(output.status.success(), "simulator failed");
    let report: Value =
        serde_json::from_slice(&output.stdout).expect("simulator prints a JSON report");

    let text = std::fs::read_to_string(&ledger).expect("ledger written");
    let mut acked: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
    for line in text.lines() {
        let (view, seq) = line.split_once(' ').expect("ledger line is `view_id seq`");
        acked
            .entry(view.to_owned())
            .or_default()
            .insert(seq.parse().unwrap());
    }
    let acked_events: usize = acked.values().map(BTreeSet::len).sum();
    assert!(
        acked_events > 2_000,
        "the load was real: only {acked_events} events acked"
    );

    let client = server.client();
    let mut checked = 0;
    for (view, seqs) in &acked {
        let events: Value = client
            .get(format!("{}/v1/views/{view}/events", server.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap_or_else(|e| panic!("view {view} lost: {e}"));
        // A list, not a set: an event stored twice must show.
        let stored: Vec<u64> = events["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["seq"].as_u64().unwrap())
            .collect();
        let unique: BTreeSet<u64> = stored.iter().copied().collect();
        assert_eq!(
            unique.len(),
            stored.len(),
            "view {view}: a seq stored twice after kill -9: {stored:?}"
        );
        let lost: Vec<_> = seqs.difference(&unique).collect();
        assert!(
            lost.is_empty(),
            "view {view}: acknowledged seqs lost after kill -9: {lost:?}"
        );
        checked += seqs.len();
    }
    // With no load, a second kill -9 and restart must rebuild every view, active or ended,
    // exactly: same status, same events, same metrics.
    let all_views = "/v1/views?from=0&limit=10000";
    let before: Value = client
        .get(format!("{}{all_views}", server.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    server.kill_9();
    let server = TestServer::start(&dir.path().join("data"), &listen);
    let after: Value = client
        .get(format!("{}{all_views}", server.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let active = before["views"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["status"] == "active")
        .count();
    assert!(active > 0, "the run left active views to rebuild");
    let by_id = |list: &Value| -> BTreeMap<String, Value> {
        let views = list["views"].as_array().unwrap();
        views
            .iter()
            .map(|v| (v["id"].as_str().unwrap().to_owned(), v.clone()))
            .collect()
    };
    let (before_views, after_views) = (by_id(&before), by_id(&after));
    assert_eq!(
        before_views.len(),
        after_views.len(),
        "same number of views after replay"
    );
    for (id, view) in &before_views {
        assert_eq!(
            Some(view),
            after_views.get(id),
            "view {id} rebuilt exactly by replay"
        );
    }
    assert!(
        before == after,
        "the view list comes back in the same order"
    );
    println!(
        "crash test: {checked} acknowledged events in {} views checked after kill -9; {} views ({active} active) rebuilt identically by replay; simulator report {report}",
        acked.len(),
        before["views"].as_array().unwrap().len()
    );
}

/// The same promise at a flat-out load (`openqoe bench crash`: raw HTTP/1.1 keep-alive
/// connections, 100-event batches, every acknowledgement noted, SIGKILL mid-load, restart,
/// every acknowledged event looked up).
#[test]
fn a_flat_out_load_killed_loses_no_acknowledged_event() {
    let output = Command::new(binary())
        .args([
            "bench",
            "crash",
            "--seconds",
            "2",
            "--connections",
            "8",
            "--json",
        ])
        .env("OPENQOE_LOG", "warn")
        .output()
        .expect("bench crash runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "bench crash failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_str(stdout.trim()).expect("a JSON report");
    assert!(
        report["acked_events"].as_u64().unwrap() >= 1_000,
        "{report}"
    );
    assert_eq!(report["lost_events"], 0, "{report}");
}

/// `openqoe bench soak` in small: its phases run against a real server, the pace holds, and the
/// verdict's window is judged from samples with the server's memory and views.
#[test]
fn a_short_soak_reports_its_samples_and_a_verdict() {
    let output = Command::new(binary())
        .args([
            "bench",
            "soak",
            "--minutes",
            "0.3",
            "--sample-seconds",
            "4",
            "--steady-after-seconds",
            "5",
            "--capacity-seconds",
            "2",
            "--calibration-views",
            "200",
            "--connections",
            "4",
            "--views-per-connection",
            "5",
            "--view-batches",
            "10",
            "--json",
        ])
        .env("OPENQOE_LOG", "warn")
        .output()
        .expect("bench soak runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "bench soak failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_str(stdout.trim()).expect("a JSON report");
    let paced = report["paced_batches_per_second"].as_f64().unwrap();
    let achieved = report["achieved_batches_per_second"].as_f64().unwrap();
    assert!(
        paced > 0.0 && (achieved - paced).abs() <= 0.2 * paced,
        "paced at half the capacity and held: {report}"
    );
    let samples = report["samples"].as_array().unwrap();
    assert_eq!(samples.len(), 5, "one sample every 4 s of 18: {report}");
    assert!(
        samples
            .iter()
            .all(|s| s["rss_bytes"].as_u64().unwrap() > 0 && s["live_views"].as_f64() >= Some(20.0)),
        "every sample has the server's RSS and its live views: {report}"
    );
    let verdict = &report["verdict"];
    assert!(
        verdict["ended_views_gained"].as_f64().unwrap() > 0.0,
        "views ended in the steady window: {report}"
    );
}
