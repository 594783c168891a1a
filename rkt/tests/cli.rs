//! rkt's command-line forms that scripts use: boolean flags with `=true`
//! or `=false`, and exit status 254 for usage errors too.

mod support;

use support::Env;

fn out(env: &Env, args: &[&str]) -> (Option<i32>, String) {
    let o = env.rkt(args);
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

#[test]
fn boolean_flags_take_true_and_false() {
    let env = Env::new();
    for (args, header) in [
        (vec!["list"], true),
        (vec!["list", "--no-legend"], false),
        (vec!["list", "--no-legend=true"], false),
        (vec!["list", "--no-legend=false"], true),
        (vec!["image", "list", "--no-legend=false"], true),
        (vec!["image", "list", "--no-legend=true"], false),
        // cobra's order: a subcommand's flags before its name, and the
        // last of a flag given twice.
        (vec!["--no-legend", "list"], false),
        (vec!["--no-legend", "image", "list"], false),
        (vec!["--fields", "name", "image", "list"], true),
        (vec!["list", "--no-legend", "--no-legend=false"], true),
    ] {
        let (code, text) = out(&env, &args);
        assert_eq!(code, Some(0), "{args:?}");
        assert_eq!(!text.is_empty(), header, "{args:?}: {text:?}");
    }
    for args in [
        vec!["gc", "--mark-only=true"],
        vec!["--debug=false", "list"],
        vec![
            "--insecure-options=image",
            "--trust-keys-from-https=false",
            "list",
        ],
    ] {
        assert_eq!(out(&env, &args).0, Some(0), "{args:?}");
    }
}

#[test]
fn usage_errors_exit_254() {
    let env = Env::new();
    for args in [
        vec!["list", "--no-legend=maybe"],
        vec!["no-such-command"],
        vec!["list", "--no-such-flag"],
    ] {
        assert_eq!(out(&env, &args).0, Some(254), "{args:?}");
    }
    assert_eq!(out(&env, &["--help"]).0, Some(0));
}

#[test]
fn older_spellings_and_rkts_messages() {
    // prepare imports the stage1 image from the executable beside rkt.
    if !support::pods::ensure_stage1() {
        return;
    }
    let env = Env::new();
    let aci = support::pods::busybox(&env);
    let img = aci.to_str().unwrap();
    // --store-only: the store and nothing else, so a name it lacks fails
    // without any discovery.
    let o = env.rkt(&["fetch", "--store-only", "example.com/absent:1"]);
    assert_eq!(o.status.code(), Some(254));
    assert!(
        env.rkt(&["fetch", "--store-only", "--no-store", img])
            .status
            .code()
            == Some(254)
    );
    // A run's flags before its name, as cobra takes them.
    let ran_uuid = env.path("ran-uuid");
    let ran = env.rkt(&[
        "--insecure-options=image",
        "--set-env=COBRA=order",
        &format!("--uuid-file-save={}", ran_uuid.display()),
        "run",
        "--net=host",
        img,
        "--exec=/bin/sh",
        "--",
        "-c",
        "echo $COBRA",
    ]);
    let text = String::from_utf8_lossy(&ran.stdout);
    assert!(ran.status.success() && text.contains("order"), "{text}");
    let rm = env.rkt(&["rm", &format!("--uuid-file={}", ran_uuid.display())]);
    assert!(rm.status.success());
    // rkt's words: --debug lines, and image IDs that match nothing.
    let o = env.rkt(&["--debug", "fetch", "--store-only", "example.com/hello"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success()
            && err.contains("image: using image from local store for image name example.com/hello"),
        "{err}"
    );
    for (id, said) in [
        ("sha512-00", "no image IDs found"),
        ("sha512-0", "image ID too short"),
    ] {
        let err = support::one_line_error(&env.rkt(&["image", "cat-manifest", id]));
        assert!(err.contains(said), "{id}: {err}");
    }
    // status --uuid-file, of a prepared pod.
    let prepared = env.rkt(&[
        "--insecure-options=image",
        "prepare",
        "--quiet",
        img,
        "--cap-retain=CAP_SETUID",
    ]);
    assert!(
        prepared.status.success(),
        "{}",
        String::from_utf8_lossy(&prepared.stderr)
    );
    let uuid_file = env.path("uuid");
    std::fs::write(&uuid_file, &prepared.stdout).unwrap();
    let (code, text) = out(
        &env,
        &["status", &format!("--uuid-file={}", uuid_file.display())],
    );
    assert_eq!(code, Some(0));
    assert!(text.starts_with("state=prepared"), "{text}");
    let full = out(&env, &["list", "--full"]).1;
    let mut lines = full.lines();
    assert_eq!(
        lines.next(),
        Some("UUID\tAPP\tIMAGE NAME\tIMAGE ID\tSTATE\tCREATED\tSTARTED\tNETWORKS")
    );
    let row: Vec<&str> = lines.next().unwrap().split('\t').collect();
    // The image ID in rkt's form: sha512- and 12 hex digits.
    assert!(
        row[3].starts_with("sha512-") && row[3].len() == 19 && row[4] == "prepared",
        "{row:?}"
    );
    let manifest = out(
        &env,
        &[
            "cat-manifest",
            String::from_utf8_lossy(&prepared.stdout).trim(),
        ],
    )
    .1;
    assert!(manifest.contains("CAP_SETUID"), "{manifest}");
    assert!(
        env.rkt(&["rm", "--uuid-file", uuid_file.to_str().unwrap()])
            .status
            .success()
    );
    // image rm ends with rkt's count.
    let (code, text) = out(&env, &["image", "rm", "example.com/hello"]);
    assert_eq!(code, Some(0));
    assert!(
        text.ends_with("rm: 1 image(s) successfully removed\n"),
        "{text}"
    );
}

#[test]
fn commands_that_need_root_say_so_first() {
    let env = Env::new();
    if !rustix::process::geteuid().is_root() || !std::path::Path::new("/usr/bin/setpriv").exists() {
        assert!(std::env::var_os("CI").is_none(), "needs root and setpriv");
        appc::testing::skipped("not root, or no setpriv: the unprivileged-user check");
        return;
    }
    let rkt = env.rkt_command(&[]);
    for args in [
        &["run", "--no-such-flag-either", "x"][..],
        &["enter", "x"],
        &["gc"],
        // Before the arguments missing, as rkt.
        &["run"],
        &["prepare"],
        &["run-prepared"],
        &["enter"],
    ] {
        let out = std::process::Command::new("/usr/bin/setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(rkt.get_program())
            .args(rkt.get_args())
            .args(args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(254), "{args:?}: {err}");
        assert!(
            err.ends_with("cannot run as unprivileged user\n"),
            "{args:?}: {err}"
        );
    }
}
