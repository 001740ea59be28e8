//! The query API's one error type and its HTTP answers.
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// Why a query was refused.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A query parameter is malformed; the message names it.
    #[error("{0}")]
    BadParameter(String),
    /// The metric name is not in the catalogue.
    #[error("unknown metric {0:?}; see GET /v1/metrics")]
    UnknownMetric(String),
    /// No view has this id.
    #[error("no view {0:?}")]
    NoView(String),
    /// The view store that aggregates (ClickHouse) did not answer; the message says why.
    #[error("the view store did not answer: {0}")]
    StoreUnavailable(String),
    /// The query stopped before it answered (a bug: it is logged).
    #[error("the query failed; the server's log has why")]
    Failed,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match self {
            ApiError::BadParameter(_) => StatusCode::BAD_REQUEST,
            ApiError::UnknownMetric(_) | ApiError::NoView(_) => StatusCode::NOT_FOUND,
            ApiError::StoreUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Failed => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (status, Json(json!({"error": self.to_string()}))).into_response()
    }
}
