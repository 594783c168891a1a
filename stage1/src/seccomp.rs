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

use crate::seccomp_bpf::{Action, Rules, compile};
use appc::schema::types::App;
use appc::schema::types::isolator::IsolatorValue;
use libseccomp::ScmpSyscall;
use pod::privileges::DEFAULT_SECCOMP_BLOCKED;
use seccompiler::{SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompRule};
use std::collections::BTreeSet;

/// What the pod's init refuses itself once its apps run: it only reaps,
/// signals, records statuses and starts post-stop handlers (whose own
/// mount namespace and pivot_root it still allows). An app allowed to
/// trace the init (CAP_SYS_PTRACE granted) then gains nothing by making
/// it call these: no mount of a cgroup hierarchy (and its
/// `release_agent`), no file handles, keys, modules or BPF.
const INIT_REFUSED: &[i64] = &[
    libc::SYS_acct,
    libc::SYS_add_key,
    libc::SYS_bpf,
    libc::SYS_clock_adjtime,
    libc::SYS_clock_settime,
    libc::SYS_delete_module,
    libc::SYS_finit_module,
    libc::SYS_fsconfig,
    libc::SYS_fsmount,
    libc::SYS_fsopen,
    libc::SYS_fspick,
    libc::SYS_init_module,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_ioperm,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_iopl,
    libc::SYS_kexec_file_load,
    libc::SYS_kexec_load,
    libc::SYS_keyctl,
    libc::SYS_mount,
    libc::SYS_mount_setattr,
    libc::SYS_move_mount,
    libc::SYS_name_to_handle_at,
    libc::SYS_open_by_handle_at,
    libc::SYS_open_tree,
    libc::SYS_perf_event_open,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_ptrace,
    libc::SYS_quotactl,
    libc::SYS_reboot,
    libc::SYS_request_key,
    libc::SYS_setns,
    libc::SYS_settimeofday,
    libc::SYS_swapoff,
    libc::SYS_swapon,
    libc::SYS_syslog,
    libc::SYS_userfaultfd,
];

