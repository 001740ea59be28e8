//! Wires the stages into one process: collect → wal → sessionize → metrics → store → query, with
//! detection, alerting and steering beside the store. Stages never call each other; this file
//! builds them from the configuration, hands each the handles it needs and spawns their ticks.
//!
//! The process has three roles, wired together here and each behind traits, so that they can
//! run apart over other engines: the **collector** (HTTP ingest into an [`EventLog`], handing
//! durable batches to a [`DurableBatches`] sink), the **sessionizer** (the [`Pipeline`]: log →
//! views → store, with the expiry, detection, steering and file ticks) and the **API** (queries
//! over a `ViewSource`, dashboard, alerts, steering endpoints). With `[log]`, the collector's log
//! is NATS JetStream and the sessionizer takes its partitions from there into its own log
//! ([`Role`] says which roles a process runs). With `[store] clickhouse`, the sessionizer also
//! writes its views' rows to ClickHouse, and API nodes answer breakdowns and timeseries from
//! there. Every route stands behind [`Access`]: public for players, a token's role for the rest.
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use openqoe_access::{Access, FirstStart};
use openqoe_clickhouse::{ClickHouse, StoredViews, ViewRows};
use openqoe_collect::{CollectConfig, CollectStats, DurableBatches, Ingest};
use openqoe_jetstream::{Forwarded, JetStream, RelayStats};
use openqoe_model::{Privacy, ServerTime};
use openqoe_query::ViewSource;
use openqoe_wal::{EventLog, ReplayReport};

use crate::alerting::Alerting;
use crate::config::Config;
use crate::data_dir_lock::DataDirLock;
use crate::erasure::ErasureLog;
use crate::health::Durability;
use crate::http::{ConnectionStats, HttpConfig};
use crate::persist::Persistence;
use crate::pipeline::Pipeline;
use crate::query_limit::QueryLimit;
use crate::steering::Steering;
use crate::telemetry::Telemetry;

/// The running server's parts, before it accepts connections.
pub struct Topology {
    /// The HTTP surface: ingest, query API, `/metrics`, dashboard (what its roles serve).
    pub router: axum::Router,
    /// The sessionizer's parts, unless the process is only a collector.
    pub(crate) sessionizer: Option<SessionizerParts>,
    /// Credentials, checked in front of every route (also those merged into `router` later).
    access: Arc<Access>,
    /// This process's hold on the data directory.
    _lock: DataDirLock,
    /// Connection caps and time limits.
    http: HttpConfig,
    /// Their counters.
    connections: ConnectionStats,
    /// What the start did about credentials (an admin token made on the first start).
    pub first_start: FirstStart,
    /// What replaying the log found at start-up (nothing on a collector, which keeps no log).
    pub replay: ReplayReport,
    /// Log records that could not be read back as batches.
    pub unreadable_records: u64,
}

/// What the sessionizer role runs besides its routes.
pub(crate) struct SessionizerParts {
    /// The view state (for the expiry tick, and tests).
    pub(crate) pipeline: Arc<Pipeline>,
    /// Detection and delivery (for the alerting tick).
    alerting: Arc<Alerting>,
    /// The store's files and retention (for its tick).
    persistence: Arc<Persistence>,
    /// The content-steering server, when `[steer]` names pathways (for its tick).
    steering: Option<Arc<Steering>>,
    /// Taking this process's partitions from JetStream into its log and views, when `[log]`
    /// names one (started when the server starts).
    relay: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    /// Writing changed views' rows to ClickHouse, when `[store] clickhouse` names it (started
    /// when the server starts).
    view_rows: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
}

/// The engines a process's roles run apart over, connected before it is built.
#[derive(Default)]
pub struct Engines {
    /// The log between collectors and sessionizers (`[log]`).
    pub jetstream: Option<JetStream>,
    /// The view store sessionizers write and API nodes read (`[store] clickhouse`), its table
    /// made.
    pub clickhouse: Option<ClickHouse>,
}

/// Whether the server asks for credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credentials {
    /// API tokens from `[access]` and the data directory (made on the first start if none).
    Tokens,
    /// None asked: only for the demo on a loopback address.
    Open,
}

