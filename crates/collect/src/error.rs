//! Every way an ingest request is refused, and the one place they become HTTP answers.
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use openqoe_model::BatchError;

use crate::rate::{RateLimited, RateScope};
use serde_json::json;

/// Why a beacon was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The body is not a valid wire v1 batch; nothing of it was stored.
    #[error("malformed batch: {0}")]
    Malformed(#[from] BatchError),
    /// No write key, or one no environment has.
    #[error("unknown write key")]
    UnknownKey,
    /// The decoded body is larger than the limit.
    #[error("batch larger than {limit} bytes")]
    TooLarge {
        /// The configured limit.
        limit: usize,
    },
    /// The body did not arrive whole within the server's body timeout, or was cut off.
    #[error("the request body did not arrive in time")]
    BodyUnread,
    /// The content type or encoding is not one we read.
    #[error("unsupported {0}")]
    Unsupported(String),
    /// As many views are live as the server holds (or the named environment may hold); a new
    /// one waits until some end.
    #[error("{}; retry later", views_full(.0.as_deref()))]
    ViewsFull(Option<String>),
    /// Too much is being ingested at once; the client should retry later.
    #[error("overloaded")]
    Overloaded,
    /// The write key's or the client address's rate limit; the client should retry later.
    #[error("rate limit of this {} reached; retry in {retry_after_s} s", match scope { RateScope::WriteKey => "write key", RateScope::ClientAddress => "client address" })]
    RateLimited {
        /// Whose bucket was empty.
        scope: RateScope,
        /// Seconds until a retry can succeed.
        retry_after_s: u64,
    },
    /// The write-ahead log could not make the batch durable; the client should retry.
    #[error("log unavailable: {0}")]
    LogUnavailable(String),
}

impl From<RateLimited> for IngestError {
    fn from(
        RateLimited {
            scope,
            retry_after_s,
        }: RateLimited,
    ) -> IngestError {
        IngestError::RateLimited {
            scope,
            retry_after_s,
        }
    }
}

impl IngestError {
    /// The label this refusal is counted under in `/metrics`.
    pub fn reason(&self) -> &'static str {
        match self {
            IngestError::Malformed(_) => "malformed",
            IngestError::UnknownKey => "unknown_key",
            IngestError::TooLarge { .. } => "too_large",
            IngestError::BodyUnread => "body_unread",
            IngestError::Unsupported(_) => "unsupported",
            IngestError::Overloaded => "overloaded",
            IngestError::ViewsFull(_) => "live_views_full",
            IngestError::RateLimited {
                scope: RateScope::WriteKey,
                ..
            } => "rate_limited_key",
            IngestError::RateLimited {
                scope: RateScope::ClientAddress,
                ..
            } => "rate_limited_client",
            IngestError::LogUnavailable(_) => "log_unavailable",
        }
    }
}

impl IntoResponse for IngestError {
    fn into_response(self) -> Response {
        let message = self.to_string();
        match self {
            IngestError::Malformed(e) => (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": e.reason, "at": e.at})),
            )
                .into_response(),
            IngestError::UnknownKey => {
                (StatusCode::UNAUTHORIZED, Json(json!({"error": message}))).into_response()
            }
            IngestError::TooLarge { .. } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                Json(json!({"error": message})),
            )
                .into_response(),
            IngestError::BodyUnread => {
                (StatusCode::REQUEST_TIMEOUT, Json(json!({"error": message}))).into_response()
            }
            IngestError::Unsupported(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Json(json!({"error": message})),
            )
                .into_response(),
            IngestError::RateLimited { retry_after_s, .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, retry_after_s.to_string())],
                Json(json!({"error": message})),
            )
                .into_response(),
            IngestError::ViewsFull(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, "30")],
                Json(json!({"error": message})),
            )
                .into_response(),
            IngestError::Overloaded => (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, "1")],
                Json(json!({"error": message})),
            )
                .into_response(),
            // Logged once where it happened; the client only needs to know to retry.
            IngestError::LogUnavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, "1")],
                Json(json!({"error": "temporarily unable to store events"})),
            )
                .into_response(),
        }
    }
}

/// Whose cap on live views a refused batch would pass.
fn views_full(environment: Option<&str>) -> String {
    match environment {
        Some(environment) => format!(
            "environment {environment:?} holds as many live views as it may \
             ([sessionize.max_live_views_by_environment])"
        ),
        None => "the server holds as many live views as it may".to_owned(),
    }
}
