//! P.1203.1 mode 0: video quality per media second, O22 (docs/p1203.md §3).
use crate::sampling::seconds_to_segments;
use crate::scale::{mos_from_r, r_from_mos};
use crate::{Device, Session, VideoSegment};

// P.1203.1 coefficients (docs/p1203.md §3.7).
const A1: f64 = 11.998_351_9;
const A2: f64 = -2.999_918_47;
const A3: f64 = 41.247_507_400_1;
const A4: f64 = 0.131_831_659_61;
const Q1: f64 = 4.66;
const Q2: f64 = -0.07;
const Q3: f64 = 4.06;
const U1: f64 = 72.61;
const U2: f64 = 0.32;
const T1: f64 = 30.98;
const T2: f64 = 1.29;
const T3: f64 = 64.65;
const H: [f64; 4] = [-0.602_93, 2.123_82, -0.369_36, 0.034_09];
/// Frame rates above this are treated as this (P.1203.1).
const MAX_FPS: f64 = 120.0;

/// O22 for every media second of the session's video.
pub fn per_second(session: &Session) -> Vec<f64> {
    let scores: Vec<f64> = session
        .video
        .iter()
        .map(|s| segment_score(s, session))
        .collect();
    let frames = session.video.iter().map(|s| {
        let fps = s.fps.min(MAX_FPS);
        ((s.duration * fps).floor() as u64, fps)
    });
    seconds_to_segments(frames)
        .into_iter()
        .map(|i| scores[i])
        .collect()
}

/// The score of any second a segment supplies.
fn segment_score(segment: &VideoSegment, session: &Session) -> f64 {
    let (dw, dh) = segment.display.unwrap_or(session.display);
    let o22 = score(
        segment.bitrate_kbps,
        f64::from(segment.width) * f64::from(segment.height),
        f64::from(dw) * f64::from(dh),
        segment.fps.min(MAX_FPS),
    );
    match session.device {
        Device::Pc => o22,
        // P.1203.1 cl. 8.4.1 (handheld adjustment).
        Device::Handheld => {
            (H[0] + H[1] * o22 + H[2] * o22.powi(2) + H[3] * o22.powi(3)).clamp(1.0, 5.0)
        }
    }
}

/// P.1203.1 mode 0 for one second: bitrate (kbit/s), coding and display pixel counts, frame rate.
pub fn score(bitrate_kbps: f64, coded_pixels: f64, display_pixels: f64, fps: f64) -> f64 {
    // Coding degradation (cl. 8.1.1, mode-0 equation).
    let b = bitrate_kbps;
    let quant = A1 + A2 * (A3 + b.ln() + (b * b / (coded_pixels * fps) + A4).ln()).ln();
    let mos_cod = (Q1 + Q2 * (Q3 * quant).exp()).clamp(1.0, 5.0);
    let d_cod = (100.0 - r_from_mos(mos_cod)).clamp(0.0, 100.0);
    // Up-scaling degradation (cl. 8.1.2): pixel-count ratio, no bonus for down-scaling.
    let scale = (display_pixels / coded_pixels).max(1.0);
    let d_scal = (U1 * (U2 * (scale - 1.0) + 1.0).log10()).clamp(0.0, 100.0);
    // Frame-rate degradation (cl. 8.1.3), below 24 frames/s only.
    let d_fr = if fps < 24.0 {
        ((100.0 - d_cod - d_scal) * (T1 - T2 * fps) / (T3 + fps)).clamp(0.0, 100.0)
    } else {
        0.0
    };
    // Integration (cl. 8.1.4).
    mos_from_r(100.0 - (d_cod + d_scal + d_fr).clamp(0.0, 100.0))
}
