//! `rkt run` and the pod lifecycle, for real: namespaces, overlayfs,
//! mounts, signals. Needs root (as CI runs); skipped otherwise.

mod support;

use serde_json::json;
use std::fs;
use std::process::Stdio;
use support::pods::{busybox, ensure_stage1, run, start, stdout};
use support::{Env, mounts_under, one_line_error};

fn listed(env: &Env) -> Vec<String> {
    stdout(&env.rkt(&["list", "--no-legend", "--full"]))
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn apps_run_isolated_and_their_exit_codes_propagate() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    let aci = busybox(&env);
    let img = aci.to_str().unwrap();
    let out = run(&env, &[img]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout(&out), "Hello from an App Container\n");
    for code in ["1", "7"] {
        let out = run(
            &env,
            &[img, "--exec=/bin/sh", "--", "-c", &format!("exit {code}")],
        );
        assert_eq!(out.status.code(), Some(code.parse().unwrap()));
    }
    let uuid_file = env.path("uuid");
    let script = "ps -o pid,comm | tail -n +2 | wc -l; hostname; cat /etc/hostname; ls -l /etc/mtab; echo changed > /etc/motd; echo new > /etc/new";
    let out = run(
        &env,
        &[
            &format!("--uuid-file-save={}", uuid_file.display()),
            img,
            "--exec=/bin/sh",
            "--",
            "-c",
            script,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let uuid = fs::read_to_string(&uuid_file).unwrap().trim().to_string();
    let lines: Vec<String> = stdout(&out).lines().map(str::to_owned).collect();
    // init, the shell and ps (and wc, tail): nothing of the host's.
    assert!(lines[0].trim().parse::<u32>().unwrap() <= 5, "{lines:?}");
    assert_eq!(lines[1], format!("rkt-{uuid}"));
    // As rkt: /etc/hostname says it, /etc/mtab is the mount table.
    assert_eq!(lines[2], format!("rkt-{uuid}"));
    assert!(
        lines[3].ends_with("/etc/mtab -> ../proc/self/mounts"),
        "{lines:?}"
    );
    // The stored image is unchanged.
    let trees = env.path("data/cas/tree");
    for tree in fs::read_dir(trees).unwrap() {
        let root = tree.unwrap().path().join("rootfs");
        assert!(!root.join("etc/new").exists());
        if root.join("bin/busybox").exists() {
            assert!(
                !root.join("etc/motd").exists()
                    || fs::read_to_string(root.join("etc/motd")).unwrap() != "changed\n"
            );
        }
    }
    let status = stdout(&env.rkt(&["status", &uuid]));
    assert!(status.starts_with("state=exited\n"), "{status}");
    assert!(
        status.contains("\nexited=true\n") && status.contains("\napp-hello=0\n"),
        "{status}"
    );
    assert_eq!(listed(&env).len(), 4);
    assert!(stdout(&env.rkt(&["gc", "--grace-period=0s"])).contains("Garbage collecting pod"));
    assert!(listed(&env).is_empty());
    assert_eq!(mounts_under(env.tmp.path()), 0, "mounts left behind");
}

#[test]
fn a_failing_app_stops_the_others() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    let aci = busybox(&env);
    let img = aci.to_str().unwrap();
    let started = std::time::Instant::now();
    let out = run(
        &env,
        &[
            img,
            "--name=sleeper",
            "--exec=/bin/sleep",
            "--",
            "60",
            "---",
            img,
            "--name=failer",
            "--exec=/bin/sh",
            "--",
            "-c",
            "sleep 0.3; exit 3",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        started.elapsed().as_secs() < 20,
        "the other app was not stopped"
    );
    let uuid = listed(&env)[0].split('\t').next().unwrap().to_string();
    let status = stdout(&env.rkt(&["status", &uuid]));
    assert!(
        status.contains("app-failer=3") && status.contains("app-sleeper=143"),
        "{status}"
    );
    assert_eq!(mounts_under(env.tmp.path()), 0);
}

#[test]
fn pods_can_be_stopped_and_survive_no_kill_of_rkt_run() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    let aci = busybox(&env);
    let img = aci.to_str().unwrap();
    let spawn = || start(&env, &[img, "--exec=/bin/sleep", "--", "60"], Stdio::null());

    // A running pod cannot be removed; rkt enter runs a command inside;
    // rkt stop ends it gracefully.
    let (mut child, uuid) = spawn();
    let entered = env.rkt(&["enter", &uuid, "/bin/sh", "-c", "hostname; exit 3"]);
    assert_eq!(
        entered.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&entered.stderr)
    );
    assert_eq!(stdout(&entered).trim(), format!("rkt-{uuid}"));
    let err = one_line_error(&env.rkt(&["rm", &uuid]));
    assert!(err.contains("stop it first"), "{err}");
    assert!(env.rkt(&["stop", &uuid]).status.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "a requested stop is not a failure");
    assert!(stdout(&env.rkt(&["status", "--wait=10s", &uuid])).contains("app-hello=143"));

    // kill -9 of rkt run (now the pod's supervisor): the pod goes with it.
    let (mut child, uuid) = spawn();
    let pod_dir = env.path(&format!("data/pods/run/{uuid}"));
    let init_pid = fs::read_to_string(pod_dir.join("pid"))
        .unwrap()
        .trim()
        .to_string();
    let cgroups = fs::read_to_string(pod_dir.join("cgroups")).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let status = stdout(&env.rkt(&["status", "--wait=10s", &uuid]));
    assert!(status.starts_with("state=exited"), "{status}");
    // The init exits (releasing the lock) and then waits in the kernel for
    // the rest of its PID namespace to die; then it is gone, or a zombie
    // waiting for the host's init to reap it.
    let alive = || {
        let state = fs::read_to_string(format!("/proc/{init_pid}/status")).unwrap_or_default();
        state
            .lines()
            .any(|l| l.starts_with("State:") && !l.contains("Z (zombie)"))
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while alive() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(!alive(), "the pod init outlived its supervisor");
    assert!(env.rkt(&["gc", "--grace-period=0s"]).status.success());
    // The supervisor could not remove the pod's cgroups; stage1's gc did.
    for dir in cgroups.lines() {
        assert!(!std::path::Path::new(dir).exists(), "{dir} was left behind");
    }
    assert!(listed(&env).is_empty());
    assert_eq!(mounts_under(env.tmp.path()), 0);
}

#[test]
fn bad_input_gets_one_line_and_leaves_no_pod() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    let aci = busybox(&env);
    let img = aci.to_str().unwrap();
    let noapp = env.image(
        "noapp.aci",
        "example.com/noapp",
        "1",
        json!({}),
        &[("etc/passwd", "root:x:0:0::/:/bin/sh\n")],
    );
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["example.com/unknown-image".into()],
            "example.com/unknown-image",
        ),
        (vec![noapp.to_str().unwrap().into()], "has no exec"),
        (
            vec![img.into(), "--exec=/bin/nonexistent".into()],
            "/bin/nonexistent is not in the image",
        ),
        (
            vec![img.into(), "--working-dir=/nowhere".into()],
            "working directory /nowhere does not exist",
        ),
        (
            vec![img.into(), "--user=nobody-here".into()],
            "user \"nobody-here\" does not exist",
        ),
        (
            vec![img.into(), "--bogus=1".into()],
            "unknown app flag --bogus",
        ),
        (
            vec![img.into(), "---".into(), img.into()],
            "two apps are named hello",
        ),
        (
            vec!["--stage1-hash=bogus".into(), img.into()],
            "an image ID (sha512-...) is expected",
        ),
        (
            vec![
                "--stage1-hash=sha512-0".into(),
                "--stage1-name=x".into(),
                img.into(),
            ],
            "at most one of",
        ),
    ];
    for (args, needle) in cases {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let err = one_line_error(&run(&env, &refs));
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    let err = one_line_error(&env.rkt(&["--insecure-options=image", "run", "--net=nowhere", img]));
    assert!(err.contains("unknown network \"nowhere\""), "{err}");
    assert!(listed(&env).is_empty(), "a refused run left a pod");
    // rkt's words, which scripts match.
    assert!(
        one_line_error(&env.rkt(&["status", "0000"])).contains("no matches found for \"0000\"")
    );
    assert!(one_line_error(&env.rkt(&["rm", "FFFF"])).contains("no matches found for \"ffff\""));
    assert!(one_line_error(&env.rkt(&["rm", ""])).contains("UUID cannot be empty"));
    // Two pods whose UUIDs share no prefix cannot both match ""; an
    // ambiguous prefix is refused.
    run(&env, &[img]);
    run(&env, &[img]);
    let uuids = listed(&env);
    let common: String = uuids[0]
        .chars()
        .zip(uuids[1].chars())
        .take_while(|(a, b)| a == b)
        .map(|(a, _)| a)
        .collect();
    if !common.is_empty() {
        assert!(one_line_error(&env.rkt(&["status", &common])).contains("ambiguous"));
    }
    assert!(env.rkt(&["gc", "--grace-period=0s"]).status.success());
}

