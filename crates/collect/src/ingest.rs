//! `POST /v1/events`: one short walk from request to durable acknowledgement.
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Query, State};
use axum::http::{header, HeaderMap, HeaderName, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use openqoe_model::{Batch, BatchError, LoggedAt, Privacy, Props, ServerTime};
use openqoe_wal::{AppendError, EventLog, RecordKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::{Semaphore, SemaphorePermit};
use tower_http::cors::{Any, CorsLayer};

use crate::decode::{decode_body, BEACON_TYPES, CMCD_TYPES};
use crate::quiet::Quiet;
use crate::rate::{client_of, RateLimits};
use crate::record::{encode_body_record, encode_record};
use crate::{CollectConfig, CollectStats, IngestError};

/// Where durable batches go: the sessionizer, as the binary wires it.
pub trait DurableBatches: Send + Sync + 'static {
    /// Removes events whose (view id, seq) is already durable; returns how many it removed, or
    /// [`ViewsFull`] when the batch would start a view past the cap on live views and
    /// `new_views` is [`NewViews::Capped`].
    fn remove_durable(&self, batch: &mut Batch, new_views: NewViews) -> Result<usize, ViewsFull>;
    /// Takes a batch that is now durable in the log.
    fn deliver(&self, batch: Batch);
}

/// Whether a batch may be refused for starting a view past a cap on live views.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewViews {
    /// Yes: a player's batch, not yet acknowledged (it is answered `429` and retried later).
    Capped,
    /// No: a batch a collector already acknowledged (relayed from an upstream log), which a
    /// refusal would lose.
    Uncapped,
}

/// Views one CMCD body may touch: a player reports its own session, a proxy batches a few; a
/// body naming thousands would make thousands of views from one request.
const MAX_CMCD_VIEWS: usize = 100;

/// A batch refused because it would start a view past a cap on live views: the server's
/// (`environment` is `None`) or its environment's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewsFull {
    /// The environment whose cap it would pass, if it is an environment's.
    pub environment: Option<String>,
}

/// The answer to an accepted batch: `202 {"accepted", "duplicates"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accepted {
    /// Events new to the server, now durable.
    pub accepted: usize,
    /// Events dropped because the server already had them.
    pub duplicates: usize,
}

impl IntoResponse for Accepted {
    fn into_response(self) -> Response {
        (StatusCode::ACCEPTED, Json(self)).into_response()
    }
}

/// Everything the ingest route needs, shared by all requests.
pub struct Ingest<L, D> {
    config: CollectConfig,
    /// Write key → environment name.
    keys: HashMap<String, String>,
    /// In-flight decoded bytes, in KiB permits: the admission limit.
    admission: Semaphore,
    rates: RateLimits,
    /// What of a view's identity is pseudonymised or dropped before the log sees it.
    privacy: Arc<Privacy>,
    log: L,
    sink: Arc<D>,
    stats: CollectStats,
    /// Which refused appends get an error line.
    append_errors: Quiet,
}

impl<L: EventLog, D: DurableBatches> Ingest<L, D> {
    /// Builds the ingest state over a log and a sink of durable batches, applying `privacy`
    /// before anything is logged.
    pub fn new(
        config: CollectConfig,
        privacy: Arc<Privacy>,
        log: L,
        sink: Arc<D>,
        stats: CollectStats,
    ) -> Ingest<L, D> {
        let keys = config
            .effective_environments()
            .into_iter()
            .map(|env| (env.key, env.name))
            .collect();
        let admission = Semaphore::new((config.max_inflight_bytes / 1024).max(1));
        let rates = RateLimits::new(config.rate_per_key, config.rate_per_client);
        Ingest {
            config,
            keys,
            admission,
            rates,
            privacy,
            log,
            sink,
            stats,
            append_errors: Quiet::default(),
        }
    }
}

#[derive(Debug, Deserialize)]
struct KeyQuery {
    key: Option<String>,
}

