//! Keeps the views table in ClickHouse current: every second, the rows of the views that took a
//! batch or ended meanwhile, in one insert. A write ClickHouse does not take is made again at
//! the next second from the views as they are then (rows replace by version, so a row written
//! twice counts once); the process's own log stays the truth they are made from. Retention
//! drops the days of views older than `[store] retention_days`, checked as often as the store's
//! own retention (`check_seconds`).
use std::sync::Arc;
use std::time::Duration;

use openqoe_clickhouse::{Versions, ViewRows};
use openqoe_model::ServerTime;
use openqoe_store::StoreConfig;

use crate::pipeline::Pipeline;

/// How often changed views are written.
const WRITE_PERIOD: Duration = Duration::from_secs(1);
/// Most rows in one insert (and made at once).
const ROWS_PER_WRITE: usize = 50_000;

/// Writes changed views' rows with `rows` every [`WRITE_PERIOD`], for ever, and drops the days
/// of views past `store`'s retention every `check_seconds`; logs when writes start failing and
/// when they work again, not every failed second.
pub(crate) async fn write_changed_rows(
    pipeline: Arc<Pipeline>,
    rows: ViewRows,
    store: StoreConfig,
) {
    let retention_period = Duration::from_secs(store.check_seconds.max(1));
    let versions = Versions::default();
    let mut interval = tokio::time::interval(WRITE_PERIOD);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    let mut retention_due = tokio::time::Instant::now();
    loop {
        interval.tick().await;
        let cutoff = store.retention_cutoff(ServerTime::now());
        if let Some(cutoff) = cutoff.filter(|_| tokio::time::Instant::now() >= retention_due) {
            retention_due += retention_period;
            match rows.drop_days_before(cutoff.0).await {
                Ok(0) => {}
                Ok(dropped) => tracing::info!(
                    days = dropped,
                    "ClickHouse: days of views past retention dropped"
                ),
                Err(e) => {
                    tracing::error!(error = %e, "ClickHouse: days past retention not dropped; tried again at the next check")
                }
            }
        }
        let taking = Arc::clone(&pipeline);
        let Ok(ids) = tokio::task::spawn_blocking(move || taking.take_changed()).await else {
            continue;
        };
        // A share at a time: after a restart's replay every view changed at once.
        let mut shares = ids.chunks(ROWS_PER_WRITE);
        while let Some(share) = shares.next() {
            let version = versions.next(ServerTime::now().0);
            let (making, share_ids) = (Arc::clone(&pipeline), share.to_vec());
            let written = match tokio::task::spawn_blocking(move || {
                making.rows_of(&share_ids, version)
            })
            .await
            {
                Ok(made) => rows
                    .write(&made)
                    .await
                    .map(|()| made.len())
                    .map_err(|e| e.to_string()),
                Err(stopped) => Err(stopped.to_string()),
            };
            match written {
                Ok(count) => {
                    if failing {
                        tracing::info!(rows = count, "ClickHouse takes view rows again");
                        failing = false;
                    }
                }
                Err(error) => {
                    if !failing {
                        tracing::error!(%error, views = ids.len(), "view rows not written to ClickHouse; retried every second from the views as they are then");
                        failing = true;
                    }
                    let unwritten = share.iter().chain(shares.by_ref().flatten());
                    pipeline.changed_again(unwritten.cloned().collect());
                    break;
                }
            }
        }
    }
}
