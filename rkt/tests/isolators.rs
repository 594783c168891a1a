//! Resource isolators and the pod's cgroups, for real: the limits reach
//! the kernel, `rkt enter` joins the app's cgroup, and nothing is left
//! behind after a stop or a kill -9. Needs root (as CI runs).

mod support;

use std::fs;
use std::io::BufRead;
use std::path::PathBuf;
use std::process::Stdio;
use support::Env;
use support::pods::{busybox, ensure_stage1, run, start, stdout};

/// The pod's cgroup directories, one per hierarchy, as stage1 recorded them.
fn pod_cgroups(env: &Env, uuid: &str) -> Vec<PathBuf> {
    let record = env.path(&format!("data/pods/run/{uuid}/cgroups"));
    let text = fs::read_to_string(&record).unwrap();
    text.lines().map(PathBuf::from).collect()
}

/// The value of cgroup file `name` of app `app`, in whichever hierarchy has it.
fn setting(dirs: &[PathBuf], app: &str, name: &str) -> String {
    let file = dirs
        .iter()
        .map(|d| d.join(app).join(name))
        .find(|f| f.exists())
        .unwrap_or_else(|| panic!("no {name} in {dirs:?}"));
    fs::read_to_string(file).unwrap().trim().to_string()
}

#[test]
fn apps_are_held_by_their_own_cgroups_and_limits() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    let aci = busybox(&env);
    let img = aci.to_str().unwrap();
    let (mut child, uuid) = start(
        &env,
        &[
            img,
            "--memory=32Mi",
            "--cpu=250m",
            "--cpu-shares=512",
            "--oom-score-adj=300",
            "--exec=/bin/sh",
            "--",
            "-c",
            "cat /proc/self/oom_score_adj; exec sleep 60",
        ],
        Stdio::piped(),
    );
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert_eq!(first.trim(), "300");

    let dirs = pod_cgroups(&env, &uuid);
    assert!(!dirs.is_empty());
    assert!(dirs.iter().all(|d| d.ends_with(format!("rkt-{uuid}"))));
    assert_eq!(setting(&dirs, "hello", "memory.limit_in_bytes"), "33554432");
    assert_eq!(setting(&dirs, "hello", "cpu.cfs_quota_us"), "25000");
    assert_eq!(setting(&dirs, "hello", "cpu.shares"), "512");
    let devices = setting(&dirs, "hello", "devices.list");
    assert!(!devices.contains("a *:* rwm"), "{devices}");
    assert!(devices.contains("c 1:3 rwm"), "{devices}");

    // rkt enter lands in the app's cgroups.
    let entered = env.rkt(&["enter", &uuid, "/bin/cat", "/proc/self/cgroup"]);
    assert!(entered.status.success());
    let memory = stdout(&entered)
        .lines()
        .find(|l| l.contains(":memory:"))
        .map(str::to_owned)
        .unwrap_or_default();
    assert!(memory.ends_with(&format!("/rkt-{uuid}/hello")), "{memory}");

    assert!(env.rkt(&["stop", &uuid]).status.success());
    child.wait().unwrap();
    for d in &dirs {
        assert!(!d.exists(), "{} was left behind", d.display());
    }
}

