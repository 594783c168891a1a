//! A pod's directory, `<data dir>/pods/<state>/<uuid>/`, and every file in
//! it that the two stages share. Nobody else spells these paths.
//!
//! Written by stage0 when it prepares the pod:
//! - `pod`: the pod manifest (apps with their resolved `app` sections);
//! - `created`: nanoseconds since the epoch; `stage1-image`: its ID;
//! - `appsinfo/<app>/tree`: the path of the app's rendered image tree
//!   (`manifest`, `rootfs/`) in the store, the overlay's lower layer;
//! - `no-overlay`: apps' roots are copies (`rkt run --no-overlay`);
//! - `implicit-volumes`: the names (one a line) of the empty volumes made
//!   for image mount points given no volume, which stage1 fills, when it
//!   creates them, with the image's files at the mount point;
//! - `stage1/rootfs`: the stage1 image's root; `gc-marked`: when `rkt gc`
//!   marked the exited pod;
//! - `mds-register`: `rkt prepare --mds-register` asked for the pod to be
//!   registered with the metadata service when it runs;
//! - `mds`: its registration with the metadata service (`rkt run
//!   --mds-register`), root's only: it holds the pod's secret token (see
//!   [`crate::mds`]).
//!
//! Written by stage1 while it runs the pod:
//! - `pid` (the pod's init, as the host sees it), `ppid` (its supervisor),
//!   `started` (nanoseconds since the epoch);
//! - `cgroups` (the pod's cgroup directories) and `confinement` (how apps
//!   are confined, for `enter`), records of stage1's own format;
//! - `resolv.conf`, `hosts`: the pod's own, from the `--dns*` and
//!   `--hosts-entry` flags (see [`crate::dns`]) or the networks' DNS;
//! - `netns`: the path where the pod's network namespace is pinned, and
//!   `net/<n>-<network>.json`: each network joined (the CNI configuration
//!   given to its plugins and what they answered), in the order joined, so
//!   that it can be left (CNI DEL) by the supervisor or, after a crash, by
//!   the gc entrypoint;
//! - `volumes/<name>`: empty volumes; `overlay/<app>/{upper,work}`: the
//!   apps' writable layers;
//! - `stage1/rootfs/opt/stage2/<app>/rootfs`: where the app's root is
//!   mounted (inside the pod's own mount namespace only);
//! - `stage1/rootfs/rkt/status/<app>`: the app's exit status, once it
//!   exited.

use std::path::{Path, PathBuf};

/// Under the stage1 root: where apps' roots are mounted.
pub const STAGE2: &str = "opt/stage2";
/// Under the stage1 root: the apps' exit statuses.
pub const STATUS: &str = "rkt/status";

/// Where app `name`'s root is mounted under a stage1 root.
pub fn app_root_under(stage1_root: &Path, name: &str) -> PathBuf {
    stage1_root.join(STAGE2).join(name).join("rootfs")
}

