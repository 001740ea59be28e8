//! Labelled real incidents: a data set of incidents whose causes operators named, read from its
//! text, and the scoring of [`crate::localise`] against those labels — exact top-1, every cause in
//! the top 3, lenient top-1 and each case's answer.
//!
//! The layout is that of the RS data set published with RobustSpot (Sun et al., IEEE TSC 2022),
//! as redistributed in `shaido987/riskloc`: `labels.yaml` lists each incident (`data`: the CSV's
//! name without `.csv`, `timestamp`: the minute to explain, `causes`: one map per cause), and
//! `cases/<data>.csv` holds one-minute buckets `min,<dimensions…>,value,cnt`. The window is the
//! rows at `timestamp` and the baseline the rows before it, as `openqoe rca --at` splits a table
//! ([`crate::table::split_at`]). Pure: the caller reads the files.
use std::collections::BTreeMap;

use serde::Serialize;

use crate::table::{split_at, TimedRow};
use crate::{localise, Cause, Input, Row};

/// One labelled incident as the labels file names it.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    /// The case's CSV name, without `.csv`.
    pub data: String,
    /// The time to explain, as written in the CSV's time column.
    pub timestamp: String,
    /// The labelled causes: dimension → value, one map per cause.
    pub causes: Vec<BTreeMap<String, String>>,
}

/// An incident ready to localise: the table split at its time, and its labelled causes.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    /// The case's name.
    pub name: String,
    /// Baseline and window.
    pub input: Input,
    /// The labelled causes.
    pub causes: Vec<BTreeMap<String, String>>,
}

/// Reads a labels file of the form the RS data set uses (a YAML list of maps with `data`,
/// `timestamp` and `causes`, each cause a map of plain or single-quoted scalars). Only that form:
/// this is no YAML parser, and anything else is an error naming its line.
pub fn parse_labels(text: &str) -> Result<Vec<Label>, String> {
    let mut labels: Vec<Label> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let at = |reason: &str| format!("labels line {}: {reason}", index + 1);
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix("- ") {
            let (key, value) = key_value(rest).ok_or_else(|| at("expected `- data: NAME`"))?;
            if key != "data" {
                return Err(at("an incident starts with `- data: NAME`"));
            }
            labels.push(Label {
                data: value,
                timestamp: String::new(),
                causes: Vec::new(),
            });
            continue;
        }
        let label = labels
            .last_mut()
            .ok_or_else(|| at("a key before the first incident"))?;
        if let Some(rest) = line.strip_prefix("  - ") {
            let (key, value) =
                key_value(rest).ok_or_else(|| at("expected `- dimension: value`"))?;
            label.causes.push(BTreeMap::from([(key, value)]));
        } else if let Some(rest) = line.strip_prefix("    ") {
            let (key, value) = key_value(rest).ok_or_else(|| at("expected `dimension: value`"))?;
            label
                .causes
                .last_mut()
                .ok_or_else(|| at("a cause's value before `- `"))?
                .insert(key, value);
        } else if let Some(rest) = line.strip_prefix("  ") {
            match rest.trim_end() {
                "causes:" => {}
                other => match key_value(other) {
                    Some((key, value)) if key == "timestamp" => label.timestamp = value,
                    _ => return Err(at("expected `timestamp: T` or `causes:`")),
                },
            }
        } else {
            return Err(at("unexpected indentation"));
        }
    }
    if let Some(label) = labels
        .iter()
        .find(|l| l.timestamp.is_empty() || l.causes.is_empty())
    {
        return Err(format!("{}: no timestamp or no causes", label.data));
    }
    Ok(labels)
}

/// `key: value`, the value unquoted from single quotes.
fn key_value(text: &str) -> Option<(String, String)> {
    let (key, value) = text.split_once(": ")?;
    let value = value.trim();
    let value = value
        .strip_prefix('\'')
        .and_then(|v| v.strip_suffix('\''))
        .unwrap_or(value);
    Some((key.trim().to_owned(), value.replace("''", "'")))
}

