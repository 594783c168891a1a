//! An app's root: overlayfs over its image's rendered tree, with `/proc`,
//! `/sys` (read-only), a fresh `/dev`, `/etc/hosts` and `/etc/resolv.conf`;
//! then the app itself, chrooted, with its user, group, environment and
//! working directory.

use crate::args::Args;
use crate::cgroups::PodCgroups;
use crate::init::{cstr, path_str};
use appc::schema::pod_manifest::RuntimeApp;
use appc::schema::types::isolator::IsolatorValue;
use nix::mount::{MsFlags, mount};
use nix::sys::stat::{Mode, SFlag, makedev, mknod};
use std::path::{Path, PathBuf};

fn mnt(
    src: Option<&str>,
    target: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<(), String> {
    mount(src, target, fstype, flags, data).map_err(|e| {
        format!(
            "mounting {} on {}: {e}",
            fstype.or(src).unwrap_or("?"),
            path_str(target)
        )
    })
}

fn mkdirs(p: &Path) -> Result<(), String> {
    std::fs::create_dir_all(p).map_err(|e| format!("{}: {e}", path_str(p)))
}

/// Makes every mount of this (new) mount namespace private.
pub fn make_private() -> Result<(), String> {
    mnt(
        None,
        Path::new("/"),
        None,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None,
    )
}

const DEVICES: [(&str, u64, u64); 6] = [
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

fn dev(root: &Path, fly: bool) -> Result<(), String> {
    let d = root.join("dev");
    mkdirs(&d)?;
    if fly {
        return mnt(
            Some("/dev"),
            &d,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None,
        );
    }
    let nosuid = MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME;
    mnt(
        Some("tmpfs"),
        &d,
        Some("tmpfs"),
        nosuid,
        Some("mode=755,size=65536k"),
    )?;
    for (name, major, minor) in DEVICES {
        let p = d.join(name);
        mknod(
            &p,
            SFlag::S_IFCHR,
            Mode::from_bits_truncate(0o666),
            makedev(major, minor),
        )
        .map_err(|e| format!("{}: {e}", path_str(&p)))?;
        // mknod is subject to the umask.
        nix::sys::stat::fchmodat(
            nix::fcntl::AT_FDCWD,
            &p,
            Mode::from_bits_truncate(0o666),
            nix::sys::stat::FchmodatFlags::FollowSymlink,
        )
        .map_err(|e| format!("{}: {e}", path_str(&p)))?;
    }
    let pts = d.join("pts");
    mkdirs(&pts)?;
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC;
    mnt(
        Some("devpts"),
        &pts,
        Some("devpts"),
        flags,
        Some("newinstance,ptmxmode=0666,mode=0620,gid=5"),
    )?;
    let shm = d.join("shm");
    mkdirs(&shm)?;
    mnt(
        Some("tmpfs"),
        &shm,
        Some("tmpfs"),
        flags | MsFlags::MS_NODEV,
        Some("mode=1777"),
    )?;
    for (link, target) in [
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        std::os::unix::fs::symlink(target, d.join(link))
            .map_err(|e| format!("/dev/{link}: {e}"))?;
    }
    Ok(())
}

/// Mounts the app's root and what it needs inside; returns the root.
pub fn prepare(args: &Args, app: &RuntimeApp, fly: bool) -> Result<PathBuf, String> {
    let name = app.name.as_str();
    let tree = args.tree(name)?;
    let root = args.app_rootfs(name);
    let overlay = args.pod_dir.join("overlay").join(name);
    let (upper, work) = (overlay.join("upper"), overlay.join("work"));
    for d in [&root, &upper, &work] {
        mkdirs(d)?;
    }
    let opts = format!(
        "lowerdir={},upperdir={},workdir={}",
        path_str(&tree.join("rootfs")),
        path_str(&upper),
        path_str(&work)
    );
    mnt(
        Some("overlay"),
        &root,
        Some("overlay"),
        MsFlags::empty(),
        Some(&opts),
    )?;

    let proc = root.join("proc");
    mkdirs(&proc)?;
    let hardened = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mnt(Some("proc"), &proc, Some("proc"), hardened, None)?;
    let sys = root.join("sys");
    mkdirs(&sys)?;
    mnt(
        Some("sysfs"),
        &sys,
        Some("sysfs"),
        hardened | MsFlags::MS_RDONLY,
        None,
    )?;
    dev(&root, fly)?;
    if !fly && args.interactive() && nix::unistd::isatty(std::io::stdin()).unwrap_or(false) {
        // The terminal, as the app's console.
        let tty = std::fs::read_link("/proc/self/fd/0").map_err(|e| format!("stdin: {e}"))?;
        let console = root.join("dev/console");
        std::fs::write(&console, "").map_err(|e| format!("{}: {e}", path_str(&console)))?;
        let tty = path_str(&tty);
        mnt(Some(tty.as_str()), &console, None, MsFlags::MS_BIND, None)?;
    }

    let etc = root.join("etc");
    mkdirs(&etc)?;
    let hosts = etc.join("hosts");
    if std::fs::symlink_metadata(&hosts).is_err() {
        let text = format!(
            "127.0.0.1\tlocalhost localhost.localdomain {0}\n::1\tlocalhost ip6-localhost {0}\n",
            args.hostname()
        );
        std::fs::write(&hosts, text).map_err(|e| format!("{}: {e}", path_str(&hosts)))?;
    }
    // The pod's own resolv.conf (rkt run --dns), else the host's.
    let resolv = etc.join("resolv.conf");
    let pod_resolv = args.pod_dir.join("resolv.conf");
    let source = if pod_resolv.exists() {
        pod_resolv
    } else {
        PathBuf::from("/etc/resolv.conf")
    };
    if source.exists() {
        if std::fs::symlink_metadata(&resolv).is_err() {
            std::fs::write(&resolv, "").map_err(|e| format!("{}: {e}", path_str(&resolv)))?;
        }
        // A symlink in the image is replaced, so the bind cannot be redirected.
        if std::fs::symlink_metadata(&resolv).is_ok_and(|m| m.file_type().is_file()) {
            let src = path_str(&source);
            mnt(Some(src.as_str()), &resolv, None, MsFlags::MS_BIND, None)?;
            mnt(
                None,
                &resolv,
                None,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
                None,
            )?;
        }
    }
    Ok(root)
}

/// Makes the app's root mount read-only (its submounts keep their own
/// flags).
pub fn make_read_only(root: &Path) -> Result<(), String> {
    let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
    mnt(None, root, None, flags, None)
}

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The app's environment in the spec's order: PATH default, AC_APP_NAME,
/// container=rkt, then the app's own (which stage0 already merged with
/// the user's overrides); later entries replace earlier ones.
fn environment(app: &RuntimeApp) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = vec![
        ("PATH".into(), DEFAULT_PATH.into()),
        ("AC_APP_NAME".into(), app.name.to_string()),
        ("container".into(), "rkt".into()),
    ];
    for v in app.app.iter().flat_map(|a| a.environment.0.iter()) {
        match env.iter_mut().find(|(k, _)| *k == v.name) {
            Some(e) => e.1 = v.value.clone(),
            None => env.push((v.name.clone(), v.value.clone())),
        }
    }
    env
}

/// Finds `cmd` on `path` (inside the app's root, after chroot).
fn which(cmd: &str, path: &str) -> Option<String> {
    if cmd.contains('/') {
        return Some(cmd.to_string());
    }
    path.split(':')
        .map(|d| format!("{d}/{cmd}"))
        .find(|p| nix::unistd::access(p.as_str(), nix::unistd::AccessFlags::X_OK).is_ok())
}

/// Becomes the app: chroot, working directory, user and group, exec.
/// Returns only on failure, with the status to exit with.
pub fn exec_app(app: &RuntimeApp, root: &Path, cgroups: Option<&PodCgroups>) -> i32 {
    let exec = app
        .app
        .as_ref()
        .and_then(|a| a.exec.clone())
        .unwrap_or_default();
    exec_in_root(app, root, &exec, false, cgroups)
}

/// Runs `argv` in the app's root and environment, as the app's user or
/// (for event handlers) as root. Returns only on failure.
pub fn exec_in_root(
    app: &RuntimeApp,
    root: &Path,
    argv: &[String],
    as_root: bool,
    cgroups: Option<&PodCgroups>,
) -> i32 {
    let err = match try_exec(app, root, argv, as_root, cgroups) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    eprintln!("stage1: app {}: {err}", app.name);
    254
}

fn try_exec(
    app: &RuntimeApp,
    root: &Path,
    exec: &[String],
    as_root: bool,
    cgroups: Option<&PodCgroups>,
) -> Result<std::convert::Infallible, String> {
    let a = app
        .app
        .as_ref()
        .ok_or("the pod manifest has no app section")?;
    if exec.is_empty() {
        return Err("nothing to execute".into());
    }
    if let Some(c) = cgroups {
        c.join_app(app.name.as_str())?;
    }
    let oom_adj = a.isolators.iter().find_map(|i| match i.value() {
        Some(IsolatorValue::OomScoreAdj(n)) => Some(*n),
        _ => None,
    });
    if let Some(adj) = oom_adj {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string())
            .map_err(|e| format!("oom score adjustment {adj}: {e}"))?;
    }
    nix::unistd::chdir(root).map_err(|e| format!("{}: {e}", path_str(root)))?;
    nix::unistd::chroot(".").map_err(|e| format!("chroot: {e}"))?;
    let wd = if a.working_directory.is_empty() {
        "/"
    } else {
        a.working_directory.as_str()
    };
    nix::unistd::chdir(wd).map_err(|e| format!("working directory {wd}: {e}"))?;
    let (uid, gid) = if as_root {
        (0, 0)
    } else {
        (crate::users::uid(&a.user)?, crate::users::gid(&a.group)?)
    };
    let may_mknod = cgroups.is_some_and(PodCgroups::limits_devices);
    crate::caps::limit_bounding_set(&crate::caps::kept(a, may_mknod)?)?;
    let groups: Vec<nix::unistd::Gid> = a
        .supplementary_gids
        .iter()
        .map(|g| nix::unistd::Gid::from_raw(*g as u32))
        .collect();
    nix::unistd::setgroups(&groups).map_err(|e| format!("supplementary groups: {e}"))?;
    nix::unistd::setgid(nix::unistd::Gid::from_raw(gid))
        .map_err(|e| format!("group {}: {e}", a.group))?;
    nix::unistd::setuid(nix::unistd::Uid::from_raw(uid))
        .map_err(|e| format!("user {}: {e}", a.user))?;
    if crate::caps::no_new_privileges(a) {
        nix::sys::prctl::set_no_new_privs().map_err(|e| format!("no-new-privileges: {e}"))?;
    }
    let env = environment(app);
    let path = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map_or(DEFAULT_PATH, |(_, v)| v.as_str());
    let program = which(&exec[0], path)
        .ok_or_else(|| format!("{} not found in the image (PATH={path})", exec[0]))?;
    let argv: Vec<_> = exec.iter().map(|s| cstr(s)).collect::<Result<_, _>>()?;
    let envp: Vec<_> = env
        .iter()
        .map(|(k, v)| cstr(&format!("{k}={v}")))
        .collect::<Result<_, _>>()?;
    let e = nix::unistd::execve(&cstr(&program)?, &argv, &envp)
        .err()
        .unwrap_or(nix::errno::Errno::UnknownErrno);
    Err(format!("cannot run {program}: {e}"))
}
