//! `rkt fetch [--pull-policy=new|update|never] [--signature=FILE] [--full] IMAGE...`

use crate::Settings;
use anyhow::Context;
use rkt::fetch::{Fetcher, HttpClient, ImageRef, PullPolicy};
use rkt::stage1_image::{self, Flavor};
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(clap::Args)]
#[group(skip)]
#[command(mut_args = crate::pflag_bool)]
pub struct Args {
    /// when to fetch: new (only what the store lacks), update (ask the source), never (store only)
    #[arg(long, default_value = "new", value_parser = ["new", "update", "never"])]
    pull_policy: String,
    /// only use images already in the store (rkt's older --pull-policy=never)
    #[arg(long)]
    store_only: bool,
    /// always fetch, even what the store has (rkt's older --pull-policy=update)
    #[arg(long)]
    no_store: bool,
    /// local signature file to use in validating the preceding image
    #[arg(long)]
    signature: Vec<PathBuf>,
    /// print the full image hash after fetching
    #[arg(long)]
    full: bool,
    /// images: file paths, http(s) URLs or names (name[:version][,label=value])
    #[arg(required = true)]
    images: Vec<String>,
}

pub fn run(settings: &Settings, args: Args) -> anyhow::Result<()> {
    let store = settings.image_store()?;
    let trust = settings.trust_store();
    let pull_policy = PullPolicy::from_flags(&args.pull_policy, args.store_only, args.no_store)
        .context("--pull-policy is new, update or never, and --store-only excludes --no-store")?;
    let progress = std::io::stderr().is_terminal();
    for (i, image) in args.images.iter().enumerate() {
        let reference = ImageRef::parse(image)?;
        // Said by the fetcher itself with --debug.
        if let ImageRef::File(path) = &reference
            && !settings.debug
        {
            eprintln!("image: using image from file {}", path.display());
        }
        // This installation's own stage1 images are found locally, and
        // trusted as part of it.
        let own_stage1 = match &reference {
            ImageRef::Name(n) if n.labels.is_empty() => Flavor::from_name(n.name.as_str()),
            _ => None,
        };
        let mut insecure = settings.insecure;
        insecure.image |= own_stage1.is_some();
        let fetcher = Fetcher {
            store: &store,
            trust: &trust,
            insecure,
            pull_policy,
            signature: args.signature.get(i).cloned(),
            trust_keys_from_https: settings.trust_keys_from_https,
            http: HttpClient::new(
                settings.insecure.tls,
                settings.config.auth.clone(),
                progress,
                settings.fetch_limits,
            )?,
            docker_auth: settings.config.docker_auth.clone(),
            debug: settings.debug,
        };
        let images_dir = settings.config.stage1_images_dir.as_deref();
        let record = match own_stage1 {
            Some(flavor) => stage1_image::ensure(&store, &fetcher, flavor, images_dir)?,
            None => fetcher.fetch(&reference)?,
        };
        if args.full {
            println!("{}", record.id);
        } else {
            println!("{}", appc::schema::types::hash::short_hash(&record.id));
        }
    }
    Ok(())
}
