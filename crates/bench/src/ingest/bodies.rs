//! Request bodies: wire v1 batches built once, then patched per request.
use serde_json::json;

/// Epoch milliseconds as 13 digits (enough until the year 2286).
pub(crate) const MS_WIDTH: usize = 13;
/// A view's identity: run (13 digits) `-` connection (5) `-` view number (9).
pub(crate) const IDENTITY_WIDTH: usize = 29;
/// Distinct props combinations the views take in turn.
pub(crate) const PROPS_VARIANTS: usize = 16;

/// The batches of one view.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ViewShape {
    pub(crate) batch_events: usize,
    pub(crate) view_batches: usize,
}

/// One request (or body) with fixed-width slots to patch; offsets index `bytes`.
#[derive(Debug, Clone)]
pub(crate) struct BodyTemplate {
    pub(crate) bytes: Vec<u8>,
    /// Where the view's identity goes (in the view id, viewer id and session id).
    pub(crate) identity_at: Vec<usize>,
    pub(crate) sent_at_at: usize,
    /// Where each event's `ts` goes, in event order.
    pub(crate) ts_at: Vec<usize>,
    /// Length of the HTTP head before the body (0 for a bare body).
    pub(crate) head_len: usize,
}

/// Writes `value` as decimal digits filling `slot`, zero-padded on the left.
pub(crate) fn put_digits(slot: &mut [u8], mut value: u64) {
    for digit in slot.iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
    debug_assert_eq!(value, 0, "value wider than its slot");
}

