//! Hostile images against the pod boundary, with real pods: each test is
//! an escape that a pod must not make (chroot, /proc/1/root, symlinks in
//! the image, inherited descriptors and capabilities, `rkt enter`), and
//! each checks the host afterwards. Needs root (as CI runs).

mod support;

use serde_json::{Value, json};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use support::pods::{busybox_layout, ensure_stage1, start, stdout};
use support::{Env, mounts_under};

/// The static attack helper (tests/hostile/attack.c), built once per
/// test run (the tests run in parallel: none may copy it half-written).
fn attack_binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
            let out = dir.join("attack");
            let tmp = dir.join(format!("attack.{}", std::process::id()));
            let src = support::repo().join("rkt/tests/hostile/attack.c");
            let status = Command::new("cc")
                .args(["-static", "-O", "-o"])
                .arg(&tmp)
                .arg(&src)
                .status()
                .expect("cc");
            assert!(status.success(), "building {}", src.display());
            fs::rename(&tmp, &out).unwrap();
            out
        })
        .clone()
}

/// An image of busybox and the attack helper, `app` its manifest's app,
/// `change` run on its rootfs before it is built.
fn hostile_image(env: &Env, name: &str, app: Value, change: impl FnOnce(&Path)) -> String {
    let layout = env.path(&format!("layout-{name}"));
    busybox_layout(&layout);
    let rootfs = layout.join("rootfs");
    fs::copy(attack_binary(), rootfs.join("bin/attack")).unwrap();
    change(&rootfs);
    let manifest = json!({
        "acKind": "ImageManifest", "acVersion": "0.8.11", "name": format!("example.com/{name}"),
        "labels": [{"name": "version", "value": "1"}, {"name": "os", "value": "linux"},
                   {"name": "arch", "value": rkt::fetch::host_arch()}],
        "app": app,
    });
    fs::write(layout.join("manifest"), manifest.to_string()).unwrap();
    let aci = env.path(&format!("{name}.aci"));
    let f = fs::File::create(&aci).unwrap();
    appc::aci::build_aci(&layout, f, appc::aci::BuildOptions::default()).unwrap();
    aci.display().to_string()
}

fn app(script: &str) -> Value {
    json!({"exec": ["/bin/sh", "-c", script], "user": "0", "group": "0"})
}

/// A host directory that pods must leave empty.
fn host_dir(env: &Env, name: &str) -> PathBuf {
    let d = env.path(name);
    fs::create_dir_all(&d).unwrap();
    d
}

fn assert_empty(dir: &Path) {
    let left: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "the pod wrote on the host: {left:?}");
}

