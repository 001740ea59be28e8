//! A view: all events of one play attempt, merged by `seq` whatever order batches arrive in.
use std::collections::BTreeMap;

use crate::{
    dimension_text, Batch, ClientTime, Event, LoggedAt, Seq, ServerTime, ViewHeader, ViewId,
    ViewProps,
};

/// Why a view ended (DESIGN §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// The SDK sent `view_end`.
    ViewEnd,
    /// No event arrived for the inactivity timeout.
    Idle,
    /// A stall lasted longer than the stall timeout.
    StallTimeout,
}

impl EndReason {
    /// The name used in the API (`view_end`, `idle`, `stall_timeout`).
    pub fn name(self) -> &'static str {
        match self {
            EndReason::ViewEnd => "view_end",
            EndReason::Idle => "idle",
            EndReason::StallTimeout => "stall_timeout",
        }
    }
}

/// How and when a view ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViewEnd {
    /// Which rule ended it.
    pub reason: EndReason,
    /// End on the device clock: metrics close open intervals (a stall, a seek) here.
    pub ts: ClientTime,
    /// End on the server clock.
    pub at: ServerTime,
    /// The last event that belongs to the view; later events are kept but not measured.
    pub last_seq: Seq,
}

/// What a merge did with a batch's events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Merged {
    /// Events new to the view.
    pub fresh: usize,
    /// Events whose `seq` the view already had.
    pub duplicates: usize,
    /// The batch changed the view's props.
    pub props_changed: bool,
}

/// All events of one play attempt, ordered by `seq`.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    /// The SDK's view id.
    pub id: ViewId,
    /// Pseudonymous viewer id, from the latest batch that carried one.
    pub viewer_id: Option<String>,
    /// Page or app session id, from the latest batch that carried one.
    pub session_id: Option<String>,
    /// Dimension values; later batches override earlier values.
    pub props: ViewProps,
    /// Events by `seq`; the first copy of a `seq` wins.
    pub events: BTreeMap<Seq, Event>,
    /// Server clock of the first batch received.
    pub first_received_at: ServerTime,
    /// Server clock of the latest batch received.
    pub last_received_at: ServerTime,
    /// Set once the view has ended.
    pub end: Option<ViewEnd>,
    /// Batches merged so far: anything derived from the view stays current while this does.
    pub revision: u64,
    /// Set while the events are let go from memory (in the write-ahead log or an hour file).
    pub released: Option<Released>,
    /// Where every batch merged so far is in the write-ahead log, in merge order: the view's
    /// events can be read back from there. `None` once a batch without a record was merged,
    /// or the events came from an hour file.
    pub logged: Option<Vec<LoggedAt>>,
}

/// What stays known of a view's events while they are out of memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Released {
    /// Server time of the first event.
    pub started_at: ServerTime,
    /// How many events there are.
    pub events: usize,
    /// The first and last `seq`, when the view has every `seq` between them (SDKs number
    /// events 0, 1, 2…): which `seq`s it has is then known without its events.
    pub seqs: Option<(Seq, Seq)>,
    /// The event with the highest `seq`.
    pub last: LastEvent,
}

/// The `seq` and clocks of a view's event with the highest `seq`: what the end rules and the
/// detection clock read of a view whose events are out of memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastEvent {
    /// Its `seq`.
    pub seq: Seq,
    /// Device clock.
    pub ts: ClientTime,
    /// Server clock.
    pub at: ServerTime,
}

impl LastEvent {
    fn of(event: &Event) -> LastEvent {
        LastEvent {
            seq: event.seq,
            ts: event.ts,
            at: event.at,
        }
    }
}

impl Released {
    /// Whether the view has an event with `seq`: `None` when that is not known.
    pub fn has(&self, seq: Seq) -> Option<bool> {
        let (first, last) = self.seqs?;
        Some(seq >= first && seq <= last)
    }
}

impl View {
    /// Starts an empty view from a batch's header.
    pub fn new(header: &ViewHeader, received_at: ServerTime) -> View {
        View {
            id: header.id.clone(),
            viewer_id: None,
            session_id: None,
            props: ViewProps::default(),
            events: BTreeMap::new(),
            first_received_at: received_at,
            last_received_at: received_at,
            end: None,
            revision: 0,
            released: None,
            logged: Some(Vec::new()),
        }
    }

