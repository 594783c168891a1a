//! Pod networks through real CNI plugins (Debian's containernetworking-
//! plugins) in real namespaces. Traffic goes only between the host and
//! pods made here, or between such pods.

mod support;

use serde_json::json;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use support::pods::{address, busybox_layout, ensure_stage1, free_port, start_with, stdout};
use support::{Env, mounts_under, one_line_error};

/// Whether pods with networks can run here: root, the stage1, the
/// plugins and iptables; otherwise the test is reported skipped.
fn cni_ready() -> bool {
    if !ensure_stage1() {
        return false;
    }
    let ok = Path::new("/usr/lib/cni/ptp").exists() && Path::new("/usr/sbin/iptables").exists();
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "containernetworking-plugins and iptables are missing: run scripts/setup.sh"
        );
        appc::testing::skipped("no CNI plugins or iptables: the networking tests");
    }
    ok
}

/// A busybox image whose app serves `hello-from-pod` over HTTP on its
/// port `http` (80).
fn web_image(env: &Env) -> PathBuf {
    let layout = env.path("web");
    busybox_layout(&layout);
    fs::create_dir_all(layout.join("rootfs/www")).unwrap();
    fs::write(layout.join("rootfs/www/index.html"), "hello-from-pod\n").unwrap();
    let manifest = json!({
        "acKind": "ImageManifest", "acVersion": "0.8.11", "name": "example.com/web",
        "labels": [{"name": "version", "value": "1"}, {"name": "os", "value": "linux"},
                   {"name": "arch", "value": rkt::fetch::host_arch()}],
        "app": {"exec": ["/bin/busybox", "httpd", "-f", "-p", "80", "-h", "/www"],
                "user": "0", "group": "0",
                "ports": [{"name": "http", "protocol": "tcp", "port": 80}]}
    });
    fs::write(layout.join("manifest"), manifest.to_string()).unwrap();
    let aci = env.path("web.aci");
    appc::aci::build_aci(&layout, fs::File::create(&aci).unwrap(), Default::default()).unwrap();
    aci
}

fn run(env: &Env, args: &[&str]) -> std::process::Output {
    let mut all = vec!["--insecure-options=image", "run"];
    all.extend_from_slice(args);
    env.rkt(&all)
}

/// An HTTP GET of `/` at `addr`, or what went wrong.
fn get(addr: &str) -> String {
    let attempt = || -> std::io::Result<String> {
        let sock = addr.parse().map_err(std::io::Error::other)?;
        let mut s = std::net::TcpStream::connect_timeout(&sock, Duration::from_secs(3))?;
        s.set_read_timeout(Some(Duration::from_secs(3)))?;
        s.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        Ok(out)
    };
    attempt().unwrap_or_else(|e| format!("error: {e}"))
}

/// `get(addr)` once the app behind it answers (a pod's networks are up
/// before its apps are).
fn get_when_up(addr: &str) -> String {
    let mut last = String::new();
    for _ in 0..100 {
        last = get(addr);
        if !last.starts_with("error") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    last
}

/// A pod a test started: stopped, and its `rkt run` reaped, when the
/// test ends, however it ends.
struct Pod<'e> {
    env: &'e Env,
    child: std::process::Child,
    uuid: String,
}

impl<'e> Pod<'e> {
    fn start(env: &'e Env, pod_flags: &[&str], args: &[&str]) -> Pod<'e> {
        let (child, uuid) = start_with(env, pod_flags, args, Stdio::null());
        Pod { env, child, uuid }
    }
}

impl Drop for Pod<'_> {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.env.rkt(&["stop", "--force", &self.uuid]);
            let _ = self.child.wait();
        }
    }
}

