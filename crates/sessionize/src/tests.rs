//! State-machine tables for the end rules, and order-independence properties.
use openqoe_model::{Batch, EndReason, Seq, ServerTime, View, ViewId};
use serde_json::json;

use crate::{LiveViewsCap, SessionizeConfig, Sessionizer};

const T0: i64 = 1_764_028_800_000;
const MIN: i64 = 60_000;

/// A batch of `view` holding `(seq, ms after T0, type)` events, received at T0 + `received_ms`.
fn batch(view: &str, received_ms: i64, events: &[(u64, i64, &str)]) -> Batch {
    let events: Vec<_> = events
        .iter()
        .map(|(seq, ms, kind)| json!({"seq": seq, "ts": T0 + ms, "type": kind}))
        .collect();
    let body = json!({"v": 1, "sent_at": T0 + received_ms, "view": {"id": view}, "events": events});
    Batch::parse(body.to_string().as_bytes(), ServerTime(T0 + received_ms)).unwrap()
}

fn apply_all(batches: Vec<Batch>, now_ms: i64) -> (Sessionizer, Vec<View>) {
    let mut sessionizer = Sessionizer::new(SessionizeConfig::default());
    let mut ended = Vec::new();
    for batch in batches {
        sessionizer.apply(batch, &mut ended).unwrap();
    }
    sessionizer.expire(ServerTime(T0 + now_ms), &mut ended);
    (sessionizer, ended)
}

#[test]
fn end_rules() {
    type Case = (&'static str, Vec<Batch>, i64, Option<(EndReason, i64, u64)>);
    let cases: Vec<Case> = vec![
        (
            "live view stays live",
            vec![batch(
                "a",
                0,
                &[(0, 0, "play_requested"), (1, 900, "first_frame")],
            )],
            MIN,
            None,
        ),
        (
            "view_end ends at its timestamp",
            vec![batch(
                "a",
                5000,
                &[
                    (0, 0, "play_requested"),
                    (1, 900, "first_frame"),
                    (2, 5000, "view_end"),
                ],
            )],
            5000,
            Some((EndReason::ViewEnd, 5000, 2)),
        ),
        (
            "idle for 60 minutes ends at the last event",
            vec![batch(
                "a",
                1000,
                &[(0, 0, "play_requested"), (1, 900, "first_frame")],
            )],
            1000 + 60 * MIN,
            Some((EndReason::Idle, 900, 1)),
        ),
        (
            "59 minutes idle is still live",
            vec![batch(
                "a",
                1000,
                &[(0, 0, "play_requested"), (1, 900, "first_frame")],
            )],
            1000 + 59 * MIN,
            None,
        ),
        (
            "stall open past 5 minutes on the server clock",
            vec![batch(
                "a",
                2000,
                &[
                    (0, 0, "play_requested"),
                    (1, 900, "first_frame"),
                    (2, 2000, "stall_start"),
                ],
            )],
            2000 + 5 * MIN + 1,
            Some((EndReason::StallTimeout, 2000 + 5 * MIN, 2)),
        ),
        (
            "stall of 6 minutes seen in the events",
            vec![batch(
                "a",
                400_000,
                &[
                    (0, 0, "play_requested"),
                    (1, 900, "first_frame"),
                    (2, 2000, "stall_start"),
                    (3, 2000 + 6 * MIN, "stall_end"),
                    (4, 2000 + 7 * MIN, "pause"),
                ],
            )],
            400_000,
            Some((EndReason::StallTimeout, 2000 + 5 * MIN, 2)),
        ),
        (
            "stall of exactly 5 minutes does not end the view",
            vec![batch(
                "a",
                400_000,
                &[
                    (0, 0, "play_requested"),
                    (1, 900, "first_frame"),
                    (2, 2000, "stall_start"),
                    (3, 2000 + 5 * MIN, "stall_end"),
                ],
            )],
            400_000,
            None,
        ),
    ];
    for (name, batches, now_ms, want) in cases {
        let (sessionizer, ended) = apply_all(batches, now_ms);
        match want {
            None => {
                assert!(
                    ended.is_empty(),
                    "{name}: ended {:?}",
                    ended.first().map(|v| v.end)
                );
                assert_eq!(sessionizer.live_count(), 1, "{name}");
            }
            Some((reason, end_ms, last_seq)) => {
                assert_eq!(ended.len(), 1, "{name}");
                let end = ended[0].end.expect("ended view has an end");
                assert_eq!(
                    (end.reason, end.ts.0 - T0, end.last_seq),
                    (reason, end_ms, Seq(last_seq)),
                    "{name}"
                );
                assert_eq!(sessionizer.live_count(), 0, "{name}");
            }
        }
    }
}

#[test]
fn a_late_batch_before_view_end_reaches_the_live_view_then_ends_it() {
    // Out-of-order delivery: the batch with view_end is seq 3..4 but the view sees seq 0..2 first.
    let (_, ended) = apply_all(
        vec![
            batch(
                "a",
                1000,
                &[(0, 0, "play_requested"), (1, 900, "first_frame")],
            ),
            batch("a", 3000, &[(2, 2000, "pause"), (3, 2500, "view_end")]),
        ],
        3000,
    );
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].events.len(), 4);
}

