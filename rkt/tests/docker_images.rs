//! A Docker image (an OCI layout of busybox-static with the Dockerfile
//! settings people use: ENTRYPOINT, CMD, ENV, WORKDIR, USER, EXPOSE,
//! VOLUME) converted by docker2aci and run by `rkt run`: the app runs as
//! the image says. Needs root (as CI runs); skipped otherwise.

mod support;

use serde_json::json;
use sha2::{Digest, Sha256};
use std::path::Path;
use support::pods::{ensure_stage1, run, stdout};
use support::{Env, one_line_error};

fn sha256(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn blob(layout: &Path, data: &[u8]) -> serde_json::Value {
    let hex = sha256(data);
    let dir = layout.join("blobs/sha256");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(&hex), data).unwrap();
    json!({"digest": format!("sha256:{hex}"), "size": data.len()})
}

/// Two layers: busybox and its applets, then /srv owned by the app's
/// user with a file in it.
fn layout(dir: &Path) {
    layout_with(dir, None);
}

/// The same with a third layer.
fn layout_with(dir: &Path, extra: Option<Vec<u8>>) {
    let mut base = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(0o755);
    h.set_size(0);
    base.append_data(&mut h, "bin", std::io::empty()).unwrap();
    base.append_path_with_name("/bin/busybox", "bin/busybox")
        .unwrap();
    for applet in ["sh", "id", "pwd", "cat", "echo"] {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_mode(0o777);
        h.set_size(0);
        base.append_link(&mut h, format!("bin/{applet}"), "busybox")
            .unwrap();
    }
    let base = base.into_inner().unwrap();
    let mut app = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(0o755);
    h.set_uid(1000);
    h.set_gid(1000);
    h.set_size(0);
    app.append_data(&mut h, "srv", std::io::empty()).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o644);
    h.set_size(6);
    app.append_data(&mut h, "srv/motto", &b"docker"[..])
        .unwrap();
    let app = app.into_inner().unwrap();

    let mut all = vec![base, app];
    all.extend(extra);
    let layers: Vec<serde_json::Value> = all
        .iter()
        .map(|l| {
            let mut d = blob(dir, l);
            d["mediaType"] = json!("application/vnd.oci.image.layer.v1.tar");
            d
        })
        .collect();
    let config = json!({"architecture": "amd64", "os": "linux",
        "config": {"Entrypoint": ["/bin/sh", "-c"],
                   "Cmd": ["echo \"$GREETING from $(pwd) as $(id -u):$(id -g), motto $(cat motto)\""],
                   "Env": ["PATH=/bin", "GREETING=hello"], "WorkingDir": "/srv", "User": "1000:1000",
                   "ExposedPorts": {"80/tcp": {}}, "Volumes": {"/data": {}}},
        "rootfs": {"type": "layers", "diff_ids": all.iter().map(|l| format!("sha256:{}", sha256(l))).collect::<Vec<_>>()}});
    let mut config_desc = blob(dir, &serde_json::to_vec(&config).unwrap());
    config_desc["mediaType"] = json!("application/vnd.oci.image.config.v1+json");
    let manifest = json!({"schemaVersion": 2, "config": config_desc, "layers": layers});
    let mut desc = blob(dir, &serde_json::to_vec(&manifest).unwrap());
    desc["mediaType"] = json!("application/vnd.oci.image.manifest.v1+json");
    desc["annotations"] = json!({"org.opencontainers.image.ref.name": "example.com/greeter:1.0"});
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": [desc]})).unwrap(),
    )
    .unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
}

#[test]
fn a_converted_docker_image_runs_as_its_config_says() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    let dir = env.path("greeter");
    layout(&dir);
    let opts = docker2aci::Options {
        output: Some(env.path("")),
        ..Default::default()
    };
    let done = docker2aci::convert(&dir, &opts).unwrap();
    assert_eq!(done.path, env.path("greeter-1.0.aci"));
    let aci = done.path.to_str().unwrap();
    let out = run(&env, &[aci]);
    assert!(out.status.success(), "{}", one_line_error(&out));
    assert_eq!(stdout(&out), "hello from /srv as 1000:1000, motto docker\n");
    // The image's volume is there (an empty one, as rkt makes it) and
    // the name is the converted one.
    let out = run(
        &env,
        &[
            "example.com/greeter:1.0",
            "--exec=/bin/sh",
            "--",
            "-c",
            "test -d /data && echo data",
        ],
    );
    assert!(out.status.success(), "{}", one_line_error(&out));
    assert_eq!(stdout(&out), "data\n");
}

