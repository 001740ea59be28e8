//! `openqoe bench query`: the view store's standard queries over millions of synthetic ended
//! views with realistic dimension cardinalities, timed warm (the best and the median of the
//! repeats) and cold (the first run).
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use clap::Args;
use openqoe_metrics::{metric, METRICS};
use openqoe_model::{ServerTime, ViewId};
use openqoe_query::{aggregate, Aggregate, GroupKey, Grouping};
use openqoe_store::{Format, ViewTable};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

mod clickhouse;
mod synthetic;

use synthetic::generate;

/// `openqoe bench query` flags.
#[derive(Args)]
pub struct QueryArgs {
    /// Synthetic ended views generated.
    #[arg(long, default_value_t = 10_000_000)]
    views: usize,
    /// Hours of view start times they spread over (with a daily curve).
    #[arg(long, default_value_t = 24)]
    hours: i64,
    /// Timed runs of each query after the first.
    #[arg(long, default_value_t = 7)]
    repeat: usize,
    /// Random seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// One JSON object instead of the table.
    #[arg(long)]
    json: bool,
    /// Also write the views to `DIR/views.parquet` (for `bench/compare`: the same data in DuckDB
    /// and chdb).
    #[arg(long, value_name = "DIR")]
    parquet: Option<std::path::PathBuf>,
    /// Views in the hour events file a released view's events are read back from.
    #[arg(long, default_value_t = 100_000)]
    hour_views: usize,
    /// Events per view in that file.
    #[arg(long, default_value_t = 30)]
    events_per_view: u64,
    /// Also load the views into the ClickHouse at this HTTP address and time the breakdown and
    /// timeseries as an API node runs them there. Its views table is dropped and filled anew:
    /// point it at a scratch database (`http://host:8123/?database=bench`).
    #[arg(long, value_name = "URL")]
    clickhouse: Option<String>,
}

