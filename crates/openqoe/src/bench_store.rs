//! `openqoe bench store`: memory per ended view, with its events in memory and once its hour is
//! written and they are let go. Views made as `bench ingest` sends them, sessionized and stored
//! by the server's own code, an hour at a time; resident memory measured before and after.
use std::time::Instant;

use clap::Args;
use openqoe_model::{Batch, ServerTime};
use openqoe_sessionize::{SessionizeConfig, Sessionizer};
use openqoe_store::{ViewStore, PARTITION_MS};
use serde_json::json;

use crate::bench_ingest::bodies::{identity, props_variant, BodyTemplate, ViewShape};
use crate::bench_query::memory;

/// `openqoe bench store` flags.
#[derive(Args)]
pub struct StoreArgs {
    /// Ended views made, spread evenly over the hours.
    #[arg(long, default_value_t = 240_000)]
    views: usize,
    /// Hours they start in.
    #[arg(long, default_value_t = 24)]
    hours: usize,
    /// Events per batch.
    #[arg(long, default_value_t = 10)]
    batch_events: usize,
    /// Batches per view (the last ends it): events per view = batches × batch events.
    #[arg(long, default_value_t = 6)]
    view_batches: usize,
    /// Keep every view's events in memory (as for an hour not yet written) instead of letting
    /// each hour's go once it is stored.
    #[arg(long)]
    keep_events: bool,
    /// Prints the report as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Runs the store memory benchmark and prints its figures.
///
/// # Errors
/// When the arguments are out of range.
pub fn run(args: StoreArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.views > 0 && args.hours > 0 && args.batch_events > 0 && args.view_batches > 0,
        "--views, --hours, --batch-events, --view-batches: expected at least 1"
    );
    let shape = ViewShape {
        batch_events: args.batch_events,
        view_batches: args.view_batches,
    };
    let templates: Vec<Vec<BodyTemplate>> = (0..16)
        .map(|variant| {
            (0..shape.view_batches)
                .map(|position| {
                    BodyTemplate::build("demo", &props_variant(variant), position, shape)
                })
                .collect()
        })
        .collect();
    let (before, _) = memory();
    let started = Instant::now();
    let mut sessionizer = Sessionizer::new(SessionizeConfig::default());
    let mut store = ViewStore::new();
    let start = 1_767_225_600_000_u64; // 2026-01-01T00:00Z
    let per_hour = args.views.div_ceil(args.hours);
    let mut body = Vec::new();
    let (mut made, mut released) = (0, 0);
    for hour in 0..args.hours {
        let hour_start = start + (hour as u64) * PARTITION_MS as u64;
        for view in 0..per_hour.min(args.views - made) {
            let id = identity(1, hour, view as u64);
            let first_ts = hour_start + (view as u64 * PARTITION_MS as u64) / per_hour as u64;
            for (position, template) in templates[view % templates.len()].iter().enumerate() {
                let ts = first_ts + (position * args.batch_events) as u64;
                template.fill(&mut body, &id, ts);
                let received = ServerTime((ts + args.batch_events as u64) as i64);
                let batch = Batch::parse(&body, received)?;
                let mut ended = Vec::new();
                sessionizer
                    .apply(batch, &mut ended)
                    .expect("a view keeps its events unless let go");
                ended.into_iter().for_each(|view| store.insert(view));
            }
            made += 1;
        }
        if !args.keep_events {
            let hour = hour_start as i64;
            if let Some((_, version)) = store
                .table()
                .unwritten_hours(hour + PARTITION_MS)
                .into_iter()
                .find(|(h, _)| *h == hour)
            {
                store.mark_written(hour, version);
                released += store
                    .release_hour(hour)
                    .iter()
                    .map(|e| e.len())
                    .sum::<usize>();
            }
        }
    }
    let took = started.elapsed();
    let (after, peak) = memory();
    let events_per_view = args.batch_events * args.view_batches;
    let per_view = after.saturating_sub(before) as f64 / store.len().max(1) as f64;
    if args.json {
        println!(
            "{}",
            json!({
                "views": store.len(),
                "live_views": sessionizer.live_count(),
                "events_per_view": events_per_view,
                "events_kept": !args.keep_events,
                "released_events": released,
                "rss_bytes": after,
                "peak_rss_bytes": peak,
                "bytes_per_view": per_view,
                "seconds": took.as_secs_f64(),
            })
        );
    } else {
        println!(
            "{} ended views of {} events over {} h, stored in {:.1} s ({} still live)",
            store.len(),
            events_per_view,
            args.hours,
            took.as_secs_f64(),
            sessionizer.live_count()
        );
        println!(
            "events {}: {:.0} MiB resident (peak {:.0} MiB), {:.0} bytes per ended view",
            if args.keep_events {
                "kept in memory"
            } else {
                "let go hour by hour"
            },
            after as f64 / 1_048_576.0,
            peak as f64 / 1_048_576.0,
            per_view
        );
    }
    Ok(())
}
