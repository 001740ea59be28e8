//! `openqoe bench crash`: the ingest load of `bench ingest` with every acknowledgement noted,
//! the server killed with SIGKILL at full load and started again on the same data directory;
//! then every acknowledged event is looked up. Prints what was acknowledged, how long the
//! restart took, and how many acknowledged events are missing (fails the command if any).
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use serde_json::json;

use crate::ingest::load::{drive_connection, wall_ms, Plan, Tally};
use crate::ingest::pace::Pace;
use crate::ingest::server::StartedServer;
use crate::ingest::{request_templates, resolve_target, ClientKind, LoadArgs};

/// `openqoe bench crash` flags.
#[derive(Args)]
pub struct CrashArgs {
    #[command(flatten)]
    load: LoadArgs,
    /// Seconds of load before the kill.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Prints the report as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Runs the crash benchmark and prints its figures.
///
/// # Errors
/// When a server cannot be started or asked, or an acknowledged event is missing.
pub async fn run(args: CrashArgs) -> anyhow::Result<()> {
    args.load.check()?;
    let dir = std::env::temp_dir().join(format!("openqoe-bench-crash-{}", std::process::id()));
    let outcome = crash_and_check(&args, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    let report = outcome?;
    let lost = report["lost_events"].as_u64().unwrap_or(u64::MAX);
    if args.json {
        println!("{report}");
    } else {
        println!(
            "load: {} connections, {}-event batches; SIGKILL after {:.1} s at {:.0} events/s acknowledged",
            args.load.connections,
            args.load.batch_events,
            args.seconds,
            report["events_per_second"].as_f64().unwrap_or(0.0)
        );
        println!(
            "acknowledged before the kill: {} events in {} batches of {} views",
            report["acked_events"], report["acked_batches"], report["views"]
        );
        println!(
            "restart on the same data directory: listening after {:.2} s",
            report["restart_s"].as_f64().unwrap_or(0.0)
        );
        println!(
            "acknowledged events missing after the restart: {} (events beyond the acknowledged: {})",
            lost, report["unacknowledged_kept"]
        );
    }
    if lost > 0 {
        bail!("{lost} acknowledged events were lost");
    }
    Ok(())
}

async fn crash_and_check(
    args: &CrashArgs,
    dir: &std::path::Path,
) -> anyhow::Result<serde_json::Value> {
    let mut server = StartedServer::start(Some(dir.to_owned())).await?;
    let target = resolve_target(Some(&server), None).await?;
    let shape = args.load.shape();
    let started = Instant::now();
    let kill_at = started + Duration::from_secs_f64(args.seconds);
    let plan = Arc::new(Plan {
        templates: request_templates("demo", &target.authority, shape),
        shape,
        views_per_connection: args.load.views_per_connection,
        run: wall_ms(),
        client: ClientKind::Raw,
        addr: target.addr,
        url: format!("{}/v1/events", target.base),
        from: started,
        // The load runs on past the kill: requests then fail, and none of them is acknowledged.
        until: kill_at + Duration::from_millis(500),
        pace: Pace::FlatOut,
        ledger: true,
    });
    let connections: Vec<_> = (0..args.load.connections)
        .map(|connection| tokio::spawn(drive_connection(Arc::clone(&plan), connection)))
        .collect();
    tokio::time::sleep_until(kill_at.into()).await;
    server.child.kill().await.context("killing the server")?;
    let killed = Instant::now();
    let mut tally = Tally::default();
    for connection in connections {
        tally.merge(connection.await.context("a connection task panicked")?);
    }
    // The directory must outlive the first server: it is the second one's.
    server.temporary_dir = None;
    drop(server);

    let restarting = Instant::now();
    let server = StartedServer::start(Some(dir.to_owned())).await?;
    let restart_s = restarting.elapsed().as_secs_f64();
    let mut expected: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
    for (identity, position) in &tally.acked {
        let id = format!("bench-{}", String::from_utf8_lossy(identity));
        let first = (position * args.load.batch_events) as u64;
        expected
            .entry(id)
            .or_default()
            .extend(first..first + args.load.batch_events as u64);
    }
    let client = crate::ingest::server::reader(server.token.as_deref());
    let (mut lost, mut beyond) = (0_u64, 0_u64);
    for (id, seqs) in &expected {
        let url = format!("{}/v1/views/{id}/events", server.url);
        let answer = client
            .get(&url)
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        let found: BTreeSet<u64> = if answer.status() == 404 {
            BTreeSet::new()
        } else {
            let body: serde_json::Value =
                answer.json().await.with_context(|| format!("GET {url}"))?;
            body["events"]
                .as_array()
                .map(|events| events.iter().filter_map(|e| e["seq"].as_u64()).collect())
                .unwrap_or_default()
        };
        lost += seqs.difference(&found).count() as u64;
        beyond += found.difference(seqs).count() as u64;
    }
    server.stop().await;
    let acked_events = tally.acked.len() as u64 * args.load.batch_events as u64;
    let load_s = killed.duration_since(started).as_secs_f64();
    Ok(json!({
        "connections": args.load.connections,
        "batch_events": args.load.batch_events,
        "acked_batches": tally.acked.len(),
        "acked_events": acked_events,
        "events_per_second": acked_events as f64 / load_s,
        "views": expected.len(),
        "restart_s": restart_s,
        "lost_events": lost,
        "unacknowledged_kept": beyond,
    }))
}
