//! P.1203 sessions in the reference layout: any text is a session or an error with a reason, and
//! any session the parser accepts scores without panicking — or is refused (less than a second of
//! video) — with every MOS finite.
#![no_main]
use libfuzzer_sys::fuzz_target;
use openqoe_p1203::{evaluate, parse_reference_json, P1203Error};

fuzz_target!(|text: &str| {
    let Ok(mut session) = parse_reference_json(text) else {
        return;
    };
    // Keep runs short: the model is linear in media seconds and frames.
    session.video.truncate(50);
    session.audio.truncate(50);
    for s in &mut session.video {
        s.duration = s.duration.min(60.0);
        s.fps = s.fps.min(240.0);
    }
    for s in &mut session.audio {
        s.duration = s.duration.min(60.0);
    }
    match evaluate(&session) {
        Ok(out) => {
            assert!(
                out.o46.is_finite() && out.o23.is_finite() && out.o35.is_finite(),
                "{out:?}"
            );
            assert!(
                out.o22
                    .iter()
                    .chain(&out.o21)
                    .chain(&out.o34)
                    .all(|v| v.is_finite() && (1.0..=5.0).contains(v)),
                "{out:?}"
            );
        }
        Err(P1203Error::NoVideo | P1203Error::Invalid { .. }) => {}
    }
});
