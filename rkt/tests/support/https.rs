//! An HTTPS server on 127.0.0.1:443 for names like `localhost/t1/hello`,
//! with a test CA made by openssl (pass it to rkt with SSL_CERT_FILE).
//! One server per test binary; tests register routes under their own path
//! prefix. Each route can misbehave as servers do: errors, stalls,
//! truncation, HTML.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

#[derive(Clone)]
pub enum Route {
    /// 200 with the body; an ETag answered with 304 when it matches.
    Ok {
        body: Vec<u8>,
        etag: Option<String>,
    },
    Status(u16),
    /// Promises `body.len() + 1000` bytes, sends `body`, closes.
    Truncated(Vec<u8>),
    /// Never answers.
    Stall,
}

pub struct Server {
    routes: Mutex<HashMap<String, Route>>,
    /// (path with query, If-None-Match) of every request.
    log: Mutex<Vec<(String, Option<String>)>>,
    pub ca: PathBuf,
}

fn respond(server: &Server, mut tls: native_tls::TlsStream<std::net::TcpStream>) {
    let mut reader = BufReader::new(&mut tls);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let Some(target) = line.split(' ').nth(1).map(str::to_owned) else {
        return;
    };
    let mut if_none_match = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) <= 2 {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.eq_ignore_ascii_case("if-none-match")
        {
            if_none_match = Some(v.trim().to_string());
        }
    }
    server
        .log
        .lock()
        .unwrap()
        .push((target.clone(), if_none_match.clone()));
    let path = target.split('?').next().unwrap_or("/").to_string();
    let route = server
        .routes
        .lock()
        .unwrap()
        .get(&path)
        .cloned()
        .unwrap_or(Route::Status(404));
    let reply = |status: &str, headers: &str, body: &[u8], len: usize| {
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {len}\r\nConnection: close\r\n{headers}\r\n"
        );
        [head.as_bytes(), body].concat()
    };
    let bytes = match route {
        Route::Ok {
            etag: Some(tag), ..
        } if if_none_match.as_deref() == Some(tag.as_str()) => {
            reply("304 Not Modified", &format!("ETag: {tag}\r\n"), b"", 0)
        }
        Route::Ok { body, etag } => {
            let h = etag.map(|t| format!("ETag: {t}\r\n")).unwrap_or_default();
            reply("200 OK", &h, &body, body.len())
        }
        Route::Status(code) => reply(&format!("{code} Error"), "", b"", 0),
        Route::Truncated(body) => reply("200 OK", "", &body, body.len() + 1000),
        Route::Stall => {
            std::thread::sleep(Duration::from_secs(30));
            return;
        }
    };
    let _ = tls.write_all(&bytes);
    let _ = tls.flush();
}

impl Server {
    /// The shared server, or `None` (the calling test reported skipped,
    /// except in CI, where it fails) when port 443 cannot be had (not
    /// root, or taken).
    pub fn get() -> Option<&'static Server> {
        let server = Self::shared();
        if server.is_none() {
            appc::testing::skipped("port 443 on 127.0.0.1 not available: an HTTPS test");
        }
        server
    }

    fn shared() -> Option<&'static Server> {
        static SERVER: OnceLock<Option<&'static Server>> = OnceLock::new();
        *SERVER.get_or_init(|| {
            let listener = match TcpListener::bind("127.0.0.1:443") {
                Ok(l) => l,
                Err(e) => {
                    assert!(
                        std::env::var_os("CI").is_none(),
                        "cannot listen on 127.0.0.1:443: {e}"
                    );
                    eprintln!("cannot listen on 127.0.0.1:443 ({e})");
                    return None;
                }
            };
            let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
                .join(format!("rkt-https-{}", std::process::id()));
            appc::testing::tls_certificates(&dir, "localhost", "DNS:localhost,IP:127.0.0.1");
            let cert = std::fs::read(dir.join("srv.pem")).unwrap();
            let key = std::fs::read(dir.join("srv.key")).unwrap();
            let acceptor = Arc::new(
                native_tls::TlsAcceptor::new(
                    native_tls::Identity::from_pkcs8(&cert, &key).unwrap(),
                )
                .unwrap(),
            );
            let server: &'static Server = Box::leak(Box::new(Server {
                routes: Mutex::new(HashMap::new()),
                log: Mutex::new(Vec::new()),
                ca: dir.join("ca.pem"),
            }));
            std::thread::spawn(move || {
                for stream in listener.incoming().flatten() {
                    let acceptor = Arc::clone(&acceptor);
                    std::thread::spawn(move || {
                        if let Ok(tls) = acceptor.accept(stream) {
                            respond(server, tls);
                        }
                    });
                }
            });
            Some(server)
        })
    }

    pub fn route(&self, path: &str, route: Route) {
        self.routes.lock().unwrap().insert(path.to_string(), route);
    }

    pub fn ok(&self, path: &str, body: impl Into<Vec<u8>>) {
        self.route(
            path,
            Route::Ok {
                body: body.into(),
                etag: None,
            },
        );
    }

    /// Requests whose path starts with `prefix`.
    pub fn requests(&self, prefix: &str) -> Vec<(String, Option<String>)> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p.starts_with(prefix))
            .cloned()
            .collect()
    }

    /// Serves a discovery page at `/<name without host>` pointing images
    /// of `name` at `/<name without host>/...` and keys at `.../key.asc`.
    pub fn discovery(&self, name: &str, key: Option<&[u8]>) -> String {
        let path = name
            .strip_prefix("localhost")
            .expect("a localhost name")
            .to_string();
        let mut page = format!(
            "<html><head><meta name=\"ac-discovery\" content=\"{name} https://localhost{path}/{{version}}-{{os}}-{{arch}}.{{ext}}\">"
        );
        if let Some(key) = key {
            page.push_str(&format!("<meta name=\"ac-discovery-pubkeys\" content=\"{name} https://localhost{path}/key.asc\">"));
            self.ok(&format!("{path}/key.asc"), key.to_vec());
        }
        page.push_str("</head></html>");
        self.ok(&path, page);
        path
    }

    /// Where discovery points the image of `name` at `version`.
    pub fn image_path(&self, name: &str, version: &str) -> String {
        let path = name.strip_prefix("localhost").unwrap();
        format!("{path}/{version}-linux-{}.aci", rkt::fetch::host_arch())
    }
}

/// Reads a whole file (for serving).
pub fn read(path: &Path) -> Vec<u8> {
    let mut v = Vec::new();
    std::fs::File::open(path)
        .unwrap()
        .read_to_end(&mut v)
        .unwrap();
    v
}
