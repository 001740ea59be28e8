//! Delivery: one ordered queue per destination and retries with backoff; each attempt goes to
//! the log of attempts (`delivery_log`).
use crate::alertmanager::{alertmanager_body, alerts_url};
use crate::config::{ActionHook, Destination, DestinationKind};
use crate::delivery_log::{DeliveryLog, DeliveryRecord, Outcome, Purpose, LOG_CAPACITY};
use crate::notice::{truncate, Notice};
use crate::pagerduty::pagerduty_event;
use crate::slack::slack_body;
use crate::webhook::{signature_headers, webhook_body};
use openqoe_model::ServerTime;
use reqwest::header::{HeaderMap, CONTENT_TYPE, RETRY_AFTER};
use reqwest::StatusCode;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::runtime::Handle;
use tokio::sync::mpsc::{self, error::TrySendError};
use tracing::warn;

/// Longest one request may take, connecting included, before it counts as failed and is retried.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Notices waiting per destination; beyond it new ones are refused and logged, not held in memory.
const QUEUE_CAPACITY: usize = 1024;
/// Bytes of a refusal's body kept in the log: enough for Slack's or PagerDuty's reason.
const MAX_REFUSAL_BYTES: usize = 200;

/// Retry policy of deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Wait before the second attempt; each later wait doubles.
    pub first_delay: Duration,
    /// Longest wait between attempts, also the cap on a destination's `Retry-After`.
    pub max_delay: Duration,
    /// Attempts per delivery, the first included, before it is given up as failed.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            max_attempts: 8,
        }
    }
}

/// Why a delivery attempt failed.
#[derive(Debug, thiserror::Error)]
enum DeliveryError {
    /// No destination has the name the notice was routed to.
    #[error("unknown destination")]
    UnknownDestination,
    /// The destination's queue is full, because it has been failing or slow for long.
    #[error("delivery queue full")]
    QueueFull,
    /// The destination's delivery task has stopped; only a bug stops it.
    #[error("delivery queue closed")]
    QueueClosed,
    /// No answer came: connection refused or reset, or the request timed out.
    #[error("{0}")]
    Request(String),
    /// The destination answered with a status other than 2xx.
    #[error("http {status}: {reason}")]
    Refused {
        /// The status of the answer.
        status: u16,
        /// The start of the answer's body, which usually says why, or the status's reason phrase.
        reason: String,
    },
}

/// Delivers notices on background tokio tasks, one per destination; cheap to clone.
#[derive(Clone)]
pub struct Notifier {
    inner: Arc<Inner>,
}

struct Inner {
    destinations: HashMap<String, DestinationQueue>,
    /// Action hooks get a queue on first use, since rules name them inline.
    actions: Mutex<HashMap<ActionHook, mpsc::Sender<Job>>>,
    shared: Arc<Shared>,
    runtime: Handle,
}

struct DestinationQueue {
    jobs: mpsc::Sender<Job>,
    alertmanager: bool,
}

/// What every queue's task needs.
struct Shared {
    client: reqwest::Client,
    policy: RetryPolicy,
    log: DeliveryLog,
}

struct Job {
    notice: Notice,
    /// Alertmanager refreshes are logged only when they fail, or a long-firing alert's log
    /// would be nothing but one record a minute.
    keep_alive: bool,
}

/// The client every delivery goes through: HTTP or HTTPS (rustls, the Mozilla roots).
fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("openqoe/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("fixed client settings build")
}

impl Notifier {
    /// Starts the delivery tasks (must be called inside a tokio runtime).
    pub fn start(destinations: Vec<Destination>, policy: RetryPolicy) -> Notifier {
        let shared = Arc::new(Shared {
            client: http_client(),
            policy,
            log: DeliveryLog::new(LOG_CAPACITY),
        });
        let runtime = Handle::current();
        let mut queues = HashMap::new();
        for Destination { name, kind } in destinations {
            let alertmanager = matches!(kind, DestinationKind::Alertmanager { .. });
            let queue = Queue {
                name: name.clone(),
                kind,
                action: None,
                shared: shared.clone(),
            };
            let jobs = queue.spawn(&runtime);
            if queues
                .insert(name.clone(), DestinationQueue { jobs, alertmanager })
                .is_some()
            {
                warn!(destination = %name, "two destinations share a name; the later one is used");
            }
        }
        Notifier {
            inner: Arc::new(Inner {
                destinations: queues,
                actions: Mutex::new(HashMap::new()),
                shared,
                runtime,
            }),
        }
    }

