//! `rkt image list|rm|gc|cat-manifest|export|extract|render`.

use crate::Settings;
use anyhow::{Context, bail};
use rkt::display::{ago, full_time, iec_bytes, now_nanos, parse_duration};
use rkt::fetch::{Fetcher, HttpClient, PullPolicy};
use rkt::pods::Pods;
use rkt::store::{ImageRecord, ImageStore};
use std::path::{Path, PathBuf};

#[derive(clap::Subcommand)]
pub enum Command {
    /// List images in the local store
    List(ListArgs),
    /// Remove one or more images from the local store
    #[group(skip)]
    Rm {
        /// image IDs (or unique prefixes) or names
        #[arg(required = true)]
        images: Vec<String>,
    },
    /// Remove unused images and leftovers from the local store
    #[group(skip)]
    Gc {
        /// remove images unused for this long
        #[arg(long, default_value = "24h")]
        grace_period: String,
    },
    /// Print the manifest of an image in the local store
    #[group(skip)]
    CatManifest {
        #[arg(long)]
        pretty_print: bool,
        image: String,
    },
    /// Export a stored image to an ACI file
    #[group(skip)]
    Export {
        #[arg(long)]
        overwrite: bool,
        image: String,
        output: PathBuf,
    },
    /// Extract a stored image (without its dependencies) to a directory
    Extract(TreeArgs),
    /// Render a stored image, dependencies applied, to a directory
    Render(TreeArgs),
}

#[derive(clap::Args)]
#[group(skip)]
pub struct ListArgs {
    /// comma-separated fields: id, name, size, importtime, lastused
    #[arg(long, default_value = "id,name,size,importtime,lastused")]
    fields: String,
    /// sort by: name, importtime, lastused, size
    #[arg(long, default_value = "importtime")]
    sort: String,
    /// asc or desc
    #[arg(long, default_value = "asc", value_parser = ["asc", "desc"])]
    order: String,
    /// output format: json or json-pretty
    #[arg(long, value_parser = ["json", "json-pretty"])]
    format: Option<String>,
    /// use long output format
    #[arg(long)]
    full: bool,
    /// suppress the legend
    #[arg(long)]
    no_legend: bool,
}

#[derive(clap::Args)]
#[group(skip)]
pub struct TreeArgs {
    /// only the rootfs, not the manifest
    #[arg(long)]
    rootfs_only: bool,
    /// replace the target directory if it exists
    #[arg(long)]
    overwrite: bool,
    image: String,
    target: PathBuf,
}

fn list(store: &ImageStore, a: ListArgs) -> anyhow::Result<()> {
    let mut records = store.records()?;
    for key in a.sort.split(',').rev() {
        match key {
            "name" => records.sort_by(|x, y| x.name.cmp(&y.name)),
            "importtime" => records.sort_by_key(|r| r.import_time),
            "lastused" => records.sort_by_key(|r| r.last_used),
            "size" => records.sort_by_key(|r| r.size),
            other => bail!("unknown sort field {other:?} (name, importtime, lastused, size)"),
        }
    }
    if a.order == "desc" {
        records.reverse();
    }
    if let Some(format) = &a.format {
        let items: Vec<serde_json::Value> = records
            .iter()
            .map(|r| {
                serde_json::json!({"id": r.id, "name": r.display_name(), "size": r.size,
                                   "import_time": r.import_time, "last_used": r.last_used})
            })
            .collect();
        return crate::print_json(&items, format);
    }
    let fields: Vec<&str> = a.fields.split(',').collect();
    const KNOWN: [&str; 5] = ["id", "name", "size", "importtime", "lastused"];
    if let Some(bad) = fields.iter().find(|f| !KNOWN.contains(f)) {
        bail!("--fields: unknown field {bad:?} ({})", KNOWN.join(", "));
    }
    let now = now_nanos();
    let cell = |r: &ImageRecord, f: &str| -> anyhow::Result<String> {
        Ok(match (f, a.full) {
            ("id", true) => r.id.clone(),
            ("id", false) => r.id.chars().take(19).collect(),
            // The version label is the image's own text.
            ("name", _) => appc::printable::one_line(&r.display_name()),
            ("size", true) => r.size.to_string(),
            ("size", false) => iec_bytes(r.size),
            ("importtime", true) => full_time(r.import_time),
            ("importtime", false) => ago(r.import_time, now),
            ("lastused", true) => full_time(r.last_used),
            ("lastused", false) => ago(r.last_used, now),
            (other, _) => unreachable!("fields are checked: {other}"),
        })
    };
    let mut out = String::new();
    if !a.no_legend {
        let legend: Vec<&str> = fields
            .iter()
            .map(|f| match *f {
                "id" => "ID",
                "name" => "NAME",
                "size" => "SIZE",
                "importtime" => "IMPORT TIME",
                "lastused" => "LAST USED",
                other => other,
            })
            .collect();
        out.push_str(&legend.join("\t"));
        out.push('\n');
    }
    for r in &records {
        let row: Vec<String> = fields
            .iter()
            .map(|f| cell(r, f))
            .collect::<anyhow::Result<_>>()?;
        out.push_str(&row.join("\t"));
        out.push('\n');
    }
    print!("{out}");
    Ok(())
}

