//! goaci with Debian's Go on modules written here: an HTTP server with a
//! vendored dependency, an embedded file and an asset; a module with
//! several commands; a cgo program; a cross-build for arm64; the same
//! input twice; and bad input. Each image is checked by our validator and
//! the reference actool; the server and the cgo program run under rkt.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Debian's Go, or the test is reported skipped (never in CI).
fn go_ready() -> bool {
    let ok = Command::new("go").arg("version").output().is_ok();
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "golang-go is missing: run scripts/setup.sh"
        );
        appc::testing::skipped("no Go toolchain: goaci");
    }
    ok
}

/// Writes `files` (path, content) under `dir`.
fn write_tree(dir: &Path, files: &[(&str, &str)]) {
    for (path, content) in files {
        let p = dir.join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, content).unwrap();
    }
}

/// The HTTP server module (tests/data/web): a vendored module's greeting,
/// an embedded file, and a static directory given as an asset; copied to
/// `dir`.
fn web_module(dir: &Path) {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/web");
    let status = Command::new("cp")
        .arg("-r")
        .arg(&data)
        .arg(dir)
        .status()
        .unwrap();
    assert!(status.success());
}

/// A place for the test's modules, and goaci run with a Go environment
/// of its own (no network: GOPROXY=off; a shared build cache).
struct Env {
    tmp: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            tmp: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    fn goaci(&self, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_goaci"))
            .current_dir(dir)
            .args(args)
            .env(
                "GOCACHE",
                Path::new(env!("CARGO_TARGET_TMPDIR")).join("go-cache"),
            )
            .env("GOPATH", self.path("gopath"))
            .env("XDG_CACHE_HOME", self.path("cache"))
            .env("GOPROXY", "off")
            .env("GOFLAGS", "")
            .env_remove("SOURCE_DATE_EPOCH")
            .envs(env.iter().copied())
            .output()
            .unwrap()
    }
}

fn ok(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "goaci failed: {}{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

fn error(out: &Output) -> String {
    assert!(!out.status.success(), "goaci succeeded");
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// The manifest of `aci`, after our validator and the reference's pass it.
fn validated(aci: &Path) -> serde_json::Value {
    appc::aci::validate_archive(fs::File::open(aci).unwrap(), true).unwrap();
    let reference = Command::new("actool").arg("validate").arg(aci).output();
    match reference {
        Ok(out) => assert!(
            out.status.success(),
            "the reference actool: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(_) => {
            assert!(std::env::var_os("CI").is_none(), "appc-spec is missing");
            appc::testing::skipped("no reference actool: goaci's images checked by ours only");
        }
    }
    let m = appc::aci::manifest_from_archive(fs::File::open(aci).unwrap()).unwrap();
    serde_json::to_value(&m).unwrap()
}

/// The files of `aci` (gzip) and the content of `want`.
fn entries(aci: &Path, want: &str) -> (Vec<String>, Vec<u8>) {
    let gz = flate2::read::MultiGzDecoder::new(fs::File::open(aci).unwrap());
    let mut archive = tar::Archive::new(gz);
    let mut names = Vec::new();
    let mut content = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().display().to_string();
        if name == want {
            entry.read_to_end(&mut content).unwrap();
        }
        names.push(name);
    }
    (names, content)
}

fn label<'a>(m: &'a serde_json::Value, name: &str) -> &'a str {
    m["labels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == name)
        .and_then(|l| l["value"].as_str())
        .unwrap_or_else(|| panic!("no label {name}"))
}

