//! At most `[http] max_queries` queries computing at once. One beyond that is answered `503`
//! with `Retry-After` at once rather than queued: queued queries would hold connections and
//! memory while the dashboard and other clients wait. `/metrics` is not counted (a scrape is
//! cheap and must not fail because an analyst runs a heavy breakdown).
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use tokio::sync::Semaphore;

use crate::api_error::ApiError;

/// The permits of queries running now, and the count of those refused.
pub struct QueryLimit {
    running: Semaphore,
    most: usize,
    refused: Counter,
}

impl QueryLimit {
    /// Room for `most` queries at once.
    pub fn new(most: usize) -> QueryLimit {
        QueryLimit {
            running: Semaphore::new(most),
            most,
            refused: Counter::default(),
        }
    }

    /// Registers `openqoe_queries_refused_total`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "openqoe_queries_refused",
            "Queries answered 503 because [http] max_queries were already running",
            self.refused.clone(),
        );
    }
}

/// Middleware: runs the query when a permit is free, else answers `503`.
pub async fn limit(State(limit): State<Arc<QueryLimit>>, request: Request, next: Next) -> Response {
    if request.uri().path() == "/metrics" {
        return next.run(request).await;
    }
    let Ok(_running) = limit.running.try_acquire() else {
        limit.refused.inc();
        let mut answer = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{} queries are running; retry in a moment", limit.most),
        )
        .into_response();
        answer
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        return answer;
    };
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::get;
    use axum::Router;
    use tokio::sync::Notify;
    use tower::ServiceExt;

    use super::{limit, QueryLimit};

    #[tokio::test]
    async fn a_query_beyond_the_limit_is_refused_at_once_and_metrics_still_answer() {
        let release = Arc::new(Notify::new());
        let started = Arc::new(Notify::new());
        let (held, began) = (Arc::clone(&release), Arc::clone(&started));
        let limits = Arc::new(QueryLimit::new(1));
        let router = Router::new()
            .route(
                "/v1/slow",
                get(move || {
                    let (held, began) = (Arc::clone(&held), Arc::clone(&began));
                    async move {
                        began.notify_one();
                        held.notified().await;
                        "done"
                    }
                }),
            )
            .route("/metrics", get(|| async { "metrics" }))
            .layer(axum::middleware::from_fn_with_state(
                Arc::clone(&limits),
                limit,
            ));
        let get = |path: &str| Request::get(path).body(Body::empty()).unwrap();
        let first = tokio::spawn(router.clone().oneshot(get("/v1/slow")));
        started.notified().await;
        let refused = router.clone().oneshot(get("/v1/slow")).await.unwrap();
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(refused.headers()["retry-after"], "1");
        let metrics = router.clone().oneshot(get("/metrics")).await.unwrap();
        assert_eq!(
            metrics.status(),
            StatusCode::OK,
            "a scrape is never refused"
        );
        release.notify_one();
        assert_eq!(first.await.unwrap().unwrap().status(), StatusCode::OK);
        let again = router.oneshot(get("/v1/slow"));
        let again = tokio::spawn(again);
        started.notified().await;
        release.notify_one();
        assert_eq!(
            again.await.unwrap().unwrap().status(),
            StatusCode::OK,
            "the permit came back"
        );
        assert_eq!(limits.refused.get(), 1);
    }
}
