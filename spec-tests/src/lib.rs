//! Conformance of our `appc` library and `actool` with the appc v0.8.11
//! reference implementation, case by case, from the answers the reference
//! gave (`../shared/conformance/appc-v0.8.11`, not copied into the repo).

pub mod oracle;

use std::path::PathBuf;

/// Where the reference's answers are: `$APPC_CONFORMANCE_DIR`, or
/// `shared/conformance/appc-v0.8.11` beside the repository.
pub fn data_dir() -> PathBuf {
    match std::env::var_os("APPC_CONFORMANCE_DIR") {
        Some(d) => PathBuf::from(d),
        None => {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance/appc-v0.8.11")
        }
    }
}

/// The data directory if it exists. Without it the conformance tests say so
/// and are skipped, except in CI (`CI` set), where they fail.
pub fn require_data_dir() -> Option<PathBuf> {
    let dir = data_dir();
    if dir.is_dir() {
        return Some(dir);
    }
    let msg = format!(
        "conformance data not found at {} (set APPC_CONFORMANCE_DIR); conformance cases NOT run",
        dir.display()
    );
    if std::env::var_os("CI").is_some() {
        panic!("{msg}");
    }
    appc::testing::skipped(&msg);
    None
}

pub mod page_server;

/// The `actool` binary of this workspace, built for the profile the tests
/// run under.
pub fn actool_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    // target/<profile>/deps/<test> -> target/<profile>
    let profile_dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("a target directory")
        .to_path_buf();
    let release = profile_dir.file_name().is_some_and(|n| n == "release");
    let mut cargo = std::process::Command::new(env!("CARGO"));
    cargo.args(["build", "--quiet", "-p", "actool", "--bin", "actool"]);
    if release {
        cargo.arg("--release");
    }
    let status = cargo.status().expect("run cargo build for actool");
    assert!(status.success(), "building actool failed");
    profile_dir.join("actool")
}
