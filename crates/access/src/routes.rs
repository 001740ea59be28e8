//! The guard in front of every route, and the routes of credentials themselves: dashboard
//! sessions (`/v1/session`) and API tokens (`/v1/tokens`, admin).
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Extension, Json, Router};
use openqoe_model::ServerTime;
use serde::Deserialize;
use serde_json::json;

use crate::policy::{requirement, Requirement};
use crate::session::{self, Session};
use crate::token::{Secret, TokenEntry};
use crate::token_file::{ManagedToken, MAX_MANAGED_TOKENS};
use crate::{new_id, same_site, Access, Caller, Refusal, Role};

/// Longest token name.
const MAX_NAME_CHARS: usize = 64;

/// Middleware: lets a request through when [`requirement`] is met, with its [`Caller`] in the
/// request's extensions; otherwise answers the refusal (401 or 403).
pub async fn guard(
    State(access): State<Arc<Access>>,
    mut request: Request,
    next: Next,
) -> Response {
    let needed = match requirement(request.method(), request.uri().path()) {
        Requirement::Public => return next.run(request).await,
        Requirement::Role(role) => role,
    };
    match access.authorise(
        request.headers(),
        request.method(),
        needed,
        ServerTime::now(),
    ) {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(refusal) => refusal.into_response(),
    }
}

impl Access {
    /// `/v1/session` (sign in, who am I, sign out) and `/v1/tokens` (list, make, revoke).
    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/v1/session", get(who).post(sign_in).delete(sign_out))
            .route("/v1/tokens", get(list).post(make))
            .route("/v1/tokens/{id}", delete(revoke))
            .with_state(self)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    token: String,
}

async fn sign_in(
    State(access): State<Arc<Access>>,
    headers: HeaderMap,
    body: Result<Json<SignIn>, JsonRejection>,
) -> Result<Response, Refusal> {
    if access.open {
        return Ok(
            Json(json!({"role": Role::Admin, "name": "open", "open": true})).into_response(),
        );
    }
    same_site(&headers)?;
    let Json(SignIn { token }) = body.map_err(|e| Refusal::Invalid(e.body_text()))?;
    let Some((caller, token_id)) = access.token_with_id(token.trim()) else {
        access.count(&Refusal::Unknown);
        return Err(Refusal::Unknown);
    };
    let now = ServerTime::now();
    let id = access
        .sessions
        .lock()
        .expect("sessions lock poisoned")
        .open(
            Session {
                role: caller.role,
                token_id,
                name: caller.name.clone(),
                expires: ServerTime(now.0.saturating_add(access.session_ms)),
            },
            now,
        );
    tracing::info!(name = %caller.name, role = %caller.role, "dashboard sign-in");
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let secure = text("x-forwarded-proto") == "https" || text("origin").starts_with("https://");
    let max_age_s = u64::try_from(access.session_ms / 1_000).unwrap_or(0);
    Ok((
        [(
            header::SET_COOKIE,
            session::set_cookie(&id, max_age_s, secure),
        )],
        Json(json!({"role": caller.role, "name": caller.name})),
    )
        .into_response())
}

async fn who(State(access): State<Arc<Access>>, headers: HeaderMap) -> Result<Response, Refusal> {
    if access.open {
        return Ok(
            Json(json!({"role": Role::Admin, "name": "open", "open": true})).into_response(),
        );
    }
    let caller = access.authorise(
        &headers,
        &axum::http::Method::GET,
        Role::Read,
        ServerTime::now(),
    )?;
    Ok(Json(json!({"role": caller.role, "name": caller.name})).into_response())
}

async fn sign_out(State(access): State<Arc<Access>>, headers: HeaderMap) -> Response {
    if let Some(id) = headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| session::cookie_value(v, session::COOKIE))
    {
        access
            .sessions
            .lock()
            .expect("sessions lock poisoned")
            .close(id);
    }
    (
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, session::clear_cookie())],
    )
        .into_response()
}

async fn list(State(access): State<Arc<Access>>) -> Json<serde_json::Value> {
    let configured = access.configured.iter().map(|e| {
        json!({"id": format!("config:{}", e.name), "name": e.name, "role": e.role, "source": "config"})
    });
    let managed = access.managed.lock().expect("token lock poisoned");
    let made = managed.tokens.iter().map(|t| {
        json!({"id": t.id, "name": t.entry.name, "role": t.entry.role, "source": "api", "created_at": t.created_at.0})
    });
    Json(json!({"tokens": configured.chain(made).collect::<Vec<_>>()}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    name: String,
    role: Role,
}

async fn make(
    State(access): State<Arc<Access>>,
    Extension(by): Extension<Caller>,
    body: Result<Json<NewToken>, JsonRejection>,
) -> Result<Response, Refusal> {
    let Json(NewToken { name, role }) = body.map_err(|e| Refusal::Invalid(e.body_text()))?;
    let valid = |c: char| c.is_ascii_alphanumeric() || "._-@ ".contains(c);
    if name.trim().is_empty() || name.chars().count() > MAX_NAME_CHARS || !name.chars().all(valid) {
        return Err(Refusal::Invalid(format!(
            "a token's name is 1 to {MAX_NAME_CHARS} letters, digits, spaces or ._-@"
        )));
    }
    let data_dir = access.data_dir.as_deref().ok_or_else(|| {
        Refusal::Invalid(
            "this server asks for no credentials (the demo): it keeps no tokens".into(),
        )
    })?;
    let secret = Secret::generate();
    let token = ManagedToken {
        id: new_id(),
        entry: TokenEntry {
            name: name.clone(),
            role,
            sha256: secret.hash(),
        },
        created_at: ServerTime::now(),
    };
    {
        let mut managed = access.managed.lock().expect("token lock poisoned");
        if managed.tokens.len() >= MAX_MANAGED_TOKENS {
            return Err(Refusal::Invalid(format!(
                "{MAX_MANAGED_TOKENS} tokens exist: revoke some first"
            )));
        }
        managed.tokens.push(token.clone());
        if let Err(e) = managed.save(data_dir) {
            managed.tokens.pop();
            tracing::error!(
                error = format!("{e:#}"),
                "token not made: the token file could not be written"
            );
            return Err(Refusal::Storage);
        }
    }
    tracing::info!(by = %by.name, id = %token.id, name = %name, role = %role, "API token made");
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": token.id, "name": name, "role": role, "token": secret.expose()})),
    )
        .into_response())
}

async fn revoke(
    State(access): State<Arc<Access>>,
    Extension(by): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, Refusal> {
    if id.starts_with("config:") {
        return Err(Refusal::Configured(id));
    }
    let data_dir = access
        .data_dir
        .as_deref()
        .ok_or_else(|| Refusal::NotFound(id.clone()))?;
    let removed = {
        let mut managed = access.managed.lock().expect("token lock poisoned");
        let at = managed
            .tokens
            .iter()
            .position(|t| t.id == id)
            .ok_or_else(|| Refusal::NotFound(id.clone()))?;
        let removed = managed.tokens.remove(at);
        if let Err(e) = managed.save(data_dir) {
            managed.tokens.insert(at, removed);
            tracing::error!(
                error = format!("{e:#}"),
                "token not revoked: the token file could not be written"
            );
            return Err(Refusal::Storage);
        }
        removed
    };
    let sessions = access
        .sessions
        .lock()
        .expect("sessions lock poisoned")
        .close_token(&id);
    tracing::info!(by = %by.name, id = %id, name = %removed.entry.name, sessions, "API token revoked");
    Ok(StatusCode::NO_CONTENT)
}
