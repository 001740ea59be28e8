//! `DELETE /v1/viewers/{id}` (admin): a viewer's data erased from memory, from the hour files and
//! from every later replay of the write-ahead log.
//!
//! The log is append-only and its segments are shared by every viewer, so it is not rewritten:
//! each erased view is recorded in `privacy/erased.jsonl` in the data directory (its id and the
//! erasure's time, fsync'd before the answer), and replay skips that view's batches received
//! until then; the segments themselves go at the usual cut, once the hour files hold what they
//! held. Hour files holding erased views are written again at once; a start-up that finds one
//! still holding them (a stop in between) forgets them and writes the hour again.
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::routing::delete;
use axum::{Extension, Json, Router};
use openqoe_access::Caller;
use openqoe_model::{Privacy, ServerTime, ViewId};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::persist::Persistence;
use crate::pipeline::{Erased, Pipeline};
use crate::ApiError;

/// The views erased, by id, with when: `privacy/erased.jsonl`, one JSON object a line.
pub struct ErasureLog {
    path: PathBuf,
    erased: HashMap<ViewId, ServerTime>,
}

/// One line of the file.
#[derive(Serialize, Deserialize)]
struct ErasedView {
    view_id: String,
    erased_at: ServerTime,
}

impl ErasureLog {
    /// Reads the erasures recorded in `data_dir`; none when there is no file. A last line cut
    /// short is an erasure that was never acknowledged (the process stopped before its fsync),
    /// and is ignored.
    ///
    /// # Errors
    /// When the file cannot be read, or a line before the last does not parse.
    pub fn load(data_dir: &Path) -> anyhow::Result<ErasureLog> {
        let path = data_dir.join("privacy").join("erased.jsonl");
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let mut erased = HashMap::new();
        for (index, line) in lines.iter().enumerate() {
            let parsed = serde_json::from_str::<ErasedView>(line)
                .map_err(anyhow::Error::from)
                .and_then(|view| Ok((ViewId::new(&view.view_id)?, view.erased_at)));
            match parsed {
                Ok((id, at)) => {
                    erased.insert(id, at);
                }
                Err(_) if index + 1 == lines.len() && !text.ends_with('\n') => {
                    let file = path.display();
                    tracing::warn!(%file, "an erasure cut short (never acknowledged) ignored");
                }
                Err(e) => {
                    return Err(e)
                        .with_context(|| format!("{}: line {}", path.display(), index + 1))
                }
            }
        }
        Ok(ErasureLog { path, erased })
    }

    /// Whether view `id`'s batch (or copy) received at `received_at` was erased.
    pub fn erased(&self, id: &ViewId, received_at: ServerTime) -> bool {
        self.erased.get(id).is_some_and(|at| received_at <= *at)
    }

    /// Records `erased` durably (appended, then fsync'd).
    ///
    /// # Errors
    /// When the file cannot be written.
    fn record(&mut self, erased: &Erased) -> anyhow::Result<()> {
        let mut lines = Vec::new();
        for id in &erased.views {
            let line = ErasedView {
                view_id: id.as_str().to_owned(),
                erased_at: erased.at,
            };
            serde_json::to_writer(&mut lines, &line)?;
            lines.push(b'\n');
        }
        let dir = self.path.parent().expect("the file is in privacy/");
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let new = !self.path.exists();
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .with_context(|| format!("opening {}", self.path.display()))?;
        file.write_all(&lines)?;
        file.sync_all()?;
        if new {
            std::fs::File::open(dir)?.sync_all()?;
        }
        for id in &erased.views {
            self.erased.insert(id.clone(), erased.at);
        }
        Ok(())
    }
}

/// What the route needs.
struct Erasure {
    pipeline: Arc<Pipeline>,
    persistence: Arc<Persistence>,
    privacy: Arc<Privacy>,
    log: Mutex<ErasureLog>,
}

