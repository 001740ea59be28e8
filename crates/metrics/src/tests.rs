//! One named table row per documented edge case (docs/metrics.md), plus properties over any
//! event order.
use openqoe_model::{Batch, ServerTime, View};
use serde_json::{json, Value};

use crate::{compute, ViewMetrics};

const T0: i64 = 1_764_028_800_000;

/// The latest `ts` among wire events, relative to `T0` (0 for none).
fn last_event_ms<'a>(events: impl Iterator<Item = &'a Value>) -> i64 {
    events
        .filter_map(|e| e["ts"].as_i64())
        .max()
        .map_or(0, |ts| ts - T0)
}

/// Builds a view through the real wire parser: each batch is a list of `(seq, ms, type, fields)`.
fn view_of(batches: &[Vec<(u64, i64, &str, Value)>], ended: bool, props: Value) -> View {
    let mut view: Option<View> = None;
    for events in batches {
        let events: Vec<Value> = events
            .iter()
            .map(|(seq, ms, kind, fields)| {
                let mut event = json!({"seq": seq, "ts": T0 + ms, "type": kind});
                if let Value::Object(extra) = fields {
                    event.as_object_mut().unwrap().extend(extra.clone());
                }
                event
            })
            .collect();
        let body = json!({"v": 1, "view": {"id": "t", "props": props}, "events": events});
        // Received once its last event happened, as a server receives a batch.
        let last = last_event_ms(events.iter());
        let batch = Batch::parse(body.to_string().as_bytes(), ServerTime(T0 + last)).unwrap();
        view.get_or_insert_with(|| View::new(&batch.view, batch.received_at))
            .merge(batch);
    }
    let mut view = view.expect("at least one batch");
    if ended {
        let last = view.events.values().next_back().unwrap();
        view.end = Some(openqoe_model::ViewEnd {
            reason: openqoe_model::EndReason::ViewEnd,
            ts: last.ts,
            at: last.at,
            last_seq: last.seq,
        });
    }
    view
}

/// One batch of bare events `(ms, type)`, numbered from 0; `view_end` last makes it ended.
fn timeline(events: &[(i64, &str)]) -> View {
    let events: Vec<_> = events
        .iter()
        .enumerate()
        .map(|(i, (ms, kind))| (i as u64, *ms, *kind, Value::Null))
        .collect();
    let ended = events.last().is_some_and(|e| e.2 == "view_end");
    view_of(&[events], ended, json!({}))
}

fn rendition(bps: u64, w: u32, h: u32) -> Value {
    json!({"bitrate_bps": bps, "width": w, "height": h})
}

#[derive(Debug, Default, PartialEq)]
struct Times {
    startup: Option<u64>,
    rebuffers: u64,
    rebuffer_ms: u64,
    playing_ms: u64,
    watch_ms: u64,
    seeks: u64,
    seek_latency: Option<f64>,
}

fn times(m: &ViewMetrics) -> Times {
    Times {
        startup: m.video_startup_time_ms,
        rebuffers: m.rebuffer_count,
        rebuffer_ms: m.rebuffer_duration_ms,
        playing_ms: m.playing_time_ms,
        watch_ms: m.watch_time_ms,
        seeks: m.seek_count,
        seek_latency: m.seek_latency_ms,
    }
}

