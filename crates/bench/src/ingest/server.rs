//! The server side: starting one, reading its memory and CPU from /proc, scraping `/metrics`.
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::io::{AsyncBufReadExt, BufReader};

use super::load::wall_ms;

/// A server this benchmark started; `stop` kills it and removes its temporary directory.
pub(crate) struct StartedServer {
    pub(crate) child: tokio::process::Child,
    pub(crate) url: String,
    /// The admin token the server made on its data directory's first start, for its reads.
    pub(crate) token: Option<String>,
    pub(crate) temporary_dir: Option<PathBuf>,
}

impl StartedServer {
    /// Starts this executable as `serve` on a free loopback port and waits for its address.
    pub(crate) async fn start(data_dir: Option<PathBuf>) -> anyhow::Result<StartedServer> {
        let (dir, temporary_dir) = match data_dir {
            Some(dir) => (dir, None),
            None => {
                let name = format!("openqoe-bench-ingest-{}-{}", std::process::id(), wall_ms());
                let dir = std::env::temp_dir().join(name);
                (dir.clone(), Some(dir))
            }
        };
        let exe = std::env::current_exe().context("locating this executable")?;
        let child = tokio::process::Command::new(exe)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&dir)
            .env(
                "OPENQOE_LOG",
                std::env::var("OPENQOE_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("starting `openqoe serve`")?;
        let mut server = StartedServer {
            child,
            url: String::new(),
            token: None,
            temporary_dir,
        };
        match server.listening_url().await {
            Ok(url) => {
                server.url = url;
                server.token = std::fs::read_to_string(dir.join("access").join("admin-token"))
                    .ok()
                    .map(|t| t.trim().to_owned());
                Ok(server)
            }
            Err(e) => {
                server.stop().await;
                Err(e)
            }
        }
    }

    /// Reads the server's stdout up to its `openqoe listening: URL` line, then drains the rest
    /// in the background so the server never blocks on a full pipe.
    pub(crate) async fn listening_url(&mut self) -> anyhow::Result<String> {
        let stdout = self.child.stdout.take().context("server stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let url = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(url) = line.strip_prefix("openqoe listening: ") {
                    return Ok(url.trim().trim_end_matches('/').to_owned());
                }
            }
            bail!("the server exited before listening")
        })
        .await
        .context("the server did not listen within 60 s")??;
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(url)
    }

    /// Kills the server and waits for it to exit; dropping then removes its temporary directory.
    pub(crate) async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// Runs `measure` with a server started here (stopped after, however `measure` ends) unless
/// `target` names one, and prints its report as one JSON object (`json`) or as `table` does.
pub(crate) async fn run_report<R: serde::Serialize>(
    target: Option<&str>,
    data_dir: Option<PathBuf>,
    json: bool,
    measure: impl AsyncFnOnce(Option<&StartedServer>) -> anyhow::Result<R>,
    table: fn(&R),
) -> anyhow::Result<R> {
    let server = match target {
        Some(_) => None,
        None => Some(StartedServer::start(data_dir).await?),
    };
    let outcome = measure(server.as_ref()).await;
    if let Some(server) = server {
        server.stop().await;
    }
    let report = outcome?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        table(&report);
    }
    Ok(report)
}

/// A client whose every request sends `token` as `Authorization: Bearer` (none: no header).
pub(crate) fn reader(token: Option<&str>) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(value) = token.and_then(|t| format!("Bearer {t}").parse().ok()) {
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap_or_default()
}

impl Drop for StartedServer {
    /// Also runs when a run fails or panics: the child is killed (`kill_on_drop`) and its
    /// temporary directory is not left behind.
    fn drop(&mut self) {
        if let Some(dir) = &self.temporary_dir {
            if let Err(e) = std::fs::remove_dir_all(dir) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    eprintln!("could not remove {}: {e}", dir.display());
                }
            }
        }
    }
}

/// Resident and peak resident memory of a process, bytes (`VmRSS`, `VmHWM` of /proc/PID/status).
pub(crate) fn read_memory(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kib: u64 = line[name.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kib * 1024)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// CPU seconds (user + system) a process has used, from /proc/PID/stat.
pub(crate) fn read_cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command's closing parenthesis start at field 3 (state); utime and stime
    // are fields 14 and 15, in USER_HZ ticks, which Linux fixes at 100 per second.
    let rest: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = rest.get(11)?.parse::<u64>().ok()? + rest.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// One Prometheus text scrape: value by series (`name{labels}`).
pub(crate) type Scrape = HashMap<String, f64>;

pub(crate) fn parse_exposition(text: &str) -> Scrape {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let series_end = match line.find('{') {
                Some(open) if line[..open].find(' ').is_none() => {
                    open + line[open..].find('}')? + 1
                }
                _ => line.find(' ')?,
            };
            let value = line[series_end..].split_whitespace().next()?;
            Some((line[..series_end].to_owned(), value.parse().ok()?))
        })
        .collect()
}

