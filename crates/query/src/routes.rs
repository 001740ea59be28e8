//! The HTTP surface: `/v1/...`.
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use openqoe_metrics::{metric, Metric, ViewMetrics, METRICS};
use openqoe_model::{Privacy, ServerTime, View, ViewId};
use serde_json::{json, Map, Value};

use crate::aggregate::root_cause_input;
use crate::api::Api;
use crate::newest::{newest_views, NewestViews};
use crate::params::RootCauseQuery;
use crate::{Aggregate, Aggregates, ApiError, GroupKey, Grouping, Selection, ViewSource};

type Pairs = Query<Vec<(String, String)>>;

/// The query routes over a view source.
pub fn router<S: ViewSource>(source: Arc<S>, privacy: Arc<Privacy>) -> Router {
    aggregate_router(Arc::clone(&source), Arc::clone(&privacy)).merge(
        Router::new()
            .route("/v1/metrics/{metric}/rca", get(root_cause::<S>))
            .route("/v1/audience", get(audience::<S>))
            .route("/v1/views", get(view_list::<S>))
            .route("/v1/views/{id}", get(view::<S>))
            .route("/v1/views/{id}/events", get(view_events::<S>))
            .route("/v1/export/{table}", get(crate::export::export::<S>))
            .with_state(Arc::new(Api { source, privacy })),
    )
}

/// The routes that aggregate (the catalogue, dimensions, breakdowns and timeseries), over any
/// [`Aggregates`]: what an API node reading ClickHouse serves.
pub fn aggregate_router<A: Aggregates>(source: Arc<A>, privacy: Arc<Privacy>) -> Router {
    Router::new()
        .route("/v1/metrics", get(catalogue))
        .route("/v1/dimensions", get(dimensions::<A>))
        .route("/v1/metrics/{metric}/breakdown", get(breakdown::<A>))
        .route("/v1/metrics/{metric}/timeseries", get(timeseries::<A>))
        .with_state(Arc::new(Api { source, privacy }))
}

async fn catalogue() -> Json<Value> {
    Json(json!({ "metrics": METRICS }))
}

async fn dimensions<A: Aggregates>(State(api): State<Arc<Api<A>>>) -> Result<Response, ApiError> {
    off_the_runtime(move || Ok(json!({ "dimensions": api.source.dimension_names()? }))).await
}

/// Runs a query's work on the blocking pool and serializes its answer there: both may take
/// seconds, and the runtime's workers must go on acknowledging ingest meanwhile.
async fn off_the_runtime(
    work: impl FnOnce() -> Result<Value, ApiError> + Send + 'static,
) -> Result<Response, ApiError> {
    let body = tokio::task::spawn_blocking(move || {
        work().map(|answer| serde_json::to_vec(&answer).expect("a JSON value serializes"))
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "a query stopped before it answered");
        ApiError::Failed
    })??;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

fn find_metric(name: &str) -> Result<&'static Metric, ApiError> {
    metric(name).ok_or_else(|| ApiError::UnknownMetric(name.to_owned()))
}

fn group_key(view: &View, group_by: &[String]) -> Vec<Option<String>> {
    group_by.iter().map(|dim| view.dimension(dim)).collect()
}

fn group_json(group_by: &[String], key: &[Option<String>]) -> Value {
    let map: Map<String, Value> = group_by
        .iter()
        .cloned()
        .zip(key.iter().map(|v| json!(v)))
        .collect();
    Value::Object(map)
}

/// One metric over the selected views, by group (and bucket).
fn aggregate_views<A: Aggregates>(
    source: &A,
    metric: &'static Metric,
    selection: &Selection,
    interval_ms: Option<i64>,
) -> Result<BTreeMap<GroupKey, Aggregate>, ApiError> {
    source.aggregate(&Grouping {
        metric,
        from: selection.from,
        to: selection.to,
        filters: &selection.filters,
        group_by: &selection.group_by,
        interval_ms,
    })
}

fn metric_header(metric: &Metric) -> Map<String, Value> {
    let mut header = Map::new();
    header.insert("metric".into(), json!(metric.name));
    header.insert("unit".into(), json!(metric.unit));
    header.insert("kind".into(), json!(metric.kind));
    header
}

async fn breakdown<A: Aggregates>(
    State(api): State<Arc<Api<A>>>,
    Path(name): Path<String>,
    Query(pairs): Pairs,
) -> Result<Response, ApiError> {
    let metric = find_metric(&name)?;
    let selection = api.selection(&pairs, ServerTime::now())?;
    off_the_runtime(move || breakdown_json(api.source.as_ref(), metric, &selection)).await
}

