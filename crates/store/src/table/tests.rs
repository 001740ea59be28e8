//! The table: rows by hour, copies, splits, rewrites and caps.
use super::*;

fn id(s: &str) -> ViewId {
    ViewId::new(s).unwrap()
}

fn nan_metrics() -> Vec<f64> {
    vec![f64::NAN; METRICS.len()]
}

#[test]
fn rows_land_in_their_hour_and_rewrites_stay_put() {
    let mut table = ViewTable::new();
    let dims = |cdn: &str| vec![("cdn".to_string(), Some(cdn.to_string()))];
    table.write_row(id("a"), 10, &dims("cdn-a"), &nan_metrics());
    table.write_row(id("b"), PARTITION_MS + 5, &dims("cdn-b"), &nan_metrics());
    let mut values = nan_metrics();
    values[0] = 1500.0;
    table.write_row(id("a"), 10, &dims("cdn-c"), &values);

    assert_eq!(table.len(), 2);
    let hours: Vec<i64> = table
        .columns()
        .partitions(ServerTime(0), ServerTime(2 * PARTITION_MS))
        .map(|(h, _)| h)
        .collect();
    assert_eq!(hours, vec![0, PARTITION_MS]);
    let cdn = table.columns().find_dimension("cdn").unwrap();
    let (partition, row) = table.find(&id("a")).unwrap();
    let code = partition.dimension(cdn)[row];
    assert_eq!(table.columns().dictionary(cdn).value(code), Some("cdn-c"));
    assert_eq!(partition.metric(0)[row], 1500.0);
    assert_eq!(partition.len(), 1);
}

#[test]
fn a_dimension_added_later_reads_absent_for_older_rows() {
    let mut table = ViewTable::new();
    table.write_row(id("a"), 0, &[], &nan_metrics());
    table.write_row(
        id("b"),
        1,
        &[("isp".into(), Some("x".into()))],
        &nan_metrics(),
    );
    table.write_row(id("c"), 2, &[("isp".into(), None)], &nan_metrics());
    let isp = table.columns().find_dimension("isp").unwrap();
    let (partition, _) = table.find(&id("a")).unwrap();
    let column = partition.dimension(isp);
    let code = |row: usize| column.get(row).copied().unwrap_or(ABSENT);
    assert_eq!(code(0), ABSENT);
    assert_eq!(table.columns().dictionary(isp).value(code(1)), Some("x"));
    assert_eq!(code(2), ABSENT);
}

#[test]
fn hours_are_unwritten_until_written_and_again_after_a_change() {
    let mut table = ViewTable::new();
    table.write_row(id("a"), 10, &[], &nan_metrics());
    table.write_row(id("b"), PARTITION_MS + 10, &[], &nan_metrics());
    // Only hours that ended by the settled time are offered.
    assert_eq!(table.unwritten_hours(PARTITION_MS - 1).len(), 0);
    let offered = table.unwritten_hours(2 * PARTITION_MS - 1);
    assert_eq!(offered.iter().map(|h| h.0).collect::<Vec<_>>(), vec![0]);
    table.mark_written(0, offered[0].1);
    assert!(table.unwritten_hours(2 * PARTITION_MS - 1).is_empty());
    table.write_row(id("a"), 10, &[], &nan_metrics());
    assert_eq!(table.unwritten_hours(2 * PARTITION_MS - 1).len(), 1);
}

#[test]
fn dropping_old_hours_forgets_their_views() {
    let mut table = ViewTable::new();
    table.write_row(id("old"), 10, &[], &nan_metrics());
    table.write_row(id("new"), PARTITION_MS + 10, &[], &nan_metrics());
    assert_eq!(table.drop_before(PARTITION_MS), vec![id("old")]);
    assert!(table.find(&id("old")).is_none());
    assert!(table.find(&id("new")).is_some());
    assert_eq!(table.columns().hours(), vec![PARTITION_MS]);
}

#[test]
fn a_rewrite_moves_the_start_within_its_hour() {
    let mut table = ViewTable::new();
    table.write_row(id("a"), 5_000, &[], &nan_metrics());
    table.write_row(id("a"), 1_000, &[], &nan_metrics());
    let (partition, row) = table.find(&id("a")).unwrap();
    assert_eq!(partition.started_at()[row], 1_000);
    assert_eq!(partition.span(), Some((1_000, 5_000)));
}

