//! CMCD v2 event mode with no SDK: records POSTed to `/v1/cmcd` become a view with the same
//! metrics an SDK's beacons would give.
mod support;

use serde_json::Value;
use support::{data_dir, now_ms, TestServer};

/// A day before the test began (inside the store's retention), on a whole second, fixed for the
/// run; CMCD `ts` is the client's clock.
fn t0() -> i64 {
    static T0: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *T0.get_or_init(|| (now_ms() - 86_400_000) / 1_000 * 1_000)
}

fn record(sn: i64, ms: i64, keys: &str) -> String {
    format!(
        "{keys},cid=\"movie-42\",sid=\"6e2f-session\",sn={sn},st=v,sf=h,ts={},v=2",
        t0() + ms
    )
}

async fn post(client: &reqwest::Client, url: &str, content_type: &str, body: String) -> u16 {
    client
        .post(url)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn an_event_mode_session_becomes_a_measured_view() {
    let dir = data_dir();
    let server = TestServer::start(dir.path(), "127.0.0.1:0");
    let client = server.client();
    let url = format!("{}/v1/cmcd?key=demo", server.url);
    let first = [
        record(0, 0, "e=ps,sta=s"),
        record(1, 50, "br=(3000;v 128;a),e=bc"),
        record(2, 1200, "e=ps,sta=p"),
        record(3, 10_000, "e=ps,sta=r"),
    ]
    .join("\n");
    let second = [
        record(4, 11_500, "e=ps,sta=p"),
        record(5, 20_000, "bl=(12000),e=t,mtp=(8000),pt=18800"),
        record(6, 30_000, "e=ps,sta=q"),
    ]
    .join("\n")
        + "\n";
    // The later body first, then the earlier one, then the later one again.
    assert_eq!(
        post(&client, &url, "application/cmcd", second.clone()).await,
        204
    );
    assert_eq!(post(&client, &url, "text/cmcd", first).await, 204);
    assert_eq!(post(&client, &url, "application/cmcd", second).await, 204);

    let id = openqoe_cmcd::view_id("6e2f-session", "movie-42");
    let view: Value = client
        .get(format!("{}/v1/views/{id}", server.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["status"], "ended");
    assert_eq!(view["props"]["source"], "cmcd");
    assert_eq!(view["props"]["content_id"], "movie-42");
    assert_eq!(view["props"]["stream_type"], "vod");
    assert_eq!(view["session_id"], "6e2f-session");
    let m = &view["metrics"];
    assert_eq!(m["video_startup_time_ms"], 1200);
    assert_eq!(
        (
            m["rebuffer_count"].clone(),
            m["rebuffer_duration_ms"].clone()
        ),
        (1.into(), 1500.into())
    );
    assert_eq!(m["playing_time_ms"], 8800 + 18_500);
    assert_eq!(m["watch_time_ms"], 30_000);
    assert_eq!(m["avg_bitrate_bps"], 3_000_000.0);
    assert_eq!(m["exit_before_video_start"], false);
}

#[tokio::test]
async fn refuses_bad_cmcd_bodies_with_a_reason() {
    let dir = data_dir();
    let server = TestServer::start(dir.path(), "127.0.0.1:0");
    let client = server.client();
    let url = format!("{}/v1/cmcd?key=demo", server.url);
    let garbage = client
        .post(&url)
        .header("content-type", "application/cmcd")
        .body("br=(1")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 400);
    let answer: Value = garbage.json().await.unwrap();
    assert_eq!(answer["at"], "records[0]");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("structured-field"),
        "{answer}"
    );
    let no_ts = post(
        &client,
        &url,
        "application/cmcd",
        "e=ps,sid=\"s\",sta=s,v=2".into(),
    )
    .await;
    assert_eq!(no_ts, 400, "every event-mode record needs ts");
    let bad_key = post(
        &client,
        &format!("{}/v1/cmcd?key=nope", server.url),
        "application/cmcd",
        record(0, 0, "e=ps,sta=s"),
    )
    .await;
    assert_eq!(bad_key, 401);
    assert_eq!(
        post(
            &client,
            &url,
            "application/json",
            record(0, 0, "e=ps,sta=s")
        )
        .await,
        415
    );
}
