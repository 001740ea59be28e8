//! The decisions, scenario by scenario: health, hold, scope, hysteresis, exploration, overrides,
//! the kill switch, alert actions.
use openqoe_metrics::MinuteCounts;
use openqoe_model::ServerTime;

use super::*;

const S: i64 = 1000;

fn config() -> SteerConfig {
    SteerConfig {
        pathways: ["cdn-a", "cdn-b", "cdn-c"]
            .iter()
            .map(|id| PathwayConfig {
                id: (*id).into(),
                cdn: None,
                hosts: Vec::new(),
            })
            .collect(),
        cohort_dimensions: vec!["country".into(), "isp".into()],
        min_views: 3,
        min_reports: 3,
        hold_seconds: 10,
        restore_seconds: 60,
        exploration_share: 0.1,
        ..SteerConfig::default()
    }
}

/// One view's window: `rebuffer_pct` of a minute's watching, an optional fatal error.
fn view(rebuffer_pct: f64, failed: bool) -> MinuteCounts {
    let rebuffer_ms = (600.0 * rebuffer_pct) as u64;
    MinuteCounts {
        attempts: 1,
        started: 1,
        watching: 1,
        rebuffer_ms,
        playing_ms: 60_000 - rebuffer_ms,
        playback_failures: u64::from(failed),
        startup_times_ms: vec![900],
        ..MinuteCounts::default()
    }
}

fn place(country: &str, isp: &str) -> Vec<Option<String>> {
    vec![Some(country.into()), Some(isp.into())]
}

/// `n` views per (country, isp, cdn, rebuffer %).
fn observe(rows: &[(&str, &str, &str, f64, usize)]) -> Observations {
    let mut o = Observations::new(&config());
    for &(country, isp, cdn, pct, n) in rows {
        for _ in 0..n {
            o.add_view(&place(country, isp), Some(cdn), &view(pct, false));
        }
    }
    o
}

fn healthy() -> Vec<(&'static str, &'static str, &'static str, f64, usize)> {
    let mut rows = Vec::new();
    for country in ["DE", "FR", "US"] {
        for isp in ["isp-1", "isp-2"] {
            for cdn in ["cdn-a", "cdn-b", "cdn-c"] {
                rows.push((country, isp, cdn, 0.3, 10));
            }
        }
    }
    rows
}

/// Healthy everywhere except `cdn` in `country` (both ISPs) at `pct` rebuffering.
fn bad_in(country: &str, cdn: &str, pct: f64) -> Observations {
    let rows: Vec<_> = healthy()
        .into_iter()
        .map(|(c, i, p, r, n)| {
            if c == country && p == cdn {
                (c, i, p, pct, n)
            } else {
                (c, i, p, r, n)
            }
        })
        .collect();
    observe(&rows)
}

fn kinds(policy: &Policy) -> Vec<(ChangeKind, Cohort, Option<String>)> {
    policy
        .changes()
        .map(|c| (c.kind, c.cohort.clone(), c.pathway.clone()))
        .collect()
}

fn cohort(pairs: &[(&str, &str)]) -> Cohort {
    pairs
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect()
}

#[test]
fn health_scores_each_part_and_needs_enough_evidence() {
    let c = config();
    let mut e = Evidence::default();
    e.add_view(&view(0.0, false));
    e.add_view(&view(0.0, false));
    assert_eq!(e.health(&c).score, None, "two views are too few");
    e.add_view(&view(0.0, false));
    assert_eq!(e.health(&c).score, Some(100.0));
    let mut bad = Evidence::default();
    for i in 0..10 {
        bad.add_view(&view(5.0, i == 0));
    }
    let h = bad.health(&c);
    // 5 % rebuffering takes all 35 points, 10 % failed views all 30.
    assert!((h.score.unwrap() - 35.0).abs() < 1e-9, "{h:?}");
    assert!(h
        .worst_part_against(&e.health(&c))
        .starts_with("rebuffering 5.0 % vs 0.0 %"));
    let mut slow = Evidence::default();
    for bps in [600_000, 600_000, 900_000] {
        slow.add_report(bps);
    }
    let h = slow.health(&c);
    assert_eq!(h.throughput_bps, Some(600_000.0));
    assert!(
        (h.score.unwrap() - (100.0 - 25.0 * 0.8)).abs() < 1e-9,
        "{h:?}"
    );
}

