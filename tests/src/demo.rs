//! `printyx demo` as a peer: started on a free port with a fleet port of its own, ready once it
//! printed its sign-ins and its server accepts connections; killed when dropped.

use crate::peers::{free_tcp_port, free_udp_port};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Demo {
    child: Child,
    /// Where the portal answers, as the demo printed it.
    pub url: String,
    /// Everything it printed until it was ready.
    pub printed: Vec<String>,
}

impl Demo {
    /// `cmd` names the `printyx` binary and its environment; the demo keeps its data in
    /// `data` and logs (warnings and errors) to `log`.
    pub fn start(mut cmd: Command, data: &Path, log: Stdio) -> Demo {
        let port = free_tcp_port();
        let mut child = cmd
            .args(["demo", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--fleet-port", &free_udp_port().to_string()])
            .arg("--data")
            .arg(data)
            .env("PRINTYX_LOG_FILTER", "warn")
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(240);
        let mut printed: Vec<String> = Vec::new();
        while !printed
            .iter()
            .any(|l| l.contains("Ctrl-C stops everything"))
        {
            let line = rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .unwrap_or_else(|_| panic!("the demo did not start:\n{}", printed.join("\n")));
            printed.push(line);
        }
        let url = printed
            .iter()
            .find_map(|l| l.strip_prefix("Printyx demo: "))
            .map(|u| u.trim().to_owned())
            .unwrap_or_else(|| panic!("no address printed:\n{}", printed.join("\n")));
        assert_eq!(url, format!("http://127.0.0.1:{port}"));
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the demo server never listened");
            std::thread::sleep(Duration::from_millis(100));
        }
        Demo {
            child,
            url,
            printed,
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
