//! Injected degradations: which views they hit, when, and how.
use std::str::FromStr;

use serde_json::{Map, Value};

use crate::SimError;

/// An injected degradation, e.g. `cdn=cdn-b,country=DE,at=+10m,for=15m,throughput=0.3` or
/// `app_version=3.2.0,startup_failure=0.4`.
///
/// Any `name=value` that is not an effect or a time is a dimension filter; all must match.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    /// Dimension values a view must carry to be hit.
    pub filters: Vec<(String, String)>,
    /// Start, ms of sim time after the run starts.
    pub at_ms: i64,
    /// Length in ms; `None` for the rest of the run.
    pub for_ms: Option<i64>,
    /// Multiplier on throughput.
    pub throughput: f64,
    /// Multiplier on round-trip time.
    pub rtt: f64,
    /// Extra probability of a fatal error before the first frame.
    pub startup_failure: f64,
    /// Probability that a view playing for four minutes during the incident hits a fatal error
    /// (a hazard: views already playing when it starts fail too).
    pub playback_failure: f64,
}

/// Parses `30s`, `10m`, `2h` (optionally with a leading `+`) to milliseconds.
fn duration_ms(text: &str) -> Option<i64> {
    let text = text.strip_prefix('+').unwrap_or(text);
    let (number, unit) = text.split_at(text.find(|c: char| c.is_ascii_alphabetic())?);
    let number: f64 = number.parse().ok()?;
    let unit_ms = match unit {
        "ms" => 1.0,
        "s" => 1_000.0,
        "m" => 60_000.0,
        "h" => 3_600_000.0,
        _ => return None,
    };
    (number >= 0.0).then_some((number * unit_ms) as i64)
}

impl FromStr for Incident {
    type Err = SimError;

    fn from_str(text: &str) -> Result<Incident, SimError> {
        let bad = |part: &str, why: &str| SimError::Incident(format!("{part:?}: {why}"));
        let mut incident = Incident {
            filters: Vec::new(),
            at_ms: 0,
            for_ms: None,
            throughput: 1.0,
            rtt: 1.0,
            startup_failure: 0.0,
            playback_failure: 0.0,
        };
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| bad(part, "expected name=value"))?;
            let number = || {
                value
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && *v >= 0.0)
            };
            let probability = || {
                number()
                    .filter(|p| *p <= 1.0)
                    .ok_or_else(|| bad(part, "expected a probability from 0 to 1"))
            };
            match name {
                "at" => {
                    incident.at_ms = duration_ms(value)
                        .ok_or_else(|| bad(part, "expected a time such as +10m"))?
                }
                "for" => {
                    incident.for_ms = Some(
                        duration_ms(value)
                            .ok_or_else(|| bad(part, "expected a duration such as 15m"))?,
                    )
                }
                "throughput" => {
                    incident.throughput =
                        number().ok_or_else(|| bad(part, "expected a multiplier such as 0.3"))?
                }
                "rtt" => {
                    incident.rtt =
                        number().ok_or_else(|| bad(part, "expected a multiplier such as 3"))?
                }
                "startup_failure" => incident.startup_failure = probability()?,
                "playback_failure" => incident.playback_failure = probability()?,
                dimension if !dimension.is_empty() && !value.is_empty() => incident
                    .filters
                    .push((dimension.to_owned(), value.to_owned())),
                _ => return Err(bad(part, "expected name=value")),
            }
        }
        Ok(incident)
    }
}

impl Incident {
    /// Whether the incident hits a view with `props` at `sim_ms` after the run started.
    pub fn hits(&self, props: &Map<String, Value>, sim_ms: i64) -> bool {
        let in_window = sim_ms >= self.at_ms
            && self
                .for_ms
                .is_none_or(|length| sim_ms < self.at_ms + length);
        in_window
            && self.filters.iter().all(|(dim, want)| match props.get(dim) {
                Some(Value::String(have)) => have == want,
                Some(Value::Number(have)) => want.parse::<f64>().ok() == have.as_f64(),
                Some(Value::Bool(have)) => want.parse::<bool>().ok() == Some(*have),
                _ => false,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_incidents() {
        let cdn: Incident = "cdn=cdn-b,country=DE,at=+10m,for=15m,throughput=0.3"
            .parse()
            .unwrap();
        assert_eq!(
            cdn.filters,
            vec![
                ("cdn".into(), "cdn-b".into()),
                ("country".into(), "DE".into())
            ]
        );
        assert_eq!(
            (cdn.at_ms, cdn.for_ms, cdn.throughput),
            (600_000, Some(900_000), 0.3)
        );
        let app: Incident = "app_version=3.2.0,startup_failure=0.4".parse().unwrap();
        assert_eq!((app.at_ms, app.for_ms, app.startup_failure), (0, None, 0.4));
    }

    #[test]
    fn rejects_bad_parts_naming_them() {
        for (text, part) in [
            ("cdn", "cdn"),
            ("at=soon", "at=soon"),
            ("throughput=-1", "throughput=-1"),
            ("startup_failure=2", "startup_failure=2"),
            ("for=10x", "for=10x"),
        ] {
            let err = text.parse::<Incident>().unwrap_err().to_string();
            assert!(err.contains(part), "{text}: {err}");
        }
    }

    #[test]
    fn hits_only_matching_views_inside_the_window() {
        let incident: Incident = "cdn=cdn-b,at=+1m,for=1m,throughput=0.3".parse().unwrap();
        let mut props = Map::new();
        props.insert("cdn".into(), Value::String("cdn-b".into()));
        assert!(!incident.hits(&props, 59_000));
        assert!(incident.hits(&props, 60_000));
        assert!(!incident.hits(&props, 120_000));
        props.insert("cdn".into(), Value::String("cdn-a".into()));
        assert!(!incident.hits(&props, 90_000));
    }
}
