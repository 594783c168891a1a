//! "The pod's networks are joined", from the supervisor to the init. The
//! supervisor runs the plugins while the init mounts the apps' roots; the
//! init waits only when it comes to the files that name the pod's
//! addresses and name servers (`/etc/hosts`, `/etc/resolv.conf`), which
//! the plugins' results decide.

use std::fs::File;
use std::io::{Read, Write};

/// The init's end: waits for the supervisor's word, once.
pub struct Ready(Option<File>);

/// The supervisor's end: says the networks are joined.
pub struct Joined(File);

/// A pipe from the supervisor (its `Joined`) to the init (its `Ready`).
pub fn ready_pipe() -> Result<(Ready, Joined), String> {
    let (read, write) = crate::pipe()?;
    Ok((Ready(Some(read)), Joined(write)))
}

impl Ready {
    /// Nothing to wait for: the pod shares the host's network.
    pub fn now() -> Self {
        Ready(None)
    }

    /// Returns once the networks are joined; an error when the
    /// supervisor gave up on them (it ends the pod and says why).
    pub fn wait(&mut self) -> Result<(), String> {
        let Some(mut pipe) = self.0.take() else {
            return Ok(());
        };
        let mut word = [0u8; 1];
        match pipe.read_exact(&mut word) {
            Ok(()) if word == *b"1" => Ok(()),
            _ => Err("the pod's networks were not joined".into()),
        }
    }
}

impl Joined {
    /// An init that is gone (it failed on its own) hears nothing; its
    /// exit status says why.
    pub fn tell(mut self) {
        let _ = self.0.write_all(b"1");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_word_is_waited_for_once() {
        let (mut ready, joined) = ready_pipe().unwrap();
        joined.tell();
        ready.wait().unwrap();
        ready.wait().unwrap();
        assert!(Ready::now().wait().is_ok());
    }

    #[test]
    fn no_word_is_an_error() {
        let (mut ready, joined) = ready_pipe().unwrap();
        drop(joined);
        assert_eq!(
            ready.wait().unwrap_err(),
            "the pod's networks were not joined"
        );
    }
}
