//! The `printyx-agent` binary as an operator uses it.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::process::Command;

fn agent() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_printyx-agent"));
    c.env_remove("PRINTYX_AGENT_CONFIG");
    c
}

#[test]
fn check_config_prints_the_effective_config_without_secrets() {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(b"[mqtt]\nenabled = true\npassword = \"s3cret-broker\"\n")
        .unwrap();
    let out = agent()
        .args(["check-config", "--config"])
        .arg(f.path())
        .env("PRINTYX_AGENT_SERVER_URL", "https://meters.dealer.test")
        .env("PRINTYX_AGENT_SNMP__TIMEOUT_MS", "5000")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["server_url"], "https://meters.dealer.test",
        "environment overrides the file"
    );
    assert_eq!(json["snmp"]["timeout_ms"], 5000);
    assert_eq!(json["mqtt"]["enabled"], true);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("s3cret-broker"));
}

#[test]
fn a_bad_config_is_one_line_and_a_failure() {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(b"server_url = \"ftp://nope\"\n").unwrap();
    let out = agent()
        .args(["check-config", "--config"])
        .arg(f.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: ") && err.trim_end().lines().count() == 1,
        "{err}"
    );
    assert!(err.contains("server_url"), "{err}");

    let out = agent()
        .args(["check-config", "--config", "/nonexistent/agent.toml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
}