#[test]
fn view_end_arriving_before_earlier_events_keeps_them_all() {
    let ended = apply_routed(vec![
        batch("a", 9000, &[(3, 8000, "view_end")]),
        batch(
            "a",
            9500,
            &[
                (0, 0, "play_requested"),
                (1, 900, "first_frame"),
                (2, 4000, "pause"),
            ],
        ),
    ]);
    assert_eq!(ended.len(), 1);
    let end = ended[0].end.unwrap();
    assert_eq!(
        (end.reason, end.ts.0 - T0, end.last_seq),
        (EndReason::ViewEnd, 8000, Seq(3))
    );
    assert_eq!(ended[0].measured_events().count(), 4);
}

#[test]
fn views_are_kept_apart_by_id() {
    let (sessionizer, _) = apply_all(
        vec![
            batch("a", 0, &[(0, 0, "play_requested")]),
            batch("b", 0, &[(0, 0, "play_requested")]),
        ],
        0,
    );
    assert_eq!(sessionizer.live_count(), 2);
    assert!(sessionizer.view(&ViewId::new("b").unwrap()).is_some());
}

/// Applies batches as the binary routes them: a batch of a view that already ended merges into it.
fn apply_routed(batches: Vec<Batch>) -> Vec<View> {
    let mut sessionizer = Sessionizer::new(SessionizeConfig::default());
    let mut ended: Vec<View> = Vec::new();
    for batch in batches {
        match ended.iter_mut().find(|view| view.id == batch.view.id) {
            Some(view) => {
                view.merge(batch);
            }
            None => {
                sessionizer.apply(batch, &mut ended).unwrap();
            }
        }
    }
    ended
}

proptest::proptest! {
    /// Whatever order batches arrive in, and however often each is repeated, the same view results.
    #[test]
    fn batch_order_and_duplicates_do_not_change_the_view(
        order in proptest::strategy::Strategy::prop_shuffle(proptest::strategy::Just((0..6usize).collect::<Vec<_>>())),
        repeats in proptest::collection::vec(0..6usize, 0..4),
    ) {
        let kinds = ["play_requested", "first_frame", "stall_start", "stall_end", "pause", "view_end"];
        let all: Vec<Batch> = (0..6u64).map(|i| batch("p", 100 * i as i64, &[(i, 1000 * i as i64, kinds[i as usize])])).collect();
        let mut shuffled: Vec<Batch> = order.iter().map(|&i| all[i].clone()).collect();
        shuffled.extend(repeats.iter().map(|&i| all[i].clone()));
        let ended_a = apply_routed(all.clone());
        let ended_b = apply_routed(shuffled);
        proptest::prop_assert_eq!(ended_a.len(), 1);
        proptest::prop_assert_eq!(ended_b.len(), 1);
        proptest::prop_assert_eq!(&ended_a[0].events, &ended_b[0].events);
        proptest::prop_assert_eq!(ended_a[0].end, ended_b[0].end);
    }
}

