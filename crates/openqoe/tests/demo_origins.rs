//! `openqoe demo --origins`: two local origins serve one ffmpeg-made ladder, the demo's manifests
//! carry content-steering tags naming both, the steering server knows the origins' hosts as
//! pathways, and an origin degraded through the API fails its segments.
mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use support::{data_dir, get_json};

#[tokio::test(flavor = "multi_thread")]
async fn demo_origins_serve_a_steered_ladder_and_degrade_on_request() {
    let dir = data_dir();
    let mut child = Command::new(env!("CARGO_BIN_EXE_openqoe"))
        .args([
            "demo",
            "--origins",
            "--listen",
            "127.0.0.1:0",
            "--viewers",
            "5",
        ])
        .args(["--history-minutes", "1", "--data-dir"])
        .arg(dir.path())
        .env("OPENQOE_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = sender.send(line);
        }
    });
    // The first run makes the ladder with ffmpeg (cached for later runs).
    let mut url = None;
    let mut origins = Vec::new();
    while url.is_none() || origins.len() < 2 {
        let line = receiver
            .recv_timeout(Duration::from_secs(300))
            .expect("the demo starts");
        if let Some(u) = line.strip_prefix("dashboard: ") {
            url = Some(u.trim_end_matches('/').to_owned());
        }
        if let Some(rest) = line.strip_prefix("origin ") {
            origins.push(rest.to_owned());
        }
    }
    let url = url.unwrap();
    let client = reqwest::Client::new();
    let text = |u: String| {
        let client = client.clone();
        async move { client.get(u).send().await.unwrap().text().await.unwrap() }
    };

    let playlist = text(format!("{url}/demo/hls/master.m3u8")).await;
    assert!(
        playlist
            .contains("#EXT-X-CONTENT-STEERING:SERVER-URI=\"/v1/steer/hls\",PATHWAY-ID=\"cdn-a\""),
        "{playlist}"
    );
    let variants: Vec<&str> = playlist
        .lines()
        .filter(|l| l.starts_with("http://"))
        .collect();
    assert_eq!(
        variants.len(),
        4,
        "two renditions on each of two origins: {playlist}"
    );
    for pathway in ["cdn-a", "cdn-b"] {
        assert_eq!(
            playlist
                .matches(&format!("PATHWAY-ID=\"{pathway}\""))
                .count(),
            2 + usize::from(pathway == "cdn-a")
        );
    }
    let media_playlist = text(variants[0].to_owned()).await;
    assert!(media_playlist.contains("seg_000.ts"), "{media_playlist}");
    let mpd = text(format!("{url}/demo/dash/manifest.mpd")).await;
    assert!(mpd.contains("<ContentSteering defaultServiceLocation=\"cdn-a\" queryBeforeStart=\"true\">/v1/steer/dash</ContentSteering>"), "{mpd}");
    assert_eq!(mpd.matches("<BaseURL serviceLocation=").count(), 2);

    // The steering server counts the origins' hosts (what the web SDK reports) as the pathways.
    let steer = get_json(&client, &format!("{url}/v1/steer")).await;
    let host_a = variants[0]
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap();
    assert_eq!(steer["pathways"][0]["hosts"], json!([host_a]), "{steer:#}");

    let segment = variants[0].replace("index.m3u8", "seg_000.ts");
    assert_eq!(client.get(&segment).send().await.unwrap().status(), 200);
    let degraded: Value = client
        .put(format!("{url}/v1/demo/origins/cdn-a"))
        .json(&json!({"error_percent": 100}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(degraded[0]["degradation"]["error_percent"], 100);
    assert_eq!(client.get(&segment).send().await.unwrap().status(), 503);
    let other = variants[1].replace("index.m3u8", "seg_000.ts");
    assert_eq!(
        client.get(&other).send().await.unwrap().status(),
        200,
        "cdn-b is fine"
    );
    let refused = client
        .put(format!("{url}/v1/demo/origins/cdn-a"))
        .json(&json!({"error_percent": 150}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let _ = child.kill();
    let _ = child.wait();
}
