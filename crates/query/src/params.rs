//! Query parameters shared by every endpoint: time range, filters, group-by, interval, limit.
use openqoe_metrics::{Metric, MetricKind};
use openqoe_model::{Privacy, ServerTime, View};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::ApiError;

/// Default range when `from` is absent: the last 24 hours.
const DEFAULT_RANGE_MS: i64 = 24 * 60 * 60 * 1000;
/// Most timeseries buckets one request may ask for.
const MAX_BUCKETS: i64 = 20_000;

/// Which views a request selects and how it groups them.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// Start of the range (inclusive), on view start time.
    pub from: ServerTime,
    /// End of the range (exclusive).
    pub to: ServerTime,
    /// `dim:value` pairs; a view must match all of them.
    pub filters: Vec<(String, String)>,
    /// Dimensions to group by, in order.
    pub group_by: Vec<String>,
    /// Timeseries bucket width, ms.
    pub interval_ms: i64,
    /// Most rows of a view list.
    pub limit: usize,
}

impl Selection {
    /// Reads a selection from query pairs, as of `now` (for the default range).
    ///
    /// # Errors
    /// [`ApiError::BadParameter`] naming the parameter that is malformed.
    pub fn from_query(pairs: &[(String, String)], now: ServerTime) -> Result<Selection, ApiError> {
        let mut selection = Selection {
            from: ServerTime(now.0 - DEFAULT_RANGE_MS),
            to: ServerTime(now.0 + 1),
            filters: Vec::new(),
            group_by: Vec::new(),
            interval_ms: 60_000,
            limit: 50,
        };
        let mut from_given = false;
        for (name, value) in pairs {
            match name.as_str() {
                "from" => {
                    selection.from = parse_time(value).map_err(|e| bad("from", e))?;
                    from_given = true;
                }
                "to" => selection.to = parse_time(value).map_err(|e| bad("to", e))?,
                "filter" => {
                    for pair in value.split(',').filter(|p| !p.is_empty()) {
                        let (dim, val) = pair.split_once(':').ok_or_else(|| {
                            bad("filter", format!("expected dim:value, got {pair:?}"))
                        })?;
                        selection
                            .filters
                            .push((dim.trim().to_owned(), val.trim().to_owned()));
                    }
                }
                "group_by" => selection.group_by.extend(
                    value
                        .split(',')
                        .map(str::trim)
                        .filter(|d| !d.is_empty())
                        .map(str::to_owned),
                ),
                "interval" => {
                    selection.interval_ms =
                        parse_interval_ms(value).map_err(|e| bad("interval", e))?
                }
                "limit" => {
                    selection.limit = value
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=10_000).contains(n))
                        .ok_or_else(|| {
                            bad("limit", format!("expected 1 to 10000, got {value:?}"))
                        })?
                }
                _ => {}
            }
        }
        if !from_given && selection.to.0 <= now.0 {
            selection.from = ServerTime(selection.to.0 - DEFAULT_RANGE_MS);
        }
        if selection.from >= selection.to {
            return Err(bad("from", "expected from before to"));
        }
        Ok(selection)
    }

    /// Puts the filters' values in the form they are stored: pseudonyms for the dimensions
    /// `privacy` pseudonymises (a filter on `viewer_id:u-1` matches the viewer stored as its
    /// pseudonym).
    pub fn store_filters(&mut self, privacy: &Privacy) {
        for (dimension, value) in &mut self.filters {
            *value = privacy.stored_value(dimension, value);
        }
    }

    /// Whether a view matches every filter.
    pub fn matches(&self, view: &View) -> bool {
        self.filters
            .iter()
            .all(|(dim, value)| view.dimension(dim).as_deref() == Some(value.as_str()))
    }

    /// Checks that a timeseries over this range stays within the bucket limit.
    ///
    /// # Errors
    /// [`ApiError::BadParameter`] when the interval is too fine for the range.
    pub fn check_buckets(&self) -> Result<(), ApiError> {
        if (self.to.0 - self.from.0) / self.interval_ms > MAX_BUCKETS {
            return Err(bad(
                "interval",
                format!("more than {MAX_BUCKETS} buckets; widen the interval"),
            ));
        }
        Ok(())
    }
}

/// Dimensions root cause searches when the request names none (those a view has).
const RCA_DIMENSIONS: [&str; 9] = [
    "cdn",
    "country",
    "isp",
    "device_type",
    "os",
    "browser",
    "player_name",
    "app_version",
    "stream_type",
];

/// What `GET /v1/metrics/{metric}/rca` asks: the window to explain, the baseline it is judged
/// against, and the dimensions to search (docs/rca.md).
#[derive(Debug, Clone)]
pub struct RootCauseQuery {
    /// The window and the views' filters.
    pub selection: Selection,
    /// The baseline's start: by default four window lengths before the window.
    pub baseline_from: ServerTime,
    /// The baseline's end: by default the window's start.
    pub baseline_to: ServerTime,
    /// Dimensions to search: the request's, else the usual ones that views have.
    pub dimensions: Vec<String>,
}

