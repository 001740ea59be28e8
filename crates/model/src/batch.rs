//! Wire format v1 (DESIGN §4.1): one `POST /v1/events` body carries events of one view.
use std::borrow::Cow;
use std::fmt::Display;
use std::sync::Arc;

use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

use crate::event::EventText;
use crate::{ClientTime, Event, Props, Seq, ServerTime, ViewId};

/// The only wire version this server reads.
pub const WIRE_VERSION: u64 = 1;

/// Largest timestamp accepted: 2^53 ms, the integer range JavaScript numbers hold exactly.
const MAX_EPOCH_MS: f64 = 9_007_199_254_740_992.0;

/// Props one batch may carry (names new to a view beyond [`crate::props::MAX_VIEW_PROPS`] are
/// dropped when it is merged).
pub const MAX_PROPS: usize = 64;
/// Longest prop name, in bytes.
pub const MAX_PROP_NAME_BYTES: usize = 64;
/// Longest prop value, in bytes: a string's text, or a number's JSON.
pub const MAX_PROP_VALUE_BYTES: usize = 1_024;
/// Longest viewer or session id, in bytes.
pub const MAX_ID_BYTES: usize = 256;
/// How far after its arrival a batch's latest event may be dated, skew corrected: beyond it the
/// device's clock runs ahead (no `sent_at`, or a false one) and the batch is moved back.
pub const MAX_AHEAD_MS: i64 = 60_000;

/// A validated batch: one view's header and its events, times corrected for clock skew.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// The environment write key, when the body carries it.
    pub key: Option<String>,
    /// Device clock at send time, if the SDK sent it.
    pub sent_at: Option<ClientTime>,
    /// Server clock when the request arrived.
    pub received_at: ServerTime,
    /// The view the events belong to.
    pub view: ViewHeader,
    /// Events in body order (not necessarily `seq` order).
    pub events: Vec<Event>,
    /// How far the events were moved back because they were dated more than [`MAX_AHEAD_MS`]
    /// after the batch arrived (0 almost always): a view dated in the future would never end.
    pub moved_back_ms: i64,
    /// Where the batch's record is in the write-ahead log, once it is durable there.
    pub logged_at: Option<LoggedAt>,
}

/// The `view` envelope: identity and properties.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewHeader {
    /// The view id chosen by the SDK.
    pub id: ViewId,
    /// Pseudonymous viewer id.
    pub viewer_id: Option<String>,
    /// Page or app session id.
    pub session_id: Option<String>,
    /// Dimension values sent with this batch; later batches override earlier values.
    pub props: Props,
}

/// Why a batch was rejected: the JSON path of the offending field and what was wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {reason}")]
pub struct BatchError {
    /// JSON path of the offending field (`events[3].ts`); empty for the body as a whole.
    pub at: String,
    /// What was expected and what came.
    pub reason: String,
}

fn reject(at: impl Into<String>, reason: impl Into<String>) -> BatchError {
    BatchError {
        at: at.into(),
        reason: reason.into(),
    }
}

/// A short rendering of a JSON value for error messages.
fn shown(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 40 {
        format!("{}…", text.chars().take(40).collect::<String>())
    } else {
        text
    }
}

/// Where a body's `view` member's value is, in bytes (`None`: the member came more than once):
/// [`Batch::parse_spanned`] gives it, so that [`Batch::body_with_header`] writes a new header in
/// its place without reading the body again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewSpan(Option<std::ops::Range<usize>>);

impl Batch {
    /// Parses and validates a decoded request body received at `received_at`.
    ///
    /// # Errors
    /// A [`BatchError`] naming the first offending field; nothing of the batch is usable then.
    pub fn parse(body: &[u8], received_at: ServerTime) -> Result<Batch, BatchError> {
        Batch::parse_spanned(body, received_at).map(|(batch, _)| batch)
    }