#[test]
fn a_stall_sent_late_is_timed_out_from_its_receipt() {
    // The device queued its events: the stall began 9 minutes before the server heard of it.
    let (sessionizer, ended) = apply_all(
        vec![batch(
            "late",
            9 * MIN,
            &[
                (0, 0, "play_requested"),
                (1, 900, "first_frame"),
                (2, 2000, "stall_start"),
            ],
        )],
        9 * MIN + MIN,
    );
    assert!(
        ended.is_empty(),
        "one minute after receipt the stall has not timed out"
    );
    assert_eq!(sessionizer.live_count(), 1);
}

#[test]
fn a_batch_after_the_view_timed_out_is_late_for_the_ended_view() {
    let (sessionizer, ended) = apply_all(
        vec![
            batch(
                "a",
                1000,
                &[(0, 0, "play_requested"), (1, 900, "first_frame")],
            ),
            batch("a", 1000 + 61 * MIN, &[(2, 61 * MIN, "pause")]),
        ],
        1000 + 61 * MIN,
    );
    assert_eq!(sessionizer.live_count(), 0);
    let end = ended[0].end.unwrap();
    assert_eq!((end.reason, end.last_seq), (EndReason::Idle, Seq(1)));
    assert_eq!(ended[0].events.len(), 3, "the late event is kept");
    assert_eq!(ended[0].measured_events().count(), 2, "but not measured");
}

proptest::proptest! {
    /// Replay equivalence: expiry passes at any moments between batches (the live run's ticks)
    /// end exactly the views, at exactly the ends, that a final pass alone gives (replay).
    #[test]
    fn expiry_timing_never_changes_the_outcome(
        gaps in proptest::collection::vec((0usize..3, 0i64..(8 * MIN)), 1..25),
        ticks in proptest::collection::vec(proptest::bool::ANY, 25),
    ) {
        let kinds = ["play_requested", "first_frame", "stall_start", "stall_end", "heartbeat"];
        let mut received = 0;
        let mut seqs = [0u64; 3];
        let batches: Vec<Batch> = gaps
            .iter()
            .map(|(view, gap)| {
                received += gap;
                let seq = seqs[*view];
                seqs[*view] += 1;
                // play_requested, first_frame, then stall_start, stall_end, heartbeat over and over.
                let kind = if seq < 2 { kinds[seq as usize] } else { kinds[2 + (seq as usize - 2) % 3] };
                batch(&format!("v{view}"), received, &[(seq, received, kind)])
            })
            .collect();
        let end = received + 2 * 60 * MIN;
        let run = |with_ticks: bool| {
            let mut sessionizer = Sessionizer::new(SessionizeConfig::default());
            let mut ended: Vec<View> = Vec::new();
            for (i, batch) in batches.iter().enumerate() {
                if with_ticks && ticks[i] {
                    sessionizer.expire(batch.received_at, &mut ended);
                }
                match ended.iter_mut().find(|view| view.id == batch.view.id && view.is_ended()) {
                    Some(view) => { view.merge(batch.clone()); }
                    None => { sessionizer.apply(batch.clone(), &mut ended).unwrap(); }
                }
            }
            sessionizer.expire(ServerTime(T0 + end), &mut ended);
            ended.sort_by(|a, b| a.id.cmp(&b.id));
            ended.into_iter().map(|v| (v.id, v.end, v.events.len())).collect::<Vec<_>>()
        };
        proptest::prop_assert_eq!(run(true), run(false));
    }
}

/// The end rules as first written: a whole scan of the view's events for each rule. The
/// sessionizer reads each event once ([`crate::EndScan`]) and must agree with this.
fn ended_by_whole_scan(view: &View, stall_timeout_ms: u64) -> Option<(EndReason, i64, Seq)> {
    let view_end = view
        .events
        .values()
        .find(|e| e.kind.name() == "view_end")
        .map(|e| (EndReason::ViewEnd, e.ts.0, e.seq));
    let mut stall_end = None;
    let mut open: Option<&openqoe_model::Event> = None;
    let mut inside = Seq(0);
    for event in view.events.values() {
        if let Some(stall) = open {
            if event.ts.since(stall.ts) > stall_timeout_ms {
                stall_end = Some((
                    EndReason::StallTimeout,
                    stall.ts.0 + stall_timeout_ms as i64,
                    inside,
                ));
                break;
            }
        }
        match event.kind.name() {
            "stall_start" if open.is_none() => open = Some(event),
            "stall_end" => open = None,
            _ => {}
        }
        inside = event.seq;
    }
    match (view_end, stall_end) {
        (Some(end), Some(stall)) if stall.2 < end.2 => Some(stall),
        (Some(end), _) => Some(end),
        (None, stall) => stall,
    }
}

