//! P.1203.2: audio quality per media second, O21 (docs/p1203.md §4), on a 100 Hz grid.
use crate::sampling::seconds_to_segments;
use crate::scale::mos_from_r;
use crate::{AudioCodec, AudioSegment};

/// O21 for every media second of the audio; empty without audio.
pub fn per_second(audio: &[AudioSegment]) -> Vec<f64> {
    let scores: Vec<f64> = audio
        .iter()
        .map(|s| score(s.codec, s.bitrate_kbps))
        .collect();
    let frames = audio
        .iter()
        .map(|s| ((s.duration * 100.0).floor() as u64, 100.0));
    seconds_to_segments(frames)
        .into_iter()
        .map(|i| scores[i])
        .collect()
}

/// P.1203.2 for one second: `QcodA = A1·e^(A2·b) + A3`, `O21 = MOSfromR(100 − QcodA)`.
pub fn score(codec: AudioCodec, bitrate_kbps: f64) -> f64 {
    let (a1, a2, a3) = match codec {
        AudioCodec::Mp2 => (100.0, -0.02, 15.48),
        AudioCodec::Ac3 => (100.0, -0.03, 15.70),
        AudioCodec::AacLc => (100.0, -0.05, 14.60),
        AudioCodec::HeAac => (100.0, -0.11, 20.06),
    };
    mos_from_r(100.0 - (a1 * (a2 * bitrate_kbps).exp() + a3))
}
