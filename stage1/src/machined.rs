//! Registration with systemd-machined, as rkt's default stage1 did, so
//! that `machinectl list` shows the pod (as `rkt-<uuid>`, class
//! container). Best effort, and nothing at all where systemd is not PID 1
//! or machined is not installed: busctl, systemd's own client, makes the
//! two bus calls, neither of which the pod waits for.

use std::path::Path;
use std::process::{Child, Command, Stdio};

const BUSCTL: &str = "/usr/bin/busctl";
const MACHINED: &str = "/usr/lib/systemd/systemd-machined";

/// The machine name of pod `uuid`.
pub fn machine_name(uuid: &str) -> String {
    format!("rkt-{uuid}")
}

fn available() -> bool {
    Path::new("/run/systemd/system").is_dir()
        && Path::new(BUSCTL).exists()
        && Path::new(MACHINED).exists()
}

/// The 16 bytes of a UUID in its text form, as busctl takes an `ay`.
fn uuid_bytes(uuid: &str) -> Option<Vec<String>> {
    let hex: String = uuid.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 {
        return None;
    }
    (0..16)
        .map(|i| {
            u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
                .ok()
                .map(|b| b.to_string())
        })
        .collect()
}

/// Starts one busctl call, not waited for: each costs a process and a
/// bus round trip, which the pod's start and end need not wait on.
fn call(method: &str, signature: &str, args: &[String]) -> std::io::Result<Child> {
    Command::new(BUSCTL)
        .args([
            "--timeout=5",
            "call",
            "org.freedesktop.machine1",
            "/org/freedesktop/machine1",
        ])
        .args(["org.freedesktop.machine1.Manager", method, signature])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
}

/// A registration under way, or made.
pub struct Registration {
    uuid: String,
    call: Child,
}

/// Registers pod `uuid`, whose init is `leader` (in the supervisor's PID
/// namespace) and whose root is `root` (None where machined is absent).
pub fn register(uuid: &str, leader: i32, root: &Path) -> Option<Registration> {
    if !available() {
        return None;
    }
    let mut args = vec![machine_name(uuid)];
    let id = uuid_bytes(uuid)?;
    args.push(id.len().to_string());
    args.extend(id);
    args.extend([
        "rkt".to_string(),
        "container".to_string(),
        leader.to_string(),
        root.display().to_string(),
    ]);
    match call("RegisterMachine", "sayssus", &args) {
        Ok(call) => Some(Registration {
            uuid: uuid.to_string(),
            call,
        }),
        Err(e) => {
            eprintln!("stage1: not registered with systemd-machined: {BUSCTL}: {e}");
            None
        }
    }
}

impl Registration {
    /// Unregisters the pod once it has ended (if it was registered).
    pub fn end(self) {
        let registered = match self.call.wait_with_output() {
            Ok(out) if out.status.success() => true,
            Ok(out) => {
                let err = String::from_utf8_lossy(&out.stderr);
                // A pod that ended before machined took the call (its
                // leader gone) is not worth a word.
                if !err.contains("No such process") {
                    eprintln!(
                        "stage1: not registered with systemd-machined: {}",
                        err.trim()
                    );
                }
                false
            }
            Err(e) => {
                eprintln!("stage1: not registered with systemd-machined: {e}");
                false
            }
        };
        // Not waited for: machined also forgets the machine when its unit
        // stops, which is often what comes next.
        if registered && let Err(e) = call("UnregisterMachine", "s", &[machine_name(&self.uuid)]) {
            eprintln!("stage1: unregistering from systemd-machined: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uuid_as_bytes() {
        let b = uuid_bytes("01234567-89ab-cdef-0011-2233445566ff").unwrap();
        assert_eq!(b.len(), 16);
        assert_eq!(
            (b[0].as_str(), b[1].as_str(), b[15].as_str()),
            ("1", "35", "255")
        );
        assert!(uuid_bytes("not-a-uuid").is_none());
    }
}
