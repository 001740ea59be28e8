//! One walk over a view's events that puts every instant into exactly one bucket.
use openqoe_model::{ClientTime, Event, EventKind, Rendition, ServerTime, View};

use crate::growth::room_for_one;

/// Where an instant of a view went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    Startup,
    Ad,
    Paused,
    Seek,
    Rebuffer,
    Playing,
    /// Not watching: after the content ended or playback failed.
    Idle,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StallKind {
    /// Before the first frame: part of startup.
    Startup,
    /// Inside an ad break: ad time.
    Ad,
    /// Began inside a seek: seek latency, even after `seek_end`.
    Seek,
    /// Began while paused: not felt until playback resumes.
    WhilePaused,
    /// A rebuffer.
    Rebuffer,
}

/// Totals of one walk, in milliseconds of the device clock.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Walk {
    pub play_requested: bool,
    /// A `play_requested` the SDK observed came before the first frame, so startup was measured.
    pub requested_before_start: bool,
    pub started: bool,
    pub startup_ms: u64,
    pub ad_ms: u64,
    /// Ad time before the first frame (pre-rolls): part of total, not content, startup.
    pub preroll_ms: u64,
    pub paused_ms: u64,
    pub seek_ms: u64,
    pub rebuffer_ms: u64,
    pub playing_ms: u64,
    pub rebuffer_count: u64,
    pub seek_count: u64,
    pub seek_latency_total_ms: u64,
    /// Rendition changes after the first frame; the selection before it is the initial one.
    pub rendition_changes: u64,
    pub upshifts: u64,
    pub downshifts: u64,
    pub fatal_before_start: bool,
    pub fatal: bool,
    /// Playing time per rendition, in order of first play.
    pub playing_by_rendition: Vec<(Rendition, u64)>,
    /// Playing time in play order, one entry per run of one rendition (`None`: not yet known).
    pub playing_spans: Vec<(Option<Rendition>, u64)>,
    /// Each rebuffer: the playing time before it (its media position) and its duration, ms.
    pub rebuffers: Vec<(u64, u64)>,
    /// After the last event the viewer is watching or trying to (starting, playing, stalled,
    /// seeking, in an ad): not paused, not after the end or a failure.
    pub watching_at_end: bool,
}

#[derive(Debug, Default, Clone)]
struct State {
    watching: bool,
    started: bool,
    in_ad: bool,
    paused: bool,
    seek_since: Option<ClientTime>,
    stall: Option<StallKind>,
    idle: bool,
    rendition: Option<Rendition>,
}

impl State {
    fn bucket(&self) -> Option<Bucket> {
        if !self.watching {
            return None;
        }
        Some(if self.idle {
            Bucket::Idle
        } else if !self.started {
            if self.in_ad {
                Bucket::Ad
            } else if self.paused {
                Bucket::Paused
            } else {
                Bucket::Startup
            }
        } else if self.in_ad {
            Bucket::Ad
        } else if self.paused {
            Bucket::Paused
        } else if self.seek_since.is_some() || self.stall == Some(StallKind::Seek) {
            Bucket::Seek
        } else if self.stall == Some(StallKind::Rebuffer) {
            Bucket::Rebuffer
        } else {
            Bucket::Playing
        })
    }
}

/// Walks the measured events of `view` in `seq` order up to its end.
pub fn walk(view: &View) -> Walk {
    walk_spans(view, &mut |_| {})
}

/// An interval of one bucket: it began at `at` (server clock) and lasted `ms` (device clock).
pub struct Span<'a> {
    pub bucket: Bucket,
    pub at: ServerTime,
    pub ms: u64,
    pub rendition: Option<&'a Rendition>,
}

/// [`walk`], also pushing every interval to `span` as it is measured (for minute rollups).
pub fn walk_spans(view: &View, span: &mut dyn FnMut(Span)) -> Walk {
    let mut walker = Walker::default();
    for event in view.measured_events() {
        walker.step(event, span);
    }
    walker.finish(view.end.map(|end| end.ts), span)
}