#[test]
fn time_buckets_per_edge_case() {
    let t = |startup, rebuffers, rebuffer_ms, playing_ms, watch_ms, seeks, seek_latency| Times {
        startup,
        rebuffers,
        rebuffer_ms,
        playing_ms,
        watch_ms,
        seeks,
        seek_latency,
    };
    let cases = [
        (
            "plain play with one rebuffer",
            timeline(&[
                (0, "play_requested"),
                (1000, "first_frame"),
                (5000, "stall_start"),
                (5800, "stall_end"),
                (10_000, "view_end"),
            ]),
            t(Some(1000), 1, 800, 8200, 10_000, 0, None),
        ),
        (
            "seek-induced stall is seek latency, not rebuffer",
            timeline(&[
                (0, "play_requested"),
                (1000, "first_frame"),
                (4000, "seek_start"),
                (4100, "stall_start"),
                (4500, "seek_end"),
                (4700, "stall_end"),
                (10_000, "view_end"),
            ]),
            t(Some(1000), 0, 0, 3000 + 5300, 10_000, 1, Some(500.0)),
        ),
        (
            "stall inside an ad break is ad time",
            timeline(&[
                (0, "play_requested"),
                (1000, "first_frame"),
                (3000, "ad_break_start"),
                (4000, "stall_start"),
                (4900, "stall_end"),
                (8000, "ad_break_end"),
                (10_000, "view_end"),
            ]),
            t(Some(1000), 0, 0, 2000 + 2000, 10_000, 0, None),
        ),
        (
            "pause during startup is not startup",
            timeline(&[
                (0, "play_requested"),
                (500, "pause"),
                (3500, "play"),
                (4000, "first_frame"),
                (6000, "view_end"),
            ]),
            t(Some(1000), 0, 0, 2000, 3000, 0, None),
        ),
        (
            "ad during startup is not content startup",
            timeline(&[
                (0, "play_requested"),
                (200, "ad_break_start"),
                (15_200, "ad_break_end"),
                (16_000, "first_frame"),
                (20_000, "view_end"),
            ]),
            t(Some(1000), 0, 0, 4000, 20_000, 0, None),
        ),
        (
            "stall still open at view end counts to the end",
            timeline(&[
                (0, "play_requested"),
                (1000, "first_frame"),
                (5000, "stall_start"),
                (9000, "view_end"),
            ]),
            t(Some(1000), 1, 4000, 4000, 9000, 0, None),
        ),
        (
            "two stalls back to back are two rebuffers",
            timeline(&[
                (0, "play_requested"),
                (1000, "first_frame"),
                (3000, "stall_start"),
                (3500, "stall_end"),
                (3500, "stall_start"),
                (4200, "stall_end"),
                (6000, "view_end"),
            ]),
            t(Some(1000), 2, 1200, 3800, 6000, 0, None),
        ),
        (
            "a repeated stall_start is one stall",
            timeline(&[
                (0, "play_requested"),
                (1000, "first_frame"),
                (3000, "stall_start"),
                (3200, "stall_start"),
                (4000, "stall_end"),
                (6000, "view_end"),
            ]),
            t(Some(1000), 1, 1000, 4000, 6000, 0, None),
        ),
        (
            "pause while stalled is paused time",
            timeline(&[
                (0, "play_requested"),
                (1000, "first_frame"),
                (3000, "stall_start"),
                (3500, "pause"),
                (8000, "play"),
                (8200, "stall_end"),
                (10_000, "view_end"),
            ]),
            t(Some(1000), 1, 700, 3800, 5500, 0, None),
        ),
        (
            "stall before the first frame is startup",
            timeline(&[
                (0, "play_requested"),
                (300, "stall_start"),
                (2000, "stall_end"),
                (2500, "first_frame"),
                (5000, "view_end"),
            ]),
            t(Some(2500), 0, 0, 2500, 5000, 0, None),
        ),
        (
            "after ended the viewer is not watching",
            timeline(&[
                (0, "play_requested"),
                (1000, "first_frame"),
                (30_000, "ended"),
                (90_000, "view_end"),
            ]),
            t(Some(1000), 0, 0, 29_000, 30_000, 0, None),
        ),
        (
            "view with no play request has no startup",
            timeline(&[
                (0, "player_init"),
                (1000, "first_frame"),
                (6000, "view_end"),
            ]),
            t(None, 0, 0, 5000, 5000, 0, None),
        ),
        (
            // See issue 19: an app that called monitor() after play(); the SDK says so.
            "a play request the SDK did not observe gives no startup time",
            view_of(
                &[vec![
                    (0, 0, "play_requested", json!({"observed": false})),
                    (1, 1000, "first_frame", Value::Null),
                    (2, 6000, "view_end", Value::Null),
                ]],
                true,
                json!({}),
            ),
            t(None, 0, 0, 5000, 6000, 0, None),
        ),
        (
            "an open seek closes at view end",
            timeline(&[
                (0, "play_requested"),
                (1000, "first_frame"),
                (4000, "seek_start"),
                (7000, "view_end"),
            ]),
            t(Some(1000), 0, 0, 3000, 7000, 1, Some(3000.0)),
        ),
    ];
    for (name, view, want) in cases {
        let metrics = compute(&view);
        assert_eq!(times(&metrics), want, "{name}");
    }
}

