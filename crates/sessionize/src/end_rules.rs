//! The rules that end a view, read off its events alone.
use openqoe_model::{ClientTime, EndReason, Event, EventKind, Seq, View, ViewEnd};

/// The end a view's own events imply: its first `view_end`, or a stall longer than
/// `stall_timeout_ms` on the device clock, whichever comes first in `seq` order.
pub fn ended_by_events(view: &View, stall_timeout_ms: u64) -> Option<ViewEnd> {
    let stall_end = stall_timeout_end(view, stall_timeout_ms);
    let view_end = view
        .events
        .values()
        .find(|e| matches!(e.kind, EventKind::ViewEnd { .. }));
    match (view_end, stall_end) {
        (Some(end), Some(stall)) if stall.last_seq < end.seq => Some(stall),
        (Some(end), _) => Some(ViewEnd {
            reason: EndReason::ViewEnd,
            ts: end.ts,
            at: end.at,
            last_seq: end.seq,
        }),
        (None, stall) => stall,
    }
}

/// The end of a view at a stall that lasted longer than `stall_timeout_ms`, if the events show one.
///
/// The view ends `stall_timeout_ms` after the stall began; events after that are not measured
/// (mux-embed ends the view after 5 minutes of sustained rebuffering the same way).
pub fn stall_timeout_end(view: &View, stall_timeout_ms: u64) -> Option<ViewEnd> {
    let mut open: Option<&Event> = None;
    let mut last_seq_inside = Seq(0);
    for event in view.events.values() {
        if let Some(stall) = open {
            if event.ts.since(stall.ts) > stall_timeout_ms {
                return Some(timeout_at(stall, stall_timeout_ms, last_seq_inside));
            }
        }
        match event.kind {
            EventKind::StallStart if open.is_none() => open = Some(event),
            EventKind::StallEnd => open = None,
            _ => {}
        }
        last_seq_inside = event.seq;
    }
    None
}

/// The `stall_start` of a stall still open at the view's last event, if any.
pub fn open_stall(view: &View) -> Option<&Event> {
    for event in view.events.values().rev() {
        match event.kind {
            EventKind::StallEnd | EventKind::ViewEnd { .. } => return None,
            EventKind::StallStart => {
                // The earliest stall_start of this open run is where the stall began.
                return view
                    .events
                    .range(..=event.seq)
                    .rev()
                    .take_while(|(_, e)| !matches!(e.kind, EventKind::StallEnd))
                    .filter(|(_, e)| matches!(e.kind, EventKind::StallStart))
                    .last()
                    .map(|(_, e)| e);
            }
            _ => {}
        }
    }
    None
}

/// A stall-timeout end for a stall that began at `stall`.
pub(crate) fn timeout_at(stall: &Event, stall_timeout_ms: u64, last_seq: Seq) -> ViewEnd {
    let limit = stall_timeout_ms as i64;
    ViewEnd {
        reason: EndReason::StallTimeout,
        ts: ClientTime(stall.ts.0.saturating_add(limit)),
        at: openqoe_model::ServerTime(stall.at.0.saturating_add(limit)),
        last_seq,
    }
}
