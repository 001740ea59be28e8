//! Event-mode records (CTA-5004-B §5) as openqoe events: a player that reports CMCD v2 needs no
//! SDK. Each record maps to wire v1 events on its own, with no memory of earlier records, so
//! records that arrive late, twice or out of order give the same view.
//!
//! The view is keyed by (`sid`, `cid`). A record's `sn` (or, without one, its `ts`) orders it;
//! the events of one record take seqs `sn·8 + k`. The `sta` state machine becomes events:
//! `s` play_requested, `r` and `w` stall_start, `k` seek_start, `a` pause, `e` ended, `f` a fatal
//! error, `q` view_end; `p` ends whatever was in the way — first_frame, stall_end, seek_end, play —
//! and the metrics ignore the ones that close nothing. `br` on `e=bc` is a rendition change, `e=e`
//! an error, `e=t` a heartbeat, `e=rr` a `request` (per-host request statistics, CMSD decoded).
use std::collections::BTreeMap;

use openqoe_model::{Batch, BatchError, ServerTime};
use serde_json::{json, Map, Value};

use base64::Engine;

use crate::{decode_cmsd_dynamic, decode_cmsd_static, CmcdPayload, CmcdValue};

/// Events one record can become, at most: seqs are `sn·EVENTS_PER_RECORD + k`.
const EVENTS_PER_RECORD: u64 = 8;

/// A view id for (`sid`, `cid`): `cmcd-` and a stable 64-bit FNV-1a hash, within the wire's
/// 64-character `[A-Za-z0-9_.-]` rule whatever the ids hold.
pub fn view_id(sid: &str, cid: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in sid.bytes().chain([0]).chain(cid.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("cmcd-{hash:016x}")
}

/// What the records of one body say about one view.
#[derive(Default)]
struct RecordedView {
    props: Map<String, Value>,
    session_id: Option<String>,
    events: Vec<Value>,
}

/// Why a record was left out of the views.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedRecord {
    /// Index of the record in the body.
    pub index: usize,
    /// Why.
    pub reason: String,
}

/// Turns the records of one event-mode body into one batch per view, received at `received_at`.
///
/// The body's latest `ts` stands in for the wire's `sent_at`, so device clock skew is corrected
/// as for SDK beacons.
pub fn records_to_batches(
    records: &[CmcdPayload],
    received_at: ServerTime,
) -> (Vec<Batch>, Vec<SkippedRecord>) {
    let mut skipped = Vec::new();
    let mut views: BTreeMap<String, RecordedView> = BTreeMap::new();
    let sent_at = records.iter().filter_map(|r| r.integer("ts")).max();
    for (index, record) in records.iter().enumerate() {
        let Some(ts) = record.integer("ts") else {
            skipped.push(SkippedRecord {
                index,
                reason: "ts: missing (every event-mode record has one)".into(),
            });
            continue;
        };
        let Some(sid) = record.text("sid") else {
            skipped.push(SkippedRecord {
                index,
                reason: "sid: missing; a view needs a session id".into(),
            });
            continue;
        };
        let cid = record.text("cid").unwrap_or("");
        let order = record.integer("sn").unwrap_or(ts).max(0) as u64;
        let view = views.entry(view_id(sid, cid)).or_default();
        view.session_id = Some(sid.to_owned());
        view.props.extend(record_props(record));
        for (k, mut event) in record_events(record).into_iter().enumerate() {
            event["seq"] = json!(order
                .saturating_mul(EVENTS_PER_RECORD)
                .saturating_add(k as u64));
            event["ts"] = json!(ts);
            view.events.push(event);
        }
    }
    let mut batches = Vec::new();
    for (
        id,
        RecordedView {
            props,
            session_id: session,
            events,
        },
    ) in views
    {
        let body = json!({"v": 1, "sent_at": sent_at, "view": {"id": id, "session_id": session, "props": props}, "events": events});
        match Batch::parse(body.to_string().as_bytes(), received_at) {
            Ok(batch) => batches.push(batch),
            Err(BatchError { at, reason }) => skipped.push(SkippedRecord {
                index: 0,
                reason: format!("{at}: {reason}"),
            }),
        }
    }
    (batches, skipped)
}

/// Dimensions a record carries: content, stream type and format, host, and the source.
fn record_props(record: &CmcdPayload) -> Map<String, Value> {
    let mut props = Map::new();
    props.insert("source".into(), json!("cmcd"));
    if let Some(cid) = record.text("cid") {
        props.insert("content_id".into(), json!(cid));
    }
    match record.text("st") {
        Some("v") => {
            props.insert("stream_type".into(), json!("vod"));
        }
        Some("l" | "ll") => {
            props.insert("stream_type".into(), json!("live"));
        }
        _ => {}
    }
    if let Some(format) = record.text("sf") {
        let name = match format {
            "d" => "dash",
            "h" => "hls",
            "s" => "smooth",
            "e" => "hesp",
            _ => "other",
        };
        props.insert("streaming_format".into(), json!(name));
    }
    if let Some(host) = record.text("h") {
        props.insert("cdn_host".into(), json!(host));
    }
    props
}

/// A response time at or above this (one hour) is not a duration.
const MAX_RESPONSE_MS: i64 = 3_600_000;

