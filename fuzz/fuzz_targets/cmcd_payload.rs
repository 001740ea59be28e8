//! CMCD decoding in every transmission form: any text is a payload or an error with a reason,
//! a decoded payload re-encodes to text that decodes to the same keys, and event records map to
//! valid batches.
#![no_main]
use libfuzzer_sys::fuzz_target;
use openqoe_cmcd::{
    decode_event_body, decode_payload, decode_query, encode_payload, records_to_batches,
};
use openqoe_model::ServerTime;

/// Whether a server id survives as an RFC 8941 string (printable ASCII).
fn sfv_string_ok(text: &str) -> bool {
    text.bytes().all(|b| (0x20..0x7f).contains(&b))
}

fuzz_target!(|text: &str| {
    match decode_payload(text) {
        Ok(payload) => {
            // FALSE booleans are not encoded (CTA-5004-B §4.1), so they do not come back.
            let kept = |p: &openqoe_cmcd::CmcdPayload| {
                p.keys
                    .iter()
                    .filter(|(_, v)| **v != openqoe_cmcd::CmcdValue::Boolean(false))
                    .count()
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
    let _ = openqoe_cmcd::decode_cmsd_static(text);
    if let Ok(hops) = openqoe_cmcd::decode_cmsd_dynamic(text) {
        let again = openqoe_cmcd::decode_cmsd_dynamic(&openqoe_cmcd::encode_cmsd_dynamic(&hops))
            .expect("encoded hops decode");
        assert_eq!(
            again.len(),
            hops.iter().filter(|h| sfv_string_ok(&h.server)).count()
        );
    }
    // Any body: the records that decode map to batches the wire parser accepted.
    let records: Vec<_> = decode_event_body(text)
        .into_iter()
        .filter_map(Result::ok)
        .collect();
    let (batches, _) = records_to_batches(&records, ServerTime(1_764_028_800_000));
    assert!(batches
        .iter()
        .all(|b| b.view.id.as_str().starts_with("cmcd-")));
});