#[test]
fn failures_and_exits_per_edge_case() {
    // (name, view, startup_failure, exit_before_video_start, playback_failure)
    let error = |fatal: bool| json!({"code": "E1", "fatal": fatal});
    let cases = [
        (
            "fatal error after first frame is a playback failure, not a startup failure",
            view_of(
                &[vec![
                    (0, 0, "play_requested", Value::Null),
                    (1, 800, "first_frame", Value::Null),
                    (2, 5000, "error", error(true)),
                    (3, 5100, "view_end", Value::Null),
                ]],
                true,
                json!({}),
            ),
            Some(false),
            Some(false),
            true,
        ),
        (
            "fatal error before first frame is both",
            view_of(
                &[vec![
                    (0, 0, "play_requested", Value::Null),
                    (1, 3000, "error", error(true)),
                    (2, 3100, "view_end", Value::Null),
                ]],
                true,
                json!({}),
            ),
            Some(true),
            Some(false),
            true,
        ),
        (
            "non-fatal error changes nothing",
            view_of(
                &[vec![
                    (0, 0, "play_requested", Value::Null),
                    (1, 800, "first_frame", Value::Null),
                    (2, 5000, "error", error(false)),
                    (3, 9000, "view_end", Value::Null),
                ]],
                true,
                json!({}),
            ),
            Some(false),
            Some(false),
            false,
        ),
        (
            "ended without a first frame is an exit before video start",
            view_of(
                &[vec![
                    (0, 0, "play_requested", Value::Null),
                    (1, 8000, "view_end", Value::Null),
                ]],
                true,
                json!({}),
            ),
            Some(false),
            Some(true),
            false,
        ),
        (
            "an active view that has not started has not exited yet",
            view_of(
                &[vec![(0, 0, "play_requested", Value::Null)]],
                false,
                json!({}),
            ),
            Some(false),
            Some(false),
            false,
        ),
        (
            "view with no play request is outside the attempt population",
            view_of(
                &[vec![
                    (0, 0, "player_init", Value::Null),
                    (1, 400, "error", error(true)),
                ]],
                true,
                json!({}),
            ),
            None,
            None,
            true,
        ),
    ];
    for (name, view, startup_failure, ebvs, playback_failure) in cases {
        let m = compute(&view);
        assert_eq!(
            (
                m.startup_failure,
                m.exit_before_video_start,
                m.playback_failure
            ),
            (startup_failure, ebvs, playback_failure),
            "{name}"
        );
    }
}

#[test]
fn bitrate_and_scaling_are_weighted_by_playing_time() {
    let player = json!({"player_width": 640, "player_height": 480});
    let view = view_of(
        &[vec![
            (0, 0, "play_requested", Value::Null),
            (1, 100, "rendition_change", rendition(500_000, 320, 240)),
            (2, 1000, "first_frame", Value::Null),
            (3, 4000, "rendition_change", rendition(4_000_000, 1280, 960)),
            (4, 5000, "view_end", Value::Null),
        ]],
        true,
        player,
    );
    let m = compute(&view);
    // 3 s at 500 kbps (320×240 in 640×480: 100% upscale), 1 s at 4 Mbps (1280×960: 50% downscale).
    assert_eq!(
        m.avg_bitrate_bps,
        Some((500_000.0 * 3000.0 + 4_000_000.0 * 1000.0) / 4000.0)
    );
    assert_eq!(m.upscale_percentage, Some(75.0));
    assert_eq!(m.max_upscale_percentage, Some(100.0));
    assert_eq!(m.downscale_percentage, Some(12.5));
    assert_eq!(m.max_downscale_percentage, Some(50.0));

    let no_player = timeline(&[
        (0, "play_requested"),
        (1000, "first_frame"),
        (2000, "view_end"),
    ]);
    let m = compute(&no_player);
    assert_eq!(
        (m.avg_bitrate_bps, m.upscale_percentage),
        (None, None),
        "no rendition, no player size"
    );
}

