//! CMCD request mode from CDN access logs (CTA-5004 §3): each logged request carries a payload in
//! its `CMCD=` query argument or its CMCD headers. Three formats, each documented with a sample:
//!
//! - `nginx`: the `combined` format, optionally followed by the four CMCD request headers
//!   (`log_format cmcd '$remote_addr - $remote_user [$time_local] "$request" $status
//!   $body_bytes_sent "$http_referer" "$http_user_agent" "$host" "$http_cmcd_request"
//!   "$http_cmcd_object" "$http_cmcd_status" "$http_cmcd_session"';`), e.g.
//!   `203.0.113.9 - - [25/Nov/2026:02:00:01 +0000] "GET /v/seg_1.m4s?CMCD=br%3D3200%2Csid%3D%22s1%22 HTTP/1.1" 200 812345 "-" "Mozilla/5.0"`
//! - `cloudfront`: standard (W3C) logs; the `#Fields:` line names the tab-separated columns and
//!   the payload is in `cs-uri-query`, e.g. `2026-11-25<TAB>02:00:01<TAB>FRA56-C1<TAB>812345<TAB>…`.
//! - `fastly`: JSON lines from a logging endpoint with `format = "{"timestamp":"%{begin:%Y-%m-%dT%H:%M:%SZ}t",
//!   "host":"%{req.http.host}V","url":"%{json.escape(req.url)}V","status":%{resp.status}V,
//!   "bytes":%{resp.body_bytes_written}V,"cmcd_request":"%{json.escape(req.http.CMCD-Request)}V",…}"`.
use std::collections::BTreeMap;

use openqoe_model::{Batch, ServerTime};
use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::{decode_request, CmcdPayload, CmcdValue};

/// A CDN log format `openqoe import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// nginx `combined`, optionally with the CMCD headers appended.
    Nginx,
    /// CloudFront standard (W3C extended) logs.
    Cloudfront,
    /// Fastly JSON lines.
    Fastly,
}

/// One logged request with its CMCD.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedRequest {
    /// When the request was served (the server's clock), epoch ms.
    pub ts: i64,
    /// The host that served it (the CDN hostname), when logged.
    pub host: Option<String>,
    /// HTTP status.
    pub status: u16,
    /// The request's CMCD payload.
    pub cmcd: CmcdPayload,
}

/// Reads a log: the requests that carry CMCD, and for each other line the reason it was skipped.
pub fn read_log(format: LogFormat, text: &str) -> (Vec<LoggedRequest>, Vec<(usize, String)>) {
    let mut requests = Vec::new();
    let mut skipped = Vec::new();
    let mut cloudfront_fields: Vec<String> = Vec::new();
    for (number, line) in text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
    {
        if line.trim().is_empty() {
            continue;
        }
        let parsed = match format {
            LogFormat::Nginx => nginx_line(line),
            LogFormat::Fastly => fastly_line(line),
            LogFormat::Cloudfront => {
                if let Some(fields) = line.strip_prefix("#Fields:") {
                    cloudfront_fields = fields.split_whitespace().map(str::to_owned).collect();
                    continue;
                }
                if line.starts_with('#') {
                    continue;
                }
                cloudfront_line(&cloudfront_fields, line)
            }
        };
        match parsed {
            Ok(request) => requests.push(request),
            Err(reason) => skipped.push((number, reason)),
        }
    }
    (requests, skipped)
}

fn cmcd_of(query: Option<&str>, headers: &[(&str, &str)]) -> Result<CmcdPayload, String> {
    match decode_request(query, headers.iter().copied()) {
        Some(Ok(payload)) => Ok(payload),
        Some(Err(e)) => Err(e.to_string()),
        None => Err("no CMCD in the query or headers".into()),
    }
}

