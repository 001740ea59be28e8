//! A breakdown or timeseries as one ClickHouse query, and its rows read back as groups.
//!
//! The query does what the embedded scan does (`openqoe_query::aggregate`), in SQL: views
//! started in `[from, to)` matching every filter, grouped by bucket and dimension values (an
//! absent dimension is its own group, NULL), and per group the count, sum and percentiles of a
//! distribution metric's values or a rate's events over its population. Percentiles are by
//! nearest rank from the sorted values — the element at ⌈q·n⌉, computed with the same
//! double-precision product as the embedded mode — so they are equal, not close; ClickHouse's own
//! `quantileExact` takes the element at ⌊q·n⌋ instead, one rank higher whenever q·n is whole.
use std::collections::BTreeMap;

use openqoe_metrics::MetricKind;
use openqoe_query::{Aggregate, Distribution, GroupKey, Grouping, PERCENTILES};
use serde_json::{Map, Value};

use crate::schema::VIEWS_TABLE;

/// The query for `grouping`, without a `FORMAT`.
pub fn grouping_sql(grouping: &Grouping<'_>) -> String {
    let metric = grouping.metric.name;
    let mut keys = Vec::new();
    let mut inner = Vec::new();
    if let Some(width) = grouping.interval_ms {
        inner.push(format!("intDiv(started_at, {width}) * {width} AS t"));
        keys.push("t".to_owned());
    }
    for (i, dimension) in grouping.group_by.iter().enumerate() {
        inner.push(format!("{} AS g{i}", dimension_value(dimension)));
        keys.push(format!("g{i}"));
    }
    inner.push(format!("count({metric}) AS views"));
    let mut outer = keys.clone();
    outer.push("views".to_owned());
    match grouping.metric.kind {
        MetricKind::Distribution => {
            inner.push(format!("sum({metric}) AS total"));
            inner.push(format!("arraySort(groupArray({metric})) AS sorted"));
            outer.push("total".to_owned());
            for (i, q) in PERCENTILES.iter().enumerate() {
                outer.push(format!(
                    "if(views = 0, NULL, sorted[toUInt64(greatest(1, ceil({q:?} * views)))]) AS p{i}"
                ));
            }
        }
        MetricKind::Rate => {
            inner.push(format!("countIf({metric} > 0.5) AS happened"));
            outer.push("happened".to_owned());
        }
    }
    let mut conditions = vec![
        format!("started_at >= {}", grouping.from.0),
        format!("started_at < {}", grouping.to.0),
    ];
    conditions.extend(grouping.filters.iter().map(|(dimension, value)| {
        format!(
            "has(dimension_names, {name}) AND dimension_values[indexOf(dimension_names, {name})] = {value}",
            name = literal(dimension),
            value = literal(value)
        )
    }));
    let group_by = if keys.is_empty() {
        String::new()
    } else {
        format!(" GROUP BY {}", keys.join(", "))
    };
    format!(
        "SELECT {} FROM (SELECT {} FROM {VIEWS_TABLE} FINAL WHERE {}{group_by})",
        outer.join(", "),
        inner.join(", "),
        conditions.join(" AND ")
    )
}

/// A dimension's value in a row, NULL when the row lacks the dimension.
fn dimension_value(dimension: &str) -> String {
    let name = literal(dimension);
    format!("if(has(dimension_names, {name}), dimension_values[indexOf(dimension_names, {name})], NULL)")
}

