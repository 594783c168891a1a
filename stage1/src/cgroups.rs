//! The pod's control groups: one per pod under the supervisor's own cgroup
//! in every hierarchy (so a systemd unit running `rkt run` contains its
//! pod), and one per app below it, where the app's resource isolators and
//! its device allow-list apply.
//!
//! The pod's cgroup directories are recorded in the pod directory's
//! `cgroups` file (one per line; an app's is `<line>/<app name>`), which
//! `rkt enter` joins and `rkt gc` removes if the supervisor could not.

use appc::schema::pod_manifest::RuntimeApp;
use appc::schema::types::isolator::IsolatorValue;
use pod::PodDir;
use std::path::{Path, PathBuf};

/// The CFS period the CPU limit is a quota of, in microseconds.
const CPU_PERIOD_US: i64 = 100_000;

/// Devices an app may use: every node may be created (`m`), only these
/// may be opened. 136 is the major of the pod's own /dev/pts.
const ALLOWED_DEVICES: [&str; 11] = [
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",
    "c 1:5 rwm",
    "c 1:7 rwm",
    "c 1:8 rwm",
    "c 1:9 rwm",
    "c 5:0 rwm",
    "c 5:1 rwm",
    "c 5:2 rwm",
    "c 136:* rwm",
];

/// One mounted cgroup hierarchy and the supervisor's place in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// The controllers of a v1 hierarchy (`name=systemd` for a named one);
    /// empty for the unified (v2) hierarchy.
    pub controllers: Vec<String>,
    /// The directory of the supervisor's own cgroup.
    pub own: PathBuf,
}

impl Hierarchy {
    fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }
}

/// The hierarchies mounted in this mount namespace, from the texts of
/// /proc/self/mountinfo and /proc/self/cgroup. cpuset is left out: a new
/// cpuset cgroup has no CPUs until given some, and the pod needs none.
pub fn hierarchies(mountinfo: &str, own_cgroups: &str) -> Vec<Hierarchy> {
    // (hierarchy id's controllers or "" for v2, path) from /proc/self/cgroup.
    let own: Vec<(Vec<&str>, &str)> = own_cgroups
        .lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, ctl, path) = (f.next()?, f.next()?, f.next()?);
            let ctl = if ctl.is_empty() {
                Vec::new()
            } else {
                ctl.split(',').collect()
            };
            Some((ctl, path))
        })
        .collect();
    let mut found = Vec::new();
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let l: Vec<&str> = left.split(' ').collect();
        let r: Vec<&str> = right.split(' ').collect();
        if l.len() < 5 || r.len() < 3 {
            continue;
        }
        let (root, mount_point, fstype) = (l[3], l[4], r[0]);
        let controllers: Vec<String> = match fstype {
            "cgroup2" => Vec::new(),
            "cgroup" => r[2]
                .split(',')
                .filter(|o| {
                    o.starts_with("name=")
                        || !matches!(*o, "rw" | "ro" | "noprefix" | "xattr" | "clone_children")
                            && !o.contains('=')
                })
                .map(str::to_string)
                .collect(),
            _ => continue,
        };
        if controllers.iter().any(|c| c == "cpuset") {
            continue;
        }
        let mut wanted: Vec<&str> = controllers.iter().map(String::as_str).collect();
        wanted.sort_unstable();
        let Some((_, path)) = own.iter().find(|(c, _)| {
            let mut c = c.clone();
            c.sort_unstable();
            c == wanted
        }) else {
            continue;
        };
        // The cgroup path is relative to the hierarchy's root, which is
        // the mount's root only when the whole hierarchy is mounted.
        let Some(rel) = path.strip_prefix(root.trim_end_matches('/')) else {
            continue;
        };
        let own = Path::new(mount_point).join(rel.trim_start_matches('/'));
        if found.iter().any(|h: &Hierarchy| h.own == own) {
            continue;
        }
        found.push(Hierarchy { controllers, own });
    }
    found
}

/// What the cgroup files of one app are set to.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Limits {
    pub memory_bytes: Option<i64>,
    pub cpu_quota_us: Option<i64>,
    pub cpu_shares: Option<i64>,
}

impl Limits {
    pub fn of(app: &RuntimeApp) -> Limits {
        let mut limits = Limits::default();
        for value in app
            .app
            .iter()
            .flat_map(|a| &a.isolators)
            .filter_map(|i| i.value())
        {
            match value {
                IsolatorValue::Memory(r) => {
                    if let Some(l) = &r.limit {
                        limits.memory_bytes = Some(l.value());
                    }
                }
                IsolatorValue::Cpu(r) => {
                    if let Some(l) = &r.limit {
                        // The kernel's smallest quota is 1 ms.
                        let quota = l.milli_value().saturating_mul(CPU_PERIOD_US) / 1000;
                        limits.cpu_quota_us = Some(quota.max(1000));
                    }
                }
                IsolatorValue::CpuShares(n) => limits.cpu_shares = Some(*n),
                _ => {}
            }
        }
        limits
    }
}

/// The pod's cgroups, created by the supervisor before the pod init.
pub struct PodCgroups {
    hierarchies: Vec<Hierarchy>,
    /// The pod's directory in each hierarchy.
    dirs: Vec<PathBuf>,
}

fn write(path: &Path, value: &str) -> Result<(), String> {
    std::fs::write(path, value).map_err(|e| format!("{} = {value}: {e}", path.display()))
}