/// What of the pods `uuids` is still configured on the host: pinned
/// namespaces, iptables rules naming them, host-local leases held for them.
fn leftovers(uuids: &[String]) -> Vec<String> {
    let mut left = Vec::new();
    let rules = Command::new("iptables-save").output().unwrap();
    let rules = String::from_utf8_lossy(&rules.stdout);
    let leases: Vec<(PathBuf, String)> = fs::read_dir("/var/lib/cni/networks")
        .into_iter()
        .flatten()
        .flatten()
        .flat_map(|net| fs::read_dir(net.path()).into_iter().flatten().flatten())
        .map(|f| (f.path(), fs::read_to_string(f.path()).unwrap_or_default()))
        .collect();
    for uuid in uuids {
        if Path::new(&format!("/run/netns/rkt-{uuid}")).exists() {
            left.push(format!("/run/netns/rkt-{uuid}"));
        }
        left.extend(
            rules
                .lines()
                .filter(|l| l.contains(uuid.as_str()))
                .map(str::to_string),
        );
        left.extend(
            leases
                .iter()
                .filter(|(_, text)| text.contains(uuid.as_str()))
                .map(|(p, _)| p.display().to_string()),
        );
    }
    left
}

/// The UUIDs of the pods `rkt list` shows.
fn pod_uuids(env: &Env) -> Vec<String> {
    stdout(&env.rkt(&["list", "--no-legend", "--full"]))
        .lines()
        .filter_map(|l| l.split('\t').next())
        .filter(|u| !u.is_empty())
        .map(str::to_string)
        .collect()
}

fn uuid_of(file: &Path) -> String {
    fs::read_to_string(file).unwrap().trim().to_string()
}

#[test]
fn the_default_network_as_typed_with_ports_and_teardown() {
    if !cni_ready() {
        return;
    }
    let env = Env::new();
    let web = web_image(&env);
    let web = web.to_str().unwrap();
    let port = free_port();
    let forward = format!("--port=http:{port}");
    let mut pod = Pod::start(&env, &[&forward], &[web]);
    let uuid = pod.uuid.clone();
    let ip = address(&env, &uuid, "default");
    assert!(ip.starts_with("172.16.28."), "{ip}");
    let listed = stdout(&env.rkt(&["list", "--no-legend"]));
    assert!(listed.contains(&format!("default:ip4={ip}")), "{listed}");
    // From the host, at the pod's address and through the forwarded port.
    assert!(get_when_up(&format!("{ip}:80")).contains("hello-from-pod"));
    assert!(get(&format!("127.0.0.1:{port}")).contains("hello-from-pod"));
    // rkt enter joins the pod's network namespace; JSON status lists it.
    let entered = env.rkt(&["enter", &uuid, "/bin/sh", "-c", "cat /proc/net/dev"]);
    assert!(stdout(&entered).contains("eth0:"), "{}", stdout(&entered));
    let json: serde_json::Value =
        serde_json::from_slice(&env.rkt(&["status", "--format=json", &uuid]).stdout).unwrap();
    assert_eq!(json["networks"][0]["netName"], "default");
    assert_eq!(json["networks"][0]["ip"], ip.as_str());
    // From another pod on the default network; it gets its own address,
    // a default route, and /etc/hosts naming it.
    let client = support::pods::busybox(&env);
    let out = run(
        &env,
        &[
            client.to_str().unwrap(),
            "--exec=/bin/sh",
            "--",
            "-c",
            &format!(
                "wget -qO- http://{ip}/; wget -qO- http://172.16.28.1:{port}/; \
                 ip route; ip -4 addr; cat /etc/hosts"
            ),
        ],
    );
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    // At the pod's address, and through the host's forwarded port.
    assert_eq!(text.matches("hello-from-pod").count(), 2, "{text}");
    assert!(text.contains("default via 172.16.28.1"), "{text}");
    let client_ip = text
        .split_whitespace()
        .skip_while(|w| *w != "inet")
        .filter_map(|w| w.strip_prefix("172.16.28."))
        .next()
        .map(|rest| format!("172.16.28.{}", rest.split('/').next().unwrap()))
        .unwrap_or_else(|| panic!("no address in {text}"));
    assert_ne!(client_ip, ip);
    assert!(
        text.lines()
            .any(|l| l.starts_with(&client_ip) && l.contains("rkt-")),
        "{text}"
    );
    // A host port held by the running pod is refused to the next.
    let again = run(&env, &[&forward, web]);
    assert_eq!(again.status.code(), Some(254));
    assert!(one_line_error(&again).contains(&format!("host port {port}")));
    assert!(env.rkt(&["stop", &uuid]).status.success());
    let _ = pod.child.wait();
    assert!(get(&format!("127.0.0.1:{port}")).starts_with("error"));
    assert!(env.rkt(&["gc", "--grace-period=0s"]).status.success());
    let all = pod_uuids(&env);
    assert!(all.is_empty(), "{all:?}");
    assert_eq!(leftovers(&[uuid]), Vec::<String>::new());
    assert_eq!(mounts_under(env.tmp.path()), 0);
}

