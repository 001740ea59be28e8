//! `openqoe import`: a recorded nginx access log of one CMCD session becomes a view with the
//! startup, rebuffering and bitrate the requests imply.
mod support;

use std::process::Command;

use serde_json::Value;
use support::{binary, data_dir, TestServer};

const SESSION: &str = r#"203.0.113.9 - - [25/Nov/2026:02:00:00 +0000] "GET /v/master.m3u8?CMCD=ot%3Dm%2Csid%3D%22imp-1%22%2Ccid%3D%22movie-42%22%2Csu HTTP/1.1" 200 912 "-" "Mozilla/5.0" "cdn-a.example"
203.0.113.9 - - [25/Nov/2026:02:00:01 +0000] "GET /v/800k/seg_0.m4s?CMCD=br%3D800%2Cd%3D2000%2Cot%3Dv%2Csid%3D%22imp-1%22%2Ccid%3D%22movie-42%22%2Csu HTTP/1.1" 200 200000 "-" "Mozilla/5.0" "cdn-a.example"
203.0.113.9 - - [25/Nov/2026:02:00:02 +0000] "GET /v/800k/seg_1.m4s?CMCD=br%3D800%2Cd%3D2000%2Cot%3Dv%2Csid%3D%22imp-1%22%2Ccid%3D%22movie-42%22 HTTP/1.1" 200 200000 "-" "Mozilla/5.0" "cdn-a.example"
this line is not an access log line
203.0.113.9 - - [25/Nov/2026:02:00:10 +0000] "GET /v/3000k/seg_5.m4s?CMCD=br%3D(3000)%2Cbs%2Cbsd%3D(1200)%2Cd%3D2000%2Cot%3Dv%2Csid%3D%22imp-1%22%2Ccid%3D%22movie-42%22%2Cv%3D2 HTTP/1.1" 200 750000 "-" "Mozilla/5.0" "cdn-a.example"
203.0.113.9 - - [25/Nov/2026:02:00:14 +0000] "GET /v/3000k/seg_7.m4s?CMCD=br%3D(3000)%2Cd%3D2000%2Cot%3Dv%2Csid%3D%22imp-1%22%2Ccid%3D%22movie-42%22%2Cv%3D2 HTTP/1.1" 200 750000 "-" "Mozilla/5.0" "cdn-a.example"
"#;

#[tokio::test]
async fn an_access_log_session_becomes_a_view() {
    let dir = data_dir();
    let server = TestServer::start(&dir.path().join("data"), "127.0.0.1:0");
    let log = dir.path().join("access.log");
    std::fs::write(&log, SESSION).unwrap();
    let output = Command::new(binary())
        .args([
            "import",
            "--format",
            "nginx",
            "--target",
            &server.url,
            "--key",
            "demo",
        ])
        .arg(&log)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("requests with CMCD 5, lines skipped 1, views 1"),
        "{stdout}"
    );

    let id = openqoe_cmcd::view_id("imp-1", "movie-42");
    let view: Value = server
        .client()
        .get(format!("{}/v1/views/{id}", server.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["props"]["source"], "cmcd-log");
    assert_eq!(view["props"]["cdn_host"], "cdn-a.example");
    let m = &view["metrics"];
    // Play at the manifest (0 s), startup over at the first request without su (2 s), a stall of
    // bsd 1.2 s before the 10 s request, the last 2 s object ends the view at 16 s.
    assert_eq!(m["video_startup_time_ms"], 2000);
    assert_eq!(
        (
            m["rebuffer_count"].clone(),
            m["rebuffer_duration_ms"].clone()
        ),
        (1.into(), 1200.into())
    );
    assert_eq!(m["playing_time_ms"], 6800 + 6000);
    assert_eq!(
        m["avg_bitrate_bps"],
        (800_000.0 * 6800.0 + 3_000_000.0 * 6000.0) / 12_800.0
    );
    // Every logged request, per host; logs carry no response times.
    assert_eq!(view["requests"][0]["host"], "cdn-a.example");
    assert_eq!(view["requests"][0]["requests"], 5);
    assert_eq!(view["requests"][0]["failed"], 0);
}
