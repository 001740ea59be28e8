//! The players' query forms and the manifest rules, one row each.
use super::*;

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn report(pathway: &str, throughput_bps: Option<u64>) -> PathwayReport {
    PathwayReport {
        pathway: pathway.into(),
        throughput_bps,
    }
}

/// A poll's dialect, its query pairs, and what it reports.
type Case<'a> = (Protocol, &'a [(&'a str, &'a str)], Vec<PathwayReport>);

#[test]
fn reads_every_form_players_send() {
    let cases: [Case; 6] = [
        // hls.js: unquoted, bandwidth estimate as an integer.
        (
            Protocol::Hls,
            &[("_HLS_pathway", "pathway-2"), ("_HLS_throughput", "500000")],
            vec![report("pathway-2", Some(500_000))],
        ),
        // The specification and CML: quoted.
        (
            Protocol::Hls,
            &[("_HLS_pathway", "\"CDN-A\"")],
            vec![report("CDN-A", None)],
        ),
        // dash.js: a quoted list, fastest first, throughputs by position, the last unmeasured.
        (
            Protocol::Dash,
            &[
                ("_DASH_pathway", "\"cdn-a,cdn-b,cdn-c\""),
                ("_DASH_throughput", "5140000,2300000"),
            ],
            vec![
                report("cdn-a", Some(5_140_000)),
                report("cdn-b", Some(2_300_000)),
                report("cdn-c", None),
            ],
        ),
        // Shaka: one pathway, a rounded estimate (a fraction is rounded too).
        (
            Protocol::Dash,
            &[("_DASH_pathway", "cdn-b"), ("_DASH_throughput", "812345.6")],
            vec![report("cdn-b", Some(812_346))],
        ),
        // A first poll: nothing measured yet.
        (Protocol::Hls, &[("asset", "42")], vec![]),
        // The other dialect's parameters are not this one's.
        (Protocol::Hls, &[("_DASH_pathway", "cdn-a")], vec![]),
    ];
    for (protocol, query, want) in cases {
        let got = SteeringQuery::parse(protocol, &pairs(query)).unwrap();
        assert_eq!(got.reports, want, "{query:?}");
    }
}

#[test]
fn refuses_garbage_naming_the_parameter() {
    for (query, param) in [
        (&[("_HLS_pathway", "cdn a")][..], "_HLS_pathway"),
        (
            &[("_HLS_pathway", "cdn-a"), ("_HLS_throughput", "fast")][..],
            "_HLS_throughput",
        ),
        (
            &[("_HLS_pathway", "cdn-a"), ("_HLS_throughput", "-5")][..],
            "_HLS_throughput",
        ),
        (&[("_HLS_pathway", "cdn-a,,cdn-b")][..], "_HLS_pathway"),
    ] {
        let err = SteeringQuery::parse(Protocol::Hls, &pairs(query))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with(param), "{query:?}: {err}");
    }
}

#[test]
fn manifests_round_trip_and_match_the_cml_vector() {
    // CML libs/content-steering/test/MANIFEST.ts.
    let cml = r#"{"VERSION":1,"TTL":100,"PATHWAY-PRIORITY":["pathway1","pathway2"],"PATHWAY-CLONES":[{"BASE-ID":"base1","ID":"clone1","URI-REPLACEMENT":{"HOST":"example.com","PARAMS":{"param1":"value1","param2":"value2"}}}]}"#;
    let manifest = SteeringManifest::parse(cml).unwrap();
    assert_eq!(manifest.ttl_s, 100);
    assert_eq!(
        manifest.pathway_clones[0].uri_replacement.host.as_deref(),
        Some("example.com")
    );
    let again: serde_json::Value = serde_json::from_str(cml).unwrap();
    assert_eq!(manifest.to_json(), again);
    let ours = SteeringManifest {
        ttl_s: 10,
        reload_uri: Some("/v1/steer/hls?session=s1".into()),
        pathway_priority: vec!["cdn-b".into(), "cdn-a".into()],
        pathway_clones: Vec::new(),
    };
    let text = ours.to_json().to_string();
    let want: serde_json::Value = serde_json::from_str(
        r#"{"VERSION":1,"TTL":10,"RELOAD-URI":"/v1/steer/hls?session=s1","PATHWAY-PRIORITY":["cdn-b","cdn-a"]}"#,
    )
    .unwrap();
    assert_eq!(ours.to_json(), want);
    assert_eq!(SteeringManifest::parse(&text).unwrap(), ours);
}

#[test]
fn manifests_break_the_rules_by_name() {
    for (text, field) in [
        (r#"{"VERSION":2,"PATHWAY-PRIORITY":["a"]}"#, "VERSION"),
        (r#"{"VERSION":1,"TTL":0,"PATHWAY-PRIORITY":["a"]}"#, "TTL"),
        (r#"{"VERSION":1}"#, "PATHWAY-PRIORITY"),
        (r#"{"VERSION":1,"PATHWAY-PRIORITY":[]}"#, "PATHWAY-PRIORITY"),
        (
            r#"{"VERSION":1,"PATHWAY-PRIORITY":["a","a"]}"#,
            "PATHWAY-PRIORITY[1]",
        ),
        (
            r#"{"VERSION":1,"PATHWAY-PRIORITY":["a"],"PATHWAY-CLONES":[{"BASE-ID":"a","ID":"b c","URI-REPLACEMENT":{}}]}"#,
            "PATHWAY-CLONES[0].ID",
        ),
        ("[1, 2]", "not a steering manifest"),
    ] {
        let err = SteeringManifest::parse(text).unwrap_err();
        assert!(err.starts_with(field), "{text}: {err}");
    }
    // TTL defaults to 300 s.
    assert_eq!(
        SteeringManifest::parse(r#"{"VERSION":1,"PATHWAY-PRIORITY":["a"]}"#)
            .unwrap()
            .ttl_s,
        300
    );
}

proptest::proptest! {
    /// Any query text: parsing never panics, and what parses has legal pathway ids.
    #[test]
    fn any_query_is_parsed_or_refused(pathway in ".{0,40}", throughput in ".{0,20}") {
        let query = pairs(&[("_DASH_pathway", &pathway), ("_DASH_throughput", &throughput)]);
        if let Ok(parsed) = SteeringQuery::parse(Protocol::Dash, &query) {
            proptest::prop_assert!(parsed.reports.iter().all(|r| is_pathway_id(&r.pathway)));
        }
    }
}