#[test]
fn demotes_after_the_hold_only_where_the_gap_is_and_keeps_healthy_sessions_put() {
    let mut p = Policy::new(config());
    let obs = bad_in("DE", "cdn-b", 6.0);
    p.evaluate(ServerTime(0), &obs);
    assert!(p.demotions().is_empty(), "the gap must hold first");
    p.evaluate(ServerTime(5 * S), &obs);
    assert!(p.demotions().is_empty());
    p.evaluate(ServerTime(10 * S), &obs);
    let changes = kinds(&p);
    assert_eq!(
        changes,
        vec![(
            ChangeKind::Demoted,
            cohort(&[("country", "DE")]),
            Some("cdn-b".into())
        )],
        "one demotion, for Germany, not everyone nor each ISP"
    );
    let reason = &p.changes().next().unwrap().reason;
    assert!(
        reason.starts_with("cdn-b health 65 vs cdn-a 98 (rebuffering 6.0 % vs 0.3 %"),
        "{reason}"
    );
    // A German session on cdn-b moves; one on cdn-c stays; French sessions are untouched.
    let de = place("DE", "isp-1");
    let movers: Vec<Vec<String>> = (0..50)
        .map(|i| p.priority(&format!("s{i}"), &de, Some("cdn-b")))
        .filter(|order| order[0] != "cdn-b")
        .collect();
    assert!(movers.len() >= 40, "explorers aside, everyone leaves cdn-b");
    assert!(movers.iter().all(|o| o[2] == "cdn-b"), "{movers:?}");
    let stayer = (0..50)
        .map(|i| p.priority(&format!("s{i}"), &de, Some("cdn-c")))
        .find(|o| o[0] != "cdn-b")
        .unwrap();
    assert_eq!(stayer[0], "cdn-c");
    assert_eq!(
        p.priority("s1", &place("FR", "isp-1"), Some("cdn-b"))[0],
        "cdn-b"
    );
    // New German sessions get the default order, cdn-b last.
    let state = p.cohorts(100);
    let de_state = state
        .iter()
        .find(|s| s.cohort == cohort(&[("country", "DE")]))
        .unwrap();
    assert_eq!(de_state.priority, ["cdn-a", "cdn-c", "cdn-b"]);
    assert_eq!(state[0].cohort, Cohort::new(), "everyone first");
}

#[test]
fn a_gap_in_one_isp_is_demoted_for_that_isp_alone() {
    let rows: Vec<_> = healthy()
        .into_iter()
        .map(|(c, i, p, r, n)| {
            if (c, i, p) == ("US", "isp-2", "cdn-a") {
                (c, i, p, 8.0, n)
            } else {
                (c, i, p, r, n)
            }
        })
        .collect();
    let mut p = Policy::new(config());
    for t in [0, 10 * S] {
        p.evaluate(ServerTime(t), &observe(&rows));
    }
    assert_eq!(
        kinds(&p),
        vec![(
            ChangeKind::Demoted,
            cohort(&[("country", "US"), ("isp", "isp-2")]),
            Some("cdn-a".into())
        )]
    );
}

#[test]
fn a_gap_that_comes_and_goes_within_the_hold_demotes_nothing() {
    let mut p = Policy::new(config());
    let (bad, good) = (bad_in("DE", "cdn-b", 6.0), observe(&healthy()));
    for (t, obs) in [
        (0, &bad),
        (5 * S, &bad),
        (8 * S, &good),
        (12 * S, &bad),
        (20 * S, &bad),
    ] {
        p.evaluate(ServerTime(t), obs);
    }
    assert!(p.demotions().is_empty(), "the hold restarted at 12 s");
    p.evaluate(ServerTime(22 * S), &bad);
    assert_eq!(p.demotions().len(), 1);
}

