//! The pod init: in the pod's namespaces, it mounts each app's root under
//! the pod's own root and pivot_roots into it (see [`crate::pod_root`]),
//! starts the apps, reaps every process, records exit statuses and stops
//! the other apps when one fails or when asked to stop.

use crate::args::Args;
use crate::cgroups::PodCgroups;
use crate::exec::{Confinement, Placement};
use crate::fork_into::{Forked, fork_into};
use crate::net::Ready;
use crate::{pod_root, rootfs};
use appc::schema::PodManifest;
use appc::schema::pod_manifest::RuntimeApp;
use nix::sched::{CloneFlags, unshare};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, sigprocmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use std::collections::HashMap;
use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::path::PathBuf;

/// Signals the init handles; blocked from its start (the supervisor
/// forks it with the stop signals already blocked), so that a stop that
/// arrives while the pod is starting waits, and is not lost.
pub fn handled_signals() -> SigSet {
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGCHLD,
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGALRM,
    ] {
        set.add(s);
    }
    set
}

/// Where the init tells the supervisor how the apps are doing: a byte
/// once every app has started, and once every app (and handler) has
/// ended (each if given); and where it sends an interactive pod's
/// terminal, for the supervisor to relay (see [`crate::console`]).
pub struct Progress {
    pub started: Option<File>,
    pub done: Option<File>,
    pub console: Option<OwnedFd>,
}

/// Sets up the pod and supervises its apps; returns the pod's exit
/// status. `app_mask` is the signal mask apps start with.
pub fn run(
    args: &Args,
    manifest: &PodManifest,
    confinement: &Confinement,
    cgroups: Option<&PodCgroups>,
    app_mask: &SigSet,
    network: &mut Ready,
    progress: Progress,
) -> u8 {
    let pod = (manifest, confinement, cgroups);
    let code = supervise(
        args,
        pod,
        app_mask,
        network,
        (progress.started, progress.console),
    );
    if let Some(mut done) = progress.done {
        // (A supervisor with no use for it has closed its end: the write
        // fails, SIGPIPE being ignored, as in every Rust program.)
        let _ = std::io::Write::write_all(&mut done, b"1");
    }
    match code {
        Ok(code) => code,
        Err(e) => {
            eprintln!("stage1: {e}");
            254
        }
    }
}

/// One app as the init holds it once in the pod's root.
struct Started<'a> {
    app: &'a RuntimeApp,
    root: PathBuf,
    metadata_url: Option<String>,
    cgroup_procs: Vec<File>,
}

impl Started<'_> {
    /// Where the app's process goes; `joined`: it started in its cgroup.
    fn placement(&self, joined: bool) -> Placement<'_> {
        Placement {
            root: &self.root,
            cgroup_procs: if joined { &[] } else { &self.cgroup_procs },
            metadata_url: self.metadata_url.as_deref(),
            term: None,
        }
    }
}