    /// [`Batch::parse`], also saying where the body's `view` member is.
    ///
    /// # Errors
    /// As [`Batch::parse`].
    pub fn parse_spanned(
        body: &[u8],
        received_at: ServerTime,
    ) -> Result<(Batch, ViewSpan), BatchError> {
        // The top level as raw JSON text per key: events stay text (kept as received), the
        // rest is read as values.
        // One copy of the body, which its events' texts are ranges of.
        let text: Arc<str> = match std::str::from_utf8(body) {
            Ok(text) => Arc::from(text),
            Err(e) => {
                return Err(reject(
                    "",
                    format!("expected a JSON object: not UTF-8 ({e})"),
                ))
            }
        };
        let TopLevel {
            root,
            view,
            view_repeated,
            events,
        } = match serde_json::from_str::<TopLevel<'_>>(&text) {
            Ok(top) => top,
            // Valid JSON of another kind, or not JSON at all.
            Err(e) => match serde_json::from_slice::<Value>(body) {
                Ok(_) => return Err(reject("", "expected a JSON object")),
                Err(_) => return Err(reject("", format!("expected a JSON object: {e}"))),
            },
        };

        match root.get("v") {
            Some(v) if v.as_u64() == Some(WIRE_VERSION) => {}
            Some(v) => return Err(reject("v", format!("expected 1, got {}", shown(v)))),
            None => return Err(reject("v", "missing; expected 1")),
        }
        let key = optional_string(root.get("key").cloned(), "key")?;
        let sent_at = match root.get("sent_at") {
            None | Some(Value::Null) => None,
            Some(v) => Some(ClientTime(epoch_ms(v, "sent_at")?)),
        };
        let view = view.ok_or_else(|| reject("view", "missing"))?;
        // A range of `text`, which is the body.
        let start = view.get().as_ptr() as usize - text.as_ptr() as usize;
        let span = ViewSpan((!view_repeated).then(|| start..start + view.get().len()));
        let view: Value = serde_json::from_str(view.get())
            .map_err(|e| reject("view", format!("expected an object: {e}")))?;
        let view = parse_view_header(&view)?;
        // The skew of this device's clock against ours, from the moment the batch was sent.
        let offset_ms = sent_at.map_or(0, |sent| received_at.0 - sent.0);

        let items = match events {
            None => return Err(reject("events", "missing; expected an array")),
            Some(EventsMember::Items(items)) => items,
            Some(EventsMember::Other(other)) => {
                return Err(reject(
                    "events",
                    format!("expected an array, got {}", shown(&other)),
                ))
            }
        };
        let mut events = items
            .into_iter()
            .enumerate()
            .map(|(i, item)| parse_event(item.get(), &text, EventAt::Index(i), offset_ms))
            .collect::<Result<Vec<_>, _>>()?;
        // The whole batch moves, so the times between its events stay as the device saw them;
        // a replay of the log, parsing with the same arrival time, moves it the same way.
        let latest = events.iter().map(|e| e.at.0).max().unwrap_or(i64::MIN);
        let moved_back_ms = latest
            .saturating_sub(received_at.0.saturating_add(MAX_AHEAD_MS))
            .max(0);
        for event in &mut events {
            event.at = ServerTime(event.at.0 - moved_back_ms);
        }
        let batch = Batch {
            key,
            sent_at,
            received_at,
            view,
            events,
            moved_back_ms,
            logged_at: None,
        };
        Ok((batch, span))
    }

    /// Encodes the batch back to a wire v1 body that [`Batch::parse`] reads to the same batch
    /// (given the same `received_at`); the write-ahead log stores this form for batches the
    /// server built (CMCD event mode).
    pub fn to_wire_json(&self) -> Value {
        let view = self.view.to_wire_json();
        let events: Vec<Value> = self
            .events
            .iter()
            .map(|e| Value::Object(e.fields()))
            .collect();
        let mut body = json!({ "v": WIRE_VERSION, "view": view, "events": events });
        if let Some(sent) = self.sent_at {
            body["sent_at"] = json!(sent.0);
        }
        body
    }

    /// `body`, the wire v1 body this batch was parsed from (its `view` member at `span`), with
    /// that member's value replaced by this batch's header and every other byte (its events
    /// above all) as received: how a batch whose header the server changed (`[privacy]`) is
    /// logged without encoding its events again, or reading the body again. A body that
    /// repeated `view` is encoded anew instead: no copy of the member may stay.
    pub fn body_with_header(&self, body: &[u8], span: &ViewSpan) -> Vec<u8> {
        let Some(span) = &span.0 else {
            return self.to_wire_json().to_string().into_bytes();
        };
        let header = self.view.to_wire_json().to_string();
        let mut out = Vec::with_capacity(body.len() + header.len());
        out.extend_from_slice(&body[..span.start]);
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(&body[span.end..]);
        out
    }
}

