//! `openqoe bench ingest`: HTTP load against a collector. Reports events/s with durable
//! acknowledgements, acknowledgement latency, the server's memory and CPU, and its group commits.
//!
//! The load generator shares the machine with the server, so it must be cheap: each request
//! body is built once per (props variant, position in the view), and a request only copies it
//! and patches fixed-width digits (the view's identity, `sent_at`, each event's `ts`). One task
//! per keep-alive connection keeps one request in flight. Each connection takes turns among its
//! own live views; a view ends with `view_end` after `--view-batches` batches and a new one takes
//! its place, so the sessionizer holds `connections × views-per-connection` views at most.
//! Event times are compressed (1 ms apart): one connection stands in for many viewers.
pub(crate) mod bodies;
pub(crate) mod load;
pub(crate) mod pace;
pub(crate) mod server;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use serde::Serialize;

use self::bodies::{props_variant, BodyTemplate, ViewShape, PROPS_VARIANTS};
use self::load::{drive_connection, wall_ms, Plan, Tally};
use self::pace::Pace;
use self::server::{read_memory, run_report, snapshot, HistogramDelta, StartedServer};

/// The load's shape, shared by `bench ingest` and `bench crash`.
#[derive(Args)]
pub(crate) struct LoadArgs {
    /// Keep-alive connections, each with one request in flight.
    #[arg(long, default_value_t = 32)]
    pub(crate) connections: usize,
    /// Events per batch (one request).
    #[arg(long, default_value_t = 100)]
    pub(crate) batch_events: usize,
    /// Live views per connection, sent to in turn.
    #[arg(long, default_value_t = 16)]
    pub(crate) views_per_connection: usize,
    /// Batches per view; the last one ends the view with `view_end`.
    #[arg(long, default_value_t = 20)]
    pub(crate) view_batches: usize,
}

impl LoadArgs {
    /// Refuses a load that sends nothing.
    pub(crate) fn check(&self) -> anyhow::Result<()> {
        if self.connections == 0 || self.batch_events == 0 || self.view_batches == 0 {
            bail!("--connections, --batch-events and --view-batches: expected at least 1");
        }
        Ok(())
    }

    /// The shape of each view's batches.
    pub(crate) fn shape(&self) -> ViewShape {
        ViewShape {
            batch_events: self.batch_events,
            view_batches: self.view_batches,
        }
    }
}

/// `openqoe bench ingest` flags.
#[derive(Args)]
pub struct IngestArgs {
    /// Collector base URL (`http://127.0.0.1:8080`). Without it, a server is started here on a
    /// temporary data directory and stopped at the end.
    #[arg(long)]
    target: Option<String>,
    /// Environment write key.
    #[arg(long, default_value = "demo")]
    key: String,
    #[command(flatten)]
    load: LoadArgs,
    /// Seconds measured, after the warm-up.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = 2.0)]
    warmup_seconds: f64,
    /// HTTP client: `raw` (HTTP/1.1 written by hand on a tokio socket) or `reqwest`.
    #[arg(long, value_enum, default_value_t = ClientKind::Raw)]
    client: ClientKind,
    /// Data directory of the server started without `--target` (default: a new temporary
    /// directory, removed at the end).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Process id of the `--target` server, to read its memory and CPU time from /proc.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Prints the report as one JSON object.
    #[arg(long)]
    json: bool,
}

/// How requests are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ClientKind {
    /// Pre-encoded HTTP/1.1 requests written straight to the socket.
    Raw,
    /// One `reqwest::Client` per connection.
    Reqwest,
}

/// The run's figures and parameters (`--json` prints this).
#[derive(Serialize)]
struct Report {
    parameters: Parameters,
    events: u64,
    batches: u64,
    events_per_second: f64,
    batches_per_second: f64,
    ack_ms: Option<Quantiles>,
    failures: Failures,
    server: ServerFigures,
    load_generator_cpu_cores: Option<f64>,
    wal: Option<WalFigures>,
}

#[derive(Serialize)]
struct Parameters {
    target: String,
    started_server: bool,
    client: ClientKind,
    connections: usize,
    batch_events: usize,
    views_per_connection: usize,
    view_batches: usize,
    seconds: f64,
    warmup_seconds: f64,
}

#[derive(Serialize)]
pub(crate) struct Quantiles {
    pub(crate) p50: f64,
    pub(crate) p90: f64,
    pub(crate) p99: f64,
    pub(crate) max: f64,
    pub(crate) mean: f64,
}

