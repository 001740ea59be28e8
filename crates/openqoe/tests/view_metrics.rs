//! Scripted views posted over HTTP — split across batches, out of order, with duplicate batches —
//! must come back from the query API with every per-view metric exactly as defined.
mod support;

use serde_json::{json, Value};
use support::{data_dir, TestServer};

const T0: i64 = 1_764_028_800_000;

fn event(seq: u64, ms: i64, kind: &str) -> Value {
    json!({"seq": seq, "ts": T0 + ms, "type": kind})
}

fn with(mut event: Value, fields: Value) -> Value {
    event
        .as_object_mut()
        .unwrap()
        .extend(fields.as_object().unwrap().clone());
    event
}

fn batch(view: &str, events: &[Value]) -> Value {
    json!({
        "v": 1, "key": "demo", "sent_at": T0 + 70_000,
        "view": {"id": view, "viewer_id": "viewer-1",
                 "props": {"custom_1": "it", "cdn": "cdn-a", "player_width": 1280, "player_height": 720}},
        "events": events,
    })
}

async fn post(client: &reqwest::Client, url: &str, body: &Value) -> (u16, Value) {
    let response = client
        .post(format!("{url}/v1/events"))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn get(client: &reqwest::Client, url: &str, path: &str) -> Value {
    let response = client.get(format!("{url}{path}")).send().await.unwrap();
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().await.unwrap()
}

fn assert_close(got: &Value, want: f64, name: &str) {
    let got = got
        .as_f64()
        .unwrap_or_else(|| panic!("{name}: expected a number, got {got}"));
    assert!((got - want).abs() < 1e-9, "{name}: got {got}, want {want}");
}

/// The everything view: startup, a rebuffer, a rendition switch, a seek with a seek-induced stall,
/// a pause, a non-fatal error, a second rebuffer and view_end.
fn everything_view() -> Vec<Value> {
    vec![
        with(event(0, 0, "player_init"), json!({"page_load_ms": 800})),
        event(1, 300, "player_ready"),
        event(2, 1000, "play_requested"),
        with(
            event(3, 1100, "rendition_change"),
            json!({"bitrate_bps": 1_000_000, "width": 640, "height": 360}),
        ),
        event(4, 2200, "first_frame"),
        event(5, 12_200, "stall_start"),
        event(6, 13_200, "stall_end"),
        with(
            event(7, 20_200, "rendition_change"),
            json!({"bitrate_bps": 3_000_000, "width": 1280, "height": 720}),
        ),
        event(8, 30_200, "seek_start"),
        event(9, 30_400, "stall_start"),
        event(10, 30_900, "seek_end"),
        event(11, 31_200, "stall_end"),
        event(12, 40_200, "pause"),
        event(13, 45_200, "play"),
        with(
            event(14, 50_200, "error"),
            json!({"code": "3", "fatal": false}),
        ),
        event(15, 55_200, "stall_start"),
        event(16, 55_700, "stall_end"),
        event(17, 60_200, "view_end"),
    ]
}

#[tokio::test]
async fn every_metric_of_a_scripted_view_is_exact() {
    let dir = data_dir();
    let server = TestServer::start(dir.path(), "127.0.0.1:0");
    let client = server.client();
    let events = everything_view();
    let (first, middle, last) = (&events[0..5], &events[5..12], &events[12..18]);

    // First frame batch, then the last batch before the middle one (out of order), then repeats.
    let answers = [
        (first, 5, 0),
        (last, 6, 0),
        (middle, 7, 0),
        (middle, 0, 7),
        (first, 0, 5),
    ];
    for (events, accepted, duplicates) in answers {
        let (status, body) = post(&client, &server.url, &batch("it-everything", events)).await;
        assert_eq!(status, 202, "{body}");
        assert_eq!(
            body,
            json!({"accepted": accepted, "duplicates": duplicates})
        );
    }

    let view = get(&client, &server.url, "/v1/views/it-everything").await;
    assert_eq!(view["status"], "ended");
    assert_eq!(view["end_reason"], "view_end");
    assert_eq!(view["event_count"], 18);
    let m = &view["metrics"];
    let exact = [
        ("video_startup_time_ms", json!(1200)),
        ("player_startup_time_ms", json!(300)),
        ("page_load_time_ms", json!(800)),
        ("aggregate_startup_time_ms", json!(2300)),
        ("startup_failure", json!(false)),
        ("exit_before_video_start", json!(false)),
        ("playback_failure", json!(false)),
        ("rebuffer_count", json!(2)),
        ("rebuffer_duration_ms", json!(1500)),
        ("watch_time_ms", json!(54_200)),
        ("playing_time_ms", json!(50_500)),
        ("seek_count", json!(1)),
    ];
    for (name, want) in exact {
        assert_eq!(m[name], want, "{name}");
    }
    let close = [
        ("rebuffer_percentage", 1500.0 / 52_000.0 * 100.0),
        ("rebuffer_frequency_per_min", 2.0 / (54_200.0 / 60_000.0)),
        (
            "avg_bitrate_bps",
            (1e6 * 17_000.0 + 3e6 * 33_500.0) / 50_500.0,
        ),
        ("upscale_percentage", 100.0 * 17_000.0 / 50_500.0),
        ("max_upscale_percentage", 100.0),
        ("downscale_percentage", 0.0),
        ("max_downscale_percentage", 0.0),
        ("seek_latency_ms", 700.0),
    ];
    for (name, want) in close {
        assert_close(&m[name], want, name);
    }

    let stored = get(&client, &server.url, "/v1/views/it-everything/events").await;
    let seqs: Vec<u64> = stored["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(
        seqs,
        (0..18).collect::<Vec<_>>(),
        "events come back in seq order"
    );
    // Skew correction: sent_at is 70 s after T0 on the device clock; the server moved the events.
    assert_ne!(stored["events"][0]["at"], json!(T0));
}

#[tokio::test]
async fn rates_and_percentiles_over_views() {
    let dir = data_dir();
    let server = TestServer::start(dir.path(), "127.0.0.1:0");
    let client = server.client();
    let views: [(&str, Vec<Value>); 4] = [
        ("rate-everything", everything_view()),
        (
            "rate-fatal-after-start",
            vec![
                event(0, 0, "play_requested"),
                event(1, 500, "first_frame"),
                with(event(2, 5000, "error"), json!({"code": 2, "fatal": true})),
                event(3, 5100, "view_end"),
            ],
        ),
        (
            "rate-ebvs",
            vec![event(0, 0, "play_requested"), event(1, 8000, "view_end")],
        ),
        (
            "rate-startup-failure",
            vec![
                event(0, 0, "play_requested"),
                with(
                    event(1, 3000, "error"),
                    json!({"code": "manifest", "fatal": true}),
                ),
                event(2, 3100, "view_end"),
            ],
        ),
    ];
    for (id, events) in &views {
        let (status, body) = post(&client, &server.url, &batch(id, events)).await;
        assert_eq!(status, 202, "{id}: {body}");
    }
    let filter = "filter=custom_1:it&from=0";
    let rate = |name: &'static str| {
        let client = client.clone();
        let url = server.url.clone();
        async move {
            get(
                &client,
                &url,
                &format!("/v1/metrics/{name}/breakdown?{filter}"),
            )
            .await["rows"][0]
                .clone()
        }
    };
    let failure = rate("playback_failure").await;
    assert_eq!(
        (failure["numerator"].clone(), failure["denominator"].clone()),
        (json!(2), json!(4))
    );
    assert_close(&failure["value"], 50.0, "playback_failure");
    let startup_failure = rate("startup_failure").await;
    assert_eq!(
        (
            startup_failure["numerator"].clone(),
            startup_failure["denominator"].clone()
        ),
        (json!(1), json!(4))
    );
    let ebvs = rate("exit_before_video_start").await;
    assert_eq!(
        (ebvs["numerator"].clone(), ebvs["denominator"].clone()),
        (json!(1), json!(4))
    );

    let startup = rate("video_startup_time_ms").await;
    assert_eq!(startup["views"], 2);
    assert_close(
        &startup["p50"],
        500.0,
        "p50 is the lower of two (nearest rank)",
    );
    assert_close(&startup["p95"], 1200.0, "p95");
    assert_close(&startup["mean"], 850.0, "mean");

    let by_cdn = get(
        &client,
        &server.url,
        &format!("/v1/metrics/rebuffer_count/breakdown?{filter}&group_by=cdn"),
    )
    .await;
    assert_eq!(by_cdn["rows"][0]["group"], json!({"cdn": "cdn-a"}));
    assert_close(
        &by_cdn["rows"][0]["sum"],
        2.0,
        "rebuffers summed over views",
    );

    // The default range (the last 24 hours) holds them: skew correction placed them at receive time.
    let series = get(
        &client,
        &server.url,
        "/v1/metrics/playback_failure/timeseries?filter=custom_1:it&interval=1h",
    )
    .await;
    let points = series["points"].as_array().unwrap();
    let total: u64 = points
        .iter()
        .map(|p| p["denominator"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 4, "every view lands in one bucket");

    let list = get(&client, &server.url, &format!("/v1/views?{filter}&limit=3")).await;
    assert_eq!(list["views"].as_array().unwrap().len(), 3);
}