/// A walk in progress: the totals so far and the state after the last event stepped over.
#[derive(Debug, Clone)]
pub struct Walker {
    totals: Walk,
    state: State,
    /// Device time up to which intervals are counted.
    cursor: Option<ClientTime>,
    /// Server time of the cursor: where the interval being measured began.
    cursor_at: ServerTime,
}

impl Default for Walker {
    fn default() -> Walker {
        Walker {
            totals: Walk::default(),
            state: State::default(),
            cursor: None,
            cursor_at: ServerTime(0),
        }
    }
}

impl Walker {
    /// The totals as of the last event stepped over (intervals still open not yet added).
    pub(crate) fn totals(&self) -> &Walk {
        &self.totals
    }

    /// Steps over the next event in `seq` order.
    pub fn step(&mut self, event: &Event, span: &mut dyn FnMut(Span)) {
        let Walker {
            totals,
            state,
            cursor,
            cursor_at,
        } = self;
        // Time since the previous event belongs to the state before this one; a clock that went
        // backwards adds nothing.
        if let Some(from) = *cursor {
            let to = event.ts.max(from);
            let bucket = state.bucket();
            if bucket == Some(Bucket::Ad) && !state.started {
                totals.preroll_ms += to.since(from);
            }
            totals.add(bucket, to.since(from), state.rendition.as_ref());
            emit(
                span,
                bucket,
                *cursor_at,
                to.since(from),
                state.rendition.as_ref(),
            );
            *cursor = Some(to);
            *cursor_at = event.at;
        }
        match &event.kind {
            EventKind::PlayRequested { observed } => {
                totals.play_requested = true;
                // A request the SDK did not see is dated late: no startup time can be told.
                totals.requested_before_start |= !state.started && *observed;
                state.idle = false;
                state.paused = false;
                if !state.watching {
                    state.watching = true;
                    *cursor = Some(event.ts);
                    *cursor_at = event.at;
                }
            }
            EventKind::FirstFrame if !state.started => {
                state.started = true;
                totals.started = true;
                if !state.watching {
                    state.watching = true;
                    *cursor = Some(event.ts);
                    *cursor_at = event.at;
                }
                // A stall open before the first frame was startup; it ends with it.
                state.stall = None;
            }
            EventKind::Pause => state.paused = true,
            EventKind::Play => {
                state.paused = false;
                state.idle = false;
                if state.stall == Some(StallKind::WhilePaused) {
                    state.stall = Some(StallKind::Rebuffer);
                    totals.rebuffer_count += 1;
                    room_for_one(&mut totals.rebuffers);
                    totals.rebuffers.push((totals.playing_ms, 0));
                }
            }
            EventKind::SeekStart { .. } => {
                state.idle = false;
                if state.seek_since.is_none() {
                    state.seek_since = Some(event.ts);
                    totals.seek_count += 1;
                }
            }
            EventKind::SeekEnd { .. } => {
                if let Some(since) = state.seek_since.take() {
                    totals.seek_latency_total_ms += event.ts.since(since);
                }
            }
            EventKind::StallStart if state.stall.is_none() => {
                let kind = if !state.started {
                    StallKind::Startup
                } else if state.in_ad {
                    StallKind::Ad
                } else if state.seek_since.is_some() {
                    StallKind::Seek
                } else if state.paused {
                    StallKind::WhilePaused
                } else {
                    totals.rebuffer_count += 1;
                    room_for_one(&mut totals.rebuffers);
                    totals.rebuffers.push((totals.playing_ms, 0));
                    StallKind::Rebuffer
                };
                state.stall = Some(kind);
            }
            EventKind::StallEnd => state.stall = None,
            EventKind::RenditionChange(rendition) => {
                if let Some(previous) = state.rendition.as_ref().filter(|_| state.started) {
                    if previous != rendition {
                        totals.rendition_changes += 1;
                        match rendition.bitrate_bps.cmp(&previous.bitrate_bps) {
                            std::cmp::Ordering::Greater => totals.upshifts += 1,
                            std::cmp::Ordering::Less => totals.downshifts += 1,
                            std::cmp::Ordering::Equal => {}
                        }
                    }
                }
                state.rendition = Some(rendition.clone());
            }
            EventKind::Error { fatal: true, .. } => {
                totals.fatal = true;
                if !state.started {
                    totals.fatal_before_start = true;
                }
                // Playback stopped: nothing after a fatal error is watched.
                state.idle = true;
            }
            EventKind::AdBreakStart => state.in_ad = true,
            EventKind::AdBreakEnd => state.in_ad = false,
            EventKind::Ended => state.idle = true,
            _ => {}
        }
    }

