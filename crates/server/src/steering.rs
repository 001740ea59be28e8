//! The content-steering server: `GET /v1/steer/hls` and `/v1/steer/dash` answer players' polls
//! with a steering manifest whose `PATHWAY-PRIORITY` follows each pathway's live health in the
//! player's cohort; the session (its id and cohort) rides in `RELOAD-URI`, so any instance can
//! answer the next poll. `GET /v1/steer` shows the state; the kill switch and overrides are
//! `PUT /v1/steer/enabled`, `POST /v1/steer/overrides`, `DELETE /v1/steer/overrides/{id}`.
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Extension, Json, Router};
use openqoe_access::Caller;
use openqoe_collect::client_of;
use openqoe_model::ServerTime;
use openqoe_steer::{
    Cohort, Observations, Policy, Protocol, SteerConfig, SteeringManifest, SteeringQuery,
};
use rand::Rng;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api_error::ApiError;
use crate::view_counts::ViewCounts;

/// Health is summed over buckets this long (the window rounds out to them).
pub(crate) const BUCKET_MS: i64 = 5_000;
/// Reports kept at most, newest win (a flood of polls cannot grow memory without bound).
const MAX_REPORTS: usize = 200_000;
/// Cohorts shown by `GET /v1/steer`.
const COHORTS_SHOWN: usize = 200;

/// A throughput report from a poll.
struct Report {
    at: i64,
    /// Who reported: the client's address (an IPv6 client's /64), or its steering session when
    /// the address stands for many (a proxy on this host).
    voter: String,
    cohort: Vec<Option<String>>,
    pathway: String,
    throughput_bps: u64,
}

/// Polls answered, by dialect, and refused.
#[derive(Default)]
struct Polls {
    hls: AtomicU64,
    dash: AtomicU64,
    rejected: AtomicU64,
}

/// The steering server's state.
pub struct Steering {
    policy: Mutex<Policy>,
    reports: Mutex<VecDeque<Report>>,
    polls: Polls,
    /// The trusted country header of `[collect]`, a cohort source when a poll names none.
    country_header: Option<String>,
    /// The trusted client address header of `[collect]`, for one vote per client.
    client_address_header: Option<String>,
    /// Changes already written to the process log.
    logged_changes: AtomicU64,
}