fn supervise(
    args: &Args,
    (manifest, confinement, cgroups): (&PodManifest, &Confinement, Option<&PodCgroups>),
    app_mask: &SigSet,
    network: &mut Ready,
    (apps_started, console): (Option<File>, Option<OwnedFd>),
) -> Result<u8, String> {
    let fly = !confinement.own_root;
    let watched = handled_signals();
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&watched), None)
        .map_err(|e| format!("sigprocmask: {e}"))?;
    // Not dumpable: apps reach the init's /proc entries only with
    // CAP_SYS_PTRACE; its executable is read-only even then (crate::exe).
    nix::sys::prctl::set_dumpable(false).map_err(|e| format!("non-dumpable: {e}"))?;
    let ns = if fly {
        CloneFlags::CLONE_NEWNS
    } else if args.host_ipc {
        CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWUTS
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
    let stage1_root = args.stage1_root();
    pod_root::bind(&stage1_root)?;
    let mut started: Vec<Started<'_>> = Vec::new();
    // Taken by the first process started (see `PodCgroups::first_start`).
    let mut first_start: Option<OwnedFd> = None;
    let mut console = console;
    for app in apps {
        let root = rootfs::prepare(args, app, fly)?;
        // An interactive pod's one app: its terminal is the init's stdio
        // from now on, which the apps and handlers inherit.
        if let Some(socket) = console.take() {
            let pty = crate::console::for_app(&root, !fly)?;
            crate::console::become_stdio(&pty.terminal)?;
            crate::console::send(&socket, &pty.controller)?;
        }
        network.wait()?;
        rootfs::name_files(args, &root, fly)?;
        if crate::systemd::notifies_itself(app.name.as_str()) {
            crate::systemd::bind_into(&root, &args.pod_dir)?;
        }
        crate::volumes::mount_all(args, volumes, app, &root)?;
        if app.read_only_root_fs {
            rootfs::make_read_only(&root)?;
        }
        let cgroup_procs = match cgroups {
            Some(c) => c.app_procs(app.name.as_str())?,
            None => Vec::new(),
        };
        if started.is_empty() {
            first_start = cgroups.and_then(|c| c.first_start(app.name.as_str()));
        }
        started.push(Started {
            app,
            root: pod::dir::app_root_under(Path::new("/"), app.name.as_str()),
            cgroup_procs,
            metadata_url: None,
        });
    }
    // (A pod without apps waits too: the supervisor is not done with it.)
    network.wait()?;
    if let Some(url) = crate::metadata::url(args, fly)? {
        for s in &mut started {
            s.metadata_url = Some(url.clone());
        }
    }
    if !args.interactive {
        // Apps read nothing from rkt's terminal unless asked to.
        let null = File::open("/dev/null").map_err(|e| format!("/dev/null: {e}"))?;
        nix::unistd::dup2_stdin(&null).map_err(|e| format!("stdin: {e}"))?;
    }
    pod_root::enter(&stage1_root)?;
    crate::caps::keep_for_init()?;
    let status_dir = Path::new("/").join(pod::dir::STATUS);
    let record = |name: &str, code: u8| -> Result<(), String> {
        let path = status_dir.join(name);
        std::fs::write(&path, code.to_string()).map_err(|e| {
            format!(
                "app {name}: cannot record its exit status {code} in {}: {e}",
                args.stage1_root()
                    .join(pod::dir::STATUS)
                    .join(name)
                    .display()
            )
        })
    };
    let signals = SignalFd::with_flags(&watched, SfdFlags::SFD_CLOEXEC)
        .map_err(|e| format!("signalfd: {e}"))?;

    let mut running: HashMap<Pid, usize> = HashMap::new();
    let mut first_failure: Option<u8> = None;
    let mut unrecorded = false;
    let mut stopping = false;
    let stop = |running: &HashMap<Pid, usize>, stopping: &mut bool| {
        if !*stopping {
            *stopping = true;
            for pid in running.keys() {
                let _ = kill(*pid, Signal::SIGTERM);
            }
            nix::unistd::alarm::set(crate::STOP_GRACE_SECS);
        }
    };
    for (i, s) in started.iter().enumerate() {
        if stop_pending() {
            break;
        }
        // A failing pre-start handler counts as the app failing.
        let code = handler(s, "pre-start", app_mask, confinement, &mut first_start)?;
        if code != 0 {
            if let Err(e) = record(s.app.name.as_str(), code) {
                eprintln!("stage1: {e}");
                unrecorded = true;
            }
            first_failure.get_or_insert(code);
            stop(&running, &mut stopping);
            break;
        }
        let child = spawn(app_mask, first_start.take(), |joined| {
            crate::exec::exec_app(s.app, &s.placement(joined), confinement)
        })?;
        running.insert(child, i);
    }
    drop(first_start);
    // Once the apps run, the init keeps only what it still needs: its
    // own seccomp filter, and the capabilities of post-stop handlers if
    // any app has one, else CAP_KILL alone.
    if !fly {
        crate::seccomp::load_init_filter()?;
    }
    let handlers_left = started.iter().any(|s| has_handler(s.app, "post-stop"));
    crate::caps::keep_after_start(handlers_left)?;
    if let Some(mut told) = apps_started
        && running.len() == started.len()
        && !stopping
    {
        // The supervisor may be gone already; the pod goes on regardless.
        let _ = std::io::Write::write_all(&mut told, b"1");
    }
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
                let Some(i) = running.remove(&pid) else {
                    continue;
                };
                let s = &started[i];
                if let Err(e) = record(s.app.name.as_str(), code) {
                    eprintln!("stage1: {e}");
                    unrecorded = true;
                }
                handler(s, "post-stop", app_mask, confinement, &mut None)?;
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
    match first_failure {
        Some(code) => Ok(code),
        // An exit status that could not be recorded is a failure of the pod.
        None if unrecorded => Ok(254),
        None => Ok(0),
    }
}

