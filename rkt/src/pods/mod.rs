//! Pods on disk: `<data dir>/pods/<state>/<uuid>/`.
//!
//! A pod's state is the directory it sits in plus whether its directory is
//! locked (flock):
//!
//! | directory        | locked            | not locked                    |
//! |------------------|-------------------|-------------------------------|
//! | `embryo`         | being created     | abandoned (a crashed rkt)     |
//! | `prepare`        | being prepared    | abandoned                     |
//! | `prepared`       | -                 | prepared, waiting to run      |
//! | `run`            | running           | exited                        |
//! | `exited-garbage` | -                 | exited, marked by `rkt gc`    |
//! | `garbage`        | -                 | being removed                 |
//!
//! Moves between directories are atomic renames. The running pod's lock is
//! held by stage1 (inherited from `rkt run`, which exec()s it), so exit is
//! seen by the kernel releasing the lock, even after SIGKILL or a crash.
//! The files inside are [`PodDir`]'s, the contract shared with stage1.

use appc::schema::PodManifest;
use appc::schema::types::Hash;
use pod::PodDir;
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum PodError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    // rkt's words, which scripts match.
    #[error("UUID cannot be empty")]
    EmptyUuid,
    #[error("no matches found for {0:?}")]
    NotFound(String),
    #[error("ambiguous uuid, {count} matches")]
    Ambiguous { count: usize },
    #[error("pod {0}: {1}")]
    Manifest(String, String),
    #[error("pod {0} has no app {1}")]
    NoSuchApp(String, String),
    #[error("pod {0} has several apps; choose one with --app ({1})")]
    SeveralApps(String, String),
    #[error("{0}: not an exit status: {1:?}")]
    BadStatus(PathBuf, String),
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> PodError + '_ {
    move |source| PodError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    Embryo,
    Prepare,
    Prepared,
    Run,
    ExitedGarbage,
    Garbage,
}

pub const DIRS: [Dir; 6] = [
    Dir::Embryo,
    Dir::Prepare,
    Dir::Prepared,
    Dir::Run,
    Dir::ExitedGarbage,
    Dir::Garbage,
];

impl Dir {
    pub fn name(self) -> &'static str {
        match self {
            Dir::Embryo => "embryo",
            Dir::Prepare => "prepare",
            Dir::Prepared => "prepared",
            Dir::Run => "run",
            Dir::ExitedGarbage => "exited-garbage",
            Dir::Garbage => "garbage",
        }
    }
}

/// What `rkt list` and `rkt status` call a pod's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Embryo,
    Preparing,
    AbortedPrepare,
    Prepared,
    Running,
    Exited,
    ExitedGarbage,
    Garbage,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Embryo => "embryo",
            State::Preparing => "preparing",
            State::AbortedPrepare => "aborted prepare",
            State::Prepared => "prepared",
            State::Running => "running",
            State::Exited => "exited",
            State::ExitedGarbage => "exited garbage",
            State::Garbage => "garbage",
        }
    }
}

/// A pod's directory.
#[derive(Debug, Clone)]
pub struct Pod {
    pub uuid: String,
    pub dir: Dir,
    pub path: PathBuf,
}

pub struct Pods {
    root: PathBuf,
}

/// Pods' directories are 0750: apps' files and a pod's manifest are not
/// for every user of the host.
fn private_dir_builder() -> fs::DirBuilder {
    let mut b = fs::DirBuilder::new();
    std::os::unix::fs::DirBuilderExt::mode(&mut b, crate::data_dir::PRIVATE_DIR_MODE);
    b
}

/// A random (version 4) UUID.
fn new_uuid() -> Result<String, PodError> {
    let mut b = [0u8; 16];
    let mut f = File::open("/dev/urandom").map_err(io_at(Path::new("/dev/urandom")))?;
    io::Read::read_exact(&mut f, &mut b).map_err(io_at(Path::new("/dev/urandom")))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    Ok(appc::schema::types::Uuid(b).to_string())
}

impl Pods {
    pub fn open(data_dir: &Path) -> Result<Pods, PodError> {
        crate::data_dir::ensure(data_dir).map_err(io_at(data_dir))?;
        let root = data_dir.join("pods");
        for d in DIRS {
            let p = root.join(d.name());
            private_dir_builder()
                .recursive(true)
                .create(&p)
                .map_err(io_at(&p))?;
        }
        Ok(Pods { root })
    }

    /// A new pod in `embryo`, locked by the returned file.
    pub fn create(&self) -> Result<(Pod, File), PodError> {
        let uuid = new_uuid()?;
        let path = self.root.join(Dir::Embryo.name()).join(&uuid);
        private_dir_builder().create(&path).map_err(io_at(&path))?;
        let pod = Pod {
            uuid,
            dir: Dir::Embryo,
            path,
        };
        let lock = pod.lock()?;
        Ok((pod, lock))
    }

    /// Every pod, in every state.
    pub fn list(&self) -> Result<Vec<Pod>, PodError> {
        let mut pods = Vec::new();
        for dir in DIRS {
            let d = self.root.join(dir.name());
            for entry in fs::read_dir(&d).map_err(io_at(&d))? {
                let entry = entry.map_err(io_at(&d))?;
                let uuid = entry.file_name().to_string_lossy().into_owned();
                pods.push(Pod {
                    uuid,
                    dir,
                    path: entry.path(),
                });
            }
        }
        Ok(pods)
    }

