//! Wire v1 batch parser: any body is either a batch or an error naming where and why; a parsed
//! batch re-encodes to a body that parses to the same batch, and so does the body as received
//! with its header pseudonymised (`[privacy]`, how the log keeps such a batch).
#![no_main]
use libfuzzer_sys::fuzz_target;
use openqoe_model::{Batch, Privacy, PrivacyConfig, ServerTime};

fuzz_target!(|body: &[u8]| {
    match Batch::parse_spanned(body, ServerTime(1_764_028_800_000)) {
        Ok((mut batch, view_at)) => {
            let again = Batch::parse(
                batch.to_wire_json().to_string().as_bytes(),
                batch.received_at,
            )
            .expect("a parsed batch re-encodes to a valid body");
            assert_eq!(again.events, batch.events);

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
