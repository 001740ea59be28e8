//! Which partition a view's batches go to: the same on every collector, in every version.

/// The partition of view `view` among `partitions`: FNV-1a (64-bit) of the id's bytes modulo
/// the count. Stable across processes and builds, unlike the standard library's hasher, whose
/// keys are random per process.
pub fn partition_of(view: &str, partitions: u16) -> u16 {
    // FNV-1a's published 64-bit offset basis and prime.
    let hash = view.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    (hash % u64::from(partitions.max(1))) as u16
}

/// The subject of partition `partition`.
pub fn subject_of(partition: u16) -> String {
    format!("oq.events.{partition}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fnv1a_as_published() {
        // FNV-1a 64 test vectors: "" → cbf29ce484222325, "a" → af63dc4c8601ec8c.
        assert_eq!(
            partition_of("", u16::MAX),
            (0xcbf2_9ce4_8422_2325_u64 % 65_535) as u16
        );
        assert_eq!(
            partition_of("a", u16::MAX),
            (0xaf63_dc4c_8601_ec8c_u64 % 65_535) as u16
        );
        assert_eq!(subject_of(7), "oq.events.7");
    }

    #[test]
    fn views_spread_over_every_partition() {
        let mut counts = [0_u32; 16];
        for view in 0..16_000 {
            counts[usize::from(partition_of(&format!("view-{view}"), 16))] += 1;
        }
        assert!(
            counts.iter().all(|&c| (800..1_200).contains(&c)),
            "{counts:?}"
        );
    }

    proptest! {
        #[test]
        fn a_partition_is_in_range(view in "[A-Za-z0-9_.-]{1,64}", partitions in 1_u16..1024) {
            prop_assert!(partition_of(&view, partitions) < partitions);
        }
    }
}
