//! The apps' TCP listeners. The service listens on loopback (pods on the
//! host's network) from the start, and on a network's gateway only while
//! a registered pod reaches it there: on the host's other addresses the
//! port is closed. A socket systemd passes listens where its unit says;
//! then nothing is bound here and connections are filtered on accept.

use super::registry::Registry;
use std::collections::{BTreeSet, HashMap};
use std::io;
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Set when a listener is closed on purpose: its accept loop then ends
/// at the error instead of retrying.
pub type Closed = Arc<AtomicBool>;

/// What serves an open listener's connections, on a thread of its own.
pub type Accept = Box<dyn Fn(TcpListener, Closed) + Send + Sync>;

struct Open {
    /// A duplicate of the accepting socket, to shut it down by.
    listener: TcpListener,
    closed: Closed,
}

pub struct AppListeners {
    port: u16,
    /// The gateways listened on; None when systemd passed the socket.
    gateways: Option<Mutex<HashMap<IpAddr, Open>>>,
    accept: Accept,
}

impl AppListeners {
    /// Listens on 127.0.0.1:`port` (port 0: one the kernel picks, which
    /// the gateways then share).
    pub fn bind(port: u16, accept: Accept) -> io::Result<AppListeners> {
        let loopback = TcpListener::bind((Ipv4Addr::LOCALHOST, port))?;
        let port = loopback.local_addr()?.port();
        accept(loopback, Closed::default());
        Ok(AppListeners {
            port,
            gateways: Some(Mutex::default()),
            accept,
        })
    }

    /// Serves on the socket systemd passed, wherever it listens.
    pub fn activated(listener: TcpListener, accept: Accept) -> io::Result<AppListeners> {
        let port = listener.local_addr()?.port();
        accept(listener, Closed::default());
        Ok(AppListeners {
            port,
            gateways: None,
            accept,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Listens on every gateway a registered pod uses and on no other;
    /// the first gateway that cannot be listened on is the error, the
    /// others are still brought in line.
    pub fn follow(&self, registry: &Registry) -> Result<(), (IpAddr, io::Error)> {
        let Some(gateways) = &self.gateways else {
            return Ok(());
        };
        // Held while the registry is read, so that the last of two
        // concurrent calls sees the registry's last state.
        let mut open = gateways.lock().unwrap_or_else(|e| e.into_inner());
        let wanted: BTreeSet<IpAddr> = registry.gateways();
        open.retain(|ip, o| {
            let keep = wanted.contains(ip);
            if !keep {
                o.closed.store(true, Ordering::SeqCst);
                // Wakes the accept loop blocked on it, with an error.
                let _ = rustix::net::shutdown(&o.listener, rustix::net::Shutdown::Both);
            }
            keep
        });
        let mut failed = None;
        for ip in wanted {
            if open.contains_key(&ip) || ip == IpAddr::V4(Ipv4Addr::LOCALHOST) {
                continue;
            }
            match self.listen_on(ip) {
                Ok(o) => {
                    open.insert(ip, o);
                }
                Err(e) => {
                    failed.get_or_insert((ip, e));
                }
            }
        }
        failed.map_or(Ok(()), Err)
    }

    fn listen_on(&self, ip: IpAddr) -> io::Result<Open> {
        let listener = TcpListener::bind((ip, self.port))?;
        let kept = listener.try_clone()?;
        let closed = Closed::default();
        (self.accept)(listener, Arc::clone(&closed));
        Ok(Open {
            listener: kept,
            closed,
        })
    }

    /// The addresses listened on besides loopback, sorted.
    #[cfg(test)]
    fn gateways(&self) -> Vec<IpAddr> {
        let open = self.gateways.as_ref().unwrap().lock().unwrap();
        let mut ips: Vec<IpAddr> = open.keys().copied().collect();
        ips.sort();
        ips
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mds::registry::tests::{UUID, registration};
    use std::io::Write;
    use std::net::TcpStream;
    use std::sync::mpsc;

    /// Listeners whose accept loops answer "hi" and report, when they
    /// end, the address they served.
    fn listeners() -> (AppListeners, mpsc::Receiver<IpAddr>) {
        let (ended, ends) = mpsc::channel();
        let ended = Mutex::new(ended);
        let accept: Accept = Box::new(move |listener, closed| {
            let ended = ended.lock().unwrap().clone();
            std::thread::spawn(move || {
                let at = listener.local_addr().unwrap().ip();
                for stream in listener.incoming() {
                    match stream {
                        Ok(mut s) => {
                            let _ = s.write_all(b"hi");
                        }
                        Err(_) if closed.load(Ordering::SeqCst) => break,
                        Err(_) => {}
                    }
                }
                ended.send(at).unwrap();
            });
        });
        (AppListeners::bind(0, accept).unwrap(), ends)
    }

    #[test]
    fn a_gateway_is_listened_on_while_a_registered_pod_uses_it() {
        let (l, ends) = listeners();
        let registry = Registry::default();
        // 127.0.0.0/8 is all loopback: an address of the host no
        // listener holds until a pod's gateway is there.
        let gateway: IpAddr = "127.0.0.57".parse().unwrap();
        let reach = || TcpStream::connect((gateway, l.port()));
        assert!(TcpStream::connect((Ipv4Addr::LOCALHOST, l.port())).is_ok());
        assert_eq!(
            reach().unwrap_err().kind(),
            io::ErrorKind::ConnectionRefused
        );
        registry.register(UUID, &registration(), [7; 64]).unwrap();
        assert!(registry.set_gateway(UUID, gateway).unwrap());
        l.follow(&registry).unwrap();
        assert_eq!(l.gateways(), [gateway]);
        let mut hi = String::new();
        io::Read::read_to_string(&mut reach().unwrap(), &mut hi).unwrap();
        assert_eq!(hi, "hi");
        // Once the pod is gone, so is the listener and its thread.
        assert!(registry.unregister(UUID).unwrap());
        l.follow(&registry).unwrap();
        assert!(l.gateways().is_empty());
        let ended = ends.recv_timeout(std::time::Duration::from_secs(10));
        assert_eq!(ended.unwrap(), gateway);
        assert_eq!(
            reach().unwrap_err().kind(),
            io::ErrorKind::ConnectionRefused
        );
    }

    #[test]
    fn a_gateway_that_cannot_be_listened_on_is_named() {
        let (l, _ends) = listeners();
        let registry = Registry::default();
        registry.register(UUID, &registration(), [7; 64]).unwrap();
        // TEST-NET-1: no address of this host.
        let gateway: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(registry.set_gateway(UUID, gateway).unwrap());
        let (ip, e) = l.follow(&registry).unwrap_err();
        assert_eq!(ip, gateway);
        assert_eq!(e.kind(), io::ErrorKind::AddrNotAvailable);
        assert!(l.gateways().is_empty());
    }
}
