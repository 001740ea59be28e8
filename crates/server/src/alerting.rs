//! Detection wired to delivery. Every second the alerting task judges the minutes that have
//! sealed — ended at least the grace before the point the viewers sending now have reached
//! (`ViewCounts::event_clock`: so a replayed or accelerated stream is judged on its own clock, and
//! with no traffic for two minutes the wall clock takes over) — from the views that touch them,
//! and sends each alert change to the rule's destinations and action. `GET /v1/alerts` lists alerts with their history and deliveries.
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use openqoe_alert::{ActionHook, Notice, NoticeCause, NoticeStatus, Notifier, RetryPolicy};
use openqoe_detect::{Alert, AlertChange, AlertStatus, ChangeKind, Detector, Severity};
use openqoe_model::ServerTime;
use openqoe_steer::SteerAction;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde_json::{json, Value};

use crate::config::Config;
use crate::steering::Steering;
use crate::view_counts::ViewCounts;

const MINUTE_MS: i64 = 60_000;
/// At start-up, at most this much history is replayed into the baselines.
const LEARN_HISTORY_MS: i64 = 24 * 60 * MINUTE_MS;

struct Judged {
    detector: Detector,
    /// Each alert's changes, oldest first.
    history: HashMap<String, Vec<Value>>,
    /// The root-cause element each alert's steering action demoted for.
    steered: HashMap<String, BTreeMap<String, String>>,
}

/// Labels of `openqoe_alerts_firing`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FiringLabels {
    rule: String,
    severity: String,
}

/// The detector, the notifier and what they did.
pub struct Alerting {
    firing_gauge: Family<FiringLabels, Gauge>,
    judged: Mutex<Judged>,
    notifier: Notifier,
    actions: Vec<ActionHook>,
    /// The steering server, for rules whose action is one of `[[steer.actions]]`.
    steering: Option<Arc<Steering>>,
    steer_actions: Vec<SteerAction>,
    destinations: Vec<String>,
    dashboard_url: Option<String>,
    grace_ms: i64,
    enabled: bool,
    /// Minutes ending at or before this were replayed from the log: they teach, never alert.
    learn_until: i64,
}

fn notice(alert: &Alert, kind: ChangeKind, dashboard_url: Option<&str>) -> Notice {
    Notice {
        alert_id: alert.id.clone(),
        status: match kind {
            ChangeKind::Firing => NoticeStatus::Firing,
            ChangeKind::Updated => NoticeStatus::Updated,
            ChangeKind::Resolved => NoticeStatus::Resolved,
        },
        rule: alert.rule.clone(),
        metric: alert.metric.into(),
        unit: alert.unit.into(),
        scope: alert.cohorts.first().cloned().unwrap_or_default(),
        severity: match alert.severity {
            Severity::Warning => openqoe_alert::Severity::Warning,
            Severity::Critical => openqoe_alert::Severity::Critical,
        },
        summary: alert.summary.clone(),
        started_at_ms: alert.started_at,
        resolved_at_ms: alert.resolved_at,
        value: alert.value,
        baseline: alert.baseline,
        affected_views: alert.affected_views,
        causes: alert
            .causes
            .iter()
            .map(|c| NoticeCause {
                element: c.element.clone(),
                explanatory_power: c.explanatory_power,
                rate_inside: c.rate_inside,
                rate_outside: c.rate_outside,
                excess: c.excess,
            })
            .collect(),
        runbook_url: alert.runbook_url.clone(),
        dashboard_url: dashboard_url
            .map(|base| format!("{}/#/alerts/{}", base.trim_end_matches('/'), alert.id)),
    }
}

