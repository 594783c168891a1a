//! Becoming the app: its cgroups, a mount namespace of its own with its
//! root as the only root (a chroot in the fly flavour), working
//! directory, descriptors, capabilities, seccomp filter, user and group,
//! environment, and exec. Apps, their event handlers and `rkt enter`'s
//! commands all go this one way.

use crate::init::{cstr, path_str};
use crate::seccomp::Policy;
use appc::schema::pod_manifest::RuntimeApp;
use appc::schema::types::isolator::IsolatorValue;
use std::path::Path;

/// How an app's processes are held beyond their root.
#[derive(Default, Clone, Copy)]
pub struct Confinement {
    /// Whether each app gets a mount namespace of its own and pivot_roots
    /// into its root (the default flavour) or is only chroot()ed (fly).
    pub own_root: bool,
    /// Whether a device cgroup holds apps to the pod's allow-list (so
    /// CAP_MKNOD may be among the defaults).
    pub devices_limited: bool,
    /// Whether the app's seccomp policy applies (not in the fly flavour
    /// nor with `--insecure-options=seccomp`). It is worked out in the
    /// app's own process, so that the long-lived init holds none of it.
    pub seccomp: bool,
    /// Keep every capability (`--insecure-options=capabilities`).
    pub all_capabilities: bool,
}

/// The pod directory's `confinement` record, which the enter entrypoint
/// confines entered commands by.
impl Confinement {
    const WORDS: [&str; 4] = ["own-root", "devices-limited", "seccomp", "all-capabilities"];

    fn flags(&self) -> [bool; 4] {
        [
            self.own_root,
            self.devices_limited,
            self.seccomp,
            self.all_capabilities,
        ]
    }

    /// The record's text: the words of the settings that are on.
    pub fn to_record(&self) -> String {
        Self::WORDS
            .iter()
            .zip(self.flags())
            .filter(|(_, on)| *on)
            .map(|(w, _)| format!("{w}\n"))
            .collect()
    }

    pub fn from_record(text: &str) -> Result<Confinement, String> {
        let mut on = [false; 4];
        for word in text.split_whitespace() {
            let i = Self::WORDS
                .iter()
                .position(|w| *w == word)
                .ok_or_else(|| format!("unknown confinement {word:?}"))?;
            on[i] = true;
        }
        Ok(Confinement {
            own_root: on[0],
            devices_limited: on[1],
            seccomp: on[2],
            all_capabilities: on[3],
        })
    }
}

/// The app's environment in the spec's order: PATH default, AC_APP_NAME,
/// AC_METADATA_URL (for a registered pod), container=rkt, then the app's
/// own (which stage0 already merged with the user's overrides); later
/// entries replace earlier ones.
pub fn environment(app: &RuntimeApp, metadata_url: Option<&str>) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = vec![
        ("PATH".into(), pod::DEFAULT_PATH.into()),
        ("AC_APP_NAME".into(), app.name.to_string()),
    ];
    env.extend(metadata_url.map(|u| ("AC_METADATA_URL".into(), u.to_string())));
    env.push(("container".into(), "rkt".into()));
    for v in app.app.iter().flat_map(|a| a.environment.0.iter()) {
        match env.iter_mut().find(|(k, _)| *k == v.name) {
            Some(e) => e.1 = v.value.clone(),
            None => env.push((v.name.clone(), v.value.clone())),
        }
    }
    env
}

/// Finds `cmd` on `path` (inside the app's root, after chroot).
fn which(cmd: &str, path: &str) -> Option<String> {
    if cmd.contains('/') {
        return Some(cmd.to_string());
    }
    path.split(':')
        .map(|d| format!("{d}/{cmd}"))
        .find(|p| nix::unistd::access(p.as_str(), nix::unistd::AccessFlags::X_OK).is_ok())
}

