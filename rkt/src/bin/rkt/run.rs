//! `rkt run [POD FLAGS] IMAGE [APP FLAGS] [-- ARGS] [--- IMAGE ...]`
//!
//! Fetches the images, prepares a pod (`embryo` → `prepare` → `run`) and
//! exec()s stage1, which inherits the pod lock: the process that ran
//! `rkt run` becomes the pod's supervisor and exits with the pod's status.

use crate::Settings;
use anyhow::{Context, bail};
use pod::net::Selection;
use rkt::fetch::{Fetcher, HttpClient, PullPolicy};
use rkt::pods::Pod;
use rkt::prepare::{Grants, PodRequest, Preparation, Prepared, Stage1Choice};
use std::fs::File;
use std::path::{Path, PathBuf};

/// What `rkt run` and `rkt run-prepared` both take: how the pod runs.
#[derive(clap::Args)]
#[group(skip)]
pub struct PodRunOptions {
    /// pod hostname (default rkt-<uuid>)
    #[arg(long)]
    pub hostname: Option<String>,
    /// networks to join, comma-separated or repeated: default (the
    /// default), default-restricted, none (loopback only), host, all, or
    /// NAME[:CNI_ARGS] of <local-config>/net.d; fly always shares the host's
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "default")]
    pub net: Vec<String>,
    /// name servers for the pod's resolv.conf, or "host" (the host's) or
    /// "none" (the image's, ignoring the networks' DNS)
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
    /// the pod's IPC namespace: auto (the stage1's choice: its own),
    /// private (its own) or parent (the host's)
    #[arg(long)]
    pub ipc: Option<String>,
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
        if let Some(bad) = self
            .ipc
            .as_deref()
            .filter(|m| !["auto", "private", "parent"].contains(m))
        {
            bail!("--ipc {bad:?}: auto, private or parent");
        }
        let no_net = self
            .net
            .iter()
            .flat_map(|n| n.split(','))
            .any(|n| n == "none");
        if self.mds_register && no_net {
            bail!("--mds-register: a pod with --net=none cannot reach the metadata service");
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
            ("--net", !self.net.is_empty()),
            ("--ipc", self.ipc.is_some()),
        ];
        if let Some((flag, _)) = given.iter().find(|(_, g)| *g) {
            bail!("{flag} is an option of run-prepared, not of prepare");
        }
        Ok(())
    }

    /// Checks what depends on the pod: its app count and its stage1
    /// (fly shares the host's network whatever --net says, as rkt's fly);
    /// the networks must be known and their plugins present.
    pub fn check_for(&self, apps: usize, fly: bool, settings: &Settings) -> anyhow::Result<()> {
        if self.interactive && apps != 1 {
            bail!("--interactive runs exactly one app ({apps} given)");
        }
        if fly {
            return Ok(());
        }
        let net_d = settings.local_config.join("net.d");
        if let Selection::Own(nets) =
            pod::net::select(&self.net, &net_d).map_err(anyhow::Error::msg)?
        {
            pod::net::check_plugins(&nets, &settings.net_plugin_path())
                .map_err(anyhow::Error::msg)?;
        }
        Ok(())
    }

    /// rkt's run flags for stage1 that come from these options.
    fn stage1_flags(&self) -> Vec<String> {
        let nets = if self.net.is_empty() {
            "default".to_string()
        } else {
            self.net.join(",")
        };
        let mut flags: Vec<String> = vec![format!("--net={nets}")];
        flags.extend(self.hostname.iter().map(|h| format!("--hostname={h}")));
        if self.interactive {
            flags.push("--interactive".into());
        }
        flags.extend(self.dns().flags());
        flags.extend(self.ipc.iter().map(|m| format!("--ipc={m}")));
        flags
    }
}

#[derive(clap::Args)]
#[group(skip)]
#[command(mut_args = crate::pflag_bool)]
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
    /// forward an app's port from the host: NAME:[HOSTIP:]HOSTPORT (NAME as
    /// the image declares it; through the CNI portmap plugin)
    #[arg(long)]
    port: Vec<String>,
    /// run the pod this manifest describes (no images or app flags then)
    #[arg(long)]
    pod_manifest: Option<PathBuf>,
    /// stage1 image to use, from the store by image ID
    #[arg(long)]
    stage1_hash: Option<String>,
    /// stage1 image to use, fetched (and verified) from a URL
    #[arg(long)]
    stage1_url: Option<String>,
    /// stage1 image to use, a file of the stage1 images directory (paths.d)
    #[arg(long)]
    stage1_from_dir: Option<String>,
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

