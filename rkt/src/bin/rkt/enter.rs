//! `rkt enter [--app=NAME] UUID [CMD [ARGS...]]`: a command inside a
//! running pod, in the app's namespaces and root, with its environment.

use crate::Settings;
use anyhow::{Context, bail};
use nix::sched::{CloneFlags, setns};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, fork};
use rkt::pod::{Pods, State};
use std::ffi::CString;
use std::fs::File;

#[derive(clap::Args)]
pub struct Args {
    /// the app to enter (needed when the pod has several)
    #[arg(long)]
    app: Option<String>,
    uuid: String,
    /// the command and its arguments (default /bin/sh)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

fn cstring(s: &str) -> anyhow::Result<CString> {
    CString::new(s).with_context(|| format!("{s:?} contains a NUL byte"))
}

pub fn run(settings: &Settings, a: Args) -> anyhow::Result<()> {
    let pod = Pods::open(&settings.data_dir)?.find(&a.uuid)?;
    if pod.state()? != State::Running {
        bail!("pod {} is not running", pod.uuid);
    }
    let app = &pod.app(a.app.as_deref())?;
    let pid = pod
        .number("pid")
        .with_context(|| format!("pod {}: no pid recorded", pod.uuid))?;
    let root = pod
        .path
        .join("stage1/rootfs/opt/stage2")
        .join(app.name.as_str())
        .join("rootfs");
    let command = if a.command.is_empty() {
        vec!["/bin/sh".to_string()]
    } else {
        a.command.clone()
    };
    // The environment the app itself was started with.
    let env: Vec<String> = stage1::exec::environment(app)
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let argv: Vec<CString> = command
        .iter()
        .map(|s| cstring(s))
        .collect::<anyhow::Result<_>>()?;
    let envp: Vec<CString> = env
        .iter()
        .map(|s| cstring(s))
        .collect::<anyhow::Result<_>>()?;

    // Opened before joining anything: /proc/<pid> is the host's view.
    let namespaces = [
        ("ipc", CloneFlags::CLONE_NEWIPC),
        ("uts", CloneFlags::CLONE_NEWUTS),
        ("pid", CloneFlags::CLONE_NEWPID),
        ("mnt", CloneFlags::CLONE_NEWNS),
    ];
    let files: Vec<(File, CloneFlags)> = namespaces
        .iter()
        .map(|(name, flag)| {
            File::open(format!("/proc/{pid}/ns/{name}"))
                .map(|f| (f, *flag))
                .with_context(|| format!("pod {}: namespace {name}", pod.uuid))
        })
        .collect::<anyhow::Result<_>>()?;
    stage1::cgroups::join_recorded_app(&pod.path, &pod.uuid, app.name.as_str())
        .map_err(|e| anyhow::anyhow!("pod {}: joining its cgroups: {e}", pod.uuid))?;
    for (file, flag) in &files {
        setns(file, *flag).with_context(|| format!("joining pod {}", pod.uuid))?;
    }
    // SAFETY: rkt is single-threaded here; the child only execs.
    match unsafe { fork() }.context("fork")? {
        ForkResult::Child => {
            let err = nix::unistd::chroot(&root)
                .and_then(|_| nix::unistd::chdir("/"))
                .and_then(|_| nix::unistd::execvpe(&argv[0], &argv, &envp).map(|_| ()))
                .err();
            eprintln!(
                "enter: {}: {}",
                command[0],
                err.map_or("failed".into(), |e| e.to_string())
            );
            std::process::exit(254);
        }
        ForkResult::Parent { child } => loop {
            match waitpid(child, None) {
                Ok(WaitStatus::Exited(_, code)) => std::process::exit(code),
                Ok(WaitStatus::Signaled(_, sig, _)) => std::process::exit(128 + sig as i32),
                Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => bail!("waiting for {}: {e}", command[0]),
            }
        },
    }
}