/// Splits one case's CSV (a header, then plain comma-separated fields: the RS files quote
/// nothing) at the label's time: rows before are the baseline, rows at it the window.
pub fn parse_case(label: &Label, csv: &str, min_support: f64) -> Result<Incident, String> {
    let mut lines = csv.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines
        .next()
        .ok_or_else(|| format!("{}: empty file", label.data))?
        .split(',')
        .map(str::trim)
        .collect();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .ok_or_else(|| format!("{}: no column {name:?}", label.data))
    };
    let (time, numerator, denominator) = (column("min")?, column("value")?, column("cnt")?);
    let dimensions: Vec<usize> = (0..header.len())
        .filter(|i| ![time, numerator, denominator].contains(i))
        .collect();
    let mut rows: Vec<TimedRow> = Vec::new();
    for (index, line) in lines.enumerate() {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != header.len() {
            return Err(format!(
                "{}: row {}: {} fields, the header has {}",
                label.data,
                index + 2,
                fields.len(),
                header.len()
            ));
        }
        let number = |i: usize| {
            fields[i].parse::<f64>().map_err(|_| {
                format!(
                    "{}: row {}, column {:?}: {:?} is not a number",
                    label.data,
                    index + 2,
                    header[i],
                    fields[i]
                )
            })
        };
        rows.push(TimedRow {
            time: fields[time].to_owned(),
            row: Row {
                leaf: dimensions.iter().map(|&i| fields[i].to_owned()).collect(),
                numerator: number(numerator)?,
                denominator: number(denominator)?,
            },
        });
    }
    let (baseline, current) =
        split_at(rows, Some(&label.timestamp)).map_err(|e| format!("{}: {e}", label.data))?;
    Ok(Incident {
        name: label.data.clone(),
        input: Input {
            dimensions: dimensions.iter().map(|&i| header[i].to_owned()).collect(),
            baseline,
            current,
            min_support,
        },
        causes: label.causes.clone(),
    })
}

/// What localisation answered for one incident.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseOutcome {
    /// The case's name.
    pub name: String,
    /// The labelled causes, `dimension=value & …`.
    pub labelled: Vec<String>,
    /// The causes named, first first.
    pub answered: Vec<String>,
    /// The first cause is a labelled one.
    pub exact_top1: bool,
    /// Every labelled cause is among the first three named.
    pub top3: bool,
    /// The first cause contains, or is contained in, a labelled cause.
    pub lenient_top1: bool,
    /// Time to localise, ms.
    pub time_ms: f64,
}

/// Accuracy over the labelled incidents.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelledEvaluation {
    /// Incidents scored.
    pub cases: usize,
    /// Share whose first cause is exactly a labelled one.
    pub exact_top1: f64,
    /// Share whose first three causes hold every labelled cause exactly.
    pub top3: f64,
    /// Share whose first cause contains or is contained in a labelled cause.
    pub lenient_top1: f64,
    /// Localisation time per case, ms: median.
    pub time_ms_p50: f64,
    /// The slowest case.
    pub time_ms_max: f64,
    /// Each case.
    pub outcomes: Vec<CaseOutcome>,
}

