//! Sending: batches as the web SDK forms them, sent when the sim clock reaches them, retried
//! with backoff until acknowledged, and every acknowledged event written to the ledger.
use std::fs::File;
use std::future::Future;
use std::io::{BufWriter, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use tokio::task::JoinSet;

use crate::playback::{simulate_view, PlannedView};
use crate::population::{content, log_normal, random_id, viewer};
use crate::{SimConfig, SimError, SimReport};

/// SDK batching (DESIGN §4): flush after 10 s, at 50 events, or at once on these events.
const FLUSH_AFTER_MS: i64 = 10_000;
const FLUSH_AT_EVENTS: usize = 50;
/// A batch still unacknowledged after this long is given up (the server is gone for good).
const GIVE_UP_AFTER: Duration = Duration::from_secs(60);

/// One batch of a planned view and the sim time at which the SDK would send it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedBatch {
    /// Sim-clock ms at which the batch is due.
    pub due_ms: i64,
    /// Its events.
    pub events: Vec<Value>,
}

/// Splits a view's events into batches the way the web SDK flushes them.
pub fn batches(view: &PlannedView) -> Vec<PlannedBatch> {
    let mut out = Vec::new();
    let mut current: Vec<Value> = Vec::new();
    let mut opened_at = 0;
    for event in &view.events {
        let ts = event["ts"].as_i64().unwrap_or(0);
        if !current.is_empty() && ts >= opened_at + FLUSH_AFTER_MS {
            out.push(PlannedBatch {
                due_ms: opened_at + FLUSH_AFTER_MS,
                events: std::mem::take(&mut current),
            });
        }
        if current.is_empty() {
            opened_at = ts;
        }
        current.push(event.clone());
        let urgent = matches!(event["type"].as_str(), Some("first_frame" | "view_end"))
            || event["fatal"] == json!(true);
        if urgent || current.len() >= FLUSH_AT_EVENTS {
            out.push(PlannedBatch {
                due_ms: ts,
                events: std::mem::take(&mut current),
            });
        }
    }
    if !current.is_empty() {
        out.push(PlannedBatch {
            due_ms: opened_at + FLUSH_AFTER_MS,
            events: current,
        });
    }
    out
}

fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Maps the sim clock onto real time.
#[derive(Debug, Clone, Copy)]
struct SimClock {
    started: Instant,
    sim_start_ms: i64,
    speed: f64,
}

impl SimClock {
    fn real_instant(&self, sim_ms: i64) -> Instant {
        let offset = ((sim_ms - self.sim_start_ms).max(0) as f64 / self.speed) as u64;
        self.started + Duration::from_millis(offset)
    }
}

#[derive(Default)]
struct Tally {
    report: SimReport,
    latencies_ms: Vec<f64>,
    rejection_logged: bool,
}

struct Shared {
    config: SimConfig,
    client: reqwest::Client,
    clock: SimClock,
    sim_end_ms: Option<i64>,
    stopping: AtomicBool,
    tally: Mutex<Tally>,
    ledger: Option<Mutex<BufWriter<File>>>,
}