/// The ingest routes — `/v1/events` (wire v1) and `/v1/cmcd` (CMCD v2 event mode) — with CORS
/// for browsers and the body limit applied.
pub fn router<L: EventLog, D: DurableBatches>(ingest: Arc<Ingest<L, D>>) -> Router {
    let max_body = ingest.config.max_batch_bytes;
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::POST, Method::OPTIONS])
        .allow_headers([
            header::CONTENT_TYPE,
            header::CONTENT_ENCODING,
            HeaderName::from_static("x-openqoe-key"),
        ])
        .max_age(std::time::Duration::from_secs(86_400));
    Router::new()
        .route("/v1/events", post(post_events::<L, D>))
        .route("/v1/cmcd", post(post_cmcd::<L, D>))
        // A raw body over the decoded limit can never decode under it.
        .layer(DefaultBodyLimit::max(max_body))
        .layer(cors)
        .with_state(ingest)
}

/// The connection's peer, when the server put it in the request (not in every test harness).
type Peer = Option<Extension<ConnectInfo<SocketAddr>>>;

async fn post_events<L: EventLog, D: DurableBatches>(
    State(ingest): State<Arc<Ingest<L, D>>>,
    Query(query): Query<KeyQuery>,
    peer: Peer,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Accepted, IngestError> {
    ingest
        .stats
        .count_refusal(accept(&ingest, query, peer, &headers, body).await)
}

async fn accept<L: EventLog, D: DurableBatches>(
    ingest: &Ingest<L, D>,
    query: KeyQuery,
    peer: Peer,
    headers: &HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Accepted, IngestError> {
    let limit = ingest.config.max_batch_bytes;
    check_client_rate(ingest, peer, headers)?; // 429 + Retry-After for one address's flood
    let (body, _permit) = admit(ingest, body)?; // 413, or 429 before any work
    let decoded = decode_body(headers, &body, BEACON_TYPES, limit)?; // gzip, text/plain, 413
    let _grown = admit_growth(ingest, body.len(), decoded.len())?; // 429 for what gzip hid
    let (mut batch, view_at) = Batch::parse_spanned(&decoded, ServerTime::now())?; // wire v1, 400
    let environment = resolve_key(ingest, batch.key.as_deref(), &query, headers)?; // 401, 429
    let stamps = server_stamps(ingest, environment, headers);
    // The log keeps the body as it came (replay parses it again), not a re-encoding; with the
    // view's header pseudonymised or trimmed (`[privacy]`), the body with that header.
    let body = match ingest.privacy.apply(&mut batch.view) {
        true => batch.body_with_header(&decoded, &view_at),
        false => decoded,
    };
    batch.view.props.extend(stamps.clone());
    let received_at = batch.received_at;
    let record = |_: &Batch| encode_body_record(received_at, &stamps, &body);
    let (accepted, duplicates) = make_durable(ingest, batch, record).await?; // 202 after fsync
    Ok(Accepted {
        accepted,
        duplicates,
    })
}

/// Takes the body and an admission permit for its size: `413` past the body limit, `429` when
/// too many bytes are already being ingested.
fn admit<L, D>(
    ingest: &Ingest<L, D>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<(Bytes, SemaphorePermit<'_>), IngestError> {
    let limit = ingest.config.max_batch_bytes;
    // Past the body limit, or not all there: a slow or cut-off upload (the server's body
    // timeout ends it).
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => IngestError::TooLarge { limit },
        _ => IngestError::BodyUnread,
    })?;
    let permits = u32::try_from(body.len() / 1024 + 1).unwrap_or(u32::MAX);
    let permit = ingest
        .admission
        .try_acquire_many(permits)
        .map_err(|_| IngestError::Overloaded)?;
    Ok((body, permit))
}

/// Admission for what decoding added to the body (gzip): admission counts the bytes in memory,
/// and a small compressed body can decode to the whole batch limit.
fn admit_growth<'a, L, D>(
    ingest: &'a Ingest<L, D>,
    raw: usize,
    decoded: usize,
) -> Result<Option<SemaphorePermit<'a>>, IngestError> {
    let permits = decoded.saturating_sub(raw) / 1024;
    if permits == 0 {
        return Ok(None);
    }
    let permits = u32::try_from(permits).unwrap_or(u32::MAX);
    match ingest.admission.try_acquire_many(permits) {
        Ok(permit) => Ok(Some(permit)),
        Err(_) => Err(IngestError::Overloaded),
    }
}