/// Whether a stop (SIGTERM, SIGINT, SIGHUP) is waiting to be handled.
fn stop_pending() -> bool {
    use nix::libc;
    let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigpending fills the set it is given; it is read only then.
    if unsafe { libc::sigpending(set.as_mut_ptr()) } != 0 {
        return false;
    }
    // SAFETY: initialised by the successful sigpending above.
    let set = unsafe { set.assume_init() };
    [libc::SIGTERM, libc::SIGINT, libc::SIGHUP]
        .iter()
        // SAFETY: sigismember only reads the set.
        .any(|s| unsafe { libc::sigismember(&set, *s) } == 1)
}

/// Forks a child that restores the signal mask and runs `body`, whose
/// return value is its exit status; the child starts in the cgroup
/// directory `into` where the kernel can (`body` is told whether it did).
/// Both close `into` at once.
fn spawn(
    mask: &SigSet,
    into: Option<OwnedFd>,
    body: impl FnOnce(bool) -> i32,
) -> Result<Pid, String> {
    // SAFETY: the init is single-threaded; the child execs or exits.
    let forked = unsafe { fork_into(into.as_ref().map(AsFd::as_fd)) };
    drop(into);
    match forked? {
        Forked::Child { in_cgroup } => {
            let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(mask), None);
            std::process::exit(body(in_cgroup));
        }
        Forked::Parent { child, .. } => Ok(child),
    }
}

/// Whether the app has an event handler `name` with something to run.
fn has_handler(app: &RuntimeApp, name: &str) -> bool {
    handler_exec(app, name).is_some()
}

fn handler_exec(app: &RuntimeApp, name: &str) -> Option<Vec<String>> {
    app.app
        .iter()
        .flat_map(|a| &a.event_handlers)
        .find(|h| h.name == name)
        .and_then(|h| h.exec.clone())
        .filter(|e| !e.is_empty())
}

/// Runs the app's event handler `name` (as root, in the app's root) to
/// completion; 0 when there is none. It starts in `first_start` if that
/// is still there (see `supervise`).
fn handler(
    s: &Started<'_>,
    name: &str,
    mask: &SigSet,
    confinement: &Confinement,
    first_start: &mut Option<OwnedFd>,
) -> Result<u8, String> {
    let Some(exec) = handler_exec(s.app, name) else {
        return Ok(0);
    };
    let child = spawn(mask, first_start.take(), |joined| {
        crate::exec::exec_in_root(s.app, &s.placement(joined), &exec, true, confinement)
    })?;
    loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code as u8),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(128 + sig as u8),
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(format!("{name} handler of {}: {e}", s.app.name)),
        }
    }
}

/// A C string for a path or argument; interior NULs are refused.
pub(crate) fn cstr(s: &str) -> Result<CString, String> {
    CString::new(s).map_err(|_| format!("{s:?} contains a NUL byte"))
}

pub(crate) fn path_str(p: &Path) -> String {
    p.display().to_string()
}