/// Loads the pod init's own filter (see [`INIT_REFUSED`]); what it starts
/// afterwards (post-stop handlers) inherits it, under their own. Numbered
/// by libc, not named through libseccomp: the long-lived init then maps
/// none of libseccomp's syscall tables.
pub fn load_init_filter() -> Result<(), String> {
    let x32 = crate::seccomp_bpf::x32(INIT_REFUSED);
    let rules: Rules = INIT_REFUSED
        .iter()
        .chain(&x32)
        .map(|nr| (*nr, Vec::new()))
        .collect();
    crate::seccomp_bpf::load(&compile(rules, Action::Errno(libc::EPERM), Action::Allow)?)
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

    fn holds(&self, name: &str) -> bool {
        match self {
            Set::Only(s) => s.contains(name),
            Set::AllBut(e) => !e.contains(name),
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

/// The namespace flags of clone(2) (`CLONE_NEW*`, time's included).
const CLONE_NEW_FLAGS: [u64; 8] = [
    libc::CLONE_NEWNS as u64,
    libc::CLONE_NEWCGROUP as u64,
    libc::CLONE_NEWUTS as u64,
    libc::CLONE_NEWIPC as u64,
    libc::CLONE_NEWUSER as u64,
    libc::CLONE_NEWPID as u64,
    libc::CLONE_NEWNET as u64,
    0x80, // CLONE_NEWTIME
];

const CAP_DAC_READ_SEARCH: u32 = 2;
const CAP_SYS_ADMIN: u32 = 21;

/// What an app's filter does: the syscalls it blocks, and how; and
/// whether namespaces are refused to clone(2) as well (its flags checked,
/// clone3, whose flags a filter cannot read, answered ENOSYS so that
/// libc falls back to clone).
#[derive(Debug, PartialEq, Eq)]
pub struct Policy {
    blocked: Set,
    action: Action,
    namespaces_refused: bool,
}

impl Policy {
    /// The app's policy from its isolators, for an app that keeps the
    /// capabilities `kept` (None: all of them). Without an isolator, the
    /// default: rkt's list, with EPERM; calls a kept capability is for
    /// are let through (namespaces, unshare and fanotify_init with
    /// CAP_SYS_ADMIN, file handles with CAP_DAC_READ_SEARCH), as Docker's
    /// profile does.
    pub fn of(app: &App, kept: Option<&BTreeSet<u32>>) -> Result<Policy, String> {
        let holds = |cap: u32| kept.is_none_or(|k| k.contains(&cap));
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
            // Namespaces go the way unshare goes.
            let namespaces_refused = blocked.holds("unshare");
            chosen = Some(Policy {
                blocked,
                action,
                namespaces_refused,
            });
        }
        if let Some(policy) = chosen {
            return Ok(policy);
        }
        let mut blocked = blacklist();
        let admin = holds(CAP_SYS_ADMIN);
        if admin {
            blocked.remove("unshare");
            blocked.remove("fanotify_init");
        }
        if holds(CAP_DAC_READ_SEARCH) {
            blocked.remove("open_by_handle_at");
        }
        Ok(Policy {
            blocked: Set::Only(blocked),
            action: Action::Errno(nix::libc::EPERM),
            namespaces_refused: !admin,
        })
    }

    /// The filters to load, in order, leaving `exempt` allowed: the calls
    /// stage1 itself makes after loading them (execve; and the switch to
    /// the app's user when that comes later).
    pub fn compile(&self, exempt: &[&str]) -> Result<Vec<Vec<libc::sock_filter>>, String> {
        let number = |n: &str| -> Result<Option<i64>, String> {
            let nr = ScmpSyscall::from_name(n)
                .map_err(|e| format!("seccomp filter: {n}: {e}"))?
                .as_raw_syscall();
            // Negative: a syscall libseccomp knows that this architecture
            // does not have (no call can be made to it).
            Ok((nr >= 0).then_some(i64::from(nr)))
        };
        let numbers = |names: BTreeSet<&str>| -> Result<Vec<i64>, String> {
            let mut v = Vec::new();
            for n in names {
                v.extend(number(n)?);
            }
            Ok(v)
        };
        let clone = number("clone")?.expect("every architecture has clone");
        let clone3 = number("clone3")?;
        let any_call = |nrs: &[i64]| -> Rules { nrs.iter().map(|nr| (*nr, Vec::new())).collect() };
        let mut filters = Vec::new();
        match &self.blocked {
            Set::Only(s) => {
                let names: BTreeSet<&str> = s
                    .iter()
                    .map(String::as_str)
                    .filter(|n| !exempt.contains(n) && *n != "clone3")
                    .collect();
                let native = numbers(names)?;
                let mut rules = any_call(&native);
                rules.extend(any_call(&crate::seccomp_bpf::x32(&native)));
                if self.namespaces_refused && !rules.contains_key(&clone) {
                    // Any one namespace flag set.
                    let each_flag = CLONE_NEW_FLAGS
                        .iter()
                        .map(|f| rule_masked(*f, *f))
                        .collect::<Result<_, _>>()?;
                    rules.insert(clone, each_flag);
                }
                if s.contains("clone3") && !self.namespaces_refused {
                    rules.extend(clone3.map(|nr| (nr, Vec::new())));
                }
                filters.push(compile(rules, self.action, Action::Allow)?);
            }
            Set::AllBut(e) => {
                let names: BTreeSet<&str> = e
                    .iter()
                    .map(String::as_str)
                    .chain(exempt.iter().copied())
                    .chain(self.namespaces_refused.then_some("clone3"))
                    .collect();
                let mut rules = any_call(&numbers(names)?);
                if self.namespaces_refused && rules.contains_key(&clone) {
                    // No namespace flag set.
                    let mask = CLONE_NEW_FLAGS.iter().fold(0, |m, f| m | f);
                    rules.insert(clone, vec![rule_masked(mask, 0)?]);
                }
                filters.push(compile(rules, Action::Allow, self.action)?);
            }
        }
        if self.namespaces_refused
            && let Some(nr) = clone3
        {
            // Loaded last, so evaluated first: its answer wins over an
            // equal one of the filter above.
            let rules = Rules::from([(nr, Vec::new())]);
            filters.push(compile(rules, Action::Errno(libc::ENOSYS), Action::Allow)?);
        }
        Ok(filters)
    }
}

/// A rule on clone(2)'s flags (its first argument on x86_64 and arm64):
/// `flags & mask == value`.
fn rule_masked(mask: u64, value: u64) -> Result<SeccompRule, String> {
    let condition = SeccompCondition::new(
        0,
        SeccompCmpArgLen::Qword,
        SeccompCmpOp::MaskedEq(mask),
        value,
    )
    .map_err(|e| format!("seccomp filter: {e}"))?;
    SeccompRule::new(vec![condition]).map_err(|e| format!("seccomp filter: {e}"))
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
        let defaults = crate::caps::kept(&App::default(), true).unwrap();
        let default = Policy::of(&App::default(), Some(&defaults)).unwrap();
        assert_eq!(default.action, Action::Errno(nix::libc::EPERM));
        assert_eq!(default.blocked, Set::Only(blacklist()));
        assert!(default.namespaces_refused);
        assert!(blacklist().contains("mount") && blacklist().contains("reboot"));
        // What a granted capability is for is let through.
        let mut admin = defaults.clone();
        admin.extend([CAP_SYS_ADMIN, CAP_DAC_READ_SEARCH]);
        let granted = Policy::of(&App::default(), Some(&admin)).unwrap();
        assert!(!granted.namespaces_refused);
        for call in ["unshare", "fanotify_init", "open_by_handle_at"] {
            assert!(!granted.blocked.holds(call), "{call}");
        }
        assert!(granted.blocked.holds("mount"));

        let retain = app(&[(
            "os/linux/seccomp-retain-set",
            serde_json::json!({"set": ["@rkt/default-whitelist", "mount"], "errno": "ENOSYS"}),
        )]);
        let p = Policy::of(&retain, None).unwrap();
        assert_eq!(p.action, Action::Errno(nix::libc::ENOSYS));
        let mut expected = blacklist();
        expected.remove("mount");
        assert_eq!(p.blocked, Set::Only(expected));

        let remove = app(&[(
            "os/linux/seccomp-remove-set",
            serde_json::json!({"set": ["socket"]}),
        )]);
        let p = Policy::of(&remove, None).unwrap();
        assert_eq!(p.action, Action::KillProcess);
        assert_eq!(p.blocked, Set::Only(names(&["socket"])));

        let only_some = app(&[(
            "os/linux/seccomp-retain-set",
            serde_json::json!({"set": ["read", "write", "exit_group"]}),
        )]);
        let p = Policy::of(&only_some, None).unwrap();
        assert_eq!(
            p.blocked,
            Set::AllBut(names(&["exit_group", "read", "write"]))
        );
        // It refuses unshare, and so namespaces to clone.
        assert!(p.namespaces_refused);
        assert_eq!(p.compile(&["execve"]).unwrap().len(), 2);
        // The default: its list, then clone3's ENOSYS.
        assert_eq!(default.compile(&["execve"]).unwrap().len(), 2);
        assert_eq!(granted.compile(&["execve"]).unwrap().len(), 1);
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
            assert_eq!(Policy::of(&a, None).unwrap_err(), wanted);
        }
    }
}