#[test]
fn the_fly_flavour_runs_in_the_host_namespaces() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    let aci = busybox(&env);
    let img = aci.to_str().unwrap();
    let fly = "--stage1-name=coreos.com/rkt/stage1-fly-rs";
    let out = run(
        &env,
        &[
            fly,
            img,
            "--exec=/bin/sh",
            "--",
            "-c",
            "hostname; ps -o pid | wc -l; exit 5",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<String> = stdout(&out).lines().map(str::to_owned).collect();
    let host = fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(lines[0], host.trim(), "fly keeps the host's UTS namespace");
    assert!(
        lines[1].trim().parse::<u32>().unwrap() > 5,
        "fly sees the host's processes"
    );
    let uuid = listed(&env)[0].split('\t').next().unwrap().to_string();
    assert!(stdout(&env.rkt(&["status", &uuid])).contains("app-hello=5"));
    // Whatever --net says, fly is in the host's network (as rkt's fly).
    for net in [None, Some("--net=default")] {
        let mut args = vec!["--insecure-options=image", "run", fly];
        args.extend(net);
        args.extend([img, "--exec=/bin/true"]);
        let out = env.rkt(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(env.rkt(&["gc", "--grace-period=0s"]).status.success());
    assert_eq!(
        mounts_under(env.tmp.path()),
        0,
        "fly left mounts on the host"
    );
}

#[test]
fn volumes_are_mounted_and_shared_and_handlers_run() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    let aci = busybox(&env);
    let img = aci.to_str().unwrap();
    let host = env.path("host");
    fs::create_dir_all(&host).unwrap();
    fs::write(host.join("given"), "from the host\n").unwrap();
    let host_vol = format!(
        "--volume=host,kind=host,source={},readOnly=true",
        host.display()
    );
    // Two apps share an empty volume; the host volume is read-only.
    let out = run(
        &env,
        &[
            &host_vol,
            "--volume=scratch,kind=empty,mode=0777",
            img,
            "--name=writer",
            "--mount",
            "volume=scratch,target=/scratch",
            "--mount",
            "volume=host,target=/data/in",
            "--exec=/bin/sh",
            "--",
            "-c",
            "cat /data/in/given; echo shared > /scratch/note; touch /data/in/new 2>/dev/null || echo read-only",
            "---",
            img,
            "--name=reader",
            "--mount",
            "volume=scratch,target=/in",
            "--exec=/bin/sh",
            "--",
            "-c",
            "for i in 1 2 3 4 5 6 7 8 9 10; do [ -e /in/note ] && break; sleep 0.2; done; cat /in/note",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    for expected in ["from the host", "read-only", "shared"] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from {text:?}"
        );
    }
    assert!(!host.join("new").exists());
    // A --mount before the images is the pod's: every app gets it.
    let out = run(
        &env,
        &[
            &host_vol,
            "--mount",
            "volume=host,target=/given",
            img,
            "--name=first",
            "--exec=/bin/cat",
            "--",
            "/given/given",
            "---",
            img,
            "--name=second",
            "--exec=/bin/cat",
            "--",
            "/given/given",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout(&out).matches("from the host").count(),
        2,
        "{}",
        stdout(&out)
    );
    let err = one_line_error(&run(
        &env,
        &["--volume=v,kind=host,source=/nonexistent/dir", img],
    ));
    assert!(
        err.contains("host source /nonexistent/dir does not exist"),
        "{err}"
    );
    let err = one_line_error(&run(&env, &[img, "--mount", "volume=nope,target=/x"]));
    assert!(err.contains("unknown volume"), "{err}");

    // Event handlers: pre-start before the app, post-stop after it, as
    // root. The image gets its shell from a dependency on the busybox one.
    assert!(
        env.rkt(&["--insecure-options=image", "fetch", img])
            .status
            .success()
    );
    let handlers = env.image(
        "handlers.aci",
        "example.com/handlers",
        "1",
        json!({
            "dependencies": [{"imageName": "example.com/hello", "labels": [{"name": "version", "value": "1.0.0"}]}],
            "app": {
                "exec": ["/bin/sh", "-c", "cat /tmp/pre"], "user": "0", "group": "0",
                "eventHandlers": [
                    {"name": "pre-start", "exec": ["/bin/sh", "-c", "echo pre-ran > /tmp/pre"]},
                    {"name": "post-stop", "exec": ["/bin/sh", "-c", "echo post-ran > /out/post"]}
                ],
                "mountPoints": [{"name": "out", "path": "/out"}]
            }
        }),
        &[],
    );
    let outdir = env.path("out");
    fs::create_dir_all(&outdir).unwrap();
    let out_vol = format!("--volume=out,kind=host,source={}", outdir.display());
    let out = run(&env, &[&out_vol, handlers.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout(&out), "pre-ran\n");
    assert_eq!(
        fs::read_to_string(outdir.join("post")).unwrap(),
        "post-ran\n"
    );

    // A mount point given no volume gets one filled with the image's files
    // there (Docker's semantics, as rkt); one given an empty volume, none.
    let seeded = env.image(
        "seeded.aci",
        "example.com/seeded",
        "1",
        json!({
            "dependencies": [{"imageName": "example.com/hello", "labels": [{"name": "version", "value": "1.0.0"}]}],
            "app": {
                "exec": ["/bin/sh", "-c", "cat /data/seed /data/sub/deep 2>/dev/null || echo empty"],
                "user": "0", "group": "0",
                "mountPoints": [{"name": "data", "path": "/data"}]
            }
        }),
        &[("data/seed", "seeded\n"), ("data/sub/deep", "deeper\n")],
    );
    let seeded = seeded.to_str().unwrap();
    assert_eq!(stdout(&run(&env, &[seeded])), "seeded\ndeeper\n");
    let given = run(&env, &["--volume=data,kind=empty", seeded]);
    assert_eq!(stdout(&given), "empty\n");
    assert!(env.rkt(&["gc", "--grace-period=0s"]).status.success());
    assert_eq!(mounts_under(env.tmp.path()), 0);
}

#[test]
fn pods_can_be_prepared_then_run() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    let aci = busybox(&env);
    let img = aci.to_str().unwrap();
    let out = env.rkt(&[
        "--insecure-options=image",
        "prepare",
        "--quiet",
        img,
        "--exec=/bin/sh",
        "--",
        "-c",
        "echo later; hostname; cat /etc/resolv.conf; exit 4",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let uuid = stdout(&out).trim().to_string();
    assert!(
        listed(&env)[0].contains("\tprepared\t"),
        "{:?}",
        listed(&env)
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&env.rkt(&["cat-manifest", &uuid]).stdout).unwrap();
    assert_eq!(manifest["apps"][0]["app"]["exec"][0], "/bin/sh");
    // run-prepared takes rkt's pod options; no metadata service to join.
    let mds = env
        .rkt_command(&["run-prepared", "--mds-register=true", &uuid[..8]])
        .env("RKT_METADATA_SOCKET", env.path("no-service.sock"))
        .output()
        .unwrap();
    let err = one_line_error(&mds);
    assert!(
        err.contains("--mds-register: the metadata service is not running"),
        "{err}"
    );
    let out = env.rkt(&[
        "run-prepared",
        "--mds-register=false",
        "--net=host",
        "--hostname=later",
        "--dns=127.0.0.7",
        &uuid[..8],
    ]);
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(
        stdout(&out),
        "later\nlater\n# Generated by rkt run\n\nnameserver 127.0.0.7\n"
    );
    assert!(one_line_error(&env.rkt(&["run-prepared", &uuid])).contains("is not prepared"));
    // run-prepared --interactive passes stdin through, as run does.
    let out = env.rkt(&[
        "--insecure-options=image",
        "prepare",
        "--quiet",
        img,
        "--exec=/bin/cat",
    ]);
    let uuid = stdout(&out).trim().to_string();
    let mut child = env
        .rkt_command(&["run-prepared", "--net=none", "--interactive=true", &uuid])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"typed\n").unwrap();
    assert_eq!(stdout(&child.wait_with_output().unwrap()), "typed\n");
    assert!(stdout(&env.rkt(&["version"])).contains("appc Version: 0.8.11"));
    assert!(env.rkt(&["gc", "--grace-period=0s"]).status.success());
    assert_eq!(mounts_under(env.tmp.path()), 0);
}

#[test]
fn app_options_and_environments_are_honoured() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    let aci = busybox(&env);
    let img = aci.to_str().unwrap();
    let file = env.path("envfile");
    fs::write(&file, "FROM_FILE=f\n# a comment\nOVER=file\n").unwrap();
    let out = env
        .rkt_command(&[
            "--insecure-options=image", "run", "--net=host", "--inherit-env",
            &format!("--set-env-file={}", file.display()), "--set-env=OVER=flag",
            img, "--readonly-rootfs", "--supplementary-gids=5,6", "--exec=/bin/sh", "--", "-c",
            "echo $FROM_FILE $OVER $FROM_HOST $AC_APP_NAME; id -G; touch /x 2>/dev/null || echo read-only",
        ])
        .env("FROM_HOST", "h")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout(&out), "f flag h hello\n0 5 6\nread-only\n");
    assert!(env.rkt(&["gc", "--grace-period=0s"]).status.success());
    assert_eq!(mounts_under(env.tmp.path()), 0);
}

/// The capability bounding set of a process, from its status.
fn cap_bnd(text: &str) -> u64 {
    let line = text
        .lines()
        .find(|l| l.starts_with("CapBnd:"))
        .unwrap_or_else(|| panic!("no CapBnd in {text}"));
    u64::from_str_radix(line.trim_start_matches("CapBnd:").trim(), 16).unwrap()
}

#[test]
fn apps_keep_only_their_capabilities() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    let aci = busybox(&env);
    let img = aci.to_str().unwrap();
    let bit = |name: &str| 1u64 << appc::schema::types::isolator::linux_capability(name).unwrap();
    let script = "grep -E 'CapBnd|NoNewPrivs' /proc/self/status; mknod /tmp/null c 1 3 2>/dev/null && echo mknod-ok; chown 5 /tmp 2>/dev/null && echo chown-ok";
    let out = run(&env, &[img, "--exec=/bin/sh", "--", "-c", script]);
    let text = stdout(&out);
    // CAP_MKNOD comes with the device cgroup, which keeps the nodes closed.
    let defaults: u64 = pod::privileges::DEFAULT_CAPABILITIES
        .iter()
        .map(|n| bit(n))
        .sum::<u64>()
        | bit("CAP_MKNOD");
    assert_eq!(cap_bnd(&text), defaults, "{text}");
    assert!(text.contains("mknod-ok"), "{text}");
    assert!(text.contains("chown-ok"), "{text}");
    let out = run(
        &env,
        &[
            img,
            "--caps-retain=CAP_MKNOD,CAP_SETUID",
            "--exec=/bin/sh",
            "--",
            "-c",
            script,
        ],
    );
    assert_eq!(cap_bnd(&stdout(&out)), bit("CAP_MKNOD") | bit("CAP_SETUID"));
    assert!(stdout(&out).contains("mknod-ok"));
    let out = run(
        &env,
        &[
            img,
            "--caps-remove=CAP_CHOWN",
            "--exec=/bin/sh",
            "--",
            "-c",
            script,
        ],
    );
    assert_eq!(cap_bnd(&stdout(&out)), defaults & !bit("CAP_CHOWN"));
    assert!(!stdout(&out).contains("chown-ok"));
    // An image's no-new-privileges isolator.
    assert!(
        env.rkt(&["--insecure-options=image", "fetch", img])
            .status
            .success()
    );
    let nnp = env.image(
        "nnp.aci",
        "example.com/nnp",
        "1",
        json!({
            "dependencies": [{"imageName": "example.com/hello", "labels": [{"name": "version", "value": "1.0.0"}]}],
            "app": {"exec": ["/bin/sh", "-c", "grep NoNewPrivs /proc/self/status"], "user": "0", "group": "0",
                    "isolators": [{"name": "os/linux/no-new-privileges", "value": true}]}
        }),
        &[],
    );
    let out = run(&env, &[nnp.to_str().unwrap()]);
    assert!(stdout(&out).contains("NoNewPrivs:\t1"), "{}", stdout(&out));
    let err = one_line_error(&run(&env, &[img, "--caps-retain=CAP_PONIES"]));
    assert!(err.contains("unknown capability CAP_PONIES"), "{err}");
    assert!(env.rkt(&["gc", "--grace-period=0s"]).status.success());
    assert_eq!(mounts_under(env.tmp.path()), 0);
}

#[test]
fn stdin_is_passed_only_when_interactive_and_dns_is_the_pods() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    let aci = busybox(&env);
    let img = aci.to_str().unwrap();
    let with_input = |interactive: bool| {
        let mut args = vec!["--insecure-options=image", "run", "--net=host"];
        if interactive {
            args.push("--interactive");
        }
        args.extend([img, "--exec=/bin/sh", "--", "-c", "cat; echo end"]);
        let mut child = env
            .rkt_command(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(b"typed\n").unwrap();
        stdout(&child.wait_with_output().unwrap())
    };
    assert_eq!(with_input(false), "end\n");
    assert_eq!(with_input(true), "typed\nend\n");
    let err = one_line_error(&run(&env, &["--interactive", img, "---", img]));
    assert!(err.contains("exactly one app"), "{err}");
    // Documentation addresses: written to the pod's files, never contacted.
    let files = |flags: &[&str]| {
        let mut args = flags.to_vec();
        args.extend([img, "--exec=/bin/sh", "--", "-c"]);
        args.push("cat /etc/resolv.conf || echo no resolv.conf; echo; cat /etc/hosts");
        stdout(&run(&env, &args))
    };
    let own = files(&[
        "--dns=192.0.2.53,192.0.2.54",
        "--dns-search=example.test",
        "--dns-opt=ndots:2",
        "--dns-domain=example.test",
        "--hosts-entry=192.0.2.7=web",
        "--hosts-entry=192.0.2.7=www,192.0.2.8=db",
    ]);
    assert!(
        own.starts_with(
            "# Generated by rkt run\n\nsearch example.test\nnameserver 192.0.2.53\n\
             nameserver 192.0.2.54\noptions ndots:2\ndomain example.test\n\n127.0.0.1"
        ),
        "{own}"
    );
    assert!(
        own.ends_with("\n192.0.2.7 web www\n192.0.2.8 db\n"),
        "{own}"
    );
    // Without --dns (and no network DNS: --net=host) and with
    // --dns=none: the image's (this one has none); host: the host's.
    // /etc/hosts where the image has none: rkt's lines, then the pod's name.
    let default = files(&[]);
    assert!(default.starts_with("no resolv.conf\n"), "{default}");
    assert!(
        default.contains(
            "\n127.0.0.1 localhost localhost.domain localhost4 localhost4.localdomain4\n\
             ::1 localhost localhost.domain localhost6 localhost6.localdomain6\n127.0.0.1 "
        ),
        "{default}"
    );
    assert!(files(&["--dns=none"]).starts_with("no resolv.conf\n"));
    let host = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    if std::path::Path::new("/etc/resolv.conf").exists() {
        assert_eq!(
            files(&["--dns=host", "--hosts-entry=host"]),
            format!("{}\n{}", host("/etc/resolv.conf"), host("/etc/hosts"))
        );
    }
    for (flags, said) in [
        (&["--dns=host,192.0.2.1"][..], "alone"),
        (&["--hosts-entry=192.0.2.1"], "IP=HOSTNAME"),
        (&["--dns=none", "--dns-opt=x"], "need --dns servers"),
    ] {
        let mut args = flags.to_vec();
        args.push(img);
        let err = one_line_error(&run(&env, &args));
        assert!(err.contains(said), "{flags:?}: {err}");
    }
    let prepare = [
        "--insecure-options=image",
        "prepare",
        "--dns=192.0.2.1",
        img,
    ];
    let err = one_line_error(&env.rkt(&prepare));
    assert!(err.contains("--dns is an option of run-prepared"), "{err}");
    assert!(env.rkt(&["gc", "--grace-period=0s"]).status.success());
    assert_eq!(mounts_under(env.tmp.path()), 0);
}

#[test]
fn an_exited_pods_app_can_be_exported() {
    export_after_changes(&[]);
}

/// With --no-overlay the app's root is a copy of its image; it behaves the
/// same (read-only root included) and exports the same.
#[test]
fn apps_can_run_in_a_copy_of_their_image() {
    export_after_changes(&["--no-overlay"]);
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    let aci = busybox(&env);
    let img = aci.to_str().unwrap();
    let script = "touch /x 2>/dev/null || echo read-only; ls -l /bin/cat | grep -c -- '-> busybox'";
    let out = run(
        &env,
        &[
            "--no-overlay",
            img,
            "--readonly-rootfs",
            "--exec=/bin/sh",
            "--",
            "-c",
            script,
        ],
    );
    assert_eq!(
        stdout(&out),
        "read-only\n1\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(env.rkt(&["gc", "--grace-period=0s"]).status.success());
    assert_eq!(mounts_under(env.tmp.path()), 0);
}

/// Unmounts what a test mounted, even when the test fails.
struct Mounted(std::path::PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// With the data directory itself on overlayfs, which overlayfs refuses as
/// an upper layer, stage1 falls back to a copy by itself.
#[test]
fn apps_get_a_copy_where_overlayfs_refuses() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    let aci = busybox(&env);
    let img = aci.to_str().unwrap();
    for d in ["lower", "upper", "work"] {
        fs::create_dir(env.path(d)).unwrap();
    }
    let data = env.path("data");
    let opts = format!(
        "lowerdir={},upperdir={},workdir={}",
        env.path("lower").display(),
        env.path("upper").display(),
        env.path("work").display()
    );
    nix::mount::mount(
        Some("overlay"),
        &data,
        Some("overlay"),
        nix::mount::MsFlags::empty(),
        Some(opts.as_str()),
    )
    .unwrap();
    let _mounted = Mounted(data);
    let out = run(&env, &[img, "--exec=/bin/echo", "--", "copied"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stdout(&out), "copied\n", "{err}");
    assert!(err.contains("overlayfs cannot be used here"), "{err}");
    assert!(env.rkt(&["gc", "--grace-period=0s"]).status.success());
}

fn export_after_changes(pod_flags: &[&str]) {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    let aci = busybox(&env);
    let img = aci.to_str().unwrap();
    let uuid_file = env.path("uuid");
    let save = format!("--uuid-file-save={}", uuid_file.display());
    let mut args = vec![save.as_str()];
    args.extend_from_slice(pod_flags);
    let out = run(
        &env,
        &[
            &args[..],
            &[
                img,
                "--exec=/bin/sh",
                "--",
                "-c",
                "echo changed > /etc/motd; rm /bin/ls",
            ],
        ]
        .concat(),
    );
    assert!(out.status.success());
    let uuid = fs::read_to_string(&uuid_file).unwrap().trim().to_string();
    let exported = env.path("exported.aci");
    let out = env.rkt(&["export", &uuid, exported.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info = appc::aci::validate_archive(fs::File::open(&exported).unwrap(), false).unwrap();
    assert_eq!(info.manifest.name.as_str(), "example.com/hello");
    let target = env.path("unpacked");
    fs::create_dir_all(&target).unwrap();
    appc::aci::extract_archive(
        fs::File::open(&exported).unwrap(),
        &target,
        &Default::default(),
    )
    .unwrap();
    assert_eq!(
        fs::read_to_string(target.join("etc/motd")).unwrap(),
        "changed\n"
    );
    assert!(!target.join("bin/ls").exists(), "a deleted file came back");
    assert!(target.join("bin/cat").exists());
    assert!(
        one_line_error(&env.rkt(&["export", &uuid, exported.to_str().unwrap()]))
            .contains("--overwrite")
    );
    assert_eq!(mounts_under(env.tmp.path()), 0);
    assert!(env.rkt(&["gc", "--grace-period=0s"]).status.success());
}

#[test]
fn a_pod_can_be_run_from_a_pod_manifest() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    let aci = busybox(&env);
    let id = stdout(&env.rkt(&[
        "--insecure-options=image",
        "fetch",
        "--full",
        aci.to_str().unwrap(),
    ]))
    .trim()
    .to_string();
    let shared = env.path("shared");
    fs::create_dir_all(&shared).unwrap();
    fs::write(shared.join("f"), "content\n").unwrap();
    let pod = json!({
        "acKind": "PodManifest", "acVersion": "0.8.11",
        "apps": [
            {"name": "first", "image": {"id": id},
             "app": {"exec": ["/bin/sh", "-c", "cat /data/f; sleep 1; exit 6"], "user": "0", "group": "0"},
             "mounts": [{"volume": "data", "path": "/data"}]},
            {"name": "second", "image": {"name": "example.com/hello", "labels": [{"name": "version", "value": "1.0.0"}]}}
        ],
        "volumes": [{"name": "data", "kind": "host", "source": shared.to_str().unwrap()}]
    });
    let file = env.path("pod.json");
    fs::write(&file, pod.to_string()).unwrap();
    let flag = format!("--pod-manifest={}", file.display());
    let out = run(&env, &[&flag]);
    assert_eq!(
        out.status.code(),
        Some(6),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    assert!(
        text.contains("content") && text.contains("Hello from an App Container"),
        "{text}"
    );
    // The short ID `rkt fetch` prints names the image too.
    let short = stdout(&env.rkt(&["--insecure-options=image", "fetch", aci.to_str().unwrap()]))
        .trim()
        .to_string();
    assert!(id.starts_with(&short) && short.len() < id.len(), "{short}");
    let by_short = json!({
        "acKind": "PodManifest", "acVersion": "0.8.11",
        "apps": [{"name": "short", "image": {"id": short}}],
    });
    let short_file = env.path("short.json");
    fs::write(&short_file, by_short.to_string()).unwrap();
    let out = run(&env, &[&format!("--pod-manifest={}", short_file.display())]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout(&out).contains("Hello from an App Container"));
    // What the manifest says instead is refused in rkt's words.
    for extra in [
        aci.to_str().unwrap(),
        "--volume=data,kind=empty",
        "--set-env=A=B",
        "--inherit-env",
        "--port=http:8080",
        "--no-store",
    ] {
        let err = one_line_error(&run(&env, &[&flag, extra]));
        assert!(
            err.contains("conflicting flags set with --pod-manifest (see --help)"),
            "{extra}: {err}"
        );
    }
    assert!(env.rkt(&["gc", "--grace-period=0s"]).status.success());
    assert_eq!(mounts_under(env.tmp.path()), 0);
}

#[test]
fn ipc_is_the_pods_own_unless_parent_is_asked() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    let aci = busybox(&env);
    let img = aci.to_str().unwrap();
    let host = fs::read_link("/proc/self/ns/ipc").unwrap();
    let host = host.to_str().unwrap();
    let pods_ipc = |flags: &[&str]| {
        let mut args = flags.to_vec();
        args.extend([
            img,
            "--exec=/bin/sh",
            "--",
            "-c",
            "readlink /proc/self/ns/ipc",
        ]);
        let out = run(&env, &args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout(&out).trim().to_string()
    };
    assert_ne!(pods_ipc(&[]), host);
    assert_ne!(pods_ipc(&["--ipc=private"]), host);
    assert_ne!(pods_ipc(&["--ipc=auto"]), host);
    assert_eq!(pods_ipc(&["--ipc=parent"]), host);
    // Pod flags after the image are the pod's, as rkt parses them.
    let out = run(
        &env,
        &[
            img,
            "--ipc",
            "parent",
            "--hostname=late",
            "--exec=/bin/sh",
            "--",
            "-c",
            "hostname; readlink /proc/self/ns/ipc; echo --hostname=not-a-flag",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout(&out),
        format!("late\n{host}\n--hostname=not-a-flag\n")
    );
    assert!(one_line_error(&run(&env, &["--ipc=shared", img])).contains("--ipc"));
    let err =
        one_line_error(&env.rkt(&["--insecure-options=image", "prepare", "--ipc=parent", img]));
    assert!(err.contains("--ipc is an option of run-prepared"), "{err}");
    assert!(env.rkt(&["gc", "--grace-period=0s"]).status.success());
    assert_eq!(mounts_under(env.tmp.path()), 0);
}

#[test]
fn debug_says_what_rkts_stage0_says() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    let aci = busybox(&env);
    let img = aci.to_str().unwrap();
    let debug_run = |image: &str| {
        let out = env.rkt(&[
            "--insecure-options=image",
            "--debug",
            "run",
            "--net=host",
            image,
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let said = debug_run(img);
    for line in [
        format!("image: using image from file {img}\n"),
        "stage0: Preparing stage1\n".into(),
        "stage0: Writing pod manifest\n".into(),
        "stage0: Execing [".into(),
    ] {
        assert!(said.contains(&line), "{line:?} in {said}");
    }
    let listed = stdout(&env.rkt(&["image", "list", "--no-legend", "--fields=id,name", "--full"]));
    let id = listed
        .lines()
        .find(|l| !l.contains("stage1"))
        .and_then(|l| l.split('\t').next())
        .unwrap()
        .to_string();
    let said = debug_run(&id[..40]);
    assert!(
        said.contains(&format!(
            "image: using image from the store with hash {id}\n"
        )),
        "{said}"
    );
    assert!(env.rkt(&["gc", "--grace-period=0s"]).status.success());
    assert_eq!(mounts_under(env.tmp.path()), 0);
}
