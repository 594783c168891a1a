//! For tests (feature `testing`): a Debian `docker-registry` serving on
//! 127.0.0.1, and images pushed to it with skopeo.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether docker-registry, skopeo and htpasswd are installed.
pub fn tools_present() -> bool {
    ["docker-registry", "skopeo", "htpasswd"]
        .iter()
        .all(|c| Path::new("/usr/bin").join(c).exists())
}

/// How a [`LocalRegistry`] is set up.
#[derive(Default)]
pub struct Setup<'a> {
    /// Basic authentication against this htpasswd file (bcrypt).
    pub htpasswd: Option<&'a Path>,
    /// HTTPS with this certificate and key.
    pub tls: Option<(&'a Path, &'a Path)>,
    /// Schema 1 manifests accepted (pushed with `--format v2s1`).
    pub schema1: bool,
}

/// A docker-registry on a free port of 127.0.0.1, its storage and
/// configuration in `dir`; stopped (by its pid) when dropped.
pub struct LocalRegistry {
    child: Child,
    pub port: u16,
}

impl LocalRegistry {
    /// With `htpasswd`, the registry wants basic authentication.
    pub fn start(dir: &Path, htpasswd: Option<&Path>) -> LocalRegistry {
        Self::start_with(
            dir,
            &Setup {
                htpasswd,
                ..Setup::default()
            },
        )
    }

    pub fn start_with(dir: &Path, setup: &Setup<'_>) -> LocalRegistry {
        let (htpasswd, tls) = (setup.htpasswd, setup.tls);
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let auth = htpasswd.map_or(String::new(), |p| {
            format!(
                "auth:\n  htpasswd:\n    realm: tests\n    path: {}\n",
                p.display()
            )
        });
        let tls = tls.map_or(String::new(), |(cert, key)| {
            format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                cert.display(),
                key.display()
            )
        });
        let schema1 = if setup.schema1 {
            "compatibility:\n  schema1:\n    enabled: true\n"
        } else {
            ""
        };
        let config = dir.join(format!("registry-{port}.yml"));
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n{tls}{auth}{schema1}",
                dir.join(format!("data-{port}")).display()
            ),
        )
        .expect("the registry's configuration");
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the registry did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        LocalRegistry { child, port }
    }

    /// `127.0.0.1:PORT/repo[:tag]`.
    pub fn name(&self, repo: &str) -> String {
        format!("127.0.0.1:{}/{repo}", self.port)
    }

    /// Pushes `layout:tag` (an OCI layout) as `repo` (with `all`, every
    /// image of an index); `creds` is `user:password`.
    pub fn push(&self, layout: &Path, tag: &str, repo: &str, creds: Option<&str>, all: bool) {
        let mut extra = Vec::new();
        if all {
            extra.push("--all".to_string());
        }
        if let Some(creds) = creds {
            extra.extend(["--dest-creds".to_string(), creds.to_string()]);
        }
        self.push_with(layout, tag, repo, &extra);
    }

    /// Pushes with more of skopeo's flags (`--format v2s1`, ...).
    pub fn push_with(&self, layout: &Path, tag: &str, repo: &str, extra: &[String]) {
        let mut c = Command::new("skopeo");
        c.args(["copy", "-q", "--dest-tls-verify=false"])
            .args(extra);
        let out = c
            .arg(format!("oci:{}:{tag}", layout.display()))
            .arg(format!("docker://{}", self.name(repo)))
            .output()
            .expect("skopeo");
        assert!(
            out.status.success(),
            "skopeo: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether buildah is installed.
pub fn buildah_present() -> bool {
    Path::new("/usr/bin/buildah").exists()
}

/// Builds `dockerfile` with buildah (vfs storage and chroot isolation,
/// all kept in `dir`), its context holding the host's busybox-static as
/// `busybox`, and pushes the image as `tag` into an OCI layout and a
/// docker archive in `dir`; returns their paths.
pub fn buildah_image(
    dir: &Path,
    dockerfile: &str,
    tag: &str,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let context = dir.join("context");
    std::fs::create_dir_all(&context).expect("the build context");
    std::fs::copy("/bin/busybox", context.join("busybox")).expect("busybox-static");
    std::fs::write(context.join("Dockerfile"), dockerfile).expect("the Dockerfile");
    let buildah = |args: &[&str]| {
        let out = Command::new("buildah")
            .arg("--root")
            .arg(dir.join("storage"))
            .arg("--runroot")
            .arg(dir.join("run"))
            .args(["--storage-driver", "vfs"])
            .args(args)
            .output()
            .expect("buildah");
        assert!(
            out.status.success(),
            "buildah {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ctx = context.display().to_string();
    buildah(&["bud", "--isolation", "chroot", "-q", "-t", tag, &ctx]);
    let layout = dir.join("layout");
    let archive = dir.join("image.tar");
    buildah(&[
        "push",
        "-q",
        tag,
        &format!("oci:{}:{tag}", layout.display()),
    ]);
    buildah(&[
        "push",
        "-q",
        tag,
        &format!("docker-archive:{}:{tag}", archive.display()),
    ]);
    (layout, archive)
}
