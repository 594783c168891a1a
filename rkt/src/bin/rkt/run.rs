//! `rkt run [POD FLAGS] IMAGE [APP FLAGS] [-- ARGS] [--- IMAGE ...]`
//!
//! Fetches the images, prepares a pod (`embryo` → `prepare` → `run`) and
//! exec()s stage1, which inherits the pod lock: the process that ran
//! `rkt run` becomes the pod's supervisor and exits with the pod's status.

use crate::Settings;
use anyhow::{Context, bail};
use appc::schema::pod_manifest::{Mount, RuntimeApp, RuntimeImage};
use appc::schema::types::isolator::{
    CAPABILITIES_REMOVE, CAPABILITIES_RETAIN, CPU_SHARES, OOM_SCORE_ADJ, RESOURCE_CPU,
    RESOURCE_MEMORY, SECCOMP_REMOVE, SECCOMP_RETAIN, linux_capability,
};
use appc::schema::types::{AcName, App, Hash, Isolator, IsolatorValue, Volume};
use appc::schema::{AC_VERSION, PodManifest};
use pod::PodDir;
use rkt::fetch::{Fetcher, HttpClient, ImageRef, PullPolicy};
use rkt::pods::{Dir, Pod, Pods};
use rkt::stage1_image::{self, Flavor};
use rkt::store::{ImageRecord, ImageStore};
use rustix::fs::{Mode, OFlags, ResolveFlags};
use std::fs::File;
use std::path::{Path, PathBuf};

/// What `rkt run` and `rkt run-prepared` both take: how the pod runs.
#[derive(clap::Args)]
pub struct PodRunOptions {
    /// pod hostname (default rkt-<uuid>)
    #[arg(long)]
    pub hostname: Option<String>,
    /// network: host (other networks come with CNI support; fly always
    /// shares the host's); rkt run's default is "default"
    #[arg(long)]
    pub net: Option<String>,
    /// name servers for the pod's resolv.conf, or "host" (the host's, the
    /// default) or "none" (the image's)
    #[arg(long, value_delimiter = ',')]
    pub dns: Vec<String>,
    /// search domains for the pod's resolv.conf
    #[arg(long, value_delimiter = ',')]
    pub dns_search: Vec<String>,
    /// options for the pod's resolv.conf
    #[arg(long, value_delimiter = ',')]
    pub dns_opt: Vec<String>,
    /// the domain of the pod's resolv.conf
    #[arg(long)]
    pub dns_domain: Option<String>,
    /// entries for the pod's /etc/hosts (IP=HOSTNAME), or "host" (the host's)
    #[arg(long, value_delimiter = ',')]
    pub hosts_entry: Vec<String>,
    /// run one app with the terminal's stdin (and tty) passed through
    #[arg(long)]
    pub interactive: bool,
    /// register the pod with the metadata service
    #[arg(long)]
    pub mds_register: bool,
}

impl PodRunOptions {
    /// The name-resolution flags as stage1 takes them.
    fn dns(&self) -> pod::dns::Dns {
        pod::dns::Dns {
            servers: self.dns.clone(),
            search: self.dns_search.clone(),
            options: self.dns_opt.clone(),
            domain: self.dns_domain.clone(),
            hosts_entries: self.hosts_entry.clone(),
        }
    }