/// Drops what is already durable, appends the batch's `record` to the log and, once it is
/// durable, hands the batch on; returns (accepted, duplicates).
async fn make_durable<L: EventLog, D: DurableBatches>(
    ingest: &Ingest<L, D>,
    batch: Batch,
    record: impl FnOnce(&Batch) -> Vec<u8>,
) -> Result<(usize, usize), IngestError> {
    let stage = Durable {
        log: &ingest.log,
        sink: &*ingest.sink,
        stats: &ingest.stats,
    };
    match stage.make(batch, NewViews::Capped, record).await {
        Ok(counts) => Ok(counts),
        // 429 for a new view past the live views' cap
        Err(NotDurable::ViewsFull(full)) => Err(IngestError::ViewsFull(full.environment)),
        Err(NotDurable::Log(e)) => {
            if let Some(unlogged) = ingest.append_errors.line_at(ServerTime::now().0) {
                tracing::error!(error = %e, unlogged, "log append failed; batch refused with 503 (unlogged: refusals since the last such line)");
            }
            Err(IngestError::LogUnavailable(e.to_string()))
        }
    }
}

/// The last step of every accepted batch, from a player or relayed from an upstream log.
pub(crate) struct Durable<'a, L, D> {
    pub(crate) log: &'a L,
    pub(crate) sink: &'a D,
    pub(crate) stats: &'a CollectStats,
}

/// Why a batch was not made durable.
pub(crate) enum NotDurable {
    /// It would start a view past a cap on live views.
    ViewsFull(ViewsFull),
    /// The log did not take it.
    Log(AppendError),
}

impl<L: EventLog, D: DurableBatches> Durable<'_, L, D> {
    /// Drops what is already durable, appends the batch's `record` to the log and, once it is
    /// durable, hands the batch on; returns (accepted, duplicates).
    pub(crate) async fn make(
        &self,
        mut batch: Batch,
        new_views: NewViews,
        record: impl FnOnce(&Batch) -> Vec<u8>,
    ) -> Result<(usize, usize), NotDurable> {
        // (view id, seq) already durable
        let duplicates =
            (self.sink.remove_durable(&mut batch, new_views)).map_err(NotDurable::ViewsFull)?;
        if batch.moved_back_ms > 0 {
            self.stats.moved_back.inc();
        }
        let accepted = batch.events.len();
        if accepted > 0 || !batch.view.props.is_empty() {
            let record = record(&batch);
            let at =
                (self.log.append(record, record_key(&batch)).await).map_err(NotDurable::Log)?; // durable: only now may we ack
            batch.logged_at = LoggedAt::new(at.segment, at.offset);
            self.sink.deliver(batch);
        }
        self.stats.batches.inc();
        self.stats.events.inc_by(accepted as u64);
        self.stats.duplicates.inc_by(duplicates as u64);
        Ok((accepted, duplicates))
    }
}

/// What a partitioned, de-duplicating log needs of `batch`, borrowed: nothing is allocated.
fn record_key(batch: &Batch) -> RecordKey<'_> {
    let seqs = batch.events.iter().map(|e| e.seq.0);
    RecordKey {
        view: batch.view.id.as_str(),
        environment: batch.view.props.get("environment").and_then(|e| e.as_str()),
        seqs: seqs.clone().min().zip(seqs.max()),
        events: batch.events.len(),
    }
}

