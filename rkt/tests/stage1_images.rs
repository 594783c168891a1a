//! The default stage1 images: made from the executable beside rkt,
//! exported as packages, and found as packages beside rkt or in the
//! stage1-images directory. Running pods needs root (as CI runs).

mod support;

use std::fs;
use std::path::Path;
use std::process::{Command, Output};
use support::Env;
use support::pods::{busybox, ensure_stage1, stdout};

/// `rkt fetch` of our stage1's name gives this installation's image, which
/// `rkt image export` packages.
fn package(env: &Env, name: &str, out: &std::path::Path) {
    let fetched = env.rkt(&["fetch", name]);
    assert!(
        fetched.status.success(),
        "{}",
        String::from_utf8_lossy(&fetched.stderr)
    );
    let exported = env.rkt(&["image", "export", name, out.to_str().unwrap()]);
    assert!(exported.status.success());
}

#[test]
fn a_packaged_stage1_beside_rkt_runs_pods() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    let aci = env.path("stage1-rs.aci");
    package(&env, "coreos.com/rkt/stage1-rs", &aci);
    let info = appc::aci::validate_archive(fs::File::open(&aci).unwrap(), true).unwrap();
    let id = info.image_id.unwrap().to_string();
    let annotations = &info.manifest.annotations;
    assert_eq!(annotations.get("coreos.com/rkt/stage1/run"), Some("/init"));
    assert_eq!(annotations.get("coreos.com/rkt/stage1/gc"), Some("/gc"));

    // An installation with rkt and the package, and no stage1 executable.
    let bin = env.path("bin");
    fs::create_dir(&bin).unwrap();
    fs::copy(env!("CARGO_BIN_EXE_rkt"), bin.join("rkt")).unwrap();
    fs::copy(&aci, bin.join("stage1-rs.aci")).unwrap();
    let image = busybox(&env);
    let fresh = Env::new();
    let installed = bin.join("rkt");
    let rkt = |args: &[&str]| rkt_at(&installed, &fresh, args);
    let out = rkt(&[
        "--insecure-options=image",
        "run",
        "--net=host",
        image.to_str().unwrap(),
        "--exec=/bin/echo",
        "--",
        "from the package",
    ]);
    assert_eq!(
        stdout(&out),
        "from the package\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let images = stdout(&rkt(&["image", "list", "--no-legend", "--full"]));
    assert!(images.contains(&id), "{images}");
    assert!(rkt(&["gc", "--grace-period=0s"]).status.success());

    // Without the package, and with no executable beside it, rkt says so.
    fs::remove_file(bin.join("stage1-rs.aci")).unwrap();
    let empty = Env::new();
    let out = rkt_at(
        &installed,
        &empty,
        &[
            "--insecure-options=image",
            "run",
            "--net=host",
            image.to_str().unwrap(),
        ],
    );
    let err = support::one_line_error(&out);
    assert!(err.contains("stage1"), "{err}");
}

/// rkt installed at `program`, with `env`'s directories.
fn rkt_at(program: &Path, env: &Env, args: &[&str]) -> Output {
    let own = env.rkt_command(args);
    Command::new(program)
        .args(own.get_args())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn racing_first_runs_import_the_default_stage1_once_and_reproducibly() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    let racers: Vec<_> = (0..20)
        .map(|_| {
            env.rkt_command(&["fetch", "coreos.com/rkt/stage1-rs"])
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let ids: Vec<String> = racers
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            assert!(out.status.success());
            stdout(&out).trim().to_string()
        })
        .collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    let listed = stdout(&env.rkt(&["image", "list", "--no-legend"]));
    assert_eq!(
        listed.matches("coreos.com/rkt/stage1-rs").count(),
        1,
        "{listed}"
    );
    // Another store, the same executable: the same image.
    let other = Env::new();
    let again = other.rkt(&["fetch", "coreos.com/rkt/stage1-rs"]);
    assert_eq!(stdout(&again).trim(), ids[0]);
}

