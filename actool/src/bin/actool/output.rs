//! Writing an output file whole or not at all: into a temporary file beside
//! it, renamed over the target once complete.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

/// Refuses an existing `target` unless `overwrite`; then calls `write` with
/// a temporary file and moves it into place if `write` succeeds.
pub fn write_atomically(
    target: &Path,
    overwrite: bool,
    write: impl FnOnce(BufWriter<File>) -> Result<BufWriter<File>, String>,
) -> Result<(), String> {
    if !overwrite && target.symlink_metadata().is_ok() {
        return Err("Target file exists (try --overwrite)".into());
    }
    let dir = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = target
        .file_name()
        .ok_or_else(|| format!("{}: not a file name", target.display()))?;
    let tmp: PathBuf = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let file = File::create(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    let result = write(BufWriter::with_capacity(1 << 20, file)).and_then(|w| {
        let f = w.into_inner().map_err(|e| e.to_string())?;
        f.sync_all().map_err(|e| e.to_string())?;
        std::fs::rename(&tmp, target).map_err(|e| format!("{}: {e}", target.display()))
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