#[test]
fn dimensions_stop_at_the_cap() {
    let mut table = ViewTable::new();
    let dims: Vec<(String, Option<String>)> = (0..MAX_DIMENSIONS + 5)
        .map(|i| (format!("custom_{i}"), Some("x".to_string())))
        .collect();
    table.write_row(id("a"), 0, &dims, &nan_metrics());
    assert_eq!(table.columns().dimension_names().len(), MAX_DIMENSIONS);
    assert_eq!(table.dimension_index("another"), None);
}

#[test]
fn a_copy_reads_as_it_was_while_the_table_writes_on() {
    let mut table = ViewTable::new();
    let dims = |cdn: &str| vec![("cdn".to_string(), Some(cdn.to_string()))];
    let mut values = nan_metrics();
    values[0] = 1.0;
    table.write_row(id("a"), 10, &dims("cdn-a"), &values);
    let copy = table.columns_in(ServerTime(0), ServerTime(PARTITION_MS));

    values[0] = 2.0;
    table.write_row(id("a"), 10, &dims("cdn-b"), &values);
    table.write_row(id("b"), 20, &dims("cdn-c"), &values);

    let cdn = copy.find_dimension("cdn").unwrap();
    let (_, partition) = copy
        .partitions(ServerTime(0), ServerTime(PARTITION_MS))
        .next()
        .unwrap();
    assert_eq!(partition.len(), 1);
    assert_eq!(partition.metric(0)[0], 1.0);
    assert_eq!(
        copy.dictionary(cdn).value(partition.dimension(cdn)[0]),
        Some("cdn-a")
    );
    assert_eq!(copy.dictionary(cdn).code("cdn-c"), None);
    let (now, row) = table.find(&id("a")).unwrap();
    assert_eq!(now.metric(0)[row], 2.0);
    assert_eq!(table.columns().dictionary(cdn).code("cdn-c"), Some(3));
}

#[test]
fn an_hour_past_the_partition_rows_splits_and_rows_stay_findable() {
    let mut table = ViewTable::new();
    let count = PARTITION_ROWS * 2 + 3;
    for i in 0..count {
        let mut values = nan_metrics();
        values[0] = i as f64;
        table.write_row(id(&format!("v{i}")), i as i64, &[], &values);
    }
    let sizes: Vec<usize> = table
        .columns()
        .partitions(ServerTime(0), ServerTime(PARTITION_MS))
        .map(|(_, p)| p.len())
        .collect();
    assert_eq!(sizes, vec![PARTITION_ROWS, PARTITION_ROWS, 3]);
    for i in [0, PARTITION_ROWS, count - 1] {
        let (partition, row) = table.find(&id(&format!("v{i}"))).unwrap();
        assert_eq!(partition.metric(0)[row], i as f64);
    }
    assert_eq!(table.drop_before(PARTITION_MS).len(), count);
    assert!(table.is_empty());
}

#[test]
fn a_full_dimension_gives_new_values_the_overflow_value_and_counts_them() {
    let mut table = ViewTable::new();
    let row = |table: &mut ViewTable, i: usize, asset: &str| {
        let dims = vec![
            ("asset".to_string(), Some(asset.to_string())),
            ("viewer_id".to_string(), Some(format!("viewer-{i}"))),
        ];
        table.write_row(id(&format!("v{i}")), i as i64, &dims, &nan_metrics());
    };
    for i in 0..MAX_DIMENSION_VALUES {
        row(&mut table, i, &format!("asset-{i}"));
    }
    assert_eq!(table.values_overflowed(), 0);
    row(&mut table, MAX_DIMENSION_VALUES, "one too many");
    row(&mut table, MAX_DIMENSION_VALUES + 1, "asset-7");
    row(&mut table, MAX_DIMENSION_VALUES + 2, "two too many");
    assert_eq!(table.values_overflowed(), 2);

    let columns = table.columns();
    let asset = columns.find_dimension("asset").unwrap();
    let value = |i: usize| {
        let (partition, row) = table.find(&id(&format!("v{i}"))).unwrap();
        columns
            .dictionary(asset)
            .value(partition.dimension(asset)[row])
    };
    assert_eq!(value(MAX_DIMENSION_VALUES), Some(OVERFLOW_VALUE));
    assert_eq!(
        value(MAX_DIMENSION_VALUES + 1),
        Some("asset-7"),
        "known values keep theirs"
    );
    assert_eq!(value(MAX_DIMENSION_VALUES + 2), Some(OVERFLOW_VALUE));
    // Ids are not capped: every viewer keeps its own.
    let viewer = columns.find_dimension("viewer_id").unwrap();
    assert_eq!(
        columns.dictionary(viewer).cardinality(),
        MAX_DIMENSION_VALUES + 3 + 1
    );
}

