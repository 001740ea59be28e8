//! Who may do what. Players write with an environment's public write key (the collector checks
//! it); everything else needs a secret API token with a role — `read` (queries, exports, SQL,
//! alerts, steering state, `/metrics`, the dashboard) or `admin` (also steering changes, tokens,
//! deletes) — sent as `Authorization: Bearer`, or a dashboard session opened with one.
//!
//! Tokens come from the configuration (`[[access.tokens]]`, hashes only) and from the API (kept
//! in the data directory, hashes only); several are valid at once, so one is rotated by adding
//! its successor, moving clients, then revoking it. With none configured, the first start makes
//! an admin token and leaves it in a file only the server's user can read.
//!
//! [`policy`] says what each route needs; [`guard`] enforces it in front of every route.
pub mod policy;
mod refusal;
mod routes;
pub mod session;
pub mod token;
mod token_file;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use axum::http::{header, HeaderMap, Method};
use openqoe_model::ServerTime;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use serde::{Deserialize, Serialize};

pub use refusal::Refusal;
pub use routes::guard;
use session::Sessions;
use token::{Secret, TokenEntry};
pub use token_file::private_file;
use token_file::{ManagedToken, TokenFile};

/// What a credential may do; `Admin` may do everything `Read` may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Queries, exports, SQL, alerts, steering state, `/metrics`, the dashboard.
    Read,
    /// Also steering changes and overrides, token management, deletes.
    Admin,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Read => "read",
            Role::Admin => "admin",
        })
    }
}

/// `[access]` in openqoe.toml.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccessConfig {
    /// `[[access.tokens]]`: `name`, `role`, `sha256` (from `openqoe token new`).
    pub tokens: Vec<TokenEntry>,
    /// How long a dashboard sign-in lasts, in hours.
    pub session_hours: u32,
}

impl Default for AccessConfig {
    fn default() -> AccessConfig {
        AccessConfig {
            tokens: Vec::new(),
            session_hours: 12,
        }
    }
}

/// Who made a request that got through: put in the request's extensions for audit lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The credential's role.
    pub role: Role,
    /// The token's name (`open` when the server asks for no credentials).
    pub name: String,
}

/// What the first start did about credentials, for the binary to tell the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FirstStart {
    /// Tokens exist (configured or made earlier); nothing was made.
    TokensExist,
    /// No token existed: an admin token was made and written to this file.
    AdminTokenMade(PathBuf),
    /// The first admin token's file is still there; it should go once the token is kept elsewhere.
    AdminTokenFileLeft(PathBuf),
}

/// The `reason` label of a refused request.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusedLabels {
    reason: &'static str,
}

/// The server's credentials and sessions; shared by every request.
pub struct Access {
    /// Asks for no credential (the demo on loopback).
    open: bool,
    configured: Vec<TokenEntry>,
    /// Where the API's tokens are kept; `None` when open.
    data_dir: Option<PathBuf>,
    managed: Mutex<TokenFile>,
    sessions: Mutex<Sessions>,
    session_ms: i64,
    refused: Family<RefusedLabels, Counter>,
}

impl Access {
    /// Asks for no credential: for `openqoe demo` on a loopback address only.
    pub fn open() -> Access {
        Access {
            open: true,
            configured: Vec::new(),
            data_dir: None,
            managed: Mutex::new(TokenFile::default()),
            sessions: Mutex::new(Sessions::default()),
            session_ms: 0,
            refused: Family::default(),
        }
    }

    /// The configured tokens and those made through the API in `data_dir`; with neither, makes
    /// an admin token and writes it to `access/admin-token` there (owner-only).
    ///
    /// # Errors
    /// When the token file cannot be read or written.
    pub fn load(config: &AccessConfig, data_dir: &Path) -> anyhow::Result<(Access, FirstStart)> {
        let mut managed = TokenFile::load(data_dir)?;
        let token_file = data_dir.join("access").join("admin-token");
        let first_start = if !config.tokens.is_empty() || !managed.tokens.is_empty() {
            if token_file.exists() {
                FirstStart::AdminTokenFileLeft(token_file)
            } else {
                FirstStart::TokensExist
            }
        } else {
            let secret = Secret::generate();
            managed.tokens.push(ManagedToken {
                id: new_id(),
                entry: TokenEntry {
                    name: "first-admin".into(),
                    role: Role::Admin,
                    sha256: secret.hash(),
                },
                created_at: ServerTime::now(),
            });
            managed.save(data_dir)?;
            let mut file = token_file::private_file(&token_file)?;
            std::io::Write::write_all(&mut file, format!("{}\n", secret.expose()).as_bytes())?;
            file.sync_all()?;
            FirstStart::AdminTokenMade(token_file)
        };
        let access = Access {
            open: false,
            configured: config.tokens.clone(),
            data_dir: Some(data_dir.to_owned()),
            managed: Mutex::new(managed),
            sessions: Mutex::new(Sessions::default()),
            session_ms: i64::from(config.session_hours.max(1)) * 3_600_000,
            refused: Family::default(),
        };
        Ok((access, first_start))
    }

