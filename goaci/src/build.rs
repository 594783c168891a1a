//! One goaci run: the package found, built (static unless it needs cgo),
//! laid out with its assets and manifest, and written as an ACI by a
//! rename, so that a failure leaves no partial image.

use crate::error::{GoaciError, Result, at};
use crate::toolchain::{Go, GoEnv, Package};
use crate::{assets, libs, manifest};
use appc::aci::{BuildOptions, Compression};
use std::path::{Path, PathBuf};

pub struct Options {
    /// A package directory or pattern, or an import path (`@version`).
    pub input: String,
    pub go_binary: String,
    pub output: Option<PathBuf>,
    pub name: Option<String>,
    pub exec: Vec<String>,
    pub use_binary: Option<String>,
    pub assets: Vec<String>,
    pub ports: Vec<String>,
    pub user: String,
    pub group: String,
    pub keep_tmp: bool,
    pub compression: Compression,
    /// SOURCE_DATE_EPOCH: the build time, and no file newer than it.
    pub source_date_epoch: Option<u64>,
}

/// What was made.
pub struct Built {
    pub aci: PathBuf,
    /// The working directory, when kept.
    pub kept: Option<PathBuf>,
}

/// Where the go commands run and what they are asked for.
struct Input {
    dir: PathBuf,
    pattern: String,
}

fn resolve_input(go: &Go, input: &str, tmp: &Path) -> Result<Input> {
    let local = input.starts_with('.') || input.starts_with('/');
    if !local && let Some((path, version)) = input.rsplit_once('@') {
        let dir = tmp.join("module");
        std::fs::create_dir_all(&dir).map_err(at(&dir))?;
        go.require(&dir, path, version)?;
        return Ok(Input {
            dir,
            pattern: path.to_string(),
        });
    }
    if Path::new(input).is_dir() {
        return Ok(Input {
            dir: PathBuf::from(input),
            pattern: ".".into(),
        });
    }
    let cwd = std::env::current_dir().map_err(at("."))?;
    Ok(Input {
        dir: cwd,
        pattern: input.to_string(),
    })
}

