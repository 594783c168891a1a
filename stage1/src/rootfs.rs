//! An app's root: overlayfs over its image's rendered tree, with `/proc`
//! (its host-wide parts read-only or masked), `/sys` (read-only), a fresh
//! `/dev`, `/etc/hosts` and `/etc/resolv.conf`.

use crate::args::Args;
use crate::init::path_str;
use appc::schema::pod_manifest::RuntimeApp;
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

/// Parts of /proc that reach the whole host (not just the pod's
/// namespaces): made read-only.
const READ_ONLY_PATHS: [&str; 5] = [
    "proc/sys",
    "proc/sysrq-trigger",
    "proc/irq",
    "proc/bus",
    "proc/fs",
];

/// Files of /proc that show the host's kernel memory, keys or timers:
/// hidden under /dev/null.
const MASKED_FILES: [&str; 6] = [
    "proc/kcore",
    "proc/keys",
    "proc/timer_list",
    "proc/sched_debug",
    "proc/latency_stats",
    "proc/timer_stats",
];

/// Directories hidden under an empty read-only tmpfs.
const MASKED_DIRS: [&str; 3] = ["proc/acpi", "proc/scsi", "sys/firmware"];

/// Keeps a root app from changing the host through /proc (sysctls,
/// sysrq) or reading its kernel memory; `--insecure-options=paths`
/// turns this off.
fn protect_kernel_paths(root: &Path) -> Result<(), String> {
    let exists = |rel: &str| std::fs::symlink_metadata(root.join(rel)).is_ok();
    for rel in READ_ONLY_PATHS.iter().filter(|r| exists(r)) {
        let p = root.join(rel);
        mnt(
            Some(path_str(&p).as_str()),
            &p,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None,
        )?;
        let ro = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
        mnt(
            None,
            &p,
            None,
            ro | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            None,
        )?;
    }
    for rel in MASKED_FILES.iter().filter(|r| exists(r)) {
        mnt(
            Some("/dev/null"),
            &root.join(rel),
            None,
            MsFlags::MS_BIND,
            None,
        )?;
    }
    for rel in MASKED_DIRS.iter().filter(|r| exists(r)) {
        let flags =
            MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
        mnt(
            Some("tmpfs"),
            &root.join(rel),
            Some("tmpfs"),
            flags,
            Some("size=0"),
        )?;
    }
    Ok(())
}

/// The overlay's mount options: the image tree's rootfs under the pod's
/// writable layer `overlay` (`upper`, `work`). `rkt export` mounts the same.
pub fn overlay_options(tree: &Path, overlay: &Path) -> String {
    format!(
        "lowerdir={},upperdir={},workdir={}",
        path_str(&tree.join("rootfs")),
        path_str(&overlay.join("upper")),
        path_str(&overlay.join("work"))
    )
}

/// Mounts an overlay of the image's tree on `root`, its writable layer in
/// the pod's `overlay/<app>`. Where overlayfs is missing or refuses the
/// store's file system, says so and returns false (the caller copies).
fn mount_overlay(args: &Args, name: &str, tree: &Path, root: &Path) -> Result<bool, String> {
    let overlay = args.pod_dir.join("overlay").join(name);
    let (upper, work) = (overlay.join("upper"), overlay.join("work"));
    for d in [&upper, &work] {
        mkdirs(d)?;
    }
    let opts = overlay_options(tree, &overlay);
    use nix::errno::Errno;
    match mount(
        Some("overlay"),
        root,
        Some("overlay"),
        MsFlags::empty(),
        Some(opts.as_str()),
    ) {
        Ok(()) => Ok(true),
        Err(e @ (Errno::ENODEV | Errno::EINVAL | Errno::EOPNOTSUPP)) => {
            eprintln!("stage1: app {name}: overlayfs cannot be used here ({e}); copying its image");
            // Without an overlay directory, `rkt export` takes the copy.
            std::fs::remove_dir_all(&overlay)
                .map_err(|e| format!("{}: {e}", path_str(&overlay)))?;
            Ok(false)
        }
        Err(e) => Err(format!("mounting overlay on {}: {e}", path_str(root))),
    }
}

/// Mounts the app's root and what it needs inside; returns the root.
pub fn prepare(args: &Args, app: &RuntimeApp, fly: bool) -> Result<PathBuf, String> {
    let name = app.name.as_str();
    let tree = args.tree(name)?;
    let root = args.app_rootfs(name);
    mkdirs(&root)?;
    if args.no_overlay() || !mount_overlay(args, name, &tree, &root)? {
        crate::copy::tree(&tree.join("rootfs"), &root)?;
        // A mount of its own, as an overlay would be (for --readonly-rootfs).
        let r = path_str(&root);
        mnt(Some(r.as_str()), &root, None, MsFlags::MS_BIND, None)?;
    }

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
    if !fly && !args.disable_paths {
        protect_kernel_paths(&root)?;
    }
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
