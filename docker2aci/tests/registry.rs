//! docker2aci against a real registry (Debian's docker-registry on
//! 127.0.0.1, images pushed with skopeo): a plain pull, a manifest list
//! by platform, basic authentication with docker's config.json (and wrong
//! credentials refused), a registry that never answers (timeout).

mod support;

use docker2aci::testing::{LocalRegistry, Setup};
use serde_json::json;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use support::*;

fn ready() -> bool {
    let have = docker2aci::testing::tools_present();
    if !have {
        assert!(
            std::env::var_os("CI").is_none(),
            "docker-registry, skopeo or htpasswd missing: run scripts/setup.sh"
        );
        appc::testing::skipped(
            "docker-registry, skopeo or htpasswd missing: docker2aci's registry tests",
        );
    }
    have
}

fn image(marker: &str) -> Image {
    Image::new(
        vec![
            LayerBuilder::new()
                .dir("etc")
                .file("etc/base", b"base")
                .build(),
            LayerBuilder::new()
                .file("marker", marker.as_bytes())
                .hardlink("marker-link", "marker")
                .build(),
        ],
        json!({"Cmd": ["/bin/sh"], "Env": ["IMAGE=registry"]}),
    )
}

fn pull(args: &[&str], env: &[(&str, &Path)]) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_docker2aci"));
    c.args(args).env_remove("DOCKER_CONFIG");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn extracted(aci: &Path, dir: &Path) -> std::collections::BTreeMap<String, Entry> {
    untar(aci, dir);
    tree(&dir.join("rootfs"))
}

