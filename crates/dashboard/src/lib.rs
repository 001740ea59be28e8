//! Dashboard v0: the operator's pages (overview, breakdown, views, one view's timeline, alerts,
//! CDN steering), served by the binary at `/` of the API's port.
//!
//! Owns the UI assets only; every number comes from the Query API v1 over HTTP, as any other
//! client would read it. Key decision: plain HTML and JavaScript modules, which the browser loads
//! natively (no build step), with uPlot for charts, embedded at build time from npm, so the binary
//! serves everything and nothing third-party is committed.
#![warn(missing_docs)]

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

const INDEX_HTML: &str = include_str!("../assets/index.html");
const STYLE_CSS: &str = include_str!("../assets/style.css");
const UPLOT_JS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/node_modules/uplot/dist/uPlot.iife.min.js"
));
const UPLOT_CSS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/node_modules/uplot/dist/uPlot.min.css"
));

/// The JavaScript modules, by file name under `/assets/`: `app.js` (the router, loaded by
/// `index.html`), one module per page, and the modules they share. A module the others import
/// must be listed here, or the browser cannot load the dashboard.
const MODULES: &[(&str, &str)] = &[
    ("app.js", include_str!("../assets/app.js")),
    ("page.js", include_str!("../assets/page.js")),
    ("format.js", include_str!("../assets/format.js")),
    ("api.js", include_str!("../assets/api.js")),
    ("session.js", include_str!("../assets/session.js")),
    ("charts.js", include_str!("../assets/charts.js")),
    ("overview.js", include_str!("../assets/overview.js")),
    ("breakdown.js", include_str!("../assets/breakdown.js")),
    ("views.js", include_str!("../assets/views.js")),
    ("view.js", include_str!("../assets/view.js")),
    ("alerts.js", include_str!("../assets/alerts.js")),
    ("alert.js", include_str!("../assets/alert.js")),
    ("steering.js", include_str!("../assets/steering.js")),
    ("steering-api.js", include_str!("../assets/steering-api.js")),
    (
        "steering-format.js",
        include_str!("../assets/steering-format.js"),
    ),
    (
        "steering-overrides.js",
        include_str!("../assets/steering-overrides.js"),
    ),
];

/// Browsers load module scripts only with a JavaScript MIME type.
const JAVASCRIPT: &str = "text/javascript; charset=utf-8";

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
    let router = Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }),
        )
        .route(
            "/assets/style.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE_CSS) }),
        )
        .route(
            "/assets/uPlot.iife.min.js",
            get(|| async { asset(JAVASCRIPT, UPLOT_JS) }),
        )
        .route(
            "/assets/uPlot.min.css",
            get(|| async { asset("text/css; charset=utf-8", UPLOT_CSS) }),
        );
    MODULES.iter().fold(router, |router, &(name, source)| {
        router.route(
            &format!("/assets/{name}"),
            get(move || async move { asset(JAVASCRIPT, source) }),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::MODULES;

    /// The modules a module imports, by file name (`import … from './format.js'`).
    fn imports(source: &str) -> impl Iterator<Item = &str> {
        source
            .lines()
            .filter_map(|line| line.split_once(" from './"))
            .filter_map(|(_, rest)| rest.split_once('\''))
            .map(|(name, _)| name)
    }

    #[test]
    fn every_imported_module_is_served() {
        for (name, source) in MODULES {
            for imported in imports(source) {
                assert!(
                    MODULES.iter().any(|(served, _)| *served == imported),
                    "{name} imports {imported}, which is not in MODULES"
                );
            }
        }
    }

    #[test]
    fn every_module_in_the_assets_folder_is_served() {
        let assets = concat!(env!("CARGO_MANIFEST_DIR"), "/assets");
        for entry in std::fs::read_dir(assets).expect("assets folder") {
            let name = entry.expect("assets entry").file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".js") {
                assert!(
                    MODULES.iter().any(|(served, _)| *served == name),
                    "assets/{name} is not in MODULES"
                );
            }
        }
    }

    #[test]
    fn imports_are_read_from_import_lines() {
        let cases = [
            (
                "one import",
                "import { api } from './api.js';\n",
                vec!["api.js"],
            ),
            (
                "several names, two imports",
                "import { a, b } from './format.js';\nimport { c } from './page.js';\n",
                vec!["format.js", "page.js"],
            ),
            ("no import", "const from = 1;\n", vec![]),
        ];
        for (name, source, want) in cases {
            assert_eq!(imports(source).collect::<Vec<_>>(), want, "{name}");
        }
    }
}
