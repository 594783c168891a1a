//! Each app of a pod: its image's app section with the app flags applied,
//! checked against the image before any pod exists.

use super::app_flags::AppArgs;
use super::{Explain, PrepareError, Result, refuse};
use crate::store::{ImageRecord, ImageStore};
use appc::schema::pod_manifest::{Mount, RuntimeApp, RuntimeImage};
use appc::schema::types::isolator::{
    CAPABILITIES_REMOVE, CAPABILITIES_RETAIN, SECCOMP_REMOVE, SECCOMP_RETAIN, linux_capability,
};
use appc::schema::types::{AcName, App, Hash, Isolator, IsolatorValue, Volume};
use rustix::fs::{Mode, OFlags, ResolveFlags};
use std::path::Path;

/// Whether `path` exists inside `root`, symlinks resolved within it.
fn exists_in(root: &Path, path: &str) -> bool {
    let Ok(dir) = rustix::fs::open(
        root,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) else {
        return false;
    };
    let rel = path.trim_start_matches('/');
    let rel = if rel.is_empty() { "." } else { rel };
    rustix::fs::openat2(
        &dir,
        rel,
        OFlags::PATH | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT,
    )
    .is_ok()
}

/// A file of the image's, read with symlinks resolved within it.
fn read_in(root: &Path, path: &str) -> Option<String> {
    let dir = rustix::fs::open(
        root,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let fd = rustix::fs::openat2(
        &dir,
        path.trim_start_matches('/'),
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT,
    )
    .ok()?;
    std::io::read_to_string(std::fs::File::from(fd)).ok()
}

/// Checks what stage1 would otherwise fail on, with a clear message.
pub fn check_app(name: &str, root: &Path, app: &App) -> Result<()> {
    for value in app.isolators.iter().filter_map(|i| i.value()) {
        if let IsolatorValue::CapabilitiesRetain(set) | IsolatorValue::CapabilitiesRemove(set) =
            value
            && let Some(bad) = set.iter().find(|c| linux_capability(c).is_none())
        {
            refuse!("app {name}: unknown capability {bad}");
        }
    }
    let exec = app
        .exec
        .as_ref()
        .filter(|e| !e.is_empty())
        .explain(|| format!("app {name}: the image has no exec; give one with --exec"))?;
    let program = &exec[0];
    let path = app.environment.get("PATH").unwrap_or(pod::DEFAULT_PATH);
    let found = if program.contains('/') {
        exists_in(root, program)
    } else {
        path.split(':')
            .any(|d| exists_in(root, &format!("{d}/{program}")))
    };
    if !found {
        refuse!("app {name}: {program} is not in the image");
    }
    if !app.working_directory.is_empty() && !exists_in(root, &app.working_directory) {
        refuse!(
            "app {name}: working directory {} does not exist in the image",
            app.working_directory
        );
    }
    for (what, value, file) in [
        ("user", &app.user, "/etc/passwd"),
        ("group", &app.group, "/etc/group"),
    ] {
        if value.parse::<u32>().is_err() {
            let known = read_in(root, file).is_some_and(|t| {
                t.lines()
                    .any(|l| l.split(':').next() == Some(value.as_str()))
            });
            if !known {
                refuse!("app {name}: {what} {value:?} does not exist in the image's {file}");
            }
        }
    }
    Ok(())
}

/// Refuses an image whose own isolators (`from_image`) give the app more
/// than the defaults, unless the user grants it; the message names what
/// the image asks for and the flag that grants it.
pub fn check_grants(name: &str, from_image: &[Isolator], grants: super::Grants) -> Result<()> {
    let wider = pod::privileges::Widening::of(from_image);
    let few = |v: &[String]| {
        let shown: Vec<&str> = v.iter().take(6).map(String::as_str).collect();
        let more = v.len().saturating_sub(shown.len());
        match more {
            0 => shown.join(", "),
            n => format!("{} and {n} more", shown.join(", ")),
        }
    };
    if !grants.capabilities && !wider.capabilities.is_empty() {
        refuse!(
            "app {name}: its image asks for capabilities beyond the default set ({}); \
             grant them with --caps-retain or --insecure-options=capabilities",
            few(&wider.capabilities)
        );
    }
    if !grants.seccomp && !wider.syscalls.is_empty() {
        refuse!(
            "app {name}: its image's seccomp isolator lets through syscalls the default \
             filter refuses ({}); grant them with --seccomp or --insecure-options=seccomp",
            few(&wider.syscalls)
        );
    }
    Ok(())
}

/// The app's mounts: its --mount flags, then its image's mount points by
/// name; a mount point without a volume gets an empty one (as rkt does),
/// filled by stage1 with the image's files at that path.
fn mounts(name: &AcName, a: &AppArgs, app: &App, volumes: &mut Vec<Volume>) -> Result<Vec<Mount>> {
    let mut out = Vec::new();
    for (volume, target) in &a.mounts {
        let v = volumes
            .iter()
            .find(|v| v.name.as_str() == volume)
            .explain(|| format!("app {name}: --mount of an unknown volume {volume:?}"))?;
        out.push(Mount {
            volume: v.name.clone(),
            path: target.clone(),
            app_volume: None,
        });
    }
    for mp in &app.mount_points {
        if out.iter().any(|m: &Mount| m.volume == mp.name) {
            continue;
        }
        if !volumes.iter().any(|v| v.name == mp.name) {
            volumes.push(Volume::from_cli(&format!("{},kind=empty", mp.name))?);
        }
        out.push(Mount {
            volume: mp.name.clone(),
            path: mp.path.clone(),
            app_volume: None,
        });
    }
    Ok(out)
}

pub fn runtime_app(
    store: &ImageStore,
    a: &AppArgs,
    rec: &ImageRecord,
    set_env: &[(String, String)],
    inherited: &[(String, String)],
    volumes: &mut Vec<Volume>,
    grants: super::Grants,
) -> Result<RuntimeApp> {
    let default_name = rec.name.rsplit('/').next().unwrap_or(&rec.name);
    let name = match &a.name {
        Some(n) => AcName::new(n).explain(|| format!("--name {n:?}"))?,
        None => AcName::new(&AcName::sanitize(default_name)?)?,
    };
    let mut app = rec.manifest.app.clone().unwrap_or_else(|| App {
        user: "0".into(),
        group: "0".into(),
        ..App::default()
    });
    match (&a.exec, &a.args) {
        (Some(exec), args) => {
            let mut v = vec![exec.clone()];
            v.extend(args.iter().flatten().cloned());
            app.exec = Some(v);
        }
        (None, Some(args)) => {
            let first = app
                .exec
                .as_ref()
                .and_then(|e| e.first().cloned())
                .explain(|| format!("app {name}: the image has no exec; give one with --exec"))?;
            let mut v = vec![first];
            v.extend(args.iter().cloned());
            app.exec = Some(v);
        }
        (None, None) => {}
    }
    if let Some(u) = &a.user {
        app.user = u.clone();
    }
    if let Some(g) = &a.group {
        app.group = g.clone();
    }
    if let Some(w) = &a.working_dir {
        app.working_directory = w.clone();
    }
    if let Some(gids) = &a.supplementary_gids {
        app.supplementary_gids = gids.clone();
    }
    // A flag replaces the image's isolators of its kind; a seccomp or
    // capabilities flag both of that family's kinds (retain and remove),
    // as rkt replaces them.
    let families = [
        [SECCOMP_RETAIN, SECCOMP_REMOVE],
        [CAPABILITIES_RETAIN, CAPABILITIES_REMOVE],
    ];
    let replaced = |image: &str| {
        a.isolators.iter().any(|(kind, _, _)| {
            image == *kind
                || families
                    .iter()
                    .any(|f| f.contains(kind) && f.contains(&image))
        })
    };
    app.isolators.retain(|i| !replaced(i.name.as_str()));
    for (kind, given, value) in &a.isolators {
        let isolator = Isolator::new(kind, value.clone())
            .explain(|| format!("app {name}: {kind} {given:?}"))?;
        app.isolators.push(isolator);
    }
    // Those the flags put there (the last ones) are the user's.
    let from_image = app.isolators.len() - a.isolators.len();
    check_grants(name.as_str(), &app.isolators[..from_image], grants)?;
    for (k, v) in inherited {
        if app.environment.get(k).is_none() {
            app.environment.set(k, v)?;
        }
    }
    for (k, v) in set_env.iter().chain(&a.environment) {
        app.environment.set(k, v)?;
    }
    app.validate().explain(|| format!("app {name}"))?;
    check_app(
        name.as_str(),
        &store.tree_path(&rec.hash()).join("rootfs"),
        &app,
    )?;
    let mounts = mounts(&name, a, &app, volumes)?;
    Ok(RuntimeApp {
        name,
        image: RuntimeImage {
            name: Some(rec.manifest.name.clone()),
            id: Some(Hash::new(&rec.id)?),
            labels: rec.manifest.labels.clone(),
        },
        app: Some(app),
        read_only_root_fs: a.readonly_rootfs,
        mounts,
        annotations: Default::default(),
    })
}
