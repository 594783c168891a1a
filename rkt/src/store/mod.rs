//! The image store in `{data dir}/cas`:
//!
//! ```text
//! cas/lock                 flock: held exclusively while publishing or removing
//! cas/blob/sha512/<xx>/sha512-<hex>
//!                          each image as fetched (compressed), once, by ID
//! cas/tree/sha512-<hex>/   the rendered image: manifest, rootfs/ (dependencies applied)
//! cas/images/<hex>.json    the index record: name, labels, times, size, source, manifest
//! cas/remote/<sha256>.json what a URL gave last time: ETag, max-age, image ID
//! cas/tmp/<stage>/         staging of fetches in progress, each with its own lock
//! ```
//!
//! `blob` and `tree` are laid out as rkt lays them out (`<xx>` is the
//! hex's first two digits), for the scripts and tools that look there.
//! A store of the earlier layout (`blobs/<hex>`, `trees/<hex>`) is moved
//! into this one when opened.
//!
//! Crash safety comes from ordering and renames: a fetch builds everything
//! in a staging directory, then renames the blob, then the tree, and writes
//! the record last (to a temporary file renamed over the final name). A
//! record therefore means a complete image; anything without a record is
//! garbage that [`ImageStore::collect_garbage`] removes. Concurrent processes serialise
//! only the publishing step; readers never lock. A staging directory is
//! locked by its fetch for its whole life, so a crashed fetch is recognised
//! (its lock is free) and cleaned up by the next process.

mod partial;
mod record;
mod stage;

pub use partial::Partial;
pub use record::{ImageRecord, RemoteRecord};
pub use stage::Stage;

use appc::schema::types::Hash;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

/// Hex digits of a whole SHA-512 image ID.
const FULL_HEX: usize = 128;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("index record {path} is corrupt: {reason}")]
    BadRecord { path: PathBuf, reason: String },
    #[error("no image {0} in the store")]
    NotFound(String),
    // rkt's words for image IDs, with the ID given.
    #[error("no image IDs found matching {0:?}")]
    NoSuchId(String),
    #[error("image ID too short: {0:?} (at least sha512-XX)")]
    IdTooShort(String),
    #[error("ambiguous image ID: {given:?} matches {count} images")]
    Ambiguous { given: String, count: usize },
}

pub(crate) fn io_at(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `bytes` to `path` whole or not at all.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let write = || -> io::Result<()> {
        let f = File::create(&tmp)?;
        io::Write::write_all(&mut &f, bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = fs::remove_file(&tmp);
        io_at(path)(e)
    })
}

/// Removes the temporary files of [`write_atomically`] in `dir` whose
/// writer (the pid in their name) is gone. Returns how many.
fn remove_dead_writers_files(dir: &Path) -> Result<usize, StoreError> {
    let mut removed = 0;
    for entry in fs::read_dir(dir).map_err(io_at(dir))? {
        let path = entry.map_err(io_at(dir))?.path();
        let writer = path
            .extension()
            .and_then(|e| e.to_str())
            .and_then(|e| e.strip_prefix("tmp-"))
            .and_then(|pid| pid.parse::<u32>().ok());
        if let Some(pid) = writer
            && !Path::new("/proc").join(pid.to_string()).exists()
        {
            match fs::remove_file(&path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(io_at(&path)(e)),
                _ => removed += 1,
            }
        }
    }
    Ok(removed)
}

pub struct ImageStore {
    root: PathBuf,
}

/// The hex part of an image ID, which names its files.
fn hex(id: &Hash) -> &str {
    id.hex()
}

/// `cas/blob/sha512/<xx>/sha512-<hex>` under `root`, as rkt's.
fn blob_at(root: &Path, hex: &str) -> PathBuf {
    let dir = root.join("blob/sha512").join(hex.get(..2).unwrap_or(hex));
    dir.join(format!("sha512-{hex}"))
}

/// `cas/tree/sha512-<hex>` under `root`.
fn tree_at(root: &Path, hex: &str) -> PathBuf {
    root.join("tree").join(format!("sha512-{hex}"))
}

/// Moves a store of the earlier layout (`blobs/<hex>`, `trees/<hex>`)
/// into this one; under the store lock, each entry by one rename.
fn migrate(root: &Path) -> Result<(), StoreError> {
    for (old, new) in [
        ("blobs", blob_at as fn(&Path, &str) -> PathBuf),
        ("trees", tree_at),
    ] {
        let dir = root.join(old);
        let entries = match fs::read_dir(&dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            other => other.map_err(io_at(&dir))?,
        };
        for entry in entries {
            let name = entry.map_err(io_at(&dir))?.file_name();
            let to = new(root, &name.to_string_lossy());
            if let Some(parent) = to.parent() {
                fs::create_dir_all(parent).map_err(io_at(parent))?;
            }
            fs::rename(dir.join(&name), &to).map_err(io_at(&to))?;
        }
        fs::remove_dir(&dir).map_err(io_at(&dir))?;
    }
    Ok(())
}

