//! ITU-T P.1203 in mode 0 (metadata only), written clean-room from the Recommendations as
//! restated in docs/p1203.md: P.1203.1 (video quality per second, O22), P.1203.2 (audio quality
//! per second, O21) and P.1203.3 (integration: O34, O35, O23 and the final MOS O46, with the
//! random forest of its electronic attachment). Pure functions, no I/O.
mod audio;
mod forest;
mod integration;
mod reference_json;
mod sampling;
mod scale;
mod video;

pub use reference_json::{parse_reference_json, Scores};

/// The viewing device (P.1203 `IGen.device`); only handheld devices change the video scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    /// A PC or TV screen (anything not handheld).
    Pc,
    /// A phone or tablet: P.1203.1 cl. 8.4.1's handheld adjustment applies.
    Handheld,
}

/// An audio codec P.1203.2 knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioCodec {
    /// MPEG-1 Layer II.
    Mp2,
    /// Dolby AC-3.
    Ac3,
    /// AAC-LC (also `aac`).
    AacLc,
    /// HE-AAC.
    HeAac,
}

/// One video segment in play order (segments are laid end to end; a `start` is not used).
#[derive(Debug, Clone, PartialEq)]
pub struct VideoSegment {
    /// Seconds.
    pub duration: f64,
    /// Kbit/s.
    pub bitrate_kbps: f64,
    /// Coding resolution.
    pub width: u32,
    /// Coding resolution.
    pub height: u32,
    /// Frames per second.
    pub fps: f64,
    /// This segment's own display resolution, when it differs from the session's.
    pub display: Option<(u32, u32)>,
}

/// One audio segment in play order.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioSegment {
    /// Seconds.
    pub duration: f64,
    /// Kbit/s.
    pub bitrate_kbps: f64,
    /// Codec.
    pub codec: AudioCodec,
}

/// A session as P.1203 mode 0 sees it. Video must be H.264 (the caller checks the codec).
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// The viewing device.
    pub device: Device,
    /// Display resolution (default 1920×1080); only its pixel count matters.
    pub display: (u32, u32),
    /// Video segments in play order.
    pub video: Vec<VideoSegment>,
    /// Audio segments in play order; empty when there is no audio (O21 is then 5).
    pub audio: Vec<AudioSegment>,
    /// Stalls as (media position s, duration s); a stall at 0 is the initial loading.
    pub stalls: Vec<(f64, f64)>,
}

/// Every output of the model (P.1203 names).
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    /// Audio quality per media second (1–5).
    pub o21: Vec<f64>,
    /// Video quality per media second (1–5).
    pub o22: Vec<f64>,
    /// Stalling quality of the session (1–5).
    pub o23: f64,
    /// Audiovisual quality per media second (1–5).
    pub o34: Vec<f64>,
    /// Audiovisual quality of the session without stalling (not clipped).
    pub o35: f64,
    /// Final integral quality of the session: the MOS.
    pub o46: f64,
}

/// Why a session cannot be scored.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum P1203Error {
    /// Less than one second of video.
    #[error("no video scores: the session has less than one second of video")]
    NoVideo,
    /// A value out of the model's domain.
    #[error("{at}: {reason}")]
    Invalid {
        /// Where, as a JSON path of the reference layout.
        at: String,
        /// What is wrong.
        reason: String,
    },
}

/// Whether a codec string names H.264, the only video codec mode 0 is specified for
/// (`h264`, `h.264`, `avc`, or an RFC 6381 `avc1…`/`avc3…`).
pub fn is_h264(codec: &str) -> bool {
    let codec = codec.to_ascii_lowercase();
    codec == "h264"
        || codec == "h.264"
        || codec == "avc"
        || codec.starts_with("avc1")
        || codec.starts_with("avc3")
}

/// Scores a session: per-second audio and video, then the integration.
pub fn evaluate(session: &Session) -> Result<Output, P1203Error> {
    for (i, s) in session.video.iter().enumerate() {
        let at = |field: &str| format!("I13.segments[{i}].{field}");
        check_segment(&at, s.duration, s.bitrate_kbps)?;
        check(
            s.width > 0 && s.height > 0,
            at("resolution"),
            "must be W×H with W, H > 0",
        )?;
        check(s.fps > 0.0 && s.fps.is_finite(), at("fps"), "must be > 0")?;
    }
    for (i, s) in session.audio.iter().enumerate() {
        check_segment(
            &|field| format!("I11.segments[{i}].{field}"),
            s.duration,
            s.bitrate_kbps,
        )?;
    }
    for (i, (p, l)) in session.stalls.iter().enumerate() {
        check(
            *p >= 0.0 && *l >= 0.0 && p.is_finite() && l.is_finite(),
            format!("I23.stalling[{i}]"),
            "position and duration must be ≥ 0",
        )?;
    }
    let o22 = video::per_second(session);
    if o22.is_empty() {
        return Err(P1203Error::NoVideo);
    }
    let o21 = audio::per_second(&session.audio);
    Ok(integration::integrate(o21, o22, &session.stalls))
}

/// The checks every segment, audio or video, must pass: a duration and a positive bitrate.
fn check_segment(
    at: &dyn Fn(&str) -> String,
    duration: f64,
    bitrate_kbps: f64,
) -> Result<(), P1203Error> {
    check(
        duration >= 0.0 && duration.is_finite(),
        at("duration"),
        "not a duration",
    )?;
    check(
        bitrate_kbps > 0.0 && bitrate_kbps.is_finite(),
        at("bitrate"),
        "must be > 0 kbit/s",
    )
}

fn check(ok: bool, at: String, reason: &str) -> Result<(), P1203Error> {
    if ok {
        Ok(())
    } else {
        Err(P1203Error::Invalid {
            at,
            reason: reason.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests;
