//! The openqoe server: the stages wired into one process. It owns the wiring (`topology`), the
//! process's view state (`pipeline` over `views`), the store's files (`persist`), alerting,
//! content steering, SQL and the process's own telemetry; it does not own the command line,
//! benchmarks or evaluations (`crates/openqoe`, `crates/bench`). Its one key decision: the
//! three roles — collector, sessionizer, API — meet only at traits (`EventLog`,
//! `DurableBatches`, `ViewSource`, `Aggregates`), so that they can run apart over other engines
//! (collectors and sessionizers over NATS JetStream, API nodes over ClickHouse: `serve --role`).
#![warn(missing_docs)]

mod alerting;
mod api_error;
mod config;
mod data_dir_lock;
mod erasure;
mod health;
mod http;
mod live_metrics;
mod persist;
mod pipeline;
mod privacy_secret;
mod query_limit;
mod read_back;
mod sql_api;
mod steering;
mod telemetry;
mod topology;
mod view_counts;
mod view_rows;
mod views;

pub use api_error::ApiError;
pub use config::{AlertsConfig, Config};
pub use http::HttpConfig;
pub use sql_api::SqlConfig;
pub use topology::{build, Credentials, Engines, Role, Topology};
pub use views::ServerViews;
