//! An interactive pod's terminal: a pty of the pod's own, whose other end
//! stage1 relays to the caller's terminal (as runc and Docker do for
//! `-t`), so that the caller's terminal descriptor never enters the pod.
//!
//! The pty is made in the devpts instance of the app's root (the pod's
//! `/dev/pts`), not the host's: the app's console is a node of its own
//! file system. The side that makes it (the pod's init, or `rkt enter`'s
//! process once in the pod's namespaces) keeps the pty's terminal end for
//! the app and hands the controlling end to the side that relays, over a
//! socket (SCM_RIGHTS) when they are two processes.

use crate::rootdir::RootDir;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{
    AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType, recvmsg,
    sendmsg, socketpair,
};
use nix::sys::termios::{SetArg, Termios, cfmakeraw, tcgetattr, tcsetattr};
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A pty: `controller` is relayed, `terminal` is the app's stdin, stdout,
/// stderr and controlling terminal.
pub struct Pty {
    pub controller: OwnedFd,
    pub terminal: OwnedFd,
}

/// Whether stdin is a terminal, so that the pod (or an entered command)
/// gets a pty of its own.
pub fn wanted() -> bool {
    nix::unistd::isatty(std::io::stdin()).unwrap_or(false)
}

/// Opens a new pty in the devpts of `root` (through its `dev/ptmx`, which
/// is the pod's `pts/ptmx`, resolved inside the root).
pub fn open_in(root: &RootDir) -> Result<Pty, String> {
    let err = |e| format!("a terminal for the pod: {}: {e}", root.describe("dev/ptmx"));
    let controller = root
        .open_at(
            "dev/ptmx",
            OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        )
        .map_err(err)?;
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads one int, which lives across the call.
    if unsafe { libc::ioctl(controller.as_raw_fd(), libc::TIOCSPTLCK, &unlock) } != 0 {
        return Err(err(Errno::last()));
    }
    // The peer through the controller itself: no path of the pts
    // directory is looked up, so nothing can be swapped in its place.
    let flags = libc::O_RDWR | libc::O_NOCTTY;
    // SAFETY: TIOCGPTPEER takes flags by value and returns a new descriptor.
    let fd = unsafe { libc::ioctl(controller.as_raw_fd(), libc::TIOCGPTPEER, flags) };
    if fd < 0 {
        return Err(err(Errno::last()));
    }
    // SAFETY: the kernel just returned this descriptor, owned by no one else.
    let terminal = unsafe { OwnedFd::from_raw_fd(fd) };
    copy_window_size(std::io::stdin().as_fd(), terminal.as_fd());
    Ok(Pty {
        controller,
        terminal,
    })
}

/// The pty of an app's root (mounted by [`crate::rootfs::prepare`]), its
/// terminal end bound on the root's `/dev/console` where the root has a
/// `/dev` of its own (not in fly pods, which have the host's).
pub fn for_app(root_path: &std::path::Path, own_dev: bool) -> Result<Pty, String> {
    let root = RootDir::open(root_path)?;
    let pty = open_in(&root)?;
    if !own_dev {
        return Ok(pty);
    }
    let console = root.make_file("dev/console")?;
    let bind = nix::mount::MsFlags::MS_BIND;
    let source = crate::rootdir::fd_path(&pty.terminal);
    crate::rootdir::mount_on(Some(&source), &console, None, bind, None, "/dev/console")?;
    Ok(pty)
}

/// Makes `terminal` this process's stdin, stdout and stderr.
pub fn become_stdio(terminal: &OwnedFd) -> Result<(), String> {
    for target in 0..=2 {
        // SAFETY: dup2 onto the standard descriptors, which this process
        // owns; the Rust side holds no other handle to them.
        if unsafe { libc::dup2(terminal.as_raw_fd(), target) } < 0 {
            return Err(format!("the pod's terminal: {}", Errno::last()));
        }
    }
    Ok(())
}

/// The two ends of the socket the pty's controller goes through.
pub fn socket() -> Result<(OwnedFd, OwnedFd), String> {
    socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| format!("the console socket: {e}"))
}

