//! `POST /v1/sql`: with the `sql` feature, read-only SQL over the views and events a real server
//! holds; without it, a clear 501 that says how to get it.
mod support;

use serde_json::{json, Value};
use support::{data_dir, TestServer};

async fn sql(client: &reqwest::Client, url: &str, body: Value) -> (u16, Value) {
    let response = client
        .post(format!("{url}/v1/sql"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[cfg(feature = "sql")]
#[tokio::test]
async fn answers_read_only_sql_over_views_and_events() {
    const T0: i64 = 1_764_028_800_000;
    let dir = data_dir();
    let server = TestServer::start(dir.path(), "127.0.0.1:0");
    let client = server.client();
    for (i, cdn) in ["cdn-a", "cdn-b", "cdn-a"].iter().enumerate() {
        let startup = 1_000 + i as i64 * 1_000;
        let event =
            |seq: u64, ms: i64, kind: &str| json!({"seq": seq, "ts": T0 + ms, "type": kind});
        let batch = json!({
            "v": 1, "key": "demo", "sent_at": T0 + 60_000,
            "view": {"id": format!("sql-{i}"), "props": {"cdn": cdn}},
            "events": [event(0, 0, "play_requested"), event(1, startup, "first_frame"),
                       event(2, 30_000, "view_end")],
        });
        let response = client
            .post(format!("{}/v1/events", server.url))
            .json(&batch)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
    }

    let (status, answer) = sql(
        &client,
        &server.url,
        json!({"sql": "select cdn, count(*) as views, avg(video_startup_time_ms) as startup \
                       from views group by cdn order by cdn"}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["columns"], json!(["cdn", "views", "startup"]));
    assert_eq!(
        answer["rows"],
        json!([{"cdn": "cdn-a", "views": 2, "startup": 2000.0},
               {"cdn": "cdn-b", "views": 1, "startup": 2000.0}])
    );

    // A view still playing: its events are in `events` already, the view not yet in `views`.
    let live = json!({
        "v": 1, "key": "demo", "sent_at": T0 + 60_000,
        "view": {"id": "sql-live", "props": {"cdn": "cdn-c"}},
        "events": [{"seq": 0, "ts": T0, "type": "play_requested"}],
    });
    let response = client
        .post(format!("{}/v1/events", server.url))
        .json(&live)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let (status, answer) = sql(
        &client,
        &server.url,
        json!({"sql": "select type, count(*) as n from events group by type order by type"}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["rows"][0], json!({"type": "first_frame", "n": 3}));
    assert_eq!(answer["rows"][1], json!({"type": "play_requested", "n": 4}));

    let (status, answer) = sql(
        &client,
        &server.url,
        json!({"sql": "select view_id from views", "limit": 2}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(answer["rows"].as_array().unwrap().len(), 2);
    assert_eq!(answer["truncated"], json!(true));

    for (body, reason) in [
        (json!({"sql": "drop table views"}), "DDL"),
        (json!({"sql": "select nope from views"}), "nope"),
        (json!({"sql": "select 1", "limit": 0}), "limit"),
        (json!({"query": "select 1"}), "sql"),
    ] {
        let (status, answer) = sql(&client, &server.url, body.clone()).await;
        assert_eq!(status, 400, "{body}");
        let message = answer["error"].as_str().unwrap();
        assert!(message.contains(reason), "{body}: {message}");
    }
}

/// `[sql] max_table_mib`: a range whose views and events take more than the tables may hold
/// is refused with a reason naming the setting; a narrower one is answered.
#[cfg(feature = "sql")]
#[tokio::test]
async fn a_range_too_large_for_the_tables_budget_is_refused_and_a_narrower_one_answered() {
    let (_dir, server) = support::server_with("[sql]\nmax_table_mib = 1\n");
    let client = server.client();
    let now = support::now_ms();
    // 40 views of 500 events (20,000 rows in `events`, a few MiB as Arrow) three hours ago, and
    // one view of 3 events ten minutes ago. No `sent_at`: the device's times are taken as they are.
    for view in 0..41 {
        let (start, events) = if view < 40 {
            (now - 3 * 3_600_000, 500)
        } else {
            (now - 600_000, 3)
        };
        let events: Vec<Value> = (0..events)
            .map(|seq| {
                json!({"seq": seq, "ts": start + seq as i64 * 1_000, "type": "heartbeat",
                              "playhead_ms": seq * 1_000, "note": "x".repeat(40)})
            })
            .collect();
        let batch =
            json!({"v": 1, "key": "demo", "view": {"id": format!("big-{view}")}, "events": events});
        let response = client
            .post(format!("{}/v1/events", server.url))
            .json(&batch)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
    }
    let body = |from: i64| json!({"sql": "select count(*) as n from events", "from": from.to_string(), "to": (now + 3_600_000).to_string()});
    let (status, answer) = sql(&client, &server.url, body(now - 4 * 3_600_000)).await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("max_table_mib"),
        "{answer}"
    );
    let (status, answer) = sql(&client, &server.url, body(now - 3_600_000)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["rows"][0]["n"], json!(3));
}

#[cfg(not(feature = "sql"))]
#[tokio::test]
async fn says_how_to_get_sql_when_built_without_it() {
    let dir = data_dir();
    let server = TestServer::start(dir.path(), "127.0.0.1:0");
    let (status, answer) = sql(&server.client(), &server.url, json!({"sql": "select 1"})).await;
    assert_eq!(status, 501);
    assert!(answer["error"].as_str().unwrap().contains("--features sql"));
}
