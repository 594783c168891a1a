//! An app's root: overlayfs over its image's rendered tree, with `/proc`
//! (its host-wide parts read-only or masked), `/sys` (read-only), a fresh
//! `/dev`, `/etc/hosts` and `/etc/resolv.conf`.

use crate::args::Args;
use crate::init::path_str;
use crate::rootdir::{RootDir, fd_path, make_read_only_below, mount_on};
use appc::schema::pod_manifest::RuntimeApp;
use nix::mount::{MsFlags, mount};
use nix::sys::stat::{FchmodatFlags, Mode, SFlag, fchmodat, makedev, mknodat};
use pod::dns::{FileSource, default_hosts};
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

fn dev(root: &RootDir, fly: bool) -> Result<(), String> {
    let target = root.mkdir_all("dev")?;
    if fly {
        let flags = MsFlags::MS_BIND | MsFlags::MS_REC;
        return mount_on(Some(Path::new("/dev")), &target, None, flags, None, "/dev");
    }
    let nosuid = MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME;
    let opts = Some("mode=755,size=65536k");
    mount_on(
        Some(Path::new("tmpfs")),
        &target,
        Some("tmpfs"),
        nosuid,
        opts,
        "/dev",
    )?;
    // The fresh tmpfs: what is made below is ours, not the image's.
    let d = root.sub("dev")?;
    for (name, major, minor) in DEVICES {
        let err = |e| format!("/dev/{name}: {e}");
        mknodat(
            d.fd(),
            name,
            SFlag::S_IFCHR,
            Mode::empty(),
            makedev(major, minor),
        )
        .map_err(err)?;
        // Set apart from mknod, which is subject to the umask.
        fchmodat(
            d.fd(),
            name,
            Mode::from_bits_truncate(0o666),
            FchmodatFlags::FollowSymlink,
        )
        .map_err(err)?;
    }
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC;
    let pts = d.mkdir_all("pts")?;
    let opts = Some("newinstance,ptmxmode=0666,mode=0620,gid=5");
    mount_on(
        Some(Path::new("devpts")),
        &pts,
        Some("devpts"),
        flags,
        opts,
        "/dev/pts",
    )?;
    let shm = d.mkdir_all("shm")?;
    let opts = Some("mode=1777");
    let shm_flags = flags | MsFlags::MS_NODEV;
    mount_on(
        Some(Path::new("tmpfs")),
        &shm,
        Some("tmpfs"),
        shm_flags,
        opts,
        "/dev/shm",
    )?;
    for (link, target) in [
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        nix::unistd::symlinkat(target, d.fd(), link).map_err(|e| format!("/dev/{link}: {e}"))?;
    }
    Ok(())
}

/// Parts of /proc that reach the whole host (not just the pod's
/// namespaces): made read-only.
const READ_ONLY_PATHS: [&str; 5] = ["sys", "sysrq-trigger", "irq", "bus", "fs"];

/// Files of /proc that show the host's kernel memory, keys or timers:
/// hidden under /dev/null.
const MASKED_FILES: [&str; 6] = [
    "kcore",
    "keys",
    "timer_list",
    "sched_debug",
    "latency_stats",
    "timer_stats",
];

/// Directories hidden under an empty read-only tmpfs.
const MASKED_DIRS: [&str; 3] = ["proc/acpi", "proc/scsi", "sys/firmware"];

/// Keeps a root app from changing the host through /proc (sysctls,
/// sysrq) or reading its kernel memory; `--insecure-options=paths`
/// turns this off. Applied to the pod's fresh /proc and /sys mounts.
fn protect_kernel_paths(root: &RootDir) -> Result<(), String> {
    let proc = root.sub("proc")?;
    let hardened = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    for rel in READ_ONLY_PATHS {
        let Ok(fd) = proc.resolve(rel) else { continue };
        let what = format!("/proc/{rel}");
        let bind = MsFlags::MS_BIND | MsFlags::MS_REC;
        mount_on(Some(&fd_path(&fd)), &fd, None, bind, None, &what)?;
        // The bind is now on top: reach it anew to remount it.
        let fd = proc.resolve(rel)?;
        let ro = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
        mount_on(None, &fd, None, ro | hardened, None, &what)?;
        make_read_only_below(&fd, &what)?;
    }
    for rel in MASKED_FILES {
        let Ok(fd) = proc.resolve(rel) else { continue };
        let null = Some(Path::new("/dev/null"));
        mount_on(
            null,
            &fd,
            None,
            MsFlags::MS_BIND,
            None,
            &format!("/proc/{rel}"),
        )?;
    }
    for rel in MASKED_DIRS {
        let Ok(fd) = root.resolve(rel) else { continue };
        let flags = MsFlags::MS_RDONLY | hardened;
        let empty = Some("size=0");
        mount_on(
            Some(Path::new("tmpfs")),
            &fd,
            Some("tmpfs"),
            flags,
            empty,
            &format!("/{rel}"),
        )?;
    }
    Ok(())
}

