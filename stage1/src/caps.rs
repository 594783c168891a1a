//! What an app may do as root: the capability bounding set and
//! no-new-privileges, from its isolators.
//!
//! Without isolators an app keeps rkt's default set. CAP_MKNOD is part of
//! it only where a device cgroup holds the app to its allow-list: without
//! one a node made in the pod could reach a host device.
//! `capabilities-retain-set` isolators replace the set,
//! `capabilities-remove-set` isolators take from it.

use appc::schema::types::App;
use appc::schema::types::isolator::{IsolatorValue, linux_capability};
use pod::privileges::DEFAULT_CAPABILITIES;
use std::collections::BTreeSet;

fn numbers<'a>(names: impl IntoIterator<Item = &'a String>) -> Result<BTreeSet<u32>, String> {
    names
        .into_iter()
        .map(|n| linux_capability(n).ok_or_else(|| format!("unknown capability {n}")))
        .collect()
}

/// The capabilities the app keeps; `may_mknod` when devices are limited.
pub fn kept(app: &App, may_mknod: bool) -> Result<BTreeSet<u32>, String> {
    let values: Vec<&IsolatorValue> = app.isolators.iter().filter_map(|i| i.value()).collect();
    let retains: Vec<&Vec<String>> = values
        .iter()
        .filter_map(|v| match v {
            IsolatorValue::CapabilitiesRetain(set) => Some(set),
            _ => None,
        })
        .collect();
    let mut keep = if retains.is_empty() {
        let mknod = may_mknod.then_some("CAP_MKNOD");
        DEFAULT_CAPABILITIES
            .iter()
            .copied()
            .chain(mknod)
            .map(|n| linux_capability(n).expect("the defaults are known"))
            .collect()
    } else {
        numbers(retains.into_iter().flatten())?
    };
    for v in &values {
        if let IsolatorValue::CapabilitiesRemove(set) = v {
            for n in numbers(set)? {
                keep.remove(&n);
            }
        }
    }
    Ok(keep)
}

/// Whether the app asked for no-new-privileges.
pub fn no_new_privileges(app: &App) -> bool {
    app.isolators
        .iter()
        .any(|i| matches!(i.value(), Some(IsolatorValue::NoNewPrivileges(true))))
}

/// The highest capability the running kernel knows, asked of the kernel
/// itself (PR_CAPBSET_READ refuses a number past it): no file of the
/// app's root, where /proc may be the image's, is read, and nothing is
/// guessed.
pub fn last_cap() -> u32 {
    // SAFETY: PR_CAPBSET_READ takes a capability number; no memory is passed.
    let known = |cap: u32| unsafe {
        nix::libc::prctl(
            nix::libc::PR_CAPBSET_READ,
            cap as nix::libc::c_ulong,
            0,
            0,
            0,
        ) >= 0
    };
    (0..=63).take_while(|c| known(*c)).last().unwrap_or(0)
}

/// Drops every other capability from the bounding set (before the
/// switch to the app's user, while this process may still do so).
pub fn limit_bounding_set(keep: &BTreeSet<u32>) -> Result<(), String> {
    for cap in (0..=last_cap()).filter(|c| !keep.contains(c)) {
        // SAFETY: PR_CAPBSET_DROP takes a capability number; no memory is passed.
        let r = unsafe {
            nix::libc::prctl(
                nix::libc::PR_CAPBSET_DROP,
                cap as nix::libc::c_ulong,
                0,
                0,
                0,
            )
        };
        if r != 0 {
            return Err(format!(
                "dropping capability {cap}: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}

/// Empties the inheritable and ambient sets, so that nothing a caller
/// left there (a unit's `AmbientCapabilities`, `capsh --inh`) reaches an
/// app through exec: from then on a root app's capabilities are its
/// bounding set, a non-root app's none.
pub fn clear_inherited() -> Result<(), String> {
    use rustix::thread::{CapabilitySet, capabilities, clear_ambient_capability_set};
    let err = |e| format!("clearing inherited capabilities: {e}");
    let mut sets = capabilities(None).map_err(err)?;
    if !sets.inheritable.is_empty() {
        sets.inheritable = CapabilitySet::empty();
        rustix::thread::set_capabilities(None, sets).map_err(err)?;
    }
    clear_ambient_capability_set().map_err(err)
}

/// Reduces the calling process (the pod init, once set up) to what
/// starting apps and handlers takes: entering their mount namespace and
/// root, their user, groups, bounding set, OOM score and seccomp filter,
/// and signalling them. The bounding set stays whole: a root app's
/// capabilities come from it at exec, not from the init's.
pub fn keep_for_init() -> Result<(), String> {
    use rustix::thread::{CapabilitySet as C, CapabilitySets, capabilities, set_capabilities};
    let err = |e| format!("reducing the init's capabilities: {e}");
    // Of those it has: a host (or a container rkt runs in) may withhold some.
    let held = capabilities(None).map_err(err)?.permitted;
    let keep = held
        & (C::SYS_ADMIN
            | C::SYS_CHROOT
            | C::SETUID
            | C::SETGID
            | C::SETPCAP
            | C::SYS_RESOURCE
            | C::KILL
            | C::DAC_OVERRIDE
            | C::DAC_READ_SEARCH);
    let sets = CapabilitySets {
        effective: keep,
        permitted: keep,
        inheritable: C::empty(),
    };
    set_capabilities(None, sets).map_err(err)
}

/// Reduces the init further once every app has started: to signalling
/// them (CAP_KILL: apps may run as other users), plus what starting
/// post-stop handlers takes when some app has one.
pub fn keep_after_start(handlers_left: bool) -> Result<(), String> {
    use rustix::thread::{CapabilitySet as C, CapabilitySets, capabilities, set_capabilities};
    if handlers_left {
        return Ok(());
    }
    let err = |e| format!("reducing the init's capabilities: {e}");
    let keep = capabilities(None).map_err(err)?.permitted & C::KILL;
    let sets = CapabilitySets {
        effective: keep,
        permitted: keep,
        inheritable: C::empty(),
    };
    set_capabilities(None, sets).map_err(err)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_last_capability_is_the_kernels() {
        let proc = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap").unwrap();
        assert_eq!(super::last_cap(), proc.trim().parse::<u32>().unwrap());
    }
}
