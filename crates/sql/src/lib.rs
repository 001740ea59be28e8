//! Read-only SQL over openqoe's `views` and `events` tables (Apache DataFusion), for
//! `POST /v1/sql`.
//!
//! Owns one query's life: the tables are registered from Arrow batches the caller made, the
//! statement is planned under a read-only policy (no DDL, no DML, no `SET` or other statements),
//! run under a time limit, cut at a row limit, and answered as JSON rows. Does not own where the
//! batches come from. Built only with the binary's `sql` feature: DataFusion takes about 20
//! minutes of both cores to build, so the default build and the inner test loop go without it.
#![warn(missing_docs)]

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::json::writer::{JsonArray, WriterBuilder};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::error::DataFusionError;
use datafusion::execution::context::{SQLOptions, SessionConfig, SessionContext};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use serde_json::{Map, Value};

/// A table the query may read.
pub struct Table {
    /// Its name in SQL (`views`, `events`).
    pub name: &'static str,
    /// Its columns.
    pub schema: SchemaRef,
    /// Its rows.
    pub batches: Vec<RecordBatch>,
}

/// What one query may use.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Rows answered at most; more are cut and the answer says so.
    pub max_rows: usize,
    /// Time the query may run.
    pub timeout: Duration,
}

/// A query's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// Column names, in order.
    pub columns: Vec<String>,
    /// Rows as JSON objects (nulls explicit).
    pub rows: Vec<Map<String, Value>>,
    /// Whether rows beyond `max_rows` were cut.
    pub truncated: bool,
    /// Time taken, ms.
    pub elapsed_ms: f64,
}

/// Why a query got no answer.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// The statement does not parse, names something that does not exist, or is not a query.
    #[error("{0}")]
    Query(String),
    /// It ran past its time limit.
    #[error("the query ran past its time limit of {0:?}")]
    Timeout(Duration),
}

impl From<DataFusionError> for SqlError {
    fn from(e: DataFusionError) -> SqlError {
        // DataFusion's messages name the problem ("table 'x' not found", "DDL not supported").
        SqlError::Query(e.strip_backtrace())
    }
}

/// The SQL engine of a process: every query's operators (sorts, joins, aggregations) draw on
/// one memory pool, so concurrent queries cannot together take more than it.
pub struct Engine {
    runtime: Arc<RuntimeEnv>,
}

impl Engine {
    /// An engine whose queries' operators hold at most `memory_bytes` together; a query that
    /// would need more fails ("resources exhausted") instead of taking the server.
    ///
    /// # Errors
    /// When DataFusion cannot make the runtime.
    pub fn new(memory_bytes: usize) -> Result<Engine, SqlError> {
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_limit(memory_bytes, 1.0)
            .build_arc()?;
        Ok(Engine { runtime })
    }

    /// Runs one read-only statement over `tables`.
    ///
    /// # Errors
    /// [`SqlError::Query`] for a statement that is not a valid read-only query over these
    /// tables (or one that needs more memory than the pool has left), [`SqlError::Timeout`]
    /// past `limits.timeout`.
    pub async fn run(
        &self,
        tables: Vec<Table>,
        sql: &str,
        limits: Limits,
    ) -> Result<Answer, SqlError> {
        run(Arc::clone(&self.runtime), tables, sql, limits).await
    }
}

async fn run(
    runtime: Arc<RuntimeEnv>,
    tables: Vec<Table>,
    sql: &str,
    limits: Limits,
) -> Result<Answer, SqlError> {
    let started = Instant::now();
    let sql = sql.to_owned();
    // Queries run on their own threads: a heavy one never holds the caller's (ingest's)
    // workers, and the time limit holds even for operators that never yield.
    let query = engine().spawn(execute(runtime, tables, sql, limits.max_rows));
    let abort = query.abort_handle();
    let (columns, batches) = match tokio::time::timeout(limits.timeout, query).await {
        Ok(Ok(result)) => result?,
        Ok(Err(e)) => return Err(SqlError::Query(format!("the query failed: {e}"))),
        Err(_) => {
            // Stops at the query's next yield point.
            abort.abort();
            return Err(SqlError::Timeout(limits.timeout));
        }
    };
    let mut rows = json_rows(&batches)?;
    let truncated = rows.len() > limits.max_rows;
    rows.truncate(limits.max_rows);
    Ok(Answer {
        columns,
        rows,
        truncated,
        elapsed_ms: started.elapsed().as_secs_f64() * 1e3,
    })
}

/// The runtime queries execute on: one worker per core, apart from the server's.
fn engine() -> &'static tokio::runtime::Runtime {
    static ENGINE: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    ENGINE.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .thread_name("openqoe-sql")
            .enable_all()
            .build()
            .expect("the SQL runtime starts")
    })
}

