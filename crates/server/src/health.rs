//! Probes. `/healthz` answers whether this server can take beacons: `200 {"status": "ok"}`,
//! or `503 {"status": "unavailable", "reason"}` while its log (the write-ahead log, or the
//! connection to JetStream) cannot make a batch durable (it recovers by itself once the cause is
//! gone); on an API node, while ClickHouse, which it reads, does not answer. `/livez` only says
//! the process
//! answers, for a supervisor that restarts it: a restart would not help a full disk. With
//! `probes_listen`, these and `/metrics` are also served, without credentials, on a second
//! address ([`probes_only`]).
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use std::sync::Arc;
use std::time::Duration;

use openqoe_clickhouse::ClickHouse;
use openqoe_jetstream::JetStream;
use openqoe_wal::SegmentLog;
use parking_lot::Mutex;
use serde_json::json;

/// A log whose state decides whether beacons can be made durable.
#[derive(Clone)]
pub(crate) enum Durability {
    /// This process's write-ahead log.
    Wal(SegmentLog),
    /// The JetStream stream a collector publishes to.
    JetStream(Box<JetStream>),
    /// The ClickHouse an API node reads views from.
    ViewStore(ViewStoreReach),
}

/// Whether ClickHouse answered the last look (`None`), or why not.
#[derive(Clone, Default)]
pub(crate) struct ViewStoreReach(Arc<Mutex<Option<String>>>);

/// How often an API node looks whether ClickHouse answers.
const VIEW_STORE_LOOK: Duration = Duration::from_secs(2);

impl ViewStoreReach {
    /// Looks every [`VIEW_STORE_LOOK`] whether `clickhouse` answers, for ever.
    pub(crate) async fn watch(self, clickhouse: ClickHouse) {
        let mut interval = tokio::time::interval(VIEW_STORE_LOOK);
        loop {
            interval.tick().await;
            let answered = clickhouse.execute("SELECT 1").await;
            *self.0.lock() = answered.err().map(|e| e.to_string());
        }
    }
}

impl Durability {
    fn unavailable(&self) -> Option<String> {
        match self {
            Durability::Wal(log) => log
                .unavailable()
                .map(|r| format!("the write-ahead log cannot make beacons durable: {r}")),
            Durability::JetStream(stream) => stream.unavailable().map(|r| {
                format!(
                    "JetStream, the log between collectors and sessionizers, is out of reach: {r}"
                )
            }),
            Durability::ViewStore(reach) => reach
                .0
                .lock()
                .clone()
                .map(|r| format!("ClickHouse, which this API node reads views from: {r}")),
        }
    }
}

/// `/healthz` (ready while every log in `logs` is) and `/livez`.
pub(crate) fn router(logs: Vec<Durability>) -> Router {
    Router::new()
        .route(
            "/healthz",
            get(move || {
                let logs = logs.clone();
                async move { ready(&logs) }
            }),
        )
        .route("/livez", get(|| async { Json(json!({"status": "ok"})) }))
}

fn ready(logs: &[Durability]) -> Response {
    match logs.iter().find_map(Durability::unavailable) {
        None => Json(json!({"status": "ok"})).into_response(),
        Some(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "reason": reason})),
        )
            .into_response(),
    }
}

/// On the probes listener: `/metrics`, `/healthz` and `/livez`, nothing else.
pub async fn probes_only(request: Request, next: Next) -> Response {
    if matches!(request.uri().path(), "/metrics" | "/healthz" | "/livez") {
        next.run(request).await
    } else {
        crate::api_error::ApiError::new(
            StatusCode::NOT_FOUND,
            "this address serves /metrics, /healthz and /livez only",
        )
        .into_response()
    }
}