proptest::proptest! {
    /// Reading each event once gives the end a whole scan gives, batch after batch, whatever
    /// the batches' order and repeats: the view ends with the batch after which a whole scan
    /// of what it has received first finds an end, and at that end.
    #[test]
    fn end_rules_read_incrementally_match_a_whole_scan(
        steps in proptest::collection::vec((0usize..6, 0i64..(3 * MIN)), 1..40),
        cuts in proptest::collection::vec(1usize..6, 40),
        order in proptest::collection::vec(0usize..1000, 40),
    ) {
        let kinds = ["heartbeat", "stall_start", "stall_end", "pause", "play", "view_end"];
        let mut ts = 0;
        let events: Vec<(u64, i64, &str)> = steps
            .iter()
            .enumerate()
            .map(|(seq, (kind, gap))| {
                ts += gap;
                (seq as u64, ts, kinds[*kind])
            })
            .collect();
        let mut batches = Vec::new();
        let mut rest = &events[..];
        for cut in &cuts {
            if rest.is_empty() {
                break;
            }
            let (head, tail) = rest.split_at((*cut).min(rest.len()));
            batches.push(batch("s", 0, head));
            rest = tail;
        }
        // Mostly in order; sometimes a batch is sent again or comes early.
        let mut delivery: Vec<Batch> = Vec::new();
        for (i, b) in batches.iter().enumerate() {
            match order[i] % 10 {
                0 if i > 0 => delivery.push(batches[order[i] % i].clone()),
                1 if i + 1 < batches.len() => {
                    delivery.push(batches[i + 1].clone());
                }
                _ => {}
            }
            delivery.push(b.clone());
        }
        // Kept in memory, or logged and let go after every batch (given back from the log,
        // here the events received so far, when a batch does not continue them).
        for logged in [false, true] {
            let mut sessionizer = Sessionizer::new(SessionizeConfig::default());
            let mut received = View::new(&delivery[0].view, ServerTime(T0));
            let timeout = SessionizeConfig::default().stall_timeout_ms;
            for (i, mut b) in delivery.clone().into_iter().enumerate() {
                if logged {
                    b.logged_at = Some(openqoe_model::LoggedAt { segment: 1, offset: i as u32 });
                }
                let mut ended = Vec::new();
                let id = b.view.id.clone();
                let passed = match sessionizer.apply(b.clone(), &mut ended) {
                    Ok(applied) => applied.passed.is_some(),
                    Err(back) => {
                        proptest::prop_assert!(logged && sessionizer.needs_events(&back).is_some());
                        sessionizer.restore(&id, received.events.values().cloned().collect());
                        sessionizer.apply(*back, &mut ended).unwrap().passed.is_some()
                    }
                };
                proptest::prop_assert!(logged || !passed, "only logged views pass events on");
                received.merge(b);
                let got = ended.first().and_then(|v| v.end).map(|e| (e.reason, e.ts.0 - T0, e.last_seq));
                let want = ended_by_whole_scan(&received, timeout).map(|(r, t, s)| (r, t - T0, s));
                proptest::prop_assert_eq!(got, want, "logged: {}", logged);
                if got.is_some() {
                    break;
                }
                if logged {
                    sessionizer.let_go(&id);
                    let view = sessionizer.view(&id).unwrap();
                    proptest::prop_assert_eq!(view.last_seq(), received.last_seq());
                    for seq in received.events.keys() {
                        proptest::prop_assert_eq!(view.has_event(*seq), Some(true));
                    }
                }
            }
        }
    }
}