/// Mounts an overlay of the image's tree on `root`, its writable layer in
/// the pod's `overlay/<app>`. Where overlayfs is missing or refuses the
/// store's file system, says so and returns false (the caller copies).
fn mount_overlay(args: &Args, name: &str, tree: &Path, root: &Path) -> Result<bool, String> {
    let overlay = args.pod_dir.overlay(name);
    let (upper, work) = (overlay.join("upper"), overlay.join("work"));
    for d in [&upper, &work] {
        mkdirs(d)?;
    }
    let opts = pod::dir::overlay_options(tree, &overlay);
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
/// Everything inside is reached through [`RootDir`]: the image decides
/// what its paths are, never where stage1's mounts and files land.
pub fn prepare(args: &Args, app: &RuntimeApp, fly: bool) -> Result<PathBuf, String> {
    let name = app.name.as_str();
    let tree = args.tree(name)?;
    let root_path = args.app_rootfs(name);
    mkdirs(&root_path)?;
    if args.no_overlay() || !mount_overlay(args, name, &tree, &root_path)? {
        crate::copy::tree(&tree.join("rootfs"), &root_path)?;
        // A mount of its own, as an overlay would be (for --readonly-rootfs).
        let r = path_str(&root_path);
        mnt(Some(r.as_str()), &root_path, None, MsFlags::MS_BIND, None)?;
    }
    // Opened after the mount: the app's root as the app will see it.
    let root = RootDir::open(&root_path)?;

    let hardened = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let proc = root.mkdir_all("proc")?;
    mount_on(
        Some(Path::new("proc")),
        &proc,
        Some("proc"),
        hardened,
        None,
        "/proc",
    )?;
    let sys = root.mkdir_all("sys")?;
    let ro = hardened | MsFlags::MS_RDONLY;
    mount_on(
        Some(Path::new("sysfs")),
        &sys,
        Some("sysfs"),
        ro,
        None,
        "/sys",
    )?;
    dev(&root, fly)?;
    if !fly && !args.disable_paths {
        protect_kernel_paths(&root)?;
    }
    Ok(root_path)
}

/// The files of the app's root (mounted by [`prepare`]) that name the
/// pod: `/etc/hostname`, `/etc/hosts`, `/etc/resolv.conf`. The latter two
/// come from the pod's networks, once joined.
pub fn name_files(args: &Args, root_path: &Path, fly: bool) -> Result<(), String> {
    let root = RootDir::open(root_path)?;
    root.mkdir_all("etc")?;
    if !fly {
        // rkt's: the pod's hostname, and the mount table where tools look.
        root.replace_file("etc/hostname", &format!("{}\n", args.hostname()))?;
        root.symlink_new("etc/mtab", "../proc/self/mounts")?;
    }
    // rkt's --hosts-entry and --dns: the pod's own text or the host's,
    // written into the app's root as a file of its own (never a bind of
    // a host file, whose mount would lead to the host's file system), or
    // else the image's (for hosts, a stub where the image has none).
    match args.dns.hosts(&args.hostname()) {
        FileSource::Own(text) => root.set_file("etc/hosts", &text)?,
        FileSource::Host => root.set_file("etc/hosts", &read_host_file("/etc/hosts")?)?,
        FileSource::Image => {
            // The stub names the pod's own addresses too.
            let hostname = args.hostname();
            let mut stub = default_hosts(&hostname);
            for net in pod::net::joined(&args.pod_dir) {
                net.ips
                    .iter()
                    .for_each(|ip| stub.push_str(&format!("{ip} {hostname}\n")));
            }
            root.create_new("etc/hosts", &stub)?;
        }
    }
    // The pod's own resolv.conf (written by the supervisor) is from
    // --dns servers or, without --dns, from its networks' DNS; with
    // --dns=host the host's; else the image's.
    let own = args.pod_dir.resolv_conf();
    let text = match args.dns.resolv_conf() {
        FileSource::Host => Some(read_host_file("/etc/resolv.conf")?),
        _ if own.exists() => {
            Some(std::fs::read_to_string(&own).map_err(|e| format!("{}: {e}", path_str(&own)))?)
        }
        _ => None,
    };
    if let Some(text) = text {
        root.set_file("etc/resolv.conf", &text)?;
    }
    Ok(())
}

/// A host file the pod gets a copy of; empty where the host has none.
fn read_host_file(path: &str) -> Result<String, String> {
    match std::fs::read_to_string(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        read => read.map_err(|e| format!("{path}: {e}")),
    }
}

/// Binds the socket `source` on `/path` of the app's root at
/// `root_path` (its directories made as needed).
pub fn bind_socket(root_path: &Path, path: &str, source: &Path) -> Result<(), String> {
    let root = RootDir::open(root_path)?;
    let rel = path.trim_start_matches('/');
    if let Some((dir, _)) = rel.rsplit_once('/') {
        root.mkdir_all(dir)?;
    }
    root.create_new(rel, "")?;
    let target = root.resolve(rel)?;
    mount_on(Some(source), &target, None, MsFlags::MS_BIND, None, path)
}

/// Makes the app's root mount read-only (its submounts keep their own
/// flags).
pub fn make_read_only(root: &Path) -> Result<(), String> {
    let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
    mnt(None, root, None, flags, None)
}
