//! `GET /v1/metrics/{metric}/rca`: the last ten minutes against the forty before, over the real
//! server — failures concentrated on one CDN in one country are named as the cause.
mod support;

use serde_json::{json, Value};
use support::{data_dir, now_ms, post_batch, TestServer};

#[tokio::test]
async fn names_the_cohort_behind_a_failure_excess() {
    let dir = data_dir();
    let server = TestServer::start(&dir.path().join("data"), "127.0.0.1:0");
    let client = server.client();
    let now = now_ms();
    let mut n = 0;
    // (minutes ago, whether cdn-b in DE fails) — the baseline half an hour ago, the incident now.
    for (ago, incident) in [(30, false), (5, true)] {
        for i in 0..150 {
            n += 1;
            let (cdn, country) = (["cdn-a", "cdn-b"][i % 2], ["DE", "FR", "US"][i / 2 % 3]);
            // Normally one view in fifty fails; during the incident every cdn-b view in DE does.
            let fails = if incident && cdn == "cdn-b" && country == "DE" {
                true
            } else {
                i % 50 == 7
            };
            let t = now - ago * 60_000 + i as i64 * 100;
            let outcome = if fails {
                json!({"seq": 1, "ts": t + 500, "type": "error", "code": "E1", "fatal": true})
            } else {
                json!({"seq": 1, "ts": t + 500, "type": "first_frame"})
            };
            let body = json!({"v": 1, "key": "demo", "sent_at": now_ms(),
                "view": {"id": format!("v{n}"), "viewer_id": format!("u{n}"), "props": {"cdn": cdn, "country": country, "device_type": "tv"}},
                "events": [{"seq": 0, "ts": t, "type": "play_requested"}, outcome,
                           {"seq": 2, "ts": t + 1000, "type": "view_end"}]});
            assert_eq!(post_batch(&client, &server.url, &body).await, 202);
        }
    }
    let url = format!(
        "{}/v1/metrics/playback_failure/rca?from={}",
        server.url,
        now - 10 * 60_000
    );
    let result: Value = client.get(url).send().await.unwrap().json().await.unwrap();
    assert_eq!(result["window"]["views"], 150);
    assert_eq!(result["baseline"]["views"], 150);
    assert_eq!(
        result["causes"][0]["element"],
        json!({"cdn": "cdn-b", "country": "DE"}),
        "{result}"
    );
    assert!(
        result["summary"]
            .as_str()
            .unwrap()
            .contains("of the excess is cdn=cdn-b & country=DE"),
        "{result}"
    );

    let refused = client
        .get(format!(
            "{}/v1/metrics/video_startup_time_ms/rca",
            server.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400, "startup time is not a ratio");
}
