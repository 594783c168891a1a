//! `rkt list`, `rkt status`, `rkt stop`, `rkt rm`, `rkt gc`.

use crate::Settings;
use anyhow::{Context, bail};
use pod::PodDir;
use rkt::display::{ago, full_time, now_nanos, parse_duration};
use rkt::pods::{Dir, Pod, Pods, State};
use rkt::store::ImageStore;
use std::path::PathBuf;

#[derive(clap::Args)]
#[group(skip)]
#[command(mut_args = crate::pflag_bool)]
pub struct ListArgs {
    /// use long output format
    #[arg(long)]
    full: bool,
    /// suppress the legend
    #[arg(long)]
    no_legend: bool,
    /// output format: json or json-pretty
    #[arg(long, value_parser = ["json", "json-pretty"])]
    format: Option<String>,
}

#[derive(clap::Args)]
#[group(skip)]
#[command(mut_args = crate::pflag_bool)]
pub struct StatusArgs {
    /// wait for the pod to exit (optionally at most this long, e.g. 30s)
    #[arg(long, num_args = 0..=1, default_missing_value = "forever")]
    wait: Option<String>,
    /// wait for the pod to be running (optionally at most this long)
    #[arg(long, num_args = 0..=1, default_missing_value = "forever", conflicts_with = "wait")]
    wait_ready: Option<String>,
    /// output format: json or json-pretty
    #[arg(long, value_parser = ["json", "json-pretty"])]
    format: Option<String>,
    /// read the UUID from this file
    #[arg(long, conflicts_with = "uuid")]
    uuid_file: Option<PathBuf>,
    #[arg(required_unless_present = "uuid_file")]
    uuid: Option<String>,
}

#[derive(clap::Args)]
#[group(skip)]
#[command(mut_args = crate::pflag_bool)]
pub struct StopArgs {
    /// kill the pod instead of stopping it gracefully
    #[arg(long)]
    force: bool,
    /// read the UUID from this file
    #[arg(long)]
    uuid_file: Option<PathBuf>,
    uuids: Vec<String>,
}

#[derive(clap::Args)]
#[group(skip)]
#[command(mut_args = crate::pflag_bool)]
pub struct RmArgs {
    /// read the UUID from this file
    #[arg(long)]
    uuid_file: Option<PathBuf>,
    /// remove the pod even where its stage1 cannot release all it holds
    /// (a network plugin failing its DEL), naming what remains
    #[arg(long)]
    force: bool,
    uuids: Vec<String>,
}

#[derive(clap::Args)]
#[group(skip)]
#[command(mut_args = crate::pflag_bool)]
pub struct GcArgs {
    /// how long exited pods stay before removal
    #[arg(long, default_value = "30m")]
    grace_period: String,
    /// how long prepared pods stay before removal
    #[arg(long, default_value = "24h")]
    expire_prepared: String,
    /// only mark exited pods as garbage
    #[arg(long)]
    mark_only: bool,
}

fn uuids(given: Vec<String>, file: Option<PathBuf>) -> anyhow::Result<Vec<String>> {
    let mut all = given;
    if let Some(f) = file {
        all.push(
            std::fs::read_to_string(&f)
                .with_context(|| f.display().to_string())?
                .trim()
                .to_string(),
        );
    }
    if all.is_empty() {
        bail!("a pod UUID (or --uuid-file) is required");
    }
    Ok(all)
}

struct Row {
    pod: Pod,
    state: State,
    /// Name, image name and image ID of each app.
    apps: Vec<(String, String, String)>,
    created: Option<i64>,
    started: Option<i64>,
    /// The networks joined, while the pod is in them and after.
    networks: Vec<pod::net::Joined>,
}

/// The networks as rkt lists them: `default:ip4=172.16.28.2`, comma-separated.
fn networks_text(networks: &[pod::net::Joined]) -> String {
    let mut items = Vec::new();
    for n in networks {
        for ip in &n.ips {
            let family = if ip.contains(':') { "ip6" } else { "ip4" };
            items.push(format!("{}:{family}={ip}", n.name));
        }
    }
    items.join(",")
}

