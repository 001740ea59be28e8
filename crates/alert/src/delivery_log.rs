//! The log of delivery attempts: what each attempt for an alert came to, the newest kept.
use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use serde::Serialize;

use crate::notice::NoticeStatus;

/// Delivery records kept over all alerts; the oldest go first.
pub(crate) const LOG_CAPACITY: usize = 10_000;

/// Why a delivery was made.
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Purpose {
    /// A notice to a destination a rule routes to.
    Notify,
    /// A call of a rule's action hook.
    Action,
}

/// What came of one delivery attempt.
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The destination accepted the notice (2xx).
    Delivered,
    /// The attempt failed in a way worth retrying; another attempt follows.
    Retrying,
    /// Given up: attempts exhausted, a refusal not worth retrying (4xx), or never attempted.
    Failed,
}

/// What happened to one delivery attempt (kept for the alert's log, shown in the API).
#[derive(Serialize, Clone, Debug)]
pub struct DeliveryRecord {
    /// The alert the notice belongs to.
    pub alert_id: String,
    /// The destination's name, or the action hook's name.
    pub destination: String,
    /// Whether this was a notice or an action.
    pub purpose: Purpose,
    /// The lifecycle state the notice carried.
    pub status: NoticeStatus,
    /// Attempt number from 1; 0 when the delivery was refused before any attempt.
    pub attempt: u32,
    /// When the attempt ended, in epoch milliseconds.
    pub at_ms: i64,
    /// The destination's answer, if one came.
    pub http_status: Option<u16>,
    /// Why the attempt failed, if it did.
    pub error: Option<String>,
    /// What came of the attempt.
    pub outcome: Outcome,
}

/// The most recent delivery records of all alerts, bounded.
pub(crate) struct DeliveryLog {
    records: Mutex<VecDeque<DeliveryRecord>>,
    capacity: usize,
}

impl DeliveryLog {
    /// An empty log keeping at most `capacity` records.
    pub(crate) fn new(capacity: usize) -> DeliveryLog {
        DeliveryLog {
            records: Mutex::new(VecDeque::new()),
            capacity,
        }
    }

    /// Adds `record`, dropping the oldest when full.
    pub(crate) fn push(&self, record: DeliveryRecord) {
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        if records.len() >= self.capacity {
            records.pop_front();
        }
        records.push_back(record);
    }

    /// The records of alert `alert_id`, oldest first.
    pub(crate) fn for_alert(&self, alert_id: &str) -> Vec<DeliveryRecord> {
        let records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        records
            .iter()
            .filter(|record| record.alert_id == alert_id)
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_keeps_the_newest_records() {
        let log = DeliveryLog::new(2);
        for attempt in 1..=3 {
            log.push(DeliveryRecord {
                alert_id: "a-1".into(),
                destination: "ops".into(),
                purpose: Purpose::Notify,
                status: NoticeStatus::Firing,
                attempt,
                at_ms: 0,
                http_status: Some(503),
                error: None,
                outcome: Outcome::Retrying,
            });
        }
        let attempts: Vec<u32> = log
            .for_alert("a-1")
            .iter()
            .map(|record| record.attempt)
            .collect();
        assert_eq!(attempts, [2, 3]);
        assert!(log.for_alert("a-2").is_empty());
    }
}
