//! `rkt trust` and `rkt fetch` over HTTPS with meta discovery, from a real
//! TLS server on 127.0.0.1:443 whose test CA is given by SSL_CERT_FILE.

mod support;

use serde_json::json;
use std::process::Output;
use support::https::{Route, Server, read};
use support::{Env, one_line_error};

fn rkt(env: &Env, server: &Server, args: &[&str]) -> Output {
    env.rkt_command(args)
        .env("SSL_CERT_FILE", &server.ca)
        .env("RKT_HTTP_TIMEOUT", "2")
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn stored(env: &Env) -> usize {
    String::from_utf8_lossy(&env.rkt(&["image", "list", "--no-legend"]).stdout)
        .lines()
        .count()
}

/// Serves a signed image of `name` at `version` where discovery finds it.
fn publish(
    server: &Server,
    env: &Env,
    name: &str,
    version: &str,
    extra: serde_json::Value,
) -> String {
    let file = format!("{}-{version}.aci", name.replace('/', "_"));
    let aci = env.image(&file, name, version, extra, &[("etc/motd", name)]);
    let asc = env.sign(&aci, "signer");
    let path = server.image_path(name, version);
    server.route(
        &path,
        Route::Ok {
            body: read(&aci),
            etag: Some(format!("\"{version}\"")),
        },
    );
    server.ok(&format!("{path}.asc"), read(&asc));
    path
}

#[test]
fn discovered_images_are_fetched_reused_and_revalidated() {
    let Some(server) = Server::get() else { return };
    let env = Env::new();
    let name = "localhost/t1/hello";
    server.discovery(name, Some(&read(&env.public_key("signer"))));
    let path = publish(server, &env, name, "1.0.0", json!({}));

    let said = ok(&rkt(
        &env,
        server,
        &["trust", "--skip-fingerprint-review", "--prefix", name],
    ));
    assert!(
        said.starts_with("Added key for prefix \"localhost/t1/hello\""),
        "{said}"
    );
    let id = ok(&rkt(&env, server, &["fetch", "localhost/t1/hello:1.0.0"]));
    assert!(id.starts_with("sha512-"));

    let asked = server.requests(&path).len();
    assert_eq!(
        ok(&rkt(&env, server, &["fetch", "localhost/t1/hello:1.0.0"])),
        id
    );
    assert_eq!(
        server.requests(&path).len(),
        asked,
        "the stored image was downloaded again"
    );

    assert_eq!(
        ok(&rkt(
            &env,
            server,
            &["fetch", "--pull-policy=update", "localhost/t1/hello:1.0.0"]
        )),
        id
    );
    let last = server.requests(&path).pop().unwrap();
    assert_eq!(
        last.1.as_deref(),
        Some("\"1.0.0\""),
        "no conditional request"
    );
    assert_eq!(stored(&env), 1);

    let err = one_line_error(&rkt(
        &env,
        server,
        &["fetch", "--pull-policy=never", "localhost/t1/absent"],
    ));
    assert!(err.contains("--pull-policy=never"), "{err}");
}

#[test]
fn server_failures_are_clear_errors_and_store_nothing() {
    let Some(server) = Server::get() else { return };
    let env = Env::new();
    let aci = env.image("t2.aci", "localhost/t2/x", "1", json!({}), &[("a", "b")]);
    let bytes = read(&aci);
    server.route("/t2/404.aci", Route::Status(404));
    server.route("/t2/500.aci", Route::Status(500));
    server.route("/t2/stall.aci", Route::Stall);
    server.route(
        "/t2/short.aci",
        Route::Truncated(bytes[..bytes.len() / 2].to_vec()),
    );
    server.ok(
        "/t2/page.aci",
        "<html><body>Welcome to nginx!</body></html>",
    );
    server.ok("/t2/good.aci", bytes.clone());
    let cases = [
        ("404.aci", "answered 404"),
        ("500.aci", "answered 500"),
        ("stall.aci", "timed out"),
        ("short.aci", "truncated"),
        ("page.aci", "unable to detect filetype"),
    ];
    for (file, needle) in cases {
        let url = format!("https://localhost/t2/{file}");
        let err = one_line_error(&rkt(
            &env,
            server,
            &["--insecure-options=image", "fetch", &url],
        ));
        assert!(err.to_lowercase().contains(needle), "{file}: {err}");
    }
    // A URL given over plain HTTP is fetched as given (fetch_http.rs):
    // nothing listens on this port.
    let err = one_line_error(&rkt(
        &env,
        server,
        &[
            "--insecure-options=image",
            "fetch",
            "http://127.0.0.1:9/x.aci",
        ],
    ));
    assert!(err.contains("http://127.0.0.1:9/x.aci"), "{err}");
    assert!(!err.contains("--insecure-options=http"), "{err}");
    // A server whose certificate we do not trust.
    let empty = env.path("no-certs");
    std::fs::create_dir_all(&empty).unwrap();
    let url = "https://localhost/t2/good.aci";
    let out = env
        .rkt_command(&["--insecure-options=image", "fetch", url])
        .env_remove("SSL_CERT_FILE")
        .env("SSL_CERT_DIR", &empty)
        .output()
        .unwrap();
    let err = one_line_error(&out);
    assert!(err.contains("certificate"), "{err}");
    assert_eq!(stored(&env), 0);
    let out = env
        .rkt_command(&["--insecure-options=image,tls", "fetch", url])
        .env_remove("SSL_CERT_FILE")
        .env("SSL_CERT_DIR", &empty)
        .output()
        .unwrap();
    ok(&out);
    assert_eq!(stored(&env), 1);
    assert_eq!(
        std::fs::read_dir(env.path("data/cas/tmp")).unwrap().count(),
        0
    );
}

#[test]
fn images_that_are_not_what_was_asked_for_are_refused() {
    let Some(server) = Server::get() else { return };
    let env = Env::new();
    env.trust("localhost/t3", "signer");
    server.discovery("localhost/t3/hello", None);
    // Discovery for hello leads to an image calling itself other.
    let other = env.image(
        "t3-other.aci",
        "localhost/t3/other",
        "1.0.0",
        json!({}),
        &[],
    );
    let asc = env.sign(&other, "signer");
    let path = server.image_path("localhost/t3/hello", "1.0.0");
    server.ok(&path, read(&other));
    server.ok(&format!("{path}.asc"), read(&asc));
    let err = one_line_error(&rkt(&env, server, &["fetch", "localhost/t3/hello:1.0.0"]));
    assert!(err.contains("the image is localhost/t3/other"), "{err}");
    // Asked for 2.0.0, served 1.0.0.
    let one = env.image("t3-one.aci", "localhost/t3/hello", "1.0.0", json!({}), &[]);
    let asc = env.sign(&one, "signer");
    let path = server.image_path("localhost/t3/hello", "2.0.0");
    server.ok(&path, read(&one));
    server.ok(&format!("{path}.asc"), read(&asc));
    let err = one_line_error(&rkt(&env, server, &["fetch", "localhost/t3/hello:2.0.0"]));
    assert!(err.contains("not localhost/t3/hello:2.0.0"), "{err}");
    assert_eq!(stored(&env), 0);
}

#[test]
fn dependencies_are_discovered_and_cycles_refused() {
    let Some(server) = Server::get() else { return };
    let env = Env::new();
    env.trust("localhost/t4", "signer");
    for name in [
        "localhost/t4/base",
        "localhost/t4/app",
        "localhost/t4/a",
        "localhost/t4/b",
    ] {
        server.discovery(name, None);
    }
    publish(server, &env, "localhost/t4/base", "1", json!({}));
    let dep = |n: &str| json!({"dependencies": [{"imageName": n, "labels": [{"name": "version", "value": "1"}]}]});
    publish(
        server,
        &env,
        "localhost/t4/app",
        "1",
        dep("localhost/t4/base"),
    );
    publish(server, &env, "localhost/t4/a", "1", dep("localhost/t4/b"));
    publish(server, &env, "localhost/t4/b", "1", dep("localhost/t4/a"));

    ok(&rkt(&env, server, &["fetch", "localhost/t4/app:1"]));
    assert_eq!(stored(&env), 2, "the dependency was not fetched");
    let err = one_line_error(&rkt(&env, server, &["fetch", "localhost/t4/a:1"]));
    assert!(
        err.contains("dependency cycle: localhost/t4/a -> localhost/t4/b -> localhost/t4/a"),
        "{err}"
    );
    assert_eq!(stored(&env), 2);
}

#[test]
fn keys_can_be_trusted_from_https_on_request() {
    let Some(server) = Server::get() else { return };
    let env = Env::new();
    let name = "localhost/t5/hello";
    server.discovery(name, Some(&read(&env.public_key("signer"))));
    publish(server, &env, name, "1.0.0", json!({}));
    let err = one_line_error(&rkt(&env, server, &["fetch", "localhost/t5/hello:1.0.0"]));
    assert!(err.contains("no key is trusted"), "{err}");
    ok(&rkt(
        &env,
        server,
        &[
            "--trust-keys-from-https",
            "fetch",
            "localhost/t5/hello:1.0.0",
        ],
    ));
    assert!(
        env.path("etc/trustedkeys/prefix.d/localhost/t5/hello")
            .is_dir()
    );
}
