//! Wire v1 batch parser: any body is either a batch or an error naming where and why; a parsed
//! batch re-encodes to a body that parses to the same batch (the same events, field for field:
//! the encoding orders an event's members anew, so its text may differ), and the body as
//! received with its header pseudonymised (`[privacy]`, how the log keeps such a batch) parses
//! to the very same events, text included.
#![no_main]
use libfuzzer_sys::fuzz_target;
use openqoe_model::{Batch, Event, Privacy, PrivacyConfig, ServerTime};

/// The same events, member for member, whatever the order of the members in their text.
fn same_fields(a: &[Event], b: &[Event]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            (x.seq, x.ts, x.at) == (y.seq, y.ts, y.at) && x.kind == y.kind && x.fields() == y.fields()
        })
}

fuzz_target!(|body: &[u8]| {
    match Batch::parse_spanned(body, ServerTime(1_764_028_800_000)) {
        Ok((mut batch, view_at)) => {
            let again = Batch::parse(
                batch.to_wire_json().to_string().as_bytes(),
                batch.received_at,
            )
            .expect("a parsed batch re-encodes to a valid body");
            assert!(
                same_fields(&again.events, &batch.events),
                "re-encoded: {:?} vs {:?}",
                again.events,
                batch.events
            );

            let config = PrivacyConfig {
                hash_props: vec!["cdn".into(), "user_email".into()],
                drop_props: vec!["note".into()],
                ..PrivacyConfig::default()
            };
            let privacy = Privacy::new(&config, b"fuzz").expect("a valid policy");
            privacy.apply(&mut batch.view);
            let rewritten = batch.body_with_header(body, &view_at);
            let again = Batch::parse(&rewritten, batch.received_at)
                .expect("the body with its header pseudonymised parses");
            assert_eq!(again.view, batch.view);
            assert_eq!(again.events, batch.events);
        }
        Err(e) => assert!(!e.reason.is_empty(), "every rejection has a reason"),
    }
});
