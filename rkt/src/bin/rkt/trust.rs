//! `rkt trust [--prefix=PREFIX | --root] [--skip-fingerprint-review]
//! [--insecure-allow-http] [PUBKEY_FILE_OR_URL...]`
//!
//! Without keys given, they are discovered from the prefix's
//! `ac-discovery-pubkeys`. Each key is shown (prefix, location,
//! fingerprint, user IDs) and trusted only after the user answers "yes".

use crate::Settings;
use anyhow::{Context, bail};
use appc::discovery::{AppName, DiscoveryClient, Insecure};
use rkt::fetch::HttpClient;
use rkt::pgp::PublicKey;
use rkt::trust::Scope;
use std::io::BufRead;

#[derive(clap::Args)]
#[group(skip)]
#[command(mut_args = crate::pflag_bool)]
pub struct Args {
    /// image name prefix the key is trusted for
    #[arg(long)]
    prefix: Option<String>,
    /// trust the key for all images (a root key)
    #[arg(long, conflicts_with = "prefix")]
    root: bool,
    /// trust without asking for a fingerprint review
    #[arg(long)]
    skip_fingerprint_review: bool,
    /// allow fetching keys over plain HTTP
    #[arg(long)]
    insecure_allow_http: bool,
    /// key files or URLs; discovered from --prefix when none
    keys: Vec<String>,
}

/// `8B86 DE38 890D DB72 9186  7B02 5210 BD88 8818 2190`, as gpg prints it.
fn spaced(fp: &str) -> String {
    let groups: Vec<String> = fp
        .to_uppercase()
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    let half = groups.len() / 2;
    format!("{}  {}", groups[..half].join(" "), groups[half..].join(" "))
}

fn ask(question: &str) -> anyhow::Result<bool> {
    eprint!("{question} ");
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the answer")?;
    Ok(line.trim() == "yes")
}

pub fn run(settings: &Settings, args: Args) -> anyhow::Result<()> {
    let scope = match (&args.prefix, args.root) {
        (Some(p), false) => Scope::Prefix(p.clone()),
        (None, true) => Scope::Root,
        _ => bail!("--prefix or --root is required"),
    };
    let allow_http = args.insecure_allow_http || settings.insecure.pubkey;
    let http = HttpClient::new(
        settings.insecure.tls,
        settings.config.auth.clone(),
        false,
        settings.fetch_limits,
    )?;
    let mut locations = args.keys.clone();
    if locations.is_empty() {
        let Scope::Prefix(prefix) = &scope else {
            bail!("--root needs the key files or URLs to trust")
        };
        let app = AppName::parse(prefix).with_context(|| format!("invalid prefix {prefix:?}"))?;
        let client = DiscoveryClient::new(
            Insecure {
                http: allow_http,
                tls: settings.insecure.tls,
            },
            None,
        )?;
        let (urls, _) = client
            .public_keys(&app)
            .map_err(|e| anyhow::anyhow!("no keys discovered for {prefix}: {e}"))?;
        locations = urls;
    }
    let store = settings.trust_store();
    for location in &locations {
        let bytes = if location.starts_with("https://") || location.starts_with("http://") {
            if location.starts_with("http://") && !allow_http {
                bail!("{location}: plain HTTP is refused (allow it with --insecure-allow-http)");
            }
            http.get_small(location)?
        } else {
            std::fs::read(location).with_context(|| location.clone())?
        };
        let key = PublicKey::parse(&bytes).with_context(|| location.clone())?;
        match &scope {
            Scope::Prefix(p) => eprintln!("Prefix: {p:?}"),
            Scope::Root => eprintln!("Root key"),
        }
        eprintln!("Key: {location:?}");
        eprintln!("GPG key fingerprint is: {}", spaced(&key.fingerprint()));
        for uid in key.user_ids() {
            // A key's user IDs are what its maker wrote.
            eprintln!("\t{}", appc::printable::one_line(&uid));
        }
        if args.skip_fingerprint_review {
            eprintln!("Trusting {location:?} without fingerprint review.");
        } else if ask("Are you sure you want to trust this key (yes/no)?")? {
            eprintln!("Trusting {location:?} after fingerprint review.");
        } else {
            bail!("not trusting {location:?}");
        }
        let path = store.add(&key, &scope)?;
        match &scope {
            Scope::Prefix(p) => println!(
                "Added key for prefix {p:?} at {:?}",
                path.display().to_string()
            ),
            Scope::Root => println!("Added root key at {:?}", path.display().to_string()),
        }
    }
    Ok(())
}
