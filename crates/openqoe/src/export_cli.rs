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
    /// An API token with the read role (or admin), sent as `Authorization: Bearer`.
    #[arg(long, env = "OPENQOE_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

/// Writes the response body to `path`; returns its bytes.
async fn download(response: &mut reqwest::Response, path: &std::path::Path) -> anyhow::Result<u64> {
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
    );
    let mut bytes = 0u64;
    while let Some(chunk) = response.chunk().await.map_err(|e| {
        anyhow::anyhow!("the export was cut short after {bytes} bytes ({e}); nothing kept")
    })? {
        file.write_all(&chunk)?;
        bytes += chunk.len() as u64;
    }
    file.into_inner()
        .map_err(|e| e.into_error())?
        .sync_all()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(bytes)
}

/// Downloads the export into `--out`, whole or not at all.
pub async fn run(args: ExportArgs) -> anyhow::Result<()> {
    let mut query = vec![("format", args.format.clone())];
    query.extend(args.from.clone().map(|v| ("from", v)));
    query.extend(args.to.clone().map(|v| ("to", v)));
    let url = format!(
        "{}/v1/export/{}",
        args.target.trim_end_matches('/'),
        args.table
    );
    let mut request = reqwest::Client::new().get(&url).query(&query);
    if let Some(token) = &args.token {
        request = request.bearer_auth(token);
    }
    let mut response = request
        .send()
        .await
        .with_context(|| format!("requesting {url}"))?;
    if !response.status().is_success() {
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        anyhow::bail!("{url}: {status}: {body}");
    }
    // Downloaded beside the output and renamed over it once whole: a failed or interrupted
    // export never leaves half a file, nor destroys an earlier one.
    let partial = args.out.with_extension("partial");
    let downloaded = download(&mut response, &partial).await;
    let bytes = match downloaded {
        Ok(bytes) => bytes,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    std::fs::rename(&partial, &args.out)
        .with_context(|| format!("renaming {} to {}", partial.display(), args.out.display()))?;
    eprintln!(
        "wrote {} ({bytes} bytes, {} {})",
        args.out.display(),
        args.table,
        args.format
    );
    Ok(())
}
