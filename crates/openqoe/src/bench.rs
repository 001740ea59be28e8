//! `openqoe bench`: performance figures measured on this machine, printed (or as JSON with
//! `--json`). Benchmarks, never timed tests: nothing here passes or fails.
use clap::Subcommand;

/// The benchmarks.
#[derive(Subcommand)]
pub enum BenchCommand {
    /// HTTP ingest load against a server: events/s, acknowledgement latency, server memory.
    Ingest(crate::bench_ingest::IngestArgs),
    /// Breakdown, timeseries and lookup over millions of synthetic ended views.
    Query(crate::bench_query::QueryArgs),
    /// Ack → visible in the view API and in a breakdown, under a paced ingest load.
    Freshness(crate::bench_freshness::FreshnessArgs),
    /// SIGKILL at full ingest load, restart, and every acknowledged event looked up.
    Crash(crate::bench_crash::CrashArgs),
    /// Memory per ended view, events in memory or let go once their hour is written.
    Store(crate::bench_store::StoreArgs),
}

/// Runs one benchmark.
pub async fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Ingest(args) => crate::bench_ingest::run(args).await,
        BenchCommand::Query(args) => crate::bench_query::run(args),
        BenchCommand::Freshness(args) => crate::bench_freshness::run(args).await,
        BenchCommand::Crash(args) => crate::bench_crash::run(args).await,
        BenchCommand::Store(args) => crate::bench_store::run(args),
    }
}
