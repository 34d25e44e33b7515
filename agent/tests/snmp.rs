//! `printyx-agent poll` against real SNMP peers: snmpsim serving the real recordings, and
//! net-snmp's snmpd for SNMPv3.
#![allow(clippy::unwrap_used, clippy::disallowed_methods, clippy::print_stderr)]

mod common;

use e2e::peers::{self, AUTH_PASSWORD, PRIV_PASSWORD, V3User};
use std::process::{Command, Output};

fn agent(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_printyx-agent"))
        .args(args)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A failed poll: non-zero exit, nothing on stdout, one line on stderr.
fn assert_fails_with(o: &Output, needle: &str) {
    let err = stderr(o);
    assert!(
        !o.status.success(),
        "expected failure, got {:?}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(
        o.stdout.is_empty(),
        "a failed poll printed: {:?}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err:?}");
    assert!(err.contains(needle), "{needle:?} not in {err:?}");
}

#[test]
fn every_recording_polled_over_snmp_v2c_reads_as_expected() {
    every_recording_reads_as_expected_over("2c");
}

/// v1 refuses a whole GET for one missing OID and has no GETBULK: the same answers must
/// come out of single GETs and GETNEXT walks.
#[test]
fn every_recording_polled_over_snmp_v1_reads_as_expected() {
    every_recording_reads_as_expected_over("1");
}

fn every_recording_reads_as_expected_over(version: &str) {
    let expected = common::expected();
    let sim = peers::snmpsim(&common::fixtures(), "ricoh_mpc3002");
    let target = sim.target();
    let names: Vec<&String> = expected.keys().collect();
    let mut failures = Vec::new();
    // a few processes at a time: snmpsim is single-threaded Python
    for group in names.chunks(4) {
        let children: Vec<_> = group
            .iter()
            .map(|name| {
                Command::new(env!("CARGO_BIN_EXE_printyx-agent"))
                    .args(["poll", "--target", &target, "-c", name, "--json"])
                    .args(["--snmp-version", version])
                    .args(["--timeout-ms", "3000", "--retries", "2"])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for (name, child) in group.iter().zip(children) {
            let out = child.wait_with_output().unwrap();
            if !out.status.success() {
                failures.push(format!("{name}: poll failed: {}", stderr(&out)));
                continue;
            }
            let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            failures.extend(common::mismatches(name, &report, &expected[name.as_str()]));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn communities_are_tried_in_order_and_silence_is_a_clear_error() {
    let sim = peers::snmpsim(&common::fixtures(), "sharp");
    let target = sim.target();
    let out = agent(&[
        "poll",
        "--target",
        &target,
        "-c",
        "wrong",
        "-c",
        "sharp",
        "--json",
        "--timeout-ms",
        "300",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["identity"]["serial"], "6509415X00");

    let out = agent(&[
        "poll",
        "--target",
        &target,
        "-c",
        "wrong",
        "--json",
        "--timeout-ms",
        "300",
        "--retries",
        "1",
    ]);
    assert_fails_with(&out, "no answer after 2 tries of 300 ms");
}

#[test]
fn nothing_listening_and_bad_addresses_are_clear_errors() {
    let port = peers::free_udp_port();
    let out = agent(&[
        "poll",
        "--target",
        &format!("127.0.0.1:{port}"),
        "--json",
        "--timeout-ms",
        "300",
    ]);
    assert_fails_with(&out, &format!("127.0.0.1:{port}"));
    let out = agent(&["poll", "--target", "127.0.0.1:99999", "--json"]);
    assert_fails_with(&out, "port must be 1-65535");
    let out = agent(&["poll", "--target", "10.0.0.1", "--snmp-version", "4"]);
    assert_fails_with(&out, "use 1, 2c or 3");
}

fn v3_peer() -> peers::Peer {
    peers::snmpd(
        &[
            V3User {
                name: "sha_aes",
                auth: "SHA",
                privacy: Some("AES"),
            },
            V3User {
                name: "md5_des",
                auth: "MD5",
                privacy: Some("DES"),
            },
            V3User {
                name: "sha_only",
                auth: "SHA",
                privacy: None,
            },
        ],
        "RICOH MP C3002 1.0 / RICOH Network Printer C model",
    )
}

fn v3_poll(target: &str, user: &str, auth: (&str, &str), privacy: Option<(&str, &str)>) -> Output {
    let mut args = vec![
        "poll",
        "--target",
        target,
        "--snmp-version",
        "3",
        "-u",
        user,
        "--auth-protocol",
        auth.0,
        "--auth-password",
        auth.1,
        "--json",
        "--timeout-ms",
        "500",
    ];
    if let Some((p, pw)) = privacy {
        args.extend(["--priv-protocol", p, "--priv-password", pw]);
    }
    agent(&args)
}

#[test]
fn snmpv3_auth_and_privacy_with_sha_aes_and_md5_des() {
    let snmpd = v3_peer();
    let target = snmpd.target();
    for (user, auth, privacy) in [
        (
            "sha_aes",
            ("sha", AUTH_PASSWORD),
            Some(("aes", PRIV_PASSWORD)),
        ),
        (
            "md5_des",
            ("md5", AUTH_PASSWORD),
            Some(("des", PRIV_PASSWORD)),
        ),
        ("sha_only", ("sha", AUTH_PASSWORD), None),
    ] {
        let out = v3_poll(&target, user, auth, privacy);
        assert!(out.status.success(), "{user}: {}", stderr(&out));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["identity"]["vendor"], "Ricoh", "{user}");
    }
}

#[test]
fn snmpv3_wrong_keys_are_refused_and_never_fall_back_to_communities() {
    // the device also answers v2c `public`: a fallback would succeed, so failure proves none
    let snmpd = v3_peer();
    let target = snmpd.target();
    let out = v3_poll(
        &target,
        "sha_aes",
        ("sha", "not-the-password"),
        Some(("aes", PRIV_PASSWORD)),
    );
    assert_fails_with(&out, "SNMPv3 authentication failed for user 'sha_aes'");
    let out = v3_poll(
        &target,
        "sha_aes",
        ("sha", AUTH_PASSWORD),
        Some(("aes", "not-the-password")),
    );
    assert_fails_with(&out, "wrong privacy password");
    let out = v3_poll(&target, "nobody_here", ("sha", AUTH_PASSWORD), None);
    assert_fails_with(&out, "SNMPv3 authentication failed for user 'nobody_here'");
    let out = v3_poll(
        &target,
        "md5_des",
        ("sha", AUTH_PASSWORD),
        Some(("des", PRIV_PASSWORD)),
    );
    assert_fails_with(&out, "SNMPv3 authentication failed");
}