/// Plans `sql` read-only over `tables` and collects at most `max_rows + 1` rows.
async fn execute(
    runtime: Arc<RuntimeEnv>,
    tables: Vec<Table>,
    sql: String,
    max_rows: usize,
) -> Result<(Vec<String>, Vec<RecordBatch>), SqlError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let context = SessionContext::new_with_config_rt(
        SessionConfig::new().with_target_partitions(threads),
        runtime,
    );
    for table in tables {
        let memory = MemTable::try_new(table.schema, vec![table.batches])?;
        context.register_table(table.name, Arc::new(memory))?;
    }
    let read_only = SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false);
    let frame = context.sql_with_options(&sql, read_only).await?;
    let columns: Vec<String> = frame
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    // One row past the limit tells a cut answer from an exact fit.
    let batches = frame.limit(0, Some(max_rows + 1))?.collect().await?;
    Ok((columns, batches))
}

/// Batches as JSON objects, nulls explicit, timestamps as RFC 3339 text.
fn json_rows(batches: &[RecordBatch]) -> Result<Vec<Map<String, Value>>, SqlError> {
    let mut writer = WriterBuilder::new()
        .with_explicit_nulls(true)
        .build::<_, JsonArray>(Vec::new());
    writer
        .write_batches(&batches.iter().collect::<Vec<_>>())
        .map_err(|e| SqlError::Query(e.to_string()))?;
    writer
        .finish()
        .map_err(|e| SqlError::Query(e.to_string()))?;
    let bytes = writer.into_inner();
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_slice(&bytes).map_err(|e| SqlError::Query(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Float64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    fn views() -> Table {
        let schema = Arc::new(Schema::new(vec![
            Field::new("cdn", DataType::Utf8, true),
            Field::new("video_startup_time_ms", DataType::Float64, true),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(StringArray::from(vec!["cdn-a", "cdn-b", "cdn-a"])),
                Arc::new(Float64Array::from(vec![Some(1000.0), None, Some(3000.0)])),
            ],
        )
        .unwrap();
        Table {
            name: "views",
            schema,
            batches: vec![batch],
        }
    }

    fn engine_for_tests() -> Engine {
        Engine::new(1 << 30).unwrap()
    }

    #[tokio::test]
    async fn a_query_past_the_shared_pool_fails_with_the_reason_and_the_next_one_runs() {
        // 64 KiB for every query at once: a sort of a million rows cannot fit.
        let engine = Engine::new(64 << 10).unwrap();
        let sql = "select value from generate_series(1, 1000000) order by value desc";
        match engine.run(vec![views()], sql, LIMITS).await {
            Err(SqlError::Query(message)) => {
                assert!(message.contains("Resources exhausted"), "{message}")
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        // What the failed query held went back to the pool.
        let answer = engine
            .run(vec![views()], "select count(*) as n from views", LIMITS)
            .await
            .unwrap();
        assert_eq!(answer.rows[0]["n"], serde_json::json!(3));
    }

    const LIMITS: Limits = Limits {
        max_rows: 100,
        timeout: Duration::from_secs(30),
    };

    #[tokio::test]
    async fn answers_a_query_with_nulls_explicit() {
        let answer = engine_for_tests()
            .run(
            vec![views()],
            "select cdn, avg(video_startup_time_ms) as avg_ms from views group by cdn order by cdn",
            LIMITS,
        )
        .await
        .unwrap();
        assert_eq!(answer.columns, ["cdn", "avg_ms"]);
        assert_eq!(answer.rows.len(), 2);
        assert_eq!(answer.rows[0]["avg_ms"], serde_json::json!(2000.0));
        assert_eq!(answer.rows[1]["avg_ms"], Value::Null);
        assert!(!answer.truncated);
    }

    #[tokio::test]
    async fn refuses_what_is_not_a_read_only_query_and_names_why() {
        let cases = [
            ("drop table views", "DDL"),
            ("insert into views values ('x', 1)", "DML"),
            ("create table t as select 1", "DDL"),
            ("set datafusion.execution.batch_size = 1", "Statement"),
            ("select * from sessions", "sessions"),
            ("selec 1", "selec"),
        ];
        for (sql, reason) in cases {
            match engine_for_tests().run(vec![views()], sql, LIMITS).await {
                Err(SqlError::Query(message)) => {
                    assert!(message.contains(reason), "{sql}: {message}")
                }
                other => panic!("{sql}: expected a refusal, got {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn cuts_at_the_row_limit_and_says_so() {
        let limits = Limits {
            max_rows: 2,
            ..LIMITS
        };
        let answer = engine_for_tests()
            .run(vec![views()], "select * from views", limits)
            .await
            .unwrap();
        assert_eq!(answer.rows.len(), 2);
        assert!(answer.truncated);
    }

    #[tokio::test]
    async fn stops_at_the_time_limit() {
        let limits = Limits {
            timeout: Duration::from_millis(1),
            ..LIMITS
        };
        // A cross join of a generated million rows cannot finish in a millisecond.
        let sql = "select count(*) from generate_series(1, 1000000) a, generate_series(1, 1000) b";
        match engine_for_tests().run(vec![views()], sql, limits).await {
            Err(SqlError::Timeout(_)) => {}
            other => panic!("expected a timeout, got {other:?}"),
        }
    }
}
