//! The store's files and retention, against a real server: a settled hour of ended views is in
//! the data directory as Parquet (views and their events) that a Parquet reader reads back; views
//! past `retention_days` are gone from the API; recent ones stay.
mod support;

use std::fs::File;

use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use serde_json::json;
use support::Restartable;

const HOUR_MS: i64 = 3_600_000;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A whole view that started at `start` by the device's clock (no `sent_at`: no skew correction).
fn view(id: &str, start: i64) -> serde_json::Value {
    let event = |seq: u64, ms: i64, kind: &str| json!({"seq": seq, "ts": start + ms, "type": kind});
    json!({
        "v": 1, "key": "demo",
        "view": {"id": id, "props": {"cdn": "cdn-a"}},
        "events": [event(0, 0, "play_requested"), event(1, 1_500, "first_frame"),
                   event(2, 60_000, "view_end")],
    })
}

fn rows(path: &std::path::Path) -> Vec<parquet::record::Row> {
    let reader = SerializedFileReader::new(File::open(path).unwrap()).unwrap();
    reader
        .get_row_iter(None)
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn text(row: &parquet::record::Row, column: &str) -> Option<String> {
    row.get_column_iter()
        .find(|(name, _)| name.as_str() == column)
        .and_then(|(_, field)| match field {
            Field::Str(s) => Some(s.clone()),
            _ => None,
        })
}

#[tokio::test]
async fn settled_hours_become_parquet_and_old_views_go() {
    let setup = Restartable::new("[store]\nsettle_minutes = 0\nretention_days = 7\n");
    let (server, data) = (setup.start(), &setup.data);
    let client = server.client();
    let now = now_ms();
    // Mid-hour, three hours ago: its hour has ended, so it is settled with settle_minutes = 0.
    let recent_start = (now / HOUR_MS - 3) * HOUR_MS + HOUR_MS / 2;
    for (id, start) in [("old", now - 10 * 24 * HOUR_MS), ("recent", recent_start)] {
        let response = client
            .post(format!("{}/v1/events", server.url))
            .json(&view(id, start))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202, "{id}");
    }
    // The files and retention run at start-up and every minute: a restart runs them now.
    server.kill_9();
    let server = setup.start();

    let hour = recent_start / HOUR_MS * HOUR_MS;
    let views = openqoe_store::hour_file(data, "views", hour);
    let events = openqoe_store::hour_file(data, "events", hour);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !(views.exists() && events.exists()) {
        assert!(
            std::time::Instant::now() < deadline,
            "no {}",
            views.display()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let view_rows = rows(&views);
    assert_eq!(view_rows.len(), 1);
    assert_eq!(text(&view_rows[0], "view_id").as_deref(), Some("recent"));
    assert_eq!(text(&view_rows[0], "cdn").as_deref(), Some("cdn-a"));
    let event_rows = rows(&events);
    let kinds: Vec<String> = event_rows.iter().filter_map(|r| text(r, "type")).collect();
    assert_eq!(kinds, ["play_requested", "first_frame", "view_end"]);

    let status = |id: &str| {
        let url = format!("{}/v1/views/{id}", server.url);
        let client = client.clone();
        async move { client.get(url).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(status("recent").await, 200);
    assert_eq!(status("old").await, 404, "a view past retention is gone");
}

/// The value of Prometheus series `name` (no labels) in `/metrics`.
async fn gauge(client: &reqwest::Client, url: &str, name: &str) -> f64 {
    let text = support::metrics_text(client, url).await;
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
}

/// Posts view `settled` (three hours ago) and waits until its hour is written and its three
/// events are let go; returns its start and a deadline for what follows.
async fn settle_one_view(client: &reqwest::Client, url: &str) -> (i64, std::time::Instant) {
    let start = (now_ms() / HOUR_MS - 3) * HOUR_MS + HOUR_MS / 2;
    let body = view("settled", start);
    assert_eq!(support::post_batch(client, url, &body).await, 202);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    // Let go to the log at its end, then to the file once the hour is written.
    while gauge(client, url, "openqoe_released_events").await < 3.0
        || gauge(client, url, "openqoe_store_hours_written_total").await < 1.0
    {
        assert!(std::time::Instant::now() < deadline, "events never let go");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    (start, deadline)
}

async fn event_types(client: &reqwest::Client, url: &str) -> Vec<String> {
    let body = support::get_json(client, url).await;
    body["events"]
        .as_array()
        .unwrap_or_else(|| panic!("no events in {body}"))
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

/// The events export, as JSON lines, of the views that started in the hour from `start`.
async fn exported_events(client: &reqwest::Client, url: &str, start: i64) -> String {
    client
        .get(format!(
            "{url}/v1/export/events?from={}&to={}&format=jsonl",
            start - 1,
            start + HOUR_MS
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Once its hour file is written, a view's events leave memory; the view, its events, a late
/// batch and the export still see all of them (read back from the file), and a late batch
/// rewrites the hour with the old events and the new.
#[tokio::test]
async fn written_hours_let_events_go_and_read_them_back() {
    let setup = Restartable::new("[store]\nsettle_minutes = 0\ncheck_seconds = 1\n");
    let (server, data) = (setup.start(), &setup.data);
    let client = server.client();
    let url = &server.url;
    let (start, deadline) = settle_one_view(&client, url).await;
    let events_url = format!("{url}/v1/views/settled/events");
    let types = event_types(&client, &events_url).await;
    assert_eq!(types, ["play_requested", "first_frame", "view_end"]);
    let detail = support::get_json(&client, &format!("{url}/v1/views/settled")).await;
    assert_eq!(detail["metrics"]["video_startup_time_ms"], 1500, "{detail}");

    // A late event (after the end: kept, not measured) needs the others back in memory. While
    // their file cannot be read, the batch waits (acknowledged: it is in the log); it is merged
    // once the file is back, never into a view missing its events.
    let events_file = openqoe_store::hour_file(data, "events", start / HOUR_MS * HOUR_MS);
    let moved = events_file.with_extension("moved");
    std::fs::rename(&events_file, &moved).unwrap();
    let late = json!({
        "v": 1, "key": "demo", "view": {"id": "settled"},
        "events": [{"seq": 3, "ts": start + 61_000, "type": "heartbeat", "playhead_ms": 0}],
    });
    assert_eq!(support::post_batch(&client, url, &late).await, 202);
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    assert_eq!(gauge(&client, url, "openqoe_released_events").await, 3.0);
    assert_eq!(gauge(&client, url, "openqoe_held_back_batches").await, 1.0);
    assert!(
        !events_file.exists(),
        "the hour was not written again without its events"
    );
    std::fs::rename(&moved, &events_file).unwrap();
    while event_types(&client, &events_url).await.len() < 4 {
        assert!(
            std::time::Instant::now() < deadline,
            "held-back batch never merged"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let types = event_types(&client, &events_url).await;
    assert_eq!(
        types,
        ["play_requested", "first_frame", "view_end", "heartbeat"]
    );

    // The hour is written again, with every event, and let go again.
    while rows(&events_file).len() != 4
        || gauge(&client, url, "openqoe_released_events").await < 4.0
    {
        assert!(std::time::Instant::now() < deadline, "hour not rewritten");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let export = exported_events(&client, url, start).await;
    assert_eq!(export.lines().count(), 4, "{export}");
    let list = support::get_json(&client, &format!("{url}/v1/views?from={}", start - 1)).await;
    assert_eq!(list["views"][0]["event_count"], 4, "{list}");

    // A restart loads the hour from its files (and the log adds nothing new): all still there.
    server.kill_9();
    let server = setup.start();
    let (url, client) = (&server.url, server.client());
    assert!(gauge(&client, url, "openqoe_released_events").await >= 4.0);
    let types = event_types(&client, &format!("{url}/v1/views/settled/events")).await;
    assert_eq!(
        types,
        ["play_requested", "first_frame", "view_end", "heartbeat"]
    );
    let detail = support::get_json(&client, &format!("{url}/v1/views/settled")).await;
    assert_eq!(detail["metrics"]["video_startup_time_ms"], 1500, "{detail}");
    assert_eq!(detail["end_reason"], "view_end", "{detail}");
}

/// The log's segment files in `wal`, sorted.
fn segments(wal: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(wal)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    files
}

/// Log segments go once the hour files hold their batches; a restart after the cut loads the
/// settled hour from its files and the live view from what is left of the log.
#[tokio::test]
async fn the_log_is_cut_where_the_hour_files_hold_its_batches() {
    // One segment per commit, so a segment holds one view's batch.
    let setup = Restartable::new(
        "[store]\nsettle_minutes = 0\ncheck_seconds = 1\n[wal]\nsegment_bytes = 1\n",
    );
    let (server, data) = (setup.start(), &setup.data);
    let client = server.client();
    let url = &server.url;
    let (_, deadline) = settle_one_view(&client, url).await;
    // The segments holding the settled view's batch, made older than the cut's margin.
    let wal = data.join("wal");
    let settled_segments = segments(&wal);
    for file in &settled_segments {
        let status = std::process::Command::new("touch")
            .args(["-d", "10 minutes ago"])
            .arg(file)
            .status()
            .unwrap();
        assert!(status.success());
    }
    // A live view's batches: the first closes the settled view's segment (only closed segments
    // go). Its own segments are recent, so the minute's margin keeps them whatever the views
    // need; that they are needed is the unit tests' (`unwritten_since`).
    for (seq, kind) in [(0, "play_requested"), (1, "first_frame")] {
        let live = json!({
            "v": 1, "key": "demo", "view": {"id": "live", "props": {"cdn": "cdn-b"}},
            "events": [{"seq": seq, "ts": now_ms(), "type": kind}],
        });
        assert_eq!(support::post_batch(&client, url, &live).await, 202);
    }
    while settled_segments.iter().any(|s| s.exists()) {
        assert!(
            std::time::Instant::now() < deadline,
            "settled segments kept: {:?}",
            segments(&wal)
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    server.kill_9();
    let server = setup.start();
    let (url, client) = (&server.url, server.client());
    let types = event_types(&client, &format!("{url}/v1/views/settled/events")).await;
    assert_eq!(types, ["play_requested", "first_frame", "view_end"]);
    let types = event_types(&client, &format!("{url}/v1/views/live/events")).await;
    assert_eq!(types, ["play_requested", "first_frame"]);
}

/// Waits until `openqoe_released_events` reaches `count`.
async fn released(client: &reqwest::Client, url: &str, count: f64, deadline: std::time::Instant) {
    while gauge(client, url, "openqoe_released_events").await < count {
        assert!(std::time::Instant::now() < deadline, "events never let go");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// An ended view's events leave memory once it has ended (`keep_ended_seconds`), long before
/// its hour is written: the view page, a late batch, the export and a restart read them back
/// from the write-ahead log, at its batches' records.
#[tokio::test]
async fn ended_views_events_are_read_back_from_the_log_before_their_hour_is_written() {
    // keep_ended_seconds = 0, the default: the events leave at the next expiry tick.
    let setup = Restartable::new("[store]\ncheck_seconds = 1\n");
    let server = setup.start();
    let client = server.client();
    let url = &server.url;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let start = now_ms() - 70_000;
    let whole = view("ended", start);
    // Two batches, so two records: the first with a copy of seq 0 the second repeats.
    let events = whole["events"].as_array().unwrap();
    let mut repeat = events[0].clone();
    repeat["playhead_ms"] = json!(999);
    for part in [&events[..2], &[repeat, events[2].clone()][..]] {
        let mut batch = whole.clone();
        batch["events"] = json!(part);
        assert_eq!(support::post_batch(&client, url, &batch).await, 202);
    }
    released(&client, url, 3.0, deadline).await;
    let events_url = format!("{url}/v1/views/ended/events");
    let page = support::get_json(&client, &events_url).await;
    let types: Vec<&str> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["play_requested", "first_frame", "view_end"],
        "{page}"
    );
    assert!(
        !page.to_string().contains("999"),
        "the first copy of a seq is kept, as when merged: {page}"
    );
    let detail = support::get_json(&client, &format!("{url}/v1/views/ended")).await;
    assert_eq!(detail["metrics"]["video_startup_time_ms"], 1500, "{detail}");
    assert!(
        !data_files(&setup.data.join("events")),
        "no hour file yet: the events are in the log only"
    );

    // A late batch brings them back, is merged, and they leave again with its record.
    let late = json!({
        "v": 1, "key": "demo", "view": {"id": "ended"},
        "events": [{"seq": 3, "ts": start + 61_000, "type": "heartbeat", "playhead_ms": 0}],
    });
    assert_eq!(support::post_batch(&client, url, &late).await, 202);
    released(&client, url, 4.0, deadline).await;
    assert_eq!(
        event_types(&client, &events_url).await,
        ["play_requested", "first_frame", "view_end", "heartbeat"]
    );
    let export = exported_events(&client, url, start).await;
    assert_eq!(export.lines().count(), 4, "{export}");

    // After a crash the log is replayed: the view ends again, and leaves memory again.
    server.kill_9();
    let server = setup.start();
    let (url, client) = (&server.url, server.client());
    released(&client, url, 4.0, deadline).await;
    assert_eq!(
        event_types(&client, &format!("{url}/v1/views/ended/events")).await,
        ["play_requested", "first_frame", "view_end", "heartbeat"]
    );
}

/// Whether any file is under `dir`.
fn data_files(dir: &std::path::Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|dates| {
        dates
            .flatten()
            .any(|date| std::fs::read_dir(date.path()).is_ok_and(|mut f| f.next().is_some()))
    })
}
