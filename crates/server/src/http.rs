//! Serving HTTP/1.1 with bounds a client cannot lift: a cap on open connections, with a few kept
//! for health probes; a time limit on reading a request's headers, which also closes a
//! keep-alive connection idle that long (hyper starts the clock when the connection waits for a
//! request); a time limit on reading a body. A connection beyond every cap is closed at once,
//! and counted. Accept errors (the process out of file descriptors) pause accepting briefly
//! instead of ending the server.
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde::Deserialize;
use tokio::sync::Semaphore;
use tower::ServiceExt;

use crate::api_error::ApiError;

/// `[http]` in openqoe.toml.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Connections open at once for any request.
    pub max_connections: usize,
    /// Connections beyond `max_connections` that only health probes may use.
    pub health_connections: usize,
    /// Seconds a client has to send a request's headers; also how long a keep-alive connection
    /// may sit idle.
    pub header_timeout_seconds: u64,
    /// Seconds a client has to send a request's body.
    pub body_timeout_seconds: u64,
    /// Queries (the query API, SQL) computing at once; one more is answered `503`.
    pub max_queries: usize,
}

impl Default for HttpConfig {
    fn default() -> HttpConfig {
        HttpConfig {
            // Under the usual 1,024-descriptor soft limit raised by most service managers, and
            // far above what one box's players need (a beacon connection is short or idle).
            max_connections: 8_192,
            health_connections: 8,
            header_timeout_seconds: 15,
            body_timeout_seconds: 30,
            max_queries: 16,
        }
    }
}

/// Counters of the connection bounds, on `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct ConnectionStats {
    open: Gauge,
    refused: Counter,
    accept_errors: Counter,
}

impl ConnectionStats {
    /// Registers `openqoe_http_*`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "openqoe_http_connections",
            "HTTP connections open",
            self.open.clone(),
        );
        registry.register(
            "openqoe_http_connections_refused",
            "Connections closed at once: every connection, health ones included, was in use",
            self.refused.clone(),
        );
        registry.register(
            "openqoe_http_accept_errors",
            "Failed accepts (such as the process out of file descriptors); accepting paused 50 ms",
            self.accept_errors.clone(),
        );
    }
}

/// Serves `router` on `listener` within `config`'s bounds until `shutdown` resolves, then lets
/// open requests finish (up to 10 s).
///
/// # Errors
/// None today; the result leaves room for a listener that fails for good.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    config: &HttpConfig,
    stats: ConnectionStats,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let router = router.layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
        Duration::from_secs(config.body_timeout_seconds.max(1)),
    ));
    let health_router = router.clone().layer(axum::middleware::from_fn(health_only));
    let general = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let health = Arc::new(Semaphore::new(config.health_connections));
    let header_timeout = Duration::from_secs(config.header_timeout_seconds.max(1));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                stats.accept_errors.inc();
                tracing::warn!(%error, "accepting a connection failed; pausing 50 ms");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let (router, permit) = match Arc::clone(&general).try_acquire_owned() {
            Ok(permit) => (router.clone(), permit),
            Err(_) => match Arc::clone(&health).try_acquire_owned() {
                Ok(permit) => (health_router.clone(), permit),
                Err(_) => {
                    stats.refused.inc();
                    drop(stream);
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            router.clone().oneshot(request.map(axum::body::Body::new))
        });
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        let open = stats.open.clone();
        open.inc();
        tokio::spawn(async move {
            // Timeouts and resets end connections as errors; nothing to report.
            let _ = connection.await;
            open.dec();
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(Duration::from_secs(10), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still open 10 s after shutdown began; stopping anyway");
    }
    Ok(())
}

/// On a connection kept for health probes: `/healthz` and `/livez` only.
async fn health_only(request: Request, next: Next) -> Response {
    if matches!(request.uri().path(), "/healthz" | "/livez") {
        next.run(request).await
    } else {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "every connection is in use; this one is kept for health probes",
        )
        .into_response()
    }
}
