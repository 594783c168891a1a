//! The stage1 executable: `init` (default flavour), `fly`, `enter`, `stop`
//! or `gc` (the garbage-collection entrypoint), by the name it is invoked as.

use std::process::ExitCode;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    let invoked = argv
        .first()
        .map(|a| a.rsplit('/').next().unwrap_or(a).to_string())
        .unwrap_or_default();
    if invoked == "gc" {
        return gc(&argv[1..]);
    }
    if invoked == "stop" {
        return match stage1::stop::run(&argv[1..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                report("stage1 stop", &e);
                ExitCode::from(254)
            }
        };
    }
    // What a pod can see of stage1 runs from a read-only executable.
    if let Err(e) = pod::exe::ensure_read_only() {
        report("stage1", &e);
        return ExitCode::from(254);
    }
    if invoked == "enter" {
        return match stage1::enter::run(&argv[1..]) {
            Ok(code) => ExitCode::from(code as u8),
            Err(e) => {
                report("stage1 enter", &e);
                ExitCode::from(254)
            }
        };
    }
    let args = match stage1::args::Args::parse(&argv[1..]) {
        Ok(a) => a,
        Err(e) => {
            report("stage1", &e);
            return ExitCode::from(254);
        }
    };
    let fly = invoked == "fly";
    match stage1::supervisor::run(&args, fly) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            report("stage1", &e);
            ExitCode::from(254)
        }
    }
}

/// Prints `context: error` on one line, fit for the terminal: an error may
/// quote what an image holds (an exec path, a mount's target).
fn report(context: &str, e: &dyn std::fmt::Display) {
    eprintln!("{context}: {}", appc::printable::one_line(&e.to_string()));
}

/// rkt's gc interface: run in the pod's directory as `gc [--debug[=B]] UUID`;
/// releases what the pod's supervisor could not: its networks (CNI DEL,
/// the pinned namespace) and its cgroups. With `--force` (ours), a
/// network whose DEL fails is let go (its namespace removed), what could
/// not be released is named, and the pod may go.
fn gc(args: &[String]) -> ExitCode {
    let force = args.iter().any(|a| a == "--force" || a == "--force=true");
    let uuids: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let [uuid] = uuids[..] else {
        eprintln!("stage1 gc: expected one pod UUID");
        return ExitCode::from(254);
    };
    let pod_dir = pod::PodDir::new(".");
    let joiner = stage1::net::Joiner {
        pod_dir: &pod_dir,
        uuid,
        path: stage1::net::plugin_path(std::path::Path::new("/etc/rkt")),
    };
    let networks = if force {
        joiner.release().or_else(|e| {
            report("stage1 gc: could not release", &e);
            Ok(())
        })
    } else {
        joiner.leave()
    };
    let cgroups = stage1::cgroups::remove_recorded(&pod_dir, uuid);
    match networks.and(cgroups) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report("stage1 gc", &e);
            ExitCode::from(254)
        }
    }
}
