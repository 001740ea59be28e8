//! `openqoe`: the binary. `serve` runs collector, API and dashboard on one port; `demo` adds a
//! live simulated population; `sim` drives simulated viewers against any collector.
mod cmcd_cli;
mod demo_origins;
mod eval_alerts;
mod eval_cli;
mod export_cli;
mod import;
mod p1203_cli;
mod rca_cli;
mod stdin;
mod token_cli;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use openqoe_sim::{Incident, SimConfig};
use openqoe_steer::PathwayConfig;

use openqoe_access::FirstStart;
use openqoe_server::{Config, Credentials, Role};

/// mimalloc: ingest allocates and frees per event at high rates, where glibc's malloc showed as a
/// fifth of the server's time (`openqoe bench ingest` under perf).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "openqoe",
    version,
    about = "Video QoE measurement: beacon → views → metrics → dashboard"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the collector, query API and dashboard on one port.
    Serve(ServeArgs),
    /// Runs `serve` with a live simulated population and prints the dashboard URL.
    Demo(DemoArgs),
    /// Sends simulated viewers to a collector.
    Sim(SimArgs),
    /// Imports CDN access logs carrying CMCD (request mode) as views, through a collector.
    Import(import::ImportArgs),
    /// CMCD tools for operators debugging their players.
    #[command(subcommand)]
    Cmcd(cmcd_cli::CmcdCommand),
    /// Scores a lab session with ITU-T P.1203 mode 0 (the reference software's JSON layout).
    P1203(p1203_cli::P1203Args),
    /// Names the dimension combinations behind a ratio's excess in your own CSV data.
    Rca(rca_cli::RcaArgs),
    /// Accuracy harnesses with known answers (root cause on semi-synthetic cases).
    #[command(subcommand)]
    Eval(eval_cli::EvalCommand),
    /// Writes views or raw events of a time range from a server to a Parquet, CSV or JSONL file.
    Export(export_cli::ExportArgs),
    /// Performance figures: ingest load, freshness, queries over millions of views.
    #[command(subcommand)]
    Bench(openqoe_bench::BenchCommand),
    /// API tokens: `token new --name N --role read|admin` prints one and its config entry.
    #[command(subcommand)]
    Token(token_cli::TokenCommand),
}

#[derive(Args)]
struct ServeArgs {
    /// Configuration file (TOML).
    #[arg(long, env = "OPENQOE_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "OPENQOE_LISTEN")]
    listen: Option<String>,
    /// Directory of the write-ahead log and store.
    #[arg(long, env = "OPENQOE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Roles to run: `all` (the default), or apart over the JetStream of `[log]`: `collector`
    /// (ingest into JetStream) or `sessionizer` (its partitions, views, API and dashboard); or
    /// `api` (breakdowns and timeseries from the ClickHouse of `[store] clickhouse`).
    #[arg(long, env = "OPENQOE_ROLE", default_value = "all")]
    role: Role,
}

#[derive(Args)]
struct DemoArgs {
    #[command(flatten)]
    serve: ServeArgs,
    /// Simulated viewers (live, and in the history).
    #[arg(long, default_value_t = 600)]
    viewers: usize,
    /// Minutes of history simulated (compressed) before the live population starts.
    #[arg(long, default_value_t = 60.0)]
    history_minutes: f64,
    /// Also run two local origins (cdn-a, cdn-b) serving an ffmpeg-made ladder, with steered
    /// HLS and DASH manifests for real players (needs ffmpeg).
    #[arg(long)]
    origins: bool,
}

#[derive(Args)]
struct SimArgs {
    /// Collector base URL (`http://127.0.0.1:8080`).
    #[arg(long)]
    target: String,
    /// Environment write key.
    #[arg(long, default_value = "demo")]
    key: String,
    /// Concurrent viewers.
    #[arg(long, default_value_t = 100)]
    viewers: usize,
    /// Simulated minutes; without it the simulation runs until interrupted.
    #[arg(long)]
    minutes: Option<f64>,
    /// Sim clock speed over real time; a compressed run ends at the real present.
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Random seed, for a reproducible population.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// An incident, e.g. `cdn=cdn-b,country=DE,at=+10m,for=15m,throughput=0.3` (repeatable).
    #[arg(long = "incident")]
    incidents: Vec<Incident>,
    /// File to write every acknowledged `view_id seq` pair to.
    #[arg(long)]
    ledger: Option<PathBuf>,
    /// Viewers follow the target's content steering (`/v1/steer/hls`) before each view.
    #[arg(long)]
    steering: bool,
    /// Prints the report as JSON.
    #[arg(long)]
    json: bool,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("OPENQOE_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve(args, None).await,
            Command::Demo(args) => demo(args).await,
            Command::Sim(args) => sim(args).await,
            Command::Import(args) => import::run(args).await,
            Command::Cmcd(command) => cmcd_cli::run(command),
            Command::P1203(args) => p1203_cli::run(args),
            Command::Rca(args) => rca_cli::run(args),
            Command::Eval(command) => eval_cli::run(command),
            Command::Export(args) => export_cli::run(args).await,
            Command::Bench(command) => openqoe_bench::run(command).await,
            Command::Token(command) => {
                token_cli::run(command);
                Ok(())
            }
        }
    })
}

