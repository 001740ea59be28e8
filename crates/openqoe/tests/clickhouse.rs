//! Views in a real ClickHouse (Debian's 18.16 on loopback, started here): a server with
//! `[store] clickhouse` writes every view's row there, live or ended, and an API node
//! (`serve --role api`) answers breakdowns and timeseries from it. Its answers equal the embedded
//! server's over the same views — after a late batch rewrote an ended view, and after a
//! ClickHouse outage, during which the API node says ClickHouse is out of reach and ingest goes
//! on.
mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{free_port, now_ms, Restartable, TestServer};

/// `clickhouse-server` on free loopback ports with its own data; killed when dropped.
struct ClickHouseServer {
    child: Child,
    http_port: u16,
    config: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl ClickHouseServer {
    fn start() -> ClickHouseServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let (http_port, tcp_port) = (free_port(), free_port());
        let config = dir.path().join("config.xml");
        // The least a server needs; `users.xml` is the package's (user `default`, no password).
        std::fs::write(
            &config,
            format!(
                "<yandex>\n<logger><level>warning</level><console>1</console></logger>\n\
                 <http_port>{http_port}</http_port>\n<tcp_port>{tcp_port}</tcp_port>\n\
                 <listen_host>127.0.0.1</listen_host>\n<path>{data}/</path>\n\
                 <tmp_path>{data}/tmp/</tmp_path>\n\
                 <users_config>/etc/clickhouse-server/users.xml</users_config>\n\
                 <default_profile>default</default_profile>\n\
                 <default_database>default</default_database>\n\
                 <mark_cache_size>268435456</mark_cache_size>\n</yandex>\n",
                data = dir.path().join("data").display()
            ),
        )
        .expect("clickhouse config written");
        let child = ClickHouseServer::spawn(&config, http_port);
        ClickHouseServer {
            child,
            http_port,
            config,
            _dir: dir,
        }
    }

    fn spawn(config: &std::path::Path, http_port: u16) -> Child {
        let child = Command::new("clickhouse-server")
            .arg(format!("--config-file={}", config.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("clickhouse-server runs (scripts/test installs Debian's clickhouse-server)");
        let deadline = Instant::now() + Duration::from_secs(60);
        // It listens once its tables are loaded.
        while std::net::TcpStream::connect(("127.0.0.1", http_port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "clickhouse-server did not answer"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        child
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.http_port)
    }

    /// Stops background merges: a view's rows then stay apart until a query reads `FINAL`, as
    /// they do on a busy server, instead of merging within seconds on an idle one.
    async fn stop_merges(&self) {
        let answer = reqwest::Client::new()
            .post(self.url())
            .body("SYSTEM STOP MERGES")
            .send()
            .await
            .expect("clickhouse answers");
        assert!(answer.status().is_success(), "merges stopped");
    }

    /// Stops the server, as an outage would.
    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same ports and data.
    fn restart(&mut self) {
        self.child = ClickHouseServer::spawn(&self.config, self.http_port);
    }
}

impl Drop for ClickHouseServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Views `first..last`, each in three batches: every tenth stays live; a quarter lack a
/// country, and one country has a quote in its name (filters reach ClickHouse as literals).
fn batches(first: u64, last: u64, start: i64) -> Vec<Value> {
    let mut batches = Vec::new();
    for part in 0..3 {
        for n in first..last {
            let mut props = json!({"cdn": format!("cdn-{}", n % 3)});
            match n % 4 {
                0 | 1 => props["country"] = json!("DE"),
                2 => props["country"] = json!("C'I"),
                _ => {}
            }
            let events = support::view_events(n, start + 1_000 * n as i64, n % 10 != 9);
            let chunk: Vec<Value> = events
                .chunks(5)
                .nth(part)
                .map(<[Value]>::to_vec)
                .unwrap_or_default();
            if !chunk.is_empty() {
                batches.push(json!({"v": 1, "key": "demo",
                    "view": {"id": format!("v{n}"), "props": props}, "events": chunk}));
            }
        }
    }
    batches
}

/// The queries both servers answer: distributions and rates, by zero, one and two dimensions,
/// filtered, as breakdowns and timeseries, and the dimension names.
fn queries(from: i64, to: i64) -> Vec<String> {
    let range = format!("from={from}&to={to}");
    [
        "metrics/video_startup_time_ms/breakdown?group_by=cdn",
        "metrics/video_startup_time_ms/breakdown?",
        "metrics/rebuffer_count/breakdown?group_by=country",
        "metrics/rebuffer_percentage/breakdown?group_by=cdn,country&filter=cdn:cdn-1",
        "metrics/rendition_change_count/breakdown?group_by=cdn",
        "metrics/rebuffer_duration_ms/breakdown?filter=country:C%27I",
        "metrics/playback_failure/breakdown?group_by=cdn",
        "metrics/startup_failure/timeseries?interval=1m&group_by=cdn",
        "metrics/watch_time_ms/timeseries?interval=30s&filter=country:DE",
    ]
    .iter()
    .map(|q| format!("/v1/{q}&{range}"))
    .chain(["/v1/dimensions".to_owned()])
    .collect()
}

/// Whether two answers are the same: every field equal, except a group's mean and sum, which
/// may differ in the last bits (ClickHouse adds the values in another order).
fn same(a: &Value, b: &Value, key: &str) -> bool {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(k, v)| b.get(k).is_some_and(|w| same(v, w, k)))
        }
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(v, w)| same(v, w, key))
        }
        (Value::Number(x), Value::Number(y)) if key == "mean" || key == "sum" => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0)
        }
        _ => a == b,
    }
}

