//! The cgroup hierarchies this mount namespace has, and the supervisor's
//! place in each.

use std::path::{Path, PathBuf};

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
    pub fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }

    /// Whether this is the unified (v2) hierarchy.
    pub fn is_unified(&self) -> bool {
        self.controllers.is_empty()
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
}
