//! The store's hour files read back at start-up and for released views: a views or events file
//! damaged anywhere (bytes flipped, cut short) is read or refused with a reason, never a panic.
//! Inputs are patches on two good files made here, so the fuzzer starts past the footer checks.
#![no_main]
use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use openqoe_model::{Batch, EndReason, ServerTime, View, ViewEnd, ViewId};
use openqoe_store::{
    events_batch, events_by_view, events_schema, read_event_rows, read_hour_views, with_view_state,
    write_parquet_file, ViewBatches, ViewStore,
};

/// A good views file and events file of three ended views, as bytes.
fn good_files() -> &'static [Vec<u8>; 2] {
    static FILES: OnceLock<[Vec<u8>; 2]> = OnceLock::new();
    FILES.get_or_init(|| {
        let mut store = ViewStore::new();
        let mut views = Vec::new();
        for n in 0..3 {
            let body = format!(
                r#"{{"v":1,"view":{{"id":"v{n}","viewer_id":"u{n}","props":{{"cdn":"c{n}","n":{n}}}}},
                "events":[{{"seq":0,"ts":1000,"type":"play_requested"}},
                {{"seq":1,"ts":1900,"type":"first_frame"}},
                {{"seq":2,"ts":5000,"type":"heartbeat","playhead_ms":3000}},
                {{"seq":3,"ts":9000,"type":"view_end"}}]}}"#
            );
            let batch = Batch::parse(body.as_bytes(), ServerTime(9_500)).unwrap();
            let mut view = View::new(&batch.view, batch.received_at);
            view.merge(batch);
            view.end = Some(ViewEnd {
                reason: EndReason::ViewEnd,
                ts: openqoe_model::ClientTime(9_000),
                at: ServerTime(9_000),
                last_seq: openqoe_model::Seq(3),
            });
            store.insert(view.clone());
            views.push(view);
        }
        let table = store.table().columns();
        let mut rows = ViewBatches::new(table.dimension_names().to_vec());
        let (from, to) = (ServerTime(0), ServerTime(3_600_000));
        for (_, partition) in table.partitions(from, to) {
            rows.add_partition(table, partition, from, to).unwrap();
        }
        let (schema, batches) = rows.into_parts();
        let (schema, batches) = with_view_state(&schema, &batches, |id| {
            store.get(&ViewId::new(id).ok()?).map(|s| &s.view)
        })
        .unwrap();
        let events: Vec<_> = views
            .iter()
            .flat_map(|v| v.events.values().map(move |e| (&v.id, e)))
            .collect();
        let dir = scratch();
        write_parquet_file(&dir.join("views.parquet"), &schema, &batches, 2).unwrap();
        write_parquet_file(
            &dir.join("events.parquet"),
            &events_schema(),
            &[events_batch(&events).unwrap()],
            5,
        )
        .unwrap();
        ["views.parquet", "events.parquet"].map(|name| std::fs::read(dir.join(name)).unwrap())
    })
}

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("openqoe-fuzz-hour-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fuzz_target!(init: {
    // The reader's own panics are turned into errors (`ReadError::Damaged`); libFuzzer's hook
    // would abort on them first. A panic that escapes still fails the run.
    std::panic::set_hook(Box::new(|_| {}));
}, |patch: &[u8]| {
    // First byte: which file and whether to cut it; then (position, xor) triples.
    let Some((&choice, patches)) = patch.split_first() else {
        return;
    };
    let mut file = good_files()[usize::from(choice & 1)].clone();
    for triple in patches.chunks_exact(3) {
        let at = usize::from(u16::from_le_bytes([triple[0], triple[1]])) % file.len();
        file[at] ^= triple[2];
    }
    if choice & 2 != 0 {
        file.truncate(file.len() * usize::from(choice >> 2) / 64);
    }
    let path = scratch().join("damaged.parquet");
    std::fs::write(&path, &file).unwrap();
    let events = read_event_rows(&path, None).and_then(|rows| events_by_view(&rows));
    if let Err(e) = events {
        assert!(!e.to_string().is_empty(), "every refusal has a reason");
    }
    if let Err(e) = read_hour_views(&path) {
        assert!(!e.to_string().is_empty(), "every refusal has a reason");
    }
});