fn mkdir(path: &Path) -> Result<(), String> {
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
    /// `extra_device` is one more character device the apps may open (the
    /// terminal of an interactive pod).
    pub fn create(
        pod_dir: &PodDir,
        uuid: &str,
        apps: &[RuntimeApp],
        extra_device: Option<(u64, u64)>,
    ) -> Result<PodCgroups, String> {
        let read = |p: &str| std::fs::read_to_string(p).map_err(|e| format!("{p}: {e}"));
        let hierarchies = hierarchies(&read("/proc/self/mountinfo")?, &read("/proc/self/cgroup")?);
        let mut pod = PodCgroups {
            dirs: hierarchies
                .iter()
                .map(|h| h.own.join(format!("rkt-{uuid}")))
                .collect(),
            hierarchies,
        };
        pod.record(pod_dir)?;
        let made = pod.make_pod_dirs(pod_dir).and_then(|()| {
            apps.iter()
                .try_for_each(|a| pod.create_app(a, extra_device))
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

    fn create_app(&self, app: &RuntimeApp, extra: Option<(u64, u64)>) -> Result<(), String> {
        let limits = Limits::of(app);
        // Isolators this host's cgroups cannot enforce are refused.
        let cpu = limits.cpu_quota_us.is_some() || limits.cpu_shares.is_some();
        for (needed, wanted) in [("memory", limits.memory_bytes.is_some()), ("cpu", cpu)] {
            if wanted && !self.hierarchies.iter().any(|h| h.has(needed)) {
                return Err(format!(
                    "app {}: its isolators need a cgroup-v1 {needed} hierarchy, which this host does not mount",
                    app.name
                ));
            }
        }
        for (h, pod_dir) in self.hierarchies.iter().zip(&self.dirs) {
            let dir = pod_dir.join(app.name.as_str());
            mkdir(&dir)?;
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
            if h.has("devices") {
                write(&dir.join("devices.deny"), "a")?;
                for rule in ALLOWED_DEVICES {
                    write(&dir.join("devices.allow"), rule)?;
                }
                if let Some((major, minor)) = extra {
                    write(
                        &dir.join("devices.allow"),
                        &format!("c {major}:{minor} rwm"),
                    )?;
                }
            }
        }
        Ok(())
    }

    /// Whether apps are held to a device allow-list (so they may be
    /// given CAP_MKNOD).
    pub fn limits_devices(&self) -> bool {
        self.hierarchies.iter().any(|h| h.has("devices"))
    }

    /// Moves process `pid` (the pod init) into the pod's cgroups.
    pub fn adopt(&self, pid: i32) -> Result<(), String> {
        for dir in &self.dirs {
            write(&dir.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    /// The app's `cgroup.procs` files, open for writing: a process
    /// joins the app's cgroups by writing "0" to each. Opened before the
    /// init leaves the host's file system, so that the init keeps no
    /// way into the cgroup hierarchies beyond these files.
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

    /// Removes the pod's cgroups once its processes are gone.
    pub fn remove(&self) -> Result<(), String> {
        self.dirs.iter().try_for_each(|d| remove_tree(d))
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 /machine /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
";
    const OWN: &str = "\
9:name=systemd:/system.slice/x.service
4:memory:/machine/pod
3:cpuset:/
1:cpuacct,cpu:/system.slice
0::/system.slice/x.service
";

    #[test]
    fn finds_the_supervisors_cgroups_in_each_hierarchy() {
        let h = hierarchies(MOUNTINFO, OWN);
        let got: Vec<(Vec<&str>, &Path)> = h
            .iter()
            .map(|h| {
                (
                    h.controllers.iter().map(String::as_str).collect(),
                    h.own.as_path(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    vec!["cpu", "cpuacct"],
                    Path::new("/sys/fs/cgroup/cpu,cpuacct/system.slice")
                ),
                (vec!["memory"], Path::new("/sys/fs/cgroup/memory/pod")),
                (
                    vec!["name=systemd"],
                    Path::new("/sys/fs/cgroup/systemd/system.slice/x.service")
                ),
                (
                    vec![],
                    Path::new("/sys/fs/cgroup/unified/system.slice/x.service")
                ),
            ]
        );
    }

    #[test]
    fn a_cgroup_outside_the_mounted_part_is_skipped() {
        let own = "4:memory:/elsewhere\n";
        assert!(hierarchies(MOUNTINFO, own).is_empty());
    }

    fn app(isolators: serde_json::Value) -> RuntimeApp {
        let pod = serde_json::json!({
            "acVersion": "0.8.11",
            "acKind": "PodManifest",
            "apps": [{
                "name": "a",
                "image": {"id": format!("sha512-{}", "0".repeat(128))},
                "app": {"exec": ["/x"], "user": "0", "group": "0", "isolators": isolators}
            }]
        });
        let pod = appc::schema::PodManifest::from_value(&pod).expect("a valid pod");
        pod.apps.expect("apps").remove(0)
    }

    #[test]
    fn limits_come_from_the_isolators() {
        let a = app(serde_json::json!([
            {"name": "resource/memory", "value": {"limit": "64Mi"}},
            {"name": "resource/cpu", "value": {"limit": "500m"}},
            {"name": "os/linux/cpu-shares", "value": 512}
        ]));
        assert_eq!(
            Limits::of(&a),
            Limits {
                memory_bytes: Some(64 << 20),
                cpu_quota_us: Some(50_000),
                cpu_shares: Some(512)
            }
        );
        let tiny = app(serde_json::json!([
            {"name": "resource/cpu", "value": {"limit": "1m"}}
        ]));
        assert_eq!(Limits::of(&tiny).cpu_quota_us, Some(1000));
        assert_eq!(Limits::of(&app(serde_json::json!([]))), Limits::default());
    }
}
