//! Faults on the real binary: the write-ahead log's directory vanishing (as a full disk or no
//! file descriptors would stop writes) answers 503 and an honest `/healthz` while it lasts, and
//! ingest takes batches again by itself once it is back, losing nothing acknowledged; a second
//! server on the same data directory refuses to start.
mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{binary, data_dir, now_ms, TestServer};

fn batch(view: &str) -> Value {
    json!({"v": 1, "key": "demo", "sent_at": now_ms(), "view": {"id": view},
        "events": [{"seq": 0, "ts": now_ms(), "type": "play_requested"}]})
}

async fn health(client: &reqwest::Client, url: &str) -> (u16, Value) {
    let answer = client.get(format!("{url}/healthz")).send().await.unwrap();
    (answer.status().as_u16(), answer.json().await.unwrap())
}

async fn post(client: &reqwest::Client, url: &str, view: &str) -> u16 {
    client
        .post(format!("{url}/v1/events"))
        .json(&batch(view))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn ingest_recovers_when_the_log_can_write_again_and_health_says_so_meanwhile() {
    let dir = data_dir();
    let data = dir.path().join("data");
    let config = dir.path().join("openqoe.toml");
    // A segment per commit: every append opens a file in the log's directory.
    std::fs::write(&config, "[wal]\nsegment_bytes = 1\n").unwrap();
    let config_arg = ["--config", config.to_str().unwrap()];
    let server = TestServer::start_with(&data, "127.0.0.1:0", &config_arg);
    let (url, client) = (server.url.clone(), server.client());
    assert_eq!(post(&client, &url, "before").await, 202);
    assert_eq!(health(&client, &url).await.0, 200);

    // A second server on the same directory refuses to start, saying why.
    let second = std::process::Command::new(binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!second.status.success());
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(said.contains("in use by another openqoe"), "{said}");

    std::fs::rename(data.join("wal"), dir.path().join("wal-aside")).unwrap();
    let refused = client
        .post(format!("{url}/v1/events"))
        .json(&batch("during"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 503);
    assert!(refused.headers().contains_key("retry-after"));
    let (status, body) = health(&client, &url).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "unavailable");
    assert!(
        body["reason"].as_str().unwrap().contains("write-ahead log"),
        "{body}"
    );

    std::fs::rename(dir.path().join("wal-aside"), data.join("wal")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while health(&client, &url).await.0 != 200 {
        assert!(Instant::now() < deadline, "ingest recovers by itself");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(post(&client, &url, "after").await, 202);

    // After a restart: what was acknowledged is there, the refused batch is not.
    drop(server);
    let server = TestServer::start_with(&data, "127.0.0.1:0", &config_arg);
    let client = server.client();
    for (view, status) in [("before", 200), ("after", 200), ("during", 404)] {
        let answer = client
            .get(format!("{}/v1/views/{view}", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), status, "view {view}");
    }
}
