//! An app's seccomp filter, from its `os/linux/seccomp-retain-set` or
//! `-remove-set` isolator (rkt's semantics), or a default one.
//!
//! Sets are unions of syscall names and groups: `@appc.io/all`,
//! `@appc.io/empty`, `@rkt/default-blacklist` (syscalls that act on the
//! host or widen the kernel's attack surface: mounts, modules, reboot,
//! keyrings, ptrace, ...) and `@rkt/default-whitelist` (every other
//! syscall); `@docker/default-blacklist` and `@docker/default-whitelist`
//! are the same two sets under Docker's names. A blocked syscall kills
//! the app with SIGSYS, or fails with the isolator's `errno`. Without a
//! seccomp isolator an app gets the default whitelist, with EPERM.

use crate::seccomp_bpf::Action;
use appc::schema::types::App;
use appc::schema::types::isolator::IsolatorValue;
use libseccomp::ScmpSyscall;
use pod::privileges::DEFAULT_SECCOMP_BLOCKED;
use std::collections::BTreeSet;

/// What the pod's init refuses itself once its apps run: it only reaps,
/// signals, records statuses and starts post-stop handlers (whose own
/// mount namespace and pivot_root it still allows). An app allowed to
/// trace the init (CAP_SYS_PTRACE granted) then gains nothing by making
/// it call these: no mount of a cgroup hierarchy (and its
/// `release_agent`), no file handles, keys, modules or BPF.
const INIT_REFUSED: [&str; 36] = [
    "acct",
    "add_key",
    "bpf",
    "clock_adjtime",
    "clock_settime",
    "delete_module",
    "finit_module",
    "fsconfig",
    "fsmount",
    "fsopen",
    "fspick",
    "init_module",
    "ioperm",
    "iopl",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "mount",
    "mount_setattr",
    "move_mount",
    "name_to_handle_at",
    "open_by_handle_at",
    "open_tree",
    "perf_event_open",
    "process_vm_readv",
    "process_vm_writev",
    "ptrace",
    "quotactl",
    "reboot",
    "request_key",
    "setns",
    "settimeofday",
    "swapoff",
    "swapon",
    "syslog",
    "userfaultfd",
];

/// Loads the pod init's own filter (see [`INIT_REFUSED`]); what it starts
/// afterwards (post-stop handlers) inherits it, under their own.
pub fn load_init_filter() -> Result<(), String> {
    let policy = Policy {
        blocked: Set::Only(
            INIT_REFUSED
                .iter()
                .filter(|n| known(n))
                .map(|n| n.to_string())
                .collect(),
        ),
        action: Action::Errno(nix::libc::EPERM),
    };
    crate::seccomp_bpf::load(&policy.compile(&[])?)
}

/// A set of syscalls: some, or all but some.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Set {
    Only(BTreeSet<String>),
    AllBut(BTreeSet<String>),
}

impl Set {
    fn union(self, other: Set) -> Set {
        use Set::*;
        match (self, other) {
            (Only(a), Only(b)) => Only(&a | &b),
            (AllBut(e), Only(b)) | (Only(b), AllBut(e)) => AllBut(&e - &b),
            (AllBut(a), AllBut(b)) => AllBut(&a & &b),
        }
    }

    fn complement(self) -> Set {
        match self {
            Set::Only(s) => Set::AllBut(s),
            Set::AllBut(s) => Set::Only(s),
        }
    }
}

/// Whether this architecture has the syscall.
fn known(name: &str) -> bool {
    ScmpSyscall::from_name(name).is_ok()
}

fn blacklist() -> BTreeSet<String> {
    DEFAULT_SECCOMP_BLOCKED
        .iter()
        .filter(|n| known(n))
        .map(|n| n.to_string())
        .collect()
}

/// One member of an isolator's set.
fn member(name: &str) -> Result<Set, String> {
    Ok(match name {
        "@appc.io/all" => Set::AllBut(BTreeSet::new()),
        "@appc.io/empty" => Set::Only(BTreeSet::new()),
        "@rkt/default-blacklist" | "@docker/default-blacklist" => Set::Only(blacklist()),
        "@rkt/default-whitelist" | "@docker/default-whitelist" => Set::AllBut(blacklist()),
        group if group.starts_with('@') => return Err(format!("unknown syscall group {group}")),
        name if known(name) => Set::Only(BTreeSet::from([name.to_string()])),
        name => return Err(format!("unknown syscall {name}")),
    })
}

/// The errno named `name` (`EPERM`, ...).
fn errno(name: &str) -> Result<i32, String> {
    (1..4096)
        .find(|n| format!("{:?}", nix::errno::Errno::from_raw(*n)) == name)
        .ok_or_else(|| format!("unknown errno {name}"))
}

/// What an app's filter does: the syscalls it blocks, and how.
#[derive(Debug, PartialEq, Eq)]
pub struct Policy {
    blocked: Set,
    action: Action,
}