#[test]
fn rkt_fetches_and_runs_docker_images_from_a_registry() {
    if !ensure_stage1() {
        return;
    }
    if !docker2aci::testing::tools_present() {
        assert!(
            std::env::var_os("CI").is_none(),
            "docker-registry or skopeo missing: run scripts/setup.sh"
        );
        appc::testing::skipped("docker-registry or skopeo missing: rkt's docker:// tests");
        return;
    }
    let env = Env::new();
    let dir = env.path("greeter");
    layout(&dir);
    let registry = docker2aci::testing::LocalRegistry::start(env.tmp.path(), None);
    registry.push(
        &dir,
        "example.com/greeter:1.0",
        "tests/greeter:1.0",
        None,
        false,
    );
    registry.push(
        &dir,
        "example.com/greeter:1.0",
        "tests/greeter:also",
        None,
        false,
    );
    let url = format!("docker://{}", registry.name("tests/greeter:1.0"));

    // Unsigned: only with --insecure-options=image.
    let refused = env.rkt(&["--insecure-options=http", "fetch", &url]);
    assert_eq!(refused.status.code(), Some(254));
    assert!(
        one_line_error(&refused).contains("signature verification for docker images is not supported (try --insecure-options=image)"),
        "{}",
        one_line_error(&refused)
    );
    let fetched = env.rkt(&["--insecure-options=image,http", "fetch", "--full", &url]);
    assert!(fetched.status.success(), "{}", one_line_error(&fetched));
    let id = stdout(&fetched).trim().to_string();
    assert!(id.starts_with("sha512-"), "{id}");
    // Again, and under another tag of the same manifest: not converted again.
    for (again, flags) in [
        (url.clone(), "--pull-policy=new"),
        (
            format!("docker://{}", registry.name("tests/greeter:also")),
            "--pull-policy=update",
        ),
    ] {
        let out = env.rkt(&[
            "--insecure-options=image,http",
            "--debug",
            "fetch",
            "--full",
            flags,
            &again,
        ]);
        assert!(out.status.success(), "{}", one_line_error(&out));
        assert_eq!(stdout(&out).trim(), id);
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("using image from local store"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // rkt run docker://... runs the app as the image says.
    let out = env.rkt(&["--insecure-options=image,http", "run", "--net=host", &url]);
    assert!(out.status.success(), "{}", one_line_error(&out));
    assert_eq!(stdout(&out), "hello from /srv as 1000:1000, motto docker\n");
    // A registry wanting credentials: rkt's dockerAuth configuration.
    let htpasswd = env.path("htpasswd");
    let made = std::process::Command::new("htpasswd")
        .args(["-Bbn", "alice", "secret"])
        .output()
        .unwrap();
    std::fs::write(&htpasswd, &made.stdout).unwrap();
    let private = docker2aci::testing::LocalRegistry::start(env.tmp.path(), Some(&htpasswd));
    private.push(
        &dir,
        "example.com/greeter:1.0",
        "tests/private:1.0",
        Some("alice:secret"),
        false,
    );
    let url = format!("docker://{}", private.name("tests/private:1.0"));
    let refused = env.rkt(&["--insecure-options=image,http", "fetch", &url]);
    assert_eq!(refused.status.code(), Some(254));
    assert!(
        one_line_error(&refused).contains("401 Unauthorized"),
        "{}",
        one_line_error(&refused)
    );
    let auth_d = env.path("etc/auth.d");
    std::fs::create_dir_all(&auth_d).unwrap();
    std::fs::write(
        auth_d.join("docker.json"),
        json!({"rktKind": "dockerAuth", "rktVersion": "v1",
               "registries": [format!("127.0.0.1:{}", private.port)],
               "credentials": {"user": "alice", "password": "secret"}})
        .to_string(),
    )
    .unwrap();
    let fetched = env.rkt(&["--insecure-options=image,http", "fetch", &url]);
    assert!(fetched.status.success(), "{}", one_line_error(&fetched));
    // Not in the registry: the registry's answer, exit 254.
    let missing = env.rkt(&[
        "--insecure-options=image,http",
        "fetch",
        &format!("docker://{}", registry.name("tests/none:1")),
    ]);
    assert_eq!(missing.status.code(), Some(254));
    assert!(
        one_line_error(&missing).contains("404 Not Found"),
        "{}",
        one_line_error(&missing)
    );
}

#[test]
fn rkt_runs_docker_archives_and_oci_layouts() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    let dir = env.path("greeter");
    layout(&dir);
    let oci = format!("oci:{}", dir.display());
    let refused = env.rkt(&["fetch", &oci]);
    assert_eq!(refused.status.code(), Some(254));
    assert!(one_line_error(&refused).contains("(try --insecure-options=image)"));
    let out = env.rkt(&["--insecure-options=image", "run", "--net=host", &oci]);
    assert!(out.status.success(), "{}", one_line_error(&out));
    assert_eq!(stdout(&out), "hello from /srv as 1000:1000, motto docker\n");
    // Converted once: the second fetch finds it by the image's config.
    let again = env.rkt(&["--insecure-options=image", "--debug", "fetch", &oci]);
    assert!(again.status.success(), "{}", one_line_error(&again));
    assert!(String::from_utf8_lossy(&again.stderr).contains("using image from local store"));

    if !std::path::Path::new("/usr/bin/skopeo").exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "skopeo missing: run scripts/setup.sh"
        );
        appc::testing::skipped("skopeo missing: rkt's docker-archive test");
        return;
    }
    let archive = env.path("greeter.tar");
    let made = std::process::Command::new("skopeo")
        .args(["copy", "-q"])
        .arg(format!("oci:{}:example.com/greeter:1.0", dir.display()))
        .arg(format!(
            "docker-archive:{}:example.com/greeter:2.0",
            archive.display()
        ))
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let given = format!("docker-archive:{}", archive.display());
    let out = env.rkt(&["--insecure-options=image", "run", "--net=host", &given]);
    assert!(out.status.success(), "{}", one_line_error(&out));
    assert_eq!(stdout(&out), "hello from /srv as 1000:1000, motto docker\n");
    let wrong = env.rkt(&[
        "--insecure-options=image",
        "fetch",
        &format!("{given}:example.com/other:1"),
    ]);
    assert_eq!(wrong.status.code(), Some(254));
    assert!(
        one_line_error(&wrong).contains("no image"),
        "{}",
        one_line_error(&wrong)
    );
}