    /// Checks what is wrong whatever the pod; before any pod exists.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.dns.is_empty() && !self.dns_search.is_empty() {
            bail!("--dns-search needs --dns");
        }
        if let Some(h) = &self.hostname {
            rkt::pod_input::hostname(h)?;
        }
        for d in self.dns_search.iter().chain(&self.dns_domain) {
            rkt::pod_input::search_domain(d)?;
        }
        self.dns().check().map_err(anyhow::Error::msg)?;
        if self.mds_register {
            bail!(
                "--mds-register: no metadata service is running (it is not part of rkt-rs yet); use --mds-register=false"
            );
        }
        Ok(())
    }

    /// What only a pod's run takes (rkt's prepare has none of these).
    pub fn refuse_at_prepare(&self) -> anyhow::Result<()> {
        let given = [
            ("--hostname", self.hostname.is_some()),
            ("--dns", !self.dns.is_empty()),
            ("--dns-search", !self.dns_search.is_empty()),
            ("--dns-opt", !self.dns_opt.is_empty()),
            ("--dns-domain", self.dns_domain.is_some()),
            ("--hosts-entry", !self.hosts_entry.is_empty()),
            ("--interactive", self.interactive),
        ];
        if let Some((flag, _)) = given.iter().find(|(_, g)| *g) {
            bail!("{flag} is an option of run-prepared, not of prepare");
        }
        Ok(())
    }

    /// Checks what depends on the pod: its app count and its stage1;
    /// `net` is the network when --net is not given.
    pub fn check_for(&self, apps: usize, fly: bool, net: &str) -> anyhow::Result<()> {
        if self.interactive && apps != 1 {
            bail!("--interactive runs exactly one app ({apps} given)");
        }
        // fly shares the host's network whatever --net says, as rkt's fly.
        let net = self.net.as_deref().unwrap_or(net);
        if net != "host" && !fly {
            bail!("--net={net} is not supported yet (CNI networking comes later); use --net=host");
        }
        Ok(())
    }

    /// rkt's run flags for stage1 that come from these options.
    fn stage1_flags(&self) -> Vec<String> {
        let mut flags: Vec<String> = self
            .hostname
            .iter()
            .map(|h| format!("--hostname={h}"))
            .collect();
        if self.interactive {
            flags.push("--interactive".into());
        }
        flags.extend(self.dns().flags());
        flags
    }
}

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub pod: PodRunOptions,
    /// write the pod's UUID to this file
    #[arg(long)]
    uuid_file_save: Option<PathBuf>,
    /// when to fetch images: new, update, never
    #[arg(long, default_value = "new", value_parser = ["new", "update", "never"])]
    pull_policy: String,
    /// only use images already in the store (rkt's older --pull-policy=never)
    #[arg(long)]
    store_only: bool,
    /// always fetch, even what the store has (rkt's older --pull-policy=update)
    #[arg(long)]
    no_store: bool,
    /// environment variable for every app (NAME=VALUE)
    #[arg(long)]
    set_env: Vec<String>,
    /// copy each app's image instead of mounting an overlay over it
    #[arg(long)]
    no_overlay: bool,
    /// environment variables for every app from a file (NAME=VALUE lines)
    #[arg(long)]
    set_env_file: Option<PathBuf>,
    /// give the apps rkt's environment, for variables they do not set
    #[arg(long)]
    inherit_env: bool,
    /// a volume: NAME,kind=host,source=PATH[,readOnly=BOOL][,recursive=BOOL]
    /// or NAME,kind=empty[,mode=0755][,uid=N][,gid=N]
    #[arg(long)]
    volume: Vec<String>,
    /// stage1 image to use, from a file
    #[arg(long, conflicts_with = "stage1_name")]
    stage1_path: Option<PathBuf>,
    /// stage1 image to use, by name: coreos.com/rkt/stage1-rs (the default,
    /// isolated pods) or coreos.com/rkt/stage1-fly-rs (a chroot in the host's
    /// namespaces with no isolation at all, for trusted privileged tools only)
    #[arg(long)]
    stage1_name: Option<String>,
    /// run the pod this manifest describes (no images or app flags then)
    #[arg(long, conflicts_with_all = ["volume", "set_env", "set_env_file", "inherit_env"])]
    pod_manifest: Option<PathBuf>,
    /// stage1 image to use, from the store by image ID
    #[arg(long)]
    stage1_hash: Option<String>,
    /// stage1 image to use, fetched (and verified) from a URL
    #[arg(long)]
    stage1_url: Option<String>,
    /// IMAGE [--exec=CMD] [--name=NAME] [--user=U] [--group=G] [--working-dir=DIR]
    /// [--environment=NAME=VALUE] [--signature=FILE] [--mount volume=NAME,target=PATH]
    /// [--readonly-rootfs] [--supplementary-gids=G,..] [--caps-retain=CAP,..]
    /// [--caps-remove=CAP,..] [--memory=Q] [--cpu=Q] [--cpu-shares=N]
    /// [--oom-score-adj=N] [--seccomp=mode=retain|remove[,errno=E],SYSCALL,..]
    /// [-- ARGS...] [--- IMAGE ...]
    #[arg(
        required_unless_present = "pod_manifest",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    apps: Vec<String>,
}

