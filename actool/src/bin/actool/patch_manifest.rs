//! `actool patch-manifest [OPTIONS] INPUT [OUTPUT]`: copies an ACI with its
//! manifest changed. Every other entry is copied unchanged.

use crate::output::write_atomically;
use crate::{Failed, fail};
use appc::aci::{self, AciError};
use appc::schema::ImageManifest;
use appc::schema::types::isolator::{
    CAPABILITIES_REMOVE, CAPABILITIES_RETAIN, SECCOMP_REMOVE, SECCOMP_RETAIN,
};
use appc::schema::types::{AcIdentifier, App, Isolator, MountPoint, Port};
use serde_json::{Value, json};
use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

#[derive(clap::Args)]
pub struct Args {
    /// Replace the image manifest with this file (no other patch option allowed)
    #[arg(long)]
    manifest: Option<String>,
    /// Replace the name
    #[arg(long)]
    name: Option<String>,
    /// Replace the command line ("/app --debug")
    #[arg(long)]
    exec: Option<String>,
    /// Replace the user
    #[arg(long)]
    user: Option<String>,
    /// Replace the group
    #[arg(long)]
    group: Option<String>,
    /// Replace the supplementary groups (comma-separated GIDs)
    #[arg(long, alias = "supplementary-gids")]
    supplementary_groups: Option<String>,
    /// Set the capabilities retain set (comma-separated)
    #[arg(long)]
    capability: Option<String>,
    /// Set the capabilities remove set (comma-separated)
    #[arg(long)]
    revoke_capability: Option<String>,
    /// Replace mount points (name,path=/x[,readOnly=true][:...])
    #[arg(long)]
    mounts: Option<String>,
    /// Replace ports (name,protocol=tcp,port=80[:...])
    #[arg(long)]
    ports: Option<String>,
    /// Replace isolators (resource/cpu,request=50m,limit=100m or NAME,JSON[:...])
    #[arg(long)]
    isolators: Option<String>,
    /// Enable a seccomp isolator: remove|retain[,errno=EPERM]
    #[arg(long)]
    seccomp_mode: Option<String>,
    /// Syscalls of the seccomp isolator (comma-separated)
    #[arg(long)]
    seccomp_set: Option<String>,
    /// Replace the input file
    #[arg(long)]
    replace: bool,
    /// Overwrite the output file if it exists
    #[arg(long)]
    overwrite: bool,
    /// Do not gzip-compress the produced ACI
    #[arg(long)]
    no_compression: bool,
    input: String,
    output: Option<String>,
}

impl Args {
    /// Whether any option changes the manifest's app.
    fn patches_app(&self) -> bool {
        [
            &self.exec,
            &self.user,
            &self.group,
            &self.supplementary_groups,
            &self.capability,
            &self.revoke_capability,
            &self.mounts,
            &self.ports,
            &self.isolators,
            &self.seccomp_mode,
            &self.seccomp_set,
        ]
        .iter()
        .any(|o| o.is_some())
    }

    fn patches_fields(&self) -> bool {
        self.name.is_some() || self.patches_app()
    }
}

fn list(s: &str) -> Vec<String> {
    s.split(',')
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Sets the isolator `name` in `isolators`, replacing one of that name.
fn set_isolator(isolators: &mut Vec<Isolator>, name: &str, value: Value) -> Result<(), String> {
    let iso = Isolator::new(name, value).map_err(|e| format!("isolator {name}: {e}"))?;
    isolators.retain(|i| i.name.as_str() != name);
    isolators.push(iso);
    Ok(())
}

/// `NAME,key=value,...` for resources, `NAME,JSON` for the other kinds.
fn parse_isolator(s: &str) -> Result<(String, Value), String> {
    let (name, rest) = s
        .split_once(',')
        .ok_or_else(|| format!("invalid isolator definition: {s}"))?;
    if name.starts_with("resource/") {
        let mut obj = serde_json::Map::new();
        for kv in rest.split(',') {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| format!("invalid isolator definition: {s}"))?;
            let value = if k == "default" {
                json!(v == "true")
            } else {
                json!(v)
            };
            obj.insert(k.to_string(), value);
        }
        return Ok((name.to_string(), Value::Object(obj)));
    }
    let value = serde_json::from_str(rest)
        .map_err(|e| format!("isolator {name}: value is not JSON: {e}"))?;
    Ok((name.to_string(), value))
}

