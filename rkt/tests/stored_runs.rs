//! Runs of a large image by path once it is stored: each recognises the
//! stored image by reading the file once, so 20 at once all succeed
//! quickly and leave no staging behind. Needs root.

mod support;

use std::fs;
use std::process::Stdio;
use std::time::{Duration, Instant};
use support::Env;
use support::pods::{busybox_layout, ensure_stage1};

#[test]
fn twenty_runs_at_once_of_a_large_stored_image_by_path() {
    if !ensure_stage1() {
        return;
    }
    let env = Env::new();
    let layout = env.path("big");
    busybox_layout(&layout);
    // 16 MiB that gzip cannot shrink much.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let data: Vec<u8> = (0..16 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    fs::write(layout.join("rootfs/data"), &data).unwrap();
    let aci = env.path("big.aci");
    appc::aci::build_aci(
        &layout,
        fs::File::create(&aci).unwrap(),
        appc::aci::BuildOptions::default(),
    )
    .unwrap();
    let path = aci.to_str().unwrap();
    let args = [
        "--insecure-options=image",
        "run",
        "--net=host",
        path,
        "--exec=/bin/true",
    ];
    assert!(env.rkt(&args).status.success());

    let t0 = Instant::now();
    let runs: Vec<_> = (0..20)
        .map(|_| {
            env.rkt_command(&args)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for run in runs {
        let out = run.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A bound that only a re-extraction per run (or a hang) would pass.
    let took = t0.elapsed();
    assert!(took < Duration::from_secs(120), "{took:?}");
    let staging = fs::read_dir(env.path("data/cas/tmp")).unwrap().count();
    assert_eq!(staging, 0);
    assert!(env.rkt(&["gc", "--grace-period=0s"]).status.success());
}
