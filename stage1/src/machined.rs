//! Registration with systemd-machined, as rkt's default stage1 did, so
//! that `machinectl list` shows the pod (as `rkt-<uuid>`, class
//! container). Best effort, and nothing at all where systemd is not PID 1
//! or machined is not installed. The registration is made from a
//! thread, which the pod does not wait for.

use crate::dbus::{self, Arg, Calls, Method, Replies};
use std::path::Path;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

const MACHINED: &str = "/usr/lib/systemd/systemd-machined";

/// The machine name of pod `uuid`.
pub fn machine_name(uuid: &str) -> String {
    format!("rkt-{uuid}")
}

fn available() -> bool {
    Path::new("/run/systemd/system").is_dir() && Path::new(MACHINED).exists()
}

fn manager(member: &str) -> Method<'_> {
    Method {
        destination: "org.freedesktop.machine1",
        path: "/org/freedesktop/machine1",
        interface: "org.freedesktop.machine1.Manager",
        member,
    }
}

/// The 16 bytes of a UUID in its text form (the machine's id).
fn uuid_bytes(uuid: &str) -> Option<Vec<u8>> {
    let hex: String = uuid.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 {
        return None;
    }
    (0..16)
        .map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

/// How long the pod's end waits for machined to forget it.
const UNREGISTER_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the registering thread and the pod's end meet.
#[derive(Default)]
struct Shared {
    /// The pod has ended: the thread registers nothing after this.
    ended: bool,
    /// The connection the registration was sent on, once it was.
    calls: Option<Calls>,
    /// machined's answer to the registration, once it came.
    registered: Option<bool>,
}

/// A registration under way, or made.
pub struct Registration {
    uuid: String,
    shared: Arc<Mutex<Shared>>,
    /// The unregistration's serial, for the thread to read its reply.
    unregister: mpsc::Sender<u32>,
    unregistered: mpsc::Receiver<Result<Result<(), String>, String>>,
}

/// Registers pod `uuid`, whose init is `leader` (in the supervisor's PID
/// namespace) and whose root is `root` (None where machined is absent).
pub fn register(uuid: &str, leader: i32, root: &Path) -> Option<Registration> {
    if !available() {
        return None;
    }
    let id = uuid_bytes(uuid)?;
    let shared = Arc::new(Mutex::new(Shared::default()));
    let (unregister, unregister_serial) = mpsc::channel();
    let (unregistered_tx, unregistered) = mpsc::channel();
    let for_thread = Arc::clone(&shared);
    let name = machine_name(uuid);
    let root = root.display().to_string();
    let spawned = std::thread::Builder::new()
        .name("machined".into())
        .spawn(move || {
            // The stops stay the main thread's to forward.
            crate::systemd::block_signals();
            let call = Call {
                name: &name,
                id: &id,
                leader: leader as u32,
                root: &root,
            };
            match register_now(&for_thread, call) {
                Ok(Some(mut replies)) => {
                    if let Ok(serial) = unregister_serial.recv() {
                        let _ = unregistered_tx.send(replies.reply(serial));
                    }
                }
                Ok(None) => {}
                Err(e) => eprintln!("stage1: not registered with systemd-machined: {e}"),
            }
        });
    if let Err(e) = spawned {
        eprintln!("stage1: not registered with systemd-machined: {e}");
        return None;
    }
    Some(Registration {
        uuid: uuid.to_string(),
        shared,
        unregister,
        unregistered,
    })
}

/// The registration's arguments.
struct Call<'a> {
    name: &'a str,
    id: &'a [u8],
    leader: u32,
    root: &'a str,
}

/// Registers, and returns the connection's replies for the
/// unregistration's (None if the pod ended before anything was sent).
fn register_now(shared: &Mutex<Shared>, call: Call) -> Result<Option<Replies>, String> {
    let (mut calls, mut replies) = dbus::system()?;
    let serial = {
        let mut shared = shared.lock().map_err(|_| "a thread panicked")?;
        if shared.ended {
            return Ok(None);
        }
        let args = [
            Arg::Str(call.name),
            Arg::Bytes(call.id),
            Arg::Str("rkt"),
            Arg::Str("container"),
            Arg::U32(call.leader),
            Arg::Str(call.root),
        ];
        let serial = calls.call(manager("RegisterMachine"), &args, true)?;
        shared.calls = Some(calls);
        serial
    };
    let outcome = replies.reply(serial)?;
    let ended = {
        let mut shared = shared.lock().map_err(|_| "a thread panicked")?;
        shared.registered = Some(outcome.is_ok());
        shared.ended
    };
    match outcome {
        Ok(()) => {}
        // A pod that ended before machined took the call (its leader
        // gone) is not worth a word.
        Err(e) if e.contains("No such process") || e.contains("ESRCH") || ended => {}
        Err(e) => eprintln!("stage1: not registered with systemd-machined: {e}"),
    }
    Ok(Some(replies))
}

impl Registration {
    /// Unregisters the pod once its apps have ended, unless its
    /// registration failed or was never sent; on the registration's
    /// connection, so that machined takes the two calls in order even
    /// when the first is not yet answered. The answer is waited for with
    /// [`Unregistering::wait`] (the bus drops what a connection sent when
    /// it closes), so that the pod's own end goes on meanwhile.
    pub fn end(self) -> Option<Unregistering> {
        let sent = {
            let mut shared = self.shared.lock().ok()?;
            shared.ended = true;
            let registered = shared.registered;
            match shared.calls.take() {
                Some(mut calls) if registered != Some(false) => {
                    let name = machine_name(&self.uuid);
                    calls
                        .call(manager("UnregisterMachine"), &[Arg::Str(&name)], true)
                        .map(|serial| (serial, registered == Some(true)))
                }
                _ => return None,
            }
        };
        let sent = sent.and_then(|(serial, registered)| {
            self.unregister
                .send(serial)
                .map_err(|_| "the bus connection is gone".to_string())?;
            Ok(registered)
        });
        match sent {
            Ok(registered) => Some(Unregistering {
                registered,
                unregistered: self.unregistered,
            }),
            Err(e) => {
                eprintln!("stage1: unregistering from systemd-machined: {e}");
                None
            }
        }
    }
}

/// An unregistration sent, its answer still to come.
pub struct Unregistering {
    /// Whether machined had taken the registration (else a refusal of
    /// the unregistration is no error).
    registered: bool,
    unregistered: mpsc::Receiver<Result<Result<(), String>, String>>,
}

impl Unregistering {
    /// Waits (a bounded time) for machined to forget the pod.
    pub fn wait(self) {
        let outcome = match self.unregistered.recv_timeout(UNREGISTER_TIMEOUT) {
            Ok(Ok(Err(_))) if !self.registered => Ok(()),
            Ok(reply) => reply.and_then(|r| r),
            Err(_) => Err("machined did not answer".into()),
        };
        if let Err(e) = outcome {
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
        assert_eq!((b[0], b[1], b[15]), (1, 0x23, 0xff));
        assert!(uuid_bytes("not-a-uuid").is_none());
        assert!(uuid_bytes("0123456789abcdef00112233445566é").is_none());
    }
}
