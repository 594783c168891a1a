//! Running one CNI plugin as the CNI specification has it: the `CNI_*`
//! variables, the configuration on stdin, the result (or the error, as
//! JSON) on stdout. Plugins are executed directly: the protocol is a
//! process call, and the CNI crates are either for writing plugins or
//! asynchronous runtimes that stage1, which stays resident for a pod's
//! whole life, does not need.

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use serde_json::Value;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a plugin may take; `RKT_NET_PLUGIN_TIMEOUT` (seconds) says
/// otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

pub fn timeout() -> Duration {
    std::env::var("RKT_NET_PLUGIN_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(DEFAULT_TIMEOUT, Duration::from_secs)
}

/// One call of a plugin.
pub struct Call<'a> {
    pub command: &'a str,
    pub container_id: &'a str,
    /// The pinned namespace; empty for a DEL after it is gone.
    pub netns: &'a Path,
    pub ifname: &'a str,
    pub args: &'a str,
    /// Where plugins are looked for (`CNI_PATH`).
    pub path: &'a [PathBuf],
    /// How long the plugin may take before it is killed.
    pub timeout: Duration,
}

/// Runs the plugin for `config` and returns what it printed (a result,
/// or nothing for DEL and CHECK). A failure is the plugin's own error
/// message when it gave one.
pub fn run(call: &Call<'_>, config: &Value) -> Result<Value, String> {
    let kind = config["type"].as_str().unwrap_or_default();
    let exe = pod::net::find_plugin(kind, call.path)?;
    let joined = std::env::join_paths(call.path).map_err(|e| format!("CNI_PATH: {e}"))?;
    let mut child = Command::new(&exe)
        .env("CNI_COMMAND", call.command)
        .env("CNI_CONTAINERID", call.container_id)
        .env("CNI_NETNS", call.netns)
        .env("CNI_IFNAME", call.ifname)
        .env("CNI_ARGS", call.args)
        .env("CNI_PATH", joined)
        // iptables and the like, wherever rkt was started from.
        .env(
            "PATH",
            std::env::var_os("PATH").unwrap_or(pod::DEFAULT_PATH.into()),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("{}: {e}", exe.display()))?;
    let input = config.to_string();
    if let Some(mut stdin) = child.stdin.take() {
        // A plugin that exits without reading is judged by its status.
        let _ = stdin.write_all(input.as_bytes());
    }
    let mut stdout = child.stdout.take().expect("piped");
    let deadline = Instant::now() + call.timeout;
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    let finished = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ms = PollTimeout::try_from(left.as_millis().min(i32::MAX as u128) as i32)
            .unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(stdout.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, ms) {
            Ok(0) => break false,
            Ok(_) => match stdout.read(&mut buf) {
                Ok(0) => break true,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("{}: reading its output: {e}", exe.display())),
            },
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(format!("{}: {e}", exe.display())),
        }
    };
    if !finished {
        let _ = child.kill();
        let _ = child.wait();
        return Err(format!(
            "CNI plugin {kind} ({}) did not finish within {} s",
            call.command,
            call.timeout.as_secs()
        ));
    }
    let status = child
        .wait()
        .map_err(|e| format!("{}: {e}", exe.display()))?;
    let text = String::from_utf8_lossy(&out);
    if !status.success() {
        return Err(format!(
            "CNI plugin {kind} ({}): {}",
            call.command,
            error_text(&text, status)
        ));
    }
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(&text).map_err(|e| format!("CNI plugin {kind}: its result: {e}"))
}

/// A plugin's error JSON (`msg`, `details`) as one line, or what it said.
fn error_text(out: &str, status: std::process::ExitStatus) -> String {
    match serde_json::from_str::<Value>(out) {
        Ok(v) if v["msg"].is_string() => {
            let msg = v["msg"].as_str().unwrap_or_default();
            match v["details"].as_str().filter(|d| !d.is_empty()) {
                Some(d) => format!("{msg} ({d})"),
                None => msg.to_string(),
            }
        }
        _ if !out.trim().is_empty() => out.trim().replace('\n', " "),
        _ => format!("failed ({status})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn plugin(dir: &Path, name: &str, script: &str) {
        let p = dir.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{script}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn call<'a>(path: &'a [PathBuf]) -> Call<'a> {
        Call {
            command: "ADD",
            container_id: "c",
            netns: Path::new("/run/netns/x"),
            ifname: "eth0",
            args: "IP=10.0.0.9",
            path,
            timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn the_protocol_both_ways() {
        let tmp = tempfile::tempdir().unwrap();
        let path = vec![tmp.path().to_path_buf()];
        // Echoes what it was given: its variables and its configuration.
        plugin(
            tmp.path(),
            "echo",
            r#"conf=$(cat); printf '{"cmd":"%s","ifname":"%s","args":"%s","netns":"%s","conf":%s}' "$CNI_COMMAND" "$CNI_IFNAME" "$CNI_ARGS" "$CNI_NETNS" "$conf""#,
        );
        let out = run(&call(&path), &serde_json::json!({"type": "echo", "x": 1})).unwrap();
        assert_eq!(out["cmd"], "ADD");
        assert_eq!(out["ifname"], "eth0");
        assert_eq!(out["args"], "IP=10.0.0.9");
        assert_eq!(out["netns"], "/run/netns/x");
        assert_eq!(out["conf"]["x"], 1);
        plugin(
            tmp.path(),
            "fails",
            r#"cat >/dev/null; echo '{"cniVersion":"0.4.0","code":11,"msg":"no addresses left","details":"range full"}'; exit 1"#,
        );
        let e = run(&call(&path), &serde_json::json!({"type": "fails"})).unwrap_err();
        assert_eq!(e, "CNI plugin fails (ADD): no addresses left (range full)");
        let e = run(&call(&path), &serde_json::json!({"type": "absent"})).unwrap_err();
        assert!(e.contains("no CNI plugin \"absent\""), "{e}");
        plugin(tmp.path(), "hangs", "exec sleep 30");
        let started = Instant::now();
        let e = run(&call(&path), &serde_json::json!({"type": "hangs"})).unwrap_err();
        assert!(e.contains("did not finish within 1 s"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
