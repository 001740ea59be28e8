//! `openqoe bench`: performance figures measured on this machine, printed (or as JSON with
//! `--json`). Benchmarks, never timed tests: nothing here passes or fails. Load runs start the
//! server as this same executable (`openqoe serve`) and drive it over loopback.
#![warn(missing_docs)]

use clap::Subcommand;

mod crash;
mod freshness;
mod ingest;
mod query;
mod soak;
mod store;

/// The benchmarks.
#[derive(Subcommand)]
pub enum BenchCommand {
    /// HTTP ingest load against a server: events/s, acknowledgement latency, server memory.
    Ingest(ingest::IngestArgs),
    /// Breakdown, timeseries and lookup over millions of synthetic ended views.
    Query(query::QueryArgs),
    /// Ack → visible in the view API and in a breakdown, under a paced ingest load.
    Freshness(freshness::FreshnessArgs),
    /// SIGKILL at full ingest load, restart, and every acknowledged event looked up.
    Crash(crash::CrashArgs),
    /// Memory per ended view, events in memory or let go once their hour is written.
    Store(store::StoreArgs),
    /// A long paced load (30 min at half the capacity): RSS beyond what ended views hold.
    Soak(soak::SoakArgs),
}

/// Runs one benchmark.
pub async fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Ingest(args) => ingest::run(args).await,
        BenchCommand::Query(args) => query::run(args).await,
        BenchCommand::Freshness(args) => freshness::run(args).await,
        BenchCommand::Crash(args) => crash::run(args).await,
        BenchCommand::Store(args) => store::run(args),
        BenchCommand::Soak(args) => soak::run(args).await,
    }
}
