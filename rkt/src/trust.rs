//! The trust store, in rkt's layout:
//!
//! ```text
//! {system,local}/trustedkeys/root.d/<fingerprint>
//! {system,local}/trustedkeys/prefix.d/<prefix>/<fingerprint>
//! ```
//!
//! `<fingerprint>` is the key's lowercase hex fingerprint and the file its
//! armored public key. Keys under `prefix.d/coreos.com` apply to every name
//! below `coreos.com` (`coreos.com/etcd`), path component by component;
//! root keys apply to every name. A file in the local directory masks the
//! system file of the same name; an empty local file masks it entirely.
//! `rkt trust` writes to the local directory.

use crate::pgp::{PgpError, PublicKey};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("trusted key {path}: {source}")]
    BadKey { path: PathBuf, source: PgpError },
    #[error("invalid prefix {0:?}: a prefix is an image name or its beginning, without \"..\"")]
    BadPrefix(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TrustError + '_ {
    move |source| TrustError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Where a key is trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Root,
    Prefix(String),
}

pub struct TrustStore {
    /// Lowest priority first: system, then local (then user, when set).
    dirs: Vec<PathBuf>,
    /// Where new keys go.
    local: PathBuf,
}

fn check_prefix(prefix: &str) -> Result<(), TrustError> {
    let bad = prefix.is_empty()
        || prefix.starts_with('/')
        || prefix
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..");
    if bad {
        Err(TrustError::BadPrefix(prefix.to_string()))
    } else {
        Ok(())
    }
}

impl TrustStore {
    /// `system` and `local` are configuration directories (`/usr/lib/rkt`,
    /// `/etc/rkt`); `user` a user configuration directory, if any.
    pub fn new(system: &Path, local: &Path, user: Option<&Path>) -> Self {
        let mut dirs = vec![system.join("trustedkeys"), local.join("trustedkeys")];
        dirs.extend(user.map(|u| u.join("trustedkeys")));
        TrustStore {
            dirs,
            local: local.join("trustedkeys"),
        }
    }

    /// The key files of the subdirectory `rel`, higher directories masking
    /// lower ones by file name; empty files mask and are dropped.
    fn key_files(&self, rel: &Path) -> Result<Vec<PathBuf>, TrustError> {
        let mut by_name: BTreeMap<String, PathBuf> = BTreeMap::new();
        for dir in &self.dirs {
            let d = dir.join(rel);
            let entries = match std::fs::read_dir(&d) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io(&d)(e)),
            };
            for entry in entries {
                let entry = entry.map_err(io(&d))?;
                if entry.file_type().map_err(io(&d))?.is_file() {
                    by_name.insert(
                        entry.file_name().to_string_lossy().into_owned(),
                        entry.path(),
                    );
                }
            }
        }
        let mut out = Vec::new();
        for path in by_name.into_values() {
            let len = std::fs::metadata(&path).map_err(io(&path))?.len();
            if len > 0 {
                out.push(path);
            }
        }
        Ok(out)
    }

    fn load(&self, files: Vec<PathBuf>) -> Result<Vec<PublicKey>, TrustError> {
        files
            .into_iter()
            .map(|path| {
                let bytes = std::fs::read(&path).map_err(io(&path))?;
                PublicKey::parse(&bytes).map_err(|source| TrustError::BadKey { path, source })
            })
            .collect()
    }

    /// Every key trusted for image `name`: root keys and the keys of each
    /// prefix of it.
    pub fn keys_for(&self, name: &str) -> Result<Vec<PublicKey>, TrustError> {
        let mut files = self.key_files(Path::new("root.d"))?;
        let parts: Vec<&str> = name.split('/').collect();
        for end in 1..=parts.len() {
            let prefix = parts[..end].join("/");
            if check_prefix(&prefix).is_ok() {
                files.extend(self.key_files(&Path::new("prefix.d").join(&prefix))?);
            }
        }
        self.load(files)
    }

    /// Stores `key` for `scope` in the local directory; returns its path.
    pub fn add(&self, key: &PublicKey, scope: &Scope) -> Result<PathBuf, TrustError> {
        let dir = match scope {
            Scope::Root => self.local.join("root.d"),
            Scope::Prefix(p) => {
                check_prefix(p)?;
                self.local.join("prefix.d").join(p)
            }
        };
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let path = dir.join(key.fingerprint());
        let tmp = dir.join(format!(".{}.tmp", key.fingerprint()));
        let armored = key.armored().map_err(|source| TrustError::BadKey {
            path: path.clone(),
            source,
        })?;
        std::fs::write(&tmp, armored).map_err(io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(who: &str) -> PublicKey {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../keys/");
        PublicKey::parse(&std::fs::read(format!("{path}test-{who}.pub.asc")).unwrap()).unwrap()
    }

    fn store() -> (tempfile::TempDir, TrustStore) {
        let tmp = tempfile::tempdir().unwrap();
        let s = TrustStore::new(&tmp.path().join("lib"), &tmp.path().join("etc"), None);
        (tmp, s)
    }

    #[test]
    fn prefixes_apply_to_names_below_them_by_path() {
        let (_tmp, s) = store();
        s.add(&key("signer"), &Scope::Prefix("coreos.com".into()))
            .unwrap();
        assert_eq!(s.keys_for("coreos.com/etcd").unwrap().len(), 1);
        assert_eq!(s.keys_for("coreos.com").unwrap().len(), 1);
        assert!(s.keys_for("coreos.community/x").unwrap().is_empty());
        assert!(s.keys_for("example.com/etcd").unwrap().is_empty());
        s.add(&key("stranger"), &Scope::Root).unwrap();
        assert_eq!(s.keys_for("example.com/etcd").unwrap().len(), 1);
    }

    #[test]
    fn local_files_mask_system_ones() {
        let (tmp, s) = store();
        let k = key("signer");
        let system = tmp.path().join("lib/trustedkeys/prefix.d/example.com");
        std::fs::create_dir_all(&system).unwrap();
        std::fs::write(system.join(k.fingerprint()), k.armored().unwrap()).unwrap();
        assert_eq!(s.keys_for("example.com/app").unwrap().len(), 1);
        let local = tmp.path().join("etc/trustedkeys/prefix.d/example.com");
        std::fs::create_dir_all(&local).unwrap();
        std::fs::write(local.join(k.fingerprint()), "").unwrap();
        assert!(
            s.keys_for("example.com/app").unwrap().is_empty(),
            "an empty local file masks the key"
        );
    }

    #[test]
    fn stored_keys_use_rkt_names() {
        let (tmp, s) = store();
        let k = key("signer");
        let path = s.add(&k, &Scope::Prefix("example.com/app".into())).unwrap();
        assert_eq!(
            path,
            tmp.path()
                .join("etc/trustedkeys/prefix.d/example.com/app")
                .join(k.fingerprint())
        );
        assert_eq!(k.fingerprint().len(), 40);
        assert!(s.add(&k, &Scope::Prefix("../evil".into())).is_err());
    }
}
