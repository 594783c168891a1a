//! A pod's registration with the metadata service, as stage0 records it
//! in the pod directory ([`crate::PodDir::mds`]), for stage1 (the apps'
//! `AC_METADATA_URL`, the unregistration when the pod ends) and gc; and
//! the one request both stages send to the service's socket.

use crate::PodDir;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Answers bigger than this are not read (ours are a line or a list).
const MAX_ANSWER: u64 = 1 << 20;
const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The service's registrations socket.
    pub socket: PathBuf,
    /// The pod's secret: who knows it reads and signs as the pod.
    pub token: String,
    /// The port the apps reach the service on.
    pub port: u16,
}

impl Registration {
    /// Records the registration, readable by root only.
    pub fn write(&self, pod_dir: &PodDir) -> Result<(), String> {
        let path = pod_dir.mds();
        let text =
            json!({"socket": self.socket, "token": self.token, "port": self.port}).to_string();
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The pod's registration; None if it was not registered.
    pub fn read(pod_dir: &PodDir) -> Result<Option<Registration>, String> {
        let path = pod_dir.mds();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let bad = || format!("{}: not a registration record", path.display());
        let v: Value = serde_json::from_str(&text).map_err(|_| bad())?;
        Ok(Some(Registration {
            socket: v["socket"].as_str().ok_or_else(bad)?.into(),
            token: v["token"].as_str().ok_or_else(bad)?.into(),
            port: v["port"]
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .ok_or_else(bad)?,
        }))
    }

    /// The apps' `AC_METADATA_URL`, the service being at `host` for them.
    pub fn url(&self, host: &str) -> String {
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        format!("http://{host}:{}/{}", self.port, self.token)
    }
}

/// One request to the service's socket: the status and body of its
/// answer.
pub fn call(
    socket: &Path,
    method: &str,
    path: &str,
    body: &[u8],
) -> std::io::Result<(u16, Vec<u8>)> {
    let mut stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: rkt-metadata\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    match stream.write_all(&request) {
        // A service that refuses a request before reading all of it (too
        // large) answers, then closes: its answer is still there to read.
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
            ) => {}
        other => other?,
    }
    // The service closes the connection after its answer.
    let mut answer = Vec::new();
    BufReader::new(stream)
        .take(MAX_ANSWER)
        .read_to_end(&mut answer)?;
    parse_answer(&answer).ok_or_else(|| std::io::Error::other("the service's answer is not HTTP"))
}

fn parse_answer(answer: &[u8]) -> Option<(u16, Vec<u8>)> {
    let mut reader = answer;
    let mut status_line = String::new();
    reader.read_line(&mut status_line).ok()?;
    let status = status_line
        .strip_prefix("HTTP/1.1 ")?
        .split(' ')
        .next()?
        .parse()
        .ok()?;
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n")?;
    Some((status, answer[split + 4..].to_vec()))
}

/// Tells the service where registered pod `uuid`'s apps reach it (its
/// network's gateway): the service serves apps only there and on loopback.
pub fn set_gateway(socket: &Path, uuid: &str, gateway: &str) -> Result<(), String> {
    let fail = |e: std::io::Error| format!("the metadata service ({}): {e}", socket.display());
    let path = format!("/pods/{uuid}/gateway");
    match call(socket, "PUT", &path, gateway.as_bytes()).map_err(fail)? {
        (200, _) => Ok(()),
        (status, body) => Err(format!(
            "the metadata service refused the pod's gateway ({status}): {}",
            String::from_utf8_lossy(&body).trim()
        )),
    }
}

/// Unregisters pod `uuid`: true if the service knew it, false if not.
pub fn unregister(socket: &Path, uuid: &str) -> Result<bool, String> {
    let fail = |e: std::io::Error| format!("the metadata service ({}): {e}", socket.display());
    match call(socket, "DELETE", &format!("/pods/{uuid}"), &[]).map_err(fail)? {
        (200, _) => Ok(true),
        (404, _) => Ok(false),
        (status, body) => Err(format!(
            "the metadata service refused ({status}): {}",
            String::from_utf8_lossy(&body).trim()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trip_readable_by_root_only() {
        let dir = tempfile::tempdir().unwrap();
        let pod_dir = PodDir::new(dir.path());
        assert_eq!(Registration::read(&pod_dir).unwrap(), None);
        let r = Registration {
            socket: "/run/rkt/metadata-svc.sock".into(),
            token: "t".repeat(64),
            port: 18112,
        };
        r.write(&pod_dir).unwrap();
        assert_eq!(Registration::read(&pod_dir).unwrap(), Some(r.clone()));
        let mode = std::fs::metadata(pod_dir.mds()).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
        assert!(r.write(&pod_dir).is_err(), "a record is written once");
        assert_eq!(
            r.url("10.1.2.1"),
            format!("http://10.1.2.1:18112/{}", r.token)
        );
        assert_eq!(
            r.url("fd00::1"),
            format!("http://[fd00::1]:18112/{}", r.token)
        );
        std::fs::write(pod_dir.mds(), "{}").unwrap();
        assert!(Registration::read(&pod_dir).is_err());
    }

    #[test]
    fn answers() {
        assert_eq!(
            parse_answer(b"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nno\n"),
            Some((404, b"no\n".to_vec()))
        );
        assert_eq!(parse_answer(b"garbage"), None);
    }
}
