//! Segment file format: a sequence of `[u32 LE length][u32 LE crc32][payload]` records.

/// Bytes before each payload: length and CRC.
pub const RECORD_HEADER_BYTES: usize = 8;
/// Longest payload a record may hold; a longer length field is damage, not an allocation.
pub const MAX_RECORD_BYTES: usize = 64 * 1024 * 1024;

/// Why reading a segment stopped before its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentDamage {
    /// The file ends inside a record header or payload (a write cut short by a crash).
    Torn,
    /// A record's length field is zero (a zero-filled tail) or larger than any record can be.
    BadLength,
    /// A record's payload does not match its CRC.
    BadChecksum,
}

/// What reading a segment found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentRead<'a> {
    /// Every intact record, in order.
    pub records: Vec<&'a [u8]>,
    /// Bytes up to the end of the last intact record.
    pub valid_len: usize,
    /// Why reading stopped early, if it did.
    pub stop: Option<SegmentDamage>,
}

/// Frames one record for appending.
pub fn frame(payload: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// A record header's payload length and CRC, or why it cannot start a record.
pub(crate) fn record_header(
    header: &[u8; RECORD_HEADER_BYTES],
) -> Result<(usize, u32), SegmentDamage> {
    let len = u32::from_le_bytes(header[0..4].try_into().expect("4 bytes")) as usize;
    let crc = u32::from_le_bytes(header[4..8].try_into().expect("4 bytes"));
    if len == 0 || len > MAX_RECORD_BYTES {
        return Err(SegmentDamage::BadLength);
    }
    Ok((len, crc))
}

/// `payload` if it matches its header's `crc`.
pub(crate) fn checked(payload: &[u8], crc: u32) -> Result<&[u8], SegmentDamage> {
    match crc32fast::hash(payload) == crc {
        true => Ok(payload),
        false => Err(SegmentDamage::BadChecksum),
    }
}

impl SegmentRead<'_> {
    /// Each intact record's offset in the segment (records are contiguous from its start).
    pub fn offsets(&self) -> impl Iterator<Item = u64> + '_ {
        self.records.iter().scan(0u64, |at, record| {
            let offset = *at;
            *at += (RECORD_HEADER_BYTES + record.len()) as u64;
            Some(offset)
        })
    }
}

/// Reads the intact records of a segment and where (and why) reading stopped.
pub fn read_segment(bytes: &[u8]) -> SegmentRead<'_> {
    let mut records = Vec::new();
    let mut at = 0;
    let stop = loop {
        let rest = &bytes[at..];
        if rest.is_empty() {
            break None;
        }
        let Some(header) = rest.first_chunk::<RECORD_HEADER_BYTES>() else {
            break Some(SegmentDamage::Torn);
        };
        let (len, crc) = match record_header(header) {
            Ok(header) => header,
            Err(damage) => break Some(damage),
        };
        let Some(payload) = rest.get(RECORD_HEADER_BYTES..RECORD_HEADER_BYTES + len) else {
            break Some(SegmentDamage::Torn);
        };
        match checked(payload, crc) {
            Ok(payload) => records.push(payload),
            Err(damage) => break Some(damage),
        }
        at += RECORD_HEADER_BYTES + len;
    };
    SegmentRead {
        records,
        valid_len: at,
        stop,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(payloads: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        payloads.iter().for_each(|p| frame(p, &mut out));
        out
    }

    #[test]
    fn reads_intact_records_and_names_the_damage() {
        let two = framed(&[b"first", b"second"]);
        let mut bad_crc = two.clone();
        *bad_crc.last_mut().unwrap() ^= 1;
        let mut huge = framed(&[b"first"]);
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        huge.extend_from_slice(&[0; 4]);
        let mut zero_tail = framed(&[b"first"]);
        zero_tail.extend_from_slice(&[0; 16]);
        let cases: [(&str, Vec<u8>, usize, Option<SegmentDamage>); 7] = [
            ("empty", Vec::new(), 0, None),
            ("two records", two.clone(), 2, None),
            (
                "torn header",
                two[..two.len() - 6 - 8 + 3].to_vec(),
                1,
                Some(SegmentDamage::Torn),
            ),
            (
                "torn payload",
                two[..two.len() - 1].to_vec(),
                1,
                Some(SegmentDamage::Torn),
            ),
            ("bad checksum", bad_crc, 1, Some(SegmentDamage::BadChecksum)),
            ("huge length", huge, 1, Some(SegmentDamage::BadLength)),
            // The log never writes empty records, so zeros are a tail the file system extended.
            (
                "zero-filled tail",
                zero_tail,
                1,
                Some(SegmentDamage::BadLength),
            ),
        ];
        for (name, bytes, records, stop) in cases {
            let read = read_segment(&bytes);
            assert_eq!((read.records.len(), read.stop), (records, stop), "{name}");
        }
    }

    proptest::proptest! {
        #[test]
        fn framed_records_read_back(payloads in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 1..300), 0..20)) {
            let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
            let bytes = framed(&refs);
            let read = read_segment(&bytes);
            proptest::prop_assert_eq!(read.records, refs);
            proptest::prop_assert_eq!(read.valid_len, bytes.len());
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            let read = read_segment(&bytes);
            proptest::prop_assert!(read.valid_len <= bytes.len());
        }
    }
}
