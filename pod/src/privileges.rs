//! What an app may do unless the person running the pod grants more: the
//! default capability set and the syscalls the default seccomp filter
//! refuses. stage1 enforces them; stage0 refuses, before any pod exists,
//! an image whose own isolators ask for more. An image narrows its
//! privileges freely, and widens them only when the command line says so
//! (`--caps-retain`, `--seccomp`, `--insecure-options=capabilities` or
//! `seccomp`).

use appc::schema::types::isolator::{Isolator, IsolatorValue};

/// The capabilities a root app keeps without isolators (rkt's set).
/// stage1 adds CAP_MKNOD where a device cgroup holds the app to the
/// pod's allow-list.
pub const DEFAULT_CAPABILITIES: [&str; 13] = [
    "CAP_AUDIT_WRITE",
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_KILL",
    "CAP_NET_RAW",
    "CAP_NET_BIND_SERVICE",
    "CAP_SETUID",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETFCAP",
    "CAP_SYS_CHROOT",
];

/// Syscalls a container's app has no business making: they reach the
/// whole host (clock, reboot, swap, modules, accounting, quotas), escape
/// or reshape the pod (mounts, namespaces, pivot_root, file handles),
/// inspect or borrow from other processes (ptrace and friends, kcmp,
/// pidfd_getfd, process_madvise), watch whole file systems
/// (fanotify_init), or expose rarely needed kernel code (bpf, perf,
/// userfaultfd, keyrings, old ABIs). Namespaces made by clone(2) are
/// refused with them (stage1 checks its flags).
pub const DEFAULT_SECCOMP_BLOCKED: [&str; 56] = [
    "_sysctl",
    "acct",
    "add_key",
    "afs_syscall",
    "bpf",
    "clock_adjtime",
    "clock_settime",
    "create_module",
    "delete_module",
    "fanotify_init",
    "finit_module",
    "fsconfig",
    "fsmount",
    "fsopen",
    "fspick",
    "get_kernel_syms",
    "init_module",
    "ioperm",
    "iopl",
    "kcmp",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "lookup_dcookie",
    "mount",
    "mount_setattr",
    "move_mount",
    "nfsservctl",
    "open_by_handle_at",
    "open_tree",
    "perf_event_open",
    "pidfd_getfd",
    "pivot_root",
    "process_madvise",
    "process_vm_readv",
    "process_vm_writev",
    "ptrace",
    "query_module",
    "quotactl",
    "reboot",
    "request_key",
    "setns",
    "settimeofday",
    "stime",
    "swapoff",
    "swapon",
    "syslog",
    "umount",
    "umount2",
    "unshare",
    "uselib",
    "userfaultfd",
    "ustat",
    "vhangup",
    "vm86",
    "vm86old",
];

/// The seccomp groups whose members the default filter refuses.
const BLOCKED_GROUPS: [&str; 2] = ["@rkt/default-blacklist", "@docker/default-blacklist"];

/// Whether the isolator's syscall set (names and groups) holds `syscall`,
/// one of the default filter's refused syscalls (which the whitelist
/// groups leave out).
fn holds(set: &[String], syscall: &str) -> bool {
    set.iter()
        .any(|m| m == "@appc.io/all" || m == syscall || BLOCKED_GROUPS.contains(&m.as_str()))
}

/// What isolators (an image's own) give an app beyond the defaults.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Widening {
    /// Capabilities outside the default set, from a retain set.
    pub capabilities: Vec<String>,
    /// Syscalls the default filter refuses that the isolators' filter
    /// lets through (a retain set that allows them, or a remove set that
    /// replaces the default filter without them).
    pub syscalls: Vec<String>,
}

impl Widening {
    pub fn of(isolators: &[Isolator]) -> Widening {
        let mut w = Widening::default();
        for value in isolators.iter().filter_map(|i| i.value()) {
            match value {
                IsolatorValue::CapabilitiesRetain(set) => w.capabilities.extend(
                    set.iter()
                        .map(|c| c.to_ascii_uppercase())
                        .filter(|c| !DEFAULT_CAPABILITIES.contains(&c.as_str())),
                ),
                IsolatorValue::SeccompRetain { set, .. } => w.syscalls.extend(
                    DEFAULT_SECCOMP_BLOCKED
                        .iter()
                        .filter(|s| holds(set, s))
                        .map(|s| s.to_string()),
                ),
                IsolatorValue::SeccompRemove { set, .. } => w.syscalls.extend(
                    DEFAULT_SECCOMP_BLOCKED
                        .iter()
                        .filter(|s| !holds(set, s))
                        .map(|s| s.to_string()),
                ),
                _ => {}
            }
        }
        w.capabilities.sort();
        w.capabilities.dedup();
        w.syscalls.sort();
        w.syscalls.dedup();
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn isolator(name: &str, value: serde_json::Value) -> Isolator {
        Isolator::new(name, value).unwrap()
    }

    #[test]
    fn narrowing_is_free() {
        let narrow = [
            isolator(
                "os/linux/capabilities-retain-set",
                json!({"set": ["CAP_NET_BIND_SERVICE", "CAP_CHOWN"]}),
            ),
            isolator(
                "os/linux/capabilities-remove-set",
                json!({"set": ["CAP_KILL"]}),
            ),
            isolator(
                "os/linux/seccomp-remove-set",
                json!({"set": ["@rkt/default-blacklist", "socket"]}),
            ),
        ];
        assert_eq!(Widening::of(&narrow), Widening::default());
        let retain = [isolator(
            "os/linux/seccomp-retain-set",
            json!({"set": ["@docker/default-whitelist", "read"]}),
        )];
        assert_eq!(Widening::of(&retain), Widening::default());
        let nothing = [isolator(
            "os/linux/seccomp-retain-set",
            json!({"set": ["@appc.io/empty"]}),
        )];
        assert_eq!(Widening::of(&nothing), Widening::default());
    }

    #[test]
    fn widening_is_named() {
        let caps = [isolator(
            "os/linux/capabilities-retain-set",
            json!({"set": ["CAP_SYS_PTRACE", "CAP_CHOWN", "CAP_SYS_ADMIN"]}),
        )];
        assert_eq!(
            Widening::of(&caps).capabilities,
            ["CAP_SYS_ADMIN", "CAP_SYS_PTRACE"]
        );
        let all = [isolator(
            "os/linux/seccomp-retain-set",
            json!({"set": ["@appc.io/all"]}),
        )];
        assert_eq!(
            Widening::of(&all).syscalls.len(),
            DEFAULT_SECCOMP_BLOCKED.len()
        );
        let mount = [isolator(
            "os/linux/seccomp-retain-set",
            json!({"set": ["@rkt/default-whitelist", "mount"]}),
        )];
        assert_eq!(Widening::of(&mount).syscalls, ["mount"]);
        // A remove set replaces the default filter: what it leaves out is let through.
        let few = [isolator(
            "os/linux/seccomp-remove-set",
            json!({"set": ["reboot"]}),
        )];
        let w = Widening::of(&few);
        assert!(
            w.syscalls.contains(&"ptrace".to_string())
                && !w.syscalls.contains(&"reboot".to_string())
        );
    }
}
