//! Replay's record decoder: any record is a batch or a clear error.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|record: &[u8]| {
    if let Err(e) = openqoe_collect::decode_record(record) {
        assert!(!e.to_string().is_empty());
    }
});