#[test]
fn an_app_over_its_memory_limit_is_killed() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    let aci = busybox(&env);
    let img = aci.to_str().unwrap();
    // tail keeps the last 100 MiB it read: more than the app may have.
    let out = run(
        &env,
        &[
            img,
            "--memory=16M",
            "--exec=/bin/sh",
            "--",
            "-c",
            "head -c 200m /dev/zero | tail -c 100m >/dev/null",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(137),
        "{}{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn devices_outside_the_allow_list_cannot_be_opened() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    let aci = busybox(&env);
    let img = aci.to_str().unwrap();
    // /dev/kmsg (1:11) may be written by root without any capability, so
    // only the device cgroup stands in the way of making its node (an
    // image brings none: fetching refuses device nodes).
    let script = "mknod /tmp/kmsg c 1 11 2>/dev/null && echo made; \
                  mknod /tmp/null c 1 3 && echo ok > /tmp/null && echo null-ok";
    let out = run(&env, &[img, "--exec=/bin/sh", "--", "-c", script]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stdout(&out), "null-ok\n", "{err}");
}

#[test]
fn bad_isolator_flags_get_one_line() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    let aci = busybox(&env);
    let img = aci.to_str().unwrap();
    for (flag, wanted) in [
        ("--memory=lots", "resource/memory"),
        ("--cpu-shares=many", "--cpu-shares"),
        ("--oom-score-adj=5000", "oom-score-adj"),
    ] {
        let out = run(&env, &[img, flag]);
        let err = support::one_line_error(&out);
        assert!(err.contains(wanted), "{flag}: {err}");
    }
    assert!(
        stdout(&env.rkt(&["list", "--no-legend"])).is_empty(),
        "a pod was left"
    );
}

#[test]
fn seccomp_filters_follow_rkt_semantics() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    let aci = busybox(&env);
    let img = aci.to_str().unwrap();
    // CAP_SYS_ADMIN is kept so that only the filter can refuse the mount.
    let mount = "mount -t tmpfs none /tmp && echo mounted || echo refused";
    let with = |insecure: &str, extra: &[&str]| {
        let mut args = vec![
            insecure,
            "run",
            "--net=host",
            img,
            "--caps-retain=CAP_SYS_ADMIN",
        ];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--exec=/bin/sh", "--", "-c", mount]);
        stdout(&env.rkt(&args))
    };
    // The default filter refuses mount(2) with EPERM.
    assert_eq!(with("--insecure-options=image", &[]), "refused\n");
    assert_eq!(with("--insecure-options=image,seccomp", &[]), "mounted\n");
    assert_eq!(
        with(
            "--insecure-options=image",
            &["--seccomp=mode=retain,@rkt/default-whitelist,mount"]
        ),
        "mounted\n"
    );

    // A removed syscall kills the app with SIGSYS, or fails with the errno.
    let mkdir = |seccomp: &str| {
        run(
            &env,
            &[
                img,
                seccomp,
                "--exec=/bin/sh",
                "--",
                "-c",
                "mkdir /x 2>&1; echo $?",
            ],
        )
    };
    let killed = mkdir("--seccomp=mode=remove,mkdir,mkdirat");
    assert_eq!(
        stdout(&killed),
        format!("Bad system call\n{}\n", 128 + 31),
        "{killed:?}"
    );
    let failed = mkdir("--seccomp=mode=remove,errno=ENOSYS,mkdir,mkdirat");
    assert!(
        stdout(&failed).contains("Function not implemented"),
        "{}",
        stdout(&failed)
    );

    // A user other than root still gets its filter, and starts.
    let out = run(
        &env,
        &[
            img,
            "--user=1000",
            "--seccomp=mode=retain,@rkt/default-whitelist",
            "--exec=/bin/sh",
            "--",
            "-c",
            "id -u; grep Seccomp: /proc/self/status",
        ],
    );
    assert_eq!(stdout(&out), "1000\nSeccomp:\t2\n");

    let out = run(&env, &[img, "--seccomp=mode=remove,nosuchcall"]);
    let err = support::one_line_error(&out);
    assert!(err.contains("unknown syscall nosuchcall"), "{err}");
}

