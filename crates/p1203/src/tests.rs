//! The worked examples of docs/p1203.md (outputs of the published reference implementation),
//! reproduced to ±0.0001, one row per example; plus the model's domain errors.
use serde_json::{json, Value};

use crate::{evaluate, parse_reference_json, P1203Error};

/// A session in the reference layout: video segments as (seconds, "WxH", kbit/s), 30 fps H.264;
/// audio AAC-LC 128 kbit/s matching the video unless `audio` is false.
fn session(video: &[(f64, &str, f64)], stalls: Value, device: &str, audio: bool) -> String {
    let mut start = 0.0;
    let mut video_segments = Vec::new();
    let mut audio_segments = Vec::new();
    for &(duration, resolution, bitrate) in video {
        video_segments.push(json!({"codec": "h264", "start": start, "duration": duration, "bitrate": bitrate, "resolution": resolution, "fps": 30}));
        audio_segments
            .push(json!({"codec": "aaclc", "start": start, "duration": duration, "bitrate": 128}));
        start += duration;
    }
    json!({
        "IGen": {"displaySize": "1920x1080", "device": device},
        "I11": {"segments": if audio { audio_segments } else { Vec::new() }},
        "I13": {"segments": video_segments},
        "I23": {"stalling": stalls},
    })
    .to_string()
}

#[test]
fn worked_examples_match_the_reference_to_a_ten_thousandth() {
    let full_hd = vec![(6.0, "1920x1080", 5000.0); 10];
    let low = vec![(6.0, "640x360", 800.0); 10];
    let alternating: Vec<_> = (0..10)
        .map(|i| {
            if i % 2 == 0 {
                (6.0, "1280x720", 3000.0)
            } else {
                (6.0, "640x360", 800.0)
            }
        })
        .collect();
    let short = vec![(1.0, "1280x720", 2500.0); 30];
    /// (example, session, O23, O35, O46, first O22 when the document gives it)
    type Case = (&'static str, String, f64, f64, f64, Option<f64>);
    let cases: Vec<Case> = vec![
        (
            "A",
            session(&full_hd, json!([]), "pc", true),
            5.0,
            5.0,
            4.8506,
            None,
        ),
        (
            "B",
            session(&full_hd, json!([[0, 1], [20, 3], [40, 3]]), "pc", true),
            3.6247,
            5.0,
            3.4929,
            None,
        ),
        (
            "C",
            session(&low, json!([]), "pc", true),
            5.0,
            2.8935,
            2.9053,
            Some(2.0247),
        ),
        (
            "D",
            session(&alternating, json!([[0, 2]]), "mobile", true),
            4.5307,
            3.5295,
            3.4086,
            None,
        ),
        (
            "E",
            session(&short, json!([[0, 0], [15, 5]]), "pc", true),
            4.1851,
            4.8509,
            3.8333,
            Some(3.8311),
        ),
        (
            "F",
            session(&[(10.0, "1280x720", 3000.0)], json!([[0, 2]]), "pc", false),
            4.0583,
            5.0,
            4.0660,
            None,
        ),
    ];
    for (name, json, o23, o35, o46, first_o22) in cases {
        let out = evaluate(&parse_reference_json(&json).unwrap()).unwrap();
        let close = |got: f64, want: f64, what: &str| {
            assert!(
                (got - want).abs() <= 1e-4,
                "example {name}: {what} {got:.6}, reference {want}"
            );
        };
        close(out.o23, o23, "O23");
        close(out.o35, o35, "O35");
        close(out.o46, o46, "O46");
        if let Some(want) = first_o22 {
            close(out.o22[0], want, "first O22");
        }
    }
}

#[test]
fn sessions_outside_the_model_are_refused_with_a_reason() {
    let at = |json: Value| match evaluate(&parse_reference_json(&json.to_string())?) {
        Ok(_) => Ok(()),
        Err(e) => Err(e),
    };
    let video = |codec: &str, duration: f64| json!({"I13": {"segments": [{"codec": codec, "duration": duration, "bitrate": 1000, "resolution": "1280x720", "fps": 30}]}});
    assert!(
        matches!(at(video("hevc", 10.0)), Err(P1203Error::Invalid { at, .. }) if at == "I13.segments[0].codec")
    );
    assert_eq!(at(video("h264", 0.5)), Err(P1203Error::NoVideo));
    assert!(
        at(video("avc1.64001f", 10.0)).is_ok(),
        "an avc1 codec string is H.264"
    );
    let bad_audio = json!({"I11": {"segments": [{"codec": "opus", "duration": 10, "bitrate": 96}]}, "I13": video("h264", 10.0)["I13"]});
    assert!(
        matches!(at(bad_audio), Err(P1203Error::Invalid { at, .. }) if at == "I11.segments[0].codec")
    );
    let bad_resolution = json!({"I13": {"segments": [{"duration": 10, "bitrate": 1000, "resolution": "wide", "fps": 30}]}});
    assert!(
        matches!(at(bad_resolution), Err(P1203Error::Invalid { at, .. }) if at == "I13.segments[0].resolution")
    );
    assert!(matches!(parse_reference_json("{"), Err(P1203Error::Invalid { at, .. }) if at == "$"));
}
