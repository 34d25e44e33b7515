//! A simulated fleet of copiers on loopback, polled in one cycle by `printyx-agent collect`,
//! side by side with net-snmp (`snmpget` + `snmpbulkwalk` of the same OIDs and subtrees, one
//! shell per device, `xargs -P 32`).
//!
//!     cargo bench -p agent --bench fleet                  # 1000 and 5000 devices
//!     cargo bench -p agent --bench fleet -- 1000          # one size
//!     cargo bench -p agent --bench fleet -- 1000 --no-baseline
//!
//! The fleet is a separate process (this binary with `--simulate`): N UDP sockets spread over
//! 127.0.0.0/8, device i answering from recording i mod 20 of ../shared/fixtures/snmp. Its CPU
//! is not counted. Dead devices have a socket and never answer. Figures: devices per second,
//! CPU seconds per device (user + system, from GNU time) and peak RSS of the poller.
#![allow(
    clippy::unwrap_used,
    clippy::disallowed_methods,
    clippy::print_stdout,
    clippy::print_stderr
)]

use agent::device::Snapshot;
use agent::simulator::Mib;
use std::io::{BufRead, BufReader, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

const PORT: u16 = 16_161;

/// Device `i`'s address: spread over 127.0.0.0/8, never .0 or .255 in the last octet.
fn address(i: usize) -> Ipv4Addr {
    let n = u32::try_from(i).unwrap();
    Ipv4Addr::new(
        127,
        10 + (n / (250 * 250)) as u8,
        ((n / 250) % 250) as u8 + 1,
        (n % 250) as u8 + 1,
    )
}

fn fixtures() -> PathBuf {
    std::env::var_os("PRINTYX_FIXTURES")
        .map_or_else(
            || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"),
            PathBuf::from,
        )
        .join("snmp")
}

/// Every recording as a device's OID table.
fn recordings() -> Vec<Mib> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "snmprec"))
        .collect();
    names.sort();
    names
        .iter()
        .map(|p| {
            Mib::from_snapshot(
                &Snapshot::from_snmprec(&std::fs::read_to_string(p).unwrap()).unwrap(),
            )
        })
        .collect()
}

/// `--simulate N DEAD_PERCENT`: serve the fleet until stdin closes.
fn simulate(n: usize, dead_percent: usize) {
    let mibs = Arc::new(recordings());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        for i in 0..n {
            let socket = tokio::net::UdpSocket::bind((address(i), PORT))
                .await
                .unwrap();
            // every tenth device of a dead share is switched off: it never answers
            let dead = dead_percent > 0 && i % 100 < dead_percent;
            let mibs = mibs.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mib = &mibs[i % mibs.len()];
                while let Ok((len, from)) = socket.recv_from(&mut buf).await {
                    if dead {
                        continue;
                    }
                    if let Some(reply) = mib.answer(&buf[..len]) {
                        let _ = socket.send_to(&reply, from).await;
                    }
                }
            });
        }
        println!("ready");
        std::io::stdout().flush().unwrap();
        tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
        })
        .await
        .unwrap();
    });
}

struct Fleet(std::process::Child);

