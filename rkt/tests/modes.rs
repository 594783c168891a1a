//! What rkt creates has rkt's modes whatever the caller's umask: the data
//! directory 0750 (2750 with an `rkt` group), pods 0750, the rest never
//! writable by others; trusted keys 0644 under 0755 directories.

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use support::Env;
use support::pods::{busybox, ensure_stage1};

/// `rkt ARGS` run by a shell with umask 000.
fn rkt_umask_000(env: &Env, args: &[&str]) {
    let rkt = env.rkt_command(args);
    let out = Command::new("bash")
        .args(["-c", r#"umask 000; exec "$@""#, "bash"])
        .arg(rkt.get_program())
        .args(rkt.get_args())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn mode(p: &Path) -> u32 {
    fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

/// Every file and directory below `dir` that others may write, leaving
/// out images' own trees (they keep the modes their images give them).
fn writable_by_others(dir: &Path, out: &mut Vec<String>) {
    for e in fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        let t = e.file_type().unwrap();
        if t.is_symlink() {
            continue;
        }
        if mode(&p) & 0o002 != 0 {
            out.push(format!("{} {:o}", p.display(), mode(&p)));
        }
        let image_tree = p.file_name().is_some_and(|n| n == "rootfs" || n == "upper");
        if t.is_dir() && !image_tree {
            writable_by_others(&p, out);
        }
    }
}

#[test]
fn modes_do_not_follow_the_umask() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    fs::remove_dir(env.path("data")).unwrap();
    let aci = busybox(&env);
    let key = env.public_key("signer");
    rkt_umask_000(
        &env,
        &[
            "trust",
            "--skip-fingerprint-review",
            "--prefix=example.com/hello",
            key.to_str().unwrap(),
        ],
    );
    rkt_umask_000(
        &env,
        &[
            "--insecure-options=image",
            "run",
            "--net=host",
            aci.to_str().unwrap(),
        ],
    );
    let data = env.path("data");
    assert!([0o750, 0o2750].contains(&mode(&data)), "{:o}", mode(&data));
    let pods = data.join("pods/run");
    for pod in fs::read_dir(&pods).unwrap().flatten() {
        assert_eq!(mode(&pod.path()), 0o750, "{}", pod.path().display());
    }
    let mut bad = Vec::new();
    writable_by_others(&data, &mut bad);
    writable_by_others(&env.path("etc"), &mut bad);
    assert!(bad.is_empty(), "writable by others: {bad:#?}");
    let prefix = env.path("etc/trustedkeys/prefix.d/example.com/hello");
    assert_eq!(mode(&prefix), 0o755);
    for k in fs::read_dir(&prefix).unwrap().flatten() {
        assert_eq!(mode(&k.path()), 0o644);
    }
    assert!(env.rkt(&["gc", "--grace-period=0s"]).status.success());
}
