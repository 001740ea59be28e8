//! `openqoe bench freshness`: how long after its ack an event's effect is visible, in the view
//! API and in a breakdown, while a paced background load runs (issue 8: "freshness p99 < 1 s at
//! 100,000 events/s").
//!
//! The background load is `openqoe bench ingest`'s generator, paced: each connection sends at
//! most `rate / batch_events / connections` requests per second from a token bucket. Alongside
//! it, `--probes-per-second` times a second a probe task sends a new view (its own id, its own
//! value of the `probe` dimension; `play_requested`, `first_frame`, `view_end`) on its own
//! connection, then polls `GET /v1/views/{id}` and
//! `GET /v1/metrics/video_startup_time_ms/breakdown?filter=probe:…` until each shows it, with at
//! most 1 ms between polls. Freshness is ack → the answer that first showed it, so it includes
//! one GET round trip (reported apart as `last_get_ms`).
mod probe;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use serde::Serialize;

use self::probe::{run_probe, ProbeContext, ProbeOutcome, Seen};
use crate::ingest::bodies::ViewShape;
use crate::ingest::load::{drive_connection, wall_ms, Plan, Tally};
use crate::ingest::pace::Pace;
use crate::ingest::server::{run_report, snapshot, StartedServer};
use crate::ingest::{
    grouped, request_templates, resolve_target, ClientKind, Failures, Quantiles, Target,
};

/// `openqoe bench freshness` flags.
#[derive(Args)]
pub struct FreshnessArgs {
    /// Server base URL (`http://127.0.0.1:8080`). Without it, a server is started here on a
    /// temporary data directory and stopped at the end.
    #[arg(long)]
    target: Option<String>,
    /// Environment write key.
    #[arg(long, default_value = "demo")]
    key: String,
    /// Background load, events/s, spread evenly over the connections (0: as fast as acks come).
    #[arg(long, default_value_t = 100_000.0)]
    rate: f64,
    /// Keep-alive connections of background load, each with one request in flight.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Events per background batch (one request).
    #[arg(long, default_value_t = 100)]
    batch_events: usize,
    /// Seconds measured (probes are sent in this window), after the warm-up.
    #[arg(long, default_value_t = 20.0)]
    seconds: f64,
    /// Seconds of background load before the first probe.
    #[arg(long, default_value_t = 2.0)]
    warmup_seconds: f64,
    /// Probes sent per second, each a new view.
    #[arg(long, default_value_t = 10.0)]
    probes_per_second: f64,
    /// Seconds after its ack a probe may take to show before it counts as a failure.
    #[arg(long, default_value_t = 10.0)]
    probe_timeout_seconds: f64,
    /// Live background views per connection, sent to in turn.
    #[arg(long, default_value_t = 16)]
    views_per_connection: usize,
    /// Batches per background view; the last one ends the view with `view_end`.
    #[arg(long, default_value_t = 20)]
    view_batches: usize,
    /// Prints the report as one JSON object.
    #[arg(long)]
    json: bool,
}

/// The run's figures and parameters (`--json` prints this).
#[derive(Serialize)]
struct Report {
    parameters: Parameters,
    load: LoadFigures,
    probes: ProbeFigures,
    /// Ack → `GET /v1/views/{id}` answers `200` with the view.
    view_api: Freshness,
    /// Ack → the breakdown filtered to the probe's dimension value counts its view.
    breakdown: Freshness,
    server_cpu_cores: Option<f64>,
    load_generator_cpu_cores: Option<f64>,
}

#[derive(Serialize)]
struct Parameters {
    target: String,
    started_server: bool,
    rate_events_per_second: f64,
    connections: usize,
    batch_events: usize,
    views_per_connection: usize,
    view_batches: usize,
    seconds: f64,
    warmup_seconds: f64,
    probes_per_second: f64,
}

/// The background load in the window.
#[derive(Serialize)]
struct LoadFigures {
    events: u64,
    events_per_second: f64,
    ack_ms: Option<Quantiles>,
    failures: Failures,
}

#[derive(Serialize)]
struct ProbeFigures {
    sent: u64,
    acknowledged: u64,
    ack_ms: Option<Quantiles>,
    /// Probes not acknowledged (refused, transport error, short accept).
    failures: u64,
    first_failure: Option<String>,
}

