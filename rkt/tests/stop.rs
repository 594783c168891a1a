//! Stopping a pod is reliable: after a failing pre-start handler, and when
//! the stop arrives while the pod is still starting. Needs root.

mod support;

use serde_json::json;
use std::fs;
use std::path::PathBuf;
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use support::Env;
use support::pods::{busybox, ensure_stage1, stdout};

/// Waits for `child` up to `limit`; kills it (and fails) after that.
fn wait_at_most(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the pod did not stop within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The example image, fetched: the others depend on it.
fn fetched_hello(env: &Env) -> String {
    let hello = busybox(env).display().to_string();
    let fetched = env.rkt(&["--insecure-options=image", "fetch", &hello]);
    assert!(fetched.status.success());
    hello
}

/// An image of `example.com/hello` (fetched beforehand) with `handlers`.
fn with_handlers(env: &Env, name: &str, handlers: serde_json::Value) -> String {
    env.image(
        &format!("{name}.aci"),
        &format!("example.com/{name}"),
        "1",
        json!({
            "dependencies": [{"imageName": "example.com/hello", "labels": [{"name": "version", "value": "1.0.0"}]}],
            "app": {"exec": ["/bin/sleep", "100"], "user": "0", "group": "0", "eventHandlers": handlers}
        }),
        &[],
    )
    .display()
    .to_string()
}

#[test]
fn a_failing_pre_start_handler_stops_the_other_apps() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    let hello = fetched_hello(&env);
    let hello = hello.as_str();
    let failing = with_handlers(
        &env,
        "failing",
        // Time for the first app to set its trap first.
        json!([{"name": "pre-start", "exec": ["/bin/sh", "-c", "sleep 2; exit 3"]}]),
    );
    let uuid_file = env.path("uuid");
    let save = format!("--uuid-file-save={}", uuid_file.display());
    // The first app ignores SIGTERM: only the SIGKILL after the grace
    // period ends it.
    let mut child = env
        .rkt_command(&[
            "--insecure-options=image",
            "run",
            "--net=host",
            &save,
            hello,
            "--exec=/bin/sh",
            "--",
            "-c",
            "trap '' TERM; while :; do sleep 1; done",
            "---",
            &failing,
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let status = wait_at_most(&mut child, Duration::from_secs(60));
    assert_eq!(status.code(), Some(3));
    let uuid = fs::read_to_string(&uuid_file).unwrap();
    let text = stdout(&env.rkt(&["status", uuid.trim()]));
    assert!(text.contains("app-hello=137"), "{text}");
    assert!(text.contains("app-failing=3"), "{text}");
    assert!(env.rkt(&["gc", "--grace-period=0s"]).status.success());
}

#[test]
fn a_stop_while_the_pod_starts_is_not_lost() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    let hello = fetched_hello(&env);
    let hello = hello.as_str();
    // Import the stage1 image first, so that the stop lands in the start.
    let out = env.rkt(&["--insecure-options=image", "run", "--net=host", hello]);
    assert!(out.status.success());
    let slow = with_handlers(
        &env,
        "slow",
        json!([{"name": "pre-start", "exec": ["/bin/sleep", "1"]}]),
    );
    let uuid_file = env.path("uuid");
    let save = format!("--uuid-file-save={}", uuid_file.display());
    let mut child = env
        .rkt_command(&[
            "--insecure-options=image",
            "run",
            "--net=host",
            &save,
            &slow,
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // SIGTERM to the supervisor as soon as it has said who it is.
    let deadline = Instant::now() + Duration::from_secs(30);
    let ppid = loop {
        let uuid = fs::read_to_string(&uuid_file).unwrap_or_default();
        let path = env.path(&format!("data/pods/run/{}/ppid", uuid.trim()));
        if let Some(pid) = fs::read_to_string(&path)
            .ok()
            .and_then(|t| t.trim().parse::<i32>().ok())
        {
            break pid;
        }
        assert!(Instant::now() < deadline, "the pod did not start");
        std::thread::sleep(Duration::from_millis(1));
    };
    assert_eq!(ppid as u32, child.id());
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(ppid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = wait_at_most(&mut child, Duration::from_secs(30));
    // Stopped by the pod's own handling, not killed by the signal.
    assert!(status.code().is_some(), "{status}");
    let uuid = fs::read_to_string(&uuid_file).unwrap();
    let record = env.path(&format!("data/pods/run/{}/cgroups", uuid.trim()));
    let record = fs::read_to_string(&record)
        .or_else(|_| {
            let exited = env.path(&format!("data/pods/exited-garbage/{}/cgroups", uuid.trim()));
            fs::read_to_string(exited)
        })
        .unwrap_or_default();
    let left: Vec<PathBuf> = record
        .lines()
        .map(PathBuf::from)
        .filter(|d| d.exists())
        .collect();
    assert!(left.is_empty(), "cgroups left: {left:?}");
    assert!(env.rkt(&["gc", "--grace-period=0s"]).status.success());
}
