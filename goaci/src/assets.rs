//! `--asset=SRC:DEST`: files and directories of the project copied into
//! the image. `<PROJPATH>` in SRC is the project's directory (its
//! module's root), as the reference goaci had it; SRC must be inside it,
//! DEST is an absolute path in the image. Links inside a copied directory
//! stay links: nothing outside the project is read through them.

use crate::error::{GoaciError, Result, at};
use std::path::{Component, Path, PathBuf};

#[derive(Debug, PartialEq, Eq)]
pub struct Asset {
    pub src: PathBuf,
    /// Relative to the image's root.
    pub dest: PathBuf,
}

/// Reads `spec` against the project's directory `project`.
pub fn parse(spec: &str, project: &Path) -> Result<Asset> {
    let fail = |why: &str| GoaciError::Asset {
        spec: spec.to_string(),
        why: why.to_string(),
    };
    let (src, dest) = spec
        .split_once(":/")
        .ok_or_else(|| fail("expected SRC:DEST, DEST an absolute path in the image"))?;
    let src = src.replace("<PROJPATH>", &project.display().to_string());
    let dest = PathBuf::from(dest);
    if dest.as_os_str().is_empty() || !dest.components().all(|c| matches!(c, Component::Normal(_)))
    {
        return Err(fail(
            "DEST must name a path in the image, without '.' or '..'",
        ));
    }
    let real = std::fs::canonicalize(&src).map_err(|e| fail(&format!("{src}: {e}")))?;
    let root =
        std::fs::canonicalize(project).map_err(|e| fail(&format!("{}: {e}", project.display())))?;
    if !real.starts_with(&root) {
        return Err(fail(&format!(
            "{src} is outside the project's tree ({})",
            root.display()
        )));
    }
    Ok(Asset { src: real, dest })
}

/// Copies the asset under `rootfs`.
pub fn copy(asset: &Asset, rootfs: &Path) -> Result<()> {
    let dest = rootfs.join(&asset.dest);
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(at(parent))?;
    }
    copy_tree(&asset.src, &dest)
}

fn copy_tree(src: &Path, dest: &Path) -> Result<()> {
    let meta = std::fs::symlink_metadata(src).map_err(at(src))?;
    let kind = meta.file_type();
    if kind.is_symlink() {
        let target = std::fs::read_link(src).map_err(at(src))?;
        std::os::unix::fs::symlink(target, dest).map_err(at(dest))
    } else if kind.is_dir() {
        std::fs::create_dir_all(dest).map_err(at(dest))?;
        std::fs::set_permissions(dest, meta.permissions()).map_err(at(dest))?;
        for entry in std::fs::read_dir(src).map_err(at(src))? {
            let entry = entry.map_err(at(src))?;
            copy_tree(&entry.path(), &dest.join(entry.file_name()))?;
        }
        Ok(())
    } else if kind.is_file() {
        std::fs::copy(src, dest).map(drop).map_err(at(src))
    } else {
        Err(GoaciError::Asset {
            spec: src.display().to_string(),
            why: "only files, directories and links can be assets".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_inside_the_project_destinations_inside_the_image() {
        let tmp = tempfile::tempdir().unwrap();
        let project = tmp.path().join("proj");
        std::fs::create_dir_all(project.join("static/css")).unwrap();
        std::fs::write(project.join("static/css/site.css"), "body {}").unwrap();
        std::os::unix::fs::symlink("/etc/shadow", project.join("static/leak")).unwrap();
        std::fs::write(tmp.path().join("secret"), "no").unwrap();

        let a = parse("<PROJPATH>/static:/srv/static", &project).unwrap();
        assert_eq!(a.dest, Path::new("srv/static"));
        let rootfs = tmp.path().join("rootfs");
        copy(&a, &rootfs).unwrap();
        assert_eq!(
            std::fs::read_to_string(rootfs.join("srv/static/css/site.css")).unwrap(),
            "body {}"
        );
        // A link stays a link, to the image's own /etc/shadow.
        assert_eq!(
            std::fs::read_link(rootfs.join("srv/static/leak")).unwrap(),
            Path::new("/etc/shadow")
        );

        let err = |spec: &str| parse(spec, &project).unwrap_err().to_string();
        assert!(
            err(&format!("{}/secret:/x", tmp.path().display())).contains("outside the project")
        );
        assert!(err("<PROJPATH>/../secret:/x").contains("outside the project"));
        assert!(err("<PROJPATH>/static:/srv/../..").contains("without '.' or '..'"));
        assert!(err("<PROJPATH>/static").contains("SRC:DEST"));
        assert!(err("<PROJPATH>/missing:/x").contains("missing"));
    }
}
