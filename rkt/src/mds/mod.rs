//! The appc metadata service: root registers pods over a Unix socket
//! ([`registration`]); their apps read their pod's manifests and sign
//! with its identity over HTTP ([`api`]), each pod known by the secret
//! token in its `AC_METADATA_URL`.

pub mod api;
pub mod connections;
pub mod hmac;
pub mod http;
pub mod listeners;
pub mod registration;
pub mod registry;
pub mod service;

use std::path::PathBuf;

/// Where `rkt run --mds-register` finds the service, as in rkt.
pub const SOCKET: &str = "/run/rkt/metadata-svc.sock";
/// The apps' port, as in rkt.
pub const PORT: u16 = 18112;

/// `N` bytes from the kernel's random source, all of them or an error.
pub fn random_bytes<const N: usize>() -> std::io::Result<[u8; N]> {
    let mut bytes = [0u8; N];
    let n = rustix::rand::getrandom(&mut bytes, rustix::rand::GetRandomFlags::empty())?;
    if n != N {
        return Err(std::io::Error::other("short read of random bytes"));
    }
    Ok(bytes)
}

/// A new pod token: 256 random bits, in hex.
pub fn new_token() -> std::io::Result<String> {
    Ok(random_bytes::<32>()?
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// The registrations' socket: `RKT_METADATA_SOCKET` where set (a second
/// service beside the system's, as the tests run one), else [`SOCKET`].
pub fn socket_path() -> PathBuf {
    std::env::var_os("RKT_METADATA_SOCKET")
        .filter(|s| !s.is_empty())
        .map_or_else(|| PathBuf::from(SOCKET), PathBuf::from)
}