/// Freshness of one surface over the acknowledged probes.
#[derive(Serialize)]
struct Freshness {
    visible: u64,
    /// Ack → the answer of the first GET that showed the probe.
    ms: Option<Quantiles>,
    /// Round trip of that GET alone: how much of `ms` is the asking.
    last_get_ms: Option<Quantiles>,
    polls_mean: Option<f64>,
    /// Probes never shown within the timeout, or answered with an error.
    failures: u64,
    first_failure: Option<String>,
}

impl Freshness {
    fn of<'a>(outcomes: impl Iterator<Item = &'a Result<Seen, String>>) -> Freshness {
        let (mut after_ack, mut last_get, mut polls) = (Vec::new(), Vec::new(), 0_u64);
        let (mut failures, mut first_failure) = (0, None);
        for outcome in outcomes {
            match outcome {
                Ok(seen) => {
                    after_ack.push(seen.after_ack_us);
                    last_get.push(seen.last_get_us);
                    polls += u64::from(seen.polls);
                }
                Err(reason) => {
                    failures += 1;
                    first_failure.get_or_insert_with(|| reason.clone());
                }
            }
        }
        let visible = after_ack.len() as u64;
        Freshness {
            visible,
            ms: Quantiles::of(&mut after_ack),
            last_get_ms: Quantiles::of(&mut last_get),
            polls_mean: (visible > 0).then(|| polls as f64 / visible as f64),
            failures,
            first_failure,
        }
    }
}

/// Requests per second each connection sends for `events_per_second` in all; `None` (flat out)
/// for a rate of 0.
fn batches_per_second_per_connection(
    events_per_second: f64,
    batch_events: usize,
    connections: usize,
) -> Option<f64> {
    (events_per_second > 0.0).then(|| events_per_second / batch_events as f64 / connections as f64)
}

/// When probe `number` (from 0) is due, `per_second` probes a second from `from`.
fn probe_due(from: Instant, per_second: f64, number: u64) -> Instant {
    from + Duration::from_nanos((number as f64 * 1e9 / per_second).round() as u64)
}

/// Runs the benchmark and prints its report.
///
/// # Errors
/// When the server cannot be started or reached, and after printing the report when any
/// request failed or a probe never showed.
pub async fn run(args: FreshnessArgs) -> anyhow::Result<()> {
    if args.connections == 0 || args.batch_events == 0 || args.view_batches == 0 {
        bail!("--connections, --batch-events and --view-batches: expected at least 1");
    }
    if !(args.seconds > 0.0 && args.warmup_seconds >= 0.0 && args.rate >= 0.0) {
        bail!("--seconds: expected more than 0; --warmup-seconds, --rate: expected 0 or more");
    }
    if !(args.probes_per_second > 0.0 && args.probe_timeout_seconds > 0.0) {
        bail!("--probes-per-second, --probe-timeout-seconds: expected more than 0");
    }
    let report = run_report(
        args.target.as_deref(),
        None,
        args.json,
        async |server| measure(&args, server).await,
        print_table,
    )
    .await?;
    let not_shown = report.view_api.failures + report.breakdown.failures;
    if report.load.failures.any() || report.probes.failures > 0 || not_shown > 0 {
        bail!(
            "THE RUN HAD FAILURES: background load {}; probes not acknowledged {}; not shown in the view API {}, in the breakdown {}",
            if report.load.failures.any() { "failed (see above)" } else { "fine" },
            report.probes.failures,
            report.view_api.failures,
            report.breakdown.failures
        );
    }
    Ok(())
}