/// Writes to `path` an hour events file as the store writes one (rows by view id, 64 Ki rows
/// per group): `views` synthetic views of `per_view` events each; returns its size in bytes.
fn write_event_hour(
    path: &std::path::Path,
    views: usize,
    per_view: u64,
    hour: i64,
) -> anyhow::Result<u64> {
    use arrow_array::builder::{StringBuilder, TimestampMillisecondBuilder, UInt64Builder};
    let chunk = openqoe_store::EVENT_ROWS_PER_GROUP;
    let mut batches = Vec::new();
    let (mut ids, mut seqs, mut ats, mut tss, mut kinds, mut fields) = (
        StringBuilder::new(),
        UInt64Builder::new(),
        TimestampMillisecondBuilder::new(),
        TimestampMillisecondBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
    );
    let mut rows = 0;
    for view in 0..views {
        let id = format!("view-{view:010}");
        let start = hour + (view as i64 * 3_600_000) / views as i64;
        for seq in 0..per_view {
            let ts = start + seq as i64 * 10_000;
            let (kind, text) = match seq {
                0 => (
                    "play_requested",
                    format!(r#"{{"seq":0,"ts":{ts},"type":"play_requested"}}"#),
                ),
                _ => (
                    "heartbeat",
                    format!(
                        r#"{{"seq":{seq},"ts":{ts},"type":"heartbeat","playhead_ms":{},"buffer_ms":12000,"bandwidth_bps":5800000}}"#,
                        seq * 10_000
                    ),
                ),
            };
            ids.append_value(&id);
            seqs.append_value(seq);
            ats.append_value(ts);
            tss.append_value(ts);
            kinds.append_value(kind);
            fields.append_value(text);
            rows += 1;
            if rows % chunk == 0 || (view + 1 == views && seq + 1 == per_view) {
                let columns: Vec<arrow_array::ArrayRef> = vec![
                    std::sync::Arc::new(ids.finish()),
                    std::sync::Arc::new(seqs.finish()),
                    std::sync::Arc::new(ats.finish().with_timezone("UTC")),
                    std::sync::Arc::new(tss.finish().with_timezone("UTC")),
                    std::sync::Arc::new(kinds.finish()),
                    std::sync::Arc::new(fields.finish()),
                ];
                let schema = openqoe_store::events_schema();
                batches.push(arrow_array::RecordBatch::try_new(schema, columns)?);
            }
        }
    }
    openqoe_store::write_parquet_file(path, &openqoe_store::events_schema(), &batches, chunk)?;
    Ok(std::fs::metadata(path)?.len())
}

/// Cold (first) and warm (best and median of the repeats) times of one query, and the first
/// run's answer (the API's rows).
struct Timing {
    name: &'static str,
    cold: Duration,
    best: Duration,
    median: Duration,
    answer: Vec<Value>,
}

fn time_query(name: &'static str, repeat: usize, mut run: impl FnMut() -> Vec<Value>) -> Timing {
    let started = Instant::now();
    let answer = run();
    let cold = started.elapsed();
    let mut warm: Vec<Duration> = (0..repeat.max(1))
        .map(|_| {
            let started = Instant::now();
            std::hint::black_box(run());
            started.elapsed()
        })
        .collect();
    warm.sort();
    Timing {
        name,
        cold,
        best: warm[0],
        median: warm[warm.len() / 2],
        answer,
    }
}

/// A query as the API runs it: a copy of the hours' columns, the aggregates, then the JSON rows
/// (serialized, as the API would, and returned).
fn query_json(table: &ViewTable, grouping: &Grouping<'_>) -> Vec<Value> {
    let mut groups: BTreeMap<GroupKey, Aggregate> = BTreeMap::new();
    aggregate(
        &table.columns_in(grouping.from, grouping.to),
        grouping,
        &mut groups,
    );
    rows_json(groups)
}

/// The API's JSON rows of `groups` (serialized, as the API would, and returned).
fn rows_json(groups: BTreeMap<GroupKey, Aggregate>) -> Vec<Value> {
    let rows: Vec<Value> = groups
        .into_iter()
        .map(|((t, key), aggregate)| {
            let mut row = aggregate.into_fields();
            row.insert("t".into(), json!(t));
            row.insert("group".into(), json!(key));
            Value::Object(row)
        })
        .collect();
    std::hint::black_box(
        serde_json::to_vec(&rows)
            .map(|bytes| bytes.len())
            .unwrap_or(0),
    );
    rows
}

/// Resident and peak memory of this process, bytes (Linux).
pub(crate) fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Runs the query benchmark and prints its figures.
pub async fn run(args: QueryArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.views > 0, "--views: expected at least 1");
    anyhow::ensure!(args.hours > 0, "--hours: expected at least 1");
    let (rss_before, _) = memory();
    let end = 1_767_225_600_000; // 2026-01-01T00:00Z: a fixed day, for repeatable figures
    let generating = Instant::now();
    let table = generate(args.views, args.hours, end, args.seed);
    let generated_in = generating.elapsed();
    let (rss, _) = memory();
    let from = ServerTime(end - args.hours * 3_600_000);
    let to = ServerTime(end);
    let parquet = match &args.parquet {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            let path = dir.join("views.parquet");
            let writing = Instant::now();
            let file = std::io::BufWriter::new(std::fs::File::create(&path)?);
            let rows =
                openqoe_store::write_views(table.columns(), from, to, Format::Parquet, file)?;
            let bytes = std::fs::metadata(&path)?.len();
            Some(json!({
                "path": path.display().to_string(),
                "rows": rows,
                "bytes": bytes,
                "write_s": writing.elapsed().as_secs_f64(),
            }))
        }
        None => None,
    };
    let startup = metric("video_startup_time_ms").expect("catalogue metric");
    let rebuffer = metric("rebuffer_percentage").expect("catalogue metric");
    let group_by = ["cdn".to_string(), "country".to_string()];
    let filter = [("device_type".to_string(), "tv".to_string())];
    let breakdown = Grouping {
        metric: startup,
        from,
        to,
        filters: &[],
        group_by: &group_by,
        interval_ms: None,
    };
    let timeseries = Grouping {
        metric: rebuffer,
        from,
        to,
        filters: &filter,
        group_by: &[],
        interval_ms: Some(60_000),
    };
    let mut rng = SmallRng::seed_from_u64(args.seed + 1);
    let timings = [
        time_query(
            "breakdown: video startup p50/p95 by cdn × country, 24 h",
            args.repeat,
            || query_json(&table, &breakdown),
        ),
        time_query(
            "timeseries: rebuffer % by minute, device_type=tv, 24 h",
            args.repeat,
            || query_json(&table, &timeseries),
        ),
        time_query("view lookup by id", args.repeat, || {
            let id = ViewId::new(&format!("view-{:010}", rng.gen_range(0..args.views)))
                .expect("valid id");
            let (partition, row) = table.find(&id).expect("generated view");
            let mut view = serde_json::Map::new();
            view.insert("view_id".into(), json!(id.as_str()));
            view.insert("started_at".into(), json!(partition.started_at()[row]));
            for (m, metric) in METRICS.iter().enumerate() {
                let value = partition.metric(m)[row];
                view.insert(
                    metric.name.into(),
                    json!((!value.is_nan()).then_some(value)),
                );
            }
            std::hint::black_box(serde_json::to_vec(&view).map(|b| b.len()).unwrap_or(0));
            vec![Value::Object(view)]
        }),
    ];
    let bytes_per_view = rss.saturating_sub(rss_before) as f64 / args.views as f64;
    // A view whose hour was written and let go: its events come back from the hour's file.
    let events_dir = match &args.parquet {
        Some(dir) => dir.clone(),
        None => std::env::temp_dir().join(format!("openqoe-bench-{}", std::process::id())),
    };
    let events_path = events_dir.join("events-hour.parquet");
    let hour_views = args.hour_views.max(1);
    let events_bytes = write_event_hour(&events_path, hour_views, args.events_per_view, from.0)?;
    let read_back = time_query(
        "released view: its events read back from the hour file",
        args.repeat,
        || {
            let id = ViewId::new(&format!("view-{:010}", rng.gen_range(0..hour_views)))
                .expect("valid id");
            let ids = std::collections::HashSet::from([id.clone()]);
            let rows = openqoe_store::read_event_rows(&events_path, Some(&ids))
                .and_then(|rows| openqoe_store::events_by_view(&rows))
                .expect("the file just written");
            let events = rows.get(&id).map_or(0, Vec::len);
            vec![json!({"view_id": id.as_str(), "events": events})]
        },
    );
    if args.parquet.is_none() {
        std::fs::remove_dir_all(&events_dir)?;
    }
    let events_hour = json!({
        "views": hour_views,
        "events": hour_views as u64 * args.events_per_view,
        "bytes": events_bytes,
    });
    let timings: Vec<Timing> = timings.into_iter().chain([read_back]).collect();
    // The same views in ClickHouse, queried as an API node queries them.
    let clickhouse = match &args.clickhouse {
        Some(url) => {
            let client = openqoe_clickhouse::ClickHouse::new(url)?;
            let (rows, loaded_in) = clickhouse::load(&client, &table, from, to).await?;
            let views =
                openqoe_clickhouse::StoredViews::new(client, tokio::runtime::Handle::current());
            let queried = [
                time_query(
                    "ClickHouse breakdown: video startup by cdn × country, 24 h",
                    args.repeat,
                    || clickhouse::query_json(&views, &breakdown),
                ),
                time_query(
                    "ClickHouse timeseries: rebuffer % by minute, tv, 24 h",
                    args.repeat,
                    || clickhouse::query_json(&views, &timeseries),
                ),
            ];
            let equal: Vec<(usize, usize)> = queried
                .iter()
                .zip(&timings)
                .map(|(theirs, ours)| clickhouse::exact_groups_equal(&ours.answer, &theirs.answer))
                .collect();
            Some((rows, loaded_in, queried, equal))
        }
        None => None,
    };
    let timing_json = |t: &Timing| {
        json!({
            "query": t.name,
            "rows": t.answer.len(),
            "answer": t.answer,
            "cold_ms": t.cold.as_secs_f64() * 1e3,
            "warm_best_ms": t.best.as_secs_f64() * 1e3,
            "warm_median_ms": t.median.as_secs_f64() * 1e3,
        })
    };
    if args.json {
        let queries: Vec<Value> = timings.iter().map(timing_json).collect();
        let clickhouse = clickhouse.as_ref().map(|(rows, loaded_in, queried, equal)| {
            json!({
                "rows": rows,
                "load_s": loaded_in.as_secs_f64(),
                "queries": queried.iter().map(timing_json).collect::<Vec<_>>(),
                "exact_groups_equal": equal.iter().map(|(e, of)| json!({"equal": e, "of": of})).collect::<Vec<_>>(),
            })
        });
        println!(
            "{}",
            json!({
                "views": args.views,
                "hours": args.hours,
                "repeat": args.repeat,
                "seed": args.seed,
                "generate_s": generated_in.as_secs_f64(),
                "rss_bytes": rss,
                "bytes_per_view": bytes_per_view,
                "threads": std::thread::available_parallelism().map_or(1, |n| n.get()),
                "from": from.0,
                "to": to.0,
                "parquet": parquet,
                "events_hour": events_hour,
                "queries": queries,
                "clickhouse": clickhouse,
            })
        );
        return Ok(());
    }
    println!(
        "{} synthetic ended views over {} h, generated in {:.1} s; {:.0} MiB resident ({:.0} bytes per view)",
        args.views,
        args.hours,
        generated_in.as_secs_f64(),
        rss as f64 / 1_048_576.0,
        bytes_per_view
    );
    if let Some(parquet) = &parquet {
        println!(
            "wrote {} rows to {} ({:.0} MiB) in {:.1} s",
            parquet["rows"],
            parquet["path"].as_str().unwrap_or_default(),
            parquet["bytes"].as_f64().unwrap_or(0.0) / 1_048_576.0,
            parquet["write_s"].as_f64().unwrap_or(0.0)
        );
    }
    println!(
        "an hour events file of {} views × {} events ({:.0} MiB) for the read-back",
        hour_views,
        args.events_per_view,
        events_bytes as f64 / 1_048_576.0
    );
    println!(
        "{:<58} {:>6} {:>10} {:>10} {:>10}",
        "query", "rows", "cold ms", "warm best", "warm p50"
    );
    let clickhouse_timings = clickhouse.iter().flat_map(|(_, _, queried, _)| queried);
    for t in timings.iter().chain(clickhouse_timings) {
        println!(
            "{:<58} {:>6} {:>10.2} {:>10.2} {:>10.2}",
            t.name,
            t.answer.len(),
            t.cold.as_secs_f64() * 1e3,
            t.best.as_secs_f64() * 1e3,
            t.median.as_secs_f64() * 1e3
        );
    }
    if let Some((rows, loaded_in, _, equal)) = &clickhouse {
        println!(
            "ClickHouse: {rows} rows loaded in {:.1} s; groups whose embedded percentiles are exact and equal in ClickHouse: breakdown {} of {}, timeseries {} of {}",
            loaded_in.as_secs_f64(),
            equal[0].0,
            equal[0].1,
            equal[1].0,
            equal[1].1
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests;
