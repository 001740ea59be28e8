//! API tokens: `oq_` and 64 hex digits (256 random bits), kept only as their SHA-256.
//!
//! A fast, unsalted hash is enough here, unlike for passwords: a token has 256 bits of entropy, so
//! its hash cannot be searched, and hashing first makes the comparison independent of how much of
//! a guess is right (the hashes are compared in constant time all the same).
use std::fmt;

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::Role;

/// What every token starts with, so that secret scanners and people recognise one.
const PREFIX: &str = "oq_";

/// A token in the clear: shown once when made, never stored, logged or answered again.
pub struct Secret(String);

impl Secret {
    /// A fresh token from the operating system's random source.
    pub fn generate() -> Secret {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Secret(format!("{PREFIX}{}", hex::encode(bytes)))
    }

    /// The token's text, for the one place that shows it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What is stored in its place.
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// The SHA-256 of a token, as stored in the configuration and the data directory (hex).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// The hash of whatever a client presented.
    pub fn of(presented: &str) -> TokenHash {
        TokenHash(Sha256::digest(presented.as_bytes()).into())
    }

    /// Equal, in time that does not depend on where the hashes differ.
    pub fn matches(&self, other: &TokenHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({}…)", &hex::encode(self.0)[..8])
    }
}

/// Why a configured hash was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("sha256 must be 64 hex digits (made by `openqoe token new`), not {0} characters")]
pub struct BadHash(usize);

impl TryFrom<String> for TokenHash {
    type Error = BadHash;

    fn try_from(text: String) -> Result<TokenHash, BadHash> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut bytes).map_err(|_| BadHash(text.len()))?;
        Ok(TokenHash(bytes))
    }
}

impl From<TokenHash> for String {
    fn from(hash: TokenHash) -> String {
        hex::encode(hash.0)
    }
}

/// One valid token: who it is for, what it may do, and its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenEntry {
    /// Who or what holds it (`grafana`, `alice`): shown in lists and audit lines.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// Its SHA-256.
    pub sha256: TokenHash,
}

/// Something that holds a token's hash.
pub trait Hashed {
    /// The hash of its token.
    fn sha256(&self) -> &TokenHash;
}

impl Hashed for TokenEntry {
    fn sha256(&self) -> &TokenHash {
        &self.sha256
    }
}

/// The entry among `entries` whose token `presented` is, if any. Every entry is compared, so the
/// time taken does not say which one matched.
pub fn find<'a, T: Hashed>(entries: &'a [T], presented: &str) -> Option<&'a T> {
    let presented = TokenHash::of(presented);
    entries.iter().fold(None, |found, entry| {
        let matches = entry.sha256().matches(&presented);
        found.or(matches.then_some(entry))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_token_is_prefixed_random_hex_and_found_only_by_itself() {
        let (a, b) = (Secret::generate(), Secret::generate());
        assert!(a.expose().starts_with("oq_") && a.expose().len() == 67);
        assert_ne!(a.expose(), b.expose());
        let entries = [
            TokenEntry {
                name: "a".into(),
                role: Role::Read,
                sha256: a.hash(),
            },
            TokenEntry {
                name: "b".into(),
                role: Role::Admin,
                sha256: b.hash(),
            },
        ];
        assert_eq!(find(&entries, a.expose()).unwrap().name, "a");
        assert_eq!(find(&entries, b.expose()).unwrap().name, "b");
        assert!(find(&entries, &a.expose()[..66]).is_none());
        assert!(find(&entries, "").is_none());
        assert_eq!(format!("{a:?}"), "Secret(…)", "a secret never prints");
    }

    #[test]
    fn configured_hashes_are_checked() {
        let hash = Secret::generate().hash();
        let text: String = hash.clone().into();
        assert_eq!(TokenHash::try_from(text.clone()), Ok(hash));
        assert_eq!(
            TokenHash::try_from(text[..63].to_string()),
            Err(BadHash(63))
        );
        assert!(TokenHash::try_from("z".repeat(64)).is_err());
        let entry: Result<TokenEntry, _> =
            serde_json::from_str(r#"{"name": "x", "role": "owner", "sha256": "00"}"#);
        assert!(entry.is_err(), "an unknown role is refused");
    }
}
