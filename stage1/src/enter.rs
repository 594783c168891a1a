//! The enter entrypoint (`coreos.com/rkt/stage1/enter`), which `rkt enter`
//! runs in the pod's directory as
//! `enter --pid=PID --appname=APP -- CMD [ARGS...]`, PID being the pod's
//! init. The command joins the app's cgroups and the pod's namespaces,
//! then becomes what the app is: its own mount namespace pivoted into the
//! app's root, the app's user and groups, bounding set, seccomp filter,
//! no-new-privileges, environment, and only stdin, stdout and stderr.
//! Whatever the app has planted in its root runs no stronger than the app.

use crate::exec::{Confinement, Placement};
use appc::schema::PodManifest;
use nix::sched::{CloneFlags, setns};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, fork};
use pod::PodDir;
use std::fs::File;
use std::path::Path;

struct Request {
    pid: i32,
    app: String,
    command: Vec<String>,
}

fn parse(argv: &[String]) -> Result<Request, String> {
    let (mut pid, mut app) = (None, None);
    let mut rest = argv.iter();
    for a in rest.by_ref() {
        if a == "--" {
            break;
        }
        match a.split_once('=') {
            Some(("--pid", v)) => pid = Some(v.parse().map_err(|_| format!("bad --pid {v:?}"))?),
            Some(("--appname", v)) => app = Some(v.to_string()),
            _ if a.starts_with("--debug") => {}
            _ => return Err(format!("unexpected argument {a:?}")),
        }
    }
    let mut command: Vec<String> = rest.cloned().collect();
    if command.is_empty() {
        command.push("/bin/sh".into());
    }
    Ok(Request {
        pid: pid.ok_or("--pid is required")?,
        app: app.ok_or("--appname is required")?,
        command,
    })
}

/// Waits until the pod's init has pivoted into the pod's root (it has set
/// the pod up by then): before that its mount namespace still holds the
/// host's root, which an entered command must never start from.
fn wait_for_pod_root(pid: i32) -> Result<(), String> {
    let id = |p: &str| nix::sys::stat::stat(p).map(|st| (st.st_dev, st.st_ino));
    let pod_root = id("stage1/rootfs").map_err(|e| format!("stage1/rootfs: {e}"))?;
    let init_root = format!("/proc/{pid}/root");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match id(&init_root) {
            Ok(root) if root == pod_root => return Ok(()),
            Ok(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            Ok(_) => return Err("the pod is still being set up".into()),
            Err(e) => return Err(format!("the pod's init (pid {pid}): {e}")),
        }
    }
}