impl Quantiles {
    /// Nearest-rank quantiles of latencies in microseconds, in milliseconds.
    pub(crate) fn of(latencies_us: &mut [u32]) -> Option<Quantiles> {
        if latencies_us.is_empty() {
            return None;
        }
        latencies_us.sort_unstable();
        let ms = |us: u32| f64::from(us) / 1000.0;
        let rank = |q: f64| {
            let index = (q * latencies_us.len() as f64).ceil() as usize;
            ms(latencies_us[index.clamp(1, latencies_us.len()) - 1])
        };
        let total: u64 = latencies_us.iter().map(|&us| u64::from(us)).sum();
        Some(Quantiles {
            p50: rank(0.5),
            p90: rank(0.9),
            p99: rank(0.99),
            max: ms(*latencies_us.last()?),
            mean: total as f64 / latencies_us.len() as f64 / 1000.0,
        })
    }
}

/// Everything that went wrong over the whole run, warm-up included.
#[derive(Serialize)]
pub(crate) struct Failures {
    /// Non-202 answers by status.
    pub(crate) refusals: BTreeMap<u16, u64>,
    pub(crate) transport_errors: u64,
    /// 202 answers whose counts did not add up to the events sent.
    pub(crate) short_accepts: u64,
    pub(crate) duplicates: u64,
    pub(crate) first: Option<String>,
}

impl Failures {
    pub(crate) fn any(&self) -> bool {
        !self.refusals.is_empty()
            || self.transport_errors > 0
            || self.short_accepts > 0
            || self.duplicates > 0
    }
}

#[derive(Serialize)]
struct ServerFigures {
    pid: Option<u32>,
    rss_bytes: Option<u64>,
    peak_rss_bytes: Option<u64>,
    cpu_cores: Option<f64>,
    /// Events the server holds in memory: accepted since it started
    /// (`openqoe_ingest_events_total`) less those let go (`openqoe_released_events`).
    events_held: Option<f64>,
    rss_bytes_per_event_held: Option<f64>,
}

/// Group commits in the window, from the server's `/metrics`.
#[derive(Serialize)]
struct WalFigures {
    fsyncs_per_second: f64,
    group_batches_mean: Option<f64>,
    group_batches_p50_at_most: Option<f64>,
    group_batches_p99_at_most: Option<f64>,
    fsync_ms_mean: Option<f64>,
    fsync_ms_p50_at_most: Option<f64>,
    fsync_ms_p99_at_most: Option<f64>,
}

/// Runs the benchmark and prints its report.
///
/// # Errors
/// When the server cannot be started or reached, and after printing the report when any
/// request failed, was refused or counted duplicates.
pub async fn run(args: IngestArgs) -> anyhow::Result<()> {
    args.load.check()?;
    if !(args.seconds > 0.0 && args.warmup_seconds >= 0.0) {
        bail!("--seconds: expected more than 0; --warmup-seconds: expected 0 or more");
    }
    let report = run_report(
        args.target.as_deref(),
        args.data_dir.clone(),
        args.json,
        async |server| measure(&args, server).await,
        print_table,
    )
    .await?;
    if report.failures.any() {
        bail!(
            "THE RUN HAD FAILURES: refusals {:?}, transport errors {}, short accepts {}, duplicates {}; first: {}",
            report.failures.refusals,
            report.failures.transport_errors,
            report.failures.short_accepts,
            report.failures.duplicates,
            report.failures.first.as_deref().unwrap_or("-")
        );
    }
    Ok(())
}

/// The server a load goes to: its base URL, `host:port`, socket address, and the API token its
/// reads (`/metrics`, probes) send.
pub(crate) struct Target {
    pub(crate) base: String,
    pub(crate) authority: String,
    pub(crate) addr: std::net::SocketAddr,
    pub(crate) token: Option<String>,
}

impl Target {
    /// A client for the target's reads, sending its token.
    pub(crate) fn reader(&self) -> reqwest::Client {
        server::reader(self.token.as_deref())
    }
}