#[test]
fn restores_only_after_recovery_holds_within_the_restore_margin() {
    let mut p = Policy::new(config());
    let bad = bad_in("DE", "cdn-b", 6.0);
    p.evaluate(ServerTime(0), &bad);
    p.evaluate(ServerTime(10 * S), &bad);
    assert_eq!(p.demotions().len(), 1);
    // Better, but still 10 points behind: inside the hysteresis band, stays demoted.
    let better = bad_in("DE", "cdn-b", 1.7);
    for t in (20..200).step_by(10) {
        p.evaluate(ServerTime(t * S), &better);
    }
    assert_eq!(p.demotions().len(), 1, "{:?}", kinds(&p));
    let recovered = observe(&healthy());
    p.evaluate(ServerTime(200 * S), &recovered);
    p.evaluate(ServerTime(250 * S), &recovered);
    assert_eq!(p.demotions().len(), 1, "recovery must hold 60 s");
    p.evaluate(ServerTime(260 * S), &recovered);
    assert!(p.demotions().is_empty());
    assert_eq!(kinds(&p)[0].0, ChangeKind::Restored);
    assert!(p.changes().next().unwrap().reason.ends_with("for 60 s"));
}

#[test]
fn explorers_are_about_the_configured_share_and_stable_per_session() {
    let mut p = Policy::new(config());
    let bad = bad_in("DE", "cdn-b", 6.0);
    p.evaluate(ServerTime(0), &bad);
    p.evaluate(ServerTime(10 * S), &bad);
    let de = place("DE", "isp-2");
    let explorers = (0..10_000)
        .filter(|i| p.priority(&format!("session-{i}"), &de, None)[0] == "cdn-b")
        .count();
    assert!(
        (800..1200).contains(&explorers),
        "{explorers} of 10000 at 10 %"
    );
    let explorer = (0..)
        .map(|i| format!("session-{i}"))
        .find(|s| p.priority(s, &de, None)[0] == "cdn-b")
        .unwrap();
    assert_eq!(
        p.priority(&explorer, &de, Some("cdn-a"))[0],
        "cdn-b",
        "an explorer stays one"
    );
}

#[test]
fn never_demotes_the_last_usable_pathway() {
    let rows: Vec<_> = healthy()
        .into_iter()
        .map(|(c, i, p, r, n)| match (c, p) {
            ("DE", "cdn-b") => (c, i, p, 9.0, n),
            ("DE", "cdn-c") => (c, i, p, 9.0, n),
            _ => (c, i, p, r, n),
        })
        .collect();
    let mut p = Policy::new(config());
    let mut obs = observe(&rows);
    for t in [0, 10 * S] {
        p.evaluate(ServerTime(t), &obs);
    }
    assert_eq!(p.demotions().len(), 2, "cdn-b and cdn-c in DE");
    // Now cdn-a is as bad: nothing is left to move to, so it is not demoted.
    obs = observe(
        &healthy()
            .into_iter()
            .map(|(c, i, p, r, n)| {
                if c == "DE" {
                    (c, i, p, 9.0, n)
                } else {
                    (c, i, p, r, n)
                }
            })
            .collect::<Vec<_>>(),
    );
    for t in [20 * S, 40 * S] {
        p.evaluate(ServerTime(t), &obs);
    }
    assert!(p.demotions().iter().all(|d| d.pathway != "cdn-a"));
}

#[test]
fn throughput_reports_alone_can_demote() {
    let mut obs = observe(&[]);
    for _ in 0..4 {
        obs.add_report(&place("SE", "isp-1"), "cdn-a", 300_000);
        obs.add_report(&place("SE", "isp-1"), "cdn-b", 20_000_000);
    }
    let mut p = Policy::new(config());
    p.evaluate(ServerTime(0), &obs);
    p.evaluate(ServerTime(10 * S), &obs);
    let change = p.changes().next().unwrap();
    assert_eq!(change.kind, ChangeKind::Demoted);
    assert_eq!(
        change.cohort,
        Cohort::new(),
        "the only traffic there is: everyone"
    );
    assert!(
        change
            .reason
            .contains("throughput 0.3 Mbit/s vs 20.0 Mbit/s"),
        "{}",
        change.reason
    );
    assert_eq!(
        p.priority("x", &place("SE", "isp-1"), Some("cdn-a"))[0],
        "cdn-b"
    );
}