    /// Queues `notice` for every destination named in `to` (unknown names are recorded as failed deliveries, not panics); returns at once.
    pub fn notify(&self, notice: &Notice, to: &[String]) {
        for name in to {
            match self.inner.destinations.get(name) {
                Some(queue) => self.enqueue(&queue.jobs, name, Purpose::Notify, notice, false),
                None => self.refuse(
                    name,
                    Purpose::Notify,
                    notice,
                    DeliveryError::UnknownDestination,
                ),
            }
        }
    }

    /// Queues `notice` for an action webhook (a rule's runbook action, e.g. "shift CDN"): POSTs the generic webhook JSON with the action name added as "action"; logged with Purpose::Action.
    pub fn act(&self, action: &ActionHook, notice: &Notice) {
        let jobs = {
            let mut actions = self
                .inner
                .actions
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let queue = actions.entry(action.clone()).or_insert_with(|| {
                Queue {
                    name: action.name.clone(),
                    kind: DestinationKind::Webhook {
                        url: action.url.clone(),
                        secret: action.secret.clone(),
                    },
                    action: Some(action.name.clone()),
                    shared: self.inner.shared.clone(),
                }
                .spawn(&self.inner.runtime)
            });
            queue.clone()
        };
        self.enqueue(&jobs, &action.name, Purpose::Action, notice, false);
    }

    /// Re-posts firing alerts to Alertmanager destinations (Alertmanager resolves alerts it does not hear about; call every minute).
    ///
    /// Other destinations in `to` are skipped; successful refreshes are not logged.
    pub fn keep_alive(&self, firing: &[Notice], to: &[String]) {
        let queues = to
            .iter()
            .filter_map(|name| Some((name, self.inner.destinations.get(name)?)));
        for (name, queue) in queues.filter(|(_, queue)| queue.alertmanager) {
            for notice in firing {
                self.enqueue(&queue.jobs, name, Purpose::Notify, notice, true);
            }
        }
    }

    /// Every delivery attempt so far for `alert_id`, oldest first.
    pub fn log(&self, alert_id: &str) -> Vec<DeliveryRecord> {
        self.inner.shared.log.for_alert(alert_id)
    }

    fn enqueue(
        &self,
        jobs: &mpsc::Sender<Job>,
        name: &str,
        purpose: Purpose,
        notice: &Notice,
        keep_alive: bool,
    ) {
        let job = Job {
            notice: notice.clone(),
            keep_alive,
        };
        match jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.refuse(name, purpose, notice, DeliveryError::QueueFull)
            }
            Err(TrySendError::Closed(_)) => {
                self.refuse(name, purpose, notice, DeliveryError::QueueClosed)
            }
        }
    }

    fn refuse(&self, name: &str, purpose: Purpose, notice: &Notice, error: DeliveryError) {
        warn!(destination = %name, alert_id = %notice.alert_id, %error, "alert not delivered");
        self.inner.shared.log.push(DeliveryRecord {
            alert_id: notice.alert_id.clone(),
            destination: name.to_string(),
            purpose,
            status: notice.status,
            attempt: 0,
            at_ms: ServerTime::now().0,
            http_status: None,
            error: Some(error.to_string()),
            outcome: Outcome::Failed,
        });
    }
}

/// One destination's queue: its task delivers jobs one at a time, in order.
struct Queue {
    name: String,
    kind: DestinationKind,
    /// Set for action hooks: the name added to the webhook body.
    action: Option<String>,
    shared: Arc<Shared>,
}

/// What one attempt's answer means for the delivery.
#[derive(Debug, PartialEq)]
enum Verdict {
    Delivered,
    /// Worth another attempt, after the destination's `Retry-After` if it gave one.
    Retry {
        after: Option<Duration>,
    },
    Reject,
}

