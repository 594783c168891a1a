//! The metadata service (`rkt metadata-service`, `rkt run --mds-register`)
//! with real pods on the default network: the appc spec's own executor
//! validator (ACE) in all four stages, the endpoints as apps read them,
//! a second pod that cannot read or sign as the first, and bad input.
//! Each test runs its own service on a socket of its own and a free port;
//! traffic goes only between the host and the pods made here.

mod support;

use serde_json::json;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::pods::{busybox_layout, ensure_stage1, start_with, stdout};
use support::{Env, one_line_error};

/// Root, the stage1 and the CNI plugins (the default network), or the
/// test is reported skipped (never in CI).
fn pods_ready() -> bool {
    if !ensure_stage1() {
        return false;
    }
    let ok = Path::new("/usr/lib/cni/ptp").exists();
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "containernetworking-plugins are missing: run scripts/setup.sh"
        );
        appc::testing::skipped("no CNI plugins: the metadata service's pods");
    }
    ok
}

/// A metadata service this test started, on its own socket and a free
/// port; ended (SIGTERM, by its pid) when the test ends.
struct Service {
    child: Child,
    socket: PathBuf,
    port: u16,
    log: Arc<Mutex<String>>,
}

impl Service {
    fn start(env: &mut Env) -> Service {
        let socket = env.path("mds.sock");
        env.vars
            .push(("RKT_METADATA_SOCKET".into(), socket.clone()));
        let mut child = Command::new(env!("CARGO_BIN_EXE_rkt"))
            .args(["metadata-service", "--listen-port=0"])
            .env("RKT_METADATA_SOCKET", &socket)
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut first = String::new();
        stderr.read_line(&mut first).unwrap();
        // "metadata-service: serving pods on port N, registrations on PATH"
        let port = first
            .split("port ")
            .nth(1)
            .and_then(|r| r.split(',').next())
            .and_then(|p| p.parse().ok());
        let Some(port) = port else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the service did not start: {first}");
        };
        let log = Arc::new(Mutex::new(first));
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                sink.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
        Service {
            child,
            socket,
            port,
            log,
        }
    }

    fn registered(&self) -> Vec<String> {
        rkt::mds::registration::registered(&self.socket).unwrap()
    }

    /// An HTTP request to the apps' port over loopback: the status line,
    /// headers and body as text.
    fn http(&self, request: &str) -> String {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let status = self.child.wait().unwrap();
        if !std::thread::panicking() {
            assert!(status.success(), "the service: {status}");
            assert!(!self.socket.exists(), "the service left its socket");
        }
    }
}

/// An image of `layout` (with `manifest`) as an ACI.
fn image(env: &Env, layout: &Path, manifest: &serde_json::Value, name: &str) -> PathBuf {
    std::fs::write(layout.join("manifest"), manifest.to_string()).unwrap();
    let aci = env.path(&format!("{name}.aci"));
    appc::aci::build_aci(
        layout,
        std::fs::File::create(&aci).unwrap(),
        Default::default(),
    )
    .unwrap();
    aci
}

fn labels() -> serde_json::Value {
    json!([{"name": "version", "value": "1"}, {"name": "os", "value": "linux"},
           {"name": "arch", "value": rkt::fetch::host_arch()}])
}

/// A busybox image whose app runs `script` with sh.
fn script_image(env: &Env, name: &str, script: &str) -> PathBuf {
    let layout = env.path(name);
    busybox_layout(&layout);
    let manifest = json!({
        "acKind": "ImageManifest", "acVersion": "0.8.11", "name": format!("example.com/{name}"),
        "labels": labels(),
        "app": {"exec": ["/bin/sh", "-c", script], "user": "0", "group": "0"},
        "annotations": [{"name": "lorem", "value": "ipsum"}]
    });
    image(env, &layout, &manifest, name)
}

fn run(env: &Env, args: &[&str]) -> Output {
    let mut all = vec!["--insecure-options=image", "run"];
    all.extend_from_slice(args);
    env.rkt(&all)
}

