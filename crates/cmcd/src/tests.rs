//! Reference vectors (`shared/reference/cmcd-cmsd-steering.md` §1.4, from CML's unit tests) and
//! properties.
use serde_json::json;

use crate::*;

const V2_REQUEST: &str = r#"ab=(2500),bg,bl=(5000),br=(200),bs,bsd=(2000),cdn="cdn-provider",cid="content-id",com.example-exists,com.example-hello="world",com.example-quote="\"Quote\"",com.example-testing=1234,com.example-token=s,cs="123456",d=325,dfa=5,dl=10000,ec=("ERR001" "ERR002"),lab=(200),lb=(100),ltc=1500,msd=2500,mtp=(10000),nor=("../testing/3.m4v"),ot=m,pb=(1000),pt=45000,rtp=8000,sf=d,sid="session-id",sn=1,st=v,sta=p,su,tab=(3000),tb=(5000),tbl=(8000),tpb=(4000),v=2"#;

fn as_json(payload: &CmcdPayload) -> serde_json::Value {
    serde_json::to_value(payload).unwrap()
}

#[test]
fn decodes_the_v2_request_vector() {
    let payload = decode_payload(V2_REQUEST).unwrap();
    let keys = &as_json(&payload)["keys"];
    assert_eq!(payload.version, 2);
    assert_eq!(keys["br"], json!([200]));
    assert_eq!(keys["ec"], json!(["ERR001", "ERR002"]));
    assert_eq!(keys["nor"], json!(["../testing/3.m4v"]));
    assert_eq!(keys["com.example-quote"], json!("\"Quote\""));
    assert_eq!(keys["com.example-testing"], json!(1234));
    assert_eq!(keys["com.example-exists"], json!(true));
    assert_eq!(keys["sta"], json!("p"));
    assert_eq!(
        (keys["su"].clone(), keys["bs"].clone(), keys["msd"].clone()),
        (json!(true), json!(true), json!(2500))
    );
    // `cdn` is CML's, not CTA-5004-B's: ignored with a reason, the rest kept.
    assert_eq!(
        payload.ignored,
        vec![IgnoredKey {
            key: "cdn".into(),
            reason: "unknown key".into()
        }]
    );
    assert_eq!(payload.keys.len(), 38);
}

#[test]
fn the_header_shards_give_the_request_payload() {
    let headers = [
        (
            "CMCD-Object",
            r#"ab=(2500),br=(200),com.example-hello="world",d=325,lab=(200),lb=(100),ot=m,tab=(3000),tb=(5000),tpb=(4000)"#,
        ),
        (
            "cmcd-status",
            r#"bg,bs,bsd=(2000),cdn="cdn-provider",com.example-exists,ec=("ERR001" "ERR002"),pt=45000,rtp=8000"#,
        ),
        (
            "CMCD-Request",
            r#"bl=(5000),com.example-quote="\"Quote\"",com.example-token=s,cs="123456",dfa=5,dl=10000,ltc=1500,mtp=(10000),nor=("../testing/3.m4v"),pb=(1000),sn=1,sta=p,su,tbl=(8000)"#,
        ),
        (
            "CMCD-Session",
            r#"cid="content-id",com.example-testing=1234,msd=2500,sf=d,sid="session-id",st=v,v=2"#,
        ),
        ("Accept", "*/*"),
    ];
    let from_headers = decode_headers(headers).unwrap().unwrap();
    assert_eq!(from_headers, decode_payload(V2_REQUEST).unwrap());
    // Headers win over the query argument.
    let query = "CMCD=br%3D(999)%2Cv%3D2";
    assert_eq!(
        decode_request(Some(query), headers)
            .unwrap()
            .unwrap()
            .integers("br"),
        vec![200]
    );
    assert_eq!(
        decode_request(Some(query), [("Accept", "*/*")])
            .unwrap()
            .unwrap()
            .integers("br"),
        vec![999]
    );
}

