//! Dashboard v0: the operator's pages (overview, breakdown, views, one view's timeline), served
//! by the binary at `/` of the API's port.
//!
//! Owns the UI assets only; every number comes from the Query API v1 over HTTP, as any other
//! client would read it. Key decision: plain HTML and JavaScript modules with uPlot for charts,
//! embedded at build time from npm, so the binary serves everything and nothing third-party is
//! committed.
#![warn(missing_docs)]

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

const INDEX_HTML: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const STYLE_CSS: &str = include_str!("../assets/style.css");
const UPLOT_JS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/node_modules/uplot/dist/uPlot.iife.min.js"
));
const UPLOT_CSS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/node_modules/uplot/dist/uPlot.min.css"
));

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}

/// The dashboard's routes: `/` and `/assets/*`.
pub fn router() -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }),
        )
        .route(
            "/assets/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/assets/style.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE_CSS) }),
        )
        .route(
            "/assets/uPlot.iife.min.js",
            get(|| async { asset("text/javascript; charset=utf-8", UPLOT_JS) }),
        )
        .route(
            "/assets/uPlot.min.css",
            get(|| async { asset("text/css; charset=utf-8", UPLOT_CSS) }),
        )
}
