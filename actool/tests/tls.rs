//! Discovery over HTTPS on 127.0.0.1 with a test certificate authority:
//! trusted through SSL_CERT_FILE, refused without it, and accepted without
//! it only with --insecure.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};

/// Serves one discovery page over TLS; returns the port.
fn serve_tls(dir: &Path) -> u16 {
    let cert = std::fs::read(dir.join("srv.pem")).unwrap();
    let key = std::fs::read(dir.join("srv.key")).unwrap();
    let identity = native_tls::Identity::from_pkcs8(&cert, &key).unwrap();
    let acceptor = native_tls::TlsAcceptor::new(identity).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let page =
            "<meta name=\"ac-discovery\" content=\"127.0.0.1/app https://127.0.0.1/{name}.{ext}\">";
        for stream in listener.incoming().flatten() {
            // A client refusing the certificate ends the handshake; go on.
            let Ok(mut tls) = acceptor.accept(stream) else {
                continue;
            };
            let mut buf = [0u8; 2048];
            let _ = tls.read(&mut buf);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                page.len()
            );
            let _ = tls.write_all(format!("{head}{page}").as_bytes());
            let _ = tls.shutdown();
        }
    });
    port
}

fn discover(port: u16, ca: Option<&Path>, empty_dir: &Path, insecure: bool) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_actool"));
    cmd.env_remove("SSL_CERT_FILE")
        .env("SSL_CERT_DIR", empty_dir);
    if let Some(ca) = ca {
        cmd.env("SSL_CERT_FILE", ca);
    }
    cmd.arg("discover").args(["--port", &port.to_string()]);
    if insecure {
        cmd.arg("--insecure");
    }
    cmd.arg("127.0.0.1/app").output().unwrap()
}

#[test]
fn https_discovery_trusts_ssl_cert_file_and_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    appc::testing::tls_certificates(tmp.path(), "127.0.0.1", "IP:127.0.0.1");
    let port = serve_tls(tmp.path());
    let empty = tmp.path().join("no-certs");
    std::fs::create_dir(&empty).unwrap();

    let trusted = discover(port, Some(&tmp.path().join("ca.pem")), &empty, false);
    assert!(
        trusted.status.success(),
        "{}",
        String::from_utf8_lossy(&trusted.stderr)
    );
    assert!(
        String::from_utf8_lossy(&trusted.stdout)
            .contains("ACI: https://127.0.0.1/127.0.0.1/app.aci")
    );

    let untrusted = discover(port, None, &empty, false);
    assert_eq!(
        untrusted.status.code(),
        Some(1),
        "an unknown CA must be refused"
    );
    let err = String::from_utf8_lossy(&untrusted.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");

    let insecure = discover(port, None, &empty, true);
    assert!(
        insecure.status.success(),
        "{}",
        String::from_utf8_lossy(&insecure.stderr)
    );
}