fn gc(env: &Env) {
    let out = env.rkt(&["gc", "--grace-period=0s"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The ACE validator, built once per test run from Debian's copy of the
/// appc spec's source with Debian's Go (static, no cgo); None (skipped)
/// where they are not installed.
fn ace_validator() -> Option<PathBuf> {
    let source = Path::new("/usr/share/gocode/src/github.com/appc/spec/ace");
    let go = Command::new("go").arg("version").output();
    if !source.is_dir() || go.is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "golang-go and golang-github-appc-spec-dev are missing: run scripts/setup.sh"
        );
        appc::testing::skipped("no Go or no appc spec source: the ACE validator");
        return None;
    }
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let bin = dir.join("ace-validator");
    let out = Command::new("go")
        .args(["build", "-o"])
        .arg(&bin)
        .arg("github.com/appc/spec/ace")
        .env("GO111MODULE", "off")
        .env("GOPATH", "/usr/share/gocode")
        .env("GOCACHE", dir.join("go-cache"))
        .env("CGO_ENABLED", "0")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "building the ACE validator: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(bin)
}

/// The validator's two images, as the spec's `ace/` directory lays them
/// out: the binary at the root, an empty working directory, and the
/// manifests its checks expect (event handlers, environment, the
/// `database` mount point, the annotations it compares).
fn ace_images(env: &Env, validator: &Path) -> (PathBuf, PathBuf) {
    let mut made = Vec::new();
    for kind in ["main", "sidekick"] {
        let layout = env.path(&format!("ace-{kind}"));
        std::fs::create_dir_all(layout.join("rootfs/opt/acvalidator")).unwrap();
        std::fs::copy(validator, layout.join("rootfs/ace-validator")).unwrap();
        let mut app = json!({
            "exec": ["/ace-validator", kind], "user": "0", "group": "0",
            "mountPoints": [{"name": "database", "path": "/db", "readOnly": false}]
        });
        let mut manifest = json!({
            "acKind": "ImageManifest", "acVersion": "0.8.11",
            "name": format!("coreos.com/ace-validator-{kind}"), "labels": labels()
        });
        if kind == "main" {
            app["eventHandlers"] = json!([
                {"name": "pre-start", "exec": ["/ace-validator", "prestart"]},
                {"name": "post-stop", "exec": ["/ace-validator", "poststop"]}
            ]);
            app["workingDirectory"] = json!("/opt/acvalidator");
            app["environment"] = json!([{"name": "IN_ACE_VALIDATOR", "value": "correct"}]);
            app["ports"] = json!([{"name": "www", "protocol": "tcp", "port": 80}]);
            app["isolators"] = json!([{"name": "resource/memory", "value": {"limit": "1G"}}]);
            manifest["annotations"] = json!([
                {"name": "created", "value": "2014-10-27T19:32:27.67021798Z"},
                {"name": "authors", "value": "Carly Container <carly@example.com>"},
                {"name": "homepage", "value": "https://github.com/appc/spec"},
                {"name": "lorem", "value": "ipsum"}
            ]);
        }
        manifest["app"] = app;
        made.push(image(env, &layout, &manifest, &format!("ace-{kind}")));
    }
    (made.remove(0), made.remove(0))
}

#[test]
fn the_ace_validator_passes_all_four_stages() {
    if !pods_ready() {
        return;
    }
    let Some(validator) = ace_validator() else {
        return;
    };
    let mut env = Env::new();
    let service = Service::start(&mut env);
    let (main, sidekick) = ace_images(&env, &validator);
    let main = main.display().to_string();
    let sidekick = sidekick.display().to_string();
    let out = run(
        &env,
        &[
            "--mds-register",
            "--volume=database,kind=empty",
            &main,
            &sidekick,
        ],
    );
    let text = format!("{}{}", stdout(&out), String::from_utf8_lossy(&out.stderr));
    for stage in ["prestart OK", "main OK", "sidekick OK", "poststop OK"] {
        assert!(text.contains(stage), "no {stage:?} in:\n{text}");
    }
    assert!(!text.contains("FAIL"), "{text}");
    assert!(out.status.success(), "{text}");
    // The pod unregistered itself when it ended.
    assert_eq!(service.registered(), Vec::<String>::new());
    let log = service.log.lock().unwrap().clone();
    assert!(log.contains("registered pod"), "{log}");
    gc(&env);
}

/// What a pod's app reads: its own pod, its app's image, a signature;
/// then it waits (registered) while the second pod checks it.
const READER: &str = r#"
m="$AC_METADATA_URL/acMetadata/v1"
w() { out=$(busybox wget -q -O - "$@" 2>&1); echo "$out rc=$?"; }
echo "uuid=$(w "$m/pod/uuid")"
echo "id=$(w "$m/apps/reader/image/id")"
echo "lorem=$(w "$m/apps/reader/annotations/lorem")"
echo "annotations=$(w "$m/apps/reader/annotations")"
echo "manifest=$(w "$m/pod/manifest")"
echo "nothing=$(w "$m/apps/nothing/image/id")"
echo "types=$(busybox wget -q -S -O /dev/null "$m/pod/uuid" 2>&1 | grep -i content-type)"
echo "sig=$(w --post-data content=hello "$m/pod/hmac/sign")"
echo done
sleep 600
"#;

/// The second pod: verifies the first's signature, fails to pass its
/// own off as the first's, and to read with a token not its own.
const CHECKER: &str = r#"
m="$AC_METADATA_URL/acMetadata/v1"
w() { out=$(busybox wget -q -O - "$@" 2>&1); echo "$out rc=$?"; }
echo "own-uuid=$(w "$m/pod/uuid")"
echo "verify-first=$(w --post-data "content=hello&uuid=$FIRST&signature=$SIG" "$m/pod/hmac/verify")"
echo "verify-changed=$(w --post-data "content=hellO&uuid=$FIRST&signature=$SIG" "$m/pod/hmac/verify")"
mine=$(busybox wget -q -O - --post-data content=hello "$m/pod/hmac/sign" | sed 's/+/%2B/g; s/\//%2F/g; s/=/%3D/g')
echo "verify-mine-as-first=$(w --post-data "content=hello&uuid=$FIRST&signature=$mine" "$m/pod/hmac/verify")"
guess="${AC_METADATA_URL%/*}/00000000000000000000000000000000/acMetadata/v1/pod/uuid"
echo "guessed=$(w "$guess")"
"#;

/// A TCP connection to 127.0.0.1:`port` from the loopback address `from`.
fn connect_from(from: &str, port: u16) -> std::net::TcpStream {
    use rustix::net::{AddressFamily, SocketType, bind, connect, socket};
    let fd = socket(AddressFamily::INET, SocketType::STREAM, None).unwrap();
    let local: std::net::SocketAddr = format!("{from}:0").parse().unwrap();
    bind(&fd, &local).unwrap();
    connect(&fd, &std::net::SocketAddr::from(([127, 0, 0, 1], port))).unwrap();
    let stream = std::net::TcpStream::from(fd);
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
}

fn field<'a>(text: &'a str, name: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name}= in:\n{text}"))
}

