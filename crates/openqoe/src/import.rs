//! `openqoe import`: CDN access logs with CMCD (request mode) become views, posted to a collector
//! through the same durable ingest as any SDK beacon.
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use openqoe_cmcd::{read_log, requests_to_batches, LogFormat};
use openqoe_model::ServerTime;
use serde_json::Value;

/// A log format (documented with a sample line in docs/cmcd.md).
#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    /// nginx `combined`, optionally followed by the host and the four CMCD headers.
    Nginx,
    /// CloudFront standard logs (W3C, with a `#Fields:` line).
    Cloudfront,
    /// Fastly JSON lines.
    Fastly,
}

/// `openqoe import` arguments.
#[derive(Args)]
pub struct ImportArgs {
    /// The log format.
    #[arg(long, value_enum)]
    format: Format,
    /// Collector base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    target: String,
    /// Environment write key.
    #[arg(long, default_value = "demo")]
    key: String,
    /// Log files.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

/// Events per request to the collector, well under its 1 MiB batch limit.
const EVENTS_PER_POST: usize = 2_000;

/// Reads the logs, builds the views and posts them; prints what was read, skipped and accepted.
pub async fn run(args: ImportArgs) -> anyhow::Result<()> {
    let format = match args.format {
        Format::Nginx => LogFormat::Nginx,
        Format::Cloudfront => LogFormat::Cloudfront,
        Format::Fastly => LogFormat::Fastly,
    };
    let mut requests = Vec::new();
    let mut skipped = 0;
    for file in &args.files {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let (read, left_out) = read_log(format, &text);
        for (line, reason) in left_out.iter().take(3) {
            eprintln!("{}:{line}: skipped: {reason}", file.display());
        }
        skipped += left_out.len();
        requests.extend(read);
    }
    let requests_read = requests.len();
    let batches = requests_to_batches(requests, ServerTime(0));
    let client = reqwest::Client::new();
    let url = format!("{}/v1/events", args.target.trim_end_matches('/'));
    let (mut accepted, mut duplicates) = (0, 0);
    for batch in &batches {
        let mut body = batch.to_wire_json();
        body["key"] = Value::String(args.key.clone());
        let events = body["events"].as_array().cloned().unwrap_or_default();
        for chunk in events.chunks(EVENTS_PER_POST) {
            body["events"] = Value::Array(chunk.to_vec());
            let response = client
                .post(&url)
                .json(&body)
                .send()
                .await
                .with_context(|| format!("posting to {url}"))?;
            let status = response.status();
            let answer: Value = response.json().await.unwrap_or(Value::Null);
            if status.as_u16() != 202 {
                bail!("{url} answered {status}: {answer}");
            }
            accepted += answer["accepted"].as_u64().unwrap_or(0);
            duplicates += answer["duplicates"].as_u64().unwrap_or(0);
        }
    }
    println!(
        "requests with CMCD {requests_read}, lines skipped {skipped}, views {}, events accepted {accepted} ({duplicates} duplicates)",
        batches.len()
    );
    Ok(())
}
