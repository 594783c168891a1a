//! The pod's control groups: one per pod under the supervisor's own cgroup
//! in every hierarchy (so a systemd unit running `rkt run` contains its
//! pod), and one per app below it, where the app's resource isolators and
//! its device allow-list apply. v1 hierarchies and the unified (v2) one
//! are handled alike; a limit goes to a v1 hierarchy with its controller
//! when there is one (hybrid hosts), else to v2, and is refused when
//! neither can enforce it.
//!
//! The pod's cgroup directories are recorded in the pod directory's
//! `cgroups` file (one per line; an app's is `<line>/<app name>`), which
//! `rkt enter` joins and `rkt gc` removes if the supervisor could not.

mod bpf;
pub mod devices;
mod hierarchy;
mod limits;
mod v2;

pub use hierarchy::{Hierarchy, hierarchies};
pub use limits::Limits;

use appc::schema::pod_manifest::RuntimeApp;
use limits::{CPU_PERIOD_US, v2_name};
use pod::PodDir;
use std::path::{Path, PathBuf};
use v2::Delegation;

/// How the apps are held to their device allow-list, if at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DeviceLimit {
    None,
    V1,
    Program,
}

/// The pod's cgroups, created by the supervisor before the pod init.
pub struct PodCgroups {
    hierarchies: Vec<Hierarchy>,
    /// The pod's directory in each hierarchy.
    dirs: Vec<PathBuf>,
    /// The controllers handed to the pod in the unified hierarchy.
    delegation: Option<Delegation>,
    devices: DeviceLimit,
}

pub(crate) fn write(path: &Path, value: &str) -> Result<(), String> {
    std::fs::write(path, value).map_err(|e| format!("{} = {value}: {e}", path.display()))
}

/// A cgroup directory for a process to start in (`crate::fork_into`);
/// none if it cannot be opened, and the process is moved by a write.
fn start_dir(path: &Path) -> Option<std::os::fd::OwnedFd> {
    let flags =
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC;
    rustix::fs::open(path, flags, rustix::fs::Mode::empty()).ok()
}

pub(crate) fn mkdir(path: &Path) -> Result<(), String> {
    match std::fs::create_dir(path) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
            Err(format!("{}: {e}", path.display()))
        }
        _ => Ok(()),
    }
}

impl PodCgroups {
    /// Creates the pod's cgroup and its apps' in every hierarchy, with
    /// their limits and device lists, and records them in `pod_dir` first
    /// (so that they are found even if this process dies half-way).
    pub fn create(pod_dir: &PodDir, uuid: &str, apps: &[RuntimeApp]) -> Result<PodCgroups, String> {
        let read = |p: &str| std::fs::read_to_string(p).map_err(|e| format!("{p}: {e}"));
        let hierarchies = hierarchies(&read("/proc/self/mountinfo")?, &read("/proc/self/cgroup")?);
        let mut pod = PodCgroups {
            dirs: hierarchies
                .iter()
                .map(|h| h.own.join(format!("rkt-{uuid}")))
                .collect(),
            hierarchies,
            delegation: None,
            devices: DeviceLimit::None,
        };
        pod.record(pod_dir)?;
        let made = pod.make_pod_dirs(pod_dir).and_then(|()| {
            pod.delegate(apps)?;
            pod.devices = pod.device_limit();
            let disks = limits::block_devices();
            apps.iter().try_for_each(|a| pod.create_app(a, &disks))
        });
        if let Err(e) = made {
            let _ = pod.remove();
            return Err(e);
        }
        Ok(pod)
    }

    fn record(&self, pod_dir: &PodDir) -> Result<(), String> {
        let text: String = self
            .dirs
            .iter()
            .map(|d| format!("{}\n", d.display()))
            .collect();
        // Whole or not at all: gc trusts every line to name this pod.
        let path = pod_dir.cgroups();
        let tmp = path.with_extension("tmp");
        write(&tmp, &text)?;
        std::fs::rename(&tmp, &path).map_err(|e| format!("{}: {e}", tmp.display()))
    }