/// The package in `dir`, a module's root or below it, as its go.mod
/// names it; None where there is none, or its module line is not plain.
fn package_in(dir: &Path) -> Option<Package> {
    let dir = std::fs::canonicalize(dir).ok()?;
    let root = dir.ancestors().find(|d| d.join("go.mod").is_file())?;
    let text = std::fs::read_to_string(root.join("go.mod")).ok()?;
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("module"))?;
    let path = line["module".len()..]
        .split("//")
        .next()?
        .trim()
        .trim_matches('"');
    if path.is_empty() || path.contains(|c: char| c.is_whitespace() || c == '`') {
        return None;
    }
    let rel = dir.strip_prefix(root).ok()?.to_str()?;
    let import_path = if rel.is_empty() {
        path.to_string()
    } else {
        format!("{path}/{rel}")
    };
    Some(Package {
        dir: dir.clone(),
        import_path,
        name: "main".into(),
        module: Some(crate::toolchain::Module {
            path: path.to_string(),
            dir: Some(root.to_path_buf()),
            main: true,
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// The one main package among `packages`, or why there is none.
fn choose(packages: &[Package], input: &Input, use_binary: Option<&str>) -> Result<Package> {
    if let Some(p) = packages.iter().find(|p| p.error.is_some()) {
        return Err(GoaciError::Go {
            command: format!("list {}", input.pattern),
            output: p.error.as_ref().map(|e| e.err.clone()).unwrap_or_default(),
        });
    }
    let mains: Vec<&Package> = packages.iter().filter(|p| p.name == "main").collect();
    let names: Vec<String> = mains.iter().map(|p| p.binary_name()).collect();
    match (mains.as_slice(), use_binary) {
        ([], _) => match packages.first() {
            Some(p) => Err(GoaciError::NotMain(p.import_path.clone(), p.name.clone())),
            None => Err(GoaciError::NoPackage {
                pattern: input.pattern.clone(),
            }),
        },
        (_, Some(wanted)) => mains
            .iter()
            .find(|p| p.binary_name() == wanted)
            .map(|p| (*p).clone())
            .ok_or_else(|| GoaciError::NoSuchBinary {
                wanted: wanted.to_string(),
                names,
            }),
        ([one], None) => Ok((*one).clone()),
        (_, None) => Err(GoaciError::SeveralBinaries {
            pattern: input.pattern.clone(),
            names,
        }),
    }
}

/// Whether `package`, which did not build without cgo, needs it: a
/// package it imports (not the standard library's, which all build
/// without) has cgo files. An error where cgo cannot be used.
fn needs_cgo(go: &Go, input: &Input, package: &Package, env: &GoEnv) -> Result<bool> {
    let deps = go.list(&input.dir, &[&package.import_path], true, true)?;
    let users: Vec<&str> = deps
        .iter()
        .filter(|p| !p.standard && !p.cgo_files.is_empty())
        .map(|p| p.import_path.as_str())
        .collect();
    if users.is_empty() {
        return Ok(false);
    }
    let users = users.join(", ");
    if env.cross() {
        return Err(GoaciError::Cgo(format!(
            "{users} use cgo, which a cross-build for {}/{} cannot link here: \
             build on a {}/{} machine, or without cgo",
            env.goos, env.goarch, env.goos, env.goarch
        )));
    }
    if std::env::var("CGO_ENABLED").is_ok_and(|v| v == "0") {
        return Err(GoaciError::Cgo(format!(
            "{users} use cgo, and CGO_ENABLED=0 forbids it"
        )));
    }
    Ok(true)
}

/// The version label: the module's version, else the tag or commit of
/// the project's checkout, else `latest`.
fn version(package: &Package, project: &Path) -> String {
    if let Some(m) = &package.module
        && !m.version.is_empty()
        && m.version != "(devel)"
    {
        return m.version.clone();
    }
    if !project.ancestors().any(|d| d.join(".git").exists()) {
        return "latest".into();
    }
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(project)
            .args(args)
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .filter(|s| !s.is_empty())
    };
    git(&["describe", "--tags", "--exact-match"])
        .or_else(|| git(&["rev-parse", "HEAD"]))
        .unwrap_or_else(|| "latest".into())
}

/// Where `go build` writes an input's commands, kept between runs so that
/// go finds them up to date and does not link them again (it checks
/// their build IDs: a binary from other settings is linked anew). Locked
/// while in use; one per input directory, pattern, target and cgo.
struct BuildCache {
    dir: PathBuf,
    _lock: std::fs::File,
}

impl BuildCache {
    fn open(input: &Input, cgo: bool) -> Result<BuildCache> {
        use std::hash::{Hash, Hasher};
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .unwrap_or_else(std::env::temp_dir)
            .join("goaci");
        let mut key = std::collections::hash_map::DefaultHasher::new();
        let dir = std::fs::canonicalize(&input.dir).unwrap_or_else(|_| input.dir.clone());
        (dir, &input.pattern, cgo).hash(&mut key);
        for var in ["GOOS", "GOARCH", "GOARM", "GOFLAGS"] {
            std::env::var_os(var).hash(&mut key);
        }
        let dir = base.join(format!("{:016x}", key.finish()));
        std::fs::create_dir_all(&dir).map_err(at(&dir))?;
        let lock_path = dir.join(".lock");
        let lock = std::fs::File::create(&lock_path).map_err(at(&lock_path))?;
        lock.lock().map_err(at(&lock_path))?;
        Ok(BuildCache { dir, _lock: lock })
    }
}

/// A scoped thread's result, its panic carried on.
fn joined<T>(r: std::thread::Result<T>) -> T {
    r.unwrap_or_else(|p| std::panic::resume_unwind(p))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

pub fn run(opts: &Options) -> Result<Built> {
    let go = Go::new(&opts.go_binary);
    let ports = opts
        .ports
        .iter()
        .map(|p| manifest::parse_port(p))
        .collect::<Result<Vec<_>>>()?;
    let tmp = tempfile::Builder::new()
        .prefix("goaci-")
        .tempdir()
        .map_err(at(std::env::temp_dir()))?;
    let input = resolve_input(&go, &opts.input, tmp.path())?;
    let static_out = BuildCache::open(&input, false)?;
    // The static build runs while go says what the target is and which
    // packages the input names (most often the build is the one needed).
    // For a package directory its go.mod says what go list would, unless
    // a command is asked for by name: go list runs if the build fails.
    let known = (input.pattern == "." && opts.use_binary.is_none())
        .then(|| package_in(&input.dir))
        .flatten();
    let list = || go.list(&input.dir, &[&input.pattern], false, true);
    let (env, listed, static_build) = std::thread::scope(|s| {
        let env = s.spawn(|| go.env(&input.dir));
        let listed = known.is_none().then(|| s.spawn(list));
        let build = go.build(&input.dir, &input.pattern, &static_out.dir, false);
        (joined(env.join()), listed.map(|l| joined(l.join())), build)
    });
    let env = env?;
    let (os, arch) =
        appc::schema::types::labels::from_go_os_arch(&env.goos, &env.goarch, &env.goarm)
            .map_err(|e| GoaciError::Manifest(e.to_string()))?;
    let package = match (known, &static_build) {
        (Some(p), Ok(())) => p,
        _ => choose(
            &listed.unwrap_or_else(list)?,
            &input,
            opts.use_binary.as_deref(),
        )?,
    };
    let (out, cgo) = match static_build {
        Ok(()) => (static_out, false),
        Err(e) if !needs_cgo(&go, &input, &package, &env)? => return Err(e),
        Err(_) => {
            let cgo_out = BuildCache::open(&input, true)?;
            go.build(&input.dir, &package.import_path, &cgo_out.dir, true)?;
            (cgo_out, true)
        }
    };
    let project = package
        .module
        .as_ref()
        .and_then(|m| m.dir.clone())
        .unwrap_or_else(|| package.dir.clone());
    let layout = tmp.path().join("aci");
    let rootfs = layout.join("rootfs");
    std::fs::create_dir_all(&rootfs).map_err(at(&rootfs))?;
    let binary = package.binary_name();
    let built = rootfs.join(&binary);
    // Linked where it can be (the cache stays locked until the image is
    // written), else copied.
    let made = out.dir.join(&binary);
    if std::fs::hard_link(&made, &built).is_err() {
        std::fs::copy(&made, &built).map_err(at(&made))?;
    }
    if cgo {
        libs::copy_into(&libs::needed(&built)?, &rootfs)?;
    }
    for spec in &opts.assets {
        assets::copy(&assets::parse(spec, &project)?, &rootfs)?;
    }
    let module_path = package
        .module
        .as_ref()
        .map_or(&package.import_path, |m| &m.path);
    let created = opts.source_date_epoch.map_or_else(now, |e| e as i64);
    let mut annotations = vec![(
        "created".to_string(),
        appc::schema::types::date::rfc3339_utc(created),
    )];
    // A module path that starts with a host names where the project lives.
    if module_path
        .split('/')
        .next()
        .is_some_and(|host| host.contains('.'))
    {
        annotations.push(("homepage".into(), format!("https://{module_path}")));
    }
    let spec = manifest::Spec {
        name: match &opts.name {
            Some(n) => manifest::image_name(n)?,
            None => manifest::image_name(&package.import_path)?,
        },
        version: version(&package, &project),
        os: os.into(),
        arch: arch.into(),
        exec: std::iter::once(format!("/{binary}"))
            .chain(opts.exec.iter().cloned())
            .collect(),
        user: opts.user.clone(),
        group: opts.group.clone(),
        ports,
        annotations,
    };
    let manifest_path = layout.join("manifest");
    std::fs::write(&manifest_path, manifest::to_json(&spec)?).map_err(at(&manifest_path))?;
    let aci = opts
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{binary}.aci")));
    write_aci(&layout, &aci, opts)?;
    drop(out);
    let kept = opts.keep_tmp.then(|| tmp.keep());
    Ok(Built { aci, kept })
}

/// Writes the ACI next to `aci` and renames it there once complete.
fn write_aci(layout: &Path, aci: &Path, opts: &Options) -> Result<()> {
    let dir = match aci.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file = tempfile::Builder::new()
        .prefix(".goaci-")
        .tempfile_in(&dir)
        .map_err(at(&dir))?;
    let build = BuildOptions {
        compression: opts.compression,
        owner_root: true,
        mtime_clamp: opts.source_date_epoch,
    };
    let written = appc::aci::build_aci(layout, file, build)?;
    std::fs::set_permissions(
        written.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .map_err(at(written.path()))?;
    written.persist(aci).map_err(|e| GoaciError::Io {
        path: aci.to_path_buf(),
        source: e.error,
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_package_as_its_go_mod_names_it() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::create_dir_all(root.join("cmd/srv")).unwrap();
        std::fs::write(
            root.join("go.mod"),
            "// a comment\nmodule \"example.com/Web\" // quoted\n\ngo 1.19\n",
        )
        .unwrap();
        let p = package_in(&root.join("cmd/srv")).unwrap();
        assert_eq!(p.import_path, "example.com/Web/cmd/srv");
        assert_eq!(p.binary_name(), "srv");
        let m = p.module.unwrap();
        assert_eq!(
            (m.path.as_str(), m.dir.unwrap()),
            ("example.com/Web", root.canonicalize().unwrap())
        );
        assert_eq!(package_in(root).unwrap().binary_name(), "Web");
        std::fs::write(root.join("go.mod"), "go 1.19\n").unwrap();
        assert!(package_in(root).is_none());
    }
}
