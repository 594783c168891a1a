//! `rkt export [--app=NAME] [--overwrite] UUID OUT.aci`: an app of an
//! exited pod, as it was when the pod ended, as an ACI.
//!
//! The app's root (its image's tree under the pod's writable layer) was
//! mounted in the pod's own mount namespace, gone with the pod; a child
//! process mounts the same overlay again in a private mount namespace and
//! builds the image from it, so nothing is mounted on the host.

use crate::Settings;
use anyhow::{Context, bail};
use nix::mount::{MsFlags, mount};
use nix::sched::{CloneFlags, unshare};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, fork};
use rkt::pods::{Pods, State};
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
#[group(skip)]
#[command(mut_args = crate::pflag_bool)]
pub struct Args {
    /// the app to export (needed when the pod has several)
    #[arg(long)]
    app: Option<String>,
    /// replace the output file if it exists
    #[arg(long)]
    overwrite: bool,
    uuid: String,
    output: PathBuf,
}

/// Mounts the app's root on the layout's `rootfs` in a new mount namespace
/// of this (child) process (the overlay again, or a bind of the copy the
/// app ran in) and writes the ACI.
fn build(
    tree: &Path,
    overlay: &Path,
    copy: &Path,
    layout: &Path,
    out: &Path,
) -> anyhow::Result<()> {
    unshare(CloneFlags::CLONE_NEWNS).context("new mount namespace")?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .context("making mounts private")?;
    let opts = pod::dir::overlay_options(tree, overlay);
    let target = layout.join("rootfs");
    if overlay.exists() {
        mount(
            Some("overlay"),
            &target,
            Some("overlay"),
            MsFlags::empty(),
            Some(opts.as_str()),
        )
    } else {
        mount(
            Some(copy),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
    }
    .context("mounting the app's root")?;
    let file = std::fs::File::create(out).with_context(|| out.display().to_string())?;
    appc::aci::build_aci(layout, file, appc::aci::BuildOptions::default())?;
    Ok(())
}

pub fn run(settings: &Settings, a: Args) -> anyhow::Result<()> {
    let pod = Pods::open(&settings.data_dir)?.find(&a.uuid)?;
    if !matches!(pod.state()?, State::Exited | State::ExitedGarbage) {
        bail!(
            "pod {} has not exited; only an exited pod's app can be exported",
            pod.uuid
        );
    }
    if a.output.exists() && !a.overwrite {
        bail!(
            "{} already exists (use --overwrite to replace it)",
            a.output.display()
        );
    }
    let app = &pod.app(a.app.as_deref())?;
    let name = app.name.as_str();
    let files = pod.files();
    let tree = files
        .read_app_tree(name)
        .with_context(|| files.app_tree(name).display().to_string())?;
    let overlay = files.overlay(name);
    // The layout: the image's manifest, and a rootfs to mount on.
    let layout = files.export().join(name);
    let _ = std::fs::remove_dir_all(&layout);
    std::fs::create_dir_all(layout.join("rootfs"))?;
    std::fs::copy(tree.join("manifest"), layout.join("manifest"))
        .context("the image's manifest")?;
    let tmp = a.output.with_file_name(format!(
        ".{}.{}.tmp",
        a.output.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    // SAFETY: rkt is single-threaded here (no HTTP client was made); the
    // child exits without returning.
    let result = match unsafe { fork() }.context("fork")? {
        ForkResult::Child => {
            let copy = files.app_root(name);
            let code = match build(&tree, &overlay, &copy, &layout, &tmp) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("export: {}", appc::printable::one_line(&format!("{e:#}")));
                    254
                }
            };
            std::process::exit(code);
        }
        ForkResult::Parent { child } => waitpid(child, None),
    };
    let _ = std::fs::remove_dir_all(files.export());
    match result {
        Ok(WaitStatus::Exited(_, 0)) => {
            std::fs::rename(&tmp, &a.output).with_context(|| a.output.display().to_string())
        }
        _ => {
            let _ = std::fs::remove_file(&tmp);
            bail!("exporting app {name} of pod {} failed", pod.uuid)
        }
    }
}
