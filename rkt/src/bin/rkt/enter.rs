//! `rkt enter [--app=NAME] UUID [CMD [ARGS...]]`: a command inside a
//! running pod, through the pod's stage1 `enter` entrypoint (rkt's
//! interface: `--pid=PID --appname=NAME -- CMD...`, run in the pod's
//! directory), which confines the command like the app it enters.

use crate::Settings;
use anyhow::{Context, bail};
use rkt::pods::{Pods, State};
use std::ffi::CString;

#[derive(clap::Args)]
#[group(skip)]
#[command(mut_args = crate::pflag_bool)]
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

/// The pod's init, once stage1 has recorded it: a pod is running from the
/// moment its lock is taken, a little before its init exists.
fn init_pid(pod: &rkt::pods::Pod) -> anyhow::Result<i64> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Some(pid) = pod.number(pod::PodDir::pid) {
            return Ok(pid);
        }
        if pod.state()? != State::Running || std::time::Instant::now() > deadline {
            bail!("pod {}: no pid recorded", pod.uuid);
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

pub fn run(settings: &Settings, a: Args) -> anyhow::Result<()> {
    let pod = Pods::open(&settings.data_dir)?.find(&a.uuid)?;
    if pod.state()? != State::Running {
        bail!("pod {} is not running", pod.uuid);
    }
    let app = &pod.app(a.app.as_deref())?;
    let pid = init_pid(&pod)?;
    let entrypoint =
        crate::pods::stage1_entrypoint(settings, &pod, rkt::stage1_image::enter_entrypoint)?
            .with_context(|| format!("pod {}: its stage1 image cannot enter pods", pod.uuid))?;
    let mut argv = vec![
        entrypoint.display().to_string(),
        format!("--pid={pid}"),
        format!("--appname={}", app.name),
        "--".to_string(),
    ];
    argv.extend(a.command.iter().cloned());
    let argv: Vec<CString> = argv
        .iter()
        .map(|s| cstring(s))
        .collect::<anyhow::Result<_>>()?;
    std::env::set_current_dir(&pod.path)
        .with_context(|| format!("pod {}: {}", pod.uuid, pod.path.display()))?;
    bail!(
        "{}",
        pod::exe::exec_read_only(&entrypoint, &argv, &pod::exe::current_env())
    )
}