/// One app as given on the command line.
#[derive(Default)]
struct AppArgs {
    image: String,
    exec: Option<String>,
    name: Option<String>,
    user: Option<String>,
    group: Option<String>,
    working_dir: Option<String>,
    environment: Vec<(String, String)>,
    signature: Option<PathBuf>,
    /// (volume, target) from --mount.
    mounts: Vec<(String, String)>,
    readonly_rootfs: bool,
    supplementary_gids: Option<Vec<i64>>,
    /// Isolators from flags (--caps-retain, --memory, ...), each replacing
    /// the image's isolators of its kind.
    isolators: Vec<(&'static str, String, serde_json::Value)>,
    args: Option<Vec<String>>,
}

fn env_pair(s: &str) -> anyhow::Result<(String, String)> {
    let (k, v) = s
        .split_once('=')
        .with_context(|| format!("{s:?} is not NAME=VALUE"))?;
    appc::schema::types::environment::validate_env_name(k)?;
    Ok((k.to_string(), v.to_string()))
}

/// `--seccomp=mode=retain|remove[,errno=ENAME],SYSCALL|@GROUP,...`, an
/// isolator that replaces the image's seccomp isolators.
fn seccomp_flag(value: &str) -> anyhow::Result<(&'static str, String, serde_json::Value)> {
    let (mut kind, mut errno, mut set) = (None, None, Vec::new());
    for item in value.split(',') {
        match item.split_once('=') {
            Some(("mode", "retain")) => kind = Some(SECCOMP_RETAIN),
            Some(("mode", "remove")) => kind = Some(SECCOMP_REMOVE),
            Some(("errno", e)) => errno = Some(e),
            Some(_) => bail!("--seccomp={value}: unknown option {item:?}"),
            None => set.push(item),
        }
    }
    let kind =
        kind.with_context(|| format!("--seccomp={value}: mode=retain or mode=remove is required"))?;
    let mut v = serde_json::json!({ "set": set });
    if let Some(e) = errno {
        v["errno"] = serde_json::json!(e);
    }
    Ok((kind, value.to_string(), v))
}

/// The apps of `rkt run`/`prepare`: each image starts an app and the app
/// flags after it are its own, until the next image; `--` gives the rest
/// (up to `---`) as its arguments; `---` also separates apps (rkt's forms).
fn parse_apps(words: &[String]) -> anyhow::Result<Vec<AppArgs>> {
    let mut apps = Vec::new();
    let segments: Vec<&[String]> = words.split(|w| w == "---").collect();
    for (i, segment) in segments.iter().enumerate() {
        // A trailing --- ends the list.
        if segment.is_empty() && i + 1 == segments.len() && i > 0 {
            break;
        }
        let Some((image, rest)) = segment.split_first() else {
            bail!("an image is required before and after ---")
        };
        let mut app = AppArgs {
            image: image.clone(),
            ..Default::default()
        };
        let mut it = rest.iter();
        while let Some(w) = it.next() {
            if w == "--" {
                app.args = Some(it.by_ref().cloned().collect());
                break;
            }
            if w == "--readonly-rootfs" {
                app.readonly_rootfs = true;
                continue;
            }
            if !w.starts_with("--") {
                // The next image.
                apps.push(std::mem::replace(
                    &mut app,
                    AppArgs {
                        image: w.clone(),
                        ..Default::default()
                    },
                ));
                continue;
            }
            let (flag, value) = match w.split_once('=') {
                Some((f, v)) => (f, v.to_string()),
                None => (
                    w.as_str(),
                    it.next()
                        .with_context(|| format!("{w} needs a value"))?
                        .clone(),
                ),
            };
            match flag {
                "--exec" => app.exec = Some(value),
                "--name" => app.name = Some(value),
                "--user" => app.user = Some(value),
                "--group" => app.group = Some(value),
                "--working-dir" => app.working_dir = Some(value),
                "--environment" => app.environment.push(env_pair(&value)?),
                "--signature" => app.signature = Some(PathBuf::from(value)),
                "--readonly-rootfs" => {
                    app.readonly_rootfs = value
                        .parse()
                        .with_context(|| format!("--readonly-rootfs={value}: true or false"))?
                }
                // rkt's older spellings too.
                "--caps-retain" | "--caps-remove" | "--cap-retain" | "--cap-remove" => {
                    let kind = if flag.ends_with("-retain") {
                        CAPABILITIES_RETAIN
                    } else {
                        CAPABILITIES_REMOVE
                    };
                    let set: Vec<&str> = value.split(',').collect();
                    app.isolators
                        .push((kind, value.clone(), serde_json::json!({ "set": set })));
                }
                "--memory" | "--cpu" => {
                    let kind = if flag == "--memory" {
                        RESOURCE_MEMORY
                    } else {
                        RESOURCE_CPU
                    };
                    app.isolators.push((
                        kind,
                        value.clone(),
                        serde_json::json!({ "limit": value }),
                    ));
                }
                "--seccomp" => app.isolators.push(seccomp_flag(&value)?),
                "--cpu-shares" | "--oom-score-adj" => {
                    let kind = if flag == "--cpu-shares" {
                        CPU_SHARES
                    } else {
                        OOM_SCORE_ADJ
                    };
                    let n: i64 = value
                        .parse()
                        .with_context(|| format!("{flag}={value}: not a number"))?;
                    app.isolators.push((kind, value, serde_json::json!(n)));
                }
                "--supplementary-gids" => {
                    let gids = value
                        .split(',')
                        .map(|g| g.trim().parse::<i64>())
                        .collect::<Result<_, _>>();
                    app.supplementary_gids = Some(gids.with_context(|| {
                        format!("--supplementary-gids={value}: numbers separated by commas")
                    })?);
                }
                "--mount" => {
                    let mut volume = None;
                    let mut target = None;
                    for kv in value.split(',') {
                        match kv.split_once('=') {
                            Some(("volume", v)) => volume = Some(v.to_string()),
                            Some(("target", t)) => target = Some(t.to_string()),
                            _ => bail!("--mount {value:?}: expected volume=NAME,target=PATH"),
                        }
                    }
                    match (volume, target) {
                        (Some(v), Some(t)) if t.starts_with('/') => app.mounts.push((v, t)),
                        _ => bail!("--mount {value:?}: expected volume=NAME,target=/ABSOLUTE/PATH"),
                    }
                }
                other => bail!("unknown app flag {other} for {}", app.image),
            }
        }
        apps.push(app);
    }
    Ok(apps)
}

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
fn check_app(name: &str, root: &Path, app: &App) -> anyhow::Result<()> {
    for value in app.isolators.iter().filter_map(|i| i.value()) {
        if let IsolatorValue::CapabilitiesRetain(set) | IsolatorValue::CapabilitiesRemove(set) =
            value
            && let Some(bad) = set.iter().find(|c| linux_capability(c).is_none())
        {
            bail!("app {name}: unknown capability {bad}");
        }
    }
    let exec = app
        .exec
        .as_ref()
        .filter(|e| !e.is_empty())
        .with_context(|| format!("app {name}: the image has no exec; give one with --exec"))?;
    let program = &exec[0];
    let path = app.environment.get("PATH").unwrap_or(pod::DEFAULT_PATH);
    let found = if program.contains('/') {
        exists_in(root, program)
    } else {
        path.split(':')
            .any(|d| exists_in(root, &format!("{d}/{program}")))
    };
    if !found {
        bail!("app {name}: {program} is not in the image");
    }
    if !app.working_directory.is_empty() && !exists_in(root, &app.working_directory) {
        bail!(
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
                bail!("app {name}: {what} {value:?} does not exist in the image's {file}");
            }
        }
    }
    Ok(())
}

