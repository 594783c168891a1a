//! Staging directories: where a fetch puts an image before publishing it.
//! Each holds a lock for as long as its fetch runs.

use super::{StoreError, io_at};
use std::fs::{self, File};
use std::path::{Path, PathBuf};

pub struct Stage {
    dir: PathBuf,
    _lock: File,
}

impl Stage {
    /// Creates a stage; the caller holds the store's write lock, which
    /// garbage collection takes too, so no stage is ever seen half-made.
    pub(crate) fn create(tmp: &Path) -> Result<Self, StoreError> {
        let nonce = format!("{}-{:x}", std::process::id(), crate::display::now_nanos());
        let dir = tmp.join(format!("stage-{nonce}"));
        fs::create_dir(&dir).map_err(io_at(&dir))?;
        let lock_path = dir.join("lock");
        let lock = File::create(&lock_path).map_err(io_at(&lock_path))?;
        lock.lock().map_err(io_at(&lock_path))?;
        let tree = dir.join("tree");
        fs::create_dir_all(tree.join("rootfs")).map_err(io_at(&tree))?;
        Ok(Stage { dir, _lock: lock })
    }

    /// Where the image file goes.
    pub fn blob_path(&self) -> PathBuf {
        self.dir.join("blob")
    }

    /// The tree being rendered: `manifest` and `rootfs/`.
    pub fn tree_path(&self) -> PathBuf {
        self.dir.join("tree")
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Removes staging directories whose fetch is gone (their lock is
    /// free, or was never taken by a creator that died), and directories
    /// of removals that were interrupted; with `partials`, also the
    /// interrupted downloads no fetch is resuming. The caller holds the
    /// store's write lock.
    pub(crate) fn remove_stale(tmp: &Path, partials: bool) -> Result<usize, StoreError> {
        let mut removed = 0;
        for entry in fs::read_dir(tmp).map_err(io_at(tmp))? {
            let path = entry.map_err(io_at(tmp))?.path();
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            let kinds: &[&str] = if partials {
                &["stage-", "rm-", "partial-"]
            } else {
                &["stage-", "rm-"]
            };
            if !kinds.iter().any(|k| name.starts_with(k)) {
                continue;
            }
            let alive = File::open(path.join("lock")).is_ok_and(|f| f.try_lock().is_err());
            if !alive {
                // A fetch that just ended removes its own stage (without
                // the store's lock): gone by now is as good as removed.
                match fs::remove_dir_all(&path) {
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    other => {
                        other.map_err(io_at(&path))?;
                        removed += 1;
                    }
                }
            }
        }
        Ok(removed)
    }
}

impl Drop for Stage {
    /// An unpublished stage is removed; a published one is nearly empty.
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}
