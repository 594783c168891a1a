//! An image built by buildah from a Dockerfile (the instructions people
//! use, RUN steps deleting files and directories, a hard link), converted
//! from its OCI layout and from its docker archive: the same tree as
//! `umoci unpack` makes, file by file, and the manifest as the reference
//! maps it.

mod support;

use serde_json::{Value, json};
use support::*;

const DOCKERFILE: &str = r#"FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox --install -s /bin && mkdir -p /etc /srv /gone/dir && echo x > /gone/dir/f && echo keep > /etc/keep && echo bye > /etc/bye && ln /bin/busybox /bin/bb-hard && chown 1000:1000 /srv && chmod 4755 /bin/bb-hard"]
RUN ["/bin/sh", "-c", "rm -rf /gone /etc/bye && echo new > /etc/new"]
ENV GREETING=hello PATH=/bin
WORKDIR /srv
USER 1000:1000
EXPOSE 8080/tcp 53/udp 9000
VOLUME /data
LABEL org.example.k=v
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["echo $GREETING from $(pwd)"]
"#;

#[test]
fn a_buildah_image_converts_as_umoci_unpacks_it() {
    let ready = docker2aci::testing::buildah_present()
        && std::path::Path::new("/usr/bin/umoci").exists()
        && is_root();
    if !ready {
        assert!(
            std::env::var_os("CI").is_none(),
            "buildah, umoci or root missing: run scripts/setup.sh as root"
        );
        appc::testing::skipped("buildah, umoci or root missing: docker2aci's buildah test");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (layout, archive) =
        docker2aci::testing::buildah_image(tmp.path(), DOCKERFILE, "example.com/built:1.0");
    let theirs = umoci_tree(
        &format!("{}:example.com/built:1.0", layout.display()),
        &tmp.path().join("bundle"),
    );
    assert!(theirs.contains_key("etc/new") && !theirs.contains_key("gone"));
    for (what, input) in [("layout", &layout), ("archive", &archive)] {
        let aci = tmp.path().join(format!("{what}.aci"));
        let out = docker2aci(&[input.to_str().unwrap(), "-o", aci.to_str().unwrap()]);
        assert!(out.status.success(), "{what}: {}", stderr(&out));
        let dir = tmp.path().join(what);
        untar(&aci, &dir);
        let ours = tree(&dir.join("rootfs"));
        let diff = differences(&ours, &theirs);
        assert!(diff.is_empty(), "{what}: {diff:#?}");
        let m: Value =
            serde_json::from_slice(&std::fs::read(dir.join("manifest")).unwrap()).unwrap();
        assert_eq!(m["name"], "example.com/built", "{what}");
        let app = &m["app"];
        assert_eq!(
            app["exec"],
            json!(["/bin/sh", "-c", "echo $GREETING from $(pwd)"])
        );
        assert_eq!(
            (app["user"].as_str(), app["group"].as_str()),
            (Some("1000"), Some("1000"))
        );
        assert_eq!(app["workingDirectory"], "/srv");
        let ports: Vec<&str> = app["ports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(ports, ["53-udp", "8080-tcp", "9000-tcp"]);
        assert_eq!(
            app["mountPoints"],
            json!([{"name": "volume-data", "path": "/data"}])
        );
        assert_eq!(app["userLabels"]["org.example.k"], "v");
        assert!(
            app["environment"]
                .as_array()
                .unwrap()
                .contains(&json!({"name": "GREETING", "value": "hello"}))
        );
    }
}
