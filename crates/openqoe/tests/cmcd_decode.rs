//! `openqoe cmcd decode` on each capture form an operator pastes.
mod support;

use serde_json::{json, Value};
use support::run_with_stdin;

fn decode(input: &str) -> (bool, Value, String) {
    let output = run_with_stdin(&["cmcd", "decode", "-"], input);
    let json = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (
        output.status.success(),
        json,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn decodes_every_capture_form() {
    let cases = [
        ("raw payload", "br=(3200;v),bs,sid=\"s-1\",v=2"),
        (
            "query string",
            "https://cdn.example/v/seg_1.m4s?CMCD=br%3D(3200%3Bv)%2Cbs%2Csid%3D%22s-1%22%2Cv%3D2",
        ),
        (
            "header lines",
            "CMCD-Object: br=(3200;v)\nCMCD-Status: bs\nCMCD-Session: sid=\"s-1\",v=2\n",
        ),
    ];
    for (name, input) in cases {
        let (ok, json, stderr) = decode(input);
        assert!(ok, "{name}: {stderr}");
        assert_eq!(
            json["keys"],
            json!({"br": [{"value": 3200, "ot": "v"}], "bs": true, "sid": "s-1", "v": 2}),
            "{name}"
        );
    }
    let (ok, json, _) = decode("e=ps,sta=s,ts=1,v=2\ne=ps,sta=p,ts=2,v=2\nbr=(1,v=2\n");
    assert!(ok);
    assert_eq!(json[1]["keys"]["sta"], "p");
    assert!(
        json[2]["error"]
            .as_str()
            .unwrap()
            .contains("not a structured-field dictionary"),
        "{json}"
    );
}

#[test]
fn decodes_cmsd_headers() {
    let (ok, json, stderr) =
        decode("CMSD-Dynamic: \"CDNB-3ak1\";etp=96;rtt=8,\"CDNA-312.663\";etp=115;rtt=16;mb=5000");
    assert!(ok, "{stderr}");
    assert_eq!(
        json[1],
        json!({"server": "CDNA-312.663", "params": {"etp": 115, "mb": 5000, "rtt": 16}})
    );
    let (ok, json, _) = decode("CMSD-Static: ot=v,sf=h,st=v,d=5000,br=2000,n=\"OriginProviderA\"");
    assert!(ok);
    assert_eq!(json["keys"]["n"], "OriginProviderA");
}

#[test]
fn refuses_garbage_with_a_reason() {
    let (ok, _, stderr) = decode("br=(1),v=9");
    assert!(!ok);
    assert!(
        stderr.contains("version 9 is above the supported version 2"),
        "{stderr}"
    );
}
