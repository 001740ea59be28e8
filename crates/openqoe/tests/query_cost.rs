//! A costly query never holds up ingest, on the real binary: while breakdowns and audiences by a
//! prop with a value per view (30,000 of them, ended and live) run back to back, a player's batches keep
//! being acknowledged within 50 ms at p99 — or, on a machine busy with other work, within three
//! times the p99 measured with no query in the same run (before queries left the lock, they made
//! it 40–80 times that). Queries compute on a copy of the columns taken under the views' lock in
//! microseconds, and make live views' rows a slice at a time; the audience visits copies of the
//! views taken a slice at a time.
mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{now_ms, post_batch, server_with};

const ENDED: usize = 20_000;
const LIVE: usize = 10_000;

/// View `i`, with its own `asset`; ended unless `live`.
fn view_batch(i: usize, live: bool, now: i64) -> Value {
    let mut events = vec![
        json!({"seq": 0, "ts": now - 9_000, "type": "play_requested"}),
        json!({"seq": 1, "ts": now - 8_000 + (i % 997) as i64, "type": "first_frame"}),
    ];
    if !live {
        events.push(json!({"seq": 2, "ts": now - 1_000, "type": "view_end"}));
    }
    json!({"v": 1, "key": "demo", "sent_at": now,
        "view": {"id": format!("view-{i}"), "props": {"asset": format!("asset-{i}")}},
        "events": events})
}

/// The `p`-quantile (nearest rank) of `values`.
fn quantile(values: &mut [Duration], p: f64) -> Duration {
    values.sort();
    let rank = ((p * values.len() as f64).ceil() as usize).clamp(1, values.len());
    values[rank - 1]
}

/// Posts the next batch of five heartbeats of the player's view; how long its ack took.
async fn player_ack(client: &reqwest::Client, url: &str, seq: &mut u64) -> Duration {
    let now = now_ms();
    let events: Vec<Value> = (0..5)
        .map(|k| json!({"seq": *seq + k, "ts": now, "type": "heartbeat"}))
        .collect();
    *seq += 5;
    let batch = json!({"v": 1, "key": "demo", "sent_at": now,
        "view": {"id": "the-player", "props": {"asset": "live-final"}}, "events": events});
    let start = Instant::now();
    assert_eq!(post_batch(client, url, &batch).await, 202);
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breakdowns_and_audiences_by_a_prop_of_30_000_values_leave_ingest_acks_under_50_ms() {
    let (_dir, server) = server_with("");
    let url = server.url.clone();
    let client = server.client();

    let now = now_ms();
    let mut posting = tokio::task::JoinSet::new();
    for worker in 0..16 {
        let (client, url) = (client.clone(), url.clone());
        posting.spawn(async move {
            for i in (worker..ENDED + LIVE).step_by(16) {
                let status = post_batch(&client, &url, &view_batch(i, i >= ENDED, now)).await;
                assert_eq!(status, 202, "view {i}");
            }
        });
    }
    while let Some(done) = posting.join_next().await {
        done.expect("a posting task");
    }

    // The same player's acks with no query running: the baseline, once the passes that follow
    // the load are over (the next expiry lets 20,000 ended views' events go in one hold of the
    // views' lock: a tail of its own, issue 24's).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut baseline = Vec::new();
    let mut seq = 0;
    for _ in 0..100 {
        baseline.push(player_ack(&client, &url, &mut seq).await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let range = format!(
        "group_by=asset&from={}&to={}",
        now - 3_600_000,
        now + 60_000
    );
    let queries = [
        format!("{url}/v1/metrics/video_startup_time_ms/breakdown?{range}"),
        format!("{url}/v1/audience?{range}"),
    ];
    let querying = {
        let client = client.clone();
        tokio::spawn(async move {
            let mut took = Vec::new();
            let mut answers = vec![Default::default(); queries.len()];
            for round in 0..4 {
                let kind = round % queries.len();
                let start = Instant::now();
                answers[kind] = client
                    .get(&queries[kind])
                    .send()
                    .await
                    .expect("the server answers")
                    .bytes()
                    .await
                    .expect("an answer");
                took.push(start.elapsed());
            }
            (took, answers)
        })
    };

    // A player's batches every 20 ms while the queries run.
    let mut acks = Vec::new();
    while !querying.is_finished() {
        acks.push(player_ack(&client, &url, &mut seq).await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (mut took, answers) = querying.await.expect("the query task");
    // Parsed once the acks are timed: parsing on the test's runtime would delay them.
    let mut groups = 0;
    for (answer, kind) in answers.iter().zip(["breakdown", "audience"]) {
        let answer: Value = serde_json::from_slice(answer).expect("a JSON answer");
        groups = answer["rows"].as_array().map_or(0, Vec::len);
        // A row per asset, live and ended, and the player's own.
        let shown: String = answer.to_string().chars().take(300).collect();
        assert_eq!(groups, ENDED + LIVE + 1, "{kind}: {shown}");
    }
    let query_median = quantile(&mut took, 0.5);
    // The queries must be costly for the check to mean anything: longer than the bound itself.
    assert!(
        query_median > Duration::from_millis(100),
        "a query took only {query_median:?}"
    );
    assert!(acks.len() >= 10, "{} acks measured", acks.len());
    let p99 = quantile(&mut acks, 0.99);
    let baseline_p99 = quantile(&mut baseline, 0.99);
    eprintln!(
        "breakdowns and audiences of {groups} groups: median {query_median:?}; {} acks meanwhile, p99 {p99:?}, \
         max {:?}; without queries p99 {baseline_p99:?}",
        acks.len(),
        acks.last().unwrap()
    );
    // The machine's own noise, measured in the same run, sets the bound when it is the larger.
    let bound = Duration::from_millis(50).max(baseline_p99 * 3);
    assert!(
        p99 < bound,
        "ingest acks p99 {p99:?} (bound {bound:?}) while queries took {query_median:?}"
    );
}
