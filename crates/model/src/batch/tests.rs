use serde_json::json;

use super::*;
use crate::{EventKind, Rendition};

const RECEIVED: ServerTime = ServerTime(1_764_028_875_000);

fn design_example() -> serde_json::Value {
    json!({
      "v": 1, "key": "demo", "sent_at": 1764028870000i64,
      "view": {"id": "7f9c2b1e-0d1a-4c47-9a55-3f1d2e8b6a10", "viewer_id": "u-5b3a", "session_id": "s-19c2",
               "props": {"cdn": "cdn-a", "player_width": 1280, "custom_1": "premium"}},
      "events": [
        {"seq": 0, "ts": 1764028800000i64, "type": "player_init", "page_load_ms": 800},
        {"seq": 1, "ts": 1764028800300i64, "type": "player_ready"},
        {"seq": 2, "ts": 1764028801000i64, "type": "play_requested"},
        {"seq": 3, "ts": 1764028801100i64, "type": "rendition_change",
         "bitrate_bps": 1500000, "width": 640, "height": 360, "fps": 30, "codec": "avc1.64001e"},
        {"seq": 4, "ts": 1764028802200i64, "type": "first_frame"}
      ]
    })
}

fn parse(value: &serde_json::Value) -> Result<Batch, BatchError> {
    Batch::parse(value.to_string().as_bytes(), RECEIVED)
}

#[test]
fn parses_the_design_example() {
    let batch = parse(&design_example()).unwrap();
    assert_eq!(batch.key.as_deref(), Some("demo"));
    assert_eq!(
        batch.view.id.as_str(),
        "7f9c2b1e-0d1a-4c47-9a55-3f1d2e8b6a10"
    );
    assert_eq!(batch.events.len(), 5);
    assert_eq!(
        batch.events[0].kind,
        EventKind::PlayerInit {
            page_load_ms: Some(800)
        }
    );
    assert_eq!(
        batch.events[3].kind,
        EventKind::RenditionChange(Rendition {
            bitrate_bps: 1_500_000,
            width: 640,
            height: 360,
            fps: Some(30.0),
            codec: Some("avc1.64001e".into())
        })
    );
}

#[test]
fn corrects_clock_skew_with_sent_at() {
    // The device clock is 5 s behind the server: every event moves 5 s later, durations stay.
    let batch = parse(&design_example()).unwrap();
    assert_eq!(batch.events[0].at, ServerTime(1_764_028_805_000));
    assert_eq!(batch.events[4].at.since(batch.events[2].at), 1200);
    let mut without = design_example();
    without.as_object_mut().unwrap().remove("sent_at");
    assert_eq!(
        parse(&without).unwrap().events[0].at,
        ServerTime(1_764_028_800_000)
    );
}

#[test]
fn props_at_their_bounds_are_taken() {
    let mut body = design_example();
    let mut props: serde_json::Map<_, _> = (1..MAX_PROPS)
        .map(|i| (format!("p{i}"), json!(i)))
        .collect();
    props.insert(
        "n".repeat(MAX_PROP_NAME_BYTES),
        json!("x".repeat(MAX_PROP_VALUE_BYTES)),
    );
    body["view"]["props"] = json!(props);
    body["view"]["session_id"] = json!("s".repeat(MAX_ID_BYTES));
    assert_eq!(parse(&body).unwrap().view.props.len(), MAX_PROPS);
}

#[test]
fn a_batch_dated_in_the_future_moves_back_whole() {
    // (sent_at, first ts relative to arrival, moved back): a device clock two days ahead with no
    // sent_at; a false sent_at two days in the past; a minute's tolerance; an honest batch.
    const DAY: i64 = 86_400_000;
    let cases = [
        (None, 2 * DAY, 2 * DAY + 1_200 - MAX_AHEAD_MS),
        (
            Some(RECEIVED.0 - 2 * DAY),
            0,
            2 * DAY + 1_200 - MAX_AHEAD_MS,
        ),
        (None, MAX_AHEAD_MS - 1_200, 0),
        (Some(RECEIVED.0), -5_000, 0),
    ];
    for (sent_at, ahead, moved) in cases {
        let first = RECEIVED.0 + ahead;
        let body = json!({"v": 1, "sent_at": sent_at, "view": {"id": "v"}, "events": [
            {"seq": 0, "ts": first, "type": "play_requested"},
            {"seq": 1, "ts": first + 1_200, "type": "first_frame"}]});
        let batch = parse(&body).unwrap();
        assert_eq!(batch.moved_back_ms, moved, "{body}");
        let latest = batch.events[1].at;
        assert!(latest.0 <= RECEIVED.0 + MAX_AHEAD_MS, "{body}");
        assert_eq!(
            latest.since(batch.events[0].at),
            1_200,
            "the gap stays: {body}"
        );
    }
}