/// Closes every descriptor but stdin, stdout, stderr and `keep` (the pod
/// lock, socket-activated listeners): whatever the caller of rkt left
/// open stays out of the pod, even in the moments before an exec. Called
/// before opening anything.
pub fn close_inherited(keep: &[i32]) -> Result<(), String> {
    let keep: Vec<u32> = keep
        .iter()
        .map(|&fd| u32::try_from(fd).map_err(|_| format!("bad descriptor {fd}")))
        .collect::<Result<_, _>>()?;
    for (first, last) in ranges_between(keep) {
        // SAFETY: close_range takes no memory; the caller uses none of these.
        if unsafe { nix::libc::close_range(first, last, 0) } != 0 {
            let e = std::io::Error::last_os_error();
            return Err(format!("closing inherited descriptors: {e}"));
        }
    }
    Ok(())
}

/// The ranges of descriptors from 3 up that leave out `keep`.
fn ranges_between(mut keep: Vec<u32>) -> Vec<(u32, u32)> {
    keep.sort_unstable();
    let mut first = 3u32;
    let mut ranges = Vec::new();
    for k in keep {
        if k < first {
            continue;
        }
        if k > first {
            ranges.push((first, k - 1));
        }
        first = k.saturating_add(1);
    }
    ranges.push((first, u32::MAX));
    ranges
}

/// Makes stdin the controlling terminal when it is a terminal no session
/// holds (the pod's own pty, which rkt relays): a shell gets job control.
/// The caller's terminal is held by the caller's session and is never
/// taken (no steal: the argument is 0).
fn take_terminal() {
    if nix::unistd::isatty(std::io::stdin()).unwrap_or(false) {
        // SAFETY: TIOCSCTTY takes an integer argument; no memory is passed.
        unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) };
    }
}

/// Every signal at its default disposition and none blocked: what stage1
/// or its caller ignores (Rust ignores SIGPIPE) or blocks must not reach
/// the app through exec, which keeps ignored signals and the mask.
fn reset_signals() -> Result<(), String> {
    /// The kernel's `struct sigaction` (x86_64 and the other 64-bit ABIs):
    /// the raw call reaches the signals libc keeps for itself (32, 33).
    #[repr(C)]
    struct KernelSigaction {
        handler: usize,
        flags: u64,
        restorer: usize,
        mask: u64,
    }
    let default = KernelSigaction {
        handler: libc::SIG_DFL,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    for sig in (1..=64).filter(|s| *s != libc::SIGKILL && *s != libc::SIGSTOP) {
        // SAFETY: a default disposition holds no handler; the struct lives
        // across the call and its size is the kernel's sigset size (8).
        let r = unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                &default as *const KernelSigaction,
                std::ptr::null_mut::<KernelSigaction>(),
                8usize,
            )
        };
        if r != 0 {
            let e = std::io::Error::last_os_error();
            return Err(format!("signal {sig} to its default: {e}"));
        }
    }
    nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&nix::sys::signal::SigSet::empty()),
        None,
    )
    .map_err(|e| format!("unblocking signals: {e}"))
}

/// Checks that the working directory reached is the one named: a symlink
/// on the way (the image's, even inside its root) is refused.
fn verify_cwd(wd: &str) -> Result<(), String> {
    let cwd = nix::unistd::getcwd().map_err(|e| format!("working directory {wd}: {e}"))?;
    if cwd != Path::new(&normalized(wd)) {
        return Err(format!(
            "working directory {wd}: leads to {} (a symlink)",
            cwd.display()
        ));
    }
    Ok(())
}

/// An absolute path with `.`, `..` and repeated slashes resolved lexically.
fn normalized(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Where an app's processes go: its root (as the calling process sees
/// it) and its cgroups' `cgroup.procs` files, opened beforehand (none
/// when there are no cgroups to join, or when already joined).
pub struct Placement<'a> {
    pub root: &'a Path,
    pub cgroup_procs: &'a [std::fs::File],
    /// The pod's `AC_METADATA_URL`, if it is registered.
    pub metadata_url: Option<&'a str>,
    /// The caller's `TERM`, which a command entered with `rkt enter`
    /// keeps, as in rkt.
    pub term: Option<&'a str>,
}

/// Becomes the app. Returns only on failure, with the status to exit with.
pub fn exec_app(app: &RuntimeApp, at: &Placement<'_>, confinement: &Confinement) -> i32 {
    let exec = app
        .app
        .as_ref()
        .and_then(|a| a.exec.clone())
        .unwrap_or_default();
    exec_in_root(app, at, &exec, false, confinement)
}