impl ViewHeader {
    /// The header as the wire's `view` object.
    pub fn to_wire_json(&self) -> Value {
        let mut view = Map::new();
        view.insert("id".into(), Value::String(self.id.as_str().to_owned()));
        if let Some(viewer) = &self.viewer_id {
            view.insert("viewer_id".into(), Value::String(viewer.clone()));
        }
        if let Some(session) = &self.session_id {
            view.insert("session_id".into(), Value::String(session.clone()));
        }
        view.insert("props".into(), Value::Object(self.props.clone()));
        Value::Object(view)
    }
}

fn parse_view_header(view: &Value) -> Result<ViewHeader, BatchError> {
    let view = view
        .as_object()
        .ok_or_else(|| reject("view", format!("expected an object, got {}", shown(view))))?;
    let id = match view.get("id") {
        Some(Value::String(id)) => ViewId::new(id).map_err(|e| reject("view.id", e.to_string()))?,
        Some(other) => {
            return Err(reject(
                "view.id",
                format!("expected a string, got {}", shown(other)),
            ))
        }
        None => return Err(reject("view.id", "missing")),
    };
    let viewer_id = bounded_id(view.get("viewer_id").cloned(), "view.viewer_id")?;
    let session_id = bounded_id(view.get("session_id").cloned(), "view.session_id")?;
    let mut props = Props::new();
    match view.get("props") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) if map.len() > MAX_PROPS => {
            return Err(reject(
                "view.props",
                format!("{} props; at most {MAX_PROPS}", map.len()),
            ))
        }
        Some(Value::Object(map)) => {
            for (name, value) in map {
                if name.is_empty() || name.len() > MAX_PROP_NAME_BYTES {
                    return Err(reject(
                        "view.props",
                        format!(
                            "a prop name of {} bytes; 1 to {MAX_PROP_NAME_BYTES}",
                            name.len()
                        ),
                    ));
                }
                let value_bytes = match value {
                    Value::String(text) => text.len(),
                    other => other.to_string().len(),
                };
                if value_bytes > MAX_PROP_VALUE_BYTES {
                    return Err(reject(
                        format!("view.props.{name}"),
                        format!("{value_bytes} bytes; at most {MAX_PROP_VALUE_BYTES}"),
                    ));
                }
                match value {
                    Value::String(_) | Value::Number(_) | Value::Bool(_) => {
                        props.insert(name.clone(), value.clone());
                    }
                    other => {
                        return Err(reject(
                            format!("view.props.{name}"),
                            format!("expected a string, number or boolean, got {}", shown(other)),
                        ))
                    }
                }
            }
        }
        Some(other) => {
            return Err(reject(
                "view.props",
                format!("expected an object, got {}", shown(other)),
            ))
        }
    }
    Ok(ViewHeader {
        id,
        viewer_id,
        session_id,
        props,
    })
}

/// A viewer or session id: a string of at most [`MAX_ID_BYTES`], if present and not null.
fn bounded_id(value: Option<Value>, at: &str) -> Result<Option<String>, BatchError> {
    let id = optional_string(value, at)?;
    match &id {
        Some(text) if text.len() > MAX_ID_BYTES => Err(reject(
            at,
            format!("{} bytes; at most {MAX_ID_BYTES}", text.len()),
        )),
        _ => Ok(id),
    }
}

/// A string member's `value`, if present and not null.
fn optional_string(value: Option<Value>, at: impl Display) -> Result<Option<String>, BatchError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(reject(
            at.to_string(),
            format!("expected a string, got {}", shown(&other)),
        )),
    }
}

/// Epoch milliseconds: a non-negative number below 2^53; fractions are rounded.
fn epoch_ms(value: &Value, at: impl Display) -> Result<i64, BatchError> {
    match value.as_f64() {
        Some(ms) if (0.0..MAX_EPOCH_MS).contains(&ms) => Ok(ms.round() as i64),
        _ => Err(reject(
            at.to_string(),
            format!("expected epoch milliseconds, got {}", shown(value)),
        )),
    }
}

/// A non-negative integer field; `None` when absent or null.
fn optional_count(
    event: &Members<'_>,
    name: &str,
    at: EventAt<'_>,
) -> Result<Option<u64>, BatchError> {
    if let Some(count) = event.digits(name) {
        return Ok(Some(count));
    }
    match event.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => match value.as_f64() {
            Some(n) if (0.0..MAX_EPOCH_MS).contains(&n) => Ok(Some(n.round() as u64)),
            _ => Err(reject(
                format!("{at}.{name}"),
                format!("expected a non-negative number, got {}", shown(&value)),
            )),
        },
    }
}

