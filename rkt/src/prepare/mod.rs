//! Pod preparation, what `rkt run` and `rkt prepare` do before stage1:
//! the apps' images fetched, their app sections resolved and checked, the
//! stage1 image chosen, and the pod directory written (`embryo` →
//! `prepare` → `prepared` or `run`) with the files [`pod::PodDir`] names.

pub mod app_flags;
mod apps;

use crate::fetch::{FetchError, Fetcher, ImageRef};
use crate::pods::{Dir, Pod, PodError, Pods};
use crate::stage1_image::{self, Flavor};
use crate::store::{ImageRecord, ImageStore, StoreError};
use app_flags::{env_pair, parse_apps};
use appc::schema::pod_manifest::RuntimeApp;
use appc::schema::types::{AcName, ExposedPort, Hash, Volume};
use appc::schema::{AC_VERSION, PodManifest};
use pod::PodDir;
use std::fs::File;
use std::path::{Path, PathBuf};

pub type Result<T, E = PrepareError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// What was asked for cannot be: the message says what and why.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Pods(#[from] PodError),
    #[error(transparent)]
    Input(#[from] crate::pod_input::BadInput),
    #[error(transparent)]
    Spec(#[from] appc::schema::SchemaError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Refuses with a message, as `anyhow::bail!` would.
macro_rules! refuse {
    ($($t:tt)*) => {
        return Err(PrepareError::Refused(format!($($t)*)))
    };
}
pub(crate) use refuse;

/// A failure, or a missing value, explained by what was being done.
pub(crate) trait Explain<T> {
    fn explain(self, what: impl FnOnce() -> String) -> Result<T, PrepareError>;
    fn explain_str(self, what: &str) -> Result<T, PrepareError>;
}

impl<T, E: std::fmt::Display> Explain<T> for Result<T, E> {
    fn explain(self, what: impl FnOnce() -> String) -> Result<T, PrepareError> {
        self.map_err(|e| PrepareError::Refused(format!("{}: {e}", what())))
    }
    fn explain_str(self, what: &str) -> Result<T, PrepareError> {
        self.explain(|| what.to_string())
    }
}

impl<T> Explain<T> for Option<T> {
    fn explain(self, what: impl FnOnce() -> String) -> Result<T, PrepareError> {
        self.ok_or_else(|| PrepareError::Refused(what()))
    }
    fn explain_str(self, what: &str) -> Result<T, PrepareError> {
        self.explain(|| what.to_string())
    }
}

fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> PrepareError + '_ {
    move |source| PrepareError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The stage1 image asked for: at most one of these; none is the default.
#[derive(Debug, Default, Clone)]
pub struct Stage1Choice {
    pub path: Option<PathBuf>,
    pub name: Option<String>,
    pub hash: Option<String>,
    pub url: Option<String>,
    /// `--stage1-from-dir`: an image file of the stage1 images directory.
    pub from_dir: Option<String>,
}

/// The pod `rkt run` or `rkt prepare` was asked for.
#[derive(Debug, Default, Clone)]
pub struct PodRequest {
    /// `IMAGE [APP FLAGS] [-- ARGS] [--- IMAGE ...]` (see [`app_flags`]).
    pub apps: Vec<String>,
    /// `--pod-manifest`: run the pod it describes (no apps then).
    pub pod_manifest: Option<PathBuf>,
    /// `--volume` specifications.
    pub volumes: Vec<String>,
    pub set_env: Vec<String>,
    pub set_env_file: Option<PathBuf>,
    pub inherit_env: bool,
    pub no_overlay: bool,
    pub stage1: Stage1Choice,
    /// `--port=NAME:[HOSTIP:]HOSTPORT`: app ports forwarded from the host.
    pub ports: Vec<String>,
    /// What the user grants beyond the defaults for every app, whatever
    /// its image asks (`--insecure-options=capabilities`, `seccomp`).
    pub grants: Grants,
}

/// Privileges an image may take for itself only when the user says so.
#[derive(Debug, Default, Clone, Copy)]
pub struct Grants {
    pub capabilities: bool,
    pub seccomp: bool,
}

/// `NAME:[HOSTIP:]HOSTPORT` as an exposed port of the pod.
fn exposed_port(spec: &str) -> Result<ExposedPort> {
    let bad = || PrepareError::Refused(format!("--port {spec:?}: expected NAME:[HOSTIP:]HOSTPORT"));
    let (name, rest) = spec.split_once(':').ok_or_else(bad)?;
    let (host_ip, host_port) = match rest.rsplit_once(':') {
        Some((ip, port)) => (Some(ip.trim_matches(['[', ']'])), port),
        None => (None, rest),
    };
    let host_port: u32 = host_port
        .parse()
        .ok()
        .filter(|p| (1..=65535).contains(p))
        .ok_or_else(|| {
            PrepareError::Refused(format!("--port {spec:?}: the host port is 1 to 65535"))
        })?;
    let host_ip = host_ip
        .map(|ip| ip.parse())
        .transpose()
        .explain(|| format!("--port {spec:?}: the host IP"))?;
    Ok(ExposedPort {
        name: AcName::new(name).explain(|| format!("--port {spec:?}: the port name"))?,
        host_port,
        host_ip,
        pod_port: None,
    })
}

/// The pod's exposed ports, each naming a port one of its apps declares,
/// each host port once.
fn check_ports(manifest: &PodManifest) -> Result<()> {
    let declared: Vec<&AcName> = manifest
        .apps
        .iter()
        .flatten()
        .filter_map(|a| a.app.as_ref())
        .flat_map(|a| a.ports.iter().map(|p| &p.name))
        .collect();
    let ports = manifest.ports.as_deref().unwrap_or_default();
    for (i, p) in ports.iter().enumerate() {
        if !declared.contains(&&p.name) {
            let names: Vec<&str> = declared.iter().map(|n| n.as_str()).collect();
            refuse!(
                "port {}: no app of the pod declares it (declared: {})",
                p.name,
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            );
        }
        if ports[..i].iter().any(|o| o.host_port == p.host_port) {
            refuse!("host port {} is given twice", p.host_port);
        }
        // Taken now, refused now (stage1 holds it for the pod's life).
        let ip = p.host_ip.unwrap_or(std::net::Ipv4Addr::UNSPECIFIED.into());
        let at = std::net::SocketAddr::new(ip, p.host_port as u16);
        let udp = manifest
            .apps
            .iter()
            .flatten()
            .filter_map(|a| a.app.as_ref())
            .flat_map(|a| a.ports.iter())
            .any(|d| d.name == p.name && d.protocol == "udp");
        let free = if udp {
            std::net::UdpSocket::bind(at).map(drop)
        } else {
            std::net::TcpListener::bind(at).map(drop)
        };
        free.explain(|| format!("host port {} for {}", p.host_port, p.name))?;
    }
    Ok(())
}

/// Fetchers for the pod's images: one trusting the image as part of
/// this installation (`true`: a stage1 given by path or name) or not, with
/// the signature file given for it.
pub type FetcherFor<'s> = dyn Fn(bool, Option<PathBuf>) -> Result<Fetcher<'s>, FetchError> + 's;

/// Where a pod is prepared.
pub struct Preparation<'s> {
    pub store: &'s ImageStore,
    pub data_dir: &'s Path,
    /// The stage1-images directory of the configuration, if any.
    pub stage1_images_dir: Option<&'s Path>,
    /// The default stage1 of `stage1.d` (name, version, location), if any.
    pub default_stage1: Option<&'s (String, String, String)>,
    pub fetcher: &'s FetcherFor<'s>,
    /// `--debug`: say each step as rkt's stage0 does.
    pub debug: bool,
}

/// Whether the image is for this machine: its os and arch labels, in
/// rkt's words (the appc spec allows more than runs here).
fn runs_here(rec: &ImageRecord) -> Result<()> {
    let label = |name: &str| match rec.labels.get(name) {
        Some(v) => Ok(v.as_str()),
        None => Err(PrepareError::Refused(format!(
            "image {}: missing {name} label in the image manifest",
            rec.display_name()
        ))),
    };
    let (os, arch) = (label("os")?, label("arch")?);
    if os != "linux" {
        refuse!(
            "image {}: bad os {os:?} (must be one of: [linux])",
            rec.display_name()
        );
    }
    let here = crate::fetch::host_arch();
    if arch != here {
        refuse!(
            "image {}: bad arch {arch:?} for linux (must be one of: [{here}])",
            rec.display_name()
        );
    }
    Ok(())
}

/// A prepared pod, with its lock (held for `run`) and the stage1's run
/// entrypoint.
pub struct Prepared {
    pub pod: Pod,
    pub lock: File,
    pub entrypoint: PathBuf,
}

/// How many apps `apps` (the command line's images and app flags) starts.
pub fn app_count(apps: &[String]) -> Result<usize, PrepareError> {
    Ok(parse_apps(apps)?.len())
}

/// A host volume's source must exist (the spec's rule), checked before
/// the pod is made.
fn check_host_source(v: &Volume) -> Result<()> {
    if v.kind() == appc::schema::types::volume::VolumeKind::Host && !Path::new(&v.source).exists() {
        refuse!(
            "volume {}: the host source {} does not exist",
            v.name,
            v.source
        );
    }
    Ok(())
}

/// The pod's volumes from `--volume`: unique names, host sources present.
fn pod_volumes(specs: &[String]) -> Result<Vec<Volume>> {
    let mut volumes: Vec<Volume> = Vec::new();
    for spec in specs {
        let v = Volume::from_cli(spec).explain(|| format!("--volume {spec:?}"))?;
        if volumes.iter().any(|o| o.name == v.name) {
            refuse!(
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
fn choose_stage1(at: &Preparation<'_>, choice: &Stage1Choice) -> Result<ImageRecord> {
    let (store, fetcher, images_dir) = (at.store, at.fetcher, at.stage1_images_dir);
    let given = [
        choice.path.is_some(),
        choice.name.is_some(),
        choice.hash.is_some(),
        choice.url.is_some(),
        choice.from_dir.is_some(),
    ];
    if given.iter().filter(|g| **g).count() > 1 {
        refuse!(
            "give at most one of --stage1-path, --stage1-name, --stage1-hash, --stage1-url and --stage1-from-dir"
        );
    }
    // A stage1 given by path is part of this installation and trusted as
    // such; one from a URL is verified like any image.
    let stage1 = if let Some(path) = &choice.path {
        fetcher(true, None)?.fetch(&ImageRef::File(path.clone()))?
    } else if let Some(name) = &choice.name {
        match Flavor::from_name(name) {
            Some(flavor) => stage1_image::ensure(store, &fetcher(true, None)?, flavor, images_dir)?,
            None => store.resolve(name)?,
        }
    } else if let Some(hash) = &choice.hash {
        if !hash.starts_with("sha512-") {
            refuse!("--stage1-hash {hash:?}: an image ID (sha512-...) is expected");
        }
        store.resolve(hash)?
    } else if let Some(url) = &choice.url {
        fetcher(false, None)?.fetch(&ImageRef::Url(url.clone()))?
    } else if let Some(file) = &choice.from_dir {
        let Some(dir) = images_dir else {
            refuse!("--stage1-from-dir: no stage1 images directory is configured (paths.d)");
        };
        if file.contains('/') || file.is_empty() || file == ".." {
            refuse!(
                "--stage1-from-dir {file:?}: a file name in {}",
                dir.display()
            );
        }
        fetcher(true, None)?.fetch(&ImageRef::File(dir.join(file)))?
    } else if let Some((name, version, location)) = at.default_stage1 {
        configured_stage1(at, name, version, location)?
    } else {
        stage1_image::ensure(store, &fetcher(true, None)?, Flavor::Default, images_dir)?
    };
    Ok(stage1)
}

/// The default stage1 `stage1.d` names, as rkt finds it: by name and
/// version in the store, else from its location (an absolute path, or a
/// URL), trusted as part of the installation.
fn configured_stage1(
    at: &Preparation<'_>,
    name: &str,
    version: &str,
    location: &str,
) -> Result<ImageRecord> {
    let labels = [("version".to_string(), version.to_string())];
    if let Some(rec) = at.store.find(name, &labels)? {
        return Ok(rec);
    }
    if let Some(flavor) = Flavor::from_name(name) {
        return Ok(stage1_image::ensure(
            at.store,
            &(at.fetcher)(true, None)?,
            flavor,
            at.stage1_images_dir,
        )?);
    }
    let image = if location.starts_with("https://") || location.starts_with("http://") {
        ImageRef::Url(location.to_string())
    } else if location.starts_with('/') {
        ImageRef::File(PathBuf::from(location))
    } else if let Some(path) = location.strip_prefix("file://") {
        ImageRef::File(PathBuf::from(path))
    } else {
        refuse!(
            "the default stage1 of stage1.d ({name}:{version}): its location {location:?} is not an absolute path or a URL"
        );
    };
    Ok((at.fetcher)(true, None)?.fetch(&image)?)
}

/// The pod the command line describes: its apps' images fetched.
fn pod_from_flags(
    args: &PodRequest,
    store: &ImageStore,
    fetcher: &FetcherFor<'_>,
) -> Result<(PodManifest, Vec<ImageRecord>)> {
    let apps = parse_apps(&args.apps)?;
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
        let text = std::fs::read_to_string(file).explain(|| file.display().to_string())?;
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            set_env.push(env_pair(line).explain(|| format!("{}", file.display()))?);
        }
    }
    for s in &args.set_env {
        set_env.push(env_pair(s)?);
    }
    let mut volumes = pod_volumes(&args.volumes)?;
    let mut runtime_apps: Vec<RuntimeApp> = Vec::new();
    let mut records = Vec::new();
    for a in &apps {
        let rec = fetcher(false, a.signature.clone())?.fetch(&ImageRef::parse(&a.image)?)?;
        let app = apps::runtime_app(
            store,
            a,
            &rec,
            &set_env,
            &inherited,
            &mut volumes,
            args.grants,
        )?;
        if runtime_apps.iter().any(|r| r.name == app.name) {
            refuse!(
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
        ports: {
            let ports = args
                .ports
                .iter()
                .map(|s| exposed_port(s))
                .collect::<Result<Vec<_>>>()?;
            (!ports.is_empty()).then_some(ports)
        },
        user_annotations: Default::default(),
        user_labels: Default::default(),
    };
    Ok((manifest, records))
}

/// The pod a manifest file describes (`--pod-manifest`): each app's image
/// from the store by ID, or fetched by name; an app without an `app`
/// section runs its image's.
fn pod_from_file(
    path: &Path,
    store: &ImageStore,
    fetcher: &FetcherFor<'_>,
    grants: Grants,
) -> Result<(PodManifest, Vec<ImageRecord>)> {
    let text = std::fs::read_to_string(path).explain(|| path.display().to_string())?;
    let mut manifest = PodManifest::from_json(&text).explain(|| path.display().to_string())?;
    if manifest.apps.as_deref().unwrap_or_default().is_empty() {
        refuse!("{}: no apps in pod manifest", path.display());
    }
    let mut records = Vec::new();
    for app in manifest.apps.iter_mut().flatten() {
        let stored = match &app.image.id {
            Some(id) => store.record_by_id(id)?,
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
                    .is_some_and(|id| !rec.id.starts_with(id.as_str()))
                {
                    refuse!(
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
            (None, None) => refuse!(
                "app {}: its image is neither in the store nor named",
                app.name
            ),
        };
        app.image.id = Some(Hash::new(&rec.id)?);
        // The user's own section, or the image's (whose isolators ask for
        // no more than the defaults unless the user grants it).
        let section = match app.app.take() {
            Some(a) => a,
            None => {
                let a = rec
                    .manifest
                    .app
                    .clone()
                    .explain(|| format!("app {}: the image has no app section", app.name))?;
                apps::check_grants(app.name.as_str(), &a.isolators, grants)?;
                a
            }
        };
        section.validate().explain(|| format!("app {}", app.name))?;
        apps::check_app(
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

/// Prepares the pod `args` asks for: in `prepared` (and unlocked) when
/// `prepare_only`, else in `run` and locked by the returned file.
/// `check_run` says what is wrong with running that many apps with that
/// stage1 (`true`: the fly flavour), before the pod directory is made.
pub fn prepare(
    at: &Preparation<'_>,
    args: &PodRequest,
    check_run: &dyn Fn(usize, bool) -> Result<(), String>,
    prepare_only: bool,
) -> Result<Prepared> {
    let (store, fetcher) = (at.store, at.fetcher);
    // No image chosen here is removed before the pod records it.
    let _pinned = store.pin_for_pod()?;
    if args.pod_manifest.is_some() && !args.apps.is_empty() {
        refuse!("conflicting flags set with --pod-manifest (see --help)");
    }
    let (manifest, records) = match &args.pod_manifest {
        Some(path) => pod_from_file(path, store, fetcher, args.grants)?,
        None => pod_from_flags(args, store, fetcher)?,
    };
    for rec in &records {
        runs_here(rec)?;
    }
    crate::pod_input::pod(&manifest)?;
    check_ports(&manifest)?;
    // The empty volumes made for image mount points that were given none,
    // which stage1 fills with the image's files there.
    let explicit = pod_volumes(&args.volumes)?;
    let implicit: Vec<String> = manifest
        .volumes
        .iter()
        .flatten()
        .filter(|v| args.pod_manifest.is_none() && !explicit.iter().any(|e| e.name == v.name))
        .map(|v| v.name.to_string())
        .collect();
    let app_count = manifest.apps.as_ref().map_or(0, Vec::len);
    let stage1 = choose_stage1(at, &args.stage1)?;
    let fly = stage1.name == Flavor::Fly.image_name();
    check_run(app_count, fly).map_err(PrepareError::Refused)?;
    let entrypoint = stage1_image::run_entrypoint(store, &stage1)?;

    let pods = Pods::open(at.data_dir)?;
    let (mut pod, lock) = pods.create()?;
    let json = manifest.to_json().explain_str("the pod manifest")?;
    let step = |what: &str| {
        if at.debug {
            eprintln!("stage0: {what}");
        }
    };
    let prepare = |files: &PodDir| -> Result<()> {
        step("Preparing stage1");
        let write = |path: PathBuf, text: &str| std::fs::write(&path, text).map_err(io_at(&path));
        let mkdir = |path: PathBuf| std::fs::create_dir_all(&path).map_err(io_at(&path));
        step("Writing pod manifest");
        write(files.manifest(), &json)?;
        write(files.created(), &crate::display::now_nanos().to_string())?;
        write(files.stage1_image(), &stage1.id)?;
        if args.no_overlay {
            write(files.no_overlay(), "")?;
        }
        if !implicit.is_empty() {
            write(files.implicit_volumes(), &(implicit.join("\n") + "\n"))?;
        }
        for dir in files.content_dirs() {
            crate::data_dir::ensure_root_only(&dir).map_err(io_at(&dir))?;
        }
        for (app, rec) in manifest.apps.iter().flatten().zip(&records) {
            let name = app.name.as_str();
            mkdir(files.app_info(name))?;
            let tree = store.tree_path(&rec.hash());
            write(files.app_tree(name), &tree.display().to_string())?;
            mkdir(files.app_root(name))?;
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
    for rec in &records {
        store.touch(&rec.hash())?;
    }
    Ok(Prepared {
        pod,
        lock,
        entrypoint,
    })
}
