//! The view store against its files: events let go and read back, loaded hours, damaged files.
use arrow_array::RecordBatch;
use openqoe_model::{Batch, Event, LoggedAt, ServerTime, View, ViewId};

use super::*;

/// An ended view `id` with `events` events, the first at `start` (server clock, no skew).
fn ended_view(id: &str, start: i64, events: u64) -> View {
    let events: Vec<serde_json::Value> = (0..events)
        .map(|seq| {
            let kind = if seq + 1 == events {
                "view_end"
            } else {
                "heartbeat"
            };
            serde_json::json!({"seq": seq, "ts": start + seq as i64 * 1_000, "type": kind})
        })
        .collect();
    let body = serde_json::json!({"v": 1, "view": {"id": id}, "events": events});
    let batch = Batch::parse(body.to_string().as_bytes(), ServerTime(start)).unwrap();
    let mut view = View::new(&batch.view, batch.received_at);
    view.merge(batch);
    let last = view.events.values().next_back().unwrap();
    view.end = Some(openqoe_model::ViewEnd {
        reason: openqoe_model::EndReason::ViewEnd,
        ts: last.ts,
        at: last.at,
        last_seq: last.seq,
    });
    view
}

#[test]
fn a_written_hour_lets_events_go_and_takes_them_back() {
    let mut store = ViewStore::new();
    let id = ViewId::new("a").unwrap();
    store.insert(ended_view("a", 1_000, 3));
    store.insert(ended_view("b", PARTITION_MS + 1_000, 2));
    let released = |store: &mut ViewStore| -> usize {
        store.release_hour(0).iter().map(ReleasedEvents::len).sum()
    };
    assert_eq!(
        released(&mut store),
        0,
        "an unwritten hour keeps its events"
    );

    assert_eq!(
        store.unwritten_since(),
        Some(ServerTime(1_000)),
        "the first batch"
    );
    let (_, version) = store.table().unwritten_hours(PARTITION_MS)[0];
    store.mark_written(0, version);
    assert_eq!(released(&mut store), 3);
    assert_eq!(released(&mut store), 0, "released once");
    assert_eq!(store.released_events(), 3);
    assert_eq!(store.released_to(&id), Some(EventsAt::HourFile(0)));
    assert_eq!(
        store.released_in(0),
        vec![(id.clone(), EventsAt::HourFile(0))]
    );
    let slim = &store.get(&id).unwrap().view;
    assert!(slim.events.is_empty());
    assert_eq!(
        slim.started_at(),
        Some(ServerTime(1_000)),
        "start stays known"
    );

    let events: Vec<Event> = ended_view("a", 1_000, 3).events.into_values().collect();
    store.restore(&id, events, ServerTime(9_000));
    assert_eq!(store.unwritten_since(), Some(ServerTime(9_000)));
    assert_eq!(store.released_to(&id), None);
    assert_eq!(store.released_events(), 0);
    assert_eq!(store.get(&id).unwrap().view.events.len(), 3);

    store.mark_written(0, version);
    store.release_hour(0);
    assert_eq!(store.drop_before(ServerTime(PARTITION_MS)), 1);
    assert_eq!(
        store.released_events(),
        0,
        "dropped views' events are not counted"
    );
}

/// `view` as if each of its events had come in its own logged batch.
fn logged(mut view: View) -> View {
    let records: Vec<LoggedAt> = (0..view.events.len() as u32)
        .map(|i| LoggedAt {
            segment: 1,
            offset: i * 100,
        })
        .collect();
    view.logged = Some(records);
    view
}

