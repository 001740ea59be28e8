//! `openqoe export`: views or raw events of a time range from a running server into a Parquet,
//! CSV or JSON-lines file (`GET /v1/export/{table}`), streamed to disk.
use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

/// `openqoe export` flags.
#[derive(Args)]
pub struct ExportArgs {
    /// Server base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    target: String,
    /// What to export: `views` (ended views, one row each with dimensions and metrics) or
    /// `events` (every event of the views that started in the range).
    #[arg(long, default_value = "views", value_parser = ["views", "events"])]
    table: String,
    /// Start of the range (epoch ms or RFC 3339), on view start time; default 24 h before `to`.
    #[arg(long)]
    from: Option<String>,
    /// End of the range (exclusive); default now.
    #[arg(long)]
    to: Option<String>,
    /// File format.
    #[arg(long, default_value = "parquet", value_parser = ["parquet", "csv", "jsonl"])]
    format: String,
    /// Output file.
    #[arg(long)]
    out: PathBuf,
}

/// Downloads the export into `--out`; a cut-short transfer removes the partial file.
pub async fn run(args: ExportArgs) -> anyhow::Result<()> {
    let mut query = vec![("format", args.format.clone())];
    query.extend(args.from.clone().map(|v| ("from", v)));
    query.extend(args.to.clone().map(|v| ("to", v)));
    let url = format!(
        "{}/v1/export/{}",
        args.target.trim_end_matches('/'),
        args.table
    );
    let mut response = reqwest::Client::new()
        .get(&url)
        .query(&query)
        .send()
        .await
        .with_context(|| format!("requesting {url}"))?;
    if !response.status().is_success() {
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        anyhow::bail!("{url}: {status}: {body}");
    }
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(&args.out)
            .with_context(|| format!("creating {}", args.out.display()))?,
    );
    let mut bytes = 0u64;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                file.write_all(&chunk)?;
                bytes += chunk.len() as u64;
            }
            Ok(None) => break,
            Err(e) => {
                drop(file);
                let _ = std::fs::remove_file(&args.out);
                anyhow::bail!("the export was cut short after {bytes} bytes ({e}); nothing kept");
            }
        }
    }
    file.flush()?;
    eprintln!(
        "wrote {} ({bytes} bytes, {} {})",
        args.out.display(),
        args.table,
        args.format
    );
    Ok(())
}