#[test]
fn keeps_unknown_event_types_and_fields() {
    let mut body = design_example();
    body["events"] = json!([{"seq": 0, "ts": 1, "type": "quality_vote", "stars": 4}]);
    let batch = parse(&body).unwrap();
    assert_eq!(
        batch.events[0].kind,
        EventKind::Unknown("quality_vote".into())
    );
    assert_eq!(batch.events[0].fields()["stars"], json!(4));
}

#[test]
fn rejects_malformed_input_naming_the_field() {
    type Mutation = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: Vec<(&str, Mutation, &str)> = vec![
        ("wrong version", Box::new(|b| b["v"] = json!(2)), "v"),
        (
            "missing version",
            Box::new(|b| {
                b.as_object_mut().unwrap().remove("v");
            }),
            "v",
        ),
        (
            "bad sent_at",
            Box::new(|b| b["sent_at"] = json!("now")),
            "sent_at",
        ),
        (
            "missing view",
            Box::new(|b| {
                b.as_object_mut().unwrap().remove("view");
            }),
            "view",
        ),
        (
            "bad view id",
            Box::new(|b| b["view"]["id"] = json!("a b")),
            "view.id",
        ),
        (
            "empty view id",
            Box::new(|b| b["view"]["id"] = json!("")),
            "view.id",
        ),
        (
            "long view id",
            Box::new(|b| b["view"]["id"] = json!("x".repeat(65))),
            "view.id",
        ),
        (
            "numeric view id",
            Box::new(|b| b["view"]["id"] = json!(7)),
            "view.id",
        ),
        (
            "nested prop",
            Box::new(|b| b["view"]["props"]["cdn"] = json!({"a": 1})),
            "view.props.cdn",
        ),
        (
            "events not array",
            Box::new(|b| b["events"] = json!({})),
            "events",
        ),
        (
            "event not object",
            Box::new(|b| b["events"][1] = json!(3)),
            "events[1]",
        ),
        (
            "negative seq",
            Box::new(|b| b["events"][2]["seq"] = json!(-1)),
            "events[2].seq",
        ),
        (
            "missing seq",
            Box::new(|b| {
                b["events"][2].as_object_mut().unwrap().remove("seq");
            }),
            "events[2].seq",
        ),
        (
            "text ts",
            Box::new(|b| b["events"][3]["ts"] = json!("yesterday")),
            "events[3].ts",
        ),
        (
            "missing type",
            Box::new(|b| {
                b["events"][0].as_object_mut().unwrap().remove("type");
            }),
            "events[0].type",
        ),
        (
            "rendition without bitrate",
            Box::new(|b| {
                b["events"][3]
                    .as_object_mut()
                    .unwrap()
                    .remove("bitrate_bps");
            }),
            "events[3].bitrate_bps",
        ),
        (
            "rendition text width",
            Box::new(|b| b["events"][3]["width"] = json!("wide")),
            "events[3].width",
        ),
        (
            "error without fatal",
            Box::new(|b| b["events"][4] = json!({"seq": 4, "ts": 1, "type": "error", "code": 3})),
            "events[4].fatal",
        ),
        (
            "error without code",
            Box::new(|b| {
                b["events"][4] = json!({"seq": 4, "ts": 1, "type": "error", "fatal": true})
            }),
            "events[4].code",
        ),
        (
            "play request observed as text",
            Box::new(|b| b["events"][2]["observed"] = json!("no")),
            "events[2].observed",
        ),
        (
            "bad page load",
            Box::new(|b| b["events"][0]["page_load_ms"] = json!(-5)),
            "events[0].page_load_ms",
        ),
        (
            "too many props",
            Box::new(|b| {
                let props: serde_json::Map<_, _> = (0..=MAX_PROPS)
                    .map(|i| (format!("p{i}"), json!(i)))
                    .collect();
                b["view"]["props"] = json!(props);
            }),
            "view.props",
        ),
        (
            "a long prop name",
            Box::new(|b| b["view"]["props"]["n".repeat(MAX_PROP_NAME_BYTES + 1)] = json!(1)),
            "view.props",
        ),
        (
            "an empty prop name",
            Box::new(|b| b["view"]["props"][""] = json!(1)),
            "view.props",
        ),
        (
            "a long prop value",
            Box::new(|b| b["view"]["props"]["title"] = json!("x".repeat(MAX_PROP_VALUE_BYTES + 1))),
            "view.props.title",
        ),
        (
            "a long viewer id",
            Box::new(|b| b["view"]["viewer_id"] = json!("u".repeat(MAX_ID_BYTES + 1))),
            "view.viewer_id",
        ),
    ];
    for (name, mutate, want_at) in cases {
        let mut body = design_example();
        mutate(&mut body);
        let err = parse(&body).expect_err(name);
        assert_eq!(err.at, want_at, "{name}: {err}");
        assert!(!err.reason.is_empty(), "{name}");
    }
}