impl Alerting {
    /// Builds the detector and starts the notifier; `learn_until` is the newest replayed event.
    pub fn new(
        config: &Config,
        learn_until: ServerTime,
        steering: Option<Arc<Steering>>,
        registry: &mut Registry,
    ) -> anyhow::Result<Alerting> {
        let firing_gauge = Family::<FiringLabels, Gauge>::default();
        registry.register(
            "openqoe_alerts_firing",
            "Alerts firing now, by rule and severity",
            firing_gauge.clone(),
        );
        let detector = Detector::new(&config.detect).map_err(anyhow::Error::msg)?;
        for rule in detector.rules() {
            if let Some(action) = &rule.action {
                let steers = config.steer.actions.iter().any(|a| &a.name == action);
                if !steers && !config.alerts.actions.iter().any(|a| &a.name == action) {
                    anyhow::bail!(
                        "rule {:?}: action {action:?} is not one of [[alerts.actions]] or [[steer.actions]]",
                        rule.name
                    );
                }
                if steers && steering.is_none() {
                    anyhow::bail!(
                        "rule {:?}: action {action:?} demotes a pathway, but [steer] names no pathways",
                        rule.name
                    );
                }
            }
            for name in &rule.destinations {
                if !config.alerts.destinations.iter().any(|d| &d.name == name) {
                    anyhow::bail!(
                        "rule {:?}: destination {name:?} is not one of [[alerts.destinations]]",
                        rule.name
                    );
                }
            }
        }
        Ok(Alerting {
            firing_gauge,
            judged: Mutex::new(Judged {
                detector,
                history: HashMap::new(),
                steered: HashMap::new(),
            }),
            notifier: Notifier::start(config.alerts.destinations.clone(), RetryPolicy::default()),
            actions: config.alerts.actions.clone(),
            steering,
            steer_actions: config.steer.actions.clone(),
            destinations: config
                .alerts
                .destinations
                .iter()
                .map(|d| d.name.clone())
                .collect(),
            dashboard_url: config.alerts.dashboard_url.clone(),
            grace_ms: config.detect.grace_seconds as i64 * 1000,
            enabled: config.detect.enabled,
            learn_until: learn_until.0,
        })
    }

    /// Judges every minute sealed since the last tick and delivers what changed.
    pub fn tick(&self, views: &dyn ViewCounts, now: ServerTime) {
        if !self.enabled {
            return;
        }
        let clock = views.event_clock(now).0;
        let sealed_to = (clock - self.grace_ms).div_euclid(MINUTE_MS) * MINUTE_MS;
        let mut judged = self.judged.lock().expect("alerting lock poisoned");
        let from = match judged.detector.last_minute() {
            Some(last) => last.0 + MINUTE_MS,
            None => match views.earliest_event() {
                Some(first) => {
                    (first.0.div_euclid(MINUTE_MS) * MINUTE_MS).max(sealed_to - LEARN_HISTORY_MS)
                }
                None => return,
            },
        };
        if from >= sealed_to {
            return;
        }
        let dimensions = judged.detector.dimensions().to_vec();
        let mut minutes = views.minutes(ServerTime(from), ServerTime(sealed_to), &dimensions);
        let mut changes = Vec::new();
        for minute in (from..sealed_to).step_by(MINUTE_MS as usize) {
            let views = minutes.remove(&minute).unwrap_or_default();
            let learn_only = minute + MINUTE_MS <= self.learn_until;
            // Changes are dated by the clock the minutes were judged on (the stream's own time).
            judged.detector.judge_minute(
                ServerTime(minute),
                &views,
                learn_only,
                ServerTime(clock),
                &mut changes,
            );
        }
        for change in &changes {
            self.deliver(&mut judged, change);
        }
        let firing: Vec<(Notice, Vec<String>)> = judged
            .detector
            .alerts()
            .filter(|a| a.status == AlertStatus::Firing)
            .map(|a| {
                let n = notice(a, ChangeKind::Updated, self.dashboard_url.as_deref());
                (n, self.destinations_of(a))
            })
            .collect();
        self.firing_gauge.clear();
        for (n, to) in firing {
            let labels = FiringLabels {
                rule: n.rule.clone(),
                severity: format!("{:?}", n.severity).to_lowercase(),
            };
            self.firing_gauge.get_or_create(&labels).inc();
            self.notifier.keep_alive(std::slice::from_ref(&n), &to);
        }
    }

    fn destinations_of(&self, alert: &Alert) -> Vec<String> {
        if alert.destinations.is_empty() {
            self.destinations.clone()
        } else {
            alert.destinations.clone()
        }
    }

