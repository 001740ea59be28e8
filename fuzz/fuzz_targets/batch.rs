//! Wire v1 batch parser: any body is either a batch or an error naming where and why; a parsed
//! batch re-encodes to a body that parses to the same batch.
#![no_main]
use libfuzzer_sys::fuzz_target;
use openqoe_model::{Batch, ServerTime};

fuzz_target!(|body: &[u8]| {
    match Batch::parse(body, ServerTime(1_764_028_800_000)) {
        Ok(batch) => {
            let again = Batch::parse(
                batch.to_wire_json().to_string().as_bytes(),
                batch.received_at,
            )
            .expect("a parsed batch re-encodes to a valid body");
            assert_eq!(again.events, batch.events);
        }
        Err(e) => assert!(!e.reason.is_empty(), "every rejection has a reason"),
    }
});
