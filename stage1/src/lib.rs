//! stage1: runs a prepared pod. One binary, two flavours chosen by the name
//! it is invoked as: `init` (the default: new PID, mount, UTS and IPC
//! namespaces) and `fly` (host namespaces, chroot only).
//!
//! # The contract with stage0
//!
//! stage0 (`rkt run`) prepares the pod directory, takes its lock and exec()s
//! the image's run entrypoint as rkt's stage1 interface has it, in the pod
//! directory:
//!
//! ```text
//! RKT_LOCK_FD=N <stage1 tree>/rootfs/{init,fly} [--net=NETS] [--local-config=DIR]
//!     [--debug] [--hostname=NAME] [--interactive] [--dns=IP|host|none]
//!     [--dns-search=D] [--dns-opt=O] [--dns-domain=D] [--hosts-entry=IP=NAME|host]
//!     [--disable-capabilities-restriction] [--disable-paths] [--disable-seccomp] UUID
//! ```
//!
//! (the `--disable-*` from `--insecure-options=capabilities,paths,seccomp`;
//! other flags of rkt's are accepted and unused; `--pod-dir`, `--uuid` and
//! `--lock-fd` say the same explicitly), with the lock's descriptor `N`
//! inherited: stage1 keeps it open for the
//! pod's whole life, so the pod is running exactly while the lock is held,
//! even if stage1 is killed. The pod directory's files, what stage0 writes
//! and what stage1 writes, are `pod::PodDir`'s (the `pod` crate, which
//! both stages use); the `cgroups` record is [`cgroups`]'s and the
//! `confinement` record [`exec::Confinement`]'s. stage1's own exit status is
//! the first failing app's exit code, or 0 (254 when an exit status could
//! not be recorded).
//!
//! Invoked as `enter` (the image's `coreos.com/rkt/stage1/enter`
//! entrypoint) in a running pod's directory as
//! `enter --pid=PID --appname=APP -- CMD [ARGS...]`, it runs the command in
//! the app's root, confined like the app (see [`enter`]).
//!
//! Invoked as `stop` (`coreos.com/rkt/stage1/stop`) in a running pod's
//! directory as `stop [--force] UUID`, it stops the pod (see [`stop`]).
//!
//! stage0 executes the entrypoints through a read-only bind mount of the
//! executable; stage1 re-executes itself that way when it was not (see
//! `pod::exe`).
//!
//! Invoked as `gc` (the image's `coreos.com/rkt/stage1/gc` entrypoint) in a
//! pod's directory with the pod's UUID, it releases what a killed
//! supervisor could not: the pod's cgroups.
//!
//! # Semantics
//!
//! The pod ends when all apps have ended. When an app fails (non-zero
//! exit), the others get SIGTERM, then SIGKILL after a grace period.
//! SIGTERM or SIGINT to the supervisor stops the pod the same way.

pub mod args;
pub mod caps;
pub mod cgroups;
pub mod console;
pub mod copy;
pub mod dbus;
pub mod enter;
pub mod exec;
pub mod fork_into;
pub mod init;
pub mod machined;
pub mod metadata;
pub mod net;
pub mod pod_process;
pub mod pod_root;
pub mod rootdir;
pub mod rootfs;
pub mod seccomp;
pub mod seccomp_bpf;
pub mod stop;
pub mod supervisor;
pub mod systemd;
pub mod users;
pub mod volumes;

/// Seconds between SIGTERM and SIGKILL when stopping apps.
pub const STOP_GRACE_SECS: u32 = 10;

/// A pipe between the supervisor and the init, both ends closed at
/// exec: (read, write).
pub fn pipe() -> Result<(std::fs::File, std::fs::File), String> {
    let (r, w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
    Ok((r.into(), w.into()))
}
