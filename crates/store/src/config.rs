//! `[store]` section of openqoe.toml: Parquet files in the data directory, and retention.
use std::path::{Path, PathBuf};

use openqoe_model::ServerTime;
use serde::Deserialize;
use time::OffsetDateTime;

/// `[store]`: what is written to the data directory and how long anything is kept.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// Write each hour's ended views and their events as Parquet in the data directory
    /// (`views/date=YYYY-MM-DD/hour=HH.parquet`, `events/…`), for DuckDB, ClickHouse, Spark.
    pub parquet: bool,
    /// Minutes after an hour ends before its files are written (views started in it end and
    /// late events arrive first); an hour that changes later is written again.
    pub settle_minutes: u64,
    /// Days views, files and write-ahead log segments are kept (13 months by default, a year
    /// and a month to compare with); 0 keeps everything.
    pub retention_days: u64,
    /// Seconds between looks for hours to write and data past retention.
    pub check_seconds: u64,
    /// Seconds an ended view's events stay in memory before they are read back from the
    /// write-ahead log instead (until its hour's files hold them). With 0 (the default) a view
    /// keeps no events in memory even while live: each batch is measured as it comes and read
    /// back from the log when asked for. Detection and steering read counts kept meanwhile, not
    /// events, so 0 costs them nothing.
    pub keep_ended_seconds: u64,
    /// A ClickHouse server's HTTP address (`http://127.0.0.1:8123`, with `?database=…`, `user=`
    /// and `password=` as ClickHouse reads them): sessionizers write every view's row there as
    /// it changes, and `serve --role api` answers breakdowns and timeseries from it.
    pub clickhouse: Option<String>,
}

impl Default for StoreConfig {
    fn default() -> StoreConfig {
        StoreConfig {
            parquet: true,
            settle_minutes: 90,
            retention_days: 396,
            check_seconds: 60,
            keep_ended_seconds: 0,
            clickhouse: None,
        }
    }
}

impl StoreConfig {
    /// Views that started before this, as of `now`, are past retention (`retention_days`
    /// before `now`); `None` when everything is kept.
    pub fn retention_cutoff(&self, now: ServerTime) -> Option<ServerTime> {
        let days = i64::try_from(self.retention_days).unwrap_or(i64::MAX);
        (days > 0).then(|| ServerTime(now.0.saturating_sub(days.saturating_mul(86_400_000))))
    }
}

/// The file of `table` (`views`, `events`) for the hour starting at `hour` (epoch ms), in
/// Hive-style folders: `DIR/views/date=2026-12-05/hour=08.parquet`.
pub fn hour_file(data_dir: &Path, table: &str, hour: i64) -> PathBuf {
    let start = OffsetDateTime::from_unix_timestamp(hour.div_euclid(1_000))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    data_dir
        .join(table)
        .join(format!(
            "date={:04}-{:02}-{:02}",
            start.year(),
            u8::from(start.month()),
            start.day()
        ))
        .join(format!("hour={:02}.parquet", start.hour()))
}

/// The hour (epoch ms of its start) a file made by [`hour_file`] holds, from its path.
pub fn file_hour(path: &Path) -> Option<i64> {
    let hour: i64 = path
        .file_name()?
        .to_str()?
        .strip_prefix("hour=")?
        .strip_suffix(".parquet")?
        .parse()
        .ok()?;
    let date = path
        .parent()?
        .file_name()?
        .to_str()?
        .strip_prefix("date=")?;
    let mut parts = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (parts.next()??, parts.next()??, parts.next()??);
    let date = time::Date::from_calendar_date(
        i32::try_from(year).ok()?,
        time::Month::try_from(u8::try_from(month).ok()?).ok()?,
        u8::try_from(day).ok()?,
    )
    .ok()?;
    let start = date.midnight().assume_utc().unix_timestamp() * 1_000;
    (0..24).contains(&hour).then_some(start + hour * 3_600_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hour_files_name_their_hour_and_read_back() {
        let hour = 1_764_925_200_000; // 2025-12-05T09:00Z
        let path = hour_file(Path::new("/data"), "views", hour);
        assert_eq!(
            path,
            Path::new("/data/views/date=2025-12-05/hour=09.parquet")
        );
        assert_eq!(file_hour(&path), Some(hour));
        for bad in [
            "/data/views/date=2025-12-05/hour=24.parquet",
            "/data/views/date=2025-13-05/hour=01.parquet",
            "/data/views/2025-12-05/hour=01.parquet",
            "/data/views/date=2025-12-05/hour=01.parquet.partial",
        ] {
            assert_eq!(file_hour(Path::new(bad)), None, "{bad}");
        }
    }
}