/// The overlay's mount options: the image tree's rootfs under an app's
/// writable layer (see [`PodDir::overlay`]).
pub fn overlay_options(tree: &Path, overlay: &Path) -> String {
    format!(
        "lowerdir={},upperdir={},workdir={}",
        tree.join("rootfs").display(),
        overlay.join("upper").display(),
        overlay.join("work").display()
    )
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodDir {
    path: PathBuf,
}

impl PodDir {
    pub fn new(path: impl Into<PathBuf>) -> PodDir {
        PodDir { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    pub fn manifest(&self) -> PathBuf {
        self.file("pod")
    }

    pub fn created(&self) -> PathBuf {
        self.file("created")
    }

    pub fn stage1_image(&self) -> PathBuf {
        self.file("stage1-image")
    }

    pub fn no_overlay(&self) -> PathBuf {
        self.file("no-overlay")
    }

    pub fn implicit_volumes(&self) -> PathBuf {
        self.file("implicit-volumes")
    }

    /// When a gc of the pod first failed (nanoseconds since the epoch):
    /// past the grace period, gc lets go of what cannot be released.
    pub fn gc_failed(&self) -> PathBuf {
        self.file("gc-failed")
    }

    pub fn gc_marked(&self) -> PathBuf {
        self.file("gc-marked")
    }

    /// The directory of what stage0 records about app `name`.
    pub fn app_info(&self, name: &str) -> PathBuf {
        self.path.join("appsinfo").join(name)
    }

    /// The file naming app `name`'s image tree in the store.
    pub fn app_tree(&self, name: &str) -> PathBuf {
        self.app_info(name).join("tree")
    }

    /// App `name`'s image tree in the store, as [`Self::app_tree`] names it.
    pub fn read_app_tree(&self, name: &str) -> std::io::Result<PathBuf> {
        let text = std::fs::read_to_string(self.app_tree(name))?;
        Ok(PathBuf::from(text.trim()))
    }

    pub fn stage1_root(&self) -> PathBuf {
        self.file("stage1/rootfs")
    }

    /// Where app `name`'s root is mounted, as the host names it.
    pub fn app_root(&self, name: &str) -> PathBuf {
        app_root_under(&self.stage1_root(), name)
    }

    pub fn status_dir(&self) -> PathBuf {
        self.stage1_root().join(STATUS)
    }

    pub fn pid(&self) -> PathBuf {
        self.file("pid")
    }

    pub fn ppid(&self) -> PathBuf {
        self.file("ppid")
    }

    pub fn started(&self) -> PathBuf {
        self.file("started")
    }

    pub fn cgroups(&self) -> PathBuf {
        self.file("cgroups")
    }

    pub fn confinement(&self) -> PathBuf {
        self.file("confinement")
    }

    /// The socket an app that notifies systemd itself sends to (bound in
    /// its root as /run/systemd/notify), relayed by the supervisor.
    pub fn notify_socket(&self) -> PathBuf {
        self.file("notify")
    }

    pub fn mds(&self) -> PathBuf {
        self.file("mds")
    }

    pub fn mds_register(&self) -> PathBuf {
        self.file("mds-register")
    }

    pub fn resolv_conf(&self) -> PathBuf {
        self.file("resolv.conf")
    }

    pub fn netns(&self) -> PathBuf {
        self.file("netns")
    }

    /// The networks the pod joined (see the module's list).
    pub fn networks(&self) -> PathBuf {
        self.file("net")
    }

    /// What the pod's networks gave it (names, addresses), as rkt keeps
    /// it: written once they are joined, kept after the pod has left
    /// them, for `rkt list` and `rkt status`.
    pub fn net_info(&self) -> PathBuf {
        self.file("net-info.json")
    }

    pub fn volume(&self, name: &str) -> PathBuf {
        self.path.join("volumes").join(name)
    }

    /// App `name`'s writable layer (`upper`, `work`).
    pub fn overlay(&self, name: &str) -> PathBuf {
        self.path.join("overlay").join(name)
    }

    /// The directories that hold what images and apps wrote (writable
    /// layers, empty volumes, the apps' roots, copied where overlayfs
    /// cannot be used): root's alone (0700), whoever else may read the
    /// pod's directory (group `rkt`), so that no setuid file an image or
    /// app made is in their reach.
    pub fn content_dirs(&self) -> [PathBuf; 3] {
        [
            self.path.join("overlay"),
            self.path.join("volumes"),
            self.stage1_root().join("opt"),
        ]
    }

    /// Where `rkt export` lays out images.
    pub fn export(&self) -> PathBuf {
        self.file("export")
    }

    /// The number in `file` (one of this pod's), if it holds one.
    pub fn number(file: &Path) -> Option<i64> {
        std::fs::read_to_string(file).ok()?.trim().parse().ok()
    }

    /// The names in [`Self::implicit_volumes`], none if there is no file.
    pub fn read_implicit_volumes(&self) -> Vec<String> {
        std::fs::read_to_string(self.implicit_volumes())
            .map(|text| text.lines().map(str::to_string).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_rkt_and_its_stage1_implementors_know() {
        let d = PodDir::new("/var/lib/rkt/pods/run/u");
        assert_eq!(d.manifest(), Path::new("/var/lib/rkt/pods/run/u/pod"));
        assert_eq!(
            d.app_root("web"),
            Path::new("/var/lib/rkt/pods/run/u/stage1/rootfs/opt/stage2/web/rootfs")
        );
        assert_eq!(
            d.status_dir(),
            Path::new("/var/lib/rkt/pods/run/u/stage1/rootfs/rkt/status")
        );
        assert_eq!(
            overlay_options(Path::new("/t"), &d.overlay("web")),
            "lowerdir=/t/rootfs,upperdir=/var/lib/rkt/pods/run/u/overlay/web/upper,\
             workdir=/var/lib/rkt/pods/run/u/overlay/web/work"
        );
    }

    #[test]
    fn records_are_read_back() {
        let tmp = tempfile::tempdir().unwrap();
        let d = PodDir::new(tmp.path());
        std::fs::create_dir_all(d.app_info("a")).unwrap();
        std::fs::write(d.app_tree("a"), "/store/tree\n").unwrap();
        assert_eq!(d.read_app_tree("a").unwrap(), Path::new("/store/tree"));
        std::fs::write(d.pid(), "42\n").unwrap();
        assert_eq!(PodDir::number(&d.pid()), Some(42));
        assert_eq!(PodDir::number(&d.ppid()), None);
        assert!(d.read_implicit_volumes().is_empty());
        std::fs::write(d.implicit_volumes(), "data\nlogs\n").unwrap();
        assert_eq!(d.read_implicit_volumes(), ["data", "logs"]);
    }
}