#[test]
fn rejects_garbage_bodies_with_a_reason() {
    for body in [&b""[..], b"null", b"[1,2]", b"{\"v\":1", b"\xff\xfe", b"42"] {
        let err = Batch::parse(body, RECEIVED).unwrap_err();
        assert_eq!(err.at, "");
        assert!(err.reason.starts_with("expected a JSON object"), "{err}");
    }
}

#[test]
fn wire_json_roundtrips() {
    let batch = parse(&design_example()).unwrap();
    let again = Batch::parse(batch.to_wire_json().to_string().as_bytes(), RECEIVED).unwrap();
    assert_eq!(again, Batch { key: None, ..batch });
}

#[test]
fn a_changed_header_is_written_into_the_body_as_received() {
    // Escaped names, spacing and the events' text stay as they were; only `view` changes.
    let body =
        br#"{"v":1,"key":"demo","view" : {"id":"v1","viewer_id":"alice","props":{"cdn":"a"}} ,
        "events":[{"seq":0,"ts":1000,"type":"player_init", "x" : [1, 2]}],"\u0061b":1}"#;
    let (mut batch, span) = Batch::parse_spanned(body, RECEIVED).unwrap();
    batch.view.viewer_id = Some("h-pseudonym".into());
    batch.view.props.insert("cdn".into(), json!("b"));
    let rewritten = batch.body_with_header(body, &span);
    assert_eq!(Batch::parse(&rewritten, RECEIVED).unwrap(), batch);
    let text = String::from_utf8(rewritten).unwrap();
    assert!(!text.contains("alice"), "{text}");
    assert!(
        text.contains(r#"{"seq":0,"ts":1000,"type":"player_init", "x" : [1, 2]}"#),
        "events as received: {text}"
    );
    assert!(text.contains(r#""\u0061b":1"#), "{text}");

    // A repeated `view`: the last is read, and no copy of the first may stay.
    let body = br#"{"v":1,"view":{"id":"v1","viewer_id":"alice"},"view":{"id":"v1","viewer_id":"bob"},"events":[]}"#;
    let (mut batch, span) = Batch::parse_spanned(body, RECEIVED).unwrap();
    assert_eq!(batch.view.viewer_id.as_deref(), Some("bob"));
    batch.view.viewer_id = Some("h-pseudonym".into());
    let rewritten = batch.body_with_header(body, &span);
    let text = String::from_utf8(rewritten.clone()).unwrap();
    assert!(!text.contains("alice") && !text.contains("bob"), "{text}");
    assert_eq!(
        Batch::parse(&rewritten, RECEIVED).unwrap(),
        Batch { key: None, ..batch }
    );
}

proptest::proptest! {
    #[test]
    fn parse_never_panics(body in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
        let _ = Batch::parse(&body, RECEIVED);
    }

    #[test]
    fn roundtrip_keeps_every_event(seqs in proptest::collection::vec(0u64..1000, 0..30), offset in -100_000i64..100_000) {
        let events: Vec<_> = seqs.iter().map(|s| json!({"seq": s, "ts": 1_000_000 + *s as i64 * 10, "type": "heartbeat", "playhead_ms": s})).collect();
        let body = json!({"v": 1, "sent_at": 2_000_000 + offset, "view": {"id": "v"}, "events": events});
        let batch = parse(&body).unwrap();
        let again = Batch::parse(batch.to_wire_json().to_string().as_bytes(), RECEIVED).unwrap();
        proptest::prop_assert_eq!(again, batch);
    }
}

#[test]
fn event_members_read_as_a_json_map_reads_them() {
    // An escaped name is the name it spells; a repeated member has its last value.
    let body = r#"{"v":1,"view":{"id":"v"},"events":[
        {"s\u0065q":4,"ts":1000,"type":"heartbeat","playhead_ms":5,"playhead_ms":7}]}"#;
    let batch = Batch::parse(body.as_bytes(), ServerTime(0)).unwrap();
    assert_eq!(batch.events[0].seq, Seq(4));
    match &batch.events[0].kind {
        EventKind::Heartbeat(heartbeat) => assert_eq!(heartbeat.playhead_ms, Some(7)),
        other => panic!("expected a heartbeat, got {other:?}"),
    }
}

