//! `openqoe demo --origins`: two local test origins ("CDNs") serving one ladder made by ffmpeg,
//! and manifests with content-steering tags, so a real player (hls.js, dash.js, Shaka, Safari)
//! plays through openqoe's steering. Either origin can be degraded from the API (a throughput cap
//! and a share of failing requests) to watch players move.
use std::path::{Component, Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use rand::Rng;
use serde::Deserialize;
use serde_json::{json, Value};

use openqoe_server::ApiError;

/// The ladder: (height, width, video kbit/s).
const LADDER: [(u32, u32, u32); 2] = [(720, 1280, 2500), (360, 640, 700)];
const SECONDS: u32 = 120;

/// How an origin is degraded.
#[derive(Debug, Clone, Copy, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Degradation {
    /// Responses are paced to this throughput, kbit/s (none: full speed).
    pub throughput_kbps: Option<u64>,
    /// Percentage of media requests answered 503.
    #[serde(default)]
    pub error_percent: u8,
}

/// One origin: its pathway id, address and degradation.
pub struct Origin {
    /// Pathway id (`cdn-a`).
    pub pathway: String,
    /// `127.0.0.1:port`: the host the web SDK reports as `cdn`.
    pub host: String,
    degradation: Mutex<Degradation>,
}

/// The running origins and the media they serve.
pub struct Origins {
    /// In default priority order.
    pub origins: Vec<Arc<Origin>>,
    media: PathBuf,
}

fn ffmpeg(dir: &Path, args: &[&str]) -> anyhow::Result<()> {
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .current_dir(dir)
        .status()
        .context("--origins needs ffmpeg (Debian: apt-get install ffmpeg)")?;
    anyhow::ensure!(status.success(), "ffmpeg failed: {status}");
    Ok(())
}

/// Encodes the ladder once and packages it as HLS (muxed TS) and DASH, unless `media` has it.
fn make_ladder(media: &Path) -> anyhow::Result<()> {
    if media.join("complete").exists() {
        return Ok(());
    }
    std::fs::create_dir_all(media.join("hls"))?;
    std::fs::create_dir_all(media.join("dash"))?;
    let size = format!("testsrc2=size=1280x720:rate=30:duration={SECONDS}");
    let tone = format!("sine=frequency=440:sample_rate=48000:duration={SECONDS}");
    for (i, (height, width, kbps)) in LADDER.iter().enumerate() {
        let scale = format!("scale={width}:{height}");
        let rate = format!("{kbps}k");
        ffmpeg(
            media,
            &[
                "-f",
                "lavfi",
                "-i",
                &size,
                "-vf",
                &scale,
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-pix_fmt",
                "yuv420p",
                "-g",
                "60",
                "-keyint_min",
                "60",
                "-sc_threshold",
                "0",
                "-b:v",
                &rate,
                "-maxrate",
                &rate,
                "-bufsize",
                &rate,
                &format!("v{i}.mp4"),
            ],
        )?;
    }
    ffmpeg(
        media,
        &[
            "-f", "lavfi", "-i", &tone, "-c:a", "aac", "-b:a", "96k", "a.m4a",
        ],
    )?;
    let mut hls: Vec<String> = Vec::new();
    for i in 0..LADDER.len() {
        hls.extend(["-i".into(), format!("v{i}.mp4")]);
    }
    hls.extend(["-i".into(), "a.m4a".into()]);
    let audio = LADDER.len();
    for i in 0..LADDER.len() {
        hls.extend([
            "-map".into(),
            format!("{i}:v"),
            "-map".into(),
            format!("{audio}:a"),
        ]);
    }
    let streams: Vec<String> = (0..LADDER.len()).map(|i| format!("v:{i},a:{i}")).collect();
    hls.extend(
        [
            "-c",
            "copy",
            "-f",
            "hls",
            "-hls_time",
            "2",
            "-hls_playlist_type",
            "vod",
            "-hls_segment_filename",
            "hls/v%v/seg_%03d.ts",
            "-master_pl_name",
            "master.m3u8",
            "-var_stream_map",
        ]
        .map(String::from),
    );
    hls.extend([streams.join(" "), "hls/v%v/index.m3u8".into()]);
    ffmpeg(media, &hls.iter().map(String::as_str).collect::<Vec<_>>())?;
    let mut dash: Vec<String> = Vec::new();
    for i in 0..LADDER.len() {
        dash.extend(["-i".into(), format!("v{i}.mp4")]);
    }
    dash.extend(["-i".into(), "a.m4a".into()]);
    for i in 0..=LADDER.len() {
        dash.extend(["-map".into(), format!("{i}")]);
    }
    let video_set: Vec<String> = (0..LADDER.len()).map(|i| i.to_string()).collect();
    dash.extend(
        [
            "-c",
            "copy",
            "-f",
            "dash",
            "-seg_duration",
            "2",
            "-use_template",
            "1",
            "-use_timeline",
            "0",
            "-adaptation_sets",
        ]
        .map(String::from),
    );
    dash.extend([
        format!("id=0,streams={} id=1,streams={audio}", video_set.join(",")),
        "dash/manifest.mpd".into(),
    ]);
    ffmpeg(media, &dash.iter().map(String::as_str).collect::<Vec<_>>())?;
    for i in 0..LADDER.len() {
        std::fs::remove_file(media.join(format!("v{i}.mp4")))?;
    }
    std::fs::remove_file(media.join("a.m4a"))?;
    std::fs::write(media.join("complete"), "")?;
    Ok(())
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("m3u8") => "application/vnd.apple.mpegurl",
        Some("mpd") => "application/dash+xml",
        Some("ts") => "video/mp2t",
        Some("m4s") | Some("mp4") => "video/mp4",
        _ => "application/octet-stream",
    }
}

