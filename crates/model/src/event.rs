//! One timestamped player fact and its typed payload (DESIGN §4.1 event types).
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::{ClientTime, ServerTime};

/// Per-view sequence number, from 0, strictly increasing as the SDK emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Seq(pub u64);

/// One event of a view, as received and validated.
#[derive(Debug, Clone)]
pub struct Event {
    /// Per-view sequence number; (view id, seq) is the de-duplication key.
    pub seq: Seq,
    /// Device wall clock when the event happened.
    pub ts: ClientTime,
    /// `ts` corrected for clock skew with the batch's `sent_at`.
    pub at: ServerTime,
    /// The typed payload metrics read.
    pub kind: EventKind,
    /// The event object as received, as its JSON text: a fraction of the memory of a parsed
    /// map, and the form the events API and exports serve anyway.
    pub(crate) raw: EventText,
}

/// An event's JSON text: a range of the request body it came in, which the batch's events
/// share (one allocation a batch, not one an event).
#[derive(Clone)]
pub(crate) struct EventText {
    body: Arc<str>,
    start: u32,
    end: u32,
}

impl EventText {
    /// The text `raw`, a slice of `body` (copied alone if it is not one).
    pub(crate) fn within(body: &Arc<str>, raw: &str) -> EventText {
        let start = (raw.as_ptr() as usize).wrapping_sub(body.as_ptr() as usize);
        // The same place, not the same text: comparing bytes would cost a pass over the event.
        let slice = body
            .get(start..start.saturating_add(raw.len()))
            .is_some_and(|slice| std::ptr::eq(slice, raw));
        match (u32::try_from(start), u32::try_from(start + raw.len())) {
            (Ok(from), Ok(to)) if slice => EventText {
                body: Arc::clone(body),
                start: from,
                end: to,
            },
            _ => EventText::alone(raw),
        }
    }

    /// The text `raw` in an allocation of its own.
    pub(crate) fn alone(raw: &str) -> EventText {
        EventText {
            body: Arc::from(raw),
            start: 0,
            end: u32::try_from(raw.len()).unwrap_or(u32::MAX),
        }
    }

    /// The text.
    pub(crate) fn get(&self) -> &str {
        self.body
            .get(self.start as usize..self.end as usize)
            .unwrap_or_default()
    }
}

impl std::fmt::Debug for EventText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.get())
    }
}

impl Event {
    /// The event object as received, unknown fields included (served back by the events API).
    pub fn fields(&self) -> Map<String, Value> {
        // Validated as an object when the batch was parsed.
        serde_json::from_str(self.raw.get()).unwrap_or_default()
    }

    /// The event object as received, as JSON text.
    pub fn raw_json(&self) -> &str {
        self.raw.get()
    }
}

impl PartialEq for Event {
    fn eq(&self, other: &Event) -> bool {
        self.seq == other.seq
            && self.ts == other.ts
            && self.at == other.at
            && self.kind == other.kind
            && self.raw.get() == other.raw.get()
    }
}

/// What happened, with the fields metrics need. Unknown types are kept as [`EventKind::Unknown`].
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    /// `player_init`: the player object was created; `page_load_ms` on a page's first view.
    PlayerInit {
        /// Milliseconds from the page request to player init.
        page_load_ms: Option<u64>,
    },
    /// `player_ready`: the player can accept a play request.
    PlayerReady,
    /// `play_requested`: the user or autoplay asked for playback; startup begins.
    PlayRequested {
        /// `false` when the SDK started watching after the request and dates it when it first saw
        /// the player requested (`"observed": false` on the wire): video startup time is unknown.
        observed: bool,
    },
    /// `first_frame`: the first frame is shown and the playhead progresses.
    FirstFrame,
    /// `pause`: the viewer paused.
    Pause,
    /// `play`: the viewer resumed after a pause.
    Play,
    /// `seek_start`: a seek began.
    SeekStart {
        /// Playhead before the seek, ms.
        from_ms: Option<u64>,
    },
    /// `seek_end`: the seek completed.
    SeekEnd {
        /// Playhead after the seek, ms.
        to_ms: Option<u64>,
    },
    /// `stall_start`: playback waits for data.
    StallStart,
    /// `stall_end`: playback progresses again.
    StallEnd,
    /// `rendition_change`: a new rendition is playing.
    RenditionChange(Rendition),
    /// `error`: a player error; `fatal` ends playback.
    Error {
        /// The player's own error code.
        code: String,
        /// Free text from the player.
        message: Option<String>,
        /// Whether playback stopped because of it.
        fatal: bool,
    },
    /// `ad_break_start`: an ad break began.
    AdBreakStart,
    /// `ad_break_end`: the ad break ended.
    AdBreakEnd,
    /// `heartbeat`: periodic sample while the view is alive.
    Heartbeat(Heartbeat),
    /// `ended`: the content played to its end.
    Ended,
    /// `view_end`: the SDK closed the view.
    ViewEnd {
        /// Why the SDK closed it (`unload`, `content_change`, …).
        reason: Option<String>,
    },
    /// An event type this server does not know; kept for forward compatibility.
    Unknown(String),
}

/// One encoded variant as the player reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendition {
    /// Indicated (manifest) bitrate.
    pub bitrate_bps: u64,
    /// Encoded width in pixels.
    pub width: u32,
    /// Encoded height in pixels.
    pub height: u32,
    /// Frames per second, when known.
    pub fps: Option<f64>,
    /// RFC 6381 codec string, when known.
    pub codec: Option<String>,
}

/// Periodic player sample; every field is optional.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Heartbeat {
    /// Playhead position, ms.
    pub playhead_ms: Option<u64>,
    /// Forward buffer, ms.
    pub buffer_ms: Option<u64>,
    /// Dropped frames since the view began.
    pub dropped_frames: Option<u64>,
    /// Player's bandwidth estimate.
    pub bandwidth_bps: Option<u64>,
    /// Live latency, ms.
    pub live_latency_ms: Option<u64>,
}

impl EventKind {
    /// The wire name of this kind (`stall_start`, …).
    pub fn name(&self) -> &str {
        match self {
            EventKind::PlayerInit { .. } => "player_init",
            EventKind::PlayerReady => "player_ready",
            EventKind::PlayRequested { .. } => "play_requested",
            EventKind::FirstFrame => "first_frame",
            EventKind::Pause => "pause",
            EventKind::Play => "play",
            EventKind::SeekStart { .. } => "seek_start",
            EventKind::SeekEnd { .. } => "seek_end",
            EventKind::StallStart => "stall_start",
            EventKind::StallEnd => "stall_end",
            EventKind::RenditionChange(_) => "rendition_change",
            EventKind::Error { .. } => "error",
            EventKind::AdBreakStart => "ad_break_start",
            EventKind::AdBreakEnd => "ad_break_end",
            EventKind::Heartbeat(_) => "heartbeat",
            EventKind::Ended => "ended",
            EventKind::ViewEnd { .. } => "view_end",
            EventKind::Unknown(name) => name,
        }
    }

    /// Whether this is a fatal `error`.
    pub fn is_fatal_error(&self) -> bool {
        matches!(self, EventKind::Error { fatal: true, .. })
    }
}