/// Which roles this process runs (`serve --role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// All of them in one process (the default). With `[log]`, batches still go through
    /// JetStream: ingest publishes, and this process takes every partition back.
    All,
    /// Ingest only: players' batches into JetStream, acknowledged once it stored them.
    Collector,
    /// The sessionizer and the API over its views: its partitions of JetStream into its own
    /// log, views, store, detection and steering; no ingest route.
    Sessionizer,
    /// Breakdowns and timeseries over every sessionizer's views, from ClickHouse.
    Api,
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(role: &str) -> Result<Role, String> {
        match role {
            "all" => Ok(Role::All),
            "collector" => Ok(Role::Collector),
            "sessionizer" => Ok(Role::Sessionizer),
            "api" => Ok(Role::Api),
            other => Err(format!(
                "{other:?}: expected all, collector, sessionizer or api"
            )),
        }
    }
}

/// Takes the data directory, then builds the roles `role` names behind `credentials`: the
/// collector over JetStream when `engines` has it (else over the write-ahead log), the
/// sessionizer over the store's hour files and the log replayed into fresh views (writing their
/// rows to ClickHouse when `engines` has it), the API node over ClickHouse.
///
/// # Errors
/// When another server holds `data_dir`, the files or the log cannot be read, a section of the
/// configuration is invalid, or `role` lacks the engine it runs over.
pub fn build(
    config: &Config,
    data_dir: &Path,
    credentials: Credentials,
    role: Role,
    engines: Engines,
) -> anyhow::Result<Topology> {
    let Engines {
        jetstream,
        clickhouse,
    } = engines;
    match role {
        Role::Collector | Role::Sessionizer if jetstream.is_none() => bail!("--role {role:?}: collectors and sessionizers run apart over JetStream; expected a [log] section naming a NATS server"),
        Role::Api if clickhouse.is_none() => bail!("--role api: API nodes read views from ClickHouse; expected [store] clickhouse naming its HTTP address"),
        _ => {}
    }
    // First: nothing in the directory may be touched while another server holds it.
    let lock = DataDirLock::acquire(data_dir)?;
    let (access, first_start) = match credentials {
        Credentials::Tokens => Access::load(&config.access, data_dir)?,
        Credentials::Open => (Access::open(), FirstStart::TokensExist),
    };
    let secret = crate::privacy_secret::load_or_make(data_dir)?;
    let privacy = Arc::new(Privacy::new(&config.privacy, &secret)?);
    let telemetry = Telemetry::new();
    let on_wal_sync = telemetry.on_wal_sync();
    let Telemetry {
        mut registry,
        collect: collect_stats,
        views: view_gauges,
        ..
    } = telemetry;
    let access = Arc::new(access);
    access.register(&mut registry);
    let connections = ConnectionStats::default();
    connections.register(&mut registry);
    if let Some(jetstream) = &jetstream {
        jetstream.register(&mut registry);
    }
    let built = |router: axum::Router, sessionizer, replay, unreadable_records| Topology {
        router: router.merge(Arc::clone(&access).router()),
        sessionizer,
        access: Arc::clone(&access),
        _lock: lock,
        http: config.http.clone(),
        connections: connections.clone(),
        first_start,
        replay,
        unreadable_records,
    };

    if role == Role::Collector {
        let jetstream = jetstream.expect("checked above");
        let sink = Arc::new(Forwarded);
        let router = collector(
            config.collect.clone(),
            privacy,
            jetstream.clone(),
            sink,
            collect_stats,
        )
        .merge(crate::health::router(vec![Durability::JetStream(
            Box::new(jetstream),
        )]))
        .merge(crate::telemetry::router(registry));
        return Ok(built(router, None, ReplayReport::default(), 0));
    }
    if role == Role::Api {
        let clickhouse = clickhouse.expect("checked above");
        let queries = Arc::new(QueryLimit::new(config.http.max_queries));
        queries.register(&mut registry);
        let reach = crate::health::ViewStoreReach::default();
        tokio::spawn(reach.clone().watch(clickhouse.clone()));
        let views = StoredViews::new(clickhouse, tokio::runtime::Handle::current());
        let router = openqoe_query::aggregate_router(Arc::new(views), privacy)
            .layer(axum::middleware::from_fn_with_state(
                queries,
                crate::query_limit::limit,
            ))
            .merge(crate::health::router(vec![Durability::ViewStore(reach)]))
            .merge(crate::telemetry::router(registry));
        return Ok(built(router, None, ReplayReport::default(), 0));
    }

    let pipeline = Arc::new(Pipeline::new(
        config.sessionize.clone(),
        config.hold(),
        view_gauges,
        data_dir,
    ));
    // Settled hours come from their files; the log then adds what they do not hold.
    let erasures = ErasureLog::load(data_dir)?;
    let (hours, views) = pipeline.load_hours(&erasures)?;
    if hours > 0 {
        tracing::info!(hours, views, "hour files loaded");
    }
    let queries = Arc::new(QueryLimit::new(config.http.max_queries));
    queries.register(&mut registry);
    // Before the replay: the views it makes are written too.
    let view_rows = clickhouse.map(|clickhouse| {
        pipeline.track_changes();
        let rows = ViewRows::new(clickhouse);
        rows.register(&mut registry);
        let writing: Pin<Box<dyn Future<Output = ()> + Send>> = Box::pin(
            crate::view_rows::write_changed_rows(Arc::clone(&pipeline), rows, config.store.clone()),
        );
        writing
    });
    let replayed = pipeline.replay(
        &data_dir.join("wal"),
        config.wal.clone(),
        on_wal_sync,
        &erasures,
    )?;
    pipeline.expire(ServerTime::now());

    let steering = Steering::new(
        &config.steer,
        config.collect.country_header.clone(),
        config.collect.client_address_header.clone(),
    )?
    .map(Arc::new);
    let alerting = Arc::new(Alerting::new(
        config,
        pipeline.newest_event_at(),
        steering.clone(),
        &mut registry,
    )?);
    let mut logs = vec![Durability::Wal(replayed.log.clone())];
    let persistence = Arc::new(Persistence::new(config.store.clone(), data_dir.to_owned()));
    let erasure = crate::erasure::router(
        Arc::clone(&pipeline),
        Arc::clone(&persistence),
        Arc::clone(&privacy),
        erasures,
    );
    // Ingest: into this process's log, or into JetStream, from which the relay takes this
    // process's partitions into its log.
    let (ingest, relay) = match jetstream {
        Some(jetstream) => {
            let relay_stats = RelayStats::default();
            relay_stats.register(&mut registry);
            let relay: Pin<Box<dyn Future<Output = ()> + Send>> =
                Box::pin(openqoe_jetstream::relay_partitions(
                    jetstream.clone(),
                    Arc::new(replayed.log),
                    Arc::clone(&pipeline),
                    collect_stats.clone(),
                    relay_stats,
                ));
            logs.push(Durability::JetStream(Box::new(jetstream.clone())));
            let ingest = match role {
                Role::All => collector(
                    config.collect.clone(),
                    Arc::clone(&privacy),
                    jetstream,
                    Arc::new(Forwarded),
                    collect_stats,
                ),
                _ => axum::Router::new(),
            };
            (ingest, Some(relay))
        }
        None => {
            let ingest = collector(
                config.collect.clone(),
                Arc::clone(&privacy),
                replayed.log,
                Arc::clone(&pipeline),
                collect_stats,
            );
            (ingest, None)
        }
    };
    let router = ingest
        .merge(crate::health::router(logs))
        .merge(crate::telemetry::router(registry))
        .merge(api(
            Arc::clone(&pipeline),
            privacy,
            &alerting,
            steering.as_ref(),
            queries,
            crate::sql_api::router(Arc::clone(&pipeline) as Arc<dyn ViewSource>, &config.sql)?,
        ))
        .merge(erasure);
    let sessionizer = SessionizerParts {
        pipeline,
        alerting,
        persistence,
        steering,
        relay,
        view_rows,
    };
    Ok(built(
        router,
        Some(sessionizer),
        replayed.report,
        replayed.unreadable_records,
    ))
}

