//! Write-ahead log segment reader: any bytes give intact records and a valid length, never a panic
//! or an allocation driven by a corrupt length field.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let read = openqoe_wal::read_segment(bytes);
    assert!(read.valid_len <= bytes.len());
    assert_eq!(read.stop.is_none(), read.valid_len == bytes.len());
});
