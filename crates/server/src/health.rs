//! Probes. `/healthz` answers whether this server can take beacons: `200 {"status": "ok"}`,
//! or `503 {"status": "unavailable", "reason"}` while the write-ahead log cannot make a batch
//! durable (it recovers by itself once the cause is gone). `/livez` only says the process
//! answers, for a supervisor that restarts it: a restart would not help a full disk. With
//! `probes_listen`, these and `/metrics` are also served, without credentials, on a second
//! address ([`probes_only`]).
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use openqoe_wal::SegmentLog;
use serde_json::json;

/// `/healthz` and `/livez` over `log`.
pub fn router(log: SegmentLog) -> Router {
    Router::new()
        .route(
            "/healthz",
            get(move || {
                let log = log.clone();
                async move { ready(&log) }
            }),
        )
        .route("/livez", get(|| async { Json(json!({"status": "ok"})) }))
}

fn ready(log: &SegmentLog) -> Response {
    match log.unavailable() {
        None => Json(json!({"status": "ok"})).into_response(),
        Some(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({
                "status": "unavailable",
                "reason": format!("the write-ahead log cannot make beacons durable: {reason}"),
            })),
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