#[test]
fn a_logged_view_lets_its_events_go_and_asks_for_them_back_only_when_needed() {
    let logged = |mut b: Batch, offset: u32| {
        b.logged_at = Some(openqoe_model::LoggedAt { segment: 1, offset });
        b
    };
    let id = ViewId::new("a").unwrap();
    let mut sessionizer = Sessionizer::new(SessionizeConfig::default());
    let mut ended = Vec::new();
    let first = logged(
        batch(
            "a",
            1000,
            &[(0, 0, "play_requested"), (1, 900, "first_frame")],
        ),
        0,
    );
    let applied = sessionizer.apply(first, &mut ended).unwrap();
    assert!(applied.passed.is_none(), "a new view keeps its first batch");
    assert_eq!(sessionizer.let_go(&id).map(|events| events.len()), Some(2));

    let next = logged(
        batch("a", 2000, &[(3, 2000, "pause"), (2, 1500, "heartbeat")]),
        10,
    );
    assert_eq!(
        sessionizer.needs_events(&next),
        None,
        "it continues seq 0–1"
    );
    let applied = sessionizer.apply(next, &mut ended).unwrap();
    let passed: Vec<u64> = applied.passed.unwrap().iter().map(|e| e.seq.0).collect();
    assert_eq!(passed, [2, 3], "handed on in seq order");
    let retry = logged(batch("a", 2500, &[(3, 2000, "pause")]), 20);
    let applied = sessionizer.apply(retry, &mut ended).unwrap();
    assert_eq!((applied.merged.fresh, applied.merged.duplicates), (0, 1));
    let unlogged = batch("a", 2600, &[(4, 2100, "play")]);
    assert!(
        sessionizer.needs_events(&unlogged).is_some(),
        "a batch not in the log cannot be read back with the others: the view takes its events back"
    );

    // A gap, then a view_end: the view needs its events back for the gap.
    let gap = logged(batch("a", 3000, &[(5, 2500, "view_end")]), 30);
    let records = sessionizer.needs_events(&gap).unwrap().to_vec();
    assert_eq!(records.len(), 3, "every batch merged so far");
    let gap = sessionizer.apply(gap, &mut ended).unwrap_err();
    assert_eq!(gap.events.len(), 1, "given back whole");
    let view = sessionizer.view(&id).unwrap();
    assert_eq!(view.last_event().map(|e| e.seq), Some(Seq(3)));
    assert!(view.events.is_empty());
    assert!(ended.is_empty());
}

#[test]
fn an_environment_past_its_cap_waits_while_the_others_start_views() {
    let in_environment = |view: &str, environment: &str, events: &[(u64, i64, &str)]| {
        let mut batch = batch(view, 0, events);
        batch
            .view
            .props
            .insert("environment".into(), json!(environment));
        batch
    };
    let config = SessionizeConfig {
        max_live_views: 3,
        max_live_views_by_environment: [("staging".to_owned(), 1)].into(),
        ..SessionizeConfig::default()
    };
    let mut sessionizer = Sessionizer::new(config);
    let mut ended = Vec::new();
    let play = [(0, 0, "play_requested")];
    let staging = in_environment("s1", "staging", &play);
    assert_eq!(sessionizer.full_for(&staging), None);
    sessionizer.apply(staging, &mut ended).unwrap();
    assert_eq!(
        sessionizer.full_for(&in_environment("s2", "staging", &play)),
        Some(LiveViewsCap::Environment)
    );
    for view in ["p1", "p2"] {
        let production = in_environment(view, "production", &play);
        assert_eq!(sessionizer.full_for(&production), None, "{view}");
        sessionizer.apply(production, &mut ended).unwrap();
    }
    assert_eq!(
        sessionizer.full_for(&in_environment("p3", "production", &play)),
        Some(LiveViewsCap::Server)
    );
    // The staging view ends: staging may start one again (and the server has room).
    let end = in_environment("s1", "staging", &[(1, 1_000, "view_end")]);
    sessionizer.apply(end, &mut ended).unwrap();
    assert_eq!(ended.len(), 1);
    assert_eq!(
        sessionizer.full_for(&in_environment("s2", "staging", &play)),
        None
    );
}
