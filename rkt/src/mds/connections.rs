//! How many connections the service holds at once: in all, and from one
//! peer address, so that one pod opening connections without end cannot
//! take the service from the others.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Held {
    total: usize,
    by_peer: HashMap<IpAddr, usize>,
}

pub struct Connections {
    max_total: usize,
    max_per_peer: usize,
    held: Mutex<Held>,
}

/// One connection's place, given back when dropped.
pub struct Slot {
    connections: Arc<Connections>,
    peer: Option<IpAddr>,
}

impl Connections {
    pub fn new(max_total: usize, max_per_peer: usize) -> Arc<Connections> {
        Arc::new(Connections {
            max_total,
            max_per_peer,
            held: Mutex::default(),
        })
    }

    /// A place for a connection from `peer` (None: the Unix socket, root's
    /// only, counted in the total), if there is one.
    pub fn take(self: &Arc<Self>, peer: Option<IpAddr>) -> Option<Slot> {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        if held.total >= self.max_total {
            return None;
        }
        if let Some(ip) = peer {
            let n = held.by_peer.entry(ip).or_default();
            if *n >= self.max_per_peer {
                return None;
            }
            *n += 1;
        }
        held.total += 1;
        Some(Slot {
            connections: Arc::clone(self),
            peer,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut held = self
            .connections
            .held
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        held.total -= 1;
        if let Some(ip) = self.peer
            && let Some(n) = held.by_peer.get_mut(&ip)
        {
            *n -= 1;
            if *n == 0 {
                held.by_peer.remove(&ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_peer_cannot_take_every_place() {
        let c = Connections::new(3, 2);
        let a: IpAddr = "10.0.0.2".parse().unwrap();
        let b: IpAddr = "10.0.0.3".parse().unwrap();
        let first = c.take(Some(a)).unwrap();
        let _second = c.take(Some(a)).unwrap();
        assert!(c.take(Some(a)).is_none(), "a third from the same peer");
        let other = c.take(Some(b)).unwrap();
        assert!(c.take(None).is_none(), "the total is reached");
        drop(first);
        let _again = c.take(Some(a)).unwrap();
        drop(other);
        assert!(c.take(None).is_some());
        assert!(!c.held.lock().unwrap().by_peer.contains_key(&b));
    }
}
