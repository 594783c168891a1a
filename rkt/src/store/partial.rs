//! Interrupted downloads kept for the next fetch of the same URL, which
//! resumes them with `Range` as rkt does: `cas/tmp/partial-<sha256 of the
//! URL>/` holds the bytes so far (`blob`), the server's ETag for them
//! (`etag`, without which nothing is resumed: `If-Range` is what keeps a
//! changed file from being spliced onto an old start) and a lock held
//! while a fetch works on it.

use super::{StoreError, io_at};
use sha2::Digest;
use std::fs::{self, File};
use std::path::{Path, PathBuf};

pub struct Partial {
    dir: PathBuf,
    _lock: File,
}

impl Partial {
    /// The partial download of `url`, locked (waiting for another fetch
    /// of the same URL to end).
    pub(crate) fn open(tmp: &Path, url: &str) -> Result<Self, StoreError> {
        let hash = sha2::Sha256::digest(url.as_bytes());
        let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
        let dir = tmp.join(format!("partial-{hex}"));
        fs::create_dir_all(&dir).map_err(io_at(&dir))?;
        let lock_path = dir.join("lock");
        let lock = File::create(&lock_path).map_err(io_at(&lock_path))?;
        lock.lock().map_err(io_at(&lock_path))?;
        Ok(Partial { dir, _lock: lock })
    }

    pub fn blob_path(&self) -> PathBuf {
        self.dir.join("blob")
    }

    /// The bytes so far and the ETag they are of, if they can be resumed.
    pub fn resumable(&self) -> Option<(u64, String)> {
        let len = fs::metadata(self.blob_path()).ok()?.len();
        let etag = fs::read_to_string(self.dir.join("etag")).ok()?;
        (len > 0 && !etag.is_empty()).then_some((len, etag))
    }

    /// Starts over: the bytes that follow are of `etag` (none: not
    /// resumable).
    pub fn restart(&self, etag: Option<&str>) -> Result<(), StoreError> {
        let path = self.dir.join("etag");
        match etag {
            Some(tag) => fs::write(&path, tag).map_err(io_at(&path)),
            None => match fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_at(&path)(e)),
                _ => Ok(()),
            },
        }
    }

    /// After a failed download: kept for the next fetch if it can resume
    /// it, else removed.
    pub fn keep_if_resumable(self) {
        if self.resumable().is_none() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }

    /// Moves the whole download to `dest` and forgets the partial.
    pub fn complete(self, dest: &Path) -> Result<(), StoreError> {
        let blob = self.blob_path();
        fs::rename(&blob, dest).map_err(io_at(&blob))?;
        fs::remove_dir_all(&self.dir).map_err(io_at(&self.dir))
    }
}