/// The collector role: `POST /v1/events` (and CMCD), acknowledged once `log` holds a batch,
/// which then goes to `sink`.
fn collector<L: EventLog, D: DurableBatches>(
    config: CollectConfig,
    privacy: Arc<Privacy>,
    log: L,
    sink: Arc<D>,
    stats: CollectStats,
) -> axum::Router {
    openqoe_collect::router(Arc::new(Ingest::new(config, privacy, log, sink, stats)))
}

/// The API role: queries over the views (an `openqoe_query::ViewSource`) and `sql`, at most
/// `queries` at once; alerts, steering, the dashboard and the web SDK.
fn api(
    views: Arc<Pipeline>,
    privacy: Arc<Privacy>,
    alerting: &Arc<Alerting>,
    steering: Option<&Arc<Steering>>,
    queries: Arc<QueryLimit>,
    sql: axum::Router,
) -> axum::Router {
    openqoe_query::router(Arc::clone(&views), privacy)
        .merge(sql)
        .layer(axum::middleware::from_fn_with_state(
            queries,
            crate::query_limit::limit,
        ))
        .merge(Arc::clone(alerting).router())
        .merge(match steering {
            Some(steering) => Arc::clone(steering).router(),
            None => crate::steering::unconfigured_router(),
        })
        .merge(openqoe_dashboard::router())
        .merge(openqoe_beacon::router())
}