/// Localises every incident and scores the answers against the labels.
pub fn evaluate(incidents: &[Incident]) -> LabelledEvaluation {
    let mut outcomes = Vec::new();
    for incident in incidents {
        let started = std::time::Instant::now();
        let found = localise(&incident.input, "stall ratio");
        let time_ms = started.elapsed().as_secs_f64() * 1000.0;
        let named: Vec<&BTreeMap<String, String>> =
            found.causes.iter().map(|c: &Cause| &c.element).collect();
        let first = named.first();
        outcomes.push(CaseOutcome {
            name: incident.name.clone(),
            labelled: incident.causes.iter().map(describe).collect(),
            answered: named.iter().map(|c| describe(c)).collect(),
            exact_top1: first.is_some_and(|f| incident.causes.contains(f)),
            top3: incident
                .causes
                .iter()
                .all(|c| named.iter().take(3).any(|n| *n == c)),
            lenient_top1: first.is_some_and(|f| incident.causes.iter().any(|c| related(f, c))),
            time_ms,
        });
    }
    let share = |hit: fn(&CaseOutcome) -> bool| {
        outcomes.iter().filter(|o| hit(o)).count() as f64 / outcomes.len().max(1) as f64
    };
    let mut times: Vec<f64> = outcomes.iter().map(|o| o.time_ms).collect();
    times.sort_by(f64::total_cmp);
    LabelledEvaluation {
        cases: outcomes.len(),
        exact_top1: share(|o| o.exact_top1),
        top3: share(|o| o.top3),
        lenient_top1: share(|o| o.lenient_top1),
        time_ms_p50: times
            .get(times.len().saturating_sub(1) / 2)
            .copied()
            .unwrap_or(0.0),
        time_ms_max: times.last().copied().unwrap_or(0.0),
        outcomes,
    }
}

/// One element contains the other (every fixed value of the coarser one holds in the finer).
fn related(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> bool {
    a.iter().all(|(k, v)| b.get(k) == Some(v)) || b.iter().all(|(k, v)| a.get(k) == Some(v))
}

/// `bitrate=2000 & p2p=1`.
fn describe(element: &BTreeMap<String, String>) -> String {
    let parts: Vec<String> = element.iter().map(|(d, v)| format!("{d}={v}")).collect();
    parts.join(" & ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_read_with_quoted_and_plain_values() {
        let text = "- data: case1_x\n  timestamp: 1566397800\n  causes:\n  - bitrate: '2000'\n    p2p: '1'\n- data: 20200530 120238 1\n  timestamp: 15\n  causes:\n  - isp: 移动\n  - bitrate: '500'\n";
        let labels = parse_labels(text).unwrap();
        assert_eq!(labels.len(), 2);
        assert_eq!(labels[0].timestamp, "1566397800");
        assert_eq!(
            labels[0].causes,
            vec![BTreeMap::from([
                ("bitrate".to_owned(), "2000".to_owned()),
                ("p2p".to_owned(), "1".to_owned())
            ])]
        );
        assert_eq!(labels[1].data, "20200530 120238 1");
        assert_eq!(labels[1].causes.len(), 2);
        assert_eq!(labels[1].causes[0]["isp"], "移动");
    }

    #[test]
    fn malformed_labels_name_their_line() {
        let cases = [
            ("key before incident", "  timestamp: 1\n", "line 1"),
            (
                "no causes",
                "- data: a\n  timestamp: 1\n  causes:\n",
                "a: no",
            ),
            ("odd key", "- data: a\n  when: 1\n", "line 2"),
        ];
        for (name, text, want) in cases {
            let error = parse_labels(text).unwrap_err();
            assert!(error.contains(want), "{name}: {error}");
        }
    }

    #[test]
    fn a_case_splits_at_its_time() {
        let label = Label {
            data: "c".into(),
            timestamp: "120".into(),
            causes: vec![BTreeMap::from([("cdn".to_owned(), "1".to_owned())])],
        };
        let csv =
            "min,cdn,value,cnt\n60,1,1,100\n60,2,1,100\n120,1,30,100\n120,2,1,100\n180,1,1,100\n";
        let incident = parse_case(&label, csv, 25.0).unwrap();
        assert_eq!(incident.input.dimensions, vec!["cdn".to_owned()]);
        assert_eq!(incident.input.baseline.len(), 2);
        assert_eq!(incident.input.current.len(), 2);
        let result = evaluate(&[incident]);
        assert_eq!(result.outcomes[0].answered, vec!["cdn=1".to_owned()]);
        assert!(result.outcomes[0].exact_top1 && result.outcomes[0].top3);
    }
}