#[test]
fn ended_views_in_the_log_let_events_go_after_the_hold_until_their_hour_is_written() {
    let mut store = ViewStore::holding(Hold {
        events_ms: 0,
        minute_ms: 5_000,
        counts_ms: 2_000,
    });
    let a = ViewId::new("a").unwrap();
    // Ends at 1_000 + 2 s, 3_000 + 1 s and 2_000 + 3 s; "c" (an idle end, say) comes last.
    store.insert(logged(ended_view("a", 1_000, 3)));
    store.insert(logged(ended_view("b", 3_000, 2)));
    store.insert(ended_view("unlogged", 1_000, 2));
    store.insert(logged(ended_view("c", 2_000, 4)));
    let total = |released: Vec<ReleasedEvents>| -> usize { released.iter().map(|e| e.len()).sum() };

    assert_eq!(
        total(store.release_ended(ServerTime(3_000))),
        0,
        "none ended before"
    );
    assert_eq!(total(store.release_ended(ServerTime(3_001))), 3, "a only");
    let (from, _) = store.recent_counts(&a).expect("a's last minutes are kept");
    assert_eq!(
        from,
        ServerTime(0),
        "from 2 s before its end, in whole minutes"
    );
    assert!(matches!(store.released_to(&a), Some(EventsAt::Log(records)) if records.len() == 3));
    assert_eq!(
        store.unwritten_since(),
        Some(ServerTime(1_000)),
        "a still needs the log"
    );
    // b ended at 4_000 and holds c back: the queue is in insertion order.
    assert_eq!(total(store.release_ended(ServerTime(4_000))), 0);
    assert_eq!(total(store.release_ended(ServerTime(10_000))), 6, "b and c");
    assert!(
        store.recent_counts(&a).is_none(),
        "kept until counts_ms after the end"
    );
    assert!(
        store.recent_counts(&ViewId::new("b").unwrap()).is_none(),
        "b let go past counts_ms: nothing to keep"
    );
    assert_eq!(
        total(store.release_ended(ServerTime(99_000))),
        0,
        "released once"
    );
    assert_eq!(store.released_events(), 9);
    assert_eq!(
        store
            .get(&ViewId::new("unlogged").unwrap())
            .unwrap()
            .view
            .events
            .len(),
        2,
        "a view not wholly in the log keeps its events until its hour is written"
    );

    // Read back from the log for a late batch: the view is unwritten since its first batch,
    // and goes back on the queue.
    let events: Vec<Event> = ended_view("a", 1_000, 3).events.into_values().collect();
    store.restore(&a, events, ServerTime(50_000));
    assert_eq!(store.released_to(&a), None);
    assert_eq!(store.unwritten_since(), Some(ServerTime(1_000)));
    let late = Batch::parse(
        br#"{"v":1,"view":{"id":"a"},"events":[{"seq":3,"ts":4000,"type":"heartbeat"}]}"#,
        ServerTime(50_000),
    )
    .map(|mut batch| {
        batch.logged_at = Some(LoggedAt {
            segment: 2,
            offset: 0,
        });
        batch
    })
    .unwrap();
    store.merge_late(late).unwrap();
    assert_eq!(total(store.release_ended(ServerTime(99_000))), 4);
    assert!(matches!(store.released_to(&a), Some(EventsAt::Log(records)) if records.len() == 4));

    // Once the hour is written, the file holds them and the log is no longer needed.
    let (_, version) = store.table().unwritten_hours(PARTITION_MS)[0];
    store.mark_written(0, version);
    assert_eq!(
        total(store.release_hour(0)),
        2,
        "the unlogged view's events"
    );
    assert_eq!(store.released_to(&a), Some(EventsAt::HourFile(0)));
    assert_eq!(store.unwritten_since(), None);
}

#[test]
fn a_loaded_hour_keeps_its_rows_starts_and_first_copies() {
    let mut store = ViewStore::new();
    // The view's first event is in the hour before: a late lower-seq event moved it after
    // its row was made; the row's start (from the file) keeps it in this hour.
    let moved = ended_view("moved", PARTITION_MS - 5_000, 4);
    let plain = ended_view("plain", PARTITION_MS + 7_000, 3);
    let (released, duplicates) = store.load_hour(
        PARTITION_MS,
        vec![
            (PARTITION_MS + 1_000, moved),
            (PARTITION_MS + 7_000, plain.clone()),
        ],
    );
    assert_eq!(duplicates, 0);
    assert_eq!(released.iter().map(ReleasedEvents::len).sum::<usize>(), 7);
    assert_eq!(
        store.table().hour_of(&ViewId::new("moved").unwrap()),
        Some(PARTITION_MS)
    );
    assert!(store.table().is_written(PARTITION_MS));
    assert_eq!(store.released_events(), 7);

    let version = store.hour_version(PARTITION_MS);
    let (_, duplicates) = store.load_hour(PARTITION_MS, vec![(PARTITION_MS + 7_000, plain)]);
    assert_eq!(duplicates, 1, "a second copy is skipped");
    assert_eq!(store.hour_version(PARTITION_MS), version);
    assert_eq!(store.released_events(), 7);
}