#[test]
fn apps_read_their_own_pod_and_no_other_can_sign_as_it() {
    if !pods_ready() {
        return;
    }
    let mut env = Env::new();
    let service = Service::start(&mut env);
    let reader = script_image(&env, "reader", READER).display().to_string();
    let checker = script_image(&env, "checker", CHECKER).display().to_string();
    let (mut first, first_uuid) = start_with(&env, &["--mds-register"], &[&reader], Stdio::piped());
    let mut lines = BufReader::new(first.stdout.take().unwrap()).lines();
    let mut text = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line == "done" {
            break;
        }
        text.push_str(&format!("{line}\n"));
    }
    let stop = |first: &mut Child| {
        let _ = env.rkt(&["stop", &first_uuid]);
        let _ = first.wait();
    };
    let image_id =
        stdout(&env.rkt(&["image", "list", "--fields=id,name", "--no-legend", "--full"]))
            .lines()
            .find(|l| l.contains("example.com/reader"))
            .and_then(|l| l.split_whitespace().next())
            .map(str::to_string);
    let checks = std::panic::catch_unwind(|| {
        assert_eq!(field(&text, "uuid"), format!("{first_uuid} rc=0"));
        assert_eq!(
            field(&text, "id"),
            format!("{} rc=0", image_id.clone().unwrap())
        );
        assert_eq!(field(&text, "lorem"), "ipsum rc=0");
        assert_eq!(
            field(&text, "annotations"),
            r#"[{"name":"lorem","value":"ipsum"}] rc=0"#
        );
        let manifest = field(&text, "manifest").trim_end_matches(" rc=0");
        let manifest: serde_json::Value = serde_json::from_str(manifest).unwrap();
        assert_eq!(manifest["apps"][0]["name"], "reader");
        assert!(field(&text, "nothing").contains("404"), "{text}");
        assert!(
            field(&text, "types").contains("text/plain; charset=us-ascii"),
            "{text}"
        );
        let sig = field(&text, "sig").trim_end_matches(" rc=0").to_string();
        assert_eq!(sig.len(), 88, "a base64 HMAC-SHA-512: {text}");
        // The second pod, given the first's UUID and signature.
        let form_sig: String = url::form_urlencoded::byte_serialize(sig.as_bytes()).collect();
        let out = run(
            &env,
            &[
                "--mds-register",
                &format!("--set-env=FIRST={first_uuid}"),
                &format!("--set-env=SIG={form_sig}"),
                &checker,
            ],
        );
        let checked = stdout(&out);
        assert!(out.status.success(), "{checked}");
        assert_ne!(field(&checked, "own-uuid"), format!("{first_uuid} rc=0"));
        assert_eq!(field(&checked, "verify-first"), " rc=0");
        assert!(
            field(&checked, "verify-changed").contains("403"),
            "{checked}"
        );
        assert!(
            field(&checked, "verify-mine-as-first").contains("403"),
            "{checked}"
        );
        assert!(field(&checked, "guessed").contains("403"), "{checked}");
        // While the first runs it alone is registered.
        assert_eq!(service.registered(), std::slice::from_ref(&first_uuid));
    });
    if let Err(e) = checks {
        stop(&mut first);
        std::panic::resume_unwind(e);
    }
    // Its supervisor killed (-9), the pod ends unregistered; gc does it.
    first.kill().unwrap();
    first.wait().unwrap();
    assert_eq!(service.registered(), std::slice::from_ref(&first_uuid));
    let mds = env.path("data/pods/run").join(&first_uuid).join("mds");
    let mode = std::fs::metadata(&mds).unwrap().permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );
    // Marked by gc (the default grace period), it is unregistered.
    let out = env.rkt(&["gc"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(service.registered(), Vec::<String>::new());
    gc(&env);
}

#[test]
fn bad_input_gets_clear_errors_and_the_service_keeps_serving() {
    if !pods_ready() {
        return;
    }
    let mut env = Env::new();
    let reader = script_image(&env, "reader", "echo never")
        .display()
        .to_string();
    // No service yet: refused before anything is prepared.
    env.vars
        .push(("RKT_METADATA_SOCKET".into(), env.path("mds.sock")));
    let out = run(&env, &["--mds-register", &reader]);
    assert_eq!(out.status.code(), Some(254));
    let err = one_line_error(&out);
    assert!(err.contains("metadata service is not running"), "{err}");
    assert!(!stdout(&out).contains("never"));
    assert!(stdout(&env.rkt(&["list", "--no-legend"])).trim().is_empty());
    env.vars.clear();

    let service = Service::start(&mut env);
    let out = run(&env, &["--mds-register", "--net=none", &reader]);
    assert_eq!(out.status.code(), Some(254));
    assert!(
        one_line_error(&out).contains("--net=none"),
        "{}",
        one_line_error(&out)
    );
    // Prepared with --mds-register, the pod is registered when it runs.
    let whoami = script_image(
        &env,
        "whoami",
        r#"busybox wget -q -O - "$AC_METADATA_URL/acMetadata/v1/pod/uuid""#,
    );
    let whoami = whoami.display().to_string();
    let out = env.rkt(&[
        "--insecure-options=image",
        "prepare",
        "--quiet",
        "--mds-register",
        &whoami,
    ]);
    assert!(out.status.success(), "{}", one_line_error(&out));
    let prepared = stdout(&out).trim().to_string();
    let out = env.rkt(&["run-prepared", "--net=host", &prepared]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout(&out), prepared);
    assert!(service.registered().is_empty());
    gc(&env);

    // A pod registered by hand, then bad registrations beside it.
    let uuid = "6ba7b810-9dad-41d1-80b4-00c04fd430c8";
    let token = "a".repeat(64);
    let manifest = json!({"acVersion": "0.8.11", "acKind": "PodManifest", "apps": []});
    let reg = rkt::mds::registry::PodRegistration {
        token: token.clone(),
        pod_manifest: manifest,
        images: Default::default(),
    };
    assert_eq!(
        rkt::mds::registration::register(&service.socket, uuid, &reg).unwrap(),
        service.port
    );
    let twice = rkt::mds::registration::register(&service.socket, uuid, &reg).unwrap_err();
    assert!(twice.to_string().contains("already registered"), "{twice}");
    let call = |method: &str, path: &str, body: &[u8]| {
        pod::mds::call(&service.socket, method, path, body).unwrap()
    };
    assert_eq!(
        call("DELETE", "/pods/6ba7b811-9dad-41d1-80b4-00c04fd430c8", b"").0,
        404
    );
    assert_eq!(call("PUT", "/pods/not-a-uuid", b"{}").0, 400);
    assert_eq!(call("PUT", &format!("/pods/{uuid}"), b"{not json").0, 400);
    let huge = vec![b' '; 17 << 20];
    assert_eq!(
        call("PUT", "/pods/6ba7b812-9dad-41d1-80b4-00c04fd430c8", &huge).0,
        413
    );
    // The apps' side: malformed, oversized, and a stranger's token.
    assert!(service.http("BAD\r\n\r\n").starts_with("HTTP/1.1 400 "));
    let big = format!(
        "POST /{token}/acMetadata/v1/pod/hmac/sign HTTP/1.1\r\nContent-Length: 100000\r\n\r\n"
    );
    assert!(service.http(&big).starts_with("HTTP/1.1 413 "));
    let stranger = format!(
        "GET /{}/acMetadata/v1/pod/uuid HTTP/1.1\r\n\r\n",
        "b".repeat(64)
    );
    assert!(service.http(&stranger).starts_with("HTTP/1.1 403 "));
    // Addresses holding connections open get no more than their share
    // each, and even sixteen of them leave the service to the others.
    let hog: Vec<_> = (1..=16)
        .flat_map(|a| (0..20).map(move |_| format!("127.0.0.{a}")))
        .map(|from| connect_from(&from, service.port))
        .collect();
    assert!(
        service
            .http("GET / HTTP/1.1\r\n\r\n")
            .starts_with("HTTP/1.1 503 ")
    );
    let mut other = connect_from("127.0.0.20", service.port);
    let request =
        format!("GET /{token}/acMetadata/v1/pod/uuid HTTP/1.1\r\nConnection: close\r\n\r\n");
    other.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    other.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    // Registrations have places of their own.
    let late = "6ba7b813-9dad-41d1-80b4-00c04fd430c8";
    let late_reg = rkt::mds::registry::PodRegistration {
        token: "c".repeat(64),
        ..reg.clone()
    };
    rkt::mds::registration::register(&service.socket, late, &late_reg).unwrap();
    assert!(pod::mds::unregister(&service.socket, late).unwrap());
    // A connection that sends nothing is closed within seconds.
    let started = std::time::Instant::now();
    let mut idle = hog.into_iter().next().unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut rest = Vec::new();
    assert_eq!(idle.read_to_end(&mut rest).unwrap(), 0);
    assert!(started.elapsed() < Duration::from_secs(10));
    // Through all that, the registered pod is served as before.
    let ok = service.http(&format!(
        "GET /{token}/acMetadata/v1/pod/uuid HTTP/1.1\r\nConnection: close\r\n\r\n"
    ));
    assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
    assert!(
        ok.contains("Content-Type: text/plain; charset=us-ascii\r\n"),
        "{ok}"
    );
    assert!(ok.ends_with(uuid), "{ok}");
    assert_eq!(service.registered(), [uuid]);
    assert!(pod::mds::unregister(&service.socket, uuid).unwrap());
    assert!(service.registered().is_empty());
}

#[test]
fn the_service_is_there_only_where_pods_reach_it() {
    if !pods_ready() {
        return;
    }
    let mut env = Env::new();
    let service = Service::start(&mut env);
    // A pod that is not registered, while none on its network is: the
    // service does not listen on that network's gateway (nor on any
    // other address of the host but loopback).
    let script = format!(
        "wget -S -q -O /dev/null http://172.16.28.1:{}/ 2>&1; echo asked",
        service.port
    );
    let asker = script_image(&env, "asker", &script).display().to_string();
    let out = run(&env, &[&asker]);
    let text = format!("{}{}", stdout(&out), String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("asked"), "{text}");
    assert!(!text.contains("HTTP/1."), "the service answered: {text}");
    assert!(text.contains("Connection refused"), "{text}");
    // On loopback it does.
    assert!(
        service
            .http("GET / HTTP/1.1\r\n\r\n")
            .starts_with("HTTP/1.1 ")
    );
    gc(&env);
}
