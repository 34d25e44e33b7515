//! Real peers for the tests of every crate: SNMP simulators and agents, and the workspace's
//! own binaries. Each peer starts on a free port and is killed by pid when dropped.
#![allow(clippy::unwrap_used, clippy::disallowed_methods, clippy::panic)]

pub mod ber;
pub mod peers;

use std::path::PathBuf;

/// A binary of this workspace (`printyx`, `printyx-agent`), built beside the running test;
/// built on demand when a test runs without it (`cargo test -p portal` alone).
pub fn workspace_binary(package: &str, name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/debug/deps/test-hash → target/debug/name
    let dir = exe.parent().and_then(|d| d.parent()).unwrap().to_path_buf();
    let path = dir.join(name);
    // release (benchmarks): always ask cargo, a stale binary would be measured otherwise
    if !path.exists() || dir.ends_with("release") {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = std::process::Command::new(cargo);
        build.args(["build", "-p", package, "--bin", name]);
        // benchmarks run from target/release and want the optimised binary
        if dir.ends_with("release") {
            build.arg("--release");
        }
        let status = build.status().unwrap();
        assert!(
            status.success(),
            "cargo build -p {package} --bin {name} failed"
        );
    }
    assert!(path.exists(), "{} not found after building", path.display());
    path
}
