//! The steering server over real HTTP: polls in every form players send, the session carried in
//! `RELOAD-URI`, a pathway demoted on its players' throughput reports for their cohort only, the
//! operator API (override, kill switch, token), and an alert's runbook action demoting the root
//! cause's CDN until the alert resolves.
mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::{binary, client_with, get_json, server_with, TestServer};

/// Polls `path` (relative to `/v1/steer/`) and returns (status, body).
async fn poll(client: &reqwest::Client, server: &TestServer, path: &str) -> (u16, Value) {
    let response = client
        .get(format!("{}/v1/steer/{path}", server.url))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "*",
        "players poll cross-origin"
    );
    (status, response.json().await.unwrap())
}

const POLICY: &str = r#"
[steer]
ttl_seconds = 7
evaluate_seconds = 1
window_seconds = 60
min_reports = 3
hold_seconds = 2
exploration_share = 0.0
cohort_dimensions = ["country"]
[[steer.pathways]]
id = "cdn-a"
[[steer.pathways]]
id = "cdn-b"
"#;

#[tokio::test(flavor = "multi_thread")]
async fn steers_by_reported_throughput_per_cohort_with_operator_controls() {
    let (_dir, server) = server_with(POLICY);
    let client = server.client();

    // A first poll: default order, the session and cohort in a relative RELOAD-URI, extra
    // parameters of the operator's kept.
    let (status, first) = poll(&client, &server, "hls?country=SE&asset=42").await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["VERSION"], 1);
    assert_eq!(first["TTL"], 7);
    assert_eq!(first["PATHWAY-PRIORITY"], json!(["cdn-a", "cdn-b"]));
    let reload = first["RELOAD-URI"].as_str().unwrap();
    assert!(
        reload.starts_with("hls?country=SE&asset=42&session="),
        "{reload}"
    );

    // Swedish players report cdn-a slow (hls.js unquoted, the spec's quoted form) and cdn-b
    // fast (dash.js's quoted list); Norwegians report cdn-a fast.
    for i in 0..4 {
        for path in [
            format!("{reload}&_HLS_pathway=cdn-a&_HLS_throughput=250000"),
            format!("hls?country=SE&session=q{i}&_HLS_pathway=%22cdn-a%22&_HLS_throughput=300000"),
            format!("dash?country=SE&session=d{i}&_DASH_pathway=%22cdn-b,cdn-a%22&_DASH_throughput=9000000,"),
            format!("hls?country=NO&session=n{i}&_HLS_pathway=cdn-a&_HLS_throughput=12000000"),
        ] {
            let (status, body) = poll(&client, &server, &path).await;
            assert_eq!(status, 200, "{path}: {body}");
        }
    }
    let mut state = Value::Null;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        state = get_json(&client, &format!("{}/v1/steer", server.url)).await;
        if !state["changes"].as_array().unwrap().is_empty() {
            break;
        }
    }
    let change = &state["changes"][0];
    assert_eq!(change["kind"], "demoted", "{state:#}");
    assert_eq!(change["cohort"], json!({"country": "SE"}), "Sweden only");
    assert_eq!(change["pathway"], "cdn-a");
    let reason = change["reason"].as_str().unwrap();
    assert!(
        reason.contains("throughput 0.3 Mbit/s vs 9.0 Mbit/s"),
        "{reason}"
    );

    let (_, swede) = poll(
        &client,
        &server,
        &format!("{reload}&_HLS_pathway=cdn-a&_HLS_throughput=250000"),
    )
    .await;
    assert_eq!(swede["PATHWAY-PRIORITY"], json!(["cdn-b", "cdn-a"]));
    assert_eq!(swede["RELOAD-URI"], reload, "the session stays the same");
    let (_, norwegian) = poll(&client, &server, "hls?country=NO&_HLS_pathway=cdn-a").await;
    assert_eq!(norwegian["PATHWAY-PRIORITY"], json!(["cdn-a", "cdn-b"]));

    // Garbage gets a reason and changes nothing.
    let (status, refused) = poll(
        &client,
        &server,
        "dash?country=SE&_DASH_pathway=%22cdn-a%22&_DASH_throughput=fast",
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        refused["error"],
        "_DASH_throughput: \"fast\" is not a throughput in bits per second"
    );

    // The operator API needs an admin token.
    let url = |path: &str| format!("{}/v1/steer/{path}", server.url);
    let unauthorised = client_with(None)
        .put(url("enabled"))
        .json(&json!({"enabled": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorised.status(), 401);
    // An override pins Sweden back on cdn-a, ahead of the policy.
    let made = client
        .post(url("overrides"))
        .json(&json!({"cohort": {"country": "SE"}, "priority": ["cdn-a", "cdn-b"], "reason": "contract test", "expires_in_s": 600}))
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), 201);
    let made: Value = made.json().await.unwrap();
    let (_, pinned) = poll(&client, &server, &format!("{reload}&_HLS_pathway=cdn-b")).await;
    assert_eq!(pinned["PATHWAY-PRIORITY"], json!(["cdn-a", "cdn-b"]));
    let bad = client
        .post(url("overrides"))
        .json(&json!({"cohort": {"country": "SE"}, "priority": ["cdn-z"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let bad: Value = bad.json().await.unwrap();
    assert_eq!(
        bad["error"],
        "priority[0]: \"cdn-z\" is not a configured pathway"
    );
    let removed = client
        .delete(url(&format!("overrides/{}", made["id"].as_str().unwrap())))
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 200);

    // The kill switch: the player's current pathway first, then the default order.
    let off = client
        .put(url("enabled"))
        .json(&json!({"enabled": false, "reason": "bridge call"}))
        .send()
        .await
        .unwrap();
    assert_eq!(off.status(), 200);
    let (_, neutral) = poll(
        &client,
        &server,
        &format!("{reload}&_HLS_pathway=cdn-a&_HLS_throughput=250000"),
    )
    .await;
    assert_eq!(neutral["PATHWAY-PRIORITY"], json!(["cdn-a", "cdn-b"]));
    let state = get_json(&client, &format!("{}/v1/steer", server.url)).await;
    let kinds: Vec<&str> = state["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["disabled", "override_cleared", "override_set", "demoted"]
    );
    assert_eq!(state["enabled"], false);
    assert_eq!(state["polls"]["rejected"], 1);
}

/// One client, however many sessions it makes up and however often it polls, is one vote: it
/// cannot demote a pathway; enough clients (over three quarters of those reporting) can.
#[tokio::test(flavor = "multi_thread")]
async fn one_client_s_reports_cannot_demote_a_pathway() {
    let config = POLICY.replace(
        "[steer]",
        "[collect]\nclient_address_header = \"x-forwarded-for\"\n[steer]",
    );
    let (_dir, server) = server_with(&config);
    let client = server.client();
    let report = |from: String, path: String| {
        let client = client.clone();
        let url = format!("{}/v1/steer/{path}", server.url);
        async move {
            let answer = client
                .get(url)
                .header("x-forwarded-for", from)
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), 200);
        }
    };
    // Honest clients see both pathways fast.
    for i in 0..3 {
        report(
            format!("198.51.100.{i}"),
            format!("hls?country=SE&session=h{i}&_HLS_pathway=cdn-a&_HLS_throughput=9000000"),
        )
        .await;
        report(
            format!("198.51.100.{i}"),
            format!(
                "dash?country=SE&session=h{i}&_DASH_pathway=%22cdn-b%22&_DASH_throughput=9000000"
            ),
        )
        .await;
    }
    // One address claims cdn-a is slow, forty times under forty made-up sessions.
    for i in 0..40 {
        report(
            "203.0.113.66".into(),
            format!("hls?country=SE&session=fake{i}&_HLS_pathway=cdn-a&_HLS_throughput=100000"),
        )
        .await;
    }
    // Several evaluations (every second) pass: cdn-a stays.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let state = get_json(&client, &format!("{}/v1/steer", server.url)).await;
    assert_eq!(
        state["changes"],
        json!([]),
        "one client demoted nothing: {state:#}"
    );

    // Nine more clients see cdn-a slow: now even its best case (the upper quartile of one vote
    // per client: 10 slow of 13) is slow.
    for i in 0..9 {
        report(
            format!("192.0.2.{i}"),
            format!("hls?country=SE&session=s{i}&_HLS_pathway=cdn-a&_HLS_throughput=100000"),
        )
        .await;
    }
    let mut state = Value::Null;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        state = get_json(&client, &format!("{}/v1/steer", server.url)).await;
        if !state["changes"].as_array().unwrap().is_empty() {
            break;
        }
    }
    assert_eq!(state["changes"][0]["kind"], "demoted", "{state:#}");
    assert_eq!(state["changes"][0]["pathway"], "cdn-a");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_pathways_steering_says_how_to_turn_it_on() {
    let (_dir, server) = server_with("");
    let client = server.client();
    for path in ["hls", "dash?_DASH_pathway=a"] {
        let (status, body) = poll(&client, &server, path).await;
        assert_eq!(status, 404);
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .contains("[[steer.pathways]]"),
            "{body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_alert_action_demotes_the_root_cause_cdn_until_the_alert_resolves() {
    let (_dir, server) = server_with(
        r#"
[detect]
warmup_minutes = 10

[[detect.rules]]
name = "startup-failures"
metric = "startup_failure"
action = "steer-away"

[steer]
cohort_dimensions = ["country"]
[[steer.pathways]]
id = "a"
cdn = "cdn-a"
[[steer.pathways]]
id = "b"
cdn = "cdn-b"
[[steer.pathways]]
id = "c"
cdn = "cdn-c"
[[steer.actions]]
name = "steer-away"
expire_minutes = 30
"#,
    );
    // 30 simulated minutes in about 72 s; from minute 14 to 20 most cdn-b starts fail.
    let sim = tokio::process::Command::new(binary())
        .args([
            "sim",
            "--target",
            &server.url,
            "--viewers",
            "400",
            "--minutes",
            "30",
        ])
        .args(["--speed", "25", "--seed", "3"])
        .args(["--incident", "cdn=cdn-b,at=+14m,for=6m,startup_failure=0.8"])
        .env("OPENQOE_LOG", "warn")
        .output()
        .await
        .unwrap();
    assert!(
        sim.status.success(),
        "{}",
        String::from_utf8_lossy(&sim.stderr)
    );
    let client = server.client();
    let mut steer = Value::Null;
    for _ in 0..60 {
        steer = get_json(&client, &format!("{}/v1/steer", server.url)).await;
        if steer["changes"][0]["kind"] == "action_reverted" {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let changes: Vec<(&str, &str)> = steer["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"].as_str().unwrap().starts_with("action"))
        .map(|c| (c["kind"].as_str().unwrap(), c["pathway"].as_str().unwrap()))
        .collect();
    assert_eq!(
        changes,
        [("action_reverted", "b"), ("action_demoted", "b")],
        "{steer:#}"
    );
    let alerts = get_json(&client, &format!("{}/v1/alerts", server.url)).await;
    let alert = &alerts["alerts"][0];
    assert_eq!(alert["status"], "resolved", "{alerts:#}");
    let history: Vec<String> = alert["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["change"] == "action")
        .map(|h| h["summary"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        history,
        [
            "steer-away: demoted pathway b for everyone for up to 30 min",
            "steer-away: demotion reverted"
        ],
        "{alert:#}"
    );
}