/// A breakdown's answer: one row per group, most views first.
fn breakdown_json<A: Aggregates>(
    source: &A,
    metric: &'static Metric,
    selection: &Selection,
) -> Result<Value, ApiError> {
    let mut groups = aggregate_views(source, metric, selection, None)?;
    if selection.group_by.is_empty() && groups.is_empty() {
        groups.insert((selection.from.0, Vec::new()), Aggregate::new(metric.kind));
    }
    let mut rows: Vec<(u64, Value)> = groups
        .into_iter()
        .map(|((_, key), aggregate)| {
            let views = aggregate.views();
            let mut row = Map::new();
            row.insert("group".into(), group_json(&selection.group_by, &key));
            row.extend(aggregate.into_fields());
            (views, Value::Object(row))
        })
        .collect();
    rows.sort_by_key(|row| std::cmp::Reverse(row.0));
    let mut body = metric_header(metric);
    body.insert(
        "rows".into(),
        Value::Array(rows.into_iter().map(|(_, row)| row).collect()),
    );
    Ok(Value::Object(body))
}

/// Root cause of a ratio's excess in the window against a baseline (docs/rca.md): `from`/`to` the
/// window, `baseline_from`/`baseline_to` the baseline (default: the four window lengths before
/// it), `dimensions` (default: the usual ones), `filter` as everywhere. Rate metrics count views;
/// `rebuffer_percentage` weighs rebuffer time against rebuffer + playing time.
async fn root_cause<S: ViewSource>(
    State(api): State<Arc<Api<S>>>,
    Path(name): Path<String>,
    Query(pairs): Pairs,
) -> Result<Response, ApiError> {
    let metric = find_metric(&name)?;
    let mut query = RootCauseQuery::from_query(metric, &pairs, ServerTime::now(), || {
        api.source.dimensions()
    })?;
    query.selection.store_filters(&api.privacy);
    off_the_runtime(move || Ok(root_cause_json(api.source.as_ref(), metric, &query))).await
}

/// A root cause's answer: the causes found, with the window and baseline they came from.
fn root_cause_json<S: ViewSource>(
    source: &S,
    metric: &'static Metric,
    query: &RootCauseQuery,
) -> Value {
    let input = root_cause_input(source, metric, query);
    let found = openqoe_rca::localise(&input, metric.name);
    let mut body = serde_json::to_value(found).unwrap_or_default();
    let (window, baseline) = (&query.selection, query);
    body["window"] =
        json!({"from": window.from.0, "to": window.to.0, "views": input.current.len()});
    body["baseline"] = json!({"from": baseline.baseline_from.0, "to": baseline.baseline_to.0,
        "views": input.baseline.len()});
    body
}

/// A view whose last event is older than this is not counted as watching now, whatever its state.
const WATCHING_NOW_MS: i64 = 60_000;

/// Who watched: per group, views, unique viewers (by viewer id, DESIGN §2) and the viewers
/// watching now — live views whose last event is under a minute old and whose viewer is not
/// paused, past the end or failed (starting and rebuffering viewers count, as in Mux's CCV).
async fn audience<S: ViewSource>(
    State(api): State<Arc<Api<S>>>,
    Query(pairs): Pairs,
) -> Result<Response, ApiError> {
    let now_ms = ServerTime::now();
    let selection = api.selection(&pairs, now_ms)?;
    off_the_runtime(move || Ok(audience_json(api.source.as_ref(), &selection, now_ms))).await
}

/// Who watched, per group (see [`audience`]).
fn audience_json<S: ViewSource>(source: &S, selection: &Selection, now_ms: ServerTime) -> Value {
    #[derive(Default)]
    struct Audience {
        views: u64,
        viewers: std::collections::HashSet<String>,
        watching: std::collections::HashSet<String>,
    }
    let mut groups: BTreeMap<Vec<Option<String>>, Audience> = BTreeMap::new();
    if selection.group_by.is_empty() {
        groups.insert(Vec::new(), Audience::default());
    }
    source.visit_views(selection.from, selection.to, &mut |view, metrics| {
        if !selection.matches(view) {
            return;
        }
        let group = groups
            .entry(group_key(view, &selection.group_by))
            .or_default();
        group.views += 1;
        // A view without a viewer id stands for a viewer of its own.
        let viewer = view
            .viewer_id
            .clone()
            .unwrap_or_else(|| format!("view:{}", view.id.as_str()));
        if metrics.watching && now_ms.0 - view.last_received_at.0 <= WATCHING_NOW_MS {
            group.watching.insert(viewer.clone());
        }
        group.viewers.insert(viewer);
    });
    let mut rows: Vec<Value> = groups
        .into_iter()
        .map(|(key, a)| {
            json!({
                "group": group_json(&selection.group_by, &key),
                "views": a.views,
                "unique_viewers": a.viewers.len(),
                "watching_now": a.watching.len(),
            })
        })
        .collect();
    rows.sort_by_key(|row| std::cmp::Reverse(row["views"].as_u64()));
    json!({"watching_now_window_ms": WATCHING_NOW_MS, "rows": rows})
}

async fn timeseries<A: Aggregates>(
    State(api): State<Arc<Api<A>>>,
    Path(name): Path<String>,
    Query(pairs): Pairs,
) -> Result<Response, ApiError> {
    let metric = find_metric(&name)?;
    let selection = api.selection(&pairs, ServerTime::now())?;
    selection.check_buckets()?;
    off_the_runtime(move || timeseries_json(api.source.as_ref(), metric, &selection)).await
}