    /// Makes the pod's directory in each hierarchy. A hierarchy this
    /// process may not write to (cgroupfs mounted read-only, as in some
    /// containers) is left out, and the record says so; what it would
    /// have enforced is then refused or, for devices, not relied on.
    fn make_pod_dirs(&mut self, pod_dir: &PodDir) -> Result<(), String> {
        let mut writable = Vec::new();
        for (h, dir) in self.hierarchies.iter().zip(&self.dirs) {
            match std::fs::create_dir(dir) {
                Ok(()) => writable.push(true),
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(nix::libc::EROFS | nix::libc::EACCES | nix::libc::EPERM)
                    ) =>
                {
                    eprintln!("stage1: no pod cgroup in {}: {e}", h.own.display());
                    writable.push(false);
                }
                // The caller removes the ones made so far.
                Err(e) => return Err(format!("{}: {e}", dir.display())),
            }
        }
        let mut kept = writable.iter();
        self.hierarchies.retain(|_| *kept.next().unwrap_or(&false));
        let mut kept = writable.iter();
        self.dirs.retain(|_| *kept.next().unwrap_or(&false));
        self.record(pod_dir)
    }

    /// The v1 hierarchy with `controller` (by its v2 name), if any.
    fn v1_with(&self, controller: &str) -> Option<&Hierarchy> {
        self.hierarchies
            .iter()
            .find(|h| h.controllers.iter().any(|c| v2_name(c) == controller))
    }

    fn unified(&self) -> Option<(&Hierarchy, &PathBuf)> {
        self.hierarchies
            .iter()
            .zip(&self.dirs)
            .find(|(h, _)| h.is_unified())
    }

    /// Hands the unified hierarchy's controllers to the pod for the limits
    /// no v1 hierarchy enforces; refuses limits that nothing enforces.
    fn delegate(&mut self, apps: &[RuntimeApp]) -> Result<(), String> {
        let mut wanted: Vec<&'static str> = Vec::new();
        for app in apps {
            for c in Limits::of(app).controllers() {
                if self.v1_with(c).is_some() || wanted.contains(&c) {
                    continue;
                }
                if self.unified().is_none() {
                    return Err(format!(
                        "app {}: its isolators need the cgroup {c} controller, which this host does not mount",
                        app.name
                    ));
                }
                wanted.push(c);
            }
        }
        if let (false, Some((h, dir))) = (wanted.is_empty(), self.unified()) {
            self.delegation = Some(v2::delegate(&h.own, dir, wanted)?);
        }
        Ok(())
    }

    /// v1's devices controller where mounted, else a device program on
    /// the unified hierarchy where the kernel takes one.
    fn device_limit(&self) -> DeviceLimit {
        if self.hierarchies.iter().any(|h| h.has("devices")) {
            DeviceLimit::V1
        } else if self.unified().is_some() {
            DeviceLimit::Program
        } else {
            DeviceLimit::None
        }
    }

    fn create_app(&mut self, app: &RuntimeApp, disks: &[(u64, u64)]) -> Result<(), String> {
        let limits = Limits::of(app);
        let allowed = devices::ALLOWED;
        for (h, pod_dir) in self.hierarchies.iter().zip(&self.dirs) {
            let dir = pod_dir.join(app.name.as_str());
            mkdir(&dir)?;
            if h.is_unified() {
                if let Some(d) = &self.delegation {
                    v2::apply(&dir, &limits, d, disks)?;
                }
                if self.devices == DeviceLimit::Program {
                    let attached = bpf::attach_device_program(&dir, &devices::program(&allowed));
                    if let Err(e) = attached {
                        // Without it CAP_MKNOD is withheld, as it is where
                        // nothing limits devices: no device node can be made.
                        eprintln!("stage1: {e}; apps keep no CAP_MKNOD");
                        self.devices = DeviceLimit::None;
                    }
                }
            } else {
                apply_v1(h, &dir, &limits, disks)?;
                if h.has("devices") {
                    write(&dir.join("devices.deny"), "a")?;
                    for rule in &allowed {
                        write(&dir.join("devices.allow"), &rule.v1_line())?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether apps are held to a device allow-list (so they may be
    /// given CAP_MKNOD).
    pub fn limits_devices(&self) -> bool {
        self.devices != DeviceLimit::None
    }

    /// The unified cgroup for the pod init to start in (`crate::fork_into`),
    /// if it is not where the supervisor is: the pod's own, unless the
    /// pod's cgroup hands down controllers (the supervisor is in its stage1
    /// leaf then). The supervisor's alone: the init must not hold it.
    pub fn init_dir(&self) -> Option<std::os::fd::OwnedFd> {
        let (_, dir) = self.unified().filter(|_| self.delegation.is_none())?;
        start_dir(dir)
    }

    /// Moves process `pid` (the pod init) into the pod's cgroups; into
    /// the unified one only if it did not start there (`in_unified`).
    /// (Where the pod's cgroup hands down controllers, the init already
    /// is in its stage1 leaf, with the supervisor that forked it.)
    pub fn adopt(&self, pid: i32, in_unified: bool) -> Result<(), String> {
        let placed = in_unified || self.delegation.is_some();
        for (h, dir) in self.hierarchies.iter().zip(&self.dirs) {
            if !(h.is_unified() && placed) {
                write(&dir.join("cgroup.procs"), &pid.to_string())?;
            }
        }
        Ok(())
    }

    /// The directory of app `app`'s cgroup, for the first process the
    /// init starts (the app or its pre-start handler) to start in, with
    /// no write to `cgroup.procs` and so no wait for an RCU grace period
    /// (see `crate::fork_into`): until that fork, the pod holds no other
    /// process that could reach the init's descriptors, and both sides
    /// close it at once. Only where the unified hierarchy is the pod's
    /// only one: a process that joins a v1 hierarchy by writing waits
    /// all the same.
    pub fn first_start(&self, app: &str) -> Option<std::os::fd::OwnedFd> {
        match (&self.hierarchies[..], &self.dirs[..]) {
            ([h], [dir]) if h.is_unified() => start_dir(&dir.join(app)),
            _ => None,
        }
    }

    /// The app's `cgroup.procs` files, open for writing: a process
    /// joins the app's cgroups by writing "0" to each. Opened before the
    /// init leaves the host's file system, so that the init keeps no
    /// way into the cgroup hierarchies beyond these files. (Not the
    /// directories, which clone3 would start a process in: from a
    /// directory, `..` leads through the host's whole hierarchy, and an
    /// app allowed to trace the init would reach it; but see
    /// `first_start`.)
    pub fn app_procs(&self, app: &str) -> Result<Vec<std::fs::File>, String> {
        self.dirs
            .iter()
            .map(|dir| {
                let path = dir.join(app).join("cgroup.procs");
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(|e| format!("{}: {e}", path.display()))
            })
            .collect()
    }

    /// Whether the kernel killed a process of app `app` for going over
    /// its memory limit.
    pub fn oom_killed(&self, app: &str) -> bool {
        let count = |path: PathBuf| {
            std::fs::read_to_string(path).is_ok_and(|text| {
                text.lines().any(|l| {
                    l.strip_prefix("oom_kill ")
                        .is_some_and(|n| n.trim().parse::<u64>().is_ok_and(|n| n > 0))
                })
            })
        };
        self.hierarchies.iter().zip(&self.dirs).any(|(h, dir)| {
            let dir = dir.join(app);
            if h.is_unified() {
                count(dir.join("memory.events"))
            } else {
                h.has("memory") && count(dir.join("memory.oom_control"))
            }
        })
    }

    /// Removes the pod's cgroups once its processes are gone.
    pub fn remove(&self) -> Result<(), String> {
        for (h, dir) in self.hierarchies.iter().zip(&self.dirs) {
            match (&self.delegation, h.is_unified()) {
                (Some(d), true) => {
                    // The apps' leaves first: the supervisor is in the
                    // stage1 leaf until the controllers are taken back.
                    if let Ok(entries) = std::fs::read_dir(dir) {
                        for e in entries.flatten() {
                            let leaf = e.file_name() == v2::STAGE1_LEAF;
                            if !leaf && e.file_type().is_ok_and(|t| t.is_dir()) {
                                remove_tree(&e.path())?;
                            }
                        }
                    }
                    if d.release()? {
                        remove_tree(dir)?;
                    }
                }
                _ => remove_tree(dir)?,
            }
        }
        Ok(())
    }
}

/// Writes an app's limits to its cgroup `dir` in the v1 hierarchy `h`,
/// for the controllers `h` has.
fn apply_v1(
    h: &Hierarchy,
    dir: &Path,
    limits: &Limits,
    disks: &[(u64, u64)],
) -> Result<(), String> {
    if h.has("memory")
        && let Some(bytes) = limits.memory_bytes
    {
        write(&dir.join("memory.limit_in_bytes"), &bytes.to_string())?;
        // With swap accounting, swap counts against the same limit.
        let memsw = dir.join("memory.memsw.limit_in_bytes");
        if memsw.exists() {
            write(&memsw, &bytes.to_string())?;
        }
    }
    if h.has("cpu") {
        if let Some(quota) = limits.cpu_quota_us {
            write(&dir.join("cpu.cfs_period_us"), &CPU_PERIOD_US.to_string())?;
            write(&dir.join("cpu.cfs_quota_us"), &quota.to_string())?;
        }
        if let Some(shares) = limits.cpu_shares {
            write(&dir.join("cpu.shares"), &shares.max(2).to_string())?;
        }
    }
    if h.has("blkio") {
        let files = [
            ("read_bps_device", limits.block_bps),
            ("write_bps_device", limits.block_bps),
            ("read_iops_device", limits.block_iops),
            ("write_iops_device", limits.block_iops),
        ];
        for (file, limit) in files {
            if let Some(limit) = limit {
                for (major, minor) in disks {
                    write(
                        &dir.join(format!("blkio.throttle.{file}")),
                        &format!("{major}:{minor} {limit}"),
                    )?;
                }
            }
        }
    }
    Ok(())
}

/// Removes a cgroup directory and any below it, deepest first. A cgroup
/// whose last process has just been reaped may still read as busy for a
/// moment, so busy directories are retried briefly.
fn remove_tree(dir: &Path) -> Result<(), String> {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&e.path())?;
            }
        }
    }
    // Waits of 0.1 ms doubling up to 10 ms: about 2 s in all.
    let mut wait = std::time::Duration::from_micros(100);
    for _ in 0..200 {
        match std::fs::remove_dir(dir) {
            Err(e) if e.raw_os_error() == Some(nix::libc::EBUSY) => {
                std::thread::sleep(wait);
                wait = (wait * 2).min(std::time::Duration::from_millis(10));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(format!("{}: {e}", dir.display())),
            Ok(()) => return Ok(()),
        }
    }
    Err(format!("{}: still in use", dir.display()))
}

/// The cgroup directories recorded in `pod_dir` for pod `uuid` (none
/// when there is no record). Only directories named for this pod, on a
/// cgroup file system (or gone), are accepted.
fn recorded(pod_dir: &PodDir, uuid: &str) -> Result<Vec<PathBuf>, String> {
    let path = pod_dir.cgroups();
    let text = match std::fs::read_to_string(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        other => other.map_err(|e| format!("{}: {e}", path.display()))?,
    };
    let name = format!("rkt-{uuid}");
    let on_cgroupfs = |dir: &Path| {
        nix::sys::statfs::statfs(dir).is_ok_and(|s| {
            let t = s.filesystem_type();
            t == nix::sys::statfs::CGROUP_SUPER_MAGIC || t == nix::sys::statfs::CGROUP2_SUPER_MAGIC
        })
    };
    let mut dirs = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let dir = PathBuf::from(line);
        if dir.file_name().and_then(|n| n.to_str()) != Some(name.as_str()) {
            return Err(format!(
                "{}: {line} is not this pod's cgroup",
                path.display()
            ));
        }
        if dir.exists() && !on_cgroupfs(&dir) {
            return Err(format!("{}: {line} is not a cgroup", path.display()));
        }
        dirs.push(dir);
    }
    Ok(dirs)
}

/// Removes the cgroups recorded in `pod_dir` for pod `uuid` (the stage1
/// gc entrypoint, for pods whose supervisor could not).
pub fn remove_recorded(pod_dir: &PodDir, uuid: &str) -> Result<(), String> {
    recorded(pod_dir, uuid)?
        .iter()
        .try_for_each(|d| remove_tree(d))
}

/// Moves the calling process into the cgroups of app `app` of the running
/// pod `uuid` (for `rkt enter`).
pub fn join_recorded_app(pod_dir: &PodDir, uuid: &str, app: &str) -> Result<(), String> {
    for dir in recorded(pod_dir, uuid)? {
        write(&dir.join(app).join("cgroup.procs"), "0")?;
    }
    Ok(())
}
