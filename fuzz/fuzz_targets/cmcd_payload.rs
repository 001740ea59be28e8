//! CMCD decoding in every transmission form: any text is a payload or an error with a reason,
//! and a decoded payload re-encodes to text that decodes to the same keys.
#![no_main]
use libfuzzer_sys::fuzz_target;
use openqoe_cmcd::{decode_event_body, decode_payload, decode_query, encode_payload};

fuzz_target!(|text: &str| {
    match decode_payload(text) {
        Ok(payload) => {
            // FALSE booleans are not encoded (CTA-5004-B §4.1), so they do not come back.
            let kept = |p: &openqoe_cmcd::CmcdPayload| {
                p.keys.iter().filter(|(_, v)| **v != openqoe_cmcd::CmcdValue::Boolean(false)).count()
            };
            let encoded = encode_payload(&payload);
            if kept(&payload) == 0 {
                assert!(encoded.is_empty());
            } else {
                let again = decode_payload(&encoded).expect("an encoded payload decodes");
                assert_eq!(kept(&again), kept(&payload));
            }
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    let _ = decode_query(text);
    let _ = decode_event_body(text);
});
