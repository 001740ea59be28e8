//! At most one log line a second for a failure that repeats on every request: an outage of the
//! log refuses every batch, and a line per batch would bury the log at thousands a second. The
//! refusals are all counted anyway (`openqoe_ingest_rejects_total`).
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Which occurrences of a repeating failure get a log line.
#[derive(Debug, Default)]
pub(crate) struct Quiet {
    /// When the last line was written, epoch ms (0: never).
    last_line_ms: AtomicI64,
    /// Occurrences since then that got none.
    unlogged: AtomicU64,
}

/// Milliseconds between two lines.
const LINE_EVERY_MS: i64 = 1_000;

impl Quiet {
    /// Whether the occurrence at `now_ms` gets a line; if so, how many before it got none.
    pub(crate) fn line_at(&self, now_ms: i64) -> Option<u64> {
        let last = self.last_line_ms.load(Ordering::Relaxed);
        let due = last == 0 || now_ms - last >= LINE_EVERY_MS;
        if due
            && self
                .last_line_ms
                .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            return Some(self.unlogged.swap(0, Ordering::Relaxed));
        }
        self.unlogged.fetch_add(1, Ordering::Relaxed);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_a_second_with_the_count_of_the_rest() {
        let quiet = Quiet::default();
        // (at ms, a line?, occurrences without one before it)
        let cases = [
            (1_000_000, Some(0)),
            (1_000_001, None),
            (1_000_500, None),
            (1_000_999, None),
            (1_001_000, Some(3)),
            (1_001_001, None),
            (1_005_000, Some(1)),
        ];
        for (at, line) in cases {
            assert_eq!(quiet.line_at(at), line, "at {at}");
        }
    }
}
