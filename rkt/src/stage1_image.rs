//! The default stage1 images, part of this installation and so trusted
//! without a signature. Looked for, in order:
//!
//! 1. `stage1-rs.aci` / `stage1-fly-rs.aci` (as packaged, see
//!    `scripts/package-stage1.sh`) in the `stage1-images` directory of
//!    `paths.d`, then beside `rkt`; imported once, and again only when the
//!    file changes;
//! 2. the `stage1` executable beside `rkt` (where `cargo build` leaves
//!    it), which rkt wraps into a stage1 image in its store on first use
//!    and reuses while the executable is unchanged.
//!
//! Both flavours hold the same executable, which acts by the name it is
//! run as.

use crate::fetch::{FetchError, Fetcher, ImageRef};
use crate::store::{ImageRecord, ImageStore, RemoteRecord};
use appc::schema::types::Hash;
use serde_json::json;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

pub const RUN: &str = "coreos.com/rkt/stage1/run";
pub const GC: &str = "coreos.com/rkt/stage1/gc";
pub const ENTER: &str = "coreos.com/rkt/stage1/enter";
pub const STOP: &str = "coreos.com/rkt/stage1/stop";
/// Identifies the executable an image was made from.
const BINARY: &str = "rkt-rs.dev/stage1-binary";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// Namespaces: PID, mount, UTS, IPC.
    Default,
    /// Host namespaces, chroot only.
    Fly,
}

impl Flavor {
    pub fn image_name(self) -> &'static str {
        match self {
            Flavor::Default => "coreos.com/rkt/stage1-rs",
            Flavor::Fly => "coreos.com/rkt/stage1-fly-rs",
        }
    }

    /// The file name it is packaged as.
    pub fn file_name(self) -> &'static str {
        match self {
            Flavor::Default => "stage1-rs.aci",
            Flavor::Fly => "stage1-fly-rs.aci",
        }
    }

    fn entrypoint(self) -> &'static str {
        match self {
            Flavor::Default => "init",
            Flavor::Fly => "fly",
        }
    }

    pub fn from_name(name: &str) -> Option<Flavor> {
        [Flavor::Default, Flavor::Fly]
            .into_iter()
            .find(|f| f.image_name() == name)
    }
}

fn io_at(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> FetchError + '_ {
    move |source| FetchError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The `stage1` executable beside the running rkt.
pub fn binary() -> Result<PathBuf, FetchError> {
    let exe = std::env::current_exe().map_err(io_at(std::path::Path::new("/proc/self/exe")))?;
    let path = exe.with_file_name("stage1");
    std::fs::metadata(&path).map_err(io_at(&path))?;
    Ok(path)
}

/// A packaged image of `flavor` in `images_dir` or beside rkt.
fn packaged(flavor: Flavor, images_dir: Option<&Path>) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    images_dir
        .map(|d| d.join(flavor.file_name()))
        .into_iter()
        .chain(std::iter::once(exe.with_file_name(flavor.file_name())))
        .find(|p| p.is_file())
}

/// The packaged image at `aci`, from the store if this very file was
/// imported before (remembered as a `file://` remote record whose
/// validator is the file's size and modification time).
fn import(
    store: &ImageStore,
    fetcher: &Fetcher<'_>,
    aci: &Path,
) -> Result<ImageRecord, FetchError> {
    let meta = std::fs::metadata(aci).map_err(io_at(aci))?;
    let key = format!("{}-{}.{}", meta.len(), meta.mtime(), meta.mtime_nsec());
    let url = format!("file://{}", aci.display());
    if let Some(remote) = store.remote(&url)?
        && remote.etag.as_deref() == Some(key.as_str())
        && let Some(rec) = store
            .record(&Hash::new(&remote.image_id).map_err(|_| {
                FetchError::BadRef(remote.image_id.clone(), "bad image ID".into())
            })?)?
    {
        return Ok(rec);
    }
    let rec = fetcher.fetch(&ImageRef::File(aci.to_path_buf()))?;
    store.set_remote(&RemoteRecord {
        url,
        etag: Some(key),
        max_age: None,
        download_time: 0,
        image_id: rec.id.clone(),
    })?;
    Ok(rec)
}