#[test]
fn partitions_select_by_hour_overlap() {
    let mut table = ViewTable::new();
    for (i, at) in [0, PARTITION_MS, 2 * PARTITION_MS].into_iter().enumerate() {
        table.write_row(id(&format!("v{i}")), at, &[], &nan_metrics());
    }
    let hours = |from: i64, to: i64| -> Vec<i64> {
        table
            .columns()
            .partitions(ServerTime(from), ServerTime(to))
            .map(|(h, _)| h)
            .collect()
    };
    assert_eq!(
        hours(PARTITION_MS + 1, PARTITION_MS + 2),
        vec![PARTITION_MS]
    );
    assert_eq!(hours(1, 2 * PARTITION_MS), vec![0, PARTITION_MS]);
    assert_eq!(hours(5, 5), Vec::<i64>::new());
}

proptest::proptest! {
    /// Rows written and removed in any order: every row left reads what was written to it, a
    /// removed one is gone, and its hour is unwritten again.
    #[test]
    fn removed_rows_go_and_the_rows_left_read_as_written(
        steps in proptest::collection::vec((0u8..40, proptest::bool::ANY, 0u8..3, proptest::option::of(0u8..4)), 1..200)
    ) {
        let mut table = ViewTable::new();
        let mut model: HashMap<String, (i64, Option<String>, f64)> = HashMap::new();
        for (step, (n, remove, hour, isp)) in steps.into_iter().enumerate() {
            let name = format!("v{n}");
            if remove {
                let removed = table.remove(&id(&name));
                proptest::prop_assert_eq!(removed.is_some(), model.remove(&name).is_some());
                if let Some(hour) = removed {
                    proptest::prop_assert!(!table.is_written(hour));
                }
                continue;
            }
            // A rewrite keeps its row's hour, so the model keeps the first start.
            let started_at = model.get(&name).map_or(i64::from(hour) * PARTITION_MS + step as i64, |m| m.0);
            let isp = isp.map(|i| format!("isp-{i}"));
            let mut values = nan_metrics();
            values[0] = step as f64;
            table.write_row(id(&name), started_at, &[("isp".into(), isp.clone())], &values);
            if let Some(hour) = table.hour_of(&id(&name)) {
                table.mark_written(hour, table.version(hour).unwrap());
            }
            model.insert(name, (started_at, isp, step as f64));
        }
        proptest::prop_assert_eq!(table.len(), model.len());
        let columns = table.columns();
        let held: usize = columns.partitions(ServerTime(0), ServerTime(4 * PARTITION_MS)).map(|(_, p)| p.len()).sum();
        proptest::prop_assert_eq!(held, model.len());
        for (name, (started_at, isp, value)) in &model {
            let (partition, row) = table.find(&id(name)).unwrap();
            proptest::prop_assert_eq!(partition.ids()[row].as_str(), name.as_str());
            proptest::prop_assert_eq!(partition.started_at()[row], *started_at);
            proptest::prop_assert_eq!(partition.metric(0)[row], *value);
            let (low, high) = partition.span().unwrap();
            proptest::prop_assert!(low <= *started_at && *started_at <= high);
            let code = columns
                .find_dimension("isp")
                .and_then(|i| partition.dimension(i).get(row).copied())
                .unwrap_or(ABSENT);
            let read = (code != ABSENT).then(|| columns.dictionary(columns.find_dimension("isp").unwrap()).value(code).unwrap().to_owned());
            proptest::prop_assert_eq!(&read, isp);
        }
    }
}