/// Serves `media` as an origin would, applying the origin's degradation to media segments.
async fn serve_file(
    State((origin, media)): State<(Arc<Origin>, PathBuf)>,
    UrlPath(path): UrlPath<String>,
) -> Response {
    let relative = Path::new(&path);
    if relative
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        return StatusCode::NOT_FOUND.into_response();
    }
    let file = media.join(relative);
    let degradation = *origin.degradation.lock().expect("origin lock poisoned");
    let segment = matches!(
        file.extension().and_then(|e| e.to_str()),
        Some("ts" | "m4s")
    );
    let cors = (
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    if segment && rand::thread_rng().gen_range(0..100) < degradation.error_percent {
        return (StatusCode::SERVICE_UNAVAILABLE, [cors]).into_response();
    }
    let Ok(body) = tokio::task::spawn_blocking(move || std::fs::read(&file).map(|b| (b, file)))
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)))
    else {
        return (StatusCode::NOT_FOUND, [cors]).into_response();
    };
    let (bytes, file) = body;
    if let (true, Some(kbps)) = (segment, degradation.throughput_kbps) {
        // Paced as a capped link would deliver it: the whole response takes size / rate.
        let seconds = bytes.len() as f64 * 8.0 / (kbps.max(1) as f64 * 1000.0);
        tokio::time::sleep(Duration::from_secs_f64(seconds.min(60.0))).await;
    }
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(content_type(&file)),
            ),
            cors,
        ],
        bytes,
    )
        .into_response()
}

impl Origins {
    /// Makes the ladder in `media` (once) and starts one origin per pathway on loopback.
    pub async fn start(media: PathBuf, pathways: &[&str]) -> anyhow::Result<Origins> {
        let made = media.clone();
        tokio::task::spawn_blocking(move || make_ladder(&made)).await??;
        let mut origins = Vec::new();
        for pathway in pathways {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let origin = Arc::new(Origin {
                pathway: (*pathway).to_owned(),
                host: listener.local_addr()?.to_string(),
                degradation: Mutex::new(Degradation::default()),
            });
            let app = Router::new()
                .route("/{*path}", get(serve_file))
                .with_state((Arc::clone(&origin), media.clone()));
            tokio::spawn(async move { axum::serve(listener, app).await });
            origins.push(origin);
        }
        Ok(Origins { origins, media })
    }

