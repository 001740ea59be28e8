//! Credentials on the real binary: with no configuration, `serve` makes an admin token; every
//! read route refuses a request without a token and takes one with the read role; admin routes
//! refuse the read role; players' routes stay public; dashboard sessions; revocation and restart.
mod support;

use reqwest::StatusCode;
use serde_json::{json, Value};
use support::{
    admin_token_file, client_with, data_dir, free_port, get_json, metrics_text, now_ms,
    server_with, TestServer,
};

/// Every read route of the server (the dashboard's and API clients'), with a query that works.
const READ_ROUTES: &[&str] = &[
    "/metrics",
    "/v1/metrics",
    "/v1/dimensions",
    "/v1/metrics/video_startup_time_ms/breakdown?by=cdn",
    "/v1/metrics/video_startup_time_ms/timeseries",
    "/v1/metrics/playback_failure_percentage/rca",
    "/v1/audience",
    "/v1/views",
    "/v1/views/v-1",
    "/v1/views/v-1/events",
    "/v1/export/views?format=csv",
    "/v1/alerts",
    "/v1/alerts/a-1",
    "/v1/steer",
    "/v1/session",
];

/// Changes only an admin may make (the server need not have what they name: the guard answers
/// first).
const ADMIN_ROUTES: &[(&str, &str)] = &[
    ("GET", "/v1/tokens"),
    ("POST", "/v1/tokens"),
    ("DELETE", "/v1/tokens/t-00000000"),
    ("PUT", "/v1/steer/enabled"),
    ("POST", "/v1/steer/overrides"),
    ("DELETE", "/v1/steer/overrides/ovr-1"),
];

async fn status(client: &reqwest::Client, method: &str, url: &str) -> StatusCode {
    client
        .request(method.parse().unwrap(), url)
        .json(&json!({}))
        .send()
        .await
        .expect("the server answers")
        .status()
}

#[tokio::test]
async fn reads_need_a_token_changes_need_admin_and_players_need_nothing() {
    let dir = data_dir();
    let data = dir.path().join("data");
    let listen = format!("127.0.0.1:{}", free_port());
    let server = TestServer::start(&data, &listen);
    let url = &server.url.clone();
    let admin = server.client();
    let anonymous = client_with(None);

    // The first start made an admin token, in a file only this user can read.
    let token_file = admin_token_file(&data);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the admin token's file is owner-only");
    }
    let token = server.token.clone().expect("an admin token was made");
    assert!(token.starts_with("oq_") && token.len() == 67, "{token}");

    // A read token, made by the admin; shown once.
    let made = admin
        .post(format!("{url}/v1/tokens"))
        .json(&json!({"name": "grafana", "role": "read"}))
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), 201);
    let made: Value = made.json().await.unwrap();
    let read_token = made["token"].as_str().unwrap().to_owned();
    let reader = client_with(Some(&read_token));
    let listed: Value = get_json(&admin, &format!("{url}/v1/tokens")).await;
    let listed_text = listed.to_string();
    assert!(
        listed_text.contains("grafana") && listed_text.contains("first-admin"),
        "{listed}"
    );
    assert!(
        !listed_text.contains(&read_token) && !listed_text.contains("sha256"),
        "never the secrets: {listed}"
    );

    for route in READ_ROUTES {
        let refused = anonymous.get(format!("{url}{route}")).send().await.unwrap();
        assert_eq!(refused.status(), 401, "GET {route} without a token");
        assert_eq!(
            refused.headers()["www-authenticate"],
            "Bearer realm=\"openqoe\""
        );
        let reason: Value = refused.json().await.unwrap();
        assert!(
            reason["error"].as_str().unwrap().contains("read role"),
            "{reason}"
        );
        let wrong = client_with(Some("oq_0000"))
            .get(format!("{url}{route}"))
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 401, "GET {route} with an unknown token");
        let allowed = status(&reader, "GET", &format!("{url}{route}")).await;
        assert!(
            allowed != 401 && allowed != 403,
            "GET {route} with a read token: {allowed}"
        );
    }
    let sql = status(&anonymous, "POST", &format!("{url}/v1/sql")).await;
    assert_eq!(sql, 401, "SQL is a read");

    for (method, route) in ADMIN_ROUTES {
        assert_eq!(
            status(&anonymous, method, &format!("{url}{route}")).await,
            401,
            "{method} {route} without a token"
        );
        let refused = reader
            .request(method.parse().unwrap(), format!("{url}{route}"))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 403, "{method} {route} with a read token");
        let reason: Value = refused.json().await.unwrap();
        assert_eq!(
            reason["error"],
            "this needs the admin role; grafana's token has read"
        );
        let allowed = status(&admin, method, &format!("{url}{route}")).await;
        assert!(
            allowed != 401 && allowed != 403,
            "{method} {route} as admin: {allowed}"
        );
    }

    // Players and probes need no token.
    let batch = json!({"v": 1, "key": "demo", "sent_at": now_ms(), "view": {"id": "public"},
        "events": [{"seq": 0, "ts": now_ms(), "type": "play_requested"}]});
    let posted = anonymous
        .post(format!("{url}/v1/events"))
        .json(&batch)
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 202);
    for route in ["/healthz", "/sdk/openqoe.js", "/", "/assets/app.js"] {
        assert_eq!(
            status(&anonymous, "GET", &format!("{url}{route}")).await,
            200,
            "GET {route}"
        );
    }

    // Refusals are counted.
    let metrics = metrics_text(&reader, url).await;
    assert!(
        metrics.contains("openqoe_access_refused_total{reason=\"no_credential\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("openqoe_access_refused_total{reason=\"role\"}"),
        "{metrics}"
    );

    // A restart keeps the tokens made, and a revoked token stays revoked (new clients: the old
    // ones' pooled connections went with the server).
    let id = made["id"].as_str().unwrap().to_owned();
    drop(server);
    let server = TestServer::start(&data, &listen);
    assert_eq!(
        server.token.as_deref(),
        Some(token.as_str()),
        "the first token is not made again"
    );
    let (admin, reader) = (server.client(), client_with(Some(&read_token)));
    assert_eq!(
        status(&reader, "GET", &format!("{url}/v1/views")).await,
        200
    );
    assert_eq!(
        status(&admin, "DELETE", &format!("{url}/v1/tokens/{id}")).await,
        204
    );
    assert_eq!(
        status(&reader, "GET", &format!("{url}/v1/views")).await,
        401
    );
    drop(server);
    let server = TestServer::start(&data, &listen);
    let (admin, reader) = (server.client(), client_with(Some(&read_token)));
    assert_eq!(
        status(&reader, "GET", &format!("{url}/v1/views")).await,
        401,
        "revoked after a restart too"
    );
    assert_eq!(status(&admin, "GET", &format!("{url}/v1/views")).await, 200);
}

