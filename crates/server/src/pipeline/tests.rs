//! Detection and steering read an ended view the same whether its events are in memory or
//! were let go (its recent counts, or its events read back from the log).
use serde_json::{json, Value};

use std::collections::BTreeMap;

use openqoe_model::{ServerTime, ViewId};
use openqoe_query::ViewSource;

use crate::config::Config;
use crate::topology::build;
use crate::view_counts::{MinuteViews, ViewCounts};

/// The events of view `n` (a few kinds, stalls and a switch; some views fail or end early),
/// from `start` on the device clock, which here is the server's.
fn view_events(n: u64, start: i64) -> Vec<Value> {
    let mut events = vec![
        json!({"seq": 0, "ts": start, "type": "play_requested"}),
        json!({"seq": 1, "ts": start + 300 + 100 * n as i64, "type": "rendition_change",
               "bitrate_bps": 1_000_000 + 500_000 * n, "width": 1280, "height": 720}),
        json!({"seq": 2, "ts": start + 900, "type": "first_frame"}),
    ];
    let mut ts = start + 900;
    for seq in 3..12 {
        ts += 7_000 + 900 * n as i64;
        let kind = match (seq + n) % 4 {
            0 => "stall_start",
            1 => "stall_end",
            _ => "heartbeat",
        };
        events.push(json!({"seq": seq, "ts": ts, "type": kind}));
    }
    if n % 3 == 2 {
        events
            .push(json!({"seq": 12, "ts": ts + 500, "type": "error", "fatal": true, "code": "E1"}));
    }
    events.push(json!({"seq": 13, "ts": ts + 1_000, "type": "view_end"}));
    events
}

/// Sends `events` of view `n` as one batch.
async fn post(client: &reqwest::Client, url: &str, n: u64, events: &[Value]) {
    let batch = json!({"v": 1, "key": "demo",
        "view": {"id": format!("v{n}"), "props": {"cdn": format!("cdn-{}", n % 2)}},
        "events": events});
    let status = client
        .post(format!("{url}/v1/events"))
        .json(&batch)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 202);
}

/// What detection and steering see of six ended views and two live ones, with
/// `keep_ended_seconds` as given, the views starting from `start`: minutes over their time,
/// minutes from before what is kept of them (read back), a window; and the live views as looked
/// up.
async fn seen(keep_ended_seconds: u64, start: i64) -> [Vec<String>; 4] {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.store.keep_ended_seconds = keep_ended_seconds;
    let topology = build(
        &config,
        dir.path(),
        crate::topology::Credentials::Open,
        crate::topology::Role::All,
        crate::topology::Engines::default(),
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(std::future::IntoFuture::into_future(axum::serve(
        listener,
        topology.router,
    )));
    let client = reqwest::Client::new();
    for n in 0..6u64 {
        let events = view_events(n, start + 3_000 * n as i64);
        // Two batches: two records in the log.
        for part in events.chunks(8) {
            post(&client, &url, n, part).await;
        }
    }
    // Two views still live: v6's second batch comes first (its first is then out of order,
    // its events read back from the log), v7's come in order.
    for n in 6..8u64 {
        let mut events = view_events(n, start + 3_000 * n as i64);
        events.pop();
        let mut parts: Vec<&[Value]> = events.chunks(5).collect();
        if n == 6 {
            parts.swap(0, 1);
        }
        for part in parts {
            post(&client, &url, n, part).await;
        }
    }
    let pipeline = &topology.sessionizer.as_ref().expect("all roles").pipeline;
    let live_ids = [ViewId::new("v6").unwrap(), ViewId::new("v7").unwrap()];
    {
        let views = pipeline.views.read();
        for id in &live_ids {
            let view = views.sessionizer.view(id).expect("still live");
            assert_eq!(
                view.events.is_empty(),
                keep_ended_seconds == 0,
                "a live view keeps its events only if ended views keep theirs"
            );
        }
    }
    pipeline.expire(ServerTime::now());
    let released = pipeline.gauges.released_events.get();
    let dimensions = ["cdn".to_owned()];
    let minutes =
        |from| pipeline.minutes(ServerTime(from), ServerTime(start + 300_000), &dimensions);
    let window = pipeline.window(
        ServerTime(start + 60_000),
        ServerTime::now(),
        5_000,
        &dimensions,
    );
    // The live views as a lookup shows them: every event, and the metrics.
    let looked_up: Vec<String> = pipeline
        .views(&live_ids)
        .iter()
        .map(|(view, metrics)| {
            let seqs: Vec<u64> = view.events.keys().map(|seq| seq.0).collect();
            format!("{} {seqs:?} {metrics:?}", view.id)
        })
        .collect();
    let seen = [
        by_minute(minutes(start)),
        by_minute(minutes(start - 180_000)),
        sorted(window),
        looked_up,
    ];
    server.abort();
    if keep_ended_seconds == 0 {
        // Every event: six ended views' 80 and the live views' 2 × 12.
        assert_eq!(released, 104, "let go at once");
    } else {
        assert_eq!(released, 0, "kept: still in memory");
    }
    seen
}

/// Rows in an order that does not depend on the store's iteration order.
fn sorted(mut rows: MinuteViews) -> Vec<String> {
    rows.sort_by_key(|row| format!("{row:?}"));
    rows.iter().map(|row| format!("{row:?}")).collect()
}

/// Each minute's rows, sorted, after the minute.
fn by_minute(minutes: BTreeMap<i64, MinuteViews>) -> Vec<String> {
    minutes
        .into_iter()
        .flat_map(|(minute, rows)| {
            sorted(rows)
                .into_iter()
                .map(move |row| format!("{minute} {row}"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ended_views_count_the_same_with_their_events_let_go() {
    // Whole minutes, so that the windows asked start on a bucket; the same for both runs, whose
    // minutes are compared by their start.
    let start = (ServerTime::now().0 - 200_000).div_euclid(60_000) * 60_000;
    let held = seen(3_600, start).await;
    let let_go = seen(0, start).await;
    assert!(held[0].len() >= 12, "{:?}", held[0]);
    assert_eq!(held[2].len(), 8, "every view in the window");
    assert_eq!(held[3].len(), 2, "{:?}", held[3]);
    assert!(
        held[3][0].contains("[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]"),
        "{}",
        held[3][0]
    );
    for (what, (held, let_go)) in ["minutes", "minutes read back", "window", "live views"]
        .iter()
        .zip(held.iter().zip(&let_go))
    {
        assert_eq!(held, let_go, "{what}");
    }
}
