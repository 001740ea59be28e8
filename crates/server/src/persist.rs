//! The store's files and retention, every `check_seconds`: each settled hour of ended views
//! (and their events) written as Parquet in the data directory, written again when it changes,
//! its views' events then let go from memory (read back from the file when needed), and
//! write-ahead log segments whose batches the files hold removed; views, files and segments
//! older than `retention_days` removed.
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, UNIX_EPOCH};

use openqoe_model::ServerTime;
use openqoe_store::{
    events_schema, file_hour, hour_file, write_parquet_file, StoreConfig, EVENT_ROWS_PER_GROUP,
    PARTITION_MS, VIEW_ROWS_PER_GROUP,
};

use crate::pipeline::Pipeline;

/// `[store]` applied to one data directory.
pub struct Persistence {
    config: StoreConfig,
    data_dir: PathBuf,
    /// Held while hour files are written: the check and an erasure never write one at once.
    writing: Mutex<()>,
}

/// How much older than the oldest batch still needed a segment must be to go: a segment's time
/// is the file system's, a batch's the server clock's at receipt.
const LOG_MARGIN_MS: i64 = 60_000;

impl Persistence {
    /// Files and retention for `data_dir`.
    pub fn new(config: StoreConfig, data_dir: PathBuf) -> Persistence {
        Persistence {
            config,
            data_dir,
            writing: Mutex::new(()),
        }
    }

    /// How often [`Persistence::tick`] runs (`[store] check_seconds`, at least one second).
    pub fn check_interval(&self) -> Duration {
        Duration::from_secs(self.config.check_seconds.max(1))
    }

    /// Writes what is due and removes what is past retention, as of `now`.
    ///
    /// # Errors
    /// The first file that could not be written, read back or removed; every other hour, the
    /// log cut and retention still run.
    pub fn tick(&self, pipeline: &Pipeline, now: ServerTime) -> anyhow::Result<()> {
        let _writing = self.writing.lock().expect("hour writing lock poisoned");
        pipeline.retry_pending();
        let mut failure = None;
        if self.config.parquet {
            let settled = ServerTime(now.0 - self.config.settle_minutes as i64 * 60_000);
            for (hour, version) in pipeline.unwritten_hours(settled) {
                let cutoff = self.config.retention_cutoff(now);
                if cutoff.is_some_and(|cutoff| hour + PARTITION_MS <= cutoff.0) {
                    continue;
                }
                if let Err(e) = self.write_hour(pipeline, hour, version) {
                    failure.get_or_insert(e.context(format!("writing hour {hour}")));
                }
            }
            if let Err(e) = self.cut_log(pipeline, now) {
                failure.get_or_insert(e);
            }
        }
        if let Some(cutoff) = self.config.retention_cutoff(now) {
            if let Err(e) = self.apply_retention(pipeline, cutoff) {
                failure.get_or_insert(e);
            }
        }
        failure.map_or(Ok(()), Err)
    }

    /// Writes again, now, those of `hours` that have files (the others are written when due);
    /// returns how many. For an erasure: the files must not keep erased views until the next
    /// check.
    ///
    /// # Errors
    /// The first hour that could not be written; the others are still written.
    pub fn rewrite_hours(&self, pipeline: &Pipeline, hours: &[i64]) -> anyhow::Result<usize> {
        let _writing = self.writing.lock().expect("hour writing lock poisoned");
        let mut failure = None;
        let mut written = 0;
        for &hour in hours {
            if !hour_file(&self.data_dir, "views", hour).exists() {
                continue;
            }
            let Some(version) = pipeline.hour_version(hour) else {
                continue;
            };
            match self.write_hour(pipeline, hour, version) {
                Ok(()) => written += 1,
                Err(e) => {
                    failure.get_or_insert(e.context(format!("writing hour {hour}")));
                }
            }
        }
        failure.map_or(Ok(written), Err)
    }

    /// Writes hour `hour`'s files as of `version` and lets its events go from memory. The events
    /// file goes first: a views file says its hour is whole (start-up loads by views files).
    fn write_hour(&self, pipeline: &Pipeline, hour: i64, version: u64) -> anyhow::Result<()> {
        let batches = pipeline.hour_batches(hour)?;
        let events = write_parquet_file(
            &hour_file(&self.data_dir, "events", hour),
            &events_schema(),
            &batches.events,
            EVENT_ROWS_PER_GROUP,
        )?;
        let (schema, views) = &batches.views;
        let views_file = hour_file(&self.data_dir, "views", hour);
        let rows = write_parquet_file(&views_file, schema, views, VIEW_ROWS_PER_GROUP)?;
        let released = pipeline.written(hour, version);
        tracing::info!(
            hour,
            views = rows,
            events,
            released,
            "hour written to Parquet; its events let go from memory"
        );
        Ok(())
    }

    /// Removes the log's closed segments that hold only batches the hour files hold: those last
    /// written (a minute's margin) before the oldest batch of any view no file holds.
    fn cut_log(&self, pipeline: &Pipeline, now: ServerTime) -> anyhow::Result<()> {
        let needed = pipeline.log_needed_since().unwrap_or(now);
        let cutoff = UNIX_EPOCH + Duration::from_millis((needed.0 - LOG_MARGIN_MS).max(0) as u64);
        let removed = openqoe_wal::remove_segments_before(&self.data_dir.join("wal"), cutoff)?;
        if !removed.is_empty() {
            tracing::info!(
                segments = removed.len(),
                "write-ahead log segments removed: the hour files hold their batches"
            );
        }
        Ok(())
    }

    fn apply_retention(&self, pipeline: &Pipeline, cutoff: ServerTime) -> anyhow::Result<()> {
        let views = pipeline.drop_before(cutoff);
        let mut files = 0;
        for table in ["views", "events"] {
            let Ok(dates) = std::fs::read_dir(self.data_dir.join(table)) else {
                continue;
            };
            for date in dates.flatten() {
                for file in std::fs::read_dir(date.path())?.flatten() {
                    let path = file.path();
                    if file_hour(&path).is_some_and(|hour| hour + PARTITION_MS <= cutoff.0) {
                        std::fs::remove_file(&path)?;
                        files += 1;
                    }
                }
                // An emptied date folder goes too (fails harmlessly while it holds files).
                let _ = std::fs::remove_dir(date.path());
            }
        }
        // From the start of the cutoff's hour: a segment written before it holds only batches of
        // views dropped above, never one of a view kept (whose events may be read back from it).
        let segments_cutoff = cutoff.0.div_euclid(PARTITION_MS) * PARTITION_MS;
        let cutoff_time = UNIX_EPOCH + Duration::from_millis(segments_cutoff.max(0) as u64);
        let segments =
            openqoe_wal::remove_segments_before(&self.data_dir.join("wal"), cutoff_time)?;
        if views + files + segments.len() > 0 {
            tracing::info!(
                views,
                files,
                segments = segments.len(),
                retention_days = self.config.retention_days,
                "removed data past retention"
            );
        }
        Ok(())
    }
}
