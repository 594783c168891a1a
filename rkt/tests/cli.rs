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