    /// The HLS multivariant playlist with every variant once per origin and the steering tag.
    fn multivariant(&self) -> anyhow::Result<String> {
        let master = std::fs::read_to_string(self.media.join("hls/master.m3u8"))?;
        let first = &self.origins[0].pathway;
        let mut out = format!(
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-CONTENT-STEERING:SERVER-URI=\"/v1/steer/hls\",PATHWAY-ID=\"{first}\"\n"
        );
        let mut lines = master.lines();
        while let Some(line) = lines.next() {
            let Some(attributes) = line.strip_prefix("#EXT-X-STREAM-INF:") else {
                continue;
            };
            let uri = lines.next().unwrap_or_default();
            for origin in &self.origins {
                out.push_str(&format!(
                    "#EXT-X-STREAM-INF:{attributes},PATHWAY-ID=\"{}\"\nhttp://{}/hls/{uri}\n",
                    origin.pathway, origin.host
                ));
            }
        }
        Ok(out)
    }

    /// The MPD with a `<ContentSteering>` element and one `<BaseURL>` per origin.
    fn mpd(&self) -> anyhow::Result<String> {
        let mpd = std::fs::read_to_string(self.media.join("dash/manifest.mpd"))?;
        let open = mpd.find("<MPD").context("no <MPD> element")?;
        let end = open + mpd[open..].find('>').context("unterminated <MPD>")? + 1;
        let mut inserted = format!(
            "\n\t<ContentSteering defaultServiceLocation=\"{}\" queryBeforeStart=\"true\">/v1/steer/dash</ContentSteering>",
            self.origins[0].pathway
        );
        for origin in &self.origins {
            inserted.push_str(&format!(
                "\n\t<BaseURL serviceLocation=\"{}\">http://{}/dash/</BaseURL>",
                origin.pathway, origin.host
            ));
        }
        Ok(format!("{}{inserted}{}", &mpd[..end], &mpd[end..]))
    }

    /// `/demo/hls/master.m3u8`, `/demo/dash/manifest.mpd`, and `GET`/`PUT /v1/demo/origins[/{id}]`.
    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/demo/hls/master.m3u8", get(multivariant))
            .route("/demo/dash/manifest.mpd", get(mpd))
            .route("/v1/demo/origins", get(list))
            .route("/v1/demo/origins/{pathway}", axum::routing::put(degrade))
            .with_state(self)
    }
}

fn manifest(made: anyhow::Result<String>, content_type: &'static str) -> Response {
    match made {
        Ok(text) => (
            [
                (header::CONTENT_TYPE, content_type),
                (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            ],
            text,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn multivariant(State(o): State<Arc<Origins>>) -> Response {
    manifest(o.multivariant(), "application/vnd.apple.mpegurl")
}

async fn mpd(State(o): State<Arc<Origins>>) -> Response {
    manifest(o.mpd(), "application/dash+xml")
}

fn describe(o: &Origins) -> Value {
    json!(o
        .origins
        .iter()
        .map(|origin| json!({
            "pathway": origin.pathway,
            "host": origin.host,
            "degradation": *origin.degradation.lock().expect("origin lock poisoned"),
        }))
        .collect::<Vec<_>>())
}

async fn list(State(o): State<Arc<Origins>>) -> Json<Value> {
    Json(describe(&o))
}

async fn degrade(
    State(o): State<Arc<Origins>>,
    UrlPath(pathway): UrlPath<String>,
    body: Result<Json<Degradation>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Json(degradation) = match body {
        Ok(body) => body,
        Err(e) => return ApiError::new(StatusCode::BAD_REQUEST, e.body_text()).into_response(),
    };
    if degradation.error_percent > 100 {
        return ApiError::new(StatusCode::BAD_REQUEST, "error_percent: expected 0 to 100")
            .into_response();
    }
    let Some(origin) = o.origins.iter().find(|origin| origin.pathway == pathway) else {
        return ApiError::new(StatusCode::NOT_FOUND, format!("no origin {pathway:?}"))
            .into_response();
    };
    *origin.degradation.lock().expect("origin lock poisoned") = degradation;
    tracing::warn!(%pathway, ?degradation, "demo origin degradation changed");
    Json(describe(&o)).into_response()
}