#[test]
fn rendition_changes_count_what_the_viewer_saw_after_the_first_frame() {
    let low = || rendition(600_000, 640, 360);
    let mid = || rendition(1_200_000, 854, 480);
    let high = || rendition(2_500_000, 1280, 720);
    /// (name, renditions before the first frame, renditions after it, (changes, up, down))
    type Case = (&'static str, Vec<Value>, Vec<Value>, (u64, u64, u64));
    let cases: Vec<Case> = vec![
        (
            "the initial rendition is no change",
            vec![mid()],
            vec![],
            (0, 0, 0),
        ),
        (
            "selections before the first frame are not seen",
            vec![high(), low(), mid()],
            vec![],
            (0, 0, 0),
        ),
        (
            "one up, one down",
            vec![low()],
            vec![high(), mid()],
            (2, 1, 1),
        ),
        (
            "repeating the same rendition is no change",
            vec![low()],
            vec![low(), low()],
            (0, 0, 0),
        ),
        (
            "a first rendition after the first frame is no change",
            vec![],
            vec![mid(), high()],
            (1, 1, 0),
        ),
    ];
    for (name, before, after, expected) in cases {
        let mut events = vec![(0, 0, "play_requested", Value::Null)];
        for r in before {
            events.push((events.len() as u64, 100, "rendition_change", r));
        }
        events.push((events.len() as u64, 1000, "first_frame", Value::Null));
        for (i, r) in after.into_iter().enumerate() {
            events.push((
                events.len() as u64,
                2000 + i as i64 * 1000,
                "rendition_change",
                r,
            ));
        }
        let m = compute(&view_of(&[events], false, json!({})));
        assert_eq!(
            (m.rendition_change_count, m.upshift_count, m.downshift_count),
            expected,
            "{name}"
        );
    }
}

#[test]
fn startup_pieces_add_up_on_a_pages_first_view() {
    let view = view_of(
        &[vec![
            (0, 0, "player_init", json!({"page_load_ms": 800})),
            (1, 300, "player_ready", Value::Null),
            (2, 1000, "play_requested", Value::Null),
            (3, 2200, "first_frame", Value::Null),
        ]],
        false,
        json!({}),
    );
    let m = compute(&view);
    assert_eq!(
        (
            m.page_load_time_ms,
            m.player_startup_time_ms,
            m.video_startup_time_ms,
            m.aggregate_startup_time_ms
        ),
        (Some(800), Some(300), Some(1200), Some(2300))
    );
}

#[test]
fn rates_per_time() {
    let m = compute(&timeline(&[
        (0, "play_requested"),
        (1000, "first_frame"),
        (5000, "stall_start"),
        (6000, "stall_end"),
        (60_000, "view_end"),
    ]));
    assert_eq!(m.rebuffer_percentage, Some(1000.0 / 59_000.0 * 100.0));
    assert_eq!(m.rebuffer_frequency_per_min, Some(1.0));
}

/// Events of the kinds `picks` names (by index into `kinds`), each `gap` less `back_ms` after
/// the one before (a clock may go backwards), numbered from 0.
fn picked(
    kinds: &[(u64, i64, &'static str, Value)],
    picks: &[(usize, i64)],
    back_ms: i64,
) -> Vec<(u64, i64, &'static str, Value)> {
    let mut ms = 0;
    picks
        .iter()
        .enumerate()
        .map(|(seq, (kind, gap))| {
            ms += gap - back_ms;
            let (_, _, name, fields) = kinds[*kind].clone();
            (seq as u64, ms, name, fields)
        })
        .collect()
}

/// The events of a busy view, for the properties below.
fn busy_events() -> Vec<(u64, i64, &'static str, Value)> {
    let kinds = [
        "play_requested",
        "rendition_change",
        "first_frame",
        "stall_start",
        "stall_end",
        "seek_start",
        "stall_start",
        "seek_end",
        "stall_end",
        "pause",
        "play",
        "ad_break_start",
        "ad_break_end",
        "stall_start",
        "stall_end",
        "view_end",
    ];
    kinds
        .iter()
        .enumerate()
        .map(|(i, kind)| {
            let fields = if *kind == "rendition_change" {
                rendition(1_000_000, 640, 360)
            } else {
                Value::Null
            };
            (i as u64, i as i64 * 1000, *kind, fields)
        })
        .collect()
}

proptest::proptest! {
    /// Duplicate and out-of-order batches: however the events are split, shuffled and repeated,
    /// the metrics are the same.
    #[test]
    fn batch_split_order_and_duplicates_do_not_change_metrics(
        cuts in proptest::collection::vec(0usize..16, 0..5),
        order in proptest::strategy::Strategy::prop_shuffle(proptest::strategy::Just((0..6usize).collect::<Vec<_>>())),
        repeat in 0usize..6,
    ) {
        let events = busy_events();
        let mut bounds: Vec<usize> = cuts.clone();
        bounds.extend([0, events.len()]);
        bounds.sort_unstable();
        bounds.dedup();
        let batches: Vec<Vec<_>> = bounds.windows(2).map(|w| events[w[0]..w[1]].to_vec()).collect();
        let mut shuffled: Vec<Vec<_>> = order.iter().filter_map(|&i| batches.get(i).cloned()).collect();
        if let Some(again) = batches.get(repeat) {
            shuffled.push(again.clone());
        }
        let whole = compute(&view_of(&[events], true, json!({})));
        let pieces = compute(&view_of(&shuffled, true, json!({})));
        proptest::prop_assert_eq!(whole, pieces);
    }

    /// Any sequence of events: compute never panics and the buckets never exceed watch time.
    #[test]
    fn any_event_sequence_is_total(
        picks in proptest::collection::vec((0usize..16, 0i64..5000), 0..40),
        ended in proptest::bool::ANY,
    ) {
        let kinds = busy_events();
        let events = picked(&kinds, &picks, 1000);
        if events.is_empty() {
            return Ok(());
        }
        let view = view_of(&[events], ended, json!({"player_width": 1280, "player_height": 720}));
        let m = compute(&view);
        // Minute rollups add up to the view: the same rebuffer and playing time, at most one
        // attempt and one start, and at most one failure or exit.
        let minutes = crate::view_minutes(&view, 60_000);
        let sum = |f: &dyn Fn(&crate::MinuteCounts) -> u64| minutes.iter().map(|(_, c)| f(c)).sum::<u64>();
        proptest::prop_assert_eq!(sum(&|c| c.rebuffer_ms), m.rebuffer_duration_ms);
        proptest::prop_assert_eq!(sum(&|c| c.playing_ms), m.playing_time_ms);
        proptest::prop_assert!(sum(&|c| c.attempts) <= 1 && sum(&|c| c.started) <= 1);
        proptest::prop_assert!(sum(&|c| c.startup_failures + c.playback_failures + c.exits_before_start) <= 1);
        // Measured and counted in one walk: the same as measured and counted apart.
        let (one_walk, one_walk_minutes) = crate::compute_with_minutes(&view, 60_000);
        proptest::prop_assert_eq!(&one_walk, &m);
        proptest::prop_assert_eq!(&one_walk_minutes, &minutes);
        // Regrouped from shorter minutes, the counts are those made at the longer ones.
        for short in [5_000, 15_000] {
            let parts = crate::view_minutes(&view, short);
            proptest::prop_assert_eq!(&crate::regroup_minutes(&parts, 60_000), &minutes, "from {} ms", short);
        }
        // Counted event by event, the minutes are those the whole walk gave before.
        proptest::prop_assert_eq!(&minutes, &reference_minutes(&view, 60_000));
        let video_startup = m.video_startup_time_ms.unwrap_or(0);
        proptest::prop_assert!(m.playing_time_ms + m.rebuffer_duration_ms + video_startup <= m.watch_time_ms);
        if let Some(p) = m.rebuffer_percentage {
            proptest::prop_assert!((0.0..=100.0).contains(&p));
        }
    }
}

proptest::proptest! {
    /// A view that does not keep its events folds them in as they come, a batch at a time,
    /// keeping only its last minutes: it measures as if it had every event, and the minutes it
    /// kept are the whole view's from the first one kept.
    #[test]
    fn events_folded_as_they_come_measure_as_the_whole_view(
        picks in proptest::collection::vec((0usize..16, 0i64..20_000), 1..40),
        batch in 1usize..6,
        keep_ms in proptest::option::of(0i64..90_000),
        ended in proptest::bool::ANY,
    ) {
        let kinds = busy_events();
        let events = picked(&kinds, &picks, 1000);
        let view = view_of(&[events], ended, json!({"player_width": 1280, "player_height": 720}));
        let every: Vec<openqoe_model::Event> = view.events.values().cloned().collect();
        let mut measure = crate::Measure::counting(5_000, keep_ms);
        for part in every.chunks(batch) {
            measure.extend(&view, part);
        }
        let (metrics, counted) = measure.metrics_and_minutes(&view);
        proptest::prop_assert_eq!(metrics, compute(&view));
        let (kept_from, kept) = counted.unwrap();
        let whole: crate::ViewMinutes = reference_minutes(&view, 5_000)
            .into_iter()
            .filter(|(minute, _)| *minute >= kept_from)
            .collect();
        proptest::prop_assert_eq!(kept, whole);
        if keep_ms.is_none() {
            proptest::prop_assert_eq!(kept_from, ServerTime(i64::MIN));
        }
    }
}

/// The minutes as the first implementation counted them: a whole walk for the spans, then the
/// measured events again for the point counts (the oracle for counting event by event).
fn reference_minutes(view: &View, minute_ms: i64) -> crate::ViewMinutes {
    use openqoe_model::EventKind;
    let mut minutes: std::collections::BTreeMap<i64, crate::MinuteCounts> = Default::default();
    let start = |at: i64| at.div_euclid(minute_ms) * minute_ms;
    let mut watched = std::collections::BTreeSet::new();
    let walk = crate::timeline::walk_spans(view, &mut |span| {
        let (mut at, mut left) = (span.at.0, span.ms as i64);
        while left > 0 {
            let piece = left.min(start(at) + minute_ms - at);
            let counts = minutes.entry(start(at)).or_default();
            match span.bucket {
                crate::timeline::Bucket::Rebuffer => counts.rebuffer_ms += piece as u64,
                crate::timeline::Bucket::Playing => {
                    counts.playing_ms += piece as u64;
                    if let Some(rendition) = span.rendition {
                        counts.bitrate_ms += rendition.bitrate_bps as f64 * piece as f64;
                        counts.rendition_ms += piece as u64;
                    }
                }
                _ => {}
            }
            if !matches!(
                span.bucket,
                crate::timeline::Bucket::Paused | crate::timeline::Bucket::Idle
            ) {
                watched.insert(start(at));
            }
            at += piece;
            left -= piece;
        }
    });
    for minute in watched {
        minutes.entry(minute).or_default().watching += 1;
    }
    let (mut attempted, mut started) = (false, false);
    for event in view.measured_events() {
        let minute = start(event.at.0);
        match &event.kind {
            EventKind::PlayRequested { .. } if !attempted && !started => {
                attempted = true;
                minutes.entry(minute).or_default().attempts += 1;
            }
            EventKind::FirstFrame if !started => {
                started = true;
                let counts = minutes.entry(minute).or_default();
                counts.started += 1;
                if attempted && walk.requested_before_start {
                    counts.startup_times_ms.push(walk.startup_ms);
                }
            }
            EventKind::Error { fatal: true, .. } => {
                let counts = minutes.entry(minute).or_default();
                if started {
                    counts.playback_failures += 1;
                } else if attempted {
                    counts.startup_failures += 1;
                }
                break;
            }
            _ => {}
        }
    }
    if view.end.is_some() && attempted && !walk.started && !walk.fatal {
        if let Some(last) = view.measured_events().last() {
            minutes
                .entry(start(last.at.0))
                .or_default()
                .exits_before_start += 1;
        }
    }
    minutes
        .into_iter()
        .map(|(t, c)| (ServerTime(t), c))
        .collect()
}

#[test]
fn minutes_place_each_count_where_it_happened() {
    // Starts 30 s before a minute boundary: startup 2 s, plays 40 s (28 s then 12 s), a 5 s
    // rebuffer, plays 20 s, fails with a fatal error in the next minute.
    let base = 60_000 - T0.rem_euclid(60_000) - 30_000;
    let view = view_of(
        &[vec![
            (0, base, "play_requested", Value::Null),
            (
                1,
                base + 100,
                "rendition_change",
                rendition(2_000_000, 1280, 720),
            ),
            (2, base + 2_000, "first_frame", Value::Null),
            (3, base + 42_000, "stall_start", Value::Null),
            (4, base + 47_000, "stall_end", Value::Null),
            (
                5,
                base + 67_000,
                "error",
                json!({"code": "E", "fatal": true}),
            ),
            (6, base + 68_000, "view_end", Value::Null),
        ]],
        true,
        json!({}),
    );
    let minutes = crate::view_minutes(&view, 60_000);
    assert_eq!(minutes.len(), 2, "{minutes:?}");
    let (first, second) = (&minutes[0].1, &minutes[1].1);
    assert_eq!(minutes[1].0 .0 - minutes[0].0 .0, 60_000);
    assert_eq!(
        (
            first.attempts,
            first.started,
            first.startup_times_ms.clone()
        ),
        (1, 1, vec![2_000])
    );
    assert_eq!(
        (first.playing_ms, first.rebuffer_ms, first.watching),
        (28_000, 0, 1)
    );
    assert_eq!(
        (second.playing_ms, second.rebuffer_ms, second.watching),
        (32_000, 5_000, 1)
    );
    assert_eq!((second.playback_failures, first.playback_failures), (1, 0));
    assert_eq!(second.bitrate_ms, 2_000_000.0 * 32_000.0);
    assert_eq!(second.rendition_ms, 32_000);
}

#[test]
fn p1203_scores_what_was_played_with_startup_and_rebuffers_as_stalls() {
    use openqoe_p1203::{evaluate, Device, Session, VideoSegment};
    let hd = json!({"bitrate_bps": 3_000_000, "width": 1280, "height": 720, "fps": 30, "codec": "avc1.64001f"});
    let sd = json!({"bitrate_bps": 800_000, "width": 640, "height": 360, "fps": 30, "codec": "avc1.4d401e"});
    let view = view_of(
        &[vec![
            (0, 0, "play_requested", Value::Null),
            (1, 100, "rendition_change", hd.clone()),
            (2, 1500, "first_frame", Value::Null),
            (3, 21_500, "stall_start", Value::Null),
            (4, 23_500, "stall_end", Value::Null),
            (5, 23_500, "rendition_change", sd.clone()),
            (6, 43_500, "view_end", Value::Null),
        ]],
        true,
        json!({"player_width": 1280, "player_height": 720, "device_type": "phone"}),
    );
    let scored = crate::view_p1203(&view, false);
    let segment = |duration: f64, bitrate_kbps: f64, width: u32, height: u32| VideoSegment {
        duration,
        bitrate_kbps,
        width,
        height,
        fps: 30.0,
        display: None,
    };
    let expected = evaluate(&Session {
        device: Device::Handheld,
        display: (1280, 720),
        video: vec![
            segment(20.0, 3000.0, 1280, 720),
            segment(20.0, 800.0, 640, 360),
        ],
        audio: Vec::new(),
        stalls: vec![(0.0, 1.5), (20.0, 2.0)],
    })
    .unwrap();
    assert_eq!(scored.o46, Some(expected.o46));
    assert_eq!(scored.o22, expected.o22);
    assert_eq!(compute(&view).p1203_mos, Some(expected.o46));
    assert_eq!(
        scored.note.as_deref(),
        Some("audio unknown: scored as video only")
    );

    // (name, rendition, MOS expected, what the note says)
    let cases: [(&str, Value, bool, &str); 4] = [
        (
            "VP9 is outside mode 0",
            json!({"bitrate_bps": 800_000, "width": 640, "height": 360, "codec": "vp09.00.10.08"}),
            false,
            "not H.264",
        ),
        (
            "CMCD renditions have no resolution",
            json!({"bitrate_bps": 800_000, "width": 0, "height": 0}),
            false,
            "resolution unknown",
        ),
        (
            "an unknown codec is taken as H.264",
            json!({"bitrate_bps": 800_000, "width": 640, "height": 360}),
            true,
            "codec unknown",
        ),
        (
            "an unknown frame rate is taken as 30",
            json!({"bitrate_bps": 800_000, "width": 640, "height": 360, "codec": "avc1"}),
            true,
            "frame rate unknown",
        ),
    ];
    for (name, rendition, scored, note) in cases {
        let view = view_of(
            &[vec![
                (0, 0, "play_requested", Value::Null),
                (1, 100, "rendition_change", rendition),
                (2, 1000, "first_frame", Value::Null),
                (3, 31_000, "view_end", Value::Null),
            ]],
            true,
            json!({}),
        );
        let p = crate::view_p1203(&view, false);
        assert_eq!(p.o46.is_some(), scored, "{name}");
        assert!(
            p.note.as_deref().is_some_and(|n| n.contains(note)),
            "{name}: {:?}",
            p.note
        );
        if name.starts_with("VP9") {
            let estimate = crate::view_p1203(&view, true);
            assert!(
                estimate.o46.is_some(),
                "an H.264-equivalent estimate when asked"
            );
            assert!(
                estimate
                    .note
                    .as_deref()
                    .is_some_and(|n| n.contains("scored as H.264")),
                "{:?}",
                estimate.note
            );
        }
    }
}

#[test]
fn preroll_exit_waits_live_latency_and_dropped_frames() {
    let preroll = timeline(&[
        (0, "play_requested"),
        (100, "ad_break_start"),
        (5100, "ad_break_end"),
        (6100, "first_frame"),
        (9000, "view_end"),
    ]);
    let m = compute(&preroll);
    assert_eq!(
        (m.video_startup_time_ms, m.total_startup_time_ms),
        (Some(1100), Some(6100)),
        "content startup leaves the pre-roll out, total startup keeps it"
    );

    let gave_up = timeline(&[(0, "play_requested"), (4000, "view_end")]);
    assert_eq!(compute(&gave_up).exit_before_start_wait_ms, Some(4000));
    assert_eq!(
        compute(&preroll).exit_before_start_wait_ms,
        None,
        "it started"
    );

    let heartbeat = |seq: u64, ms: i64, latency: u64, dropped: u64| {
        (
            seq,
            ms,
            "heartbeat",
            json!({"live_latency_ms": latency, "dropped_frames": dropped}),
        )
    };
    let live = view_of(
        &[vec![
            (0, 0, "play_requested", Value::Null),
            (1, 1000, "first_frame", Value::Null),
            heartbeat(2, 21_000, 3000, 0),
            heartbeat(3, 41_000, 5000, 30),
            heartbeat(4, 61_000, 4000, 60),
            (5, 61_000, "view_end", Value::Null),
        ]],
        true,
        json!({}),
    );
    let m = compute(&live);
    assert_eq!(m.live_latency_ms, Some(4000.0), "the median heartbeat");
    assert_eq!(
        m.dropped_frames_per_min,
        Some(60.0),
        "60 dropped in 60 s of playing"
    );
    assert_eq!(compute(&gave_up).dropped_frames_per_min, None);
}

proptest::proptest! {
    /// A view measured batch by batch, as a live view is, has at every step the metrics of the
    /// view measured whole: whatever the split, the order, the repeats and the end.
    #[test]
    fn measuring_batch_by_batch_matches_measuring_whole(
        picks in proptest::collection::vec((0usize..20, 0i64..5000), 1..40),
        cuts in proptest::collection::vec(1usize..6, 40),
        order in proptest::collection::vec(0usize..1000, 40),
        end_at in proptest::option::of(0usize..40),
    ) {
        let mut kinds = busy_events();
        kinds.extend([
            (0, 0, "player_init", json!({"page_load_ms": 700})),
            (0, 0, "player_ready", Value::Null),
            (0, 0, "heartbeat", json!({"live_latency_ms": 3000, "dropped_frames": 4})),
            (0, 0, "heartbeat", json!({"live_latency_ms": 1200, "dropped_frames": 9})),
        ]);
        let events = picked(&kinds, &picks, 500);
        let mut batches: Vec<Vec<_>> = Vec::new();
        let mut rest = &events[..];
        for cut in &cuts {
            if rest.is_empty() {
                break;
            }
            let (head, tail) = rest.split_at((*cut).min(rest.len()));
            batches.push(head.to_vec());
            rest = tail;
        }
        // Mostly in order; sometimes a batch is sent again or comes early.
        let mut delivery = Vec::new();
        for (i, batch) in batches.iter().enumerate() {
            match order[i] % 8 {
                0 if i > 0 => delivery.push(batches[order[i] % i].clone()),
                1 if i + 1 < batches.len() => delivery.push(batches[i + 1].clone()),
                _ => {}
            }
            delivery.push(batch.clone());
        }
        let props = json!({"player_width": 1280, "player_height": 720});
        let mut measure = crate::Measure::default();
        for step in 1..=delivery.len() {
            let view = view_of(&delivery[..step], false, props.clone());
            measure.advance(&view);
            proptest::prop_assert_eq!(measure.metrics(&view), compute(&view), "after batch {}", step);
        }
        // The view ends at some event, possibly before ones already measured.
        let mut view = view_of(&delivery, false, props);
        if let Some(last) = end_at.and_then(|i| view.events.values().nth(i)) {
            view.end = Some(openqoe_model::ViewEnd {
                reason: openqoe_model::EndReason::Idle,
                ts: last.ts,
                at: last.at,
                last_seq: last.seq,
            });
            measure.advance(&view);
            proptest::prop_assert_eq!(measure.metrics(&view), compute(&view), "ended");
        }
    }
}