#[test]
fn pulls_plain_lists_and_with_credentials() {
    if !ready() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let layout = tmp.path().join("layout");
    oci_layout(&layout, &image("plain"), &[Zip::Gzip], "1.0");

    let open = LocalRegistry::start(tmp.path(), None);
    open.push(&layout, "1.0", "tests/web:1.0", None, false);
    let url = format!("docker://{}", open.name("tests/web:1.0"));
    let o = pull(
        &["--insecure-allow-http", &url, "-o", out.to_str().unwrap()],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let aci = out.join("tests-web-1.0.aci");
    let got = extracted(&aci, &tmp.path().join("plain"));
    assert_eq!(got["marker"].content, sha256(b"plain"));
    assert_eq!(got["marker"].same_inode, ["marker-link"]);
    untar(&aci, &tmp.path().join("plain-manifest"));
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("plain-manifest/manifest")).unwrap())
            .unwrap();
    // ":" is not allowed in an AC identifier; sanitised as the reference does.
    assert_eq!(m["name"], format!("127.0.0.1_{}/tests/web", open.port));
    let annotation = |n: &str| {
        m["annotations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == n)
            .map(|a| a["value"].clone())
    };
    assert_eq!(
        annotation("appc.io/docker/originalname"),
        Some(json!(open.name("tests/web:1.0")))
    );
    assert!(
        annotation("appc.io/docker/manifesthash")
            .unwrap()
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    // Without --insecure-allow-http, HTTPS only: refused.
    let o = pull(&[&url, "-o", out.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(1));
    // Not there: the registry's answer.
    let o = pull(
        &[
            "--insecure-allow-http",
            &format!("docker://{}", open.name("tests/none:1")),
            "-o",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert!(stderr(&o).contains("404 Not Found"), "{}", stderr(&o));

    // A manifest list: this machine's platform by default, --arch for another.
    let list_layout = tmp.path().join("list");
    let mut amd = oci_manifest(&list_layout, &image("for-this-machine"), &[Zip::Gzip]);
    amd["platform"] = json!({"os": "linux", "architecture": host_arch()});
    let other = if host_arch() == "arm64" {
        "amd64"
    } else {
        "arm64"
    };
    let mut arm = oci_manifest(&list_layout, &image("for-another"), &[Zip::Gzip]);
    arm["platform"] = json!({"os": "linux", "architecture": other});
    let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [amd, arm]});
    let bytes = serde_json::to_vec(&index).unwrap();
    let hex = sha256(&bytes);
    std::fs::write(list_layout.join("blobs/sha256").join(&hex), &bytes).unwrap();
    write_index(
        &list_layout,
        vec![
            json!({"mediaType": "application/vnd.oci.image.index.v1+json",
        "digest": format!("sha256:{hex}"), "size": bytes.len(), "annotations": {"org.opencontainers.image.ref.name": "2.0"}}),
        ],
    );
    open.push(&list_layout, "2.0", "tests/multi:2.0", None, true);
    let url = format!("docker://{}", open.name("tests/multi:2.0"));
    let mine = out.join("mine.aci");
    let o = pull(
        &["--insecure-allow-http", &url, "-o", mine.to_str().unwrap()],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        extracted(&mine, &tmp.path().join("mine"))["marker"].content,
        sha256(b"for-this-machine")
    );
    let theirs = out.join("theirs.aci");
    let o = pull(
        &[
            "--insecure-allow-http",
            "--arch",
            other,
            &url,
            "-o",
            theirs.to_str().unwrap(),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        extracted(&theirs, &tmp.path().join("theirs"))["marker"].content,
        sha256(b"for-another")
    );
    let o = pull(
        &[
            "--insecure-allow-http",
            "--arch",
            "s390x",
            &url,
            "-o",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        stderr(&o).contains("no image for linux/s390x"),
        "{}",
        stderr(&o)
    );

    // htpasswd: credentials from docker's config.json; wrong ones refused.
    let htpasswd = tmp.path().join("htpasswd");
    let made = Command::new("htpasswd")
        .args(["-Bbn", "alice", "secret"])
        .output()
        .unwrap();
    std::fs::write(&htpasswd, &made.stdout).unwrap();
    let closed = LocalRegistry::start(tmp.path(), Some(&htpasswd));
    closed.push(
        &layout,
        "1.0",
        "tests/private:1.0",
        Some("alice:secret"),
        false,
    );
    let url = format!("docker://{}", closed.name("tests/private:1.0"));
    let docker_config = |dir: &str, creds: &str| -> PathBuf {
        let d = tmp.path().join(dir);
        std::fs::create_dir_all(&d).unwrap();
        let auth = match creds {
            "alice:secret" => "YWxpY2U6c2VjcmV0",
            _ => "YWxpY2U6d3Jvbmc=", // alice:wrong
        };
        std::fs::write(
            d.join("config.json"),
            json!({"auths": {format!("127.0.0.1:{}", closed.port): {"auth": auth}}}).to_string(),
        )
        .unwrap();
        d
    };
    let o = pull(
        &["--insecure-allow-http", &url, "-o", out.to_str().unwrap()],
        &[],
    );
    assert!(
        stderr(&o).contains("401 Unauthorized: the registry wants credentials"),
        "{}",
        stderr(&o)
    );
    let wrong = docker_config("wrong", "alice:wrong");
    let o = pull(
        &["--insecure-allow-http", &url, "-o", out.to_str().unwrap()],
        &[("DOCKER_CONFIG", &wrong)],
    );
    assert!(
        stderr(&o).contains("401 Unauthorized: the registry refused the credentials of alice"),
        "{}",
        stderr(&o)
    );
    let right = docker_config("right", "alice:secret");
    let o = pull(
        &["--insecure-allow-http", &url, "-o", out.to_str().unwrap()],
        &[("DOCKER_CONFIG", &right)],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.join("tests-private-1.0.aci").exists());
    // Nothing half-written was left by the failures.
    let stray: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with('.'))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
}

#[test]
fn a_registry_that_never_answers_times_out() {
    let tmp = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accepts connections and says nothing.
    let held = std::thread::spawn(move || {
        let mut conns = Vec::new();
        for c in listener.incoming().take(4) {
            conns.push(c);
        }
        std::thread::sleep(Duration::from_secs(8));
    });
    let started = Instant::now();
    let o = pull(
        &[
            "--insecure-allow-http",
            "--timeout",
            "2",
            &format!("docker://127.0.0.1:{port}/hangs:1"),
            "-o",
            tmp.path().to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert!(
        stderr(&o).to_lowercase().contains("timed out"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    drop(held);
}

/// A registry that wants a bearer token from its realm (as Docker Hub
/// and most registries do), serving an OCI layout: a few lines of HTTP.
fn token_registry(layout: PathBuf) -> u16 {
    use std::io::{BufRead, BufReader, Write};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap_or(0);
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
            let mut auth = String::new();
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
                if let Some(v) = h
                    .strip_prefix("authorization: ")
                    .or(h.strip_prefix("Authorization: "))
                {
                    auth = v.trim().to_string();
                }
            }
            let (status, headers, body): (&str, String, Vec<u8>) = if path.starts_with("/token") {
                if auth == "Basic YWxpY2U6c2VjcmV0"
                    && path.contains("scope=repository%3Atests%2Fweb%3Apull")
                {
                    ("200 OK", String::new(), br#"{"token":"tok-123"}"#.to_vec())
                } else {
                    ("401 Unauthorized", String::new(), Vec::new())
                }
            } else if auth != "Bearer tok-123" {
                let challenge = format!(
                    "WWW-Authenticate: Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"fake\",scope=\"repository:tests/web:pull\"\r\n"
                );
                ("401 Unauthorized", challenge, Vec::new())
            } else if let Some(tag) = path.strip_prefix("/v2/tests/web/manifests/") {
                let index: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap())
                        .unwrap();
                let desc = &index["manifests"][0];
                let digest = if tag.starts_with("sha256:") {
                    tag.to_string()
                } else {
                    desc["digest"].as_str().unwrap().to_string()
                };
                let body = std::fs::read(layout.join("blobs/sha256").join(&digest[7..]))
                    .unwrap_or_default();
                (
                    "200 OK",
                    format!("Content-Type: {}\r\n", desc["mediaType"].as_str().unwrap()),
                    body,
                )
            } else if let Some(digest) = path.strip_prefix("/v2/tests/web/blobs/sha256:") {
                (
                    "200 OK",
                    String::new(),
                    std::fs::read(layout.join("blobs/sha256").join(digest)).unwrap_or_default(),
                )
            } else {
                ("404 Not Found", String::new(), Vec::new())
            };
            let _ = write!(
                conn,
                "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = conn.write_all(&body);
        }
    });
    port
}

#[test]
fn bearer_tokens_from_the_registrys_realm() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("layout");
    oci_layout(&layout, &image("token"), &[Zip::Gzip], "1.0");
    let port = token_registry(layout);
    let url = format!("docker://127.0.0.1:{port}/tests/web:1.0");
    let out = tmp.path().join("out.aci");
    let refused = pull(
        &["--insecure-allow-http", &url, "-o", out.to_str().unwrap()],
        &[],
    );
    assert!(
        stderr(&refused).contains("401 Unauthorized: the registry wants credentials"),
        "{}",
        stderr(&refused)
    );
    let config = tmp.path().join("docker");
    std::fs::create_dir(&config).unwrap();
    std::fs::write(
        config.join("config.json"),
        json!({"auths": {format!("127.0.0.1:{port}"): {"username": "alice", "password": "secret"}}}).to_string(),
    )
    .unwrap();
    let o = pull(
        &["--insecure-allow-http", &url, "-o", out.to_str().unwrap()],
        &[("DOCKER_CONFIG", &config)],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        extracted(&out, &tmp.path().join("x"))["marker"].content,
        sha256(b"token")
    );
}

#[test]
fn tls_certificates_are_checked_unless_told_otherwise() {
    if !ready() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (cert, key) = (tmp.path().join("cert.pem"), tmp.path().join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .args(["-addext", "subjectAltName=IP:127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", stderr(&made));
    let layout = tmp.path().join("layout");
    oci_layout(&layout, &image("tls"), &[Zip::Gzip], "1.0");
    let registry = LocalRegistry::start_with(
        tmp.path(),
        &Setup {
            tls: Some((&cert, &key)),
            ..Setup::default()
        },
    );
    registry.push(&layout, "1.0", "tests/tls:1.0", None, false);
    let url = format!("docker://{}", registry.name("tests/tls:1.0"));
    let out = tmp.path().join("out.aci");
    let refused = pull(&[&url, "-o", out.to_str().unwrap()], &[]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("certificate"),
        "{}",
        stderr(&refused)
    );
    assert!(!out.exists());
    let o = pull(
        &["--insecure-skip-verify", &url, "-o", out.to_str().unwrap()],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        extracted(&out, &tmp.path().join("x"))["marker"].content,
        sha256(b"tls")
    );
}

#[test]
fn schema1_manifests_of_old_registries() {
    if !ready() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("layout");
    oci_layout(&layout, &image("old"), &[Zip::Gzip], "1.0");
    let registry = LocalRegistry::start_with(
        tmp.path(),
        &Setup {
            schema1: true,
            ..Setup::default()
        },
    );
    registry.push_with(
        &layout,
        "1.0",
        "tests/old:1.0",
        &["--format".into(), "v2s1".into()],
    );
    let url = format!("docker://{}", registry.name("tests/old:1.0"));
    let out = tmp.path().join("old.aci");
    let o = pull(
        &["--insecure-allow-http", &url, "-o", out.to_str().unwrap()],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let dir = tmp.path().join("x");
    let t = extracted(&out, &dir);
    assert_eq!(t["marker"].content, sha256(b"old"));
    assert_eq!(t["etc/base"].content, sha256(b"base"));
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest")).unwrap()).unwrap();
    assert_eq!(m["app"]["exec"], json!(["/bin/sh"]));
}