    fn deliver(&self, judged: &mut Judged, change: &AlertChange) {
        let alert = &change.alert;
        tracing::warn!(alert = %alert.id, change = ?change.kind, "{}", alert.summary);
        judged
            .history
            .entry(alert.id.clone())
            .or_default()
            .push(json!({"at": alert.updated_at, "change": change.kind, "summary": alert.summary, "severity": alert.severity}));
        let n = notice(alert, change.kind, self.dashboard_url.as_deref());
        self.notifier.notify(&n, &self.destinations_of(alert));
        // The action runs when the alert fires and again when it resolves (to undo itself).
        let acts = matches!(change.kind, ChangeKind::Firing | ChangeKind::Resolved);
        if let Some(action) = alert
            .action
            .as_ref()
            .filter(|_| acts)
            .and_then(|name| self.actions.iter().find(|a| &a.name == name))
        {
            self.notifier.act(action, &n);
        }
        self.steer(judged, change);
    }

    /// A `[[steer.actions]]` action: demote the root cause's pathway while the alert fires,
    /// following the cause as it is refined; undo it when the alert resolves.
    fn steer(&self, judged: &mut Judged, change: &AlertChange) {
        let alert = &change.alert;
        let (Some(steering), Some(action)) = (
            &self.steering,
            alert
                .action
                .as_ref()
                .and_then(|name| self.steer_actions.iter().find(|a| &a.name == name)),
        ) else {
            return;
        };
        let now = ServerTime::now();
        let acted_on = judged.steered.get(&alert.id);
        let outcome = match change.kind {
            ChangeKind::Resolved => {
                judged.steered.remove(&alert.id);
                steering.revert_alert(&alert.id, now);
                format!("{}: demotion reverted", action.name)
            }
            _ if acted_on == Some(&alert.key) => return,
            _ => {
                if acted_on.is_some() {
                    steering.revert_alert(&alert.id, now);
                }
                judged.steered.insert(alert.id.clone(), alert.key.clone());
                let done = steering.act_on_alert(
                    &alert.id,
                    &alert.key,
                    &alert.summary,
                    action.expire_minutes,
                    now,
                );
                format!("{}: {done}", action.name)
            }
        };
        judged
            .history
            .entry(alert.id.clone())
            .or_default()
            .push(json!({"at": now.0, "change": "action", "summary": outcome}));
    }

    fn alert_json(&self, judged: &Judged, alert: &Alert) -> Value {
        let mut body = serde_json::to_value(alert).unwrap_or_default();
        body["history"] = json!(judged.history.get(&alert.id).cloned().unwrap_or_default());
        body["deliveries"] = serde_json::to_value(self.notifier.log(&alert.id)).unwrap_or_default();
        body
    }

    /// `GET /v1/alerts[?status=firing|resolved]` and `GET /v1/alerts/{id}`.
    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/v1/alerts", get(list))
            .route("/v1/alerts/{id}", get(one))
            .with_state(self)
    }
}

async fn list(
    State(alerting): State<Arc<Alerting>>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    let status = match query.get("status").map(String::as_str) {
        None | Some("") => None,
        Some("firing") => Some(AlertStatus::Firing),
        Some("resolved") => Some(AlertStatus::Resolved),
        Some(other) => {
            return Err((
                StatusCode::BAD_REQUEST,
                Json(
                    json!({"error": format!("status: expected firing or resolved, got {other:?}")}),
                ),
            ))
        }
    };
    let judged = alerting.judged.lock().expect("alerting lock poisoned");
    let alerts: Vec<Value> = judged
        .detector
        .alerts()
        .filter(|a| status.is_none_or(|s| a.status == s))
        .map(|a| alerting.alert_json(&judged, a))
        .collect();
    let rules: Vec<Value> = judged
        .detector
        .rules()
        .map(|r| serde_json::to_value(r).unwrap_or_default())
        .collect();
    Ok(Json(json!({
        "enabled": alerting.enabled,
        "judged_through": judged.detector.last_minute().map(|m| m.0 + MINUTE_MS),
        "destinations": alerting.destinations,
        "rules": rules,
        "alerts": alerts,
    })))
}

async fn one(
    State(alerting): State<Arc<Alerting>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    let judged = alerting.judged.lock().expect("alerting lock poisoned");
    let found = judged
        .detector
        .alerts()
        .find(|a| a.id == id)
        .map(|alert| alerting.alert_json(&judged, alert));
    found.map(Json).ok_or_else(|| {
        (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!("no alert {id:?}")})),
        )
    })
}