/// The server started here (with the token it made), else `--target` (with `OPENQOE_TOKEN`),
/// resolved.
pub(crate) async fn resolve_target(
    server: Option<&StartedServer>,
    target: Option<&str>,
) -> anyhow::Result<Target> {
    let (target, token) = match server {
        Some(server) => (server.url.clone(), server.token.clone()),
        None => (
            target.unwrap_or_default().to_owned(),
            std::env::var("OPENQOE_TOKEN").ok(),
        ),
    };
    let base = target.trim_end_matches('/').to_owned();
    let authority = base
        .strip_prefix("http://")
        .with_context(|| format!("--target {base:?}: expected http://HOST:PORT"))?
        .split('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let addr = tokio::net::lookup_host(&authority)
        .await
        .with_context(|| format!("resolving {authority}"))?
        .next()
        .with_context(|| format!("{authority}: no address"))?;
    Ok(Target {
        base,
        authority,
        addr,
        token,
    })
}

/// Pre-encoded requests: per props variant, one per position of a batch in its view.
pub(crate) fn request_templates(
    key: &str,
    authority: &str,
    shape: ViewShape,
) -> Vec<Vec<BodyTemplate>> {
    let head = |len: usize| {
        format!("POST /v1/events HTTP/1.1\r\nhost: {authority}\r\ncontent-type: application/json\r\ncontent-length: {len}\r\n\r\n")
    };
    (0..PROPS_VARIANTS)
        .map(|variant| {
            let props = props_variant(variant);
            (0..shape.view_batches)
                .map(|position| BodyTemplate::build(key, &props, position, shape).with_head(head))
                .collect()
        })
        .collect()
}

async fn measure(args: &IngestArgs, server: Option<&StartedServer>) -> anyhow::Result<Report> {
    let resolved = resolve_target(server, args.target.as_deref()).await?;
    let scraper = resolved.reader();
    let Target {
        base: target,
        authority,
        addr,
        ..
    } = resolved;
    let pid = server.and_then(|s| s.child.id()).or(args.server_pid);
    let shape = args.load.shape();
    let templates = request_templates(&args.key, &authority, shape);
    let from = Instant::now() + Duration::from_secs_f64(args.warmup_seconds);
    let until = from + Duration::from_secs_f64(args.seconds);
    let plan = Arc::new(Plan {
        templates,
        shape,
        views_per_connection: args.load.views_per_connection,
        run: wall_ms(),
        client: args.client,
        addr,
        url: format!("{target}/v1/events"),
        from,
        until,
        pace: Pace::FlatOut,
        ledger: false,
    });
    let connections: Vec<_> = (0..args.load.connections)
        .map(|connection| tokio::spawn(drive_connection(Arc::clone(&plan), connection)))
        .collect();
    let metrics_url = format!("{target}/metrics");
    tokio::time::sleep_until(from.into()).await;
    let before = snapshot(pid, &scraper, &metrics_url).await;
    tokio::time::sleep_until(until.into()).await;
    let after = snapshot(pid, &scraper, &metrics_url).await;
    let mut tally = Tally::default();
    for connection in connections {
        tally.merge(connection.await.context("a connection task panicked")?);
    }
    let memory = pid.and_then(read_memory);

    let window_seconds = after.at.duration_since(before.at).as_secs_f64();
    let cores = |before: Option<f64>, after: Option<f64>| Some((after? - before?) / window_seconds);
    let metric = |name: &str| after.metrics.as_ref().and_then(|m| m.get(name).copied());
    let events_held = metric("openqoe_ingest_events_total")
        .map(|accepted| accepted - metric("openqoe_released_events").unwrap_or(0.0));
    let wal = before
        .metrics
        .as_ref()
        .zip(after.metrics.as_ref())
        .map(|(b, a)| {
            let groups = HistogramDelta::between(b, a, "openqoe_wal_group_batches");
            let sync = HistogramDelta::between(b, a, "openqoe_wal_sync_seconds");
            let ms = |seconds: Option<f64>| seconds.map(|s| s * 1000.0);
            WalFigures {
                fsyncs_per_second: groups.as_ref().map_or(0.0, |g| g.count) / window_seconds,
                group_batches_mean: groups.as_ref().and_then(HistogramDelta::mean),
                group_batches_p50_at_most: groups.as_ref().and_then(|g| g.quantile_bound(0.5)),
                group_batches_p99_at_most: groups.as_ref().and_then(|g| g.quantile_bound(0.99)),
                fsync_ms_mean: ms(sync.as_ref().and_then(HistogramDelta::mean)),
                fsync_ms_p50_at_most: ms(sync.as_ref().and_then(|s| s.quantile_bound(0.5))),
                fsync_ms_p99_at_most: ms(sync.as_ref().and_then(|s| s.quantile_bound(0.99))),
            }
        });
    Ok(Report {
        parameters: Parameters {
            target,
            started_server: server.is_some(),
            client: args.client,
            connections: args.load.connections,
            batch_events: args.load.batch_events,
            views_per_connection: args.load.views_per_connection,
            view_batches: args.load.view_batches,
            seconds: args.seconds,
            warmup_seconds: args.warmup_seconds,
        },
        events: tally.events,
        batches: tally.batches,
        events_per_second: tally.events as f64 / args.seconds,
        batches_per_second: tally.batches as f64 / args.seconds,
        ack_ms: Quantiles::of(&mut tally.latencies_us),
        failures: tally.failures(),
        server: ServerFigures {
            pid,
            rss_bytes: memory.map(|m| m.0),
            peak_rss_bytes: memory.map(|m| m.1),
            cpu_cores: cores(before.server_cpu_seconds, after.server_cpu_seconds),
            events_held,
            rss_bytes_per_event_held: memory
                .zip(events_held)
                .filter(|(_, held)| *held > 0.0)
                .map(|((rss, _), held)| rss as f64 / held),
        },
        load_generator_cpu_cores: cores(before.own_cpu_seconds, after.own_cpu_seconds),
        wal,
    })
}

/// `1234567` → `1,234,567`.
pub(crate) fn grouped(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn print_table(report: &Report) {
    let p = &report.parameters;
    let or_na = |value: Option<String>| value.unwrap_or_else(|| "n/a".into());
    let mib = |bytes: Option<u64>| or_na(bytes.map(|b| format!("{:.0} MiB", b as f64 / 1048576.0)));
    println!(
        "openqoe bench ingest: {} connections ({:?} client) × {}-event batches, {} views/connection × {} batches/view, {} s after {} s warm-up, {}{}",
        p.connections,
        p.client,
        p.batch_events,
        p.views_per_connection,
        p.view_batches,
        p.seconds,
        p.warmup_seconds,
        p.target,
        if p.started_server { " (started here)" } else { "" }
    );
    println!(
        "  events/s          {:>12}   ({} batches/s; {} events acknowledged)",
        grouped(report.events_per_second),
        grouped(report.batches_per_second),
        grouped(report.events as f64)
    );
    match &report.ack_ms {
        Some(q) => println!(
            "  ack latency       p50 {:.2} ms   p90 {:.2} ms   p99 {:.2} ms   max {:.2} ms   mean {:.2} ms",
            q.p50, q.p90, q.p99, q.max, q.mean
        ),
        None => println!("  ack latency       n/a (nothing acknowledged in the window)"),
    }
    let s = &report.server;
    println!(
        "  server memory     RSS {}   peak {}   ({} per event held, {} events held in memory)",
        mib(s.rss_bytes),
        mib(s.peak_rss_bytes),
        or_na(s.rss_bytes_per_event_held.map(|b| format!("{b:.0} B"))),
        or_na(s.events_held.map(grouped))
    );
    println!(
        "  CPU               server {} cores   load generator {} cores",
        or_na(s.cpu_cores.map(|c| format!("{c:.2}"))),
        or_na(report.load_generator_cpu_cores.map(|c| format!("{c:.2}")))
    );
    if let Some(wal) = &report.wal {
        let number = |v: Option<f64>, unit: &str| or_na(v.map(|v| format!("{v:.2}{unit}")));
        println!(
            "  group commit      {} fsyncs/s   batches per fsync: mean {}, p50 ≤ {}, p99 ≤ {}",
            grouped(wal.fsyncs_per_second),
            number(wal.group_batches_mean, ""),
            number(wal.group_batches_p50_at_most, ""),
            number(wal.group_batches_p99_at_most, "")
        );
        println!(
            "  fsync             mean {}   p50 ≤ {}   p99 ≤ {}",
            number(wal.fsync_ms_mean, " ms"),
            number(wal.fsync_ms_p50_at_most, " ms"),
            number(wal.fsync_ms_p99_at_most, " ms")
        );
    }
    let f = &report.failures;
    if f.any() {
        println!(
            "  FAILURES          refusals {:?}   transport errors {}   short accepts {}   duplicates {}",
            f.refusals, f.transport_errors, f.short_accepts, f.duplicates
        );
        println!(
            "                    first: {}",
            f.first.as_deref().unwrap_or("-")
        );
    } else {
        println!("  failures          none (every request 202, no duplicates)");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_quantiles_are_nearest_rank_and_absent_without_samples() {
        assert!(
            Quantiles::of(&mut []).is_none(),
            "a run with nothing acknowledged"
        );
        // 1..=100 ms, shuffled: p50 is the 50th sample, p99 the 99th.
        let mut samples: Vec<u32> = (1..=100).map(|ms| (ms * 37 % 101) * 1000).collect();
        let q = Quantiles::of(&mut samples).expect("100 samples");
        assert_eq!(
            (q.p50, q.p90, q.p99, q.max, q.mean),
            (50.0, 90.0, 99.0, 100.0, 50.5)
        );
    }

    #[test]
    fn figures_group_thousands() {
        let cases = [
            (0.0, "0"),
            (999.4, "999"),
            (1_000.0, "1,000"),
            (1_234_567.0, "1,234,567"),
        ];
        for (value, want) in cases {
            assert_eq!(grouped(value), want, "{value}");
        }
    }
}