/// Runs `argv` in the app's root and environment, as the app's user or
/// (for event handlers) as root. Returns only on failure.
pub fn exec_in_root(
    app: &RuntimeApp,
    at: &Placement<'_>,
    argv: &[String],
    as_root: bool,
    confinement: &Confinement,
) -> i32 {
    let err = match try_exec(app, at, argv, as_root, confinement) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    eprintln!("stage1: app {}: {err}", app.name);
    254
}

fn try_exec(
    app: &RuntimeApp,
    at: &Placement<'_>,
    exec: &[String],
    as_root: bool,
    confinement: &Confinement,
) -> Result<std::convert::Infallible, String> {
    let a = app
        .app
        .as_ref()
        .ok_or("the pod manifest has no app section")?;
    if exec.is_empty() {
        return Err("nothing to execute".into());
    }
    // A session of its own: no terminal of the caller's is its
    // controlling terminal, so /dev/tty leads nowhere and TIOCSTI on an
    // inherited terminal is refused (only a session's own terminal takes
    // pushed input).
    nix::unistd::setsid().map_err(|e| format!("new session: {e}"))?;
    take_terminal();
    reset_signals()?;
    for procs in at.cgroup_procs {
        // "0": the writing process itself.
        std::io::Write::write_all(&mut &*procs, b"0")
            .map_err(|e| format!("joining the app's cgroup: {e}"))?;
    }
    // Only stdin, stdout and stderr reach the app, whatever the caller of
    // rkt or stage1 left open: the rest closes at exec. An app with a
    // socket-activated port also gets the unit's listening sockets.
    let listeners = crate::systemd::listeners()
        .filter(|_| !as_root && a.ports.iter().any(|p| p.socket_activated));
    // SAFETY: close_range takes no memory; CLOSE_RANGE_CLOEXEC only marks.
    let r = unsafe { nix::libc::close_range(3, u32::MAX, nix::libc::CLOSE_RANGE_CLOEXEC as i32) };
    if r != 0 {
        return Err(format!(
            "closing descriptors: {}",
            std::io::Error::last_os_error()
        ));
    }
    for l in listeners.iter() {
        let first = crate::systemd::FIRST_LISTENER;
        for fd in first..first + l.count as i32 {
            // SAFETY: the descriptor was passed open by systemd and kept since.
            let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
            nix::fcntl::fcntl(
                fd,
                nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
            )
            .map_err(|e| format!("socket-activated descriptor: {e}"))?;
        }
    }
    crate::caps::clear_inherited()?;
    if confinement.own_root {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
            .map_err(|e| format!("new mount namespace: {e}"))?;
        crate::pod_root::pivot_into(at.root)?;
    } else {
        nix::unistd::chdir(at.root).map_err(|e| format!("{}: {e}", path_str(at.root)))?;
        nix::unistd::chroot(".").map_err(|e| format!("chroot: {e}"))?;
    }
    // In the app's /proc: the init's root has none.
    let oom_adj = a.isolators.iter().find_map(|i| match i.value() {
        Some(IsolatorValue::OomScoreAdj(n)) => Some(*n),
        _ => None,
    });
    if let Some(adj) = oom_adj {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string())
            .map_err(|e| format!("oom score adjustment {adj}: {e}"))?;
    }
    let wd = if a.working_directory.is_empty() {
        "/"
    } else {
        a.working_directory.as_str()
    };
    nix::unistd::chdir(wd).map_err(|e| format!("working directory {wd}: {e}"))?;
    verify_cwd(wd)?;
    let (uid, gid) = if as_root {
        (0, 0)
    } else {
        (crate::users::uid(&a.user)?, crate::users::gid(&a.group)?)
    };
    let kept = if confinement.all_capabilities {
        None
    } else {
        let kept = crate::caps::kept(a, confinement.devices_limited)?;
        crate::caps::limit_bounding_set(&kept)?;
        Some(kept)
    };
    if crate::caps::no_new_privileges(a) {
        nix::sys::prctl::set_no_new_privs().map_err(|e| format!("no-new-privileges: {e}"))?;
    }
    // Everything execve needs is made before the seccomp filter is loaded.
    let mut env = environment(app, at.metadata_url);
    if let Some(term) = at.term {
        env.retain(|(k, _)| k != "TERM");
        env.push(("TERM".into(), term.into()));
    }
    if !as_root && crate::systemd::notifies_itself(app.name.as_str()) {
        let socket = crate::systemd::APP_NOTIFY_SOCKET;
        env.push(("NOTIFY_SOCKET".into(), socket.into()));
    }
    if let Some(l) = listeners {
        // LISTEN_PID is the pid the app sees: this process's, in the pod.
        env.push(("LISTEN_PID".into(), std::process::id().to_string()));
        env.push(("LISTEN_FDS".into(), l.count.to_string()));
        if let Some(names) = &l.names {
            env.push(("LISTEN_FDNAMES".into(), names.clone()));
        }
    }
    let path = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map_or(pod::DEFAULT_PATH, |(_, v)| v.as_str());
    let program = which(&exec[0], path)
        .ok_or_else(|| format!("{} not found in the image (PATH={path})", exec[0]))?;
    let program = cstr(&program)?;
    let argv: Vec<_> = exec.iter().map(|s| cstr(s)).collect::<Result<_, _>>()?;
    let envp: Vec<_> = env
        .iter()
        .map(|(k, v)| cstr(&format!("{k}={v}")))
        .collect::<Result<_, _>>()?;
    let groups: Vec<nix::unistd::Gid> = a
        .supplementary_gids
        .iter()
        .map(|g| nix::unistd::Gid::from_raw(*g as u32))
        .collect();
    // Loading a filter takes CAP_SYS_ADMIN (no-new-privileges stays the
    // app's choice), which a non-root user no longer has: its filter is
    // loaded before the switch, and lets the switch through.
    let before_switch = uid != 0;
    let exempt: &[&str] = if before_switch {
        &["execve", "setgroups", "setgid", "setuid"]
    } else {
        &["execve"]
    };
    let filters = if confinement.seccomp {
        Policy::of(a, kept.as_ref())?.compile(exempt)?
    } else {
        Vec::new()
    };
    let load = |filters: &[Vec<libc::sock_filter>]| {
        filters.iter().try_for_each(|f| crate::seccomp_bpf::load(f))
    };
    if before_switch {
        load(&filters)?;
    }
    nix::unistd::setgroups(&groups).map_err(|e| format!("supplementary groups: {e}"))?;
    nix::unistd::setgid(nix::unistd::Gid::from_raw(gid))
        .map_err(|e| format!("group {}: {e}", a.group))?;
    nix::unistd::setuid(nix::unistd::Uid::from_raw(uid))
        .map_err(|e| format!("user {}: {e}", a.user))?;
    if !before_switch {
        load(&filters)?;
    }
    let e = nix::unistd::execve(&program, &argv, &envp)
        .err()
        .unwrap_or(nix::errno::Errno::UnknownErrno);
    Err(format!("cannot run {}: {e}", exec[0]))
}

#[cfg(test)]
mod tests {
    use super::{normalized, ranges_between};

    #[test]
    fn working_directories_compare_lexically() {
        assert_eq!(normalized("/"), "/");
        assert_eq!(normalized("/srv//www/./"), "/srv/www");
        assert_eq!(normalized("/a/../b"), "/b");
        assert_eq!(normalized("/../.."), "/");
    }

    #[test]
    fn descriptors_closed_leave_out_those_kept() {
        let max = u32::MAX;
        assert_eq!(ranges_between(vec![]), vec![(3, max)]);
        // The lock after the unit's three listeners.
        assert_eq!(ranges_between(vec![6, 3, 4, 5]), vec![(7, max)]);
        assert_eq!(ranges_between(vec![9, 4]), vec![(3, 3), (5, 8), (10, max)]);
        assert_eq!(ranges_between(vec![0, 2, 3]), vec![(4, max)]);
    }
}