/// Splits an nginx line into fields: `"…"` and `[…]` are one field each.
fn nginx_fields(line: &str) -> Vec<&str> {
    let mut fields = Vec::new();
    let mut rest = line.trim();
    while !rest.is_empty() {
        let (field, after) = match rest.as_bytes()[0] {
            b'"' => match rest[1..].find('"') {
                Some(end) => (&rest[1..=end], &rest[end + 2..]),
                None => (&rest[1..], ""),
            },
            b'[' => match rest.find(']') {
                Some(end) => (&rest[1..end], &rest[end + 1..]),
                None => (&rest[1..], ""),
            },
            _ => match rest.find(' ') {
                Some(end) => (&rest[..end], &rest[end..]),
                None => (rest, ""),
            },
        };
        fields.push(field);
        rest = after.trim_start();
    }
    fields
}

fn nginx_line(line: &str) -> Result<LoggedRequest, String> {
    let fields = nginx_fields(line);
    if fields.len() < 9 {
        return Err(format!(
            "expected the combined format (9 fields), got {}",
            fields.len()
        ));
    }
    let when = PrimitiveDateTime::parse(
        fields[3].split(' ').next().unwrap_or(""),
        format_description!("[day]/[month repr:short]/[year]:[hour]:[minute]:[second]"),
    )
    .map_err(|_| {
        format!(
            "time: expected 25/Nov/2026:02:00:01 +0000, got {:?}",
            fields[3]
        )
    })?;
    let offset = fields[3]
        .split(' ')
        .nth(1)
        .and_then(utc_offset_seconds)
        .unwrap_or(0);
    let ts = (when.assume_utc().unix_timestamp() - offset) * 1000;
    let target = fields[4].split(' ').nth(1).ok_or_else(|| {
        format!(
            "request: expected \"GET /path HTTP/1.1\", got {:?}",
            fields[4]
        )
    })?;
    let status = fields[5]
        .parse()
        .map_err(|_| format!("status: expected a number, got {:?}", fields[5]))?;
    // After the combined fields: the host, then the CMCD header values (their shard does not
    // matter to the dictionary), each with nginx's \xHH escaping undone.
    let logged = |field: Option<&&str>| {
        field
            .filter(|f| **f != "-" && !f.is_empty())
            .map(|f| unescape_nginx(f))
    };
    let host = logged(fields.get(9));
    let values: Vec<String> = (10..fields.len())
        .filter_map(|i| logged(fields.get(i)))
        .collect();
    let headers: Vec<(&str, &str)> = values
        .iter()
        .map(|v| ("CMCD-Request", v.as_str()))
        .collect();
    let cmcd = cmcd_of(target.split_once('?').map(|(_, q)| q), &headers)?;
    Ok(LoggedRequest {
        ts,
        host,
        status,
        cmcd,
    })
}

