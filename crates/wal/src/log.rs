//! `SegmentLog`: appends from many tasks, one writer thread, one fsync per group.
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::segment::{frame, read_segment, MAX_RECORD_BYTES};
use crate::{AppendError, EventLog, LogPosition, RecordKey, WalConfig, WalError};

/// Called after each group commit with its fsync duration, record count and bytes (for `/metrics`).
pub type SyncObserver = Box<dyn Fn(Duration, usize, usize) + Send + Sync>;

/// What replaying the log found at open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayReport {
    /// Segment files read.
    pub segments: usize,
    /// Intact records handed to the replay callback.
    pub records: u64,
    /// Their payload bytes.
    pub bytes: u64,
    /// Bytes cut from the end of the last segment: a write torn by a crash, never acknowledged.
    pub truncated_tail_bytes: u64,
    /// Damaged records inside earlier segments: acknowledged data that could not be read.
    pub corrupt_records: u64,
}

struct Append {
    record: Vec<u8>,
    done: oneshot::Sender<Result<LogPosition, AppendError>>,
}

/// The write-ahead log in one directory; clones share one writer thread, which exits once the
/// last clone is dropped and its queue is drained.
#[derive(Clone)]
pub struct SegmentLog {
    appends: mpsc::Sender<Append>,
    /// Why the log takes no writes now, while it does not.
    unavailable: Arc<Mutex<Option<String>>>,
}

/// How often the writer tries to recover after a failure while no append comes to try it.
const RECOVERY_INTERVAL: Duration = Duration::from_secs(1);

impl SegmentLog {
    /// Why the log cannot make anything durable now (after a failed write, sync or new
    /// segment, until it has recovered), or `None` while it can.
    pub fn unavailable(&self) -> Option<String> {
        self.unavailable
            .lock()
            .expect("wal status lock poisoned")
            .clone()
    }
}

pub(crate) fn segment_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("wal-{number:020}.log"))
}

fn segment_numbers(dir: &Path) -> Result<Vec<u64>, WalError> {
    let mut numbers = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| WalError::io(dir, e))? {
        let entry = entry.map_err(|e| WalError::io(dir, e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if let Some(number) = name
            .strip_prefix("wal-")
            .and_then(|n| n.strip_suffix(".log"))
        {
            if let Ok(number) = number.parse() {
                numbers.push(number);
            }
        }
    }
    numbers.sort_unstable();
    Ok(numbers)
}

fn sync_dir(dir: &Path) -> Result<(), WalError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| WalError::io(dir, e))
}

/// Removes closed segments (never the newest, which the writer appends to) last written before
/// `cutoff`: retention. Returns the segment numbers removed.
///
/// # Errors
/// [`WalError`] when the directory cannot be read or a segment cannot be removed.
pub fn remove_segments_before(
    dir: &Path,
    cutoff: std::time::SystemTime,
) -> Result<Vec<u64>, WalError> {
    let numbers = segment_numbers(dir)?;
    let Some((_, closed)) = numbers.split_last() else {
        return Ok(Vec::new());
    };
    let mut removed = Vec::new();
    for &number in closed {
        let path = segment_path(dir, number);
        let written = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .map_err(|e| WalError::io(&path, e))?;
        if written < cutoff {
            std::fs::remove_file(&path).map_err(|e| WalError::io(&path, e))?;
            removed.push(number);
        }
    }
    if !removed.is_empty() {
        sync_dir(dir)?;
    }
    Ok(removed)
}

