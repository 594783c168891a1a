//! The unified (v2) hierarchy: handing controllers down to the pod, and
//! the files an app's limits are written to.
//!
//! A v2 cgroup that hands controllers to its children may hold no process
//! itself ("no internal processes"), so before the supervisor's cgroup
//! enables any, the supervisor moves to a leaf of the pod's cgroup,
//! `_stage1` (not a valid app name), where the init it forks starts too.
//! The apps each have their own leaf beside it.

use super::limits::{CPU_PERIOD_US, Limits, cpu_weight};
use super::{mkdir, write};
use std::path::{Path, PathBuf};

pub const STAGE1_LEAF: &str = "_stage1";

/// Controllers handed down from the supervisor's cgroup to the pod's.
#[derive(Debug)]
pub struct Delegation {
    own: PathBuf,
    pod: PathBuf,
    controllers: Vec<&'static str>,
    /// Those the supervisor's cgroup did not hand down before.
    enabled_in_own: Vec<&'static str>,
}

fn read_list(path: &Path) -> Result<Vec<String>, String> {
    std::fs::read_to_string(path)
        .map(|s| s.split_whitespace().map(str::to_string).collect())
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn toggle(controllers: &[&str], sign: char) -> String {
    let all: Vec<String> = controllers.iter().map(|c| format!("{sign}{c}")).collect();
    all.join(" ")
}

const HOW_TO_DELEGATE: &str = "run rkt in its own systemd unit with Delegate=yes, \
     or under systemd-run --scope -p Delegate=yes";

/// Hands `controllers` down to the pod's cgroup `pod`, a child of the
/// supervisor's own `own`, moving the supervisor to the pod's stage1 leaf.
pub fn delegate(
    own: &Path,
    pod: &Path,
    controllers: Vec<&'static str>,
) -> Result<Delegation, String> {
    let available = read_list(&own.join("cgroup.controllers"))?;
    if let Some(c) = controllers
        .iter()
        .find(|c| !available.iter().any(|a| a == *c))
    {
        return Err(format!(
            "the cgroup {c} controller is not delegated to {} ({HOW_TO_DELEGATE})",
            own.display()
        ));
    }
    let leaf = pod.join(STAGE1_LEAF);
    mkdir(&leaf)?;
    write(&leaf.join("cgroup.procs"), &std::process::id().to_string())?;
    let enabled = read_list(&own.join("cgroup.subtree_control"))?;
    let mut delegation = Delegation {
        own: own.to_path_buf(),
        pod: pod.to_path_buf(),
        enabled_in_own: controllers
            .iter()
            .copied()
            .filter(|c| !enabled.iter().any(|e| e == c))
            .collect(),
        controllers,
    };
    if !delegation.enabled_in_own.is_empty() {
        let path = own.join("cgroup.subtree_control");
        if let Err(e) = std::fs::write(&path, toggle(&delegation.enabled_in_own, '+')) {
            let busy = e.raw_os_error() == Some(nix::libc::EBUSY);
            delegation.enabled_in_own.clear();
            let _ = delegation.release();
            return Err(if busy {
                let (names, plural) = (
                    delegation.controllers.join(" and "),
                    delegation.controllers.len() > 1,
                );
                format!(
                    "cannot hand the cgroup {names} controller{} to the pod: {} holds other processes ({HOW_TO_DELEGATE})",
                    if plural { "s" } else { "" },
                    own.display()
                )
            } else {
                format!("{}: {e}", path.display())
            });
        }
    }
    if let Err(e) = write(
        &pod.join("cgroup.subtree_control"),
        &toggle(&delegation.controllers, '+'),
    ) {
        let _ = delegation.release();
        return Err(e);
    }
    Ok(delegation)
}

impl Delegation {
    pub fn has(&self, controller: &str) -> bool {
        self.controllers.contains(&controller)
    }

    /// Takes the controllers back and the supervisor out of the pod's
    /// cgroup, once the apps' cgroups are gone, so that the pod's can be
    /// removed. False when they are still needed there (another pod in
    /// the same cgroup uses them): the pod's cgroup is then left for
    /// `rkt gc` (or systemd, when the unit stops) to remove.
    pub fn release(&self) -> Result<bool, String> {
        let busy = |e: &std::io::Error| e.raw_os_error() == Some(nix::libc::EBUSY);
        let pod_control = self.pod.join("cgroup.subtree_control");
        if let Err(e) = std::fs::write(&pod_control, toggle(&self.controllers, '-'))
            && !matches!(e.kind(), std::io::ErrorKind::NotFound)
        {
            return Err(format!("{}: {e}", pod_control.display()));
        }
        if !self.enabled_in_own.is_empty() {
            match std::fs::write(
                self.own.join("cgroup.subtree_control"),
                toggle(&self.enabled_in_own, '-'),
            ) {
                Err(e) if busy(&e) => return Ok(false),
                Err(e) => return Err(format!("{}: {e}", self.own.display())),
                Ok(()) => {}
            }
        }
        match std::fs::write(
            self.own.join("cgroup.procs"),
            std::process::id().to_string(),
        ) {
            Err(e) if busy(&e) => Ok(false),
            Err(e) => Err(format!("{}: {e}", self.own.display())),
            Ok(()) => Ok(true),
        }
    }
}

/// Writes an app's limits to its v2 cgroup `dir`, for the controllers
/// handed to it.
pub fn apply(
    dir: &Path,
    limits: &Limits,
    delegation: &Delegation,
    disks: &[(u64, u64)],
) -> Result<(), String> {
    if delegation.has("memory")
        && let Some(bytes) = limits.memory_bytes
    {
        write(&dir.join("memory.max"), &bytes.to_string())?;
        // As on v1 with swap accounting: no swap beyond the limit.
        let swap = dir.join("memory.swap.max");
        if swap.exists() {
            write(&swap, "0")?;
        }
        // An OOM kill takes the whole app, as systemd's OOMPolicy=stop
        // does for a unit, rather than leave it half-killed.
        let group = dir.join("memory.oom.group");
        if group.exists() {
            write(&group, "1")?;
        }
    }
    if delegation.has("cpu") {
        if let Some(quota) = limits.cpu_quota_us {
            write(&dir.join("cpu.max"), &format!("{quota} {CPU_PERIOD_US}"))?;
        }
        if let Some(shares) = limits.cpu_shares {
            write(&dir.join("cpu.weight"), &cpu_weight(shares).to_string())?;
        }
    }
    if delegation.has("io") {
        for (major, minor) in disks {
            let mut line = format!("{major}:{minor}");
            if let Some(bps) = limits.block_bps {
                line += &format!(" rbps={bps} wbps={bps}");
            }
            if let Some(iops) = limits.block_iops {
                line += &format!(" riops={iops} wiops={iops}");
            }
            write(&dir.join("io.max"), &line)?;
        }
    }
    Ok(())
}