/// A histogram's change between two scrapes.
#[derive(Debug)]
pub(crate) struct HistogramDelta {
    pub(crate) count: f64,
    pub(crate) sum: f64,
    /// (upper bound, cumulative count), ascending.
    pub(crate) buckets: Vec<(f64, f64)>,
}

impl HistogramDelta {
    pub(crate) fn between(before: &Scrape, after: &Scrape, name: &str) -> Option<HistogramDelta> {
        let delta = |series: &str| Some(after.get(series)? - before.get(series).unwrap_or(&0.0));
        let prefix = format!("{name}_bucket{{le=\"");
        let mut buckets: Vec<(f64, f64)> = after
            .keys()
            .filter_map(|series| {
                let bound = series.strip_prefix(&prefix)?.strip_suffix("\"}")?;
                let bound = match bound {
                    "+Inf" => f64::INFINITY,
                    finite => finite.parse().ok()?,
                };
                Some((bound, delta(series)?))
            })
            .collect();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        Some(HistogramDelta {
            count: delta(&format!("{name}_count"))?,
            sum: delta(&format!("{name}_sum"))?,
            buckets,
        })
    }

    /// Upper bound of the bucket holding quantile `q`; `None` without observations.
    pub(crate) fn quantile_bound(&self, q: f64) -> Option<f64> {
        let rank = (q * self.count).ceil().max(1.0);
        (self.count > 0.0)
            .then(|| {
                self.buckets
                    .iter()
                    .find(|(_, cumulative)| *cumulative >= rank)
            })?
            .map(|(bound, _)| *bound)
    }

    pub(crate) fn mean(&self) -> Option<f64> {
        (self.count > 0.0).then(|| self.sum / self.count)
    }
}

/// What is read at the start and at the end of the window.
pub(crate) struct Snapshot {
    pub(crate) at: Instant,
    pub(crate) server_cpu_seconds: Option<f64>,
    pub(crate) own_cpu_seconds: Option<f64>,
    pub(crate) metrics: Option<Scrape>,
}

pub(crate) async fn snapshot(
    pid: Option<u32>,
    scraper: &reqwest::Client,
    metrics_url: &str,
) -> Snapshot {
    let at = Instant::now();
    let server_cpu_seconds = pid.and_then(read_cpu_seconds);
    let own_cpu_seconds = read_cpu_seconds(std::process::id());
    let metrics = match scraper.get(metrics_url).send().await {
        Ok(answer) if answer.status().is_success() => answer.text().await.ok(),
        _ => None,
    };
    Snapshot {
        at,
        server_cpu_seconds,
        own_cpu_seconds,
        metrics: metrics.as_deref().map(parse_exposition),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = "# HELP openqoe_wal_group_batches Batches made durable by one fsync.
# TYPE openqoe_wal_group_batches histogram
openqoe_wal_group_batches_sum 10.0
openqoe_wal_group_batches_count 10
openqoe_wal_group_batches_bucket{le=\"1.0\"} 10
openqoe_wal_group_batches_bucket{le=\"2.0\"} 10
openqoe_wal_group_batches_bucket{le=\"4.0\"} 10
openqoe_wal_group_batches_bucket{le=\"+Inf\"} 10
";
    const AFTER: &str = "openqoe_wal_group_batches_sum 260.0
openqoe_wal_group_batches_count 110
openqoe_wal_group_batches_bucket{le=\"1.0\"} 20
openqoe_wal_group_batches_bucket{le=\"2.0\"} 60
openqoe_wal_group_batches_bucket{le=\"4.0\"} 109
openqoe_wal_group_batches_bucket{le=\"+Inf\"} 110
openqoe_ingest_rejects_total{reason=\"too large\"} 3
openqoe_ingest_events_total 1234
# EOF
";

    #[test]
    fn histogram_quantiles_come_from_the_change_between_scrapes() {
        let (before, after) = (parse_exposition(BEFORE), parse_exposition(AFTER));
        assert_eq!(after["openqoe_ingest_events_total"], 1234.0);
        assert_eq!(
            after["openqoe_ingest_rejects_total{reason=\"too large\"}"],
            3.0
        );
        let groups = HistogramDelta::between(&before, &after, "openqoe_wal_group_batches")
            .expect("the histogram is in both scrapes");
        assert_eq!((groups.count, groups.mean()), (100.0, Some(2.5)));
        // Within the window: 10 groups of 1, 40 of 2, 49 of up to 4, 1 larger.
        assert_eq!(groups.quantile_bound(0.5), Some(2.0));
        assert_eq!(groups.quantile_bound(0.99), Some(4.0));
        assert_eq!(groups.quantile_bound(1.0), Some(f64::INFINITY));
        assert!(HistogramDelta::between(&before, &after, "openqoe_missing").is_none());
    }
}