impl Args {
    /// rkt parses its pod flags wherever they stand, after an image too
    /// (`rkt run IMAGE --hostname=web`): those among the apps' words,
    /// outside an app's arguments (`--` to `---`), are taken from them.
    pub fn take_pod_flags(mut self) -> anyhow::Result<Args> {
        let mut kept = Vec::new();
        let mut words = std::mem::take(&mut self.apps).into_iter();
        let mut in_args = false;
        while let Some(word) = words.next() {
            in_args = match word.as_str() {
                "---" => false,
                "--" => true,
                _ => in_args,
            };
            let flag = word.strip_prefix("--").filter(|_| !in_args);
            let Some((name, inline)) = flag.map(|f| match f.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (f.to_string(), None),
            }) else {
                kept.push(word);
                continue;
            };
            let list = |v: String| v.split(',').map(str::to_string).collect::<Vec<_>>();
            let flag_bool = |v: &Option<String>| match v.as_deref() {
                None | Some("true") => Ok(true),
                Some("false") => Ok(false),
                Some(other) => Err(anyhow::anyhow!("--{name}={other}: true or false")),
            };
            let takes_value = [
                "hostname",
                "dns",
                "dns-search",
                "dns-opt",
                "dns-domain",
                "hosts-entry",
                "net",
                "port",
                "volume",
                "set-env",
                "set-env-file",
                "uuid-file-save",
                "ipc",
            ];
            let value = if name == "net" {
                // A bare --net is rkt's "default", as before an image.
                inline.clone().unwrap_or_else(|| "default".into())
            } else if takes_value.contains(&name.as_str()) {
                match inline.clone().or_else(|| words.next()) {
                    Some(v) => v,
                    None => bail!("--{name} needs a value"),
                }
            } else {
                String::new()
            };
            match name.as_str() {
                "hostname" => self.pod.hostname = Some(value),
                "dns" => self.pod.dns.extend(list(value)),
                "dns-search" => self.pod.dns_search.extend(list(value)),
                "dns-opt" => self.pod.dns_opt.extend(list(value)),
                "dns-domain" => self.pod.dns_domain = Some(value),
                "hosts-entry" => self.pod.hosts_entry.extend(list(value)),
                "net" => self.pod.net.push(value),
                "ipc" => self.pod.ipc = Some(value),
                "port" => self.port.push(value),
                "volume" => self.volume.push(value),
                "set-env" => self.set_env.push(value),
                "set-env-file" => self.set_env_file = Some(PathBuf::from(value)),
                "uuid-file-save" => self.uuid_file_save = Some(PathBuf::from(value)),
                "interactive" => self.pod.interactive = flag_bool(&inline)?,
                "mds-register" => self.pod.mds_register = flag_bool(&inline)?,
                "inherit-env" => self.inherit_env = flag_bool(&inline)?,
                "no-overlay" => self.no_overlay = flag_bool(&inline)?,
                // An app flag: the apps' parser takes it.
                _ => kept.push(word),
            }
        }
        self.apps = kept;
        Ok(self)
    }

    /// The pod asked for, as the library takes it.
    fn request(&self, settings: &Settings) -> PodRequest {
        PodRequest {
            apps: self.apps.clone(),
            pod_manifest: self.pod_manifest.clone(),
            volumes: self.volume.clone(),
            set_env: self.set_env.clone(),
            set_env_file: self.set_env_file.clone(),
            inherit_env: self.inherit_env,
            no_overlay: self.no_overlay,
            stage1: Stage1Choice {
                path: self.stage1_path.clone(),
                name: self.stage1_name.clone(),
                hash: self.stage1_hash.clone(),
                url: self.stage1_url.clone(),
                from_dir: self.stage1_from_dir.clone(),
            },
            ports: self.port.clone(),
            grants: Grants {
                capabilities: settings.insecure.capabilities,
                seccomp: settings.insecure.seccomp,
            },
        }
    }
}

