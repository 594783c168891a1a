//! Index records of the store, one small JSON file per image or URL.

use super::{StoreError, io_at, write_atomically};
use appc::schema::ImageManifest;
use appc::schema::types::Hash;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What the store knows about an image.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageRecord {
    /// `sha512-<hex>`.
    pub id: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// Nanoseconds since the epoch.
    pub import_time: i64,
    /// When the record was written, or its file's modification time if
    /// later: marking an image used only sets that (see
    /// `ImageStore::touch`).
    pub last_used: i64,
    /// Size of the stored image file, in bytes.
    pub size: u64,
    /// Where it came from: a path or URL.
    pub source: String,
    pub manifest: ImageManifest,
}

impl ImageRecord {
    pub fn new(id: &Hash, manifest: ImageManifest, size: u64, source: String) -> Self {
        let now = crate::display::now_nanos();
        ImageRecord {
            id: id.to_string(),
            name: manifest.name.to_string(),
            labels: manifest
                .labels
                .iter()
                .map(|l| (l.name.to_string(), l.value.clone()))
                .collect(),
            import_time: now,
            last_used: now,
            size,
            source,
            manifest,
        }
    }

    pub fn hash(&self) -> Hash {
        Hash::new(&self.id).expect("records hold valid image IDs")
    }

    /// `name:version` when the image has a version label.
    pub fn display_name(&self) -> String {
        match self.labels.get("version") {
            Some(v) => format!("{}:{v}", self.name),
            None => self.name.clone(),
        }
    }

    pub(crate) fn load(path: &Path) -> Result<Option<Self>, StoreError> {
        let (bytes, modified) = match read_with_mtime(path) {
            Ok(read) => read,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_at(path)(e)),
        };
        let mut record: ImageRecord =
            serde_json::from_slice(&bytes).map_err(|e| StoreError::BadRecord {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        if Hash::new(&record.id).is_err() {
            return Err(StoreError::BadRecord {
                path: path.to_path_buf(),
                reason: "bad image ID".into(),
            });
        }
        record.last_used = record.last_used.max(modified);
        Ok(Some(record))
    }

    pub(crate) fn save(&self, path: &Path) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(self).map_err(|e| StoreError::BadRecord {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        write_atomically(path, &bytes)
    }
}

/// The file's bytes and its modification time, in nanoseconds since the
/// epoch (of the same file, should it be replaced meanwhile).
fn read_with_mtime(path: &Path) -> std::io::Result<(Vec<u8>, i64)> {
    let mut file = std::fs::File::open(path)?;
    let modified = file.metadata()?.modified()?;
    let nanos = modified
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut file, &mut bytes)?;
    Ok((bytes, nanos))
}

/// What a URL gave when last downloaded, for conditional requests.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoteRecord {
    pub url: String,
    pub etag: Option<String>,
    /// `Cache-Control: max-age`, in seconds.
    pub max_age: Option<u64>,
    /// Nanoseconds since the epoch.
    pub download_time: i64,
    pub image_id: String,
}

fn remote_path(dir: &Path, url: &str) -> PathBuf {
    let digest = Sha256::digest(url.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    dir.join(format!("{hex}.json"))
}

impl RemoteRecord {
    /// Whether the cached answer is still fresh (within `max-age`).
    pub fn is_fresh(&self, now: i64) -> bool {
        self.max_age
            .is_some_and(|age| now - self.download_time < age as i64 * 1_000_000_000)
    }

    pub(crate) fn load(dir: &Path, url: &str) -> Result<Option<Self>, StoreError> {
        let path = remote_path(dir, url);
        match std::fs::read(&path) {
            Ok(b) => Ok(serde_json::from_slice(&b)
                .ok()
                .filter(|r: &RemoteRecord| r.url == url)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_at(&path)(e)),
        }
    }

    pub(crate) fn save(&self, dir: &Path) -> Result<(), StoreError> {
        let path = remote_path(dir, &self.url);
        let bytes = serde_json::to_vec(self).map_err(|e| StoreError::BadRecord {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        write_atomically(&path, &bytes)
    }
}
