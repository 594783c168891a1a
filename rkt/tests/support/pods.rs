//! Pods for the tests that run them: the stage1 beside rkt, a busybox
//! image, `rkt run` and its output.

use super::Env;
use std::fs;
use std::process::{Child, Command, Output, Stdio};

/// The stage1 executable must sit beside rkt, as after `cargo build`.
pub fn ensure_stage1() -> bool {
    if !rustix::process::geteuid().is_root() {
        assert!(std::env::var_os("CI").is_none(), "the run tests need root");
        appc::testing::skipped("not root: a test running pods");
        return false;
    }
    let rkt = std::path::Path::new(env!("CARGO_BIN_EXE_rkt"));
    let release = rkt
        .parent()
        .and_then(|p| p.file_name())
        .is_some_and(|n| n == "release");
    let mut cargo = Command::new(env!("CARGO"));
    cargo.args(["build", "--quiet", "-p", "stage1"]);
    if release {
        cargo.arg("--release");
    }
    assert!(cargo.status().unwrap().success(), "building stage1 failed");
    true
}

/// The example image's layout (busybox) made in `layout`.
pub fn busybox_layout(layout: &std::path::Path) {
    let script = super::repo().join("scripts/make-hello-layout.sh");
    assert!(
        Command::new("bash")
            .arg(script)
            .arg(layout)
            .status()
            .unwrap()
            .success()
    );
}

pub fn busybox(env: &Env) -> std::path::PathBuf {
    let layout = env.path("hello");
    busybox_layout(&layout);
    let aci = env.path("hello.aci");
    appc::aci::build_aci(
        &layout,
        fs::File::create(&aci).unwrap(),
        appc::aci::BuildOptions::default(),
    )
    .unwrap();
    aci
}

pub fn run(env: &Env, args: &[&str]) -> Output {
    let mut all = vec!["--insecure-options=image", "run", "--net=host"];
    all.extend_from_slice(args);
    env.rkt(&all)
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// Starts `rkt run --net=host` of `args` in the background; returns it
/// and the pod's UUID once the pod is running.
pub fn start(env: &Env, args: &[&str], out: Stdio) -> (Child, String) {
    start_with(env, &["--net=host"], args, out)
}

/// Starts `rkt run` of `pod_flags` then `args` in the background; returns
/// it and the pod's UUID once the pod is running with its init started
/// (`rkt status` shows the pod locked as running a moment before it
/// knows the init's pid).
pub fn start_with(env: &Env, pod_flags: &[&str], args: &[&str], out: Stdio) -> (Child, String) {
    let uuid_file = env.path("uuid");
    let _ = fs::remove_file(&uuid_file);
    let save = format!("--uuid-file-save={}", uuid_file.display());
    let mut all = vec!["--insecure-options=image", "run", &save];
    all.extend_from_slice(pod_flags);
    all.extend_from_slice(args);
    let mut child = env.rkt_command(&all).stdout(out).spawn().unwrap();
    // The first run in a fresh store also imports the stage1 image.
    for _ in 0..2400 {
        if let Ok(u) = fs::read_to_string(&uuid_file)
            && !u.trim().is_empty()
        {
            let uuid = u.trim().to_string();
            for _ in 0..200 {
                let status = stdout(&env.rkt(&["status", &uuid]));
                if status.starts_with("state=running") && status.contains("\npid=") {
                    return (child, uuid);
                }
                std::thread::sleep(std::time::Duration::from_millis(25));
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    // Never leave the process behind, even when failing.
    let _ = child.kill();
    let _ = child.wait();
    panic!("the pod did not start");
}

/// A port on 127.0.0.1 that nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The address `rkt status` gives for the pod on `net`, once it has
/// joined it (a pod is running before its networks are up).
pub fn address(env: &Env, uuid: &str, net: &str) -> String {
    let prefix = format!("{net}:ip4=");
    let mut text = String::new();
    for _ in 0..200 {
        text = stdout(&env.rkt(&["status", uuid]));
        let found = text
            .lines()
            .find_map(|l| l.strip_prefix("networks="))
            .and_then(|line| line.split(',').find_map(|n| n.strip_prefix(&prefix)));
        if let Some(ip) = found {
            return ip.to_string();
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("no {net} address in {text:?}")
}
