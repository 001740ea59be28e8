//! A table of timed rows split into baseline and window, as `openqoe rca --at T` and the labelled
//! incidents read it: rows before `T` are the baseline, rows at `T` the window, rows after it are
//! left out. Times compare as numbers when they all are numbers, else as text (RFC 3339 sorts in
//! time order).
use std::cmp::Ordering;
use std::fmt;

use crate::Row;

/// One row with the time it was measured at, as written in the table.
#[derive(Debug, Clone, PartialEq)]
pub struct TimedRow {
    /// The time column's text.
    pub time: String,
    /// The leaf and its counts.
    pub row: Row,
}

/// Why a table cannot be split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SplitError {
    /// The table has no rows.
    Empty,
    /// The times are numbers and `at` is not.
    NotANumber(String),
    /// No row has the time to explain.
    NoRowsAt(String),
}

impl fmt::Display for SplitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SplitError::Empty => write!(f, "no rows"),
            SplitError::NotANumber(at) => write!(f, "--at {at:?}: the times are numbers"),
            SplitError::NoRowsAt(at) => write!(f, "no rows at {at:?}"),
        }
    }
}

impl std::error::Error for SplitError {}

/// Splits rows at `at` (default: the last time) into (baseline, window).
pub fn split_at(rows: Vec<TimedRow>, at: Option<&str>) -> Result<(Vec<Row>, Vec<Row>), SplitError> {
    if rows.is_empty() {
        return Err(SplitError::Empty);
    }
    let numeric = rows.iter().all(|r| r.time.trim().parse::<f64>().is_ok());
    if let Some(at) = at {
        if numeric && at.trim().parse::<f64>().is_err() {
            return Err(SplitError::NotANumber(at.to_owned()));
        }
    }
    let order = |a: &str, b: &str| {
        if numeric {
            let number = |t: &str| t.trim().parse::<f64>().unwrap_or(0.0);
            number(a).total_cmp(&number(b))
        } else {
            a.cmp(b)
        }
    };
    let at = match at {
        Some(at) => at.to_owned(),
        None => rows
            .iter()
            .map(|r| r.time.as_str())
            .max_by(|a, b| order(a, b))
            .unwrap_or_default()
            .to_owned(),
    };
    let (mut baseline, mut current) = (Vec::new(), Vec::new());
    for TimedRow { time, row } in rows {
        match order(&time, &at) {
            Ordering::Less => baseline.push(row),
            Ordering::Equal => current.push(row),
            Ordering::Greater => {}
        }
    }
    if current.is_empty() {
        return Err(SplitError::NoRowsAt(at));
    }
    Ok((baseline, current))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(times: &[&str]) -> Vec<TimedRow> {
        times
            .iter()
            .map(|t| TimedRow {
                time: (*t).to_owned(),
                row: Row {
                    leaf: vec![(*t).to_owned()],
                    numerator: 1.0,
                    denominator: 10.0,
                },
            })
            .collect()
    }

    #[test]
    fn rows_split_before_at_and_after_the_time() {
        type Case = (
            &'static str,
            Vec<&'static str>,
            Option<&'static str>,
            usize,
            usize,
        );
        let cases: Vec<Case> = vec![
            (
                "numbers compare as numbers",
                vec!["9", "10", "11"],
                Some("10"),
                1,
                1,
            ),
            (
                "the last time by default",
                vec!["9", "10", "11"],
                None,
                2,
                1,
            ),
            (
                "text compares as text",
                vec!["2024-01-01T00:00Z", "2024-01-01T00:01Z"],
                None,
                1,
                1,
            ),
        ];
        for (name, times, at, before, during) in cases {
            let (baseline, current) = split_at(rows(&times), at).unwrap();
            assert_eq!((baseline.len(), current.len()), (before, during), "{name}");
        }
    }

    #[test]
    fn tables_that_cannot_be_split_say_why() {
        let cases = [
            ("empty", vec![], Some("1"), SplitError::Empty),
            (
                "text time among numbers",
                vec!["1", "2"],
                Some("x"),
                SplitError::NotANumber("x".into()),
            ),
            (
                "no rows at the time",
                vec!["1", "2"],
                Some("5"),
                SplitError::NoRowsAt("5".into()),
            ),
        ];
        for (name, times, at, want) in cases {
            assert_eq!(split_at(rows(&times), at).unwrap_err(), want, "{name}");
        }
    }
}
