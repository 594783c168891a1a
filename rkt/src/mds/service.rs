//! `rkt metadata-service`: the registrations' Unix socket and the apps'
//! TCP port, a thread per connection, until SIGTERM or SIGINT.

use super::connections::{Connections, Slot};
use super::http::{self, Limits, Request, Response};
use super::listeners::{Accept, AppListeners, Closed};
use super::registry::Registry;
use super::{api, registration};
use std::io::{BufReader, BufWriter};
use std::net::TcpListener;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The apps' requests are small: a form at most.
const APP_LIMITS: Limits = Limits {
    head: 8 * 1024,
    body: 64 * 1024,
};
/// Connections served at once; more are told to come back.
const MAX_CONNECTIONS: usize = 1024;
/// Connections from one address at once (a pod's, or loopback's for the
/// pods on the host's network): a small share, so that even many
/// addresses holding all theirs leave the others served.
const MAX_PER_PEER: usize = 16;
/// Registrations served at once, on the Unix socket (root's): counted
/// apart from the apps' connections, which cannot take their places.
const MAX_REGISTRATIONS: usize = 64;
/// A connection's first request, head and body, must arrive within this
/// from its start: one that sends nothing, or a byte now and then, gives
/// its place back soon.
const REQUEST_TIME: Duration = Duration::from_secs(5);
/// Each next request (keep-alive) must arrive within this from the
/// answer before; the share per address bounds what idle clients hold.
const KEEP_ALIVE: Duration = Duration::from_secs(30);
/// Writing an answer may take this long.
const WRITE_TIME: Duration = Duration::from_secs(60);
const FIRST_ACTIVATED_FD: i32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{}: {source}", path.display())]
    Socket {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("another metadata service is listening on {}", .0.display())]
    Running(PathBuf),
    #[error("port {port}: {source}")]
    Port { port: u16, source: std::io::Error },
    #[error("the sockets systemd passed: {0}")]
    Activation(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Where to listen, unless systemd passes the sockets.
pub struct Config {
    pub socket: PathBuf,
    pub port: u16,
}

/// The listeners, made here or passed by systemd.
struct Listeners {
    unix: UnixListener,
    apps: AppListeners,
    /// The socket file made here, removed on exit.
    made: Option<PathBuf>,
}

/// The listening sockets systemd passed to this process (LISTEN_FDS for
/// our pid), by kind; the TCP one is optional.
fn activated() -> Result<Option<(UnixListener, Option<TcpListener>)>, ServiceError> {
    let ours = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        .is_some_and(|p| p == std::process::id());
    let Some(n) = std::env::var("LISTEN_FDS")
        .ok()
        .filter(|_| ours)
        .and_then(|n| n.parse::<i32>().ok())
    else {
        return Ok(None);
    };
    let (mut unix, mut tcp) = (None, None);
    for fd in FIRST_ACTIVATED_FD..FIRST_ACTIVATED_FD + n.clamp(0, 16) {
        // SAFETY: systemd passes these descriptors to this process, open,
        // for it alone; each is taken here once.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        rustix::io::fcntl_setfd(&owned, rustix::io::FdFlags::CLOEXEC)
            .map_err(|e| ServiceError::Activation(format!("descriptor {fd}: {e}")))?;
        let addr = rustix::net::getsockname(&owned)
            .map_err(|e| ServiceError::Activation(format!("descriptor {fd}: {e}")))?;
        match addr.address_family() {
            rustix::net::AddressFamily::UNIX if unix.is_none() => {
                unix = Some(UnixListener::from(owned))
            }
            rustix::net::AddressFamily::INET | rustix::net::AddressFamily::INET6
                if tcp.is_none() =>
            {
                tcp = Some(TcpListener::from(owned))
            }
            _ => {
                return Err(ServiceError::Activation(format!(
                    "descriptor {fd} is not a Unix or TCP socket we take"
                )));
            }
        }
    }
    let unix = unix.ok_or_else(|| ServiceError::Activation("no Unix socket among them".into()))?;
    Ok(Some((unix, tcp)))
}

/// Binds the registrations' socket, root's only, replacing a stale one.
fn bind_socket(path: &Path) -> Result<UnixListener, ServiceError> {
    let at = |source| ServiceError::Socket {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| ServiceError::Socket {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    if UnixStream::connect(path).is_ok() {
        return Err(ServiceError::Running(path.to_path_buf()));
    }
    match std::fs::symlink_metadata(path) {
        Ok(m) if std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()) => {
            std::fs::remove_file(path).map_err(at)?
        }
        Ok(_) => {
            return Err(at(std::io::Error::other(
                "exists and is not a socket; remove it first",
            )));
        }
        Err(_) => {}
    }
    // Made with no access for others from the start, then bound.
    let old = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o177));
    let bound = UnixListener::bind(path);
    rustix::process::umask(old);
    bound.map_err(at)
}

fn listeners(config: &Config, accept: Accept) -> Result<Listeners, ServiceError> {
    let (unix, tcp, made) = match activated()? {
        Some((unix, tcp)) => (unix, tcp, None),
        None => (
            bind_socket(&config.socket)?,
            None,
            Some(config.socket.clone()),
        ),
    };
    let apps = match tcp {
        Some(t) => AppListeners::activated(t, accept)?,
        None => AppListeners::bind(config.port, accept).map_err(|source| {
            if let Some(p) = &made {
                let _ = std::fs::remove_file(p);
            }
            ServiceError::Port {
                port: config.port,
                source,
            }
        })?,
    };
    Ok(Listeners { unix, apps, made })
}

/// A stream whose reads time out.
trait TimedRead: std::io::Read {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()>;
}

impl TimedRead for std::net::TcpStream {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()> {
        std::net::TcpStream::set_read_timeout(self, timeout)
    }
}