/// Sends the controller to the relaying side.
pub fn send(socket: &OwnedFd, controller: &OwnedFd) -> Result<(), String> {
    let fds = [controller.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let iov = [IoSlice::new(b"c")];
    sendmsg::<()>(socket.as_raw_fd(), &iov, &cmsg, MsgFlags::empty(), None)
        .map(drop)
        .map_err(|e| format!("passing the pod's terminal: {e}"))
}

/// Receives the controller; `None` when the other side closed the socket
/// without sending one (the pod failed before its apps started).
fn receive(socket: &OwnedFd) -> Option<OwnedFd> {
    let mut byte = [0u8; 1];
    let mut iov = [IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = loop {
        match recvmsg::<()>(
            socket.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Err(Errno::EINTR) => continue,
            other => break other.ok()?,
        }
    };
    msg.cmsgs().ok()?.find_map(|c| match c {
        // SAFETY: SCM_RIGHTS gave this process a new descriptor of its own.
        ControlMessageOwned::ScmRights(fds) => {
            fds.first().map(|fd| unsafe { OwnedFd::from_raw_fd(*fd) })
        }
        _ => None,
    })
}

/// Gives `to` the window size of `from`, when `from` has one.
fn copy_window_size(from: BorrowedFd<'_>, to: BorrowedFd<'_>) {
    // SAFETY: TIOCGWINSZ fills the winsize it is given, which it outlives;
    // TIOCSWINSZ only reads it.
    unsafe {
        let mut size: libc::winsize = std::mem::zeroed();
        if libc::ioctl(from.as_raw_fd(), libc::TIOCGWINSZ, &mut size) == 0 {
            libc::ioctl(to.as_raw_fd(), libc::TIOCSWINSZ, &size);
        }
    }
}

/// Where the pty's controller comes from.
pub enum Controller {
    /// Made by this process.
    Here(OwnedFd),
    /// To be received on this socket.
    Sent(OwnedFd),
}

/// The relay between the caller's terminal (stdin, stdout) and the pty,
/// on a thread of its own: typed input to the pod, its output back, the
/// window size when it changes. The caller's terminal is raw meanwhile
/// (the pod's pty does the line editing and signals) and restored after.
pub struct Relay {
    thread: Option<std::thread::JoinHandle<()>>,
    ended: Arc<AtomicBool>,
}

impl Relay {
    /// Starts relaying. SIGWINCH is blocked in the calling thread (and so
    /// in the relay, which reads it from a signalfd); call it once nothing
    /// more is forked that would inherit the mask.
    pub fn start(controller: Controller) -> Result<Relay, String> {
        let mut winch = nix::sys::signal::SigSet::empty();
        winch.add(nix::sys::signal::Signal::SIGWINCH);
        winch
            .thread_block()
            .map_err(|e| format!("the terminal relay: blocking SIGWINCH: {e}"))?;
        let sizes = nix::sys::signalfd::SignalFd::with_flags(
            &winch,
            nix::sys::signalfd::SfdFlags::SFD_CLOEXEC | nix::sys::signalfd::SfdFlags::SFD_NONBLOCK,
        )
        .map_err(|e| format!("the terminal relay: signalfd: {e}"))?;
        let ended = Arc::new(AtomicBool::new(false));
        let done = ended.clone();
        let thread = std::thread::Builder::new()
            .name("terminal".into())
            .spawn(move || {
                crate::systemd::block_signals();
                let controller = match controller {
                    Controller::Here(fd) => fd,
                    Controller::Sent(socket) => match receive(&socket) {
                        Some(fd) => fd,
                        None => return,
                    },
                };
                let saved = raw_mode();
                copy_window_size(std::io::stdin().as_fd(), controller.as_fd());
                relay(&controller, &sizes, &done);
                if let Some(saved) = saved {
                    let _ = tcsetattr(std::io::stdin(), SetArg::TCSADRAIN, &saved);
                }
            })
            .map_err(|e| format!("the terminal relay: {e}"))?;
        Ok(Relay {
            thread: Some(thread),
            ended,
        })
    }
}

impl Drop for Relay {
    /// Waits for the pod's last output to be relayed (the pod has ended)
    /// and for the caller's terminal to be put back as it was.
    fn drop(&mut self) {
        self.ended.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Puts the caller's terminal in raw mode; its settings before.
fn raw_mode() -> Option<Termios> {
    let saved = tcgetattr(std::io::stdin()).ok()?;
    let mut raw = saved.clone();
    cfmakeraw(&mut raw);
    tcsetattr(std::io::stdin(), SetArg::TCSADRAIN, &raw).ok()?;
    Some(saved)
}

/// Copies between the caller's terminal and the pty until the pty has no
/// terminal end open any more (every process of the pod holding it has
/// ended), or, once `ended` is set, until it has been quiet for a moment
/// (a process outside the pod's PID namespace may hold it in fly pods).
fn relay(controller: &OwnedFd, sizes: &nix::sys::signalfd::SignalFd, ended: &AtomicBool) {
    let stdin = std::io::stdin();
    let mut input_open = true;
    let mut buf = [0u8; 8192];
    loop {
        let mut fds = vec![
            PollFd::new(controller.as_fd(), PollFlags::POLLIN),
            PollFd::new(sizes.as_fd(), PollFlags::POLLIN),
        ];
        if input_open {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
        }
        let wait = if ended.load(Ordering::SeqCst) {
            PollTimeout::from(100u16)
        } else {
            PollTimeout::from(500u16)
        };
        match poll(&mut fds, wait) {
            Ok(0) if ended.load(Ordering::SeqCst) => return,
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            Err(_) => return,
        }
        let ready = |fd: &PollFd<'_>| fd.revents().unwrap_or(PollFlags::empty());
        let (output, resized) = (ready(&fds[0]), ready(&fds[1]));
        let input = fds.get(2).map(ready).unwrap_or(PollFlags::empty());
        drop(fds);
        if output.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
            match nix::unistd::read(controller, &mut buf) {
                Ok(n) if n > 0 => write_all(std::io::stdout().as_fd(), &buf[..n]),
                Err(Errno::EINTR | Errno::EAGAIN) => {}
                // EIO: no terminal end is open any more.
                _ => return,
            }
        }
        if !resized.is_empty() {
            while let Ok(Some(_)) = sizes.read_signal() {}
            copy_window_size(stdin.as_fd(), controller.as_fd());
        }
        if input.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
            match nix::unistd::read(&stdin, &mut buf) {
                Ok(n) if n > 0 => write_all(controller.as_fd(), &buf[..n]),
                Err(Errno::EINTR | Errno::EAGAIN) => {}
                _ => input_open = false,
            }
        }
    }
}

fn write_all(fd: BorrowedFd<'_>, mut data: &[u8]) {
    while !data.is_empty() {
        match nix::unistd::write(fd, data) {
            Ok(n) => data = &data[n..],
            Err(Errno::EINTR) => {}
            Err(_) => return,
        }
    }
}
