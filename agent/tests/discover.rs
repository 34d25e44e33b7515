//! `printyx-agent discover` sweeping a loopback range where real recordings answer on some
//! addresses: printers are listed; a Windows print server and a Linux CUPS host, which list
//! printer queues, are not.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

mod common;

use e2e::peers;
use std::process::Command;

/// A data directory whose one recording answers to the community `public`.
fn device(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("public.snmprec"), text).unwrap();
    // snmpsim runs as nobody
    let _ = Command::new("chmod")
        .arg("-R")
        .arg("a+rX")
        .arg(dir.path())
        .status();
    dir
}

fn recording(name: &str) -> String {
    std::fs::read_to_string(common::fixtures().join(format!("{name}.snmprec"))).unwrap()
}

const WINDOWS_PRINT_SERVER: &str = "\
1.3.6.1.2.1.1.1.0|4|Hardware: Intel64 Family 6 Model 85 Stepping 7 AT/AT COMPATIBLE - Software: Windows Version 6.3 (Build 17763 Multiprocessor Free)
1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.311.1.1.3.1.3
1.3.6.1.2.1.25.3.2.1.2.1|6|1.3.6.1.2.1.25.3.1.5
1.3.6.1.2.1.25.3.2.1.3.1|4|HP LaserJet 400 M401 PCL 6
1.3.6.1.2.1.25.3.2.1.5.1|2|2
";

const CUPS_HOST: &str = "\
1.3.6.1.2.1.1.1.0|4|Linux printsrv 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 x86_64
1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.8072.3.2.10
1.3.6.1.2.1.25.3.2.1.2.1|6|1.3.6.1.2.1.25.3.1.5
1.3.6.1.2.1.25.3.2.1.3.1|4|Kyocera ECOSYS M2540dn
";

#[test]
fn a_sweep_lists_the_printers_and_leaves_out_computers_sharing_queues() {
    let port = peers::free_udp_port();
    let dirs = [
        ("127.0.0.2", device(&recording("ricoh_mpc3002"))),
        ("127.0.0.3", device(&recording("kyocera"))),
        ("127.0.0.4", device(WINDOWS_PRINT_SERVER)),
        ("127.0.0.5", device(CUPS_HOST)),
    ];
    let peers: Vec<_> = std::thread::scope(|s| {
        let started: Vec<_> = dirs
            .iter()
            .map(|(host, dir)| s.spawn(move || peers::snmpsim_on(dir.path(), host, port, "public")))
            .collect();
        started.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(peers.len(), 4);

    let sweep = |json: bool| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_printyx-agent"));
        c.args(["discover", "127.0.0.0/29", "--port", &port.to_string()])
            .args([
                "-c",
                "private",
                "-c",
                "public",
                "--timeout-ms",
                "700",
                "--retries",
                "1",
            ]);
        if json {
            c.arg("--json");
        }
        c.output().unwrap()
    };
    let out = sweep(true);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let found: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let found: Vec<(String, String, String)> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["address"].as_str().unwrap().to_owned(),
                f["vendor"].as_str().unwrap().to_owned(),
                f["serial"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            (
                format!("127.0.0.2:{port}"),
                "Ricoh".into(),
                "W492KB03439".into()
            ),
            (
                format!("127.0.0.3:{port}"),
                "Kyocera".into(),
                "QUV9600664".into()
            ),
        ]
    );
    // not on a terminal: plain progress lines, and the summary counts what was left out
    let out = sweep(false);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("2 printers; 2 other SNMP hosts (computers, print servers) left out"),
        "{stdout}"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("swept 6/6 addresses"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn meter_runs_poll_the_printers_of_the_discovery_ranges_and_status_runs_remember_them() {
    let port = peers::free_udp_port();
    let ricoh = device(&recording("ricoh_mpc3002"));
    let _sim = peers::snmpsim_on(ricoh.path(), "127.0.0.6", port, "public");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "state_dir = \"{}\"\n[snmp]\ntimeout_ms = 500\ncommunities = [\"private\", \"public\"]\n\
             discover = [\"127.0.0.6/31\"]\ndiscover_port = {port}\n",
            dir.path().join("state").display()
        ),
    )
    .unwrap();
    let agent = |args: &[&str]| {
        e2e::succeeded(
            &Command::new(env!("CARGO_BIN_EXE_printyx-agent"))
                .arg("--config")
                .arg(&config)
                .args(args)
                .output()
                .unwrap(),
        )
    };
    assert_eq!(
        agent(&["collect", "--tier", "meters"]).trim(),
        "1 devices polled, 0 failed"
    );
    assert_eq!(
        agent(&["collect", "--tier", "status"]).trim(),
        "1 devices polled, 0 failed"
    );
    let status: serde_json::Value = serde_json::from_str(&agent(&["status", "--json"])).unwrap();
    assert_eq!(status["outbox"]["pending_meters"], 1);
    assert_eq!(status["outbox"]["pending_status"], 1);
    let d = &status["devices"][0];
    assert_eq!(d["target"], format!("127.0.0.6:{port}"));
    assert_eq!(
        (d["serial"].as_str(), d["community"].as_str()),
        (Some("W492KB03439"), Some("public"))
    );
}