    /// The pod whose UUID is, or starts with, `given` (in any case).
    pub fn find(&self, given: &str) -> Result<Pod, PodError> {
        let given = given.trim().to_ascii_lowercase();
        if given.is_empty() {
            return Err(PodError::EmptyUuid);
        }
        let mut matches: Vec<Pod> = self
            .list()?
            .into_iter()
            .filter(|p| p.uuid.starts_with(&given))
            .collect();
        match matches.len() {
            1 => Ok(matches.remove(0)),
            0 => Err(PodError::NotFound(given)),
            count => Err(PodError::Ambiguous { count }),
        }
    }

    pub fn dir_path(&self, dir: Dir) -> PathBuf {
        self.root.join(dir.name())
    }

    /// The images that pods still on disk refer to, in any state (their
    /// apps' images and their stage1 image), each with those pods' UUIDs:
    /// what the image store must not delete.
    pub fn images_in_use(&self) -> Result<BTreeMap<Hash, Vec<String>>, PodError> {
        let mut used: BTreeMap<Hash, Vec<String>> = BTreeMap::new();
        for pod in self.list()? {
            for id in pod.images() {
                used.entry(id).or_default().push(pod.uuid.clone());
            }
        }
        Ok(used)
    }
}

impl Pod {
    fn open_dir(&self) -> Result<File, PodError> {
        File::open(&self.path).map_err(io_at(&self.path))
    }

    /// Waits for and takes the pod's lock.
    pub fn lock(&self) -> Result<File, PodError> {
        let f = self.open_dir()?;
        f.lock().map_err(io_at(&self.path))?;
        Ok(f)
    }

    /// The pod's lock if it is free now.
    pub fn try_lock(&self) -> Result<Option<File>, PodError> {
        let f = self.open_dir()?;
        match f.try_lock() {
            Ok(()) => Ok(Some(f)),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(io_at(&self.path)(e)),
        }
    }

    /// Moves the pod to another state directory.
    pub fn move_to(&mut self, pods: &Pods, to: Dir) -> Result<(), PodError> {
        let target = pods.dir_path(to).join(&self.uuid);
        fs::rename(&self.path, &target).map_err(io_at(&target))?;
        self.path = target;
        self.dir = to;
        Ok(())
    }

    pub fn state(&self) -> Result<State, PodError> {
        let free = || self.try_lock().map(|l| l.is_some());
        Ok(match self.dir {
            Dir::Embryo => State::Embryo,
            Dir::Prepare if free()? => State::AbortedPrepare,
            Dir::Prepare => State::Preparing,
            Dir::Prepared => State::Prepared,
            Dir::Run if free()? => State::Exited,
            Dir::Run => State::Running,
            Dir::ExitedGarbage => State::ExitedGarbage,
            Dir::Garbage => State::Garbage,
        })
    }

    /// The files of the pod's directory.
    pub fn files(&self) -> PodDir {
        PodDir::new(&self.path)
    }

    pub fn manifest(&self) -> Result<PodManifest, PodError> {
        let path = self.files().manifest();
        let text = fs::read_to_string(&path).map_err(io_at(&path))?;
        PodManifest::from_json(&text)
            .map_err(|e| PodError::Manifest(self.uuid.clone(), e.to_string()))
    }

    /// The images this pod refers to: its apps' (from the manifest, once
    /// written) and its stage1's. A pod being written may have neither yet.
    pub fn images(&self) -> Vec<Hash> {
        let apps = self
            .manifest()
            .ok()
            .and_then(|m| m.apps)
            .unwrap_or_default();
        let stage1 = fs::read_to_string(self.files().stage1_image()).ok();
        apps.into_iter()
            .filter_map(|a| a.image.id)
            .chain(stage1.and_then(|id| Hash::new(id.trim()).ok()))
            .collect()
    }

    /// The app called `wanted`, or the pod's only app.
    pub fn app(
        &self,
        wanted: Option<&str>,
    ) -> Result<appc::schema::pod_manifest::RuntimeApp, PodError> {
        let apps = self.manifest()?.apps.unwrap_or_default();
        match wanted {
            Some(name) => apps
                .into_iter()
                .find(|a| a.name.as_str() == name)
                .ok_or_else(|| PodError::NoSuchApp(self.uuid.clone(), name.into())),
            None if apps.len() == 1 => Ok(apps.into_iter().next().expect("one app")),
            None => {
                let names: Vec<&str> = apps.iter().map(|a| a.name.as_str()).collect();
                Err(PodError::SeveralApps(self.uuid.clone(), names.join(", ")))
            }
        }
    }

    /// A number stage0 or stage1 wrote in one of the pod's files
    /// (`PodDir::pid`, say).
    pub fn number(&self, file: impl Fn(&PodDir) -> PathBuf) -> Option<i64> {
        PodDir::number(&file(&self.files()))
    }

    /// Exit statuses of the apps that have exited, by app name. A status
    /// file that cannot be read or holds no number is an error naming it.
    pub fn app_statuses(&self) -> Result<Vec<(String, i32)>, PodError> {
        let dir = self.files().status_dir();
        let entries = match fs::read_dir(&dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            other => other.map_err(io_at(&dir))?,
        };
        let mut out = Vec::new();
        for e in entries {
            let path = e.map_err(io_at(&dir))?.path();
            let text = fs::read_to_string(&path).map_err(io_at(&path))?;
            let code = text
                .trim()
                .parse()
                .map_err(|_| PodError::BadStatus(path.clone(), text.clone()))?;
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            out.push((name.into_owned(), code));
        }
        out.sort();
        Ok(out)
    }

    /// Removes the pod directory, moving it to `garbage` first.
    pub fn remove(mut self, pods: &Pods) -> Result<(), PodError> {
        if self.dir != Dir::Garbage {
            self.move_to(pods, Dir::Garbage)?;
        }
        fs::remove_dir_all(&self.path).map_err(io_at(&self.path))
    }
}
