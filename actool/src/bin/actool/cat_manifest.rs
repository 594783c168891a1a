//! `actool cat-manifest [--pretty-print] ACI`.

use crate::{Failed, fail};
use std::fs::File;

#[derive(clap::Args)]
pub struct Args {
    /// Print with indentation
    #[arg(long)]
    pretty_print: bool,
    /// The image
    aci: String,
}

pub fn run(args: Args) -> Result<(), Failed> {
    let f = File::open(&args.aci).map_err(|e| fail(&args.aci, e))?;
    let m = appc::aci::manifest_from_archive(f).map_err(|e| fail(&args.aci, e))?;
    let text = if args.pretty_print {
        appc::schema::to_json_pretty(&m)
    } else {
        m.to_json()
    };
    println!("{}", text.map_err(|e| fail(&args.aci, e))?);
    Ok(())
}