impl Topology {
    /// Serves on `listener` until `shutdown` resolves, with the sessionizer's ticks: expiry and
    /// detection every second, the store's files, and steering's evaluation. `probes`, when
    /// given, serves `/metrics`, `/healthz` and `/livez` without credentials (an internal port
    /// for Prometheus and the orchestrator).
    ///
    /// # Errors
    /// When serving fails.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        probes: Option<tokio::net::TcpListener>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let ticks = self.sessionizer.map(SessionizerParts::start);
        let probes = probes.map(|probes| {
            let router = self
                .router
                .clone()
                .layer(axum::middleware::from_fn(crate::health::probes_only));
            let (http, stats) = (self.http.clone(), self.connections.clone());
            tokio::spawn(async move {
                crate::http::serve(probes, router, &http, stats, std::future::pending()).await
            })
        });
        let router = self.router.layer(axum::middleware::from_fn_with_state(
            self.access,
            openqoe_access::guard,
        ));
        crate::http::serve(listener, router, &self.http, self.connections, shutdown).await?;
        if let Some(probes) = probes {
            probes.abort();
        }
        ticks.into_iter().flatten().for_each(|tick| tick.abort());
        Ok(())
    }
}

impl SessionizerParts {
    /// Starts the relay from JetStream and the ticks: expiry and detection every second, the
    /// store's files, and steering's evaluation.
    fn start(self) -> Vec<tokio::task::JoinHandle<()>> {
        let (pipeline, alerting) = (self.pipeline, self.alerting);
        let persistence = self.persistence;
        let files = every(persistence.check_interval(), {
            let pipeline = Arc::clone(&pipeline);
            move || {
                if let Err(e) = persistence.tick(&pipeline, ServerTime::now()) {
                    tracing::error!(
                        error = format!("{e:#}"),
                        "writing the store's files failed; retried at the next check"
                    );
                }
            }
        });
        let expiry = every(Duration::from_secs(1), {
            let pipeline = Arc::clone(&pipeline);
            move || {
                pipeline.expire(ServerTime::now());
                alerting.tick(pipeline.as_ref(), ServerTime::now());
            }
        });
        let steering = self.steering.map(|steering| {
            every(
                Duration::from_secs(steering.evaluate_seconds()),
                move || {
                    steering.tick(pipeline.as_ref(), ServerTime::now());
                },
            )
        });
        let relay = self.relay.map(tokio::spawn);
        let view_rows = self.view_rows.map(tokio::spawn);
        [Some(files), Some(expiry), steering, relay, view_rows]
            .into_iter()
            .flatten()
            .collect()
    }
}

/// Runs `tick` every `period`, off the async workers (it scans views, writes files or localises
/// causes), one run at a time.
fn every(period: Duration, tick: impl Fn() + Send + Sync + 'static) -> tokio::task::JoinHandle<()> {
    let tick = Arc::new(tick);
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(period);
        loop {
            interval.tick().await;
            let tick = Arc::clone(&tick);
            let _ = tokio::task::spawn_blocking(move || tick()).await;
        }
    })
}
