//! Privacy before storage (`[privacy]`): which of a view's identifiers are replaced by keyed
//! pseudonyms and which props are dropped, applied to a batch before the write-ahead log sees it.
//!
//! A pseudonym is HMAC-SHA256 of the value's text under a per-installation secret, cut to 128
//! bits, written `h-` and 32 hex digits. Keyed, so that a viewer id or an e-mail address cannot
//! be found again by hashing candidates (a plain hash of a low-entropy value can); stable, so
//! that a pseudonymised viewer still counts once and a filter on the original value still
//! matches ([`Privacy::stored_value`]).
use std::collections::BTreeSet;

use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;

use crate::{dimension_text, Props, ViewHeader};

/// The prefix of a pseudonym.
const PSEUDONYM_PREFIX: &str = "h-";
/// Bytes of the HMAC kept: 128 bits leave collisions out of reach for any viewer population.
const PSEUDONYM_BYTES: usize = 16;

/// `[privacy]` section of openqoe.toml.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrivacyConfig {
    /// Whether viewer ids are stored as pseudonyms (default: yes). SDKs send a random id, but an
    /// app may set its own account id or e-mail address as the viewer id.
    pub hash_viewer_ids: bool,
    /// Props stored as pseudonyms (`user_email`, `account_id`): still a dimension to group and
    /// filter by, no longer readable.
    pub hash_props: Vec<String>,
    /// Props dropped before storage: never written anywhere.
    pub drop_props: Vec<String>,
}

impl Default for PrivacyConfig {
    fn default() -> Self {
        PrivacyConfig {
            hash_viewer_ids: true,
            hash_props: Vec::new(),
            drop_props: Vec::new(),
        }
    }
}

/// Why a `[privacy]` section was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrivacyConfigError {
    /// A prop is both hashed and dropped.
    #[error("[privacy] prop {0:?} is in both hash_props and drop_props")]
    Both(String),
    /// The server's own dimension, which every view needs.
    #[error(
        "[privacy] prop \"environment\" is the server's own dimension; it cannot be hashed or \
         dropped"
    )]
    Environment,
}

/// The privacy policy in force, with the installation's secret.
#[derive(Clone)]
pub struct Privacy {
    viewer_ids: bool,
    hashed: BTreeSet<String>,
    dropped: BTreeSet<String>,
    /// The HMAC keyed once; each pseudonym clones it.
    key: Hmac<Sha256>,
}

impl std::fmt::Debug for Privacy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("Privacy")
            .field("viewer_ids", &self.viewer_ids)
            .field("hashed", &self.hashed)
            .field("dropped", &self.dropped)
            .finish_non_exhaustive()
    }
}

impl Privacy {
    /// The policy of `config` under `secret` (the installation's, 32 random bytes).
    ///
    /// # Errors
    /// [`PrivacyConfigError`] when a prop is both hashed and dropped, or names `environment`.
    pub fn new(config: &PrivacyConfig, secret: &[u8]) -> Result<Privacy, PrivacyConfigError> {
        let hashed: BTreeSet<String> = config.hash_props.iter().cloned().collect();
        let dropped: BTreeSet<String> = config.drop_props.iter().cloned().collect();
        if let Some(both) = hashed.intersection(&dropped).next() {
            return Err(PrivacyConfigError::Both(both.clone()));
        }
        if hashed.contains("environment") || dropped.contains("environment") {
            return Err(PrivacyConfigError::Environment);
        }
        Ok(Privacy {
            viewer_ids: config.hash_viewer_ids,
            hashed,
            dropped,
            key: Hmac::new_from_slice(secret).expect("HMAC takes a key of any length"),
        })
    }

    /// Stores everything as sent (tests, benchmarks of the bare path).
    pub fn off() -> Privacy {
        Privacy::new(
            &PrivacyConfig {
                hash_viewer_ids: false,
                ..PrivacyConfig::default()
            },
            &[],
        )
        .expect("an empty policy is valid")
    }

    /// The pseudonym of `value`: `h-` and 32 hex digits.
    pub fn pseudonym(&self, value: &str) -> String {
        let mut mac = self.key.clone();
        mac.update(value.as_bytes());
        let digest = mac.finalize().into_bytes();
        PSEUDONYM_PREFIX.to_owned() + &hex::encode(&digest[..PSEUDONYM_BYTES])
    }

    /// Whether a dimension is stored as pseudonyms.
    pub fn pseudonymised(&self, dimension: &str) -> bool {
        match dimension {
            "viewer_id" => self.viewer_ids,
            _ => self.hashed.contains(dimension),
        }
    }

    /// `value` of `dimension` as it is stored, for filters and look-ups: its pseudonym when the
    /// dimension is pseudonymised, unless it already is one (copied from an answer).
    pub fn stored_value(&self, dimension: &str, value: &str) -> String {
        if self.pseudonymised(dimension) && !is_pseudonym(value) {
            self.pseudonym(value)
        } else {
            value.to_owned()
        }
    }

    /// Applies the policy to a view's header (its viewer id and props, the server's stamps
    /// included); returns whether anything changed.
    pub fn apply(&self, view: &mut ViewHeader) -> bool {
        let mut changed = self.apply_props(&mut view.props);
        if self.viewer_ids {
            if let Some(viewer) = view.viewer_id.as_mut() {
                *viewer = self.pseudonym(viewer);
                changed = true;
            }
        }
        changed
    }