#[test]
fn any_stage1_image_is_run_through_rkts_interface() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    // A stage1 of scripts that only record how they were called: run
    // holds the pod (its lock) until stopped; stop records and ends it; gc
    // records beside the pod directory (which rkt gc removes next).
    let layout = env.path("stub");
    fs::create_dir_all(layout.join("rootfs")).unwrap();
    let scripts = [
        (
            "run",
            "#!/bin/sh\n{ echo \"args=$*\"; echo \"lock=$RKT_LOCK_FD\"; echo \"cwd=$(pwd)\"; } > record\necho $$ > ppid\nexec sleep 30\n",
        ),
        (
            "stop",
            "#!/bin/sh\necho \"stop=$* cwd=$(pwd)\" > stop-record\nkill $(cat ppid)\n",
        ),
        (
            "gc",
            "#!/bin/sh\necho \"gc=$* cwd=$(pwd)\" > ../../gc-record\n",
        ),
    ];
    for (name, text) in scripts {
        let p = layout.join("rootfs").join(name);
        fs::write(&p, text).unwrap();
        fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    let manifest = serde_json::json!({
        "acKind": "ImageManifest", "acVersion": "0.8.11", "name": "example.com/stub-stage1",
        "labels": [{"name": "version", "value": "1"}, {"name": "os", "value": "linux"},
                   {"name": "arch", "value": rkt::fetch::host_arch()}],
        "annotations": [{"name": "coreos.com/rkt/stage1/run", "value": "/run"},
                        {"name": "coreos.com/rkt/stage1/stop", "value": "/stop"},
                        {"name": "coreos.com/rkt/stage1/gc", "value": "/gc"}],
    });
    fs::write(layout.join("manifest"), manifest.to_string()).unwrap();
    let stub = env.path("stub.aci");
    let file = fs::File::create(&stub).unwrap();
    appc::aci::build_aci(&layout, file, Default::default()).unwrap();
    let aci = busybox(&env);
    let uuid_file = env.path("uuid");
    let mut child = env
        .rkt_command(&[
            "--insecure-options=image",
            "--debug",
            "run",
            "--net=host",
            "--hostname=stubbed",
            "--dns=192.0.2.53",
            "--hosts-entry=192.0.2.7=web",
            &format!("--uuid-file-save={}", uuid_file.display()),
            &format!("--stage1-path={}", stub.display()),
            aci.to_str().unwrap(),
        ])
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let (uuid, pod) = loop {
        let uuid = fs::read_to_string(&uuid_file).unwrap_or_default();
        let pod = env.path(&format!("data/pods/run/{}", uuid.trim()));
        if !uuid.trim().is_empty() && pod.join("ppid").exists() {
            break (uuid.trim().to_string(), pod);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the stub stage1 did not start");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    // rkt stop goes through the image's stop entrypoint, in the pod's directory.
    let stopped = env.rkt(&["stop", &uuid]);
    assert!(
        stopped.status.success(),
        "{}",
        String::from_utf8_lossy(&stopped.stderr)
    );
    let _ = child.wait();
    let stop_record = fs::read_to_string(pod.join("stop-record")).unwrap();
    let canonical = fs::canonicalize(&pod).unwrap();
    assert_eq!(
        stop_record.trim(),
        format!("stop={uuid} cwd={}", canonical.display())
    );
    let record = fs::read_to_string(pod.join("record")).unwrap();
    let lines: Vec<&str> = record.lines().collect();
    let args = lines[0].trim_start_matches("args=");
    assert!(args.ends_with(&uuid), "{args}");
    for flag in [
        "--net=host",
        "--debug",
        "--hostname=stubbed",
        "--local-config=",
        "--dns=192.0.2.53",
        "--hosts-entry=192.0.2.7=web",
    ] {
        assert!(args.contains(flag), "{flag} not in {args}");
    }
    let lock = lines[1].trim_start_matches("lock=");
    assert!(lock.parse::<u32>().is_ok(), "{record}");
    let cwd = lines[2].trim_start_matches("cwd=");
    assert_eq!(fs::canonicalize(cwd).unwrap(), canonical);
    // rkt gc runs the gc entrypoint in the exited pod's directory
    // (exited-garbage by then), with --debug and the UUID.
    let gc = env.rkt(&["--debug", "gc", "--grace-period=0s"]);
    assert!(
        gc.status.success(),
        "{}",
        String::from_utf8_lossy(&gc.stderr)
    );
    let gc_record = fs::read_to_string(env.path("data/pods/gc-record")).unwrap();
    let garbage = fs::canonicalize(env.path("data/pods/exited-garbage")).unwrap();
    assert_eq!(
        gc_record.trim(),
        format!("gc=--debug {uuid} cwd={}/{uuid}", garbage.display())
    );
    assert!(!pod.exists());
}

/// A stage1 image that only has a run entrypoint (enough to prepare pods).
fn stub_stage1(env: &Env, name: &str) -> std::path::PathBuf {
    let layout = env.path(&format!("layout-{}", name.replace('/', "_")));
    fs::create_dir_all(layout.join("rootfs")).unwrap();
    fs::write(layout.join("rootfs/run"), "#!/bin/sh\nexit 0\n").unwrap();
    let manifest = serde_json::json!({
        "acKind": "ImageManifest", "acVersion": "0.8.11", "name": name,
        "labels": [{"name": "version", "value": "7"}, {"name": "os", "value": "linux"},
                   {"name": "arch", "value": rkt::fetch::host_arch()}],
        "annotations": [{"name": "coreos.com/rkt/stage1/run", "value": "/run"}],
    });
    fs::write(layout.join("manifest"), manifest.to_string()).unwrap();
    let aci = env.path(&format!("{}.aci", name.replace('/', "_")));
    let file = fs::File::create(&aci).unwrap();
    appc::aci::build_aci(&layout, file, Default::default()).unwrap();
    aci
}

/// The stage1 image ID a prepared pod records.
fn prepared_stage1(env: &Env, args: &[&str]) -> Result<String, String> {
    let mut all = vec!["--insecure-options=image", "prepare", "--quiet"];
    all.extend_from_slice(args);
    let out = env.rkt(&all);
    if !out.status.success() {
        return Err(support::one_line_error(&out));
    }
    let uuid = stdout(&out).trim().to_string();
    let id = fs::read_to_string(env.path(&format!("data/pods/prepared/{uuid}/stage1-image")));
    assert!(env.rkt(&["rm", &uuid]).status.success());
    Ok(id.unwrap().trim().to_string())
}

#[test]
fn the_default_stage1_comes_from_stage1_d_and_the_images_directory() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    let image = busybox(&env);
    let img = image.to_str().unwrap();
    let stub = stub_stage1(&env, "example.com/configured-stage1");
    let stub_id = appc::aci::validate_archive(fs::File::open(&stub).unwrap(), true)
        .unwrap()
        .image_id
        .unwrap()
        .to_string();
    let config = |location: &str| {
        let d = env.path("etc/stage1.d");
        fs::create_dir_all(&d).unwrap();
        let conf = serde_json::json!({"rktKind": "stage1", "rktVersion": "v1",
            "name": "example.com/configured-stage1", "version": "7", "location": location});
        fs::write(d.join("stage1.json"), conf.to_string()).unwrap();
    };
    // From its location, then by name and version from the store.
    config(stub.to_str().unwrap());
    assert_eq!(prepared_stage1(&env, &[img]).unwrap(), stub_id);
    config("/nonexistent/stage1.aci");
    assert_eq!(prepared_stage1(&env, &[img]).unwrap(), stub_id);
    // A relative location is an error (once the store lacks it).
    assert!(env.rkt(&["image", "rm", &stub_id]).status.success());
    config("stage1.aci");
    let err = prepared_stage1(&env, &[img]).unwrap_err();
    assert!(err.contains("is not an absolute path or a URL"), "{err}");
    fs::remove_dir_all(env.path("etc/stage1.d")).unwrap();

    // --stage1-from-dir: a file of the stage1 images directory.
    let dir = env.path("stage1-images");
    fs::create_dir_all(&dir).unwrap();
    fs::copy(&stub, dir.join("mine.aci")).unwrap();
    let paths = env.path("etc/paths.d");
    fs::create_dir_all(&paths).unwrap();
    let conf = serde_json::json!({"rktKind": "paths", "rktVersion": "v1",
        "stage1-images": dir.to_str().unwrap()});
    fs::write(paths.join("paths.json"), conf.to_string()).unwrap();
    assert_eq!(
        prepared_stage1(&env, &["--stage1-from-dir=mine.aci", img]).unwrap(),
        stub_id
    );
    let err = prepared_stage1(&env, &["--stage1-from-dir=../x.aci", img]).unwrap_err();
    assert!(err.contains("a file name in"), "{err}");
}