impl RootCauseQuery {
    /// Reads the query string of a root-cause request for `metric` at `now`; `seen` gives the
    /// dimensions views have, asked only when the request names none.
    ///
    /// # Errors
    /// [`ApiError::BadParameter`] naming the parameter, or a metric root cause cannot explain
    /// (only rates and `rebuffer_percentage`).
    pub fn from_query(
        metric: &Metric,
        pairs: &[(String, String)],
        now: ServerTime,
        seen: impl FnOnce() -> Vec<String>,
    ) -> Result<RootCauseQuery, ApiError> {
        if metric.kind != MetricKind::Rate && metric.name != "rebuffer_percentage" {
            return Err(ApiError::BadParameter(format!(
                "root cause works on rate metrics and rebuffer_percentage, not {:?}",
                metric.name
            )));
        }
        let selection = Selection::from_query(pairs, now)?;
        let param = |key: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        let time = |key: &str, default: ServerTime| match param(key) {
            Some(v) => parse_time(v).map_err(|e| bad(key, e)),
            None => Ok(default),
        };
        let length = selection.to.0 - selection.from.0;
        let baseline_to = time("baseline_to", selection.from)?;
        let baseline_from = time("baseline_from", ServerTime(baseline_to.0 - 4 * length))?;
        if baseline_from >= baseline_to {
            return Err(bad("baseline_from", "expected before baseline_to"));
        }
        let dimensions: Vec<String> = match param("dimensions") {
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(str::to_owned)
                .collect(),
            None => {
                let seen = seen();
                RCA_DIMENSIONS
                    .iter()
                    .filter(|d| seen.iter().any(|s| s == *d))
                    .map(|d| d.to_string())
                    .collect()
            }
        };
        if dimensions.is_empty() {
            return Err(bad("dimensions", "none to search"));
        }
        Ok(RootCauseQuery {
            selection,
            baseline_from,
            baseline_to,
            dimensions,
        })
    }
}

fn bad(parameter: &str, reason: impl std::fmt::Display) -> ApiError {
    ApiError::BadParameter(format!("{parameter}: {reason}"))
}

/// Parses epoch milliseconds or an RFC 3339 time.
///
/// # Errors
/// A message saying what was expected.
pub fn parse_time(value: &str) -> Result<ServerTime, String> {
    if let Ok(ms) = value.parse::<i64>() {
        return Ok(ServerTime(ms));
    }
    OffsetDateTime::parse(value, &Rfc3339)
        .map(|t| ServerTime((t.unix_timestamp_nanos() / 1_000_000) as i64))
        .map_err(|_| format!("expected epoch milliseconds or RFC 3339, got {value:?}"))
}

/// Parses an interval: `30s`, `1m`, `5m`, `1h`, `1d`, or plain milliseconds.
///
/// # Errors
/// A message saying what was expected.
pub fn parse_interval_ms(value: &str) -> Result<i64, String> {
    let expected = || format!("expected a duration such as 10s, 1m, 1h or 1d, got {value:?}");
    let (number, unit_ms) = match value.char_indices().last() {
        Some((i, 's')) => (&value[..i], 1_000),
        Some((i, 'm')) => (&value[..i], 60_000),
        Some((i, 'h')) => (&value[..i], 3_600_000),
        Some((i, 'd')) => (&value[..i], 86_400_000),
        _ => (value, 1),
    };
    let number: i64 = number.parse().map_err(|_| expected())?;
    let ms = number.checked_mul(unit_ms).ok_or_else(expected)?;
    if ms < 1_000 {
        return Err(format!("expected at least 1s, got {value:?}"));
    }
    Ok(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn reads_parameters() {
        let now = ServerTime(1_764_028_800_000);
        let s = Selection::from_query(
            &pairs(&[
                ("from", "2025-11-25T00:00:00Z"),
                ("to", "1764032400000"),
                ("filter", "cdn:cdn-a,country:DE"),
                ("filter", "device_type:tv"),
                ("group_by", "cdn, country"),
                ("interval", "5m"),
            ]),
            now,
        )
        .unwrap();
        assert_eq!(s.from, ServerTime(1_764_028_800_000));
        assert_eq!(s.filters.len(), 3);
        assert_eq!(s.group_by, vec!["cdn", "country"]);
        assert_eq!(s.interval_ms, 300_000);
    }

    #[test]
    fn rejects_malformed_parameters_naming_them() {
        let now = ServerTime(1_764_028_800_000);
        let cases = [
            (("from", "yesterday"), "from:"),
            (("to", "2025-13-01"), "to:"),
            (("filter", "cdn"), "filter:"),
            (("interval", "fast"), "interval:"),
            (("interval", "10"), "interval:"),
            (("limit", "0"), "limit:"),
        ];
        for ((name, value), want) in cases {
            let err = Selection::from_query(&pairs(&[(name, value)]), now).unwrap_err();
            assert!(err.to_string().starts_with(want), "{name}={value}: {err}");
        }
    }
}