    /// The totals as of the last event stepped over, open intervals (a stall, a seek, playing)
    /// closed at `end` when the view has ended.
    pub fn finish(mut self, end: Option<ClientTime>, span: &mut dyn FnMut(Span)) -> Walk {
        let Walker {
            totals,
            state,
            cursor,
            cursor_at,
        } = &mut self;
        totals.watching_at_end = state.watching && !state.paused && !state.idle;
        if let (Some(from), Some(end)) = (*cursor, end) {
            let to = end.max(from);
            totals.add(state.bucket(), to.since(from), state.rendition.as_ref());
            emit(
                span,
                state.bucket(),
                *cursor_at,
                to.since(from),
                state.rendition.as_ref(),
            );
            *cursor = Some(to);
        }
        if let (Some(since), Some(now)) = (state.seek_since, *cursor) {
            totals.seek_latency_total_ms += now.since(since);
        }
        self.totals
    }
}

fn emit(
    span: &mut dyn FnMut(Span),
    bucket: Option<Bucket>,
    at: ServerTime,
    ms: u64,
    rendition: Option<&Rendition>,
) {
    if let (Some(bucket), true) = (bucket, ms > 0) {
        span(Span {
            bucket,
            at,
            ms,
            rendition,
        });
    }
}

impl Walk {
    fn add(&mut self, bucket: Option<Bucket>, ms: u64, rendition: Option<&Rendition>) {
        if ms == 0 {
            return;
        }
        match bucket {
            None | Some(Bucket::Idle) => {}
            Some(Bucket::Startup) => self.startup_ms += ms,
            Some(Bucket::Ad) => self.ad_ms += ms,
            Some(Bucket::Paused) => self.paused_ms += ms,
            Some(Bucket::Seek) => self.seek_ms += ms,
            Some(Bucket::Rebuffer) => {
                self.rebuffer_ms += ms;
                if let Some((_, duration)) = self.rebuffers.last_mut() {
                    *duration += ms;
                }
            }
            Some(Bucket::Playing) => {
                self.playing_ms += ms;
                match self.playing_spans.last_mut() {
                    Some((last, total)) if last.as_ref() == rendition => *total += ms,
                    _ => {
                        room_for_one(&mut self.playing_spans);
                        self.playing_spans.push((rendition.cloned(), ms));
                    }
                }
                if let Some(rendition) = rendition {
                    match self
                        .playing_by_rendition
                        .iter_mut()
                        .find(|(r, _)| r == rendition)
                    {
                        Some((_, total)) => *total += ms,
                        None => {
                            room_for_one(&mut self.playing_by_rendition);
                            self.playing_by_rendition.push((rendition.clone(), ms));
                        }
                    }
                }
            }
        }
    }

    /// Watch time: everything from watch start to view end but paused and idle time.
    pub fn watch_ms(&self) -> u64 {
        self.startup_ms + self.ad_ms + self.seek_ms + self.rebuffer_ms + self.playing_ms
    }
}
