//! The headline flow: an etcd image built from Debian's etcd-server binary,
//! signed with GnuPG, served with meta discovery over HTTPS on 127.0.0.1 as
//! `localhost/etcd`; `rkt trust --prefix localhost/etcd`, then
//! `rkt run localhost/etcd:VERSION` as typed, on the default network (with
//! its client port forwarded to 127.0.0.1); `etcdctl endpoint health` from
//! the host at the address `rkt status` gives and through the forwarded
//! port; `rkt stop`; `rkt gc` leaves nothing mounted.

mod support;

use serde_json::json;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use support::https::{Server, read};
use support::{Env, mounts_under};

/// The pod's client port, forwarded from here on the host.
const FORWARDED: &str = "http://127.0.0.1:23790";

fn etcd_version() -> Option<String> {
    let out = Command::new("/usr/bin/etcd")
        .arg("--version")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("etcd Version: "))
        .map(|v| format!("v{}", v.trim()))
}

/// The etcd binary with its loader and libc, as an image layout.
fn etcd_layout(dir: &Path, version: &str) {
    let root = dir.join("rootfs");
    for (from, to) in [
        ("/usr/bin/etcd", "usr/bin/etcd"),
        (
            "/lib/x86_64-linux-gnu/libc.so.6",
            "lib/x86_64-linux-gnu/libc.so.6",
        ),
        ("/lib64/ld-linux-x86-64.so.2", "lib64/ld-linux-x86-64.so.2"),
    ] {
        let target = root.join(to);
        fs::create_dir_all(target.parent().unwrap()).unwrap();
        fs::copy(from, &target).unwrap();
    }
    fs::create_dir_all(root.join("var/lib/etcd")).unwrap();
    fs::create_dir_all(root.join("tmp")).unwrap();
    let manifest = json!({
        "acKind": "ImageManifest", "acVersion": "0.8.11", "name": "localhost/etcd",
        "labels": [{"name": "version", "value": version}, {"name": "os", "value": "linux"},
                   {"name": "arch", "value": rkt::fetch::host_arch()}],
        "app": {
            "exec": ["/usr/bin/etcd", "--name=pod", "--data-dir=/var/lib/etcd",
                     "--listen-client-urls=http://0.0.0.0:2379", "--advertise-client-urls=http://127.0.0.1:2379",
                     "--listen-peer-urls=http://127.0.0.1:2380", "--initial-advertise-peer-urls=http://127.0.0.1:2380",
                     "--initial-cluster=pod=http://127.0.0.1:2380"],
            "user": "0", "group": "0",
            "ports": [{"name": "client", "protocol": "tcp", "port": 2379}]
        }
    });
    fs::write(dir.join("manifest"), manifest.to_string()).unwrap();
}

fn healthy(endpoint: &str) -> bool {
    Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .args([
            "--endpoints",
            endpoint,
            "--dial-timeout=1s",
            "endpoint",
            "health",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn etcd_is_trusted_run_checked_stopped_and_collected() {
    let (Some(version), true) = (etcd_version(), Path::new("/usr/bin/etcdctl").exists()) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "etcd-server and etcd-client are missing: run scripts/setup.sh"
        );
        appc::testing::skipped("etcd not installed: headline test");
        return;
    };
    if !rustix::process::geteuid().is_root() {
        assert!(
            std::env::var_os("CI").is_none(),
            "the headline test needs root"
        );
        return;
    }
    let Some(server) = Server::get() else { return };
    assert!(
        !healthy(FORWARDED),
        "something already answers on {FORWARDED}"
    );
    let stage1 = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "-p", "stage1"])
        .status()
        .unwrap();
    assert!(stage1.success());

    let env = Env::new();
    let layout = env.path("etcd");
    etcd_layout(&layout, &version);
    let aci = env.path("etcd.aci");
    appc::aci::build_aci(
        &layout,
        fs::File::create(&aci).unwrap(),
        appc::aci::BuildOptions::default(),
    )
    .unwrap();
    let asc = env.sign(&aci, "signer");
    server.discovery("localhost/etcd", Some(&read(&env.public_key("signer"))));
    let path = server.image_path("localhost/etcd", &version);
    server.ok(&path, read(&aci));
    server.ok(&format!("{path}.asc"), read(&asc));

    let rkt = |args: &[&str]| {
        let mut c = env.rkt_command(args);
        c.env("SSL_CERT_FILE", &server.ca);
        c
    };
    // rkt trust, answering the fingerprint review.
    let mut trust = rkt(&["trust", "--prefix", "localhost/etcd"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    trust.stdin.take().unwrap().write_all(b"yes\n").unwrap();
    let out = trust.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let uuid_file = env.path("uuid");
    let image = format!("localhost/etcd:{version}");
    let save = format!("--uuid-file-save={}", uuid_file.display());
    let mut pod = rkt(&["run", "--port=client:127.0.0.1:23790", &save, &image])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut up = false;
    for _ in 0..600 {
        if healthy(FORWARDED) {
            up = true;
            break;
        }
        if pod.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    if !up {
        let _ = pod.kill();
        let _ = pod.wait();
        panic!("etcd did not become healthy");
    }
    let uuid = fs::read_to_string(&uuid_file).unwrap().trim().to_string();
    // The pod's own address, as rkt status gives it, answers too.
    let status = rkt(&["status", &uuid]).output().unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    let ip = text
        .lines()
        .find_map(|l| l.strip_prefix("networks=default:ip4="))
        .unwrap_or_else(|| panic!("no address in {text}"))
        .to_string();
    assert!(ip.starts_with("172.16.28."), "{ip}");
    assert!(healthy(&format!("http://{ip}:2379")));
    let stop = rkt(&["stop", &uuid]).output().unwrap();
    assert!(
        stop.status.success(),
        "{}",
        String::from_utf8_lossy(&stop.stderr)
    );
    let status = pod.wait().unwrap();
    assert!(status.success(), "rkt run exited with {status}");
    assert!(!healthy(FORWARDED));
    // The exited pod still says where it was, as rkt's does.
    let exited = rkt(&["status", &uuid]).output().unwrap();
    let text = String::from_utf8_lossy(&exited.stdout);
    assert!(
        text.contains(&format!("networks=default:ip4={ip}\n")),
        "{text}"
    );
    let listed = rkt(&["list", "--no-legend"]).output().unwrap();
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(text.contains(&format!("default:ip4={ip}")), "{text}");
    let gc = rkt(&["gc", "--grace-period=0s"]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&gc.stdout).contains(&format!("Garbage collecting pod \"{uuid}\""))
    );
    let list = rkt(&["list", "--no-legend"]).output().unwrap();
    assert!(list.stdout.is_empty());
    assert_eq!(mounts_under(env.tmp.path()), 0, "mounts left behind");
}