/// A bound server ready to run.
struct Server {
    listener: tokio::net::TcpListener,
    /// The probes address (`probes_listen`), when configured.
    probes: Option<tokio::net::TcpListener>,
    topology: openqoe_server::Topology,
    url: String,
}

/// Starts a server. The demo steers between the simulator's CDNs unless `[steer]` names
/// pathways; `origin_hosts` are the demo origins' hosts by pathway.
async fn start(
    args: &ServeArgs,
    default_data_dir: &Path,
    demo: bool,
    origin_hosts: &[(String, String)],
) -> anyhow::Result<Server> {
    let mut config = Config::load(args.config.as_deref())?;
    if demo && config.steer.pathways.is_empty() {
        config.steer.pathways = ["cdn-a", "cdn-b", "cdn-c"]
            .map(|id| PathwayConfig {
                id: id.into(),
                cdn: None,
                hosts: origin_hosts
                    .iter()
                    .filter(|(pathway, _)| pathway == id)
                    .map(|(_, host)| host.clone())
                    .collect(),
            })
            .into();
    }
    let listen = args
        .listen
        .clone()
        .or(config.listen.clone())
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let data_dir = args
        .data_dir
        .clone()
        .or(config.data_dir.clone())
        .unwrap_or_else(|| default_data_dir.to_owned());
    if config.collect.environments.is_empty() {
        tracing::info!("no environments configured: accepting the write key \"demo\"");
    }
    // Bound first: whether it is loopback decides the demo's credentials.
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let address = listener.local_addr()?;
    let probes = match &config.probes_listen {
        Some(probes) => {
            let bound = tokio::net::TcpListener::bind(probes)
                .await
                .with_context(|| format!("binding probes_listen {probes}"))?;
            println!(
                "probes: http://{}/metrics, /healthz, /livez (no credentials)",
                bound.local_addr()?
            );
            Some(bound)
        }
        None => None,
    };
    let credentials = if demo && address.ip().is_loopback() {
        println!("demo: the API and dashboard ask for no credentials (loopback only)");
        Credentials::Open
    } else {
        Credentials::Tokens
    };
    match config.store.retention_days {
        0 => tracing::warn!("retention: everything is kept for ever ([store] retention_days = 0)"),
        days => tracing::info!(
            days,
            "retention: views, their events and files are deleted {days} days after they start ([store] retention_days)"
        ),
    }
    let jetstream = match &config.log {
        // An API node reads ClickHouse only.
        Some(log) if args.role != Role::Api => {
            // The largest record a collector writes: a whole batch and what the server adds.
            let jetstream = openqoe_jetstream::connect(log, config.collect.max_batch_bytes).await?;
            tracing::info!(nats = %log.nats, stream = %log.stream, partitions = log.partitions, role = ?args.role, "log on JetStream");
            Some(jetstream)
        }
        _ => None,
    };
    let clickhouse = match &config.store.clickhouse {
        Some(url) => {
            let clickhouse = openqoe_clickhouse::ClickHouse::new(url)?;
            openqoe_clickhouse::prepare(&clickhouse)
                .await
                .context("making ClickHouse's views table ([store] clickhouse)")?;
            tracing::info!(table = openqoe_clickhouse::VIEWS_TABLE, role = ?args.role, "views in ClickHouse");
            Some(clickhouse)
        }
        None => None,
    };
    let engines = openqoe_server::Engines {
        jetstream,
        clickhouse,
    };
    let topology = openqoe_server::build(&config, &data_dir, credentials, args.role, engines)?;
    tell_credentials(&topology.first_start);
    if matches!(args.role, Role::All | Role::Sessionizer) {
        tracing::info!(
            data_dir = %data_dir.display(),
            records = topology.replay.records,
            truncated_tail_bytes = topology.replay.truncated_tail_bytes,
            unreadable = topology.unreadable_records,
            "write-ahead log replayed"
        );
    }
    let url = format!("http://{address}/");
    Ok(Server {
        listener,
        probes,
        topology,
        url,
    })
}

/// Says where the first admin token is, once made, and that its file should go once kept.
fn tell_credentials(first_start: &FirstStart) {
    match first_start {
        FirstStart::TokensExist => {}
        FirstStart::AdminTokenMade(file) => println!(
            "credentials: no API token was configured, so an admin token was made in {file} \
             (readable by this user only). Send it as `Authorization: Bearer $(cat {file})`, \
             or sign in to the dashboard with it; make others with POST /v1/tokens or \
             `openqoe token new`. Keep it somewhere safe and delete the file.",
            file = file.display()
        ),
        FirstStart::AdminTokenFileLeft(file) => tracing::warn!(
            file = %file.display(),
            "the first admin token's file is still in the data directory: keep the token \
             somewhere safe and delete the file"
        ),
    }
}

