//! Values stage0 would pass on to a pod are checked first: each bad one is
//! one clear line, exit 254, and no pod directory.

mod support;

use std::fs;
use support::pods::busybox;
use support::{Env, one_line_error};

fn pods_made(env: &Env) -> usize {
    let pods = env.path("data/pods");
    fs::read_dir(&pods)
        .into_iter()
        .flatten()
        .flatten()
        .map(|d| fs::read_dir(d.path()).map_or(0, |e| e.count()))
        .sum()
}

#[test]
fn bad_values_are_refused_before_there_is_a_pod() {
    let env = Env::new();
    let aci = busybox(&env);
    let img = aci.to_str().unwrap();
    let env_file = env.path("env");
    fs::write(&env_file, b"GOOD=1\nBAD=a\0b\n").unwrap();
    let env_file_flag = format!("--set-env-file={}", env_file.display());
    let long = format!("--hostname={}", "x".repeat(300));
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--hostname=../../x", img], "hostname"),
        (vec![&long, img], "hostname"),
        (
            vec![
                "--dns=127.0.0.1",
                "--dns-search=a.example\nnameserver 10.0.0.1",
                img,
            ],
            "search domain",
        ),
        (vec![&env_file_flag, img], "NUL"),
        (vec![img, "--exec="], "exec"),
        (vec![img, "--user=4294967295"], "user"),
        (vec![img, "--group=-1"], "group"),
        (vec!["--volume=v,kind=empty,gid=-5", img], "gid"),
        (vec!["--volume=v,kind=empty,mode=7777", img], "mode"),
        // The pod's own /proc and /sys take no volume, as in rkt.
        (
            vec![
                "--volume=v,kind=empty",
                img,
                "--mount=volume=v,target=/proc",
            ],
            "/proc and /sys",
        ),
        (
            vec![
                "--volume=v,kind=empty",
                img,
                "--mount=volume=v,target=/sys/",
            ],
            "/proc and /sys",
        ),
    ];
    for (flags, what) in cases {
        let mut args = vec!["--insecure-options=image", "run", "--net=host"];
        args.extend(flags.iter().copied());
        let err = one_line_error(&env.rkt(&args));
        assert!(err.contains(what), "{flags:?}: {err}");
        assert_eq!(pods_made(&env), 0, "{flags:?} left a pod");
    }
    // Images for another system, or saying none, as rkt refuses them.
    let arch = rkt::fetch::host_arch();
    let other_arch = if arch == "amd64" { "aarch64" } else { "amd64" };
    let app = serde_json::json!({"exec": ["/bin/true"], "user": "0", "group": "0"});
    for (file, labels, said) in [
        (
            "no-os",
            serde_json::json!([{"name": "arch", "value": arch}]),
            "missing os label in the image manifest".to_string(),
        ),
        (
            "no-arch",
            serde_json::json!([{"name": "os", "value": "linux"}]),
            "missing arch label in the image manifest".into(),
        ),
        (
            "freebsd",
            serde_json::json!([{"name": "os", "value": "freebsd"}, {"name": "arch", "value": "amd64"}]),
            "bad os \"freebsd\"".into(),
        ),
        (
            "other-arch",
            serde_json::json!([{"name": "os", "value": "linux"}, {"name": "arch", "value": other_arch}]),
            format!("bad arch \"{other_arch}\" for linux"),
        ),
    ] {
        let aci = env.image(
            &format!("{file}.aci"),
            "example.com/elsewhere",
            "1",
            serde_json::json!({"labels": labels, "app": app}),
            &[("bin/true", "")],
        );
        let err = one_line_error(&env.rkt(&[
            "--insecure-options=image",
            "run",
            "--net=host",
            aci.to_str().unwrap(),
        ]));
        assert!(err.contains(&said), "{file}: {err}");
        assert_eq!(pods_made(&env), 0, "{file} left a pod");
    }
    // A pod manifest without apps.
    let empty = env.path("empty-pod.json");
    fs::write(
        &empty,
        r#"{"acKind":"PodManifest","acVersion":"0.8.11","apps":[]}"#,
    )
    .unwrap();
    let flag = format!("--pod-manifest={}", empty.display());
    let err = one_line_error(&env.rkt(&["run", "--net=host", &flag]));
    assert!(err.contains("no apps in pod manifest"), "{err}");
    assert_eq!(pods_made(&env), 0);
    let err = one_line_error(&env.rkt(&["image", "list", "--fields=zz"]));
    assert!(err.contains("zz"), "{err}");
}