/// Prepares an empty target directory, replacing it with `overwrite`.
fn empty_target(target: &Path, overwrite: bool) -> anyhow::Result<()> {
    if target.exists() {
        if !overwrite {
            bail!(
                "{} already exists (use --overwrite to replace it)",
                target.display()
            );
        }
        std::fs::remove_dir_all(target).with_context(|| target.display().to_string())?;
    }
    std::fs::create_dir_all(target).with_context(|| target.display().to_string())
}

/// Copies `from` to `to` whole or not at all.
fn copy_atomically(from: &Path, to: &Path, overwrite: bool) -> anyhow::Result<()> {
    if to.exists() && !overwrite {
        bail!(
            "{} already exists (use --overwrite to replace it)",
            to.display()
        );
    }
    let name = to
        .file_name()
        .with_context(|| format!("{}: not a file name", to.display()))?;
    let tmp = to.with_file_name(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = std::fs::copy(from, &tmp).and_then(|_| std::fs::rename(&tmp, to));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| to.display().to_string())
}

pub fn run(settings: &Settings, command: Command) -> anyhow::Result<()> {
    let store = settings.image_store()?;
    let trust = settings.trust_store();
    let fetcher = || -> anyhow::Result<Fetcher<'_>> {
        Ok(Fetcher {
            store: &store,
            trust: &trust,
            insecure: settings.insecure,
            pull_policy: PullPolicy::Never,
            signature: None,
            trust_keys_from_https: false,
            http: HttpClient::new(false, Default::default(), false, settings.fetch_limits)?,
            docker_auth: Default::default(),
            debug: settings.debug,
        })
    };
    match command {
        Command::List(a) => list(&store, a),
        Command::Rm { images } => {
            let _removing = store.lock_removals()?;
            let in_use = Pods::open(&settings.data_dir)?.images_in_use()?;
            let mut failures: Vec<anyhow::Error> = Vec::new();
            for given in &images {
                let removed = store
                    .resolve(given)
                    .map_err(anyhow::Error::from)
                    .and_then(|r| {
                        // As rkt: what pods on disk use leaves the list and
                        // its blob goes; its tree stays until they are
                        // collected (then `rkt image gc` removes it).
                        if in_use.contains_key(&r.hash()) {
                            store.retire(&r.hash())?;
                        } else {
                            store.remove(&r.hash())?;
                        }
                        Ok(r)
                    });
                match removed {
                    Ok(r) => println!("successfully removed aci for image: {}", r.id),
                    Err(e) => failures.push(e),
                }
            }
            let removed = images.len() - failures.len();
            if removed > 0 {
                println!("rm: {removed} image(s) successfully removed");
            }
            match failures.len() {
                0 => Ok(()),
                1 => Err(failures.remove(0)),
                n => {
                    for e in &failures {
                        eprintln!("image rm: {}", appc::printable::one_line(&e.to_string()));
                    }
                    bail!("{n} of {} images could not be removed", images.len())
                }
            }
        }
        Command::Gc { grace_period } => {
            let grace = parse_duration(&grace_period)
                .with_context(|| format!("invalid --grace-period {grace_period:?}"))?;
            let cutoff = now_nanos() - grace.as_nanos() as i64;
            // What a pod refers to stays, however long unused: a running
            // app's root, or the stage1 that gc needs for its pod; and
            // pods being prepared record theirs first.
            let _removing = store.lock_removals()?;
            let in_use = Pods::open(&settings.data_dir)?.images_in_use()?;
            for r in store.records()? {
                if r.last_used < cutoff && !in_use.contains_key(&r.hash()) {
                    store.remove(&r.hash())?;
                    println!("successfully removed aci for image: {}", r.id);
                }
            }
            let leftovers = store.collect_garbage(&in_use)?;
            if leftovers > 0 {
                eprintln!(
                    "removed {leftovers} leftovers (of interrupted operations, and trees of removed images no pod uses)"
                );
            }
            Ok(())
        }
        Command::CatManifest {
            pretty_print,
            image,
        } => {
            let r = store.resolve(&image)?;
            let text = if pretty_print {
                appc::schema::to_json_pretty(&r.manifest)?
            } else {
                r.manifest.to_json()?
            };
            println!("{text}");
            Ok(())
        }
        Command::Export {
            overwrite,
            image,
            output,
        } => {
            let r = store.resolve(&image)?;
            copy_atomically(&store.blob_path(&r.hash()), &output, overwrite)
        }
        Command::Extract(a) => {
            let r = store.resolve(&a.image)?;
            empty_target(&a.target, a.overwrite)?;
            let rootfs = if a.rootfs_only {
                a.target.clone()
            } else {
                a.target.join("rootfs")
            };
            std::fs::create_dir_all(&rootfs)?;
            fetcher()?.extract(&r, &rootfs)?;
            if !a.rootfs_only {
                std::fs::write(a.target.join("manifest"), r.manifest.to_json()?)?;
            }
            Ok(())
        }
        Command::Render(a) => {
            let r = store.resolve(&a.image)?;
            empty_target(&a.target, a.overwrite)?;
            Ok(fetcher()?.render(&r, &a.target, a.rootfs_only)?)
        }
    }
}