#[test]
fn overrides_pin_the_order_most_specific_first_and_refuse_nonsense() {
    let mut p = Policy::new(config());
    p.set_override(
        cohort(&[("country", "DE")]),
        vec!["cdn-c".into()],
        None,
        "contract",
        ServerTime(0),
    )
    .unwrap();
    let isp = p
        .set_override(
            cohort(&[("country", "DE"), ("isp", "isp-1")]),
            vec!["cdn-b".into(), "cdn-a".into()],
            Some(100 * S),
            "test",
            ServerTime(0),
        )
        .unwrap();
    assert_eq!(
        p.priority("s", &place("DE", "isp-2"), Some("cdn-a")),
        ["cdn-c", "cdn-a", "cdn-b"]
    );
    assert_eq!(
        p.priority("s", &place("DE", "isp-1"), Some("cdn-a")),
        ["cdn-b", "cdn-a", "cdn-c"]
    );
    assert_eq!(
        p.priority("s", &place("FR", "isp-1"), Some("cdn-a"))[0],
        "cdn-a"
    );
    p.evaluate(ServerTime(100 * S), &observe(&healthy()));
    assert_eq!(
        p.priority("s", &place("DE", "isp-1"), Some("cdn-a"))[0],
        "cdn-c",
        "{} lapsed",
        isp.id
    );
    assert_eq!(kinds(&p)[0].0, ChangeKind::OverrideExpired);
    let refusals = [
        (
            cohort(&[("planet", "mars")]),
            vec!["cdn-a".to_string()],
            "cohort: \"planet\" is not a cohort dimension",
        ),
        (
            Cohort::new(),
            vec![],
            "priority: expected at least one pathway",
        ),
        (
            Cohort::new(),
            vec!["cdn-z".into()],
            "priority[0]: \"cdn-z\" is not a configured pathway",
        ),
        (
            Cohort::new(),
            vec!["cdn-a".into(), "cdn-a".into()],
            "priority[1]: \"cdn-a\" is listed twice",
        ),
    ];
    for (c, order, why) in refusals {
        assert!(
            p.set_override(c, order, None, "", ServerTime(0))
                .unwrap_err()
                .0
                .starts_with(why),
            "{why}"
        );
    }
    assert!(p.clear_override("ovr-1", "done", ServerTime(200 * S)));
    assert!(!p.clear_override("ovr-1", "again", ServerTime(200 * S)));
}

#[test]
fn the_kill_switch_stops_automatic_decisions_and_is_logged() {
    let mut p = Policy::new(config());
    let bad = bad_in("DE", "cdn-b", 6.0);
    p.evaluate(ServerTime(0), &bad);
    p.evaluate(ServerTime(10 * S), &bad);
    p.demote_for_alert(
        "alert-1",
        cohort(&[("country", "FR")]),
        "cdn-c",
        "rebuffering alert",
        3600 * S,
        ServerTime(10 * S),
    )
    .unwrap();
    p.set_enabled(false, "incident bridge call", ServerTime(20 * S));
    for t in [30, 40, 50] {
        p.evaluate(ServerTime(t * S), &bad);
    }
    assert!(
        p.demotions().iter().all(|d| d.by == DemotedBy::Action),
        "QoE demotions dropped"
    );
    assert_eq!(
        p.priority("s", &place("DE", "isp-1"), Some("cdn-b")),
        ["cdn-b", "cdn-a", "cdn-c"]
    );
    assert_eq!(
        p.priority("s", &place("FR", "isp-1"), Some("cdn-c"))[0],
        "cdn-c",
        "actions wait"
    );
    assert_eq!(kinds(&p)[0].0, ChangeKind::Disabled);
    assert_eq!(p.changes().next().unwrap().reason, "incident bridge call");
    p.set_enabled(true, "over", ServerTime(60 * S));
    assert_eq!(
        p.priority("s", &place("FR", "isp-1"), Some("cdn-c"))[0],
        "cdn-a",
        "the action applies again"
    );
}