#[tokio::test]
async fn the_dashboard_signs_in_with_a_token_and_takes_no_change_from_another_site() {
    let dir = data_dir();
    let server = TestServer::start(dir.path(), "127.0.0.1:0");
    let url = &server.url;
    let plain = client_with(None);

    let refused = plain
        .post(format!("{url}/v1/session"))
        .json(&json!({"token": "oq_wrong"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let signed_in = plain
        .post(format!("{url}/v1/session"))
        .json(&json!({"token": server.token.as_deref().unwrap()}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 200);
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP on loopback: {cookie}"
    );
    let session = cookie.split(';').next().unwrap().to_owned();
    let with_session = |method: &str, path: &str| {
        plain
            .request(method.parse().unwrap(), format!("{url}{path}"))
            .header("cookie", &session)
    };
    let who: Value = with_session("GET", "/v1/session")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(who, json!({"role": "admin", "name": "first-admin"}));
    assert_eq!(
        with_session("GET", "/v1/views")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // A change with the session from the dashboard's own page is taken; from another site not.
    let host = url.trim_start_matches("http://");
    let own = with_session("POST", "/v1/tokens")
        .header("origin", format!("http://{host}"))
        .json(&json!({"name": "alice", "role": "read"}))
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 201);
    let forged = with_session("POST", "/v1/tokens")
        .header("origin", "https://evil.example")
        .json(&json!({"name": "mallory", "role": "admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);

    let out = with_session("DELETE", "/v1/session").send().await.unwrap();
    assert_eq!(out.status(), 204);
    assert!(out.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    assert_eq!(
        with_session("GET", "/v1/views")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}

#[tokio::test]
async fn a_probes_address_serves_metrics_and_health_without_credentials_and_nothing_else() {
    let probes = format!("127.0.0.1:{}", free_port());
    let (_dir, server) = server_with(&format!("probes_listen = \"{probes}\"\n"));
    let anonymous = client_with(None);
    for path in ["/metrics", "/healthz", "/livez"] {
        let status = status(&anonymous, "GET", &format!("http://{probes}{path}")).await;
        assert_eq!(status, 200, "GET {path} on the probes address");
    }
    for path in ["/v1/views", "/v1/export/views", "/"] {
        let status = status(&anonymous, "GET", &format!("http://{probes}{path}")).await;
        assert_eq!(status, 404, "GET {path} on the probes address");
    }
    let main = status(&anonymous, "GET", &format!("{}/metrics", server.url)).await;
    assert_eq!(main, 401, "the main address still asks for a token");
}