/// One HTTP request, built anew for each attempt so its timestamps are fresh.
struct Request {
    url: String,
    body: Vec<u8>,
    headers: Vec<(&'static str, String)>,
}

impl Queue {
    fn spawn(self, runtime: &Handle) -> mpsc::Sender<Job> {
        let (jobs, mut incoming) = mpsc::channel(QUEUE_CAPACITY);
        runtime.spawn(async move {
            while let Some(job) = incoming.recv().await {
                self.deliver(job).await;
            }
        });
        jobs
    }

    async fn deliver(&self, job: Job) {
        let policy = self.shared.policy;
        let max_attempts = policy.max_attempts.max(1);
        for attempt in 1..=max_attempts {
            let (http_status, verdict, error) = self.attempt(&job.notice).await;
            let (outcome, wait) = match verdict {
                Verdict::Delivered => (Outcome::Delivered, None),
                Verdict::Retry { after } if attempt < max_attempts => {
                    (Outcome::Retrying, Some(backoff(&policy, attempt, after)))
                }
                Verdict::Retry { .. } | Verdict::Reject => (Outcome::Failed, None),
            };
            if let Some(error) = &error {
                warn!(destination = %self.name, alert_id = %job.notice.alert_id, attempt, ?outcome, %error, "alert delivery failed");
            }
            if !(job.keep_alive && outcome == Outcome::Delivered) {
                self.shared.log.push(DeliveryRecord {
                    alert_id: job.notice.alert_id.clone(),
                    destination: self.name.clone(),
                    purpose: if self.action.is_some() {
                        Purpose::Action
                    } else {
                        Purpose::Notify
                    },
                    status: job.notice.status,
                    attempt,
                    at_ms: ServerTime::now().0,
                    http_status,
                    error: error.map(|error| error.to_string()),
                    outcome,
                });
            }
            match wait {
                Some(wait) => tokio::time::sleep(wait).await,
                None => return,
            }
        }
    }