#[test]
fn alert_actions_demote_until_resolved_or_lapsed() {
    let mut p = Policy::new(config());
    let scope = cohort(&[("country", "DE"), ("device_type", "tv")]);
    p.demote_for_alert(
        "a1",
        scope,
        "cdn-b",
        "startup failures 4× normal",
        100 * S,
        ServerTime(0),
    )
    .unwrap();
    assert_eq!(
        p.demotions()[0].cohort,
        cohort(&[("country", "DE")]),
        "dimensions steering does not use are dropped"
    );
    assert!(p
        .demote_for_alert("a2", Cohort::new(), "cdn-z", "", 100 * S, ServerTime(0))
        .is_err());
    assert_eq!(
        p.priority("s", &place("DE", "isp-1"), Some("cdn-b"))[2],
        "cdn-b"
    );
    p.revert_action("a1", "alert resolved", ServerTime(50 * S));
    assert!(p.demotions().is_empty());
    p.demote_for_alert(
        "a3",
        Cohort::new(),
        "cdn-a",
        "",
        100 * S,
        ServerTime(60 * S),
    )
    .unwrap();
    p.evaluate(ServerTime(100 * S), &observe(&[]));
    assert!(p.demotions().is_empty());
    let log: Vec<ChangeKind> = kinds(&p).into_iter().map(|k| k.0).collect();
    assert_eq!(
        log,
        [
            ChangeKind::ActionReverted,
            ChangeKind::ActionDemoted,
            ChangeKind::ActionReverted,
            ChangeKind::ActionDemoted
        ]
    );
}

#[test]
fn configuration_errors_name_the_field() {
    type Breaks = fn(&mut SteerConfig);
    let cases: [(Breaks, &str); 4] = [
        (
            |c| c.pathways[1].id = "cdn a".into(),
            "steer.pathways[1].id",
        ),
        (
            |c| c.pathways[2].hosts = vec!["cdn-a".into()],
            "steer.pathways[2]: cdn \"cdn-a\" is already",
        ),
        (
            |c| c.restore_margin = 20.0,
            "steer.demote_margin (15) must exceed",
        ),
        (|c| c.exploration_share = 0.9, "steer.exploration_share"),
    ];
    for (breaks, field) in cases {
        let mut c = config();
        breaks(&mut c);
        assert!(c.validate().unwrap_err().starts_with(field), "{field}");
    }
    assert_eq!(config().validate(), Ok(()));
}

#[test]
fn one_unlucky_view_never_demotes() {
    let mut o = observe(&healthy());
    // One more German view on cdn-b with a long stall and then a fatal error.
    o.add_view(&place("DE", "isp-1"), Some("cdn-b"), &view(40.0, true));
    let mut p = Policy::new(config());
    for t in [0, 10 * S, 20 * S] {
        p.evaluate(ServerTime(t), &o);
    }
    let h = &p
        .cohorts(100)
        .into_iter()
        .find(|c| c.cohort == cohort(&[("country", "DE"), ("isp", "isp-1")]))
        .unwrap()
        .health[1];
    assert!(
        h.health.score.unwrap() < 75.0,
        "the point estimate looks bad: {h:?}"
    );
    assert!(h.health.best_case_score.unwrap() > 90.0, "{h:?}");
    assert!(p.demotions().is_empty(), "{:?}", kinds(&p));
}

#[test]
fn a_coarser_demotion_absorbs_the_finer_ones() {
    // First only isp-1 in DE shows it, then both ISPs.
    let one_isp: Vec<_> = healthy()
        .into_iter()
        .map(|(c, i, p, r, n)| {
            if (c, i, p) == ("DE", "isp-1", "cdn-b") {
                (c, i, p, 8.0, n)
            } else {
                (c, i, p, r, n)
            }
        })
        .collect();
    let mut p = Policy::new(config());
    for t in [0, 10 * S] {
        p.evaluate(ServerTime(t), &observe(&one_isp));
    }
    assert_eq!(
        p.demotions()[0].cohort,
        cohort(&[("country", "DE"), ("isp", "isp-1")])
    );
    let both = bad_in("DE", "cdn-b", 8.0);
    for t in [20 * S, 30 * S] {
        p.evaluate(ServerTime(t), &both);
    }
    let scopes: Vec<&Cohort> = p.demotions().iter().map(|d| &d.cohort).collect();
    assert_eq!(scopes, [&cohort(&[("country", "DE")])]);
}
