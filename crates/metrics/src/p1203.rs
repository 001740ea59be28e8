//! A view as an ITU-T P.1203 mode 0 session (docs/metrics.md, "P.1203 input mapping"): what was
//! played, rendition by rendition, laid end to end in media time; the startup wait as the initial
//! loading; each rebuffer at the media position where it happened.
use openqoe_model::{Rendition, View};
use openqoe_p1203::{evaluate, is_h264, Device, Session, VideoSegment};
use serde::Serialize;
use serde_json::Value;

use crate::timeline::Walk;

/// Frame rate assumed when the player did not report one (no frame-rate degradation).
const DEFAULT_FPS: f64 = 30.0;
/// P.1203's default display when the player size is unknown.
const DEFAULT_DISPLAY: (u32, u32) = (1920, 1080);

/// A view's P.1203 result: the scores, or why there are none.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ViewP1203 {
    /// O46, the session MOS (1–5).
    pub o46: Option<f64>,
    /// O23, the stalling quality.
    pub o23: Option<f64>,
    /// O35, the audiovisual quality without stalling.
    pub o35: Option<f64>,
    /// O22, the video quality of every media second.
    pub o22: Vec<f64>,
    /// Why there is no MOS, or what was assumed.
    pub note: Option<String>,
}

impl ViewP1203 {
    fn none(note: impl Into<String>) -> ViewP1203 {
        ViewP1203 {
            o46: None,
            o23: None,
            o35: None,
            o22: Vec::new(),
            note: Some(note.into()),
        }
    }
}

/// Scores `view` (whose timeline walk is `walk`) with P.1203 mode 0. With `h264_equivalent`,
/// renditions in other codecs are scored as if they were H.264 at the same bitrate (an estimate
/// the operator asked for, and the note says so); otherwise they get no score.
pub fn view_p1203(view: &View, walk: &Walk, h264_equivalent: bool) -> ViewP1203 {
    if walk.playing_ms < 1000 {
        return ViewP1203::none("under one second played: P.1203 needs at least one");
    }
    // Playing before the first known rendition is taken to be that rendition.
    let Some(first) = walk.playing_spans.iter().find_map(|(r, _)| r.clone()) else {
        return ViewP1203::none("no rendition reported: the played quality is unknown");
    };
    // What was estimated, then what was assumed, each said once, in the order it arose.
    let (mut estimated, mut assumed) = (Vec::new(), Vec::new());
    let mut video = Vec::new();
    let mut current = first;
    for (rendition, ms) in &walk.playing_spans {
        if let Some(r) = rendition {
            current = r.clone();
        }
        match refusal(&current) {
            Some(Refusal::Codec(codec)) if h264_equivalent => {
                add_once(
                    &mut estimated,
                    format!("codec {codec} scored as H.264 at the same bitrate: an estimate"),
                );
            }
            Some(refusal) => return ViewP1203::none(refusal.to_string()),
            None => {}
        }
        if current.codec.is_none() {
            add_once(&mut assumed, "codec unknown: taken as H.264");
        }
        let fps = current.fps.filter(|f| *f > 0.0).unwrap_or_else(|| {
            add_once(&mut assumed, "frame rate unknown: taken as 30");
            DEFAULT_FPS
        });
        video.push(VideoSegment {
            duration: *ms as f64 / 1000.0,
            bitrate_kbps: current.bitrate_bps as f64 / 1000.0,
            width: current.width,
            height: current.height,
            fps,
            display: None,
        });
    }
    let size = |name: &str| {
        view.props
            .get(name)
            .as_ref()
            .and_then(Value::as_u64)
            .and_then(|v| u32::try_from(v).ok())
            .filter(|v| *v > 0)
    };
    let display = match (size("player_width"), size("player_height")) {
        (Some(w), Some(h)) => (w, h),
        _ => {
            add_once(&mut assumed, "player size unknown: a 1920×1080 display");
            DEFAULT_DISPLAY
        }
    };
    let device = match view
        .props
        .get("device_type")
        .as_ref()
        .and_then(Value::as_str)
    {
        Some("phone" | "mobile" | "tablet" | "handheld") => Device::Handheld,
        _ => Device::Pc,
    };
    let mut stalls = vec![(0.0, walk.startup_ms as f64 / 1000.0)];
    stalls.extend(
        walk.rebuffers
            .iter()
            .map(|&(at, ms)| (at as f64 / 1000.0, ms as f64 / 1000.0)),
    );
    add_once(&mut assumed, "audio unknown: scored as video only");
    let session = Session {
        device,
        display,
        video,
        audio: Vec::new(),
        stalls,
    };
    match evaluate(&session) {
        Ok(out) => ViewP1203 {
            o46: Some(out.o46),
            o23: Some(out.o23),
            o35: Some(out.o35),
            o22: out.o22,
            note: Some([estimated, assumed].concat().join("; ")),
        },
        Err(e) => ViewP1203::none(e.to_string()),
    }
}

fn add_once(notes: &mut Vec<String>, note: impl Into<String>) {
    let note = note.into();
    if !notes.contains(&note) {
        notes.push(note);
    }
}

/// Why a rendition cannot enter P.1203 mode 0.
enum Refusal {
    /// No resolution (CMCD) or no bitrate.
    Unknown(&'static str),
    /// A codec other than H.264.
    Codec(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Unknown(what) => write!(f, "{what}"),
            Refusal::Codec(codec) => write!(
                f,
                "codec {codec} is not H.264: P.1203 mode 0 covers H.264 only (ask for an H.264-equivalent estimate with ?p1203=h264-equivalent)"
            ),
        }
    }
}

fn refusal(rendition: &Rendition) -> Option<Refusal> {
    if rendition.width == 0 || rendition.height == 0 {
        return Some(Refusal::Unknown(
            "resolution unknown (CMCD carries none): P.1203 needs it",
        ));
    }
    if rendition.bitrate_bps == 0 {
        return Some(Refusal::Unknown("bitrate unknown: P.1203 needs it"));
    }
    match rendition.codec.as_deref() {
        Some(codec) if !is_h264(codec) => Some(Refusal::Codec(codec.to_owned())),
        _ => None,
    }
}
