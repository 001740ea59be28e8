//! PagerDuty Events API v2: trigger on firing and updated notices, resolve on resolved ones.
//!
//! The alert id is the `dedup_key`, so updates land on the open incident instead of opening another.
use crate::notice::{dimension_values, rfc3339, truncate, Notice, NoticeStatus};
use serde_json::{json, Value};

/// PagerDuty refuses a longer `payload.summary`.
const MAX_SUMMARY_BYTES: usize = 1024;

/// The event for `notice`; a resolve carries only what PagerDuty reads from it.
pub(crate) fn pagerduty_event(notice: &Notice, routing_key: &str) -> Value {
    if notice.status == NoticeStatus::Resolved {
        return json!({
            "routing_key": routing_key,
            "event_action": "resolve",
            "dedup_key": notice.alert_id,
        });
    }
    let group = if notice.scope.is_empty() {
        "all views".to_string()
    } else {
        dimension_values(&notice.scope, ",")
    };
    let links: Vec<Value> = [
        (&notice.runbook_url, "Runbook"),
        (&notice.dashboard_url, "openqoe"),
    ]
    .into_iter()
    .filter_map(|(url, text)| url.as_ref().map(|url| json!({ "href": url, "text": text })))
    .collect();
    let mut event = json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": notice.alert_id,
        "payload": {
            "summary": truncate(&notice.summary, MAX_SUMMARY_BYTES),
            "source": "openqoe",
            "severity": notice.severity.as_str(),
            "timestamp": rfc3339(notice.started_at_ms),
            "component": notice.metric,
            "group": group,
            "class": notice.rule,
            "custom_details": {
                "value": notice.value,
                "baseline": notice.baseline,
                "unit": notice.unit,
                "affected_views": notice.affected_views,
                "causes": notice.causes,
            },
        },
        "links": links,
        "client": "openqoe",
    });
    if let Some(url) = &notice.dashboard_url {
        event["client_url"] = url.as_str().into();
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notice::sample_notice;

    #[test]
    fn trigger_carries_payload_and_links() {
        let event = pagerduty_event(&sample_notice(), "key");
        assert_eq!(event["event_action"], "trigger");
        assert_eq!(event["dedup_key"], "a-1");
        let payload = &event["payload"];
        assert_eq!(payload["severity"], "critical");
        assert_eq!(payload["timestamp"], "2023-11-14T22:13:20Z");
        assert_eq!(payload["group"], "country=DE");
        assert_eq!(payload["class"], "rebuffering");
        assert_eq!(
            payload["custom_details"]["causes"][0]["element"]["cdn"],
            "cdn-b"
        );
        assert_eq!(event["links"][0]["text"], "Runbook");
        assert_eq!(event["client_url"], "http://openqoe/alerts/a-1");
    }

    #[test]
    fn all_views_and_no_links() {
        let mut notice = sample_notice();
        notice.scope.clear();
        notice.runbook_url = None;
        notice.dashboard_url = None;
        let event = pagerduty_event(&notice, "key");
        assert_eq!(event["payload"]["group"], "all views");
        assert_eq!(event["links"], json!([]));
        assert!(event.get("client_url").is_none());
    }

    #[test]
    fn resolve_is_minimal() {
        let mut notice = sample_notice();
        notice.status = NoticeStatus::Resolved;
        assert_eq!(
            pagerduty_event(&notice, "key"),
            json!({ "routing_key": "key", "event_action": "resolve", "dedup_key": "a-1" })
        );
    }
}
