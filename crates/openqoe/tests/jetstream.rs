//! Collectors and a sessionizer apart over a real NATS JetStream (Debian's `nats-server` on
//! loopback, started here): every batch a collector acknowledged reaches the sessionizer and is
//! counted once — through retries via the other collector, a collector killed with SIGKILL, the
//! sessionizer killed with SIGKILL mid-run and the whole stream delivered to it again — and its
//! views equal those of an embedded server fed the same batches.
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{free_port, now_ms, Restartable, TestServer};

/// `nats-server -js` on a free loopback port with its own store; killed when dropped.
struct Nats {
    child: Child,
    port: u16,
    config: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Nats {
    /// With `max_payload` above a whole batch record ([collect] max_batch_bytes is 1 MiB): the
    /// setting docs/scale-out.md asks of a production server too.
    fn start() -> Nats {
        Nats::start_taking("2MB")
    }

    /// With messages of at most `max_payload`.
    fn start_taking(max_payload: &str) -> Nats {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let config = dir.path().join("nats.conf");
        std::fs::write(
            &config,
            format!(
                "listen: 127.0.0.1:{port}\nmax_payload: {max_payload}\njetstream {{ store_dir: \"{}\" }}\n",
                dir.path().join("js").display()
            ),
        )
        .expect("nats config written");
        let child = Nats::spawn(&config, port);
        Nats {
            child,
            port,
            config,
            _dir: dir,
        }
    }

    fn spawn(config: &std::path::Path, port: u16) -> Child {
        let child = Command::new("nats-server")
            .arg("-c")
            .arg(config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server runs (scripts/test installs Debian's nats-server)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        child
    }

    /// Stops the server, as an outage would.
    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same port and store.
    fn restart(&mut self) {
        self.child = Nats::spawn(&self.config, self.port);
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Posts `body`; whether it was acknowledged (a killed collector does not answer).
async fn acknowledged(client: &reqwest::Client, url: &str, body: &Value) -> bool {
    match client
        .post(format!("{url}/v1/events"))
        .json(body)
        .send()
        .await
    {
        Ok(answer) => answer.status() == 202,
        Err(_) => false,
    }
}

/// Every view of `server` by id, as its list gives it (status, times, props, metrics).
async fn views_of(server: &TestServer) -> BTreeMap<String, Value> {
    let list = support::get_json(
        &server.client(),
        &format!("{}/v1/views?from=0&limit=10000", server.url),
    )
    .await;
    let views = list["views"].as_array().expect("a view list");
    views
        .iter()
        .map(|view| (view["id"].as_str().expect("an id").to_owned(), view.clone()))
        .collect()
}

/// Counter `name` in a `/metrics` text (0 when absent).
fn counter(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0.0)
}

/// The sequence numbers of `server`'s view `id`, in the order it lists them.
async fn seqs_of(server: &TestServer, id: &str) -> Vec<u64> {
    let events = support::get_json(
        &server.client(),
        &format!("{}/v1/views/{id}/events", server.url),
    )
    .await;
    events["events"]
        .as_array()
        .map(|events| events.iter().filter_map(|e| e["seq"].as_u64()).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn collectors_and_a_sessionizer_over_jetstream_count_every_acknowledged_event_once() {
    let nats = Nats::start();
    let toml = format!(
        "[log]\nnats = \"nats://127.0.0.1:{}\"\npartitions = 4\nack_wait_seconds = 3\n",
        nats.port
    );
    let (a, b, worker) = (
        Restartable::new(&toml),
        Restartable::new(&toml),
        Restartable::new(&toml),
    );
    let embedded = Restartable::new("");
    let mut collectors = [
        Some(a.start_with(&["--role", "collector"])),
        Some(b.start_with(&["--role", "collector"])),
    ];
    let mut sessionizer = Some(worker.start_with(&["--role", "sessionizer"]));
    let embedded = embedded.start();
    let urls = [
        collectors[0].as_ref().unwrap().url.clone(),
        collectors[1].as_ref().unwrap().url.clone(),
    ];
    let client = reqwest::Client::new();

    // 60 views of three batches each, a view's batches spread over both collectors; every
    // third batch retried through the other collector (a player whose ack was lost).
    let start = now_ms() - 600_000;
    let views = 60_u64;
    let mut batches = Vec::new();
    for part in 0..3 {
        for n in 0..views {
            let events = support::view_events(n, start + 1_000 * n as i64, true);
            let chunk: Vec<Value> = events
                .chunks(5)
                .nth(part)
                .map(<[Value]>::to_vec)
                .unwrap_or_default();
            batches.push(json!({"v": 1, "key": "demo",
                "view": {"id": format!("v{n}"), "props": {"cdn": format!("cdn-{}", n % 3)}},
                "events": chunk}));
        }
    }
    // In waves of 30 batches posted at once, so that the sessionizer dies with work in flight.
    let mut acked: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
    let mut retried = 0;
    for (wave, bodies) in batches.chunks(30).enumerate() {
        match wave {
            // Mid-run: the sessionizer dies; collectors keep acknowledging into JetStream.
            2 => sessionizer.take().expect("running").kill_9(),
            // Then collector A dies too: its players go to B meanwhile.
            3 => collectors[0].take().expect("running").kill_9(),
            4 => collectors[0] = Some(a.start_with(&["--role", "collector"])),
            // Back, it takes the backlog of three waves at once: killed again in the middle of
            // that (batches durable in its log but not yet acked come again), then back for good.
            5 => {
                worker.start_with(&["--role", "sessionizer"]).kill_9();
                sessionizer = Some(worker.start_with(&["--role", "sessionizer"]));
            }
            _ => {}
        }
        for body in bodies {
            assert!(
                acknowledged(&client, &embedded.url, body).await,
                "embedded took {body}"
            );
            let view = body["view"]["id"].as_str().unwrap().to_owned();
            let seqs = body["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["seq"].as_u64().unwrap());
            acked.entry(view).or_default().extend(seqs);
        }
        // Last in the wave: the next wave's kill comes while the sessionizer still takes these.
        let up: Vec<bool> = collectors.iter().map(Option::is_some).collect();
        let posts = bodies.iter().enumerate().map(|(index, body)| {
            let (client, urls, up) = (&client, &urls, &up);
            async move {
                let first = if up[index % 2] {
                    index % 2
                } else {
                    1 - index % 2
                };
                let mut ok = acknowledged(client, &urls[first], body).await;
                // A player whose ack was lost retries through the other collector.
                let retry = index % 3 == 0 && up[1 - first];
                if retry {
                    ok |= acknowledged(client, &urls[1 - first], body).await;
                }
                (ok, retry)
            }
        });
        for (index, (ok, retry)) in futures_util::future::join_all(posts)
            .await
            .into_iter()
            .enumerate()
        {
            assert!(ok, "wave {wave}, batch {index} acknowledged");
            retried += usize::from(retry);
        }
    }
    let sessionizer = sessionizer.expect("restarted");
    let acked_events: usize = acked.values().map(BTreeSet::len).sum();

    // Every acknowledged event reaches the sessionizer once (what was in flight when it died
    // comes back after the ack wait).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut missing = 0;
        for (view, seqs) in &acked {
            let stored = seqs_of(&sessionizer, view).await;
            let unique: BTreeSet<u64> = stored.iter().copied().collect();
            assert_eq!(
                unique.len(),
                stored.len(),
                "view {view}: a seq stored twice: {stored:?}"
            );
            missing += seqs.difference(&unique).count();
            assert!(
                unique.is_subset(seqs),
                "view {view}: events nobody acknowledged: {stored:?}"
            );
        }
        if missing == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{missing} acknowledged events never reached the sessionizer"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // The same views, with the same metrics, as the embedded server fed the same batches.
    let (apart, together) = (views_of(&sessionizer).await, views_of(&embedded).await);
    assert_eq!(apart.len(), views as usize);
    for (id, view) in &together {
        assert_eq!(apart.get(id), Some(view), "view {id}: apart vs embedded");
    }
    // Delivering everything again never double-counts: with the sessionizer's consumers gone,
    // new ones deliver the whole stream once more, every event of it already in its log.
    sessionizer.kill_9();
    let nats_client = async_nats::connect(format!("127.0.0.1:{}", nats.port))
        .await
        .expect("a NATS connection");
    let stream = async_nats::jetstream::new(nats_client)
        .get_stream("OPENQOE_EVENTS")
        .await
        .expect("the stream the collectors made");
    for partition in 0..4 {
        stream
            .delete_consumer(&format!("openqoe-p{partition}"))
            .await
            .expect("the sessionizer's consumer");
    }
    let sessionizer = worker.start_with(&["--role", "sessionizer"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut again, mut new) = (0.0, 0.0);
    while again < acked_events as f64 {
        assert!(
            Instant::now() < deadline,
            "only {again} events delivered again dropped as repeats ({new} taken as new)"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        let metrics = support::metrics_text(&sessionizer.client(), &sessionizer.url).await;
        again = counter(&metrics, "openqoe_ingest_duplicates_total");
        new = counter(&metrics, "openqoe_ingest_events_total");
    }
    assert_eq!(new, 0.0, "events delivered again were taken as new");
    assert_eq!(
        views_of(&sessionizer).await,
        apart,
        "views after the stream was delivered again"
    );

    // JetStream stored each retry once (the same Nats-Msg-Id through either collector).
    let mut repeated = 0.0;
    for collector in collectors.iter().flatten() {
        repeated += counter(
            &support::metrics_text(&collector.client(), &collector.url).await,
            "openqoe_jetstream_records_repeated_total",
        );
    }
    assert!(
        repeated > 0.0,
        "retries within the duplicate window stored once by JetStream"
    );
    println!(
        "jetstream: {acked_events} acknowledged events of {views} views through 2 collectors (one killed), {retried} batches retried through the other, the sessionizer killed mid-run: every event once; retries stored once by JetStream ({repeated}); the whole stream delivered again ({again} events) dropped as repeats; views equal to the embedded server's"
    );
}

/// Runs `openqoe serve` with `args` to its exit; what it printed on stderr.
fn refused_start(args: &[&str]) -> String {
    let output = Command::new(support::binary())
        .arg("serve")
        .args(args)
        .env("OPENQOE_LOG", "warn")
        .output()
        .expect("the openqoe binary runs");
    assert!(!output.status.success(), "serve {args:?} started");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `/healthz`'s status and reason.
async fn health(server: &TestServer) -> (u16, String) {
    let answer = reqwest::get(format!("{}/healthz", server.url))
        .await
        .expect("the server answers");
    let status = answer.status().as_u16();
    let body: Value = answer.json().await.expect("JSON");
    (
        status,
        body["reason"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_collector_refuses_what_cannot_work_and_rides_out_a_nats_outage() {
    // Roles apart need [log]; a server that takes smaller messages than a batch is refused
    // with the setting to change.
    let dir = support::data_dir();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let small = Nats::start_taking("64KB");
    let config = dir.path().join("small.toml");
    std::fs::write(
        &config,
        format!("[log]\nnats = \"nats://127.0.0.1:{}\"\n", small.port),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let args = [
        "--role",
        "collector",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data,
        "--config",
        config,
    ];
    let refusal = refused_start(&args[..6]);
    assert!(refusal.contains("expected a [log] section"), "{refusal}");
    let refusal = refused_start(&args);
    assert!(refusal.contains("max_payload"), "{refusal}");

    // An outage: batches are refused with 503 and /healthz says why; once NATS is back, both
    // recover with no restart of the collector, and what was acknowledged is in the stream.
    let mut nats = Nats::start();
    let collector = Restartable::new(&format!(
        "[log]\nnats = \"nats://127.0.0.1:{}\"\n",
        nats.port
    ))
    .start_with(&["--role", "collector"]);
    let client = reqwest::Client::new();
    let batch = |n: u64| {
        json!({"v": 1, "key": "demo", "view": {"id": format!("outage-{n}")},
               "events": [{"seq": 0, "ts": now_ms(), "type": "play_requested"}]})
    };
    assert!(acknowledged(&client, &collector.url, &batch(0)).await);
    assert_eq!(health(&collector).await.0, 200);
    nats.stop();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = client
            .post(format!("{}/v1/events", collector.url))
            .json(&batch(1))
            .send()
            .await
            .expect("the collector answers")
            .status()
            .as_u16();
        let (health_status, reason) = health(&collector).await;
        if status == 503 && health_status == 503 {
            assert!(reason.contains("JetStream"), "{reason}");
            break;
        }
        assert_ne!(status, 202, "a batch acknowledged while NATS is down");
        assert!(
            Instant::now() < deadline,
            "no 503 during the outage ({status}, {health_status})"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    nats.restart();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(acknowledged(&client, &collector.url, &batch(2)).await
        && health(&collector).await.0 == 200)
    {
        assert!(
            Instant::now() < deadline,
            "the collector did not recover after NATS came back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let stored = support::metrics_text(&collector.client(), &collector.url).await;
    assert!(
        counter(&stored, "openqoe_jetstream_records_unconfirmed_total") > 0.0,
        "{stored}"
    );
    assert!(
        counter(&stored, "openqoe_jetstream_records_stored_total") >= 2.0,
        "{stored}"
    );
}
