//! Bounds on what a public write key can make the server hold, on the real binary: one client
//! address's flood gets 429 with Retry-After while others go on; props past their bounds get
//! 400 naming the prop; a batch dated days ahead is moved back, so its view can end; past the
//! cap on live views a new view waits (429) while live ones go on, and past its environment's
//! cap a new view of that environment waits while the others start theirs.
mod support;

use serde_json::{json, Value};
use support::{get_json, metrics_text, now_ms, server_with};

const CONFIG: &str = r#"
[collect]
client_address_header = "x-forwarded-for"
rate_per_client = { per_second = 2, burst = 5 }
environments = [{ name = "production", key = "demo" }, { name = "staging", key = "staging-key" }]
[sessionize]
max_live_views = 10
max_live_views_by_environment = { staging = 1 }
"#;

fn batch(view: &str, ts: i64, sent_at: Option<i64>) -> Value {
    json!({"v": 1, "key": "demo", "sent_at": sent_at, "view": {"id": view, "props": {"title": "t"}},
        "events": [{"seq": 0, "ts": ts, "type": "play_requested"}, {"seq": 1, "ts": ts + 900, "type": "first_frame"}]})
}

async fn post_from(
    client: &reqwest::Client,
    url: &str,
    address: &str,
    body: &Value,
) -> reqwest::Response {
    client
        .post(format!("{url}/v1/events"))
        .header("x-forwarded-for", format!("10.9.8.7, {address}"))
        .json(body)
        .send()
        .await
        .expect("the server answers")
}

#[tokio::test]
async fn floods_oversized_props_and_future_clocks_are_bounded() {
    let (_dir, server) = server_with(CONFIG);
    let (url, client) = (&server.url, server.client());

    // Staging may hold one live view: a second waits, naming its environment's cap.
    let mut staging = batch("staging-1", now_ms(), Some(now_ms()));
    staging["key"] = json!("staging-key");
    let ok = post_from(&client, url, "192.0.2.100", &staging).await;
    assert_eq!(ok.status(), 202);
    staging["view"]["id"] = json!("staging-2");
    let waits = post_from(&client, url, "192.0.2.101", &staging).await;
    assert_eq!(waits.status(), 429);
    let reason: Value = waits.json().await.unwrap();
    assert!(
        reason["error"].as_str().unwrap().contains("\"staging\""),
        "{reason}"
    );

    // One address: its burst of 5, then 429 with Retry-After; another address is untouched.
    for i in 0..5 {
        let ok = post_from(
            &client,
            url,
            "198.51.100.7",
            &batch(&format!("flood-{i}"), now_ms(), Some(now_ms())),
        )
        .await;
        assert_eq!(ok.status(), 202, "request {i} of the burst");
    }
    let limited = post_from(
        &client,
        url,
        "198.51.100.7",
        &batch("flood-x", now_ms(), Some(now_ms())),
    )
    .await;
    assert_eq!(limited.status(), 429);
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "Retry-After {retry_after}");
    let reason: Value = limited.json().await.unwrap();
    assert!(
        reason["error"].as_str().unwrap().contains("client address"),
        "{reason}"
    );
    let other = post_from(
        &client,
        url,
        "203.0.113.5",
        &batch("neighbour", now_ms(), Some(now_ms())),
    )
    .await;
    assert_eq!(other.status(), 202, "another address has its own bucket");

    // A prop value past 1,024 bytes: refused, naming it; nothing of the batch is kept.
    let mut oversized = batch("oversized", now_ms(), Some(now_ms()));
    oversized["view"]["props"]["title"] = json!("x".repeat(1_025));
    let refused = post_from(&client, url, "203.0.113.6", &oversized).await;
    assert_eq!(refused.status(), 400);
    let reason: Value = refused.json().await.unwrap();
    assert_eq!(reason["at"], "view.props.title", "{reason}");
    assert_eq!(
        client
            .get(format!("{url}/v1/views/oversized"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    // A device clock two days ahead and no sent_at: the batch moves back whole.
    let ahead = now_ms() + 2 * 86_400_000;
    let moved = post_from(&client, url, "203.0.113.8", &batch("ahead", ahead, None)).await;
    assert_eq!(moved.status(), 202);
    let events: Value = get_json(&client, &format!("{url}/v1/views/ahead/events")).await;
    let at: Vec<i64> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["at"].as_i64().unwrap())
        .collect();
    assert!(
        at[1] <= now_ms() + 60_000,
        "the latest event is at most a minute ahead: {at:?}"
    );
    assert_eq!(at[1] - at[0], 900, "the gap between its events stays");

    // Eight views are live (staging's, five of the flood, the neighbour, the one ahead): two more
    // production views may start,
    // then a new view waits while the live ones still take their batches.
    for (i, view) in ["eighth", "ninth"].iter().enumerate() {
        let from = format!("192.0.2.{i}");
        let ok = post_from(&client, url, &from, &batch(view, now_ms(), Some(now_ms()))).await;
        assert_eq!(ok.status(), 202, "{view}");
    }
    let tenth = batch("tenth", now_ms(), Some(now_ms()));
    let full = post_from(&client, url, "192.0.2.10", &tenth).await;
    assert_eq!(full.status(), 429);
    assert_eq!(full.headers()["retry-after"], "30");
    let mut more = batch("neighbour", now_ms(), Some(now_ms()));
    more["events"] = json!([{"seq": 2, "ts": now_ms(), "type": "pause"}]);
    let going_on = post_from(&client, url, "192.0.2.11", &more).await;
    assert_eq!(going_on.status(), 202, "a live view goes on");

    let metrics = metrics_text(&client, url).await;
    for line in [
        "openqoe_ingest_rejects_total{reason=\"rate_limited_client\"} 1",
        "openqoe_ingest_rejects_total{reason=\"malformed\"} 1",
        "openqoe_ingest_batches_moved_back_total 1",
        "openqoe_ingest_rejects_total{reason=\"live_views_full\"} 2",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
}