/// The app's mounts: its --mount flags, then its image's mount points by
/// name; a mount point without a volume gets an empty one (as rkt does),
/// filled by stage1 with the image's files at that path.
fn mounts(
    name: &AcName,
    a: &AppArgs,
    app: &App,
    volumes: &mut Vec<Volume>,
) -> anyhow::Result<Vec<Mount>> {
    let mut out = Vec::new();
    for (volume, target) in &a.mounts {
        let v = volumes
            .iter()
            .find(|v| v.name.as_str() == volume)
            .with_context(|| format!("app {name}: --mount of an unknown volume {volume:?}"))?;
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

fn runtime_app(
    store: &ImageStore,
    a: &AppArgs,
    rec: &ImageRecord,
    set_env: &[(String, String)],
    inherited: &[(String, String)],
    volumes: &mut Vec<Volume>,
) -> anyhow::Result<RuntimeApp> {
    let default_name = rec.name.rsplit('/').next().unwrap_or(&rec.name);
    let name = match &a.name {
        Some(n) => AcName::new(n).with_context(|| format!("--name {n:?}"))?,
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
                .with_context(|| {
                    format!("app {name}: the image has no exec; give one with --exec")
                })?;
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
    for (kind, given, value) in &a.isolators {
        // A seccomp flag replaces both seccomp kinds, which exclude each other.
        let seccomp = [SECCOMP_RETAIN, SECCOMP_REMOVE];
        let replaced = |n: &str| n == *kind || (seccomp.contains(kind) && seccomp.contains(&n));
        app.isolators.retain(|i| !replaced(i.name.as_str()));
        let isolator = Isolator::new(kind, value.clone())
            .with_context(|| format!("app {name}: {kind} {given:?}"))?;
        app.isolators.push(isolator);
    }
    for (k, v) in inherited {
        if app.environment.get(k).is_none() {
            app.environment.set(k, v)?;
        }
    }
    for (k, v) in set_env.iter().chain(&a.environment) {
        app.environment.set(k, v)?;
    }
    app.validate().with_context(|| format!("app {name}"))?;
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

/// A host volume's source must exist (the spec's rule), checked before
/// the pod is made.
fn check_host_source(v: &Volume) -> anyhow::Result<()> {
    if v.kind() == appc::schema::types::volume::VolumeKind::Host && !Path::new(&v.source).exists() {
        bail!(
            "volume {}: the host source {} does not exist",
            v.name,
            v.source
        );
    }
    Ok(())
}

/// The pod's volumes from `--volume`: unique names, host sources present.
fn pod_volumes(specs: &[String]) -> anyhow::Result<Vec<Volume>> {
    let mut volumes: Vec<Volume> = Vec::new();
    for spec in specs {
        let v = Volume::from_cli(spec).with_context(|| format!("--volume {spec:?}"))?;
        if volumes.iter().any(|o| o.name == v.name) {
            bail!(
                "--volume {spec:?}: a volume named {} is already given",
                v.name
            );
        }
        check_host_source(&v)?;
        volumes.push(v);
    }
    Ok(volumes)
}

/// The stage1 image the pod runs with.
fn choose_stage1<'s>(
    args: &Args,
    images_dir: Option<&Path>,
    store: &ImageStore,
    fetcher: &dyn Fn(bool, Option<PathBuf>) -> anyhow::Result<Fetcher<'s>>,
) -> anyhow::Result<ImageRecord> {
    let given = [
        args.stage1_path.is_some(),
        args.stage1_name.is_some(),
        args.stage1_hash.is_some(),
        args.stage1_url.is_some(),
    ];
    if given.iter().filter(|g| **g).count() > 1 {
        bail!("give at most one of --stage1-path, --stage1-name, --stage1-hash and --stage1-url");
    }
    // A stage1 given by path is part of this installation and trusted as
    // such; one from a URL is verified like any image.
    let stage1 = if let Some(path) = &args.stage1_path {
        fetcher(true, None)?.fetch(&ImageRef::File(path.clone()))?
    } else if let Some(name) = &args.stage1_name {
        match Flavor::from_name(name) {
            Some(flavor) => stage1_image::ensure(store, &fetcher(true, None)?, flavor, images_dir)?,
            None => store.resolve(name)?,
        }
    } else if let Some(hash) = &args.stage1_hash {
        if !hash.starts_with("sha512-") {
            bail!("--stage1-hash {hash:?}: an image ID (sha512-...) is expected");
        }
        store.resolve(hash)?
    } else if let Some(url) = &args.stage1_url {
        fetcher(false, None)?.fetch(&ImageRef::Url(url.clone()))?
    } else {
        stage1_image::ensure(store, &fetcher(true, None)?, Flavor::Default, images_dir)?
    };
    Ok(stage1)
}

/// The pod the command line describes: its apps' images fetched.
fn pod_from_flags<'s>(
    args: &Args,
    store: &ImageStore,
    fetcher: &dyn Fn(bool, Option<PathBuf>) -> anyhow::Result<Fetcher<'s>>,
) -> anyhow::Result<(PodManifest, Vec<ImageRecord>)> {
    let apps = parse_apps(&args.apps)?;
    args.pod.check_for(apps.len(), true, "host")?;
    // rkt's own environment only fills in what an app does not set; the
    // file, then --set-env, override the apps' environments.
    let inherited: Vec<(String, String)> = if args.inherit_env {
        std::env::vars()
            .filter(|(k, _)| appc::schema::types::environment::validate_env_name(k).is_ok())
            .collect()
    } else {
        Vec::new()
    };
    let mut set_env: Vec<(String, String)> = Vec::new();
    if let Some(file) = &args.set_env_file {
        let text = std::fs::read_to_string(file).with_context(|| file.display().to_string())?;
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            set_env.push(env_pair(line).with_context(|| format!("{}", file.display()))?);
        }
    }
    for s in &args.set_env {
        set_env.push(env_pair(s)?);
    }
    let mut volumes = pod_volumes(&args.volume)?;
    let mut runtime_apps: Vec<RuntimeApp> = Vec::new();
    let mut records = Vec::new();
    for a in &apps {
        let rec = fetcher(false, a.signature.clone())?.fetch(&ImageRef::parse(&a.image)?)?;
        let app = runtime_app(store, a, &rec, &set_env, &inherited, &mut volumes)?;
        if runtime_apps.iter().any(|r| r.name == app.name) {
            bail!(
                "two apps are named {}; give one another name with --name",
                app.name
            );
        }
        runtime_apps.push(app);
        records.push(rec);
    }
    let manifest = PodManifest {
        ac_version: appc::schema::types::SemVer::new(AC_VERSION)?,
        ac_kind: appc::schema::types::AcKind::PodManifest,
        apps: Some(runtime_apps),
        volumes: if volumes.is_empty() {
            None
        } else {
            Some(volumes)
        },
        isolators: None,
        annotations: Default::default(),
        ports: None,
        user_annotations: Default::default(),
        user_labels: Default::default(),
    };
    Ok((manifest, records))
}

/// The pod a manifest file describes (`--pod-manifest`): each app's image
/// from the store by ID, or fetched by name; an app without an `app`
/// section runs its image's.
fn pod_from_file<'s>(
    path: &Path,
    store: &ImageStore,
    fetcher: &dyn Fn(bool, Option<PathBuf>) -> anyhow::Result<Fetcher<'s>>,
) -> anyhow::Result<(PodManifest, Vec<ImageRecord>)> {
    let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    let mut manifest = PodManifest::from_json(&text).with_context(|| path.display().to_string())?;
    let mut records = Vec::new();
    for app in manifest.apps.iter_mut().flatten() {
        let stored = match &app.image.id {
            Some(id) => store.record(id)?,
            None => None,
        };
        let rec = match (stored, &app.image.name) {
            (Some(rec), _) => rec,
            (None, Some(name)) => {
                let labels = app
                    .image
                    .labels
                    .iter()
                    .map(|l| (l.name.clone(), l.value.clone()))
                    .collect();
                let wanted = appc::discovery::AppName {
                    name: name.clone(),
                    labels,
                };
                let rec = fetcher(false, None)?.fetch(&ImageRef::Name(wanted))?;
                if app
                    .image
                    .id
                    .as_ref()
                    .is_some_and(|id| id.as_str() != rec.id)
                {
                    bail!(
                        "app {}: image {name} is {}, not {}",
                        app.name,
                        rec.id,
                        app.image
                            .id
                            .as_ref()
                            .map(|h| h.to_string())
                            .unwrap_or_default()
                    );
                }
                rec
            }
            (None, None) => bail!(
                "app {}: its image is neither in the store nor named",
                app.name
            ),
        };
        app.image.id = Some(Hash::new(&rec.id)?);
        let section = match app.app.take() {
            Some(a) => a,
            None => rec
                .manifest
                .app
                .clone()
                .with_context(|| format!("app {}: the image has no app section", app.name))?,
        };
        section
            .validate()
            .with_context(|| format!("app {}", app.name))?;
        check_app(
            app.name.as_str(),
            &store.tree_path(&rec.hash()).join("rootfs"),
            &section,
        )?;
        app.app = Some(section);
        records.push(rec);
    }
    for v in manifest.volumes.iter().flatten() {
        check_host_source(v)?;
    }
    Ok((manifest, records))
}