/// Runs the command; returns its exit status.
pub fn run(argv: &[String]) -> Result<i32, String> {
    let req = parse(argv)?;
    // The caller's descriptors would be in the pod's sight until exec.
    crate::exec::close_inherited(&[])?;
    // Until exec, this process is stage1: kept from the pod's sight.
    nix::sys::prctl::set_dumpable(false).map_err(|e| format!("non-dumpable: {e}"))?;
    crate::caps::clear_inherited()?;
    let pod_dir = std::env::current_dir().map_err(|e| format!("the pod directory: {e}"))?;
    let uuid = pod_dir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or("not run in a pod directory")?
        .to_string();
    let pod_files = PodDir::new(&pod_dir);
    let read = |path: std::path::PathBuf| {
        std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))
    };
    let manifest = PodManifest::from_json(&read(pod_files.manifest())?)
        .map_err(|e| format!("{}: {e}", pod_files.manifest().display()))?;
    let app = manifest
        .apps
        .iter()
        .flatten()
        .find(|a| a.name.as_str() == req.app)
        .ok_or_else(|| format!("pod {uuid} has no app {}", req.app))?;
    let confinement = Confinement::from_record(&read(pod_files.confinement())?)
        .map_err(|e| format!("{}: {e}", pod_files.confinement().display()))?;

    // The init as a pidfd, checked to be the pod's: a pid reused since
    // the pod ended is never entered.
    let pod =
        crate::pod_process::PodProcesses::of(&pod_files).map_err(|e| format!("pod {uuid}: {e}"))?;
    if pod.init.pid() != req.pid {
        return Err(format!(
            "pod {uuid}: --pid={} is not the pod's init ({})",
            req.pid,
            pod.init.pid()
        ));
    }
    wait_for_pod_root(req.pid)?;
    // This process's own PID namespace, to return to once the command is
    // forked into the pod's: no thread (the terminal relay) can be made
    // while the two differ.
    let own_pids =
        File::open("/proc/self/ns/pid").map_err(|e| format!("/proc/self/ns/pid: {e}"))?;
    crate::cgroups::join_recorded_app(&pod_files, &uuid, &req.app)
        .map_err(|e| format!("pod {uuid}: joining app {}'s cgroups: {e}", req.app))?;
    let namespaces = CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWNET
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWNS;
    pod.init
        .join(namespaces)
        .map_err(|e| format!("pod {uuid}: {e}"))?;
    drop(pod);
    // The pod's root (the init's) is now this process's; the app's is below.
    let root = pod::dir::app_root_under(Path::new("/"), &req.app);
    let term = std::env::var("TERM").ok().filter(|t| !t.is_empty());
    let at = Placement {
        root: &root,
        cgroup_procs: &[],
        // The spec gives it to the app and its event handlers, not to
        // what an administrator enters with.
        metadata_url: None,
        term: term.as_deref(),
    };
    // From a terminal, the command gets a pty of the pod's own (in the
    // app's /dev/pts), relayed: the caller's terminal stays out of the pod.
    let pty = if crate::console::wanted() {
        let root = crate::rootdir::RootDir::open(&root)?;
        Some(crate::console::open_in(&root)?)
    } else {
        None
    };
    // SAFETY: single-threaded; the child only execs (or exits).
    match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Child => {
            if let Some(pty) = pty {
                drop(pty.controller);
                if let Err(e) = crate::console::become_stdio(&pty.terminal) {
                    eprintln!("stage1 enter: {e}");
                    std::process::exit(254);
                }
            }
            std::process::exit(crate::exec::exec_in_root(
                app,
                &at,
                &req.command,
                false,
                &confinement,
            ))
        }
        ForkResult::Parent { child } => {
            if let Err(e) = setns(&own_pids, CloneFlags::CLONE_NEWPID) {
                let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
                let _ = wait_for(child, &req.command[0]);
                return Err(format!("back to this process's PID namespace: {e}"));
            }
            let _relay = match pty {
                Some(pty) => {
                    drop(pty.terminal);
                    let controller = crate::console::Controller::Here(pty.controller);
                    Some(crate::console::Relay::start(controller)?)
                }
                None => None,
            };
            wait_for(child, &req.command[0])
        }
    }
}

/// The exit status of the entered command.
fn wait_for(child: nix::unistd::Pid, name: &str) -> Result<i32, String> {
    loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(128 + sig as i32),
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(format!("waiting for {name}: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn rkts_enter_arguments() {
        let r = parse(&args(&["--pid=42", "--appname=web", "--", "ls", "-l"])).unwrap();
        assert_eq!((r.pid, r.app.as_str()), (42, "web"));
        assert_eq!(r.command, ["ls", "-l"]);
        let r = parse(&args(&["--debug", "--appname=web", "--pid=1"])).unwrap();
        assert_eq!(r.command, ["/bin/sh"]);
        assert!(parse(&args(&["--appname=web"])).is_err());
        assert!(parse(&args(&["--pid=x", "--appname=web"])).is_err());
        assert!(parse(&args(&["--pid=1", "--appname=a", "--user=x"])).is_err());
    }

    #[test]
    fn the_confinement_record_round_trips() {
        let c = Confinement {
            own_root: true,
            devices_limited: false,
            seccomp: true,
            all_capabilities: false,
        };
        let back = Confinement::from_record(&c.to_record()).unwrap();
        assert_eq!(back.to_record(), "own-root\nseccomp\n");
        assert!(Confinement::from_record("own-root bogus").is_err());
    }
}
