//! Devices publishing their counters over MQTT: `printyx-agent run` subscribed to a real
//! Mosquitto puts each message into the outbox once — a redelivery is the same observation,
//! a malformed message is dropped — beside its SNMP readings; it reconnects when the broker
//! comes back, and gets what was published while it was away.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

use e2e::peers::{Proc, mosquitto, mosquitto_on};
use std::process::Command;
use std::time::{Duration, Instant};

fn publish(port: u16, topic: &str, payload: &str) {
    let status = Command::new("mosquitto_pub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-q",
            "1",
            "-t",
            topic,
            "-m",
            payload,
        ])
        .status()
        .unwrap();
    assert!(status.success());
}

fn observation(id: &str, total: u64) -> String {
    format!(
        r#"{{"id":"{id}","read_at":1767225600000,"source":"mqtt","device":{{"serial":"IOT-1"}},"meters":{{"total":{total}}}}}"#
    )
}

#[test]
fn published_counters_join_the_outbox_once_malformed_ones_are_dropped_and_a_broker_restart_is_survived()
 {
    let dir = tempfile::tempdir().unwrap();
    let (broker, port) = mosquitto(dir.path());
    let state = dir.path().join("state");
    // enrolled with a server that is not there: everything stays in the outbox to be counted
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(
        state.join("enrollment.json"),
        r#"{"server_url":"http://127.0.0.1:9","agent_id":1,"token":"pxa_1_00"}"#,
    )
    .unwrap();
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "state_dir = \"{}\"\nlog_filter = \"info\"\n\
             [mqtt]\nenabled = true\nbroker = \"mqtt://127.0.0.1:{port}\"\ntopic = \"site/+/meters\"\n\
             client_id = \"agent-test\"\n",
            state.display()
        ),
    )
    .unwrap();
    let mut run = Command::new(env!("CARGO_BIN_EXE_printyx-agent"));
    run.arg("--config").arg(&config).arg("run");
    let agent = Proc::spawn(run);
    let mut seen = Vec::new();
    agent.wait_for("MQTT subscribed", &mut seen);

    publish(port, "site/iot-1/meters", &observation("1", 100));
    publish(port, "site/iot-1/meters", &observation("1", 100)); // redelivered
    publish(port, "site/iot-2/meters", &observation("1", 7)); // another device, same id
    publish(port, "site/iot-1/meters", "{not json");
    publish(
        port,
        "site/iot-1/meters",
        &observation("bad id with spaces", 1),
    );
    publish(port, "site/iot-1/meters", &observation("2", 150));

    let status = || {
        let out = Command::new(env!("CARGO_BIN_EXE_printyx-agent"))
            .arg("--config")
            .arg(&config)
            .args(["status", "--json"])
            .output()
            .unwrap();
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let started = Instant::now();
    loop {
        // stderr lines must keep flowing for the agent not to block on a full pipe
        while let Ok(line) = agent.lines.try_recv() {
            seen.push(line);
        }
        let s = status();
        let dropped = seen
            .iter()
            .filter(|l| l.contains("MQTT message dropped"))
            .count();
        if s["outbox"]["pending_meters"] == 3 && dropped == 2 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{s}\n{}",
            seen.join("\n")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // the redelivery did not make a fourth
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(status()["outbox"]["pending_meters"], 3);

    // the broker goes away and comes back: the agent reconnects and subscribes again
    drop(broker);
    agent.wait_for("reconnecting", &mut seen);
    let _broker = mosquitto_on(dir.path(), port);
    agent.wait_for("MQTT subscribed", &mut seen);
    publish(port, "site/iot-1/meters", &observation("3", 170));
    let wait_for_pending = |n: u64, seen: &[String]| {
        let started = Instant::now();
        while status()["outbox"]["pending_meters"] != n {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{}",
                seen.join("\n")
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    wait_for_pending(4, &seen);

    // the agent is away while a device publishes: its session keeps the message for it
    drop(agent);
    publish(port, "site/iot-1/meters", &observation("4", 190));
    let mut run = Command::new(env!("CARGO_BIN_EXE_printyx-agent"));
    run.arg("--config").arg(&config).arg("run");
    let agent = Proc::spawn(run);
    agent.wait_for("MQTT connected", &mut seen);
    wait_for_pending(5, &seen);
}