    /// Applies the policy to props alone; returns whether anything changed.
    pub fn apply_props(&self, props: &mut Props) -> bool {
        if self.hashed.is_empty() && self.dropped.is_empty() {
            return false;
        }
        let mut changed = false;
        props.retain(|name, value| {
            if self.dropped.contains(name) {
                changed = true;
                return false;
            }
            if self.hashed.contains(name) && !value.is_null() {
                *value = Value::String(self.pseudonym(&dimension_text(value.take())));
                changed = true;
            }
            true
        });
        changed
    }
}

/// Whether `value` has the form of a pseudonym.
pub fn is_pseudonym(value: &str) -> bool {
    value.strip_prefix(PSEUDONYM_PREFIX).is_some_and(|hex| {
        hex.len() == 2 * PSEUDONYM_BYTES
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Batch, ServerTime};
    use serde_json::json;

    fn policy(hash: &[&str], drop: &[&str]) -> Privacy {
        let config = PrivacyConfig {
            hash_viewer_ids: true,
            hash_props: hash.iter().map(|s| s.to_string()).collect(),
            drop_props: drop.iter().map(|s| s.to_string()).collect(),
        };
        Privacy::new(&config, b"an installation's secret").unwrap()
    }

    fn header() -> ViewHeader {
        let body = br#"{"v":1,"view":{"id":"v1","viewer_id":"alice@example.com","session_id":"s1",
            "props":{"cdn":"cdn-a","user_email":"alice@example.com","account":4711,"note":"x"}},
            "events":[{"seq":0,"ts":1,"type":"player_init"}]}"#;
        Batch::parse(body, ServerTime(10)).unwrap().view
    }

    #[test]
    fn hashed_props_and_viewer_ids_become_pseudonyms_and_dropped_props_go() {
        let privacy = policy(&["user_email", "account"], &["note"]);
        let mut view = header();
        assert!(privacy.apply(&mut view));
        let viewer = view.viewer_id.clone().unwrap();
        assert!(is_pseudonym(&viewer), "{viewer}");
        // The same value under the same key: the same pseudonym, whichever field it came in.
        assert_eq!(view.props["user_email"], json!(viewer));
        assert_eq!(view.props["account"], json!(privacy.pseudonym("4711")));
        assert!(!view.props.contains_key("note"));
        assert_eq!(view.props["cdn"], json!("cdn-a"));
        assert_eq!(view.session_id.as_deref(), Some("s1"), "session ids stay");
    }

    #[test]
    fn a_pseudonym_is_keyed_stable_and_not_the_plain_hash() {
        let a = policy(&[], &[]);
        let b = Privacy::new(&PrivacyConfig::default(), b"another installation").unwrap();
        assert_eq!(a.pseudonym("u-1"), a.pseudonym("u-1"));
        assert_ne!(a.pseudonym("u-1"), a.pseudonym("u-2"));
        assert_ne!(
            a.pseudonym("u-1"),
            b.pseudonym("u-1"),
            "another secret, another pseudonym"
        );
        // HMAC-SHA256(key = "an installation's secret", "u-1"), computed apart (Python's hmac).
        assert_eq!(a.pseudonym("u-1"), "h-b54e70bfb0b8385d8417eb4c06bb6082");
    }

    #[test]
    fn filters_on_pseudonymised_dimensions_are_translated_once() {
        let privacy = policy(&["user_email"], &[]);
        let stored = privacy.pseudonym("alice@example.com");
        assert_eq!(
            privacy.stored_value("user_email", "alice@example.com"),
            stored
        );
        assert_eq!(
            privacy.stored_value("user_email", &stored),
            stored,
            "already stored form"
        );
        assert_eq!(
            privacy.stored_value("viewer_id", "u-1"),
            privacy.pseudonym("u-1")
        );
        assert_eq!(privacy.stored_value("cdn", "cdn-a"), "cdn-a");
        assert_eq!(Privacy::off().stored_value("viewer_id", "u-1"), "u-1");
    }

    #[test]
    fn nothing_to_change_says_so() {
        let privacy = policy(&["user_email"], &["note"]);
        let mut view = header();
        view.viewer_id = None;
        view.props.remove("user_email");
        view.props.remove("note");
        assert!(!privacy.apply(&mut view));
        let mut view = header();
        assert!(!Privacy::off().apply(&mut view));
        assert_eq!(view, header());
    }

    #[test]
    fn contradictions_are_refused() {
        let both = PrivacyConfig {
            hash_props: vec!["email".into()],
            drop_props: vec!["email".into()],
            ..PrivacyConfig::default()
        };
        assert_eq!(
            Privacy::new(&both, b"k").unwrap_err(),
            PrivacyConfigError::Both("email".into())
        );
        let environment = PrivacyConfig {
            drop_props: vec!["environment".into()],
            ..PrivacyConfig::default()
        };
        assert_eq!(
            Privacy::new(&environment, b"k").unwrap_err(),
            PrivacyConfigError::Environment
        );
    }
}