/// The networks as rkt's JSON output has them.
fn networks_json(networks: &[pod::net::Joined]) -> serde_json::Value {
    networks
        .iter()
        .map(|n| {
            serde_json::json!({"netName": n.name, "ifName": n.ifname,
                "ip": n.ips.first().cloned().unwrap_or_default()})
        })
        .collect()
}

fn describe(pod: Pod) -> anyhow::Result<Row> {
    let state = pod.state()?;
    let apps = match pod.manifest() {
        Ok(m) => m
            .apps
            .unwrap_or_default()
            .into_iter()
            .map(|a| {
                (
                    a.name.to_string(),
                    a.image.name.map(|n| n.to_string()).unwrap_or_default(),
                    a.image.id.map(|i| i.to_string()).unwrap_or_default(),
                )
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    let (created, started) = (pod.number(PodDir::created), pod.number(PodDir::started));
    let networks = pod::net::info(&pod.files());
    Ok(Row {
        pod,
        state,
        apps,
        created,
        started,
        networks,
    })
}

pub fn list(settings: &Settings, a: ListArgs) -> anyhow::Result<()> {
    let pods = Pods::open(&settings.data_dir)?;
    let mut rows: Vec<Row> = pods
        .list()?
        .into_iter()
        .map(describe)
        .collect::<anyhow::Result<_>>()?;
    rows.sort_by_key(|r| r.created.unwrap_or(0));
    if let Some(format) = &a.format {
        let items: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                let apps: Vec<_> = r.apps.iter().map(|(n, i, _)| serde_json::json!({"name": n, "image_name": i})).collect();
                serde_json::json!({"name": r.pod.uuid, "state": r.state.name(), "networks": networks_json(&r.networks),
                    "created": r.created, "started": r.started, "app_names": apps})
            })
            .collect();
        return crate::print_json(&items, format);
    }
    let now = now_nanos();
    let time = |t: Option<i64>| match (t, a.full) {
        (None, _) => String::new(),
        (Some(t), true) => full_time(t),
        (Some(t), false) => ago(t, now),
    };
    let mut out = String::new();
    if !a.no_legend {
        // --full adds the image ID, as rkt's does.
        let id = if a.full { "IMAGE ID\t" } else { "" };
        out.push_str(&format!(
            "UUID\tAPP\tIMAGE NAME\t{id}STATE\tCREATED\tSTARTED\tNETWORKS\n"
        ));
    }
    // rkt's form of the image ID, as `rkt image list` shows it:
    // `sha512-` and 12 hex digits.
    let id = |image_id: &str| {
        if a.full {
            format!("{}\t", image_id.get(..19).unwrap_or(image_id))
        } else {
            String::new()
        }
    };
    for r in &rows {
        let uuid = if a.full {
            r.pod.uuid.clone()
        } else {
            r.pod.uuid.chars().take(8).collect()
        };
        let started = if matches!(
            r.state,
            State::Running | State::Exited | State::ExitedGarbage
        ) {
            time(r.started)
        } else {
            String::new()
        };
        let first = r.apps.first().cloned().unwrap_or_default();
        out.push_str(&format!(
            "{uuid}\t{}\t{}\t{}{}\t{}\t{started}\t{}\n",
            first.0,
            first.1,
            id(&first.2),
            r.state.name(),
            time(r.created),
            networks_text(&r.networks)
        ));
        for (name, image, image_id) in r.apps.iter().skip(1) {
            out.push_str(&format!("\t{name}\t{image}\t{}\t\t\t\n", id(image_id)));
        }
    }
    print!("{out}");
    Ok(())
}

pub fn status(settings: &Settings, a: StatusArgs) -> anyhow::Result<()> {
    let pods = Pods::open(&settings.data_dir)?;
    let uuid = uuids(a.uuid.into_iter().collect(), a.uuid_file)?.remove(0);
    let mut pod = pods.find(&uuid)?;
    let waits = [(&a.wait, false), (&a.wait_ready, true)];
    if let Some((Some(wait), ready)) = waits.into_iter().find(|(w, _)| w.is_some()) {
        let deadline = match wait.as_str() {
            "forever" => None,
            d => Some(
                std::time::Instant::now()
                    + parse_duration(d).with_context(|| format!("invalid duration {d:?}"))?,
            ),
        };
        loop {
            pod = pods.find(&pod.uuid)?;
            let state = pod.state()?;
            let done = if ready {
                // Ready: running, or already past it.
                !matches!(state, State::Embryo | State::Preparing | State::Prepared)
            } else {
                !matches!(
                    state,
                    State::Running | State::Embryo | State::Preparing | State::Prepared
                )
            };
            if done {
                break;
            }
            if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                bail!("pod {} is still {} after {wait}", pod.uuid, state.name());
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
    let row = describe(pod)?;
    let exited = matches!(
        row.state,
        State::Exited | State::ExitedGarbage | State::Garbage
    );
    let statuses = row.pod.app_statuses()?;
    let pid = if row.state == State::Running {
        row.pod.number(PodDir::pid)
    } else {
        None
    };
    if let Some(format) = &a.format {
        let apps: serde_json::Map<String, serde_json::Value> = statuses
            .iter()
            .map(|(n, c)| (n.clone(), serde_json::json!(c)))
            .collect();
        let v = serde_json::json!({"name": row.pod.uuid, "state": row.state.name(),
            "networks": networks_json(&row.networks), "created": row.created,
            "started": row.started, "pid": pid, "exited": exited, "app_exit_codes": apps});
        return crate::print_json(&v, format);
    }
    println!("state={}", row.state.name());
    println!("created={}", row.created.map(full_time).unwrap_or_default());
    println!("started={}", row.started.map(full_time).unwrap_or_default());
    println!("networks={}", networks_text(&row.networks));
    if let Some(pid) = pid {
        println!("pid={pid}");
    }
    println!("exited={exited}");
    for (name, code) in statuses {
        println!("app-{name}={code}");
    }
    Ok(())
}

/// The entrypoint (`which`) of the stage1 image pod `pod` runs with, if
/// the pod records one and the image has it.
pub fn stage1_entrypoint(
    settings: &Settings,
    pod: &Pod,
    which: fn(&rkt::store::ImageStore, &rkt::store::ImageRecord) -> Option<PathBuf>,
) -> anyhow::Result<Option<PathBuf>> {
    let Ok(id) = std::fs::read_to_string(pod.files().stage1_image()) else {
        return Ok(None);
    };
    let store = settings.image_store()?;
    let stage1 = store.for_pod(&id)?;
    Ok(which(&store, &stage1))
}

pub fn stop(settings: &Settings, a: StopArgs) -> anyhow::Result<()> {
    let pods = Pods::open(&settings.data_dir)?;
    for given in uuids(a.uuids, a.uuid_file)? {
        let pod = pods.find(&given)?;
        if pod.state()? != State::Running {
            bail!("pod {} is not running", pod.uuid);
        }
        if let Some(stop) = stage1_entrypoint(settings, &pod, rkt::stage1_image::stop_entrypoint)? {
            let mut cmd = std::process::Command::new(&stop);
            if a.force {
                cmd.arg("--force");
            }
            let status = cmd
                .arg(&pod.uuid)
                .current_dir(&pod.path)
                .status()
                .with_context(|| format!("pod {}: running {}", pod.uuid, stop.display()))?;
            if !status.success() {
                bail!("pod {}: its stage1 could not stop it ({status})", pod.uuid);
            }
            println!("{}", pod.uuid);
            continue;
        }
        // A stage1 without a stop entrypoint: as ours does it.
        // Graceful: the supervisor forwards SIGTERM to the pod's init.
        // Forced: the init itself is killed, and the whole pod with it.
        let (file, signal): (fn(&PodDir) -> PathBuf, _) = if a.force {
            (PodDir::pid, rustix::process::Signal::KILL)
        } else {
            (PodDir::ppid, rustix::process::Signal::TERM)
        };
        let pid = pod
            .number(file)
            .and_then(|p| rustix::process::Pid::from_raw(p as i32))
            .with_context(|| format!("{}: no process recorded", file(&pod.files()).display()))?;
        rustix::process::kill_process(pid, signal).with_context(|| format!("pod {}", pod.uuid))?;
        println!("{}", pod.uuid);
    }
    Ok(())
}

pub fn rm(settings: &Settings, a: RmArgs) -> anyhow::Result<()> {
    let pods = Pods::open(&settings.data_dir)?;
    let store = settings.image_store()?;
    for given in uuids(a.uuids, a.uuid_file)? {
        let pod = pods.find(&given)?;
        let Some(_lock) = pod.try_lock()? else {
            bail!(
                "pod {} is running or being prepared; stop it first",
                pod.uuid
            )
        };
        let uuid = pod.uuid.clone();
        collect(settings, &store, &pods, pod, a.force)?;
        println!("\"{uuid}\"");
    }
    Ok(())
}

/// Releases what the pod's stage1 holds outside the pod directory (through
/// the stage1 image's gc entrypoint, as rkt does) and its metadata
/// service registration, then removes the pod.
/// A pod whose stage1 gc fails is kept, for the next gc to retry, unless
/// `force`: then the stage1 lets go of what it cannot release (ours says
/// what, with its own `--force`), and the pod goes all the same.
fn collect(
    settings: &Settings,
    store: &ImageStore,
    pods: &Pods,
    pod: Pod,
    force: bool,
) -> anyhow::Result<()> {
    if let Ok(id) = std::fs::read_to_string(pod.files().stage1_image()) {
        match store.for_pod(&id) {
            Ok(stage1) => {
                if let Some(gc) = rkt::stage1_image::gc_entrypoint(store, &stage1) {
                    // rkt's gc interface: [--debug] UUID, in the pod directory.
                    let plugins = std::env::join_paths(settings.net_plugin_path())?;
                    let ours = stage1.name == rkt::stage1_image::Flavor::Default.image_name()
                        || stage1.name == rkt::stage1_image::Flavor::Fly.image_name();
                    let status = std::process::Command::new(&gc)
                        .env("CNI_PATH", plugins)
                        .args(settings.debug.then_some("--debug"))
                        .args((force && ours).then_some("--force"))
                        .arg(&pod.uuid)
                        .current_dir(&pod.path)
                        .status()
                        .with_context(|| format!("pod {}: running {}", pod.uuid, gc.display()))?;
                    if !status.success() && !force {
                        let first = pod.files().gc_failed();
                        if !first.exists() {
                            std::fs::write(&first, now_nanos().to_string())?;
                        }
                        bail!("pod {}: its stage1 gc failed ({status}); kept", pod.uuid);
                    }
                    if !status.success() {
                        eprintln!(
                            "pod {}: its stage1 gc failed ({status}); removed all the same",
                            pod.uuid
                        );
                    }
                }
            }
            Err(_) => eprintln!(
                "pod {}: its stage1 image {} is no longer stored; removing the pod without it",
                pod.uuid,
                id.trim()
            ),
        }
    }
    forget_with_mds(&pod);
    Ok(pod.remove(pods)?)
}

/// Unregisters a collected pod from the metadata service, if it was
/// registered and its supervisor did not (it was killed): quiet when the
/// service is not running, which forgot the pod with the rest.
fn forget_with_mds(pod: &Pod) {
    match pod::mds::Registration::read(&pod.files()) {
        Ok(Some(reg)) if reg.socket.exists() => {
            if let Err(e) = pod::mds::unregister(&reg.socket, &pod.uuid) {
                eprintln!("pod {}: {e}", pod.uuid);
            }
        }
        Ok(_) => {}
        Err(e) => eprintln!("pod {}: {e}", pod.uuid),
    }
}

pub fn gc(settings: &Settings, a: GcArgs) -> anyhow::Result<()> {
    let grace = parse_duration(&a.grace_period)
        .with_context(|| format!("invalid --grace-period {:?}", a.grace_period))?;
    let expire = parse_duration(&a.expire_prepared)
        .with_context(|| format!("invalid --expire-prepared {:?}", a.expire_prepared))?;
    let pods = Pods::open(&settings.data_dir)?;
    let store = settings.image_store()?;
    let now = now_nanos();
    let mut failed = 0;
    for mut pod in pods.list()? {
        let state = pod.state()?;
        let age = |file: fn(&PodDir) -> PathBuf| pod.number(file).map_or(i64::MAX, |t| now - t);
        // Failing its gc past the grace period: what cannot be released
        // is let go of, and named.
        let failing_long =
            pod.files().gc_failed().exists() && age(PodDir::gc_failed) >= grace.as_nanos() as i64;
        let due = match state {
            State::Exited => {
                println!("Moving pod \"{}\" to garbage", pod.uuid);
                // An exited pod answers for nothing, from the mark on.
                forget_with_mds(&pod);
                pod.move_to(&pods, Dir::ExitedGarbage)?;
                std::fs::write(pod.files().gc_marked(), now.to_string())?;
                grace.is_zero()
            }
            State::ExitedGarbage => age(PodDir::gc_marked) >= grace.as_nanos() as i64,
            State::Prepared => age(PodDir::created) >= expire.as_nanos() as i64,
            // A crashed rkt left these; nobody holds their lock.
            State::AbortedPrepare | State::Garbage => true,
            State::Embryo => pod.try_lock()?.is_some(),
            _ => false,
        };
        if due && !a.mark_only {
            println!("Garbage collecting pod \"{}\"", pod.uuid);
            // One pod that cannot be collected does not hold up the others.
            if let Err(e) = collect(settings, &store, &pods, pod, failing_long) {
                eprintln!("gc: {}", appc::printable::one_line(&format!("{e:#}")));
                failed += 1;
            }
        }
    }
    if failed > 0 {
        bail!("{failed} pods could not be collected; they are kept for the next gc");
    }
    Ok(())
}

#[derive(clap::Args)]
#[group(skip)]
#[command(mut_args = crate::pflag_bool)]
pub struct PrepareArgs {
    /// print only the UUID
    #[arg(long, short)]
    quiet: bool,
    #[command(flatten)]
    run: crate::run::Args,
}

/// `rkt prepare`: a pod ready to run, its UUID on stdout.
pub fn prepare(settings: &Settings, mut a: PrepareArgs) -> anyhow::Result<()> {
    a.run = a.run.take_pod_flags()?;
    a.run.pod.refuse_at_prepare()?;
    let pod = crate::run::prepare(settings, &a.run, true)?.pod;
    if a.run.pod.mds_register {
        // Registered when run-prepared runs it, as `rkt run` would.
        let marker = pod.files().mds_register();
        std::fs::write(&marker, "").with_context(|| marker.display().to_string())?;
    }
    if !a.quiet {
        eprintln!("pod {} prepared", pod.uuid);
    }
    println!("{}", pod.uuid);
    Ok(())
}

#[derive(clap::Args)]
#[group(skip)]
#[command(mut_args = crate::pflag_bool)]
pub struct RunPreparedArgs {
    #[command(flatten)]
    pod: crate::run::PodRunOptions,
    uuid: String,
}

/// `rkt run-prepared UUID`: runs a prepared pod, as `rkt run` would.
pub fn run_prepared(settings: &Settings, a: RunPreparedArgs) -> anyhow::Result<()> {
    a.pod.check()?;
    let pods = Pods::open(&settings.data_dir)?;
    let mut pod = pods.find(&a.uuid)?;
    if pod.dir != Dir::Prepared {
        bail!(
            "pod {} is not prepared (it is {})",
            pod.uuid,
            pod.state()?.name()
        );
    }
    let Some(lock) = pod.try_lock()? else {
        bail!("pod {} is being run already", pod.uuid)
    };
    if a.pod.mds_register || pod.files().mds_register().exists() {
        crate::run::check_mds_running()?;
    }
    let store = settings.image_store()?;
    let stage1_id = std::fs::read_to_string(pod.files().stage1_image())
        .with_context(|| format!("pod {}: no stage1 recorded", pod.uuid))?;
    let stage1 = store.for_pod(&stage1_id)?;
    let entrypoint = rkt::stage1_image::run_entrypoint(&store, &stage1)?;
    let apps = pod.manifest()?.apps.map_or(0, |a| a.len());
    let fly = stage1.name == rkt::stage1_image::Flavor::Fly.image_name();
    // The network `rkt prepare` accepted, unless given again here.
    a.pod.check_for(apps, fly, settings)?;
    pod.move_to(&pods, Dir::Run)?;
    crate::run::exec_stage1(settings, &pod, &lock, &entrypoint, &a.pod)
}

#[derive(clap::Args)]
#[group(skip)]
#[command(mut_args = crate::pflag_bool)]
pub struct CatManifestArgs {
    #[arg(long)]
    pretty_print: bool,
    uuid: String,
}

/// `rkt cat-manifest UUID`: the pod manifest.
pub fn cat_manifest(settings: &Settings, a: CatManifestArgs) -> anyhow::Result<()> {
    let pod = Pods::open(&settings.data_dir)?.find(&a.uuid)?;
    let m = pod.manifest()?;
    let text = if a.pretty_print {
        appc::schema::to_json_pretty(&m)?
    } else {
        m.to_json()?
    };
    println!("{text}");
    Ok(())
}

/// `rkt config`: the merged configuration, credentials left out.
#[derive(clap::Args)]
#[group(skip)]
pub struct ConfigArgs {
    /// indent the output (rkt's default; --pretty-print=false for one line)
    #[arg(
        long,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        require_equals = true,
        default_value = "true",
        default_missing_value = "true",
        value_parser = clap::value_parser!(bool)
    )]
    pretty_print: bool,
}

pub fn config(settings: &Settings, a: ConfigArgs) -> anyhow::Result<()> {
    use rkt::config::Credentials;
    let c = &settings.config;
    let creds = |m: &std::collections::BTreeMap<String, Credentials>,
                 key: &str|
     -> Vec<serde_json::Value> {
        m.iter()
            .map(|(target, cred)| {
                let (typ, who) = match cred {
                    Credentials::Basic { user, .. } => ("basic", serde_json::json!({"user": user, "password": "[redacted]"})),
                    Credentials::OAuth { .. } => ("oauth", serde_json::json!({"token": "[redacted]"})),
                };
                serde_json::json!({"rktKind": if key == "domains" { "auth" } else { "dockerAuth" }, "rktVersion": "v1", key: [target], "type": typ, "credentials": who})
            })
            .collect()
    };
    let mut stage0 = vec![serde_json::json!({
        "rktKind": "paths", "rktVersion": "v1",
        "data": settings.data_dir, "stage1-images": c.stage1_images_dir, "net-plugins": c.net_plugins_dir,
    })];
    if let Some((name, version, location)) = &c.stage1 {
        stage0.push(serde_json::json!({"rktKind": "stage1", "rktVersion": "v1", "name": name, "version": version, "location": location}));
    }
    stage0.extend(creds(&c.auth, "domains"));
    stage0.extend(creds(&c.docker_auth, "registries"));
    let config = serde_json::json!({ "stage0": stage0 });
    if a.pretty_print {
        println!("{}", serde_json::to_string_pretty(&config)?);
    } else {
        println!("{config}");
    }
    Ok(())
}