/// Undoes nginx's log escaping: `\x22` for `"`, `\x5C` for `\`, and other bytes outside
/// printable ASCII.
fn unescape_nginx(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = (bytes[i] == b'\\' && bytes.get(i + 1) == Some(&b'x'))
            .then(|| {
                field
                    .get(i + 2..i + 4)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
            })
            .flatten();
        match hex {
            Some(byte) => {
                out.push(byte);
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn utc_offset_seconds(text: &str) -> Option<i64> {
    let sign = match text.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let hours: i64 = text.get(1..3)?.parse().ok()?;
    let minutes: i64 = text.get(3..5)?.parse().ok()?;
    Some(sign * (hours * 3600 + minutes * 60))
}

fn cloudfront_line(fields: &[String], line: &str) -> Result<LoggedRequest, String> {
    if fields.is_empty() {
        return Err("no #Fields: line before the first record".into());
    }
    let values: Vec<&str> = line.split('\t').collect();
    let get = |name: &str| {
        fields
            .iter()
            .position(|f| f == name)
            .and_then(|i| values.get(i).copied())
            .filter(|v| *v != "-")
    };
    let date = get("date").ok_or("date: missing")?;
    let clock = get("time").ok_or("time: missing")?;
    let ts = OffsetDateTime::parse(&format!("{date}T{clock}Z"), &Rfc3339)
        .map_err(|_| format!("date/time: expected 2026-11-25 and 02:00:01, got {date} {clock}"))?
        .unix_timestamp()
        * 1000;
    let status = get("sc-status").and_then(|s| s.parse().ok()).unwrap_or(0);
    let host = get("x-host-header")
        .or_else(|| get("cs(Host)"))
        .map(str::to_owned);
    let cmcd = cmcd_of(get("cs-uri-query"), &[])?;
    Ok(LoggedRequest {
        ts,
        host,
        status,
        cmcd,
    })
}

fn fastly_line(line: &str) -> Result<LoggedRequest, String> {
    let record: Value =
        serde_json::from_str(line).map_err(|e| format!("expected a JSON object: {e}"))?;
    let text = |name: &str| {
        record
            .get(name)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
    };
    let ts = match record.get("timestamp") {
        Some(Value::Number(ms)) => ms.as_i64().ok_or("timestamp: expected epoch ms")?,
        Some(Value::String(t)) => {
            (OffsetDateTime::parse(t, &Rfc3339)
                .map_err(|_| format!("timestamp: expected RFC 3339, got {t:?}"))?
                .unix_timestamp_nanos()
                / 1_000_000) as i64
        }
        _ => return Err("timestamp: missing".into()),
    };
    let status = record.get("status").and_then(Value::as_u64).unwrap_or(0) as u16;
    let headers: Vec<(&str, &str)> = [
        ("CMCD-Request", "cmcd_request"),
        ("CMCD-Object", "cmcd_object"),
        ("CMCD-Status", "cmcd_status"),
        ("CMCD-Session", "cmcd_session"),
    ]
    .into_iter()
    .filter_map(|(header, field)| text(field).map(|v| (header, v)))
    .collect();
    let query = text("url")
        .and_then(|url| url.split_once('?'))
        .map(|(_, q)| q);
    let cmcd = cmcd_of(query, &headers)?;
    Ok(LoggedRequest {
        ts,
        host: text("host").map(str::to_owned),
        status,
        cmcd,
    })
}

/// Events one request can become, at most: seqs are `index·5 + k`.
const EVENTS_PER_REQUEST: u64 = 5;

/// Turns logged requests into views keyed by (`sid`, `cid`).
///
/// Request mode has no events, so they are inferred (documented in docs/cmcd.md): the first
/// request is the play request; startup ends at the first request without `su`; `bs` marks a
/// stall since the previous request, lasting `bsd` when the player sent it (v2) and zero
/// otherwise (counted, not timed); a new video `br` is a rendition change; `mtp` and `bl` become
/// heartbeats; each request is also a `request` event (host, status) for the per-host statistics;
/// the view ends with its last request's object (`d`). Times are the CDN's clock.
pub fn requests_to_batches(
    mut requests: Vec<LoggedRequest>,
    received_at: ServerTime,
) -> Vec<Batch> {
    requests.sort_by_key(|r| r.ts);
    let mut views: BTreeMap<String, Vec<LoggedRequest>> = BTreeMap::new();
    for request in requests {
        let Some(sid) = request.cmcd.text("sid") else {
            continue;
        };
        let id = crate::view_id(sid, request.cmcd.text("cid").unwrap_or(""));
        views.entry(id).or_default().push(request);
    }
    views
        .into_iter()
        .filter_map(|(id, requests)| view_batch(&id, &requests, received_at))
        .collect()
}

fn view_batch(id: &str, requests: &[LoggedRequest], received_at: ServerTime) -> Option<Batch> {
    let first = requests.first()?;
    let mut props = Map::new();
    props.insert("source".into(), json!("cmcd-log"));
    let mut events: Vec<Value> = Vec::new();
    let mut started = false;
    let mut bitrate = None;
    for (index, request) in requests.iter().enumerate() {
        let cmcd = &request.cmcd;
        if let Some(cid) = cmcd.text("cid") {
            props.insert("content_id".into(), json!(cid));
        }
        if let Some(host) = &request.host {
            props.insert("cdn_host".into(), json!(host));
        }
        let mut emit = |k: u64, ts: i64, event: Value| {
            let mut event = event;
            event["seq"] = json!(index as u64 * EVENTS_PER_REQUEST + k);
            event["ts"] = json!(ts);
            events.push(event);
        };
        let video = matches!(cmcd.text("ot"), None | Some("v" | "av"));
        let kbps = match cmcd.keys.get("br") {
            Some(CmcdValue::IntegerList(items)) if video => items.first().map(|i| i.value),
            _ => None,
        };
        // A stall the request reports happened before it: its events come first.
        let stalled = started && cmcd.flag("bs");
        if stalled {
            let stalled_ms = cmcd.integers("bsd").first().copied().unwrap_or(0).max(0);
            emit(0, request.ts - stalled_ms, json!({"type": "stall_start"}));
            emit(1, request.ts, json!({"type": "stall_end"}));
        }
        if index == 0 {
            emit(0, request.ts, json!({"type": "play_requested"}));
        }
        if let Some(kbps) = kbps.filter(|k| Some(*k) != bitrate) {
            bitrate = Some(kbps);
            emit(
                2,
                request.ts,
                json!({"type": "rendition_change", "bitrate_bps": kbps.max(0) * 1000, "width": 0, "height": 0}),
            );
        }
        if !started && !cmcd.flag("su") && index > 0 {
            started = true;
            emit(3, request.ts, json!({"type": "first_frame"}));
        } else if !stalled {
            let mut heartbeat = json!({"type": "heartbeat"});
            if let Some(mtp) = cmcd.integers("mtp").first() {
                heartbeat["bandwidth_bps"] = json!(mtp.max(&0) * 1000);
            }
            if let Some(bl) = cmcd.integers("bl").first() {
                heartbeat["buffer_ms"] = json!(bl.max(&0));
            }
            emit(3, request.ts, heartbeat);
        }
        if let Some(host) = &request.host {
            emit(
                4,
                request.ts,
                json!({"type": "request", "host": host, "status": request.status}),
            );
        }
    }
    let last = requests.last()?;
    let end = last.ts + last.cmcd.integer("d").unwrap_or(0).max(0);
    events.push(json!({"seq": requests.len() as u64 * EVENTS_PER_REQUEST, "ts": end, "type": "view_end", "reason": "log_end"}));
    let body = json!({"v": 1, "view": {"id": id, "session_id": first.cmcd.text("sid"), "props": props}, "events": events});
    Batch::parse(body.to_string().as_bytes(), received_at).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NGINX: &str = r#"203.0.113.9 - - [25/Nov/2026:03:00:01 +0100] "GET /v/seg_1.m4s?CMCD=br%3D3200%2Cot%3Dv%2Csid%3D%22s1%22%2Csu HTTP/1.1" 200 812345 "-" "Mozilla/5.0 (X11)" "cdn-a.example" "-" "-" "-" "-""#;

    #[test]
    fn reads_each_format() {
        let (nginx, skipped) = read_log(LogFormat::Nginx, NGINX);
        assert!(skipped.is_empty(), "{skipped:?}");
        assert_eq!(
            nginx[0].ts, 1_795_572_001_000,
            "the +0100 offset is applied"
        );
        assert_eq!(
            (nginx[0].status, nginx[0].host.as_deref()),
            (200, Some("cdn-a.example"))
        );
        assert_eq!(nginx[0].cmcd.integers("br"), vec![3200]);

        let headers = r#"203.0.113.9 - - [25/Nov/2026:02:00:01 +0000] "GET /v/seg_1.m4s HTTP/1.1" 200 10 "-" "UA" "cdn-b.example" "bl=(21300),mtp=(25400)" "br=(3200;v),ot=v" "bs" "sid=\x22s2\x22,v=2""#;
        let (from_headers, _) = read_log(LogFormat::Nginx, headers);
        assert!(from_headers[0].cmcd.flag("bs"));
        assert_eq!(from_headers[0].cmcd.text("sid"), Some("s2"));

        let cloudfront = "#Version: 1.0\n#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query x-host-header\n2026-11-25\t02:00:01\tFRA56-C1\t812345\t203.0.113.9\tGET\td111.cloudfront.net\t/v/seg_1.m4s\t200\t-\tMozilla/5.0\tCMCD=br%3D3200%2Csid%3D%22s3%22\tvideo.example\n";
        let (cf, skipped) = read_log(LogFormat::Cloudfront, cloudfront);
        assert!(skipped.is_empty(), "{skipped:?}");
        assert_eq!(
            (cf[0].ts, cf[0].host.as_deref(), cf[0].cmcd.text("sid")),
            (1_795_572_001_000, Some("video.example"), Some("s3"))
        );

        let fastly = r#"{"timestamp":"2026-11-25T02:00:01Z","host":"cdn-c.example","url":"/v/seg_1.m4s","status":200,"bytes":812345,"cmcd_request":"bl=(21300)","cmcd_object":"br=(3200)","cmcd_session":"sid=\"s4\",v=2"}"#;
        let (fa, skipped) = read_log(LogFormat::Fastly, fastly);
        assert!(skipped.is_empty(), "{skipped:?}");
        assert_eq!(
            (fa[0].ts, fa[0].cmcd.text("sid"), fa[0].cmcd.integers("bl")),
            (1_795_572_001_000, Some("s4"), vec![21300])
        );
    }

    #[test]
    fn names_the_line_and_reason_it_skips() {
        let log = format!("{NGINX}\nnot a log line\n203.0.113.9 - - [25/Nov/2026:02:00:01 +0000] \"GET /plain.m4s HTTP/1.1\" 200 1 \"-\" \"UA\"\n");
        let (requests, skipped) = read_log(LogFormat::Nginx, &log);
        assert_eq!(requests.len(), 1);
        assert_eq!(
            skipped,
            vec![
                (2, "expected the combined format (9 fields), got 4".into()),
                (3, "no CMCD in the query or headers".into())
            ]
        );
        let (_, skipped) = read_log(LogFormat::Cloudfront, "2026-11-25\t02:00:01");
        assert_eq!(skipped[0].1, "no #Fields: line before the first record");
        let (_, skipped) = read_log(LogFormat::Fastly, "{\"url\": \"/a\"}");
        assert_eq!(skipped[0].1, "timestamp: missing");
    }

    fn request(ms: i64, cmcd: &str) -> LoggedRequest {
        LoggedRequest {
            ts: 1_000_000 + ms,
            host: Some("cdn-a.example".into()),
            status: 200,
            cmcd: crate::decode_payload(cmcd).unwrap(),
        }
    }

    #[test]
    fn infers_startup_stalls_and_bitrate() {
        let requests = vec![
            request(0, "br=(800),d=2000,ot=v,sid=\"s\",su,v=2"),
            request(900, "br=(800),d=2000,ot=v,sid=\"s\",su,v=2"),
            request(1500, "br=(800),d=2000,ot=v,sid=\"s\",v=2"),
            request(9000, "br=(3000),bs,bsd=(1200),d=2000,ot=v,sid=\"s\",v=2"),
            request(
                12000,
                "bl=(8000),br=(3000),d=2000,mtp=(9000),ot=v,sid=\"s\",v=2",
            ),
        ];
        let batches = requests_to_batches(requests, ServerTime(0));
        assert_eq!(batches.len(), 1);
        let requests = batches[0]
            .events
            .iter()
            .filter(|e| e.kind.name() == "request" && e.fields()["host"] == "cdn-a.example")
            .count();
        assert_eq!(
            requests, 5,
            "every logged request feeds the per-host statistics"
        );
        let kinds: Vec<(i64, &str)> = batches[0]
            .events
            .iter()
            .filter(|e| e.kind.name() != "request")
            .map(|e| (e.ts.0 - 1_000_000, e.kind.name()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (0, "play_requested"),
                (0, "rendition_change"),
                (0, "heartbeat"),
                (900, "heartbeat"),
                (1500, "first_frame"),
                (7800, "stall_start"),
                (9000, "stall_end"),
                (9000, "rendition_change"),
                (12000, "heartbeat"),
                (14000, "view_end"),
            ]
        );
        assert_eq!(batches[0].view.props["source"], json!("cmcd-log"));
    }
}