#[test]
fn one_view_is_read_back_from_a_file_of_many_row_groups() {
    let views: Vec<View> = (0..40)
        .map(|i| ended_view(&format!("v{i:03}"), 1_000 + i * 10, 5))
        .collect();
    let events: Vec<(&ViewId, &Event)> = views
        .iter()
        .flat_map(|view| view.events.values().map(move |event| (&view.id, event)))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.parquet");
    let batch = events_batch(&events).unwrap();
    // Groups of 7 rows: views straddle groups, and most groups hold none of the ids asked.
    write_parquet_file(&path, &events_schema(), &[batch], 7).unwrap();

    let ids: std::collections::HashSet<ViewId> = ["v000", "v017", "v039", "zzz"]
        .into_iter()
        .map(|id| ViewId::new(id).unwrap())
        .collect();
    let rows = read_event_rows(&path, Some(&ids)).unwrap();
    let back = events_by_view(&rows).unwrap();
    assert_eq!(back.len(), 3, "v000, v017 and v039; zzz is not in the file");
    for id in ["v000", "v017", "v039"] {
        let seqs: Vec<u64> = back[&ViewId::new(id).unwrap()]
            .iter()
            .map(|e| e.seq.0)
            .collect();
        assert_eq!(seqs, [0, 1, 2, 3, 4], "{id}");
    }
    let all = read_event_rows(&path, None).unwrap();
    assert_eq!(all.iter().map(RecordBatch::num_rows).sum::<usize>(), 200);
}

#[test]
fn damaged_hour_files_are_refused_with_a_reason() {
    let view = ended_view("a", 5_000, 40);
    let events: Vec<(&ViewId, &Event)> = view.events.values().map(|e| (&view.id, e)).collect();
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.parquet");
    write_parquet_file(
        &good,
        &events_schema(),
        &[events_batch(&events).unwrap()],
        8,
    )
    .unwrap();
    let whole = std::fs::read(&good).unwrap();
    let mut flipped = whole.clone();
    let middle = flipped.len() / 2;
    flipped[middle..middle + 16]
        .iter_mut()
        .for_each(|b| *b ^= 0x5a);
    let cases: [(&str, Vec<u8>); 5] = [
        ("empty", Vec::new()),
        ("not parquet", b"view_id,seq\na,1\n".to_vec()),
        ("truncated", whole[..whole.len() / 2].to_vec()),
        ("footer only", whole[whole.len() - 8..].to_vec()),
        ("bytes flipped", flipped),
    ];
    for (name, bytes) in cases {
        let path = dir.path().join(format!("{name}.parquet"));
        std::fs::write(&path, bytes).unwrap();
        let read = read_event_rows(&path, None).and_then(|rows| events_by_view(&rows));
        let views = read_hour_views(&path);
        // Refused with a reason; a flip inside compressed data may also decode to other
        // text, which the event parser then refuses or keeps as text.
        if name != "bytes flipped" {
            let e = read.expect_err(name);
            assert!(!e.to_string().is_empty(), "{name}");
            assert!(views.is_err(), "{name}");
        }
    }
    let missing = read_event_rows(&dir.path().join("missing.parquet"), None).unwrap_err();
    assert!(missing.to_string().contains("missing.parquet"), "{missing}");
}

#[test]
fn events_read_back_are_the_events_written() {
    let view = ended_view("a", 5_000, 4);
    let events: Vec<(&ViewId, &Event)> = view.events.values().map(|e| (&view.id, e)).collect();
    let batch = events_batch(&events).unwrap();
    let restored = events_by_view(&[batch]).unwrap();
    let back = &restored[&view.id];
    assert_eq!(back.len(), 4);
    for (original, back) in view.events.values().zip(back) {
        assert_eq!(
            (original.seq, original.ts, original.at),
            (back.seq, back.ts, back.at)
        );
        assert_eq!(original.kind, back.kind);
        assert_eq!(original.raw_json(), back.raw_json());
    }
}