    /// Merges a batch of this view: new `seq`s are added, known ones counted as duplicates.
    pub fn merge(&mut self, batch: Batch) -> Merged {
        let (events, props_changed) = self.merge_header(batch);
        let mut merged = Merged {
            props_changed,
            ..Merged::default()
        };
        for event in events {
            match self.events.entry(event.seq) {
                std::collections::btree_map::Entry::Occupied(_) => merged.duplicates += 1,
                std::collections::btree_map::Entry::Vacant(slot) => {
                    slot.insert(event);
                    merged.fresh += 1;
                }
            }
        }
        merged
    }

    /// Takes in what a batch says of the view besides its events (ids, props, when, where
    /// logged); returns the events, and whether the props changed.
    fn merge_header(&mut self, batch: Batch) -> (Vec<Event>, bool) {
        debug_assert_eq!(batch.view.id, self.id, "batch merged into another view");
        let ViewHeader {
            viewer_id,
            session_id,
            props,
            ..
        } = batch.view;
        if viewer_id.is_some() {
            self.viewer_id = viewer_id;
        }
        if session_id.is_some() {
            self.session_id = session_id;
        }
        let props_changed = self.props.extend(props);
        self.last_received_at = self.last_received_at.max(batch.received_at);
        self.revision += 1;
        match (&mut self.logged, batch.logged_at) {
            (Some(logged), Some(at)) => logged.push(at),
            _ => self.logged = None,
        }
        (batch.events, props_changed)
    }

    /// Whether a view whose events are out of memory can take `batch` without them: it knows
    /// which `seq`s it has (every one from its first to its last), the batch's new ones
    /// continue them without a gap, and the batch is in the log too. Its events can then be
    /// passed on ([`View::pass`]) rather than kept.
    pub fn continues(&self, batch: &Batch) -> bool {
        let Some(Released {
            seqs: Some((first, last)),
            ..
        }) = self.released
        else {
            return false;
        };
        if self.logged.is_none() || batch.logged_at.is_none() {
            return false;
        }
        let events = &batch.events;
        let mut fresh: Vec<u64> = events
            .iter()
            .map(|event| event.seq)
            .filter(|seq| *seq > last)
            .map(|seq| seq.0)
            .collect();
        fresh.sort_unstable();
        fresh.dedup();
        events.iter().all(|event| event.seq >= first)
            && fresh
                .iter()
                .enumerate()
                .all(|(i, seq)| *seq == last.0 + 1 + i as u64)
    }

    /// Merges a batch that [continues](View::continues) this view whose events are out of
    /// memory, without keeping its events: returns those new to the view, in `seq` order (the
    /// first copy of a `seq` wins), for the caller to measure.
    pub fn pass(&mut self, batch: Batch) -> (Merged, Vec<Event>) {
        debug_assert!(self.continues(&batch), "passed a batch with a gap");
        let (events, props_changed) = self.merge_header(batch);
        let mut merged = Merged {
            props_changed,
            ..Merged::default()
        };
        let Some(released) = self.released.as_mut() else {
            return (merged, Vec::new());
        };
        let mut fresh: Vec<Event> = Vec::with_capacity(events.len());
        let total = events.len();
        for event in events {
            if released.has(event.seq) != Some(false) {
                continue;
            }
            fresh.push(event);
        }
        fresh.sort_by_key(|event| event.seq);
        fresh.dedup_by_key(|event| event.seq);
        merged.fresh = fresh.len();
        merged.duplicates = total - fresh.len();
        if let Some(last) = fresh.last() {
            released.last = LastEvent::of(last);
            released.seqs = released.seqs.map(|(first, _)| (first, last.seq));
            released.events += fresh.len();
        }
        (merged, fresh)
    }

    /// Whether the view has an event with `seq`: `None` when its events are out of memory and
    /// which `seq`s it has is not known.
    pub fn has_event(&self, seq: Seq) -> Option<bool> {
        match self.released {
            Some(released) => released.has(seq),
            None => Some(self.events.contains_key(&seq)),
        }
    }

