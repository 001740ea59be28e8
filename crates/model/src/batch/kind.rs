//! Each event type's fields as the metrics need them (DESIGN §4.1): required ones rejected with
//! where and why when missing or malformed, unknown types kept as `Unknown`.
use serde_json::Value;

use super::{
    optional_count, optional_string, reject, required_count, shown, BatchError, EventAt, Members,
};
use crate::{EventKind, Heartbeat, Rendition};

pub(super) fn parse_kind(
    name: &str,
    fields: &Members<'_>,
    at: EventAt<'_>,
) -> Result<EventKind, BatchError> {
    Ok(match name {
        "player_init" => EventKind::PlayerInit {
            page_load_ms: optional_count(fields, "page_load_ms", at)?,
        },
        "player_ready" => EventKind::PlayerReady,
        "play_requested" => EventKind::PlayRequested {
            observed: match fields.get("observed") {
                None | Some(Value::Null) => true,
                Some(Value::Bool(observed)) => observed,
                Some(other) => {
                    return Err(reject(
                        format!("{at}.observed"),
                        format!("expected true or false, got {}", shown(&other)),
                    ))
                }
            },
        },
        "first_frame" => EventKind::FirstFrame,
        "pause" => EventKind::Pause,
        "play" => EventKind::Play,
        "seek_start" => EventKind::SeekStart {
            from_ms: optional_count(fields, "from_ms", at)?,
        },
        "seek_end" => EventKind::SeekEnd {
            to_ms: optional_count(fields, "to_ms", at)?,
        },
        "stall_start" => EventKind::StallStart,
        "stall_end" => EventKind::StallEnd,
        "rendition_change" => {
            let dimension = |name: &str| -> Result<u32, BatchError> {
                u32::try_from(required_count(fields, name, at)?).map_err(|_| {
                    reject(format!("{at}.{name}"), "expected at most 4294967295 pixels")
                })
            };
            let fps = match fields.get("fps") {
                None | Some(Value::Null) => None,
                Some(v) => match v.as_f64() {
                    Some(fps) if fps >= 0.0 => Some(fps),
                    _ => {
                        return Err(reject(
                            format!("{at}.fps"),
                            format!("expected a non-negative number, got {}", shown(&v)),
                        ))
                    }
                },
            };
            EventKind::RenditionChange(Rendition {
                bitrate_bps: required_count(fields, "bitrate_bps", at)?,
                width: dimension("width")?,
                height: dimension("height")?,
                fps,
                codec: optional_string(fields.get("codec"), format_args!("{at}.codec"))?,
            })
        }
        "error" => {
            let code = match fields.get("code") {
                Some(Value::String(code)) => code,
                Some(Value::Number(code)) => code.to_string(),
                Some(other) => {
                    return Err(reject(
                        format!("{at}.code"),
                        format!("expected a string or number, got {}", shown(&other)),
                    ))
                }
                None => return Err(reject(format!("{at}.code"), "missing")),
            };
            let fatal = match fields.get("fatal") {
                Some(Value::Bool(fatal)) => fatal,
                Some(other) => {
                    return Err(reject(
                        format!("{at}.fatal"),
                        format!("expected true or false, got {}", shown(&other)),
                    ))
                }
                None => return Err(reject(format!("{at}.fatal"), "missing")),
            };
            EventKind::Error {
                code,
                message: optional_string(fields.get("message"), format_args!("{at}.message"))?,
                fatal,
            }
        }
        "ad_break_start" => EventKind::AdBreakStart,
        "ad_break_end" => EventKind::AdBreakEnd,
        "heartbeat" => EventKind::Heartbeat(Heartbeat {
            playhead_ms: optional_count(fields, "playhead_ms", at)?,
            buffer_ms: optional_count(fields, "buffer_ms", at)?,
            dropped_frames: optional_count(fields, "dropped_frames", at)?,
            bandwidth_bps: optional_count(fields, "bandwidth_bps", at)?,
            live_latency_ms: optional_count(fields, "live_latency_ms", at)?,
        }),
        "ended" => EventKind::Ended,
        "view_end" => EventKind::ViewEnd {
            reason: optional_string(fields.get("reason"), format_args!("{at}.reason"))?,
        },
        other => EventKind::Unknown(other.to_owned()),
    })
}
