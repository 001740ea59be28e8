//! Reading ended views' events back from where they are while out of memory: the write-ahead
//! log (ended, hour not written since) or the hour's events file.
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use anyhow::{bail, Context};
use openqoe_collect::decode_record;
use openqoe_model::{Event, LoggedAt, ViewId};
use openqoe_store::{events_by_view, hour_file, read_event_rows, EventsAt};
use openqoe_wal::{read_records, LogPosition};

/// Most log records read back at once (100-event batches are about 40 KB each).
const RECORDS_PER_READ: usize = 2_048;

/// Views whose events are read back together: those of one hour file, or a share of those in
/// the log (bounded by [`RECORDS_PER_READ`]).
pub enum ReadGroup {
    /// Views `.1` of the hour starting at `.0`, from its events file.
    HourFile(i64, HashSet<ViewId>),
    /// Views from the log, each with its batches' records.
    Log(Vec<(ViewId, Vec<LoggedAt>)>),
}

impl ReadGroup {
    /// Splits `released` into groups: one per hour file, and the log's views by id in shares.
    pub fn split(released: Vec<(ViewId, EventsAt)>) -> Vec<ReadGroup> {
        let mut by_hour: BTreeMap<i64, HashSet<ViewId>> = BTreeMap::new();
        let mut logged = Vec::new();
        for (id, at) in released {
            match at {
                EventsAt::HourFile(hour) => {
                    by_hour.entry(hour).or_default().insert(id);
                }
                EventsAt::Log(records) => logged.push((id, records)),
            }
        }
        let mut groups: Vec<ReadGroup> = by_hour
            .into_iter()
            .map(|(hour, ids)| ReadGroup::HourFile(hour, ids))
            .collect();
        // By id: each share is one run of ids in an hour's events file.
        logged.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut share = Vec::new();
        let mut records = 0;
        for view in logged {
            if records + view.1.len() > RECORDS_PER_READ && !share.is_empty() {
                groups.push(ReadGroup::Log(std::mem::take(&mut share)));
                records = 0;
            }
            records += view.1.len();
            share.push(view);
        }
        if !share.is_empty() {
            groups.push(ReadGroup::Log(share));
        }
        groups
    }

    /// The group's view ids.
    pub fn ids(&self) -> Vec<ViewId> {
        match self {
            ReadGroup::HourFile(_, ids) => ids.iter().cloned().collect(),
            ReadGroup::Log(views) => views.iter().map(|(id, _)| id.clone()).collect(),
        }
    }

    /// Reads the group's events, by view.
    ///
    /// # Errors
    /// When the file or a log record cannot be read, or does not hold what it should.
    pub fn read(&self, data_dir: &Path) -> anyhow::Result<HashMap<ViewId, Vec<Event>>> {
        match self {
            ReadGroup::HourFile(hour, ids) => {
                let path = hour_file(data_dir, "events", *hour);
                read_event_rows(&path, Some(ids))
                    .and_then(|rows| events_by_view(&rows))
                    .context("reading back released views' events from their hour file")
            }
            ReadGroup::Log(views) => read_logged(&data_dir.join("wal"), views),
        }
    }
}

/// One view's events, read back from where they are.
///
/// # Errors
/// As [`ReadGroup::read`].
pub fn read_view_events(data_dir: &Path, id: &ViewId, at: EventsAt) -> anyhow::Result<Vec<Event>> {
    let mut events = HashMap::new();
    for group in ReadGroup::split(vec![(id.clone(), at)]) {
        events.extend(group.read(data_dir)?);
    }
    Ok(events.remove(id).unwrap_or_default())
}

/// The events of `views` from the write-ahead log in `wal_dir`, each view's batches decoded in
/// merge order (the first copy of a `seq` wins, as it did when merged).
fn read_logged(
    wal_dir: &Path,
    views: &[(ViewId, Vec<LoggedAt>)],
) -> anyhow::Result<HashMap<ViewId, Vec<Event>>> {
    let positions: Vec<LogPosition> = views
        .iter()
        .flat_map(|(_, records)| records.iter())
        .map(|at| LogPosition {
            segment: u64::from(at.segment),
            offset: u64::from(at.offset),
        })
        .collect();
    let records = read_records(wal_dir, &positions)
        .context("reading back ended views' events from the write-ahead log")?;
    let mut records = records.into_iter();
    let mut by_view = HashMap::with_capacity(views.len());
    for (id, at) in views {
        let mut events = BTreeMap::new();
        for (record, at) in records.by_ref().take(at.len()).zip(at) {
            let batch = decode_record(&record).with_context(|| {
                format!(
                    "write-ahead log record {}:{} of view {id}",
                    at.segment, at.offset
                )
            })?;
            if batch.view.id != *id {
                bail!(
                    "write-ahead log record {}:{} holds view {}, expected {id}",
                    at.segment,
                    at.offset,
                    batch.view.id
                );
            }
            for event in batch.events {
                events.entry(event.seq).or_insert(event);
            }
        }
        by_view.insert(id.clone(), events.into_values().collect());
    }
    Ok(by_view)
}
