//! Tests of the query benchmark: its synthetic views and what it reads.
use super::*;

#[test]
fn synthetic_views_fill_the_range_and_answer_the_breakdown() {
    let end = 10 * 3_600_000;
    let table = generate(5_000, 2, end, 7);
    assert_eq!(table.len(), 5_000);
    let group_by = ["cdn".to_string()];
    let grouping = Grouping {
        metric: metric("video_startup_time_ms").unwrap(),
        from: ServerTime(end - 2 * 3_600_000),
        to: ServerTime(end),
        filters: &[],
        group_by: &group_by,
        interval_ms: None,
    };
    let mut groups = BTreeMap::new();
    aggregate(table.columns(), &grouping, &mut groups);
    let views: u64 = groups.values().map(Aggregate::views).sum();
    // Views that never started (failures, exits) have no startup time.
    assert!((4_500..5_000).contains(&views), "{views}");
    let median = |cdn: &str| {
        let key = (grouping.from.0, vec![Some(cdn.to_string())]);
        groups[&key].clone().into_fields()["p50"].as_f64().unwrap()
    };
    assert!(median("cdn-c") > median("cdn-a") * 1.2);
}