/// Runs the population until `minutes` of sim time pass or `stop` resolves, then flushes the ledger.
///
/// # Errors
/// [`SimError`] for an inconsistent configuration or a ledger that cannot be written.
pub async fn run(
    config: SimConfig,
    stop: impl Future<Output = ()> + Send,
) -> Result<SimReport, SimError> {
    if config.viewers == 0 || config.speed.is_nan() || config.speed < 1.0 {
        return Err(SimError::Config(
            "expected at least one viewer and a speed of at least 1".into(),
        ));
    }
    if config.minutes.is_none() && config.speed != 1.0 {
        return Err(SimError::Config(
            "a run without --minutes is live: speed must be 1".into(),
        ));
    }
    let wall0 = wall_ms();
    let run_ms = config.minutes.map(|m| (m * 60_000.0) as i64);
    // A compressed run starts in the past and ends at the real present.
    let sim_start_ms = run_ms.map_or(wall0, |ms| {
        wall0 - (ms as f64 * (1.0 - 1.0 / config.speed)) as i64
    });
    let ledger = match &config.ledger {
        Some(path) => Some(Mutex::new(BufWriter::new(File::create(path)?))),
        None => None,
    };
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(config.viewers)
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| SimError::Config(format!("http client: {e}")))?;
    let shared = Arc::new(Shared {
        clock: SimClock {
            started: Instant::now(),
            sim_start_ms,
            speed: config.speed,
        },
        sim_end_ms: run_ms.map(|ms| sim_start_ms + ms),
        config,
        client,
        stopping: AtomicBool::new(false),
        tally: Mutex::new(Tally::default()),
        ledger,
    });
    let mut viewers = JoinSet::new();
    for index in 0..shared.config.viewers {
        viewers.spawn(watch(Arc::clone(&shared), index as u64));
    }
    tokio::pin!(stop);
    let mut stopping = false;
    loop {
        tokio::select! {
            () = &mut stop, if !stopping => {
                stopping = true;
                shared.stopping.store(true, Ordering::Relaxed);
            }
            joined = viewers.join_next() => if joined.is_none() { break },
        }
    }
    if let Some(ledger) = &shared.ledger {
        ledger.lock().expect("ledger lock").flush()?;
    }
    let mut tally = std::mem::take(&mut *shared.tally.lock().expect("tally lock"));
    let mut report = tally.report;
    report.elapsed = shared.clock.started.elapsed();
    report.events_per_sec = report.events_acked as f64 / report.elapsed.as_secs_f64().max(1e-9);
    tally.latencies_ms.sort_by(f64::total_cmp);
    let rank = |q: f64| {
        let n = tally.latencies_ms.len();
        if n == 0 {
            0.0
        } else {
            tally.latencies_ms[((q * n as f64).ceil() as usize).clamp(1, n) - 1]
        }
    };
    report.ack_latency_ms_p50 = rank(0.50);
    report.ack_latency_ms_p99 = rank(0.99);
    Ok(report)
}

/// One viewer: view after view until the run ends.
async fn watch(shared: Arc<Shared>, index: u64) {
    let mut rng =
        SmallRng::seed_from_u64(shared.config.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ index);
    let who = viewer(&mut rng);
    let mut session_id = format!("session-{}", &random_id(&mut rng)[..8]);
    let run_ms = shared
        .sim_end_ms
        .map_or(60_000, |end| end - shared.clock.sim_start_ms);
    // Viewers arrive spread over the first 20 s (or a quarter of a short run), not all at once.
    let mut start_ms = shared.clock.sim_start_ms + rng.gen_range(0..(run_ms / 4).clamp(1, 20_000));
    let home = who
        .props
        .get("cdn")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let mut pathway = home.clone();
    let mut steering = shared
        .config
        .steering
        .then(|| first_steering_url(&shared, &who))
        .flatten();
    let mut first_of_session = true;
    while !shared.stopping.load(Ordering::Relaxed)
        && shared.sim_end_ms.is_none_or(|end| start_ms < end)
    {
        let what = content(&mut rng);
        let mut who_now = who.clone();
        if let (Some(url), Some(on)) = (steering.as_ref(), pathway.as_deref()) {
            let sim_ms = start_ms - shared.clock.sim_start_ms;
            let throughput = who.throughput_bps * throughput_factor(&shared, &who, on, sim_ms);
            if let Some((next, first)) = poll_steering(&shared, url, on, throughput).await {
                steering = Some(next);
                pathway = Some(first);
            }
            if pathway != home {
                shared
                    .tally
                    .lock()
                    .expect("tally lock")
                    .report
                    .steered_views += 1;
            }
            who_now
                .props
                .insert("cdn".into(), json!(pathway.clone().unwrap_or_default()));
        }
        let planned = simulate_view(
            &mut rng,
            &who_now,
            &what,
            &shared.config.incidents,
            start_ms,
            shared.clock.sim_start_ms,
            first_of_session,
        );
        shared.tally.lock().expect("tally lock").report.views += 1;
        for (i, batch) in batches(&planned).into_iter().enumerate() {
            if shared.sim_end_ms.is_some_and(|end| batch.due_ms > end)
                || !wait_until(&shared, batch.due_ms).await
            {
                break;
            }
            let props = (i == 0).then_some(&planned.props);
            if !send(
                &shared,
                &planned.id,
                &who.viewer_id,
                &session_id,
                props,
                batch.events,
            )
            .await
            {
                break;
            }
        }
        let last_ts = planned
            .events
            .last()
            .and_then(|e| e["ts"].as_i64())
            .unwrap_or(start_ms);
        start_ms = last_ts + log_normal(&mut rng, 4_000.0, 0.8) as i64;
        first_of_session = rng.gen::<f64>() < 0.3;
        if first_of_session {
            session_id = format!("session-{}", &random_id(&mut rng)[..8]);
        }
    }
}