/// The stage1 image of `flavor`: a packaged one (see the module's
/// documentation), else one made from the executable beside rkt if the
/// store has none made from this very executable.
pub fn ensure(
    store: &ImageStore,
    fetcher: &Fetcher<'_>,
    flavor: Flavor,
    images_dir: Option<&Path>,
) -> Result<ImageRecord, FetchError> {
    // However many first runs race, one imports and the others find it.
    let _once = store.lock_for("stage1-import")?;
    if let Some(aci) = packaged(flavor, images_dir) {
        return import(store, fetcher, &aci);
    }
    let bin = binary().map_err(|e| {
        FetchError::BadRef(
            flavor.image_name().into(),
            format!(
                "no stage1 image: no {} beside rkt or in the stage1-images directory, and {e}",
                flavor.file_name()
            ),
        )
    })?;
    let meta = std::fs::metadata(&bin).map_err(io_at(&bin))?;
    let key = format!("{}-{}.{}", meta.len(), meta.mtime(), meta.mtime_nsec());
    let existing = store.records()?.into_iter().find(|r| {
        r.name == flavor.image_name() && r.manifest.annotations.get(BINARY) == Some(key.as_str())
    });
    if let Some(rec) = existing {
        fetcher.debug(format_args!(
            "using image from local store for image name {}",
            flavor.image_name()
        ));
        return Ok(rec);
    }
    let stage = store.stage()?;
    let layout = stage.dir().join("layout");
    let rootfs = layout.join("rootfs");
    std::fs::create_dir_all(&rootfs).map_err(io_at(&rootfs))?;
    let manifest = json!({
        "acKind": "ImageManifest", "acVersion": "0.8.11", "name": flavor.image_name(),
        "labels": [{"name": "version", "value": env!("CARGO_PKG_VERSION")}, {"name": "os", "value": "linux"},
                   {"name": "arch", "value": crate::fetch::host_arch()}],
        "annotations": [
            {"name": RUN, "value": format!("/{}", flavor.entrypoint())},
            {"name": GC, "value": "/gc"},
            {"name": ENTER, "value": "/enter"},
            {"name": STOP, "value": "/stop"},
            {"name": "coreos.com/rkt/stage1/interface-version", "value": "5"},
            {"name": BINARY, "value": key},
        ],
    });
    std::fs::write(layout.join("manifest"), manifest.to_string()).map_err(io_at(&layout))?;
    std::fs::copy(&bin, rootfs.join("stage1")).map_err(io_at(&bin))?;
    for entrypoint in [flavor.entrypoint(), "gc", "enter", "stop"] {
        std::os::unix::fs::symlink("stage1", rootfs.join(entrypoint)).map_err(io_at(&rootfs))?;
    }
    let aci = stage.dir().join("stage1.aci");
    let file = std::fs::File::create(&aci).map_err(io_at(&aci))?;
    // The same executable gives the same image (and image ID): every
    // time is clamped to the executable's.
    let opts = appc::aci::BuildOptions {
        compression: appc::aci::Compression::None,
        owner_root: true,
        mtime_clamp: Some(u64::try_from(meta.mtime()).unwrap_or(0)),
    };
    appc::aci::build_aci(&layout, file, opts).map_err(|e| FetchError::Image {
        image: aci.display().to_string(),
        source: e,
    })?;
    fetcher.fetch(&ImageRef::File(aci))
}

/// The program that runs a pod with this stage1 image.
pub fn run_entrypoint(store: &ImageStore, stage1: &ImageRecord) -> Result<PathBuf, FetchError> {
    entrypoint(store, stage1, RUN).ok_or_else(|| {
        FetchError::BadRef(
            stage1.id.clone(),
            format!("not a stage1 image: no {RUN} annotation"),
        )
    })
}

/// The program that releases a pod's stage1 resources, if the image has one.
pub fn gc_entrypoint(store: &ImageStore, stage1: &ImageRecord) -> Option<PathBuf> {
    entrypoint(store, stage1, GC)
}

/// The program that stops a running pod, if the image has one.
pub fn stop_entrypoint(store: &ImageStore, stage1: &ImageRecord) -> Option<PathBuf> {
    entrypoint(store, stage1, STOP)
}

/// The program that runs a command inside a running pod, if the image has one.
pub fn enter_entrypoint(store: &ImageStore, stage1: &ImageRecord) -> Option<PathBuf> {
    entrypoint(store, stage1, ENTER)
}

fn entrypoint(store: &ImageStore, stage1: &ImageRecord, annotation: &str) -> Option<PathBuf> {
    let rel = stage1.manifest.annotations.get(annotation)?;
    Some(
        store
            .tree_path(&stage1.hash())
            .join("rootfs")
            .join(rel.trim_start_matches('/')),
    )
}