/// Prepares a pod from `args`: in `prepared` (and unlocked) when
/// `prepare_only`, else in `run` and locked by the returned file.
pub fn prepare(
    settings: &Settings,
    args: &Args,
    prepare_only: bool,
) -> anyhow::Result<(Pod, File, PathBuf)> {
    args.pod.check()?;
    let store = settings.image_store()?;
    let trust = settings.trust_store();
    let pull_policy = PullPolicy::from_flags(&args.pull_policy, args.store_only, args.no_store)
        .context("--pull-policy is new, update or never, and --store-only excludes --no-store")?;
    let fetcher =
        |insecure_image: bool, signature: Option<PathBuf>| -> anyhow::Result<Fetcher<'_>> {
            let mut insecure = settings.insecure;
            insecure.image |= insecure_image;
            Ok(Fetcher {
                store: &store,
                trust: &trust,
                insecure,
                pull_policy,
                signature,
                trust_keys_from_https: settings.trust_keys_from_https,
                http: HttpClient::new(
                    settings.insecure.tls,
                    settings.config.auth.clone(),
                    false,
                    settings.fetch_limits,
                )?,
                debug: settings.debug,
            })
        };

    if args.pod_manifest.is_some() && !args.apps.is_empty() {
        bail!("--pod-manifest runs the pod it describes; give no images with it");
    }
    let (manifest, records) = match &args.pod_manifest {
        Some(path) => pod_from_file(path, &store, &fetcher)?,
        None => pod_from_flags(args, &store, &fetcher)?,
    };
    rkt::pod_input::pod(&manifest)?;
    // The empty volumes made for image mount points that were given none,
    // which stage1 fills with the image's files there.
    let explicit = pod_volumes(&args.volume)?;
    let implicit: Vec<String> = manifest
        .volumes
        .iter()
        .flatten()
        .filter(|v| args.pod_manifest.is_none() && !explicit.iter().any(|e| e.name == v.name))
        .map(|v| v.name.to_string())
        .collect();
    let app_count = manifest.apps.as_ref().map_or(0, Vec::len);
    let images_dir = settings.config.stage1_images_dir.as_deref();
    let stage1 = choose_stage1(args, images_dir, &store, &fetcher)?;
    let fly = stage1.name == Flavor::Fly.image_name();
    args.pod.check_for(app_count, fly, "default")?;
    let entrypoint = stage1_image::run_entrypoint(&store, &stage1)?;

    let pods = Pods::open(&settings.data_dir)?;
    let (mut pod, lock) = pods.create()?;
    let prepare = |files: &PodDir| -> anyhow::Result<()> {
        std::fs::write(files.manifest(), manifest.to_json()?)?;
        std::fs::write(files.created(), rkt::display::now_nanos().to_string())?;
        std::fs::write(files.stage1_image(), &stage1.id)?;
        if args.no_overlay {
            std::fs::write(files.no_overlay(), "")?;
        }
        if !implicit.is_empty() {
            std::fs::write(files.implicit_volumes(), implicit.join("\n") + "\n")?;
        }
        for (app, rec) in manifest.apps.iter().flatten().zip(&records) {
            let name = app.name.as_str();
            std::fs::create_dir_all(files.app_info(name))?;
            let tree = store.tree_path(&rec.hash());
            std::fs::write(files.app_tree(name), tree.display().to_string())?;
            std::fs::create_dir_all(files.app_root(name))?;
        }
        Ok(())
    };
    pod.move_to(&pods, Dir::Prepare)?;
    if let Err(e) = prepare(&pod.files()) {
        let _ = pod.remove(&pods);
        return Err(e);
    }
    pod.move_to(
        &pods,
        if prepare_only {
            Dir::Prepared
        } else {
            Dir::Run
        },
    )?;
    if let Some(file) = &args.uuid_file_save {
        std::fs::write(file, format!("{}\n", pod.uuid))
            .with_context(|| file.display().to_string())?;
    }
    for rec in &records {
        store.touch(&rec.hash())?;
    }
    Ok((pod, lock, entrypoint))
}