/// The viewer's first steering poll: the target's HLS steering server, with its cohort.
fn first_steering_url(shared: &Shared, who: &crate::Viewer) -> Option<reqwest::Url> {
    let mut url = reqwest::Url::parse(&format!("{}/v1/steer/hls", shared.config.target)).ok()?;
    for dim in ["country", "isp", "device_type"] {
        if let Some(value) = who.props.get(dim).and_then(Value::as_str) {
            url.query_pairs_mut().append_pair(dim, value);
        }
    }
    Some(url)
}

/// Incidents' throughput multiplier for this viewer on pathway `on` at `sim_ms`.
fn throughput_factor(shared: &Shared, who: &crate::Viewer, on: &str, sim_ms: i64) -> f64 {
    let mut props = who.props.clone();
    props.insert("cdn".into(), json!(on));
    shared
        .config
        .incidents
        .iter()
        .filter(|i| i.hits(&props, sim_ms))
        .map(|i| i.throughput)
        .product()
}

/// Polls as hls.js does (its pathway and bandwidth estimate appended to the last `RELOAD-URI`);
/// the next URL and the first pathway, or `None` when the server did not answer usefully (the
/// viewer then stays where it is).
async fn poll_steering(
    shared: &Shared,
    url: &reqwest::Url,
    pathway: &str,
    throughput_bps: f64,
) -> Option<(reqwest::Url, String)> {
    let mut poll = url.clone();
    poll.query_pairs_mut()
        .append_pair("_HLS_pathway", pathway)
        .append_pair(
            "_HLS_throughput",
            &format!("{}", throughput_bps.round() as u64),
        );
    let response = shared.client.get(poll.clone()).send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    let manifest: Value = response.json().await.ok()?;
    let first = manifest["PATHWAY-PRIORITY"][0].as_str()?.to_owned();
    let next = match manifest["RELOAD-URI"].as_str() {
        Some(reload) => poll.join(reload).ok()?,
        None => url.clone(),
    };
    Some((next, first))
}

/// Sleeps until the sim clock reaches `due_ms`; false if the run is stopping.
async fn wait_until(shared: &Shared, due_ms: i64) -> bool {
    let due = shared.clock.real_instant(due_ms);
    loop {
        if shared.stopping.load(Ordering::Relaxed) {
            return false;
        }
        let now = Instant::now();
        if now >= due {
            return true;
        }
        tokio::time::sleep((due - now).min(Duration::from_millis(250))).await;
    }
}

