//! The supervisor: the process stage0 exec()ed, in the host's namespaces.
//! It holds the pod lock, starts the pod init (in a new PID namespace for
//! the default flavour), forwards stop signals to it and exits with its
//! status.

use crate::args::Args;
use crate::cgroups::PodCgroups;
use crate::exec::Confinement;
use crate::fork_into::Forked;
use crate::net::{self, Joiner, PortMapping};
use appc::schema::PodManifest;
use nix::fcntl::{FcntlArg, FdFlag, fcntl};
use nix::sched::{CloneFlags, unshare};
use nix::sys::signal::{
    SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal, sigaction, sigprocmask,
};
use nix::sys::wait::{WaitStatus, waitpid};
use pod::dns::FileSource;
use pod::net::Selection;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicI32, Ordering};

static INIT_PID: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(sig: nix::libc::c_int) {
    let pid = INIT_PID.load(Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: kill(2) is async-signal-safe; the pid is our child.
        unsafe { nix::libc::kill(pid, sig) };
    }
}

fn now_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// The stop signals the supervisor forwards to the pod's init.
const STOP_SIGNALS: [Signal; 3] = [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP];

/// Runs the pod; returns its exit status.
pub fn run(args: &Args, fly: bool) -> Result<u8, String> {
    // A stop that arrives before the init can take it waits (blocked)
    // instead of killing the supervisor half-way or being dropped.
    let mut stops = SigSet::empty();
    STOP_SIGNALS.iter().for_each(|s| stops.add(*s));
    let mut original_mask = SigSet::empty();
    sigprocmask(
        SigmaskHow::SIG_BLOCK,
        Some(&stops),
        Some(&mut original_mask),
    )
    .map_err(|e| format!("sigprocmask: {e}"))?;
    // The unit's sockets, if systemd started rkt: taken before the
    // inherited descriptors are closed, kept out of what the supervisor
    // runs itself (network plugins), and passed to socket-activated apps.
    let listeners = crate::systemd::take_listeners();
    let first = crate::systemd::FIRST_LISTENER;
    let listening: Vec<i32> = listeners
        .map(|l| (first..first + l.count as i32).collect())
        .unwrap_or_default();
    crate::exec::close_inherited(&[&[args.lock_fd], &listening[..]].concat())?;
    // Its socket is made only now that the inherited ones are closed.
    let notify = crate::systemd::take_notify()?;
    for fd in &listening {
        // SAFETY: kept open just above; only its flags change.
        let fd = unsafe { BorrowedFd::borrow_raw(*fd) };
        fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))
            .map_err(|e| format!("socket-activated descriptor: {e}"))?;
    }
    crate::caps::clear_inherited()?;
    // SAFETY: stage0 passed this descriptor open; we only read and set its flags.
    let lock = unsafe { BorrowedFd::borrow_raw(args.lock_fd) };
    // Kept open (the lock) but not passed on to the apps' programs.
    let flags =
        fcntl(lock, FcntlArg::F_GETFD).map_err(|e| format!("lock fd {}: {e}", args.lock_fd))?;
    let flags = FdFlag::from_bits_truncate(flags) | FdFlag::FD_CLOEXEC;
    fcntl(lock, FcntlArg::F_SETFD(flags)).map_err(|e| format!("lock fd {}: {e}", args.lock_fd))?;
    let manifest = args.manifest()?;
    let files = &args.pod_dir;
    let write = |path: std::path::PathBuf, value: String| {
        std::fs::write(&path, value).map_err(|e| format!("{}: {e}", path.display()))
    };
    write(files.ppid(), std::process::id().to_string())?;
    // The pod's own resolv.conf, copied into every app's root (see
    // rootfs); its networks' DNS would otherwise be there.
    if let FileSource::Own(text) = args.dns.resolv_conf() {
        write(files.resolv_conf(), text)?;
    }
    write(files.started(), now_nanos().to_string())?;

    let apps = manifest.apps.as_deref().unwrap_or_default();
    // fly runs privileged tools as they are: no cgroups, no limits.
    let cgroups = if fly {
        None
    } else {
        Some(PodCgroups::create(&args.pod_dir, &args.uuid, apps)?)
    };
    let confinement = Confinement {
        own_root: !fly,
        devices_limited: cgroups.as_ref().is_some_and(PodCgroups::limits_devices),
        seccomp: !fly && !args.disable_seccomp,
        all_capabilities: args.disable_capabilities,
    };
    // Whatever fails from here, the cgroups are removed below.
    let status = write(files.confinement(), confinement.to_record()).and_then(|()| {
        let network = own_network(args, &manifest, fly)?;
        let started = start(
            args,
            notify.as_ref(),
            &manifest,
            &confinement,
            cgroups.as_ref(),
            &original_mask,
            network.as_ref(),
        );
        if let Some(Err(e)) = network.as_ref().map(|n| n.joiner.leave()) {
            // Left for `rkt gc`, which retries through the gc entrypoint.
            eprintln!("stage1: leaving the pod's networks: {e}");
        }
        started
    });
    for app in cgroups
        .iter()
        .flat_map(|c| apps.iter().filter(|a| c.oom_killed(a.name.as_str())))
    {
        eprintln!(
            "stage1: app {}: killed by the kernel for going over its memory limit (out of memory)",
            app.name
        );
    }
    if let Some(Err(e)) = cgroups.as_ref().map(PodCgroups::remove) {
        // Left for `rkt gc`, which retries through the gc entrypoint.
        eprintln!("stage1: removing the pod's cgroups: {e}");
    }
    crate::metadata::unregister(args);
    status
}

