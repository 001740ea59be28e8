//! Views in ClickHouse, for sessionizers and API nodes that run apart (DESIGN §5, scale-out):
//! sessionizers write each view's row as it changes, API nodes aggregate there.
//!
//! Owns the views table's layout (`schema`), a view's row (`rows`), the SQL of a breakdown or
//! timeseries (`select`) and the HTTP client; knows nothing of how views are made. Key
//! decisions: one row per view in a `ReplacingMergeTree` ordered by view id, a later version
//! replacing an earlier row, read with `FINAL`; live views are written too (provisional rows,
//! `live = 1`), so an API node reads ClickHouse alone; filters, groups and percentiles are
//! computed in ClickHouse, percentiles by nearest rank over the sorted values, as the embedded
//! mode does while exact; ClickHouse is spoken to over HTTP, rows sent in `RowBinary` (a metric's
//! bits, not its decimal text) and answers read as `JSONEachRow`, in SQL that runs on ClickHouse
//! 18.16 as well as on current releases.
#![warn(missing_docs)]

mod client;
mod rows;
mod schema;
mod select;
mod views;

pub use client::{ClickHouse, ClickHouseError};
pub use rows::{row_columns, Versions, ViewRow};
pub use schema::{create_views_table, VIEWS_TABLE};
pub use select::{grouping_sql, read_groups};
pub use views::{prepare, StoredViews, ViewRows};
