//! The installation's secret for pseudonyms (`[privacy]`): 32 random bytes in
//! `privacy/secret` in the data directory, made on the first start, readable by the server's user
//! alone. Losing it changes every pseudonym from then on (a viewer would count twice, filters on
//! older values would miss): it is backed up with the data directory, and never regenerated over
//! a file that cannot be read.
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use rand::RngCore;

const SECRET_BYTES: usize = 32;

/// Where the secret is kept under `data_dir`.
fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("privacy").join("secret")
}

/// Reads the installation's secret, making it on the first start.
///
/// # Errors
/// When the file cannot be read or written, or does not hold 64 hex digits.
pub(crate) fn load_or_make(data_dir: &Path) -> anyhow::Result<Vec<u8>> {
    let path = path(data_dir);
    match std::fs::read_to_string(&path) {
        Ok(text) => parse(text.trim()).with_context(|| {
            format!(
                "{}: expected 64 hex digits (the installation's pseudonym secret; restore it from a backup)",
                path.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut secret = vec![0u8; SECRET_BYTES];
            rand::rngs::OsRng.fill_bytes(&mut secret);
            let dir = path.parent().expect("the file is in privacy/");
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            let mut file = openqoe_access::private_file(&path)?;
            file.write_all(hex::encode(&secret).as_bytes())?;
            file.sync_all()?;
            std::fs::File::open(dir)?.sync_all()?;
            tracing::info!(file = %path.display(), "made the installation's pseudonym secret; back it up with the data directory");
            Ok(secret)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn parse(text: &str) -> anyhow::Result<Vec<u8>> {
    let secret = hex::decode(text)?;
    if secret.len() != SECRET_BYTES {
        bail!("{} bytes", secret.len());
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_once_then_read_back_and_never_replaced_when_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let made = load_or_make(dir.path()).unwrap();
        assert_eq!(made.len(), SECRET_BYTES);
        assert_eq!(load_or_make(dir.path()).unwrap(), made);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path(dir.path()))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "owner only");
        }
        std::fs::write(path(dir.path()), "abc").unwrap();
        let error = load_or_make(dir.path()).unwrap_err();
        assert!(format!("{error:#}").contains("64 hex digits"), "{error:#}");
        assert_eq!(
            std::fs::read_to_string(path(dir.path())).unwrap(),
            "abc",
            "left alone"
        );
    }
}
