//! Prometheus Alertmanager (`POST /api/v2/alerts`).
//!
//! Alertmanager resolves an alert whose `endsAt` passes, so a firing alert is sent with `endsAt`
//! five minutes ahead, as Prometheus does, and re-sent every minute while it fires
//! ([`crate::Notifier::keep_alive`]): if openqoe stops, its alerts resolve instead of firing forever.
use crate::notice::{dimension_values, quantity, rfc3339, Notice, NoticeStatus};
use serde_json::{json, Map, Value};

/// How far ahead a firing alert's `endsAt` is set.
const FIRING_HORIZON_MS: i64 = 5 * 60 * 1000;

/// The alerts endpoint under Alertmanager's base URL.
pub(crate) fn alerts_url(base: &str) -> String {
    format!("{}/api/v2/alerts", base.trim_end_matches('/'))
}

/// The request body for `notice` sent at `now_ms`: an array of one alert.
pub(crate) fn alertmanager_body(notice: &Notice, now_ms: i64) -> Value {
    let mut labels = Map::new();
    labels.insert("alertname".into(), notice.rule.as_str().into());
    labels.insert("metric".into(), notice.metric.as_str().into());
    labels.insert("severity".into(), notice.severity.as_str().into());
    labels.insert("alert_id".into(), notice.alert_id.as_str().into());
    for (dim, value) in &notice.scope {
        // A dimension named like one of ours must not change the alert's identity.
        labels
            .entry(label_name(dim))
            .or_insert_with(|| value.as_str().into());
    }
    let causes: Vec<String> = notice
        .causes
        .iter()
        .map(|cause| {
            let element = dimension_values(&cause.element, " & ");
            format!("{element} ({:.0}%)", cause.explanatory_power * 100.0)
        })
        .collect();
    let mut description = format!(
        "value {} vs baseline {} over {:.0} views",
        quantity(notice.value, &notice.unit),
        quantity(notice.baseline, &notice.unit),
        notice.affected_views
    );
    if !causes.is_empty() {
        description += &format!("; cause: {}", causes.join(", "));
    }
    let mut annotations = Map::new();
    annotations.insert("summary".into(), notice.summary.as_str().into());
    annotations.insert("description".into(), description.into());
    if let Some(url) = &notice.runbook_url {
        annotations.insert("runbook_url".into(), url.as_str().into());
    }
    let ends_at_ms = match notice.status {
        NoticeStatus::Resolved => notice.resolved_at_ms.unwrap_or(now_ms),
        NoticeStatus::Firing | NoticeStatus::Updated => now_ms + FIRING_HORIZON_MS,
    };
    json!([{
        "labels": labels,
        "annotations": annotations,
        "startsAt": rfc3339(notice.started_at_ms),
        "endsAt": rfc3339(ends_at_ms),
        "generatorURL": notice.dashboard_url.as_deref().unwrap_or(""),
    }])
}

/// `name` made a valid Prometheus label name (`[a-zA-Z_][a-zA-Z0-9_]*`): other characters become `_`.
fn label_name(name: &str) -> String {
    let mut label: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if !label.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        label.insert(0, '_');
    }
    label
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notice::sample_notice;

    #[test]
    fn sanitizes_label_names() {
        let cases = [
            ("valid stays", "country", "country"),
            ("dash and dot", "device.os-name", "device_os_name"),
            ("leading digit", "5g", "_5g"),
            ("empty", "", "_"),
        ];
        for (name, dim, want) in cases {
            assert_eq!(label_name(dim), want, "{name}");
        }
    }

    #[test]
    fn firing_ends_ahead_and_resolved_ends_when_resolved() {
        let now_ms = 1_700_000_100_000;
        let firing = alertmanager_body(&sample_notice(), now_ms);
        assert_eq!(firing[0]["endsAt"], rfc3339(now_ms + FIRING_HORIZON_MS));
        assert_eq!(firing[0]["labels"]["country"], "DE");
        assert_eq!(firing[0]["labels"]["alertname"], "rebuffering");
        assert_eq!(
            firing[0]["annotations"]["description"],
            "value 3.1% vs baseline 1% over 1234 views; cause: cdn=cdn-b (82%)"
        );
        let mut resolved = sample_notice();
        resolved.status = NoticeStatus::Resolved;
        resolved.resolved_at_ms = Some(1_700_000_050_000);
        assert_eq!(
            alertmanager_body(&resolved, now_ms)[0]["endsAt"],
            rfc3339(1_700_000_050_000)
        );
    }

    #[test]
    fn scope_cannot_override_identity_labels() {
        let mut notice = sample_notice();
        notice.scope.insert("alertname".into(), "other".into());
        assert_eq!(
            alertmanager_body(&notice, 0)[0]["labels"]["alertname"],
            "rebuffering"
        );
    }

    #[test]
    fn url_joins_base() {
        assert_eq!(
            alerts_url("http://am:9093/"),
            "http://am:9093/api/v2/alerts"
        );
    }
}
