//! `openqoe bench soak`: a long run at a fraction of the measured capacity, to show that memory
//! holds still under sustained load.
//!
//! A server that stores ended views in memory grows by design: every ended view stays (about
//! 4 KB) until retention drops it, and keeps where its batches are in the log (8 bytes a batch)
//! until its hour is written. So "RSS flat" is judged on what is left once that is taken out:
//! the growth over the steady window less the ended views gained times the bytes one ended view
//! of the same shape costs, measured apart by `openqoe bench store --ended-in-log` (the server's
//! views code on its own: no HTTP, no limits, no connections, no log). What remains is what the
//! serving path — connections, rate limits, sessions, the log — kept, and it should stay within
//! 10 % of the RSS.
//!
//! Phases: the capacity (flat out for `--capacity-seconds`); the calibration (`bench store` in
//! child processes, for views as long as the pace makes them, while the server idles); then the
//! paced load for `--minutes`, sampled every `--sample-seconds`. In the paced load each view
//! sends a batch every period, and a connection's views join one at a time over the first view's
//! life: from then on views of every age are live and they end one by one, as an audience's do,
//! so what the live views hold stays level and the ended views grow steadily. The capacity
//! phase's views are left live (they time out after an hour, past any soak), so they are a
//! constant part of the population.
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use serde::Serialize;

use crate::ingest::load::{drive_connection, wall_ms, Plan, Tally};
use crate::ingest::pace::Pace;
use crate::ingest::server::{read_cpu_seconds, read_memory, run_report, snapshot, StartedServer};
use crate::ingest::{
    grouped, request_templates, resolve_target, ClientKind, Failures, LoadArgs, Quantiles, Target,
};

