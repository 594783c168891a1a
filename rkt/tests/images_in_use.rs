//! No pod loses its files to the image store: `rkt image gc` keeps the
//! images (apps' and stage1's) of pods in every state, and `rkt image rm`
//! of one, as rkt's, takes it off the list and drops its blob while its
//! rendered tree stays until no pod uses it. Needs root.

mod support;

use std::process::Stdio;
use support::Env;
use support::pods::{busybox, ensure_stage1, start, stdout};

fn image_names(env: &Env) -> String {
    stdout(&env.rkt(&["image", "list", "--no-legend"]))
}

fn trees(env: &Env) -> usize {
    std::fs::read_dir(env.path("data/cas/tree"))
        .unwrap()
        .count()
}

fn image_gc(env: &Env) {
    let out = env.rkt(&["image", "gc", "--grace-period=0s"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `rkt image gc` keeps both images listed.
fn images_are_kept_for(env: &Env) {
    image_gc(env);
    let names = image_names(env);
    assert!(names.contains("example.com/hello"), "{names}");
    assert!(names.contains("coreos.com/rkt/stage1-rs"), "{names}");
}

/// `rkt image rm` of both succeeds as rkt's: off the list, the trees kept.
fn remove_both(env: &Env) {
    let before = trees(env);
    for image in ["example.com/hello", "coreos.com/rkt/stage1-rs"] {
        let out = env.rkt(&["image", "rm", image]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout(&out).contains("successfully removed aci for image"));
    }
    assert_eq!(image_names(env).trim(), "");
    image_gc(env);
    assert_eq!(trees(env), before, "a tree a pod uses went");
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
    images_are_kept_for(&env);
    remove_both(&env);
    let ls = env.rkt(&["enter", &running, "/bin/ls", "/bin"]);
    assert!(stdout(&ls).contains("busybox"), "{}", stdout(&ls));
    assert!(env.rkt(&["stop", &running]).status.success());
    child.wait().unwrap();
    // Exited, marked for collection, collected through its stage1's gc.
    image_gc(&env);
    assert!(env.rkt(&["gc", "--mark-only"]).status.success());
    image_gc(&env);
    let gc = env.rkt(&["gc", "--grace-period=0s"]);
    let said = String::from_utf8_lossy(&gc.stderr);
    assert!(
        gc.status.success() && !said.contains("no longer stored"),
        "{said}"
    );
    // With the pod gone, so are the trees.
    image_gc(&env);
    assert_eq!(trees(&env), 0);

    // Prepared: its images removed, it still runs.
    let out = env.rkt(&["--insecure-options=image", "prepare", "--quiet", img]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let prepared = stdout(&out).trim().to_string();
    images_are_kept_for(&env);
    remove_both(&env);
    let ran = env.rkt(&["run-prepared", "--net=host", &prepared]);
    assert!(
        ran.status.success(),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    // Fetched again while a pod holds its tree: listed again, the tree
    // kept as it is.
    let again = env.rkt(&["--insecure-options=image", "fetch", img]);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert!(image_names(&env).contains("example.com/hello"));
    assert!(env.rkt(&["gc", "--grace-period=0s"]).status.success());

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

    // With no pod left, everything goes.
    image_gc(&env);
    assert_eq!(image_names(&env).trim(), "");
    assert_eq!(trees(&env), 0);
}
