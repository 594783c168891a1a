//! The stop entrypoint (`coreos.com/rkt/stage1/stop`), which `rkt stop`
//! runs in a running pod's directory as `stop [--force] UUID`. Graceful:
//! SIGTERM to the supervisor, which stops the apps (SIGTERM, then SIGKILL
//! after the grace period) and records their statuses. Forced: SIGKILL to
//! the pod's init, which ends every process of the pod at once. Both go
//! through pidfds checked to be the pod's (see [`crate::pod_process`]).

use crate::pod_process::PodProcesses;
use nix::sys::signal::Signal;

/// Stops the pod whose directory is the current one.
pub fn run(argv: &[String]) -> Result<(), String> {
    let force = argv.iter().any(|a| a == "--force" || a == "--force=true");
    let uuids: Vec<&String> = argv.iter().filter(|a| !a.starts_with("--")).collect();
    if uuids.len() != 1 {
        return Err("expected one pod UUID".into());
    }
    let pod = PodProcesses::of(&pod::PodDir::new("."))?;
    if force {
        pod.init.signal(Signal::SIGKILL)
    } else {
        pod.supervisor.signal(Signal::SIGTERM)
    }
}