async fn measure(args: &FreshnessArgs, server: Option<&StartedServer>) -> anyhow::Result<Report> {
    let resolved = resolve_target(server, args.target.as_deref()).await?;
    let scraper = resolved.reader();
    let read_headers = resolved
        .token
        .as_ref()
        .map(|t| format!("authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let Target {
        base: target,
        authority,
        addr,
        ..
    } = resolved;
    let pid = server.and_then(|s| s.child.id());
    let shape = ViewShape {
        batch_events: args.batch_events,
        view_batches: args.view_batches,
    };
    let templates = request_templates(&args.key, &authority, shape);
    let run = wall_ms();
    let from = Instant::now() + Duration::from_secs_f64(args.warmup_seconds);
    let until = from + Duration::from_secs_f64(args.seconds);
    let plan = Arc::new(Plan {
        templates,
        shape,
        views_per_connection: args.views_per_connection,
        run,
        client: ClientKind::Raw,
        addr,
        url: format!("{target}/v1/events"),
        from,
        until,
        pace: batches_per_second_per_connection(args.rate, args.batch_events, args.connections)
            .map_or(Pace::FlatOut, Pace::PerConnection),
        ledger: false,
    });
    let connections: Vec<_> = (0..args.connections)
        .map(|connection| tokio::spawn(drive_connection(Arc::clone(&plan), connection)))
        .collect();
    let context = Arc::new(ProbeContext {
        addr,
        authority: authority.clone(),
        read_headers,
        key: args.key.clone(),
        run,
        timeout: Duration::from_secs_f64(args.probe_timeout_seconds),
    });
    let metrics_url = format!("{target}/metrics");
    tokio::time::sleep_until(from.into()).await;
    let before = snapshot(pid, &scraper, &metrics_url).await;
    // Each probe is its own task: a slow one does not hold back the next.
    let mut probes = Vec::new();
    loop {
        let due = probe_due(from, args.probes_per_second, probes.len() as u64);
        if due >= until {
            break;
        }
        tokio::time::sleep_until(due.into()).await;
        let context = Arc::clone(&context);
        let number = probes.len() as u64;
        probes.push(tokio::spawn(
            async move { run_probe(&context, number).await },
        ));
    }
    tokio::time::sleep_until(until.into()).await;
    let after = snapshot(pid, &scraper, &metrics_url).await;
    let mut tally = Tally::default();
    for connection in connections {
        tally.merge(connection.await.context("a connection task panicked")?);
    }
    let mut outcomes: Vec<ProbeOutcome> = Vec::with_capacity(probes.len());
    for probe in probes {
        outcomes.push(probe.await.context("a probe task panicked")?);
    }

    let window_seconds = after.at.duration_since(before.at).as_secs_f64();
    let cores = |before: Option<f64>, after: Option<f64>| Some((after? - before?) / window_seconds);
    let mut probe_acks: Vec<u32> = outcomes
        .iter()
        .filter_map(|o| o.ack.as_ref().ok().copied())
        .collect();
    let probe_failure = outcomes.iter().find_map(|o| o.ack.as_ref().err().cloned());
    Ok(Report {
        parameters: Parameters {
            target,
            started_server: server.is_some(),
            rate_events_per_second: args.rate,
            connections: args.connections,
            batch_events: args.batch_events,
            views_per_connection: args.views_per_connection,
            view_batches: args.view_batches,
            seconds: args.seconds,
            warmup_seconds: args.warmup_seconds,
            probes_per_second: args.probes_per_second,
        },
        load: LoadFigures {
            events: tally.events,
            events_per_second: tally.events as f64 / args.seconds,
            ack_ms: Quantiles::of(&mut tally.latencies_us),
            failures: tally.failures(),
        },
        probes: ProbeFigures {
            sent: outcomes.len() as u64,
            acknowledged: probe_acks.len() as u64,
            ack_ms: Quantiles::of(&mut probe_acks),
            failures: (outcomes.len() - probe_acks.len()) as u64,
            first_failure: probe_failure,
        },
        // A probe that was not acknowledged is counted once, above, not again per surface.
        view_api: Freshness::of(
            outcomes
                .iter()
                .filter(|o| o.ack.is_ok())
                .map(|o| &o.view_api),
        ),
        breakdown: Freshness::of(
            outcomes
                .iter()
                .filter(|o| o.ack.is_ok())
                .map(|o| &o.breakdown),
        ),
        server_cpu_cores: cores(before.server_cpu_seconds, after.server_cpu_seconds),
        load_generator_cpu_cores: cores(before.own_cpu_seconds, after.own_cpu_seconds),
    })
}

fn print_table(report: &Report) {
    let p = &report.parameters;
    let or_na = |value: Option<String>| value.unwrap_or_else(|| "n/a".into());
    let quantiles = |q: &Option<Quantiles>| {
        or_na(q.as_ref().map(|q| {
            format!(
                "p50 {:.2} ms   p90 {:.2} ms   p99 {:.2} ms   max {:.2} ms",
                q.p50, q.p90, q.p99, q.max
            )
        }))
    };
    println!(
        "openqoe bench freshness: {} events/s asked on {} connections × {}-event batches, {} probes/s, {} s after {} s warm-up, {}{}",
        if p.rate_events_per_second > 0.0 { grouped(p.rate_events_per_second) } else { "unpaced".into() },
        p.connections,
        p.batch_events,
        p.probes_per_second,
        p.seconds,
        p.warmup_seconds,
        p.target,
        if p.started_server { " (started here)" } else { "" }
    );
    let load = &report.load;
    println!(
        "  load              {} events/s acknowledged ({} events)",
        grouped(load.events_per_second),
        grouped(load.events as f64)
    );
    println!("  load ack          {}", quantiles(&load.ack_ms));
    let probes = &report.probes;
    println!(
        "  probes            {} sent, {} acknowledged; ack {}",
        probes.sent,
        probes.acknowledged,
        quantiles(&probes.ack_ms)
    );
    for (name, freshness) in [
        ("view API", &report.view_api),
        ("breakdown", &report.breakdown),
    ] {
        println!(
            "  {name:<17} {}   ({} shown, {} polls each on average)",
            quantiles(&freshness.ms),
            freshness.visible,
            or_na(freshness.polls_mean.map(|m| format!("{m:.2}")))
        );
        println!("    its last GET    {}", quantiles(&freshness.last_get_ms));
    }
    println!(
        "  CPU               server {} cores   load generator and probes {} cores",
        or_na(report.server_cpu_cores.map(|c| format!("{c:.2}"))),
        or_na(report.load_generator_cpu_cores.map(|c| format!("{c:.2}")))
    );
    println!("  (freshness is ack → the answer of the first GET that showed the probe: it includes that GET's round trip)");
    let f = &load.failures;
    let mut clean = true;
    if f.any() {
        clean = false;
        println!(
            "  LOAD FAILURES     refusals {:?}   transport errors {}   short accepts {}   duplicates {}; first: {}",
            f.refusals,
            f.transport_errors,
            f.short_accepts,
            f.duplicates,
            f.first.as_deref().unwrap_or("-")
        );
    }
    if probes.failures > 0 {
        clean = false;
        println!(
            "  PROBE FAILURES    {} not acknowledged; first: {}",
            probes.failures,
            probes.first_failure.as_deref().unwrap_or("-")
        );
    }
    for (name, freshness) in [
        ("VIEW API", &report.view_api),
        ("BREAKDOWN", &report.breakdown),
    ] {
        if freshness.failures > 0 {
            clean = false;
            println!(
                "  {name:<17} {} probes not shown; first: {}",
                freshness.failures,
                freshness.first_failure.as_deref().unwrap_or("-")
            );
        }
    }
    if clean {
        println!("  failures          none (every request 202, every probe shown in both)");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_is_spread_over_connections_in_batches() {
        let cases = [
            ("issue 8 target", 100_000.0, 100, 16, Some(62.5)),
            ("three times that", 300_000.0, 100, 16, Some(187.5)),
            ("one connection, single events", 50.0, 1, 1, Some(50.0)),
            ("0 is flat out", 0.0, 100, 16, None),
        ];
        for (name, rate, batch_events, connections, want) in cases {
            assert_eq!(
                batches_per_second_per_connection(rate, batch_events, connections),
                want,
                "{name}"
            );
        }
    }

    #[test]
    fn probes_are_due_evenly_from_the_window_start() {
        let from = Instant::now();
        assert_eq!(probe_due(from, 10.0, 0), from);
        assert_eq!(probe_due(from, 10.0, 7), from + Duration::from_millis(700));
        assert_eq!(probe_due(from, 0.5, 3), from + Duration::from_secs(6));
    }

    #[test]
    fn freshness_counts_shown_probes_and_failures_apart() {
        let seen = |ms: u32, polls| {
            Ok(Seen {
                after_ack_us: ms * 1000,
                polls,
                last_get_us: 400,
            })
        };
        let outcomes = [
            seen(2, 1),
            Err("not visible 10.0 s after the ack (9000 polls)".to_owned()),
            seen(4, 3),
            Err("second".to_owned()),
        ];
        let freshness = Freshness::of(outcomes.iter());
        assert_eq!((freshness.visible, freshness.failures), (2, 2));
        assert_eq!(freshness.polls_mean, Some(2.0));
        let ms = freshness.ms.expect("two shown");
        assert_eq!((ms.p50, ms.max), (2.0, 4.0));
        assert_eq!(freshness.last_get_ms.map(|q| q.p99), Some(0.4));
        assert_eq!(
            freshness.first_failure.as_deref(),
            Some("not visible 10.0 s after the ack (9000 polls)")
        );
        let none = Freshness::of(std::iter::empty());
        assert!(none.ms.is_none() && none.polls_mean.is_none());
    }
}
