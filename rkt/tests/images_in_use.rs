//! The image store never deletes what a pod still refers to: `rkt image
//! gc` keeps, and `rkt image rm` refuses, the images (apps' and stage1's)
//! of pods in every state until the pods are collected. Needs root.

mod support;

use std::process::Stdio;
use support::Env;
use support::pods::{busybox, ensure_stage1, start, stdout};

fn image_names(env: &Env) -> String {
    stdout(&env.rkt(&["image", "list", "--no-legend"]))
}

/// `rkt image gc` keeps both images, and `rkt image rm` of the app's
/// image fails naming `uuid`.
fn images_are_kept_for(env: &Env, uuid: &str) {
    assert!(
        env.rkt(&["image", "gc", "--grace-period=0s"])
            .status
            .success()
    );
    let names = image_names(env);
    assert!(names.contains("example.com/hello"), "{names}");
    assert!(names.contains("coreos.com/rkt/stage1-rs"), "{names}");
    for image in ["example.com/hello", "coreos.com/rkt/stage1-rs"] {
        let out = env.rkt(&["image", "rm", image]);
        let err = support::one_line_error(&out);
        assert!(err.contains(uuid), "{err}");
    }
}

#[test]
fn images_of_pods_in_any_state_are_kept() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    let aci = busybox(&env);
    let img = aci.to_str().unwrap();

    // Running: its app keeps its files, and gc its stage1.
    let (mut child, running) = start(&env, &[img, "--exec=/bin/sleep", "--", "60"], Stdio::null());
    images_are_kept_for(&env, &running);
    let ls = env.rkt(&["enter", &running, "/bin/ls", "/bin"]);
    assert!(stdout(&ls).contains("busybox"), "{}", stdout(&ls));
    assert!(env.rkt(&["stop", &running]).status.success());
    child.wait().unwrap();
    // Exited.
    images_are_kept_for(&env, &running);
    // Marked for collection: gc still needs its stage1.
    assert!(env.rkt(&["gc", "--mark-only"]).status.success());
    images_are_kept_for(&env, &running);
    assert!(env.rkt(&["gc", "--grace-period=0s"]).status.success());

    // Prepared.
    let out = env.rkt(&["--insecure-options=image", "prepare", "--quiet", img]);
    assert!(out.status.success());
    let prepared = stdout(&out).trim().to_string();
    images_are_kept_for(&env, &prepared);
    assert!(env.rkt(&["rm", &prepared]).status.success());

    // A stored image runs by its ID (a unique prefix of it).
    let listed = stdout(&env.rkt(&["image", "list", "--no-legend", "--full"]));
    let id = listed
        .lines()
        .find(|l| l.contains("example.com/hello"))
        .and_then(|l| l.split('\t').next())
        .unwrap()
        .to_string();
    let by_id = env.rkt(&["run", "--net=host", &id[..24], "--exec=/bin/true"]);
    assert!(
        by_id.status.success(),
        "{}",
        String::from_utf8_lossy(&by_id.stderr)
    );
    assert!(env.rkt(&["gc", "--grace-period=0s"]).status.success());

    // With no pod left, both go.
    assert!(
        env.rkt(&["image", "gc", "--grace-period=0s"])
            .status
            .success()
    );
    assert_eq!(image_names(&env).trim(), "");
}
