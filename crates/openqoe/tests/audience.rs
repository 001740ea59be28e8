//! `GET /v1/audience`: views, unique viewers and the viewers watching now, per group, over the
//! real server — a playing viewer counts as watching, a paused one and an ended view do not.
mod support;

use serde_json::{json, Value};
use support::{data_dir, now_ms, post_batch, TestServer};

#[tokio::test]
async fn counts_views_unique_viewers_and_who_is_watching_now() {
    let dir = data_dir();
    let server = TestServer::start(&dir.path().join("data"), "127.0.0.1:0");
    let client = server.client();
    let t = now_ms() - 30_000;
    // (view, viewer, cdn, events after play_requested + first_frame)
    let views: [(&str, &str, &str, &[&str]); 4] = [
        ("playing", "ann", "cdn-a", &[]),
        ("paused", "bob", "cdn-a", &["pause"]),
        ("ended", "ann", "cdn-b", &["view_end"]),
        ("stalled", "cy", "cdn-b", &["stall_start"]),
    ];
    for (id, viewer, cdn, tail) in views {
        let mut events = vec![
            json!({"seq": 0, "ts": t, "type": "play_requested"}),
            json!({"seq": 1, "ts": t + 500, "type": "first_frame"}),
        ];
        for (i, kind) in tail.iter().enumerate() {
            events.push(json!({"seq": 2 + i, "ts": t + 10_000, "type": kind}));
        }
        let body = json!({"v": 1, "key": "demo", "sent_at": now_ms(),
                          "view": {"id": id, "viewer_id": viewer, "props": {"cdn": cdn}}, "events": events});
        assert_eq!(post_batch(&client, &server.url, &body).await, 202);
    }
    let get = |path: String| {
        let client = client.clone();
        async move {
            client
                .get(path)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let all = get(format!("{}/v1/audience", server.url)).await;
    assert_eq!(all["rows"][0]["views"], 4);
    assert_eq!(all["rows"][0]["unique_viewers"], 3, "ann watched twice");
    assert_eq!(
        all["rows"][0]["watching_now"], 2,
        "playing and stalled; not paused, not ended"
    );

    let by_cdn = get(format!("{}/v1/audience?group_by=cdn", server.url)).await;
    let row = |cdn: &str| {
        by_cdn["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["group"]["cdn"] == cdn)
            .cloned()
            .unwrap()
    };
    assert_eq!(
        (
            row("cdn-a")["views"].clone(),
            row("cdn-a")["watching_now"].clone()
        ),
        (json!(2), json!(1))
    );
    assert_eq!(
        (
            row("cdn-b")["unique_viewers"].clone(),
            row("cdn-b")["watching_now"].clone()
        ),
        (json!(2), json!(1))
    );
}
