//! Registrations over the service's Unix socket, which only root can
//! reach: `PUT /pods/<uuid>` (a [`PodRegistration`]; answers the port the
//! apps use), `PUT /pods/<uuid>/gateway` (the address, as text, where the
//! pod's apps reach the service: stage1 says it once the pod's networks
//! are joined), `DELETE /pods/<uuid>`, `GET /pods`. Both sides: the
//! service's handler, and stage0's client (see also `pod::mds`).

use super::http::{self, JSON, Limits, Request, Response};
use super::listeners::AppListeners;
use super::registry::{PodRegistration, RegisterError, Registry};
use serde::{Deserialize, Serialize};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

/// A registration carries manifests: bounded, but generously.
pub const LIMITS: Limits = Limits {
    head: 8 * 1024,
    body: 16 << 20,
};

/// The answer to a registration.
#[derive(Debug, Serialize, Deserialize)]
pub struct Registered {
    /// The TCP port the apps reach the service on.
    pub port: u16,
}

/// Answers one registration request; the apps' listeners follow the
/// gateways the registered pods use.
pub fn handle(registry: &Registry, listeners: &AppListeners, req: &Request) -> Response {
    if req.path == "/pods" {
        return match req.method.as_str() {
            "GET" => Response::new(
                200,
                JSON,
                serde_json::to_vec(&registry.uuids()).expect("strings serialise"),
            ),
            _ => Response::not_allowed("GET"),
        };
    }
    let Some(uuid) = req.path.strip_prefix("/pods/") else {
        return Response::error(404, "no such path");
    };
    if let Some(uuid) = uuid.strip_suffix("/gateway") {
        if req.method != "PUT" {
            return Response::not_allowed("PUT");
        }
        let Some(gateway) = std::str::from_utf8(&req.body)
            .ok()
            .and_then(|t| t.trim().parse().ok())
        else {
            return Response::error(400, "the gateway: an IP address is expected");
        };
        return match registry.set_gateway(uuid, gateway) {
            Ok(true) => match listeners.follow(registry) {
                Ok(()) => Response::new(200, http::TEXT, ""),
                Err((ip, e)) => {
                    registry.forget_gateway(uuid);
                    let _ = listeners.follow(registry);
                    let port = listeners.port();
                    eprintln!("metadata-service: cannot listen on {ip}:{port}: {e}");
                    Response::error(503, format!("cannot listen on {ip}:{port}: {e}"))
                }
            },
            Ok(false) => Response::error(404, format!("pod {uuid} is not registered")),
            Err(e) => Response::error(400, e),
        };
    }
    match req.method.as_str() {
        "PUT" => {
            let reg: PodRegistration = match serde_json::from_slice(&req.body) {
                Ok(r) => r,
                Err(e) => return Response::error(400, format!("the registration: {e}")),
            };
            let key = match super::random_bytes::<64>() {
                Ok(k) => k,
                Err(e) => return Response::error(503, format!("no random bytes for a key: {e}")),
            };
            match registry.register(uuid, &reg, key) {
                Ok(uuid) => {
                    eprintln!("metadata-service: registered pod {uuid}");
                    let port = listeners.port();
                    let body = serde_json::to_vec(&Registered { port }).expect("numbers serialise");
                    Response::new(201, JSON, body)
                }
                Err(e) => {
                    let status = match e {
                        RegisterError::Registered(_) | RegisterError::TokenTaken => 409,
                        RegisterError::Full => 503,
                        _ => 400,
                    };
                    Response::error(status, e)
                }
            }
        }
        "DELETE" => match registry.unregister(uuid) {
            Ok(true) => {
                eprintln!("metadata-service: unregistered pod {uuid}");
                // Closing a listener cannot fail; another gateway that
                // could not be listened on was answered for already.
                let _ = listeners.follow(registry);
                Response::new(200, http::TEXT, "")
            }
            Ok(false) => Response::error(404, format!("pod {uuid} is not registered")),
            Err(e) => Response::error(400, e),
        },
        _ => Response::not_allowed("PUT, DELETE"),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the metadata service is not running ({}: {source}); start it with `rkt metadata-service`", socket.display())]
    NotRunning {
        socket: PathBuf,
        source: std::io::Error,
    },
    #[error("the metadata service ({}): {source}", socket.display())]
    Io {
        socket: PathBuf,
        source: std::io::Error,
    },
    #[error("the metadata service answered badly: {0}")]
    Answer(String),
    #[error("the metadata service refused: {0}")]
    Refused(String),
}

/// One request over the socket; the status and body of the answer.
fn call(
    socket: &Path,
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<(u16, Vec<u8>), ClientError> {
    pod::mds::call(socket, method, path, body).map_err(|source| {
        let socket = socket.to_path_buf();
        match source.kind() {
            std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
                ClientError::NotRunning { socket, source }
            }
            _ => ClientError::Io { socket, source },
        }
    })
}

/// Whether a service listens on `socket`, or why not.
pub fn check_running(socket: &Path) -> Result<(), ClientError> {
    UnixStream::connect(socket)
        .map(drop)
        .map_err(|source| ClientError::NotRunning {
            socket: socket.to_path_buf(),
            source,
        })
}

fn refused(body: &[u8]) -> ClientError {
    ClientError::Refused(String::from_utf8_lossy(body).trim().to_string())
}

/// Registers pod `uuid`; the port its apps reach the service on.
pub fn register(socket: &Path, uuid: &str, reg: &PodRegistration) -> Result<u16, ClientError> {
    let body = serde_json::to_vec(reg).expect("registrations serialise");
    match call(socket, "PUT", &format!("/pods/{uuid}"), &body)? {
        (201, body) => serde_json::from_slice::<Registered>(&body)
            .map(|r| r.port)
            .map_err(|e| ClientError::Answer(e.to_string())),
        (_, body) => Err(refused(&body)),
    }
}

/// The UUIDs of the pods registered.
pub fn registered(socket: &Path) -> Result<Vec<String>, ClientError> {
    match call(socket, "GET", "/pods", &[])? {
        (200, body) => {
            serde_json::from_slice(&body).map_err(|e| ClientError::Answer(e.to_string()))
        }
        (_, body) => Err(refused(&body)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::registry::tests::{UUID, registration};
    use super::*;

    fn request(method: &str, path: &str, body: Vec<u8>) -> Request {
        Request {
            method: method.into(),
            path: path.into(),
            query: None,
            headers: vec![],
            body,
            keep_alive: false,
        }
    }

    /// Listeners on a port of loopback that serve nobody.
    fn listeners() -> AppListeners {
        AppListeners::bind(0, Box::new(|_, _| {})).unwrap()
    }

    #[test]
    fn register_twice_then_unregister() {
        let r = Registry::default();
        let l = listeners();
        let body = serde_json::to_vec(&registration()).unwrap();
        let put = handle(
            &r,
            &l,
            &request("PUT", &format!("/pods/{UUID}"), body.clone()),
        );
        let port = format!(r#"{{"port":{}}}"#, l.port());
        assert_eq!((put.status, put.body.as_slice()), (201, port.as_bytes()));
        let again = handle(&r, &l, &request("PUT", &format!("/pods/{UUID}"), body));
        assert_eq!(again.status, 409);
        let list = handle(&r, &l, &request("GET", "/pods", vec![]));
        assert_eq!(list.body, format!("[\"{UUID}\"]").into_bytes());
        let delete = || handle(&r, &l, &request("DELETE", &format!("/pods/{UUID}"), vec![]));
        assert_eq!(delete().status, 200);
        assert_eq!(delete().status, 404);
    }

    #[test]
    fn a_gateway_that_cannot_be_listened_on_is_refused_and_forgotten() {
        let r = Registry::default();
        let l = listeners();
        let body = serde_json::to_vec(&registration()).unwrap();
        handle(&r, &l, &request("PUT", &format!("/pods/{UUID}"), body));
        let gateway = format!("/pods/{UUID}/gateway");
        let put = handle(&r, &l, &request("PUT", &gateway, b"192.0.2.1".to_vec()));
        assert_eq!(put.status, 503);
        let said = String::from_utf8(put.body).unwrap();
        assert!(said.contains("cannot listen on 192.0.2.1:"), "{said}");
        assert!(r.gateways().is_empty());
        let put = handle(&r, &l, &request("PUT", &gateway, b"127.0.0.58".to_vec()));
        assert_eq!(put.status, 200);
        assert_eq!(r.gateways().len(), 1);
    }

    #[test]
    fn bad_registrations_are_answered() {
        let r = Registry::default();
        let l = listeners();
        let status = |m: &str, p: &str, b: &[u8]| handle(&r, &l, &request(m, p, b.to_vec())).status;
        assert_eq!(status("PUT", &format!("/pods/{UUID}"), b"{not json"), 400);
        assert_eq!(
            status(
                "PUT",
                &format!("/pods/{UUID}"),
                br#"{"token":"x","podManifest":{},"images":{},"more":1}"#
            ),
            400
        );
        assert_eq!(
            status(
                "PUT",
                "/pods/not-a-uuid",
                &serde_json::to_vec(&registration()).unwrap()
            ),
            400
        );
        assert_eq!(status("DELETE", "/pods/not-a-uuid", b""), 400);
        assert_eq!(status("POST", &format!("/pods/{UUID}"), b""), 405);
        assert_eq!(status("GET", "/other", b""), 404);
        assert!(r.uuids().is_empty());
    }
}