#[test]
fn the_hosts_kernel_settings_are_out_of_reach() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    let aci = busybox(&env);
    let img = aci.to_str().unwrap();
    // Writing back the value already there: harmless even if it got through.
    // (Which of the masked files exist depends on the kernel; /proc/keys
    // is common.)
    let script = "v=$(cat /proc/sys/vm/overcommit_memory); \
                  (echo $v > /proc/sys/vm/overcommit_memory) 2>/dev/null && echo sysctl-written; \
                  grep -c ' /proc/sys proc ro,' /proc/self/mounts; \
                  grep -c ' /proc/keys ' /proc/self/mounts; wc -c < /proc/keys";
    let out = run(&env, &[img, "--exec=/bin/sh", "--", "-c", script]);
    assert_eq!(
        stdout(&out),
        "1\n1\n0\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Where a cgroup hierarchy is read-only (as in some containers), pods
/// still run, without what it would enforce. With the devices hierarchy
/// read-only, the allow-list is a device program on the unified
/// hierarchy instead (apps may make only the listed nodes); with neither,
/// apps do not get CAP_MKNOD.
#[test]
fn a_read_only_cgroup_hierarchy_is_done_without() {
    if !ensure_stage1() {
        return;
    }
    let devices = std::path::Path::new("/sys/fs/cgroup/devices");
    let unified = std::path::Path::new("/sys/fs/cgroup/unified");
    if !devices.is_dir() || !unified.is_dir() {
        appc::testing::skipped("no devices or unified cgroup hierarchy here");
        return;
    }
    let env = Env::new();
    let aci = busybox(&env);
    let rkt = env.rkt_command(&[
        "--insecure-options=image",
        "run",
        "--net=host",
        aci.to_str().unwrap(),
        "--exec=/bin/sh",
        "--",
        "-c",
        "if mknod /tmp/null c 1 3 2>/dev/null; then \
           mknod /tmp/mem c 1 1 2>/dev/null && echo mem-made || echo limited; \
         else echo refused; fi",
    ]);
    // rkt's command line, run in a mount namespace of its own where the
    // hierarchies are read-only (the host's stay as they are).
    let line: Vec<String> = std::iter::once(rkt.get_program())
        .chain(rkt.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    for (read_only, expected) in [
        (vec![devices], "limited\n"),
        (vec![devices, unified], "refused\n"),
    ] {
        let remounts: Vec<String> = read_only
            .iter()
            .map(|h| format!("mount -o bind,remount,ro {} && ", h.display()))
            .collect();
        let script = format!("{}exec \"$@\"", remounts.concat());
        let out = std::process::Command::new("unshare")
            .args([
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                &script,
                "sh",
            ])
            .args(&line)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stdout(&out), expected, "{read_only:?}: {err}");
        assert!(
            err.contains("no pod cgroup in /sys/fs/cgroup/devices"),
            "{err}"
        );
    }
    assert!(env.rkt(&["gc", "--grace-period=0s"]).status.success());
}

#[test]
fn capability_flags_replace_the_images_sets() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    // An image that removes CAP_CHOWN from its own set.
    let layout = env.path("layout-nochown");
    support::pods::busybox_layout(&layout);
    let mut manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(layout.join("manifest")).unwrap()).unwrap();
    manifest["app"]["isolators"] = serde_json::json!([
        {"name": "os/linux/capabilities-remove-set", "value": {"set": ["CAP_CHOWN"]}}
    ]);
    std::fs::write(layout.join("manifest"), manifest.to_string()).unwrap();
    let aci = env.path("nochown.aci");
    let f = std::fs::File::create(&aci).unwrap();
    appc::aci::build_aci(&layout, f, appc::aci::BuildOptions::default()).unwrap();
    let img = aci.to_str().unwrap();
    let chown = |flags: &[&str]| {
        let mut args = vec![img];
        args.extend_from_slice(flags);
        args.extend([
            "--exec=/bin/sh",
            "--",
            "-c",
            "chown 1:1 /tmp && echo chowned || echo refused",
        ]);
        stdout(&run(&env, &args))
    };
    assert_eq!(chown(&[]), "refused\n");
    // rkt's flags replace both of the image's capability sets.
    assert_eq!(chown(&["--caps-retain=CAP_CHOWN"]), "chowned\n");
    assert_eq!(chown(&["--caps-remove=CAP_KILL"]), "chowned\n");
    assert!(env.rkt(&["gc", "--grace-period=0s"]).status.success());
}