#[test]
fn decodes_the_query_form() {
    let payload =
        decode_query("https://cdn.example/seg_3.m4s?token=x&CMCD=br%3D(1000)%2Ccom.example-hello%3D%22world%22%2Cec%3D(%22ERR001%22%20%22ERR002%22)%2Csu%2Cv%3D2")
            .unwrap()
            .unwrap();
    assert_eq!(
        as_json(&payload)["keys"],
        json!({"br": [1000], "com.example-hello": "world", "ec": ["ERR001", "ERR002"], "su": true, "v": 2})
    );
    assert!(
        decode_query("a=1&cmcd=br%3D1").is_none(),
        "the argument name is case-sensitive"
    );
}

#[test]
fn reads_v1_scalars_as_v2_lists() {
    let v1 = r#"bl=5000,br=200,bs,cid="content-id",com.example-exists,com.example-hello="world",com.example-testing=1234,com.example-token=s,d=325,dl=10000,mtp=10000,nor="..%2Ftesting%2F3.m4v",ot=m,rtp=8000,sf=d,sid="session-id",st=v,su,tb=5000"#;
    let payload = decode_payload(v1).unwrap();
    let keys = &as_json(&payload)["keys"];
    assert_eq!(payload.version, 1);
    assert_eq!(
        (
            keys["bl"].clone(),
            keys["br"].clone(),
            keys["mtp"].clone(),
            keys["tb"].clone()
        ),
        (json!([5000]), json!([200]), json!([10000]), json!([5000]))
    );
    assert_eq!(
        keys["nor"],
        json!(["../testing/3.m4v"]),
        "v1 nor is URL-encoded inside the string"
    );
    assert!(payload.ignored.is_empty());
}

#[test]
fn keeps_object_type_parameters() {
    let payload = decode_payload("br=(5000;v 320;a),v=2").unwrap();
    assert_eq!(
        as_json(&payload)["keys"]["br"],
        json!([{"value": 5000, "ot": "v"}, {"value": 320, "ot": "a"}])
    );
}

#[test]
fn decodes_event_and_response_records() {
    let body = "e=ps,sid=\"s1\",sta=s,ts=1640995200000,v=2\r\ne=rr,rc=200,ts=1640995200000,ttfb=150,ttfbb=200,ttlb=500,url=\"https://example.com/media/segment.m4s\",cmsdd=\"YQ==\",v=2\n\n";
    let records = decode_event_body(body);
    assert_eq!(records.len(), 2, "CRLF and a trailing LF are fine");
    let rr = records[1].as_ref().unwrap();
    assert_eq!(
        (rr.text("e"), rr.integer("ttlb"), rr.integer("rc")),
        (Some("rr"), Some(500), Some(200))
    );
}