pub fn run(settings: &Settings, args: Args) -> anyhow::Result<()> {
    let (pod, lock, entrypoint) = prepare(settings, &args, false)?;
    exec_stage1(settings, &pod, &lock, &entrypoint, &args.pod)
}

/// Replaces this process with stage1, which inherits the pod lock and
/// keeps it for the pod's life.
pub fn exec_stage1(
    settings: &Settings,
    pod: &Pod,
    lock: &File,
    entrypoint: &Path,
    options: &PodRunOptions,
) -> anyhow::Result<()> {
    rustix::io::fcntl_setfd(lock, rustix::io::FdFlags::empty())?;
    let lock_fd = std::os::fd::AsRawFd::as_raw_fd(lock);
    // rkt's run interface: in the pod directory, the lock in RKT_LOCK_FD,
    // rkt's flags, the UUID last.
    let mut argv = vec![
        entrypoint.display().to_string(),
        "--net=host".to_string(),
        format!("--local-config={}", settings.local_config.display()),
    ];
    if settings.debug {
        argv.push("--debug".into());
    }
    argv.extend(options.stage1_flags());
    let insecure = &settings.insecure;
    for (disabled, flag) in [
        (insecure.capabilities, "--disable-capabilities-restriction"),
        (insecure.paths, "--disable-paths"),
        (insecure.seccomp, "--disable-seccomp"),
    ] {
        if disabled {
            argv.push(flag.to_string());
        }
    }
    argv.push(pod.uuid.clone());
    let argv = argv
        .into_iter()
        .map(|a| std::ffi::CString::new(a).context("a NUL in stage1's arguments"))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut env: Vec<_> = pod::exe::current_env()
        .into_iter()
        .filter(|kv| !kv.as_bytes().starts_with(b"RKT_LOCK_FD="))
        .collect();
    env.push(std::ffi::CString::new(format!("RKT_LOCK_FD={lock_fd}"))?);
    std::env::set_current_dir(&pod.path).with_context(|| pod.path.display().to_string())?;
    // Read-only, so the pod cannot change the program (see stage1::exe).
    bail!(
        "cannot execute stage1: {}",
        pod::exe::exec_read_only(entrypoint, &argv, &env)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    fn images(s: &str) -> Vec<String> {
        parse_apps(&words(s))
            .unwrap()
            .into_iter()
            .map(|a| a.image)
            .collect()
    }

    #[test]
    fn images_start_apps_with_or_without_separators() {
        assert_eq!(images("a.aci b.aci"), ["a.aci", "b.aci"]);
        assert_eq!(images("a.aci --- b.aci ---"), ["a.aci", "b.aci"]);
        assert_eq!(
            images("a.aci --name=x b.aci --exec /bin/sh c"),
            ["a.aci", "b.aci", "c"]
        );
        let apps = parse_apps(&words("a --exec=/bin/sh -- -c x y --- b --name=n")).unwrap();
        assert_eq!(apps.len(), 2);
        assert_eq!(apps[0].args.as_deref(), Some(&words("-c x y")[..]));
        assert_eq!(apps[0].exec.as_deref(), Some("/bin/sh"));
        assert_eq!(apps[1].name.as_deref(), Some("n"));
        let apps = parse_apps(&words("a --user 5 --readonly-rootfs b")).unwrap();
        assert_eq!(
            (apps[0].user.as_deref(), apps[0].readonly_rootfs),
            (Some("5"), true)
        );
        assert!(apps[1].user.is_none());
    }

    #[test]
    fn bad_app_flags_are_named() {
        for (given, said) in [
            ("a --bogus=1", "unknown app flag --bogus for a"),
            ("a b --bogus=1", "unknown app flag --bogus for b"),
            ("a --exec", "--exec needs a value"),
            ("--- b", "an image is required"),
            ("a --- --- b", "an image is required"),
        ] {
            let e = parse_apps(&words(given)).err().unwrap().to_string();
            assert!(e.contains(said), "{given}: {e}");
        }
    }
}
