//! The arguments stage0 passes, and what they lead to in the pod directory.

use appc::schema::PodManifest;
use std::path::PathBuf;

pub struct Args {
    pub pod_dir: PathBuf,
    pub uuid: String,
    pub lock_fd: i32,
    pub hostname: Option<String>,
    /// `--insecure-options=capabilities`: apps keep every capability.
    pub disable_capabilities: bool,
    /// `--insecure-options=paths`: /proc and /sys are not protected.
    pub disable_paths: bool,
    /// `--insecure-options=seccomp`: no seccomp filter.
    pub disable_seccomp: bool,
}

impl Args {
    pub fn parse(argv: &[String]) -> Result<Args, String> {
        let (mut pod_dir, mut uuid, mut lock_fd, mut hostname) = (None, None, None, None);
        let mut insecure = [false; 3];
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
            let (k, v) = a
                .split_once('=')
                .ok_or_else(|| format!("unexpected argument {a:?}"))?;
            match k {
                "--pod-dir" => pod_dir = Some(PathBuf::from(v)),
                "--uuid" => uuid = Some(v.to_string()),
                "--lock-fd" => {
                    lock_fd = Some(v.parse().map_err(|_| format!("bad --lock-fd {v:?}"))?)
                }
                "--hostname" => hostname = Some(v.to_string()),
                // Flags rkt passes to any stage1 that this one does not use.
                "--debug" | "--net" | "--local-config" => {}
                other => return Err(format!("unknown argument {other}")),
            }
        }
        Ok(Args {
            pod_dir: pod_dir.ok_or("--pod-dir is required")?,
            uuid: uuid.ok_or("--uuid is required")?,
            lock_fd: lock_fd.ok_or("--lock-fd is required")?,
            hostname,
            disable_capabilities: insecure[0],
            disable_paths: insecure[1],
            disable_seccomp: insecure[2],
        })
    }

    pub fn manifest(&self) -> Result<PodManifest, String> {
        let path = self.pod_dir.join("pod");
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        PodManifest::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The app's rendered image tree in the store.
    pub fn tree(&self, app: &str) -> Result<PathBuf, String> {
        let path = self.pod_dir.join("appsinfo").join(app).join("tree");
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(PathBuf::from(text.trim()))
    }

    /// The pod's stage1 root, which becomes the init's root.
    pub fn stage1_root(&self) -> PathBuf {
        self.pod_dir.join("stage1/rootfs")
    }

    /// Where the app's root is mounted, as the host names it.
    pub fn app_rootfs(&self, app: &str) -> PathBuf {
        crate::pod_root::app_root(&self.stage1_root(), app)
    }

    /// Whether stage0 asked for apps' roots to be copies, not overlays.
    pub fn no_overlay(&self) -> bool {
        self.pod_dir.join("no-overlay").exists()
    }

    /// Whether stage0 asked for the terminal to be passed through.
    pub fn interactive(&self) -> bool {
        self.pod_dir.join("interactive").exists()
    }

    pub fn hostname(&self) -> String {
        self.hostname
            .clone()
            .unwrap_or_else(|| format!("rkt-{}", self.uuid))
    }
}