#[test]
fn applies_the_server_rules() {
    // (payload, key, why it is ignored)
    let cases = [
        ("br=\"fast\",v=2", "br", "expected an inner list of integers, got a string"),
        ("sta=z,v=2", "sta", "expected one of s p k r a w e f q d, got z"),
        ("d=1.5", "d", "expected an integer, got a decimal"),
        // Found by the fuzz target: kept, it could not be encoded again.
        ("pr=77777777777777", "pr", "expected a decimal (at most 12 integer digits), got 77777777777777"),
        ("su=1", "su", "expected a boolean, got an integer"),
        ("xyz=1", "xyz", "unknown key"),
        ("cen=\"x\",sid=\"0123456789012345678901234567890123456789012345678901234567890123456789\"", "sid", "expected at most 64 characters, got 70"),
        ("br=(1 \"a\"),v=2", "br", "expected an inner list of integers, got an inner list"),
    ];
    for (text, key, reason) in cases {
        let payload = decode_payload(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert!(!payload.keys.contains_key(key), "{text}");
        assert_eq!(
            payload.ignored,
            vec![IgnoredKey {
                key: key.into(),
                reason: reason.into()
            }],
            "{text}"
        );
    }
    assert_eq!(
        decode_payload("br=(1),v=3"),
        Err(CmcdError::UnsupportedVersion(3))
    );
    assert!(matches!(decode_payload("br=(1"), Err(CmcdError::Syntax(_))));
    assert_eq!(decode_payload("  "), Err(CmcdError::Empty));
    // RFC 8941 allows optional whitespace after a comma.
    assert_eq!(decode_payload("br=(1000), su, v=2").unwrap().keys.len(), 3);
}

#[test]
fn encodes_alphabetically_and_roundtrips_the_vector() {
    let payload = decode_payload(V2_REQUEST).unwrap();
    let encoded = encode_payload(&payload);
    assert_eq!(
        encoded,
        V2_REQUEST.replace(r#"cdn="cdn-provider","#, ""),
        "CML's encoding, less the unknown key"
    );
}

proptest::proptest! {
    #[test]
    fn decoding_never_panics(text in ".{0,200}") {
        let _ = decode_payload(&text);
        let _ = decode_query(&text);
        let _ = decode_event_body(&text);
    }

    #[test]
    fn encode_then_decode_is_identity(
        br in proptest::collection::vec(0i64..100_000, 1..4),
        bl in 0i64..60_000,
        sid in "[a-z0-9-]{1,36}",
        sta in proptest::sample::select(STATES.to_vec()),
        su in proptest::bool::ANY,
        pr in proptest::sample::select(vec![0.5f64, 1.25, 2.0]),
        ec in proptest::collection::vec("[A-Z0-9_]{1,12}", 0..3),
    ) {
        let mut keys = std::collections::BTreeMap::new();
        keys.insert("br".to_owned(), CmcdValue::IntegerList(br.iter().map(|v| ListItem { value: *v, ot: Some("v".into()) }).collect()));
        keys.insert("bl".to_owned(), CmcdValue::IntegerList(vec![ListItem { value: bl, ot: None }]));
        keys.insert("sid".to_owned(), CmcdValue::String(sid));
        keys.insert("sta".to_owned(), CmcdValue::Token(sta.to_owned()));
        if su {
            keys.insert("su".to_owned(), CmcdValue::Boolean(true));
        }
        keys.insert("pr".to_owned(), CmcdValue::Decimal(pr));
        if !ec.is_empty() {
            keys.insert("ec".to_owned(), CmcdValue::StringList(ec.into_iter().map(|value| ListItem { value, ot: None }).collect()));
        }
        keys.insert("v".to_owned(), CmcdValue::Integer(2));
        let payload = CmcdPayload { version: 2, keys, ignored: Vec::new() };
        let text = encode_payload(&payload);
        proptest::prop_assert_eq!(decode_payload(&text).unwrap(), payload);
    }
}

fn events_of(records: &[&str]) -> Vec<(u64, String)> {
    let payloads: Vec<CmcdPayload> = records.iter().map(|r| decode_payload(r).unwrap()).collect();
    let (batches, skipped) = records_to_batches(&payloads, openqoe_model::ServerTime(0));
    assert!(skipped.is_empty(), "{skipped:?}");
    batches
        .iter()
        .flat_map(|b| b.events.iter().map(|e| (e.seq.0, e.kind.name().to_owned())))
        .collect()
}

#[test]
fn event_records_become_wire_events() {
    let names = |records: &[&str]| -> Vec<String> {
        events_of(records)
            .into_iter()
            .map(|(_, kind)| kind)
            .collect()
    };
    let cases: [(&str, &str, &[&str]); 12] = [
        ("play request", "e=ps,sta=s", &["play_requested"]),
        (
            "playing closes whatever was open",
            "e=ps,sta=p",
            &["first_frame", "stall_end", "seek_end", "play"],
        ),
        ("rebuffering", "e=ps,sta=r", &["stall_start"]),
        (
            "waiting (dash.js) is a stall too",
            "e=ps,sta=w",
            &["stall_start"],
        ),
        (
            "a response received",
            "e=rr,rc=200,ttfb=12,url=\"https://edge/a.m4s\"",
            &["request"],
        ),
        ("seeking", "e=ps,sta=k", &["seek_start"]),
        ("paused", "e=ps,sta=a", &["pause"]),
        ("fatal error", "e=e,ec=(\"E7\"),sta=f", &["error"]),
        ("non-fatal error", "e=e,ec=(\"E8\")", &["error"]),
        ("bitrate change", "br=(4500;v),e=bc", &["rendition_change"]),
        ("heartbeat", "bl=(9000),e=t,pt=1000", &["heartbeat"]),
        (
            "heartbeat repeating a state is only a heartbeat",
            "e=t,sta=f",
            &["heartbeat"],
        ),
    ];
    for (name, keys, want) in cases {
        let record = format!("{keys},sid=\"s\",sn=3,ts=1000,v=2");
        assert_eq!(names(&[record.as_str()]), want.to_vec(), "{name}");
    }
    // sn orders records: the events of sn=3 take seqs 24.., whatever order the records come in.
    let seqs: Vec<u64> = events_of(&[
        "e=ps,sid=\"s\",sn=3,sta=r,ts=9,v=2",
        "e=ps,sid=\"s\",sn=0,sta=s,ts=1,v=2",
    ])
    .into_iter()
    .map(|(seq, _)| seq)
    .collect();
    assert_eq!(seqs, vec![24, 0]);
}

#[test]
fn views_are_keyed_by_session_and_content() {
    assert_eq!(view_id("s", "a"), view_id("s", "a"));
    assert_ne!(view_id("s", "a"), view_id("s", "b"));
    assert_ne!(
        view_id("sa", ""),
        view_id("s", "a"),
        "the separator keeps the pair apart"
    );
    assert!(openqoe_model::ViewId::new(&view_id(&"x".repeat(300), "é")).is_ok());
    let payloads = [decode_payload("e=ps,sta=s,ts=1,v=2").unwrap()];
    let (batches, skipped) = records_to_batches(&payloads, openqoe_model::ServerTime(0));
    assert!(batches.is_empty());
    assert_eq!(skipped[0].reason, "sid: missing; a view needs a session id");
}

#[test]
fn response_records_carry_host_timing_and_decoded_cmsd() {
    use base64::Engine;
    let b64 = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
    let fields_of = |record: &str| {
        let payload = decode_payload(record).unwrap();
        let (batches, _) = records_to_batches(&[payload], openqoe_model::ServerTime(0));
        batches[0].events[0].fields()
    };
    let record = format!(
        "cmsdd=\"{}\",cmsds=\"{}\",e=rr,rc=206,sid=\"s\",sn=1,ts=5,ttfb=12,ttlb=80,url=\"https://user@edge-7.cdn.example:8443/v/seg_3.m4s?x=1\",v=2",
        b64(r#""edge-7";etp=96;rtt=8"#),
        b64(r#"ot=v,st=v,n="OriginA""#),
    );
    let fields = fields_of(&record);
    assert_eq!(fields["host"], json!("edge-7.cdn.example:8443"));
    assert_eq!(
        (&fields["status"], &fields["ttfb_ms"], &fields["ttlb_ms"]),
        (&json!(206), &json!(12), &json!(80))
    );
    assert_eq!(fields["cmsd_dynamic"][0]["server"], json!("edge-7"));
    assert_eq!(fields["cmsd_dynamic"][0]["params"]["etp"], json!(96));
    assert_eq!(fields["cmsd_static"]["n"], json!("OriginA"));

    let broken = fields_of("cmsdd=\"%%%\",e=rr,sid=\"s\",sn=1,ts=5,url=\"/relative.m4s\",v=2");
    assert!(fields_of_has(&broken, "cmsd_dynamic_error", "not base64"));
    assert!(broken.get("host").is_none(), "a relative URL names no host");

    let timestamp =
        fields_of("e=rr,sid=\"s\",sn=1,ts=5,ttfb=1796396136084,ttlb=80,url=\"https://e/a\",v=2");
    assert!(
        timestamp.get("ttfb_ms").is_none(),
        "an epoch time is no TTFB (dash.js 5.2)"
    );
    assert_eq!(timestamp["ttlb_ms"], json!(80));
    assert!(timestamp["ignored"][0]
        .as_str()
        .is_some_and(|reason| reason.contains("not a duration")));
}

fn fields_of_has(
    fields: &serde_json::Map<String, serde_json::Value>,
    key: &str,
    text: &str,
) -> bool {
    fields
        .get(key)
        .and_then(|v| v.as_str())
        .is_some_and(|v| v.contains(text))
}
