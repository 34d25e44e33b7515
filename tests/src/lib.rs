//! Real peers for the tests of every crate: SNMP simulators and agents, and the workspace's
//! own binaries. Each peer starts on a free port and is killed by pid when dropped.
#![allow(clippy::unwrap_used, clippy::disallowed_methods, clippy::panic)]

pub mod bench;
pub mod demo;
pub mod email;
pub mod peers;
pub mod photos;
pub mod smtp;

use std::path::PathBuf;
use std::process::Output;

/// A folder of the shared fixtures (`PRINTYX_FIXTURES` overrides the shared fixtures root).
pub fn fixtures(sub: &str) -> PathBuf {
    let base = std::env::var_os("PRINTYX_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"));
    let dir = base.join(sub);
    assert!(
        dir.is_dir(),
        "{sub} fixtures not found at {}",
        dir.display()
    );
    dir
}

/// The process's peak resident set (VmHWM) in KiB: memory tests measure its growth.
pub fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// A binary of this workspace (`printyx`, `printyx-agent`), beside the running test. Cargo is
/// asked every time (a no-op when it is fresh): `cargo test -p portal` alone does not rebuild
/// another package's binary, and a stale one would be tested.
pub fn workspace_binary(package: &str, name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/debug/deps/test-hash → target/debug/name
    let dir = exe.parent().and_then(|d| d.parent()).unwrap().to_path_buf();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = std::process::Command::new(cargo);
    build.args(["build", "-p", package, "--bin", name]);
    // Benchmarks run from target/release and want the optimised binary. It is built in a
    // target folder of its own: built beside the benchmarks (whose dev-dependencies unify
    // other features), the two builds overwrote each other's artifacts and rebuilt the
    // workspace twice on every benchmark run.
    let path = if dir.ends_with("release") {
        let own = dir.parent().unwrap().join("bench-bin");
        build.arg("--release").arg("--target-dir").arg(&own);
        own.join("release").join(name)
    } else {
        dir.join(name)
    };
    let status = build.status().unwrap();
    assert!(
        status.success(),
        "cargo build -p {package} --bin {name} failed"
    );
    assert!(path.exists(), "{} not found after building", path.display());
    path
}

/// The standard output of a program that must have succeeded; otherwise the test fails with
/// everything it printed.
pub fn succeeded(out: &Output) -> String {
    assert!(
        out.status.success(),
        "command failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
