//! Which role a request needs, from its method and path alone: one table, default deny.
//!
//! Public: what players and browsers must reach without a secret (ingest, steering polls, the web
//! SDK, the dashboard's shell, health, signing in). Read: every other `GET`/`HEAD` (but the token list), and `POST
//! /v1/sql` (a query sent as a body). Admin: every other method. A route added later is therefore
//! read or admin until this table says otherwise; a path spelled another way (`%65`, a trailing
//! slash) matches no public entry and needs a token, so it can only be less open.
use axum::http::Method;

use crate::Role;

/// What a request needs before it reaches its route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// Anyone: players, browsers, probes.
    Public,
    /// A credential whose role is at least this.
    Role(Role),
}

/// `(method, path)` pairs anyone may use; a path ending in `/` covers everything under it.
const PUBLIC: &[(&str, &str)] = &[
    // Players: beacons (authenticated by the environment's public write key), CMCD, steering.
    ("POST", "/v1/events"),
    ("POST", "/v1/cmcd"),
    ("GET", "/v1/steer/hls"),
    ("GET", "/v1/steer/dash"),
    ("GET", "/sdk/openqoe.js"),
    // The demo's steered manifests (the demo's own origins; no viewer data).
    ("GET", "/demo/"),
    // Probes.
    ("GET", "/healthz"),
    ("GET", "/livez"),
    // The dashboard's shell (no data: its pages read the API with the session) and signing in.
    ("GET", "/"),
    ("GET", "/assets/"),
    ("GET", "/v1/session"),
    ("POST", "/v1/session"),
    ("DELETE", "/v1/session"),
];

/// Read-only routes that take a body.
const READ_POSTS: &[&str] = &["/v1/sql"];

/// `GET` routes that show what only an admin may see: the API tokens (names, roles, use).
const ADMIN_GETS: &[&str] = &["/v1/tokens"];

/// The requirement of `method` on `path` (the request's path, without its query).
pub fn requirement(method: &Method, path: &str) -> Requirement {
    // CORS preflights carry no credentials and reach no handler's data.
    if method == Method::OPTIONS {
        return Requirement::Public;
    }
    // HEAD is GET without the body.
    let as_get = if method == Method::HEAD {
        "GET"
    } else {
        method.as_str()
    };
    // Only plainly spelled paths can be public: no escapes, no dot segments.
    let plain = path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/_.-".contains(&b))
        && !path.contains("/.");
    let public = plain
        && PUBLIC.iter().any(|&(m, p)| {
            m == as_get
                && if p.len() > 1 && p.ends_with('/') {
                    path.starts_with(p) && path.len() > p.len()
                } else {
                    path == p
                }
        });
    if public {
        Requirement::Public
    } else if as_get == "GET" && ADMIN_GETS.contains(&path) {
        Requirement::Role(Role::Admin)
    } else if as_get == "GET" || (method == Method::POST && READ_POSTS.contains(&path)) {
        Requirement::Role(Role::Read)
    } else {
        Requirement::Role(Role::Admin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const READ: Requirement = Requirement::Role(Role::Read);
    const ADMIN: Requirement = Requirement::Role(Role::Admin);

    #[test]
    fn every_route_of_the_server_has_the_role_docs_security_md_gives_it() {
        let table = [
            ("POST", "/v1/events", Requirement::Public),
            ("OPTIONS", "/v1/events", Requirement::Public),
            ("POST", "/v1/cmcd", Requirement::Public),
            ("GET", "/v1/steer/hls", Requirement::Public),
            ("GET", "/v1/steer/dash", Requirement::Public),
            ("GET", "/sdk/openqoe.js", Requirement::Public),
            ("GET", "/healthz", Requirement::Public),
            ("HEAD", "/healthz", Requirement::Public),
            ("GET", "/livez", Requirement::Public),
            ("GET", "/", Requirement::Public),
            ("GET", "/assets/app.js", Requirement::Public),
            ("GET", "/demo/hls/master.m3u8", Requirement::Public),
            ("POST", "/v1/session", Requirement::Public),
            ("GET", "/metrics", READ),
            ("GET", "/v1/metrics", READ),
            ("GET", "/v1/dimensions", READ),
            ("GET", "/v1/metrics/rebuffer_percentage/breakdown", READ),
            ("GET", "/v1/metrics/rebuffer_percentage/timeseries", READ),
            ("GET", "/v1/metrics/video_startup_time/rca", READ),
            ("GET", "/v1/audience", READ),
            ("GET", "/v1/views", READ),
            ("GET", "/v1/views/v1", READ),
            ("GET", "/v1/views/v1/events", READ),
            ("GET", "/v1/export/views", READ),
            ("GET", "/v1/alerts", READ),
            ("GET", "/v1/alerts/a1", READ),
            ("GET", "/v1/steer", READ),
            ("POST", "/v1/sql", READ),
            ("GET", "/v1/demo/origins", READ),
            ("GET", "/v1/tokens", ADMIN),
            ("POST", "/v1/tokens", ADMIN),
            ("DELETE", "/v1/tokens/t1", ADMIN),
            ("PUT", "/v1/steer/enabled", ADMIN),
            ("POST", "/v1/steer/overrides", ADMIN),
            ("DELETE", "/v1/steer/overrides/ovr-1", ADMIN),
            ("DELETE", "/v1/viewers/u1", ADMIN),
            ("PUT", "/v1/demo/origins/cdn-a", ADMIN),
        ];
        for (method, path, expected) in table {
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            assert_eq!(requirement(&method, path), expected, "{method} {path}");
        }
    }

    #[test]
    fn paths_spelled_another_way_are_never_public() {
        for path in [
            "/v1/events/",
            "/v1/%65vents",
            "/V1/events",
            "/healthz/x",
            "/assets",
            "/demo",
            "/demo/../v1/views",
            "/assets/%2e%2e/x",
        ] {
            assert_ne!(
                requirement(&Method::POST, path),
                Requirement::Public,
                "POST {path}"
            );
            assert_ne!(
                requirement(&Method::GET, path),
                Requirement::Public,
                "GET {path}"
            );
        }
        assert_eq!(requirement(&Method::GET, "/v1/events"), READ);
        assert_eq!(requirement(&Method::PUT, "/v1/events"), ADMIN);
    }
}