    /// Its event with the highest `seq`.
    pub fn last_event(&self) -> Option<LastEvent> {
        match self.released {
            Some(released) => Some(released.last),
            None => self.events.values().next_back().map(LastEvent::of),
        }
    }

    /// Whether the write-ahead log holds every batch merged into the view (at [`View::logged`]),
    /// so its events can be read back from there.
    pub fn in_log(&self) -> bool {
        self.logged
            .as_ref()
            .is_some_and(|logged| !logged.is_empty())
    }

    /// Events that belong to the view: all of them, or up to the end's `last_seq` once ended.
    pub fn measured_events(&self) -> impl Iterator<Item = &Event> + '_ {
        let last = self.end.map_or(Seq(u64::MAX), |end| end.last_seq);
        self.events.range(..=last).map(|(_, event)| event)
    }

    /// Server time of the first event, when the view has any.
    pub fn started_at(&self) -> Option<ServerTime> {
        match self.released {
            Some(released) => Some(released.started_at),
            None => self.events.values().next().map(|e| e.at),
        }
    }

    /// Lets the events go from memory (they are kept elsewhere); returns them (none if the
    /// view has none or let them go already).
    pub fn release_events(&mut self) -> BTreeMap<Seq, Event> {
        let (Some(started_at), Some(last)) = (self.started_at(), self.last_event()) else {
            return BTreeMap::new();
        };
        if self.released.is_some() {
            return BTreeMap::new();
        }
        let events = std::mem::take(&mut self.events);
        let seqs = match (events.keys().next(), events.keys().next_back()) {
            (Some(first), Some(last)) if last.0 - first.0 + 1 == events.len() as u64 => {
                Some((*first, *last))
            }
            _ => None,
        };
        self.released = Some(Released {
            started_at,
            events: events.len(),
            seqs,
            last,
        });
        events
    }

    /// Takes the events back after [`View::release_events`].
    pub fn restore_events(&mut self, events: impl IntoIterator<Item = Event>) {
        self.released = None;
        for event in events {
            self.events.entry(event.seq).or_insert(event);
        }
    }

    /// The latest `seq` received.
    pub fn last_seq(&self) -> Option<Seq> {
        self.last_event().map(|last| last.seq)
    }

    /// Whether the view has ended.
    pub fn is_ended(&self) -> bool {
        self.end.is_some()
    }

    /// A dimension's value as text (`cdn` → `cdn-a`), for filters and group-by.
    ///
    /// `viewer_id` and `session_id` are dimensions too.
    pub fn dimension(&self, name: &str) -> Option<String> {
        match name {
            "viewer_id" => self.viewer_id.clone(),
            "session_id" => self.session_id.clone(),
            _ => self.props.get(name).map(dimension_text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(seq: u64, logged_at: Option<LoggedAt>) -> Batch {
        let body = format!(
            r#"{{"v":1,"view":{{"id":"v"}},"events":[{{"seq":{seq},"ts":{},"type":"heartbeat"}}]}}"#,
            1_000 + seq
        );
        let mut batch = Batch::parse(body.as_bytes(), ServerTime(5_000)).unwrap();
        batch.logged_at = logged_at;
        batch
    }

    #[test]
    fn a_view_knows_its_records_while_every_batch_was_logged() {
        let at = |offset| Some(LoggedAt { segment: 3, offset });
        type Case = (&'static str, Vec<Option<LoggedAt>>, Option<Vec<LoggedAt>>);
        let cases: [Case; 4] = [
            ("none merged", vec![], Some(vec![])),
            (
                "all logged, in merge order",
                vec![at(40), at(0)],
                Some(vec![at(40).unwrap(), at(0).unwrap()]),
            ),
            ("one not logged first", vec![None, at(0)], None),
            ("one not logged later", vec![at(0), None, at(9)], None),
        ];
        for (name, batches, want) in cases {
            let first = batch(0, None);
            let mut view = View::new(&first.view, first.received_at);
            for (seq, logged_at) in batches.into_iter().enumerate() {
                view.merge(batch(seq as u64, logged_at));
            }
            assert_eq!(view.logged, want, "{name}");
        }
    }
}