/// Prepares a pod from `args`: in `prepared` (and unlocked) when
/// `prepare_only`, else in `run` and locked by the returned file.
pub fn prepare(settings: &Settings, args: &Args, prepare_only: bool) -> anyhow::Result<Prepared> {
    // rkt's flags that a pod manifest says instead, refused in its words.
    if args.pod_manifest.is_some()
        && (!args.apps.is_empty()
            || !args.volume.is_empty()
            || !args.set_env.is_empty()
            || args.set_env_file.is_some()
            || args.inherit_env
            || !args.port.is_empty()
            || args.store_only
            || args.no_store)
    {
        bail!("conflicting flags set with --pod-manifest (see --help)");
    }
    args.pod.check()?;
    // A pod run now needs the service now; a prepared one when it runs.
    if args.pod.mds_register && !prepare_only {
        check_mds_running()?;
    }
    if args.pod_manifest.is_none() {
        // Before any image is fetched: --interactive takes one app.
        let apps = rkt::prepare::app_count(&args.apps)?;
        args.pod.check_for(apps, true, settings)?;
    }
    if !args.port.is_empty() && args.pod.net.iter().any(|n| n == "host") {
        bail!("--port forwards into a pod's own network; it has none with --net=host");
    }
    let store = settings.image_store()?;
    let trust = settings.trust_store();
    let pull_policy = PullPolicy::from_flags(&args.pull_policy, args.store_only, args.no_store)
        .context("--pull-policy is new, update or never, and --store-only excludes --no-store")?;
    let fetcher = |insecure_image: bool, signature: Option<PathBuf>| {
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
            docker_auth: settings.config.docker_auth.clone(),
            debug: settings.debug,
        })
    };
    let at = Preparation {
        store: &store,
        data_dir: &settings.data_dir,
        stage1_images_dir: settings.config.stage1_images_dir.as_deref(),
        default_stage1: settings.config.stage1.as_ref(),
        fetcher: &fetcher,
        debug: settings.debug,
    };
    let check_run = |apps: usize, fly: bool| {
        if fly && !args.port.is_empty() {
            return Err("--port forwards into a pod's own network; fly shares the host's".into());
        }
        args.pod
            .check_for(apps, fly, settings)
            .map_err(|e| e.to_string())
    };
    let prepared = rkt::prepare::prepare(&at, &args.request(settings), &check_run, prepare_only)?;
    if let Some(file) = &args.uuid_file_save {
        std::fs::write(file, format!("{}\n", prepared.pod.uuid))
            .with_context(|| file.display().to_string())?;
    }
    Ok(prepared)
}

pub fn run(settings: &Settings, args: Args) -> anyhow::Result<()> {
    let args = args.take_pod_flags()?;
    let p = prepare(settings, &args, false)?;
    exec_stage1(settings, &p.pod, &p.lock, &p.entrypoint, &args.pod)
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
    if options.mds_register || pod.files().mds_register().exists() {
        register_with_mds(settings, pod).context("--mds-register")?;
    }
    rustix::io::fcntl_setfd(lock, rustix::io::FdFlags::empty())?;
    let lock_fd = std::os::fd::AsRawFd::as_raw_fd(lock);
    // rkt's run interface: in the pod directory, the lock in RKT_LOCK_FD,
    // rkt's flags, the UUID last.
    let mut argv = vec![
        entrypoint.display().to_string(),
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
    if settings.debug {
        eprintln!("stage0: Execing {argv:?}");
    }
    let argv = argv
        .into_iter()
        .map(|a| std::ffi::CString::new(a).context("a NUL in stage1's arguments"))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut env: Vec<_> = pod::exe::current_env()
        .into_iter()
        .filter(|kv| !kv.as_bytes().starts_with(b"RKT_LOCK_FD="))
        .collect();
    env.push(std::ffi::CString::new(format!("RKT_LOCK_FD={lock_fd}"))?);
    env.retain(|kv| !kv.as_bytes().starts_with(b"CNI_PATH="));
    env.push(settings.cni_path_env()?);
    std::env::set_current_dir(&pod.path).with_context(|| pod.path.display().to_string())?;
    // Read-only, so the pod cannot change the program (see stage1::exe).
    bail!(
        "cannot execute stage1: {}",
        pod::exe::exec_read_only(entrypoint, &argv, &env)
    )
}

/// Fails, naming the socket, where no metadata service listens.
pub fn check_mds_running() -> anyhow::Result<()> {
    rkt::mds::registration::check_running(&rkt::mds::socket_path()).context("--mds-register")?;
    Ok(())
}

/// Registers the pod with the metadata service (its manifest, each app's
/// image manifest, a new secret token) and records the registration in
/// the pod directory, where stage1 reads the apps' URL from.
fn register_with_mds(settings: &Settings, pod: &Pod) -> anyhow::Result<()> {
    let files = pod.files();
    let path = files.manifest();
    let text = std::fs::read_to_string(&path).with_context(|| path.display().to_string())?;
    let pod_manifest: serde_json::Value =
        serde_json::from_str(&text).with_context(|| path.display().to_string())?;
    let store = settings.image_store()?;
    let mut images = std::collections::BTreeMap::new();
    for app in pod.manifest()?.apps.unwrap_or_default() {
        let id = app
            .image
            .id
            .with_context(|| format!("app {} has no image ID", app.name))?;
        let record = store
            .record(&id)?
            .with_context(|| format!("image {id} of app {} is not in the store", app.name))?;
        images.insert(
            app.name.to_string(),
            serde_json::to_value(&record.manifest)?,
        );
    }
    let token = rkt::mds::new_token().context("random bytes for the pod's token")?;
    let socket = rkt::mds::socket_path();
    let registration = rkt::mds::registry::PodRegistration {
        token: token.clone(),
        pod_manifest,
        images,
    };
    let port = rkt::mds::registration::register(&socket, &pod.uuid, &registration)?;
    let record = pod::mds::Registration {
        socket,
        token,
        port,
    };
    if let Err(e) = record.write(&files) {
        let _ = pod::mds::unregister(&record.socket, &pod.uuid);
        bail!(e);
    }
    Ok(())
}