impl Fleet {
    fn start(n: usize, dead_percent: usize) -> Self {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--simulate", &n.to_string(), &dead_percent.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "the simulated fleet did not start");
        Self(child)
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[derive(Debug, Clone, Copy)]
struct Measured {
    wall: f64,
    cpu: f64,
    rss_mb: f64,
}

/// Runs `command` under GNU time: wall seconds, user + system seconds, peak RSS.
fn timed(command: &str, args: &[String]) -> (Measured, String) {
    let report = tempfile::NamedTempFile::new().unwrap();
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%e %U %S %M", "-o"])
        .arg(report.path())
        .arg(command)
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{command} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(report.path()).unwrap();
    let f: Vec<f64> = text
        .lines()
        .last()
        .unwrap()
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect();
    (
        Measured {
            wall: f[0],
            cpu: f[1] + f[2],
            rss_mb: f[3] / 1024.0,
        },
        stdout,
    )
}

const SCALARS: &str = "1.3.6.1.2.1.1.1.0 1.3.6.1.2.1.1.2.0 1.3.6.1.2.1.25.3.2.1.3.1 1.3.6.1.2.1.25.3.2.1.5.1 \
    1.3.6.1.2.1.25.3.5.1.1.1 1.3.6.1.2.1.25.3.5.1.2.1 1.3.6.1.2.1.43.5.1.1.17.1 \
    1.3.6.1.2.1.43.10.2.1.3.1.1 1.3.6.1.2.1.43.10.2.1.4.1.1";
const SUBTREES: [&str; 4] = [
    "1.3.6.1.2.1.43.11.1.1",
    "1.3.6.1.2.1.43.12.1.1.4",
    "1.3.6.1.2.1.43.18.1.1",
    "1.3.6.1.2.1.2.2.1.6",
];

fn agent_cycle(n: usize, dir: &Path) -> (Measured, String) {
    let config = dir.join(format!("agent-{n}.toml"));
    // the agent's own default concurrency, unless FLEET_CONCURRENCY says otherwise
    let concurrency = std::env::var("FLEET_CONCURRENCY")
        .map(|c| format!("max_concurrency = {c}\n"))
        .unwrap_or_default();
    let mut text = format!(
        "state_dir = \"{}\"\nlog_filter = \"error\"\n[snmp]\ntimeout_ms = 1000\nretries = 1\n{concurrency}",
        dir.join(format!("state-{n}-{}", rand::random::<u32>()))
            .display()
    );
    for i in 0..n {
        text += &format!("[[snmp.devices]]\naddress = \"{}:{PORT}\"\n", address(i));
    }
    std::fs::write(&config, text).unwrap();
    let agent = e2e::workspace_binary("agent", "printyx-agent");
    timed(
        agent.to_str().unwrap(),
        &[
            "--config".into(),
            config.display().to_string(),
            "collect".into(),
            "--tier".into(),
            "meters".into(),
        ],
    )
}

fn net_snmp_cycle(n: usize, dir: &Path) -> Measured {
    let targets = dir.join(format!("targets-{n}"));
    let list: String = (0..n).map(|i| format!("{}:{PORT}\n", address(i))).collect();
    std::fs::write(&targets, list).unwrap();
    let walks: String = SUBTREES
        .iter()
        .map(|t| format!("snmpbulkwalk -v2c -c public -t 1 -r 1 -On -Cr24 \"$0\" {t} >/dev/null; "))
        .collect();
    let script = format!(
        "xargs -P 32 -n 1 sh -c 'snmpget -v2c -c public -t 1 -r 1 -On \"$0\" {SCALARS} >/dev/null; {walks}' < {}",
        targets.display()
    );
    let (m, _) = timed("sh", &["-c".into(), script]);
    m
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.first().map(String::as_str) == Some("--simulate") {
        simulate(args[1].parse().unwrap(), args[2].parse().unwrap());
        return;
    }
    let baseline = !args.iter().any(|a| a == "--no-baseline");
    let sizes: Vec<usize> = {
        let given: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
        if given.is_empty() {
            vec![1000, 5000]
        } else {
            given
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let mut report = e2e::bench::Report::new(
        "Agent: one polling cycle over a simulated fleet against net-snmp",
        "cargo bench -p agent --bench fleet",
    );
    report.line(
        "`printyx-agent collect --tier meters` over N simulated devices against net-snmp \
         (`snmpget` + `snmpbulkwalk` per device, `xargs -P 32`). Targets: ≥ 20× the rate, \
         ≤ 0.1× the CPU per device, < 60 MB at 5,000 devices; 10 % dead devices add at most one \
         timeout × (retries + 1) = 2 s.\n",
    );
    report.line("| devices | dead | poller | devices/s | CPU ms/device | peak RSS MB | wall s |");
    report.line("|---:|---:|---|---:|---:|---:|---:|");
    for &n in &sizes {
        let mut live = None;
        for dead in [0usize, 10] {
            let _fleet = Fleet::start(n, dead);
            let (m, out) = agent_cycle(n, dir.path());
            let alive = n - n * dead / 100;
            assert!(
                out.contains(&format!("{alive} devices polled")),
                "agent polled fewer than {alive}: {out}"
            );
            report.line(format!(
                "| {n} | {dead} % | printyx-agent | {:.0} | {:.3} | {:.1} | {:.2} |",
                n as f64 / m.wall,
                1000.0 * m.cpu / n as f64,
                m.rss_mb,
                m.wall
            ));
            if dead == 0 {
                live = Some(m);
                if baseline {
                    let b = net_snmp_cycle(n, dir.path());
                    report.line(format!(
                        "| {n} | 0 % | net-snmp, xargs -P 32 | {:.0} | {:.3} | {:.1} (largest process) | {:.2} |",
                        n as f64 / b.wall,
                        1000.0 * b.cpu / n as f64,
                        b.rss_mb,
                        b.wall
                    ));
                    report.line(format!(
                        "|  |  | **ratio** | **{:.1}× the rate** | **{:.3}× the CPU** | | |",
                        b.wall / m.wall,
                        (m.cpu / n as f64) / (b.cpu / n as f64)
                    ));
                }
            } else if let Some(l) = live {
                report.line(format!(
                    "|  |  | **10 % dead** | | | | **+{:.2} s** (one timeout × (retries + 1) = 2 s) |",
                    m.wall - l.wall
                ));
            }
        }
    }
    report.finish();
}