fn patch(m: &mut ImageManifest, a: &Args) -> Result<(), String> {
    if let Some(n) = &a.name {
        m.name = AcIdentifier::new(n).map_err(|e| format!("--name: {e}"))?;
    }
    if !a.patches_app() {
        return Ok(());
    }
    let app = m.app.get_or_insert_with(|| App {
        user: "0".into(),
        group: "0".into(),
        ..App::default()
    });
    if let Some(e) = &a.exec {
        app.exec = Some(e.split_whitespace().map(str::to_owned).collect());
    }
    if let Some(u) = &a.user {
        app.user = u.clone();
    }
    if let Some(g) = &a.group {
        app.group = g.clone();
    }
    if let Some(gids) = &a.supplementary_groups {
        app.supplementary_gids = list(gids)
            .iter()
            .map(|g| {
                g.parse()
                    .map_err(|_| format!("--supplementary-groups: {g:?} is not a number"))
            })
            .collect::<Result<_, _>>()?;
    }
    if let Some(caps) = &a.capability {
        set_isolator(
            &mut app.isolators,
            CAPABILITIES_RETAIN,
            json!({ "set": list(caps) }),
        )?;
    }
    if let Some(caps) = &a.revoke_capability {
        set_isolator(
            &mut app.isolators,
            CAPABILITIES_REMOVE,
            json!({ "set": list(caps) }),
        )?;
    }
    if let Some(mounts) = &a.mounts {
        app.mount_points = mounts
            .split(':')
            .map(|s| MountPoint::from_cli(s).map_err(|e| format!("--mounts {s}: {e}")))
            .collect::<Result<_, _>>()?;
    }
    if let Some(ports) = &a.ports {
        app.ports = ports
            .split(':')
            .map(|s| Port::from_cli(s).map_err(|e| format!("--ports {s}: {e}")))
            .collect::<Result<_, _>>()?;
    }
    if let Some(isolators) = &a.isolators {
        for s in isolators.split(':') {
            let (name, value) = parse_isolator(s)?;
            set_isolator(&mut app.isolators, &name, value)?;
        }
    }
    if let Some(mode) = &a.seccomp_mode {
        let mut parts = mode.split(',');
        let name = match parts.next() {
            Some("remove") => SECCOMP_REMOVE,
            Some("retain") => SECCOMP_RETAIN,
            _ => return Err(format!("--seccomp-mode {mode:?}: must be remove or retain")),
        };
        let errno = parts.find_map(|p| p.strip_prefix("errno=")).unwrap_or("");
        let set = list(a.seccomp_set.as_deref().unwrap_or(""));
        app.isolators
            .retain(|i| ![SECCOMP_REMOVE, SECCOMP_RETAIN].contains(&i.name.as_str()));
        set_isolator(
            &mut app.isolators,
            name,
            json!({ "set": set, "errno": errno }),
        )?;
    } else if a.seccomp_set.is_some() {
        return Err("--seccomp-set needs --seccomp-mode".into());
    }
    m.validate()
        .map_err(|e| format!("patched manifest is invalid: {e}"))
}

/// Copies the entries of `input` to `out`, with `manifest` as the manifest.
fn copy_with_manifest<W: Write>(input: &Path, manifest: &[u8], out: W) -> Result<W, AciError> {
    let (_, decoded) =
        aci::filetype::decompress(File::open(input).map_err(|e| AciError::file(input, e))?)?;
    let mut archive = tar::Archive::new(decoded);
    let mut builder = tar::Builder::new(out);
    for entry in archive.entries().map_err(AciError::Read)? {
        let mut entry = entry.map_err(AciError::Read)?;
        let path = entry.path().map_err(AciError::Read)?.into_owned();
        let mut header = entry.header().clone();
        if let Some(pax) = entry.pax_extensions().map_err(AciError::Read)? {
            let records: Vec<(String, Vec<u8>)> = pax
                .filter_map(Result::ok)
                .filter(|r| !matches!(r.key(), Ok("path" | "linkpath" | "size")))
                .map(|r| {
                    (
                        r.key().unwrap_or_default().to_string(),
                        r.value_bytes().to_vec(),
                    )
                })
                .collect();
            if !records.is_empty() {
                let refs = records.iter().map(|(k, v)| (k.as_str(), v.as_slice()));
                builder
                    .append_pax_extensions(refs)
                    .map_err(AciError::Read)?;
            }
        }
        let result = if path == Path::new("manifest") {
            header.set_size(manifest.len() as u64);
            builder.append_data(&mut header, &path, manifest)
        } else if let Some(target) = entry.link_name().map_err(AciError::Read)? {
            let target = target.into_owned();
            builder.append_link(&mut header, &path, &target)
        } else {
            builder.append_data(&mut header, &path, &mut entry)
        };
        result.map_err(AciError::Read)?;
    }
    builder.into_inner().map_err(AciError::Read)
}

fn run_inner(args: &Args) -> Result<(), String> {
    if args.manifest.is_some() && args.patches_fields() {
        return Err("--manifest cannot be combined with other patch options".into());
    }
    let input = Path::new(&args.input);
    let info = aci::validate_archive(
        File::open(input).map_err(|e| format!("{}: {e}", args.input))?,
        false,
    )
    .map_err(|e| format!("{}: {e}", args.input))?;
    let manifest = match &args.manifest {
        Some(path) => {
            let mut text = String::new();
            File::open(path)
                .and_then(|mut f| f.read_to_string(&mut text))
                .map_err(|e| format!("{path}: {e}"))?;
            ImageManifest::from_json(&text).map_err(|e| format!("{path}: {e}"))?
        }
        None => {
            let mut m = info.manifest;
            patch(&mut m, args)?;
            m
        }
    };
    let json = manifest.to_json().map_err(|e| e.to_string())?;
    let (target, overwrite) = match (&args.output, args.replace) {
        (Some(_), true) => return Err("--replace and an output file are exclusive".into()),
        (Some(o), false) => (Path::new(o), args.overwrite),
        (None, true) => (input, true),
        (None, false) => return Err("an output file or --replace is required".into()),
    };
    write_atomically(target, overwrite, |out| {
        let result = if args.no_compression {
            copy_with_manifest(input, json.as_bytes(), out)
        } else {
            let gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
            copy_with_manifest(input, json.as_bytes(), gz)
                .and_then(|gz| gz.finish().map_err(AciError::Read))
        };
        result.map_err(|e| e.to_string())
    })
}

pub fn run(args: Args) -> Result<(), Failed> {
    run_inner(&args).map_err(|e| fail("patch-manifest", e))
}
