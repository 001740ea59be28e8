//! A simulated viewer population that speaks only HTTP: each viewer watches view after view and
//! sends them through the real ingest, batched exactly as the web SDK batches (DESIGN §4).
//!
//! Owns the population (device, place, network, content), the playback model (a varying network,
//! a buffer-based ABR, stalls that emerge from throughput below bitrate) and incidents. Key
//! decision: each view's timeline is generated whole by a pure function, then its batches are sent
//! when the sim clock reaches them; a compressed run (`speed` > 1) starts in the past and ends at
//! the real present, so no timestamp is ever in the future.
#![warn(missing_docs)]

mod incident;
mod playback;
mod population;
mod send;

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

pub use incident::Incident;
pub use playback::{simulate_view, PlannedView};
pub use population::{content, viewer, Content, Viewer};
pub use send::run;

/// What to simulate and where to send it.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Collector base URL, e.g. `http://127.0.0.1:8080`.
    pub target: String,
    /// Environment write key.
    pub key: String,
    /// Concurrent viewers; each watches view after view.
    pub viewers: usize,
    /// Simulated minutes to run; `None` runs until stopped (live, speed 1).
    pub minutes: Option<f64>,
    /// The sim clock runs this many times faster than real time (≥ 1).
    pub speed: f64,
    /// Seed of the population.
    pub seed: u64,
    /// Injected degradations.
    pub incidents: Vec<Incident>,
    /// File that receives one `view_id seq` line per acknowledged event.
    pub ledger: Option<PathBuf>,
    /// Viewers ask the target's HLS steering server (`/v1/steer/hls`) which CDN to use before
    /// each view, as a player does at start, and report their throughput on the last one.
    pub steering: bool,
}

/// What a run achieved.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SimReport {
    /// Views started.
    pub views: u64,
    /// Batches acknowledged with 202.
    pub batches_acked: u64,
    /// Events the server accepted as new.
    pub events_acked: u64,
    /// Events the server reported as duplicates.
    pub duplicates: u64,
    /// Attempts retried after a connection error, 429, 503 or 5xx.
    pub retries: u64,
    /// Batches refused with a 4xx other than 429 (a bug: logged).
    pub rejected: u64,
    /// Views that steering sent to another CDN than the viewer's usual one.
    pub steered_views: u64,
    /// Wall-clock run time.
    #[serde(serialize_with = "seconds")]
    pub elapsed: Duration,
    /// Acknowledged events per wall-clock second.
    pub events_per_sec: f64,
    /// Median time from send to acknowledgement, ms.
    pub ack_latency_ms_p50: f64,
    /// 99th percentile time from send to acknowledgement, ms.
    pub ack_latency_ms_p99: f64,
}

fn seconds<S: serde::Serializer>(elapsed: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(elapsed.as_secs_f64())
}

impl std::fmt::Display for SimReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "views            {}", self.views)?;
        writeln!(f, "batches acked    {}", self.batches_acked)?;
        writeln!(
            f,
            "events acked     {}  ({} duplicates)",
            self.events_acked, self.duplicates
        )?;
        writeln!(
            f,
            "retries          {}  rejected {}",
            self.retries, self.rejected
        )?;
        writeln!(f, "steered views    {}", self.steered_views)?;
        writeln!(f, "elapsed          {:.1} s", self.elapsed.as_secs_f64())?;
        writeln!(f, "events/s         {:.0}", self.events_per_sec)?;
        write!(
            f,
            "ack latency      p50 {:.2} ms  p99 {:.2} ms",
            self.ack_latency_ms_p50, self.ack_latency_ms_p99
        )
    }
}

/// Why a simulation could not run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// An incident specification is malformed.
    #[error("incident {0}")]
    Incident(String),
    /// The configuration is inconsistent.
    #[error("{0}")]
    Config(String),
    /// The ledger file could not be written.
    #[error("ledger: {0}")]
    Ledger(#[from] std::io::Error),
}