/// Posts one batch until it is acknowledged; false if it was refused or given up.
async fn send(
    shared: &Shared,
    view_id: &str,
    viewer_id: &str,
    session_id: &str,
    props: Option<&serde_json::Map<String, Value>>,
    events: Vec<Value>,
) -> bool {
    let url = format!("{}/v1/events", shared.config.target);
    let mut view = json!({"id": view_id, "viewer_id": viewer_id, "session_id": session_id});
    if let Some(props) = props {
        view["props"] = Value::Object(props.clone());
    }
    let mut body = json!({"v": 1, "key": shared.config.key, "view": view, "events": events});
    let first_try = Instant::now();
    let mut attempt = 0u32;
    loop {
        // sent_at is the device clock at this attempt: the server corrects skew with it.
        body["sent_at"] = json!(wall_ms());
        let sent = Instant::now();
        let response = shared
            .client
            .post(&url)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await;
        let retry_after = match response {
            Ok(response) if response.status().as_u16() == 202 => {
                let latency_ms = sent.elapsed().as_secs_f64() * 1000.0;
                let answer: Value = response.json().await.unwrap_or(Value::Null);
                acknowledge(shared, view_id, &body["events"], &answer, latency_ms);
                return true;
            }
            Ok(response)
                if matches!(response.status().as_u16(), 429 | 503)
                    || response.status().is_server_error() =>
            {
                response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            }
            Ok(response) => {
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                let mut tally = shared.tally.lock().expect("tally lock");
                tally.report.rejected += 1;
                if !tally.rejection_logged {
                    tally.rejection_logged = true;
                    tracing::warn!(%status, body = %text, "collector refused a simulated batch");
                }
                return false;
            }
            Err(_) => None,
        };
        let stopping = shared.stopping.load(Ordering::Relaxed);
        if first_try.elapsed() > GIVE_UP_AFTER
            || (stopping && first_try.elapsed() > Duration::from_secs(5))
        {
            return false;
        }
        shared.tally.lock().expect("tally lock").report.retries += 1;
        let backoff_ms = (100u64 << attempt.min(5)).min(2_000);
        let jittered = backoff_ms / 2 + rand::thread_rng().gen_range(0..=backoff_ms / 2);
        let wait = retry_after.map_or(Duration::from_millis(jittered), Duration::from_secs);
        tokio::time::sleep(wait).await;
        attempt += 1;
    }
}

fn acknowledge(shared: &Shared, view_id: &str, events: &Value, answer: &Value, latency_ms: f64) {
    let seqs: Vec<u64> = events.as_array().map_or(Vec::new(), |list| {
        list.iter().filter_map(|e| e["seq"].as_u64()).collect()
    });
    if let Some(ledger) = &shared.ledger {
        let mut ledger = ledger.lock().expect("ledger lock");
        for seq in &seqs {
            // A write error surfaces at the final flush.
            let _ = writeln!(ledger, "{view_id} {seq}");
        }
    }
    let mut tally = shared.tally.lock().expect("tally lock");
    tally.report.batches_acked += 1;
    tally.report.events_acked += answer["accepted"].as_u64().unwrap_or(0);
    tally.report.duplicates += answer["duplicates"].as_u64().unwrap_or(0);
    tally.latencies_ms.push(latency_ms);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(events: &[(i64, &str)]) -> PlannedView {
        let events = events
            .iter()
            .enumerate()
            .map(|(seq, (ts, kind))| json!({"seq": seq, "ts": ts, "type": kind}))
            .collect();
        PlannedView {
            id: "v".into(),
            props: serde_json::Map::new(),
            events,
        }
    }

    #[test]
    fn batches_flush_like_the_sdk() {
        let planned = view(&[
            (0, "player_init"),
            (300, "play_requested"),
            (1200, "first_frame"),
            (5000, "heartbeat"),
            (15_000, "heartbeat"),
            (16_000, "view_end"),
        ]);
        let due: Vec<(i64, usize)> = batches(&planned)
            .iter()
            .map(|b| (b.due_ms, b.events.len()))
            .collect();
        assert_eq!(
            due,
            vec![(1200, 3), (15_000, 1), (16_000, 2)],
            "first frame at once, 10 s timer, view_end at once"
        );

        let many: Vec<(i64, &str)> = (0..120).map(|i| (i, "heartbeat")).collect();
        let sizes: Vec<usize> = batches(&view(&many))
            .iter()
            .map(|b| b.events.len())
            .collect();
        assert_eq!(sizes, vec![50, 50, 20]);
    }
}