    async fn attempt(&self, notice: &Notice) -> (Option<u16>, Verdict, Option<DeliveryError>) {
        let request = build_request(
            &self.kind,
            self.action.as_deref(),
            notice,
            ServerTime::now().0,
        );
        let mut post = self
            .shared
            .client
            .post(&request.url)
            .header(CONTENT_TYPE, "application/json")
            .body(request.body);
        for (name, value) in request.headers {
            post = post.header(name, value);
        }
        let response = match post.send().await {
            Ok(response) => response,
            Err(error) => {
                // Without the URL: a webhook URL is a secret, and this text is logged and served.
                let error = DeliveryError::Request(error_chain(&error.without_url()));
                return (None, Verdict::Retry { after: None }, Some(error));
            }
        };
        let status = response.status();
        let verdict = classify(status, response.headers());
        if verdict == Verdict::Delivered {
            return (Some(status.as_u16()), verdict, None);
        }
        let body = response.text().await.unwrap_or_default();
        let reason = match body.trim() {
            "" => status.canonical_reason().unwrap_or_default(),
            body => truncate(body, MAX_REFUSAL_BYTES),
        };
        let error = DeliveryError::Refused {
            status: status.as_u16(),
            reason: reason.to_string(),
        };
        (Some(status.as_u16()), verdict, Some(error))
    }
}

/// The request delivering `notice` to a destination of `kind` at `now_ms`.
fn build_request(
    kind: &DestinationKind,
    action: Option<&str>,
    notice: &Notice,
    now_ms: i64,
) -> Request {
    let (url, body) = match kind {
        DestinationKind::Webhook { url, .. } => (url.clone(), webhook_body(notice, action)),
        DestinationKind::Slack { url } => (url.clone(), slack_body(notice)),
        DestinationKind::Pagerduty { url, routing_key } => {
            (url.clone(), pagerduty_event(notice, routing_key))
        }
        DestinationKind::Alertmanager { url } => {
            (alerts_url(url), alertmanager_body(notice, now_ms))
        }
    };
    let body = body.to_string().into_bytes();
    let headers = match kind {
        DestinationKind::Webhook {
            secret: Some(secret),
            ..
        } => signature_headers(secret, now_ms, &body).to_vec(),
        _ => Vec::new(),
    };
    Request { url, body, headers }
}

/// 2xx is delivered; 429 and 5xx are retried; any other answer will not change on retry.
fn classify(status: StatusCode, headers: &HeaderMap) -> Verdict {
    if status.is_success() {
        return Verdict::Delivered;
    }
    if status != StatusCode::TOO_MANY_REQUESTS && !status.is_server_error() {
        return Verdict::Reject;
    }
    // Only the delay-seconds form; an HTTP date falls back to our own backoff.
    let after = headers
        .get(RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse().ok())
        .map(Duration::from_secs);
    Verdict::Retry { after }
}

/// The wait after failed attempt `attempt` (from 1): the destination's `Retry-After`, or
/// `first_delay` doubled per attempt; both capped at `max_delay`.
fn backoff(policy: &RetryPolicy, attempt: u32, retry_after: Option<Duration>) -> Duration {
    if let Some(after) = retry_after {
        return after.min(policy.max_delay);
    }
    let doubled = policy
        .first_delay
        .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
    // Up to a tenth less, so notices that failed together do not all retry at the same instant.
    doubled
        .min(policy.max_delay)
        .mul_f64(1.0 - 0.1 * rand::random::<f64>())
}

/// `error` and its sources, which say what actually went wrong (`connection refused`).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    /// Slack, PagerDuty and most webhooks are https: the client speaks TLS to them (the first
    /// byte it sends is a TLS handshake record, 0x16), not plain HTTP or an "unsupported scheme".
    #[tokio::test]
    async fn https_destinations_get_a_tls_handshake() {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://{}/hook", listener.local_addr().unwrap());
        let request = tokio::spawn(async move { http_client().post(url).send().await });
        let accepted = tokio::time::timeout(Duration::from_secs(10), listener.accept()).await;
        let Ok(Ok((mut socket, _))) = accepted else {
            panic!(
                "no connection to the https destination: {:?}",
                request.await
            );
        };
        let mut first = [0u8; 1];
        socket.read_exact(&mut first).await.unwrap();
        assert_eq!(first[0], 0x16, "a TLS ClientHello");
        drop(socket);
        assert!(request.await.unwrap().is_err(), "no TLS server answered");
    }

    #[test]
    fn classifies_answers() {
        let cases = [
            ("accepted", 202, None, Verdict::Delivered),
            ("server error", 503, None, Verdict::Retry { after: None }),
            (
                "rate limited",
                429,
                Some("7"),
                Verdict::Retry {
                    after: Some(Duration::from_secs(7)),
                },
            ),
            (
                "retry-after date",
                429,
                Some("Wed, 21 Oct 2015 07:28:00 GMT"),
                Verdict::Retry { after: None },
            ),
            ("bad request", 400, None, Verdict::Reject),
            ("gone", 410, None, Verdict::Reject),
        ];
        for (name, status, retry_after, want) in cases {
            let mut headers = HeaderMap::new();
            if let Some(value) = retry_after {
                headers.insert(RETRY_AFTER, HeaderValue::from_static(value));
            }
            assert_eq!(
                classify(StatusCode::from_u16(status).unwrap(), &headers),
                want,
                "{name}"
            );
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap() {
        let policy = RetryPolicy::default();
        let cases = [
            ("first wait", 1, None, 1.0),
            ("doubles", 3, None, 4.0),
            ("capped", 12, None, 60.0),
            ("huge attempt does not overflow", u32::MAX, None, 60.0),
        ];
        for (name, attempt, retry_after, want_secs) in cases {
            let wait = backoff(&policy, attempt, retry_after).as_secs_f64();
            assert!(
                wait <= want_secs && wait >= want_secs * 0.9,
                "{name}: {wait}"
            );
        }
        assert_eq!(backoff(&policy, 1, Some(Duration::ZERO)), Duration::ZERO);
        assert_eq!(
            backoff(&policy, 1, Some(Duration::from_secs(3600))),
            policy.max_delay
        );
    }
}