#[test]
fn unsquashed_layers_render_as_the_image() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    // A third layer: a whiteout, a replaced file, a hard link to a file
    // of the first layer.
    let mut third = tar::Builder::new(Vec::new());
    for (name, data) in [("bin/.wh.cat", &b""[..]), ("srv/motto", &b"layered"[..])] {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        third.append_data(&mut h, name, data).unwrap();
    }
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Link);
    h.set_mode(0o755);
    h.set_size(0);
    third.append_link(&mut h, "bin/bb2", "bin/busybox").unwrap();
    let dir = env.path("layered");
    layout_with(&dir, Some(third.into_inner().unwrap()));
    let out_dir = env.path("acis");
    std::fs::create_dir(&out_dir).unwrap();
    let opts = docker2aci::Options {
        output: Some(out_dir.clone()),
        squash: false,
        ..Default::default()
    };
    let done = docker2aci::convert(&dir, &opts).unwrap();
    assert_eq!(done.lower.len(), 2);
    for lower in &done.lower {
        let f = env.rkt(&["--insecure-options=image", "fetch", lower.to_str().unwrap()]);
        assert!(f.status.success(), "{}", one_line_error(&f));
    }
    let top = done.path.to_str().unwrap();
    let out = run(
        &env,
        &[
            top,
            "--exec=/bin/sh",
            "--",
            "-c",
            "read m < motto; echo $m; test -e /bin/cat || echo cat-gone; /bin/busybox cmp /bin/bb2 /bin/busybox && echo linked",
        ],
    );
    assert!(out.status.success(), "{}", one_line_error(&out));
    assert_eq!(stdout(&out), "layered\ncat-gone\nlinked\n");
}

#[test]
fn an_image_built_by_buildah_runs() {
    if !ensure_stage1() {
        return;
    }
    if !docker2aci::testing::buildah_present() {
        assert!(
            std::env::var_os("CI").is_none(),
            "buildah missing: run scripts/setup.sh"
        );
        appc::testing::skipped("buildah missing: rkt's buildah test");
        return;
    }
    let env = Env::new();
    let dockerfile = r#"FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox --install -s /bin && mkdir -p /srv && echo built > /srv/motto && chown -R 1000:1000 /srv"]
ENV GREETING=hello PATH=/bin
WORKDIR /srv
USER 1000:1000
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["echo $GREETING from $(pwd) as $(id -u), motto $(cat motto)"]
"#;
    let (_, archive) =
        docker2aci::testing::buildah_image(&env.path("build"), dockerfile, "example.com/built:1.0");
    let given = format!("docker-archive:{}", archive.display());
    let out = env.rkt(&["--insecure-options=image", "run", "--net=host", &given]);
    assert!(out.status.success(), "{}", one_line_error(&out));
    assert_eq!(stdout(&out), "hello from /srv as 1000, motto built\n");
}

#[test]
fn a_conversion_stops_at_the_extraction_cap_while_it_streams() {
    let env = Env::new();
    let dir = env.path("large");
    // A layer of 64 MiB of zeros.
    let mut large = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o644);
    h.set_size(64 << 20);
    large
        .append_data(
            &mut h,
            "zeros",
            std::io::Read::take(std::io::repeat(0), 64 << 20),
        )
        .unwrap();
    layout_with(&dir, Some(large.into_inner().unwrap()));
    let oci = format!("oci:{}", dir.display());
    let out = env.rkt(&[
        "--insecure-options=image",
        "--max-extracted-size=16Mi",
        "fetch",
        &oci,
    ]);
    assert_eq!(out.status.code(), Some(254));
    let err = one_line_error(&out);
    assert!(
        err.contains("converted, the image expands to more than 16777216 bytes"),
        "{err}"
    );
    let staging = std::fs::read_dir(env.path("data/cas/tmp")).unwrap().count();
    assert_eq!(staging, 0, "staging left after: {err}");
}
