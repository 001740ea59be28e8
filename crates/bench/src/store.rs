//! `openqoe bench store`: memory per ended view, with its events in memory and once its hour is
//! written and they are let go; with `--live`, memory per live view. Views made as `bench
//! ingest` sends them, sessionized and stored by the server's own code, an hour at a time;
//! resident memory measured before and after.
use std::time::Instant;

use clap::Args;
use openqoe_model::{Batch, LoggedAt, ServerTime};
use openqoe_sessionize::{SessionizeConfig, Sessionizer};
use openqoe_store::{ViewStore, PARTITION_MS};
use serde_json::json;

use crate::ingest::bodies::{identity, props_variant, BodyTemplate, ViewShape};
use crate::query::memory;
use openqoe_server::{Config, ServerViews};

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
    /// Views stay live (their last batch is not sent): through the server's views with their
    /// batches in a log, as a server holds its concurrent viewers. With `--keep-events`, as a
    /// server with `keep_ended_seconds` above 0 holds them.
    #[arg(long)]
    live: bool,
    /// Views end (every batch sent) through the server's views with their batches in a log,
    /// their events let go at their end as the server's expiry pass lets them go; their hour is
    /// not written, so each keeps where its batches are in the log.
    #[arg(long, conflicts_with_all = ["live", "keep_events"])]
    ended_in_log: bool,
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
    if args.live {
        anyhow::ensure!(
            args.view_batches > 1,
            "--live: expected at least 2 --view-batches"
        );
        return served(&args, shape, &templates);
    }
    if args.ended_in_log {
        return served(&args, shape, &templates);
    }
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
    let report = json!({
        "views": store.len(),
        "live_views": sessionizer.live_count(),
        "events_per_view": events_per_view,
        "events_kept": args.keep_events,
        "released_events": released,
    });
    let lines = [
        format!(
            "{} ended views of {} events over {} h, stored in {:.1} s ({} still live)",
            store.len(),
            events_per_view,
            args.hours,
            took.as_secs_f64(),
            sessionizer.live_count()
        ),
        resident(
            match args.keep_events {
                true => "kept in memory",
                false => "let go hour by hour",
            },
            (after, peak),
            per_view,
            "ended view",
        ),
    ];
    print_report(args.json, report, (after, peak, per_view, took), &lines);
    Ok(())
}

/// `--live` and `--ended-in-log`: memory per live or ended view, its batches applied as a
/// server applies them.
fn served(
    args: &StoreArgs,
    shape: ViewShape,
    templates: &[Vec<BodyTemplate>],
) -> anyhow::Result<()> {
    let mut config = Config::default();
    config.store.keep_ended_seconds = if args.keep_events { 3_600 } else { 0 };
    let (before, _) = memory();
    let started = Instant::now();
    let mut views = ServerViews::new(&config);
    let start = 1_767_225_600_000_u64; // 2026-01-01T00:00Z
    let mut body = Vec::new();
    let mut offset = 0;
    for view in 0..args.views {
        let id = identity(1, 0, view as u64);
        let first_ts = start + view as u64;
        // Live: every batch but the last, which would end the view.
        let sent = shape.view_batches - usize::from(args.live);
        let mut received = ServerTime(0);
        for (position, template) in templates[view % templates.len()][..sent].iter().enumerate() {
            let ts = first_ts + (position * args.batch_events) as u64;
            template.fill(&mut body, &id, ts);
            received = ServerTime((ts + args.batch_events as u64) as i64);
            let mut batch = Batch::parse(&body, received)?;
            batch.logged_at = Some(LoggedAt { segment: 1, offset });
            offset = offset.wrapping_add(body.len() as u32);
            views.apply(batch);
        }
        if args.ended_in_log {
            views.expire(received);
        }
    }
    let took = started.elapsed();
    let (after, peak) = memory();
    anyhow::ensure!(views.held_back() == 0, "batches held back");
    let (held, kind) = match args.live {
        true => (views.live_count(), "live view"),
        false => (views.ended_count(), "ended view"),
    };
    let events_were = match (args.keep_events, args.live) {
        (true, _) => "kept in memory",
        (false, true) => "in the log only",
        (false, false) => "let go at the view's end, read back from the log",
    };
    let per_view = after.saturating_sub(before) as f64 / held.max(1) as f64;
    let events = args.batch_events * (shape.view_batches - usize::from(args.live));
    let report = json!({
        "live_views": views.live_count(),
        "ended_views": views.ended_count(),
        "events_per_view": events,
        "events_kept": args.keep_events,
    });
    let lines = [
        format!(
            "{} {kind}s of {} events, applied in {:.1} s",
            held,
            events,
            took.as_secs_f64()
        ),
        resident(events_were, (after, peak), per_view, kind),
    ];
    print_report(args.json, report, (after, peak, per_view, took), &lines);
    Ok(())
}

/// Prints `report` with the memory and time figures as one JSON object (`--json`), or else its
/// `lines`.
fn print_report(
    json: bool,
    mut report: serde_json::Value,
    (after, peak, per_view, took): (u64, u64, f64, std::time::Duration),
    lines: &[String],
) {
    if json {
        report["rss_bytes"] = after.into();
        report["peak_rss_bytes"] = peak.into();
        report["bytes_per_view"] = per_view.into();
        report["seconds"] = took.as_secs_f64().into();
        println!("{report}");
    } else {
        lines.iter().for_each(|line| println!("{line}"));
    }
}

/// The memory line: where the events were, resident and peak bytes, and bytes per view.
fn resident(events: &str, (after, peak): (u64, u64), per_view: f64, view: &str) -> String {
    format!(
        "events {events}: {:.0} MiB resident (peak {:.0} MiB), {per_view:.0} bytes per {view}",
        after as f64 / 1_048_576.0,
        peak as f64 / 1_048_576.0,
    )
}
