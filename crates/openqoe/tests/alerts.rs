//! Alerts end to end: the simulator (an accelerated hour, through the real ingest) with startup
//! failures injected on one CDN; the server detects them, names the CDN as the root cause, and
//! posts the alert to real local receivers — a signed webhook, Slack, PagerDuty Events v2,
//! Alertmanager and an action webhook — then resolves it once the incident is over.
mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Uri};
use axum::routing::post;
use axum::Router;
use serde_json::Value;
use support::{binary, data_dir, get_json, TestServer};

/// Every request a receiver got: path, headers, body.
type Received = Arc<Mutex<Vec<(String, HeaderMap, Bytes)>>>;

async fn receiver() -> (String, Received) {
    let received: Received = Arc::default();
    let record = Arc::clone(&received);
    let app = Router::new().fallback(post(move |uri: Uri, headers: HeaderMap, body: Bytes| {
        let record = Arc::clone(&record);
        async move {
            record
                .lock()
                .unwrap()
                .push((uri.path().to_owned(), headers, body));
            axum::http::StatusCode::ACCEPTED
        }
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

fn raw(received: &Received, path: &str) -> Vec<(HeaderMap, Bytes)> {
    received
        .lock()
        .unwrap()
        .iter()
        .filter(|(p, _, _)| p == path)
        .map(|(_, h, b)| (h.clone(), b.clone()))
        .collect()
}

fn bodies(received: &Received, path: &str) -> Vec<(HeaderMap, Value)> {
    raw(received, path)
        .into_iter()
        .map(|(h, b)| (h, serde_json::from_slice(&b).unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn detects_localises_delivers_and_resolves() {
    let (hooks, received) = receiver().await;
    let dir = data_dir();
    let config = dir.path().join("openqoe.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[detect]
warmup_minutes = 15

[[detect.rules]]
name = "startup-failures"
metric = "startup_failure"
runbook_url = "https://runbooks.example/startup-failures"
action = "fail-over"

[alerts]
dashboard_url = "http://qoe.example"

[[alerts.destinations]]
name = "ops"
kind = "webhook"
url = "{hooks}/hook"
secret = "s3cret"

[[alerts.destinations]]
name = "chat"
kind = "slack"
url = "{hooks}/slack"

[[alerts.destinations]]
name = "pager"
kind = "pagerduty"
url = "{hooks}/pagerduty"
routing_key = "R0UT1NG"

[[alerts.destinations]]
name = "am"
kind = "alertmanager"
url = "{hooks}/am"

[[alerts.actions]]
name = "fail-over"
url = "{hooks}/action"
"#
        ),
    )
    .unwrap();
    let server = TestServer::start_with(
        &dir.path().join("data"),
        "127.0.0.1:0",
        &["--config", config.to_str().unwrap()],
    );
    // 45 simulated minutes in about 110 s; from minute 25 to 33 most cdn-b starts fail.
    let sim = tokio::process::Command::new(binary())
        .args([
            "sim",
            "--target",
            &server.url,
            "--viewers",
            "400",
            "--minutes",
            "45",
        ])
        .args(["--speed", "25", "--seed", "7"])
        .args(["--incident", "cdn=cdn-b,at=+25m,for=8m,startup_failure=0.8"])
        .env("OPENQOE_LOG", "warn")
        .output()
        .await
        .unwrap();
    assert!(
        sim.status.success(),
        "{}",
        String::from_utf8_lossy(&sim.stderr)
    );

    let client = server.client();
    let mut alerts: Value = Value::Null;
    // The incident ended 12 simulated minutes before the run did: resolution (5 calm minutes)
    // follows within seconds of the last minutes being judged.
    for _ in 0..60 {
        alerts = get_json(&client, &format!("{}/v1/alerts", server.url)).await;
        let resolved = alerts["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["status"] == "resolved");
        if resolved {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let list = alerts["alerts"].as_array().unwrap();
    assert_eq!(list.len(), 1, "one alert, no false ones: {alerts:#}");
    let alert = &list[0];
    assert_eq!(alert["status"], "resolved", "{alert:#}");
    assert_eq!(
        alert["key"],
        serde_json::json!({"cdn": "cdn-b"}),
        "{alert:#}"
    );
    assert_eq!(
        alert["causes"][0]["element"],
        serde_json::json!({"cdn": "cdn-b"})
    );
    let summary = alert["summary"].as_str().unwrap();
    assert!(summary.contains("of the excess is cdn=cdn-b"), "{summary}");
    let id = alert["id"].as_str().unwrap();
    let fired_after_s =
        (alert["fired_at"].as_i64().unwrap() - alert["started_at"].as_i64().unwrap()) / 1000;
    assert!(
        fired_after_s <= 180,
        "fired {fired_after_s} s after the first bad minute"
    );

    // The signed webhook: firing then resolved, each verifiable with the shared secret.
    let hooks_got = bodies(&received, "/hook");
    let statuses: Vec<&str> = hooks_got
        .iter()
        .map(|(_, b)| b["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.first(), Some(&"firing"), "{statuses:?}");
    assert_eq!(statuses.last(), Some(&"resolved"), "{statuses:?}");
    for ((headers, body), (_, bytes)) in hooks_got.iter().zip(raw(&received, "/hook")) {
        let timestamp: i64 = headers[openqoe_alert::TIMESTAMP_HEADER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let expected = openqoe_alert::signature("s3cret", timestamp, &bytes);
        assert_eq!(
            headers[openqoe_alert::SIGNATURE_HEADER].to_str().unwrap(),
            expected
        );
        assert_ne!(
            openqoe_alert::signature("wrong", timestamp, &bytes),
            expected
        );
        assert_eq!(body["alert_id"], id);
        assert_eq!(
            body["runbook_url"],
            "https://runbooks.example/startup-failures"
        );
    }
    // Slack, PagerDuty (trigger then resolve on one dedup key), Alertmanager, the action.
    let slack = bodies(&received, "/slack");
    assert!(
        slack[0].1["text"]
            .as_str()
            .unwrap()
            .contains("startup-failures"),
        "{:?}",
        slack[0].1
    );
    let pager = bodies(&received, "/pagerduty");
    assert_eq!(pager.first().unwrap().1["event_action"], "trigger");
    assert_eq!(pager.last().unwrap().1["event_action"], "resolve");
    assert!(pager
        .iter()
        .all(|(_, b)| b["dedup_key"] == id && b["routing_key"] == "R0UT1NG"));
    let am = bodies(&received, "/am/api/v2/alerts");
    assert!(!am.is_empty());
    assert_eq!(am[0].1[0]["labels"]["alertname"], "startup-failures");
    let actions = bodies(&received, "/action");
    let action_statuses: Vec<&str> = actions
        .iter()
        .map(|(_, b)| b["status"].as_str().unwrap())
        .collect();
    assert_eq!(action_statuses, ["firing", "resolved"]);
    assert!(actions.iter().all(|(_, b)| b["action"] == "fail-over"));
    // The API shows what was delivered, and one alert by id.
    let one = get_json(&client, &format!("{}/v1/alerts/{id}", server.url)).await;
    let delivered = one["deliveries"].as_array().unwrap();
    assert!(
        delivered
            .iter()
            .any(|d| d["destination"] == "pager" && d["outcome"] == "delivered"),
        "{one:#}"
    );
    assert!(
        delivered.iter().any(|d| d["purpose"] == "action"),
        "{one:#}"
    );
    assert_eq!(one["history"][0]["change"], "firing");
}