/// A `request` event from an `e=rr` record: the URL's host, status, TTFB/TTLB, and the CMSD
/// headers the player copied (base64, CTA-5004-B `cmsds`/`cmsdd`) decoded — or why they were not.
fn response_event(record: &CmcdPayload) -> Value {
    let mut request = json!({"type": "request"});
    if let Some(url) = record.text("url") {
        request["url"] = json!(url);
        if let Some(host) = url_host(url) {
            request["host"] = json!(host);
        }
    }
    if let Some(status) = record.integer("rc") {
        request["status"] = json!(status);
    }
    let mut ignored = Vec::new();
    for (key, field) in [
        ("ttfb", "ttfb_ms"),
        ("ttfbb", "ttfbb_ms"),
        ("ttlb", "ttlb_ms"),
    ] {
        match record.integer(key) {
            Some(ms) if (0..MAX_RESPONSE_MS).contains(&ms) => request[field] = json!(ms),
            // dash.js 5.2 sends `ttfb` as an epoch timestamp: right type, not a duration.
            Some(ms) => ignored.push(format!("{key}={ms} is not a duration in ms")),
            None => {}
        }
    }
    if !ignored.is_empty() {
        request["ignored"] = json!(ignored);
    }
    // Each copy lands as `field` (decoded) or `field_error` (why not).
    let mut copy = |key: &str, field: &str, decode: &dyn Fn(&str) -> Result<Value, String>| {
        let Some(encoded) = record.text(key) else {
            return;
        };
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|e| format!("not base64 ({e})"))
            .and_then(|bytes| String::from_utf8(bytes).map_err(|_| "not UTF-8".to_owned()))
            .and_then(|text| decode(&text));
        match decoded {
            Ok(value) => request[field] = value,
            Err(reason) => request[format!("{field}_error")] = json!(format!("{key}: {reason}")),
        }
    };
    copy("cmsds", "cmsd_static", &|t| {
        decode_cmsd_static(t)
            .map(|c| json!(c.keys))
            .map_err(|e| e.to_string())
    });
    copy("cmsdd", "cmsd_dynamic", &|t| {
        decode_cmsd_dynamic(t)
            .map(|h| json!(h))
            .map_err(|e| e.to_string())
    });
    request
}

/// `host[:port]` of an absolute URL (`scheme://host/…`); `None` for a relative one.
fn url_host(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?;
    (!host.is_empty()).then_some(host)
}

/// The wire events (without seq and ts) one record stands for, in order.
fn record_events(record: &CmcdPayload) -> Vec<Value> {
    let mut events = Vec::new();
    let event = record.text("e");
    let error_code = || match record.keys.get("ec") {
        Some(CmcdValue::StringList(codes)) if !codes.is_empty() => codes[0].value.clone(),
        _ => "cmcd".to_owned(),
    };
    // Rendition first: the bitrate in force from this moment on.
    let video_kbps = match record.keys.get("br") {
        Some(CmcdValue::IntegerList(items)) => items
            .iter()
            .find(|i| i.ot.as_deref() == Some("v"))
            .or(items.first())
            .map(|i| i.value),
        _ => None,
    };
    if let (Some("bc"), Some(kbps)) = (event, video_kbps) {
        // CMCD carries no resolution: width and height stay 0 (unknown), so scaling is not measured.
        events.push(json!({"type": "rendition_change", "bitrate_bps": kbps.max(0) * 1000, "width": 0, "height": 0}));
    }
    match record.text("sta") {
        Some("s") if event == Some("ps") => events.push(json!({"type": "play_requested"})),
        Some("p") if event == Some("ps") => {
            for kind in ["first_frame", "stall_end", "seek_end", "play"] {
                events.push(json!({"type": kind}));
            }
        }
        // `w` is listed but undefined in CTA-5004-B (CML: "waiting"); dash.js reports it for the
        // element's `waiting` when it thinks playback had not begun. The metrics classify the stall
        // by when it happens (startup, seek, rebuffer), so it is a stall like `r`.
        Some("r" | "w") if event == Some("ps") => events.push(json!({"type": "stall_start"})),
        Some("k") if event == Some("ps") => events.push(json!({"type": "seek_start"})),
        Some("a") if event == Some("ps") => events.push(json!({"type": "pause"})),
        Some("e") if event == Some("ps") => events.push(json!({"type": "ended"})),
        // Heartbeats repeat the current state; a failure counts where it is reported.
        Some("f") if matches!(event, Some("ps" | "e")) => {
            events.push(json!({"type": "error", "code": error_code(), "fatal": true}))
        }
        Some("q") if event == Some("ps") => {
            events.push(json!({"type": "view_end", "reason": "quit"}))
        }
        _ => {}
    }
    if event == Some("e") && record.text("sta") != Some("f") {
        events.push(json!({"type": "error", "code": error_code(), "fatal": false}));
    }
    if event == Some("rr") {
        events.push(response_event(record));
    }
    if event == Some("t") {
        let mut heartbeat = json!({"type": "heartbeat"});
        let mut set = |name: &str, value: Option<i64>| {
            if let Some(v) = value.filter(|v| *v >= 0) {
                heartbeat[name] = json!(v);
            }
        };
        set("playhead_ms", record.integer("pt"));
        set("buffer_ms", record.integers("bl").first().copied());
        set(
            "bandwidth_bps",
            record.integers("mtp").first().map(|kbps| kbps * 1000),
        );
        set("dropped_frames", record.integer("dfa"));
        set("live_latency_ms", record.integer("ltc"));
        events.push(heartbeat);
    }
    events
}
