//! `[sessionize]` section of openqoe.toml.
use std::collections::BTreeMap;

use serde::Deserialize;

/// `[sessionize]` section of openqoe.toml: when views end, and how many may be live.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionizeConfig {
    /// A view with no event for this long ends (server clock), in milliseconds.
    pub idle_timeout_ms: u64,
    /// A stall longer than this ends its view, in milliseconds.
    pub stall_timeout_ms: u64,
    /// Live views held at most; a batch that would start another is refused until some end
    /// (each costs ~1.6 KB, so the default bounds them at ~3 GB).
    pub max_live_views: usize,
    /// Live views one environment may hold at most (`[sessionize.max_live_views_by_environment]`,
    /// `staging = 10000`), so that a leaked key of one cannot fill the server for the others;
    /// an environment not named is held by `max_live_views` alone.
    pub max_live_views_by_environment: BTreeMap<String, usize>,
}

impl Default for SessionizeConfig {
    fn default() -> Self {
        // DESIGN §3: 60 minutes of inactivity, 5 minutes of sustained stall (as mux-embed).
        SessionizeConfig {
            idle_timeout_ms: 60 * 60 * 1000,
            stall_timeout_ms: 5 * 60 * 1000,
            max_live_views: 2_000_000,
            max_live_views_by_environment: BTreeMap::new(),
        }
    }
}
