//! Connection bounds on the real binary: a client that never finishes its headers, or sits idle,
//! is closed within the header timeout; when every connection is taken, a few more serve only
//! `/healthz`, and beyond those a connection is closed at once; players keep getting 202 while
//! slow clients hang on.
mod support;

use std::time::{Duration, Instant};

use support::{metrics_text, now_ms, post_batch, server_with};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const CONFIG: &str =
    "[http]\nmax_connections = 8\nhealth_connections = 2\nheader_timeout_seconds = 1\n";

/// Reads until the server closes the connection (or `within` passes); how long that took.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buffer = [0u8; 4096];
    loop {
        match tokio::time::timeout(
            within.saturating_sub(start.elapsed()),
            stream.read(&mut buffer),
        )
        .await
        {
            Ok(Ok(0) | Err(_)) => return Some(start.elapsed()),
            Ok(Ok(_)) => continue,
            Err(_) => return None,
        }
    }
}

/// One request on a fresh connection; the status line's code, or `None` if it was closed first.
async fn status_of(address: &str, request: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(address).await.ok()?;
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        answer.extend_from_slice(&buffer[..n]);
    }
    String::from_utf8_lossy(&answer)
        .split(' ')
        .nth(1)?
        .parse()
        .ok()
}

fn batch(view: &str) -> serde_json::Value {
    serde_json::json!({"v": 1, "key": "demo", "sent_at": now_ms(), "view": {"id": view},
        "events": [{"seq": 0, "ts": now_ms(), "type": "play_requested"}]})
}

#[tokio::test]
async fn slow_idle_and_surplus_connections_are_closed_and_players_still_get_in() {
    let (_dir, server) = server_with(CONFIG);
    let address = server.url.trim_start_matches("http://").to_owned();

    // Half a header, then nothing: closed after the header timeout.
    let opened = Instant::now();
    let mut slow = TcpStream::connect(&address).await.unwrap();
    slow.write_all(b"POST /v1/events HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    // One request answered, then idle on keep-alive: closed after the same timeout.
    let mut idle = TcpStream::connect(&address).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();

    // Meanwhile a player's batches are acknowledged as usual.
    let client = reqwest::Client::new();
    let mut waits = Vec::new();
    for i in 0..20 {
        let start = Instant::now();
        assert_eq!(
            post_batch(&client, &server.url, &batch(&format!("player-{i}"))).await,
            202
        );
        waits.push(start.elapsed());
    }
    waits.sort();
    println!(
        "http limits: acks beside slow clients, median {:?}, max {:?}",
        waits[10], waits[19]
    );
    assert!(
        waits[10] < Duration::from_millis(50),
        "median ack {:?}",
        waits[10]
    );

    closed_within(&mut slow, Duration::from_secs(5))
        .await
        .expect("the slow client is closed");
    let slow_closed = opened.elapsed();
    closed_within(&mut idle, Duration::from_secs(5))
        .await
        .expect("the idle client is closed");
    let idle_closed = opened.elapsed();
    println!("http limits: half a header closed {slow_closed:?} after it connected, an idle keep-alive by {idle_closed:?} (timeout 1 s)");
    drop(client);
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Every general connection taken by clients that send nothing.
    let mut squatters = Vec::new();
    for _ in 0..8 {
        squatters.push(TcpStream::connect(&address).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let health = "GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n";
    let views = "GET /v1/views HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n";
    assert_eq!(
        status_of(&address, health).await,
        Some(200),
        "health probes still get in"
    );
    assert_eq!(
        status_of(&address, views).await,
        Some(503),
        "a kept connection serves health only"
    );
    // Two more, holding the health connections: the next connection is closed at once.
    let mut held = Vec::new();
    for _ in 0..2 {
        held.push(TcpStream::connect(&address).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        status_of(&address, health).await,
        None,
        "beyond every cap a connection is closed"
    );

    // The squatters time out too; then everything answers again.
    for stream in squatters.iter_mut().chain(held.iter_mut()) {
        closed_within(stream, Duration::from_secs(5))
            .await
            .expect("a silent connection is closed");
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(status_of(&address, health).await, Some(200));
    let metrics = metrics_text(&server.client(), &server.url).await;
    assert!(
        metrics.contains("openqoe_http_connections_refused_total 1"),
        "{metrics}"
    );
}