impl TimedRead for UnixStream {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()> {
        UnixStream::set_read_timeout(self, timeout)
    }
}

/// Reads that must all be done by `until`: a peer that sends a byte now
/// and then cannot hold its connection past it.
struct Deadline<S> {
    inner: S,
    until: Instant,
}

impl<S: TimedRead> std::io::Read for Deadline<S> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        self.inner.set_read_timeout(Some(left))?;
        self.inner.read(buf)
    }
}

/// Serves one connection's requests in turn until it closes, errs or is
/// too slow to send the next (see [`REQUEST_TIME`], [`KEEP_ALIVE`]).
fn serve<S: TimedRead + std::io::Write>(
    stream: S,
    reader: S,
    limits: Limits,
    handle: impl Fn(&Request) -> Response,
) {
    let mut reader = BufReader::new(Deadline {
        inner: reader,
        until: Instant::now() + REQUEST_TIME,
    });
    let mut writer = BufWriter::new(stream);
    loop {
        match http::read_request(&mut reader, limits) {
            Ok(Some(req)) => {
                let response = handle(&req);
                if http::write_response(&mut writer, &response, req.keep_alive).is_err()
                    || !req.keep_alive
                {
                    return;
                }
                reader.get_mut().until = Instant::now() + KEEP_ALIVE;
            }
            Ok(None) => return,
            Err(e) => {
                if let Some(response) = e.response() {
                    let _ = http::write_response(&mut writer, &response, false);
                }
                return;
            }
        }
    }
}

/// A connection's thread: small stacks, the handlers are shallow.
fn spawn(work: impl FnOnce() + Send + 'static) {
    let spawned = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(work);
    if let Err(e) = spawned {
        eprintln!("metadata-service: no thread for a connection: {e}");
    }
}

/// Serves an accepted connection (`stream`, and `reader` a clone of it)
/// on a thread of its own, which holds the connection's slot.
fn serve_on_thread<S: TimedRead + std::io::Write + Send + 'static>(
    (stream, reader): (S, S),
    slot: Slot,
    limits: Limits,
    handle: impl Fn(&Request) -> Response + Send + 'static,
) {
    spawn(move || {
        let _slot = slot;
        serve(stream, reader, limits, handle);
    });
}

/// Serves the apps' connections on `listener` until it is closed.
fn accept_tcp(
    listener: TcpListener,
    closed: Closed,
    registry: Arc<Registry>,
    connections: Arc<Connections>,
) {
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(s) => s,
            Err(_) if closed.load(std::sync::atomic::Ordering::SeqCst) => return,
            Err(_) => continue,
        };
        // Only where pods reach the service (a socket systemd passed may
        // listen on every address of the host).
        let local = stream.local_addr().map(|a| a.ip());
        if !local.is_ok_and(|ip| registry.serves_on(ip)) {
            continue;
        }
        let peer = stream.peer_addr().ok().map(|a| a.ip());
        let Some(slot) = connections.take(peer) else {
            let busy = Response::error(503, "too many connections; try again");
            let _ = http::write_response(&mut &stream, &busy, false);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let _ = stream.set_write_timeout(Some(WRITE_TIME));
        let Ok(reader) = stream.try_clone() else {
            continue;
        };
        let registry = Arc::clone(&registry);
        serve_on_thread((stream, reader), slot, APP_LIMITS, move |req| {
            api::handle(&registry, req)
        });
    }
}

fn accept_unix(listener: UnixListener, registry: Arc<Registry>, apps: AppListeners) {
    let apps = Arc::new(apps);
    let connections = Connections::new(MAX_REGISTRATIONS, 0);
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let Some(slot) = connections.take(None) else {
            continue;
        };
        let _ = stream.set_write_timeout(Some(WRITE_TIME));
        let Ok(reader) = stream.try_clone() else {
            continue;
        };
        let (registry, apps) = (Arc::clone(&registry), Arc::clone(&apps));
        serve_on_thread((stream, reader), slot, registration::LIMITS, move |req| {
            registration::handle(&registry, &apps, req)
        });
    }
}

/// Runs the service until SIGTERM, SIGINT or SIGHUP; then removes the
/// socket it made (not one systemd passed).
pub fn run(config: &Config) -> Result<(), ServiceError> {
    use nix::sys::signal::{SigSet, Signal};
    let mut stops = SigSet::empty();
    for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        stops.add(s);
    }
    // Blocked before any thread starts, so that every thread inherits it
    // and the signals wait for `wait` below.
    stops.thread_block().map_err(std::io::Error::from)?;
    let registry = Arc::new(Registry::default());
    let accept: Accept = {
        let registry = Arc::clone(&registry);
        let connections = Connections::new(MAX_CONNECTIONS, MAX_PER_PEER);
        Box::new(move |listener, closed| {
            let (registry, connections) = (Arc::clone(&registry), Arc::clone(&connections));
            std::thread::spawn(move || accept_tcp(listener, closed, registry, connections));
        })
    };
    let l = listeners(config, accept)?;
    let port = l.apps.port();
    let socket = l
        .unix
        .local_addr()
        .ok()
        .and_then(|a| a.as_pathname().map(Path::to_path_buf))
        .unwrap_or_else(|| config.socket.clone());
    std::thread::spawn(move || accept_unix(l.unix, registry, l.apps));
    eprintln!(
        "metadata-service: serving pods on port {port}, registrations on {}",
        socket.display()
    );
    let signal = stops.wait().map_err(std::io::Error::from)?;
    eprintln!("metadata-service: {signal}: exiting");
    if let Some(made) = &l.made {
        let _ = std::fs::remove_file(made);
    }
    Ok(())
}