/// The pod's own network namespace and the networks `--net` chose to
/// join in it (none for `--net=host` and for fly, which share the
/// host's), with the host ports forwarded to the pod, held until it ends.
struct OwnNetwork<'a> {
    joiner: Joiner<'a>,
    nets: Vec<pod::net::Network>,
    ports: Vec<PortMapping>,
    reserved: Vec<net::Reserved>,
}

/// Reserves the pod's host ports and makes its network namespace, for
/// the init to start in; the networks are joined meanwhile (see
/// [`join_networks`]).
fn own_network<'a>(
    args: &'a Args,
    manifest: &PodManifest,
    fly: bool,
) -> Result<Option<OwnNetwork<'a>>, String> {
    if fly {
        return Ok(None);
    }
    let nets = match pod::net::select(&args.nets, &args.local_config.join("net.d"))? {
        Selection::Host => return Ok(None),
        Selection::Own(nets) => nets,
    };
    let ports = port_mappings(manifest)?;
    let reserved = net::reserve(&ports)?;
    let joiner = Joiner {
        pod_dir: &args.pod_dir,
        uuid: &args.uuid,
        path: net::plugin_path(&args.local_config),
    };
    joiner.make_namespace()?;
    Ok(Some(OwnNetwork {
        joiner,
        nets,
        ports,
        reserved,
    }))
}

