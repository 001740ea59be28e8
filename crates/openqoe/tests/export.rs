//! Views and raw events come back out as files the operator can query elsewhere: the export API
//! in every format, and `openqoe export` writing a Parquet file that reads back row for row.
mod support;

use std::fs::File;

use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use serde_json::{json, Value};
use support::{data_dir, TestServer};

const T0: i64 = 1_764_028_800_000;

/// A whole view: start, a stall, end; `cdn` and `country` as dimensions.
fn view(id: &str, cdn: &str, startup_ms: i64) -> Value {
    let event = |seq: u64, ms: i64, kind: &str| json!({"seq": seq, "ts": T0 + ms, "type": kind});
    json!({
        "v": 1, "key": "demo", "sent_at": T0 + 60_000,
        "view": {"id": id, "viewer_id": "viewer-1", "props": {"cdn": cdn, "country": "DE"}},
        "events": [
            event(0, 0, "play_requested"),
            event(1, startup_ms, "first_frame"),
            event(2, 20_000, "stall_start"),
            event(3, 21_000, "stall_end"),
            event(4, 50_000, "view_end"),
        ],
    })
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn export(client: &reqwest::Client, url: &str, path: &str) -> (u16, Vec<u8>) {
    let response = client.get(format!("{url}{path}")).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn views_and_events_export_in_every_format() {
    let dir = data_dir();
    let server = TestServer::start(dir.path(), "127.0.0.1:0");
    let client = server.client();
    for (i, cdn) in ["cdn-a", "cdn-b", "cdn-a"].iter().enumerate() {
        let response = client
            .post(format!("{}/v1/events", server.url))
            .json(&view(&format!("export-{i}"), cdn, 1_000 + i as i64 * 100))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
    }
    // Device clocks are corrected to the server's (sent_at vs receipt): the views started now,
    // inside the default range (the last 24 hours).
    let range = format!("from={}", now_ms() - 3_600_000);

    let (status, jsonl) = export(
        &client,
        &server.url,
        &format!("/v1/export/views?{range}&format=jsonl"),
    )
    .await;
    assert_eq!(status, 200);
    let rows: Vec<Value> = String::from_utf8(jsonl)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(rows.len(), 3, "{rows:?}");
    let first = rows.iter().find(|r| r["view_id"] == "export-1").unwrap();
    assert_eq!(first["cdn"], "cdn-b");
    assert_eq!(first["video_startup_time_ms"], json!(1100.0));
    assert_eq!(first["rebuffer_duration_ms"], json!(1000.0));
    assert_eq!(first["startup_failure"], json!(false));

    let (status, csv) = export(
        &client,
        &server.url,
        &format!("/v1/export/events?{range}&format=csv"),
    )
    .await;
    assert_eq!(status, 200);
    let csv = String::from_utf8(csv).unwrap();
    assert_eq!(csv.lines().count(), 1 + 3 * 5, "{csv}");
    assert!(csv.starts_with("view_id,seq,at,ts,type,fields\n"));
    assert!(csv.contains(",stall_start,"));

    let (status, body) = export(
        &client,
        &server.url,
        &format!("/v1/export/views?{range}&format=xml"),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        String::from_utf8_lossy(&body).contains("format"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    let (status, _) = export(&client, &server.url, "/v1/export/sessions").await;
    assert_eq!(status, 400);

    // The command line writes Parquet that any Parquet reader reads back, row for row.
    let out = dir.path().join("views.parquet");
    let ran = std::process::Command::new(env!("CARGO_BIN_EXE_openqoe"))
        .args([
            "export",
            "--target",
            &server.url,
            "--table",
            "views",
            "--format",
            "parquet",
        ])
        .args(["--from", &(now_ms() - 3_600_000).to_string()])
        .arg("--out")
        .arg(&out)
        .env(
            "OPENQOE_TOKEN",
            server
                .token
                .as_deref()
                .expect("the first start made a token"),
        )
        .output()
        .unwrap();
    assert!(
        ran.status.success(),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    let reader = SerializedFileReader::new(File::open(&out).unwrap()).unwrap();
    assert_eq!(reader.metadata().file_metadata().num_rows(), 3);
    let mut startups = Vec::new();
    for row in reader.get_row_iter(None).unwrap() {
        let row = row.unwrap();
        let field = |name: &str| {
            row.get_column_iter()
                .find(|(n, _)| n.as_str() == name)
                .map(|(_, f)| f.clone())
        };
        assert_eq!(field("country"), Some(Field::Str("DE".into())));
        if let Some(Field::Double(ms)) = field("video_startup_time_ms") {
            startups.push(ms);
        }
    }
    startups.sort_by(f64::total_cmp);
    assert_eq!(startups, vec![1000.0, 1100.0, 1200.0]);
}