async fn post_cmcd<L: EventLog, D: DurableBatches>(
    State(ingest): State<Arc<Ingest<L, D>>>,
    Query(query): Query<KeyQuery>,
    peer: Peer,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<StatusCode, IngestError> {
    ingest
        .stats
        .count_refusal(accept_cmcd(&ingest, query, peer, &headers, body).await)
}

/// CMCD v2 event mode (CTA-5004-B §5): records become views keyed by (`sid`, `cid`); `204` once
/// durable, as the spec expects of a collector.
async fn accept_cmcd<L: EventLog, D: DurableBatches>(
    ingest: &Ingest<L, D>,
    query: KeyQuery,
    peer: Peer,
    headers: &HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<StatusCode, IngestError> {
    let limit = ingest.config.max_batch_bytes;
    check_client_rate(ingest, peer, headers)?;
    let (body, _permit) = admit(ingest, body)?;
    let decoded = decode_body(headers, &body, CMCD_TYPES, limit)?;
    let _grown = admit_growth(ingest, body.len(), decoded.len())?;
    let environment = resolve_key(ingest, None, &query, headers)?;
    let text = std::str::from_utf8(&decoded).map_err(|_| BatchError {
        at: String::new(),
        reason: "expected UTF-8 text".into(),
    })?;
    let mut records = Vec::new();
    let mut first_problem = None;
    for (index, record) in openqoe_cmcd::decode_event_body(text)
        .into_iter()
        .enumerate()
    {
        match record {
            Ok(payload) => records.push(payload),
            Err(e) => {
                first_problem.get_or_insert(BatchError {
                    at: format!("records[{index}]"),
                    reason: e.to_string(),
                });
            }
        }
    }
    let (batches, skipped) = openqoe_cmcd::records_to_batches(&records, ServerTime::now());
    if let Some(skip) = skipped.first() {
        first_problem.get_or_insert(BatchError {
            at: format!("records[{}]", skip.index),
            reason: skip.reason.clone(),
        });
    }
    if batches.len() > MAX_CMCD_VIEWS {
        return Err(IngestError::Malformed(BatchError {
            at: String::new(),
            reason: format!(
                "records of {} player sessions (sid, cid); at most {MAX_CMCD_VIEWS} in one body",
                batches.len()
            ),
        }));
    }
    if batches.is_empty() {
        let problem = first_problem.unwrap_or(BatchError {
            at: String::new(),
            reason: "expected at least one record".into(),
        });
        return Err(IngestError::Malformed(problem));
    }
    let stamps = server_stamps(ingest, environment, headers);
    for mut batch in batches {
        ingest.privacy.apply(&mut batch.view);
        batch.view.props.extend(stamps.clone());
        make_durable(ingest, batch, encode_record).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Takes a request from the client's bucket, when the request has a client ([`client_of`]).
fn check_client_rate<L, D>(
    ingest: &Ingest<L, D>,
    peer: Peer,
    headers: &HeaderMap,
) -> Result<(), IngestError> {
    let peer = peer.map(|Extension(ConnectInfo(address))| address.ip());
    let header = ingest.config.client_address_header.as_deref();
    match client_of(peer, header, headers) {
        Some(client) => Ok(ingest.rates.check_client(client)?),
        None => Ok(()),
    }
}

/// The environment of the write key (from the body, else `X-OpenQoE-Key`, else `?key=`), once
/// its bucket has room.
fn resolve_key<L, D>(
    ingest: &Ingest<L, D>,
    body_key: Option<&str>,
    query: &KeyQuery,
    headers: &HeaderMap,
) -> Result<String, IngestError> {
    let key = body_key
        .or_else(|| headers.get("x-openqoe-key").and_then(|v| v.to_str().ok()))
        .or(query.key.as_deref())
        .ok_or(IngestError::UnknownKey)?;
    let environment = ingest
        .keys
        .get(key)
        .cloned()
        .ok_or(IngestError::UnknownKey)?;
    ingest.rates.check_key(key)?;
    Ok(environment)
}

/// The dimensions the server knows better than the client: environment and trusted country.
fn server_stamps<L, D>(ingest: &Ingest<L, D>, environment: String, headers: &HeaderMap) -> Props {
    let mut stamps = Props::new();
    stamps.insert("environment".into(), Value::String(environment));
    let country = ingest
        .config
        .country_header
        .as_deref()
        .and_then(|name| headers.get(name))
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|c| c.len() == 2 && c.chars().all(|ch| ch.is_ascii_alphabetic()));
    if let Some(country) = country {
        stamps.insert(
            "country".into(),
            Value::String(country.to_ascii_uppercase()),
        );
    }
    ingest.privacy.apply_props(&mut stamps);
    stamps
}
