//! Start-up: the write-ahead log replayed into the views, after the hour files were loaded.
use std::path::Path;
use std::sync::atomic::Ordering;

use anyhow::Context;
use openqoe_collect::decode_record;
use openqoe_model::LoggedAt;
use openqoe_wal::{ReplayReport, SegmentLog, SyncObserver, WalConfig};

use super::Pipeline;
use crate::erasure::ErasureLog;
use crate::read_back::read_view_events;

/// The log, open for appends, and what replaying it found.
pub struct Replayed {
    /// The log, positioned after its last good record.
    pub log: SegmentLog,
    /// Records, segments and damage found.
    pub report: ReplayReport,
    /// Records that could not be read back as batches (their events are lost to queries).
    pub unreadable_records: u64,
}

impl Pipeline {
    /// Opens the write-ahead log in `wal_dir` and applies its batches, as ingest did: the expiry
    /// rules run on the log's own clock, a batch whose view's events are out of memory (in an
    /// hour file loaded before) gets them back first, and the batches of erased views received
    /// until their erasure are skipped.
    ///
    /// # Errors
    /// When the log cannot be opened.
    pub fn replay(
        &self,
        wal_dir: &Path,
        config: WalConfig,
        on_sync: SyncObserver,
        erasures: &ErasureLog,
    ) -> anyhow::Result<Replayed> {
        let data_dir = &self.data_dir;
        let mut unreadable_records = 0;
        let mut views = self.views.write();
        let (log, report) = SegmentLog::open(wal_dir, config, on_sync, |at, record| {
            match decode_record(record) {
                Ok(batch) if erasures.erased(&batch.view.id, batch.received_at) => {}
                Ok(mut batch) => {
                    batch.logged_at = LoggedAt::new(at.segment, at.offset);
                    if let Some(newest) = batch.events.iter().map(|e| e.at.0).max() {
                        self.newest_event_at.fetch_max(newest, Ordering::Relaxed);
                    }
                    if batch.received_at.since(views.expired_at) >= 1_000 {
                        drop(views.expire(batch.received_at));
                    }
                    let let_go = views.apply_reading(batch, &mut |id, at| {
                        read_view_events(data_dir, id, at)
                    });
                    drop(let_go);
                }
                Err(e) => {
                    unreadable_records += 1;
                    tracing::error!(error = %e, "write-ahead log record unreadable; its events are lost to queries");
                }
            }
        })
        .with_context(|| format!("opening the write-ahead log in {}", wal_dir.display()))?;
        self.gauges.refresh(&views);
        Ok(Replayed {
            log,
            report,
            unreadable_records,
        })
    }
}
