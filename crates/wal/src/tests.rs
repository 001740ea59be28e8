//! The log against real files: concurrency, group commit, torn tails, rotation.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::{EventLog, RecordKey, SegmentLog, WalConfig};

fn open(dir: &std::path::Path, config: WalConfig) -> (SegmentLog, Vec<Vec<u8>>, Arc<AtomicUsize>) {
    let syncs = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&syncs);
    let mut replayed = Vec::new();
    let (log, _) = SegmentLog::open(
        dir,
        config,
        Box::new(move |_, _, _| {
            counter.fetch_add(1, Ordering::Relaxed);
        }),
        |_, r| replayed.push(r.to_vec()),
    )
    .unwrap();
    (log, replayed, syncs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_replay_in_order_and_share_syncs() {
    let dir = tempfile::tempdir().unwrap();
    let (log, replayed, syncs) = open(dir.path(), WalConfig::default());
    assert!(replayed.is_empty());
    let tasks: Vec<_> = (0..32)
        .map(|task| {
            let log = log.clone();
            tokio::spawn(async move {
                for i in 0..50 {
                    log.append(format!("{task}:{i}").into_bytes(), RecordKey::default())
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert!(
        syncs.load(Ordering::Relaxed) < 32 * 50,
        "group commit shares fsyncs"
    );
    drop(log);
    let (_, replayed, _) = open(dir.path(), WalConfig::default());
    assert_eq!(replayed.len(), 32 * 50);
    for task in 0..32 {
        let mine: Vec<String> = replayed
            .iter()
            .map(|r| String::from_utf8(r.clone()).unwrap())
            .filter(|r| r.starts_with(&format!("{task}:")))
            .collect();
        let want: Vec<String> = (0..50).map(|i| format!("{task}:{i}")).collect();
        assert_eq!(mine, want, "task {task} replays in its append order");
    }
}

#[tokio::test]
async fn a_torn_tail_is_cut_and_appends_continue() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _, _) = open(dir.path(), WalConfig::default());
    log.append(b"kept".to_vec(), RecordKey::default())
        .await
        .unwrap();
    drop(log);
    let segment = std::fs::read_dir(dir.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut bytes = std::fs::read(&segment).unwrap();
    bytes.extend_from_slice(&[9, 0, 0, 0, 1, 2]); // a header cut short by a crash
    std::fs::write(&segment, &bytes).unwrap();

    let syncs = Arc::new(AtomicUsize::new(0));
    let mut replayed = Vec::new();
    let (log, report) = SegmentLog::open(
        dir.path(),
        WalConfig::default(),
        Box::new(|_, _, _| {}),
        |_, r| replayed.push(r.to_vec()),
    )
    .unwrap();
    assert_eq!((report.records, report.truncated_tail_bytes), (1, 6));
    log.append(b"after".to_vec(), RecordKey::default())
        .await
        .unwrap();
    drop(log);
    drop(syncs);
    let (_, replayed_again, _) = open(dir.path(), WalConfig::default());
    assert_eq!(replayed_again, vec![b"kept".to_vec(), b"after".to_vec()]);
    assert_eq!(replayed, vec![b"kept".to_vec()]);
}

#[tokio::test]
async fn rotates_segments_and_replays_across_them() {
    let dir = tempfile::tempdir().unwrap();
    let config = WalConfig {
        segment_bytes: 100,
        ..WalConfig::default()
    };
    let (log, _, _) = open(dir.path(), config.clone());
    for i in 0..20u8 {
        log.append(vec![i; 30], RecordKey::default()).await.unwrap();
    }
    drop(log);
    let segments = std::fs::read_dir(dir.path()).unwrap().count();
    assert!(segments > 3, "{segments} segments");
    let (_, replayed, _) = open(dir.path(), config);
    assert_eq!(replayed, (0..20u8).map(|i| vec![i; 30]).collect::<Vec<_>>());
}

#[tokio::test]
async fn refuses_empty_records() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _, _) = open(dir.path(), WalConfig::default());
    assert!(log.append(Vec::new(), RecordKey::default()).await.is_err());
}

#[tokio::test]
async fn retention_removes_old_closed_segments_never_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let small = WalConfig {
        segment_bytes: 64,
        ..WalConfig::default()
    };
    let (log, _, _) = open(dir.path(), small.clone());
    for i in 0..20 {
        log.append(
            format!("record {i:04} with some padding").into_bytes(),
            RecordKey::default(),
        )
        .await
        .unwrap();
    }
    drop(log);
    let segments = || std::fs::read_dir(dir.path()).unwrap().count();
    let before = segments();
    assert!(before > 3, "{before} segments");
    // Nothing is older than a minute ago.
    let minute_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
    assert!(crate::remove_segments_before(dir.path(), minute_ago)
        .unwrap()
        .is_empty());
    // Everything is older than the future, but the newest segment stays.
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
    let removed = crate::remove_segments_before(dir.path(), later).unwrap();
    assert_eq!(removed.len(), before - 1);
    assert_eq!(segments(), 1);
    // The log still opens and appends after its old segments are gone.
    let (log, replayed, _) = open(dir.path(), small);
    assert!(replayed.len() <= 2, "{}", replayed.len());
    log.append(b"after".to_vec(), RecordKey::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn records_read_back_at_their_positions_across_segments() {
    let dir = tempfile::tempdir().unwrap();
    let config = WalConfig {
        segment_bytes: 100,
        ..WalConfig::default()
    };
    let (log, _, _) = open(dir.path(), config.clone());
    let mut positions = Vec::new();
    for i in 0..12u8 {
        positions.push(
            log.append(vec![i; 30 + usize::from(i)], RecordKey::default())
                .await
                .unwrap(),
        );
    }
    assert!(positions.iter().any(|p| p.segment != positions[0].segment));
    // The order asked is the order given back, whatever the segments.
    let asked = [positions[7], positions[0], positions[11], positions[0]];
    let back = crate::read_records(dir.path(), &asked).unwrap();
    let want: Vec<Vec<u8>> = [7u8, 0, 11, 0]
        .iter()
        .map(|&i| vec![i; 30 + usize::from(i)])
        .collect();
    assert_eq!(back, want);
    drop(log);

    // Replay reports the same positions the appends returned.
    let mut replayed = Vec::new();
    SegmentLog::open(dir.path(), config, Box::new(|_, _, _| {}), |at, _| {
        replayed.push(at)
    })
    .unwrap();
    assert_eq!(replayed, positions);

    let off_by_one = crate::LogPosition {
        offset: positions[1].offset + 1,
        ..positions[1]
    };
    let past_end = crate::LogPosition {
        offset: 1 << 20,
        ..positions[1]
    };
    let missing = crate::LogPosition {
        segment: 999,
        offset: 0,
    };
    for (name, at, reason) in [
        ("not a record's start", off_by_one, "Bad"),
        ("past the segment's end", past_end, "Torn"),
        ("segment removed", missing, "wal-00000000000000000999.log"),
    ] {
        let e = crate::read_records(dir.path(), &[at]).unwrap_err();
        assert!(e.to_string().contains(reason), "{name}: {e}");
    }
}

#[tokio::test]
async fn a_failed_segment_is_left_and_appends_recover_once_the_cause_is_gone() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("wal");
    let aside = parent.path().join("wal-aside");
    std::fs::create_dir(&dir).unwrap();
    // A segment per commit, so every append opens a file in the directory.
    let config = WalConfig {
        segment_bytes: 1,
        ..WalConfig::default()
    };
    let (log, _, _) = open(&dir, config.clone());
    log.append(b"before".to_vec(), RecordKey::default())
        .await
        .unwrap();
    assert_eq!(log.unavailable(), None);

    // The directory is gone (as a full disk or no file descriptors would make it unwritable).
    std::fs::rename(&dir, &aside).unwrap();
    assert!(log
        .append(b"refused".to_vec(), RecordKey::default())
        .await
        .is_err());
    let reason = log
        .unavailable()
        .expect("the log says why it takes no writes");
    assert!(reason.contains("No such file"), "{reason}");
    assert!(matches!(
        log.append(b"still refused".to_vec(), RecordKey::default())
            .await,
        Err(crate::AppendError::Poisoned(_))
    ));

    // Back: the writer recovers by itself, without an append, within its recovery interval.
    std::fs::rename(&aside, &dir).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while log.unavailable().is_some() {
        assert!(std::time::Instant::now() < deadline, "the log recovers");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    log.append(b"after".to_vec(), RecordKey::default())
        .await
        .unwrap();
    drop(log);
    let (_, replayed, _) = open(&dir, config);
    assert_eq!(
        replayed,
        [b"before".to_vec(), b"after".to_vec()],
        "only what was acknowledged"
    );
}
