//! Image layouts: a directory holding `manifest` and `rootfs/`, the input
//! of `actool build`.

use super::AciError;
use crate::schema::ImageManifest;
use std::path::Path;

/// Checks that `dir` is a valid image layout and returns its manifest.
/// Only the top level is inspected: anything may live under `rootfs/`.
pub fn validate_layout(dir: &Path) -> Result<ImageManifest, AciError> {
    let meta = std::fs::metadata(dir).map_err(|e| AciError::file(dir, e))?;
    if !meta.is_dir() {
        return Err(AciError::file(
            dir,
            std::io::Error::other("not a directory"),
        ));
    }
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| AciError::file(dir, e))?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()
        .map_err(|e| AciError::file(dir, e))?;
    names.sort();
    let manifest_path = dir.join("manifest");
    let rootfs = dir.join("rootfs");
    if !names.iter().any(|n| n == "manifest") {
        return Err(AciError::NoManifest);
    }
    let rootfs_meta = match std::fs::symlink_metadata(&rootfs) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(AciError::NoRootfs),
        Err(e) => return Err(AciError::file(&rootfs, e)),
    };
    if !rootfs_meta.is_dir() {
        return Err(AciError::RootfsNotDirectory);
    }
    let text =
        std::fs::read_to_string(&manifest_path).map_err(|e| AciError::file(&manifest_path, e))?;
    let manifest = ImageManifest::from_json(&text).map_err(AciError::Manifest)?;
    if let Some(extra) = names.iter().find(|n| *n != "manifest" && *n != "rootfs") {
        return Err(AciError::UnrecognizedPath(crate::schema::json::quote(
            extra,
        )));
    }
    Ok(manifest)
}
