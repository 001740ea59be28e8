//! `[collect]` section of openqoe.toml.
use serde::Deserialize;

use crate::rate::RateLimit;

/// `[collect]` section of openqoe.toml.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CollectConfig {
    /// Largest decoded batch accepted, in bytes; a larger one gets `413`.
    pub max_batch_bytes: usize,
    /// Most decoded bytes of batches being processed at once; beyond it requests get `429`.
    pub max_inflight_bytes: usize,
    /// Requests a second per write key (its environment), sustained and in a burst; beyond it
    /// `429`. `per_second = 0` turns it off.
    pub rate_per_key: RateLimit,
    /// Requests a second per client address (an IPv6 client's /64); beyond it `429`. A viewer
    /// sends one batch every 10 s, so the default leaves room for ~500 viewers behind one NAT.
    pub rate_per_client: RateLimit,
    /// A header a trusted proxy sets to the client's address (`X-Forwarded-For`); its
    /// right-most entry is taken. Without it, the connection's peer address (a loopback peer,
    /// such as a proxy on this host, is not limited: set this header behind one).
    pub client_address_header: Option<String>,
    /// Environments and their public write keys. With none configured, the key `demo` is accepted.
    pub environments: Vec<Environment>,
    /// A trusted CDN or load-balancer header carrying the viewer's country (`CF-IPCountry`).
    pub country_header: Option<String>,
}

/// One environment (`production`, `staging`) and the public write key its SDKs send.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// The environment's name; every view it sends carries it as the `environment` dimension.
    pub name: String,
    /// The public write key.
    pub key: String,
}

impl Default for CollectConfig {
    fn default() -> Self {
        CollectConfig {
            max_batch_bytes: 1024 * 1024,
            max_inflight_bytes: 64 * 1024 * 1024,
            rate_per_key: RateLimit {
                per_second: 100_000,
                burst: 200_000,
            },
            rate_per_client: RateLimit {
                per_second: 50,
                burst: 500,
            },
            client_address_header: None,
            environments: Vec::new(),
            country_header: None,
        }
    }
}

impl CollectConfig {
    /// The environments in force: the configured ones, or `demo` when none are configured.
    pub fn effective_environments(&self) -> Vec<Environment> {
        if self.environments.is_empty() {
            vec![Environment {
                name: "demo".into(),
                key: "demo".into(),
            }]
        } else {
            self.environments.clone()
        }
    }
}
