//! `POST /v1/sql` `{"sql", "limit"?, "from"?, "to"?}`: a read-only SQL query over the `views`
//! table (ended views: id, start, dimensions, metrics — the export's columns) and the `events`
//! table (every event of the views, live or ended, that started in the range), answered as
//! `{"columns", "rows", "truncated", "elapsed_ms"}`. The range defaults to the last 24 hours.
//! Only with the `sql` feature (DataFusion); without it the route says how to get it (501).
use std::sync::Arc;

use axum::routing::post;
use axum::Router;
#[cfg(not(feature = "sql"))]
use {
    crate::api_error::ApiError,
    axum::http::StatusCode,
    axum::response::{IntoResponse, Response},
};

/// The SQL route over the pipeline's views.
#[cfg(feature = "sql")]
pub fn router(pipeline: Arc<crate::pipeline::Pipeline>) -> Router {
    Router::new().route(
        "/v1/sql",
        post(move |body| engine::answer(Arc::clone(&pipeline), body)),
    )
}

/// The SQL route of a build without the engine.
#[cfg(not(feature = "sql"))]
pub fn router(_pipeline: Arc<crate::pipeline::Pipeline>) -> Router {
    Router::new().route("/v1/sql", post(no_engine))
}

#[cfg(not(feature = "sql"))]
async fn no_engine() -> Response {
    ApiError::new(
        StatusCode::NOT_IMPLEMENTED,
        "this build has no SQL engine: build openqoe with `--features sql` (Apache DataFusion), \
         or export the data (GET /v1/export/views, openqoe export) and query it with DuckDB",
    )
    .into_response()
}

#[cfg(feature = "sql")]
mod engine {
    use std::sync::Arc;
    use std::time::Duration;

    use axum::extract::rejection::JsonRejection;
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};
    use axum::Json;
    use openqoe_model::ServerTime;
    use openqoe_query::ViewSource;
    use openqoe_sql::{Limits, SqlError, Table};
    use openqoe_store::{events_batch, ViewBatches};
    use serde::Deserialize;
    use serde_json::json;

    use crate::api_error::ApiError;
    use crate::pipeline::Pipeline;

    /// Rows answered unless the request asks for fewer (or more, up to [`MAX_ROWS`]).
    const DEFAULT_ROWS: usize = 1_000;
    /// The most rows one answer carries.
    const MAX_ROWS: usize = 100_000;
    /// How long one query may run, making its tables included.
    const TIMEOUT: Duration = Duration::from_secs(30);
    /// The range when the request names none: the last 24 hours.
    const DEFAULT_RANGE_MS: i64 = 24 * 3_600_000;

    /// A failure of ours: logged with its detail, answered without it.
    fn internal(detail: &str) -> Response {
        tracing::error!(error = detail, "SQL tables could not be made");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the tables for this query could not be made; see the server log",
        )
        .into_response()
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct SqlRequest {
        sql: String,
        limit: Option<usize>,
        from: Option<String>,
        to: Option<String>,
    }

    pub async fn answer(
        pipeline: Arc<Pipeline>,
        request: Result<Json<SqlRequest>, JsonRejection>,
    ) -> Response {
        let Json(request) = match request {
            Ok(request) => request,
            Err(e) => return ApiError::new(StatusCode::BAD_REQUEST, e.body_text()).into_response(),
        };
        let max_rows = request.limit.unwrap_or(DEFAULT_ROWS);
        if !(1..=MAX_ROWS).contains(&max_rows) {
            return ApiError::new(
                StatusCode::BAD_REQUEST,
                &format!("limit: expected 1 to {MAX_ROWS}, got {max_rows}"),
            )
            .into_response();
        }
        let time = |name: &str, value: &Option<String>, default: i64| match value {
            Some(v) => openqoe_query::parse_time(v).map_err(|e| format!("{name}: {e}")),
            None => Ok(ServerTime(default)),
        };
        // The last 24 hours unless asked otherwise, like every other endpoint.
        let now = openqoe_model::ServerTime::now().0;
        let range = time("to", &request.to, now + 1).and_then(|to| {
            let from = time("from", &request.from, to.0 - DEFAULT_RANGE_MS)?;
            Ok((from, to))
        });
        let (from, to) = match range {
            Ok(range) => range,
            Err(message) => return ApiError::new(StatusCode::BAD_REQUEST, message).into_response(),
        };
        if from >= to {
            return ApiError::new(StatusCode::BAD_REQUEST, "from: expected before to")
                .into_response();
        }
        // The time limit covers making the tables too; they are made off the async workers.
        let started = std::time::Instant::now();
        let made = tokio::time::timeout(
            TIMEOUT,
            tokio::task::spawn_blocking(move || tables(&pipeline, from, to)),
        )
        .await;
        let tables = match made {
            Ok(Ok(Ok(tables))) => tables,
            Ok(Ok(Err(e))) => return internal(&e.to_string()),
            Ok(Err(e)) => return internal(&e.to_string()),
            Err(_) => {
                return ApiError::new(
                    StatusCode::GATEWAY_TIMEOUT,
                    &SqlError::Timeout(TIMEOUT).to_string(),
                )
                .into_response()
            }
        };
        let limits = Limits {
            max_rows,
            timeout: TIMEOUT.saturating_sub(started.elapsed()),
        };
        match openqoe_sql::run(tables, &request.sql, limits).await {
            Ok(answer) => Json(json!({
                "columns": answer.columns,
                "rows": answer.rows,
                "truncated": answer.truncated,
                "elapsed_ms": answer.elapsed_ms,
            }))
            .into_response(),
            Err(e @ SqlError::Query(_)) => {
                ApiError::new(StatusCode::BAD_REQUEST, e.to_string()).into_response()
            }
            Err(e @ SqlError::Timeout(_)) => {
                ApiError::new(StatusCode::GATEWAY_TIMEOUT, e.to_string()).into_response()
            }
        }
    }

    /// The `views` and `events` tables for views that started in `[from, to)`, an hour at a
    /// time (the views are held only while an hour is copied).
    fn tables(
        pipeline: &Pipeline,
        from: ServerTime,
        to: ServerTime,
    ) -> Result<Vec<Table>, openqoe_store::WriteError> {
        let dimensions = pipeline.ended(from, to).dimension_names().to_vec();
        let mut views = ViewBatches::new(dimensions);
        let mut events_batches = Vec::new();
        for hour in pipeline.hours(from, to) {
            openqoe_query::each_partition(pipeline, hour, |table, partition| {
                views.add_partition(table, partition, from, to).map(drop)
            })?;
            let held = pipeline.hour_views(hour, from, to);
            let events: Vec<_> = held
                .iter()
                .flat_map(|view| view.events.values().map(move |event| (&view.id, event)))
                .collect();
            if !events.is_empty() {
                events_batches.push(events_batch(&events)?);
            }
        }
        let (views_schema, views_batches) = views.into_parts();
        Ok(vec![
            Table {
                name: "views",
                schema: views_schema,
                batches: views_batches,
            },
            Table {
                name: "events",
                schema: openqoe_store::events_schema(),
                batches: events_batches,
            },
        ])
    }
}
