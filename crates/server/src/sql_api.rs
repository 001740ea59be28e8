//! `POST /v1/sql` `{"sql", "limit"?, "from"?, "to"?}`: a read-only SQL query over the `views`
//! table (ended views: id, start, dimensions, metrics — the export's columns) and the `events`
//! table (every event of the views, live or ended, that started in the range), answered as
//! `{"columns", "rows", "truncated", "elapsed_ms"}`. The range defaults to the last 24 hours.
//! Only with the `sql` feature (DataFusion); without it the route says how to get it (501).
//!
//! Bounds (`[sql]`): the queries' operators draw on one memory pool together (`memory_mib`), and
//! the tables they are given — copies of the views and events in range — count against one
//! budget together (`max_table_mib`): a query whose tables alone pass it is refused with `400`
//! (narrow the range), one that finds the budget taken by others with `503` and `Retry-After`.
//! Making the tables stops at the time limit, an hour at a time.
use std::sync::Arc;

use axum::routing::post;
use axum::Router;
use openqoe_query::ViewSource;
use serde::Deserialize;
#[cfg(not(feature = "sql"))]
use {
    crate::api_error::ApiError,
    axum::http::StatusCode,
    axum::response::{IntoResponse, Response},
};

/// `[sql]` section of openqoe.toml: what SQL queries may hold, all together.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SqlConfig {
    /// MiB the queries' operators (sorts, joins, aggregations) hold at most, together; a query
    /// that needs more fails with the reason.
    pub memory_mib: usize,
    /// MiB of tables (copies of the views and events in range) the queries hold at most,
    /// together.
    pub max_table_mib: usize,
}

impl Default for SqlConfig {
    fn default() -> Self {
        SqlConfig {
            memory_mib: 1024,
            max_table_mib: 1024,
        }
    }
}

/// The SQL route over `views`.
///
/// # Errors
/// When the engine cannot be made.
#[cfg(feature = "sql")]
pub fn router(views: Arc<dyn ViewSource>, config: &SqlConfig) -> anyhow::Result<Router> {
    let sql = Arc::new(engine::Sql::new(views, config)?);
    Ok(Router::new().route(
        "/v1/sql",
        post(move |body| engine::answer(Arc::clone(&sql), body)),
    ))
}

