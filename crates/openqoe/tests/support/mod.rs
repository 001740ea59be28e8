//! `TestServer`: the real `openqoe` binary on loopback with its own data directory.
#![allow(dead_code)] // each test file uses its own part of the support module

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{json, Value};

/// A running `openqoe serve`; killed when dropped.
pub struct TestServer {
    child: Child,
    /// Base URL without a trailing slash.
    pub url: String,
    /// The admin token the server made on its data directory's first start.
    pub token: Option<String>,
}

impl TestServer {
    /// Starts `openqoe serve` on `listen` (port 0 for any) with `data_dir`, and waits until it listens.
    pub fn start(data_dir: &Path, listen: &str) -> TestServer {
        TestServer::start_with(data_dir, listen, &[])
    }

    /// Starts `openqoe serve` with extra arguments (such as `--config FILE`).
    pub fn start_with(data_dir: &Path, listen: &str, extra: &[&str]) -> TestServer {
        let mut child = Command::new(env!("CARGO_BIN_EXE_openqoe"))
            .args(["serve", "--listen", listen, "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .env("OPENQOE_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("openqoe binary starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("openqoe listening: ") {
                    let _ = sender.send(url.trim_end_matches('/').to_owned());
                }
            }
        });
        let url = receiver
            .recv_timeout(Duration::from_secs(60))
            .expect("server printed its URL");
        let token = std::fs::read_to_string(admin_token_file(data_dir))
            .ok()
            .map(|t| t.trim().to_owned());
        TestServer { child, url, token }
    }

    /// A client that sends the server's first admin token, as an operator's script would.
    pub fn client(&self) -> reqwest::Client {
        client_with(self.token.as_deref())
    }

    /// Kills the server with SIGKILL, as a crash would.
    pub fn kill_9(mut self) {
        self.child.kill().expect("SIGKILL delivered");
        self.child.wait().expect("server reaped");
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where `serve` leaves the admin token it makes on a data directory's first start.
pub fn admin_token_file(data_dir: &Path) -> PathBuf {
    data_dir.join("access").join("admin-token")
}

/// A client that sends `token` as `Authorization: Bearer` on every request (none: no header).
pub fn client_with(token: Option<&str>) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(token) = token {
        let value = format!("Bearer {token}")
            .parse()
            .expect("a token is a header value");
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("a client")
}

/// `openqoe serve` with `config` as its openqoe.toml, in a fresh directory (kept while the
/// returned guard lives; the data directory is `data` in it).
pub fn server_with(config: &str) -> (tempfile::TempDir, TestServer) {
    let dir = data_dir();
    let path = dir.path().join("openqoe.toml");
    std::fs::write(&path, config).expect("config written");
    let server = TestServer::start_with(
        &dir.path().join("data"),
        "127.0.0.1:0",
        &["--config", path.to_str().expect("a UTF-8 path")],
    );
    (dir, server)
}

/// A fresh temporary data directory.
pub fn data_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// A free loopback port, for a server that must come back on the same address after a crash.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Path of the openqoe binary under test.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_openqoe"))
}

/// The wall clock, epoch ms (for events placed relative to now).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

/// Runs `openqoe args…` with `input` on standard input (and no backtraces in its errors).
pub fn run_with_stdin(args: &[&str], input: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(binary())
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the openqoe binary runs");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(input.as_bytes())
        .expect("stdin written");
    child.wait_with_output().expect("openqoe exits")
}

/// Posts one wire-format batch to `{url}/v1/events`; the answer's status.
pub async fn post_batch(client: &reqwest::Client, url: &str, body: &serde_json::Value) -> u16 {
    client
        .post(format!("{url}/v1/events"))
        .json(body)
        .send()
        .await
        .expect("the server answers")
        .status()
        .as_u16()
}

/// The server's `/metrics` text (Prometheus exposition).
pub async fn metrics_text(client: &reqwest::Client, url: &str) -> String {
    client
        .get(format!("{url}/metrics"))
        .send()
        .await
        .expect("the server answers")
        .text()
        .await
        .expect("a text answer")
}

/// GETs `url` and reads the answer as JSON.
pub async fn get_json(client: &reqwest::Client, url: &str) -> serde_json::Value {
    client
        .get(url)
        .send()
        .await
        .expect("the server answers")
        .json()
        .await
        .expect("a JSON answer")
}

/// A data directory and a configuration for a server started, and started again, on them (the
/// same port each time).
pub struct Restartable {
    _dir: tempfile::TempDir,
    /// The data directory.
    pub data: PathBuf,
    config: PathBuf,
    listen: String,
}

impl Restartable {
    /// A new data directory with `toml` as openqoe.toml, and a free port.
    pub fn new(toml: &str) -> Restartable {
        let dir = data_dir();
        let config = dir.path().join("openqoe.toml");
        std::fs::write(&config, toml).expect("config written");
        Restartable {
            data: dir.path().join("data"),
            listen: format!("127.0.0.1:{}", free_port()),
            config,
            _dir: dir,
        }
    }

    /// Starts a server on the directory and port.
    pub fn start(&self) -> TestServer {
        self.start_with(&[])
    }

    /// Starts a server on the directory and port with extra arguments (such as `--role`).
    pub fn start_with(&self, extra: &[&str]) -> TestServer {
        let config = self.config.to_str().expect("a UTF-8 path");
        let args: Vec<&str> = ["--config", config].iter().chain(extra).copied().collect();
        TestServer::start_with(&self.data, &self.listen, &args)
    }
}

/// Posts each body to `/v1/events` and checks it is acknowledged.
pub async fn post_acknowledged(client: &reqwest::Client, url: &str, bodies: &[serde_json::Value]) {
    for body in bodies {
        let status = client
            .post(format!("{url}/v1/events"))
            .json(body)
            .send()
            .await
            .expect("the server answers")
            .status();
        assert_eq!(status, 202, "{body}");
    }
}

/// Waits up to 30 s for `path` to exist (a file the server writes on its own clock).
pub async fn wait_for_file(path: &Path) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !path.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "no {}",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// View `n`'s events from `start`: startup, a rendition, stalls, maybe a fatal error, and the
/// end unless the view stays live.
pub fn view_events(n: u64, start: i64, ends: bool) -> Vec<Value> {
    let mut events = vec![
        json!({"seq": 0, "ts": start, "type": "play_requested"}),
        json!({"seq": 1, "ts": start + 300 + 10 * n as i64, "type": "rendition_change",
               "bitrate_bps": 1_000_000 + 50_000 * n, "width": 1280, "height": 720}),
        json!({"seq": 2, "ts": start + 900 + 7 * n as i64, "type": "first_frame"}),
    ];
    let mut ts = start + 900;
    for seq in 3..12 {
        ts += 2_000 + 90 * n as i64;
        let kind = match (seq + n) % 4 {
            0 => "stall_start",
            1 => "stall_end",
            _ => "heartbeat",
        };
        events.push(json!({"seq": seq, "ts": ts, "type": kind}));
    }
    if n % 5 == 2 {
        events
            .push(json!({"seq": 12, "ts": ts + 500, "type": "error", "fatal": true, "code": "E1"}));
    }
    if ends {
        let end = events.len();
        events.push(json!({"seq": end, "ts": ts + 1_000, "type": "view_end"}));
    }
    events
}