/// A timeseries' answer: one point per bucket and group.
fn timeseries_json<A: Aggregates>(
    source: &A,
    metric: &'static Metric,
    selection: &Selection,
) -> Result<Value, ApiError> {
    let buckets = aggregate_views(source, metric, selection, Some(selection.interval_ms))?;
    let points: Vec<Value> = buckets
        .into_iter()
        .map(|((t, key), aggregate)| {
            let mut point = Map::new();
            point.insert("t".into(), json!(t));
            point.insert("group".into(), group_json(&selection.group_by, &key));
            point.extend(aggregate.into_fields());
            Value::Object(point)
        })
        .collect();
    let mut body = metric_header(metric);
    body.insert("interval_ms".into(), json!(selection.interval_ms));
    body.insert("points".into(), Value::Array(points));
    Ok(Value::Object(body))
}

/// The API form of a view: identity, status, times, props, every per-view metric, and its media
/// requests per host (from CMCD `e=rr`).
fn view_json(view: &View, metrics: &ViewMetrics) -> Value {
    json!({
        "id": view.id.as_str(),
        "status": if view.is_ended() { "ended" } else { "active" },
        "started_at": view.started_at().map(|t| t.0),
        "ended_at": view.end.map(|end| end.at.0),
        "end_reason": view.end.map(|end| end.reason.name()),
        "viewer_id": view.viewer_id,
        "session_id": view.session_id,
        "props": view.props.to_map(),
        "metrics": metrics,
        "requests": openqoe_metrics::requests_by_host(view),
        "event_count": view.events.len(),
    })
}

async fn view_list<S: ViewSource>(
    State(api): State<Arc<Api<S>>>,
    Query(pairs): Pairs,
) -> Result<Response, ApiError> {
    let selection = api.selection(&pairs, ServerTime::now())?;
    off_the_runtime(move || Ok(view_list_json(api.source.as_ref(), &selection))).await
}

/// The newest matching views, as [`view_json`].
fn view_list_json<S: ViewSource>(source: &S, selection: &Selection) -> Value {
    // First the newest `limit` matching views, from copies of the columns (never a walk of
    // every view under the views' lock), then the JSON (props, metrics, per-host requests) of
    // those alone. Newest first; the id breaks ties so the same views always list in the same
    // order.
    let mut kept = NewestViews::default();
    for columns in source.tables(selection.from, selection.to) {
        newest_views(
            &columns,
            selection.from,
            selection.to,
            &selection.filters,
            selection.limit,
            &mut kept,
        );
    }
    let newest = kept.into_sorted();
    // Their events too (a view list shows requests per host): read back for views whose
    // events are out of memory, once per hour file.
    let ids: Vec<ViewId> = newest.iter().map(|(_, id)| id.clone()).collect();
    let mut chosen: HashMap<ViewId, Value> = source
        .views(&ids)
        .into_iter()
        .map(|(view, metrics)| (view.id.clone(), view_json(&view, &metrics)))
        .collect();
    let views: Vec<Value> = newest
        .iter()
        .filter_map(|(_, id)| chosen.remove(id))
        .collect();
    json!({ "views": views })
}

/// View `id` with its events (read back if they are out of memory) and metrics.
fn lookup<S: ViewSource>(source: &S, id: &str) -> Result<(View, ViewMetrics), ApiError> {
    let view_id = ViewId::new(id).map_err(|_| ApiError::NoView(id.to_owned()))?;
    source
        .view(&view_id)
        .ok_or_else(|| ApiError::NoView(id.to_owned()))
}

async fn view<S: ViewSource>(
    State(api): State<Arc<Api<S>>>,
    Path(id): Path<String>,
    Query(pairs): Pairs,
) -> Result<Response, ApiError> {
    // The per-second P.1203 curve is for the view page only: computed on demand, never stored.
    // `?p1203=h264-equivalent` asks for an estimate for codecs mode 0 does not cover.
    let equivalent = pairs
        .iter()
        .any(|(k, v)| k == "p1203" && v == "h264-equivalent");
    off_the_runtime(move || {
        let (view, metrics) = lookup(api.source.as_ref(), &id)?;
        let mut body = view_json(&view, &metrics);
        body["p1203"] = json!(openqoe_metrics::view_p1203(&view, equivalent));
        Ok(body)
    })
    .await
}

async fn view_events<S: ViewSource>(
    State(api): State<Arc<Api<S>>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    off_the_runtime(move || {
        let (view, _) = lookup(api.source.as_ref(), &id)?;
        let events: Vec<Value> = view
            .events
            .values()
            .map(|event| {
                let mut fields = event.fields();
                fields.insert("at".into(), json!(event.at.0));
                Value::Object(fields)
            })
            .collect();
        Ok(json!({ "view_id": view.id.as_str(), "events": events }))
    })
    .await
}