impl SegmentLog {
    /// Opens or creates the log in `dir`, handing every intact record and where it is to
    /// `replay`, in append order.
    ///
    /// # Errors
    /// [`WalError`] when the directory or a segment cannot be read, or the tail cannot be cut.
    pub fn open(
        dir: &Path,
        config: WalConfig,
        on_sync: SyncObserver,
        mut replay: impl FnMut(LogPosition, &[u8]),
    ) -> Result<(SegmentLog, ReplayReport), WalError> {
        std::fs::create_dir_all(dir).map_err(|e| WalError::io(dir, e))?;
        let numbers = segment_numbers(dir)?;
        let mut report = ReplayReport {
            segments: numbers.len(),
            ..ReplayReport::default()
        };
        for (i, &number) in numbers.iter().enumerate() {
            let path = segment_path(dir, number);
            let bytes = std::fs::read(&path).map_err(|e| WalError::io(&path, e))?;
            let read = read_segment(&bytes);
            for (record, offset) in read.records.iter().zip(read.offsets()) {
                replay(
                    LogPosition {
                        segment: number,
                        offset,
                    },
                    record,
                );
                report.records += 1;
                report.bytes += record.len() as u64;
            }
            let last = i + 1 == numbers.len();
            match read.stop {
                None => {}
                Some(damage) if last => {
                    // A torn tail was never acknowledged: cut it so appends continue after intact data.
                    let cut = (bytes.len() - read.valid_len) as u64;
                    tracing::warn!(segment = %path.display(), ?damage, bytes = cut, "cutting a torn write-ahead log tail");
                    let file = OpenOptions::new()
                        .write(true)
                        .open(&path)
                        .map_err(|e| WalError::io(&path, e))?;
                    file.set_len(read.valid_len as u64)
                        .and_then(|()| file.sync_all())
                        .map_err(|e| WalError::io(&path, e))?;
                    report.truncated_tail_bytes += cut;
                }
                Some(damage) => {
                    report.corrupt_records += 1;
                    tracing::error!(segment = %path.display(), ?damage, offset = read.valid_len,
                        "write-ahead log segment damaged; records after this offset are lost");
                }
            }
        }
        let number = numbers.last().copied().unwrap_or(1);
        let path = segment_path(dir, number);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| WalError::io(&path, e))?;
        if numbers.is_empty() {
            sync_dir(dir)?;
        }
        let offset = file.metadata().map_err(|e| WalError::io(&path, e))?.len();
        let unavailable = Arc::new(Mutex::new(None));
        let writer = Writer {
            dir: dir.to_owned(),
            config,
            on_sync,
            file,
            number,
            offset,
            failed: None,
            unavailable: Arc::clone(&unavailable),
        };
        let (appends, receiver) = mpsc::channel();
        std::thread::Builder::new()
            .name("openqoe-wal".into())
            .spawn(move || writer.run(receiver))
            .map_err(|e| WalError::io(dir, e))?;
        Ok((
            SegmentLog {
                appends,
                unavailable,
            },
            report,
        ))
    }
}

impl EventLog for SegmentLog {
    async fn append(
        &self,
        record: Vec<u8>,
        _key: RecordKey<'_>,
    ) -> Result<LogPosition, AppendError> {
        if record.is_empty() || record.len() > MAX_RECORD_BYTES {
            return Err(AppendError::RecordSize(record.len()));
        }
        let (done, answer) = oneshot::channel();
        self.appends
            .send(Append { record, done })
            .map_err(|_| AppendError::Closed)?;
        answer.await.map_err(|_| AppendError::Closed)?
    }
}

/// The writer thread's state: the open segment and where it ends.
struct Writer {
    dir: PathBuf,
    config: WalConfig,
    on_sync: SyncObserver,
    file: File,
    number: u64,
    /// Where the segment's durable records end.
    offset: u64,
    /// Set after a failed write, fsync or new segment: the segment is not written again (the
    /// kernel may have dropped its dirty pages, so a later fsync succeeding would prove
    /// nothing); appends are refused until a fresh segment is open.
    failed: Option<String>,
    /// What [`SegmentLog::unavailable`] reads.
    unavailable: Arc<Mutex<Option<String>>>,
}