/// Players fetch the manifest from other origins: it must be readable cross-origin, and never
/// cached (the answer changes with health).
fn player_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        header::HeaderValue::from_static("*"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

impl Steering {
    /// The steering server, or `None` when `[steer]` names fewer than two pathways.
    pub fn new(
        config: &SteerConfig,
        country_header: Option<String>,
        client_address_header: Option<String>,
    ) -> anyhow::Result<Option<Steering>> {
        config.validate().map_err(anyhow::Error::msg)?;
        if !config.is_active() {
            return Ok(None);
        }
        Ok(Some(Steering {
            policy: Mutex::new(Policy::new(config.clone())),
            reports: Mutex::new(VecDeque::new()),
            polls: Polls::default(),
            country_header,
            client_address_header,
            logged_changes: AtomicU64::new(0),
        }))
    }

    /// How often [`Steering::tick`] should run, seconds.
    pub fn evaluate_seconds(&self) -> u64 {
        u64::from(
            self.policy
                .lock()
                .expect("steering lock poisoned")
                .config()
                .evaluate_seconds,
        )
    }

    /// Judges every pathway's health over the window ending `now` and updates the decisions.
    pub fn tick(&self, views: &dyn ViewCounts, now: ServerTime) {
        let config = self
            .policy
            .lock()
            .expect("steering lock poisoned")
            .config()
            .clone();
        let window_ms = i64::from(config.window_seconds) * 1000;
        let from = now.0 - window_ms;
        let mut dimensions = config.cohort_dimensions.clone();
        dimensions.push("cdn".into());
        let bucket_from = from.div_euclid(BUCKET_MS) * BUCKET_MS;
        let views = views.window(
            ServerTime(bucket_from),
            ServerTime(now.0 + 1),
            BUCKET_MS,
            &dimensions,
        );
        let mut observations = Observations::new(&config);
        for (mut values, counts) in views {
            let cdn = values.pop().flatten();
            observations.add_view(&values, cdn.as_deref(), &counts);
        }
        {
            let mut reports = self.reports.lock().expect("reports lock poisoned");
            while reports.front().is_some_and(|r| r.at < from) {
                reports.pop_front();
            }
            // One vote per client, cohort and pathway: its latest report in the window. A client
            // that polls often, or lies, moves the median by one vote at most and counts once
            // towards `min_reports`; demoting a pathway takes as many clients as that.
            let mut votes = HashMap::new();
            for r in reports.iter() {
                votes.insert((&r.voter, &r.cohort, &r.pathway), r.throughput_bps);
            }
            for ((_, cohort, pathway), throughput_bps) in votes {
                observations.add_report(cohort, pathway, throughput_bps);
            }
        }
        let mut policy = self.policy.lock().expect("steering lock poisoned");
        policy.evaluate(now, &observations);
        self.log_new_changes(&policy);
    }

    fn log_new_changes(&self, policy: &Policy) {
        let made = policy.changes_made();
        let logged = self.logged_changes.swap(made, Ordering::Relaxed);
        for change in policy.changes().take((made - logged) as usize) {
            tracing::warn!(kind = ?change.kind, cohort = ?change.cohort, pathway = ?change.pathway, "steering: {}", change.reason);
        }
    }

    /// An alert's runbook action: demote the pathway serving the root cause's `cdn` for the rest
    /// of the cause's cohort. Returns what was done, in words, for the alert's history.
    pub fn act_on_alert(
        &self,
        alert_id: &str,
        cause: &std::collections::BTreeMap<String, String>,
        summary: &str,
        expire_minutes: u32,
        now: ServerTime,
    ) -> String {
        let mut policy = self.policy.lock().expect("steering lock poisoned");
        let Some(cdn) = cause.get("cdn") else {
            return "the root cause names no CDN: no pathway demoted".into();
        };
        let Some(pathway) = policy
            .config()
            .pathways
            .iter()
            .find(|p| p.cdn_values().any(|v| v == cdn))
            .map(|p| p.id.clone())
        else {
            return format!("cdn={cdn} is not a steering pathway: no pathway demoted");
        };
        let cohort: Cohort = cause
            .iter()
            .filter(|(d, _)| *d != "cdn")
            .map(|(d, v)| (d.clone(), v.clone()))
            .collect();
        let expires_at = now.0 + i64::from(expire_minutes) * 60_000;
        let outcome = match policy.demote_for_alert(
            alert_id,
            cohort,
            &pathway,
            &format!("alert {alert_id}: {summary}"),
            expires_at,
            now,
        ) {
            Ok(()) => {
                let scope = policy
                    .demotions()
                    .last()
                    .map(|d| d.cohort.clone())
                    .unwrap_or_default();
                format!(
                    "demoted pathway {pathway} for {} for up to {expire_minutes} min",
                    describe(&scope)
                )
            }
            Err(refused) => format!("no pathway demoted: {refused}"),
        };
        self.log_new_changes(&policy);
        outcome
    }

    /// Undoes an alert's action when it resolves.
    pub fn revert_alert(&self, alert_id: &str, now: ServerTime) {
        let mut policy = self.policy.lock().expect("steering lock poisoned");
        policy.revert_action(alert_id, &format!("alert {alert_id} resolved"), now);
        self.log_new_changes(&policy);
    }

    /// The player endpoints and the operator API.
    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/v1/steer/hls", get(poll_hls))
            .route("/v1/steer/dash", get(poll_dash))
            .route("/v1/steer", get(state))
            .route("/v1/steer/enabled", put(set_enabled))
            .route("/v1/steer/overrides", post(add_override))
            .route("/v1/steer/overrides/{id}", delete(remove_override))
            .with_state(self)
    }

    fn poll(
        &self,
        protocol: Protocol,
        pairs: Vec<(String, String)>,
        peer: Option<IpAddr>,
        headers: &HeaderMap,
    ) -> Response {
        let query = match SteeringQuery::parse(protocol, &pairs) {
            Ok(query) => query,
            Err(e) => {
                self.polls.rejected.fetch_add(1, Ordering::Relaxed);
                return player_headers(
                    ApiError::new(StatusCode::BAD_REQUEST, e.to_string()).into_response(),
                );
            }
        };
        let policy = self.policy.lock().expect("steering lock poisoned");
        let config = policy.config();
        let param = |name: &str| {
            pairs
                .iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .filter(|v| !v.is_empty())
        };
        let cohort: Vec<Option<String>> = config
            .cohort_dimensions
            .iter()
            .map(|dim| {
                // A cohort value is a short code (`DE`, an ISP's name): a longer one is not
                // kept, here or in the reports, so a poll cannot grow memory by its length.
                param(dim)
                    .filter(|v| v.len() <= MAX_COHORT_VALUE_BYTES)
                    .or_else(|| {
                        (dim == "country")
                            .then(|| self.country_header.as_ref().and_then(|h| headers.get(h)))
                            .flatten()
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_ascii_uppercase)
                    })
            })
            .collect();
        let session = param("session")
            .filter(|s| s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
            .unwrap_or_else(|| format!("{:016x}", rand::thread_rng().gen::<u64>()));
        let now = ServerTime::now().0;
        if query.reports.iter().any(|r| r.throughput_bps.is_some()) {
            let header = self.client_address_header.as_deref();
            let voter = client_of(peer, header, headers)
                .map_or_else(|| session.clone(), |client| client.to_string());
            let mut reports = self.reports.lock().expect("reports lock poisoned");
            // Reports about pathways this server does not steer say nothing it can use.
            let known = |pathway: &str| config.pathways.iter().any(|p| p.id == pathway);
            for r in query.reports.iter().filter(|r| known(&r.pathway)) {
                if let Some(bps) = r.throughput_bps {
                    reports.push_back(Report {
                        at: now,
                        voter: voter.clone(),
                        cohort: cohort.clone(),
                        pathway: r.pathway.clone(),
                        throughput_bps: bps,
                    });
                }
            }
            while reports.len() > MAX_REPORTS {
                reports.pop_front();
            }
        }
        // hls.js and Shaka name the pathway they play from; dash.js lists the ones it used,
        // fastest first: the first is the best guess at where it is.
        let current = query.reports.first().map(|r| r.pathway.as_str());
        let priority = policy.priority(&session, &cohort, current);
        let (dialect, counter) = match protocol {
            Protocol::Hls => ("hls", &self.polls.hls),
            Protocol::Dash => ("dash", &self.polls.dash),
        };
        counter.fetch_add(1, Ordering::Relaxed);
        // The next poll carries the session and everything the operator put in the URI, but not
        // the player's own parameters (it appends fresh ones).
        let mut reload = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &pairs {
            if k != "session" && !k.starts_with("_HLS_") && !k.starts_with("_DASH_") {
                reload.append_pair(k, v);
            }
        }
        reload.append_pair("session", &session);
        let manifest = SteeringManifest {
            ttl_s: config.ttl_seconds,
            // Relative: resolves against the manifest's URL, behind any proxy prefix.
            reload_uri: Some(format!("{dialect}?{}", reload.finish())),
            pathway_priority: priority,
            pathway_clones: Vec::new(),
        };
        player_headers(Json(manifest.to_json()).into_response())
    }
}