fn run_pod(env: &Env, args: &[&str]) -> (String, String) {
    let mut all = vec!["--insecure-options=image", "run", "--net=host"];
    all.extend_from_slice(args);
    let out = env.rkt(&all);
    (
        stdout(&out),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Collects the pods and checks that nothing of them is left mounted.
fn finish(env: &Env) {
    assert!(env.rkt(&["gc", "--grace-period=0s"]).status.success());
    assert_eq!(mounts_under(env.tmp.path()), 0);
}

#[test]
fn a_chroot_escape_stays_in_the_apps_root() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    // A directory both the host and the image have: where it is made
    // tells where the app got to.
    let name = format!("rkt-hostile-chroot-{}", std::process::id());
    let on_host = Path::new("/tmp").join(&name);
    let img = hostile_image(
        &env,
        "chroot",
        app("exec /bin/attack chroot \"/tmp/$NAME\""),
        |_| {},
    );
    let (out, err) = run_pod(&env, &[&format!("--set-env=NAME={name}"), &img]);
    let escaped = on_host.exists();
    let _ = fs::remove_dir(&on_host);
    // The attempt was made (the app may chroot), and stayed in its root.
    assert!(out.contains("chroot-out: ok"), "{out}{err}");
    assert!(out.contains("mkdir: ok"), "{out}{err}");
    assert!(!escaped, "the app made {} on the host", on_host.display());
    finish(&env);
}

/// Mode, size and modification time of every stage1 executable rkt may run.
fn stage1_files(env: &Env) -> Vec<(PathBuf, u32, u64, i64)> {
    use std::os::unix::fs::MetadataExt;
    let beside = Path::new(env!("CARGO_BIN_EXE_rkt")).with_file_name("stage1");
    let trees = env.path("data/cas/tree");
    let mut files = vec![beside];
    for t in fs::read_dir(&trees).into_iter().flatten().flatten() {
        files.push(t.path().join("rootfs/stage1"));
    }
    files
        .into_iter()
        .filter_map(|f| {
            let m = fs::metadata(&f).ok()?;
            Some((f, m.mode(), m.size(), m.mtime()))
        })
        .collect()
}

/// Runs its closure when dropped: undoes what a failed test did to the host.
struct Restore(Box<dyn Fn()>);

impl Drop for Restore {
    fn drop(&mut self) {
        (self.0)()
    }
}

/// Cgroup directories named `name` near the top of each hierarchy.
fn cgroups_named(name: &str) -> Vec<PathBuf> {
    let found = Command::new("find")
        .args([
            "/sys/fs/cgroup",
            "-maxdepth",
            "3",
            "-type",
            "d",
            "-name",
            name,
        ])
        .output()
        .unwrap();
    stdout(&found).lines().map(PathBuf::from).collect()
}

#[test]
fn the_inits_root_cwd_and_executable_lead_nowhere() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    let host = host_dir(&env, "host");
    let marker = format!("rkt-hostile-{}", std::process::id());
    let _restore = Restore(Box::new({
        let marker = marker.clone();
        move || {
            cgroups_named(&marker)
                .iter()
                .for_each(|d| drop(fs::remove_dir(d)))
        }
    }));
    let script = r#"
        ls /proc/1/root/ /proc/1/cwd/
        mkdir -p "/proc/1/root$HOST/via-root" && echo root-write
        mkdir -p "/proc/1/cwd$HOST/via-cwd" && echo cwd-write
        mkdir "/proc/1/root/sys/fs/cgroup/$MARKER" && echo cgroup-via-root
        mkdir "/sys/fs/cgroup/$MARKER" 2>&1 && echo cgroup-direct
        mkdir "/sys/$MARKER" 2>&1
        # A directory the init holds open would lead out of the pod.
        for fd in /proc/1/fd/*; do
            [ -d "$fd" ] || continue
            echo "init holds a directory: $(readlink "$fd")"
            mkdir "$fd/../$MARKER" && echo fd-up-write
        done
        chmod 777 /proc/1/exe 2>&1
        echo planted >> /proc/1/exe 2>&1
        true"#;
    let caps = [
        "CAP_SYS_PTRACE",
        "CAP_SYS_ADMIN",
        "CAP_DAC_OVERRIDE",
        "CAP_FOWNER",
        "CAP_CHOWN",
    ];
    let retain = json!({"exec": ["/bin/sh", "-c", script], "user": "0", "group": "0",
        "isolators": [{"name": "os/linux/capabilities-retain-set", "value": {"set": caps}}]});
    let img = hostile_image(&env, "procroot", retain, |_| {});
    // The image may not grant them itself: the user does.
    let granted = format!("--caps-retain={}", caps.join(","));
    let before = {
        // The first run imports the stage1 image, whose file is checked too.
        run_pod(&env, &[&img, "--exec=/bin/true", &granted]);
        stage1_files(&env)
    };
    assert!(before.len() >= 2, "{before:?}");
    let host_env = format!("--set-env=HOST={}", host.display());
    let marker_env = format!("--set-env=MARKER={marker}");
    let (out, err) = run_pod(&env, &[&host_env, &marker_env, &img, &granted]);
    assert!(!out.contains("-write"), "{out}{err}");
    assert!(!out.contains("cgroup-via-root"), "{out}{err}");
    assert!(!out.contains("cgroup-direct"), "{out}{err}");
    assert!(!out.contains("init holds a directory"), "{out}{err}");
    assert!(!out.contains("fd-up-write"), "{out}{err}");
    // A write to the running executable is refused (busy, or read-only);
    // the shell reports the failed redirection on its stderr.
    assert!(err.contains("can't create /proc/1/exe"), "{out}{err}");
    for what in ["/sys/rkt-hostile", "chmod: /proc/1/exe"] {
        let refused = (out.lines().chain(err.lines()))
            .any(|l| l.contains(what) && l.contains("Read-only file system"));
        assert!(refused, "{what}: {out}{err}");
    }
    assert_empty(&host);
    assert_eq!(stage1_files(&env), before);
    let cgroups_made = cgroups_named(&marker);
    cgroups_made.iter().for_each(|d| drop(fs::remove_dir(d)));
    assert!(
        cgroups_made.is_empty(),
        "the pod made host cgroups {cgroups_made:?}"
    );
    finish(&env);
}

#[test]
fn symlinks_in_the_image_lead_nowhere_on_the_host() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    let host = host_dir(&env, "host");
    for d in ["etc", "dev", "proc", "sys", "vol"] {
        fs::create_dir_all(host.join(d)).unwrap();
    }
    // The working directory leads to a directory both have.
    let here = format!("rkt-hostile-wd-{}", std::process::id());
    let volume = host_dir(&env, "volume");
    fs::write(volume.join("data"), "volume data").unwrap();
    let h = host.clone();
    let img = hostile_image(
        &env,
        "symlinks",
        json!({"exec": ["/bin/sh", "-c", "cat /etc/hosts; cat /vol/data; ls /dev/null"],
               "user": "0", "group": "0",
               "mountPoints": [{"name": "data", "path": "/vol"}]}),
        move |rootfs| {
            fs::remove_dir_all(rootfs.join("etc")).unwrap();
            for d in ["etc", "dev", "proc", "sys", "vol"] {
                std::os::unix::fs::symlink(h.join(d), rootfs.join(d)).unwrap();
            }
            std::os::unix::fs::symlink("/tmp", rootfs.join("work")).unwrap();
        },
    );
    let vol = format!("--volume=data,kind=host,source={}", volume.display());
    let (out, err) = run_pod(&env, &[&vol, &img]);
    // The paths resolve inside the app's root, where the app finds them.
    assert!(out.contains("localhost"), "{out}{err}");
    assert!(out.contains("volume data"), "{out}{err}");
    assert!(out.contains("/dev/null"), "{out}{err}");
    for d in ["etc", "dev", "proc", "sys", "vol"] {
        assert_empty(&host.join(d));
    }
    assert_eq!(fs::read_dir(&volume).unwrap().count(), 1);

    // A working directory through a symlink (even one that stays in the
    // root) is refused, as a missing one is.
    let img = hostile_image(
        &env,
        "workdir",
        json!({"exec": ["/bin/sh", "-c", format!("echo x > {here}")],
               "user": "0", "group": "0", "workingDirectory": "/work"}),
        |rootfs| std::os::unix::fs::symlink("/tmp", rootfs.join("work")).unwrap(),
    );
    let (out, err) = run_pod(&env, &[&img]);
    let wrote_here = Path::new("/tmp").join(&here);
    let escaped = wrote_here.exists();
    let _ = fs::remove_file(&wrote_here);
    assert!(
        !escaped,
        "the app wrote {} on the host",
        wrote_here.display()
    );
    assert!(
        err.contains("working directory /work: leads to /tmp"),
        "{out}{err}"
    );

    // Files of /etc pointing at host files.
    let files = host_dir(&env, "files");
    let (hosts, resolv) = (files.join("hosts"), files.join("resolv.conf"));
    fs::write(&resolv, "nameserver 127.0.0.9\n").unwrap();
    let (h, r) = (hosts.clone(), resolv.clone());
    let img = hostile_image(
        &env,
        "etcfiles",
        app("cat /etc/hosts /etc/resolv.conf; true"),
        move |rootfs| {
            std::os::unix::fs::symlink(&h, rootfs.join("etc/hosts")).unwrap();
            std::os::unix::fs::symlink(&r, rootfs.join("etc/resolv.conf")).unwrap();
        },
    );
    let (out, err) = run_pod(&env, &["--dns=127.0.0.1", &img]);
    assert!(!out.contains("127.0.0.9"), "{out}{err}");
    assert!(!hosts.exists());
    assert_eq!(
        fs::read_to_string(&resolv).unwrap(),
        "nameserver 127.0.0.9\n"
    );
    finish(&env);
}

/// `rkt ARGS` started by bash with descriptor 7 open on `dir` (not
/// close-on-exec), as a careless caller might leave it.
fn rkt_with_fd7(env: &Env, dir: &Path, args: &[&str]) -> (String, String) {
    let rkt = env.rkt_command(&[]);
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(r#"exec 7<"$1"; shift; exec "$@""#)
        .arg("bash")
        .arg(dir)
        .arg(rkt.get_program())
        .args(rkt.get_args())
        .args(args)
        .stdin(Stdio::null());
    let out = cmd.output().unwrap();
    (
        stdout(&out),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn only_stdio_reaches_the_app_whatever_the_caller_left_open() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    let host = host_dir(&env, "host");
    let script = "ls /proc/self/fd | grep -v '^3$'; echo end; touch /proc/self/fd/7/planted && echo fd7-write; true";
    let img = hostile_image(&env, "fds", app(script), |_| {});
    let (out, err) = rkt_with_fd7(
        &env,
        &host,
        &["--insecure-options=image", "run", "--net=host", &img],
    );
    let listing: Vec<&str> = out.lines().take_while(|l| *l != "end").collect();
    assert_eq!(listing, ["0", "1", "2"], "{out}{err}");
    assert!(!out.contains("fd7-write"), "{out}{err}");
    assert_empty(&host);
    finish(&env);
}

fn status_field(text: &str, name: &str) -> u64 {
    let line = text
        .lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("no {name} in {text}"));
    u64::from_str_radix(line[name.len()..].trim(), 16).unwrap()
}

#[test]
fn capabilities_the_caller_could_pass_on_stay_out() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    let img = hostile_image(&env, "caps", app("grep ^Cap /proc/self/status"), |_| {});
    let rkt = env.rkt_command(&["--insecure-options=image", "run", "--net=host", &img]);
    let mut line = vec![rkt.get_program().to_string_lossy().into_owned()];
    line.extend(rkt.get_args().map(|a| a.to_string_lossy().into_owned()));
    let caps = "cap_sys_admin,cap_sys_module,cap_sys_ptrace";
    let out = Command::new("capsh")
        .arg(format!("--inh={caps}"))
        .arg(format!("--addamb={caps}"))
        .args([
            "--",
            "-c",
            r#"grep ^CapAmb /proc/self/status; exec "$0" "$@""#,
        ])
        .args(&line)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = stdout(&out);
    // The caller did hold them.
    assert_ne!(status_field(&text, "CapAmb:"), 0, "{text}");
    let app_part = text.lines().skip(1).collect::<Vec<_>>().join("\n");
    assert_eq!(status_field(&app_part, "CapInh:"), 0, "{text}");
    assert_eq!(status_field(&app_part, "CapAmb:"), 0, "{text}");
    let bnd = status_field(&app_part, "CapBnd:");
    assert_eq!(status_field(&app_part, "CapEff:") & !bnd, 0, "{text}");
    assert_eq!(status_field(&app_part, "CapPrm:") & !bnd, 0, "{text}");
    let admin = 1 << 21;
    assert_eq!(status_field(&app_part, "CapEff:") & admin, 0, "{text}");
    finish(&env);
}

#[test]
fn rkt_enter_confines_the_command_like_the_app() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    let knob = Path::new("/proc/sys/vm/stat_interval");
    let knob_before = fs::read_to_string(knob).unwrap();
    // Put back even when an assertion fails.
    let _restore = Restore(Box::new({
        let before = knob_before.clone();
        move || {
            if fs::read_to_string(knob).ok().as_deref() != Some(before.as_str()) {
                let _ = fs::write(knob, &before);
            }
        }
    }));
    // The app plants a program where an administrator will run it.
    let planted = r#"rm /bin/ps; cat > /bin/ps <<'EOF'
#!/bin/busybox sh
/bin/busybox mount -t proc proc /tmp 2>&1 && echo 9 > /tmp/sys/vm/stat_interval && echo host-sysctl-write
grep -E '^(Cap|Seccomp:|NoNewPrivs)' /proc/self/status
ls /proc/self/fd | grep -v '^3$'
cat /proc/self/cgroup
EOF
chmod 755 /bin/ps; exec sleep 60"#;
    let img = hostile_image(&env, "enter", app(planted), |_| {});
    let (mut child, uuid) = start(&env, &[&img], Stdio::null());
    // The app has planted its program once /bin/ps is a script.
    let mut planted_ok = false;
    for _ in 0..100 {
        let out = env.rkt(&["enter", &uuid, "/bin/busybox", "head", "-c", "2", "/bin/ps"]);
        if stdout(&out) == "#!" {
            planted_ok = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(planted_ok, "the app did not plant its program");
    let host = host_dir(&env, "host");
    let (out, err) = rkt_with_fd7(&env, &host, &["enter", &uuid, "/bin/ps"]);
    assert!(!out.contains("host-sysctl-write"), "{out}{err}");
    assert_eq!(fs::read_to_string(knob).unwrap(), knob_before);
    assert_eq!(status_field(&out, "CapInh:"), 0, "{out}");
    assert_eq!(status_field(&out, "CapAmb:"), 0, "{out}");
    let defaults: u64 = pod::privileges::DEFAULT_CAPABILITIES
        .iter()
        .chain(["CAP_MKNOD"].iter())
        .map(|n| 1u64 << appc::schema::types::isolator::linux_capability(n).unwrap())
        .sum();
    assert_eq!(status_field(&out, "CapBnd:") & !defaults, 0, "{out}");
    assert!(out.contains("Seccomp:\t2"), "{out}");
    let listing: Vec<&str> = out
        .lines()
        .filter(|l| l.trim().parse::<u32>().is_ok())
        .collect();
    assert_eq!(listing, ["0", "1", "2"], "{out}");
    let app_cgroup = format!("/rkt-{uuid}/enter");
    let memory = out.lines().find(|l| l.contains(":memory:"));
    assert!(memory.is_some_and(|l| l.ends_with(&app_cgroup)), "{out}");
    assert_empty(&host);
    // Of the caller's environment, the command keeps TERM alone (as rkt).
    let entered = env
        .rkt_command(&["enter", &uuid, "/bin/sh", "-c", "echo \"$TERM/$SECRET\""])
        .env("TERM", "xterm-rkt-test")
        .env("SECRET", "leaked")
        .output()
        .unwrap();
    assert_eq!(stdout(&entered), "xterm-rkt-test/\n");
    assert!(env.rkt(&["stop", &uuid]).status.success());
    let _ = child.wait();
    finish(&env);
}

#[test]
fn an_app_cannot_trace_an_entered_command() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    let img = hostile_image(
        &env,
        "tracer",
        app("/bin/attack ptrace entered-31337; exec sleep 30"),
        |_| {},
    );
    let (child, uuid) = start(&env, &[&img], Stdio::piped());
    let entered = env.rkt(&[
        "enter",
        &uuid,
        "/bin/sh",
        "-c",
        "sleep 3; echo entered-31337 done",
    ]);
    assert!(
        stdout(&entered).contains("done"),
        "{}: {}",
        entered.status,
        String::from_utf8_lossy(&entered.stderr)
    );
    assert!(env.rkt(&["stop", &uuid]).status.success());
    let out = child.wait_with_output().unwrap();
    let report = stdout(&out);
    // Found, and refused: the command is no stronger than the app, and
    // the app may not trace (seccomp), nor reach /proc of stage1.
    assert!(report.contains("find: ok"), "{report}");
    assert!(
        report.contains("attach: Operation not permitted"),
        "{report}"
    );
    finish(&env);
}

#[test]
fn a_mount_target_that_cannot_be_used_is_refused_with_its_path() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    let volume = host_dir(&env, "volume");
    // A directory volume onto a file of the image, reached through a symlink.
    let img = hostile_image(
        &env,
        "badtarget",
        json!({"exec": ["/bin/true"], "user": "0", "group": "0",
               "mountPoints": [{"name": "data", "path": "/data"}]}),
        |rootfs| std::os::unix::fs::symlink("/etc/passwd", rootfs.join("data")).unwrap(),
    );
    let vol = format!("--volume=data,kind=host,source={}", volume.display());
    let out = env.rkt(&["--insecure-options=image", "run", "--net=host", &vol, &img]);
    let err = support::one_line_error(&out);
    assert!(
        err.contains("/data") && err.contains("not a directory"),
        "{err}"
    );
    assert_empty(&volume);
    // Nothing of the pod is left mounted or in a cgroup.
    let pods = env.path("data/pods");
    let records: Vec<PathBuf> = ["run", "exited-garbage"]
        .iter()
        .flat_map(|d| fs::read_dir(pods.join(d)).into_iter().flatten().flatten())
        .map(|e| e.path().join("cgroups"))
        .collect();
    for r in records {
        for dir in fs::read_to_string(&r).unwrap_or_default().lines() {
            assert!(!Path::new(dir).exists(), "cgroup left: {dir}");
        }
    }
    finish(&env);
}

/// `rkt ARGS` from an interactive shell (the pty `script` makes, the
/// shell's controlling terminal), which then reads a line and runs it,
/// as a shell at its prompt would: whatever a pod pushed into the
/// terminal as typed input would run on the host. Returns what the
/// terminal showed.
fn rkt_from_a_shell(env: &Env, args: &[&str]) -> String {
    let rkt = env.rkt_command(args);
    let quote = |s: &std::ffi::OsStr| format!("'{}'", s.to_string_lossy().replace('\'', r"'\''"));
    let mut line: Vec<String> = vec![quote(rkt.get_program())];
    line.extend(rkt.get_args().map(quote));
    let command = format!("{}; read -t 3 typed; eval \"$typed\"", line.join(" "));
    let mut child = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("SHELL", "/bin/bash")
        .envs(rkt.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("script");
    // Held open: at the end of its input, script would end the shell's
    // input too, and no typed line could be read.
    let input = child.stdin.take();
    let mut out = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
    child.wait().unwrap();
    drop(input);
    out
}

#[test]
fn no_pod_types_into_the_callers_terminal() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    let typed = env.path("typed");
    let file_env = format!("--set-env=FILE={}", typed.display());
    // Through /dev/tty, and through the terminal it was given (stdout).
    let script = r#"/bin/attack tiocsti /dev/tty "touch $FILE"; /bin/attack tiocsti 1 "touch $FILE"; /bin/attack tiocsti 0 "touch $FILE"; true"#;
    let img = hostile_image(&env, "tiocsti", app(script), |_| {});
    let base = ["--insecure-options=image", "run", "--net=host"];
    let out = rkt_from_a_shell(&env, &[&base[..], &[&file_env, &img]].concat());
    assert!(out.contains("tiocsti /dev/tty: No such device"), "{out}");
    assert!(out.contains("tiocsti 1: Operation not permitted"), "{out}");
    assert!(
        !typed.exists(),
        "the pod typed into the caller's shell: {out}"
    );

    // With --interactive, the pod's terminal is its own pty, relayed: what
    // it pushes stays in it, and its output still reaches the caller.
    let interactive = [&base[..], &["--interactive", &file_env, &img]].concat();
    let out = rkt_from_a_shell(&env, &interactive);
    assert!(out.contains("tiocsti /dev/tty: ok"), "{out}");
    assert!(
        !typed.exists(),
        "the pod typed into the caller's shell: {out}"
    );
    let tty = hostile_image(&env, "tty", app("tty; ls -l /dev/console"), |_| {});
    let out = rkt_from_a_shell(&env, &[&base[..], &["--interactive", &tty]].concat());
    assert!(out.contains("/dev/pts/0"), "{out}");

    // Through `rkt enter`, from a terminal.
    let sleeper = hostile_image(&env, "sleeper", app("exec sleep 60"), |_| {});
    let (mut child, uuid) = start(&env, &[&sleeper], Stdio::null());
    let enter = [
        "enter",
        &uuid,
        "/bin/sh",
        "-c",
        &script.replace("$FILE", &typed.display().to_string()),
    ];
    let out = rkt_from_a_shell(&env, &enter);
    assert!(out.contains("tiocsti 1: ok"), "{out}");
    assert!(
        !typed.exists(),
        "the entered command typed into the caller's shell: {out}"
    );
    assert!(env.rkt(&["stop", &uuid]).status.success());
    let _ = child.wait();
    finish(&env);
}

#[test]
fn apps_start_with_default_signals_and_no_host_console() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    let script = "grep -E '^Sig(Ign|Blk)' /proc/self/status; \
        mknod /dev/host-console c 5 1 && echo console-made; \
        mknod /dev/pty-legacy c 2 0 && echo legacy-made; \
        mknod /dev/disk b 8 0 && echo disk-made; \
        [ -c /dev/console ] && echo console-written; true";
    let img = hostile_image(&env, "signals", app(script), |_| {});
    let (out, err) = run_pod(&env, &[&img]);
    assert!(out.contains("SigIgn:\t0000000000000000"), "{out}{err}");
    assert!(out.contains("SigBlk:\t0000000000000000"), "{out}{err}");
    for made in [
        "console-made",
        "legacy-made",
        "disk-made",
        "console-written",
    ] {
        assert!(!out.contains(made), "{made}: {out}{err}");
    }
    finish(&env);
}

/// The pods' directories of every state, and what is in them.
fn pod_dirs(env: &Env) -> Vec<PathBuf> {
    let pods = env.path("data/pods");
    fs::read_dir(&pods)
        .into_iter()
        .flatten()
        .flatten()
        .flat_map(|state| fs::read_dir(state.path()).into_iter().flatten().flatten())
        .map(|e| e.path())
        .collect()
}

#[test]
fn an_image_does_not_grant_itself_privileges() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    let with = |name: &str, isolator: &str, value: Value| {
        let app = json!({"exec": ["/bin/sh", "-c", "grep ^CapBnd /proc/self/status"],
            "user": "0", "group": "0", "isolators": [{"name": isolator, "value": value}]});
        hostile_image(&env, name, app, |_| {})
    };
    let admin = with(
        "admin",
        "os/linux/capabilities-retain-set",
        json!({"set": ["CAP_SYS_ADMIN", "CAP_CHOWN"]}),
    );
    let all_calls = with(
        "allcalls",
        "os/linux/seccomp-retain-set",
        json!({"set": ["@appc.io/all"]}),
    );
    let few_calls = with(
        "fewcalls",
        "os/linux/seccomp-remove-set",
        json!({"set": ["reboot"]}),
    );
    let base = ["--insecure-options=image", "run", "--net=host"];
    for (img, named, flag) in [
        (&admin, "CAP_SYS_ADMIN", "--caps-retain"),
        (&all_calls, "acct", "--seccomp"),
        (&few_calls, "acct", "--seccomp"),
    ] {
        let out = env.rkt(&[&base[..], &[img.as_str()]].concat());
        assert_eq!(out.status.code(), Some(254), "{img}");
        let err = support::one_line_error(&out);
        assert!(err.contains(named) && err.contains(flag), "{err}");
        assert!(pod_dirs(&env).is_empty(), "{:?}", pod_dirs(&env));
    }
    // The user grants them: on the command line, for the app or the pod.
    let admin_bit = 1u64 << 21;
    let granted = ["--caps-retain=CAP_SYS_ADMIN,CAP_CHOWN"];
    let out = env.rkt(&[&base[..], &[admin.as_str()], &granted[..]].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_ne!(status_field(&stdout(&out), "CapBnd:") & admin_bit, 0);
    let insecure = ["--insecure-options=image,seccomp", "run", "--net=host"];
    let out = env.rkt(&[&insecure[..], &[few_calls.as_str()]].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Narrowing needs no one's say.
    let narrow = with(
        "narrow",
        "os/linux/capabilities-retain-set",
        json!({"set": ["CAP_NET_BIND_SERVICE"]}),
    );
    let out = env.rkt(&[&base[..], &[narrow.as_str()]].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(status_field(&stdout(&out), "CapBnd:"), 1 << 10);
    finish(&env);
}

#[test]
fn the_pods_name_files_are_its_own_not_mounts_of_the_hosts() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    let script = "grep -E ' /etc/(resolv.conf|hosts|hostname) ' /proc/self/mountinfo && echo mounted; \
        cat /etc/resolv.conf /etc/hosts; echo changed >> /etc/resolv.conf; true";
    let img = hostile_image(&env, "namefiles", app(script), |_| {});
    let host_resolv = fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    for flags in [
        ["--dns=host", "--hosts-entry=host"],
        ["--dns=127.0.0.9", "--hosts-entry=127.0.0.8=pod-entry"],
    ] {
        let (out, err) = run_pod(&env, &[&flags[..], &[img.as_str()]].concat());
        assert!(!out.contains("mounted"), "{flags:?}: {out}{err}");
        if flags[0] == "--dns=host" {
            assert!(out.contains(host_resolv.trim()), "{out}{err}");
        } else {
            assert!(out.contains("nameserver 127.0.0.9"), "{out}{err}");
            assert!(out.contains("pod-entry"), "{out}{err}");
        }
    }
    // What the pod wrote in its copy stays in it.
    assert_eq!(
        fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
        host_resolv
    );
    finish(&env);
}

#[test]
fn a_read_only_volume_is_read_only_all_the_way_down() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    // A host tree with a mount below its top.
    let tree = host_dir(&env, "tree");
    let sub = tree.join("sub");
    fs::create_dir(&sub).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(&sub)
        .status()
        .unwrap();
    assert!(mounted.success());
    let unmount = Restore(Box::new({
        let sub = sub.clone();
        move || drop(Command::new("umount").arg(&sub).status())
    }));
    let knob = Path::new("/proc/sys/vm/stat_interval");
    let knob_before = fs::read_to_string(knob).unwrap();
    let _restore = Restore(Box::new({
        let before = knob_before.clone();
        move || {
            if fs::read_to_string(knob).ok().as_deref() != Some(before.as_str()) {
                let _ = fs::write(knob, &before);
            }
        }
    }));
    let script = "echo x > /tree/top 2>/dev/null && echo top-written; \
        echo x > /tree/sub/below 2>/dev/null && echo sub-written; \
        echo 9 > /root/proc/sys/vm/stat_interval 2>/dev/null && echo sysctl-written; \
        echo checked";
    let img = hostile_image(
        &env,
        "rovolume",
        json!({"exec": ["/bin/sh", "-c", script], "user": "0", "group": "0",
               "mountPoints": [{"name": "tree", "path": "/tree", "readOnly": true},
                               {"name": "root", "path": "/root", "readOnly": true}]}),
        |_| {},
    );
    let tree_vol = format!("--volume=tree,kind=host,source={}", tree.display());
    let root_vol = "--volume=root,kind=host,source=/,readOnly=true";
    let (out, err) = run_pod(&env, &[&tree_vol, root_vol, &img]);
    assert!(out.contains("checked"), "{out}{err}");
    for written in ["top-written", "sub-written", "sysctl-written"] {
        assert!(!out.contains(written), "{written}: {out}{err}");
    }
    assert_eq!(fs::read_to_string(knob).unwrap(), knob_before);
    assert!(!sub.join("below").exists() && !tree.join("top").exists());
    drop(unmount);
    finish(&env);
}

#[test]
fn a_reused_pid_is_never_entered_or_signalled() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    let img = hostile_image(&env, "pidreuse", app("exec sleep 60"), |_| {});
    let (mut child, uuid) = start(&env, &[&img], Stdio::null());
    // A process of the host's in the init's place, as when the pod's pid
    // is reused after a crash.
    let mut other = Command::new("sleep").arg("60").spawn().unwrap();
    let pid_file = env.path(&format!("data/pods/run/{uuid}/pid"));
    let init = fs::read_to_string(&pid_file).unwrap();
    fs::write(&pid_file, other.id().to_string()).unwrap();
    let host = host_dir(&env, "host");
    let probe = format!("touch {}/entered", host.display());
    let entered = env.rkt(&["enter", &uuid, "/bin/sh", "-c", &probe]);
    assert!(!entered.status.success());
    let err = support::one_line_error(&entered);
    assert!(err.contains("not the pod's init"), "{err}");
    let stopped = env.rkt(&["stop", "--force", &uuid]);
    assert!(!stopped.status.success());
    let still = other.try_wait().unwrap();
    let _ = other.kill();
    let _ = other.wait();
    assert!(still.is_none(), "the host's process was signalled");
    assert_empty(&host);
    fs::write(&pid_file, init).unwrap();
    assert!(env.rkt(&["stop", &uuid]).status.success());
    let _ = child.wait();
    finish(&env);
}

#[test]
fn the_init_keeps_nothing_an_app_could_borrow() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    // Allowed to trace (granted), the app looks at what the init holds.
    let script = "sleep 1; grep -E '^(CapEff|CapPrm|Seccomp):' /proc/1/status";
    let img = hostile_image(&env, "initstate", app(script), |_| {});
    let (out, err) = run_pod(&env, &[&img, "--caps-retain=CAP_SYS_PTRACE"]);
    let kill = 1u64 << 5;
    assert_eq!(status_field(&out, "CapEff:"), kill, "{out}{err}");
    assert_eq!(status_field(&out, "CapPrm:"), kill, "{out}{err}");
    assert!(out.contains("Seccomp:\t2"), "{out}{err}");
    finish(&env);
}

#[test]
fn apps_make_no_namespaces_unless_granted() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    let img = hostile_image(&env, "namespaces", app("/bin/attack namespaces"), |_| {});
    let (out, err) = run_pod(&env, &[&img]);
    assert!(
        out.contains("clone-newuser: Operation not permitted"),
        "{out}{err}"
    );
    assert!(
        out.contains("clone3-newuser: Function not implemented"),
        "{out}{err}"
    );
    assert!(out.contains("clone-plain: ok"), "{out}{err}");
    // CAP_SYS_ADMIN granted: namespaces are the app's to make.
    let (out, err) = run_pod(&env, &[&img, "--caps-retain=CAP_SYS_ADMIN"]);
    assert!(out.contains("clone-newuser: ok"), "{out}{err}");
    finish(&env);
}

#[test]
fn a_pod_with_forwarded_ports_cannot_reach_the_hosts_loopback() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    // What the pod's frames may reach (the host on the gateway's side)
    // and what they may not (a service on the host's loopback).
    let open = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    let loopback = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let (open_port, loopback_port) = (
        open.local_addr().unwrap().port(),
        loopback.local_addr().unwrap().port(),
    );
    let script = format!(
        "/bin/attack udp-frame gateway {open_port}; /bin/attack udp-frame 127.0.0.1 {loopback_port}"
    );
    let app = json!({"exec": ["/bin/sh", "-c", script], "user": "0", "group": "0",
        "ports": [{"name": "www", "protocol": "tcp", "port": 80}]});
    let img = hostile_image(&env, "loopback", app, |_| {});
    let port = format!("--port=www:{}", support::pods::free_port());
    let out = env.rkt(&["--insecure-options=image", "run", &port, &img]);
    let text = format!("{}{}", stdout(&out), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    assert!(text.contains("udp-frame 127.0.0.1"), "{text}");
    let received = |socket: &std::net::UdpSocket| {
        socket
            .set_read_timeout(Some(std::time::Duration::from_millis(500)))
            .unwrap();
        let mut buf = [0u8; 64];
        socket.recv(&mut buf).map(|n| buf[..n].to_vec()).ok()
    };
    // The frames get through: the control reached the host.
    assert_eq!(
        received(&open).as_deref(),
        Some(&b"rkt-hostile\0"[..]),
        "{text}"
    );
    assert_eq!(
        received(&loopback),
        None,
        "the pod reached the host's loopback: {text}"
    );
    finish(&env);
    let rules = Command::new("iptables")
        .args(["-S", "INPUT"])
        .output()
        .unwrap();
    assert!(
        !stdout(&rules).contains("127.0.0.0/8"),
        "{}",
        stdout(&rules)
    );
}

#[test]
fn a_restricted_pod_reaches_the_host_and_nothing_else() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    // A pod on the default network, listening.
    let listener = hostile_image(
        &env,
        "listener",
        app("exec /bin/attack udp-listen 5000 20"),
        |_| {},
    );
    let (child, uuid) = support::pods::start_with(&env, &[], &[&listener], Stdio::piped());
    let target = support::pods::address(&env, &uuid, "default");
    // The host, where the restricted pod may send.
    let open = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    let open_port = open.local_addr().unwrap().port();
    let script =
        format!("/bin/attack udp-frame gateway {open_port}; /bin/attack udp-frame {target} 5000");
    let sender = hostile_image(&env, "restricted", app(&script), |_| {});
    let out = env.rkt(&[
        "--insecure-options=image",
        "run",
        "--net=default-restricted",
        &sender,
    ]);
    let text = format!("{}{}", stdout(&out), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    open.set_read_timeout(Some(std::time::Duration::from_millis(500)))
        .unwrap();
    let mut buf = [0u8; 64];
    assert!(open.recv(&mut buf).is_ok(), "the host got nothing: {text}");
    // (Ended already if the datagram reached it.)
    let _ = env.rkt(&["stop", &uuid]);
    let listened = stdout(&child.wait_with_output().unwrap());
    assert!(
        !listened.contains("rkt-hostile"),
        "a restricted pod reached another pod: {listened}"
    );
    finish(&env);
    let rules = Command::new("iptables")
        .args(["-S", "FORWARD"])
        .output()
        .unwrap();
    assert!(!stdout(&rules).contains("-j DROP"), "{}", stdout(&rules));
}

/// `program ARGS` run as `user`.
fn run_as(user: &str, program: &Path, args: &[&str]) -> std::process::Output {
    Command::new("runuser")
        .args(["-u", user, "--"])
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn the_rkt_group_reaches_no_setuid_file() {
    if !ensure_stage1() {
        return;
    }
    // The group (unless the host has one) and a member, made here and
    // removed whatever happens.
    let id = std::process::id();
    let member = format!("rkthostile{}", id % 100000);
    let made_group = !stdout(
        &Command::new("getent")
            .args(["group", "rkt"])
            .output()
            .unwrap(),
    )
    .starts_with("rkt:");
    if made_group {
        assert!(
            Command::new("groupadd")
                .args(["--system", "rkt"])
                .status()
                .unwrap()
                .success()
        );
    }
    let _cleanup = Restore(Box::new({
        let member = member.clone();
        move || {
            let _ = Command::new("userdel").arg(&member).status();
            if made_group {
                let _ = Command::new("groupdel").arg("rkt").status();
            }
        }
    }));
    assert!(
        Command::new("useradd")
            .args([
                "--no-create-home",
                "--shell",
                "/bin/sh",
                "-G",
                "rkt",
                &member
            ])
            .status()
            .unwrap()
            .success()
    );
    let env = Env::new();
    // The member may walk to the data directory, which rkt makes (as
    // for group rkt: Env made an ordinary one).
    fs::set_permissions(
        env.tmp.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    fs::remove_dir(env.path("data")).unwrap();
    let img = hostile_image(
        &env,
        "setuid",
        app(
            "cp /bin/attack /made-suid && chmod 4755 /made-suid; mkdir -p /vol && cp /bin/attack /vol/s && chmod 4755 /vol/s",
        ),
        |rootfs| {
            fs::copy(attack_binary(), rootfs.join("bin/suid")).unwrap();
            fs::set_permissions(
                rootfs.join("bin/suid"),
                std::os::unix::fs::PermissionsExt::from_mode(0o4755),
            )
            .unwrap();
        },
    );
    let (out, err) = run_pod(&env, &[&img]);
    assert!(err.is_empty() || !err.contains("error"), "{out}{err}");
    let data = env.path("data");
    let found = Command::new("find")
        .arg(&data)
        .args(["-perm", "-4000", "-type", "f"])
        .output()
        .unwrap();
    let setuid: Vec<String> = stdout(&found).lines().map(str::to_string).collect();
    // The image's and the app's: stored, and in the pod's writable layer.
    assert!(
        setuid.iter().any(|f| f.contains("/cas/tree/")),
        "{setuid:?}"
    );
    assert!(setuid.iter().any(|f| f.contains("/overlay/")), "{setuid:?}");
    for file in &setuid {
        let ran = run_as(&member, Path::new(file), &["euid"]);
        assert!(
            !stdout(&ran).contains("euid=0"),
            "a member of group rkt ran {file} as root"
        );
    }
    // What the group is for still works.
    let rkt = Path::new(env!("CARGO_BIN_EXE_rkt"));
    let dir = format!("--dir={}", data.display());
    for args in [
        vec![dir.as_str(), "list"],
        vec![dir.as_str(), "image", "list"],
    ] {
        let listed = run_as(&member, rkt, &args);
        assert!(
            listed.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&listed.stderr)
        );
    }
    finish(&env);
}

#[test]
fn nothing_an_image_says_drives_the_callers_terminal() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    // Sequences that retitle the terminal, clear it and (8-bit CSI)
    // move the cursor, in the version label and in the exec path.
    let drive = "\u{1b}]2;owned\u{7}\u{1b}[2J\u{9b}1A";
    let layout = env.path("layout-terminal");
    busybox_layout(&layout);
    let manifest = json!({
        "acKind": "ImageManifest", "acVersion": "0.8.11", "name": "example.com/terminal",
        "labels": [{"name": "version", "value": format!("1{drive}")},
                   {"name": "os", "value": "linux"},
                   {"name": "arch", "value": rkt::fetch::host_arch()}],
        "app": {"exec": [format!("/bin/no{drive}such")], "user": "0", "group": "0"},
    });
    fs::write(layout.join("manifest"), manifest.to_string()).unwrap();
    let aci = env.path("terminal.aci");
    let f = fs::File::create(&aci).unwrap();
    appc::aci::build_aci(&layout, f, appc::aci::BuildOptions::default()).unwrap();
    let drives = |text: &str| text.contains(['\u{1b}', '\u{7}', '\u{9b}']);
    let (out, err) = run_pod(&env, &[aci.to_str().unwrap()]);
    assert!(err.contains("is not in the image"), "{out}{err}");
    assert!(!drives(&out) && !drives(&err), "{out:?} {err:?}");
    let list = env.rkt(&["image", "list"]);
    assert!(list.status.success());
    let listed = stdout(&list);
    assert!(listed.contains("example.com/terminal:1"), "{listed}");
    assert!(!drives(&listed), "{listed:?}");
    finish(&env);
}
