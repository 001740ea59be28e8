//! Deliveries to real HTTP receivers on loopback: formats, signatures, retries, order, isolation.
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use hmac::{Hmac, Mac};
use openqoe_alert::{
    signature, ActionHook, DeliveryRecord, Destination, DestinationKind, Notice, NoticeCause,
    NoticeStatus, Notifier, Outcome, Purpose, RetryPolicy, Severity,
};
use serde_json::{json, Value};
use sha2::Sha256;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// One request a receiver saw.
#[derive(Clone, Debug)]
struct Seen {
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Seen {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map_or("", |value| value.to_str().unwrap())
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A scripted answer: the status, and the `Retry-After` header if any.
type Answer = (u16, Option<&'static str>);

/// A test receiver: records every request, then answers from its script (status, `Retry-After`)
/// and with 200 once the script is used up, after `delay`.
#[derive(Clone)]
struct Receiver {
    seen: Arc<Mutex<Vec<Seen>>>,
    script: Arc<Mutex<VecDeque<Answer>>>,
    delay: Duration,
    base_url: String,
}

impl Receiver {
    async fn start(script: &[Answer], delay: Duration) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let receiver = Receiver {
            seen: Arc::default(),
            script: Arc::new(Mutex::new(script.iter().copied().collect())),
            delay,
            base_url: format!("http://{}", listener.local_addr().unwrap()),
        };
        let app = Router::new().fallback(answer).with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        receiver
    }
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn answer(
    State(receiver): State<Receiver>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    receiver.seen.lock().unwrap().push(Seen {
        method,
        path,
        headers,
        body,
    });
    tokio::time::sleep(receiver.delay).await;
    let (status, retry_after) = receiver
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or((200, None));
    let mut response = StatusCode::from_u16(status).unwrap().into_response();
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert("retry-after", HeaderValue::from_static(seconds));
    }
    response
}

/// Polls `done` until it holds; fails the test after a deadline far beyond any expected delivery.
async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn fast_policy() -> RetryPolicy {
    RetryPolicy {
        first_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        max_attempts: 4,
    }
}

fn destination(name: &str, kind: DestinationKind) -> Destination {
    Destination {
        name: name.into(),
        kind,
    }
}

fn names(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| name.to_string()).collect()
}

fn notice(status: NoticeStatus) -> Notice {
    Notice {
        alert_id: "a-1".into(),
        status,
        rule: "rebuffering".into(),
        metric: "rebuffer_percentage".into(),
        unit: "%".into(),
        scope: BTreeMap::from([("country".into(), "DE".into())]),
        severity: Severity::Critical,
        summary: "Rebuffer percentage is 3.1× normal; 82% of the excess is cdn=cdn-b".into(),
        started_at_ms: 1_700_000_000_000,
        resolved_at_ms: (status == NoticeStatus::Resolved).then_some(1_700_000_600_000),
        value: 3.1,
        baseline: 1.0,
        affected_views: 1234.0,
        causes: vec![NoticeCause {
            element: BTreeMap::from([("cdn".into(), "cdn-b".into())]),
            explanatory_power: 0.82,
            rate_inside: 7.5,
            rate_outside: 1.1,
            excess: 1.7,
        }],
        runbook_url: Some("http://wiki/rebuffering".into()),
        dashboard_url: Some("http://openqoe/alerts/a-1".into()),
    }
}

fn records_of(notifier: &Notifier, destination: &str) -> Vec<DeliveryRecord> {
    let records = notifier.log("a-1").into_iter();
    records
        .filter(|record| record.destination == destination)
        .collect()
}

fn finished(notifier: &Notifier, destination: &str) -> bool {
    records_of(notifier, destination)
        .iter()
        .any(|record| record.outcome != Outcome::Retrying)
}

fn hmac_hex(secret: &str, signed: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(signed);
    hex::encode(mac.finalize().into_bytes())
}

fn epoch_ms(rfc3339: &Value) -> i64 {
    let at = OffsetDateTime::parse(rfc3339.as_str().unwrap(), &Rfc3339).unwrap();
    (at.unix_timestamp_nanos() / 1_000_000) as i64
}

#[tokio::test]
async fn webhook_is_signed_over_timestamp_and_body() {
    let receiver = Receiver::start(&[], Duration::ZERO).await;
    let kind = DestinationKind::Webhook {
        url: receiver.url("/hook"),
        secret: Some("s3cret".into()),
    };
    let notifier = Notifier::start(vec![destination("ops", kind)], fast_policy());
    notifier.notify(&notice(NoticeStatus::Firing), &names(&["ops"]));
    wait_until("the webhook delivery", || finished(&notifier, "ops")).await;

    let seen = &receiver.seen()[0];
    assert_eq!((&seen.method, seen.path.as_str()), (&Method::POST, "/hook"));
    assert_eq!(seen.header("content-type"), "application/json");
    assert!(
        seen.header("user-agent").starts_with("openqoe/"),
        "{}",
        seen.header("user-agent")
    );
    let timestamp = seen.header("x-openqoe-timestamp");
    let signed = [format!("{timestamp}.").as_bytes(), &seen.body].concat();
    let sent = seen.header("x-openqoe-signature");
    assert_eq!(sent, format!("sha256={}", hmac_hex("s3cret", &signed)));
    assert_eq!(
        sent,
        signature("s3cret", timestamp.parse().unwrap(), &seen.body)
    );
    assert_ne!(sent, format!("sha256={}", hmac_hex("wrong", &signed)));

    let body = seen.json();
    assert_eq!(body["alert_id"], "a-1");
    assert_eq!(body["status"], "firing");
    assert_eq!(body["severity"], "critical");
    assert_eq!(body["scope"], json!({ "country": "DE" }));
    assert_eq!(body["causes"][0]["element"], json!({ "cdn": "cdn-b" }));
    assert_eq!(body["value"], 3.1);
    assert!(body.get("action").is_none());
    assert_eq!(records_of(&notifier, "ops")[0].outcome, Outcome::Delivered);
}

#[tokio::test]
async fn a_failed_delivery_never_shows_the_destination_url() {
    // A closed port: every attempt fails before an answer, with the error reqwest reports.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let secret_path = "/services/T0SECRET/B0SECRET/xoxb-secret";
    let kind = DestinationKind::Slack {
        url: format!("http://127.0.0.1:{port}{secret_path}"),
    };
    let notifier = Notifier::start(vec![destination("chat", kind)], fast_policy());
    notifier.notify(&notice(NoticeStatus::Firing), &names(&["chat"]));
    wait_until("the attempts to end", || finished(&notifier, "chat")).await;
    let records = records_of(&notifier, "chat");
    assert!(records.iter().all(|r| r.error.is_some()), "{records:?}");
    for record in records {
        let error = record.error.unwrap();
        assert!(
            !error.contains("SECRET") && !error.contains(&port.to_string()),
            "{error}"
        );
    }
}

#[tokio::test]
async fn slack_message_has_fallback_text_summary_and_cause() {
    let receiver = Receiver::start(&[], Duration::ZERO).await;
    let kind = DestinationKind::Slack {
        url: receiver.url("/services/T0/B0/x"),
    };
    let notifier = Notifier::start(vec![destination("chat", kind)], fast_policy());
    notifier.notify(&notice(NoticeStatus::Firing), &names(&["chat"]));
    wait_until("the slack delivery", || receiver.seen().len() == 1).await;

    let body = receiver.seen()[0].json();
    assert!(
        body["text"]
            .as_str()
            .unwrap()
            .starts_with("FIRING rebuffering"),
        "{body}"
    );
    let blocks: Vec<&str> = body["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|block| block["text"]["text"].as_str().unwrap())
        .collect();
    let blocks = blocks.join("\n");
    assert!(
        blocks.contains(&notice(NoticeStatus::Firing).summary),
        "{blocks}"
    );
    assert!(blocks.contains("`cdn=cdn-b` explains 82%"), "{blocks}");
    assert!(
        blocks.contains("<http://wiki/rebuffering|Runbook>"),
        "{blocks}"
    );
}

#[tokio::test]
async fn pagerduty_triggers_then_resolves_the_same_incident() {
    let receiver = Receiver::start(&[(202, None), (202, None)], Duration::ZERO).await;
    let kind = DestinationKind::Pagerduty {
        url: receiver.url("/v2/enqueue"),
        routing_key: "R0UT1NG".into(),
    };
    let notifier = Notifier::start(vec![destination("pager", kind)], fast_policy());
    let mut firing = notice(NoticeStatus::Firing);
    firing.summary = "×".repeat(1000); // 2,000 bytes of two-byte characters
    notifier.notify(&firing, &names(&["pager"]));
    notifier.notify(&notice(NoticeStatus::Resolved), &names(&["pager"]));
    wait_until("both pagerduty events", || {
        records_of(&notifier, "pager").len() == 2
    })
    .await;

    let seen = receiver.seen();
    let trigger = seen[0].json();
    assert_eq!(trigger["event_action"], "trigger");
    assert_eq!(trigger["dedup_key"], "a-1");
    let payload = &trigger["payload"];
    assert_eq!(payload["summary"].as_str().unwrap(), "×".repeat(512));
    assert_eq!(payload["source"], "openqoe");
    assert_eq!(payload["severity"], "critical");
    assert_eq!(payload["timestamp"], "2023-11-14T22:13:20Z");
    assert_eq!(payload["component"], "rebuffer_percentage");
    assert_eq!(payload["group"], "country=DE");
    assert_eq!(payload["class"], "rebuffering");
    assert_eq!(payload["custom_details"]["baseline"], 1.0);
    assert_eq!(
        trigger["links"][1],
        json!({ "href": "http://openqoe/alerts/a-1", "text": "openqoe" })
    );
    assert_eq!(
        seen[1].json(),
        json!({ "routing_key": "R0UT1NG", "event_action": "resolve", "dedup_key": "a-1" })
    );
    let statuses: Vec<_> = records_of(&notifier, "pager")
        .iter()
        .map(|record| record.http_status)
        .collect();
    assert_eq!(statuses, [Some(202), Some(202)]);
}

#[tokio::test]
async fn alertmanager_alerts_end_ahead_while_firing_and_keep_alive_reposts() {
    let receiver = Receiver::start(&[], Duration::ZERO).await;
    let kind = DestinationKind::Alertmanager {
        url: receiver.url("/"),
    };
    let notifier = Notifier::start(vec![destination("am", kind)], fast_policy());
    let firing = notice(NoticeStatus::Firing);
    notifier.notify(&firing, &names(&["am"]));
    notifier.notify(&notice(NoticeStatus::Resolved), &names(&["am"]));
    notifier.keep_alive(&[firing], &names(&["am", "nowhere"]));
    wait_until("three alertmanager posts", || receiver.seen().len() == 3).await;

    let seen = receiver.seen();
    assert!(seen.iter().all(|seen| seen.path == "/api/v2/alerts"));
    let alerts: Vec<Value> = seen.iter().map(Seen::json).collect();
    assert_eq!(alerts[0].as_array().unwrap().len(), 1);
    let alert = &alerts[0][0];
    assert_eq!(alert["labels"]["alertname"], "rebuffering");
    assert_eq!(alert["labels"]["alert_id"], "a-1");
    assert_eq!(alert["labels"]["country"], "DE");
    assert_eq!(
        alert["annotations"]["runbook_url"],
        "http://wiki/rebuffering"
    );
    assert_eq!(epoch_ms(&alert["startsAt"]), 1_700_000_000_000);
    let in_five_minutes =
        (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64 + 300_000;
    for posted in [&alerts[0][0], &alerts[2][0]] {
        let ends_at = epoch_ms(&posted["endsAt"]);
        assert!(
            (ends_at - in_five_minutes).abs() < 60_000,
            "endsAt {ends_at} vs {in_five_minutes}"
        );
    }
    assert_eq!(epoch_ms(&alerts[1][0]["endsAt"]), 1_700_000_600_000);
    assert_eq!(alerts[2][0]["labels"]["alert_id"], "a-1");
}

#[tokio::test]
async fn retries_server_errors_and_rate_limits_but_not_client_errors() {
    let flaky = Receiver::start(&[(503, None), (503, None)], Duration::ZERO).await;
    let limited = Receiver::start(&[(429, Some("0"))], Duration::ZERO).await;
    let strict = Receiver::start(&[(400, None)], Duration::ZERO).await;
    let broken = Receiver::start(&[(500, None); 10], Duration::ZERO).await;
    let webhook = |receiver: &Receiver| DestinationKind::Webhook {
        url: receiver.url("/"),
        secret: None,
    };
    let destinations = vec![
        destination("flaky", webhook(&flaky)),
        destination("limited", webhook(&limited)),
        destination("strict", webhook(&strict)),
        destination("broken", webhook(&broken)),
    ];
    let notifier = Notifier::start(destinations, fast_policy());
    let all = names(&["flaky", "limited", "strict", "broken", "nowhere"]);
    notifier.notify(&notice(NoticeStatus::Firing), &all);
    for name in &all {
        wait_until(name, || finished(&notifier, name)).await;
    }

    let summary = |name: &str| -> Vec<(u32, Option<u16>, Outcome)> {
        let records = records_of(&notifier, name).into_iter();
        records
            .map(|record| (record.attempt, record.http_status, record.outcome))
            .collect()
    };
    use Outcome::{Delivered, Failed, Retrying};
    assert_eq!(
        summary("flaky"),
        [
            (1, Some(503), Retrying),
            (2, Some(503), Retrying),
            (3, Some(200), Delivered)
        ]
    );
    assert_eq!(
        summary("limited"),
        [(1, Some(429), Retrying), (2, Some(200), Delivered)]
    );
    assert_eq!(summary("strict"), [(1, Some(400), Failed)]);
    assert_eq!(strict.seen().len(), 1);
    let broken_outcomes: Vec<_> = summary("broken")
        .into_iter()
        .map(|(_, _, outcome)| outcome)
        .collect();
    assert_eq!(broken_outcomes, [Retrying, Retrying, Retrying, Failed]);
    assert_eq!(summary("nowhere"), [(0, None, Failed)]);
    assert_eq!(
        records_of(&notifier, "nowhere")[0].error.as_deref(),
        Some("unknown destination")
    );
    assert!(records_of(&notifier, "strict")[0]
        .error
        .as_deref()
        .unwrap()
        .starts_with("http 400: Bad Request"));
}

#[tokio::test]
async fn resolved_never_overtakes_firing() {
    let receiver = Receiver::start(&[(503, None), (503, None)], Duration::ZERO).await;
    let kind = DestinationKind::Webhook {
        url: receiver.url("/"),
        secret: None,
    };
    let notifier = Notifier::start(vec![destination("ops", kind)], fast_policy());
    notifier.notify(&notice(NoticeStatus::Firing), &names(&["ops"]));
    notifier.notify(&notice(NoticeStatus::Resolved), &names(&["ops"]));
    wait_until("four requests", || receiver.seen().len() == 4).await;

    let statuses: Vec<Value> = receiver
        .seen()
        .iter()
        .map(|seen| seen.json()["status"].clone())
        .collect();
    assert_eq!(statuses, ["firing", "firing", "firing", "resolved"]);
}

#[tokio::test]
async fn slow_destination_does_not_hold_up_another() {
    let slow = Receiver::start(&[], Duration::from_secs(2)).await;
    let fast = Receiver::start(&[], Duration::ZERO).await;
    let destinations = vec![
        destination(
            "slow",
            DestinationKind::Webhook {
                url: slow.url("/"),
                secret: None,
            },
        ),
        destination(
            "fast",
            DestinationKind::Webhook {
                url: fast.url("/"),
                secret: None,
            },
        ),
    ];
    let notifier = Notifier::start(destinations, fast_policy());
    notifier.notify(&notice(NoticeStatus::Firing), &names(&["slow", "fast"]));
    wait_until("the fast delivery", || finished(&notifier, "fast")).await;

    assert!(
        records_of(&notifier, "slow").is_empty(),
        "the slow destination answered first"
    );
}

#[tokio::test]
async fn action_hook_is_logged_as_action() {
    let receiver = Receiver::start(&[], Duration::ZERO).await;
    let notifier = Notifier::start(Vec::new(), fast_policy());
    let hook = ActionHook {
        name: "shift-cdn".into(),
        url: receiver.url("/shift"),
        secret: Some("k3y".into()),
    };
    notifier.act(&hook, &notice(NoticeStatus::Firing));
    wait_until("the action delivery", || finished(&notifier, "shift-cdn")).await;

    let seen = &receiver.seen()[0];
    assert_eq!(seen.json()["action"], "shift-cdn");
    assert_eq!(seen.json()["alert_id"], "a-1");
    let timestamp = seen.header("x-openqoe-timestamp").parse().unwrap();
    assert_eq!(
        seen.header("x-openqoe-signature"),
        signature("k3y", timestamp, &seen.body)
    );
    let record = &records_of(&notifier, "shift-cdn")[0];
    assert_eq!(
        (record.purpose, record.outcome),
        (Purpose::Action, Outcome::Delivered)
    );
    assert_eq!(serde_json::to_value(record).unwrap()["purpose"], "action");
}