impl ImageStore {
    /// Opens (creating) the store under `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        crate::data_dir::ensure(data_dir).map_err(io_at(data_dir))?;
        let root = data_dir.join("cas");
        for sub in ["blob/sha512", "images", "retired", "remote"] {
            let d = root.join(sub);
            fs::create_dir_all(&d).map_err(io_at(&d))?;
        }
        // Extracted images (and those being extracted) are root's alone.
        for sub in ["tree", "tmp"] {
            let d = root.join(sub);
            crate::data_dir::ensure_root_only(&d).map_err(io_at(&d))?;
        }
        let store = ImageStore { root };
        if store.root.join("trees").exists() || store.root.join("blobs").exists() {
            let _lock = store.lock()?;
            migrate(&store.root)?;
        }
        Ok(store)
    }

    pub fn blob_path(&self, id: &Hash) -> PathBuf {
        blob_at(&self.root, hex(id))
    }

    /// The rendered image: `manifest` and `rootfs/`.
    pub fn tree_path(&self, id: &Hash) -> PathBuf {
        tree_at(&self.root, hex(id))
    }

    fn record_path(&self, id: &Hash) -> PathBuf {
        self.root.join("images").join(format!("{}.json", hex(id)))
    }

    /// The record of a removed image whose tree pods still use.
    fn retired_path(&self, id: &Hash) -> PathBuf {
        self.root.join("retired").join(format!("{}.json", hex(id)))
    }

    /// Takes the store's write lock until the returned file is dropped.
    fn lock(&self) -> Result<File, StoreError> {
        self.lock_file(&self.root.join("lock"))
    }

    /// Takes the lock `cas/<name>.lock` until the returned file is
    /// dropped: for work that concurrent rkt processes must do once, such
    /// as importing a default stage1 image (which publishes, under the
    /// write lock, meanwhile).
    pub fn lock_for(&self, name: &str) -> Result<File, StoreError> {
        self.lock_file(&self.root.join(format!("{name}.lock")))
    }

    /// Held, shared, by whoever makes a pod refer to stored images, from
    /// choosing them until the pod directory records them; image removal
    /// ([`Self::lock_removals`]) waits for it, so no image is removed in
    /// between (pods on disk are what removal spares).
    pub fn pin_for_pod(&self) -> Result<File, StoreError> {
        let path = self.root.join("pods.lock");
        let f = self.open_lock(&path)?;
        f.lock_shared().map_err(io_at(&path))?;
        Ok(f)
    }

    /// Held by image removal (`rkt image rm`, `rkt image gc`) while it
    /// decides what pods use and removes the rest.
    pub fn lock_removals(&self) -> Result<File, StoreError> {
        self.lock_file(&self.root.join("pods.lock"))
    }

    fn open_lock(&self, path: &Path) -> Result<File, StoreError> {
        File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(io_at(path))
    }

    fn lock_file(&self, path: &Path) -> Result<File, StoreError> {
        let f = self.open_lock(path)?;
        f.lock().map_err(io_at(path))?;
        Ok(f)
    }

    /// The partial download of `url` (see [`Partial`]), locked.
    pub fn partial(&self, url: &str) -> Result<Partial, StoreError> {
        Partial::open(&self.root.join("tmp"), url)
    }

    /// A new staging directory for a fetch. Staging that killed fetches
    /// left behind is reclaimed first, so it never outlives the next fetch.
    pub fn stage(&self) -> Result<Stage, StoreError> {
        let _lock = self.lock()?;
        let tmp = self.root.join("tmp");
        Stage::remove_stale(&tmp, false)?;
        Stage::create(&tmp)
    }

    pub fn record(&self, id: &Hash) -> Result<Option<ImageRecord>, StoreError> {
        ImageRecord::load(&self.record_path(id))
    }

    /// The image whose ID is `id`, or starts with it (a short ID, as
    /// `rkt fetch` prints); None when the store has none.
    pub fn record_by_id(&self, id: &Hash) -> Result<Option<ImageRecord>, StoreError> {
        if id.hex().len() == FULL_HEX {
            return self.record(id);
        }
        match self.resolve(id.as_str()) {
            Ok(r) => Ok(Some(r)),
            Err(StoreError::NoSuchId(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The image a pod on disk names by its full ID (its stage1, its
    /// apps'): stored, or removed while the pod still uses its tree.
    pub fn for_pod(&self, id: &str) -> Result<ImageRecord, StoreError> {
        let hash = Hash::new(id.trim()).map_err(|_| StoreError::NoSuchId(id.into()))?;
        if let Some(r) = self.record(&hash)? {
            return Ok(r);
        }
        ImageRecord::load(&self.retired_path(&hash))?.ok_or_else(|| StoreError::NoSuchId(id.into()))
    }

    /// Every image in the store.
    pub fn records(&self) -> Result<Vec<ImageRecord>, StoreError> {
        let dir = self.root.join("images");
        let mut out = Vec::new();
        for entry in fs::read_dir(&dir).map_err(io_at(&dir))? {
            let path = entry.map_err(io_at(&dir))?.path();
            if path.extension().is_some_and(|e| e == "json")
                && let Some(r) = ImageRecord::load(&path)?
            {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// The image a user means by `given`: an image ID or a unique prefix of
    /// one (`sha512-1a2b`), or a name with an optional `:version` (the
    /// most recently imported match).
    pub fn resolve(&self, given: &str) -> Result<ImageRecord, StoreError> {
        let records = self.records()?;
        if given.starts_with("sha512-") {
            if given.len() < "sha512-".len() + 2 {
                return Err(StoreError::IdTooShort(given.into()));
            }
            let matches: Vec<_> = records
                .into_iter()
                .filter(|r| r.id.starts_with(given))
                .collect();
            return match matches.len() {
                0 => Err(StoreError::NoSuchId(given.into())),
                1 => Ok(matches.into_iter().next().expect("one match")),
                count => Err(StoreError::Ambiguous {
                    given: given.into(),
                    count,
                }),
            };
        }
        let (name, version) = given
            .split_once(':')
            .map_or((given, None), |(n, v)| (n, Some(v)));
        records
            .into_iter()
            .filter(|r| {
                r.name == name
                    && version.is_none_or(|v| r.labels.get("version").is_some_and(|l| l == v))
            })
            .max_by_key(|r| r.import_time)
            .ok_or_else(|| StoreError::NotFound(given.into()))
    }

    /// The newest image named `name` whose labels include all of `labels`.
    pub fn find(
        &self,
        name: &str,
        labels: &[(String, String)],
    ) -> Result<Option<ImageRecord>, StoreError> {
        Ok(self
            .records()?
            .into_iter()
            .filter(|r| r.name == name && labels.iter().all(|(k, v)| r.labels.get(k) == Some(v)))
            .max_by_key(|r| r.import_time))
    }

    /// Publishes a staged image. If the image is already stored (fetched
    /// before, or by a concurrent fetch that won the race), the stage is
    /// discarded and the stored record returned, marked as used now.
    pub fn publish(&self, stage: Stage, record: ImageRecord) -> Result<ImageRecord, StoreError> {
        let id = record.hash();
        let _lock = self.lock()?;
        if let Some(mut existing) = self.record(&id)? {
            existing.last_used = crate::display::now_nanos();
            existing.save(&self.record_path(&id))?;
            return Ok(existing);
        }
        let (blob, tree) = (self.blob_path(&id), self.tree_path(&id));
        let retired = self.retired_path(&id);
        if retired.exists() {
            // Removed while pods used it, fetched again: its tree, which
            // they still use, is kept as it is; the blob and the record
            // come back.
            if let Some(parent) = blob.parent() {
                fs::create_dir_all(parent).map_err(io_at(parent))?;
            }
            fs::rename(stage.blob_path(), &blob).map_err(io_at(&blob))?;
            record.save(&self.record_path(&id))?;
            fs::remove_file(&retired).map_err(io_at(&retired))?;
            return Ok(record);
        }
        // Leftovers of a crashed publication of the same image.
        let _ = fs::remove_file(&blob);
        let _ = fs::remove_dir_all(&tree);
        if let Some(parent) = blob.parent() {
            fs::create_dir_all(parent).map_err(io_at(parent))?;
        }
        fs::rename(stage.blob_path(), &blob).map_err(io_at(&blob))?;
        fs::rename(stage.tree_path(), &tree).map_err(io_at(&tree))?;
        record.save(&self.record_path(&id))?;
        Ok(record)
    }

    /// Records that the image was used now, as its record file's
    /// modification time (read back as `last_used`): a crash may lose that
    /// time but never the record, so neither a rewrite nor an fsync (nor
    /// the lock) is needed, on the path of every `rkt run`. Nothing if the
    /// image is gone.
    pub fn touch(&self, id: &Hash) -> Result<(), StoreError> {
        use rustix::fs::{AtFlags, CWD, Timespec, Timestamps, UTIME_NOW, UTIME_OMIT};
        let path = self.record_path(id);
        let now = Timestamps {
            last_access: Timespec {
                tv_sec: 0,
                tv_nsec: UTIME_OMIT,
            },
            last_modification: Timespec {
                tv_sec: 0,
                tv_nsec: UTIME_NOW,
            },
        };
        match rustix::fs::utimensat(CWD, &path, &now, AtFlags::empty()) {
            Err(rustix::io::Errno::NOENT) => Ok(()),
            other => other.map_err(|e| io_at(&path)(e.into())),
        }
    }

    /// Removes an image: the record first, so that a crash half-way leaves
    /// only garbage without a record.
    pub fn remove(&self, id: &Hash) -> Result<(), StoreError> {
        let _lock = self.lock()?;
        let record = self.record_path(id);
        match fs::remove_file(&record) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::NotFound(id.to_string()));
            }
            other => other.map_err(io_at(&record))?,
        }
        self.remove_data(hex(id))
    }

    /// Removes an image that pods on disk still use, as rkt does: it
    /// leaves the list and its blob goes, while its tree stays (with its
    /// record, aside) until no pod uses it ([`Self::collect_garbage`]).
    pub fn retire(&self, id: &Hash) -> Result<(), StoreError> {
        let _lock = self.lock()?;
        let (record, retired) = (self.record_path(id), self.retired_path(id));
        match fs::rename(&record, &retired) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::NotFound(id.to_string()));
            }
            other => other.map_err(io_at(&record))?,
        }
        let blob = self.blob_path(id);
        match fs::remove_file(&blob) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_at(&blob)(e)),
            _ => Ok(()),
        }
    }

    fn remove_data(&self, hex: &str) -> Result<(), StoreError> {
        let tree = tree_at(&self.root, hex);
        if tree.exists() {
            // Renamed away first so no one sees a half-removed tree.
            let doomed = self.root.join("tmp").join(format!("rm-{hex}"));
            fs::rename(&tree, &doomed).map_err(io_at(&tree))?;
            fs::remove_dir_all(&doomed).map_err(io_at(&doomed))?;
        }
        let blob = blob_at(&self.root, hex);
        match fs::remove_file(&blob) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_at(&blob)(e)),
            _ => Ok(()),
        }
    }

    /// Removes stale staging directories (their fetch died), records half
    /// written by a process that died, the trees of removed images that
    /// no pod in `in_use` uses any more, and blobs or trees without a
    /// record. Returns how many were removed.
    pub fn collect_garbage(
        &self,
        in_use: &std::collections::BTreeMap<Hash, Vec<String>>,
    ) -> Result<usize, StoreError> {
        let _lock = self.lock()?;
        let mut removed = Stage::remove_stale(&self.root.join("tmp"), true)?;
        for dir in ["images", "retired", "remote"] {
            removed += remove_dead_writers_files(&self.root.join(dir))?;
        }
        let mut have: std::collections::HashSet<String> = self
            .records()?
            .into_iter()
            .map(|r| r.hash().hex().to_string())
            .collect();
        let retired = self.root.join("retired");
        for entry in fs::read_dir(&retired).map_err(io_at(&retired))? {
            let path = entry.map_err(io_at(&retired))?.path();
            let Some(r) = ImageRecord::load(&path)? else {
                continue;
            };
            if in_use.contains_key(&r.hash()) {
                have.insert(r.hash().hex().to_string());
            } else {
                fs::remove_file(&path).map_err(io_at(&path))?;
                removed += 1;
            }
        }
        let mut dirs = vec![self.root.join("tree")];
        let blobs = self.root.join("blob/sha512");
        for entry in fs::read_dir(&blobs).map_err(io_at(&blobs))? {
            dirs.push(entry.map_err(io_at(&blobs))?.path());
        }
        for dir in dirs {
            for entry in fs::read_dir(&dir).map_err(io_at(&dir))? {
                let name = entry.map_err(io_at(&dir))?.file_name();
                let name = name.to_string_lossy();
                let hex = name.strip_prefix("sha512-").unwrap_or(&name);
                if !have.contains(hex) {
                    self.remove_data(hex)?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }

    /// What a URL gave last time.
    pub fn remote(&self, url: &str) -> Result<Option<RemoteRecord>, StoreError> {
        RemoteRecord::load(&self.root.join("remote"), url)
    }

    pub fn set_remote(&self, remote: &RemoteRecord) -> Result<(), StoreError> {
        remote.save(&self.root.join("remote"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_and_trees_are_where_rkt_keeps_them() {
        let root = Path::new("/var/lib/rkt/cas");
        assert_eq!(
            blob_at(root, "ab12"),
            Path::new("/var/lib/rkt/cas/blob/sha512/ab/sha512-ab12")
        );
        assert_eq!(
            tree_at(root, "ab12"),
            Path::new("/var/lib/rkt/cas/tree/sha512-ab12")
        );
    }

    #[test]
    fn marking_an_image_used_keeps_its_record_as_it_is() {
        let tmp = tempfile::tempdir().unwrap();
        let store = ImageStore::open(tmp.path()).unwrap();
        let id = Hash::new(&format!("sha512-{}", "ab".repeat(64))).unwrap();
        let manifest: appc::schema::ImageManifest = serde_json::from_str(
            r#"{"acKind": "ImageManifest", "acVersion": "0.8.11", "name": "example.com/used"}"#,
        )
        .unwrap();
        let mut record = ImageRecord::new(&id, manifest, 1, "here".into());
        record.last_used = 1;
        record.save(&store.record_path(&id)).unwrap();
        // Written long ago.
        let long_ago = std::time::UNIX_EPOCH + std::time::Duration::from_secs(5);
        File::options()
            .write(true)
            .open(store.record_path(&id))
            .and_then(|f| f.set_modified(long_ago))
            .unwrap();
        let loaded = store.record(&id).unwrap().unwrap();
        assert_eq!(loaded.last_used, 5_000_000_000);
        let bytes = fs::read(store.record_path(&id)).unwrap();
        let before = crate::display::now_nanos();
        store.touch(&id).unwrap();
        let used = store.record(&id).unwrap().unwrap().last_used;
        // (The file system's clock may run a tick behind.)
        assert!(used >= before - 20_000_000, "{used} < {before}");
        assert_eq!(fs::read(store.record_path(&id)).unwrap(), bytes);
        // An image removed meanwhile: nothing to mark.
        store.remove(&id).unwrap();
        store.touch(&id).unwrap();
        assert!(store.record(&id).unwrap().is_none());
    }

    #[test]
    fn gc_removes_records_half_written_by_dead_writers() {
        let tmp = tempfile::tempdir().unwrap();
        let store = ImageStore::open(tmp.path()).unwrap();
        let images = tmp.path().join("cas/images");
        // Above the kernel's largest pid: no such process.
        let dead = images.join("sha512-aa.tmp-4194305");
        let live = images.join(format!("sha512-bb.tmp-{}", std::process::id()));
        fs::write(&dead, "{").unwrap();
        fs::write(&live, "{").unwrap();
        assert_eq!(store.collect_garbage(&Default::default()).unwrap(), 1);
        assert!(!dead.exists());
        assert!(live.exists(), "a writer still at work keeps its file");
    }

    #[test]
    fn removal_waits_for_pods_being_prepared() {
        let tmp = tempfile::tempdir().unwrap();
        let store = ImageStore::open(tmp.path()).unwrap();
        let pinned = store.pin_for_pod().unwrap();
        // Several pods may be prepared at once.
        let other = store.pin_for_pod().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let data = tmp.path().to_path_buf();
        let remover = std::thread::spawn(move || {
            let store = ImageStore::open(&data).unwrap();
            let _removing = store.lock_removals().unwrap();
            tx.send(()).unwrap();
        });
        let wait = std::time::Duration::from_millis(200);
        assert!(rx.recv_timeout(wait).is_err(), "removal did not wait");
        drop((pinned, other));
        assert!(rx.recv_timeout(wait * 25).is_ok());
        remover.join().unwrap();
    }

    #[test]
    fn a_store_of_the_earlier_layout_is_moved_into_this_one() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        fs::create_dir_all(root.join("blobs")).unwrap();
        fs::create_dir_all(root.join("trees/cd34/rootfs")).unwrap();
        fs::write(root.join("blobs/cd34"), "blob").unwrap();
        fs::write(root.join("trees/cd34/manifest"), "{}").unwrap();
        migrate(root).unwrap();
        assert_eq!(fs::read(blob_at(root, "cd34")).unwrap(), b"blob");
        assert!(tree_at(root, "cd34").join("rootfs").is_dir());
        assert!(!root.join("blobs").exists() && !root.join("trees").exists());
        // Nothing to move: nothing done.
        migrate(root).unwrap();
    }
}