fn required_count(event: &Members<'_>, name: &str, at: EventAt<'_>) -> Result<u64, BatchError> {
    optional_count(event, name, at)?.ok_or_else(|| reject(format!("{at}.{name}"), "missing"))
}

/// Where an event is in what is parsed, for error messages (made into text only for one).
#[derive(Debug, Clone, Copy)]
enum EventAt<'a> {
    /// `events[i]` of a batch.
    Index(usize),
    /// A name (`event`, for one read back from a file).
    Named(&'a str),
}

impl Display for EventAt<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EventAt::Index(i) => write!(f, "events[{i}]"),
            EventAt::Named(name) => f.write_str(name),
        }
    }
}

/// Parses event `raw`, text within `body`.
fn parse_event(
    raw: &str,
    body: &Arc<str>,
    at: EventAt<'_>,
    offset_ms: i64,
) -> Result<Event, BatchError> {
    let Ok(fields) = serde_json::from_str::<Members<'_>>(raw) else {
        let item: Value = serde_json::from_str(raw).unwrap_or(Value::Null);
        return Err(reject(
            at.to_string(),
            format!("expected an object, got {}", shown(&item)),
        ));
    };
    let seq = match fields.digits("seq") {
        Some(seq) => seq,
        None => match fields.get("seq") {
            Some(v) => v.as_u64().ok_or_else(|| {
                reject(
                    format!("{at}.seq"),
                    format!("expected a non-negative integer, got {}", shown(&v)),
                )
            })?,
            None => return Err(reject(format!("{at}.seq"), "missing")),
        },
    };
    let ts = match fields.digits("ts") {
        // Below 10^15, so within epoch milliseconds.
        Some(ms) => ms as i64,
        None => match fields.get("ts") {
            Some(v) => epoch_ms(&v, format_args!("{at}.ts"))?,
            None => return Err(reject(format!("{at}.ts"), "missing")),
        },
    };
    let kind_name = match fields.plain_str("type") {
        Some(name) if !name.is_empty() => Cow::Borrowed(name),
        _ => match fields.get("type") {
            Some(Value::String(name)) if !name.is_empty() => Cow::Owned(name),
            Some(other) => {
                return Err(reject(
                    format!("{at}.type"),
                    format!("expected an event type, got {}", shown(&other)),
                ))
            }
            None => return Err(reject(format!("{at}.type"), "missing")),
        },
    };
    let kind = parse_kind(&kind_name, &fields, at)?;
    Ok(Event {
        seq: Seq(seq),
        ts: ClientTime(ts),
        at: ServerTime(ts.saturating_add(offset_ms)),
        kind,
        raw: EventText::within(body, raw),
    })
}

// Here, not in event.rs: reading an event's text is the wire parser's job.
impl Event {
    /// An event read back from a file the store wrote: its JSON text as received and its
    /// server time (`at`).
    ///
    /// # Errors
    /// A [`BatchError`] when the text is not a valid event (a damaged or foreign file).
    pub fn restore(raw: &str, at: ServerTime) -> Result<Event, BatchError> {
        serde_json::from_str::<&RawValue>(raw).map_err(|e| reject("event", e.to_string()))?;
        let body: Arc<str> = Arc::from(raw);
        let mut event = parse_event(&body, &body, EventAt::Named("event"), 0)?;
        // The clock-skew correction was made when the event was received; `at` holds it.
        event.at = at;
        Ok(event)
    }
}

/// Where a batch's record is in the write-ahead log (`openqoe_wal::LogPosition`, which this
/// crate does not depend on): a view's events are read back from there until a file holds
/// them. 8 bytes, since a view keeps one per batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoggedAt {
    /// Segment number.
    pub segment: u32,
    /// Byte offset of the record in the segment.
    pub offset: u32,
}

impl LoggedAt {
    /// The place of a record at byte `offset` of segment `segment`; `None` past what 8 bytes
    /// hold (a view with such a batch keeps its events in memory).
    pub fn new(segment: u64, offset: u64) -> Option<LoggedAt> {
        Some(LoggedAt {
            segment: u32::try_from(segment).ok()?,
            offset: u32::try_from(offset).ok()?,
        })
    }
}

mod kind;
pub(crate) mod members;
#[cfg(test)]
mod tests;

use kind::parse_kind;
use members::{EventsMember, Members, TopLevel};