impl Policy {
    /// The app's policy from its isolators.
    pub fn of(app: &App) -> Result<Policy, String> {
        let mut chosen = None;
        for value in app.isolators.iter().filter_map(|i| i.value()) {
            let (set, errno_name, retain) = match value {
                IsolatorValue::SeccompRetain { set, errno } => (set, errno, true),
                IsolatorValue::SeccompRemove { set, errno } => (set, errno, false),
                _ => continue,
            };
            if chosen.is_some() {
                return Err("seccomp-retain-set and seccomp-remove-set exclude each other".into());
            }
            let union = set
                .iter()
                .map(|n| member(n))
                .try_fold(Set::Only(BTreeSet::new()), |acc, m| {
                    Ok::<_, String>(acc.union(m?))
                })?;
            let action = if errno_name.is_empty() {
                Action::KillProcess
            } else {
                Action::Errno(errno(errno_name)?)
            };
            let blocked = if retain { union.complement() } else { union };
            chosen = Some(Policy { blocked, action });
        }
        Ok(chosen.unwrap_or_else(|| Policy {
            blocked: Set::Only(blacklist()),
            action: Action::Errno(nix::libc::EPERM),
        }))
    }

    /// The filter, leaving `exempt` allowed: the calls stage1 itself makes
    /// after loading it (execve; and the switch to the app's user when
    /// that comes later).
    pub fn compile(&self, exempt: &[&str]) -> Result<Vec<libc::sock_filter>, String> {
        let (otherwise, on_listed, names): (_, _, BTreeSet<&str>) = match &self.blocked {
            Set::Only(s) => (
                Action::Allow,
                self.action,
                s.iter()
                    .map(String::as_str)
                    .filter(|n| !exempt.contains(n))
                    .collect(),
            ),
            Set::AllBut(e) => (
                self.action,
                Action::Allow,
                e.iter()
                    .map(String::as_str)
                    .chain(exempt.iter().copied())
                    .collect(),
            ),
        };
        let mut listed = Vec::new();
        for n in names {
            let nr = ScmpSyscall::from_name(n)
                .map_err(|e| format!("seccomp filter: {n}: {e}"))?
                .as_raw_syscall();
            // Negative: a syscall libseccomp knows that this architecture
            // does not have (no call can be made to it).
            if let Ok(nr) = u32::try_from(nr) {
                listed.push(nr);
            }
        }
        Ok(crate::seccomp_bpf::assemble(&listed, on_listed, otherwise))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use appc::schema::types::Isolator;

    fn names(v: &[&str]) -> BTreeSet<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn app(isolators: &[(&str, serde_json::Value)]) -> App {
        let mut a = App::default();
        for (name, value) in isolators {
            a.isolators
                .push(Isolator::new(name, value.clone()).unwrap());
        }
        a
    }

    #[test]
    fn sets_combine_as_sets() {
        let only = |v: &[&str]| Set::Only(names(v));
        let all_but = |v: &[&str]| Set::AllBut(names(v));
        assert_eq!(only(&["a"]).union(only(&["b"])), only(&["a", "b"]));
        assert_eq!(all_but(&["a", "b"]).union(only(&["b"])), all_but(&["a"]));
        assert_eq!(
            all_but(&["a", "b"]).union(all_but(&["b", "c"])),
            all_but(&["b"])
        );
        assert_eq!(only(&["a"]).complement(), all_but(&["a"]));
    }

    #[test]
    fn policies_follow_the_isolators() {
        let default = Policy::of(&App::default()).unwrap();
        assert_eq!(default.action, Action::Errno(nix::libc::EPERM));
        assert_eq!(default.blocked, Set::Only(blacklist()));
        assert!(blacklist().contains("mount") && blacklist().contains("reboot"));

        let retain = app(&[(
            "os/linux/seccomp-retain-set",
            serde_json::json!({"set": ["@rkt/default-whitelist", "mount"], "errno": "ENOSYS"}),
        )]);
        let p = Policy::of(&retain).unwrap();
        assert_eq!(p.action, Action::Errno(nix::libc::ENOSYS));
        let mut expected = blacklist();
        expected.remove("mount");
        assert_eq!(p.blocked, Set::Only(expected));

        let remove = app(&[(
            "os/linux/seccomp-remove-set",
            serde_json::json!({"set": ["socket"]}),
        )]);
        let p = Policy::of(&remove).unwrap();
        assert_eq!(p.action, Action::KillProcess);
        assert_eq!(p.blocked, Set::Only(names(&["socket"])));

        let only_some = app(&[(
            "os/linux/seccomp-retain-set",
            serde_json::json!({"set": ["read", "write", "exit_group"]}),
        )]);
        let p = Policy::of(&only_some).unwrap();
        assert_eq!(
            p.blocked,
            Set::AllBut(names(&["exit_group", "read", "write"]))
        );
        assert!(p.compile(&["execve"]).is_ok());
    }

    #[test]
    fn bad_sets_are_named() {
        for (set, errno, wanted) in [
            (vec!["nosuchcall"], "", "unknown syscall nosuchcall"),
            (
                vec!["@nosuch/group"],
                "",
                "unknown syscall group @nosuch/group",
            ),
            (vec!["read"], "ENOSUCH", "unknown errno ENOSUCH"),
        ] {
            let a = app(&[(
                "os/linux/seccomp-remove-set",
                serde_json::json!({"set": set, "errno": errno}),
            )]);
            assert_eq!(Policy::of(&a).unwrap_err(), wanted);
        }
    }
}