/// Joins the pod's networks (the plugins run while the init sets up).
/// The networks' DNS is the pod's resolv.conf unless `--dns` says
/// otherwise.
fn join_networks(args: &Args, network: &OwnNetwork<'_>) -> Result<(), String> {
    network.joiner.join(&network.nets, &network.ports)?;
    if args.dns.servers.is_empty()
        && let Some(text) = net::resolv_conf(&args.pod_dir)
    {
        let path = args.pod_dir.resolv_conf();
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// The pod manifest's exposed ports (`rkt run --port`) as CNI port
/// mappings: each names a port an app's image declares.
fn port_mappings(manifest: &PodManifest) -> Result<Vec<PortMapping>, String> {
    let declared: Vec<&appc::schema::types::Port> = manifest
        .apps
        .iter()
        .flatten()
        .filter_map(|a| a.app.as_ref())
        .flat_map(|a| a.ports.iter())
        .collect();
    let mut out = Vec::new();
    for exposed in manifest.ports.iter().flatten() {
        let port = declared
            .iter()
            .find(|p| p.name == exposed.name)
            .ok_or_else(|| format!("port {}: no app of the pod declares it", exposed.name))?;
        out.push(PortMapping {
            host_port: exposed.host_port,
            container_port: port.port,
            protocol: port.protocol.clone(),
            host_ip: exposed.host_ip.map(|ip| ip.to_string()),
        });
    }
    Ok(out)
}

/// Starts the pod init and waits for it.
fn start(
    args: &Args,
    notify: Option<&crate::systemd::Notify>,
    manifest: &PodManifest,
    confinement: &Confinement,
    cgroups: Option<&PodCgroups>,
    original_mask: &SigSet,
    network: Option<&OwnNetwork<'_>>,
) -> Result<u8, String> {
    // The supervisor's own PID namespace, for what it starts after the
    // init (network plugins when the pod ends): once the pod's init is
    // gone, no process can be made in the pod's namespace.
    let host_pids =
        std::fs::File::open("/proc/self/ns/pid").map_err(|e| format!("/proc/self/ns/pid: {e}"))?;
    if confinement.own_root {
        unshare(CloneFlags::CLONE_NEWPID).map_err(|e| format!("new PID namespace: {e}"))?;
    }
    let (mut ready, joined) = match network {
        Some(_) => {
            let (ready, joined) = net::ready_pipe()?;
            (ready, Some(joined))
        }
        None => (net::Ready::now(), None),
    };
    // Type=notify: apps whose image says they notify systemd themselves
    // do, through the supervisor; else the init says when the apps have
    // started.
    let names: Vec<String> = manifest
        .apps
        .iter()
        .flatten()
        .map(|a| a.name.to_string())
        .collect();
    let relay = match notify {
        Some(n) => crate::systemd::relay_apps(n, &args.pod_dir, &names)?,
        None => None,
    };
    let apps_started = match notify {
        Some(_) if relay.is_none() => Some(crate::pipe()?),
        _ => None,
    };
    let (apps_started, told) = apps_started.unzip();
    // The init says when the apps are done (a byte, or its end): the pod
    // then leaves machined while the init's own end goes on (its mounts
    // torn down, which waits for the file system).
    let apps_done = confinement.own_root.then(crate::pipe).transpose()?;
    let (apps_done, says_done) = apps_done.unzip();
    // An interactive pod's terminal: the init makes it, rkt relays it.
    let console = (args.interactive && crate::console::wanted())
        .then(crate::console::socket)
        .transpose()?;
    let (console, init_console) = console.unzip();
    let supervisor = nix::unistd::getpid();
    let init_cgroup = cgroups.and_then(PodCgroups::init_dir);
    // SAFETY: stage1 is single-threaded; the child only runs the init.
    let (child, in_cgroup) =
        match unsafe { crate::fork_into::fork_into(init_cgroup.as_ref().map(AsFd::as_fd)) }? {
            Forked::Child { .. } => {
                // If the supervisor is killed, the init goes too, and with it
                // (the PID namespace's init) every process of the pod.
                // (The parent of a new PID namespace's init reads as 0.)
                let ppid = nix::unistd::getppid().as_raw();
                let orphaned = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).is_err()
                    || (ppid != 0 && ppid != supervisor.as_raw());
                if orphaned {
                    std::process::exit(254);
                }
                // The lock is the supervisor's: it leaves no way from the pod
                // to the pod directory.
                let _ = nix::unistd::close(args.lock_fd);
                // Nor do the host ports held for it, the way back to the
                // host's PID namespace, or the host's cgroup directory
                // (from which `..` leads through the whole hierarchy).
                drop(init_cgroup);
                drop(host_pids);
                drop(joined);
                drop(apps_started);
                drop(apps_done);
                drop(relay);
                drop(console);
                for held in network.iter().flat_map(|n| &n.reserved) {
                    let _ = nix::unistd::close(held.fd());
                }
                let netns = network.map(|_| net::netns::pin_path(&args.uuid));
                if let Some(Err(e)) = netns.as_deref().map(net::netns::enter) {
                    eprintln!("stage1: {e}");
                    std::process::exit(254);
                }
                let code = crate::init::run(
                    args,
                    manifest,
                    confinement,
                    cgroups,
                    original_mask,
                    &mut ready,
                    crate::init::Progress {
                        started: told,
                        done: says_done,
                        console: init_console,
                    },
                );
                std::process::exit(i32::from(code))
            }
            Forked::Parent { child, in_cgroup } => (child, in_cgroup),
        };
    drop(init_cgroup);
    drop(ready);
    drop(told);
    drop(says_done);
    drop(init_console);
    INIT_PID.store(child.as_raw(), Ordering::SeqCst);
    if confinement.own_root
        && let Err(e) = nix::sched::setns(&host_pids, CloneFlags::CLONE_NEWPID)
    {
        let _ = nix::sys::signal::kill(child, Signal::SIGKILL);
        let _ = waitpid(child, None);
        return Err(format!("back to the supervisor's PID namespace: {e}"));
    }
    // Relayed until the pod's end (dropped after the wait below); a
    // thread, so only once back in the supervisor's PID namespace.
    let _terminal = match console {
        Some(socket) => {
            let relay = crate::console::Relay::start(crate::console::Controller::Sent(socket));
            Some(relay.inspect_err(|_| {
                let _ = nix::sys::signal::kill(child, Signal::SIGKILL);
            })?)
        }
        None => None,
    };
    // The supervisor's helper threads, once the init is forked.
    if let (Some(notify), Some(apps_started)) = (notify, apps_started) {
        tell_when_started(notify, apps_started);
    }
    if let Some(Err(e)) = relay.map(crate::systemd::Relay::start) {
        eprintln!("stage1: {e}");
    }
    let action = SigAction::new(
        SigHandler::Handler(forward),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for sig in STOP_SIGNALS {
        // SAFETY: the handler only calls kill(2).
        unsafe { sigaction(sig, &action) }.map_err(|e| format!("signal handler: {e}"))?;
    }
    // Stops that came meanwhile are delivered now, and forwarded.
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(original_mask), None)
        .map_err(|e| format!("sigprocmask: {e}"))?;
    let path = args.pod_dir.pid();
    std::fs::write(&path, child.as_raw().to_string())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    // Moved by the supervisor while the init sets up the pod: the first
    // move of a task between cgroups waits for an RCU grace period
    // (milliseconds), which this way overlaps the init's work. (Apps join
    // their own cgroups themselves.) The init started in the unified one
    // where the kernel could.
    let set_up = cgroups
        .map_or(Ok(()), |c| c.adopt(child.as_raw(), in_cgroup))
        .and_then(|()| network.map_or(Ok(()), |n| join_networks(args, n)));
    if let Err(e) = set_up {
        // Killed before the pipe closes: a closed pipe would have the
        // init say the networks failed too, besides our own error.
        let _ = nix::sys::signal::kill(child, Signal::SIGKILL);
        let _ = waitpid(child, None);
        drop(joined);
        return Err(e);
    }
    if let Some(joined) = joined {
        joined.tell();
    }
    let registration = confinement
        .own_root
        .then(|| crate::machined::register(&args.uuid, child.as_raw(), &args.pod_dir.stage1_root()))
        .flatten();
    if let (Some(_), Some(mut done)) = (&registration, apps_done) {
        let mut byte = [0u8; 1];
        while let Err(e) = std::io::Read::read(&mut done, &mut byte) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                break;
            }
        }
    }
    let unregistering = registration.and_then(crate::machined::Registration::end);
    let ended = loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => break Ok(code as u8),
            Ok(WaitStatus::Signaled(_, sig, _)) => break Ok(128 + sig as u8),
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => break Err(format!("waiting for the pod: {e}")),
        }
    };
    if let Some(unregistering) = unregistering {
        unregistering.wait();
    }
    ended
}

/// Tells systemd READY=1 when the init writes to `apps_started` (nothing
/// if the pod ends before its apps all started), from a thread: the
/// supervisor's own thread waits for the init. The thread blocks every
/// signal, so that the stops stay the main thread's to forward.
fn tell_when_started(notify: &crate::systemd::Notify, mut apps_started: std::fs::File) {
    let ready = notify.clone_for_thread();
    let spawned = std::thread::Builder::new()
        .name("notify".into())
        .spawn(move || {
            crate::systemd::block_signals();
            let mut byte = [0u8; 1];
            let read = std::io::Read::read(&mut apps_started, &mut byte);
            if let (Ok(1), Some(ready)) = (read, ready)
                && let Err(e) = ready.send("READY=1")
            {
                eprintln!("stage1: {e}");
            }
        });
    if let Err(e) = spawned {
        eprintln!("stage1: no readiness notification: {e}");
    }
}
