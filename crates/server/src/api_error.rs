//! The one error type of the binary's own routes (steering, SQL, the demo origins): a status and a
//! message, answered as `{"error": "…"}` as the query API's errors are. Bad input is answered,
//! not logged; a failure of ours is logged by its route once and answered without detail.
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// A refused request: its status and what to tell the client.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    /// A refusal with `status`, saying `message` (lowercase, no trailing period).
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}
