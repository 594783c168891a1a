//! A cgo binary's shared libraries and loader, as `ldd` lists them,
//! copied into the image at the paths the binary looks for them.

use crate::error::{GoaciError, Result, at};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The files `ldd` says `binary` loads (none for a static one).
pub fn needed(binary: &Path) -> Result<Vec<PathBuf>> {
    let out = Command::new("ldd")
        .arg(binary)
        .output()
        .map_err(|e| GoaciError::Cgo(format!("ldd (to find the cgo binary's libraries): {e}")))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        // "not a dynamic executable": nothing to copy.
        let err = String::from_utf8_lossy(&out.stderr);
        if text.contains("not a dynamic executable") || err.contains("not a dynamic executable") {
            return Ok(Vec::new());
        }
        return Err(GoaciError::Cgo(format!(
            "ldd {}: {}",
            binary.display(),
            err.trim()
        )));
    }
    parse(&text).map_err(GoaciError::Cgo)
}

/// The paths in ldd's output: `name => /path (addr)` and `/loader (addr)`.
fn parse(text: &str) -> std::result::Result<Vec<PathBuf>, String> {
    let mut libs = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let path = match line.split_once("=>") {
            Some((name, rest)) => {
                let rest = rest.trim();
                if rest.starts_with("not found") {
                    return Err(format!(
                        "the cgo binary needs {}, which is not installed",
                        name.trim()
                    ));
                }
                rest.split(" (").next().unwrap_or_default()
            }
            None => line.split(" (").next().unwrap_or_default(),
        };
        // The vDSO has no file.
        if path.starts_with('/') {
            libs.push(PathBuf::from(path));
        }
    }
    Ok(libs)
}

/// Copies each library (its content, through links) to the same path
/// under `rootfs`.
pub fn copy_into(libs: &[PathBuf], rootfs: &Path) -> Result<()> {
    for lib in libs {
        let dest = rootfs.join(lib.strip_prefix("/").unwrap_or(lib));
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(at(parent))?;
        }
        std::fs::copy(lib, &dest).map_err(at(lib))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_ldd_says() {
        let text = "\tlinux-vdso.so.1 (0x00007ffd)\n\
                    \tlibpthread.so.0 => /lib/x86_64-linux-gnu/libpthread.so.0 (0x00007f1)\n\
                    \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f2)\n\
                    \t/lib64/ld-linux-x86-64.so.2 (0x00007f3)\n";
        assert_eq!(
            parse(text).unwrap(),
            [
                "/lib/x86_64-linux-gnu/libpthread.so.0",
                "/lib/x86_64-linux-gnu/libc.so.6",
                "/lib64/ld-linux-x86-64.so.2"
            ]
            .map(PathBuf::from)
        );
        let missing = parse("\tlibfoo.so.1 => not found\n").unwrap_err();
        assert!(missing.contains("libfoo.so.1"), "{missing}");
    }
}