/// Serves until Ctrl-C or SIGTERM, or until `until` resolves.
async fn run(
    server: Server,
    until: Option<tokio::sync::oneshot::Receiver<()>>,
) -> anyhow::Result<()> {
    let shutdown = async move {
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(_) => std::future::pending().await,
            }
        };
        let external = async {
            match until {
                Some(receiver) => {
                    let _ = receiver.await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = terminate => {},
            _ = external => {},
        }
    };
    server
        .topology
        .serve(server.listener, server.probes, shutdown)
        .await
}

async fn serve(
    args: ServeArgs,
    until: Option<tokio::sync::oneshot::Receiver<()>>,
) -> anyhow::Result<()> {
    let server = start(&args, Path::new("openqoe-data"), false, &[]).await?;
    println!("openqoe listening: {}", server.url);
    run(server, until).await
}

async fn demo(args: DemoArgs) -> anyhow::Result<()> {
    let default_dir = std::env::temp_dir().join(format!("openqoe-demo-{}", std::process::id()));
    let origins = if args.origins {
        let media = std::env::temp_dir().join("openqoe-demo-media-v1");
        eprintln!(
            "making the demo ladder with ffmpeg in {} (once)…",
            media.display()
        );
        Some(Arc::new(
            demo_origins::Origins::start(media, &["cdn-a", "cdn-b"]).await?,
        ))
    } else {
        None
    };
    let hosts: Vec<(String, String)> = origins
        .iter()
        .flat_map(|o| {
            o.origins
                .iter()
                .map(|o| (o.pathway.clone(), o.host.clone()))
        })
        .collect();
    let mut server = start(&args.serve, &default_dir, true, &hosts).await?;
    let target = server.url.trim_end_matches('/').to_owned();
    println!("dashboard: {}", server.url);
    println!("write key: demo   (POST {target}/v1/events)");
    if let Some(origins) = origins {
        for (pathway, host) in &hosts {
            println!("origin {pathway}: http://{host}/");
        }
        println!("play (steered): {target}/demo/hls/master.m3u8   {target}/demo/dash/manifest.mpd");
        println!("degrade an origin: curl -X PUT {target}/v1/demo/origins/cdn-a -H 'content-type: application/json' -d '{{\"throughput_kbps\": 400, \"error_percent\": 20}}'");
        server.topology.router = server.topology.router.merge(origins.router());
    }
    // The last hour first, compressed into seconds (at full size: detection needs 25 attempts a
    // minute per cohort), then the live population.
    let history = SimConfig {
        target: target.clone(),
        key: "demo".into(),
        viewers: args.viewers,
        minutes: Some(args.history_minutes),
        speed: (args.history_minutes * 60.0 / 8.0).max(1.0),
        seed: 7,
        // A CDN that degraded in one country a while ago, after detection's warm-up: something
        // for the breakdown to show and the alerts page to have caught.
        incidents: vec![
            "cdn=cdn-b,country=DE,at=+31m,for=12m,throughput=0.08,startup_failure=0.8".parse()?,
        ],
        ledger: None,
        steering: false,
    };
    // Live, viewers follow steering; cdn-c degrades in France a few minutes in, so the
    // steering page has something to do.
    let live = SimConfig {
        viewers: args.viewers,
        minutes: None,
        speed: 1.0,
        seed: 8,
        incidents: vec![
            "cdn=cdn-c,country=FR,at=+4m,for=30m,throughput=0.1,startup_failure=0.2".parse()?,
        ],
        steering: true,
        ..history.clone()
    };
    let population = tokio::spawn(async move {
        // In order: detection judges the history's minutes by its event clock as they arrive.
        let backfill = openqoe_sim::run(history, std::future::pending::<()>()).await;
        let present = openqoe_sim::run(live, std::future::pending::<()>()).await;
        for outcome in [backfill, present] {
            if let Err(e) = outcome {
                tracing::error!(error = %e, "demo population stopped");
            }
        }
    });
    let outcome = run(server, None).await;
    population.abort();
    outcome
}

async fn sim(args: SimArgs) -> anyhow::Result<()> {
    let config = SimConfig {
        target: args.target.trim_end_matches('/').to_owned(),
        key: args.key,
        viewers: args.viewers,
        minutes: args.minutes,
        speed: args.speed,
        seed: args.seed,
        incidents: args.incidents,
        ledger: args.ledger,
        steering: args.steering,
    };
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let report = openqoe_sim::run(config, stop).await?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("{report}");
    }
    Ok(())
}
