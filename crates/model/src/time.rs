//! The two clocks: what the device said, and where that lands on the server's clock.
use serde::{Deserialize, Serialize};

/// A device wall-clock instant, epoch milliseconds, exactly as the beacon sent it.
///
/// Durations between two `ClientTime`s of one view are trustworthy; the absolute value is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ClientTime(pub i64);

/// A server-clock instant, epoch milliseconds: receive times, and client times corrected for skew.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ServerTime(pub i64);

impl ClientTime {
    /// Milliseconds from `earlier` to `self`, never negative.
    pub fn since(self, earlier: ClientTime) -> u64 {
        self.0.saturating_sub(earlier.0).max(0) as u64
    }
}

impl ServerTime {
    /// The server's wall clock now: the one place the process reads it. Pure stages never call
    /// this; they are handed the time.
    pub fn now() -> ServerTime {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        ServerTime(i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX))
    }

    /// Milliseconds from `earlier` to `self`, never negative.
    pub fn since(self, earlier: ServerTime) -> u64 {
        self.0.saturating_sub(earlier.0).max(0) as u64
    }
}
