//! The arguments stage0 passes, and what they lead to in the pod directory.

use appc::schema::PodManifest;
use pod::PodDir;
use pod::dns::Dns;
use std::path::PathBuf;

pub struct Args {
    pub pod_dir: PodDir,
    pub uuid: String,
    pub lock_fd: i32,
    pub hostname: Option<String>,
    /// `--interactive`: the terminal's stdin (and tty) passed through.
    pub interactive: bool,
    /// `--dns*` and `--hosts-entry`: the pod's resolv.conf and hosts.
    pub dns: Dns,
    /// Each `--net` value (see `pod::net::select`).
    pub nets: Vec<String>,
    /// `--local-config`: where the user's `net.d` is.
    pub local_config: PathBuf,
    /// `--insecure-options=capabilities`: apps keep every capability.
    pub disable_capabilities: bool,
    /// `--insecure-options=paths`: /proc and /sys are not protected.
    pub disable_paths: bool,
    /// `--insecure-options=seccomp`: no seccomp filter.
    pub disable_seccomp: bool,
    /// `--ipc=parent`: the pod stays in the host's IPC namespace
    /// (`auto` and `private` give it its own).
    pub host_ipc: bool,
}

impl Args {
    /// rkt's run interface: run in the pod directory, with the pod lock's
    /// descriptor in `RKT_LOCK_FD` and the pod's UUID as the argument,
    /// flags as rkt passes them (`--net`, `--local-config`, `--hostname`,
    /// `--interactive`, `--dns*`, `--hosts-entry`, `--ipc`, `--disable-*`; others,
    /// such as `--debug`, `--mds-token` or `--private-users`, are accepted
    /// and not used here).
    /// `--pod-dir`, `--uuid` and `--lock-fd` may say the same explicitly.
    pub fn parse(argv: &[String]) -> Result<Args, String> {
        let (mut pod_dir, mut uuid, mut lock_fd, mut hostname) = (None, None, None, None);
        let mut insecure = [false; 3];
        let (mut interactive, mut dns) = (false, Dns::default());
        let (mut nets, mut local_config) = (Vec::new(), PathBuf::from("/etc/rkt"));
        let mut host_ipc = false;
        for a in argv {
            // rkt's names for the insecure options a stage1 honours.
            let disabled = [
                "--disable-capabilities-restriction",
                "--disable-paths",
                "--disable-seccomp",
            ];
            if let Some(i) = disabled.iter().position(|d| d == a) {
                insecure[i] = true;
                continue;
            }
            if !a.starts_with("--") {
                if uuid.replace(a.clone()).is_some() {
                    return Err(format!("unexpected argument {a:?}"));
                }
                continue;
            }
            let (k, v) = a.split_once('=').unwrap_or((a.as_str(), "true"));
            if dns.take(&k[2..], v) {
                continue;
            }
            match k {
                "--pod-dir" => pod_dir = Some(PathBuf::from(v)),
                "--uuid" => uuid = Some(v.to_string()),
                "--lock-fd" => {
                    lock_fd = Some(v.parse().map_err(|_| format!("bad --lock-fd {v:?}"))?)
                }
                "--hostname" if !v.is_empty() => hostname = Some(v.to_string()),
                "--interactive" => interactive = v == "true",
                // A bare --net is rkt's "default".
                "--net" if a == "--net" => nets.push("default".into()),
                "--net" => nets.push(v.to_string()),
                "--local-config" => local_config = PathBuf::from(v),
                "--ipc" => {
                    host_ipc = match v {
                        "parent" => true,
                        "auto" | "private" => false,
                        _ => return Err(format!("--ipc {v:?}: auto, private or parent")),
                    }
                }
                // Flags of rkt's interface this stage1 has no use for (yet).
                _ => {}
            }
        }
        let lock_fd = match lock_fd {
            Some(fd) => fd,
            None => std::env::var("RKT_LOCK_FD")
                .ok()
                .and_then(|v| v.parse().ok())
                .ok_or("the pod lock is required: RKT_LOCK_FD or --lock-fd")?,
        };
        let pod_dir = PodDir::new(match pod_dir {
            Some(d) => d,
            None => std::env::current_dir().map_err(|e| format!("the pod directory: {e}"))?,
        });
        // Written into files: checked as stage0 does.
        dns.check()?;
        Ok(Args {
            pod_dir,
            uuid: uuid.ok_or("the pod's UUID is required")?,
            lock_fd,
            hostname,
            interactive,
            dns,
            nets,
            local_config,
            disable_capabilities: insecure[0],
            disable_paths: insecure[1],
            disable_seccomp: insecure[2],
            host_ipc,
        })
    }

    pub fn manifest(&self) -> Result<PodManifest, String> {
        let path = self.pod_dir.manifest();
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        PodManifest::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The app's rendered image tree in the store.
    pub fn tree(&self, app: &str) -> Result<PathBuf, String> {
        self.pod_dir
            .read_app_tree(app)
            .map_err(|e| format!("{}: {e}", self.pod_dir.app_tree(app).display()))
    }

    /// The pod's stage1 root, which becomes the init's root.
    pub fn stage1_root(&self) -> PathBuf {
        self.pod_dir.stage1_root()
    }

    /// Where the app's root is mounted, as the host names it.
    pub fn app_rootfs(&self, app: &str) -> PathBuf {
        self.pod_dir.app_root(app)
    }

    /// Whether stage0 asked for apps' roots to be copies, not overlays.
    pub fn no_overlay(&self) -> bool {
        self.pod_dir.no_overlay().exists()
    }

    pub fn hostname(&self) -> String {
        self.hostname
            .clone()
            .unwrap_or_else(|| format!("rkt-{}", self.uuid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Result<Args, String> {
        Args::parse(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn rkts_run_interface_and_ours() {
        let a = args(&[
            "--debug",
            "--net=default",
            "--local-config=/etc/rkt",
            "--hostname=web",
            "--interactive",
            "--dns=1.1.1.1",
            "--dns-search=example.com",
            "--mds-token=x",
            "--disable-seccomp",
            "--ipc=parent",
            "--lock-fd=3",
            "--pod-dir=/p",
            "0b4f2a34-0000-4000-8000-000000000000",
        ])
        .unwrap();
        assert_eq!(a.uuid, "0b4f2a34-0000-4000-8000-000000000000");
        assert_eq!(
            (a.lock_fd, a.pod_dir.path()),
            (3, std::path::Path::new("/p"))
        );
        assert_eq!(a.hostname.as_deref(), Some("web"));
        assert!(a.host_ipc);
        assert!(a.interactive && a.disable_seccomp && !a.disable_paths);
        assert_eq!(
            (a.dns.servers.as_slice(), a.dns.search.as_slice()),
            (
                &["1.1.1.1".to_string()][..],
                &["example.com".to_string()][..]
            )
        );
        let ours = args(&["--pod-dir=/p", "--uuid=u", "--lock-fd=4"]).unwrap();
        assert_eq!((ours.uuid.as_str(), ours.lock_fd), ("u", 4));
        assert!(args(&["--lock-fd=3", "--pod-dir=/p"]).is_err());
        assert!(args(&["--lock-fd=3", "--pod-dir=/p", "a", "b"]).is_err());
        assert!(args(&["--lock-fd=3", "--pod-dir=/p", "--dns=x", "u"]).is_err());
        assert!(args(&["--lock-fd=3", "--pod-dir=/p", "--dns-search=a b", "u"]).is_err());
    }
}
