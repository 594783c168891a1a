//! What a systemd unit hands the `rkt run` it starts: the readiness
//! socket of `Type=notify` (NOTIFY_SOCKET) and the listening sockets of
//! socket activation (LISTEN_FDS). rkt execs stage1, so the supervisor is
//! the unit's main process and takes both: it tells systemd the pod is
//! ready once its apps have started, and passes the sockets to the apps
//! whose image declares a socket-activated port, as rkt did. An app whose
//! image says it notifies systemd itself
//! (`appc.io/executor/supports-systemd-notify`) gets a socket of its own
//! instead, whose messages the supervisor relays as the main process.

use pod::PodDir;
use std::os::fd::RawFd;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::Path;
use std::sync::OnceLock;

/// Where an app that notifies systemd itself finds its socket.
pub const APP_NOTIFY_SOCKET: &str = "/run/systemd/notify";

const SUPPORTS_NOTIFY: &str = "appc.io/executor/supports-systemd-notify";

/// The apps whose notifications are relayed (set once, before any fork).
static NOTIFYING_APPS: OnceLock<Vec<String>> = OnceLock::new();

/// The first descriptor systemd passes (SD_LISTEN_FDS_START).
pub const FIRST_LISTENER: RawFd = 3;

/// The listening sockets systemd passed: descriptors 3 to 3 + count - 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listeners {
    pub count: u32,
    /// LISTEN_FDNAMES, passed on as it came.
    pub names: Option<String>,
}

/// The listeners the supervisor took, for the init and the apps it forks
/// (set once, before any fork).
static LISTENERS: OnceLock<Listeners> = OnceLock::new();

/// Reads the socket-activation variables meant for this process (their
/// LISTEN_PID is ours) and takes them out of the environment.
pub fn take_listeners() -> Option<&'static Listeners> {
    let for_us = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        == Some(std::process::id());
    let count = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse::<u32>().ok());
    let names = std::env::var("LISTEN_FDNAMES").ok();
    for var in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        // SAFETY: called at the supervisor's start, single-threaded.
        unsafe { std::env::remove_var(var) };
    }
    match (for_us, count) {
        (true, Some(count)) if count > 0 && count < 1024 => {
            Some(LISTENERS.get_or_init(|| Listeners { count, names }))
        }
        _ => None,
    }
}

/// The listeners taken at the supervisor's start, if any.
pub fn listeners() -> Option<&'static Listeners> {
    LISTENERS.get()
}

/// The unit's readiness socket.
pub struct Notify {
    socket: UnixDatagram,
    addr: SocketAddr,
}

/// The readiness socket NOTIFY_SOCKET names (a path, or an abstract
/// address after `@`), taken out of the environment.
pub fn take_notify() -> Result<Option<Notify>, String> {
    let Some(name) = std::env::var_os("NOTIFY_SOCKET") else {
        return Ok(None);
    };
    // SAFETY: called at the supervisor's start, single-threaded.
    unsafe { std::env::remove_var("NOTIFY_SOCKET") };
    let name = name.to_string_lossy().into_owned();
    let addr = match name.strip_prefix('@') {
        Some(abstract_name) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(abstract_name.as_bytes())
        }
        None => SocketAddr::from_pathname(&name),
    }
    .map_err(|e| format!("NOTIFY_SOCKET {name}: {e}"))?;
    let socket = UnixDatagram::unbound().map_err(|e| format!("NOTIFY_SOCKET {name}: {e}"))?;
    Ok(Some(Notify { socket, addr }))
}

impl Notify {
    /// Another handle on the same socket, for a thread to own (None if
    /// the descriptor cannot be duplicated).
    pub fn clone_for_thread(&self) -> Option<Notify> {
        Some(Notify {
            socket: self.socket.try_clone().ok()?,
            addr: self.addr.clone(),
        })
    }

    /// Sends one notification (`READY=1`, `STOPPING=1`, ...).
    pub fn send(&self, message: &str) -> Result<(), String> {
        self.socket
            .send_to_addr(message.as_bytes(), &self.addr)
            .map(drop)
            .map_err(|e| format!("telling systemd {message}: {e}"))
    }
}