#[test]
fn none_restricted_user_and_several_networks() {
    if !cni_ready() {
        return;
    }
    let env = Env::new();
    let img = support::pods::busybox(&env);
    let img = img.to_str().unwrap();
    let show = |net: &[&str]| {
        let mut args = net.to_vec();
        args.extend([
            img,
            "--exec=/bin/sh",
            "--",
            "-c",
            "cat /proc/net/dev; echo ==; ip route; ip addr show lo",
        ]);
        let out = run(&env, &args);
        assert!(out.status.success(), "{net:?}: {}", one_line_error(&out));
        stdout(&out)
    };
    let interfaces = |text: &str| -> Vec<String> {
        // /proc/net/dev's lines: "  eth0: counters..."
        text.lines()
            .take_while(|l| *l != "==")
            .filter_map(|l| l.split_once(':').map(|(n, _)| n.trim().to_string()))
            .filter(|n| !n.contains(' ') && !n.is_empty() && n != "Inter-")
            .collect()
    };
    let none = show(&["--net=none"]);
    assert_eq!(interfaces(&none), ["lo"]);
    // lo is up, with its address.
    assert!(none.contains("inet 127.0.0.1/8"), "{none}");
    assert!(none.contains("<LOOPBACK,UP,LOWER_UP>"), "{none}");
    let restricted = show(&["--net=default-restricted"]);
    assert!(restricted.contains("172.31."), "{restricted}");
    assert!(!restricted.contains("default via"), "{restricted}");
    // A user's bridge network from net.d; a list without default also
    // joins default-restricted; two networks give two interfaces.
    let net_d = env.path("etc/net.d");
    fs::create_dir_all(&net_d).unwrap();
    fs::write(
        net_d.join("10-testbr.conf"),
        json!({"cniVersion": "0.4.0", "name": "testbr", "type": "bridge", "bridge": "rkttest0",
               "isGateway": true, "ipam": {"type": "host-local", "subnet": "10.213.0.0/24"}})
        .to_string(),
    )
    .unwrap();
    let user = show(&["--net=testbr"]);
    let mut ifs = interfaces(&user);
    ifs.sort();
    assert_eq!(ifs, ["eth0", "eth1", "lo"], "{user}");
    assert!(
        user.contains("10.213.0.") && user.contains("172.31."),
        "{user}"
    );
    let both = show(&["--net=default", "--net=testbr"]);
    assert!(
        both.contains("10.213.0.") && both.contains("172.16.28."),
        "{both}"
    );
    // macvlan, on a master made here (a veth pair: this kernel has no
    // dummy links, and no ipvlan).
    struct Link(&'static str);
    impl Drop for Link {
        fn drop(&mut self) {
            let _ = Command::new("ip").args(["link", "del", self.0]).status();
        }
    }
    let made = Command::new("ip")
        .args([
            "link", "add", "rktmv0", "type", "veth", "peer", "name", "rktmv1",
        ])
        .status()
        .unwrap();
    assert!(made.success());
    let _master = Link("rktmv0");
    assert!(
        Command::new("ip")
            .args(["link", "set", "rktmv0", "up"])
            .status()
            .unwrap()
            .success()
    );
    fs::write(
        net_d.join("20-mv.conf"),
        json!({"cniVersion": "0.4.0", "name": "mv", "type": "macvlan", "master": "rktmv0",
               "ipam": {"type": "host-local", "subnet": "10.213.2.0/24"}})
        .to_string(),
    )
    .unwrap();
    let mv = show(&["--net=mv"]);
    assert!(mv.contains("10.213.2.") && mv.contains("172.31."), "{mv}");
    assert!(env.rkt(&["gc", "--grace-period=0s"]).status.success());
    // The bridge plugin leaves its bridge; it is this test's to remove.
    let _ = Command::new("ip")
        .args(["link", "del", "rkttest0"])
        .status();
    assert_eq!(mounts_under(env.tmp.path()), 0);
}

#[test]
fn bad_networks_are_refused_with_nothing_left() {
    if !cni_ready() {
        return;
    }
    let env = Env::new();
    let img = support::pods::busybox(&env);
    let img = img.to_str().unwrap();
    let net_d = env.path("etc/net.d");
    fs::create_dir_all(&net_d).unwrap();
    let plugins = env.path("plugins");
    fs::create_dir_all(&plugins).unwrap();
    let plugin = |name: &str, script: &str| {
        let p = plugins.join(name);
        fs::write(&p, format!("#!/bin/sh\n{script}\n")).unwrap();
        fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    };
    plugin(
        "failing",
        r#"cat >/dev/null; [ "$CNI_COMMAND" = DEL ] && exit 0; echo '{"cniVersion":"0.4.0","code":999,"msg":"the switch is on fire","details":"rack 3"}'; exit 1"#,
    );
    plugin(
        "hanging",
        r#"[ "$CNI_COMMAND" = DEL ] && exit 0; exec sleep 60"#,
    );
    fs::write(
        env.path("etc/paths.json"),
        json!({"rktKind": "paths", "rktVersion": "v1", "net-plugins": plugins}).to_string(),
    )
    .unwrap();
    fs::create_dir_all(env.path("etc/paths.d")).unwrap();
    fs::rename(env.path("etc/paths.json"), env.path("etc/paths.d/net.json")).unwrap();
    let conf =
        |file: &str, v: serde_json::Value| fs::write(net_d.join(file), v.to_string()).unwrap();
    conf("10-fire.conf", json!({"name": "fire", "type": "failing"}));
    conf("20-slow.conf", json!({"name": "slow", "type": "hanging"}));
    conf(
        "30-gone.conf",
        json!({"name": "gone", "type": "no-such-plugin"}),
    );
    conf(
        "40-tiny.conf",
        json!({"name": "tiny", "type": "ptp", "ipam": {"type": "host-local",
               "subnet": "10.213.1.0/24", "rangeStart": "10.213.1.10", "rangeEnd": "10.213.1.10"}}),
    );
    let refused = |args: &[&str], said: &str| {
        let mut all = args.to_vec();
        all.push(img);
        let mut c = env.rkt_command(&[&["--insecure-options=image", "run"][..], &all].concat());
        c.env("RKT_NET_PLUGIN_TIMEOUT", "2");
        let out = c.output().unwrap();
        let err = one_line_error(&out);
        assert_eq!(out.status.code(), Some(254), "{args:?}: {err}");
        assert!(err.contains(said), "{args:?}: {err}");
    };
    refused(&["--net=nowhere"], "unknown network \"nowhere\"");
    refused(&["--net=gone"], "no CNI plugin \"no-such-plugin\"");
    refused(&["--net=fire"], "the switch is on fire (rack 3)");
    refused(&["--net=slow"], "did not finish within 2 s");
    // One address only: the second pod finds none.
    let mut holder = Pod::start(
        &env,
        &["--net=tiny"],
        &[img, "--exec=/bin/sleep", "--", "30"],
    );
    address(&env, &holder.uuid, "tiny");
    refused(&["--net=tiny"], "no IP addresses available");
    assert!(env.rkt(&["stop", &holder.uuid]).status.success());
    let _ = holder.child.wait();
    // Ports: a name no app declares, a host port taken.
    let web = web_image(&env);
    let web = web.to_str().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut all = vec!["--insecure-options=image", "run", "--port=nope:18081", web];
    let err = one_line_error(&env.rkt(&all));
    assert!(
        err.contains("port nope: no app of the pod declares it"),
        "{err}"
    );
    let busy = format!("--port=http:127.0.0.1:{port}");
    all[2] = &busy;
    let err = one_line_error(&env.rkt(&all));
    assert!(err.contains(&format!("host port {port}")), "{err}");
    all[2] = "--net=host";
    all.insert(3, "--port=http:18082");
    let err = one_line_error(&env.rkt(&all));
    assert!(err.contains("--net=host"), "{err}");
    all[2] = "--stage1-name=coreos.com/rkt/stage1-fly-rs";
    let err = one_line_error(&env.rkt(&all));
    assert!(err.contains("fly shares the host's"), "{err}");
    // A malformed file in net.d is named.
    fs::write(net_d.join("50-broken.conf"), "{ not json").unwrap();
    refused(&["--net=default"], "50-broken.conf");
    fs::remove_file(net_d.join("50-broken.conf")).unwrap();

    let uuids = pod_uuids(&env);
    assert!(env.rkt(&["gc", "--grace-period=0s"]).status.success());
    assert_eq!(leftovers(&uuids), Vec::<String>::new());
    assert_eq!(mounts_under(env.tmp.path()), 0);
}

#[test]
fn many_pods_at_once_and_crashes_leak_nothing() {
    if !cni_ready() {
        return;
    }
    let env = Env::new();
    let img = support::pods::busybox(&env);
    let img = img.to_str().unwrap();
    // The image is stored (and the stage1 imported) once, first.
    assert!(
        run(&env, &["--net=none", img, "--exec=/bin/true"])
            .status
            .success()
    );
    let links_before = Command::new("ip")
        .args(["-o", "link"])
        .output()
        .unwrap()
        .stdout;
    // 20 pods at once: 20 addresses.
    let children: Vec<_> = (0..20)
        .map(|i| {
            let save = format!("--uuid-file-save={}", env.path(&format!("u{i}")).display());
            env.rkt_command(&[
                "--insecure-options=image",
                "run",
                &save,
                img,
                "--exec=/bin/sh",
                "--",
                "-c",
                "ip -4 addr; sleep 2",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    let mut addresses = Vec::new();
    for c in children {
        let out = c.wait_with_output().unwrap();
        let text = stdout(&out);
        assert!(
            out.status.success(),
            "{text} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ip = text
            .split_whitespace()
            .find(|w| w.starts_with("172.16.28."))
            .unwrap_or_else(|| panic!("no address in {text}"))
            .to_string();
        addresses.push(ip);
    }
    let mut distinct = addresses.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 20, "{addresses:?}");
    let mut uuids: Vec<String> = (0..20)
        .map(|i| uuid_of(&env.path(&format!("u{i}"))))
        .collect();
    // 50 pods one after another.
    for i in 0..50 {
        let save = format!("--uuid-file-save={}", env.path("cycle").display());
        assert!(
            run(&env, &[&save, img, "--exec=/bin/true"])
                .status
                .success(),
            "cycle {i}"
        );
        uuids.push(uuid_of(&env.path("cycle")));
        if i % 10 == 9 {
            assert!(env.rkt(&["gc", "--grace-period=0s"]).status.success());
        }
    }
    // A supervisor killed with SIGKILL: gc releases its networks.
    let mut pod = Pod::start(&env, &[], &[img, "--exec=/bin/sleep", "--", "60"]);
    let uuid = pod.uuid.clone();
    address(&env, &uuid, "default");
    pod.child.kill().unwrap();
    let _ = pod.child.wait();
    for _ in 0..100 {
        if stdout(&env.rkt(&["status", &uuid])).starts_with("state=exited") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(Path::new(&format!("/run/netns/rkt-{uuid}")).exists());
    uuids.push(uuid);
    assert!(env.rkt(&["gc", "--grace-period=0s"]).status.success());
    assert_eq!(leftovers(&uuids), Vec::<String>::new());
    let links_after = Command::new("ip")
        .args(["-o", "link"])
        .output()
        .unwrap()
        .stdout;
    let names = |out: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(out)
            .lines()
            .filter_map(|l| l.split(':').nth(1).map(|n| n.trim().to_string()))
            .collect()
    };
    assert_eq!(names(&links_after), names(&links_before));
    assert_eq!(mounts_under(env.tmp.path()), 0);
}

#[test]
fn a_network_whose_del_keeps_failing_does_not_pin_its_pod() {
    if !cni_ready() {
        return;
    }
    let env = Env::new();
    let aci = web_image(&env);
    // A plugin that joins (no interface) but never lets go.
    let net_d = env.path("etc/net.d");
    fs::create_dir_all(&net_d).unwrap();
    let plugin = net_d.join("faildel");
    fs::write(
        &plugin,
        r#"#!/bin/sh
cat > /dev/null
if [ "$CNI_COMMAND" = DEL ]; then
  echo '{"cniVersion": "0.4.0", "code": 11, "msg": "faildel holds on"}'
  exit 1
fi
echo '{"cniVersion": "0.4.0", "interfaces": [], "ips": []}'
"#,
    )
    .unwrap();
    fs::set_permissions(&plugin, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    fs::write(
        net_d.join("failing.conf"),
        r#"{"cniVersion": "0.4.0", "name": "failing", "type": "faildel"}"#,
    )
    .unwrap();
    let uuid_file = env.path("uuid");
    let save = format!("--uuid-file-save={}", uuid_file.display());
    for _ in 0..2 {
        let _ = fs::remove_file(&uuid_file);
        let out = run(
            &env,
            &[
                "--net=failing",
                &save,
                aci.to_str().unwrap(),
                "--exec=/bin/true",
            ],
        );
        assert!(out.status.success(), "{}", one_line_error(&out));
    }
    let uuids = pod_uuids(&env);
    assert_eq!(uuids.len(), 2);
    // gc says what failed, each time, and keeps the pods...
    let gc = env.rkt(&["gc", "--grace-period=0s"]);
    assert!(!gc.status.success());
    assert!(String::from_utf8_lossy(&gc.stderr).contains("faildel holds on"));
    assert_eq!(pod_uuids(&env).len(), 2);
    // ...until `rkt rm --force`, or the grace period has passed since
    // it first failed: then the namespace and the pod go, and what could
    // not be released is named.
    let rm = env.rkt(&["rm", "--force", &uuids[0]]);
    assert!(
        rm.status.success(),
        "{}",
        String::from_utf8_lossy(&rm.stderr)
    );
    assert!(String::from_utf8_lossy(&rm.stderr).contains("could not release"));
    let gc = env.rkt(&["gc", "--grace-period=0s"]);
    assert!(
        gc.status.success(),
        "{}",
        String::from_utf8_lossy(&gc.stderr)
    );
    assert!(String::from_utf8_lossy(&gc.stderr).contains("faildel holds on"));
    assert!(pod_uuids(&env).is_empty());
    assert_eq!(leftovers(&uuids), Vec::<String>::new());
    assert_eq!(mounts_under(env.tmp.path()), 0);
}
