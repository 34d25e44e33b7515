//! Devices that answer like no device should: someone else's request id, truncated PDUs,
//! lengths that overrun the datagram, OIDs going backwards, tables without end. The agent
//! reports each as faulty in one line, promptly, and goes on with the other devices.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

mod common;

use agent::simulator::ber::{int, response};
use snmp2::{MessageType, Pdu};
use std::net::UdpSocket;
use std::process::{Command, Output};
use std::time::Duration;

/// How a hostile device misbehaves, chosen by the community it is asked with.
fn answer(request: &[u8]) -> Option<Vec<u8>> {
    let pdu = Pdu::from_bytes(request).ok()?;
    let community = pdu.community.to_vec();
    let asked: Vec<Vec<u64>> = pdu
        .varbinds
        .clone()
        .map(|(o, _)| o.iter().unwrap().collect())
        .collect();
    let plain = |vbs: &[(Vec<u64>, Vec<u8>)]| response(pdu.req_id, &community, vbs);
    let echo: Vec<(Vec<u64>, Vec<u8>)> = asked.iter().map(|o| (o.clone(), int(1))).collect();
    let bulk = pdu.message_type == MessageType::GetBulkRequest;
    Some(match community.as_slice() {
        b"wrong-id" => response(pdu.req_id.wrapping_add(7), &community, &echo),
        b"truncated" => {
            let full = plain(&echo);
            full[..full.len() / 2].to_vec()
        }
        b"overrun" => {
            let mut full = plain(&echo);
            // the outer length claims far more than the datagram holds
            full[1] = 0x82;
            full.splice(2..2, [0x40, 0x00]);
            full
        }
        b"backwards" if bulk => {
            let root = &asked[0];
            let mut later = root.clone();
            later.extend([1, 5]);
            let mut earlier = root.clone();
            earlier.extend([1, 3]);
            plain(&[(later, int(1)), (earlier, int(2))])
        }
        b"slow" if bulk => {
            // a table without end, served at a crawl
            std::thread::sleep(Duration::from_millis(50));
            let mut next = asked[0].clone();
            next.extend([1, 0]);
            *next.last_mut().unwrap() += u64::from(pdu.req_id.unsigned_abs() % 1000) + 1;
            plain(&[(next, int(1))])
        }
        b"endless" if bulk => {
            // always the next row, forever
            let mut next = asked[0].clone();
            if next.len() < 12 {
                next.extend([1, 0]);
            }
            let rows: Vec<(Vec<u64>, Vec<u8>)> = (1..=10)
                .map(|i| {
                    let mut o = next.clone();
                    *o.last_mut().unwrap() += i;
                    (o, int(1))
                })
                .collect();
            plain(&rows)
        }
        _ => plain(&echo),
    })
}

/// A UDP device on a free port that answers through [`answer`], until the test ends.
fn hostile_device() -> String {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let address = socket.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 65_535];
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            if let Some(reply) = answer(&buf[..n]) {
                let _ = socket.send_to(&reply, from);
            }
        }
    });
    address
}

fn poll(target: &str, community: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_printyx-agent"))
        .args(["poll", "--target", target, "-c", community, "--json"])
        .args(["--timeout-ms", "300", "--retries", "1"])
        .output()
        .unwrap()
}

#[test]
fn each_kind_of_nonsense_is_a_faulty_device_in_one_line() {
    let device = hostile_device();
    for (community, why) in [
        ("wrong-id", "answers carry the wrong request id"),
        ("truncated", "malformed answer"),
        ("overrun", "malformed answer"),
        ("backwards", "OIDs go backwards"),
        ("endless", "a table without end"),
    ] {
        let started = std::time::Instant::now();
        let out = poll(&device, community);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{community}: accepted");
        assert!(out.stdout.is_empty(), "{community}: printed a report");
        assert_eq!(err.trim_end().lines().count(), 1, "{community}: {err}");
        assert!(
            err.contains("faulty device") && err.contains(why),
            "{community}: {err}"
        );
        // bounded by timeouts and retries, never a hang
        assert!(started.elapsed() < Duration::from_secs(30), "{community}");
    }
    // and the device, for what it is worth, still answers a sane request
    let out = poll(&device, "sane");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_faulty_device_does_not_stop_the_collection_of_the_others() {
    let device = hostile_device();
    let sim = e2e::peers::snmpsim(&common::fixtures(), "sharp");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "state_dir = \"{}\"\n[snmp]\ntimeout_ms = 300\n\
             [[snmp.devices]]\naddress = \"{device}\"\ncommunity = \"endless\"\n\
             [[snmp.devices]]\naddress = \"{}\"\ncommunity = \"sharp\"\n",
            dir.path().join("state").display(),
            sim.target()
        ),
    )
    .unwrap();
    let agent = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_printyx-agent"))
            .arg("--config")
            .arg(&config)
            .args(args)
            .output()
            .unwrap()
    };
    let out = agent(&["collect", "--tier", "meters"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "1 devices polled, 1 failed"
    );
    let out = agent(&["status", "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["outbox"]["pending_meters"], 1);
    let devices = status["devices"].as_array().unwrap();
    let faulty = devices
        .iter()
        .find(|d| d["target"] == device.as_str())
        .unwrap();
    assert!(
        faulty["last_error"]
            .as_str()
            .unwrap()
            .contains("a table without end"),
        "{status}"
    );
}

#[tokio::test]
async fn a_device_is_given_up_when_its_time_budget_is_spent() {
    use agent::snmp::{Credentials, Limits, SnmpError, Target, poll};
    let device = hostile_device();
    let limits = Limits {
        timeout: Duration::from_millis(500),
        retries: 0,
        max_rows: usize::MAX,
        budget: Duration::from_secs(1),
    };
    let started = std::time::Instant::now();
    let result = poll(
        &Target::parse(&device).unwrap(),
        &Credentials::V2c {
            communities: vec!["slow".into()],
        },
        limits,
        &agent::device::profiles().unwrap(),
    )
    .await;
    match result {
        Err(SnmpError::Faulty { why, .. }) => {
            assert!(why.contains("still answering after 1s"), "{why}")
        }
        other => panic!("expected a faulty device, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}
