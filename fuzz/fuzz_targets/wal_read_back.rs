//! Write-ahead log read-back by position: at any offset of any segment bytes, a record or a
//! reason, never a panic; every record the segment reader finds reads back at its offset.
#![no_main]
use libfuzzer_sys::fuzz_target;
use openqoe_wal::{read_records, read_segment, LogPosition};

fuzz_target!(|bytes: &[u8]| {
    let Some((offset, segment)) = bytes.split_first_chunk::<2>() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("openqoe-fuzz-wal-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("wal-00000000000000000001.log"), segment).unwrap();
    let anywhere = LogPosition {
        segment: 1,
        offset: u64::from(u16::from_le_bytes(*offset)),
    };
    if let Err(e) = read_records(&dir, &[anywhere]) {
        assert!(!e.to_string().is_empty(), "every refusal has a reason");
    }
    let read = read_segment(segment);
    let positions: Vec<LogPosition> = read
        .offsets()
        .map(|offset| LogPosition { segment: 1, offset })
        .collect();
    let back = read_records(&dir, &positions).expect("intact records read back");
    assert_eq!(back, read.records);
});