/// `DELETE /v1/viewers/{id}`, recording erasures in `log`.
pub fn router(
    pipeline: Arc<Pipeline>,
    persistence: Arc<Persistence>,
    privacy: Arc<Privacy>,
    log: ErasureLog,
) -> Router {
    let erasure = Erasure {
        pipeline,
        persistence,
        privacy,
        log: Mutex::new(log),
    };
    Router::new()
        .route("/v1/viewers/{id}", delete(erase))
        .with_state(Arc::new(erasure))
}

/// Erases viewer `id` (as the player sent it, or as stored): `200` with how many views went,
/// also when none did (an erasure is idempotent).
async fn erase(
    State(erasure): State<Arc<Erasure>>,
    Extension(by): Extension<Caller>,
    UrlPath(viewer): UrlPath<String>,
) -> Result<Json<Value>, ApiError> {
    let stored = erasure.privacy.stored_value("viewer_id", &viewer);
    let work = Arc::clone(&erasure);
    let answer = tokio::task::spawn_blocking(move || work.erase(&stored))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "an erasure stopped before it answered");
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "the erasure failed")
        })??;
    // The viewer's id is not logged: the audit line says who erased how much.
    let (views, hours) = (answer.views, answer.hours_rewritten);
    tracing::info!(by = %by.name, views, hours, "a viewer's data erased");
    Ok(Json(json!({
        "views_erased": answer.views,
        "hours_rewritten": answer.hours_rewritten,
    })))
}

/// What one erasure did.
struct Answer {
    views: usize,
    hours_rewritten: usize,
}

impl Erasure {
    /// Forgets the viewer's views, records them durably, then writes the hour files that held
    /// them again. One erasure at a time (the log's lock), so records stay in order.
    fn erase(&self, viewer: &str) -> Result<Answer, ApiError> {
        let mut log = self.log.lock().expect("erasure log lock poisoned");
        let erased = self.pipeline.erase_viewer(viewer);
        if erased.views.is_empty() {
            return Ok(Answer {
                views: 0,
                hours_rewritten: 0,
            });
        }
        if let Err(e) = log.record(&erased) {
            // Gone from memory, but a restart would bring them back: not done.
            tracing::error!(error = format!("{e:#}"), "an erasure could not be recorded");
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the erasure could not be recorded durably; retry",
            ));
        }
        let hours: Vec<i64> = erased.hours.iter().copied().collect();
        let hours_rewritten = match self.persistence.rewrite_hours(&self.pipeline, &hours) {
            Ok(written) => written,
            Err(e) => {
                // Recorded: a later check (or start-up) writes them again without the views.
                let error = format!("{e:#}");
                tracing::error!(
                    error,
                    "erased views' hour files not written again yet; retried"
                );
                0
            }
        };
        Ok(Answer {
            views: erased.views.len(),
            hours_rewritten,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn erased(ids: &[&str], at: i64) -> Erased {
        Erased {
            views: ids.iter().map(|id| ViewId::new(id).unwrap()).collect(),
            hours: Default::default(),
            at: ServerTime(at),
        }
    }

    #[test]
    fn erasures_survive_a_restart_and_a_torn_last_line_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = ErasureLog::load(dir.path()).unwrap();
        log.record(&erased(&["a", "b"], 100)).unwrap();
        log.record(&erased(&["c"], 200)).unwrap();
        let log = ErasureLog::load(dir.path()).unwrap();
        let id = |s: &str| ViewId::new(s).unwrap();
        assert!(log.erased(&id("a"), ServerTime(100)));
        assert!(
            !log.erased(&id("a"), ServerTime(101)),
            "received after the erasure"
        );
        assert!(log.erased(&id("c"), ServerTime(5)));
        assert!(!log.erased(&id("d"), ServerTime(5)));

        let path = dir.path().join("privacy").join("erased.jsonl");
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str(r#"{"view_id":"d","era"#);
        std::fs::write(&path, &text).unwrap();
        let log = ErasureLog::load(dir.path()).unwrap();
        assert!(log.erased(&id("c"), ServerTime(5)) && !log.erased(&id("d"), ServerTime(5)));
        std::fs::write(&path, format!("garbage\n{text}")).unwrap();
        assert!(
            ErasureLog::load(dir.path()).is_err(),
            "damage before the end stops the start"
        );
    }
}
