//! The stage1 executable: `init` (default flavour) or `fly`, by the name it
//! is invoked as.

use std::process::ExitCode;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    let invoked = argv
        .first()
        .map(|a| a.rsplit('/').next().unwrap_or(a).to_string())
        .unwrap_or_default();
    let args = match stage1::args::Args::parse(&argv[1..]) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("stage1: {e}");
            return ExitCode::from(254);
        }
    };
    let fly = invoked == "fly";
    match stage1::supervisor::run(&args, fly) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("stage1: {e}");
            ExitCode::from(254)
        }
    }
}
