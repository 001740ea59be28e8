//! The notice: an alert's state at one change of its lifecycle, as every destination receives it.
use serde::Serialize;
use std::collections::BTreeMap;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Lifecycle state carried by a notice.
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum NoticeStatus {
    /// The alert has just started.
    Firing,
    /// The alert still fires, but its value, severity or cause changed.
    Updated,
    /// The alert has ended.
    Resolved,
}

/// How urgent an alert is.
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth a look during working hours.
    Warning,
    /// Worth waking someone.
    Critical,
}

/// One element of the root cause.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct NoticeCause {
    /// The `dimension=value` pairs that define the element, e.g. `cdn=cdn-b`, `country=DE`.
    pub element: BTreeMap<String, String>,
    /// Share of the excess this element explains, from 0 to 1.
    pub explanatory_power: f64,
    /// The metric's rate among views inside the element.
    pub rate_inside: f64,
    /// The metric's rate among views outside the element.
    pub rate_outside: f64,
    /// The part of the deviation from baseline attributed to the element, in the metric's unit.
    pub excess: f64,
}

/// An alert's state at one change of its lifecycle: what every destination is sent.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct Notice {
    /// Stable for the alert's whole life; the de-duplication key of every destination.
    pub alert_id: String,
    /// Which change of the lifecycle this notice reports.
    pub status: NoticeStatus,
    /// Name of the rule that raised the alert, e.g. `rebuffering`.
    pub rule: String,
    /// The monitored metric, e.g. `rebuffer_percentage`.
    pub metric: String,
    /// The metric's unit, e.g. `%`, `ms` or `bps`.
    pub unit: String,
    /// The monitored cohort as `dimension=value` pairs; empty means all views.
    pub scope: BTreeMap<String, String>,
    /// How urgent the alert is.
    pub severity: Severity,
    /// One plain sentence, e.g. "Rebuffer percentage is 3.1× normal; 82% of the excess is cdn=cdn-b & country=DE".
    pub summary: String,
    /// When the alert started, in epoch milliseconds.
    pub started_at_ms: i64,
    /// When the alert resolved, in epoch milliseconds; set only on resolved notices.
    pub resolved_at_ms: Option<i64>,
    /// The metric's current value.
    pub value: f64,
    /// The value the baseline expects.
    pub baseline: f64,
    /// Views in the scope during the evaluated window.
    pub affected_views: f64,
    /// Root-cause elements, the most explanatory first.
    pub causes: Vec<NoticeCause>,
    /// What to do about it.
    pub runbook_url: Option<String>,
    /// Where to look at it in openqoe.
    pub dashboard_url: Option<String>,
}

impl NoticeStatus {
    /// The word shown to people: `FIRING`, `UPDATED`, `RESOLVED`.
    pub(crate) fn word(self) -> &'static str {
        match self {
            NoticeStatus::Firing => "FIRING",
            NoticeStatus::Updated => "UPDATED",
            NoticeStatus::Resolved => "RESOLVED",
        }
    }
}

impl Severity {
    /// The lowercase name, as PagerDuty and Alertmanager labels spell it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// `dim=value` pairs joined by `separator`, in dimension order.
pub(crate) fn dimension_values(pairs: &BTreeMap<String, String>, separator: &str) -> String {
    let pairs: Vec<String> = pairs
        .iter()
        .map(|(dim, value)| format!("{dim}={value}"))
        .collect();
    pairs.join(separator)
}

/// A value with its unit, at most two decimals: `3.1%`, `2300 ms`.
pub(crate) fn quantity(value: f64, unit: &str) -> String {
    let number = format!("{value:.2}");
    let number = number.trim_end_matches('0').trim_end_matches('.');
    match unit {
        "" => number.to_string(),
        "%" => format!("{number}%"),
        unit => format!("{number} {unit}"),
    }
}

/// RFC 3339 (UTC) of epoch milliseconds; a time out of range clamps to the epoch.
pub(crate) fn rfc3339(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// `text` cut to at most `max_bytes`, on a character boundary.
pub(crate) fn truncate(text: &str, max_bytes: usize) -> &str {
    let mut end = text.len().min(max_bytes);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// A notice with every field set, for the payload tests.
#[cfg(test)]
pub(crate) fn sample_notice() -> Notice {
    Notice {
        alert_id: "a-1".into(),
        status: NoticeStatus::Firing,
        rule: "rebuffering".into(),
        metric: "rebuffer_percentage".into(),
        unit: "%".into(),
        scope: BTreeMap::from([("country".into(), "DE".into())]),
        severity: Severity::Critical,
        summary: "Rebuffer percentage is 3.1× normal; 82% of the excess is cdn=cdn-b".into(),
        started_at_ms: 1_700_000_000_000,
        resolved_at_ms: None,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_quantities() {
        let cases = [
            ("percent sticks to the number", 3.1, "%", "3.1%"),
            ("whole number drops decimals", 2300.0, "ms", "2300 ms"),
            ("rounds to two decimals", 0.12345, "", "0.12"),
        ];
        for (name, value, unit, want) in cases {
            assert_eq!(quantity(value, unit), want, "{name}");
        }
    }

    #[test]
    fn truncates_on_char_boundary() {
        assert_eq!(truncate("abc", 10), "abc");
        assert_eq!(truncate("a×b", 2), "a");
        assert_eq!(truncate("a×b", 3), "a×");
    }

    #[test]
    fn formats_rfc3339() {
        assert_eq!(rfc3339(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
    }
}
