//! rkt parses its command line with cobra, which finds the subcommand's
//! name among the arguments first and then parses every flag, wherever it
//! stands, with that subcommand's flags: `rkt --debug --set-env=A=B run
//! IMAGE` is `rkt run --debug --set-env=A=B IMAGE`. clap wants a
//! subcommand's flags after its name, so the flags found before the names
//! are moved to just after them.

use std::ffi::OsString;

/// `args` (program name first) with the flags that precede the subcommand
/// names moved after the last of them.
pub fn reorder(cmd: &clap::Command, args: Vec<OsString>) -> Vec<OsString> {
    let mut args = args.into_iter();
    let mut names: Vec<OsString> = args.next().into_iter().collect();
    let mut flags = Vec::new();
    let mut current = cmd;
    let mut rest: Vec<OsString> = Vec::new();
    while let Some(arg) = args.next() {
        let text = arg.to_string_lossy().into_owned();
        if text == "--" {
            rest.push(arg);
            break;
        }
        if let Some(flag) = text.strip_prefix("--") {
            let needs_value = !flag.contains('=') && takes_value(current, flag);
            flags.push(arg);
            if needs_value {
                flags.extend(args.next());
            }
            continue;
        }
        if text.starts_with('-') && text.len() > 1 {
            flags.push(arg);
            continue;
        }
        match current.find_subcommand(&text) {
            Some(sub) => {
                current = sub;
                names.push(arg);
            }
            None => {
                rest.push(arg);
                break;
            }
        }
    }
    names.extend(flags);
    names.extend(rest);
    names.extend(args);
    names
}

/// Whether `--name` (of `cmd` or any command below it) takes its value
/// from the next argument. Boolean flags take theirs only after `=`.
fn takes_value(cmd: &clap::Command, name: &str) -> bool {
    let own = cmd.get_arguments().any(|a| {
        a.get_long() == Some(name) && a.get_action().takes_values() && !a.is_require_equals_set()
    });
    own || cmd.get_subcommands().any(|s| takes_value(s, name))
}

#[cfg(test)]
mod tests {
    use super::reorder;
    use clap::{Arg, ArgAction, Command};

    fn cli() -> Command {
        Command::new("rkt")
            .arg(Arg::new("dir").long("dir").global(true))
            .arg(
                Arg::new("debug")
                    .long("debug")
                    .global(true)
                    .num_args(0..=1)
                    .require_equals(true),
            )
            .subcommand(
                Command::new("run")
                    .arg(
                        Arg::new("set-env")
                            .long("set-env")
                            .action(ArgAction::Append),
                    )
                    .arg(Arg::new("apps").num_args(0..).trailing_var_arg(true)),
            )
            .subcommand(Command::new("image").subcommand(Command::new("list")))
    }

    fn order(args: &[&str]) -> Vec<String> {
        reorder(&cli(), args.iter().map(Into::into).collect())
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn flags_before_the_names_go_after_them() {
        assert_eq!(
            order(&["rkt", "--debug", "--set-env=A=B", "run", "img", "--exec=x"]),
            ["rkt", "run", "--debug", "--set-env=A=B", "img", "--exec=x"]
        );
        assert_eq!(
            order(&["rkt", "--dir", "/d", "image", "--debug", "list"]),
            ["rkt", "image", "list", "--dir", "/d", "--debug"]
        );
        assert_eq!(
            order(&["rkt", "--set-env", "A=B", "run", "img"]),
            ["rkt", "run", "--set-env", "A=B", "img"]
        );
    }

    #[test]
    fn what_follows_the_names_is_kept_as_it_is() {
        for args in [
            &["rkt", "run", "--dir=/d", "img", "run", "--", "run"][..],
            &["rkt", "run", "img", "---", "img2"],
            &["rkt", "--", "run"],
            &["rkt"],
        ] {
            assert_eq!(order(args), args);
        }
        // A boolean's value is never the next argument.
        assert_eq!(
            order(&["rkt", "--debug", "run", "img"]),
            ["rkt", "run", "--debug", "img"]
        );
    }
}
