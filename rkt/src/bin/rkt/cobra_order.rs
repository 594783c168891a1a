//! rkt parses its command line with cobra, which finds the subcommand's
//! name among the arguments first and then parses every flag, wherever it
//! stands, with that subcommand's flags: `rkt --debug --set-env=A=B run
//! IMAGE` is `rkt run --debug --set-env=A=B IMAGE`. clap wants a
//! subcommand's flags after its name, so the flags found before the names
//! are moved to just after them.
//!
//! A command's own flags are known only once clap defines its arguments,
//! which rkt defers until the command is chosen (see main.rs): a flag
//! known to no command yet takes the next argument as its value unless
//! that argument names a command.

use std::ffi::OsString;

/// `args` (program name first) with the flags that precede the subcommand
/// names moved after the last of them.
pub fn reorder(cmd: &clap::Command, args: Vec<OsString>) -> Vec<OsString> {
    let mut args = args.into_iter().peekable();
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
            let needs_value = !flag.contains('=')
                && takes_value(current, flag).unwrap_or_else(|| {
                    args.peek().is_some_and(|next| {
                        let next = next.to_string_lossy();
                        !next.starts_with('-') && current.find_subcommand(&*next).is_none()
                    })
                });
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
/// from the next argument, if any of them defines it yet. Boolean flags
/// take theirs only after `=`.
fn takes_value(cmd: &clap::Command, name: &str) -> Option<bool> {
    let own = cmd
        .get_arguments()
        .find(|a| a.get_long() == Some(name))
        .map(|a| a.get_action().takes_values() && !a.is_require_equals_set());
    cmd.get_subcommands()
        .map(|s| takes_value(s, name))
        .fold(own, |found, sub| match (found, sub) {
            (Some(a), Some(b)) => Some(a || b),
            (a, b) => a.or(b),
        })
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
        order_with(&cli(), args)
    }

    fn order_with(cmd: &Command, args: &[&str]) -> Vec<String> {
        reorder(cmd, args.iter().map(Into::into).collect())
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

    /// A command whose arguments clap has not defined yet.
    #[test]
    fn flags_of_deferred_commands() {
        let cmd = Command::new("rkt")
            .arg(Arg::new("dir").long("dir").global(true))
            .subcommand(Command::new("list"))
            .subcommand(Command::new("run").defer(|c| {
                c.arg(Arg::new("set-env").long("set-env"))
                    .arg(
                        Arg::new("interactive")
                            .long("interactive")
                            .num_args(0..=1)
                            .require_equals(true),
                    )
                    .arg(Arg::new("apps").num_args(0..))
            }));
        assert_eq!(
            order_with(&cmd, &["rkt", "--set-env", "A=B", "run", "img"]),
            ["rkt", "run", "--set-env", "A=B", "img"]
        );
        assert_eq!(
            order_with(&cmd, &["rkt", "--interactive", "run", "img"]),
            ["rkt", "run", "--interactive", "img"]
        );
        assert_eq!(
            order_with(&cmd, &["rkt", "--dir", "/d", "run", "--interactive", "img"]),
            ["rkt", "run", "--dir", "/d", "--interactive", "img"]
        );
    }
}
