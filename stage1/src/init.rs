//! The pod init: in the pod's namespaces, it mounts each app's root, starts
//! the apps, reaps every process, records exit statuses and stops the
//! other apps when one fails or when asked to stop.

use crate::args::Args;
use crate::cgroups::PodCgroups;
use crate::exec::Confinement;
use crate::rootfs;
use appc::schema::PodManifest;
use appc::schema::pod_manifest::RuntimeApp;
use nix::sched::{CloneFlags, unshare};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, sigprocmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork};
use std::collections::HashMap;
use std::ffi::CString;
use std::path::Path;
use std::path::PathBuf;

/// Sets up the pod and supervises its apps; returns the pod's exit status.
pub fn run(args: &Args, manifest: &PodManifest, fly: bool, cgroups: Option<&PodCgroups>) -> u8 {
    match supervise(args, manifest, fly, cgroups) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("stage1: {e}");
            254
        }
    }
}

fn supervise(
    args: &Args,
    manifest: &PodManifest,
    fly: bool,
    cgroups: Option<&PodCgroups>,
) -> Result<u8, String> {
    let ns = if fly {
        CloneFlags::CLONE_NEWNS
    } else {
        CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWUTS | CloneFlags::CLONE_NEWIPC
    };
    unshare(ns).map_err(|e| format!("new namespaces: {e}"))?;
    // Nothing mounted for the pod may propagate back to the host.
    rootfs::make_private()?;
    if !fly {
        nix::unistd::sethostname(args.hostname()).map_err(|e| format!("hostname: {e}"))?;
    }
    let apps: &[RuntimeApp] = manifest.apps.as_deref().unwrap_or_default();
    let volumes = manifest.volumes.as_deref().unwrap_or_default();
    let confinement = Confinement {
        cgroups,
        seccomp: !fly && !args.disable_seccomp,
        all_capabilities: args.disable_capabilities,
    };
    let mut roots: Vec<PathBuf> = Vec::new();
    for app in apps {
        let root = rootfs::prepare(args, app, fly)?;
        crate::volumes::mount_all(args, volumes, app, &root)?;
        if app.read_only_root_fs {
            rootfs::make_read_only(&root)?;
        }
        roots.push(root);
    }
    if !args.interactive() {
        // Apps read nothing from rkt's terminal unless asked to.
        let null = std::fs::File::open("/dev/null").map_err(|e| format!("/dev/null: {e}"))?;
        nix::unistd::dup2_stdin(&null).map_err(|e| format!("stdin: {e}"))?;
    }
    let status_dir = args.pod_dir.join("stage1/rootfs/rkt/status");
    std::fs::create_dir_all(&status_dir).map_err(|e| format!("{}: {e}", status_dir.display()))?;

    let mut watched = SigSet::empty();
    for s in [
        Signal::SIGCHLD,
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGALRM,
    ] {
        watched.add(s);
    }
    let old_mask = sigprocmask_swap(&watched)?;
    let signals = SignalFd::with_flags(&watched, SfdFlags::SFD_CLOEXEC)
        .map_err(|e| format!("signalfd: {e}"))?;

    let mut running: HashMap<Pid, String> = HashMap::new();
    let mut first_failure: Option<u8> = None;
    for (app, root) in apps.iter().zip(&roots) {
        // A failing pre-start handler counts as the app failing.
        let code = handler(app, root, "pre-start", &old_mask, &confinement)?;
        if code != 0 {
            let _ = std::fs::write(args.status_file(app.name.as_str()), code.to_string());
            first_failure.get_or_insert(code);
            break;
        }
        let child = spawn(&old_mask, || crate::exec::exec_app(app, root, &confinement))?;
        running.insert(child, app.name.to_string());
    }
    let mut stopping = false;
    if first_failure.is_some() {
        for pid in running.keys() {
            let _ = kill(*pid, Signal::SIGTERM);
        }
    }
    let stop = |running: &HashMap<Pid, String>, stopping: &mut bool| {
        if !*stopping {
            *stopping = true;
            for pid in running.keys() {
                let _ = kill(*pid, Signal::SIGTERM);
            }
            nix::unistd::alarm::set(crate::STOP_GRACE_SECS);
        }
    };
    let mut stop_requested = false;
    while !running.is_empty() {
        let Ok(Some(info)) = signals.read_signal() else {
            continue;
        };
        match Signal::try_from(info.ssi_signo as i32) {
            Ok(Signal::SIGCHLD) => loop {
                let (pid, code) = match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                    Ok(WaitStatus::Exited(pid, code)) => (pid, code as u8),
                    Ok(WaitStatus::Signaled(pid, sig, _)) => (pid, 128 + sig as u8),
                    Ok(WaitStatus::StillAlive) | Err(_) => break,
                    Ok(_) => continue,
                };
                let Some(name) = running.remove(&pid) else {
                    continue;
                };
                let path = args.status_file(&name);
                let _ = std::fs::write(&path, code.to_string());
                if let Some((app, root)) = apps
                    .iter()
                    .zip(&roots)
                    .find(|(a, _)| a.name.as_str() == name)
                {
                    handler(app, root, "post-stop", &old_mask, &confinement)?;
                }
                let stopped_by_us = stop_requested && matches!(code, 143 | 137);
                if code != 0 && first_failure.is_none() && !stopped_by_us {
                    first_failure = Some(code);
                    stop(&running, &mut stopping);
                }
            },
            Ok(Signal::SIGTERM | Signal::SIGINT | Signal::SIGHUP) => {
                stop_requested = true;
                stop(&running, &mut stopping);
            }
            Ok(Signal::SIGALRM) => {
                for pid in running.keys() {
                    let _ = kill(*pid, Signal::SIGKILL);
                }
            }
            _ => {}
        }
    }
    Ok(first_failure.unwrap_or(0))
}

/// Forks a child that restores the signal mask and runs `body`, whose
/// return value is its exit status.
fn spawn(mask: &SigSet, body: impl FnOnce() -> i32) -> Result<Pid, String> {
    // SAFETY: the init is single-threaded; the child execs or exits.
    match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Child => {
            let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(mask), None);
            std::process::exit(body());
        }
        ForkResult::Parent { child } => Ok(child),
    }
}

/// Runs the app's event handler `name` (as root, in the app's root) to
/// completion; 0 when there is none.
fn handler(
    app: &RuntimeApp,
    root: &Path,
    name: &str,
    mask: &SigSet,
    confinement: &Confinement<'_>,
) -> Result<u8, String> {
    let exec = app
        .app
        .iter()
        .flat_map(|a| &a.event_handlers)
        .find(|h| h.name == name)
        .and_then(|h| h.exec.clone());
    let Some(exec) = exec.filter(|e| !e.is_empty()) else {
        return Ok(0);
    };
    let child = spawn(mask, || {
        crate::exec::exec_in_root(app, root, &exec, true, confinement)
    })?;
    loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code as u8),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(128 + sig as u8),
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(format!("{name} handler of {}: {e}", app.name)),
        }
    }
}

fn sigprocmask_swap(set: &SigSet) -> Result<SigSet, String> {
    let mut old = SigSet::empty();
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(set), Some(&mut old))
        .map_err(|e| format!("sigprocmask: {e}"))?;
    Ok(old)
}

/// A C string for a path or argument; interior NULs are refused.
pub(crate) fn cstr(s: &str) -> Result<CString, String> {
    CString::new(s).map_err(|_| format!("{s:?} contains a NUL byte"))
}

pub(crate) fn path_str(p: &Path) -> String {
    p.display().to_string()
}
