//! openqoe.toml: the file, with `OPENQOE_*` variables and flags over it.
use std::path::{Path, PathBuf};

use anyhow::Context;
use openqoe_access::AccessConfig;
use openqoe_alert::{ActionHook, Destination};
use openqoe_collect::CollectConfig;
use openqoe_detect::DetectConfig;
use openqoe_jetstream::LogConfig;
use openqoe_model::PrivacyConfig;
use openqoe_sessionize::SessionizeConfig;
use openqoe_steer::SteerConfig;
use openqoe_store::{Hold, StoreConfig};
use openqoe_wal::WalConfig;

use crate::http::HttpConfig;
use crate::sql_api::SqlConfig;
use serde::Deserialize;

/// The whole configuration file; every section is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address for the collector, API and dashboard (`127.0.0.1:8080`).
    pub listen: Option<String>,
    /// A second address serving `/metrics`, `/healthz` and `/livez` without credentials, for
    /// Prometheus and the orchestrator on an internal network (`127.0.0.1:9464`); on the main
    /// address `/metrics` needs a read token.
    pub probes_listen: Option<String>,
    /// Directory of the write-ahead log and the embedded store.
    pub data_dir: Option<PathBuf>,
    /// `[collect]`: ingest limits, environments and write keys.
    pub collect: CollectConfig,
    /// `[sessionize]`: when views end.
    pub sessionize: SessionizeConfig,
    /// `[wal]`: write-ahead log segments and group commit.
    pub wal: WalConfig,
    /// `[log]`: the NATS JetStream stream between collectors and sessionizers, when they run
    /// apart (`serve --role`); absent, the process is one, over its write-ahead log.
    pub log: Option<LogConfig>,
    /// `[store]`: Parquet files in the data directory, and retention.
    pub store: StoreConfig,
    /// `[detect]`: monitored dimensions and alert rules.
    pub detect: DetectConfig,
    /// `[alerts]`: where alerts go.
    pub alerts: AlertsConfig,
    /// `[steer]`: the content-steering server's pathways and guardrails.
    pub steer: SteerConfig,
    /// `[access]`: API tokens (hashes) and dashboard sessions.
    pub access: AccessConfig,
    /// `[http]`: connection caps and time limits.
    pub http: HttpConfig,
    /// `[privacy]`: viewer ids and props pseudonymised or dropped before storage.
    pub privacy: PrivacyConfig,
    /// `[sql]`: what SQL queries may hold, together.
    pub sql: SqlConfig,
}

/// `[alerts]`: destinations, action webhooks, and the dashboard address put in notices.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertsConfig {
    /// `[[alerts.destinations]]`: webhook, slack, pagerduty or alertmanager.
    pub destinations: Vec<Destination>,
    /// `[[alerts.actions]]`: webhooks a rule's `action` names (called on firing and resolving).
    pub actions: Vec<ActionHook>,
    /// The dashboard's public address, for links in notices (`https://qoe.example.com`).
    pub dashboard_url: Option<String>,
}

impl Config {
    /// Reads the file at `path`, or the defaults when there is none.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Config> {
        let Some(path) = path else {
            return Ok(Config::default());
        };
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let config: Config =
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        if let Some(log) = &config.log {
            log.check()
                .map_err(|reason| anyhow::anyhow!("{}: {reason}", path.display()))?;
        }
        Ok(config)
    }

    /// What an ended view keeps in memory: its events for `[store] keep_ended_seconds` (none by
    /// default), then its counts in steering's buckets (detection's minutes are made of them)
    /// while detection (the minute the view ended in, sealed after the grace, judged at the
    /// next tick) and steering (its window) may still read it, so they need not read it back.
    pub fn hold(&self) -> Hold {
        let ms = |seconds: u64| i64::try_from(seconds.saturating_mul(1_000)).unwrap_or(i64::MAX);
        let detection = 60 + self.detect.grace_seconds + 60;
        let steering =
            u64::from(self.steer.window_seconds) + u64::from(self.steer.evaluate_seconds);
        Hold {
            events_ms: ms(self.store.keep_ended_seconds),
            minute_ms: crate::steering::BUCKET_MS,
            counts_ms: ms(detection.max(steering)),
        }
    }
}