impl Writer {
    fn run(mut self, appends: mpsc::Receiver<Append>) {
        let mut buffer = Vec::new();
        loop {
            let first = if self.failed.is_some() {
                // Recover on time too: clients back off and probes stop sending traffic, so
                // waiting for an append could wait for ever.
                match appends.recv_timeout(RECOVERY_INTERVAL) {
                    Ok(first) => first,
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        self.recover();
                        continue;
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            } else {
                match appends.recv() {
                    Ok(first) => first,
                    Err(_) => break,
                }
            };
            // Group commit: everything already queued rides on this one fsync.
            let mut group = vec![first];
            let mut bytes = group[0].record.len();
            while bytes < self.config.max_group_bytes {
                match appends.try_recv() {
                    Ok(next) => {
                        bytes += next.record.len();
                        group.push(next);
                    }
                    Err(_) => break,
                }
            }
            let outcome = self.commit(&group, &mut buffer);
            for (append, position) in group.into_iter().zip(outcome) {
                let _ = append.done.send(position);
            }
        }
    }

    fn commit(
        &mut self,
        group: &[Append],
        buffer: &mut Vec<u8>,
    ) -> Vec<Result<LogPosition, AppendError>> {
        if self.failed.is_some() {
            self.recover();
        }
        if let Some(reason) = &self.failed {
            return group
                .iter()
                .map(|_| Err(AppendError::Poisoned(reason.clone())))
                .collect();
        }
        if self.offset >= self.config.segment_bytes {
            if let Err(e) = self.rotate() {
                self.fail(e.to_string());
                return group
                    .iter()
                    .map(|_| Err(AppendError::Io(e.to_string())))
                    .collect();
            }
        }
        buffer.clear();
        let mut positions = Vec::with_capacity(group.len());
        for append in group {
            positions.push(LogPosition {
                segment: self.number,
                offset: self.offset + buffer.len() as u64,
            });
            frame(&append.record, buffer);
        }
        let started = Instant::now();
        let written = self
            .file
            .write_all(buffer)
            .and_then(|()| self.file.sync_data());
        match written {
            Ok(()) => {
                (self.on_sync)(started.elapsed(), group.len(), buffer.len());
                self.offset += buffer.len() as u64;
                positions.into_iter().map(Ok).collect()
            }
            Err(e) => {
                self.fail(e.to_string());
                group
                    .iter()
                    .map(|_| Err(AppendError::Io(e.to_string())))
                    .collect()
            }
        }
    }

    /// Stops trusting the open segment: appends are refused until [`Writer::recover`] opens a
    /// fresh one.
    fn fail(&mut self, reason: String) {
        tracing::error!(error = %reason, "write-ahead log failed; refusing appends until a fresh segment opens");
        *self.unavailable.lock().expect("wal status lock poisoned") = Some(reason.clone());
        self.failed = Some(reason);
    }

    /// After a failure: cuts the failed segment back to its durable records (best effort: what
    /// is left past them was never acknowledged, and a retried batch is de-duplicated) and
    /// continues in a fresh segment; nothing written before is trusted any more than it was.
    fn recover(&mut self) {
        let _ = self
            .file
            .set_len(self.offset)
            .and_then(|()| self.file.sync_all());
        match self.rotate() {
            Ok(()) => {
                tracing::warn!(
                    segment = self.number,
                    "write-ahead log recovered: appending to a fresh segment"
                );
                self.failed = None;
                *self.unavailable.lock().expect("wal status lock poisoned") = None;
            }
            Err(e) => {
                let reason = e.to_string();
                *self.unavailable.lock().expect("wal status lock poisoned") = Some(reason.clone());
                self.failed = Some(reason);
            }
        }
    }

    fn rotate(&mut self) -> Result<(), WalError> {
        let next = self.number + 1;
        let path = segment_path(&self.dir, next);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| WalError::io(&path, e))?;
        sync_dir(&self.dir)?;
        self.file = file;
        self.number = next;
        self.offset = 0;
        Ok(())
    }
}
