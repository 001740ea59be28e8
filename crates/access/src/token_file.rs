//! Tokens made through the API (and the first start's admin token), in `access/tokens.json` in
//! the data directory: hashes only, rewritten whole and renamed into place so a crash leaves the
//! old file or the new one.
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use openqoe_model::ServerTime;
use serde::{Deserialize, Serialize};

use crate::token::{Hashed, TokenEntry, TokenHash};

/// Tokens made through the API, at most.
pub const MAX_MANAGED_TOKENS: usize = 1_000;

/// A token made through the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedToken {
    /// Its id (`t-` and 8 hex digits), for revoking it.
    pub id: String,
    /// Name, role and hash.
    #[serde(flatten)]
    pub entry: TokenEntry,
    /// When it was made.
    pub created_at: ServerTime,
}

impl Hashed for ManagedToken {
    fn sha256(&self) -> &TokenHash {
        &self.entry.sha256
    }
}

/// The file's contents.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct TokenFile {
    /// Every token made through the API and not revoked.
    pub tokens: Vec<ManagedToken>,
}

impl TokenFile {
    /// The file's path under `data_dir`.
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join("access").join("tokens.json")
    }

    /// Reads the file; no file is no tokens.
    ///
    /// # Errors
    /// When it exists and cannot be read or parsed (never ignored: that would drop revocations).
    pub fn load(data_dir: &Path) -> anyhow::Result<TokenFile> {
        let path = TokenFile::path(data_dir);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("parsing {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(TokenFile::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Writes the file durably (temporary file, fsync, rename, fsync of the directory).
    ///
    /// # Errors
    /// When the directory or file cannot be written.
    pub fn save(&self, data_dir: &Path) -> anyhow::Result<()> {
        let path = TokenFile::path(data_dir);
        let dir = path.parent().expect("the file is in access/");
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let temporary = path.with_extension("json.tmp");
        let mut file = private_file(&temporary)?;
        file.write_all(&serde_json::to_vec_pretty(self)?)?;
        file.sync_all()?;
        std::fs::rename(&temporary, &path)
            .with_context(|| format!("renaming into {}", path.display()))?;
        std::fs::File::open(dir)?.sync_all()?;
        Ok(())
    }
}

/// A new file that only its owner can read (the tokens' hashes are not secret, but the first
/// admin token's file is, and neither is anyone else's business).
pub fn private_file(path: &Path) -> anyhow::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::Secret;
    use crate::Role;

    #[test]
    fn the_file_round_trips_and_no_file_is_no_tokens() {
        let dir = tempfile::tempdir().unwrap();
        assert!(TokenFile::load(dir.path()).unwrap().tokens.is_empty());
        let file = TokenFile {
            tokens: vec![ManagedToken {
                id: "t-00000001".into(),
                entry: TokenEntry {
                    name: "grafana".into(),
                    role: Role::Read,
                    sha256: Secret::generate().hash(),
                },
                created_at: ServerTime(5),
            }],
        };
        file.save(dir.path()).unwrap();
        assert_eq!(TokenFile::load(dir.path()).unwrap().tokens, file.tokens);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(TokenFile::path(dir.path()))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "owner only");
        }
        std::fs::write(TokenFile::path(dir.path()), b"{").unwrap();
        assert!(
            TokenFile::load(dir.path()).is_err(),
            "a damaged file stops the start"
        );
    }
}