async fn answer(server: &TestServer, query: &str) -> (u16, Value) {
    let answer = server
        .client()
        .get(format!("{}{query}", server.url))
        .send()
        .await
        .expect("the server answers");
    let status = answer.status().as_u16();
    (status, answer.json().await.expect("JSON"))
}

/// Waits until the API node answers every query as `embedded` does; fails with the first
/// difference after a deadline.
async fn until_equal(embedded: &TestServer, api: &TestServer, from: i64, to: i64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut difference = None;
        for query in queries(from, to) {
            let (status, want) = answer(embedded, &query).await;
            assert_eq!(status, 200, "{query}: {want}");
            let (status, got) = answer(api, &query).await;
            if status != 200 || !same(&want, &got, "") {
                difference = Some(format!(
                    "{query}:\n embedded {want}\n api      {status} {got}"
                ));
                break;
            }
        }
        match difference {
            None => return,
            Some(difference) => {
                assert!(Instant::now() < deadline, "answers differ: {difference}");
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
    }
}

/// Waits until `server`'s `/healthz` answers `status` (ClickHouse is looked at every 2 s).
async fn until_health(server: &TestServer, status: u16) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (got, body) = answer(server, "/healthz").await;
        if got == status {
            if status == 503 {
                let reason = body["reason"].as_str().unwrap_or_default();
                assert!(reason.contains("ClickHouse"), "{body}");
            }
            return;
        }
        assert!(
            Instant::now() < deadline,
            "/healthz never {status}: {got} {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_api_node_over_clickhouse_answers_as_the_embedded_server() {
    let mut clickhouse = tokio::task::spawn_blocking(ClickHouseServer::start)
        .await
        .unwrap();
    let toml = format!("[store]\nclickhouse = \"{}\"\n", clickhouse.url());
    // Without ClickHouse named, an API node does not start, and says what it needs.
    let refused = Command::new(support::binary())
        .args([
            "serve",
            "--role",
            "api",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(support::data_dir().path())
        .env("OPENQOE_LOG", "warn")
        .output()
        .expect("the openqoe binary runs");
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("[store] clickhouse"), "{stderr}");

    let (writer, node) = (Restartable::new(&toml), Restartable::new(&toml));
    let writer = writer.start();
    // Once the writer made the table (a table made later would still merge).
    clickhouse.stop_merges().await;
    let api = node.start_with(&["--role", "api"]);
    let start = now_ms() - 120_000;
    let client = writer.client();
    // And one view that ends with a gap in its events, filled by a late batch below.
    let late = |events: Value| {
        json!({"v": 1, "key": "demo", "view": {"id": "late", "props": {"cdn": "cdn-1"}},
            "events": events})
    };
    let mut first = batches(0, 60, start);
    first.push(late(json!([
        {"seq": 0, "ts": start, "type": "play_requested"},
        {"seq": 1, "ts": start + 900, "type": "first_frame"},
        {"seq": 2, "ts": start + 3_000, "type": "heartbeat"},
        {"seq": 6, "ts": start + 20_000, "type": "view_end"}])));
    support::post_acknowledged(&client, &writer.url, &first).await;
    let (from, to) = (start - 60_000, now_ms() + 600_000);
    until_equal(&writer, &api, from, to).await;
    // The late batch: the ended view gains a stall and a fatal error, so its row is written
    // again with a later version, which replaces the first (without `FINAL`, the view would
    // count twice).
    let filled = late(json!([
        {"seq": 3, "ts": start + 5_000, "type": "stall_start"},
        {"seq": 4, "ts": start + 7_000, "type": "stall_end"},
        {"seq": 5, "ts": start + 8_000, "type": "error", "fatal": true, "code": "E2"}]));
    support::post_acknowledged(&client, &writer.url, &[filled]).await;
    // Acknowledged once durable, applied to its view just after.
    let deadline = Instant::now() + Duration::from_secs(10);
    while answer(&writer, "/v1/views/late").await.1["metrics"]["playback_failure"] != true {
        assert!(Instant::now() < deadline, "the late batch reached its view");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    until_equal(&writer, &api, from, to).await;
    // Not equal by being empty: the views posted are there, live and ended.
    let (_, all) = answer(&writer, &queries(from, to)[1]).await;
    assert_eq!(all["rows"][0]["views"], 61, "{all}");
    let (_, groups) = answer(&api, &queries(from, to)[2]).await;
    assert!(
        groups["rows"]
            .as_array()
            .unwrap()
            .iter()
            .any(|row| row["group"]["country"].is_null()),
        "views without a country are a group of their own: {groups}"
    );

    // ClickHouse goes away: the API node says so, in its answers and its /healthz; the writer
    // goes on acknowledging beacons.
    assert_eq!(answer(&api, "/healthz").await.0, 200);
    tokio::task::block_in_place(|| clickhouse.stop());
    until_health(&api, 503).await;
    let (status, refusal) = answer(&api, &queries(from, to)[0]).await;
    assert_eq!(status, 503, "{refusal}");
    assert!(
        refusal["error"]
            .as_str()
            .unwrap()
            .contains("view store did not answer"),
        "{refusal}"
    );
    support::post_acknowledged(&client, &writer.url, &batches(60, 80, start + 30_000)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Back, it is given the views that changed meanwhile.
    tokio::task::block_in_place(|| clickhouse.restart());
    clickhouse.stop_merges().await;
    until_health(&api, 200).await;
    until_equal(&writer, &api, from, to).await;
    let (_, all) = answer(&api, &queries(from, to)[1]).await;
    assert_eq!(all["rows"][0]["views"], 81, "{all}");
    let metrics = support::metrics_text(&writer.client(), &writer.url).await;
    assert!(
        metrics.contains("openqoe_clickhouse_view_row_writes_failed_total"),
        "the failed writes are counted"
    );
    // Retention drops whole days, once they ended by the cutoff: here every day so far.
    let rows = openqoe_clickhouse::ViewRows::new(
        openqoe_clickhouse::ClickHouse::new(&clickhouse.url()).expect("a ClickHouse address"),
    );
    assert_eq!(
        rows.drop_days_before(now_ms() + 2 * 86_400_000)
            .await
            .unwrap(),
        1
    );
    let (_, none) = answer(&api, &queries(from, to)[1]).await;
    assert_eq!(none["rows"][0]["views"], 0, "{none}");
    println!(
        "clickhouse: 81 views (8 live) written to ClickHouse 18.16; an API node's breakdowns and timeseries equal the embedded server's (a late batch and an outage included)"
    );
}