/// `text` as a ClickHouse string literal: quoted, with backslashes and quotes escaped.
pub(crate) fn literal(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('\'');
    for c in text.chars() {
        if matches!(c, '\\' | '\'') {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('\'');
    quoted
}

/// The groups in `rows`, the answer to [`grouping_sql`] for `grouping`.
///
/// # Errors
/// A row without a field the query selects, or with one of another type.
pub fn read_groups(
    grouping: &Grouping<'_>,
    rows: Vec<Map<String, Value>>,
) -> Result<BTreeMap<GroupKey, Aggregate>, String> {
    let mut groups = BTreeMap::new();
    for row in rows {
        let field = |name: &str| {
            row.get(name)
                .ok_or_else(|| format!("a row lacks {name}: {}", Value::Object(row.clone())))
        };
        let count = |name: &str| {
            field(name)?
                .as_u64()
                .ok_or_else(|| format!("{name} is not a count: {}", Value::Object(row.clone())))
        };
        let number = |name: &str| -> Result<Option<f64>, String> {
            match field(name)? {
                Value::Null => Ok(None),
                value => value.as_f64().map(Some).ok_or_else(|| {
                    format!("{name} is not a number: {}", Value::Object(row.clone()))
                }),
            }
        };
        let bucket = match grouping.interval_ms {
            Some(_) => field("t")?
                .as_i64()
                .ok_or_else(|| format!("t is not a time: {}", Value::Object(row.clone())))?,
            None => grouping.from.0,
        };
        let values = (0..grouping.group_by.len())
            .map(|i| match field(&format!("g{i}"))? {
                Value::Null => Ok(None),
                Value::String(value) => Ok(Some(value.clone())),
                other => Err(format!("g{i} is not text: {other}")),
            })
            .collect::<Result<Vec<_>, String>>()?;
        let views = count("views")?;
        let aggregate = match grouping.metric.kind {
            MetricKind::Distribution => {
                let mut percentiles = [None; 4];
                for (i, p) in percentiles.iter_mut().enumerate() {
                    *p = number(&format!("p{i}"))?;
                }
                // A group whose values are all NULL sums to NULL.
                let total = number("total")?.unwrap_or(0.0);
                Aggregate::Distribution(Distribution::computed(views, total, percentiles))
            }
            MetricKind::Rate => Aggregate::Rate {
                numerator: count("happened")?,
                denominator: views,
            },
        };
        groups.insert((bucket, values), aggregate);
    }
    Ok(groups)
}

#[cfg(test)]
mod tests {
    use super::*;
    use openqoe_metrics::metric;
    use openqoe_model::ServerTime;
    use proptest::prelude::*;

    fn grouping<'a>(
        name: &str,
        filters: &'a [(String, String)],
        group_by: &'a [String],
        interval_ms: Option<i64>,
    ) -> Grouping<'a> {
        Grouping {
            metric: metric(name).unwrap(),
            from: ServerTime(1_000),
            to: ServerTime(61_000),
            filters,
            group_by,
            interval_ms,
        }
    }

    #[test]
    fn a_breakdown_groups_by_dimension_and_filters_by_text() {
        let filters = [("country".to_owned(), "D'E".to_owned())];
        let group_by = ["cdn".to_owned()];
        let sql = grouping_sql(&grouping(
            "video_startup_time_ms",
            &filters,
            &group_by,
            None,
        ));
        assert_eq!(
            sql,
            "SELECT g0, views, total, \
             if(views = 0, NULL, sorted[toUInt64(greatest(1, ceil(0.5 * views)))]) AS p0, \
             if(views = 0, NULL, sorted[toUInt64(greatest(1, ceil(0.9 * views)))]) AS p1, \
             if(views = 0, NULL, sorted[toUInt64(greatest(1, ceil(0.95 * views)))]) AS p2, \
             if(views = 0, NULL, sorted[toUInt64(greatest(1, ceil(0.99 * views)))]) AS p3 \
             FROM (SELECT if(has(dimension_names, 'cdn'), \
             dimension_values[indexOf(dimension_names, 'cdn')], NULL) AS g0, \
             count(video_startup_time_ms) AS views, sum(video_startup_time_ms) AS total, \
             arraySort(groupArray(video_startup_time_ms)) AS sorted FROM openqoe_views FINAL \
             WHERE started_at >= 1000 AND started_at < 61000 AND has(dimension_names, 'country') \
             AND dimension_values[indexOf(dimension_names, 'country')] = 'D\\'E' GROUP BY g0)"
        );
    }

    #[test]
    fn a_rate_timeseries_counts_events_per_bucket() {
        let sql = grouping_sql(&grouping("startup_failure", &[], &[], Some(60_000)));
        assert_eq!(
            sql,
            "SELECT t, views, happened FROM (SELECT intDiv(started_at, 60000) * 60000 AS t, \
             count(startup_failure) AS views, countIf(startup_failure > 0.5) AS happened \
             FROM openqoe_views FINAL WHERE started_at >= 1000 AND started_at < 61000 GROUP BY t)"
        );
    }

    #[test]
    fn rows_read_back_as_groups() {
        let group_by = ["cdn".to_owned()];
        let g = grouping("video_startup_time_ms", &[], &group_by, None);
        let rows: Vec<Map<String, Value>> = serde_json::from_str(
            r#"[{"g0":"a","views":2,"total":30,"p0":10,"p1":20,"p2":20,"p3":20},
                {"g0":null,"views":0,"total":null,"p0":null,"p1":null,"p2":null,"p3":null}]"#,
        )
        .unwrap();
        let groups = read_groups(&g, rows).unwrap();
        let fields = groups[&(1_000, vec![Some("a".to_owned())])]
            .clone()
            .into_fields();
        assert_eq!(fields["p50"], 10.0);
        assert_eq!(fields["p90"], 20.0);
        assert_eq!(fields["mean"], 15.0);
        assert_eq!(fields["exact"], true);
        let empty = groups[&(1_000, vec![None])].clone().into_fields();
        assert_eq!(empty["views"], 0);
        assert_eq!(empty["p50"], Value::Null);
    }

    #[test]
    fn a_row_missing_a_field_is_refused_with_its_name() {
        let g = grouping("startup_failure", &[], &[], None);
        let rows: Vec<Map<String, Value>> = serde_json::from_str(r#"[{"views":3}]"#).unwrap();
        let error = read_groups(&g, rows).unwrap_err();
        assert!(error.contains("lacks happened"), "{error}");
    }

    proptest! {
        /// Whatever the text, the literal is one quoted token: every quote inside is escaped.
        #[test]
        fn literals_stay_one_token(text in ".*") {
            let quoted = literal(&text);
            let inner = &quoted[1..quoted.len() - 1];
            let mut escaped = false;
            for c in inner.chars() {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else {
                    prop_assert_ne!(c, '\'');
                }
            }
            prop_assert!(!escaped);
        }
    }
}