/// The SQL route of a build without the engine.
///
/// # Errors
/// Never; as the engine's.
#[cfg(not(feature = "sql"))]
pub fn router(_views: Arc<dyn ViewSource>, _config: &SqlConfig) -> anyhow::Result<Router> {
    Ok(Router::new().route("/v1/sql", post(no_engine)))
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
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use axum::extract::rejection::JsonRejection;
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};
    use axum::Json;
    use openqoe_model::ServerTime;
    use openqoe_query::ViewSource;
    use openqoe_sql::{Engine, Limits, SqlError, Table};
    use openqoe_store::{events_batch, ViewBatches};
    use serde::Deserialize;
    use serde_json::json;

    use super::SqlConfig;
    use crate::api_error::ApiError;

    /// The engine and the tables' budget, shared by every query.
    pub struct Sql {
        views: Arc<dyn ViewSource>,
        engine: Engine,
        budget: Arc<TableBudget>,
    }

    impl Sql {
        pub fn new(views: Arc<dyn ViewSource>, config: &SqlConfig) -> anyhow::Result<Sql> {
            Ok(Sql {
                views,
                engine: Engine::new(config.memory_mib << 20)?,
                budget: Arc::new(TableBudget {
                    limit: config.max_table_mib << 20,
                    held: AtomicUsize::new(0),
                }),
            })
        }
    }

    /// Bytes of tables the queries hold, against their limit together.
    pub struct TableBudget {
        limit: usize,
        held: AtomicUsize,
    }

    /// One query's share of the budget, given back when dropped.
    pub struct TableShare {
        budget: Arc<TableBudget>,
        bytes: usize,
    }

    /// Why a query's tables were not made.
    #[derive(Debug)]
    pub enum NoTables {
        /// Past the time limit.
        Timeout,
        /// Its tables alone pass the budget: the range must narrow.
        TooLarge { limit: usize },
        /// Other queries hold the budget now.
        Busy,
        /// A failure of ours.
        Failed(String),
    }

    impl TableShare {
        pub fn new(budget: &Arc<TableBudget>) -> TableShare {
            TableShare {
                budget: Arc::clone(budget),
                bytes: 0,
            }
        }

        /// Takes `bytes` more of the budget.
        fn grow(&mut self, bytes: usize) -> Result<(), NoTables> {
            let before = self.budget.held.fetch_add(bytes, Ordering::SeqCst);
            self.bytes += bytes;
            if self.bytes > self.budget.limit {
                return Err(NoTables::TooLarge {
                    limit: self.budget.limit,
                });
            }
            if before + bytes > self.budget.limit {
                return Err(NoTables::Busy);
            }
            Ok(())
        }
    }

    impl Drop for TableShare {
        fn drop(&mut self) {
            self.budget.held.fetch_sub(self.bytes, Ordering::SeqCst);
        }
    }

    /// Rows answered unless the request asks for fewer (or more, up to [`MAX_ROWS`]).
    const DEFAULT_ROWS: usize = 1_000;
    /// The most rows one answer carries.
    const MAX_ROWS: usize = 100_000;
    /// How long one query may run, making its tables included.
    const TIMEOUT: Duration = Duration::from_secs(30);
    /// The range when the request names none: the last 24 hours.
    const DEFAULT_RANGE_MS: i64 = 24 * 3_600_000;

    impl IntoResponse for NoTables {
        fn into_response(self) -> Response {
            match self {
                NoTables::Timeout => ApiError::new(
                    StatusCode::GATEWAY_TIMEOUT,
                    SqlError::Timeout(TIMEOUT).to_string(),
                )
                .into_response(),
                NoTables::TooLarge { limit } => ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "the views and events in this range take more than the {} MiB SQL \
                         tables may hold ([sql] max_table_mib): narrow from/to",
                        limit >> 20
                    ),
                )
                .into_response(),
                NoTables::Busy => (
                    [(axum::http::header::RETRY_AFTER, "5")],
                    ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "other SQL queries hold the tables' memory now; retry",
                    ),
                )
                    .into_response(),
                NoTables::Failed(detail) => {
                    // A failure of ours: logged with its detail, answered without it.
                    tracing::error!(error = detail, "SQL tables could not be made");
                    ApiError::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "the tables for this query could not be made; see the server log",
                    )
                    .into_response()
                }
            }
        }
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
        sql: Arc<Sql>,
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
        // The time limit covers making the tables too; they are made off the async workers,
        // and stop there at the limit.
        let deadline = Instant::now() + TIMEOUT;
        let mut share = TableShare::new(&sql.budget);
        let views = Arc::clone(&sql.views);
        let made = tokio::task::spawn_blocking(move || {
            let tables = tables(views.as_ref(), from, to, deadline, &mut share);
            (tables, share)
        })
        .await;
        // Held until the query is done: the tables live as long.
        let (tables, _share) = match made {
            Ok((Ok(tables), share)) => (tables, share),
            Ok((Err(refused), _)) => return refused.into_response(),
            Err(e) => return NoTables::Failed(e.to_string()).into_response(),
        };
        let limits = Limits {
            max_rows,
            timeout: deadline.saturating_duration_since(Instant::now()),
        };
        match sql.engine.run(tables, &request.sql, limits).await {
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
    /// time (the views are held only while an hour is copied), each hour's bytes taken from
    /// `share`; stops past `deadline`.
    fn tables(
        source: &dyn ViewSource,
        from: ServerTime,
        to: ServerTime,
        deadline: Instant,
        share: &mut TableShare,
    ) -> Result<Vec<Table>, NoTables> {
        let failed = |e: openqoe_store::WriteError| NoTables::Failed(e.to_string());
        let dimensions = source.ended(from, to).dimension_names().to_vec();
        let mut views = ViewBatches::new(dimensions);
        let mut events_batches = Vec::new();
        for hour in source.hours(from, to) {
            if Instant::now() >= deadline {
                return Err(NoTables::Timeout);
            }
            let views_before = views.bytes();
            openqoe_query::each_partition(source, hour, |table, partition| {
                views.add_partition(table, partition, from, to).map(drop)
            })
            .map_err(failed)?;
            let mut bytes = views.bytes() - views_before;
            let held = source.hour_views(hour, from, to);
            let events: Vec<_> = held
                .iter()
                .flat_map(|view| view.events.values().map(move |event| (&view.id, event)))
                .collect();
            if !events.is_empty() {
                let batch = events_batch(&events).map_err(failed)?;
                bytes += batch.get_array_memory_size();
                events_batches.push(batch);
            }
            share.grow(bytes)?;
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

    #[cfg(test)]
    mod tests {
        use super::*;

        fn refusal(result: Result<(), NoTables>) -> &'static str {
            match result {
                Ok(()) => "ok",
                Err(NoTables::TooLarge { .. }) => "too large",
                Err(NoTables::Busy) => "busy",
                Err(_) => "other",
            }
        }

        #[test]
        fn the_budget_is_shared_and_given_back() {
            let budget = Arc::new(TableBudget {
                limit: 100,
                held: AtomicUsize::new(0),
            });
            let mut first = TableShare::new(&budget);
            assert_eq!(refusal(first.grow(60)), "ok");
            let mut second = TableShare::new(&budget);
            assert_eq!(refusal(second.grow(50)), "busy", "together past the limit");
            drop(second);
            assert_eq!(
                budget.held.load(Ordering::SeqCst),
                60,
                "a refused share gives back"
            );
            drop(first);
            let mut third = TableShare::new(&budget);
            assert_eq!(refusal(third.grow(90)), "ok");
            assert_eq!(refusal(third.grow(20)), "too large", "alone past the limit");
            drop(third);
            assert_eq!(budget.held.load(Ordering::SeqCst), 0);
        }
    }
}
