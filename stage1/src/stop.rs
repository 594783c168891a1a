//! The stop entrypoint (`coreos.com/rkt/stage1/stop`), which `rkt stop`
//! runs in a running pod's directory as `stop [--force] UUID`. Graceful:
//! SIGTERM to the supervisor, which stops the apps (SIGTERM, then SIGKILL
//! after the grace period) and records their statuses. Forced: SIGKILL to
//! the pod's init, which ends every process of the pod at once.

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Stops the pod whose directory is the current one.
pub fn run(argv: &[String]) -> Result<(), String> {
    let force = argv.iter().any(|a| a == "--force" || a == "--force=true");
    let uuids: Vec<&String> = argv.iter().filter(|a| !a.starts_with("--")).collect();
    if uuids.len() != 1 {
        return Err("expected one pod UUID".into());
    }
    let pod_dir = pod::PodDir::new(".");
    let (path, signal) = if force {
        (pod_dir.pid(), Signal::SIGKILL)
    } else {
        (pod_dir.ppid(), Signal::SIGTERM)
    };
    let file = path.display();
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{file}: {e}"))?;
    let pid: i32 = text
        .trim()
        .parse()
        .ok()
        .filter(|p| *p > 1)
        .ok_or_else(|| format!("{file}: not a process id: {text:?}"))?;
    kill(Pid::from_raw(pid), signal).map_err(|e| format!("signalling {pid}: {e}"))
}
