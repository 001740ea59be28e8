//! The ingest contract of DESIGN §4.1 over real HTTP: encodings, keys, limits, refusals, CORS.
mod support;

use std::io::Write;

use serde_json::{json, Value};
use support::{data_dir, TestServer};

fn body(view: &str, events: Value) -> Value {
    json!({"v": 1, "key": "demo", "sent_at": 1_764_028_800_000i64, "view": {"id": view}, "events": events})
}

fn one_event(view: &str) -> Value {
    body(
        view,
        json!([{"seq": 0, "ts": 1_764_028_800_000i64, "type": "play_requested"}]),
    )
}

#[tokio::test]
async fn accepts_json_text_plain_gzip_and_key_forms() {
    let dir = data_dir();
    let server = TestServer::start(dir.path(), "127.0.0.1:0");
    let client = server.client();
    let url = format!("{}/v1/events", server.url);

    let plain = client
        .post(&url)
        .header("content-type", "text/plain;charset=UTF-8")
        .body(one_event("text-plain").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 202);

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(one_event("gzipped").to_string().as_bytes())
        .unwrap();
    let gzipped = client
        .post(&url)
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(gz.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(gzipped.status(), 202);

    let mut keyless = one_event("key-in-header");
    keyless.as_object_mut().unwrap().remove("key");
    let header_key = client
        .post(&url)
        .header("x-openqoe-key", "demo")
        .json(&keyless)
        .send()
        .await
        .unwrap();
    assert_eq!(header_key.status(), 202);
    keyless["view"]["id"] = json!("key-in-query");
    let query_key = client
        .post(format!("{url}?key=demo"))
        .json(&keyless)
        .send()
        .await
        .unwrap();
    assert_eq!(query_key.status(), 202);

    for id in ["text-plain", "gzipped", "key-in-header", "key-in-query"] {
        let view: Value = client
            .get(format!("{}/v1/views/{id}", server.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            view["props"]["environment"], "demo",
            "{id}: the server stamps the key's environment"
        );
    }
}

#[tokio::test]
async fn refuses_bad_input_with_a_reason_and_stores_nothing_of_it() {
    let dir = data_dir();
    let server = TestServer::start(dir.path(), "127.0.0.1:0");
    let client = server.client();
    let url = format!("{}/v1/events", server.url);

    let mut bad_ts = body(
        "refused",
        json!([{"seq": 0, "ts": 1_764_028_800_000i64, "type": "play_requested"},
               {"seq": 1, "ts": "yesterday", "type": "first_frame"}]),
    );
    let response = client.post(&url).json(&bad_ts).send().await.unwrap();
    assert_eq!(response.status(), 400);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["at"], "events[1].ts");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("epoch milliseconds"),
        "{answer}"
    );
    let missing = client
        .get(format!("{}/v1/views/refused", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        missing.status(),
        404,
        "nothing of a malformed batch is stored"
    );

    bad_ts["key"] = json!("wrong");
    bad_ts["events"][1]["ts"] = json!(1);
    assert_eq!(
        client
            .post(&url)
            .json(&bad_ts)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );

    let too_large = body(
        "big",
        json!([{"seq": 0, "ts": 1, "type": "heartbeat", "pad": "x".repeat(1_100_000)}]),
    );
    assert_eq!(
        client
            .post(&url)
            .json(&too_large)
            .send()
            .await
            .unwrap()
            .status(),
        413
    );

    // A gzip bomb: small on the wire, over 1 MiB decoded.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(too_large.to_string().as_bytes()).unwrap();
    let bomb = client
        .post(&url)
        .header("content-encoding", "gzip")
        .body(gz.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(bomb.status(), 413);

    let xml = client
        .post(&url)
        .header("content-type", "application/xml")
        .body("<v/>")
        .send()
        .await
        .unwrap();
    assert_eq!(xml.status(), 415);

    let metrics = support::metrics_text(&client, &server.url).await;
    for reason in ["malformed", "unknown_key", "too_large", "unsupported"] {
        assert!(
            metrics.contains(&format!(
                "openqoe_ingest_rejects_total{{reason=\"{reason}\"}} "
            )),
            "{reason} counted:\n{metrics}"
        );
    }
    assert!(
        metrics.contains("openqoe_wal_sync_seconds_bucket"),
        "{metrics}"
    );
    assert!(metrics.contains("openqoe_active_views"), "{metrics}");
}

#[tokio::test]
async fn answers_cors_preflight_and_health() {
    let dir = data_dir();
    let server = TestServer::start(dir.path(), "127.0.0.1:0");
    let client = server.client();
    let preflight = client
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/v1/events", server.url),
        )
        .header("origin", "https://player.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type, x-openqoe-key",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    let health: Value = client
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
}

#[tokio::test]
async fn configured_environments_replace_the_demo_key() {
    let dir = data_dir();
    let config = dir.path().join("openqoe.toml");
    std::fs::write(
        &config,
        "[collect]\ncountry_header = \"CF-IPCountry\"\n\n[[collect.environments]]\nname = \"production\"\nkey = \"pk_live_1\"\n",
    )
    .unwrap();
    let server = TestServer::start_with(
        &dir.path().join("data"),
        "127.0.0.1:0",
        &["--config", config.to_str().unwrap()],
    );
    let client = server.client();
    let url = format!("{}/v1/events", server.url);
    let demo = client
        .post(&url)
        .json(&one_event("with-demo-key"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        demo.status(),
        401,
        "a configured deployment no longer accepts the demo key"
    );
    let mut live = one_event("with-live-key");
    live["key"] = json!("pk_live_1");
    let accepted = client
        .post(&url)
        .header("cf-ipcountry", "de")
        .json(&live)
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 202);
    let view: Value = client
        .get(format!("{}/v1/views/with-live-key", server.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["props"]["environment"], "production");
    assert_eq!(
        view["props"]["country"], "DE",
        "country from the trusted CDN header"
    );
}