    /// Whether the server asks for no credential.
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Registers `openqoe_access_refused_total{reason}`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "openqoe_access_refused",
            "Requests refused for want of a valid credential or role, by reason",
            self.refused.clone(),
        );
    }

    /// Who sent `headers` with `method`, if they may do what needs `needed`.
    ///
    /// # Errors
    /// No credential, an unknown one, too low a role, or a cross-site change with a session.
    pub fn authorise(
        &self,
        headers: &HeaderMap,
        method: &Method,
        needed: Role,
        now: ServerTime,
    ) -> Result<Caller, Refusal> {
        let outcome = self
            .caller(headers, method, now, needed)
            .and_then(|caller| {
                if caller.role >= needed {
                    Ok(caller)
                } else {
                    Err(Refusal::Role {
                        needed,
                        has: caller.role,
                        name: caller.name,
                    })
                }
            });
        if let Err(refusal) = &outcome {
            self.count(refusal);
        }
        outcome
    }

    fn caller(
        &self,
        headers: &HeaderMap,
        method: &Method,
        now: ServerTime,
        needed: Role,
    ) -> Result<Caller, Refusal> {
        if self.open {
            return Ok(Caller {
                role: Role::Admin,
                name: "open".into(),
            });
        }
        if let Some(authorization) = headers.get(header::AUTHORIZATION) {
            let presented = authorization
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .ok_or(Refusal::Unknown)?;
            return self.token(presented.trim()).ok_or(Refusal::Unknown);
        }
        let Some(session_id) = headers
            .get(header::COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| session::cookie_value(v, session::COOKIE))
        else {
            return Err(Refusal::NoCredential(needed));
        };
        let caller = {
            let sessions = self.sessions.lock().expect("sessions lock poisoned");
            let session = sessions.find(session_id, now).ok_or(Refusal::Unknown)?;
            Caller {
                role: session.role,
                name: session.name.clone(),
            }
        };
        if !matches!(*method, Method::GET | Method::HEAD) {
            same_site(headers)?;
        }
        Ok(caller)
    }

    /// The caller a presented token is, with the token's id.
    fn token_with_id(&self, presented: &str) -> Option<(Caller, String)> {
        if let Some(entry) = token::find(&self.configured, presented) {
            let caller = Caller {
                role: entry.role,
                name: entry.name.clone(),
            };
            return Some((caller, format!("config:{}", entry.name)));
        }
        let managed = self.managed.lock().expect("token lock poisoned");
        token::find(&managed.tokens, presented).map(|t| {
            let caller = Caller {
                role: t.entry.role,
                name: t.entry.name.clone(),
            };
            (caller, t.id.clone())
        })
    }

    fn token(&self, presented: &str) -> Option<Caller> {
        self.token_with_id(presented).map(|(caller, _)| caller)
    }

    fn count(&self, refusal: &Refusal) {
        self.refused
            .get_or_create(&RefusedLabels {
                reason: refusal.reason(),
            })
            .inc();
    }
}

/// A change sent with a session must come from the dashboard's own origin. `SameSite=Strict`
/// already keeps the cookie off other sites' requests; this holds where a browser ignores it.
/// Browsers send `Origin` (and `Sec-Fetch-Site`) on every cross-site change; a client that sends
/// neither is not a browser page, so not a forgery.
fn same_site(headers: &HeaderMap) -> Result<(), Refusal> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text("sec-fetch-site") {
        if site != "same-origin" && site != "none" {
            return Err(Refusal::CrossSite(site.to_owned()));
        }
    }
    if let Some(origin) = text("origin") {
        let host = origin.split_once("://").map_or(origin, |(_, host)| host);
        if Some(host) != text("host") {
            return Err(Refusal::CrossSite(origin.to_owned()));
        }
    }
    Ok(())
}

/// A new token id: `t-` and 8 random hex digits.
fn new_id() -> String {
    format!("t-{:08x}", rand::random::<u32>())
}

#[cfg(test)]
mod tests;