#[test]
fn a_module_with_a_vendored_dependency_an_embedded_file_and_an_asset() {
    if !go_ready() {
        return;
    }
    let env = Env::new();
    let dir = env.path("web");
    web_module(&dir);
    let out = env.goaci(
        &dir,
        &[
            "--port=http:tcp:8080",
            "--asset=<PROJPATH>/static:/srv/static",
            "--exec=-v",
            ".",
        ],
        &[],
    );
    assert_eq!(ok(&out), "Wrote web.aci\n");
    let aci = dir.join("web.aci");
    let m = validated(&aci);
    assert_eq!(m["name"], "example.com/web");
    assert_eq!(label(&m, "version"), "latest");
    assert_eq!(label(&m, "os"), "linux");
    assert_eq!(m["app"]["exec"], serde_json::json!(["/web", "-v"]));
    assert_eq!(m["app"]["user"], "0");
    assert_eq!(m["app"]["ports"][0]["port"], 8080);
    let (names, binary) = entries(&aci, "rootfs/web");
    assert!(
        names.contains(&"rootfs/srv/static/site.css".to_string()),
        "{names:?}"
    );
    // Static: no interpreter to load it.
    assert_eq!(&binary[..4], b"\x7fELF");
    assert!(
        !binary.windows(12).any(|w| w == b"ld-linux-x86"),
        "a dynamic binary"
    );
}

#[test]
fn several_commands_one_chosen() {
    if !go_ready() {
        return;
    }
    let env = Env::new();
    let dir = env.path("multi");
    write_tree(
        &dir,
        &[
            ("go.mod", "module example.com/multi\n\ngo 1.19\n"),
            (
                "cmd/alpha/main.go",
                "package main\n\nfunc main() { println(\"alpha\") }\n",
            ),
            (
                "cmd/beta/main.go",
                "package main\n\nfunc main() { println(\"beta\") }\n",
            ),
            ("lib/lib.go", "package lib\n"),
        ],
    );
    let err = error(&env.goaci(&dir, &["./cmd/..."], &[]));
    assert!(err.contains("several commands (alpha, beta)"), "{err}");
    assert!(err.contains("--use-binary"), "{err}");
    let err = error(&env.goaci(&dir, &["--use-binary=gamma", "./cmd/..."], &[]));
    assert!(err.contains("no such command among alpha, beta"), "{err}");
    let out = env.goaci(
        &dir,
        &["--use-binary=beta", "-o", "b.aci", "./cmd/..."],
        &[],
    );
    assert_eq!(ok(&out), "Wrote b.aci\n");
    let m = validated(&dir.join("b.aci"));
    assert_eq!(m["name"], "example.com/multi/cmd/beta");
    assert_eq!(m["app"]["exec"], serde_json::json!(["/beta"]));
    // A package directory names one command.
    let out = env.goaci(&dir, &["--name=example.com/alpha", "./cmd/alpha"], &[]);
    assert_eq!(ok(&out), "Wrote alpha.aci\n");
    assert_eq!(
        validated(&dir.join("alpha.aci"))["name"],
        "example.com/alpha"
    );
}

/// The cgo program of the tests: it calls C's getpid.
fn cgo_module(dir: &Path) {
    write_tree(
        dir,
        &[
            ("go.mod", "module example.com/cgo\n\ngo 1.19\n"),
            (
                "main.go",
                "package main\n\n// #include <unistd.h>\nimport \"C\"\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"cgo pid\", C.getpid()) }\n",
            ),
        ],
    );
}

#[test]
fn a_cgo_program_gets_its_libraries_and_loader() {
    if !go_ready() {
        return;
    }
    let env = Env::new();
    let dir = env.path("cgo");
    cgo_module(&dir);
    let out = env.goaci(&dir, &["."], &[]);
    assert_eq!(ok(&out), "Wrote cgo.aci\n");
    let aci = dir.join("cgo.aci");
    validated(&aci);
    let (names, binary) = entries(&aci, "rootfs/cgo");
    assert!(
        binary.windows(12).any(|w| w == b"ld-linux-x86"),
        "not dynamic"
    );
    let ldd = Command::new("ldd").arg("/bin/true").output().unwrap();
    for lib in String::from_utf8_lossy(&ldd.stdout)
        .split_whitespace()
        .filter(|w| w.starts_with('/'))
    {
        // What /bin/true needs (libc, the loader), the cgo binary does too.
        assert!(
            names.contains(&format!("rootfs{lib}")),
            "no {lib} in {names:?}"
        );
    }
    // Crossed, the same program cannot be linked: said, and nothing made.
    let err = error(&env.goaci(&dir, &["-o", "arm.aci", "."], &[("GOARCH", "arm64")]));
    assert!(err.contains("example.com/cgo use cgo"), "{err}");
    assert!(err.contains("linux/arm64"), "{err}");
    assert!(!dir.join("arm.aci").exists());
}

