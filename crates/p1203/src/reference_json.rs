//! The session layout of the P.1203 reference software (`IGen`, `I11`, `I13`, `I23`), which
//! operators use to score lab sessions with `openqoe p1203`, and the scores it prints.
use serde::Serialize;
use serde_json::Value;

use crate::{is_h264, AudioCodec, AudioSegment, Device, Output, P1203Error, Session, VideoSegment};

/// The printed scores: `{"O23", "O35", "O46", "O21": [...], "O22": [...], "O34": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[allow(non_snake_case)]
pub struct Scores {
    /// Stalling quality.
    pub O23: f64,
    /// Audiovisual quality without stalling.
    pub O35: f64,
    /// Final MOS.
    pub O46: f64,
    /// Audio quality per second.
    pub O21: Vec<f64>,
    /// Video quality per second.
    pub O22: Vec<f64>,
    /// Audiovisual quality per second.
    pub O34: Vec<f64>,
}

impl From<Output> for Scores {
    fn from(o: Output) -> Scores {
        Scores {
            O23: o.o23,
            O35: o.o35,
            O46: o.o46,
            O21: o.o21,
            O22: o.o22,
            O34: o.o34,
        }
    }
}

fn invalid(at: impl Into<String>, reason: impl Into<String>) -> P1203Error {
    P1203Error::Invalid {
        at: at.into(),
        reason: reason.into(),
    }
}

/// Reads a session in the reference layout. Video must be H.264 (mode 0 is specified for it).
pub fn parse_reference_json(text: &str) -> Result<Session, P1203Error> {
    let root: Value =
        serde_json::from_str(text).map_err(|e| invalid("$", format!("not JSON: {e}")))?;
    let general = root.get("IGen");
    let device = match general
        .and_then(|g| g.get("device"))
        .and_then(Value::as_str)
    {
        Some("mobile" | "handheld") => Device::Handheld,
        _ => Device::Pc,
    };
    let display = match general.and_then(|g| g.get("displaySize")) {
        None | Some(Value::Null) => (1920, 1080),
        Some(value) => resolution(value, "IGen.displaySize")?,
    };
    let segments = |module: &str| -> Result<Vec<Value>, P1203Error> {
        match root.get(module).and_then(|m| m.get("segments")) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => Ok(items.clone()),
            Some(_) => Err(invalid(format!("{module}.segments"), "expected an array")),
        }
    };
    let mut video = Vec::new();
    for (i, s) in segments("I13")?.iter().enumerate() {
        let at = |field: &str| format!("I13.segments[{i}].{field}");
        let codec = s.get("codec").and_then(Value::as_str).unwrap_or("h264");
        if !is_h264(codec) {
            return Err(invalid(
                at("codec"),
                format!("{codec:?}: P.1203 mode 0 is specified for H.264 only"),
            ));
        }
        video.push(VideoSegment {
            duration: number(s, "duration", &at("duration"))?,
            bitrate_kbps: number(s, "bitrate", &at("bitrate"))?,
            width: 0,
            height: 0,
            fps: number(s, "fps", &at("fps"))?,
            display: match s.get("displaySize") {
                None | Some(Value::Null) => None,
                Some(value) => Some(resolution(value, &at("displaySize"))?),
            },
        });
        let (w, h) = resolution(
            s.get("resolution").unwrap_or(&Value::Null),
            &at("resolution"),
        )?;
        let last = video.last_mut().expect("just pushed");
        (last.width, last.height) = (w, h);
    }
    let mut audio = Vec::new();
    for (i, s) in segments("I11")?.iter().enumerate() {
        let at = |field: &str| format!("I11.segments[{i}].{field}");
        let codec = match s.get("codec").and_then(Value::as_str).unwrap_or("aaclc") {
            "mp2" => AudioCodec::Mp2,
            "ac3" => AudioCodec::Ac3,
            "aaclc" | "aac" => AudioCodec::AacLc,
            "heaac" => AudioCodec::HeAac,
            other => {
                return Err(invalid(
                    at("codec"),
                    format!("{other:?}: expected mp2, ac3, aaclc (aac) or heaac"),
                ))
            }
        };
        audio.push(AudioSegment {
            duration: number(s, "duration", &at("duration"))?,
            bitrate_kbps: number(s, "bitrate", &at("bitrate"))?,
            codec,
        });
    }
    let mut stalls = Vec::new();
    match root.get("I23").and_then(|s| s.get("stalling")) {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let pair = item
                    .as_array()
                    .filter(|p| p.len() == 2)
                    .and_then(|p| Some((p[0].as_f64()?, p[1].as_f64()?)));
                stalls.push(pair.ok_or_else(|| {
                    invalid(
                        format!("I23.stalling[{i}]"),
                        "expected [position s, duration s]",
                    )
                })?);
            }
        }
        Some(_) => {
            return Err(invalid(
                "I23.stalling",
                "expected an array of [position, duration]",
            ))
        }
    }
    Ok(Session {
        device,
        display,
        video,
        audio,
        stalls,
    })
}

fn number(segment: &Value, field: &str, at: &str) -> Result<f64, P1203Error> {
    segment
        .get(field)
        .and_then(Value::as_f64)
        .ok_or_else(|| invalid(at, "missing or not a number"))
}

fn resolution(value: &Value, at: &str) -> Result<(u32, u32), P1203Error> {
    let text = value
        .as_str()
        .ok_or_else(|| invalid(at, "expected \"WxH\""))?;
    let parsed = text
        .split_once('x')
        .and_then(|(w, h)| Some((w.trim().parse::<u32>().ok()?, h.trim().parse::<u32>().ok()?)));
    match parsed {
        Some((w, h)) if w > 0 && h > 0 => Ok((w, h)),
        _ => Err(invalid(
            at,
            format!("{text:?}: expected \"WxH\" with W, H > 0"),
        )),
    }
}
