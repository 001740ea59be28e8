//! The rules that end a view, read off its events alone, one event at a time.
use std::ops::Bound;

use openqoe_model::{ClientTime, EndReason, Event, EventKind, Seq, ServerTime, View, ViewEnd};

/// Where a view's events stand against the end rules: its first `view_end`, or a stall longer
/// than the stall timeout on the device clock, whichever comes first in `seq` order.
///
/// Incremental, so a batch costs its own events, not the view's: [`EndScan::advance`] reads only
/// the events after those already read. A batch that lands before them (out-of-order delivery)
/// calls for [`EndScan::restart`].
#[derive(Debug, Clone, Default)]
pub struct EndScan {
    /// The last event read.
    through: Option<Seq>,
    /// The first `stall_start` of the stall open at `through`.
    open: Option<StallStart>,
}

/// A `stall_start` event's identity and clocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StallStart {
    /// Its `seq`.
    pub seq: Seq,
    /// Device clock.
    pub ts: ClientTime,
    /// Server clock.
    pub at: ServerTime,
}

impl EndScan {
    /// Reads the events of `view` after those already read; returns the end they imply, if any.
    ///
    /// The stall rule is checked before an event's own kind: an event that arrives more than the
    /// timeout after the stall began is past the view's end, even a `view_end`. The stall-timeout
    /// end counts on the device clock and closes at the last event inside the stall
    /// (mux-embed ends a view after 5 minutes of sustained rebuffering the same way).
    pub fn advance(&mut self, view: &View, stall_timeout_ms: u64) -> Option<ViewEnd> {
        let after = self.through.map_or(Bound::Unbounded, Bound::Excluded);
        let events = view.events.range((after, Bound::Unbounded)).map(|(_, e)| e);
        self.advance_over(events, stall_timeout_ms)
    }

    /// [`EndScan::advance`] over `events`, new to the view in `seq` order after those read (a
    /// view that passes its events on rather than keeping them).
    pub fn advance_over<'e>(
        &mut self,
        events: impl IntoIterator<Item = &'e Event>,
        stall_timeout_ms: u64,
    ) -> Option<ViewEnd> {
        for event in events {
            let seq = event.seq;
            if let (Some(stall), Some(inside)) = (self.open, self.through) {
                if event.ts.since(stall.ts) > stall_timeout_ms {
                    return Some(timeout_at(stall, stall_timeout_ms, inside));
                }
            }
            self.through = Some(seq);
            match event.kind {
                EventKind::StallStart if self.open.is_none() => {
                    self.open = Some(StallStart {
                        seq,
                        ts: event.ts,
                        at: event.at,
                    });
                }
                EventKind::StallEnd => self.open = None,
                EventKind::ViewEnd { .. } => {
                    return Some(ViewEnd {
                        reason: EndReason::ViewEnd,
                        ts: event.ts,
                        at: event.at,
                        last_seq: seq,
                    })
                }
                _ => {}
            }
        }
        None
    }

    /// Forgets what was read, for a view that received events before the last one read.
    pub fn restart(&mut self) {
        *self = EndScan::default();
    }

    /// The last event read.
    pub fn through(&self) -> Option<Seq> {
        self.through
    }

    /// The `stall_start` that began the stall still open at the last event read, if any.
    pub fn open_stall(&self) -> Option<StallStart> {
        self.open
    }
}

/// A stall-timeout end for a stall that began at `stall`, whose last event inside is `last_seq`.
pub(crate) fn timeout_at(stall: StallStart, stall_timeout_ms: u64, last_seq: Seq) -> ViewEnd {
    let limit = stall_timeout_ms as i64;
    ViewEnd {
        reason: EndReason::StallTimeout,
        ts: ClientTime(stall.ts.0.saturating_add(limit)),
        at: ServerTime(stall.at.0.saturating_add(limit)),
        last_seq,
    }
}