#[test]
fn a_cross_build_for_arm64() {
    if !go_ready() {
        return;
    }
    let env = Env::new();
    let dir = env.path("web");
    web_module(&dir);
    let out = env.goaci(&dir, &["-o", "web-arm64.aci", "."], &[("GOARCH", "arm64")]);
    assert_eq!(ok(&out), "Wrote web-arm64.aci\n");
    let aci = dir.join("web-arm64.aci");
    let m = validated(&aci);
    assert_eq!(label(&m, "arch"), "aarch64");
    let (_, binary) = entries(&aci, "rootfs/web");
    // ELF e_machine 183: AArch64.
    assert_eq!(u16::from_le_bytes([binary[18], binary[19]]), 183);
}

#[test]
fn the_same_input_twice_gives_the_same_bytes() {
    if !go_ready() {
        return;
    }
    let env = Env::new();
    let dir = env.path("web");
    web_module(&dir);
    let epoch = [("SOURCE_DATE_EPOCH", "1700000000")];
    let args = ["--asset=<PROJPATH>/static:/srv/static", "-o"];
    ok(&env.goaci(&dir, &[args[0], args[1], "one.aci", "."], &epoch));
    // Touched in between: times come from SOURCE_DATE_EPOCH, not the files.
    fs::write(dir.join("static/site.css"), "body {}\n").unwrap();
    ok(&env.goaci(&dir, &[args[0], args[1], "two.aci", "."], &epoch));
    let one = fs::read(dir.join("one.aci")).unwrap();
    assert_eq!(one, fs::read(dir.join("two.aci")).unwrap());
    let m = validated(&dir.join("one.aci"));
    assert_eq!(m["annotations"][0]["value"], "2023-11-14T22:13:20Z");
}