/// Whether app `name`'s image says it notifies systemd itself.
fn supports_notify(pod_dir: &PodDir, name: &str) -> bool {
    let Ok(tree) = pod_dir.read_app_tree(name) else {
        return false;
    };
    let Ok(text) = std::fs::read_to_string(tree.join("manifest")) else {
        return false;
    };
    appc::schema::ImageManifest::from_json(&text)
        .is_ok_and(|m| m.annotations.get(SUPPORTS_NOTIFY) == Some("true"))
}

/// Whether app `name` sends its own notifications, through the relay.
pub fn notifies_itself(name: &str) -> bool {
    NOTIFYING_APPS
        .get()
        .is_some_and(|apps| apps.iter().any(|a| a == name))
}

/// What a relayed message may say: readiness and status, never which
/// process is the main one nor descriptors to store.
fn relayed(message: &str) -> String {
    const FIELDS: [&str; 7] = [
        "READY=",
        "STATUS=",
        "RELOADING=",
        "STOPPING=",
        "ERRNO=",
        "WATCHDOG=",
        "EXTEND_TIMEOUT_USEC=",
    ];
    message
        .lines()
        .filter(|l| FIELDS.iter().any(|f| l.starts_with(f)))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// The socket that apps which notify systemd themselves send to, and
/// where the supervisor forwards what they send.
pub struct Relay {
    socket: UnixDatagram,
    to: Notify,
}

/// Binds the pod's notify socket if any of `apps` has an image that says
/// it notifies systemd itself (None when there is none: the supervisor
/// then tells systemd itself when the apps have started). Called before
/// the init is forked, which binds the socket into those apps' roots.
pub fn relay_apps(
    notify: &Notify,
    pod_dir: &PodDir,
    apps: &[String],
) -> Result<Option<Relay>, String> {
    let notifying: Vec<String> = apps
        .iter()
        .filter(|a| supports_notify(pod_dir, a))
        .cloned()
        .collect();
    if notifying.is_empty() {
        return Ok(None);
    }
    let path = pod_dir.notify_socket();
    let at = |e: std::io::Error| format!("{}: {e}", path.display());
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(at(e)),
        _ => {}
    }
    let socket = UnixDatagram::bind(&path).map_err(at)?;
    let to = notify
        .clone_for_thread()
        .ok_or("NOTIFY_SOCKET: cannot share it")?;
    let _ = NOTIFYING_APPS.set(notifying);
    Ok(Some(Relay { socket, to }))
}

impl Relay {
    /// Forwards, from a thread of its own, what the apps send (started
    /// once the init is forked: the init is forked single-threaded).
    pub fn start(self) -> Result<(), String> {
        std::thread::Builder::new()
            .name("notify-relay".into())
            .spawn(move || {
                block_signals();
                let mut buf = vec![0u8; 4096];
                while let Ok(n) = self.socket.recv(&mut buf) {
                    let message = relayed(&String::from_utf8_lossy(&buf[..n]));
                    if !message.is_empty()
                        && let Err(e) = self.to.send(&message)
                    {
                        eprintln!("stage1: {e}");
                    }
                }
            })
            .map(drop)
            .map_err(|e| format!("notification relay: {e}"))
    }
}

/// A helper thread's signals stay the main thread's to take.
pub fn block_signals() {
    let all = nix::sys::signal::SigSet::all();
    let _ = nix::sys::signal::pthread_sigmask(
        nix::sys::signal::SigmaskHow::SIG_BLOCK,
        Some(&all),
        None,
    );
}

/// Binds the pod's notify socket on /run/systemd/notify in an app's
/// root, for an app that notifies systemd itself.
pub fn bind_into(root: &Path, pod_dir: &PodDir) -> Result<(), String> {
    crate::rootfs::bind_socket(root, APP_NOTIFY_SOCKET, &pod_dir.notify_socket())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relayed_messages_keep_only_readiness_and_status() {
        assert_eq!(relayed("READY=1"), "READY=1\n");
        assert_eq!(
            relayed("MAINPID=1\nSTATUS=serving\nFDSTORE=1\nREADY=1\n"),
            "STATUS=serving\nREADY=1\n"
        );
        assert_eq!(relayed("MAINPID=1"), "");
    }
}
