//! Every way access is refused, and the one place they become HTTP answers.
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::Role;

/// Why a request was not let through, or a token or session request not done.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// No token and no session.
    #[error("this needs an API token with the {0} role: Authorization: Bearer <token>, or sign in on the dashboard (docs/security.md)")]
    NoCredential(Role),
    /// A token or session that is not (or no longer) valid.
    #[error("unknown or revoked token, or an expired session")]
    Unknown,
    /// A valid credential whose role is too low.
    #[error("this needs the {needed} role; {name}'s token has {has}")]
    Role {
        /// The role the route needs.
        needed: Role,
        /// The caller's role.
        has: Role,
        /// The caller's token name.
        name: String,
    },
    /// A change sent with a session cookie from another site (cross-site request forgery).
    #[error("a change from another site (Origin {0}) is not taken with a dashboard session")]
    CrossSite(String),
    /// A token or session request that cannot be done as asked.
    #[error("{0}")]
    Invalid(String),
    /// A configured token cannot be revoked through the API.
    #[error("{0} is in the configuration file: remove it there")]
    Configured(String),
    /// No token has that id.
    #[error("no token {0}")]
    NotFound(String),
    /// The token file could not be written; nothing changed.
    #[error("the token file could not be written")]
    Storage,
}

impl Refusal {
    /// The label this refusal is counted under in `/metrics`.
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::NoCredential(_) => "no_credential",
            Refusal::Unknown => "unknown_credential",
            Refusal::Role { .. } => "role",
            Refusal::CrossSite(_) => "cross_site",
            Refusal::Invalid(_) => "invalid",
            Refusal::Configured(_) => "configured",
            Refusal::NotFound(_) => "not_found",
            Refusal::Storage => "storage",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Refusal::NoCredential(_) | Refusal::Unknown => StatusCode::UNAUTHORIZED,
            Refusal::Role { .. } | Refusal::CrossSite(_) => StatusCode::FORBIDDEN,
            Refusal::Invalid(_) => StatusCode::BAD_REQUEST,
            Refusal::Configured(_) => StatusCode::CONFLICT,
            Refusal::NotFound(_) => StatusCode::NOT_FOUND,
            Refusal::Storage => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = Json(json!({ "error": self.to_string() }));
        if status == StatusCode::UNAUTHORIZED {
            (
                status,
                [(header::WWW_AUTHENTICATE, "Bearer realm=\"openqoe\"")],
                body,
            )
                .into_response()
        } else {
            (status, body).into_response()
        }
    }
}
