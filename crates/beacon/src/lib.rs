//! The beacon stage's server side: the web SDK's script-tag build, served from the binary so a
//! page can load it from the same openqoe it reports to.
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

/// `dist/openqoe.js` of `sdk/web`: everything (core and adapters) as the global `openqoe`.
pub const SCRIPT: &str = include_str!(concat!(env!("OUT_DIR"), "/openqoe.js"));

/// Routes `GET /sdk/openqoe.js`.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/sdk/openqoe.js", get(script))
}

async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        SCRIPT,
    )
}