#[test]
fn numbers_and_type_names_read_without_a_parse_read_as_with_one() {
    // (members of one event, its seq, ts and heartbeat playhead, or the field refused)
    type Case = (&'static str, Result<(u64, i64, Option<u64>), &'static str>);
    let cases: [Case; 9] = [
        (
            r#""seq":7,"ts":1000,"type":"heartbeat","playhead_ms":5"#,
            Ok((7, 1000, Some(5))),
        ),
        (
            r#""seq":18446744073709551615,"ts":1000,"type":"heartbeat""#,
            Ok((u64::MAX, 1000, None)),
        ),
        (
            r#""seq":3.0,"ts":1000,"type":"heartbeat""#,
            Err("events[0].seq"),
        ),
        (
            r#""seq":1,"ts":1.7e12,"type":"heartbeat""#,
            Ok((1, 1_700_000_000_000, None)),
        ),
        (
            r#""seq":1,"ts":999999999999999,"type":"heartbeat""#,
            Ok((1, 999_999_999_999_999, None)),
        ),
        (
            r#""seq":1,"ts":1000000000000000,"type":"heartbeat""#,
            Ok((1, 1_000_000_000_000_000, None)),
        ),
        (r#""seq":1,"ts":-5,"type":"heartbeat""#, Err("events[0].ts")),
        (
            r#""seq":1,"ts":9,"type":"heart\u0062eat","playhead_ms":12.6"#,
            Ok((1, 9, Some(13))),
        ),
        (
            r#""seq":1,"ts":9,"type":"heartbeat","playhead_ms":-1"#,
            Err("events[0].playhead_ms"),
        ),
    ];
    for (members, want) in cases {
        let body = format!(r#"{{"v":1,"view":{{"id":"v"}},"events":[{{{members}}}]}}"#);
        let got = Batch::parse(body.as_bytes(), ServerTime(0)).map(|batch| {
            let event = &batch.events[0];
            let playhead = match &event.kind {
                EventKind::Heartbeat(heartbeat) => heartbeat.playhead_ms,
                other => panic!("{members}: expected a heartbeat, got {other:?}"),
            };
            (event.seq.0, event.ts.0, playhead)
        });
        match (got, want) {
            (Ok(got), Ok(want)) => assert_eq!(got, want, "{members}"),
            (Err(e), Err(field)) => assert!(e.to_string().contains(field), "{members}: {e}"),
            (got, want) => panic!("{members}: got {got:?}, want {want:?}"),
        }
    }
}
