//! `openqoe p1203`: a lab session in the reference layout in, the P.1203 outputs out; a session
//! outside the model is refused with the reason and a failing exit status.
mod support;

use serde_json::Value;
use support::run_with_stdin;

fn p1203(input: &str) -> (bool, String, String) {
    let out = run_with_stdin(&["p1203"], input);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn scores_a_session_from_standard_input() {
    // docs/p1203.md worked example F: video only, 10 s of 720p at 3000 kbit/s, 2 s initial loading.
    let (ok, stdout, _) = p1203(
        r#"{"IGen": {"displaySize": "1920x1080", "device": "pc"}, "I11": {"segments": []},
            "I13": {"segments": [{"codec": "h264", "start": 0, "duration": 10, "bitrate": 3000, "resolution": "1280x720", "fps": 30}]},
            "I23": {"stalling": [[0, 2]]}}"#,
    );
    assert!(ok);
    let scores: Value = serde_json::from_str(&stdout).unwrap();
    assert!(
        (scores["O46"].as_f64().unwrap() - 4.0660).abs() <= 1e-4,
        "{scores}"
    );
    assert!((scores["O23"].as_f64().unwrap() - 4.0583).abs() <= 1e-4);
    assert_eq!(scores["O22"].as_array().unwrap().len(), 10);
    assert_eq!(scores["O21"][0], 5.0, "no audio: O21 is 5");
}

#[test]
fn refuses_what_mode_0_does_not_cover() {
    let (ok, stdout, stderr) = p1203(
        r#"{"I13": {"segments": [{"codec": "vp9", "duration": 10, "bitrate": 3000, "resolution": "1280x720", "fps": 30}]}}"#,
    );
    assert!(!ok);
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("I13.segments[0].codec") && stderr.contains("H.264"),
        "{stderr}"
    );
    let (ok, _, stderr) = p1203("not json");
    assert!(!ok && stderr.contains("not JSON"), "{stderr}");
}