/// `openqoe bench soak` flags.
#[derive(Args)]
pub struct SoakArgs {
    /// Collector base URL; needs `--server-pid`. Without it, a server is started here.
    #[arg(long, requires = "server_pid")]
    target: Option<String>,
    /// Process id of the `--target` server, for its memory and CPU.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Environment write key.
    #[arg(long, default_value = "demo")]
    key: String,
    /// Minutes of paced load.
    #[arg(long, default_value_t = 30.0)]
    minutes: f64,
    /// The pace, as a fraction of the capacity measured first.
    #[arg(long, default_value_t = 0.5)]
    load_fraction: f64,
    /// Seconds of flat-out load that measure the capacity (after 3 s of warm-up).
    #[arg(long, default_value_t = 15.0)]
    capacity_seconds: f64,
    /// Seconds between samples of the server's memory, CPU and views.
    #[arg(long, default_value_t = 60.0)]
    sample_seconds: f64,
    /// Ended views `bench store` makes (then twice as many) to measure the bytes one costs.
    #[arg(long, default_value_t = 4_000)]
    calibration_views: usize,
    /// Seconds of paced load before the steady window (default: one view's life, by when every
    /// view has joined and the first have ended, and a minute more).
    #[arg(long)]
    steady_after_seconds: Option<f64>,
    /// Keep-alive connections.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Events per batch: a player's few events every few seconds.
    #[arg(long, default_value_t = 5)]
    batch_events: usize,
    /// Live views per connection.
    #[arg(long, default_value_t = 100)]
    views_per_connection: usize,
    /// Batches per view in the paced load (default: as many as make a view live a quarter of
    /// the soak at the pace, so that views end throughout and few enough end that what they
    /// hold by design stays small next to what a leak would add).
    #[arg(long)]
    view_batches: Option<usize>,
    /// Prints the report as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Batches per view in the capacity phase, unless `--view-batches` is given.
const CAPACITY_VIEW_BATCHES: usize = 1_000;

/// One look at the server during the paced load.
#[derive(Serialize)]
struct Sample {
    /// Seconds since the paced load began.
    at_seconds: f64,
    rss_bytes: Option<u64>,
    /// Server CPU since the previous sample.
    cpu_cores: Option<f64>,
    live_views: Option<f64>,
    ended_views: Option<f64>,
    events_accepted: Option<f64>,
}

/// What the steady window says of memory.
#[derive(Serialize)]
struct Verdict {
    from_seconds: f64,
    to_seconds: f64,
    rss_from_bytes: u64,
    rss_to_bytes: u64,
    ended_views_gained: f64,
    /// `bench store`'s bytes per ended view.
    bytes_per_ended_view: f64,
    /// RSS growth less the ended views' share.
    unexplained_bytes: f64,
    /// `unexplained_bytes` over `rss_from_bytes`.
    unexplained_fraction: f64,
    flat_within_10_percent: bool,
}

/// The run's figures (`--json` prints this).
#[derive(Serialize)]
struct Report {
    minutes: f64,
    load_fraction: f64,
    connections: usize,
    batch_events: usize,
    views_per_connection: usize,
    view_batches: usize,
    calibration_bytes_per_ended_view: f64,
    capacity_batches_per_second: f64,
    paced_batches_per_second: f64,
    achieved_batches_per_second: f64,
    achieved_events_per_second: f64,
    ack_ms: Option<Quantiles>,
    failures: Failures,
    samples: Vec<Sample>,
    verdict: Option<Verdict>,
}

/// Runs the soak and prints its report.
///
/// # Errors
/// When an argument is out of range, the calibration or the server fails, and after the report
/// when any request failed.
pub async fn run(args: SoakArgs) -> anyhow::Result<()> {
    let mut load = LoadArgs {
        connections: args.connections,
        batch_events: args.batch_events,
        views_per_connection: args.views_per_connection,
        view_batches: args.view_batches.unwrap_or(CAPACITY_VIEW_BATCHES),
    };
    load.check()?;
    if !(args.minutes > 0.0
        && args.capacity_seconds > 0.0
        && args.sample_seconds > 0.0
        && args.load_fraction > 0.0
        && args.load_fraction <= 1.0)
    {
        bail!("--minutes, --capacity-seconds, --sample-seconds: expected more than 0; --load-fraction: expected 0 to 1");
    }
    let report = run_report(
        args.target.as_deref(),
        None,
        args.json,
        async |server| soak(&args, &mut load, server).await,
        print_table,
    )
    .await?;
    if report.failures.any() {
        bail!(
            "THE RUN HAD FAILURES: refusals {:?}, transport errors {}; first: {}",
            report.failures.refusals,
            report.failures.transport_errors,
            report.failures.first.as_deref().unwrap_or("-")
        );
    }
    Ok(())
}

/// Bytes one ended view of the soak's shape costs: `openqoe bench store` run in child processes
/// for `--calibration-views` views and twice that, the difference in RSS over the difference in
/// views, so that what a process holds whatever its views (code, tables, buffers) drops out.
async fn calibrate(args: &SoakArgs, load: &LoadArgs) -> anyhow::Result<f64> {
    let views = args.calibration_views;
    let (one, two) = (
        store_rss(load, views).await?,
        store_rss(load, 2 * views).await?,
    );
    Ok((two - one) / views as f64)
}

/// RSS of `openqoe bench store` once it holds `views` ended views of the soak's shape.
async fn store_rss(load: &LoadArgs, views: usize) -> anyhow::Result<f64> {
    let exe = std::env::current_exe().context("locating this executable")?;
    let output = tokio::process::Command::new(exe)
        .args(["bench", "store", "--ended-in-log", "--json", "--views"])
        .arg(views.to_string())
        .arg("--batch-events")
        .arg(load.batch_events.to_string())
        .arg("--view-batches")
        .arg(load.view_batches.to_string())
        .output()
        .await
        .context("running `openqoe bench store`")?;
    if !output.status.success() {
        bail!(
            "`openqoe bench store` failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)
        .context("`openqoe bench store --json`: expected one JSON object")?;
    report["rss_bytes"]
        .as_f64()
        .context("`openqoe bench store --json`: no rss_bytes")
}

/// The phases against the server: capacity, the paced view length, calibration, paced load.
async fn soak(
    args: &SoakArgs,
    load: &mut LoadArgs,
    server: Option<&StartedServer>,
) -> anyhow::Result<Report> {
    let target = resolve_target(server, args.target.as_deref()).await?;
    let pid = server.and_then(|s| s.child.id()).or(args.server_pid);
    let plan = |load: &LoadArgs, from: Instant, seconds: f64, pace: Pace| Plan {
        templates: request_templates(&args.key, &target.authority, load.shape()),
        shape: load.shape(),
        views_per_connection: load.views_per_connection,
        run: wall_ms(),
        client: ClientKind::Raw,
        addr: target.addr,
        url: format!("{}/v1/events", target.base),
        from,
        until: from + Duration::from_secs_f64(seconds),
        pace,
        ledger: false,
    };

    let warm = Instant::now() + Duration::from_secs(3);
    let capacity = drive(
        plan(load, warm, args.capacity_seconds, Pace::FlatOut),
        load.connections,
    )
    .await?;
    if capacity.failures().any() {
        bail!(
            "the capacity run failed: {}",
            capacity.first_failure.as_deref().unwrap_or("-")
        );
    }
    let capacity_batches_per_second = capacity.batches as f64 / args.capacity_seconds;
    let paced = capacity_batches_per_second * args.load_fraction;
    let seconds = args.minutes * 60.0;
    // Each view sends every `period`, so that each connection sends its share of the pace once
    // all its views have joined (over the first view's life).
    let period =
        Duration::from_secs_f64(load.views_per_connection as f64 * load.connections as f64 / paced);
    load.view_batches = args
        .view_batches
        .unwrap_or_else(|| ((seconds / 4.0 / period.as_secs_f64()).round() as usize).max(2));
    // While the server idles: what one ended view of the paced shape holds by design.
    let calibration = calibrate(args, load).await?;
    let start = Instant::now();
    let soak_plan = Arc::new(plan(load, start, seconds, Pace::PerView { period }));
    let connections: Vec<_> = (0..load.connections)
        .map(|connection| tokio::spawn(drive_connection(Arc::clone(&soak_plan), connection)))
        .collect();
    let samples = sample(&target, pid, start, seconds, args.sample_seconds).await;
    let mut tally = Tally::default();
    for connection in connections {
        tally.merge(connection.await.context("a connection task panicked")?);
    }

    // Steady once every view has joined and the first have ended (one view's life), and a
    // minute more.
    let view_seconds = period.as_secs_f64() * load.view_batches as f64;
    let steady_from = args.steady_after_seconds.unwrap_or(view_seconds + 60.0);
    let verdict = judge(&samples, steady_from, calibration);
    Ok(Report {
        minutes: args.minutes,
        load_fraction: args.load_fraction,
        connections: load.connections,
        batch_events: load.batch_events,
        views_per_connection: load.views_per_connection,
        view_batches: load.view_batches,
        calibration_bytes_per_ended_view: calibration,
        capacity_batches_per_second,
        paced_batches_per_second: paced,
        achieved_batches_per_second: tally.batches as f64 / seconds,
        achieved_events_per_second: tally.events as f64 / seconds,
        ack_ms: Quantiles::of(&mut tally.latencies_us),
        failures: tally.failures(),
        samples,
        verdict,
    })
}

/// Runs `plan` on `connections` connections to its end.
async fn drive(plan: Plan, connections: usize) -> anyhow::Result<Tally> {
    let plan = Arc::new(plan);
    let tasks: Vec<_> = (0..connections)
        .map(|connection| tokio::spawn(drive_connection(Arc::clone(&plan), connection)))
        .collect();
    let mut tally = Tally::default();
    for task in tasks {
        tally.merge(task.await.context("a connection task panicked")?);
    }
    Ok(tally)
}

/// Samples the server every `every` seconds from `start` for `seconds`, the last at the end.
async fn sample(
    target: &Target,
    pid: Option<u32>,
    start: Instant,
    seconds: f64,
    every: f64,
) -> Vec<Sample> {
    let scraper = target.reader();
    let metrics_url = format!("{}/metrics", target.base);
    let count = (seconds / every).ceil() as u32;
    let mut samples = Vec::new();
    let mut cpu_before = (start, pid.and_then(read_cpu_seconds));
    for number in 1..=count {
        let due = start + Duration::from_secs_f64((f64::from(number) * every).min(seconds));
        tokio::time::sleep_until(due.into()).await;
        let look = snapshot(pid, &scraper, &metrics_url).await;
        let metric = |name: &str| look.metrics.as_ref().and_then(|m| m.get(name).copied());
        let window = look.at.duration_since(cpu_before.0).as_secs_f64();
        samples.push(Sample {
            at_seconds: look.at.duration_since(start).as_secs_f64(),
            rss_bytes: pid.and_then(read_memory).map(|(rss, _)| rss),
            cpu_cores: look
                .server_cpu_seconds
                .zip(cpu_before.1)
                .map(|(now, then)| (now - then) / window),
            live_views: metric("openqoe_active_views"),
            ended_views: metric("openqoe_ended_views"),
            events_accepted: metric("openqoe_ingest_events_total"),
        });
        cpu_before = (look.at, look.server_cpu_seconds);
    }
    samples
}

/// Judges the samples from `steady_from` seconds on: the growth of what the RSS holds beyond the
/// ended views' share, read off the least-squares line through every steady sample rather than
/// off the window's two ends, which one sample's jitter (an arena grown, a table doubled) moves
/// by as much as a leak of a few percent.
fn judge(samples: &[Sample], steady_from: f64, bytes_per_ended_view: f64) -> Option<Verdict> {
    let steady = samples
        .iter()
        .filter(|s| s.at_seconds >= steady_from)
        .map(|s| Some((s.at_seconds, s.rss_bytes?, s.ended_views?)))
        .collect::<Option<Vec<_>>>()?;
    let (&(from, rss_from, ended_from), &(to, rss_to, ended_to)) =
        (steady.first()?, steady.last()?);
    if steady.len() < 2 || to <= from {
        return None;
    }
    let rest: Vec<(f64, f64)> = steady
        .iter()
        .map(|&(at, rss, ended)| (at, rss as f64 - ended * bytes_per_ended_view))
        .collect();
    let unexplained = least_squares_slope(&rest) * (to - from);
    let fraction = unexplained / rss_from as f64;
    Some(Verdict {
        from_seconds: from,
        to_seconds: to,
        rss_from_bytes: rss_from,
        rss_to_bytes: rss_to,
        ended_views_gained: ended_to - ended_from,
        bytes_per_ended_view,
        unexplained_bytes: unexplained,
        unexplained_fraction: fraction,
        flat_within_10_percent: fraction.abs() <= 0.10,
    })
}

/// Slope of the least-squares line through `points` (x, y); at least two distinct x.
fn least_squares_slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let (covariance, variance) = points.iter().fold((0.0, 0.0), |(c, v), &(x, y)| {
        (
            c + (x - mean_x) * (y - mean_y),
            v + (x - mean_x) * (x - mean_x),
        )
    });
    covariance / variance
}

fn print_table(report: &Report) {
    let mib = |bytes: f64| format!("{:.1} MiB", bytes / 1_048_576.0);
    let or_na = |v: Option<f64>, show: &dyn Fn(f64) -> String| v.map_or("n/a".into(), show);
    println!(
        "openqoe bench soak: {:.1} min at {:.0} % of capacity; {} connections × {} views × {} batches of {} events",
        report.minutes,
        report.load_fraction * 100.0,
        report.connections,
        report.views_per_connection,
        report.view_batches,
        report.batch_events
    );
    println!(
        "  capacity          {} batches/s flat out; paced at {} batches/s, achieved {} ({} events/s)",
        grouped(report.capacity_batches_per_second),
        grouped(report.paced_batches_per_second),
        grouped(report.achieved_batches_per_second),
        grouped(report.achieved_events_per_second)
    );
    if let Some(q) = &report.ack_ms {
        println!(
            "  ack latency       p50 {:.2} ms   p99 {:.2} ms   max {:.2} ms",
            q.p50, q.p99, q.max
        );
    }
    println!(
        "  one ended view    {:.0} bytes (`bench store --ended-in-log`, same shape)",
        report.calibration_bytes_per_ended_view
    );
    println!("  minute        RSS   server cores   live views   ended views   events accepted");
    for s in &report.samples {
        println!(
            "  {:>6.1} {:>10} {:>14} {:>12} {:>13} {:>17}",
            s.at_seconds / 60.0,
            or_na(s.rss_bytes.map(|b| b as f64), &mib),
            or_na(s.cpu_cores, &|c| format!("{c:.2}")),
            or_na(s.live_views, &grouped),
            or_na(s.ended_views, &grouped),
            or_na(s.events_accepted, &grouped)
        );
    }
    match &report.verdict {
        Some(v) => println!(
            "  steady window     minute {:.1} to {:.1}: RSS {} → {}; {} ended views gained ({} by design); unexplained {} ({:+.1} % of RSS): {}",
            v.from_seconds / 60.0,
            v.to_seconds / 60.0,
            mib(v.rss_from_bytes as f64),
            mib(v.rss_to_bytes as f64),
            grouped(v.ended_views_gained),
            mib(v.ended_views_gained * v.bytes_per_ended_view),
            mib(v.unexplained_bytes),
            v.unexplained_fraction * 100.0,
            if v.flat_within_10_percent { "flat within 10 %" } else { "NOT FLAT" }
        ),
        None => println!(
            "  steady window     none: the run ended before one generation of views had lived (longer --minutes or shorter views)"
        ),
    }
    let f = &report.failures;
    if f.any() {
        println!(
            "  FAILURES          refusals {:?}   transport errors {}   first: {}",
            f.refusals,
            f.transport_errors,
            f.first.as_deref().unwrap_or("-")
        );
    } else {
        println!("  failures          none (every request 202)");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: f64, rss_mib: u64, ended: f64) -> Sample {
        Sample {
            at_seconds: minute * 60.0,
            rss_bytes: Some(rss_mib << 20),
            cpu_cores: None,
            live_views: None,
            ended_views: Some(ended),
            events_accepted: None,
        }
    }

    #[test]
    fn the_verdict_takes_out_the_ended_views_and_only_the_steady_window() {
        let kib = 1024.0;
        // (name, samples, steady from (s), flat?, unexplained MiB)
        let cases = [
            (
                "growth all from ended views (4 KiB × 25,600 = 100 MiB)",
                vec![at(1.0, 50, 0.0), at(5.0, 200, 0.0), at(30.0, 300, 25_600.0)],
                240.0,
                true,
                0.0,
            ),
            (
                "20 MiB left over on 200 MiB",
                vec![at(5.0, 200, 0.0), at(30.0, 320, 25_600.0)],
                240.0,
                true,
                20.0,
            ),
            (
                "a leak: 40 MiB left over",
                vec![at(5.0, 200, 0.0), at(30.0, 340, 25_600.0)],
                240.0,
                false,
                40.0,
            ),
            (
                "shrinking counts too",
                vec![at(5.0, 200, 0.0), at(30.0, 190, 0.0)],
                240.0,
                true,
                -10.0,
            ),
        ];
        for (name, samples, steady_from, flat, unexplained_mib) in cases {
            let verdict = judge(&samples, steady_from, 4.0 * kib).expect(name);
            assert_eq!(verdict.flat_within_10_percent, flat, "{name}");
            let mib = verdict.unexplained_bytes / 1_048_576.0;
            assert!((mib - unexplained_mib).abs() < 1e-6, "{name}: {mib}");
        }
        // Every five minutes from 5 to 30 at 200 MiB, with one sample off the line.
        let level_but = |minute: f64, mib: u64| -> Vec<Sample> {
            (1..=6_u32)
                .map(|k| f64::from(k) * 5.0)
                .map(|m| at(m, if m == minute { mib } else { 200 }, 0.0))
                .collect()
        };
        // (name, samples, unexplained MiB to 0.01, flat?)
        let jitter = [
            (
                "the last sample 25 MiB up: two ends would say +12.5 %, the line 17.86 MiB",
                level_but(30.0, 225),
                17.86,
                true,
            ),
            (
                "a sample mid-window 40 MiB up leans the line, not flat ends",
                level_but(15.0, 240),
                -5.71,
                true,
            ),
            (
                "a steady leak of 2 MiB a minute over 25 minutes",
                (1..=6_u32)
                    .map(|k| at(f64::from(k) * 5.0, 200 + 10 * u64::from(k), 0.0))
                    .collect(),
                50.0,
                false,
            ),
        ];
        for (name, samples, unexplained_mib, flat) in jitter {
            let verdict = judge(&samples, 240.0, kib).expect(name);
            let mib = verdict.unexplained_bytes / 1_048_576.0;
            assert!((mib - unexplained_mib).abs() < 0.01, "{name}: {mib}");
            assert_eq!(verdict.flat_within_10_percent, flat, "{name}");
        }
        assert!(
            judge(&[at(5.0, 200, 0.0)], 240.0, kib).is_none(),
            "one steady sample is no window"
        );
        assert!(
            judge(&[at(1.0, 200, 0.0), at(2.0, 210, 0.0)], 240.0, kib).is_none(),
            "nothing steady"
        );
    }
}
