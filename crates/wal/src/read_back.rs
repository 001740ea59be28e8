//! Reading records back at the positions their appends returned: what is no longer held in
//! memory (an ended view's batches) is read from the log until a file holds it.
use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::log::segment_path;
use crate::segment::{checked, record_header, RECORD_HEADER_BYTES};
use crate::{LogPosition, SegmentDamage};

/// Why a record could not be read back at its position.
#[derive(Debug, thiserror::Error)]
pub enum ReadBackError {
    /// The segment cannot be opened or read (removed by retention, or an i/o error).
    #[error("{path}: {source}")]
    Io {
        /// The segment file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The bytes at the position are not an intact record.
    #[error("{path} at byte {offset}: {damage:?}")]
    Damaged {
        /// The segment file.
        path: PathBuf,
        /// The record's position in it.
        offset: u64,
        /// What is wrong with it.
        damage: SegmentDamage,
    },
}

/// Reads the records at `positions` in the log in `dir`, in the order given, opening each
/// segment once. Every record's length and CRC are checked again.
///
/// # Errors
/// [`ReadBackError`] for the first position whose segment is missing or unreadable, or whose
/// bytes are not an intact record.
pub fn read_records(dir: &Path, positions: &[LogPosition]) -> Result<Vec<Vec<u8>>, ReadBackError> {
    let mut segments: HashMap<u64, (PathBuf, File)> = HashMap::new();
    let mut records = Vec::with_capacity(positions.len());
    for position in positions {
        let (path, file) = match segments.entry(position.segment) {
            std::collections::hash_map::Entry::Occupied(open) => open.into_mut(),
            std::collections::hash_map::Entry::Vacant(slot) => {
                let path = segment_path(dir, position.segment);
                let file = File::open(&path).map_err(|source| ReadBackError::Io {
                    path: path.clone(),
                    source,
                })?;
                slot.insert((path, file))
            }
        };
        let damaged = |damage| ReadBackError::Damaged {
            path: path.clone(),
            offset: position.offset,
            damage,
        };
        let read_at = |buffer: &mut [u8], offset: u64| match file.read_exact_at(buffer, offset) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                Err(damaged(SegmentDamage::Torn))
            }
            Err(source) => Err(ReadBackError::Io {
                path: path.clone(),
                source,
            }),
        };
        let mut header = [0u8; RECORD_HEADER_BYTES];
        read_at(&mut header, position.offset)?;
        let (len, crc) = record_header(&header).map_err(damaged)?;
        let mut payload = vec![0u8; len];
        read_at(&mut payload, position.offset + RECORD_HEADER_BYTES as u64)?;
        checked(&payload, crc).map_err(damaged)?;
        records.push(payload);
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::frame;

    proptest::proptest! {
        /// Records framed into a segment read back at their offsets; any other offset, or any
        /// bytes, give records or a reason, never a panic.
        #[test]
        fn records_read_back_at_their_offsets(
            payloads in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 1..200), 1..12),
            garbage in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
            offsets in proptest::collection::vec(0u64..3_000, 0..8),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let mut bytes = Vec::new();
            let mut positions = Vec::new();
            for payload in &payloads {
                positions.push(LogPosition { segment: 7, offset: bytes.len() as u64 });
                frame(payload, &mut bytes);
            }
            bytes.extend_from_slice(&garbage);
            std::fs::write(segment_path(dir.path(), 7), &bytes).unwrap();
            proptest::prop_assert_eq!(read_records(dir.path(), &positions).unwrap(), payloads);
            for offset in offsets {
                let at = [LogPosition { segment: 7, offset }];
                if let Err(e) = read_records(dir.path(), &at) {
                    proptest::prop_assert!(!e.to_string().is_empty());
                }
            }
        }
    }
}