impl BodyTemplate {
    /// Builds the wire v1 body of batch `position` of a view shaped `shape`, with `props` (a JSON
    /// object) and every slot zeroed.
    pub(crate) fn build(key: &str, props: &str, position: usize, shape: ViewShape) -> BodyTemplate {
        let mut text = String::with_capacity(300 + props.len() + shape.batch_events * 130);
        let mut identity_at = Vec::new();
        let mut ts_at = Vec::with_capacity(shape.batch_events);
        let zeros = |text: &mut String, width: usize| text.extend(std::iter::repeat_n('0', width));
        text.push_str(&format!(r#"{{"v":1,"key":{},"sent_at":"#, json!(key)));
        let sent_at_at = text.len();
        zeros(&mut text, MS_WIDTH);
        for (i, prefix) in [
            r#","view":{"id":"bench-"#,
            r#"","viewer_id":"u-"#,
            r#"","session_id":"s-"#,
        ]
        .into_iter()
        .enumerate()
        {
            text.push_str(prefix);
            identity_at.push(text.len());
            zeros(&mut text, IDENTITY_WIDTH);
            if i == 2 {
                text.push('"');
            }
        }
        text.push_str(&format!(r#","props":{props}}},"events":["#));
        let total = shape.batch_events * shape.view_batches;
        for i in 0..shape.batch_events {
            let seq = position * shape.batch_events + i;
            if i > 0 {
                text.push(',');
            }
            text.push_str(&format!(r#"{{"seq":{seq},"ts":"#));
            ts_at.push(text.len());
            zeros(&mut text, MS_WIDTH);
            text.push_str(&format!(",{}}}", event_fields(seq, total)));
        }
        text.push_str("]}");
        BodyTemplate {
            bytes: text.into_bytes(),
            identity_at,
            sent_at_at,
            ts_at,
            head_len: 0,
        }
    }

    /// Puts `head` (which may depend on the body's length) before the body.
    pub(crate) fn with_head(self, head: impl FnOnce(usize) -> String) -> BodyTemplate {
        let head = head(self.bytes.len());
        let shift = head.len();
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&self.bytes);
        BodyTemplate {
            bytes,
            identity_at: self.identity_at.iter().map(|at| at + shift).collect(),
            sent_at_at: self.sent_at_at + shift,
            ts_at: self.ts_at.iter().map(|at| at + shift).collect(),
            head_len: shift,
        }
    }

    /// Copies the template into `out` and fills its slots: events at `first_ts_ms`, +1, +2…;
    /// sent at the last event.
    pub(crate) fn fill(
        &self,
        out: &mut Vec<u8>,
        identity: &[u8; IDENTITY_WIDTH],
        first_ts_ms: u64,
    ) {
        out.clear();
        out.extend_from_slice(&self.bytes);
        for &at in &self.identity_at {
            out[at..at + IDENTITY_WIDTH].copy_from_slice(identity);
        }
        for (i, &at) in self.ts_at.iter().enumerate() {
            put_digits(&mut out[at..at + MS_WIDTH], first_ts_ms + i as u64);
        }
        let sent_at = first_ts_ms + self.ts_at.len().saturating_sub(1) as u64;
        put_digits(
            &mut out[self.sent_at_at..self.sent_at_at + MS_WIDTH],
            sent_at,
        );
    }
}

/// The fields after `seq` and `ts` of event `seq` of a view of `total` events: a play attempt
/// with startup, heartbeats, a rendition change every 100 events, a short stall every 250, and
/// `ended` and `view_end` last.
pub(crate) fn event_fields(seq: usize, total: usize) -> String {
    const LADDER: [(u64, u32, u32); 4] = [
        (800_000, 640, 360),
        (1_500_000, 960, 540),
        (3_000_000, 1280, 720),
        (6_000_000, 1920, 1080),
    ];
    let rendition = |step: usize| {
        let (bps, width, height) = LADDER[step % LADDER.len()];
        format!(
            r#""type":"rendition_change","bitrate_bps":{bps},"width":{width},"height":{height},"fps":30,"codec":"avc1.64001f""#
        )
    };
    match seq {
        s if s + 1 == total => r#""type":"view_end","reason":"unload""#.into(),
        s if s + 2 == total && total > 6 => r#""type":"ended""#.into(),
        0 => r#""type":"player_init","page_load_ms":800"#.into(),
        1 => r#""type":"player_ready""#.into(),
        2 => r#""type":"play_requested""#.into(),
        3 => rendition(1),
        4 => r#""type":"first_frame""#.into(),
        s if s % 250 == 120 => r#""type":"stall_start""#.into(),
        s if s % 250 == 121 => r#""type":"stall_end""#.into(),
        s if s % 100 == 60 => rendition(s / 100),
        s => format!(
            r#""type":"heartbeat","playhead_ms":{},"buffer_ms":{},"bandwidth_bps":{},"dropped_frames":{}"#,
            s * 1000,
            8_000 + s * 7_919 % 20_000,
            4_000_000 + s * 104_729 % 3_000_000,
            s / 50
        ),
    }
}

/// Props (a JSON object) of variant `index`: the usual dimensions, combined differently.
pub(crate) fn props_variant(index: usize) -> String {
    const CDNS: [&str; 3] = ["cdn-a", "cdn-b", "cdn-c"];
    const COUNTRIES: [&str; 7] = ["US", "DE", "GB", "FR", "BR", "IN", "JP"];
    const DEVICES: [(&str, &str, &str, &str); 4] = [
        ("desktop", "Windows", "Chrome", "hls.js"),
        ("mobile", "Android", "Chrome", "ExoPlayer"),
        ("tv", "Tizen", "Samsung", "shaka"),
        ("tablet", "iPadOS", "Safari", "AVPlayer"),
    ];
    const APP_VERSIONS: [&str; 5] = ["3.2.0", "3.2.1", "3.1.9", "3.3.0-beta", "2.9.4"];
    let (device_type, os, browser, player) = DEVICES[index % DEVICES.len()];
    json!({
        "content_id": format!("movie-{}", index % 11),
        "title": format!("Title {}", index % 11),
        "stream_type": if index.is_multiple_of(5) { "live" } else { "vod" },
        "cdn": CDNS[index % CDNS.len()],
        "country": COUNTRIES[index % COUNTRIES.len()],
        "device_type": device_type,
        "os": os,
        "browser": browser,
        "player_name": player,
        "player_version": "1.7.4",
        "app_version": APP_VERSIONS[index % APP_VERSIONS.len()],
        "sdk_name": "openqoe-web",
        "sdk_version": "0.1.0",
        "player_width": 1280,
        "player_height": 720,
    })
    .to_string()
}

/// `run-connection-view` as fixed-width digits.
pub(crate) fn identity(run: u64, connection: usize, view: u64) -> [u8; IDENTITY_WIDTH] {
    let mut id = [b'-'; IDENTITY_WIDTH];
    put_digits(&mut id[..13], run % 10_u64.pow(13));
    put_digits(&mut id[14..19], connection as u64 % 100_000);
    put_digits(&mut id[20..], view % 1_000_000_000);
    id
}

#[cfg(test)]
mod tests {
    use openqoe_model::{Batch, ClientTime, EventKind, Seq, ServerTime};

    use super::*;

    #[test]
    fn a_views_bodies_parse_as_wire_v1_with_seq_and_ts_increasing() {
        let shape = ViewShape {
            batch_events: 100,
            view_batches: 3,
        };
        let props = props_variant(5);
        let id = identity(1_764_028_800_000, 7, 42);
        let (mut last_seq, mut last_ts, mut kinds) = (None, None, Vec::new());
        for position in 0..shape.view_batches {
            // Each batch is sent a little later than the last, as a connection's turns come round.
            let first_ts = 1_764_028_800_000 + position as u64 * 150;
            let mut body = Vec::new();
            BodyTemplate::build("demo", &props, position, shape).fill(&mut body, &id, first_ts);
            let batch = Batch::parse(&body, ServerTime(first_ts as i64 + 500))
                .unwrap_or_else(|e| panic!("batch {position}: {e}"));
            assert_eq!(batch.key.as_deref(), Some("demo"));
            assert_eq!(
                batch.view.id.as_str(),
                "bench-1764028800000-00007-000000042"
            );
            assert_eq!(
                batch.view.viewer_id.as_deref(),
                Some("u-1764028800000-00007-000000042")
            );
            assert_eq!(batch.view.props["cdn"], "cdn-c", "batch {position}");
            assert_eq!(batch.events.len(), 100, "batch {position}");
            assert_eq!(batch.sent_at, Some(ClientTime(first_ts as i64 + 99)));
            for event in &batch.events {
                assert!(
                    last_seq.is_none_or(|s| event.seq > s),
                    "seq {:?}",
                    event.seq
                );
                assert!(
                    last_ts.is_none_or(|t| event.ts > t),
                    "ts at seq {:?}",
                    event.seq
                );
                assert!(
                    !matches!(event.kind, EventKind::Unknown(_)),
                    "{:?}",
                    event.kind
                );
                (last_seq, last_ts) = (Some(event.seq), Some(event.ts));
                kinds.push(event.kind.name().to_owned());
            }
        }
        assert_eq!(last_seq, Some(Seq(299)));
        let startup = [
            "player_init",
            "player_ready",
            "play_requested",
            "rendition_change",
            "first_frame",
        ];
        assert_eq!(kinds[..5], startup);
        assert_eq!(kinds[kinds.len() - 2..], ["ended", "view_end"]);
        let count = |name: &str| kinds.iter().filter(|k| *k == name).count();
        assert_eq!((count("stall_start"), count("stall_end")), (1, 1));
        // At startup, then at seq 60, 160 and 260.
        assert_eq!(count("rendition_change"), 4);
        assert_eq!(count("view_end"), 1);
    }

    #[test]
    fn the_http_head_carries_the_body_length() {
        let shape = ViewShape {
            batch_events: 10,
            view_batches: 2,
        };
        let body = BodyTemplate::build("demo", &props_variant(0), 1, shape);
        let body_len = body.bytes.len();
        let request = body
            .with_head(|len| format!("POST /v1/events HTTP/1.1\r\ncontent-length: {len}\r\n\r\n"));
        let mut filled = Vec::new();
        request.fill(&mut filled, &identity(1, 2, 3), 1_764_028_800_000);
        let head = std::str::from_utf8(&filled[..request.head_len]).expect("ASCII head");
        assert!(
            head.ends_with(&format!("content-length: {body_len}\r\n\r\n")),
            "{head}"
        );
        let batch = Batch::parse(&filled[request.head_len..], ServerTime(1_764_028_800_100))
            .expect("the body after the head parses");
        assert_eq!(batch.events[0].seq, Seq(10));
        assert_eq!(batch.events[9].kind.name(), "view_end");
    }
}