/// Nothing but the inputs in `dir`: no ACI, no temporary file.
fn nothing_written(dir: &Path, before: &[String]) {
    assert_eq!(listing(dir), before);
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn bad_input_is_named_and_leaves_no_image() {
    if !go_ready() {
        return;
    }
    let env = Env::new();
    let lib = env.path("lib");
    write_tree(
        &lib,
        &[
            ("go.mod", "module example.com/lib\n\ngo 1.19\n"),
            ("lib.go", "package lib\n\nfunc X() {}\n"),
        ],
    );
    let before = listing(&lib);
    let err = error(&env.goaci(&lib, &["."], &[]));
    assert!(
        err.contains("example.com/lib is not a main package (package lib)"),
        "{err}"
    );
    nothing_written(&lib, &before);

    let broken = env.path("broken");
    write_tree(
        &broken,
        &[
            ("go.mod", "module example.com/broken\n\ngo 1.19\n"),
            (
                "main.go",
                "package main\n\nfunc main() { undefinedThing() }\n",
            ),
        ],
    );
    let before = listing(&broken);
    let err = error(&env.goaci(&broken, &["."], &[]));
    assert!(err.contains("the build failed"), "{err}");
    assert!(
        err.contains("undefined: undefinedThing"),
        "the compiler's words: {err}"
    );
    nothing_written(&broken, &before);

    let web = env.path("web");
    web_module(&web);
    let before = listing(&web);
    let err = error(&env.goaci(&web, &["--go-binary=/nonexistent/go", "."], &[]));
    assert!(err.contains("no Go toolchain: /nonexistent/go"), "{err}");
    fs::write(env.path("outside.txt"), "x").unwrap();
    let outside = format!("--asset={}:/x", env.path("outside.txt").display());
    let err = error(&env.goaci(&web, &[&outside, "."], &[]));
    assert!(err.contains("outside the project's tree"), "{err}");
    let err = error(&env.goaci(&web, &["--port=http", "."], &[]));
    assert!(
        err.contains("--port http: expected NAME:PROTOCOL:PORT"),
        "{err}"
    );
    let err = error(&env.goaci(&web, &["./nothing-here"], &[]));
    assert!(err.contains("nothing-here"), "{err}");
    nothing_written(&web, &before);
}

/// rkt and its stage1, built as this test was (root and the CNI plugins
/// needed), or None: the test is reported skipped (never in CI).
fn rkt() -> Option<PathBuf> {
    let ready = rustix::process::geteuid().is_root() && Path::new("/usr/lib/cni/ptp").exists();
    if !ready {
        assert!(
            std::env::var_os("CI").is_none(),
            "running images needs root and the CNI plugins"
        );
        appc::testing::skipped("not root or no CNI plugins: goaci's images under rkt");
        return None;
    }
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_goaci"))
        .parent()
        .unwrap()
        .to_path_buf();
    let mut cargo = Command::new(env!("CARGO"));
    cargo.args(["build", "--quiet", "-p", "rkt", "-p", "stage1"]);
    if bin_dir.file_name().is_some_and(|n| n == "release") {
        cargo.arg("--release");
    }
    assert!(cargo.status().unwrap().success(), "building rkt failed");
    Some(bin_dir.join("rkt"))
}

/// A pod of rkt's, stopped and collected when the test ends.
struct Pod {
    rkt: PathBuf,
    dir: PathBuf,
    child: std::process::Child,
    uuid: String,
}

impl Pod {
    fn rkt(rkt: &Path, dir: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(rkt);
        c.arg(format!("--dir={}", dir.join("data").display()))
            .arg(format!("--local-config={}", dir.join("etc").display()))
            .arg(format!("--system-config={}", dir.join("lib").display()))
            .arg("--insecure-options=image")
            .args(args)
            .stdin(std::process::Stdio::null());
        c
    }

    fn start(rkt: &Path, dir: &Path, aci: &Path) -> Pod {
        let uuid_file = dir.join("uuid");
        let save = format!("--uuid-file-save={}", uuid_file.display());
        let child = Pod::rkt(rkt, dir, &["run", &save, &aci.display().to_string()])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut pod = Pod {
            rkt: rkt.to_path_buf(),
            dir: dir.to_path_buf(),
            child,
            uuid: String::new(),
        };
        for _ in 0..2400 {
            if let Ok(u) = fs::read_to_string(&uuid_file)
                && !u.trim().is_empty()
            {
                pod.uuid = u.trim().to_string();
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        pod
    }

    /// The pod's address on the default network, once it has one.
    fn ip(&self) -> String {
        for _ in 0..400 {
            let out = Pod::rkt(&self.rkt, &self.dir, &["status", &self.uuid])
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout).to_string();
            if let Some(ip) = text
                .lines()
                .find_map(|l| l.strip_prefix("networks=default:ip4="))
            {
                return ip.trim().to_string();
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        panic!("pod {} got no address", self.uuid);
    }
}

impl Drop for Pod {
    fn drop(&mut self) {
        let _ = Pod::rkt(&self.rkt, &self.dir, &["stop", &self.uuid]).output();
        let _ = self.child.wait();
        let _ = Pod::rkt(&self.rkt, &self.dir, &["gc", "--grace-period=0s"]).output();
    }
}

/// An HTTP GET of `/` on `addr`, once something answers there.
fn get(addr: &str) -> String {
    use std::io::Write;
    let mut last = String::new();
    for _ in 0..100 {
        let attempt = || -> std::io::Result<String> {
            let mut s = std::net::TcpStream::connect(addr)?;
            s.set_read_timeout(Some(std::time::Duration::from_secs(3)))?;
            s.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
            let mut out = String::new();
            s.read_to_string(&mut out)?;
            Ok(out)
        };
        match attempt() {
            Ok(answer) => return answer,
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("nothing answered on {addr}: {last}");
}

#[test]
fn the_images_run_under_rkt() {
    if !go_ready() {
        return;
    }
    let Some(rkt) = rkt() else {
        return;
    };
    let env = Env::new();
    let web = env.path("web");
    web_module(&web);
    ok(&env.goaci(
        &web,
        &[
            "--port=http:tcp:8080",
            "--asset=<PROJPATH>/static:/srv/static",
            ".",
        ],
        &[],
    ));
    let answer = {
        let pod = Pod::start(&rkt, &env.path(""), &web.join("web.aci"));
        get(&format!("{}:8080", pod.ip()))
    };
    assert!(answer.starts_with("HTTP/1.0 200 OK"), "{answer}");
    assert!(
        answer.ends_with("hello from a vendored module and from an embedded file\nbody {}\n"),
        "{answer}"
    );

    let cgo = env.path("cgo");
    cgo_module(&cgo);
    ok(&env.goaci(&cgo, &["."], &[]));
    let out = Pod::rkt(
        &rkt,
        &env.path(""),
        &[
            "run",
            "--net=host",
            &cgo.join("cgo.aci").display().to_string(),
        ],
    )
    .output()
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("cgo pid "), "{text}");
    let gc = Pod::rkt(&rkt, &env.path(""), &["gc", "--grace-period=0s"])
        .output()
        .unwrap();
    assert!(gc.status.success());
}

/// A stored (uncompressed) zip of `files`, as a module proxy serves a
/// module's content.
fn zip(files: &[(String, &str)]) -> Vec<u8> {
    let (mut out, mut central) = (Vec::new(), Vec::new());
    let le16 = |v: &mut Vec<u8>, n: u16| v.extend_from_slice(&n.to_le_bytes());
    let le32 = |v: &mut Vec<u8>, n: u32| v.extend_from_slice(&n.to_le_bytes());
    for (name, content) in files {
        let crc = crc32fast::hash(content.as_bytes());
        let (size, offset) = (content.len() as u32, out.len() as u32);
        // Local header: version 2.0, no flags, stored, 1980-01-01.
        le32(&mut out, 0x0403_4b50);
        for n in [20, 0, 0, 0, 0x21] {
            le16(&mut out, n);
        }
        for n in [crc, size, size] {
            le32(&mut out, n);
        }
        le16(&mut out, name.len() as u16);
        le16(&mut out, 0);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(content.as_bytes());
        le32(&mut central, 0x0201_4b50);
        for n in [20, 20, 0, 0, 0, 0x21] {
            le16(&mut central, n);
        }
        for n in [crc, size, size] {
            le32(&mut central, n);
        }
        for n in [name.len() as u16, 0, 0, 0, 0] {
            le16(&mut central, n);
        }
        le32(&mut central, 0);
        le32(&mut central, offset);
        central.extend_from_slice(name.as_bytes());
    }
    let (cd_offset, cd_size, n) = (out.len() as u32, central.len() as u32, files.len() as u16);
    out.extend_from_slice(&central);
    le32(&mut out, 0x0605_4b50);
    for v in [0, 0, n, n] {
        le16(&mut out, v);
    }
    le32(&mut out, cd_size);
    le32(&mut out, cd_offset);
    le16(&mut out, 0);
    out
}

#[test]
fn an_import_path_at_a_version_through_the_users_goproxy() {
    if !go_ready() {
        return;
    }
    let env = Env::new();
    // A module proxy in a directory, as GOPROXY=file://... takes it.
    let go_mod = "module example.com/tool\n\ngo 1.19\n";
    let main = "package main\n\nvar greeting = \"default\"\n\nfunc main() { println(\"tool\", greeting) }\n";
    let v = env.path("proxy/example.com/tool/@v");
    fs::create_dir_all(&v).unwrap();
    fs::write(v.join("list"), "v1.2.0\n").unwrap();
    fs::write(
        v.join("v1.2.0.info"),
        r#"{"Version":"v1.2.0","Time":"2023-01-01T00:00:00Z"}"#,
    )
    .unwrap();
    fs::write(v.join("v1.2.0.mod"), go_mod).unwrap();
    let files = [
        ("example.com/tool@v1.2.0/go.mod".to_string(), go_mod),
        ("example.com/tool@v1.2.0/main.go".to_string(), main),
    ];
    fs::write(v.join("v1.2.0.zip"), zip(&files)).unwrap();
    let proxy = format!("file://{}", env.path("proxy").display());
    let out_dir = env.path("out");
    fs::create_dir_all(&out_dir).unwrap();
    let goflags = "-ldflags=-X=main.greeting=set-by-goflags";
    let go_env = [
        ("GOPROXY", proxy.as_str()),
        ("GOSUMDB", "off"),
        ("GOFLAGS", goflags),
    ];
    let out = env.goaci(&out_dir, &["example.com/tool@v1.2.0"], &go_env);
    assert_eq!(ok(&out), "Wrote tool.aci\n");
    let aci = out_dir.join("tool.aci");
    let m = validated(&aci);
    assert_eq!(m["name"], "example.com/tool");
    assert_eq!(label(&m, "version"), "v1.2.0");
    let (_, binary) = entries(&aci, "rootfs/tool");
    assert!(
        binary.windows(14).any(|w| w == b"set-by-goflags"),
        "GOFLAGS not honoured"
    );
    // A version the proxy does not have: go's own words.
    let err = error(&env.goaci(&out_dir, &["example.com/tool@v9.9.9"], &go_env));
    assert!(err.contains("v9.9.9"), "{err}");
}

#[test]
fn a_workspace_in_a_tagged_checkout_with_the_directory_kept() {
    if !go_ready() {
        return;
    }
    if Command::new("git").arg("--version").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "git is missing");
        appc::testing::skipped("no git: goaci's version from a tag");
        return;
    }
    let env = Env::new();
    let ws = env.path("ws");
    // The command's module uses a library module through go.work alone.
    write_tree(
        &ws,
        &[
            ("go.work", "go 1.19\n\nuse (\n\t./app\n\t./lib\n)\n"),
            ("lib/go.mod", "module example.com/lib\n\ngo 1.19\n"),
            (
                "lib/lib.go",
                "package lib\n\nconst Name = \"from-the-workspace\"\n",
            ),
            ("app/go.mod", "module example.com/app\n\ngo 1.19\n"),
            (
                "app/main.go",
                "package main\n\nimport \"example.com/lib\"\n\nfunc main() { println(lib.Name) }\n",
            ),
        ],
    );
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .current_dir(&ws)
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "one"]);
    git(&["tag", "v3.1.4"]);
    let out = env.goaci(&ws, &["--keep-tmp", "-o", "../app.aci", "app"], &[]);
    assert_eq!(ok(&out), "Wrote ../app.aci\n");
    let aci = env.path("app.aci");
    let m = validated(&aci);
    assert_eq!(m["name"], "example.com/app");
    assert_eq!(label(&m, "version"), "v3.1.4");
    let (_, binary) = entries(&aci, "rootfs/app");
    assert!(binary.windows(18).any(|w| w == b"from-the-workspace"));
    let err = String::from_utf8_lossy(&out.stderr);
    let kept = err
        .lines()
        .find_map(|l| l.strip_prefix("Kept "))
        .unwrap_or_else(|| panic!("no kept directory in {err:?}"));
    let kept = Path::new(kept);
    assert!(kept.join("aci/manifest").is_file(), "{}", kept.display());
    fs::remove_dir_all(kept).unwrap();
}