/// An operator request's JSON body (the access guard has checked the admin role), else why not.
fn operator_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(body)| body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))
}

/// Longest cohort value a poll may name.
const MAX_COHORT_VALUE_BYTES: usize = 64;

/// "country=DE & isp=x" or "everyone".
fn describe(cohort: &Cohort) -> String {
    if cohort.is_empty() {
        "everyone".into()
    } else {
        cohort
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" & ")
    }
}

/// The connection's peer, as the server put it in the request.
type Peer = Option<Extension<ConnectInfo<SocketAddr>>>;

async fn poll_hls(
    State(s): State<Arc<Steering>>,
    Query(pairs): Query<Vec<(String, String)>>,
    peer: Peer,
    headers: HeaderMap,
) -> Response {
    s.poll(Protocol::Hls, pairs, peer.map(|p| p.0 .0.ip()), &headers)
}

async fn poll_dash(
    State(s): State<Arc<Steering>>,
    Query(pairs): Query<Vec<(String, String)>>,
    peer: Peer,
    headers: HeaderMap,
) -> Response {
    s.poll(Protocol::Dash, pairs, peer.map(|p| p.0 .0.ip()), &headers)
}

async fn state(State(s): State<Arc<Steering>>) -> Json<Value> {
    let policy = s.policy.lock().expect("steering lock poisoned");
    let config = policy.config();
    Json(json!({
        "enabled": policy.enabled(),
        "ttl_seconds": config.ttl_seconds,
        "window_seconds": config.window_seconds,
        "pathways": config.pathways.iter().map(|p| json!({"id": p.id, "cdn": p.cdn(), "hosts": p.hosts})).collect::<Vec<_>>(),
        "cohort_dimensions": config.cohort_dimensions,
        "evaluated_at": policy.evaluated_at(),
        "cohorts": policy.cohorts(COHORTS_SHOWN),
        "overrides": policy.overrides(),
        "changes": policy.changes().collect::<Vec<_>>(),
        "polls": {
            "hls": s.polls.hls.load(Ordering::Relaxed),
            "dash": s.polls.dash.load(Ordering::Relaxed),
            "rejected": s.polls.rejected.load(Ordering::Relaxed),
        },
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnabledBody {
    enabled: bool,
    #[serde(default)]
    reason: String,
}

async fn set_enabled(
    State(s): State<Arc<Steering>>,
    Extension(by): Extension<Caller>,
    body: Result<Json<EnabledBody>, JsonRejection>,
) -> Response {
    let body = match operator_body(body) {
        Ok(body) => body,
        Err(refused) => return refused.into_response(),
    };
    let mut policy = s.policy.lock().expect("steering lock poisoned");
    let reason = if body.reason.is_empty() {
        format!("by {}", by.name)
    } else {
        format!("{} (by {})", body.reason, by.name)
    };
    policy.set_enabled(body.enabled, &reason, ServerTime::now());
    s.log_new_changes(&policy);
    Json(json!({"enabled": policy.enabled()})).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OverrideBody {
    #[serde(default)]
    cohort: Cohort,
    priority: Vec<String>,
    expires_in_s: Option<u64>,
    #[serde(default)]
    reason: String,
}

async fn add_override(
    State(s): State<Arc<Steering>>,
    Extension(by): Extension<Caller>,
    body: Result<Json<OverrideBody>, JsonRejection>,
) -> Response {
    let body = match operator_body(body) {
        Ok(body) => body,
        Err(refused) => return refused.into_response(),
    };
    let now = ServerTime::now();
    let expires_at = match body.expires_in_s {
        Some(0) => {
            return ApiError::new(StatusCode::BAD_REQUEST, "expires_in_s: expected at least 1")
                .into_response()
        }
        Some(s) => Some(
            now.0.saturating_add(
                i64::try_from(s)
                    .unwrap_or(i64::MAX / 2)
                    .saturating_mul(1000),
            ),
        ),
        None => None,
    };
    let reason = if body.reason.is_empty() {
        format!("by {}", by.name)
    } else {
        format!("{} (by {})", body.reason, by.name)
    };
    let mut policy = s.policy.lock().expect("steering lock poisoned");
    match policy.set_override(body.cohort, body.priority, expires_at, &reason, now) {
        Ok(made) => {
            s.log_new_changes(&policy);
            (
                StatusCode::CREATED,
                Json(serde_json::to_value(made).unwrap_or_default()),
            )
                .into_response()
        }
        Err(refused) => ApiError::new(StatusCode::BAD_REQUEST, refused.0).into_response(),
    }
}

async fn remove_override(
    State(s): State<Arc<Steering>>,
    Extension(by): Extension<Caller>,
    Path(id): Path<String>,
) -> Response {
    let mut policy = s.policy.lock().expect("steering lock poisoned");
    let reason = format!("removed by {}", by.name);
    if policy.clear_override(&id, &reason, ServerTime::now()) {
        s.log_new_changes(&policy);
        Json(json!({"removed": id})).into_response()
    } else {
        ApiError::new(StatusCode::NOT_FOUND, format!("no override {id:?}")).into_response()
    }
}

/// Without `[steer]` pathways, every steering route says how to turn steering on.
pub fn unconfigured_router() -> Router {
    async fn unconfigured() -> Response {
        player_headers(ApiError::new(
            StatusCode::NOT_FOUND,
            "content steering is not configured: add a [steer] section with two or more [[steer.pathways]] to openqoe.toml",
        ).into_response())
    }
    Router::new().route("/v1/steer", get(unconfigured)).route(
        "/v1/steer/{*rest}",
        get(unconfigured)
            .put(unconfigured)
            .post(unconfigured)
            .delete(unconfigured),
    )
}
